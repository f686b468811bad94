//! `metadata-malformed`: METADATA without `Name`/`Version`, RECORD rows that
//! don't parse, `entry_points.txt` lines that don't parse. A warning: the
//! file exists, but the tools that read it will skip or choke on it.

use super::{CheckCtx, Code};
use crate::finding::Finding;

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for d in &facts.dists {
            for (path, why) in &d.problems {
                out.push(
                    Finding::new(
                        Code::MetadataMalformed,
                        path,
                        format!("cannot parse `{path}`: {why}"),
                    )
                    .env(&facts.env.root)
                    .field("distribution", d.name.as_str()),
                );
            }
        }
    }
}
