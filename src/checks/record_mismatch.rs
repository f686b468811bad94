//! `record-mismatch`: a file an installer recorded in RECORD exists but its
//! size or sha256 differs — edited after install (a `sed` in a Dockerfile, a
//! patch step), truncated, or tampered with. Only distributions with
//! INSTALLER are verified (PEP 627: RECORD is authoritative only there);
//! `.pyc` rows carry no hash. Hashes are computed in parallel, reading
//! through the merged tree; sizes are compared first, for free.
//!
//! A shared object that shrank and is still a complete, dynamically linked
//! ELF file is what `strip` leaves (issue 11's `epforms-so-stripped`: the
//! stripped extension still imports and runs). Nothing breaks at run time,
//! only the integrity record: a warning, not an error.

use rayon::prelude::*;

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::record::{is_pyc, resolve_record_path};
use crate::tree::Kind;

struct Job<'a> {
    env: &'a str,
    dist: &'a str,
    path: String,
    id: crate::tree::NodeId,
    size: Option<u64>,
    digest: &'a [u8],
}

fn b64(d: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// The typed diagnostic. JSON fields: `distribution`, `expected_sha256`,
/// `expected_size`, `actual_size`, `actual_sha256`, `looks_stripped`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RecordMismatch {
    /// The changed file.
    #[serde(skip)]
    pub path: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The size differs (then the hash was not computed).
    #[serde(skip)]
    pub size_differs: bool,
    /// The layer that wrote the file as it is now.
    #[serde(skip)]
    pub step: Step,
    /// The distribution whose RECORD lists the file.
    pub distribution: String,
    /// RECORD's sha256, urlsafe base64 without padding (as RECORD writes it).
    pub expected_sha256: String,
    /// RECORD's size, `null` when the row has none.
    pub expected_size: Option<u64>,
    /// The file's size in the image.
    pub actual_size: u64,
    /// The file's sha256 in RECORD's encoding; absent when the size already
    /// differs (not hashed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_sha256: Option<String>,
    /// A smaller file that is still a complete, dynamically linked ELF
    /// object: what `strip` does. Present (true) only then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub looks_stripped: bool,
}

impl From<RecordMismatch> for Finding {
    fn from(d: RecordMismatch) -> Finding {
        let message = if d.looks_stripped {
            format!(
                "`{}` is {} bytes but `{}`'s RECORD says {}: it was stripped after install (still a loadable ELF object)",
                d.path,
                d.actual_size,
                d.distribution,
                d.expected_size.unwrap_or(0)
            )
        } else if d.size_differs {
            format!(
                "`{}` is {} bytes but `{}`'s RECORD says {}: it was changed after install",
                d.path,
                d.actual_size,
                d.distribution,
                d.expected_size.unwrap_or(0)
            )
        } else {
            format!(
                "`{}` does not match the sha256 in `{}`'s RECORD: it was changed after install",
                d.path, d.distribution
            )
        };
        let mut f = Finding::new(Code::RecordMismatch, &d.path, message)
            .env(&d.env)
            .fields(&d)
            .note(format!("changed by {}", d.step.label()));
        let hint = if d.looks_stripped {
            f = f
                .with_severity(crate::diag::Severity::Warning)
                .note("a stripped shared object loads and runs as before; only RECORD no longer verifies it");
            "strip when building the wheel (its RECORD then matches), or accept it with an `[[ignore]]` and a reason"
        } else {
            "patch the source and reinstall, or accept it with an `[[ignore]]` and a reason"
        };
        f.at(Some(&d.step)).hint(hint)
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    // Files that `metadata-malformed` already reports: their edit is the
    // cause, reported once there.
    let malformed: std::collections::HashSet<&str> = cx
        .facts
        .iter()
        .flat_map(|f| &f.dists)
        .flat_map(|d| d.problems.iter().map(|(p, _)| p.as_str()))
        .collect();
    let mut jobs = Vec::new();
    for facts in cx.facts {
        for d in &facts.dists {
            let (Some(_), Some(record)) = (&d.installer, &d.record) else {
                continue;
            };
            for row in &record.entries {
                let Some(hash) = row.hash.as_ref().filter(|h| h.is_sha256()) else {
                    continue;
                };
                if is_pyc(&row.path) {
                    continue;
                }
                let Some(path) = resolve_record_path(&d.site_dir, &row.path) else {
                    continue;
                };
                if malformed.contains(path.as_str()) {
                    continue;
                }
                let Ok(r) = cx.tree.stat(&path) else {
                    continue; // absent: record-missing-file
                };
                if cx.tree.node(r.id).kind != Kind::File {
                    continue;
                }
                jobs.push(Job {
                    env: &facts.env.root,
                    dist: &d.name,
                    path,
                    id: r.id,
                    size: row.size,
                    digest: &hash.digest,
                });
            }
        }
    }
    let found: Vec<Finding> = jobs
        .par_iter()
        .filter_map(|j| {
            let node = cx.tree.node(j.id);
            let size_differs = j.size.is_some_and(|s| s != node.size);
            let looks_stripped = j.size.is_some_and(|s| node.size < s)
                && cx
                    .tree
                    .content(j.id)
                    .and_then(|c| c.elf.as_ref())
                    .is_some_and(|e| e.complete && e.dynamic);
            let actual = if size_differs {
                None
            } else {
                match cx.tree.sha256(j.id) {
                    Ok(h) if h[..] == *j.digest => return None,
                    Ok(h) => Some(h),
                    Err(_) => return None, // unreadable content is not a mismatch
                }
            };
            Some(
                RecordMismatch {
                    path: j.path.clone(),
                    env: j.env.to_string(),
                    size_differs,
                    step: cx.step(node.layer as usize),
                    distribution: j.dist.to_string(),
                    expected_sha256: b64(j.digest),
                    expected_size: j.size,
                    actual_size: node.size,
                    actual_sha256: actual.map(|h| b64(&h)),
                    looks_stripped,
                }
                .into(),
            )
        })
        .collect();
    out.extend(found);
}
