//! `entry-point-module-missing`: the module a launcher imports is not on its
//! environment's import path (site dirs, stdlib, PYTHONPATH) as a package
//! dir, `.py`, sourceless `.pyc` or extension module. The launcher starts,
//! then dies with `ModuleNotFoundError`.

use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::facts::EnvFacts;
use crate::python::launcher::Launcher;
use crate::python::normalize_name;
use crate::tree::{Kind, MergedTree};

/// Modules compiled into the interpreter: importable with no file.
const BUILTIN: &[&str] = &[
    "sys",
    "builtins",
    "_imp",
    "marshal",
    "posix",
    "_io",
    "_thread",
    "_warnings",
    "_weakref",
    "time",
    "errno",
    "itertools",
    "_signal",
    "_sre",
    "_codecs",
    "atexit",
    "gc",
];

/// Is `module` importable from `path`?
pub(crate) fn importable<'a>(
    tree: &MergedTree,
    path: impl Iterator<Item = &'a str>,
    module: &str,
) -> bool {
    let parts: Vec<&str> = module.split('.').collect();
    if parts.len() == 1 && BUILTIN.contains(&parts[0]) {
        return true;
    }
    path.into_iter().any(|dir| resolve_in(tree, dir, &parts))
}

fn resolve_in(tree: &MergedTree, dir: &str, parts: &[&str]) -> bool {
    let mut cur = dir.trim_end_matches('/').to_string();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let pkg = format!("{cur}/{part}");
        if tree
            .stat(&pkg)
            .is_ok_and(|r| tree.node(r.id).kind == Kind::Dir)
        {
            cur = pkg;
            continue;
        }
        if !last {
            return false;
        }
        if [format!("{pkg}.py"), format!("{pkg}.pyc")]
            .iter()
            .any(|p| tree.stat(p).is_ok())
        {
            return true;
        }
        let Ok(entries) = tree.read_dir(&cur) else {
            return false;
        };
        let prefix = format!("{part}.");
        return entries
            .iter()
            .any(|(n, _)| n.starts_with(&prefix) && (n.ends_with(".so") || n.ends_with(".pyd")));
    }
    true
}

fn module_of(facts: &EnvFacts, l: &Launcher) -> Option<String> {
    match l {
        Launcher::Script { module, .. } => Some(module.clone()),
        Launcher::LoadEntryPoint {
            dist, group, name, ..
        } => {
            let key = normalize_name(dist);
            let d = facts.all_dists().find(|d| d.key == key)?;
            d.entry_points
                .group(group)
                .iter()
                .find(|ep| ep.name == *name)
                .map(|ep| ep.module.clone())
        }
        Launcher::NotALauncher(_) => None,
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for l in &facts.launchers {
            let Some(module) = module_of(facts, &l.launcher) else {
                continue;
            };
            if importable(cx.tree, facts.env.import_path(), &module) {
                continue;
            }
            let top = module.split('.').next().unwrap_or(&module);
            let mut f = Finding::new(
                Code::EntryPointModuleMissing,
                &l.path,
                format!("launcher `{}` imports `{module}`, which is not importable in this environment: it fails with `ModuleNotFoundError`", l.name),
            )
            .env(&facts.env.root)
            .field("module", module.as_str());
            if l.runs_at_start {
                f = f.note("this launcher runs at container start (image Entrypoint/Cmd)");
            }
            let removed = facts
                .env
                .site_dirs
                .iter()
                .find_map(|s| cx.removed_by(&format!("{s}/{top}")));
            if let Some(layer) = removed {
                f = f.note(format!("`{top}` was deleted by {}", cx.layer_label(layer)));
                f = cx.at_layer(f, layer);
            }
            out.push(f.note(format!(
                "searched: {}",
                facts.env.import_path().collect::<Vec<_>>().join(", ")
            )));
        }
    }
}
