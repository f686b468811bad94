//! A reader under the tar parser that refuses oversized metadata records.
//!
//! Why: the `tar` crate reads a GNU long name (`L`/`K`) or a PAX header
//! (`x`/`g`) whole into memory before it yields the entry that follows, with
//! no limit. A crafted layer can declare a 6 GiB "name" in a few kilobytes of
//! gzip. This reader follows the tar framing itself as the bytes pass —
//! header, extension blocks of GNU sparse headers, data padded to 512 — and
//! fails the read that completes a metadata header whose payload exceeds
//! [`MAX_RECORD`], before a byte of the payload is buffered.
//!
//! It also follows seeks (the seekable walk skips file data with them): a
//! jump that stays inside the data being skipped keeps it in step; any other
//! jump (which the tar crate never makes) stops the guard rather than misread.

use std::io::{self, Read, Seek, SeekFrom};

/// Largest GNU long name or PAX header payload accepted (far above
/// `PATH_MAX` and any real extended-attribute record).
pub const MAX_RECORD: u64 = 1 << 20;

const BLOCK: u64 = 512;

#[derive(Debug)]
enum State {
    /// Collecting a 512-byte header.
    Header,
    /// Collecting a GNU sparse extension block; then `data` bytes follow.
    SparseExt { data: u64 },
    /// Collecting a PAX payload of `len` bytes (to read its `size`).
    Pax { len: u64, global: bool },
    /// Skipping until this absolute position, then a header.
    Skip { until: u64 },
    /// Out of step (an unexpected jump): no longer checking.
    Lost,
}

/// See the module docs.
pub struct RecordGuard<R> {
    inner: R,
    /// Next stream position the state machine expects.
    seen: u64,
    /// Position of `inner`.
    pos: u64,
    state: State,
    buf: Vec<u8>,
    /// `size` from a PAX header, for the next entry.
    pax_size: Option<u64>,
}

impl<R> RecordGuard<R> {
    /// Guard `inner`, positioned at the start of a tar stream.
    pub fn new(inner: R) -> Self {
        RecordGuard {
            inner,
            seen: 0,
            pos: 0,
            state: State::Header,
            buf: Vec::with_capacity(BLOCK as usize),
            pax_size: None,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.state {
                State::Lost => return Ok(()),
                State::Skip { until } => {
                    let n = (until - self.seen).min(bytes.len() as u64);
                    self.seen += n;
                    bytes = &bytes[n as usize..];
                    if self.seen == until {
                        self.state = State::Header;
                    }
                }
                State::Header | State::SparseExt { .. } | State::Pax { .. } => {
                    let want = match self.state {
                        State::Pax { len, .. } => len as usize,
                        _ => BLOCK as usize,
                    };
                    let n = (want - self.buf.len()).min(bytes.len());
                    self.buf.extend_from_slice(&bytes[..n]);
                    self.seen += n as u64;
                    bytes = &bytes[n..];
                    if self.buf.len() == want {
                        self.complete()?;
                        self.buf.clear();
                    }
                }
            }
        }
        Ok(())
    }

    fn skip(&mut self, len: u64) {
        let padded = len.div_ceil(BLOCK).saturating_mul(BLOCK);
        self.state = match self.seen.checked_add(padded) {
            Some(until) if padded > 0 => State::Skip { until },
            Some(_) => State::Header,
            None => State::Lost,
        };
    }

    fn complete(&mut self) -> io::Result<()> {
        match self.state {
            State::Header => {
                let h = &self.buf;
                let kind = h[156];
                let Some(size) = parse_size(&h[124..136]) else {
                    self.state = State::Lost; // tar reports the bad header
                    return Ok(());
                };
                match kind {
                    b'L' | b'K' | b'x' | b'g' if size > MAX_RECORD => {
                        let what = match kind {
                            b'L' => "GNU long name",
                            b'K' => "GNU long link name",
                            _ => "PAX header",
                        };
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "a {what} of {size} bytes (more than {} KiB): refusing to read it",
                                MAX_RECORD >> 10
                            ),
                        ));
                    }
                    b'L' | b'K' => self.skip(size),
                    b'x' | b'g' if size == 0 => self.state = State::Header,
                    b'x' | b'g' => {
                        self.state = State::Pax {
                            len: size,
                            global: kind == b'g',
                        }
                    }
                    b'S' if h[482] != 0 => self.state = State::SparseExt { data: size },
                    b'S' => self.skip(size),
                    _ => {
                        let size = self.pax_size.take().unwrap_or(size);
                        self.skip(size);
                    }
                }
            }
            State::SparseExt { data } => {
                if self.buf[504] == 0 {
                    self.skip(data);
                }
            }
            State::Pax { len, global } => {
                if !global {
                    self.pax_size = pax_size(&self.buf);
                }
                // The payload's padding.
                self.skip(len.div_ceil(BLOCK) * BLOCK - len);
            }
            State::Skip { .. } | State::Lost => {}
        }
        Ok(())
    }

    /// The stream continues at `to`, past `seen`: in step only when the jump
    /// stays within data being skipped.
    fn jump(&mut self, to: u64) {
        match self.state {
            State::Skip { until } if to <= until => {
                self.seen = to;
                if to == until {
                    self.state = State::Header;
                }
            }
            _ => self.state = State::Lost,
        }
    }
}

/// A header's size field: octal, or GNU base-256 when the top bit is set.
fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = 0;
        for &b in &field[4..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return field[1..4].iter().all(|b| *b == 0).then_some(v);
    }
    field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ' || *b == 0)
        .take_while(|b| (b'0'..=b'7').contains(b))
        .try_fold(0u64, |acc, d| {
            acc.checked_mul(8)?.checked_add((d - b'0') as u64)
        })
}

/// The `size` record of a PAX header (`"%d size=%d\n"`).
fn pax_size(payload: &[u8]) -> Option<u64> {
    tar::PaxExtensions::new(payload)
        .filter_map(|e| e.ok())
        .find(|e| e.key_bytes() == b"size")
        .and_then(|e| std::str::from_utf8(e.value_bytes()).ok()?.parse().ok())
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        let start = self.pos;
        self.pos += n as u64;
        // Bytes before `seen` were checked already (a reader above seeked
        // back over its read-ahead).
        if self.pos > self.seen {
            if start > self.seen {
                self.jump(start);
            }
            let from = (self.seen.max(start) - start) as usize;
            self.feed(&out[from..n])?;
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for RecordGuard<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    fn read_all<R: Read>(r: R) -> io::Result<Vec<String>> {
        let mut a = tar::Archive::new(r);
        let mut names = Vec::new();
        for e in a.entries()? {
            names.push(String::from_utf8_lossy(&e?.path_bytes()).into_owned());
        }
        Ok(names)
    }

    /// One byte per read, so every boundary is crossed mid-read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn ordinary_archives_pass_untouched() {
        // A GNU long name, a PAX path and size, a directory.
        let mut b = tar::Builder::new(Vec::new());
        let long = "d/".repeat(200) + "file";
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        b.append_pax_extensions([("path", &b"pax/name"[..]), ("size", &b"5"[..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "short", &b"hello"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, "dir/", io::empty()).unwrap();
        let bytes = b.into_inner().unwrap();
        let plain = read_all(&bytes[..]).unwrap();
        assert_eq!(
            plain,
            vec![long, "pax/name".to_string(), "dir/".to_string()]
        );
        assert_eq!(read_all(RecordGuard::new(Trickle(&bytes))).unwrap(), plain);
        assert_eq!(read_all(RecordGuard::new(&bytes[..])).unwrap(), plain);
        // With seeks past data, through a small buffer, as the seekable walk.
        let cursor = io::BufReader::with_capacity(1024, RecordGuard::new(io::Cursor::new(&bytes)));
        let mut a = tar::Archive::new(cursor);
        let names: Vec<String> = a
            .entries_with_seek()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect();
        assert_eq!(names, plain);
    }

    #[test]
    fn oversized_records_fail_before_they_are_buffered() {
        for kind in [
            tar::EntryType::GNULongName,
            tar::EntryType::GNULongLink,
            tar::EntryType::XHeader,
            tar::EntryType::XGlobalHeader,
        ] {
            // Declares 6 GiB; only 4 KiB follow.
            let mut bytes = header("././@LongLink", kind, 6 << 30);
            bytes.extend_from_slice(&[b'a'; 4096]);
            let err = read_all(RecordGuard::new(&bytes[..])).unwrap_err();
            assert!(
                err.to_string().contains("refusing to read it"),
                "{kind:?}: {err}"
            );
            let err = read_all(RecordGuard::new(Trickle(&bytes))).unwrap_err();
            assert!(
                err.to_string().contains("refusing to read it"),
                "{kind:?}: {err}"
            );
        }
        // After an ordinary file, too, and on the seekable walk.
        let mut bytes = header("ok", tar::EntryType::Regular, 700);
        bytes.extend_from_slice(&[0; 1024]);
        bytes.extend_from_slice(&header(
            "././@LongLink",
            tar::EntryType::GNULongName,
            2 << 20,
        ));
        bytes.extend_from_slice(&[b'a'; 4096]);
        assert!(read_all(RecordGuard::new(&bytes[..])).is_err());
        let cursor = io::BufReader::with_capacity(1024, RecordGuard::new(io::Cursor::new(&bytes)));
        let mut a = tar::Archive::new(cursor);
        let r: io::Result<Vec<_>> = a.entries_with_seek().unwrap().collect();
        assert!(r.is_err());
    }

    #[test]
    fn sizes_in_both_encodings() {
        let mut f = [0u8; 12];
        f[..11].copy_from_slice(b"00000001750");
        assert_eq!(parse_size(&f), Some(1000));
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 1;
        f[10] = 1;
        assert_eq!(parse_size(&f), Some(257));
    }
}
