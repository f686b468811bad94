//! `shim-missing`: an installer wrote a launcher (RECORD lists
//! `<bin>/<name>` for a declared entry point) and it is gone. Only for
//! distributions with INSTALLER: Debian declares entry points it
//! deliberately does not ship, and those have no INSTALLER.

use super::{CheckCtx, Code};
use crate::finding::Finding;
use std::collections::HashMap;

use crate::python::record::{resolve_record_path, RecordEntry};

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
                    let mut f = Finding::new(
                        Code::ShimMissing,
                        &path,
                        format!(
                            "`{}` declares console script `{}` and its RECORD lists `{path}`, but the file is absent: `{}` fails with `not found`",
                            d.name, ep.name, ep.name
                        ),
                    )
                    .env(&facts.env.root)
                    .field("distribution", d.name.as_str())
                    .field("entry_point", format!("{} = {}{}", ep.name, ep.module, ep.attr.as_deref().map(|a| format!(":{a}")).unwrap_or_default()))
                    .note(format!("RECORD row {}: `{}`", row.line, row.path));
                    if let Some(layer) = cx.removed_by(&path) {
                        f = f.note(format!("deleted by {}", cx.layer_label(layer)));
                        f = cx.at_layer(f, layer);
                    }
                    out.push(f.note(format!(
                        "hint: reinstall `{}` or stop deleting its launcher",
                        d.name
                    )));
                }
            }
        }
    }
}
