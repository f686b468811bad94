//! Extension modules: the ELF files a Python environment imports, and what
//! their file names promise (CPython version, stable ABI, platform).
//!
//! Owns the choice of which native objects an environment loads — the
//! interpreter, and every extension module in its site dirs and its stdlib's
//! `lib-dynload` — and the parse of an extension's file name
//! ([`ExtName`]). Deliberately does not resolve libraries (`crate::native`
//! does) or decide findings (the checks do).
//!
//! File names follow `importlib.machinery.EXTENSION_SUFFIXES` on Linux
//! (PEP 3149, PEP 384): `NAME.cpython-311-x86_64-linux-gnu.so` (version and
//! platform), `NAME.abi3.so` (stable ABI, any CPython 3 at least the one the
//! wheel's tag names), `NAME.so` (any).

use crate::python::env::Env;
use crate::tree::{Kind, MergedTree};

/// What an extension module's file name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtName {
    /// The module's last name (`_sqlite3`).
    pub module: String,
    /// The CPython version tag (`311`), for a `cpython-` suffix.
    pub cpython: Option<String>,
    /// The platform part (`x86_64-linux-gnu`).
    pub platform: Option<String>,
    /// A stable-ABI module (`.abi3.so`).
    pub abi3: bool,
}

/// Parse an extension module's file name; `None` when the name is not one
/// Python imports as a module.
pub fn parse_ext_name(file: &str) -> Option<ExtName> {
    let stem = file.strip_suffix(".so")?;
    let (module, tag) = match stem.split_once('.') {
        Some((m, t)) => (m, Some(t)),
        None => (stem, None),
    };
    let ident = !module.is_empty()
        && !module.starts_with(|c: char| c.is_ascii_digit())
        && module.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !ident {
        return None;
    }
    let mut n = ExtName {
        module: module.to_string(),
        cpython: None,
        platform: None,
        abi3: false,
    };
    match tag {
        None => {
            // A bare `NAME.so` is importable, but `libNAME.so` is what a
            // library looks like: not counted as a module.
            if module.starts_with("lib") {
                return None;
            }
        }
        Some("abi3") => n.abi3 = true,
        Some(t) => {
            let rest = t.strip_prefix("cpython-")?;
            let (ver, plat) = rest.split_once('-').unwrap_or((rest, ""));
            let digits: String = ver.chars().take_while(char::is_ascii_digit).collect();
            if digits.len() < 2 {
                return None;
            }
            n.cpython = Some(digits);
            n.platform = (!plat.is_empty()).then(|| plat.to_string());
        }
    }
    Some(n)
}

/// One extension module of an environment.
#[derive(Clone, Debug)]
pub struct ExtModule {
    /// Absolute path (as Python finds it: below the site or stdlib dir).
    pub path: String,
    /// The dotted module name (`zmq.backend.cython._zmq`).
    pub dotted: String,
    /// The import dir it was found in.
    pub import_dir: String,
    /// What its name says.
    pub name: ExtName,
}

/// `CPython` version `3.11` as a tag: `311`.
pub fn version_tag(version: &str) -> String {
    version.split('.').take(2).collect::<String>()
}

/// Every extension module of `env`: in its site dirs (recursively, not
/// below a `*.libs` directory of bundled libraries) and in its stdlib's
/// `lib-dynload`.
pub fn extension_modules(tree: &MergedTree, env: &Env) -> Vec<ExtModule> {
    let mut out = Vec::new();
    let dirs = env.site_dirs.iter().chain(
        env.stdlib_dirs
            .iter()
            .filter(|d| d.ends_with("/lib-dynload")),
    );
    for dir in dirs {
        let Ok(r) = tree.stat(dir) else { continue };
        if !tree.node(r.id).is_dir() {
            continue;
        }
        let base = r.path.trim_end_matches('/').to_string();
        tree.walk(r.id, |path, _, node| {
            if node.kind != Kind::File {
                return;
            }
            let rel = path
                .strip_prefix(base.as_str())
                .unwrap_or(path)
                .trim_start_matches('/');
            let (parents, file) = rel.rsplit_once('/').unwrap_or(("", rel));
            if parents.split('/').any(|c| c.ends_with(".libs")) {
                return;
            }
            let Some(name) = parse_ext_name(file) else {
                return;
            };
            let mut dotted: Vec<&str> = parents.split('/').filter(|c| !c.is_empty()).collect();
            dotted.push(&name.module);
            out.push(ExtModule {
                path: format!("{dir}/{rel}"),
                dotted: dotted.join("."),
                import_dir: dir.clone(),
                name,
            });
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_file_names() {
        // (file, module, cpython, platform, abi3)
        type Parsed<'a> = Option<(&'a str, Option<&'a str>, Option<&'a str>, bool)>;
        let cases: &[(&str, Parsed)] = &[
            (
                "_sqlite3.cpython-311-x86_64-linux-gnu.so",
                Some(("_sqlite3", Some("311"), Some("x86_64-linux-gnu"), false)),
            ),
            // Debug and free-threaded builds carry a flag after the digits.
            (
                "_x.cpython-313t-x86_64-linux-gnu.so",
                Some(("_x", Some("313"), Some("x86_64-linux-gnu"), false)),
            ),
            (
                "_cffi_backend.abi3.so",
                Some(("_cffi_backend", None, None, true)),
            ),
            ("speedups.so", Some(("speedups", None, None, false))),
            // A library, not a module.
            ("libzmq.so", None),
            ("libz.so.1", None),
            ("libzmq-47dc3393.so.5.2.5", None),
            ("not-a-module.so", None),
            ("x.pyd", None),
        ];
        for (file, want) in cases {
            let got = parse_ext_name(file);
            let got = got.as_ref().map(|n| {
                (
                    n.module.as_str(),
                    n.cpython.as_deref(),
                    n.platform.as_deref(),
                    n.abi3,
                )
            });
            assert_eq!(got, *want, "{file}");
        }
        assert_eq!(version_tag("3.11"), "311");
        assert_eq!(version_tag("3.13.1"), "313");
    }
}
