//! `required-file-deleted`: a layer deleted something a Python environment
//! needs at run time and left the rest behind: `*.dist-info`/`*.egg-info`
//! whose package is still installed (metadata stripped, code kept — the
//! incident), `pyvenv.cfg`, or a Python interpreter. (A deleted launcher is
//! `shim-missing`, which names the same step.) Named
//! with the Dockerfile step (`created_by`) that did it, so the fix is one
//! line. An uninstall (package and metadata both gone) is not reported here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::dist::split_dir_name;

/// At most this many paths are listed in one finding.
const MAX_LISTED: usize = 50;

fn is_interpreter_name(name: &str) -> bool {
    name == "python"
        || name == "python3"
        || name
            .strip_prefix("python3.")
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

fn replaced_by_another_version(cx: &CheckCtx<'_>, dir: &str, name: &str) -> bool {
    let key = crate::python::normalize_name(name);
    cx.tree.read_dir(dir).is_ok_and(|entries| {
        entries.iter().any(|(n, _)| {
            split_dir_name(n).is_some_and(|(other, _)| crate::python::normalize_name(&other) == key)
        })
    })
}

/// The typed diagnostic. JSON fields: `count`, `files`, `kind`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RequiredFileDeleted {
    /// The layer that deleted them.
    #[serde(skip)]
    pub step: Step,
    /// The first deleted path (the finding's path).
    #[serde(skip)]
    pub first: String,
    /// How many paths of this kind the layer deleted.
    pub count: usize,
    /// The first 50 of them.
    pub files: Vec<String>,
    /// `distribution metadata`, `venv configuration` or `Python interpreter`.
    pub kind: &'static str,
}

impl From<RequiredFileDeleted> for Finding {
    fn from(d: RequiredFileDeleted) -> Finding {
        Finding::new(
            Code::RequiredFileDeleted,
            &d.first,
            format!(
                "{} deleted {} {} {} that must stay, e.g. `{}`",
                d.step.label(),
                d.count,
                d.kind,
                if d.count == 1 { "path" } else { "paths" },
                d.first
            ),
        )
        .fields(&d)
        .hint("slim with `find … -name __pycache__ -prune -exec rm -rf {} +`, tests and docs; keep metadata, launchers and the interpreter")
        .at(Some(&d.step))
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    let mut by_layer: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (layer, p) in cx.history.deleted() {
        by_layer.entry(layer).or_default().push(p);
    }
    for (layer, removed) in by_layer {
        // kind → paths
        let mut groups: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        {
            for p in removed {
                if cx.tree.lstat(p).is_ok() {
                    continue; // re-added later
                }
                let (dir, base) = p.rsplit_once('/').unwrap_or(("", p));
                let kind = if base.ends_with(".dist-info") || base.ends_with(".egg-info") {
                    // Metadata stripped while the package stays?
                    let Some((name, _)) = split_dir_name(base) else {
                        continue;
                    };
                    // An upgrade or downgrade (`pip install pkg==other`)
                    // replaces the dist-info with one of another version:
                    // the metadata is still there.
                    if replaced_by_another_version(cx, dir, &name) {
                        continue;
                    }
                    let module = name.replace(['-', '.'], "_");
                    let code_stays = [module.clone(), module.to_lowercase()].iter().any(|m| {
                        cx.tree.exists(&format!("{dir}/{m}"))
                            || cx.tree.exists(&format!("{dir}/{m}.py"))
                    });
                    if !code_stays {
                        continue;
                    }
                    "distribution metadata"
                } else if base == "pyvenv.cfg" {
                    "venv configuration"
                } else if is_interpreter_name(base)
                    && (dir.ends_with("/bin") || dir.ends_with("/sbin"))
                {
                    "Python interpreter"
                } else {
                    continue;
                };
                groups.entry(kind).or_default().push(p.to_string());
            }
        }
        for (kind, paths) in groups {
            out.push(
                RequiredFileDeleted {
                    step: cx.step(layer),
                    first: paths[0].clone(),
                    count: paths.len(),
                    files: paths.into_iter().take(MAX_LISTED).collect(),
                    kind,
                }
                .into(),
            );
        }
    }
}
