//! `dependency-missing`: a `Requires-Dist` that applies (markers evaluated
//! as `pip check` does: the environment's Python, Linux, the image's
//! architecture, CPython, no extras) names a distribution that is not
//! installed in the environment. Import of the requiring package, or of the
//! code path using the dependency, fails at run time.

use std::collections::HashMap;

use super::{CheckCtx, Code};
use crate::audit::EnvFacts;
use crate::finding::Finding;
use crate::python::dist::Dist;
use crate::python::markers::{requirement_applies, MarkerEnv, Requirement};
use crate::python::normalize_name;

/// The requirements of every distribution that apply in its environment,
/// with the installed distribution each names (if any).
pub(crate) fn applicable<'a>(
    cx: &CheckCtx<'_>,
    facts: &'a EnvFacts,
) -> Vec<(&'a Dist, Requirement, String, Option<&'a Dist>)> {
    let arch = cx
        .image
        .resolved
        .config
        .architecture
        .as_deref()
        .unwrap_or("amd64");
    let version = facts.env.version.as_deref().unwrap_or("3");
    let Ok(menv) = MarkerEnv::new(version, arch) else {
        return Vec::new();
    };
    let index = facts.dist_index();
    let mut out = Vec::new();
    for d in &facts.dists {
        // Parsed once, when the dist was loaded (`Dist::requirements`).
        for (req_str, req) in d.requires.iter().zip(d.requirements.iter()) {
            let Some(req) = req.clone() else {
                continue; // pip skips unparsable requirements too
            };
            if !requirement_applies(&req, &menv) {
                continue;
            }
            let key = normalize_name(req.name.as_ref());
            let installed = index.get(key.as_str()).copied();
            out.push((d, req, req_str.trim().to_string(), installed));
        }
    }
    out
}

/// The first layer that removed a dist-info/egg-info of each distribution
/// (by normalised name) from this environment's site dirs: indexed once, so
/// each missing requirement is one lookup, not a scan of every removal.
fn removed_dists(cx: &CheckCtx<'_>, facts: &EnvFacts) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, e) in cx.image.effects.iter().enumerate() {
        for p in e.removals.iter().flat_map(|r| &r.notable) {
            let base = p.rsplit('/').next().unwrap_or("");
            let Some((n, _)) = crate::python::dist::split_dir_name(base) else {
                continue;
            };
            if facts
                .env
                .site_dirs
                .iter()
                .any(|s| p.starts_with(s.as_str()))
            {
                out.entry(normalize_name(&n)).or_insert(i);
            }
        }
    }
    out
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let removed_dists = removed_dists(cx, facts);
        for (d, req, req_str, installed) in applicable(cx, facts) {
            if installed.is_some() {
                continue;
            }
            let name = req.name.to_string();
            let mut f = Finding::new(
                Code::DependencyMissing,
                &d.dir,
                format!(
                    "`{}` requires `{req_str}`, but `{name}` is not installed in this environment",
                    d.name
                ),
            )
            .env(&facts.env.root)
            .field("distribution", d.name.as_str())
            .field("requirement", req_str.as_str());
            let removed = removed_dists.get(&normalize_name(&name)).copied();
            if let Some(layer) = removed {
                f = f.note(format!("`{name}` was removed by {}", cx.layer_label(layer)));
                f = cx.at_layer(f, layer);
            }
            out.push(f.note(format!("hint: install `{req_str}` in this environment")));
        }
    }
}
