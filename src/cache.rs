//! The fact cache: per-layer facts (entries and extractor results) stored by
//! layer digest, and records of blobs already verified, so a re-audit of an
//! unchanged image reads no layer bytes at all.
//!
//! Two kinds of record live under the cache directory:
//!
//! - `facts/<algo>-<hex>-<version>.bin`: a layer's [`LayerIndex`], keyed by
//!   the layer's digest **and** the version of the extractor set that
//!   produced it (`extract::ExtractorSet::version`): changing what is
//!   extracted changes the key, so old facts are never served to new
//!   analyzers. The payload is postcard-encoded behind a header that repeats
//!   the key and the payload's sha256; a record whose header or checksum does
//!   not match, or whose facts the layer reader could not have produced
//!   (`LayerIndex::check`), is ignored (and overwritten by the next writer),
//!   never trusted.
//! - `verified/<sha256 of identity>`: "the byte range `(offset, len)` of the
//!   file with this `(dev, inode, size, mtime, ctime)` was hashed and had
//!   digest D (and diff_id E)". This is git's index trick: a local blob whose
//!   stat data still match is not re-hashed. Anything that rewrites the file
//!   changes its mtime and ctime (ctime cannot be set back by the user), so a
//!   tampered file misses, is re-hashed and fails verification (exit 2).
//!   Facts are only ever served for a layer whose verified record matches.
//!
//! Writes are atomic (a temp file in the same directory, then `rename`), so
//! any number of processes can share one directory (the nightly scan runs
//! many): a reader sees a whole old record or a whole new one. The facts
//! directory is capped in bytes; past the cap the least recently used
//! records (by mtime, touched on every hit) are evicted.
//!
//! What it does not do: decide what to cache (the image opener does), or
//! trust a digest it did not compute or that the source did not verify.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use crate::layer::{FileRange, LayerIndex};
use crate::localfile::read_capped;

/// Default cap on the bytes of the facts directory.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

const MAGIC: &[u8; 16] = b"imgaudit-facts\n\x01";

/// Cap on a verified record: an identity and two digests are a few hundred
/// bytes.
const MAX_VERIFIED_BYTES: u64 = 64 << 10;

/// A cache directory.
#[derive(Clone, Debug)]
pub struct FactCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// Who a local blob is: the stat data of the open file and the byte range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIdentity(String);

impl FileIdentity {
    /// The identity of a file range, from `fstat` on the very handle the
    /// bytes are read from (no race between a path and what is opened).
    pub fn of(range: &FileRange) -> io::Result<FileIdentity> {
        let m = range.file.metadata()?;
        Ok(FileIdentity(format!(
            "dev={} ino={} size={} mtime={}.{} ctime={}.{} range={}+{}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            range.offset,
            range.len
        )))
    }
}

/// What a verified record says about a blob.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verified {
    /// sha256 of the bytes as stored.
    pub digest: String,
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Option<String>,
}

/// Cache errors are never fatal to an audit: the opener falls back to
/// reading the layer. They are reported once on stderr by the caller.
#[derive(Debug, thiserror::Error)]
#[error("cache `{dir}`: {source}")]
pub struct CacheError {
    dir: String,
    source: io::Error,
}

/// Only well-formed digests name files: a hostile image's digest string
/// (`sha256:../../x`) never becomes a path.
pub fn file_key(digest: &str) -> Option<String> {
    let (algo, hex) = digest.split_once(':')?;
    let len = match algo {
        "sha256" => 64,
        "sha512" => 128,
        _ => return None,
    };
    (hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| format!("{algo}-{hex}"))
}

impl FactCache {
    /// Open (creating) a cache directory.
    pub fn open(dir: &Path) -> Result<FactCache, CacheError> {
        let err = |source| CacheError {
            dir: dir.display().to_string(),
            source,
        };
        fs::create_dir_all(dir.join("facts")).map_err(err)?;
        fs::create_dir_all(dir.join("verified")).map_err(err)?;
        Ok(FactCache {
            dir: dir.to_path_buf(),
            max_bytes: DEFAULT_MAX_BYTES,
        })
    }

    /// Set the cap on the facts directory's bytes.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> FactCache {
        self.max_bytes = max_bytes;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The default directory: `$IMGAUDIT_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/imgaudit`, else `$HOME/.cache/imgaudit` (the XDG
    /// base directory rule cargo and uv follow on Linux).
    pub fn default_dir() -> Option<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(d) = var("IMGAUDIT_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = var("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("imgaudit"));
        }
        var("HOME").map(|h| PathBuf::from(h).join(".cache").join("imgaudit"))
    }

    fn facts_path(&self, key: &str, version: &str) -> PathBuf {
        self.dir.join("facts").join(format!("{key}-{version}.bin"))
    }

    fn verified_path(&self, id: &FileIdentity) -> PathBuf {
        let h = hex::encode(Sha256::digest(id.0.as_bytes()));
        self.dir.join("verified").join(h)
    }

    /// The verified record of a local blob, when its stat data still match.
    pub fn verified(&self, id: &FileIdentity) -> Option<Verified> {
        let bytes = read_capped(&self.verified_path(id), MAX_VERIFIED_BYTES).ok()?;
        let (stored_id, v): (String, Verified) = serde_json::from_slice(&bytes).ok()?;
        // The file name is a hash of the identity; the record repeats the
        // identity so a collision or a stray file is never taken for it.
        (stored_id == id.0).then_some(v)
    }

    /// Remember that the blob `id` was hashed and had these digests.
    pub fn record_verified(&self, id: &FileIdentity, v: &Verified) -> Result<(), CacheError> {
        let body = serde_json::to_vec(&(&id.0, v)).map_err(|e| self.err(io::Error::other(e)))?;
        self.write_atomic(&self.verified_path(id), &body)
    }

    /// The facts of the layer with `digest`, extracted by set `version`.
    /// `None` on a miss or on a record that fails its checks.
    pub fn get(&self, digest: &str, version: &str) -> Option<LayerIndex> {
        let key = file_key(digest)?;
        let path = self.facts_path(&key, version);
        // A record is read only if it is a regular file no larger than the
        // whole directory may be (`localfile`: a FIFO planted in the
        // directory would block, a huge file would fill memory).
        let bytes = read_capped(&path, self.max_bytes).ok()?;
        let index = decode(&bytes, digest, version)?;
        // Touch for LRU eviction; failure to touch is harmless.
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(index)
    }

    /// Store the facts of the layer with `digest`.
    pub fn put(&self, digest: &str, version: &str, index: &LayerIndex) -> Result<(), CacheError> {
        let Some(key) = file_key(digest) else {
            return Ok(());
        };
        let body = encode(index, digest, version).map_err(|e| self.err(e))?;
        self.write_atomic(&self.facts_path(&key, version), &body)?;
        self.evict().map_err(|e| self.err(e))
    }

    /// Store `payload` as the facts of `digest` exactly as given, behind a
    /// valid header and checksum: what a damaged or hostile cache directory
    /// (a CI cache restored from another branch) serves. Only the `cache`
    /// fuzz target writes records this way; [`FactCache::get`] must survive
    /// whatever it stores.
    #[doc(hidden)]
    pub fn put_payload(
        &self,
        digest: &str,
        version: &str,
        payload: &[u8],
    ) -> Result<(), CacheError> {
        let Some(key) = file_key(digest) else {
            return Ok(());
        };
        let body = frame(payload, digest, version);
        self.write_atomic(&self.facts_path(&key, version), &body)
    }

    fn err(&self, source: io::Error) -> CacheError {
        CacheError {
            dir: self.dir.display().to_string(),
            source,
        }
    }

    fn write_atomic(&self, path: &Path, body: &[u8]) -> Result<(), CacheError> {
        let dir = path.parent().unwrap_or(&self.dir);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| self.err(e))?;
        tmp.write_all(body).map_err(|e| self.err(e))?;
        tmp.persist(path).map_err(|e| self.err(e.error))?;
        Ok(())
    }

    /// Keep the facts directory under its cap: drop the least recently
    /// used records until it is at 90 % of it.
    fn evict(&self) -> io::Result<()> {
        let mut files = Vec::new();
        let mut total = 0u64;
        for e in fs::read_dir(self.dir.join("facts"))?.flatten() {
            // Other processes rename and evict at the same time: an entry
            // gone between the listing and the stat is simply skipped.
            let Ok(m) = e.metadata() else { continue };
            if !m.is_file() {
                continue;
            }
            total += m.len();
            files.push((
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
                e.path(),
            ));
        }
        if total <= self.max_bytes {
            return Ok(());
        }
        files.sort();
        let goal = self.max_bytes / 10 * 9;
        for (_, len, path) in files {
            if total <= goal {
                break;
            }
            // Another process may have evicted it already.
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        Ok(())
    }
}

/// Header: magic, then the key (digest and version, each length-prefixed),
/// the payload's sha256, then the postcard payload.
fn encode(index: &LayerIndex, digest: &str, version: &str) -> io::Result<Vec<u8>> {
    let payload = postcard::to_stdvec(index).map_err(io::Error::other)?;
    Ok(frame(&payload, digest, version))
}

fn frame(payload: &[u8], digest: &str, version: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 128);
    out.extend_from_slice(MAGIC);
    for s in [digest, version] {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

fn decode(bytes: &[u8], digest: &str, version: &str) -> Option<LayerIndex> {
    let mut rest = bytes.strip_prefix(MAGIC.as_slice())?;
    for want in [digest, version] {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let s = rest.get(4..4 + len)?;
        if s != want.as_bytes() {
            return None;
        }
        rest = &rest[4 + len..];
    }
    let (sum, payload) = (rest.get(..32)?, rest.get(32..)?);
    if Sha256::digest(payload).as_slice() != sum {
        return None;
    }
    // A whole record is not a true one: facts the layer reader could not
    // have produced (a `..` path, bytes past the layer's end) are refused
    // like a bad checksum, and the layer is read again.
    let index: LayerIndex = postcard::from_bytes(payload).ok()?;
    index.check().is_ok().then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Entry, EntryKind};
    use std::sync::Arc;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn index() -> LayerIndex {
        LayerIndex {
            entries: vec![Entry {
                path: "opt/app/env.cfg".into(),
                kind: EntryKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: 5,
                mtime: 1,
                link: None,
                data_offset: 512,
                captured: Some(Arc::from(&b"home="[..])),
                sha256: Some([7; 32]),
                sparse: false,
                elf: None,
            }],
            uncompressed_size: 2048,
            diff_id: Some(D.into()),
            blob_digest: Some(D.into()),
            seekable: true,
        }
    }

    #[test]
    fn keys_refuse_hostile_digests() {
        assert_eq!(file_key(D).as_deref(), Some(&D.replace(':', "-")[..]));
        for bad in [
            "sha256:../../etc/passwd",
            "sha256:0123",               // wrong length
            &D.replace('a', "A"),        // not lowercase hex
            &D.replace("sha256", "md5"), // unknown algorithm
            "0123456789abcdef",          // no algorithm
        ] {
            assert_eq!(file_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn hit_miss_and_version_change() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache::open(dir.path()).unwrap();
        assert!(c.get(D, "v1").is_none());
        c.put(D, "v1", &index()).unwrap();
        let got = c.get(D, "v1").expect("a hit");
        assert_eq!(got.entries.len(), 1);
        assert_eq!(got.entries[0].captured.as_deref(), Some(&b"home="[..]));
        assert_eq!(got.entries[0].sha256, Some([7; 32]));
        // Another extractor set: a miss, never the old facts.
        assert!(c.get(D, "v2").is_none());
    }

    #[test]
    fn corrupted_records_are_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache::open(dir.path()).unwrap();
        c.put(D, "v1", &index()).unwrap();
        let path = c.facts_path(&file_key(D).unwrap(), "v1");
        let good = fs::read(&path).unwrap();
        // Every single-byte flip and every truncation is refused.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            assert!(c.get(D, "v1").is_none(), "flip at {i}");
            fs::write(&path, &good[..i]).unwrap();
            assert!(c.get(D, "v1").is_none(), "truncated at {i}");
        }
        // A record stored under another digest's name is refused.
        let other = D.replace("0123", "4567");
        fs::write(c.facts_path(&file_key(&other).unwrap(), "v1"), &good).unwrap();
        assert!(c.get(&other, "v1").is_none());
        // The next writer replaces the bad record.
        c.put(D, "v1", &index()).unwrap();
        assert!(c.get(D, "v1").is_some());
    }

    #[test]
    fn whole_records_of_facts_the_reader_cannot_produce_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache::open(dir.path()).unwrap();
        // Each a record with a valid header and checksum, as a hostile or
        // damaged cache directory serves it.
        let poisoned: [fn(&mut Entry); 4] = [
            |e| e.path = "../../etc/passwd".into(),
            |e| e.size = u64::MAX,
            |e| e.kind = EntryKind::Hardlink,
            |e| e.captured = Some(Arc::from(&b"more than five bytes"[..])),
        ];
        for poison in poisoned {
            let mut ix = index();
            poison(&mut ix.entries[0]);
            let payload = postcard::to_stdvec(&ix).unwrap();
            c.put_payload(D, "v1", &payload).unwrap();
            assert!(c.get(D, "v1").is_none(), "{:?}", ix.entries[0]);
        }
        // The same framing of true facts is served.
        c.put_payload(D, "v1", &postcard::to_stdvec(&index()).unwrap())
            .unwrap();
        assert!(c.get(D, "v1").is_some());
    }

    #[test]
    fn records_that_are_not_regular_files_or_too_large_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let one = encode(&index(), D, "v1").unwrap().len() as u64;
        let c = FactCache::open(dir.path()).unwrap().with_max_bytes(one);
        let path = c.facts_path(&file_key(D).unwrap(), "v1");
        // A FIFO planted where the record goes: a miss, not a read that
        // waits for a writer forever.
        assert!(std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success());
        assert!(c.get(D, "v1").is_none());
        fs::remove_file(&path).unwrap();
        // Larger than the whole directory may be: not read.
        c.put(D, "v1", &index()).unwrap();
        assert!(c.get(D, "v1").is_some());
        let c = c.with_max_bytes(one - 1);
        assert!(c.get(D, "v1").is_none());
    }

    #[test]
    fn concurrent_writers_leave_whole_records() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        c.put(D, "v1", &index()).unwrap();
                        if let Some(ix) = c.get(D, "v1") {
                            assert_eq!(ix.entries.len(), 1);
                        }
                    }
                });
            }
        });
        assert!(c.get(D, "v1").is_some());
        // No temp files left behind.
        let left: Vec<_> = fs::read_dir(dir.path().join("facts")).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn eviction_keeps_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let one = encode(&index(), D, "v1").unwrap().len() as u64;
        let c = FactCache::open(dir.path()).unwrap().with_max_bytes(one * 3);
        for i in 0..10u8 {
            let d = format!("sha256:{}", hex::encode([i; 32]));
            c.put(&d, "v1", &index()).unwrap();
        }
        let total: u64 = fs::read_dir(dir.path().join("facts"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= one * 3, "{total} > {}", one * 3);
        // The newest record survives.
        let last = format!("sha256:{}", hex::encode([9u8; 32]));
        assert!(c.get(&last, "v1").is_some());
    }

    #[test]
    fn verified_records_match_stat_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache::open(dir.path()).unwrap();
        let blob = dir.path().join("blob");
        fs::write(&blob, b"0123456789").unwrap();
        let range = |p: &Path| FileRange {
            file: Arc::new(fs::File::open(p).unwrap()),
            offset: 0,
            len: 10,
        };
        let id = FileIdentity::of(&range(&blob)).unwrap();
        let v = Verified {
            digest: D.into(),
            diff_id: None,
        };
        c.record_verified(&id, &v).unwrap();
        assert_eq!(
            c.verified(&FileIdentity::of(&range(&blob)).unwrap()),
            Some(v)
        );
        // Rewritten in place with the same size: stat data change, a miss.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&blob, b"9876543210").unwrap();
        assert_eq!(c.verified(&FileIdentity::of(&range(&blob)).unwrap()), None);
    }
}
