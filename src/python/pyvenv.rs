//! `pyvenv.cfg`: the file that makes a directory a virtual environment.
//!
//! Owns: the `key = value` lines and the few keys that matter for an audit: where
//! the base interpreter lives (`home`), which Python it is (`version` /
//! `version_info`), whether the system site-packages are visible, and how the venv
//! was made (`executable`, `command`). Every key is also kept raw in
//! [`PyvenvCfg::keys`] (`uv`, `virtualenv`, `relocatable`, `base-executable`, …).
//!
//! Deliberately does not: check that `home` exists, or infer a version from
//! directory names; environment discovery does that.
//!
//! Spec: there is no written grammar beyond
//! <https://docs.python.org/3/library/venv.html> and PEP 405, so this follows the
//! reader that matters, CPython's `site.venv()`
//! (<https://github.com/python/cpython/blob/3.12/Lib/site.py>, function `venv`):
//! "if '=' in line: key, _, value = line.partition('='); key = key.strip().lower();
//! value = value.strip()". Lines without `=` are ignored, later keys override
//! earlier ones, and `include-system-site-packages` starts out as `"true"`: a
//! `pyvenv.cfg` without that key *does* see the system site-packages.

use std::collections::BTreeMap;

/// The keys of a `pyvenv.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyvenvCfg {
    /// `home`: the directory of the base interpreter (`/usr/local/bin`).
    pub home: Option<String>,
    /// The Python version, from `version` (`venv`, virtualenv), else from
    /// `version_info` (uv writes `3.11.7`, virtualenv `3.11.7.final.0`, trimmed here
    /// to its numeric prefix `3.11.7`).
    pub version: Option<String>,
    /// `include-system-site-packages`, `true` unless the value is something other
    /// than `true` (case-insensitive), as in `site.py`; `true` when the key is absent.
    pub include_system_site_packages: bool,
    /// `executable`: the base interpreter binary, when the writer records it.
    pub executable: Option<String>,
    /// `command`: the command line that created the venv.
    pub command: Option<String>,
    /// Every key (lowercased, trimmed) with its trimmed value; last one wins.
    pub keys: BTreeMap<String, String>,
}

impl PyvenvCfg {
    /// Parses a `pyvenv.cfg`. Never fails: a file with no `=` lines yields no keys,
    /// which is still a venv to CPython.
    pub fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let mut keys = BTreeMap::new();
        for line in text.lines() {
            if let Some((key, value)) = line.split_once('=') {
                keys.insert(key.trim().to_lowercase(), value.trim().to_owned());
            }
        }
        let get = |key: &str| keys.get(key).filter(|v| !v.is_empty()).cloned();
        let version = get("version")
            .or_else(|| get("version_info"))
            .map(|v| numeric_prefix(&v));
        PyvenvCfg {
            home: get("home"),
            version: version.filter(|v| !v.is_empty()),
            include_system_site_packages: system_site(keys.get("include-system-site-packages")),
            executable: get("executable"),
            command: get("command"),
            keys,
        }
    }

    /// `major.minor` of [`PyvenvCfg::version`], such as `3.11`: the part that names
    /// `lib/python3.11/site-packages`.
    pub fn major_minor(&self) -> Option<String> {
        let version = self.version.as_deref()?;
        let mut parts = version.split('.');
        let major = parts.next().filter(|p| !p.is_empty())?;
        let minor = parts.next().filter(|p| !p.is_empty())?;
        Some(format!("{major}.{minor}"))
    }
}

/// `site.py` starts from `system_site = "true"` and compares
/// `value.lower() == "true"`.
fn system_site(value: Option<&String>) -> bool {
    match value {
        None => true,
        Some(value) => value.eq_ignore_ascii_case("true"),
    }
}

/// The leading `digits(.digits)*` of a version string, at most three components:
/// `3.11.7.final.0` → `3.11.7`, `3.12.0rc1` → `3.12.0`.
fn numeric_prefix(version: &str) -> String {
    let mut out = String::new();
    for (i, part) in version.split('.').take(3).enumerate() {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(&digits);
        if digits.len() != part.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::python::testdata::read;

    #[test]
    fn real_files() {
        // (file, home, version, system site, executable present, command present, extra key)
        let cases = [
            // `python3 -m venv` (CPython 3.11.7).
            (
                "pyvenv/venv.cfg",
                "/root/.pyenv/versions/3.11.7/bin",
                "3.11.7",
                false,
                true,
                true,
                None,
            ),
            // `python3 -m venv --system-site-packages`.
            (
                "pyvenv/venv-system-site.cfg",
                "/root/.pyenv/versions/3.11.7/bin",
                "3.11.7",
                true,
                true,
                true,
                None,
            ),
            // `uv venv`: `version_info` only, no executable or command, `uv = …`.
            (
                "pyvenv/uv.cfg",
                "/root/.pyenv/versions/3.11.7/bin",
                "3.11.7",
                false,
                false,
                false,
                Some(("uv", "0.13.9")),
            ),
            // `uv venv --relocatable`.
            (
                "pyvenv/uv-relocatable.cfg",
                "/root/.pyenv/versions/3.11.7/bin",
                "3.11.7",
                false,
                false,
                false,
                Some(("relocatable", "true")),
            ),
            // virtualenv 21: both `version_info = 3.11.7.final.0` and `version`.
            (
                "pyvenv/virtualenv.cfg",
                "/root/.pyenv/versions/3.11.7/bin",
                "3.11.7",
                true,
                true,
                true,
                Some((
                    "base-executable",
                    "/root/.pyenv/versions/3.11.7/bin/python3.11",
                )),
            ),
        ];
        for (file, home, version, system_site, has_exe, has_cmd, extra) in cases {
            let cfg = PyvenvCfg::parse(&read(file));
            assert_eq!(cfg.home.as_deref(), Some(home), "{file}");
            assert_eq!(cfg.version.as_deref(), Some(version), "{file}");
            assert_eq!(cfg.major_minor().as_deref(), Some("3.11"), "{file}");
            assert_eq!(cfg.include_system_site_packages, system_site, "{file}");
            assert_eq!(cfg.executable.is_some(), has_exe, "{file}");
            assert_eq!(cfg.command.is_some(), has_cmd, "{file}");
            if let Some((key, value)) = extra {
                assert_eq!(cfg.keys.get(key).map(String::as_str), Some(value), "{file}");
            }
        }
    }

    #[test]
    fn lines_table() {
        // (what, input, home, version, include_system_site_packages)
        type Case<'a> = (&'a str, &'a [u8], Option<&'a str>, Option<&'a str>, bool);
        let cases: &[Case] = &[
            // Empty file: still a venv; `site.py` defaults to including system site.
            ("empty", b"", None, None, true),
            // Keys are case-insensitive and spacing is free.
            ("case", b"HOME=/usr/bin\nVersion   =   3.12.1\nInclude-System-Site-Packages = FALSE\n", Some("/usr/bin"), Some("3.12.1"), false),
            // `version` wins over `version_info`.
            ("both versions", b"version_info = 3.9.1.final.0\nversion = 3.11.2\n", None, Some("3.11.2"), true),
            // A pre-release keeps its numeric prefix.
            ("pre-release", b"version_info = 3.13.0rc2\n", None, Some("3.13.0"), true),
            // Later keys override earlier ones, like the loop in `site.py`.
            ("override", b"home = /a\nhome = /b\ninclude-system-site-packages = false\ninclude-system-site-packages = true\n", Some("/b"), None, true),
            // Only the first `=` splits; lines without `=` are ignored.
            ("equals in value", b"just a comment\ncommand = /usr/bin/python3 -m venv --prompt=x /v\n", None, None, true),
            // A value other than `true` disables system site, like `site.py`.
            ("yes is not true", b"include-system-site-packages = yes\n", None, None, false),
            // CRLF, and an empty home counts as absent.
            ("crlf", b"home = \r\nversion = 3.10.4\r\n", None, Some("3.10.4"), true),
            // A version with no digits is no version.
            ("junk version", b"version = unknown\n", None, None, true),
            // Binary junk never panics.
            ("binary", b"\x7fELF\x00\xff=\xfe\n", None, None, true),
        ];
        for &(what, input, home, version, system_site) in cases {
            let cfg = PyvenvCfg::parse(input);
            assert_eq!(cfg.home.as_deref(), home, "{what}");
            assert_eq!(cfg.version.as_deref(), version, "{what}");
            assert_eq!(cfg.include_system_site_packages, system_site, "{what}");
        }
        let cfg = PyvenvCfg::parse(b"command = /usr/bin/python3 -m venv --prompt=x /v\n");
        assert_eq!(
            cfg.command.as_deref(),
            Some("/usr/bin/python3 -m venv --prompt=x /v")
        );
    }

    #[test]
    fn major_minor_table() {
        let cases = [
            // Full version.
            (Some("3.11.7"), Some("3.11")),
            // Two components.
            (Some("3.9"), Some("3.9")),
            // Major only is not enough.
            (Some("3"), None),
            // No version.
            (None, None),
        ];
        for (version, expected) in cases {
            let cfg = PyvenvCfg {
                version: version.map(Into::into),
                ..PyvenvCfg::parse(b"")
            };
            assert_eq!(cfg.major_minor().as_deref(), expected, "{version:?}");
        }
    }
}
