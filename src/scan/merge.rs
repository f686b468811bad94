//! The merge: every shard's `summary-*.jsonl` and per-image reports in one
//! output directory → one report and one exit code.
//!
//! Formats: `text` (one line per image and a total), `json` (`images`: one
//! entry per image with its `digest`, its summary row and its whole JSON
//! report), `sarif` (the per-image SARIF runs in one log, each run's
//! `automationDetails.id` naming its image, so code scanning keeps one
//! category per image instead of replacing one image's alerts with
//! another's) and `junit` (one test suite per image, one test case per
//! rule, failing as the single-image JUnit report does).
//!
//! The exit code: 2 if any image was unreadable (or, with the plan given,
//! not scanned by any shard), else 1 if any image failed its gate, else 0.
//! A `(digest, platform)` recorded by two shards (a retried Kubernetes index
//! that wrote its summary twice cannot, the file name is per index; two
//! overlapping plans can) is counted once, with a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use strum::IntoEnumIterator;

use super::run::{Counts, Gate, Status, SummaryRow};
use super::{PlanEntry, ScanError};
use crate::diag::Code;
use crate::localfile::read_capped;
use crate::report::Format;

/// The merged results.
#[derive(Debug, Default)]
pub struct Merged {
    /// One row per image, sorted by reference and platform.
    pub rows: Vec<SummaryRow>,
    /// Each row's JSON report, when its file was there.
    pub reports: Vec<Option<Value>>,
    /// Duplicates and missing files, one line each.
    pub warnings: Vec<String>,
}

/// Cap on one file a shard wrote (a summary, a report, a SARIF log): the
/// output directory is shared by every shard (a volume, an artifact store),
/// and a file that is not what a shard writes must not fill memory.
const MAX_OUTPUT_BYTES: u64 = 256 << 20;

/// A shard's output file as text: a regular file, at most
/// [`MAX_OUTPUT_BYTES`] (a FIFO in the directory would block the merge).
fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_capped(path, MAX_OUTPUT_BYTES)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

/// A file a summary row names, in `dir`: a plain file name only (not
/// empty, no `/`, not hidden), whatever the row says. The directory is
/// shared by every shard, and a row must not send the merge to read a file
/// elsewhere on the machine (`../x.json`, `/etc/x.json`).
fn output_file(dir: &Path, name: &str) -> Option<PathBuf> {
    (!name.is_empty() && !name.contains('/') && !name.starts_with('.')).then(|| dir.join(name))
}

/// The runs of a SARIF log a shard wrote, when it is one: `runs` an array
/// of objects (the merge writes into each; anything else is not a log
/// imgaudit wrote).
fn sarif_runs(text: &str) -> Option<Vec<serde_json::Map<String, Value>>> {
    let mut log: Value = serde_json::from_str(text).ok()?;
    let Value::Array(runs) = log.get_mut("runs")?.take() else {
        return None;
    };
    runs.into_iter()
        .map(|run| match run {
            Value::Object(run) => Some(run),
            _ => None,
        })
        .collect()
}

/// Read every `summary-*.jsonl` of `dir` (and the reports they name); with
/// `plan`, an entry no shard recorded becomes an unreadable row.
pub fn load(dir: &Path, plan: Option<&[PlanEntry]>) -> Result<Merged, ScanError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| ScanError::io(dir, e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("summary-") && n.ends_with(".jsonl"))
        .collect();
    if names.is_empty() {
        return Err(ScanError::NothingToMerge(dir.display().to_string()));
    }
    names.sort();
    let mut merged = Merged::default();
    let mut by_key: BTreeMap<(String, String), SummaryRow> = BTreeMap::new();
    for name in names {
        let path = dir.join(&name);
        let text = read_text(&path).map_err(|e| ScanError::io(&path, e))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: SummaryRow =
                serde_json::from_str(line).map_err(|e| ScanError::SummaryLine {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: e.to_string(),
                })?;
            let key = (row.digest.clone(), row.platform.clone());
            if by_key.contains_key(&key) {
                merged.warnings.push(format!(
                    "`{}` ({}) is recorded twice (again in `{name}`): counted once",
                    row.digest, row.platform
                ));
                continue;
            }
            by_key.insert(key, row);
        }
    }
    if let Some(plan) = plan {
        let planned: BTreeSet<(&str, &str)> = plan.iter().map(|e| e.key()).collect();
        for e in plan {
            let key = (e.digest.clone(), e.platform.clone());
            by_key.entry(key).or_insert_with(|| SummaryRow {
                reference: e.reference.clone(),
                digest: e.digest.clone(),
                platform: e.platform.clone(),
                base: e.base.clone(),
                status: Status::Unreadable,
                counts: Counts::default(),
                gate: None,
                cached: false,
                seconds: 0.0,
                bytes_pulled: 0,
                report: None,
                error: Some("in the plan, but no shard recorded it (a failed shard?)".into()),
                shard: usize::MAX,
            });
        }
        let extra = by_key
            .keys()
            .filter(|(d, p)| !planned.contains(&(d.as_str(), p.as_str())))
            .count();
        if extra > 0 {
            merged.warnings.push(format!(
                "{extra} image(s) in the summaries are not in the plan"
            ));
        }
    }
    let rows: Vec<SummaryRow> = by_key.into_values().collect();
    let mut finished = from_rows(rows, dir);
    merged.warnings.append(&mut finished.warnings);
    finished.warnings = merged.warnings;
    Ok(finished)
}

/// The merged results of rows already in memory (`scan --registry` in one
/// go), their reports read from `dir`.
pub fn from_rows(mut rows: Vec<SummaryRow>, dir: &Path) -> Merged {
    let mut merged = Merged::default();
    rows.sort_by(|a, b| (&a.reference, &a.platform).cmp(&(&b.reference, &b.platform)));
    for row in &rows {
        let report = row.report.as_deref().and_then(|name| {
            let text = read_text(&output_file(dir, name)?).ok()?;
            serde_json::from_str::<Value>(&text).ok()
        });
        if row.status == Status::Audited && report.is_none() {
            merged.warnings.push(format!(
                "the report of `{}` ({}) is missing or unreadable",
                row.reference, row.platform
            ));
        }
        merged.reports.push(report);
    }
    merged.rows = rows;
    merged
}

impl Merged {
    /// 2 if any image is unreadable, else 1 if any failed its gate, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.rows.iter().any(|r| r.status == Status::Unreadable) {
            2
        } else if self.rows.iter().any(|r| r.gate == Some(Gate::Fail)) {
            1
        } else {
            0
        }
    }

    fn totals(&self) -> Value {
        let count = |f: &dyn Fn(&SummaryRow) -> bool| self.rows.iter().filter(|r| f(r)).count();
        // Saturating: the counts come from files in a shared directory, and
        // two rows claiming `usize::MAX` errors must not overflow the total.
        let sum = |f: &dyn Fn(&SummaryRow) -> u64| {
            self.rows
                .iter()
                .fold(0u64, |total, r| total.saturating_add(f(r)))
        };
        json!({
            "images": self.rows.len(),
            "passed": count(&|r| r.gate == Some(Gate::Pass)),
            "failed": count(&|r| r.gate == Some(Gate::Fail)),
            "unreadable": count(&|r| r.status == Status::Unreadable),
            "cached": count(&|r| r.cached),
            "errors": sum(&|r| r.counts.errors as u64),
            "warnings": sum(&|r| r.counts.warnings as u64),
            "bytes_pulled": sum(&|r| r.bytes_pulled),
        })
    }

    /// The merged report in `format`. `dir` holds the per-image SARIF
    /// files the `sarif` format reads.
    pub fn render(&self, format: Format, dir: &Path) -> Result<String, ScanError> {
        match format {
            Format::Text => Ok(self.text()),
            Format::Json => Ok(self.json()),
            Format::Sarif => self.sarif(dir),
            Format::Junit => Ok(self.junit()),
        }
    }

    fn json(&self) -> String {
        let images: Vec<Value> = self
            .rows
            .iter()
            .zip(&self.reports)
            .map(|(row, report)| {
                // A row serializes to an object: plain data, string keys.
                let mut v = serde_json::to_value(row).expect("a summary row serializes");
                v["report"] = report.clone().unwrap_or(Value::Null);
                v
            })
            .collect();
        let doc = json!({
            "schema_version": crate::report::SCHEMA_VERSION,
            "tool": crate::report::ToolInfo::current(),
            "images": images,
            "summary": self.totals(),
        });
        let mut out = serde_json::to_string_pretty(&doc).expect("a merged report serializes");
        out.push('\n');
        out
    }

    fn text(&self) -> String {
        let esc = |s: &str| crate::escape::for_terminal(s, crate::escape::MAX_LINE).into_owned();
        let mut out = String::new();
        for row in &self.rows {
            let short = esc(row.digest.get(..19).unwrap_or(&row.digest));
            let what = match (row.status, row.gate) {
                (Status::Unreadable, _) => format!(
                    "unreadable: {}",
                    esc(row.error.as_deref().unwrap_or("unknown error"))
                ),
                (Status::Audited, gate) => {
                    let c = row.counts;
                    let mut s = format!(
                        "{} error{}, {} warning{}",
                        c.errors,
                        if c.errors == 1 { "" } else { "s" },
                        c.warnings,
                        if c.warnings == 1 { "" } else { "s" },
                    );
                    if c.environments == 0 {
                        s.push_str(", no Python environment");
                    }
                    if row.cached {
                        s.push_str(" (cached)");
                    }
                    if gate == Some(Gate::Fail) {
                        s.push_str(", fails the gate");
                    }
                    s
                }
            };
            let mark = match (row.status, row.gate) {
                (Status::Unreadable, _) => "ERROR",
                (_, Some(Gate::Fail)) => "FAIL ",
                _ => "ok   ",
            };
            out.push_str(&format!(
                "{mark} {} {} {short}…  {what}\n",
                esc(&row.reference),
                esc(&row.platform)
            ));
        }
        let t = self.totals();
        out.push_str(&format!(
            "{} images: {} passed, {} failed the gate, {} unreadable; {} from the result cache; {} bytes pulled\n",
            t["images"], t["passed"], t["failed"], t["unreadable"], t["cached"], t["bytes_pulled"]
        ));
        out
    }

    fn automation_id(row: &SummaryRow) -> String {
        format!("imgaudit/{}/{}/", row.reference, row.platform)
    }

    fn sarif(&self, dir: &Path) -> Result<String, ScanError> {
        let mut all = Vec::new();
        for row in &self.rows {
            let id = Self::automation_id(row);
            if row.status == Status::Unreadable {
                all.push(json!({
                    "tool": {"driver": {"name": "imgaudit", "version": env!("CARGO_PKG_VERSION")}},
                    "automationDetails": {"id": id},
                    "invocations": [{
                        "executionSuccessful": false,
                        "toolExecutionNotifications": [{
                            "level": "error",
                            "message": {"text": format!("{} ({}): {}", row.reference, row.platform,
                                row.error.as_deref().unwrap_or("unreadable"))},
                        }],
                    }],
                    "results": [],
                }));
                continue;
            }
            let name = row
                .report
                .as_deref()
                .and_then(|r| r.strip_suffix(".json"))
                .map(|stem| format!("{stem}.sarif"));
            let runs = name
                .as_deref()
                .and_then(|n| output_file(dir, n))
                .and_then(|path| read_text(&path).ok())
                .and_then(|text| sarif_runs(&text))
                .ok_or_else(|| {
                    ScanError::MissingOutput(format!(
                        "the SARIF log of `{}` ({}), `{}` in `{}`, is missing or not a SARIF log: run the scan with `--sarif` to merge SARIF",
                        row.reference,
                        row.platform,
                        name.as_deref().unwrap_or("?"),
                        dir.display()
                    ))
                })?;
            for mut run in runs {
                run.insert("automationDetails".into(), json!({ "id": id }));
                all.push(Value::Object(run));
            }
        }
        let log = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": all,
        });
        let mut out = serde_json::to_string_pretty(&log).expect("a SARIF log serializes");
        out.push('\n');
        Ok(out)
    }

    fn junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut junit = Report::new("imgaudit scan");
        for (row, report) in self.rows.iter().zip(&self.reports) {
            let name = format!("{} ({})", row.reference, row.platform);
            let mut suite = TestSuite::new(name.as_str());
            if row.status == Status::Unreadable {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(row.error.clone().unwrap_or_default());
                suite.add_test_case(TestCase::new("read", status));
                junit.add_test_suite(suite);
                continue;
            }
            let findings: Vec<&Value> = report
                .as_ref()
                .and_then(|r| r["findings"].as_array())
                .into_iter()
                .flatten()
                .collect();
            for code in Code::iter() {
                let rule: &str = code.into();
                // As the single-image JUnit report: an active warning or
                // error of the rule fails its test case.
                let failing: Vec<&&Value> = findings
                    .iter()
                    .filter(|f| {
                        f["rule"] == rule
                            && f.get("suppressed").is_none_or(Value::is_null)
                            && matches!(f["severity"].as_str(), Some("error" | "warning"))
                    })
                    .collect();
                let status = match failing.first() {
                    None => TestCaseStatus::success(),
                    Some(first) => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(first["message"].as_str().unwrap_or_default());
                        s.set_type(first["severity"].as_str().unwrap_or_default());
                        let lines: Vec<String> = failing
                            .iter()
                            .map(|f| {
                                format!(
                                    "{}: {}",
                                    f["path"].as_str().unwrap_or_default(),
                                    f["message"].as_str().unwrap_or_default()
                                )
                            })
                            .collect();
                        s.set_description(lines.join("\n"));
                        s
                    }
                };
                let mut case = TestCase::new(rule, status);
                case.set_classname(name.as_str());
                suite.add_test_case(case);
            }
            junit.add_test_suite(suite);
        }
        junit.to_string().expect("a JUnit report serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `summary-*.jsonl` line as a shard writes it.
    fn line(digest: &str, report: &str, errors: u64, bytes_pulled: u64) -> String {
        json!({
            "ref": "oci:/images:app", "digest": digest, "platform": "linux/amd64",
            "status": "audited", "errors": errors, "warnings": 0, "infos": 0,
            "suppressed": 0, "environments": 1, "gate": "fail", "cached": false,
            "seconds": 0.5, "bytes_pulled": bytes_pulled, "report": report, "shard": 0,
        })
        .to_string()
    }

    /// An output directory inside a scratch directory that also holds a
    /// file the merge must never read (`secret.*`, beside `out/`).
    fn shared_dir(summary: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("summary-0.jsonl"), summary).unwrap();
        for (name, body) in files {
            std::fs::write(out.join(name), body).unwrap();
        }
        let secret = r#"{"runs":[{"secret":"from outside the output directory"}],"findings":[]}"#;
        std::fs::write(root.path().join("secret.json"), secret).unwrap();
        std::fs::write(root.path().join("secret.sarif"), secret).unwrap();
        (root, out)
    }

    #[test]
    fn a_summary_row_cannot_send_the_merge_outside_the_output_directory() {
        let d = |n: u8| format!("sha256:{}", format!("{n:x}").repeat(64));
        for report in ["../secret.json", "/ROOT/secret.json", ".hidden.json", ""] {
            let (root, out) = shared_dir("", &[]);
            let report = report.replace("/ROOT", &root.path().display().to_string());
            let summary = format!("{}\n", line(&d(1), &report, 1, 0));
            std::fs::write(out.join("summary-0.jsonl"), summary).unwrap();
            let merged = load(&out, None).unwrap();
            assert_eq!(merged.reports, vec![None], "{report}");
            for format in [Format::Text, Format::Json, Format::Junit] {
                let body = merged.render(format, &out).unwrap();
                assert!(!body.contains("outside the output"), "{report}: {body}");
            }
            // The SARIF log it names is not read: the merge says it is
            // missing instead of merging another file's runs.
            let err = merged.render(Format::Sarif, &out).unwrap_err().to_string();
            assert!(err.contains("is missing or not a SARIF log"), "{err}");
        }
    }

    #[test]
    fn sarif_logs_whose_runs_are_not_objects_are_refused_not_a_panic() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let summary = format!("{}\n", line(&digest, "a.json", 1, 0));
        for log in [
            r#"{"runs":[1]}"#,
            r#"{"runs":[{}, "x"]}"#,
            r#"{"runs":{}}"#,
            "[]",
        ] {
            let (_root, out) = shared_dir(&summary, &[("a.json", "{}"), ("a.sarif", log)]);
            let merged = load(&out, None).unwrap();
            let err = merged.render(Format::Sarif, &out).unwrap_err().to_string();
            assert!(err.contains("not a SARIF log"), "{log}: {err}");
        }
        // A log imgaudit writes is merged, its run named by the image.
        let log =
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"imgaudit"}},"results":[]}]}"#;
        let (_root, out) = shared_dir(&summary, &[("a.json", "{}"), ("a.sarif", log)]);
        let body = load(&out, None)
            .unwrap()
            .render(Format::Sarif, &out)
            .unwrap();
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            doc["runs"][0]["automationDetails"]["id"],
            "imgaudit/oci:/images:app/linux/amd64/"
        );
    }

    #[test]
    fn totals_of_hostile_counts_saturate() {
        let d = |n: u8| format!("sha256:{}", format!("{n:x}").repeat(64));
        let max = usize::MAX as u64;
        let summary = format!(
            "{}\n{}\n",
            line(&d(1), "a.json", max, u64::MAX),
            line(&d(2), "b.json", max, u64::MAX)
        );
        let (_root, out) = shared_dir(&summary, &[("a.json", "{}"), ("b.json", "{}")]);
        let merged = load(&out, None).unwrap();
        let doc: Value = serde_json::from_str(&merged.render(Format::Json, &out).unwrap()).unwrap();
        assert_eq!(doc["summary"]["errors"], u64::MAX);
        assert_eq!(doc["summary"]["bytes_pulled"], u64::MAX);
        assert_eq!(merged.exit_code(), 1);
    }

    #[test]
    fn the_text_report_escapes_every_field_of_a_row() {
        let summary = format!("{}\n", line("sha256:\u{1b}]0;owned\u{7}", "a.json", 0, 0));
        let (_root, out) = shared_dir(&summary, &[("a.json", "{}")]);
        let text = load(&out, None)
            .unwrap()
            .render(Format::Text, &out)
            .unwrap();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains(r"sha256:\u{1b}]0;owned"), "{text}");
    }
}
