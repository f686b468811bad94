//! `metadata-malformed`: METADATA without `Name`/`Version`, RECORD rows that
//! don't parse, `entry_points.txt` lines that don't parse. The file
//! exists, but the tools that read it skip or crash on it: `pip check` and
//! `pip list` die with `TypeError` on a METADATA without `Version`, and
//! `importlib.metadata.entry_points()` raises on a bad entry_points line.

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::Finding;

/// The typed diagnostic. JSON fields: `distribution`, `launchers_at_risk`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct MetadataMalformed {
    /// The file that does not parse.
    #[serde(skip)]
    pub path: String,
    /// Why, as the parser says.
    #[serde(skip)]
    pub why: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The distribution's name as its metadata spells it.
    pub distribution: String,
    /// Launchers that read this metadata at start (its own console scripts
    /// and those of distributions that require it), sorted.
    pub launchers_at_risk: Vec<String>,
}

impl From<MetadataMalformed> for Finding {
    fn from(d: MetadataMalformed) -> Finding {
        Finding::new(
            Code::MetadataMalformed,
            &d.path,
            format!("cannot parse `{}`: {}", d.path, d.why),
        )
        .env(&d.env)
        .fields(&d)
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for d in &facts.dists {
            for (path, why) in &d.problems {
                out.push(
                    MetadataMalformed {
                        path: path.clone(),
                        why: why.clone(),
                        env: facts.env.root.clone(),
                        distribution: d.name.clone(),
                        launchers_at_risk: facts.affected_launchers(&d.key),
                    }
                    .into(),
                );
            }
        }
    }
}
