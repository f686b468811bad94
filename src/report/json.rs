//! The `json` format: the [`AuditReport`] itself, pretty-printed.
//!
//! The wire schema is the serde shape of [`AuditReport`] and
//! [`crate::finding::Finding`], versioned by
//! [`crate::report::SCHEMA_VERSION`] and documented field by field, with its
//! stability promise, in `docs/report-json.md`. Changing a field here changes
//! that contract: the tests below pin the required keys so that cannot happen
//! by accident. This module does not define its own wire types and does not
//! stream (one image, one document); JSON lines over many images belong to the
//! caller.

use crate::report::AuditReport;

/// The report as pretty-printed JSON, ending in a newline.
pub fn render(report: &AuditReport) -> String {
    // Serialization cannot fail: every map key is a string and every value
    // is plain data (no `Serialize` impl here returns an error).
    let mut out = serde_json::to_string_pretty(report).expect("an AuditReport always serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;
    use serde_json::{json, Value};

    fn parsed() -> Value {
        serde_json::from_str(&render(&sample_report())).unwrap()
    }

    #[test]
    fn round_trips() {
        let report = sample_report();
        let text = render(&report);
        assert!(text.ends_with("}\n"));
        let value: Value = serde_json::from_str(&text).unwrap();
        // What a consumer parses is exactly the serde value of the report:
        // nothing is lost, added or retyped on the way, and printing it again
        // parses back to the same value.
        assert_eq!(value, serde_json::to_value(&report).unwrap());
        let again: Value = serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(again, value);
    }

    #[test]
    fn top_level_shape() {
        let text = render(&sample_report());
        // Keys come in the documented order (struct order, not sorted).
        let top: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
            .collect();
        assert_eq!(
            top,
            [
                "schema_version",
                "tool",
                "image",
                "environments",
                "findings",
                "summary"
            ]
        );
        let value = parsed();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["tool"]["name"], "imgaudit");
        assert_eq!(value["tool"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            value["summary"],
            json!({
                "errors": 3, "warnings": 1, "infos": 0, "suppressed": 1,
                "environments": 3, "launchers": 3, "distributions": 13
            })
        );
        // Unknown image facts are explicit nulls, not missing keys.
        assert_eq!(value["environments"][2]["python_version"], Value::Null);
        assert_eq!(
            value["image"]["layers"][0]["diff_id"]
                .as_str()
                .unwrap()
                .len(),
            71
        );
        assert_eq!(
            value["environments"][0]["launchers"][0]["runs_at_start"],
            true
        );
    }

    #[test]
    fn findings_have_the_required_and_flattened_fields() {
        let value = parsed();
        let findings = value["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 5);
        for finding in findings {
            for key in ["rule", "severity", "path", "message"] {
                assert!(finding[key].is_string(), "{key} missing in {finding}");
            }
        }
        let record = findings
            .iter()
            .find(|f| f["rule"] == "record-mismatch")
            .unwrap();
        assert_eq!(
            record,
            &json!({
                "rule": "record-mismatch",
                "severity": "error",
                "message": "`requests/api.py` differs from its RECORD entry",
                "path": "/opt/venv/lib/python3.12/site-packages/requests/api.py",
                "layer": 3,
                "created_by": "RUN /bin/sh -c sed -i s/foo/bar/ /opt/venv/lib/python3.12/site-packages/requests/api.py # buildkit",
                "env": "/opt/venv",
                "notes": [
                    "RECORD says sha256=Wfh8ZCYrjY0JzV8d4vdyXbYd9dmhm3DbCZHHnBHHGXY, size 6449",
                    "hint: reinstall `requests` instead of patching it in place"
                ],
                "distribution": "requests",
                "expected_size": 6449,
                "actual_size": 6450
            })
        );
        // Optional keys are omitted, not null; suppression carries the reason.
        let chardetect = findings
            .iter()
            .find(|f| f["path"] == "/usr/bin/chardetect")
            .unwrap();
        assert_eq!(
            chardetect["suppressed"],
            json!({"reason": "Debian ships it without dist-info"})
        );
        assert!(chardetect.get("layer").is_none() && chardetect.get("notes").is_none());
        let budget = findings.last().unwrap();
        assert!(budget.get("env").is_none());
        assert!(budget.get("suppressed").is_none());
    }

    /// Every key the report can contain is documented in `docs/report-json.md`,
    /// and the example there is valid JSON of the current schema version.
    #[test]
    fn docs_cover_every_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report-json.md");
        let docs = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));

        fn keys(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        out.push(key.clone());
                        // Findings' extra keys are rule-specific, documented per rule.
                        if key != "findings" {
                            keys(value, out);
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        keys(&parsed(), &mut all);
        all.extend(crate::finding::CORE_KEYS.iter().map(|k| k.to_string()));
        all.push("reason".to_string());
        for key in all {
            // As `key` or, in a nested row, `parent[].key`.
            assert!(
                docs.contains(&format!("`{key}`")) || docs.contains(&format!(".{key}`")),
                "`{key}` is not documented in {path}"
            );
        }

        let example = docs
            .split("```json\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/report-json.md has a ```json example");
        let example: Value = serde_json::from_str(example).expect("the docs example parses");
        assert_eq!(example["schema_version"], crate::report::SCHEMA_VERSION);
        // The example has the same top-level shape as a real report.
        let real = parsed();
        assert_eq!(
            example.as_object().unwrap().keys().collect::<Vec<_>>(),
            real.as_object().unwrap().keys().collect::<Vec<_>>()
        );
    }
}
