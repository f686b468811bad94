//! `metadata-file-missing`: a dist-info without METADATA is invisible to
//! `importlib.metadata` version lookups and to SBOM scanners; one written by
//! an installer (INSTALLER present) without RECORD or WHEEL breaks
//! `pip uninstall`/`pip show -f` and RECORD verification.

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::dist::DistFormat;

/// The typed diagnostic. JSON fields: `distribution`, `file`,
/// `launchers_at_risk`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct MetadataFileMissing {
    /// The metadata directory.
    #[serde(skip)]
    pub dir: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The layer that deleted the file, when one did.
    #[serde(skip)]
    pub deleted_by: Option<Step>,
    /// The distribution's name as its directory spells it.
    pub distribution: String,
    /// The missing file: `METADATA`, `RECORD`, `WHEEL` or `PKG-INFO`.
    pub file: &'static str,
    /// Launchers that read this metadata at start, sorted.
    pub launchers_at_risk: Vec<String>,
}

impl From<MetadataFileMissing> for Finding {
    fn from(d: MetadataFileMissing) -> Finding {
        let mut f = Finding::new(
            Code::MetadataFileMissing,
            format!("{}/{}", d.dir, d.file),
            format!("`{}` has no `{}`: tools that read installed metadata (`importlib.metadata`, pip, SBOM scanners) see a broken distribution", d.dir, d.file),
        )
        .env(&d.env)
        .fields(&d);
        if let Some(step) = &d.deleted_by {
            f = f.note(format!("deleted by {}", step.label()));
        }
        f.at(d.deleted_by.as_ref())
    }
}

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
                        // No tool reads an installed `WHEEL` at run time
                        // (pip, `importlib.metadata`), and poetry 1.8's
                        // editable install writes a dist-info without one
                        // (fixture `poetry`: every probe passes). So it is
                        // reported only when a layer deleted it: damage
                        // to an installer's output, not its choice.
                        if !d.has_wheel && cx.removed_by(&format!("{}/WHEEL", d.dir)).is_some() {
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
                out.push(
                    MetadataFileMissing {
                        dir: d.dir.clone(),
                        env: facts.env.root.clone(),
                        deleted_by: cx.removed_by(&path).map(|l| cx.step(l)),
                        distribution: d.name.clone(),
                        file,
                        launchers_at_risk: facts.affected_launchers(&d.key),
                    }
                    .into(),
                );
            }
        }
    }
}
