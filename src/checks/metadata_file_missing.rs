//! `metadata-file-missing`: a dist-info without METADATA is invisible to
//! `importlib.metadata` version lookups and to SBOM scanners; one written by
//! an installer (INSTALLER present) without RECORD or WHEEL breaks
//! `pip uninstall`/`pip show -f` and RECORD verification.

use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::dist::DistFormat;

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for d in &facts.dists {
            let mut missing = Vec::new();
            match d.format {
                DistFormat::DistInfo => {
                    if !d.has_metadata {
                        missing.push("METADATA");
                    }
                    if d.installer.is_some() {
                        if !d.has_record {
                            missing.push("RECORD");
                        }
                        if !d.has_wheel {
                            missing.push("WHEEL");
                        }
                    }
                }
                DistFormat::EggInfoDir => {
                    if !d.has_metadata {
                        missing.push("PKG-INFO");
                    }
                }
                DistFormat::EggInfoFile => {}
            }
            for file in missing {
                let path = format!("{}/{file}", d.dir);
                let mut f = Finding::new(
                    Code::MetadataFileMissing,
                    &path,
                    format!("`{}` has no `{file}`: tools that read installed metadata (`importlib.metadata`, pip, SBOM scanners) see a broken distribution", d.dir),
                )
                .env(&facts.env.root)
                .field("distribution", d.name.as_str())
                .field("file", file)
                .field("launchers_at_risk", super::affected_launchers(facts, &d.key));
                if let Some(layer) = cx.removed_by(&path) {
                    f = f.note(format!("deleted by {}", cx.layer_label(layer)));
                    f = cx.at_layer(f, layer);
                }
                out.push(f);
            }
        }
    }
}
