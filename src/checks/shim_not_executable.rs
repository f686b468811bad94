//! `shim-not-executable`: a launcher without an execute bit fails with
//! `permission denied` (often after a `COPY` from a Windows checkout or a
//! `chmod -R` in a slimming step).

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};

/// The typed diagnostic. JSON fields: none beyond the core keys.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ShimNotExecutable {
    /// The launcher.
    #[serde(skip)]
    pub path: String,
    /// Its command name.
    #[serde(skip)]
    pub name: String,
    /// Its permission bits.
    #[serde(skip)]
    pub mode: u32,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The layer that wrote it.
    #[serde(skip)]
    pub step: Step,
}

impl From<ShimNotExecutable> for Finding {
    fn from(d: ShimNotExecutable) -> Finding {
        Finding::new(
            Code::ShimNotExecutable,
            &d.path,
            format!(
                "launcher `{}` has mode {:04o}: running it fails with `permission denied`",
                d.name, d.mode
            ),
        )
        .env(&d.env)
        .fields(&d)
        .hint("`chmod 0755` it, or fix the step that changed its mode")
        .at(Some(&d.step))
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for l in &facts.launchers {
            if l.mode & 0o111 == 0 {
                out.push(
                    ShimNotExecutable {
                        path: l.path.clone(),
                        name: l.name.clone(),
                        mode: l.mode,
                        env: facts.env.root.clone(),
                        step: cx.step(l.layer as usize),
                    }
                    .into(),
                );
            }
        }
    }
}
