//! `dependency-missing`: a `Requires-Dist` that applies (markers evaluated
//! as `pip check` does: the environment's Python, Linux, the image's
//! architecture, CPython, no extras) names a distribution that is not
//! installed in the environment. Import of the requiring package, or of the
//! code path using the dependency, fails at run time.

use std::collections::HashMap;

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::dist::{Dist, DistRequirement};
use crate::python::facts::EnvFacts;
use crate::python::markers::{requirement_applies, MarkerEnv};
use crate::python::normalize_name;

/// The requirements of every distribution that apply in its environment,
/// with the installed distribution each names (if any).
pub(crate) fn applicable<'a>(
    cx: &CheckCtx<'_>,
    facts: &'a EnvFacts,
) -> Vec<(&'a Dist, &'a DistRequirement, Option<&'a Dist>)> {
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
        for req in d.requires.iter() {
            if !requirement_applies(&req.requirement, &menv) {
                continue;
            }
            let installed = index.get(req.key()).copied();
            out.push((d, req, installed));
        }
    }
    out
}

/// The typed diagnostic. JSON fields: `distribution`, `requirement`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DependencyMissing {
    /// The requiring distribution's metadata directory.
    #[serde(skip)]
    pub dir: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The required distribution's name, as the requirement spells it.
    #[serde(skip)]
    pub name: String,
    /// The layer that removed the required distribution, when one did.
    #[serde(skip)]
    pub removed_by: Option<Step>,
    /// The requiring distribution's name.
    pub distribution: String,
    /// The `Requires-Dist` value, as written.
    pub requirement: String,
}

impl From<DependencyMissing> for Finding {
    fn from(d: DependencyMissing) -> Finding {
        let mut f = Finding::new(
            Code::DependencyMissing,
            &d.dir,
            format!(
                "`{}` requires `{}`, but `{}` is not installed in this environment",
                d.distribution, d.requirement, d.name
            ),
        )
        .env(&d.env)
        .fields(&d);
        if let Some(step) = &d.removed_by {
            f = f.note(format!("`{}` was removed by {}", d.name, step.label()));
        }
        f.at(d.removed_by.as_ref())
            .hint(format!("install `{}` in this environment", d.requirement))
    }
}

/// The first layer that removed a dist-info/egg-info of each distribution
/// (by normalised name) from this environment's site dirs: indexed once, so
/// each missing requirement is one lookup, not a scan of every removal.
fn removed_dists(cx: &CheckCtx<'_>, facts: &EnvFacts) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for site in &facts.env.site_dirs {
        for (i, p) in cx.history.deleted_within(site) {
            let base = p.rsplit('/').next().unwrap_or("");
            if let Some((n, _)) = crate::python::dist::split_dir_name(base) {
                let e = out.entry(normalize_name(&n)).or_insert(i);
                *e = (*e).min(i);
            }
        }
    }
    out
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let removed_dists = removed_dists(cx, facts);
        for (d, req, installed) in applicable(cx, facts) {
            if installed.is_some() {
                continue;
            }
            let name = req.requirement.name.to_string();
            let removed = removed_dists.get(req.key()).copied();
            out.push(
                DependencyMissing {
                    dir: d.dir.clone(),
                    env: facts.env.root.clone(),
                    name,
                    removed_by: removed.map(|l| cx.step(l)),
                    distribution: d.name.clone(),
                    requirement: req.raw.clone(),
                }
                .into(),
            );
        }
    }
}
