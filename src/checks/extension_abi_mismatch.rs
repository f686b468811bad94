//! `extension-abi-mismatch`: an extension module whose file name says it is
//! built for another CPython than its environment's — a
//! `*.cpython-312-x86_64-linux-gnu.so` in a Python 3.11 environment, or an
//! `*.abi3.so` whose wheel tag (`cp312-abi3-…`) asks for a newer Python.
//! CPython only imports files whose suffix is in
//! `importlib.machinery.EXTENSION_SUFFIXES` (`.cpython-311-x86_64-linux-gnu.so`,
//! `.abi3.so`, `.so`), so `import X` fails with `ModuleNotFoundError`; an
//! `abi3` module built against a newer limited API fails with an undefined
//! symbol. Silent when a module of the same name with a suffix the
//! environment does import sits beside it (that one is imported).

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::extensions::{extension_modules, version_tag, ExtModule};
use crate::python::record::resolve_record_path;

/// The typed diagnostic. JSON fields: `module`, `built_for`, `python`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ExtensionAbiMismatch {
    /// The extension file.
    #[serde(skip)]
    pub path: String,
    /// The environment root.
    #[serde(skip)]
    pub env: String,
    /// The dotted module name.
    pub module: String,
    /// What it is built for (`cpython-312`, `abi3 from cp312`).
    pub built_for: String,
    /// The environment's Python version.
    pub python: String,
}

impl From<ExtensionAbiMismatch> for Finding {
    fn from(d: ExtensionAbiMismatch) -> Finding {
        Finding::new(
            Code::ExtensionAbiMismatch,
            &d.path,
            format!(
                "extension module `{}` is built for {} but this environment runs Python {}: `import {}` fails",
                d.module, d.built_for, d.python, d.module
            ),
        )
        .env(&d.env)
        .fields(&d)
        .hint(format!(
            "install the wheel for Python {} (pip picks it when run by that interpreter; `--python-version` and `--target` bypass the check)",
            d.python
        ))
    }
}

/// The python tag of a wheel's `Tag:` line for an abi3 build: `cp38-abi3-…`
/// → `38`.
fn abi3_min(wheel: &str) -> Option<u32> {
    wheel.lines().find_map(|l| {
        let tag = l.strip_prefix("Tag:")?.trim();
        let mut parts = tag.split('-');
        let py = parts.next()?;
        (parts.next()? == "abi3")
            .then(|| py.strip_prefix("cp")?.parse().ok())
            .flatten()
    })
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let env = &facts.env;
        let Some(version) = env.version.as_deref() else {
            continue;
        };
        let want = version_tag(version);
        let Ok(want_n) = want.parse::<u32>() else {
            continue;
        };
        let mods = extension_modules(cx.tree, env);
        let importable = |m: &ExtModule| match (&m.name.cpython, m.name.abi3) {
            (Some(t), _) => *t == want,
            (None, _) => true,
        };
        for m in &mods {
            let built_for = if let Some(t) = &m.name.cpython {
                if *t == want {
                    continue;
                }
                format!("CPython {}.{}", &t[..1], &t[1..])
            } else if m.name.abi3 {
                // The wheel's tag names the oldest Python of the stable ABI.
                let Some(min) = facts.dists.iter().find_map(|d| {
                    let rec = d.record.as_ref()?;
                    rec.entries
                        .iter()
                        .any(|e| {
                            resolve_record_path(&d.site_dir, &e.path).as_deref() == Some(&m.path)
                        })
                        .then(|| {
                            let w = cx
                                .tree
                                .read_path(&format!("{}/WHEEL", d.dir), Some(1 << 16))
                                .ok()?;
                            abi3_min(&String::from_utf8_lossy(&w))
                        })
                        .flatten()
                }) else {
                    continue;
                };
                if min <= want_n {
                    continue;
                }
                format!(
                    "the stable ABI of CPython {}.{} and later",
                    min / 100,
                    min % 100
                )
            } else {
                continue;
            };
            // A sibling the environment imports shadows it.
            let dir = m.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            if mods.iter().any(|o| {
                o.path != m.path
                    && o.name.module == m.name.module
                    && o.path.rsplit_once('/').map(|(d, _)| d) == Some(dir)
                    && importable(o)
            }) {
                continue;
            }
            out.push(
                ExtensionAbiMismatch {
                    path: m.path.clone(),
                    env: env.root.clone(),
                    module: m.dotted.clone(),
                    built_for,
                    python: version.to_string(),
                }
                .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn abi3_tags() {
        assert_eq!(
            super::abi3_min("Wheel-Version: 1.0\nTag: cp38-abi3-manylinux_2_17_x86_64\n"),
            Some(38)
        );
        assert_eq!(
            super::abi3_min("Tag: cp311-cp311-manylinux_2_17_x86_64\n"),
            None
        );
        assert_eq!(super::abi3_min("Tag: py3-none-any\n"), None);
    }
}
