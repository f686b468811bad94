//! Golden reports: every committed fixture image's findings and text report,
//! pinned with `insta` snapshots (`tests/it/snapshots/`), so that every
//! rule's wording is pinned and a refactor of the analyzers that changes any
//! finding fails here (issue 8: "run every fixture and compare findings
//! before/after the refactor"). Each fixture is audited twice: as is, and
//! with a tiny `[budget]` so that `size-budget-exceeded` fires too. Together
//! the fixtures make every rule fire at least once (asserted).
//!
//! After an intended change of wording, review and accept the new snapshots
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test it
//! fixtures` and read the diff).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use strum::IntoEnumIterator;

use crate::util::imgaudit_in;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tags() -> Vec<String> {
    crate::util::fixture_tags()
}

/// `imgaudit ARGS` from the crate root (fixture paths as the docs write
/// them); returns `exit code`, stdout.
fn run(args: &[&str]) -> (i32, String) {
    let out = imgaudit_in(Some(root()), args, None);
    assert!(
        out.code == 0 || out.code == 1,
        "imgaudit {args:?} exited {}: {}",
        out.code,
        out.stderr
    );
    (out.code, out.stdout)
}

/// The findings of a JSON report, pretty-printed (the rest of the report,
/// tool version included, is not the analyzers' output).
fn findings(json: &str) -> (String, Vec<Value>) {
    let report: Value = serde_json::from_str(json).unwrap();
    let findings = report["findings"].as_array().unwrap().clone();
    (serde_json::to_string_pretty(&findings).unwrap(), findings)
}

#[test]
fn every_fixture_report_is_pinned() {
    let budget = tempfile::tempdir().unwrap();
    let budget_toml = budget.path().join("budget.toml");
    std::fs::write(
        &budget_toml,
        "[budget]\ntotal = \"1KB\"\nlayer = \"1KB\"\nwaste = \"1B\"\n",
    )
    .unwrap();
    let budget_toml = budget_toml.display().to_string();
    let mut fired = BTreeSet::new();
    let mut fields = BTreeSet::new();
    // The native-layer fixtures (issue 12) are pinned as `native-TAG`.
    let images = tags()
        .into_iter()
        .map(|t| (format!("testdata/images/oci:{t}"), t))
        .chain(
            crate::native::native_tags()
                .into_iter()
                .map(|t| (format!("testdata/images/native:{t}"), format!("native-{t}"))),
        );
    for (image, tag) in images {
        let (code, text) = run(&[&image]);
        insta::assert_snapshot!(format!("{tag}.txt"), format!("exit {code}\n{text}"));
        let (code, json) = run(&[&image, "--format", "json"]);
        let (pretty, list) = findings(&json);
        insta::assert_snapshot!(format!("{tag}.json"), format!("exit {code}\n{pretty}"));
        let (code, json) = run(&[&image, "--format", "json", "--config", &budget_toml]);
        let (pretty, budget_list) = findings(&json);
        insta::assert_snapshot!(
            format!("{tag}.budget.json"),
            format!("exit {code}\n{pretty}")
        );
        for f in list.iter().chain(&budget_list) {
            let rule = f["rule"].as_str().unwrap().to_string();
            for key in f.as_object().unwrap().keys() {
                if !imgaudit::finding::CORE_KEYS.contains(&key.as_str()) {
                    fields.insert((rule.clone(), key.clone()));
                }
            }
            fired.insert(rule);
        }
    }
    let every: BTreeSet<String> = imgaudit::diag::Code::iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(fired, every, "some rule fires on no fixture");

    // Every rule-specific field is documented under its rule in
    // docs/report-json.md's "Rule-specific fields".
    let docs = std::fs::read_to_string(root().join("docs/report-json.md")).unwrap();
    let section = docs
        .split("## Rule-specific fields")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/report-json.md has a `## Rule-specific fields` section");
    for (rule, key) in fields {
        let under_rule = section
            .split(&format!("### `{rule}`"))
            .nth(1)
            .and_then(|s| s.split("\n### ").next())
            .unwrap_or_else(|| panic!("no `### `{rule}`` in docs/report-json.md"));
        assert!(
            under_rule.contains(&format!("| `{key}` |")),
            "`{key}` of `{rule}` is not documented in docs/report-json.md"
        );
    }
}
