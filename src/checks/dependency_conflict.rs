//! `dependency-conflict`: the installed version of a required distribution
//! does not satisfy the requirement's specifier (pre-releases allowed, as in
//! `pip check`). Versions that are not PEP 440 are not judged.

use super::dependency_missing::applicable;
use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::markers::version_satisfies;

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for (d, req, req_str, installed) in applicable(cx, facts) {
            let Some(inst) = installed else {
                continue;
            };
            let Some(version) = inst.version.as_deref() else {
                continue;
            };
            if version_satisfies(version, &req) != Some(false) {
                continue;
            }
            let f = Finding::new(
                Code::DependencyConflict,
                &d.dir,
                format!(
                    "`{}` requires `{req_str}`, but `{}` {version} is installed",
                    d.name, inst.name
                ),
            )
            .env(&facts.env.root)
            .field("distribution", d.name.as_str())
            .field("requirement", req_str.as_str())
            .field("installed", version)
            .note(format!("installed at `{}`", inst.dir));
            out.push(cx.at_layer(f, inst.layer as usize));
        }
    }
}
