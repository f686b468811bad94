//! `dependency-missing`: a `Requires-Dist` that applies (markers evaluated
//! as `pip check` does: the environment's Python, Linux, the image's
//! architecture, CPython, no extras) names a distribution that is not
//! installed in the environment. Import of the requiring package, or of the
//! code path using the dependency, fails at run time.

use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::dist::Dist;
use crate::python::facts::EnvFacts;
use crate::python::markers::{parse_requirement, requirement_applies, MarkerEnv, Requirement};
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
        for req_str in &d.requires {
            let Ok(req) = parse_requirement(req_str) else {
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

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
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
            let removed = facts.env.site_dirs.iter().find_map(|site| {
                cx.history.deleted_within(site).find_map(|(i, p)| {
                    let base = p.rsplit('/').next().unwrap_or("");
                    crate::python::dist::split_dir_name(base)
                        .is_some_and(|(n, _)| normalize_name(&n) == normalize_name(&name))
                        .then_some(i)
                })
            });
            if let Some(layer) = removed {
                f = f.note(format!("`{name}` was removed by {}", cx.layer_label(layer)));
                f = cx.at_layer(f, layer);
            }
            out.push(f.hint(format!("install `{req_str}` in this environment")));
        }
    }
}
