//! `entry_points.txt`: the console scripts and plugin hooks a distribution declares.
//!
//! Owns: the INI-like sections (`[console_scripts]`, `[gui_scripts]`, plugin groups
//! such as `[celery.commands]`) and the object-reference grammar of each value.
//!
//! Deliberately does not: check that the referenced module exists, or relate entry
//! points to launchers in `bin/`. A malformed line never stops the parse: it is
//! reported with its line number in [`EntryPoints::errors`] and skipped, so one bad
//! plugin entry cannot hide the distribution's console scripts.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/entry-points/#file-format>:
//! "Entry points are defined in a file called `entry_points.txt` … This file is in
//! the INI format as read by Python's configparser module … the value is an object
//! reference: `importable.module:object.attr`, optionally followed by extras in
//! square brackets, which are deprecated". The reader mirrors what actually loads
//! the file today, `importlib.metadata.Sectioned` and `EntryPoint.pattern`
//! (<https://github.com/python/cpython/blob/3.12/Lib/importlib/metadata/__init__.py>):
//! lines are stripped, blank lines and `#` comments skipped, a line that starts with
//! `[` and ends with `]` opens a group, and `name = value` splits at the first `=`.
//! `;` comments are skipped too (configparser allows them); note that
//! `importlib.metadata` does *not* and fails on the whole file.

use std::collections::BTreeMap;

use thiserror::Error;

/// The group pip and every installer turn into `bin/` launchers.
pub const CONSOLE_SCRIPTS: &str = "console_scripts";
/// The group for GUI launchers (`pythonw` on Windows, the same script on Linux).
pub const GUI_SCRIPTS: &str = "gui_scripts";

/// A parsed `entry_points.txt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPoints {
    /// Entry points by group name, each group in file order. A group that appears
    /// twice is merged; duplicate names are kept (the first one is what
    /// `importlib.metadata` returns).
    pub groups: BTreeMap<String, Vec<EntryPoint>>,
    /// Lines that could not be read, in file order: the first
    /// [`MAX_LINE_ERRORS`] ([`EntryPoints::error_count`] counts them all).
    pub errors: Vec<EntryPointLineError>,
    /// How many lines could not be read, in all.
    pub error_count: usize,
}

/// Line errors kept in [`EntryPoints::errors`]; the rest are only counted
/// (millions of bad lines would otherwise cost gigabytes, issue 14).
pub const MAX_LINE_ERRORS: usize = 100;

/// One `name = module:attr [extras]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    /// The name: the launcher's file name for `console_scripts`.
    pub name: String,
    /// The importable module, such as `alembic.config`.
    pub module: String,
    /// The object path inside the module, such as `main` or `App.run`; `None` when
    /// the entry point names a module only.
    pub attr: Option<String>,
    /// Deprecated extras in square brackets, trimmed.
    pub extras: Vec<String>,
}

/// A line of `entry_points.txt` that was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("entry_points.txt line {line}: {kind}")]
pub struct EntryPointLineError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub kind: EntryPointErrorKind,
}

/// What is wrong with a line of `entry_points.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryPointErrorKind {
    /// Not a section header and no `=`.
    #[error("`{}` is neither a `[group]` header nor `name = value`", crate::escape::clip(.text, crate::escape::MAX_VALUE))]
    MissingEquals {
        /// The stripped line.
        text: String,
    },
    /// `[]`.
    #[error("empty group name")]
    EmptyGroup,
    /// An entry before any `[group]`; `importlib.metadata` ignores it.
    #[error("entry `{}` is outside any `[group]` section", crate::escape::clip(.name, crate::escape::MAX_VALUE))]
    OutsideGroup {
        /// The entry's name.
        name: String,
    },
    /// `= value` with nothing before the `=`.
    #[error("entry with an empty name")]
    EmptyName,
    /// The value is not `module[:attr] [extras]`.
    #[error("`{}` is not an object reference `module:attr [extras]`", crate::escape::clip(.value, crate::escape::MAX_VALUE))]
    BadObjectReference {
        /// The value as written.
        value: String,
    },
}

impl EntryPoints {
    /// Parses an `entry_points.txt` file. Never fails: see [`EntryPoints::errors`].
    pub fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let mut out = EntryPoints::default();
        let mut group: Option<String> = None;
        // `str::lines` splits on `\n` and strips a trailing `\r`, like `splitlines`
        // for every file an installer writes.
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let text = raw.trim();
            if text.is_empty() || text.starts_with('#') || text.starts_with(';') {
                continue;
            }
            let mut push_err = |kind| {
                out.error_count += 1;
                if out.errors.len() < MAX_LINE_ERRORS {
                    out.errors.push(EntryPointLineError { line, kind });
                }
            };
            if text.starts_with('[') && text.ends_with(']') {
                // `value.strip('[]')`: strips every leading `[` and trailing `]`.
                let name = text.trim_start_matches('[').trim_end_matches(']');
                if name.is_empty() {
                    push_err(EntryPointErrorKind::EmptyGroup);
                    group = None;
                } else {
                    group = Some(name.to_owned());
                    out.groups.entry(name.to_owned()).or_default();
                }
                continue;
            }
            let Some((name, value)) = text.split_once('=') else {
                push_err(EntryPointErrorKind::MissingEquals {
                    text: text.to_owned(),
                });
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                push_err(EntryPointErrorKind::EmptyName);
                continue;
            }
            let Some(group) = &group else {
                push_err(EntryPointErrorKind::OutsideGroup {
                    name: name.to_owned(),
                });
                continue;
            };
            match parse_object_reference(value) {
                Some((module, attr, extras)) => {
                    out.groups
                        .entry(group.clone())
                        .or_default()
                        .push(EntryPoint {
                            name: name.to_owned(),
                            module,
                            attr,
                            extras,
                        });
                }
                None => push_err(EntryPointErrorKind::BadObjectReference {
                    value: value.to_owned(),
                }),
            }
        }
        out
    }

    /// The entry points of one group, empty if the group is absent.
    pub fn group(&self, name: &str) -> &[EntryPoint] {
        self.groups.get(name).map_or(&[], Vec::as_slice)
    }

    /// The `[console_scripts]` group.
    pub fn console_scripts(&self) -> &[EntryPoint] {
        self.group(CONSOLE_SCRIPTS)
    }

    /// The `[gui_scripts]` group.
    pub fn gui_scripts(&self) -> &[EntryPoint] {
        self.group(GUI_SCRIPTS)
    }

    /// The first `console_scripts` or `gui_scripts` entry point called `name`, with
    /// its group; what a launcher of that file name was generated from.
    pub fn script(&self, name: &str) -> Option<(&'static str, &EntryPoint)> {
        [CONSOLE_SCRIPTS, GUI_SCRIPTS]
            .into_iter()
            .find_map(|group| {
                self.group(group)
                    .iter()
                    .find(|ep| ep.name == name)
                    .map(|ep| (group, ep))
            })
    }
}

/// Splits `module.sub : obj.attr [extra1, extra2]` per the `EntryPoint.pattern`
/// regex `(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$`.
fn parse_object_reference(value: &str) -> Option<(String, Option<String>, Vec<String>)> {
    let (reference, extras) = match value.split_once('[') {
        Some((reference, rest)) => {
            let inner = rest.trim_end().strip_suffix(']')?;
            let extras = inner
                .split(',')
                .map(str::trim)
                .filter(|extra| !extra.is_empty())
                .map(str::to_owned)
                .collect();
            (reference, extras)
        }
        None => (value, Vec::new()),
    };
    let (module, attr) = match reference.split_once(':') {
        Some((module, attr)) => (module.trim(), Some(attr.trim())),
        None => (reference.trim(), None),
    };
    if !is_dotted(module) {
        return None;
    }
    match attr {
        Some(attr) if !is_dotted(attr) => None,
        attr => Some((module.to_owned(), attr.map(str::to_owned), extras)),
    }
}

/// `[\w.]+`: Python's `\w` is Unicode letters, digits and underscore.
fn is_dotted(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::python::testdata::read;

    fn ep(name: &str, module: &str, attr: Option<&str>, extras: &[&str]) -> EntryPoint {
        EntryPoint {
            name: name.into(),
            module: module.into(),
            attr: attr.map(Into::into),
            extras: extras.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn real_files() {
        // alembic via pip: one console script.
        let eps = EntryPoints::parse(&read("dist-info/alembic-1.20.1-pip/entry_points.txt"));
        assert_eq!(eps.errors, []);
        assert_eq!(
            eps.console_scripts(),
            [ep("alembic", "alembic.config", Some("main"), &[])]
        );
        assert_eq!(eps.gui_scripts(), []);

        // pip 23.2.1 as seeded by `ensurepip`: `pip3.11` is baked into the wheel
        // (pip names its own launchers after the target interpreter anyway).
        let eps = EntryPoints::parse(&read("dist-info/pip-23.2.1-ensurepip/entry_points.txt"));
        assert_eq!(eps.errors, []);
        let names: Vec<_> = eps
            .console_scripts()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["pip", "pip3", "pip3.11"]);

        // Debian's chardet.
        let eps = EntryPoints::parse(&read("dist-info/chardet-5.1.0-debian/entry_points.txt"));
        assert_eq!(
            eps.script("chardetect"),
            Some((
                "console_scripts",
                &ep("chardetect", "chardet.cli.chardetect", Some("main"), &[])
            ))
        );

        // Debian's wheel egg-info: a console script plus a plugin group.
        let eps = EntryPoints::parse(&read("egg-info/wheel-0.38.4-debian/entry_points.txt"));
        assert_eq!(eps.errors, []);
        assert_eq!(
            eps.groups.keys().collect::<Vec<_>>(),
            ["console_scripts", "distutils.commands"]
        );
        assert_eq!(
            eps.group("distutils.commands"),
            [ep(
                "bdist_wheel",
                "wheel.bdist_wheel",
                Some("bdist_wheel"),
                &[]
            )]
        );

        // setuptools-written egg-info with a dotted attr and a deprecated extra.
        let eps = EntryPoints::parse(&read("egg-info/tiny_cli-1.0-legacy/entry_points.txt"));
        assert_eq!(eps.errors, []);
        assert_eq!(
            eps.script("tiny-obj").map(|(_, e)| e),
            Some(&ep("tiny-obj", "tinycli.main", Some("App.run"), &[]))
        );
        assert_eq!(
            eps.script("tiny-gui"),
            Some((
                "gui_scripts",
                &ep("tiny-gui", "tinycli.main", Some("gui"), &["yaml"])
            ))
        );
    }

    #[test]
    fn values_table() {
        let cases: &[(&str, &str, Option<EntryPoint>)] = &[
            // The canonical form.
            (
                "plain",
                "a = m.sub:f",
                Some(ep("a", "m.sub", Some("f"), &[])),
            ),
            // Whitespace around `:` and missing around `=`.
            (
                "spaces",
                "a=m.sub : f.g",
                Some(ep("a", "m.sub", Some("f.g"), &[])),
            ),
            // Module only (plugin groups use this).
            (
                "module only",
                "a = m.sub",
                Some(ep("a", "m.sub", None, &[])),
            ),
            // Extras, with odd spacing and a trailing comma.
            (
                "extras",
                "a = m:f [ x , y, ]",
                Some(ep("a", "m", Some("f"), &["x", "y"])),
            ),
            // Extras straight after the attr.
            (
                "extras tight",
                "a = m:f[x]",
                Some(ep("a", "m", Some("f"), &["x"])),
            ),
            // A name may hold anything but `=`, including spaces and dots.
            (
                "odd name",
                "pip3.11 = pip._internal.cli.main:main",
                Some(ep("pip3.11", "pip._internal.cli.main", Some("main"), &[])),
            ),
            // Unicode identifiers are `\w`.
            (
                "unicode",
                "é = módulo:función",
                Some(ep("é", "módulo", Some("función"), &[])),
            ),
            // Only the first `=` splits.
            ("equals in value", "a = m:f=g", None),
            // Empty attr after the colon.
            ("empty attr", "a = m:", None),
            // Empty module.
            ("empty module", "a = :f", None),
            // Empty value.
            ("empty value", "a =", None),
            // Path-like value.
            ("slash", "a = m/sub:f", None),
            // Unclosed extras.
            ("unclosed extras", "a = m:f [x", None),
            // Junk after the extras.
            ("after extras", "a = m:f [x] y", None),
        ];
        for (what, line, expected) in cases {
            let eps = EntryPoints::parse(format!("[g]\n{line}\n").as_bytes());
            match expected {
                Some(expected) => {
                    assert_eq!(eps.errors, [], "{what}");
                    assert_eq!(eps.group("g"), std::slice::from_ref(expected), "{what}");
                }
                None => {
                    assert_eq!(eps.group("g"), [], "{what}");
                    assert_eq!(eps.errors.len(), 1, "{what}");
                    assert!(
                        matches!(
                            eps.errors[0].kind,
                            EntryPointErrorKind::BadObjectReference { .. }
                        ),
                        "{what}: {:?}",
                        eps.errors
                    );
                }
            }
        }
    }

    #[test]
    fn structure_and_errors() {
        let input = concat!(
            "# leading comment\n",           // 1: comment
            "orphan = m:f\n",                // 2: outside any group
            "\n",                            // 3: blank
            "  [console_scripts]  \r\n",     // 4: header with spaces and CRLF
            "; configparser comment\n",      // 5: `;` comment
            "good = m:f\n",                  // 6: ok
            "garbage line without equals\n", // 7: error
            " = m:f\n",                      // 8: empty name
            "[]\n",                          // 9: empty group
            "lost = m:f\n",                  // 10: outside group again
            "[[console_scripts]]\n",         // 11: `strip('[]')` makes this console_scripts
            "good = m:other\n",              // 12: duplicate name, kept
            "[plugins]\n",                   // 13: plugin group
            "p = \u{fffd}\n",                // 14: replacement char is not `\w`
        );
        let eps = EntryPoints::parse(input.as_bytes());
        assert_eq!(
            eps.console_scripts(),
            [
                ep("good", "m", Some("f"), &[]),
                ep("good", "m", Some("other"), &[])
            ]
        );
        assert_eq!(
            eps.script("good").map(|(_, e)| e.attr.as_deref()),
            Some(Some("f"))
        );
        assert_eq!(eps.group("plugins"), []);
        assert!(eps.groups.contains_key("plugins"));
        let lines: Vec<_> = eps.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 7, 8, 9, 10, 14]);
        assert_eq!(
            eps.errors[1].to_string(),
            "entry_points.txt line 7: `garbage line without equals` is neither a `[group]` header nor `name = value`"
        );
    }

    #[test]
    fn junk_never_panics() {
        let cases: &[(&str, &[u8])] = &[
            // Empty.
            ("empty", b""),
            // Binary.
            ("elf", b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe[\x00]=\n"),
            // A lone bracket.
            ("bracket", b"[\n]\n[\n"),
            // Only `=`.
            ("equals", b"[g]\n=\n==\n"),
            // Multi-byte characters next to the split points.
            ("utf-8 edges", "[g]\né=é:é[é\n".as_bytes()),
        ];
        for (what, input) in cases {
            let eps = EntryPoints::parse(input);
            assert!(eps.console_scripts().is_empty(), "{what}");
        }
    }

    // See: issue 14
    // Proves: an entry_points.txt of many bad lines keeps the first
    // MAX_LINE_ERRORS errors and counts them all.
    #[test]
    fn r14_line_errors_are_capped_and_counted() {
        let eps = EntryPoints::parse(format!("[g]\n{}", "no equals\n".repeat(250)).as_bytes());
        assert_eq!(eps.error_count, 250);
        assert_eq!(eps.errors.len(), MAX_LINE_ERRORS);
        assert_eq!(eps.errors[0].line, 2);
    }
}
