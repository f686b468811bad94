//! What the Python analyzers need from file bytes, declared for the layer
//! reader (see `extract`): the reader knows no Python layout; this is the
//! one place that names it.
//!
//! - Metadata is kept whole (≤ [`MAX_METADATA`] each): every file of a
//!   `*.dist-info`/`*.egg-info` directory, an `*.egg-info` file, `pyvenv.cfg`
//!   and `*.pth` files. The checks parse them from memory, on any layer.
//! - Files in `bin/` and `sbin/` keep their first [`LAUNCHER_HEAD`] bytes:
//!   enough for every launcher template (shebang, the `/bin/sh` exec trick,
//!   the import line).
//! - On layers whose bytes pass once (compressed, stdin), files under a
//!   `*-packages` directory and in `bin/` are hashed inline, so RECORD can be
//!   verified without a second inflate. On a plain seekable layer the hash is
//!   computed later, only for the RECORD rows a check verifies.
//! - Shared objects (a name holding `.so`: `_sqlite3.cpython-311-x86_64-linux-gnu.so`,
//!   `libz.so.1`) and `bin/` files keep their ELF dynamic facts (machine,
//!   `DT_NEEDED`, search paths) on every layer: the native checks resolve
//!   extension modules, the interpreter and the libraries they load the way
//!   `ld.so` does. `/etc/ld.so.cache` is kept whole, for the same reason,
//!   and `/etc/passwd` (the home of the config's `User`, for the `--user` site).
//! - The overlay's history remembers removed metadata directories,
//!   `pyvenv.cfg` and `bin/` entries by name: the checks ask which layer
//!   deleted them.

use crate::extract::{Action, ExtractorSet, Rule, Select, When};

/// Largest metadata file kept whole in memory.
pub const MAX_METADATA: u64 = 4 << 20;
/// Bytes of a `bin/` file kept to classify it as a launcher.
pub const LAUNCHER_HEAD: usize = 8 << 10;

/// The Python audit's extractors.
pub fn extractors() -> ExtractorSet {
    let keep = |select| Rule {
        select,
        action: Action::Keep {
            max_size: MAX_METADATA,
        },
        when: When::Always,
    };
    let head = |select| Rule {
        select,
        action: Action::Head {
            bytes: LAUNCHER_HEAD,
        },
        when: When::Always,
    };
    let hash = |select| Rule {
        select,
        action: Action::Sha256,
        when: When::Streaming,
    };
    let elf = |select| Rule {
        select,
        action: Action::Elf,
        when: When::Always,
    };
    ExtractorSet {
        name: "python",
        rules: vec![
            keep(Select::ParentSuffix(".dist-info")),
            keep(Select::ParentSuffix(".egg-info")),
            keep(Select::NameSuffix(".egg-info")),
            keep(Select::Name("pyvenv.cfg")),
            keep(Select::NameSuffix(".pth")),
            // setuptools' PEP 660 finder, `__editable___NAME_VER_finder.py`
            // next to the `.pth` that imports it: its `MAPPING` says where
            // an editable package's source is.
            keep(Select::NameSuffix("_finder.py")),
            head(Select::ParentName("bin")),
            head(Select::ParentName("sbin")),
            hash(Select::ParentName("bin")),
            hash(Select::ParentName("sbin")),
            hash(Select::DirSuffix("-packages")),
            elf(Select::NameContains(".so")),
            elf(Select::ParentName("bin")),
            keep(Select::Name("ld.so.cache")),
            // The home of the config's `User` (`exec::home_dir`): where
            // `pip install --user` put a non-root user's site.
            keep(Select::Name("passwd")),
        ],
        notable: vec![
            Select::NameSuffix(".dist-info"),
            Select::NameSuffix(".egg-info"),
            Select::Name("pyvenv.cfg"),
            Select::ParentName("bin"),
            Select::ParentName("sbin"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Want;

    #[test]
    fn the_python_policy() {
        let x = extractors();
        let all = Want {
            capture: usize::MAX,
            hash: false,
            elf: false,
        };
        // (path, size, streaming, expected)
        let cases = [
            (
                "opt/venv/lib/python3.11/site-packages/a-1.dist-info/RECORD",
                100,
                false,
                all,
            ),
            ("usr/lib/python3/dist-packages/a.egg-info", 100, false, all),
            ("opt/venv/pyvenv.cfg", 100, false, all),
            (
                "opt/venv/bin/alembic",
                200,
                false,
                Want {
                    capture: LAUNCHER_HEAD,
                    hash: false,
                    elf: true,
                },
            ),
            (
                "opt/venv/bin/alembic",
                200,
                true,
                Want {
                    capture: LAUNCHER_HEAD,
                    hash: true,
                    elf: true,
                },
            ),
            (
                "opt/venv/lib/python3.11/site-packages/a/x.py",
                100,
                false,
                Want::default(),
            ),
            (
                "opt/venv/lib/python3.11/site-packages/a/x.py",
                100,
                true,
                Want {
                    capture: 0,
                    hash: true,
                    elf: false,
                },
            ),
            ("usr/share/doc/x", 100, true, Want::default()),
            // Shared objects: ELF facts on every layer (hashed too in
            // site-packages when streaming).
            (
                "usr/lib/x86_64-linux-gnu/libsqlite3.so.0",
                100,
                false,
                Want {
                    capture: 0,
                    hash: false,
                    elf: true,
                },
            ),
            (
                "opt/venv/lib/python3.11/site-packages/m/_x.cpython-311-x86_64-linux-gnu.so",
                100,
                true,
                Want {
                    capture: 0,
                    hash: true,
                    elf: true,
                },
            ),
            // Kept whole (its name holds `.so` too: the parse finds no ELF).
            (
                "etc/ld.so.cache",
                100,
                false,
                Want {
                    capture: usize::MAX,
                    hash: false,
                    elf: true,
                },
            ),
            // Too large to keep whole: hashed while streaming, not kept.
            (
                "opt/venv/lib/python3.11/site-packages/a-1.dist-info/RECORD",
                MAX_METADATA + 1,
                true,
                Want {
                    capture: 0,
                    hash: true,
                    elf: false,
                },
            ),
        ];
        for (path, size, streaming, want) in cases {
            assert_eq!(x.want(path, size, streaming), want, "{path}");
        }
        assert!(x.notable("/opt/venv/lib/python3.11/site-packages/a-1.dist-info"));
        assert!(x.notable("/opt/venv/bin/flake8"));
        assert!(!x.notable("/opt/venv/lib/python3.11/site-packages/a/x.py"));
    }
}
