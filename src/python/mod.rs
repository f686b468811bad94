//! Pure parsers for the metadata a Python environment leaves on disk.
//!
//! Owns: turning the bytes of one file (`METADATA`, `RECORD`, `entry_points.txt`,
//! `pyvenv.cfg`, `requires.txt`, a `bin/` launcher, …) into typed values, plus the
//! PEP 503 name normalisation and the `pip check` style marker evaluation that every
//! check on top of them needs.
//!
//! Deliberately does not: decide what is a finding. The parsers take bytes or
//! strings and return data or a typed error; on top of them, [`env`](mod@env) and
//! [`dist`] discover environments and distributions through the merged tree,
//! and [`facts`] gathers everything the checks (`src/checks/`) read, once per
//! image.
//!
//! Specs followed, one per module:
//! - [`metadata`]: Core metadata, <https://packaging.python.org/en/latest/specifications/core-metadata/>
//! - [`record`]: Recording installed projects, <https://packaging.python.org/en/latest/specifications/recording-installed-packages/>
//! - [`entry_points`]: Entry points, <https://packaging.python.org/en/latest/specifications/entry-points/>
//! - [`launcher`]: the script templates of pip/distlib, uv, pypa/installer and setuptools
//! - [`pyvenv`]: `pyvenv.cfg` as read by CPython's `site.py`, <https://docs.python.org/3/library/venv.html>
//! - [`pth`]: `.pth` files as read by CPython's `site.py`, and setuptools' PEP 660 editable finders
//! - [`egg_info`]: setuptools' `requires.txt` / `installed-files.txt`, as read by `importlib.metadata`
//! - [`markers`]: Dependency specifiers, <https://packaging.python.org/en/latest/specifications/dependency-specifiers/>

pub mod dist;
pub mod egg_info;
pub mod entry_points;
pub mod env;
pub mod extensions;
pub mod extractors;
pub mod facts;
pub mod launcher;
pub mod markers;
pub mod metadata;
pub mod pth;
pub mod pyvenv;
pub mod record;

/// Normalises a distribution name the way PEP 503 does, so that `Foo.Bar`,
/// `foo_bar` and `FOO--bar` compare equal.
///
/// <https://peps.python.org/pep-0503/#normalized-names>: "the name should be
/// lowercased with all runs of the characters `.`, `-`, or `_` replaced with a
/// single `-` character", i.e. `re.sub(r"[-_.]+", "-", name).lower()`.
///
/// ```
/// use imgaudit::python::normalize_name;
/// assert_eq!(normalize_name("Typing_Extensions"), "typing-extensions");
/// assert_eq!(normalize_name("zope..interface"), "zope-interface");
/// ```
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
                in_run = true;
            }
        } else {
            in_run = false;
            // Python's `str.lower()` is Unicode-aware; `char::to_lowercase` is the
            // same mapping for everything a distribution name can contain.
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_name;

    #[test]
    fn normalize_name_table() {
        let cases = [
            // Already normal.
            ("requests", "requests"),
            // Case folds.
            ("SQLAlchemy", "sqlalchemy"),
            // Underscore, as in a dist-info directory name.
            ("typing_extensions", "typing-extensions"),
            // Dots, as in namespace distributions.
            ("zope.interface", "zope-interface"),
            // A run of mixed separators collapses to one dash.
            ("a-_.-b", "a-b"),
            // Leading and trailing separators are kept (as one dash), like the regex.
            ("_private_", "-private-"),
            // Empty stays empty.
            ("", ""),
            // Non-ASCII is lowercased, not dropped.
            ("ÄPFEL_Saft", "äpfel-saft"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_name(input), expected, "input: {input:?}");
        }
    }
}

/// Real metadata samples under `testdata/python/`, for the parsers' tests.
#[cfg(test)]
pub(crate) mod testdata {
    /// Bytes of `testdata/python/<rel>`.
    pub(crate) fn read(rel: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/python");
        std::fs::read(format!("{path}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}
