//! `entry-point-without-metadata`: a launcher in `bin/` that no visible
//! distribution declares. The incident behind imgaudit: deleting
//! `*.dist-info` keeps the launcher and the code but loses the metadata, so
//! `load_entry_point` launchers, plugin discovery and `importlib.metadata`
//! fail at run time, and SBOM scanners see nothing.

use serde::Serialize;

use super::{declared_scripts, is_pip_alias, CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::facts::{EnvFacts, LauncherFile};
use crate::python::launcher::Launcher;
use crate::python::normalize_name;

/// Find the layer that deleted `*.dist-info` dirs in this environment,
/// preferring one whose name matches `hint`.
fn deleting_layer(
    cx: &CheckCtx<'_>,
    facts: &EnvFacts,
    hint: &str,
) -> Option<(usize, String, usize)> {
    // Deleted metadata dirs of this environment, grouped by layer.
    let mut by_layer: std::collections::BTreeMap<usize, Vec<&str>> = Default::default();
    // Site dirs, and the dirs `.pth` files add or name (a legacy editable's
    // `NAME.egg-info` lives in its source dir, deleted with it or alone).
    let env = &facts.env;
    let dirs = env
        .site_dirs
        .iter()
        .chain(&env.pth_dirs)
        .chain(env.pth_missing.iter().map(|(_, d)| d));
    for site in dirs {
        for (i, p) in cx.history.deleted_within(site) {
            if (p.ends_with(".dist-info") || p.ends_with(".egg-info")) && !cx.tree.exists(p) {
                by_layer.entry(i).or_default().push(p);
            }
        }
    }
    let mut best: Option<(usize, String, usize)> = None;
    for (i, deleted) in by_layer {
        let matching = deleted.iter().find(|p| {
            let base = p.rsplit('/').next().unwrap_or("");
            crate::python::dist::split_dir_name(base)
                .is_some_and(|(n, _)| normalize_name(&n) == normalize_name(hint))
        });
        let pick = matching.unwrap_or(&deleted[0]).to_string();
        if matching.is_some() || best.is_none() {
            best = Some((i, pick, deleted.len()));
        }
    }
    best
}

/// What the launcher asks for that no metadata provides.
#[derive(Clone, Debug)]
pub(crate) enum Missing {
    /// `load_entry_point` of a distribution that is not installed.
    Distribution {
        /// The entry point's name.
        entry_point: String,
    },
    /// `load_entry_point` of an entry point the distribution does not declare.
    EntryPoint {
        /// The entry point group, e.g. `console_scripts`.
        group: String,
        /// The entry point's name.
        entry_point: String,
        /// The distribution's metadata directory.
        dist_dir: String,
    },
    /// A pip-style launcher whose console script no distribution declares.
    ConsoleScript,
}

/// The typed diagnostic. JSON fields: `launcher`, and `distribution` (for
/// `load_entry_point` launchers) or `module` (for pip-style launchers).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct EntryPointWithoutMetadata {
    /// The launcher.
    #[serde(skip)]
    pub path: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// Named by the image's Entrypoint/Cmd.
    #[serde(skip)]
    pub runs_at_start: bool,
    /// What is missing.
    #[serde(skip)]
    pub missing: Missing,
    /// The layer that deleted metadata directories in this environment, one
    /// of them (preferably the launcher's own), and how many.
    #[serde(skip)]
    pub deleted: Option<(Step, String, usize)>,
    /// The launcher's command name.
    pub launcher: String,
    /// The distribution a `load_entry_point` launcher names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    /// The module a pip-style launcher imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

impl From<EntryPointWithoutMetadata> for Finding {
    fn from(d: EntryPointWithoutMetadata) -> Finding {
        let name = &d.launcher;
        let dist = d.distribution.as_deref().unwrap_or_default();
        let message = match &d.missing {
            Missing::Distribution { entry_point } => format!("launcher `{name}` loads entry point `{entry_point}` of `{dist}`, which is not installed: it fails with `PackageNotFoundError`/`DistributionNotFound`"),
            Missing::EntryPoint { group, entry_point, dist_dir } => format!("launcher `{name}` loads `{group}` entry point `{entry_point}`, which `{dist_dir}` does not declare"),
            Missing::ConsoleScript => format!(
                "launcher `{name}` imports `{}` but no installed distribution declares a `{name}` console script",
                d.module.as_deref().unwrap_or_default()
            ),
        };
        let mut f = Finding::new(Code::EntryPointWithoutMetadata, &d.path, message)
            .env(&d.env)
            .fields(&d);
        if d.runs_at_start {
            f = f.note(super::RUNS_AT_START);
        }
        match &d.deleted {
            Some((step, path, count)) => {
                f = f.note(format!(
                    "{} deleted {count} metadata director{} here, e.g. `{path}`",
                    step.label(),
                    if *count == 1 { "y" } else { "ies" }
                ));
            }
            None => {
                f = f.note("no layer deleted it later: the metadata was removed in the same step that installed it, or never installed");
            }
        }
        f.at(d.deleted.as_ref().map(|(s, _, _)| s))
            .hint("keep `*.dist-info` when slimming; delete `__pycache__`, tests and docs instead")
    }
}

fn diagnostic(
    cx: &CheckCtx<'_>,
    facts: &EnvFacts,
    l: &LauncherFile,
    missing: Missing,
    hint: &str,
) -> EntryPointWithoutMetadata {
    EntryPointWithoutMetadata {
        path: l.path.clone(),
        env: facts.env.root.clone(),
        runs_at_start: l.runs_at_start,
        missing,
        deleted: deleting_layer(cx, facts, hint).map(|(i, p, n)| (cx.step(i), p, n)),
        launcher: l.name.clone(),
        distribution: None,
        module: None,
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let declared = declared_scripts(facts);
        let index = facts.dist_index();
        for l in &facts.launchers {
            match &l.launcher {
                Launcher::LoadEntryPoint {
                    dist, group, name, ..
                } => {
                    let Some(d) = index.get(normalize_name(dist).as_str()) else {
                        let missing = Missing::Distribution {
                            entry_point: name.clone(),
                        };
                        out.push(
                            EntryPointWithoutMetadata {
                                distribution: Some(dist.clone()),
                                ..diagnostic(cx, facts, l, missing, dist)
                            }
                            .into(),
                        );
                        continue;
                    };
                    if !d
                        .entry_points
                        .group(group)
                        .iter()
                        .any(|ep| ep.name == *name)
                    {
                        let missing = Missing::EntryPoint {
                            group: group.clone(),
                            entry_point: name.clone(),
                            dist_dir: d.dir.clone(),
                        };
                        out.push(
                            EntryPointWithoutMetadata {
                                distribution: Some(dist.clone()),
                                ..diagnostic(cx, facts, l, missing, dist)
                            }
                            .into(),
                        );
                    }
                }
                Launcher::Script { module, .. } => {
                    if declared.contains_key(l.name.as_str()) {
                        continue;
                    }
                    if is_pip_alias(&l.name) && facts.all_dists().any(|d| d.key == "pip") {
                        continue;
                    }
                    let top = module.split('.').next().unwrap_or(module);
                    out.push(
                        EntryPointWithoutMetadata {
                            module: Some(module.clone()),
                            ..diagnostic(cx, facts, l, Missing::ConsoleScript, top)
                        }
                        .into(),
                    );
                }
                Launcher::NotALauncher(_) => {}
            }
        }
    }
}
