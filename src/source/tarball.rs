//! Tarball stores: a `docker save` or `oci-archive` tar, from a file or
//! from stdin.
//!
//! From a file, the outer tar's headers are walked once with seeks past the
//! data; members become byte ranges of the file, read later with positioned
//! reads (so layers can be read in parallel from one handle).
//!
//! From stdin nothing can be read twice, and `docker save` writes
//! `manifest.json` *last*. So every member is classified as it streams by:
//! small JSON documents are kept in memory, anything that looks like a layer
//! (gzip/zstd magic or a tar header) is indexed right away with the layer
//! reader, and the choice of image and layer order is made at the end.
//! Symlinked and hardlinked members (`<id>/layer.tar -> ../<hex>.tar`) are
//! aliases resolved on lookup.
//!
//! A compressed outer archive (`.tar.gz`, `.tar.xz`, `.tar.zst`, or a gzip
//! OCI archive named `.tar`: podman and skopeo write such files) is
//! recognised by its magic bytes, never by its name, and decompressed in
//! the stream: no temp file, nothing on disk. Its members cannot be read by
//! positioned reads, so it is read the one-pass way stdin is
//! ([`TarStore::from_reader`]), from a path and from stdin alike.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use super::{Blob, BlobStore, SourceError, MAX_JSON};

/// Total bytes of non-layer members (configs, manifests) kept from a stream.
const MAX_KEPT: u64 = 256 << 20;
use crate::layer::{self, FileRange, ReadOptions};

/// Alias hops allowed when resolving linked members.
const MAX_ALIAS_HOPS: usize = 16;

/// How stdin is named in every message: the `-` the user typed, in words.
pub const STDIN: &str = "<stdin>";

/// Members of an outer tarball.
pub struct TarStore {
    input: String,
    members: HashMap<String, Blob>,
    aliases: HashMap<String, String>,
    /// Members that are FIFOs or devices, by kind: named, when a manifest
    /// points at one, for what they are rather than "missing". (Not
    /// directories: a root filesystem tar has thousands, and is refused as
    /// such before any member is looked up.)
    special: HashMap<String, &'static str>,
}

/// What a non-regular tar member is, in words.
fn member_kind(t: tar::EntryType) -> &'static str {
    match t {
        tar::EntryType::Fifo => "a FIFO",
        tar::EntryType::Char => "a character device",
        tar::EntryType::Block => "a block device",
        _ => "not a regular file",
    }
}

fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// The compression of an outer archive, from its magic bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Outer {
    /// `1f 8b` (RFC 1952).
    Gzip,
    /// `fd 37 7a 58 5a 00` (the .xz file format, section 2.1.1.1).
    Xz,
    /// `28 b5 2f fd` (RFC 8878).
    Zstd,
}

impl Outer {
    fn sniff(head: &[u8]) -> Option<Outer> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Outer::Gzip)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Outer::Xz)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Outer::Zstd)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Outer::Gzip => "gzip",
            Outer::Xz => "xz",
            Outer::Zstd => "zstd",
        }
    }

    /// A decompressing reader over `r` (which starts at the magic bytes).
    ///
    /// Every decoder reads concatenated streams (`pigz`, `xz -T`, `cat
    /// a.gz b.gz` all write several), and each decoder error is labelled
    /// with the format, so a corrupt archive is not reported as a bad tar.
    ///
    /// xz: the decoder's memory is bounded. A crafted header can ask for a
    /// 4 GiB dictionary; `xz -9` needs 65 MiB to decode, so 256 MiB
    /// refuses only what no real archive asks for.
    fn decoder<'a, R: Read + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        const XZ_MEMLIMIT: u64 = 256 << 20;
        let inner: Box<dyn Read + 'a> = match self {
            Outer::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Outer::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    XZ_MEMLIMIT,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(io::Error::other)?;
                Box::new(liblzma::read::XzDecoder::new_stream(r, stream))
            }
            Outer::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        };
        Ok(Box::new(Labelled {
            inner,
            what: self.name(),
        }))
    }
}

/// A reader whose errors say which decompressor failed.
struct Labelled<R> {
    inner: R,
    what: &'static str,
}

impl<R: Read> Read for Labelled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot decompress the {} archive: {e}", self.what),
            )
        })
    }
}

impl TarStore {
    /// Index the members of a tarball on disk: a plain one by its headers
    /// ([`TarStore::open`]), a compressed one in one pass through its
    /// decompressor ([`TarStore::from_reader`], reading layers with the
    /// template `layers`).
    pub fn open_path(path: &Path, layers: &ReadOptions) -> Result<TarStore, SourceError> {
        let input = path.display().to_string();
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: input.clone(),
            source,
        })?;
        let mut head = [0u8; 6];
        let n = {
            use std::os::unix::fs::FileExt;
            file.read_at(&mut head, 0).unwrap_or(0)
        };
        if Outer::sniff(&head[..n]).is_some() {
            return Self::from_reader(&input, io::BufReader::with_capacity(1 << 20, file), layers);
        }
        Self::open(path)
    }

    /// Index the members of a tarball on disk.
    pub fn open(path: &Path) -> Result<TarStore, SourceError> {
        let input = path.display().to_string();
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: input.clone(),
            source,
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut head = [0u8; 512];
        let n = {
            use std::os::unix::fs::FileExt;
            file.read_at(&mut head, 0).unwrap_or(0)
        };
        if let Some(why) = not_a_tar(&head[..n]) {
            return Err(SourceError::NotATar { input, why });
        }
        let range = FileRange {
            file: Arc::new(file),
            offset: 0,
            len,
        };
        let tar_err = |source: io::Error| SourceError::OuterTar {
            input: input.clone(),
            source,
        };
        let mut store = TarStore {
            input: input.clone(),
            members: HashMap::new(),
            aliases: HashMap::new(),
            special: HashMap::new(),
        };
        let reader = io::BufReader::with_capacity(16 << 10, range.cursor());
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries_with_seek().map_err(tar_err)? {
            let entry = entry.map_err(tar_err)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(name) = normalize(&raw) else {
                return Err(tar_err(io::Error::other(format!(
                    "member `{raw}` climbs out of the archive"
                ))));
            };
            let size = entry.size();
            let offset = entry.raw_file_position();
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    if offset.checked_add(size).is_none_or(|end| end > len) {
                        return Err(tar_err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("member `{name}` declares {size} bytes but the file ends first (truncated)"),
                        )));
                    }
                    store.members.insert(
                        name,
                        Blob::Range(FileRange {
                            file: range.file.clone(),
                            offset,
                            len: size,
                        }),
                    );
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    store.add_alias(&entry, name);
                }
                t @ (tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block) => {
                    store.special.insert(name, member_kind(t));
                }
                _ => {}
            }
        }
        if store.members.is_empty() {
            return Err(SourceError::NotAnImage(input));
        }
        Ok(store)
    }

    /// Read a tarball from stdin in one pass (see the module docs).
    ///
    /// `layers` is the template for reading each layer as it streams by
    /// (verification, extractors, capture budget); its name is replaced by
    /// the member's.
    pub fn from_stdin(layers: &ReadOptions) -> Result<TarStore, SourceError> {
        let stdin = io::stdin().lock();
        Self::from_reader(STDIN, io::BufReader::with_capacity(1 << 20, stdin), layers)
    }

    /// One-pass read of a tarball from any stream; a gzip, xz or zstd
    /// stream is decompressed on the way (see the module docs).
    pub fn from_reader<R: Read>(
        input: &str,
        mut reader: R,
        layers: &ReadOptions,
    ) -> Result<TarStore, SourceError> {
        let head = read_head(input, &mut reader)?;
        let Some(outer) = Outer::sniff(&head) else {
            return Self::from_plain_reader(input, io::Cursor::new(head).chain(reader), layers);
        };
        let mut plain = outer
            .decoder(io::Cursor::new(head).chain(reader))
            .map_err(|source| SourceError::OuterTar {
                input: input.to_string(),
                source,
            })?;
        let inner = read_head(input, &mut plain)?;
        if Outer::sniff(&inner).is_some() {
            return Err(SourceError::NotATar {
                input: input.to_string(),
                why: "it is compressed twice: decompress the outer compression first",
            });
        }
        Self::from_plain_reader(input, io::Cursor::new(inner).chain(plain), layers)
    }

    /// [`TarStore::from_reader`] of an uncompressed stream.
    fn from_plain_reader<R: Read>(
        input: &str,
        mut reader: R,
        layers: &ReadOptions,
    ) -> Result<TarStore, SourceError> {
        // Sniff the first header so a non-tar stream gets a clear message.
        let head = read_head(input, &mut reader)?;
        if let Some(why) = not_a_tar(&head) {
            return Err(SourceError::NotATar {
                input: input.to_string(),
                why,
            });
        }
        let reader = io::Cursor::new(head).chain(reader);
        let tar_err = |source: io::Error| SourceError::OuterTar {
            input: input.to_string(),
            source,
        };
        let mut store = TarStore {
            input: input.to_string(),
            members: HashMap::new(),
            aliases: HashMap::new(),
            special: HashMap::new(),
        };
        // Small members (JSON) are kept in memory; their total is bounded
        // too, or a stream of many 64 MiB members would grow without limit.
        let mut kept = 0u64;
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(name) = normalize(&raw) else {
                return Err(tar_err(io::Error::other(format!(
                    "member `{raw}` climbs out of the archive"
                ))));
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    store.add_alias(&entry, name);
                    continue;
                }
                t @ (tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block) => {
                    store.special.insert(name, member_kind(t));
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            let mut head = vec![0u8; size.min(512) as usize];
            entry.read_exact(&mut head).map_err(tar_err)?;
            let looks_like_layer = layer::Compression::sniff(&head) != layer::Compression::None
                || (head.len() == 512 && &head[257..262] == b"ustar")
                || (head.len() == 512 && head.iter().all(|b| *b == 0));
            if looks_like_layer {
                let opts = ReadOptions {
                    name: name.clone(),
                    compression: None,
                    ..layers.clone()
                };
                let chained = io::Cursor::new(head).chain(&mut entry);
                let index =
                    layer::read_layer_stream(chained, &opts).map_err(|e| SourceError::Io {
                        input: input.to_string(),
                        name: name.clone(),
                        source: io::Error::other(e.to_string()),
                    })?;
                store.members.insert(name, Blob::Indexed(Arc::new(index)));
            } else if size <= MAX_JSON {
                kept += size;
                if kept > MAX_KEPT {
                    return Err(tar_err(io::Error::other(format!(
                        "member `{name}`: the non-layer members kept in memory exceed {} MiB",
                        MAX_KEPT >> 20
                    ))));
                }
                let mut bytes = head;
                entry.read_to_end(&mut bytes).map_err(tar_err)?;
                store.members.insert(name, Blob::Memory(bytes.into()));
            }
            // Larger non-layer members are skipped: nothing reads them.
        }
        if store.members.is_empty() {
            return Err(SourceError::NotAnImage(input.to_string()));
        }
        Ok(store)
    }

    fn add_alias<R: Read>(&mut self, entry: &tar::Entry<'_, R>, name: String) {
        let Some(target) = entry.link_name_bytes() else {
            return;
        };
        let target = String::from_utf8_lossy(&target).into_owned();
        let joined = if entry.header().entry_type() == tar::EntryType::Symlink {
            // Symlink targets are relative to the member's directory.
            match name.rsplit_once('/') {
                Some((dir, _)) if !target.starts_with('/') => format!("{dir}/{target}"),
                _ => target,
            }
        } else {
            target
        };
        if let Some(t) = normalize(&joined) {
            self.aliases.insert(name, t);
        }
    }
}

/// The first 512 bytes of a stream (fewer if it ends first).
fn read_head<R: Read>(input: &str, reader: &mut R) -> Result<Vec<u8>, SourceError> {
    let mut head = Vec::with_capacity(512);
    reader
        .take(512)
        .read_to_end(&mut head)
        .map_err(|source| SourceError::OuterTar {
            input: input.to_string(),
            source,
        })?;
    Ok(head)
}

/// Why these first bytes cannot start a tarball, if they can't: a clear
/// message instead of the tar parser quoting the file's bytes back.
fn not_a_tar(head: &[u8]) -> Option<&'static str> {
    if head.is_empty() {
        return Some("the input is empty");
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some("it is a zip archive, not a `docker save` or OCI tarball");
    }
    if head.len() < 512 {
        return Some("it is shorter than one tar header");
    }
    if head.iter().all(|b| *b == 0) {
        return None; // an empty tar: reported as "not an image" later
    }
    // POSIX tar header checksum: the sum of the header bytes with the
    // checksum field (148..156) counted as spaces.
    let sum: u32 = head
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    let field = std::str::from_utf8(&head[148..156]).unwrap_or("");
    let digits: String = field.chars().filter(|c| c.is_digit(8)).collect();
    match u32::from_str_radix(&digits, 8) {
        Ok(v) if v == sum => None,
        _ => Some("it is not a tar archive (no valid tar header at the start)"),
    }
}

impl BlobStore for TarStore {
    fn input(&self) -> &str {
        &self.input
    }

    fn get(&self, name: &str) -> Option<Blob> {
        let mut name = normalize(name)?;
        for _ in 0..MAX_ALIAS_HOPS {
            if let Some(b) = self.members.get(&name) {
                return Some(b.clone());
            }
            name = self.aliases.get(&name)?.clone();
        }
        None
    }

    fn refused(&self, name: &str) -> Option<String> {
        let kind = self.special.get(&normalize(name)?)?;
        Some(format!("is not a regular file ({kind})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_compression_by_magic() {
        // (first bytes, compression)
        let cases: [(&[u8], Option<Outer>); 6] = [
            (&[0x1f, 0x8b, 8, 0], Some(Outer::Gzip)),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Some(Outer::Xz)),
            (&[0x28, 0xb5, 0x2f, 0xfd], Some(Outer::Zstd)),
            (&[0xfd, b'7', b'z', b'X', b'Z'], None), // xz magic cut short
            (b"manifest.json\0", None),              // a plain tar header
            (b"", None),                             // empty input
        ];
        for (head, want) in cases {
            assert_eq!(Outer::sniff(head), want, "{head:?}");
        }
    }

    /// A one-member outer tar holding `manifest.json`.
    fn outer_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "manifest.json", &b"[]"[..]).unwrap();
        b.into_inner().unwrap()
    }

    // The same members come out of the plain tar and of its gzip, xz and
    // zstd compressions, read one-pass from a stream.
    #[test]
    fn compressed_streams_read_as_plain() {
        use std::io::Write as _;
        let tar = outer_tar();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&tar).unwrap();
        let inputs = [
            ("plain", tar.clone()),
            ("gzip", gz.finish().unwrap()),
            ("xz", xz.finish().unwrap()),
            ("zstd", zstd::encode_all(&tar[..], 1).unwrap()),
        ];
        let layers = ReadOptions {
            name: String::new(),
            compression: None,
            verify: true,
            extractors: Default::default(),
            budget: Default::default(),
        };
        for (what, bytes) in inputs {
            let store = TarStore::from_reader(what, &bytes[..], &layers).unwrap();
            match store.get("manifest.json") {
                Some(Blob::Memory(b)) => assert_eq!(&b[..], b"[]", "{what}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}
