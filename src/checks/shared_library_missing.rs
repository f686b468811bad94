//! `shared-library-missing`: an ELF object a Python environment loads — its
//! interpreter (with `libpython`), an extension module in a site dir or in
//! `lib-dynload` — needs a library (`DT_NEEDED`) that the dynamic loader
//! does not find in the image. At run time the interpreter does not start,
//! or the `import` dies with `ImportError: libodbc.so.2: cannot open shared
//! object file: No such file or directory`.
//!
//! Resolution is `ld.so`'s, emulated by `crate::native::loader` on the
//! merged tree. One finding per missing library (the cause), listing the
//! objects that need it, the modules and launchers at risk (the
//! consequences), what was searched, and the layer that deleted it when a
//! layer did.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::elf::ElfFacts;
use crate::finding::{Finding, Step};
use crate::native::loader::{Closure, Loader};
use crate::python::extensions::extension_modules;
use crate::python::facts::EnvFacts;
use crate::python::launcher::Launcher;

/// The typed diagnostic. JSON fields: `library`, `needed_by`, `modules`,
/// `launchers`, `searched`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SharedLibraryMissing {
    /// Where the finding points: the deleted library, or the first object
    /// that needs it.
    #[serde(skip)]
    pub path: String,
    /// The environment, when every module at risk is in one.
    #[serde(skip)]
    pub env: Option<String>,
    /// The layer that deleted the library, and its path, when one did.
    #[serde(skip)]
    pub deleted: Option<(Step, String)>,
    /// The missing name (`libodbc.so.2`).
    pub library: String,
    /// Objects whose `DT_NEEDED` names it.
    pub needed_by: Vec<String>,
    /// Modules whose import fails (`dotted.name (env)`); `python (env)`
    /// when the interpreter itself cannot start.
    pub modules: Vec<String>,
    /// Launchers at risk: they import a package with such a module, or run
    /// on an interpreter that cannot start.
    pub launchers: Vec<String>,
    /// Paths the loader tried for the first object, in order.
    pub searched: Vec<String>,
}

impl From<SharedLibraryMissing> for Finding {
    fn from(d: SharedLibraryMissing) -> Finding {
        let first = d.needed_by.first().cloned().unwrap_or_default();
        let what = match d.modules.iter().find(|m| !m.starts_with("python (")) {
            Some(m) => format!("importing `{}` fails", m.split(" (").next().unwrap_or(m)),
            None => "the interpreter does not start".to_string(),
        };
        let others = d.needed_by.len().saturating_sub(1);
        let msg = if others == 0 {
            format!(
                "`{}` needs `{}`, which the dynamic loader does not find in the image: {what}",
                first, d.library
            )
        } else {
            format!(
                "`{}` (and {others} more objects) need `{}`, which the dynamic loader does not find in the image: {what}",
                first, d.library
            )
        };
        let mut f = Finding::new(Code::SharedLibraryMissing, &d.path, msg).fields(&d);
        if let Some(env) = &d.env {
            f = f.env(env);
        }
        if let Some((step, path)) = &d.deleted {
            f = f.note(format!("{} deleted `{path}`", step.label()));
        }
        if !d.modules.is_empty() {
            f = f.note(format!("modules that fail to load: {}", list(&d.modules)));
        }
        if !d.launchers.is_empty() {
            f = f.note(format!("launchers at risk: {}", list(&d.launchers)));
        }
        if !d.searched.is_empty() {
            f = f.note(format!("searched: {}", list(&d.searched)));
        }
        let hint = if d.searched.iter().any(|s| s.contains(".libs/")) {
            "keep the `*.libs` directories of manylinux wheels: their extensions load bundled libraries from there (RUNPATH `$ORIGIN/…`)"
        } else {
            "keep (or install) the package that ships this library in the final image; `apt-get purge --auto-remove` and multi-stage copies drop runtime libraries"
        };
        f.at(d.deleted.as_ref().map(|(s, _)| s)).hint(hint)
    }
}

fn list(v: &[String]) -> String {
    const MAX: usize = 8;
    let mut s = v
        .iter()
        .take(MAX)
        .map(|x| format!("`{x}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if v.len() > MAX {
        s.push_str(&format!(" and {} more", v.len() - MAX));
    }
    s
}

/// The ELF facts of the file at `path` and its resolved path.
pub(crate) fn elf_at(cx: &CheckCtx<'_>, path: &str) -> Option<(String, Arc<ElfFacts>)> {
    let r = cx.tree.stat(path).ok()?;
    let facts = cx.tree.content(r.id)?.elf.clone()?;
    Some((r.path, facts))
}

/// What one missing library breaks, gathered over every environment.
#[derive(Default)]
struct Impact {
    needed_by: BTreeSet<String>,
    modules: BTreeSet<String>,
    launchers: BTreeSet<String>,
    searched: Vec<String>,
}

/// Launchers of `facts` that import top-level package `top`.
fn launchers_importing(facts: &EnvFacts, top: &str) -> Vec<String> {
    facts
        .launchers
        .iter()
        .filter(|l| match &l.launcher {
            Launcher::Script { module, .. } => module.split('.').next() == Some(top),
            _ => false,
        })
        .map(|l| l.path.clone())
        .collect()
}

fn record(impact: &mut BTreeMap<String, Impact>, c: &Closure, module: &str, launchers: &[String]) {
    for m in &c.missing {
        let i = impact.entry(m.name.clone()).or_default();
        i.needed_by.insert(m.needed_by.clone());
        i.modules.insert(module.to_string());
        i.launchers.extend(launchers.iter().cloned());
        if i.searched.is_empty() {
            i.searched = m.tried.clone();
        }
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    let config = &cx.image.resolved.config;
    let mut loader = Loader::new(cx.tree, config.env_var("LD_LIBRARY_PATH"));
    let mut impact: BTreeMap<String, Impact> = BTreeMap::new();
    // An interpreter and a module shared by several environments (a venv's
    // base, `lib-dynload`) is loaded once.
    let mut interpreters: BTreeMap<String, Closure> = BTreeMap::new();
    let mut seen_modules: BTreeSet<(String, String)> = BTreeSet::new();
    for facts in cx.facts {
        let env = &facts.env;
        let interp = env
            .interpreter
            .as_deref()
            .and_then(|p| elf_at(cx, p))
            .map(|(real, f)| {
                interpreters
                    .entry(real.clone())
                    .or_insert_with(|| loader.load(&real, f, None))
                    .clone()
            });
        if let Some(c) = &interp {
            let all: Vec<String> = facts.launchers.iter().map(|l| l.path.clone()).collect();
            record(&mut impact, c, &format!("python ({})", env.root), &all);
        }
        for m in extension_modules(cx.tree, env) {
            let Some((_, f)) = elf_at(cx, &m.path) else {
                continue;
            };
            let key = interp
                .as_ref()
                .and_then(|c| c.objects.first().map(|o| o.path.clone()));
            if !seen_modules.insert((m.path.clone(), key.unwrap_or_default())) {
                continue;
            }
            // Another machine's module is `elf-arch-mismatch`, not this.
            if interp
                .as_ref()
                .and_then(|c| c.objects.first())
                .is_some_and(|o| o.facts.machine != f.machine || o.facts.class64 != f.class64)
            {
                continue;
            }
            let mut c = loader.load(&m.path, f, interp.as_ref());
            // The stdlib's optional modules: Debian's `python3-minimal` and
            // slim images ship `_curses`, `_dbm`, `readline`, `nis` without
            // their libraries on purpose (Python starts; only that import
            // fails), so a library that was never in the image is a choice,
            // not a defect. One that a layer deleted is reported.
            if m.import_dir.ends_with("/lib-dynload") {
                c.missing
                    .retain(|u| u.tried.iter().any(|p| cx.removed_by(p).is_some()));
            }
            if c.missing.is_empty() {
                continue;
            }
            let top = m.dotted.split('.').next().unwrap_or(&m.dotted);
            let launchers = launchers_importing(facts, top);
            record(
                &mut impact,
                &c,
                &format!("{} ({})", m.dotted, env.root),
                &launchers,
            );
        }
    }
    for (library, i) in impact {
        // The layer that deleted it: the first path tried that a layer
        // removed.
        let deleted = i.searched.iter().find_map(|p| {
            let layer = cx.removed_by(p)?;
            Some((cx.step(layer), p.clone()))
        });
        let needed_by: Vec<String> = i.needed_by.into_iter().collect();
        let envs: BTreeSet<&str> = i
            .modules
            .iter()
            .filter_map(|m| m.rsplit_once(" (").map(|(_, e)| e.trim_end_matches(')')))
            .collect();
        let env =
            (envs.len() == 1).then(|| envs.into_iter().next().unwrap_or_default().to_string());
        let path = deleted
            .as_ref()
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| needed_by[0].clone());
        out.push(
            SharedLibraryMissing {
                path,
                env,
                deleted,
                library,
                needed_by,
                modules: i.modules.into_iter().collect(),
                launchers: i.launchers.into_iter().collect(),
                searched: i.searched,
            }
            .into(),
        );
    }
}
