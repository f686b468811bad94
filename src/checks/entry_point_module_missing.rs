//! `entry-point-module-missing`: the module a launcher imports is not on its
//! environment's import path (site dirs, stdlib, PYTHONPATH) as a package
//! dir, `.py`, sourceless `.pyc` or extension module, nor served by a PEP 660
//! editable finder (`.pth` directories count as import path). The launcher
//! starts, then dies with `ModuleNotFoundError`.

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
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

/// Is `module` served by one of the environment's PEP 660 editable finders?
/// The finder maps a top-level name to a package dir or a module file; the
/// rest of the dotted name must resolve under that dir.
pub(crate) fn editable_importable(
    tree: &MergedTree,
    editable: &[(String, String)],
    module: &str,
) -> bool {
    let parts: Vec<&str> = module.split('.').collect();
    editable.iter().any(|(top, path)| {
        if top != parts[0] {
            return false;
        }
        if parts.len() == 1 {
            return tree.stat(path).is_ok();
        }
        tree.stat(path)
            .is_ok_and(|r| tree.node(r.id).kind == Kind::Dir)
            && resolve_in(tree, path, &parts[1..])
    })
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

/// The typed diagnostic. JSON fields: `module`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct EntryPointModuleMissing {
    /// The launcher.
    #[serde(skip)]
    pub path: String,
    /// Its command name.
    #[serde(skip)]
    pub name: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// Named by the image's Entrypoint/Cmd.
    #[serde(skip)]
    pub runs_at_start: bool,
    /// What was deleted: the module's top-level package, or (when a layer
    /// deleted only its source file) that file's path.
    #[serde(skip)]
    pub top: String,
    /// The layer that deleted it, when one did.
    #[serde(skip)]
    pub deleted_by: Option<Step>,
    /// The import path searched, in order.
    #[serde(skip)]
    pub searched: Vec<String>,
    /// `.pth` files whose directory is gone (`(pth, dir)`): an editable
    /// install whose source was deleted.
    #[serde(skip)]
    pub pth_missing: Vec<(String, String)>,
    /// The module the launcher imports, e.g. `flake8.main.cli`.
    pub module: String,
    /// A `__pycache__/NAME.cpython-3X.pyc` where the module's source was:
    /// the sources were deleted and only the cache kept, which Python never
    /// imports.
    #[serde(skip)]
    pub pycache_only: Option<String>,
}

/// The `__pycache__` file of `module` in one of `path`'s dirs, if one is
/// there (its source being gone: the module was not importable).
fn pycache_of<'a>(
    tree: &MergedTree,
    path: impl Iterator<Item = &'a str>,
    module: &str,
) -> Option<String> {
    let parts: Vec<&str> = module.split('.').collect();
    let (last, pkgs) = parts.split_last()?;
    path.into_iter().find_map(|dir| {
        let mut base = dir.trim_end_matches('/').to_string();
        for p in pkgs {
            base = format!("{base}/{p}");
        }
        let cache = format!("{base}/__pycache__");
        let prefix = format!("{last}.");
        tree.read_dir(&cache)
            .ok()?
            .into_iter()
            .find(|(n, _)| n.starts_with(&prefix) && n.ends_with(".pyc"))
            .map(|(n, _)| format!("{cache}/{n}"))
    })
}

impl From<EntryPointModuleMissing> for Finding {
    fn from(d: EntryPointModuleMissing) -> Finding {
        let mut f = Finding::new(
            Code::EntryPointModuleMissing,
            &d.path,
            format!("launcher `{}` imports `{}`, which is not importable in this environment: it fails with `ModuleNotFoundError`", d.name, d.module),
        )
        .env(&d.env)
        .fields(&d);
        if d.runs_at_start {
            f = f.note(super::RUNS_AT_START);
        }
        if let Some(step) = &d.deleted_by {
            f = f.note(format!("`{}` was deleted by {}", d.top, step.label()));
        }
        for (pth, dir) in &d.pth_missing {
            f = f.note(format!(
                "`{pth}` puts `{dir}` on the import path, but it is not in the image (an editable install whose source was deleted?)"
            ));
        }
        if let Some(pyc) = &d.pycache_only {
            f = f
                .note(format!(
                    "only `{pyc}` is there: Python never imports a `__pycache__` file whose source is gone"
                ))
                .hint("keep the `.py` files, or compile in place (`python -m compileall -b`) before deleting them");
        }
        f.at(d.deleted_by.as_ref())
            .note(format!("searched: {}", d.searched.join(", ")))
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for l in &facts.launchers {
            let Some(module) = module_of(facts, &l.launcher) else {
                continue;
            };
            if importable(cx.tree, facts.env.import_path(), &module)
                || editable_importable(cx.tree, &facts.env.editable_modules, &module)
            {
                continue;
            }
            let top = module.split('.').next().unwrap_or(&module).to_string();
            // The layer that deleted the package, or the module's own
            // source file (`find -name '*.py' -delete`).
            let source = module.replace('.', "/");
            let (top, deleted_by) = facts
                .env
                .site_dirs
                .iter()
                .find_map(|s| {
                    let src = format!("{s}/{source}.py");
                    cx.removed_by(&format!("{s}/{top}"))
                        .map(|l| (top.clone(), l))
                        .or_else(|| cx.removed_by(&src).map(|l| (src, l)))
                })
                .map_or((top, None), |(what, l)| (what, Some(cx.step(l))));
            out.push(
                EntryPointModuleMissing {
                    path: l.path.clone(),
                    name: l.name.clone(),
                    env: facts.env.root.clone(),
                    runs_at_start: l.runs_at_start,
                    top,
                    deleted_by,
                    searched: facts
                        .env
                        .import_path()
                        .map(String::from)
                        .chain(
                            facts
                                .env
                                .editable_modules
                                .iter()
                                .map(|(m, p)| format!("{p} (editable `{m}`)")),
                        )
                        .collect(),
                    pth_missing: facts.env.pth_missing.clone(),
                    pycache_only: pycache_of(cx.tree, facts.env.import_path(), &module),
                    module,
                }
                .into(),
            );
        }
    }
}
