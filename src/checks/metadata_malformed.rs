//! `metadata-malformed`: METADATA without `Name`/`Version`, RECORD rows that
//! don't parse, `entry_points.txt` lines that don't parse. The file
//! exists, but the tools that read it skip or crash on it: `pip check` and
//! `pip list` die with `TypeError` on a METADATA without `Version`, and
//! `importlib.metadata.entry_points()` raises on a bad entry_points line.

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
                    .field("distribution", d.name.as_str())
                    .field(
                        "launchers_at_risk",
                        super::affected_launchers(facts, &d.key),
                    ),
                );
            }
        }
    }
}
