//! `shim-missing`: an installer wrote a launcher (RECORD lists
//! `<bin>/<name>` for a declared entry point) and it is gone. Only for
//! distributions with INSTALLER: Debian declares entry points it
//! deliberately does not ship, and those have no INSTALLER.

use serde::Serialize;

use super::{CheckCtx, Code};
use std::collections::HashMap;

use crate::finding::{Finding, Step};
use crate::python::record::{resolve_record_path, RecordEntry};

/// The typed diagnostic. JSON fields: `distribution`, `entry_point`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ShimMissing {
    /// The launcher path that should exist.
    #[serde(skip)]
    pub path: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The console script's name.
    #[serde(skip)]
    pub script: String,
    /// The RECORD row (1-based line) listing the launcher.
    #[serde(skip)]
    pub record_line: u64,
    /// That row's path, as written (relative to the site dir).
    #[serde(skip)]
    pub record_path: String,
    /// The layer that deleted the launcher, when one did.
    #[serde(skip)]
    pub deleted_by: Option<Step>,
    /// The declaring distribution's name.
    pub distribution: String,
    /// The entry point, `name = module:attr`.
    pub entry_point: String,
}

impl From<ShimMissing> for Finding {
    fn from(d: ShimMissing) -> Finding {
        let mut f = Finding::new(
            Code::ShimMissing,
            &d.path,
            format!(
                "`{}` declares console script `{}` and its RECORD lists `{}`, but the file is absent: `{}` fails with `not found`",
                d.distribution, d.script, d.path, d.script
            ),
        )
        .env(&d.env)
        .fields(&d)
        .note(format!("RECORD row {}: `{}`", d.record_line, d.record_path));
        if let Some(step) = &d.deleted_by {
            f = f.note(format!("deleted by {}", step.label()));
        }
        f.at(d.deleted_by.as_ref()).hint(format!(
            "reinstall `{}` or stop deleting its launcher",
            d.distribution
        ))
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        for d in &facts.dists {
            let (Some(_), Some(record)) = (&d.installer, &d.record) else {
                continue;
            };
            // RECORD rows that name a launcher (a file in one of the
            // environment's bin dirs, or in any `bin/`), by file name:
            // indexed once per dist, so each entry point is one lookup
            // instead of a pass over every row.
            let mut launchers: HashMap<String, Vec<(&RecordEntry, String)>> = HashMap::new();
            for row in &record.entries {
                let Some(path) = resolve_record_path(&d.site_dir, &row.path) else {
                    continue;
                };
                let Some((dir, name)) = path.rsplit_once('/') else {
                    continue;
                };
                if dir.ends_with("/bin") || facts.env.bin_dirs.iter().any(|b| b == dir) {
                    let name = name.to_string();
                    launchers.entry(name).or_default().push((row, path));
                }
            }
            for ep in d
                .entry_points
                .console_scripts()
                .iter()
                .chain(d.entry_points.gui_scripts())
            {
                for (row, path) in launchers.get(ep.name.as_str()).into_iter().flatten() {
                    if cx.tree.lstat(path).is_ok() {
                        continue;
                    }
                    let path = path.clone();
                    out.push(
                        ShimMissing {
                            deleted_by: cx.removed_by(&path).map(|l| cx.step(l)),
                            path,
                            env: facts.env.root.clone(),
                            script: ep.name.clone(),
                            record_line: row.line,
                            record_path: row.path.clone(),
                            distribution: d.name.clone(),
                            entry_point: format!(
                                "{} = {}{}",
                                ep.name,
                                ep.module,
                                ep.attr
                                    .as_deref()
                                    .map(|a| format!(":{a}"))
                                    .unwrap_or_default()
                            ),
                        }
                        .into(),
                    );
                }
            }
        }
    }
}
