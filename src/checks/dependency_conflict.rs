//! `dependency-conflict`: the installed version of a required distribution
//! does not satisfy the requirement's specifier (pre-releases allowed, as in
//! `pip check`). Versions that are not PEP 440 are not judged.

use serde::Serialize;

use super::dependency_missing::applicable;
use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::markers::version_satisfies;

/// The typed diagnostic. JSON fields: `distribution`, `requirement`,
/// `installed`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DependencyConflict {
    /// The requiring distribution's metadata directory.
    #[serde(skip)]
    pub dir: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The installed distribution's name.
    #[serde(skip)]
    pub installed_name: String,
    /// Its metadata directory.
    #[serde(skip)]
    pub installed_dir: String,
    /// The layer that installed it.
    #[serde(skip)]
    pub step: Step,
    /// The requiring distribution's name.
    pub distribution: String,
    /// The `Requires-Dist` value, as written.
    pub requirement: String,
    /// The installed version, which does not satisfy it.
    pub installed: String,
}

impl From<DependencyConflict> for Finding {
    fn from(d: DependencyConflict) -> Finding {
        Finding::new(
            Code::DependencyConflict,
            &d.dir,
            format!(
                "`{}` requires `{}`, but `{}` {} is installed",
                d.distribution, d.requirement, d.installed_name, d.installed
            ),
        )
        .env(&d.env)
        .fields(&d)
        .note(format!("installed at `{}`", d.installed_dir))
        .at(Some(&d.step))
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for (d, req, installed) in applicable(cx, facts) {
            let Some(inst) = installed else {
                continue;
            };
            let Some(version) = inst.version.as_deref() else {
                continue;
            };
            if version_satisfies(version, &req.requirement) != Some(false) {
                continue;
            }
            out.push(
                DependencyConflict {
                    dir: d.dir.clone(),
                    env: facts.env.root.clone(),
                    installed_name: inst.name.clone(),
                    installed_dir: inst.dir.clone(),
                    step: cx.step(inst.layer as usize),
                    distribution: d.name.clone(),
                    requirement: req.raw.clone(),
                    installed: version.to_string(),
                }
                .into(),
            );
        }
    }
}
