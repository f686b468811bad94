//! `shim-not-executable`: a launcher without an execute bit fails with
//! `permission denied` (often after a `COPY` from a Windows checkout or a
//! `chmod -R` in a slimming step).

use super::{CheckCtx, Code};
use crate::finding::Finding;

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for l in &facts.launchers {
            if l.mode & 0o111 == 0 {
                let f = Finding::new(
                    Code::ShimNotExecutable,
                    &l.path,
                    format!(
                        "launcher `{}` has mode {:04o}: running it fails with `permission denied`",
                        l.name, l.mode
                    ),
                )
                .env(&facts.env.root)
                .hint("`chmod 0755` it, or fix the step that changed its mode");
                out.push(cx.at_layer(f, l.layer as usize));
            }
        }
    }
}
