//! setuptools `*.egg-info` files that have no dist-info equivalent in the same shape:
//! `requires.txt` and `installed-files.txt`.
//!
//! Owns: turning `requires.txt` sections into plain PEP 508 requirement strings, the
//! same strings `importlib.metadata.requires()` returns for an egg-info
//! distribution, and listing `installed-files.txt`.
//!
//! Deliberately does not: parse the requirements (see
//! [`crate::python::markers::parse_requirement`]), read `PKG-INFO` (see
//! [`crate::python::metadata`]) or `entry_points.txt` (see
//! [`crate::python::entry_points`]), or resolve paths.
//!
//! Spec: there is none beyond setuptools' behaviour; this mirrors CPython's
//! `importlib.metadata.Distribution._convert_egg_info_reqs_to_simple_reqs` and
//! `Sectioned.read` (<https://github.com/python/cpython/blob/3.12/Lib/importlib/metadata/__init__.py>):
//! lines are stripped, blank lines and `#` comments skipped, `[section]` lines
//! start a section, and a section `extra:marker` turns each requirement `req` into
//! `req; (marker) and extra == "extra"` (`[extra]` → `; extra == "extra"`,
//! `[:marker]` → `; marker`).

/// Converts `requires.txt` into PEP 508 requirement strings, markers attached, in
/// file order. Never fails: unparseable requirement lines are passed through for
/// the requirement parser to reject.
///
/// One deliberate difference from `importlib.metadata`: a line that already carries
/// its own `; marker` inside a section gets `; (own) and (section)` instead of a
/// second `;` that no parser accepts. setuptools never writes such lines, but
/// hand-edited files do.
pub fn parse_requires_txt(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `re.match(r'\[(.*)\]$', line)`.
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(inner.to_owned());
            continue;
        }
        out.push(with_section_marker(line, section.as_deref().unwrap_or("")));
    }
    out
}

/// `quoted_marker` + `url_req_space` from `importlib.metadata`.
fn with_section_marker(requirement: &str, section: &str) -> String {
    let (extra, markers) = section.split_once(':').unwrap_or((section, ""));
    let (extra, markers) = (extra.trim(), markers.trim());
    let mut conditions: Vec<String> = Vec::new();
    if !markers.is_empty() {
        conditions.push(if extra.is_empty() {
            markers.to_owned()
        } else {
            format!("({markers})")
        });
    }
    if !extra.is_empty() {
        conditions.push(format!("extra == \"{extra}\""));
    }
    if conditions.is_empty() {
        return requirement.to_owned();
    }
    let section_marker = conditions.join(" and ");
    if let Some((req, own)) = requirement.split_once(';') {
        // The URL form `name @ url ; marker` may contain `;` inside the URL only in
        // theory; PEP 508 requires the space before the marker, so split there.
        let own = own.trim();
        if !own.is_empty() {
            return format!("{}; ({own}) and ({section_marker})", req.trim_end());
        }
    }
    // "'@' requires a space after URL" before the `;`.
    let space = if requirement.contains('@') { " " } else { "" };
    format!("{requirement}{space}; {section_marker}")
}

/// Lists `installed-files.txt`, one path per non-empty line, as written.
///
/// Unlike RECORD rows, these paths are relative to the **egg-info directory**
/// (`../tinycli/__init__.py`, `../../../../bin/tiny`), which is how
/// `importlib.metadata` resolves them; join them with
/// [`crate::python::record::resolve_record_path`] using the egg-info directory as
/// the base.
pub fn parse_installed_files(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::python::testdata::read;

    #[test]
    fn real_requires_txt() {
        // Each expectation is what `importlib.metadata.PathDistribution(…).requires`
        // printed for the same directory under CPython 3.11.7.
        let cases: &[(&str, &[&str])] = &[
            // setuptools 65 wrote `[:marker]`, `[extra:marker]` and `[extra]` sections.
            (
                "egg-info/tiny_cli-1.0-legacy/requires.txt",
                &[
                    "six>=1.10",
                    "colorama; platform_system == \"Windows\"",
                    "importlib-metadata; python_version < '3.8'",
                    "pytest; (sys_platform == 'linux') and extra == \"dev\"",
                    "pyyaml>=5; extra == \"yaml\"",
                ],
            ),
            // Debian strips the hard dependencies; an empty `[security]` section stays.
            (
                "egg-info/requests-2.28.1-debian/requires.txt",
                &[
                    "PySocks!=1.5.7,>=1.5.6; extra == \"socks\"",
                    "chardet<6,>=3.0.2; extra == \"use_chardet_on_py3\"",
                ],
            ),
            // A leading blank line then one `[test]` section.
            (
                "egg-info/wheel-0.38.4-debian/requires.txt",
                &["pytest>=3.0.0; extra == \"test\""],
            ),
        ];
        for (file, expected) in cases {
            assert_eq!(parse_requires_txt(&read(file)), *expected, "{file}");
        }
    }

    #[test]
    fn requires_table() {
        let cases: &[(&str, &str, &[&str])] = &[
            // Empty file.
            ("empty", "", &[]),
            // Comments and blank lines are skipped; lines are stripped.
            ("comments", "# c\n\n  six  \n", &["six"]),
            // Marker-only section.
            (
                "marker section",
                "[:sys_platform == 'win32']\npywin32\n",
                &["pywin32; sys_platform == 'win32'"],
            ),
            // A URL requirement gets a space before `;` (PEP 508 needs it).
            (
                "url",
                "[x]\npkg @ https://e.org/p.whl\n",
                &["pkg @ https://e.org/p.whl ; extra == \"x\""],
            ),
            // A requirement with its own marker inside a section: combined, not `;;`.
            (
                "own marker",
                "[x]\na; os_name == 'nt'\n",
                &["a; (os_name == 'nt') and (extra == \"x\")"],
            ),
            // A requirement with its own marker and no section is passed through.
            (
                "own marker no section",
                "a; os_name == 'nt'\n",
                &["a; os_name == 'nt'"],
            ),
            // `[]` resets to the unconditional section.
            ("empty section", "[x]\n[]\na\n", &["a"]),
            // A bracket line that is not a whole section is a requirement (extras).
            ("extras line", "requests[socks]\n", &["requests[socks]"]),
            // CRLF.
            ("crlf", "a\r\n[x]\r\nb\r\n", &["a", "b; extra == \"x\""]),
        ];
        for (what, input, expected) in cases {
            assert_eq!(parse_requires_txt(input.as_bytes()), *expected, "{what}");
        }
        // Binary junk never panics.
        let _ = parse_requires_txt(b"\x7fELF\x00\xff[\xfe:\x00]\n\x00");
    }

    #[test]
    fn installed_files() {
        // pip 22.3.1 `setup.py install --record` of tiny-cli: paths relative to the
        // egg-info directory, launchers four levels up.
        let files =
            parse_installed_files(&read("egg-info/tiny_cli-1.0-legacy/installed-files.txt"));
        assert_eq!(files.len(), 13);
        assert_eq!(files[0], "../../../../bin/tiny");
        assert!(files.contains(&"../tinycli/__pycache__/main.cpython-311.pyc".to_owned()));
        assert!(files.contains(&"PKG-INFO".to_owned()));
        // Empty lines are skipped; CRLF is stripped.
        assert_eq!(parse_installed_files(b"a\r\n\r\nb\n"), ["a", "b"]);
        assert_eq!(parse_installed_files(b""), Vec::<String>::new());
    }
}
