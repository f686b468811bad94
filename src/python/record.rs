//! `RECORD`: the list of files a distribution installed, with their hashes.
//!
//! Owns: the CSV rows (`path,algorithm=digest,size`), decoding the digest, resolving a
//! row's path against the site directory, and recognising `.pyc` rows.
//!
//! Deliberately does not: hash files, look at the tree, or decide whether a RECORD
//! is authoritative (a distribution without `INSTALLER`, such as Debian's dh-python
//! builds, ships an informational RECORD; that is the caller's policy). A bad row
//! never stops the parse: it is reported with its line number in
//! [`Record::errors`] and the remaining rows are kept.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/recording-installed-packages/#the-record-file>:
//! "The RECORD file holds the list of installed files. It is a CSV file containing
//! one record (line) per installed file. The csv module is used to read the file,
//! with the default dialect and the UTF-8 encoding." … "The hash is either an empty
//! string or the name of a hash algorithm from `hashlib.algorithms_guaranteed`,
//! followed by the equals character `=` and the digest of the file's contents,
//! encoded with the urlsafe-base64-nopad encoding". pip writes it with
//! `csv.writer`, whose line terminator is CRLF; uv writes LF. Both are accepted.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use thiserror::Error;

/// The digest encoding of RECORD: urlsafe alphabet, padding optional (the spec says
/// "nopad", a few tools pad anyway), non-canonical trailing bits rejected.
const DIGEST_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed RECORD: the usable rows and the problems found in the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// One entry per row with a usable path, in file order (duplicates kept: Debian's
    /// RECORDs list some paths twice). A row whose hash or size field is bad is still
    /// here, with that field `None`, and the problem is in [`Record::errors`].
    pub entries: Vec<RecordEntry>,
    /// Problems, one per bad field or row, in file order: the first
    /// [`MAX_ROW_ERRORS`] of them ([`Record::error_count`] counts them all).
    pub errors: Vec<RecordRowError>,
    /// How many problems there were in all.
    pub error_count: usize,
}

/// Row errors kept in [`Record::errors`]: a crafted RECORD can hold millions
/// of bad rows, and one error each would cost gigabytes (issue 14); the rest
/// are only counted.
pub const MAX_ROW_ERRORS: usize = 100;

impl Record {
    fn push_error(&mut self, error: RecordRowError) {
        self.error_count += 1;
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(error);
        }
    }
}

/// One RECORD row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The path as written: relative to the site directory (`../../../bin/alembic`
    /// for a launcher) or absolute. Resolve it with [`resolve_record_path`].
    pub path: String,
    /// The hash, absent for RECORD itself, for `.pyc` files, and for bad hash fields.
    pub hash: Option<RecordHash>,
    /// The size in bytes, absent when the field is empty or bad.
    pub size: Option<u64>,
    /// The 1-based line the row starts on, for messages.
    pub line: u64,
}

/// A decoded `algorithm=digest` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHash {
    /// The algorithm name as written, such as `sha256`.
    pub algorithm: String,
    /// The raw digest bytes (32 for sha256).
    pub digest: Vec<u8>,
}

impl RecordHash {
    /// Whether this is a sha256 hash, the only algorithm installers write today.
    pub fn is_sha256(&self) -> bool {
        self.algorithm.eq_ignore_ascii_case("sha256")
    }
}

/// A problem with one RECORD row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("RECORD line {line}: {kind}")]
pub struct RecordRowError {
    /// The 1-based line the row starts on.
    pub line: u64,
    /// What is wrong with it.
    pub kind: RecordRowErrorKind,
}

/// What is wrong with a RECORD row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordRowErrorKind {
    /// The first field is empty; the row is dropped.
    #[error("the path field is empty")]
    EmptyPath,
    /// The path is not UTF-8 (the spec mandates UTF-8); the row is dropped rather
    /// than kept under a lossy name that would never match a file.
    #[error("the path is not valid UTF-8")]
    PathNotUtf8,
    /// More than `path,hash,size`; `importlib.metadata` fails on such a row, so it is
    /// dropped.
    #[error("expected at most 3 fields (`path,hash,size`), found {count}")]
    TooManyFields {
        /// How many fields the row has.
        count: usize,
    },
    /// The hash field has no `=`.
    #[error("hash `{}` is not `<algorithm>=<digest>`", crate::escape::clip(.field, crate::escape::MAX_VALUE))]
    HashWithoutAlgorithm {
        /// The hash field as written.
        field: String,
    },
    /// The digest is not urlsafe base64.
    #[error("the digest in `{}` is not urlsafe base64: {reason}", crate::escape::clip(.field, crate::escape::MAX_VALUE))]
    BadDigest {
        /// The hash field as written.
        field: String,
        /// The decoder's explanation.
        reason: String,
    },
    /// The digest decodes, but to the wrong length for its algorithm.
    #[error("the `{algorithm}` digest is {actual} bytes long, expected {expected}")]
    DigestLength {
        /// The algorithm as written.
        algorithm: String,
        /// The length the algorithm produces.
        expected: usize,
        /// The decoded length.
        actual: usize,
    },
    /// The size field is not a non-negative integer.
    #[error("size `{}` is not a non-negative integer", crate::escape::clip(.field, crate::escape::MAX_VALUE))]
    BadSize {
        /// The size field as written.
        field: String,
    },
    /// The CSV reader gave up; rows after this one are not read.
    #[error("unreadable CSV: {reason}")]
    Csv {
        /// The reader's explanation.
        reason: String,
    },
}

/// Parses a RECORD file. Never fails: see [`Record::errors`].
pub fn parse_record(bytes: &[u8]) -> Record {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = Record::default();
    let mut row = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => {
                // Reading from a slice with `flexible(true)` cannot produce the usual
                // I/O or field-count errors, but a future csv version might add one:
                // report it and stop rather than loop.
                let at = err.position().map_or(bytes.len(), |p| p.byte() as usize);
                let line = lines.line_at(bytes, at);
                let reason = err.to_string();
                record.push_error(RecordRowError {
                    line,
                    kind: RecordRowErrorKind::Csv { reason },
                });
                break;
            }
        }
        let at = row.position().map_or(bytes.len(), |p| p.byte() as usize);
        let line = lines.line_at(bytes, at);
        parse_row(&row, line, &mut record);
    }
    record
}

/// Turns a record's byte offset into a 1-based line number.
///
/// csv's own `Position` of a record is where the reader stood *before* skipping
/// the previous row's terminator and any blank lines, so its line is off by one on
/// CRLF files and after blank lines. Skipping line breaks from its byte offset
/// finds the row's first byte, and the breaks before it (`\n`, `\r\n`, or a lone
/// `\r` as for Python's csv module) give the line, counted incrementally.
#[derive(Default)]
struct LineCounter {
    /// Bytes before this offset are counted.
    upto: usize,
    /// Line breaks in `bytes[..upto]`.
    breaks: u64,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], at: usize) -> u64 {
        let mut start = at.min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.upto {
            let span = &bytes[self.upto..start];
            self.breaks += memchr::memchr_iter(b'\n', span).count() as u64;
            // A `\r` not followed by `\n` is a break of its own; a `\r` at the end of
            // the span is followed by the row's first byte, which is not `\n`.
            self.breaks += memchr::memchr_iter(b'\r', span)
                .filter(|&i| span.get(i + 1) != Some(&b'\n'))
                .count() as u64;
            self.upto = start;
        }
        self.breaks + 1
    }
}

fn parse_row(row: &csv::ByteRecord, line: u64, record: &mut Record) {
    let mut push_err = |kind| record.push_error(RecordRowError { line, kind });
    if row.len() > 3 {
        push_err(RecordRowErrorKind::TooManyFields { count: row.len() });
        return;
    }
    let path = match std::str::from_utf8(row.get(0).unwrap_or_default()) {
        Ok("") => {
            push_err(RecordRowErrorKind::EmptyPath);
            return;
        }
        Ok(path) => path.to_owned(),
        Err(_) => {
            push_err(RecordRowErrorKind::PathNotUtf8);
            return;
        }
    };
    let hash_field = String::from_utf8_lossy(row.get(1).unwrap_or_default());
    let hash = match parse_hash(&hash_field) {
        Ok(hash) => hash,
        Err(kind) => {
            push_err(kind);
            None
        }
    };
    let size_field = String::from_utf8_lossy(row.get(2).unwrap_or_default());
    let size = if size_field.is_empty() {
        None
    } else if let Ok(size) = size_field.parse::<u64>() {
        Some(size)
    } else {
        push_err(RecordRowErrorKind::BadSize {
            field: size_field.into_owned(),
        });
        None
    };
    record.entries.push(RecordEntry {
        path,
        hash,
        size,
        line,
    });
}

fn parse_hash(field: &str) -> Result<Option<RecordHash>, RecordRowErrorKind> {
    if field.is_empty() {
        return Ok(None);
    }
    let Some((algorithm, encoded)) = field.split_once('=') else {
        return Err(RecordRowErrorKind::HashWithoutAlgorithm {
            field: field.to_owned(),
        });
    };
    if algorithm.is_empty() {
        return Err(RecordRowErrorKind::HashWithoutAlgorithm {
            field: field.to_owned(),
        });
    }
    let digest = DIGEST_ENGINE
        .decode(encoded)
        .map_err(|err| RecordRowErrorKind::BadDigest {
            field: field.to_owned(),
            reason: err.to_string(),
        })?;
    if let Some(expected) = digest_len(algorithm) {
        if digest.len() != expected {
            return Err(RecordRowErrorKind::DigestLength {
                algorithm: algorithm.to_owned(),
                expected,
                actual: digest.len(),
            });
        }
    }
    Ok(Some(RecordHash {
        algorithm: algorithm.to_owned(),
        digest,
    }))
}

/// Digest sizes of the fixed-length members of `hashlib.algorithms_guaranteed`.
fn digest_len(algorithm: &str) -> Option<usize> {
    Some(match algorithm.to_ascii_lowercase().as_str() {
        "md5" => 16,
        "sha1" => 20,
        "sha224" | "sha3_224" => 28,
        "sha256" | "sha3_256" | "blake2s" => 32,
        "sha384" | "sha3_384" => 48,
        "sha512" | "sha3_512" | "blake2b" => 64,
        _ => return None,
    })
}

/// Resolves a RECORD path to an absolute path, lexically.
///
/// `site_dir` must be absolute (`/opt/venv/lib/python3.11/site-packages`); a relative
/// `entry_path` is joined onto it, an absolute one is taken as is, and in both `.`,
/// empty components and `..` are folded without looking at the filesystem. Like the
/// kernel, `..` at `/` stays at `/`, so a hostile `../../../../../../etc/passwd`
/// cannot name anything outside the image.
///
/// Folding `..` lexically equals the kernel's walk only if no component it backs out
/// of is a symlink. `importlib.metadata` joins without normalising and lets the
/// kernel resolve, so pass the site directory by its real (symlink-free) path, not
/// through `lib64`.
///
/// Returns `None` when `site_dir` is not absolute, `entry_path` is empty or holds a
/// NUL byte, or the result would be `/` itself (no RECORD row names the root).
///
/// ```
/// use imgaudit::python::record::resolve_record_path;
/// let site = "/opt/venv/lib/python3.11/site-packages";
/// assert_eq!(resolve_record_path(site, "../../../bin/alembic").as_deref(), Some("/opt/venv/bin/alembic"));
/// ```
pub fn resolve_record_path(site_dir: &str, entry_path: &str) -> Option<String> {
    if !site_dir.starts_with('/') || entry_path.is_empty() || entry_path.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    let base = if entry_path.starts_with('/') {
        ""
    } else {
        site_dir
    };
    for component in base.split('/').chain(entry_path.split('/')) {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(site_dir.len() + entry_path.len());
    for part in parts {
        out.push('/');
        out.push_str(part);
    }
    Some(out)
}

/// Whether a RECORD path is compiled bytecode: a `.pyc`/`.pyo` file or anything
/// under a `__pycache__` directory. Slimming tools delete these legitimately, so a
/// missing one is not a defect.
pub fn is_pyc(path: &str) -> bool {
    path.ends_with(".pyc")
        || path.ends_with(".pyo")
        || path.split('/').any(|component| component == "__pycache__")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::python::testdata::read;

    #[test]
    fn real_records() {
        // (file, rows, rows with a hash, first row path, first row size)
        let cases = [
            // pip 23.2.1: CRLF line endings, launcher first, 77 `.pyc` rows without hash.
            (
                "dist-info/alembic-1.20.1-pip/RECORD",
                183,
                105,
                "../../../bin/alembic",
                Some(215),
            ),
            // uv 0.13.9: LF, no `.pyc` rows, a longer (uv template) launcher.
            (
                "dist-info/alembic-1.20.1-uv/RECORD",
                106,
                105,
                "../../../bin/alembic",
                Some(299),
            ),
            // Debian dh-python: build-time RECORD, `../scripts/chardetect` listed twice
            // with two different hashes and sizes.
            (
                "dist-info/chardet-5.1.0-debian/RECORD",
                56,
                55,
                "../scripts/chardetect",
                Some(221),
            ),
            // pypa/installer 1.1.0: LF, no bytecode rows, no INSTALLER row.
            (
                "dist-info/tiny_cli-1.0-installer/RECORD",
                10,
                9,
                "../../../bin/tiny",
                Some(214),
            ),
            // pip 23.2.1, a distribution without launchers: INSTALLER sorts first.
            (
                "dist-info/requests-2.34.2-pip/RECORD",
                47,
                27,
                "requests-2.34.2.dist-info/INSTALLER",
                Some(4),
            ),
        ];
        for (file, rows, hashed, first, first_size) in cases {
            let record = parse_record(&read(file));
            assert_eq!(record.errors, [], "{file}");
            assert_eq!(record.entries.len(), rows, "{file}");
            let with_hash = record.entries.iter().filter(|e| e.hash.is_some()).count();
            assert_eq!(with_hash, hashed, "{file}");
            assert_eq!(record.entries[0].path, first, "{file}");
            assert_eq!(record.entries[0].size, first_size, "{file}");
            assert_eq!(record.entries[0].line, 1, "{file}");
            assert!(record
                .entries
                .iter()
                .all(|e| e.hash.iter().all(RecordHash::is_sha256)));
        }
    }

    #[test]
    fn real_record_digest_matches_file() {
        use sha2::Digest as _;
        // The pip RECORD row for INSTALLER (`pip\n`): decoding the digest must give
        // the sha256 of the bytes, proving the alphabet and padding handling.
        let record = parse_record(&read("dist-info/alembic-1.20.1-pip/RECORD"));
        let row = record
            .entries
            .iter()
            .find(|e| e.path.ends_with("/INSTALLER"))
            .unwrap();
        let installer = read("dist-info/alembic-1.20.1-pip/INSTALLER");
        assert_eq!(row.size, Some(installer.len() as u64));
        assert_eq!(
            row.hash.as_ref().unwrap().digest,
            sha2::Sha256::digest(&installer).to_vec()
        );
        // And the last row's line number counts CRLF lines correctly.
        assert_eq!(record.entries.last().unwrap().line, 183);
    }

    #[test]
    fn rows_table() {
        let empty_sha = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";
        /// (what, input, Some((path, size, has_hash)) if a row is kept, the error)
        type Case<'a> = (
            &'a str,
            String,
            Option<(&'a str, Option<u64>, bool)>,
            Option<RecordRowErrorKind>,
        );
        let cases: Vec<Case> = vec![
            // Plain row.
            (
                "plain",
                format!("a.py,sha256={empty_sha},0\n"),
                Some(("a.py", Some(0), true)),
                None,
            ),
            // Padded base64 is accepted too.
            (
                "padded",
                format!("a.py,sha256={empty_sha}=,0\n"),
                Some(("a.py", Some(0), true)),
                None,
            ),
            // RECORD's own row: empty hash and size.
            (
                "self row",
                "x.dist-info/RECORD,,\n".into(),
                Some(("x.dist-info/RECORD", None, false)),
                None,
            ),
            // Only a path, no commas at all.
            (
                "path only",
                "a.py\n".into(),
                Some(("a.py", None, false)),
                None,
            ),
            // A quoted path containing a comma (csv.writer quotes it).
            (
                "quoted comma",
                "\"a,b.py\",,\n".into(),
                Some(("a,b.py", None, false)),
                None,
            ),
            // Absolute path (data files installed outside the prefix).
            (
                "absolute",
                "/etc/x.conf,,\n".into(),
                Some(("/etc/x.conf", None, false)),
                None,
            ),
            // Missing `=`: the row is kept without a hash and the error reported.
            (
                "no algorithm",
                "a.py,deadbeef,4\n".into(),
                Some(("a.py", Some(4), false)),
                Some(RecordRowErrorKind::HashWithoutAlgorithm {
                    field: "deadbeef".into(),
                }),
            ),
            // Standard-alphabet `+` is not urlsafe base64.
            (
                "bad base64",
                "a.py,sha256=ab+/cd,4\n".into(),
                Some(("a.py", Some(4), false)),
                Some(RecordRowErrorKind::BadDigest {
                    field: "sha256=ab+/cd".into(),
                    reason: "Invalid symbol 43, offset 2.".into(),
                }),
            ),
            // Right alphabet, wrong length for sha256.
            (
                "short digest",
                "a.py,sha256=AAAA,4\n".into(),
                Some(("a.py", Some(4), false)),
                Some(RecordRowErrorKind::DigestLength {
                    algorithm: "sha256".into(),
                    expected: 32,
                    actual: 3,
                }),
            ),
            // Negative size.
            (
                "bad size",
                "a.py,,-1\n".into(),
                Some(("a.py", None, false)),
                Some(RecordRowErrorKind::BadSize { field: "-1".into() }),
            ),
            // Four fields: dropped.
            (
                "too many fields",
                "a.py,,1,extra\n".into(),
                None,
                Some(RecordRowErrorKind::TooManyFields { count: 4 }),
            ),
            // Empty path: dropped.
            (
                "empty path",
                ",sha256=AAAA,1\n".into(),
                None,
                Some(RecordRowErrorKind::EmptyPath),
            ),
        ];
        for (what, input, entry, error) in cases {
            let record = parse_record(input.as_bytes());
            match entry {
                Some((path, size, has_hash)) => {
                    assert_eq!(record.entries.len(), 1, "{what}: {record:?}");
                    assert_eq!(record.entries[0].path, path, "{what}");
                    assert_eq!(record.entries[0].size, size, "{what}");
                    assert_eq!(record.entries[0].hash.is_some(), has_hash, "{what}");
                }
                None => assert_eq!(record.entries, [], "{what}"),
            }
            let errors: Vec<_> = record.errors.into_iter().map(|e| e.kind).collect();
            assert_eq!(errors, error.into_iter().collect::<Vec<_>>(), "{what}");
        }
    }

    #[test]
    fn malformed_files_never_panic() {
        let cases: &[(&str, &[u8], usize, &[u64])] = &[
            // Empty file.
            ("empty", b"", 0, &[]),
            // Blank lines are skipped; line numbers still count them.
            ("blank lines", b"\n\na.py,,\n\nb.py,,1\n", 2, &[]),
            // Binary junk: one row with a non-UTF-8 path.
            ("binary", b"\x7fELF\x02\x01\x01\x00\xff\xfe,,\n", 0, &[1]),
            // An unterminated quote swallows the rest of the file into one field.
            ("open quote", b"\"a.py,,\nb.py,,\n", 1, &[]),
            // A good row between two bad ones: errors carry their own line numbers.
            (
                "mixed",
                b"a,b,c,d\ngood.py,,\nx.py,sha256=!!,1\n",
                2,
                &[1, 3],
            ),
            // CR-only line endings (classic Mac) are line breaks for the csv module too.
            ("cr only", b"a.py,,\rb.py,,\r", 2, &[]),
        ];
        for (what, input, n_entries, error_lines) in cases {
            let record = parse_record(input);
            assert_eq!(record.entries.len(), *n_entries, "{what}: {record:?}");
            let lines: Vec<u64> = record.errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, *error_lines, "{what}: {:?}", record.errors);
        }
        // The line of a row after blank lines is its own line.
        let record = parse_record(b"\n\na.py,,\n\nb.py,,1\n");
        assert_eq!(
            record.entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            [3, 5]
        );
    }

    #[test]
    fn error_message() {
        let err = RecordRowError {
            line: 7,
            kind: RecordRowErrorKind::BadSize { field: "x".into() },
        };
        assert_eq!(
            err.to_string(),
            "RECORD line 7: size `x` is not a non-negative integer"
        );
    }

    #[test]
    fn resolve_table() {
        let site = "/opt/venv/lib/python3.11/site-packages";
        let cases = [
            // A launcher row written by pip.
            (site, "../../../bin/alembic", Some("/opt/venv/bin/alembic")),
            // A plain package file.
            (
                site,
                "alembic/__init__.py",
                Some("/opt/venv/lib/python3.11/site-packages/alembic/__init__.py"),
            ),
            // Absolute rows are taken as is.
            (
                site,
                "/usr/share/man/man1/x.1",
                Some("/usr/share/man/man1/x.1"),
            ),
            // `.` and doubled slashes fold away.
            (
                site,
                "./a//b/./c.py",
                Some("/opt/venv/lib/python3.11/site-packages/a/b/c.py"),
            ),
            // A trailing slash on the site dir is harmless.
            (
                "/usr/lib/python3/dist-packages/",
                "x.py",
                Some("/usr/lib/python3/dist-packages/x.py"),
            ),
            // `..` never climbs above `/`.
            ("/a", "../../../../../../etc/passwd", Some("/etc/passwd")),
            // Debian's build-time `../scripts/` row resolves somewhere harmless.
            (
                "/usr/lib/python3/dist-packages",
                "../scripts/chardetect",
                Some("/usr/lib/python3/scripts/chardetect"),
            ),
            // A row naming the root is meaningless.
            ("/a", "..", None),
            // A relative site dir is a caller bug.
            ("opt/venv", "x.py", None),
            // An empty path names nothing.
            (site, "", None),
            // NUL cannot be in a path.
            (site, "a\0b", None),
        ];
        for (site_dir, entry, expected) in cases {
            assert_eq!(
                resolve_record_path(site_dir, entry).as_deref(),
                expected,
                "{site_dir} + {entry}"
            );
        }
    }

    #[test]
    fn is_pyc_table() {
        let cases = [
            // Bytecode in `__pycache__`.
            ("alembic/__pycache__/config.cpython-311.pyc", true),
            // Python 2 style bytecode next to the source.
            ("six.pyc", true),
            // Optimised bytecode of old Pythons.
            ("six.pyo", true),
            // Anything under `__pycache__` counts.
            ("pkg/__pycache__/x.cpython-311.opt-1.pyc", true),
            // Source.
            ("alembic/config.py", false),
            // A name that merely contains the word.
            ("my__pycache__dir/x.py", false),
            // An extension module is not bytecode.
            (
                "markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so",
                false,
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(is_pyc(path), expected, "{path}");
        }
    }

    // See: issue 14
    // Proves: a RECORD of many bad rows keeps the first MAX_ROW_ERRORS
    // errors and counts them all.
    #[test]
    fn r14_row_errors_are_capped_and_counted() {
        let record = parse_record("a,b,c,d\n".repeat(250).as_bytes());
        assert_eq!(record.error_count, 250);
        assert_eq!(record.errors.len(), MAX_ROW_ERRORS);
        assert_eq!(record.errors[99].line, 100);
    }
}
