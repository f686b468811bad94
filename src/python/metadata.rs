//! `METADATA` (dist-info) and `PKG-INFO` (egg-info) headers.
//!
//! Owns: reading the RFC 822 style header block into the handful of fields the
//! checks need (`Name`, `Version`, `Requires-Dist`, `Requires-Python`,
//! `Provides-Extra`).
//!
//! Deliberately does not: parse the requirement strings (see
//! [`crate::python::markers::parse_requirement`]), validate versions against PEP 440,
//! keep the other fields, or read the body (the long description after the first
//! empty line). It never fails on bad bytes: non-UTF-8 input is decoded lossily, the
//! way a human would read it, because `Name` and `Version` are ASCII in practice.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/core-metadata/>,
//! which says "the metadata is stored in the format defined by the email module in
//! the Python standard library". Tools read it with `email.message_from_string`
//! (compat32 policy), so the header grammar here is the one of CPython's
//! `email.feedparser`
//! (<https://github.com/python/cpython/blob/3.12/Lib/email/feedparser.py>):
//! `headerRE = r'^(From |[\041-\071\073-\176]*:|[\t ])'`. A line that starts with a
//! space or tab continues the previous header (even if it holds only whitespace,
//! as real `License:` fields do); the first line that is empty ends the headers;
//! any other line that is not `Name: value` also ends them. Header names are
//! case-insensitive and, like `Message.__getitem__`, the first occurrence of a
//! single-valued field wins.

use thiserror::Error;

/// The fields of a `METADATA` / `PKG-INFO` header block that imgaudit uses.
///
/// Every field is optional or a list so that [`Metadata::parse_lenient`] can return
/// whatever was there; [`Metadata::parse`] additionally insists on `Name` and
/// `Version`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `Name`, as written (not normalised).
    pub name: Option<String>,
    /// `Version`, as written (not parsed: legacy versions exist in real images).
    pub version: Option<String>,
    /// Every `Requires-Dist`, raw PEP 508 strings with their markers, in file order.
    pub requires_dist: Vec<String>,
    /// `Requires-Python`, raw specifier set such as `>=3.10`.
    pub requires_python: Option<String>,
    /// Every `Provides-Extra`, as written, in file order.
    pub provides_extra: Vec<String>,
}

/// Why a `METADATA` / `PKG-INFO` file is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// The file holds no header line at all (empty, binary junk, or a body only).
    #[error("no `Name: value` header found in the metadata")]
    NoHeaders,
    /// There are headers but no (non-empty) `Name`.
    #[error("the metadata has no `Name` header")]
    MissingName,
    /// There is a `Name` but no (non-empty) `Version`.
    #[error("the metadata of `{name}` has no `Version` header")]
    MissingVersion {
        /// The `Name` that was found.
        name: String,
    },
}

impl Metadata {
    /// Parses a header block and requires `Name` and `Version`, which is what
    /// `importlib.metadata` needs to list the distribution.
    pub fn parse(bytes: &[u8]) -> Result<Self, MetadataError> {
        let (metadata, header_count) = Self::parse_counted(bytes);
        if header_count == 0 {
            return Err(MetadataError::NoHeaders);
        }
        let Some(name) = metadata.name.clone() else {
            return Err(MetadataError::MissingName);
        };
        if metadata.version.is_none() {
            return Err(MetadataError::MissingVersion { name });
        }
        Ok(metadata)
    }

    /// Parses a header block and returns whatever fields are present; never fails.
    pub fn parse_lenient(bytes: &[u8]) -> Self {
        Self::parse_counted(bytes).0
    }

    fn parse_counted(bytes: &[u8]) -> (Self, usize) {
        let text = String::from_utf8_lossy(bytes);
        let mut metadata = Metadata::default();
        let mut count = 0;
        for (name, value) in headers(&text) {
            count += 1;
            let value = value.trim();
            if name.eq_ignore_ascii_case("Name") {
                set_first(&mut metadata.name, value);
            } else if name.eq_ignore_ascii_case("Version") {
                set_first(&mut metadata.version, value);
            } else if name.eq_ignore_ascii_case("Requires-Python") {
                set_first(&mut metadata.requires_python, value);
            } else if name.eq_ignore_ascii_case("Requires-Dist") {
                if !value.is_empty() {
                    metadata.requires_dist.push(value.to_owned());
                }
            } else if name.eq_ignore_ascii_case("Provides-Extra") && !value.is_empty() {
                metadata.provides_extra.push(value.to_owned());
            }
        }
        (metadata, count)
    }
}

/// Keeps the first non-empty value, like `Message.__getitem__` returns the first
/// header of a name. An empty `Name:` counts as absent, because `importlib.metadata`
/// cannot find a distribution by an empty name either.
fn set_first(slot: &mut Option<String>, value: &str) {
    if slot.is_none() && !value.is_empty() {
        *slot = Some(value.to_owned());
    }
}

/// Splits the header block into `(name, unfolded value)` pairs.
///
/// Unfolding removes only the line breaks (RFC 5322 §2.2.3), keeping the leading
/// whitespace of continuation lines, so a value is the text a reader sees.
fn headers(text: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            // The RFC 822 header/body separator.
            break;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation line; one before any header is a defect that the email
            // module drops, and so do we.
            if let Some((_, value)) = out.last_mut() {
                value.push_str(line);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            // Not a header and not the separator: the email parser treats it as the
            // start of the body (`MissingHeaderBodySeparatorDefect`).
            break;
        };
        if !name.bytes().all(|b| matches!(b, b'!'..=b'9' | b';'..=b'~')) {
            break;
        }
        out.push((name, value.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::python::testdata::read;

    /// One expectation per real file: `(file, name, version, #requires_dist,
    /// first requires_dist, requires_python, provides_extra)`.
    #[test]
    fn real_files() {
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            usize,
            Option<&'a str>,
            Option<&'a str>,
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            // alembic via pip 23.2.1: Metadata 2.4, markers, one extra.
            (
                "dist-info/alembic-1.20.1-pip/METADATA",
                "alembic",
                "1.20.1",
                5,
                Some("SQLAlchemy>=2.0"),
                Some(">=3.10"),
                &["tz"],
            ),
            // pip's own wheel METADATA has CRLF line endings everywhere, and its body
            // has indented `:target:` lines after the (CRLF) blank line.
            (
                "dist-info/pip-23.2.1-ensurepip/METADATA",
                "pip",
                "23.2.1",
                0,
                None,
                Some(">=3.7"),
                &[],
            ),
            // Extras with markers; `Provides-Extra` interleaved with `Requires-Dist`.
            (
                "dist-info/requests-2.34.2-pip/METADATA",
                "requests",
                "2.34.2",
                6,
                Some("charset_normalizer<4,>=2"),
                Some(">=3.10"),
                &["security", "socks", "use-chardet-on-py3"],
            ),
            // Metadata 2.4 with a 29-line `License:` continuation that contains
            // whitespace-only lines: they must not end the headers.
            (
                "dist-info/traitlets-5.15.0/METADATA",
                "traitlets",
                "5.15.0",
                10,
                Some("myst-parser; extra == 'docs'"),
                Some(">=3.9"),
                &["docs", "test"],
            ),
            // Debian's dh-python build of chardet.
            (
                "dist-info/chardet-5.1.0-debian/METADATA",
                "chardet",
                "5.1.0",
                0,
                None,
                Some(">=3.7"),
                &[],
            ),
            // Metadata 1.2 PKG-INFO with a 200-line `Description:` continuation.
            (
                "egg-info/toml-0.10.2-debian/PKG-INFO",
                "toml",
                "0.10.2",
                0,
                None,
                Some(">=2.6, !=3.0.*, !=3.1.*, !=3.2.*"),
                &[],
            ),
            // setuptools egg-info: requirements live in requires.txt, not here.
            (
                "egg-info/tiny_cli-1.0-legacy/PKG-INFO",
                "tiny-cli",
                "1.0",
                0,
                None,
                None,
                &["yaml", "dev"],
            ),
            // The same project as a wheel installed by pypa/installer: Metadata 2.4
            // with `Dynamic:` fields and the requirements inline.
            (
                "dist-info/tiny_cli-1.0-installer/METADATA",
                "tiny-cli",
                "1.0",
                5,
                Some("six>=1.10"),
                None,
                &["yaml", "dev"],
            ),
            // Name in mixed case (`SQLAlchemy`), 33 requirements, 26 extras.
            (
                "dist-info/sqlalchemy-2.1.9-pip/METADATA",
                "SQLAlchemy",
                "2.1.9",
                33,
                Some("typing-extensions>=4.6.0"),
                Some(">=3.11"),
                &[
                    "asyncio",
                    "mypy",
                    "mssql",
                    "mssql-pymssql",
                    "mssql-pyodbc",
                    "mssql-python",
                    "mysql",
                    "mysql-connector",
                    "mariadb-connector",
                    "oracle",
                    "oracle-cxoracle",
                    "oracle-oracledb",
                    "postgresql",
                    "postgresql-pg8000",
                    "postgresql-asyncpg",
                    "postgresql-psycopg2binary",
                    "postgresql-psycopg2cffi",
                    "postgresql-psycopg",
                    "postgresql-psycopgbinary",
                    "pymysql",
                    "cymysql",
                    "aiomysql",
                    "aioodbc",
                    "asyncmy",
                    "aiosqlite",
                    "sqlcipher",
                ],
            ),
        ];
        for &(file, name, version, n_req, first_req, requires_python, extras) in cases {
            let m = Metadata::parse(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(m.name.as_deref(), Some(name), "{file}");
            assert_eq!(m.version.as_deref(), Some(version), "{file}");
            assert_eq!(
                m.requires_dist.len(),
                n_req,
                "{file}: {:?}",
                m.requires_dist
            );
            assert_eq!(
                m.requires_dist.first().map(String::as_str),
                first_req,
                "{file}"
            );
            assert_eq!(m.requires_python.as_deref(), requires_python, "{file}");
            assert_eq!(m.provides_extra, extras, "{file}");
        }
    }

    #[test]
    fn headers_table() {
        /// (what, input, name, version, requires_dist)
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            // Minimal valid file.
            (
                "minimal",
                "Name: a\nVersion: 1\n",
                Some("a"),
                Some("1"),
                &[],
            ),
            // Header names are case-insensitive.
            (
                "lowercase keys",
                "name: a\nVERSION: 1\nrequires-dist: b\n",
                Some("a"),
                Some("1"),
                &["b"],
            ),
            // The first `Name` wins, like `Message.__getitem__`.
            (
                "duplicate name",
                "Name: first\nName: second\nVersion: 1\n",
                Some("first"),
                Some("1"),
                &[],
            ),
            // Values are trimmed; no space after the colon is fine.
            (
                "spacing",
                "Name:a  \nVersion:\t2.0 \n",
                Some("a"),
                Some("2.0"),
                &[],
            ),
            // Everything after the first empty line is body, even header-looking lines.
            (
                "body ignored",
                "Name: a\nVersion: 1\n\nRequires-Dist: nope\n",
                Some("a"),
                Some("1"),
                &[],
            ),
            // CRLF blank line ends the headers too.
            (
                "crlf",
                "Name: a\r\nVersion: 1\r\n\r\nRequires-Dist: nope\r\n",
                Some("a"),
                Some("1"),
                &[],
            ),
            // A folded Requires-Dist is unfolded by removing the line break only.
            (
                "folded",
                "Name: a\nVersion: 1\nRequires-Dist: b;\n python_version<'4'\n",
                Some("a"),
                Some("1"),
                &["b; python_version<'4'"],
            ),
            // A line that is not a header ends the headers (no separator needed).
            (
                "garbage line",
                "Name: a\nthis is prose\nVersion: 1\n",
                Some("a"),
                None,
                &[],
            ),
            // A space in a header name is not a header.
            (
                "space in name",
                "Name: a\nRequires Dist: b\nVersion: 1\n",
                Some("a"),
                None,
                &[],
            ),
            // A leading continuation line has nothing to continue and is dropped.
            (
                "leading continuation",
                "  stray\nName: a\nVersion: 1\n",
                Some("a"),
                Some("1"),
                &[],
            ),
            // An empty Requires-Dist is skipped rather than kept as "".
            (
                "empty requirement",
                "Name: a\nVersion: 1\nRequires-Dist:\n",
                Some("a"),
                Some("1"),
                &[],
            ),
            // No trailing newline at all.
            (
                "no final newline",
                "Name: a\nVersion: 1",
                Some("a"),
                Some("1"),
                &[],
            ),
        ];
        for &(what, input, name, version, reqs) in cases {
            let m = Metadata::parse_lenient(input.as_bytes());
            assert_eq!(m.name.as_deref(), name, "{what}");
            assert_eq!(m.version.as_deref(), version, "{what}");
            assert_eq!(m.requires_dist, reqs, "{what}");
        }
    }

    #[test]
    fn errors_table() {
        let cases: &[(&str, &[u8], MetadataError)] = &[
            // Empty file (truncated by a slimming tool).
            ("empty", b"", MetadataError::NoHeaders),
            // Binary junk: NUL bytes and invalid UTF-8, decoded lossily, no header.
            (
                "binary",
                b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe",
                MetadataError::NoHeaders,
            ),
            // Only a body.
            (
                "body only",
                b"\nName: a\nVersion: 1\n",
                MetadataError::NoHeaders,
            ),
            // No Name.
            (
                "no name",
                b"Metadata-Version: 2.1\nVersion: 1.0\n",
                MetadataError::MissingName,
            ),
            // An empty Name counts as missing.
            (
                "empty name",
                b"Name:   \nVersion: 1.0\n",
                MetadataError::MissingName,
            ),
            // Name but no Version.
            (
                "no version",
                b"Name: foo\nSummary: x\n",
                MetadataError::MissingVersion { name: "foo".into() },
            ),
            // Latin-1 bytes in a value are replaced, never a panic; Version missing.
            (
                "latin-1",
                b"Name: caf\xe9\n",
                MetadataError::MissingVersion {
                    name: "caf\u{fffd}".into(),
                },
            ),
        ];
        for (what, input, expected) in cases {
            assert_eq!(Metadata::parse(input).unwrap_err(), *expected, "{what}");
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            MetadataError::MissingVersion { name: "foo".into() }.to_string(),
            "the metadata of `foo` has no `Version` header"
        );
        assert_eq!(
            MetadataError::MissingName.to_string(),
            "the metadata has no `Name` header"
        );
    }
}
