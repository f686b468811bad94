//! `.pth` files and editable installs: what a site dir adds to the import
//! path beyond its own contents.
//!
//! Owns: parsing one `.pth` file the way CPython's `site.addpackage` reads
//! it, and the `MAPPING` of a setuptools PEP 660 finder module. Both are pure
//! functions of bytes; [`super::env`] applies them to the site dirs it found.
//!
//! What `site.addpackage` does with each line (CPython 3.11 `Lib/site.py`):
//! a line starting with `#` is skipped, a blank one too; a line starting with
//! `import ` or `import\t` is executed; any other line, stripped of trailing
//! whitespace, is a directory joined to the site dir (`makepath(sitedir,
//! line)`) and appended to `sys.path` if it exists. This is how every
//! editable install reaches its source:
//!
//! - setuptools ≥ 64 (PEP 660), "lenient" mode for a `src/` or flat layout
//!   with nothing else importable next to the package: a static
//!   `__editable__.NAME-VERSION.pth` holding the source dir (what `uv sync`
//!   and `pip install -e` write for such a project);
//! - setuptools ≥ 64, "strict" mode or a layout where a static path would
//!   expose too much: `__editable__.NAME-VERSION.pth` holding
//!   `import __editable___NAME_VERSION_finder; ….install()`, and that module's
//!   `MAPPING: dict[str, str] = {'pkg': '/src/pkg'}` (setuptools
//!   `command/editable_wheel.py`, `_finder_template`);
//! - legacy `setup.py develop` / `pip install -e` before PEP 660: a line in
//!   `easy-install.pth` plus `NAME.egg-link`;
//! - hatchling / pdm-backend editables: a static `_NAME.pth` with the path.

/// What one `.pth` file adds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PthFile {
    /// Path lines, as written (relative ones are relative to the site dir).
    pub paths: Vec<String>,
    /// Modules named by `import` lines (`import a, b; a.install()` gives `a`
    /// and `b`): where an editable finder lives.
    pub imports: Vec<String>,
}

/// Parses a `.pth` file as `site.addpackage` reads it.
pub fn parse_pth(bytes: &[u8]) -> PthFile {
    let text = String::from_utf8_lossy(bytes);
    let mut out = PthFile::default();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix("import ")
            .or_else(|| line.strip_prefix("import\t"))
        {
            let names = rest.split(';').next().unwrap_or("");
            for n in names.split(',') {
                let n = n.trim();
                if !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    out.imports.push(n.to_string());
                }
            }
            continue;
        }
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        out.paths.push(line.to_string());
    }
    out
}

/// The top-level names and paths of a setuptools editable finder's
/// `MAPPING: dict[str, str] = {'hello': '/src/hello', …}`; empty when the
/// module is no such finder. Only single- or double-quoted string pairs of
/// that one literal are read, as setuptools writes it with `repr()`.
pub fn parse_finder_mapping(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let Some(at) = text.find("\nMAPPING") else {
        return Vec::new();
    };
    let rest = &text[at..];
    let Some(open) = rest.find('{') else {
        return Vec::new();
    };
    let Some(close) = rest[open..].find('}') else {
        return Vec::new();
    };
    let mut strings = Vec::new();
    let mut body = &rest[open + 1..open + close];
    while let Some(q) = body.find(['\'', '"']) {
        let quote = body.as_bytes()[q] as char;
        let after = &body[q + 1..];
        let Some(end) = after.find(quote) else { break };
        strings.push(after[..end].to_string());
        body = &after[end + 1..];
    }
    strings
        .chunks_exact(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pth_lines_as_site_reads_them() {
        let p = parse_pth(
            b"# comment\n/app/src\n\n../relative  \nimport _virtualenv\nimport a, b; a.install()\nimportx\n",
        );
        assert_eq!(p.paths, ["/app/src", "../relative", "importx"]);
        assert_eq!(p.imports, ["_virtualenv", "a", "b"]);
    }

    #[test]
    fn setuptools_finder_mapping() {
        // As setuptools 65-75 writes it (`_finder_template`).
        let src = b"import sys\nfrom importlib.machinery import ModuleSpec\n\n\
MAPPING: dict[str, str] = {'hello_uv': '/app/src/hello_uv', \"mod\": \"/app/mod.py\"}\n\
NAMESPACES: dict[str, list[str]] = {}\n";
        assert_eq!(
            parse_finder_mapping(src),
            [
                ("hello_uv".to_string(), "/app/src/hello_uv".to_string()),
                ("mod".to_string(), "/app/mod.py".to_string())
            ]
        );
        assert!(parse_finder_mapping(b"import os\n").is_empty());
    }
}
