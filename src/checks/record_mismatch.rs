//! `record-mismatch`: a file an installer recorded in RECORD exists but its
//! size or sha256 differs — edited after install (a `sed` in a Dockerfile, a
//! patch step), truncated, or tampered with. Only distributions with
//! INSTALLER are verified (PEP 627: RECORD is authoritative only there);
//! `.pyc` rows carry no hash. Hashes are computed in parallel, reading
//! through the merged tree; sizes are compared first, for free.

use rayon::prelude::*;

use super::{CheckCtx, Code};
use crate::finding::Finding;
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
            let actual = if size_differs {
                None
            } else {
                match cx.tree.sha256(j.id) {
                    Ok(h) if h[..] == *j.digest => return None,
                    Ok(h) => Some(h),
                    Err(_) => return None, // unreadable content is not a mismatch
                }
            };
            let mut f = Finding::new(
                Code::RecordMismatch,
                &j.path,
                if size_differs {
                    format!("`{}` is {} bytes but `{}`'s RECORD says {}: it was changed after install", j.path, node.size, j.dist, j.size.unwrap_or(0))
                } else {
                    format!("`{}` does not match the sha256 in `{}`'s RECORD: it was changed after install", j.path, j.dist)
                },
            )
            .env(j.env)
            .field("distribution", j.dist)
            .field("expected_sha256", b64(j.digest))
            .field("expected_size", j.size)
            .field("actual_size", node.size);
            if let Some(h) = actual {
                f = f.field("actual_sha256", b64(&h));
            }
            f = f.note(format!("changed by {}", cx.layer_label(node.layer as usize)));
            f = cx.at_layer(f, node.layer as usize);
            Some(f.hint("patch the source and reinstall, or accept it with an `[[ignore]]` and a reason"))
        })
        .collect();
    out.extend(found);
}
