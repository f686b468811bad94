//! `entry-point-without-metadata`: a launcher in `bin/` that no visible
//! distribution declares. The incident behind imgaudit: deleting
//! `*.dist-info` keeps the launcher and the code but loses the metadata, so
//! `load_entry_point` launchers, plugin discovery and `importlib.metadata`
//! fail at run time, and SBOM scanners see nothing.

use super::{declared_scripts, is_pip_alias, CheckCtx, Code};
use crate::finding::Finding;
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
    for site in &facts.env.site_dirs {
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

fn finding(
    cx: &CheckCtx<'_>,
    facts: &EnvFacts,
    l: &LauncherFile,
    why: String,
    hint: &str,
) -> Finding {
    let mut f = Finding::new(Code::EntryPointWithoutMetadata, &l.path, why)
        .env(&facts.env.root)
        .field("launcher", l.name.as_str());
    if l.runs_at_start {
        f = f.note("this launcher runs at container start (image Entrypoint/Cmd)");
    }
    match deleting_layer(cx, facts, hint) {
        Some((layer, path, count)) => {
            f = f.note(format!(
                "{} deleted {count} metadata director{} here, e.g. `{path}`",
                cx.layer_label(layer),
                if count == 1 { "y" } else { "ies" }
            ));
            f = cx.at_layer(f, layer);
        }
        None => {
            f = f.note("no layer deleted it later: the metadata was removed in the same step that installed it, or never installed");
        }
    }
    f.hint("keep `*.dist-info` when slimming; delete `__pycache__`, tests and docs instead")
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
                        out.push(finding(
                            cx,
                            facts,
                            l,
                            format!("launcher `{}` loads entry point `{name}` of `{dist}`, which is not installed: it fails with `PackageNotFoundError`/`DistributionNotFound`", l.name),
                            dist,
                        ).field("distribution", dist.as_str()));
                        continue;
                    };
                    if !d
                        .entry_points
                        .group(group)
                        .iter()
                        .any(|ep| ep.name == *name)
                    {
                        out.push(finding(
                            cx,
                            facts,
                            l,
                            format!("launcher `{}` loads `{group}` entry point `{name}`, which `{}` does not declare", l.name, d.dir),
                            dist,
                        ).field("distribution", dist.as_str()));
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
                        finding(
                            cx,
                            facts,
                            l,
                            format!(
                                "launcher `{}` imports `{module}` but no installed distribution declares a `{}` console script",
                                l.name, l.name
                            ),
                            top,
                        )
                        .field("module", module.as_str()),
                    );
                }
                Launcher::NotALauncher(_) => {}
            }
        }
    }
}
