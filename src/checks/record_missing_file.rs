//! `record-missing-file`: files an installer recorded are absent. One
//! finding per distribution, with the count and the list. Absent `.pyc`
//! files are not reported (deleting `__pycache__` is legitimate slimming),
//! nor package `tests/`, `docs/`, `examples/`, `include/`, `*.h`, `*.a`,
//! `*.md`/`*.rst` (the slimming `imgaudit size` advises),
//! nor launchers of declared entry points (that is `shim-missing`, the
//! cause), nor a `.py` compiled in place to a sourceless `.pyc` beside it.

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::record::{is_pyc, resolve_record_path};

/// At most this many paths are listed in one finding.
const MAX_LISTED: usize = 50;

/// Files whose absence is legitimate slimming, the same set `imgaudit size`
/// advises deleting: tests, docs, examples and C headers (`include/`, `*.h`)
/// inside a package, static libraries (`*.a`), Markdown/reST files. (`.pyc`
/// is handled by `is_pyc`.) Found on a real torch image whose slimming step
/// removed `torch/include`: 9,598 header files, none needed at run time.
fn is_slimming(path: &str) -> bool {
    let Some((_, rest)) = path.split_once("-packages/") else {
        return false;
    };
    if [".md", ".rst", ".h", ".hpp", ".a"]
        .iter()
        .any(|ext| rest.ends_with(ext))
    {
        return true;
    }
    // `<package>/…/<dir>/<file>`, where <dir> is a test or doc dir inside
    // the package (at any depth, as `imgaudit size`'s `find -path` matches).
    let comps: Vec<&str> = rest.split('/').collect();
    comps.len() >= 3
        && comps[1..comps.len() - 1].iter().any(|c| {
            matches!(
                *c,
                "tests" | "test" | "docs" | "doc" | "examples" | "include"
            )
        })
}

/// The typed diagnostic. JSON fields: `distribution`, `count`, `files`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RecordMissingFile {
    /// The distribution's metadata directory.
    #[serde(skip)]
    pub dir: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// The first absent file, in RECORD order.
    #[serde(skip)]
    pub first: String,
    /// The layer that deleted most of them, and how many it deleted.
    #[serde(skip)]
    pub deleted: Option<(Step, usize)>,
    /// The distribution's name.
    pub distribution: String,
    /// How many RECORD-listed files are absent.
    pub count: usize,
    /// The first 50 of them, in RECORD order.
    pub files: Vec<String>,
}

impl From<RecordMissingFile> for Finding {
    fn from(d: RecordMissingFile) -> Finding {
        let mut f = Finding::new(
            Code::RecordMissingFile,
            &d.dir,
            format!(
                "{} of the files `{}` installed are absent (e.g. `{}`)",
                d.count, d.distribution, d.first
            ),
        )
        .env(&d.env)
        .fields(&d);
        if let Some((step, n)) = &d.deleted {
            f = f.note(format!("{n} of them were deleted by {}", step.label()));
        }
        f.at(d.deleted.as_ref().map(|(s, _)| s)).hint(format!(
            "reinstall `{}`, or delete only `__pycache__`, tests and docs when slimming",
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
            let scripts: Vec<String> = d
                .entry_points
                .console_scripts()
                .iter()
                .chain(d.entry_points.gui_scripts())
                .map(|ep| format!("/bin/{}", ep.name))
                .collect();
            let mut missing = Vec::new();
            let mut layers = std::collections::BTreeMap::<usize, usize>::new();
            for row in &record.entries {
                if is_pyc(&row.path) {
                    continue;
                }
                let Some(path) = resolve_record_path(&d.site_dir, &row.path) else {
                    continue;
                };
                if is_slimming(&path) {
                    continue;
                }
                // The dist's own METADATA/RECORD/WHEEL: `metadata-file-missing`
                // reports those, the cause, once.
                if path
                    .strip_prefix(d.dir.as_str())
                    .is_some_and(|f| matches!(f, "/METADATA" | "/RECORD" | "/WHEEL"))
                {
                    continue;
                }
                if scripts.iter().any(|s| path.ends_with(s.as_str())) {
                    continue;
                }
                if cx.tree.lstat(&path).is_ok() {
                    continue;
                }
                // Compiled in place (`compileall -b`) and the source
                // deleted: Python imports the sourceless `X.pyc` beside the
                // missing `X.py` (issue 11's `py-deleted-legacy-pyc` runs).
                // A `__pycache__/X.cpython-3Y.pyc` alone is never imported.
                if path
                    .strip_suffix(".py")
                    .is_some_and(|stem| cx.tree.lstat(&format!("{stem}.pyc")).is_ok())
                {
                    continue;
                }
                if let Some(l) = cx.removed_by(&path) {
                    *layers.entry(l).or_default() += 1;
                }
                missing.push(path);
            }
            if missing.is_empty() {
                continue;
            }
            let deleted = layers
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(&layer, &n)| (cx.step(layer), n));
            out.push(
                RecordMissingFile {
                    dir: d.dir.clone(),
                    env: facts.env.root.clone(),
                    first: missing[0].clone(),
                    deleted,
                    distribution: d.name.clone(),
                    count: missing.len(),
                    files: missing.into_iter().take(MAX_LISTED).collect(),
                }
                .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_slimming;

    #[test]
    fn slimming_paths() {
        // (path, legitimately slimmed?)
        let cases = [
            ("/v/lib/python3.11/site-packages/pkg/tests/test_a.py", true), // package tests
            ("/v/lib/python3.11/site-packages/pkg/docs/index.rst", true),  // package docs
            ("/v/lib/python3.11/site-packages/pkg/README.md", true),       // markdown
            ("/v/lib/python3.11/site-packages/pkg/core.py", false),        // code
            ("/v/lib/python3.11/site-packages/tests/__init__.py", false), // a top-level `tests` package is code
            ("/v/bin/tests", false),                                      // not in a site dir
        ];
        for (path, want) in cases {
            assert_eq!(is_slimming(path), want, "{path}");
        }
    }
}
