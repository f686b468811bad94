//! Layer reader: one streaming pass over a layer tar, producing an index of
//! its entries. No overlay policy lives here.
//!
//! What it owns: decompression (chosen by media type, then by magic bytes),
//! digest verification of the blob and of the uncompressed stream (the
//! config's `diff_id`), path normalisation and hostile-name rejection, and
//! running the *extractors* the analyzers declared (`extract::ExtractorSet`)
//! on each file as its bytes pass.
//!
//! Why extractors: on a seekable, uncompressed layer (a `docker save` file,
//! an OCI dir with plain layers) any file can be read later by a positioned
//! read, so data is skipped with a seek and only what the set asks for on
//! every layer is kept. On a compressed layer or on stdin, the bytes go by
//! exactly once (inflating is the cost floor), so whatever the analyzers will
//! need is kept or hashed inline, without a second inflate. The reader itself
//! names no file layout: it runs the set it is given. Memory stays bounded by
//! metadata: a kept file is at most what its rule allows, and the captures of
//! one read share a total budget ([`CaptureBudget`]).
//!
//! What it does not do: apply whiteouts (see `overlay`), or read bytes no
//! extractor asked for.
//!
//! **Entry names** are cleaned the way Docker and containerd unpack them
//! (moby `pkg/archive` `Unpack` sets `hdr.Name = filepath.Clean(hdr.Name)`
//! and joins it to the root; umoci's `unpackEntry` does the same through
//! `securejoin`): a
//! leading `/` is dropped (`/some-file` is `some-file`), `.` components and
//! repeated slashes vanish, and an entry that cleans to `.` or `/` (kaniko
//! writes `/` as the first entry of every layer) carries the root's own
//! attributes. A `..` that climbs above the root is still refused: the
//! peers clamp it, but no tool writes one and an archive that does is
//! crafted.
//!
//! **Names that are not UTF-8** are legal on Linux (old packages ship
//! Latin-1 names) and are read, not refused. The tree is `str`-based, so
//! each raw name is mapped to a *stored name* by a lossless, reversible
//! encoding ([`name_from_bytes`], inverse [`name_to_bytes`]), with the
//! escapes of Rust's `<[u8]>::escape_ascii` and Python's `bytes` repr:
//!
//! - a byte that is not part of a valid UTF-8 sequence becomes `\xNN`
//!   (two lowercase hex digits: Latin-1 `caf\xe9`);
//! - a literal backslash becomes `\\`, so a real name spelled `caf\xe9`
//!   is stored `caf\\xe9` and never collides with the Latin-1 one;
//! - everything else, the whole name in the usual case, is kept as is.
//!
//! Symlink and hardlink targets are stored in the same encoding, so a link
//! to a Latin-1 name still resolves. Every output shows the stored name
//! (text outputs then escape control characters with `escape`, whose
//! `\u{..}`/`\n` forms cannot be confused with a stored `\\`). No U+FFFD
//! is ever produced: two names that differ only in an invalid byte stay two
//! entries.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::extract::{ExtractorSet, Want};

mod guard;
use guard::RecordGuard;
pub use guard::MAX_RECORD;

/// Compression of a layer blob.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`…tar+gzip`, Docker's `rootfs.diff.tar.gzip`).
    Gzip,
    /// zstd (`…tar+zstd`).
    Zstd,
}

impl Compression {
    /// From an OCI/Docker media type; `None` when the type doesn't say.
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        if mt.ends_with("+gzip") || mt.ends_with(".gzip") {
            Some(Compression::Gzip)
        } else if mt.ends_with("+zstd") || mt.ends_with(".zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar") || mt.ends_with("layer.v1.tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// From the first bytes of the blob (gzip `1f 8b`, zstd `28 b5 2f fd`).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Errors reading one layer. Every message names the layer.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The tar structure is broken (bad header, checksum, truncated).
    #[error("layer {layer}: malformed tar: {source}")]
    Tar {
        /// Layer name (digest or member path).
        layer: String,
        /// Underlying error.
        source: io::Error,
    },
    /// Decompression failed (garbage, truncated stream).
    #[error("layer {layer}: cannot decompress {kind:?} stream: {source}")]
    Decompress {
        /// Layer name.
        layer: String,
        /// Compression in use.
        kind: Compression,
        /// Underlying error.
        source: io::Error,
    },
    /// An entry's data extends past the end of the layer.
    #[error(
        "layer {layer}: entry `{path}` declares {size} bytes but the layer ends first (truncated)"
    )]
    Truncated {
        /// Layer name.
        layer: String,
        /// Entry path.
        path: String,
        /// Declared size.
        size: u64,
    },
    /// An entry name is hostile or invalid.
    #[error("layer {layer}: entry `{path}`: {why}")]
    BadName {
        /// Layer name.
        layer: String,
        /// The raw entry path (stored-name encoding).
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The blob's sha256 is not its digest.
    #[error("layer {layer}: blob digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Layer name.
        layer: String,
        /// Declared digest.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// A layer digest names an algorithm layers are not verified with.
    #[error("layer {layer}: digest `{digest}`: layers are verified with sha256 only; refusing an unverifiable layer")]
    UnsupportedDigest {
        /// Layer name.
        layer: String,
        /// The digest as written (clipped).
        digest: String,
    },
    /// The uncompressed layer's sha256 is not the config's diff_id.
    #[error("layer {layer}: diff_id mismatch: config says {expected}, layer is {actual}")]
    DiffIdMismatch {
        /// Layer name.
        layer: String,
        /// `rootfs.diff_ids[i]` from the config.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// The bytes the extractors keep exceed the image's capture budget.
    #[error(
        "layer {layer}: entry `{path}`: the metadata kept in memory exceeds {} MiB; refusing to read further",
        DEFAULT_CAPTURE_BUDGET >> 20
    )]
    CaptureBudget {
        /// Layer name.
        layer: String,
        /// The entry that crossed the budget.
        path: String,
    },
    /// The blob could not be read from its source.
    #[error("layer {layer}: read error: {source}")]
    Io {
        /// Layer name.
        layer: String,
        /// Underlying error.
        source: io::Error,
    },
}

/// What an entry is, after whiteout decoding.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntryKind {
    /// Regular file (content at `data_offset`, `size` bytes).
    File,
    /// Directory.
    Dir,
    /// Symbolic link to `link`.
    Symlink,
    /// Hard link to the path `link` (earlier in this layer or in a lower one).
    Hardlink,
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Named pipe.
    Fifo,
    /// `.wh.NAME`: delete `path` from lower layers.
    Whiteout,
    /// `DIR/.wh..wh..opq`: hide everything under `path` from lower layers.
    Opaque,
}

/// One tar entry, normalised. Paths are relative to the image root, without
/// a leading `/` or `./`, never containing `.`/`..` components; the root
/// itself is the empty string. Paths and link targets are stored names (the
/// module docs: invalid UTF-8 as `\xNN`, a backslash as `\\`).
///
/// An entry and its extracted bytes are *facts* of the layer: they depend on
/// nothing but the layer's bytes and the extractor set, so the fact cache
/// stores them by layer digest (serde).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Normalised path (for whiteouts: the path being deleted).
    pub path: Box<str>,
    /// Kind.
    pub kind: EntryKind,
    /// Permission bits (incl. setuid/setgid/sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Size of the content (files only; 0 otherwise).
    pub size: u64,
    /// Modification time (seconds).
    pub mtime: u64,
    /// Symlink target (as written) or normalised hardlink target path.
    pub link: Option<Box<str>>,
    /// Offset of the content in the uncompressed layer stream.
    pub data_offset: u64,
    /// Captured bytes (whole file, or the head of a `bin/` file).
    #[serde(with = "bytes_serde")]
    pub captured: Option<Arc<[u8]>>,
    /// sha256 computed inline while streaming.
    pub sha256: Option<[u8; 32]>,
    /// A GNU sparse file: `size` is its logical size, the layer stores only
    /// the data map. Its bytes are never expanded (a 1 TiB hole would be
    /// read as 1 TiB of zeros) and never extracted.
    #[serde(default)]
    pub sparse: bool,
    /// ELF dynamic facts, when an extractor asked for them and the file is
    /// ELF.
    #[serde(default)]
    pub elf: Option<Arc<crate::elf::ElfFacts>>,
}

/// Captured bytes as one byte string in the cache's encoding (a memcpy),
/// not as a sequence of numbers (a call per byte).
mod bytes_serde {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Arc<[u8]>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().map(serde_bytes::Bytes::new).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<[u8]>>, D::Error> {
        let v: Option<serde_bytes::ByteBuf> = Option::deserialize(d)?;
        Ok(v.map(|b| Arc::from(b.into_vec())))
    }
}

/// The result of reading one layer.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct LayerIndex {
    /// Entries in tar order.
    pub entries: Vec<Entry>,
    /// Size of the uncompressed tar stream.
    pub uncompressed_size: u64,
    /// sha256 of the uncompressed stream, when it was computed.
    pub diff_id: Option<String>,
    /// sha256 of the blob as stored, when it was computed.
    pub blob_digest: Option<String>,
    /// True when contents can be read later by positioned reads.
    pub seekable: bool,
}

impl LayerIndex {
    /// Whether the index holds only what the layer reader produces: every
    /// path a normalised stored name (no leading `/`, no empty, `.` or `..`
    /// component, no NUL; the empty root only for a directory or an opaque
    /// marker), a link target exactly on links (a hardlink's normalised), a
    /// size, captured bytes, hash and ELF facts only on files, every
    /// non-sparse file's bytes inside the layer, and a captured head no longer
    /// than its file.
    ///
    /// Why: the overlay, the tree and the checks rely on these facts, and
    /// the fact cache serves indexes that did not come from the reader just
    /// now — a record written by another version or by anyone who can write
    /// the cache directory (its checksum proves the record whole, not its
    /// origin). The cache refuses an index that fails this check and the
    /// layer is read again; the `layer` fuzz target asserts every index the
    /// reader returns passes it.
    pub fn check(&self) -> Result<(), String> {
        for (i, e) in self.entries.iter().enumerate() {
            entry_check(e, self.uncompressed_size)
                .map_err(|why| format!("entry {i} `{}`: {why}", e.path))?;
        }
        Ok(())
    }
}

fn entry_check(e: &Entry, layer_size: u64) -> Result<(), &'static str> {
    if !is_stored_path(&e.path) {
        return Err("not a normalised path");
    }
    if e.path.is_empty() && !matches!(e.kind, EntryKind::Dir | EntryKind::Opaque) {
        return Err("a non-directory entry for the image root");
    }
    match (&e.kind, e.link.as_deref()) {
        (EntryKind::Hardlink, Some(l)) if is_stored_path(l) => {}
        (EntryKind::Hardlink, _) => return Err("a hardlink without a normalised target"),
        (EntryKind::Symlink, Some(_)) => {}
        (EntryKind::Symlink, None) => return Err("a symlink without a target"),
        (_, Some(_)) => return Err("a link target on an entry that is not a link"),
        (_, None) => {}
    }
    if e.mode & !0o7777 != 0 {
        return Err("mode bits beyond 0o7777");
    }
    if e.kind != EntryKind::File {
        let facts = e.size != 0
            || e.sparse
            || e.captured.is_some()
            || e.sha256.is_some()
            || e.elf.is_some();
        return if facts {
            Err("file facts on an entry that is not a file")
        } else {
            Ok(())
        };
    }
    if e.captured.as_ref().is_some_and(|c| c.len() as u64 > e.size) {
        return Err("more bytes captured than the file holds");
    }
    // A sparse file's logical size is not what the layer stores.
    if !e.sparse
        && e.data_offset
            .checked_add(e.size)
            .is_none_or(|end| end > layer_size)
    {
        return Err("file bytes past the end of the layer");
    }
    Ok(())
}

/// A stored name as [`normalize_entry_path`] returns it: no leading `/`,
/// no empty, `.` or `..` component, no NUL; `""` is the root.
fn is_stored_path(p: &str) -> bool {
    p.is_empty() || (!p.contains('\0') && p.split('/').all(|c| !matches!(c, "" | "." | "..")))
}

/// Where the bytes of a blob live, for positioned reads.
#[derive(Clone, Debug)]
pub struct FileRange {
    /// The file holding the blob (an OCI blob file, or the outer tarball).
    pub file: Arc<File>,
    /// Offset of the blob in that file.
    pub offset: u64,
    /// Length of the blob.
    pub len: u64,
}

impl FileRange {
    /// Read up to `buf.len()` bytes at `pos` (relative to the blob start).
    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        if pos >= self.len {
            return Ok(0);
        }
        let n = ((self.len - pos) as usize).min(buf.len());
        self.file.read_at(&mut buf[..n], self.offset + pos)
    }

    /// Read exactly `len` bytes at `pos`.
    pub fn read_exact_at(&self, pos: u64, len: usize) -> io::Result<Vec<u8>> {
        if pos.checked_add(len as u64).is_none_or(|end| end > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the blob",
            ));
        }
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, self.offset + pos)?;
        Ok(buf)
    }

    /// A `Read + Seek` cursor over the range.
    pub fn cursor(&self) -> RangeReader {
        RangeReader {
            range: self.clone(),
            pos: 0,
        }
    }
}

/// A `Read + Seek` view of a [`FileRange`], using positioned reads so many
/// layers of one tarball can be read in parallel from one file handle.
pub struct RangeReader {
    range: FileRange,
    pos: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.range.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.range.len.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek out of range",
            )),
        }
    }
}

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wrap `inner`; hash only when `hash` is true (counting always).
    pub fn new(inner: R, hash: bool) -> Self {
        HashingReader {
            inner,
            hasher: hash.then(Sha256::new),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Read to EOF (so the hash covers trailing padding), then return
    /// `(sha256 hex, count)`.
    pub fn finish(mut self) -> io::Result<(Option<String>, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            self.hasher
                .map(|h| format!("sha256:{}", hex::encode(h.finalize()))),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// The stored name of a raw tar name or link target (see the module docs):
/// invalid UTF-8 bytes as `\xNN`, a literal backslash as `\\`; borrowed when
/// the name needs neither (almost always).
pub fn name_from_bytes(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(raw) {
        if !s.contains('\\') {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

/// The raw bytes of a stored name: the inverse of [`name_from_bytes`]. A
/// backslash that starts no escape (never produced by the encoding) is kept.
pub fn name_to_bytes(stored: &str) -> Vec<u8> {
    let b = stored.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b.get(i + 1) == Some(&b'x') {
                let hex = b
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok());
                if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Normalise a tar entry name into its stored form: drop leading `/`,
/// `./` and empty or `.` components, resolve `..`, refuse anything that
/// climbs out of the root. `/`, `.` and `./` are the root itself (`""`).
///
/// A leading `/` is stripped, as moby's `pkg/archive` and umoci do
/// (`/some-file` is `some-file`); the name is then relative to the image
/// root like any other. A name that is not UTF-8 is encoded
/// ([`name_from_bytes`]), never refused.
pub fn normalize_entry_path(raw: &[u8]) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("empty name");
    }
    if raw.contains(&0) {
        return Err("name contains a NUL byte");
    }
    let s = name_from_bytes(raw);
    let mut parts: Vec<&str> = Vec::new();
    for comp in s.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("path climbs out of the image root with `..`");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Normalise a hardlink target (relative to the image root; a leading `/` or
/// `./` is tolerated as GNU and BSD tar write either): the same cleaning as
/// an entry name.
pub fn normalize_link_target(raw: &[u8]) -> Result<String, &'static str> {
    normalize_entry_path(raw)
}

/// Options for [`read_layer_range`] and [`read_layer_stream`].
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Name used in error messages (digest or member path).
    pub name: String,
    /// Compression from the media type, if known; otherwise sniffed.
    pub compression: Option<Compression>,
    /// Compute the blob and uncompressed digests (off with `--no-verify`).
    pub verify: bool,
    /// What the analyzers want from file bytes.
    pub extractors: Arc<ExtractorSet>,
    /// Total bytes all captures of this image may keep.
    pub budget: CaptureBudget,
}

/// The bytes all captures of one image may keep in memory together.
///
/// Why a total: each rule bounds one file, but a crafted layer can hold a
/// million small files that all match (a tiny zstd stream inflating to
/// gigabytes of `.pth` files). Past the budget the read fails with one line
/// instead of growing without bound.
#[derive(Clone, Debug)]
pub struct CaptureBudget(Arc<std::sync::atomic::AtomicU64>);

/// Default [`CaptureBudget`]: far above any real image's metadata (the 6 GB
/// torch image keeps ~30 MB), far below the machine.
pub const DEFAULT_CAPTURE_BUDGET: u64 = 1 << 30;

impl Default for CaptureBudget {
    fn default() -> Self {
        CaptureBudget::new(DEFAULT_CAPTURE_BUDGET)
    }
}

impl CaptureBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        CaptureBudget(Arc::new(std::sync::atomic::AtomicU64::new(bytes)))
    }

    /// Take `n` bytes; false when the budget is spent.
    fn take(&self, n: u64) -> bool {
        use std::sync::atomic::Ordering;
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }
}

impl LayerIndex {
    /// Compare the digests computed while reading with the expected ones.
    /// A mismatch is an error: the image is corrupt or tampered with.
    pub fn check_digests(
        &self,
        name: &str,
        blob: Option<&str>,
        diff_id: Option<&str>,
    ) -> Result<(), LayerError> {
        // Layer bytes are hashed with sha256 (the digest every image tool
        // writes for layers); a layer named by another algorithm is refused
        // with that reason, never compared as a "mismatch" nor trusted.
        for expected in [blob, diff_id].into_iter().flatten() {
            let algo = expected.split_once(':').map_or(expected, |(a, _)| a);
            if algo != "sha256" {
                return Err(LayerError::UnsupportedDigest {
                    layer: name.to_string(),
                    digest: expected.chars().take(80).collect(),
                });
            }
        }
        if let (Some(expected), Some(actual)) = (blob, self.blob_digest.as_deref()) {
            if expected != actual {
                return Err(LayerError::DigestMismatch {
                    layer: name.to_string(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if let (Some(expected), Some(actual)) = (diff_id, self.diff_id.as_deref()) {
            if expected != actual {
                return Err(LayerError::DiffIdMismatch {
                    layer: name.to_string(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Read a layer from a seekable file range: headers are walked with seeks
/// past data when the layer is uncompressed; otherwise streamed.
pub fn read_layer_range(range: &FileRange, opts: &ReadOptions) -> Result<LayerIndex, LayerError> {
    let mut head = [0u8; 4];
    let n = range.read_at(0, &mut head).map_err(|e| io_err(opts, e))?;
    let compression = resolve_compression(opts.compression, &head[..n]);
    if compression != Compression::None {
        return read_layer_stream_pipelined(range.cursor(), opts);
    }
    // Uncompressed and seekable: walk headers seeking past data, and hash
    // the whole blob sequentially on the other core (blob digest and
    // diff_id are the same bytes here).
    let (walk, hash) = rayon::join(
        || walk_seekable(range, opts),
        || opts.verify.then(|| hash_range(range)).transpose(),
    );
    let mut index = walk?;
    let hash = hash.map_err(|e| io_err(opts, e))?;
    index.diff_id = hash.clone();
    index.blob_digest = hash;
    Ok(index)
}

/// Like [`read_layer_range`], but a plain seekable layer's whole-blob hash
/// is left to the caller: the range to hash is returned, so it can run
/// while the checks already work on the tree. Compressed layers are hashed
/// inline as they stream, as always.
pub fn read_layer_range_deferred(
    range: &FileRange,
    opts: &ReadOptions,
) -> Result<(LayerIndex, Option<FileRange>), LayerError> {
    let mut head = [0u8; 4];
    let n = range.read_at(0, &mut head).map_err(|e| io_err(opts, e))?;
    if resolve_compression(opts.compression, &head[..n]) != Compression::None {
        return Ok((read_layer_stream_pipelined(range.cursor(), opts)?, None));
    }
    let index = walk_seekable(range, opts)?;
    Ok((index, opts.verify.then(|| range.clone())))
}

/// sha256 (`sha256:<hex>`) of a whole range, read sequentially.
pub fn hash_range(range: &FileRange) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    while pos < range.len {
        let n = range.read_at(pos, &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "blob shorter than its declared size",
            ));
        }
        h.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn resolve_compression(declared: Option<Compression>, head: &[u8]) -> Compression {
    // Magic bytes win over the media type, both ways: docker-archive layers
    // carry no media type, and skopeo 1.9 labels the uncompressed layers it
    // writes with `--dest-oci-accept-uncompressed-layers` `…tar+gzip`. Every
    // gzip member starts with `1f 8b`; a zstd stream may open with a
    // skippable frame (`5? 2a 4d 18`) instead of `28 b5 2f fd`.
    match Compression::sniff(head) {
        Compression::None
            if declared == Some(Compression::Zstd)
                && head.len() == 4
                && head[0] & 0xf0 == 0x50
                && head[1..] == [0x2a, 0x4d, 0x18] =>
        {
            Compression::Zstd
        }
        sniffed => sniffed,
    }
}

fn budget_err(opts: &ReadOptions, e: &Entry) -> LayerError {
    LayerError::CaptureBudget {
        layer: opts.name.clone(),
        path: e.path.to_string(),
    }
}

fn io_err(opts: &ReadOptions, source: io::Error) -> LayerError {
    LayerError::Io {
        layer: opts.name.clone(),
        source,
    }
}

fn tar_err(opts: &ReadOptions, source: io::Error) -> LayerError {
    LayerError::Tar {
        layer: opts.name.clone(),
        source,
    }
}

fn walk_seekable(range: &FileRange, opts: &ReadOptions) -> Result<LayerIndex, LayerError> {
    // A small buffer: every seek past file data discards it.
    let reader = io::BufReader::with_capacity(16 << 10, RecordGuard::new(range.cursor()));
    let mut archive = tar::Archive::new(reader);
    let mut index = LayerIndex {
        seekable: true,
        uncompressed_size: range.len,
        ..LayerIndex::default()
    };
    let entries = archive.entries_with_seek().map_err(|e| tar_err(opts, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(opts, e))?;
        let Some(mut e) = convert_entry(&entry, opts)? else {
            continue;
        };
        // A sparse file stores only its data map: check what is stored.
        let stored = if e.sparse {
            entry.header().entry_size().unwrap_or(0)
        } else {
            e.size
        };
        let end = e.data_offset.checked_add(stored);
        if e.kind == EntryKind::File && end.is_none_or(|end| end > range.len) {
            return Err(LayerError::Truncated {
                layer: opts.name.clone(),
                path: e.path.to_string(),
                size: e.size,
            });
        }
        if e.kind == EntryKind::File && !e.sparse {
            let w = opts.extractors.want(&e.path, e.size, false);
            if w.capture > 0 {
                let n = (e.size as usize).min(w.capture);
                if !opts.budget.take(n as u64) {
                    return Err(budget_err(opts, &e));
                }
                let mut buf = vec![0u8; n];
                entry
                    .read_exact(&mut buf)
                    .map_err(|err| tar_err(opts, err))?;
                e.captured = Some(buf.into());
            }
            if w.elf {
                // Positioned reads of the few ranges that hold the facts:
                // the header, program headers, `PT_DYNAMIC`, the names.
                let base = e.data_offset;
                let size = e.size;
                e.elf = crate::elf::parse_at(size, |off, len| {
                    let len = (len as u64).min(size.saturating_sub(off)) as usize;
                    range.read_exact_at(base + off, len)
                })
                .map_err(|err| io_err(opts, err))?
                .map(Arc::new);
            }
        }
        index.entries.push(e);
    }
    Ok(index)
}

/// The stored bytes of a layer stream, hashed as they are read (the blob
/// digest), with the compression they declare or their first bytes show,
/// and those first bytes (already consumed). The source's failures are
/// flagged so they are reported as themselves, not as the decoder's or the
/// tar's (a connection, a registry that lies).
type Stored<'a, R> = HashingReader<io::BufReader<FailFlag<'a, R>>>;

fn open_stored<'a, R: Read>(
    raw: R,
    opts: &ReadOptions,
    flags: &'a StreamFlags,
) -> Result<(Stored<'a, R>, Compression, Vec<u8>), LayerError> {
    let raw = FailFlag {
        inner: raw,
        failed: &flags.raw,
    };
    let mut blob = HashingReader::new(io::BufReader::with_capacity(256 << 10, raw), opts.verify);
    let mut head = [0u8; 4];
    let peeked = peek(&mut blob, &mut head).map_err(|e| io_err(opts, e))?;
    let compression = resolve_compression(opts.compression, &head[..peeked]);
    Ok((blob, compression, head[..peeked].to_vec()))
}

/// Read a layer from a stream (compressed, or not seekable): one pass, data
/// read and dropped except what the capture policy keeps.
pub fn read_layer_stream<R: Read>(raw: R, opts: &ReadOptions) -> Result<LayerIndex, LayerError> {
    let flags = StreamFlags::default();
    let (mut blob, compression, prefix) = open_stored(raw, opts, &flags)?;
    let prefix = io::Cursor::new(prefix);
    let chained = io::BufReader::with_capacity(64 << 10, prefix.chain(&mut blob));
    let decoder = decoder(chained, compression, opts)?;
    let mut index = walk_decoded(decoder, compression, opts, &flags, true)?;
    let (blob_digest, _) = blob.finish().map_err(|e| io_err(opts, e))?;
    finish_digests(&mut index, compression, blob_digest);
    Ok(index)
}

/// [`read_layer_stream`] on four threads for a compressed layer: reading
/// and hashing the stored bytes, inflating, hashing the tar stream (the
/// diff_id), and walking the tar (with the extractors' own hashing) each
/// get a thread, joined by bounded channels of 1 MiB chunks. Why: on one
/// thread the three add up (a 3 GB gzip torch layer: ~10 s inflate + ~2 s
/// compressed sha256 + ~4 s uncompressed sha256); pipelined, the audit
/// takes about the time of inflating once. Memory stays bounded (a few
/// chunks in flight per stage). An uncompressed layer has nothing to
/// overlap and is read on the calling thread.
pub fn read_layer_stream_pipelined<R: Read + Send>(
    raw: R,
    opts: &ReadOptions,
) -> Result<LayerIndex, LayerError> {
    let flags = StreamFlags::default();
    let (mut blob, compression, prefix) = open_stored(raw, opts, &flags)?;
    if compression == Compression::None {
        let decoded = io::Cursor::new(prefix).chain(&mut blob);
        let mut index = walk_decoded(decoded, compression, opts, &flags, true)?;
        let (blob_digest, _) = blob.finish().map_err(|e| io_err(opts, e))?;
        finish_digests(&mut index, compression, blob_digest);
        return Ok(index);
    }
    const DEPTH: usize = 4;
    let flags = &flags;
    std::thread::scope(|scope| {
        // Stage 1: the stored bytes, hashed, in chunks (to EOF: the blob
        // digest covers any trailing bytes after the compressed stream).
        let (tx_raw, rx_raw) = std::sync::mpsc::sync_channel(DEPTH);
        let reader = scope.spawn(move || {
            if !pump(&mut blob, &tx_raw) {
                // Failed, or the consumer stopped on an error: read no
                // further (a hostile stream may never end).
                return Err(io::Error::other("the layer was not read to its end"));
            }
            drop(tx_raw);
            blob.finish()
        });
        // Stage 2: inflate; after the decoder's end, drain what is left so
        // stage 1 reaches EOF.
        let (tx_plain, rx_plain) = std::sync::mpsc::sync_channel(DEPTH);
        let inflater = scope.spawn(move || -> Result<(), LayerError> {
            let mut stored = io::BufReader::with_capacity(
                64 << 10,
                io::Cursor::new(prefix).chain(ChunkReader::new(rx_raw)),
            );
            let ok = {
                let d = decoder(&mut stored, compression, opts)?;
                let mut d = FailFlag {
                    inner: d,
                    failed: &flags.decoder,
                };
                pump(&mut d, &tx_plain)
            };
            drop(tx_plain);
            if ok {
                let _ = io::copy(&mut stored, &mut io::sink());
            }
            Ok(())
        });
        // Stage 3: hash the tar stream (the diff_id), to its end.
        let (tx_tar, rx_tar) = std::sync::mpsc::sync_channel(DEPTH);
        let hasher = scope.spawn(move || {
            let mut plain = HashingReader::new(ChunkReader::new(rx_plain), opts.verify);
            if !pump(&mut plain, &tx_tar) {
                return Err(io::Error::other("the layer was not read to its end"));
            }
            drop(tx_tar);
            plain.finish()
        });
        // Stage 4 (here): walk the tar, run the extractors.
        let walked = walk_decoded(ChunkReader::new(rx_tar), compression, opts, flags, false);
        let hashed = hasher.join().map_err(|_| panicked(opts))?;
        let inflated = inflater.join().map_err(|_| panicked(opts))?;
        let stored = reader.join().map_err(|_| panicked(opts))?;
        inflated?;
        let mut index = walked?;
        let (diff_id, size) = hashed.map_err(|e| io_err(opts, e))?;
        index.diff_id = diff_id;
        index.uncompressed_size = size;
        let (blob_digest, _) = stored.map_err(|e| io_err(opts, e))?;
        finish_digests(&mut index, compression, blob_digest);
        Ok(index)
    })
}

fn panicked(opts: &ReadOptions) -> LayerError {
    io_err(opts, io::Error::other("a reading thread panicked"))
}

/// Copy `r` into `tx` in 1 MiB chunks; an error is sent as the last item.
/// False when the reader failed or the receiver hung up.
fn pump<R: Read>(r: &mut R, tx: &std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>) -> bool {
    loop {
        let mut buf = vec![0u8; 1 << 20];
        let mut filled = 0;
        // Fill the chunk (small reads from a socket or a decoder) before
        // sending: fewer, larger messages.
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return false;
                }
            }
        }
        if filled == 0 {
            return true;
        }
        buf.truncate(filled);
        if tx.send(Ok(buf)).is_err() {
            return false;
        }
    }
}

/// The receiving end of [`pump`] as a reader.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    fn new(rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>) -> Self {
        ChunkReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The sender is done: end of stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Which stage of a stream failed, for the message.
#[derive(Default)]
struct StreamFlags {
    raw: std::sync::atomic::AtomicBool,
    decoder: std::sync::atomic::AtomicBool,
}

/// A layer's decoder, by compression (an enum, not a box: `Send` exactly
/// when its input is, so the pipelined reader can move it to a thread).
enum Decoder<R: io::BufRead> {
    None(R),
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, R>>),
}

impl<R: io::BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::None(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

fn decoder<R: io::BufRead>(
    stored: R,
    compression: Compression,
    opts: &ReadOptions,
) -> Result<Decoder<R>, LayerError> {
    Ok(match compression {
        Compression::None => Decoder::None(stored),
        Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(stored))),
        Compression::Zstd => Decoder::Zstd(Box::new(
            zstd::stream::read::Decoder::with_buffer(stored).map_err(|e| {
                LayerError::Decompress {
                    layer: opts.name.clone(),
                    kind: compression,
                    source: e,
                }
            })?,
        )),
    })
}

/// The blob digest is also the diff_id of an uncompressed layer.
fn finish_digests(index: &mut LayerIndex, compression: Compression, blob_digest: Option<String>) {
    if compression == Compression::None {
        index.diff_id = blob_digest.clone();
    }
    index.blob_digest = blob_digest;
}

/// Walk the tar in a decoded stream, hashing it (the diff_id of a
/// compressed layer), capturing what the extractors want.
fn walk_decoded<D: Read>(
    decoded: D,
    compression: Compression,
    opts: &ReadOptions,
    flags: &StreamFlags,
    hash: bool,
) -> Result<LayerIndex, LayerError> {
    use std::sync::atomic::Ordering::Relaxed;
    // Remember whether the *decoder* failed, so a truncated tar inside an
    // intact gzip stream is reported as a truncated entry, not as bad gzip.
    let decoder = FailFlag {
        inner: decoded,
        failed: &flags.decoder,
    };
    let mut plain = HashingReader::new(
        decoder,
        hash && opts.verify && compression != Compression::None,
    );
    let mut index = LayerIndex::default();
    // The file entry being read, for messages about truncation.
    let mut current: Option<(Box<str>, u64)> = None;
    let err = |e: io::Error, current: &Option<(Box<str>, u64)>| {
        if flags.raw.load(Relaxed) {
            return io_err(opts, e);
        }
        if flags.decoder.load(Relaxed) && compression != Compression::None {
            return LayerError::Decompress {
                layer: opts.name.clone(),
                kind: compression,
                source: e,
            };
        }
        match current {
            Some((path, size))
                if e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("EOF") =>
            {
                LayerError::Truncated {
                    layer: opts.name.clone(),
                    path: path.to_string(),
                    size: *size,
                }
            }
            _ => tar_err(opts, e),
        }
    };
    {
        let mut archive = tar::Archive::new(RecordGuard::new(&mut plain));
        let entries = archive.entries().map_err(|e| err(e, &current))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| err(e, &current))?;
            let Some(mut e) = convert_entry(&entry, opts)? else {
                continue;
            };
            current = (e.kind == EntryKind::File).then(|| (e.path.clone(), e.size));
            // A sparse entry is not read: tar skips its stored bytes.
            if e.kind == EntryKind::File && !e.sparse {
                let w = opts.extractors.want(&e.path, e.size, true);
                let keep = (e.size as usize).min(w.capture);
                if keep > 0 && !opts.budget.take(keep as u64) {
                    return Err(budget_err(opts, &e));
                }
                capture_stream(&mut entry, &mut e, w).map_err(|x| err(x, &current))?;
            }
            index.entries.push(e);
        }
    }
    let (diff_id, size) = plain.finish().map_err(|e| err(e, &None))?;
    index.uncompressed_size = size;
    // An uncompressed layer's diff_id is its blob digest (finish_digests).
    index.diff_id = if compression == Compression::None {
        None
    } else {
        diff_id
    };
    Ok(index)
}

/// A reader that records whether its inner reader ever failed.
struct FailFlag<'a, R> {
    inner: R,
    failed: &'a std::sync::atomic::AtomicBool,
}

impl<R: Read> Read for FailFlag<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if r.is_err() {
            self.failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}

fn peek<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let m = r.read(&mut buf[n..])?;
        if m == 0 {
            break;
        }
        n += m;
    }
    Ok(n)
}

fn capture_stream<R: Read>(entry: &mut R, e: &mut Entry, w: Want) -> io::Result<()> {
    if w.is_none() {
        return Ok(()); // tar skips the data itself
    }
    let keep = (e.size as usize).min(w.capture);
    let mut captured = Vec::with_capacity(keep.min(64 << 20));
    let mut hasher = w.hash.then(Sha256::new);
    let mut elf = w.elf.then(|| crate::elf::ElfStream::new(e.size));
    let mut buf = [0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if captured.len() < keep {
            let take = (keep - captured.len()).min(n);
            captured.extend_from_slice(&buf[..take]);
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        if let Some(x) = elf.as_mut() {
            x.feed(&buf[..n]);
        }
        total += n as u64;
    }
    if total != e.size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "entry `{}` declares {} bytes but only {} follow",
                e.path, e.size, total
            ),
        ));
    }
    if keep > 0 {
        e.captured = Some(captured.into());
    }
    e.sha256 = hasher.map(|h| h.finalize().into());
    e.elf = elf.and_then(|x| x.finish()).map(Arc::new);
    Ok(())
}

/// Turn a tar entry into an [`Entry`]; `None` for entries that carry no
/// filesystem object (PAX global headers, GNU long-name carriers).
fn convert_entry<R: Read>(
    entry: &tar::Entry<'_, R>,
    opts: &ReadOptions,
) -> Result<Option<Entry>, LayerError> {
    let header = entry.header();
    let raw_path = entry.path_bytes();
    let bad = |why: &'static str| LayerError::BadName {
        layer: opts.name.clone(),
        path: name_from_bytes(&raw_path).into_owned(),
        why,
    };
    let et = header.entry_type();
    let kind = match et {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            EntryKind::File
        }
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink,
        tar::EntryType::Link => EntryKind::Hardlink,
        tar::EntryType::Char => EntryKind::Char,
        tar::EntryType::Block => EntryKind::Block,
        tar::EntryType::Fifo => EntryKind::Fifo,
        // XGlobalHeader, GNU long names, volume labels: metadata only.
        _ => return Ok(None),
    };
    let path = normalize_entry_path(&raw_path).map_err(bad)?;
    let (dir, base) = match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path.as_str()),
    };
    // Whiteouts (OCI image-spec layer.md "Whiteouts").
    let (path, kind) = if base == ".wh..wh..opq" {
        (dir.to_string(), EntryKind::Opaque)
    } else if let Some(target) = base.strip_prefix(".wh.") {
        if target.is_empty() {
            return Err(bad("bare `.wh.` whiteout names nothing"));
        }
        if target == "." || target == ".." {
            return Err(bad("whiteout of `.` or `..`"));
        }
        let p = if dir.is_empty() {
            target.to_string()
        } else {
            format!("{dir}/{target}")
        };
        (p, EntryKind::Whiteout)
    } else {
        (path, kind)
    };
    if path.is_empty() && !matches!(kind, EntryKind::Dir | EntryKind::Opaque) {
        return Err(bad("a non-directory entry for the image root"));
    }
    let link = match kind {
        EntryKind::Symlink => {
            let l = entry
                .link_name_bytes()
                .ok_or_else(|| bad("symlink without a target"))?;
            Some(name_from_bytes(&l).into_owned().into_boxed_str())
        }
        EntryKind::Hardlink => {
            let l = entry
                .link_name_bytes()
                .ok_or_else(|| bad("hardlink without a target"))?;
            Some(normalize_link_target(&l).map_err(bad)?.into_boxed_str())
        }
        _ => None,
    };
    let size = if kind == EntryKind::File {
        entry.size()
    } else {
        0
    };
    Ok(Some(Entry {
        path: path.into_boxed_str(),
        kind,
        mode: header.mode().unwrap_or(0o644) & 0o7777,
        uid: header.uid().unwrap_or(0),
        gid: header.gid().unwrap_or(0),
        size,
        mtime: header.mtime().unwrap_or(0),
        link,
        data_offset: entry.raw_file_position(),
        captured: None,
        sha256: None,
        sparse: et == tar::EntryType::GNUSparse,
        elf: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        // (input, expected)
        let ok = [
            ("./usr/bin/x", "usr/bin/x"),
            ("usr//bin/./x", "usr/bin/x"),
            ("./", ""),
            ("a/../b", "b"),
            ("usr/lib/", "usr/lib"),
            ("/etc/passwd", "etc/passwd"), // absolute: `/` stripped (moby, umoci)
            ("//usr///bin", "usr/bin"),    // repeated slashes
            ("/", ""),                     // kaniko's first entry: the root
            (".", ""),                     // the root, spelled `.`
            ("/./", ""),                   // the root, spelled `/./`
        ];
        for (input, want) in ok {
            assert_eq!(
                normalize_entry_path(input.as_bytes()).unwrap(),
                want,
                "{input}"
            );
        }
        let bad = [
            ("../etc/passwd", "climbs"), // traversal
            ("a/../../etc", "climbs"),   // traversal after a component
            ("/../etc", "climbs"),       // absolute, then traversal
            ("", "empty"),               // empty
            ("a\0b", "NUL"),             // NUL inside a PAX name
        ];
        for (input, why) in bad {
            let err = normalize_entry_path(input.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn stored_names_are_lossless() {
        // (raw bytes, stored name)
        let cases: [(&[u8], &str); 6] = [
            (b"usr/bin/x", "usr/bin/x"),           // plain: unchanged, borrowed
            (b"caf\xe9", "caf\\xe9"),              // Latin-1 e-acute
            (b"caf\\xe9", "caf\\\\xe9"),           // a real backslash, then `xe9`
            ("caf\u{e9}".as_bytes(), "caf\u{e9}"), // valid UTF-8 e-acute
            (b"\xff\xfe", "\\xff\\xfe"),           // nothing valid at all
            (b"a\xc3", "a\\xc3"),                  // a truncated UTF-8 sequence
        ];
        for (raw, stored) in cases {
            assert_eq!(name_from_bytes(raw), stored, "{raw:?}");
            assert_eq!(name_to_bytes(stored), raw, "{stored}");
        }
        assert!(matches!(name_from_bytes(b"usr/bin/x"), Cow::Borrowed(_)));
    }

    // Two names that differ only in an invalid byte, or in being a Latin-1
    // byte versus its spelled-out escape, stay two entries.
    #[test]
    fn stored_names_stay_distinct() {
        let raws: [&[u8]; 5] = [
            b"f\xe9",
            b"f\xe8",
            b"f\\xe9",
            "f\u{e9}".as_bytes(),
            b"f\xef\xbf\xbd",
        ];
        let stored: std::collections::BTreeSet<String> = raws
            .iter()
            .map(|r| normalize_entry_path(r).unwrap())
            .collect();
        assert_eq!(stored.len(), raws.len(), "{stored:?}");
        // U+FFFD itself (valid UTF-8) is kept, never produced for bad bytes.
        assert!(stored.contains("f\u{fffd}"));
        assert!(!name_from_bytes(b"f\xe9").contains('\u{fffd}'));
    }

    /// A GNU sparse entry of 1 TiB whose only data is its last 512 bytes,
    /// then a regular file.
    fn sparse_layer() -> Vec<u8> {
        let mut out = Vec::new();
        let mut h = tar::Header::new_gnu();
        h.set_path("big.img").unwrap();
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_mode(0o644);
        h.set_size(512);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(1 << 40);
        gnu.sparse[0].set_offset((1 << 40) - 512);
        gnu.sparse[0].set_length(512);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&[7u8; 512]);
        let mut h = tar::Header::new_gnu();
        h.set_path("after").unwrap();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"abc");
        out.resize(out.len() + 509 + 1024, 0);
        out
    }

    // See: issue 14 (GNU sparse entries): never expand holes, never call a
    // valid sparse file truncated.
    #[test]
    fn r14_sparse_entries_are_not_expanded() {
        use crate::extract::{Action, Rule, Select, When};
        let tar = sparse_layer();
        let everything = Arc::new(ExtractorSet {
            name: "all",
            rules: vec![
                Rule {
                    select: Select::NameSuffix(""),
                    action: Action::Sha256,
                    when: When::Always,
                },
                Rule {
                    select: Select::NameSuffix(""),
                    action: Action::Keep { max_size: u64::MAX },
                    when: When::Always,
                },
            ],
            notable: vec![],
        });
        let opts = ReadOptions {
            name: "sparse".into(),
            compression: None,
            verify: true,
            extractors: everything,
            budget: CaptureBudget::default(),
        };
        let check = |ix: &LayerIndex| {
            let big = &ix.entries[0];
            assert!(big.sparse);
            assert_eq!(big.size, 1 << 40);
            assert!(big.captured.is_none() && big.sha256.is_none());
            let after = &ix.entries[1];
            assert_eq!(after.captured.as_deref(), Some(&b"abc"[..]));
        };
        // Streamed (gzip): finishes at once, no 1 TiB of zeros hashed.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        check(&read_layer_stream(&gz[..], &opts).unwrap());
        // Plain and seekable: not "truncated".
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &tar).unwrap();
        let range = FileRange {
            file: Arc::new(f),
            offset: 0,
            len: tar.len() as u64,
        };
        check(&read_layer_range(&range, &opts).unwrap());
    }

    #[test]
    fn check_accepts_what_the_reader_returns_and_nothing_it_cannot() {
        let opts = ReadOptions {
            name: "l".into(),
            compression: None,
            verify: false,
            extractors: Arc::new(ExtractorSet::default()),
            budget: CaptureBudget::default(),
        };
        // A sparse file (logical size 1 TiB past the layer's end), a file,
        // and the root, a hardlink and a symlink.
        let mut tar = sparse_layer();
        tar.truncate(tar.len() - 1024);
        let mut b = tar::Builder::new(tar);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "./", &[][..]).unwrap();
        h.set_entry_type(tar::EntryType::Link);
        b.append_link(&mut h, "again", "/after").unwrap();
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, "up", "../../x").unwrap();
        let tar = b.into_inner().unwrap();
        let good = read_layer_stream(&tar[..], &opts).unwrap();
        assert_eq!(good.entries.len(), 5);
        assert_eq!(good.check(), Ok(()));
        type Poison = fn(&mut Entry);
        let bad: [(Poison, &str); 9] = [
            (|e| e.path = "../x".into(), "not a normalised path"),
            (|e| e.path = "a//b".into(), "not a normalised path"),
            (|e| e.path = "/abs".into(), "not a normalised path"),
            (
                |e| e.path = "".into(),
                "a non-directory entry for the image root",
            ),
            (
                |e| e.kind = EntryKind::Hardlink,
                "a hardlink without a normalised target",
            ),
            (
                |e| e.link = Some("x".into()),
                "a link target on an entry that is not a link",
            ),
            (|e| e.mode = 0o170644, "mode bits beyond 0o7777"),
            (
                |e| e.size += 1 << 40,
                "file bytes past the end of the layer",
            ),
            (
                |e| e.captured = Some(Arc::from(&b"abcd"[..])),
                "more bytes captured than the file holds",
            ),
        ];
        for (poison, why) in bad {
            let mut ix = good.clone();
            poison(&mut ix.entries[1]); // `after`, a plain file
            assert_eq!(
                ix.check(),
                Err(format!("entry 1 `{}`: {why}", ix.entries[1].path))
            );
        }
        let mut ix = good.clone();
        ix.entries[3].link = Some("../../x".into()); // the hardlink
        assert!(ix.check().is_err());
        let mut ix = good;
        ix.entries[2].size = 1; // the root directory
        assert!(ix.check().is_err());
    }

    #[test]
    fn r14_capture_budget_bounds_what_is_kept() {
        use crate::extract::{Action, Rule, Select, When};
        let mut tar = Vec::new();
        for i in 0..10 {
            let mut h = tar::Header::new_gnu();
            h.set_path(format!("f{i}.pth")).unwrap();
            h.set_size(1024);
            h.set_mode(0o644);
            h.set_cksum();
            tar.extend_from_slice(h.as_bytes());
            tar.extend_from_slice(&[b'x'; 1024]);
        }
        tar.resize(tar.len() + 1024, 0);
        let opts = ReadOptions {
            name: "many".into(),
            compression: None,
            verify: false,
            extractors: Arc::new(ExtractorSet {
                name: "keep",
                rules: vec![Rule {
                    select: Select::NameSuffix(".pth"),
                    action: Action::Keep { max_size: 1 << 20 },
                    when: When::Always,
                }],
                notable: vec![],
            }),
            budget: CaptureBudget::new(5 * 1024),
        };
        let err = read_layer_stream(&tar[..], &opts).unwrap_err();
        assert!(matches!(err, LayerError::CaptureBudget { .. }), "{err}");
        assert!(err.to_string().contains("`f5.pth`"), "{err}");
    }

    // See: issue 14 (non-sha256 digests were compared as a "mismatch").
    #[test]
    fn r14_layer_digests_of_other_algorithms_are_refused_by_name() {
        let ix = LayerIndex {
            blob_digest: Some(format!("sha256:{}", "0".repeat(64))),
            diff_id: Some(format!("sha256:{}", "0".repeat(64))),
            ..LayerIndex::default()
        };
        let sha512 = format!("sha512:{}", "0".repeat(128));
        for (blob, diff) in [(Some(sha512.as_str()), None), (None, Some("md5:00"))] {
            let err = ix.check_digests("l", blob, diff).unwrap_err();
            assert!(matches!(err, LayerError::UnsupportedDigest { .. }), "{err}");
            assert!(err.to_string().contains("sha256 only"), "{err}");
        }
        assert!(ix
            .check_digests("l", ix.blob_digest.as_deref(), ix.diff_id.as_deref())
            .is_ok());
    }

    #[test]
    fn sniff_magic() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"usr/"), Compression::None);
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
    }
}
