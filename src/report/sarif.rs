//! The `sarif` format: SARIF 2.1.0 for code-scanning services.
//!
//! Spec: OASIS *Static Analysis Results Interchange Format (SARIF) Version
//! 2.1.0*, <https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html>;
//! the output is validated against the vendored schema
//! `testdata/schemas/sarif-schema-2.1.0.json` in the tests below. The object
//! model is `serde-sarif`'s.
//!
//! One log, one `run`:
//!
//! - `tool.driver` lists every rule from [`Code::iter`] (id, name,
//!   `shortDescription` = [`Code::description`], `helpUri` into
//!   `docs/rules.md`, `defaultConfiguration.level` from
//!   [`Code::default_severity`]), so a viewer can describe rules that did not
//!   fire.
//! - Each finding is a `result` with `ruleId`/`ruleIndex`, `level`
//!   (`error`/`warning`/`note`), the message plus its notes, and one location:
//!   the path inside the image, relative to the `IMAGE_ROOT` base id (SARIF
//!   §3.4.4; declared in `originalUriBaseIds` as `file:///`), percent-encoded
//!   as a URI reference. The Python environment is a logical location;
//!   layer index, `created_by` and rule-specific fields are result
//!   `properties`.
//! - Suppressed findings carry `suppressions: [{kind: "external",
//!   status: "accepted", justification: <reason>}]` (§3.35): the ignore lives
//!   in `imgaudit.toml`, outside the artifact.
//! - `partialFingerprints["imgaudit/v1"]` is a 64-bit FNV-1a hash of rule and
//!   path, stable across runs, versions and platforms, so code scanning can
//!   track a result from one image build to the next (§3.27.17).
//!
//! Not here: line/column regions (findings are about whole files), artifacts
//! contents, invocation details such as timing.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool, ToolComponent,
};
use strum::IntoEnumIterator;

use crate::diag::Code;
use crate::finding::{Finding, Severity};
use crate::report::AuditReport;

/// The `$schema` written into the log: the OASIS schema, errata 01.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The base id every result location is relative to: the root of the merged image.
pub const IMAGE_ROOT: &str = "IMAGE_ROOT";

/// Where the project lives; rule help links point into its `docs/rules.md`.
pub const INFORMATION_URI: &str = "https://github.com/imgaudit/imgaudit";

/// The documentation URL of a rule: `…/docs/rules.md#<code>`.
pub fn help_uri(code: Code) -> String {
    format!("{INFORMATION_URI}/blob/main/{}", code.docs_path())
}

/// The report as a SARIF 2.1.0 log, pretty-printed JSON ending in a newline.
pub fn render(report: &AuditReport) -> String {
    // Serialization cannot fail: all map keys are strings.
    let mut out =
        serde_json::to_string_pretty(&to_sarif(report)).expect("a SARIF log always serializes");
    out.push('\n');
    out
}

/// The report as a `serde-sarif` log, for callers that merge or post-process.
pub fn to_sarif(report: &AuditReport) -> Sarif {
    let rules: Vec<ReportingDescriptor> = Code::iter().map(rule_descriptor).collect();
    let driver = ToolComponent::builder()
        .name(report.tool.name.clone())
        .version(report.tool.version.clone())
        .semantic_version(report.tool.version.clone())
        .information_uri(INFORMATION_URI)
        .rules(rules)
        .build();

    let base_ids = BTreeMap::from([(
        IMAGE_ROOT.to_string(),
        ArtifactLocation::builder()
            .uri("file:///")
            .description(message(
                "The root of the image filesystem, merged from its layers",
            ))
            .build(),
    )]);

    let mut image = BTreeMap::new();
    image.insert("source".to_string(), json!(report.image.source));
    image.insert("format".to_string(), json!(report.image.format));
    for (key, value) in [
        ("reference", &report.image.reference),
        ("configDigest", &report.image.config_digest),
        ("architecture", &report.image.architecture),
        ("os", &report.image.os),
    ] {
        if let Some(value) = value {
            image.insert(key.to_string(), json!(value));
        }
    }
    let run_properties = PropertyBag::builder()
        .additional_properties(BTreeMap::from([(
            "image".to_string(),
            Value::Object(image.into_iter().collect()),
        )]))
        .build();

    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .original_uri_base_ids(base_ids)
        .results(report.findings.iter().map(result).collect::<Vec<_>>())
        .properties(run_properties)
        .build();

    Sarif::builder()
        .schema(SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn message(text: impl Into<String>) -> Message {
    Message::builder().text(text.into()).build()
}

fn level_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule_descriptor(code: Code) -> ReportingDescriptor {
    ReportingDescriptor::builder()
        .id(code.as_str())
        .name(format!("{code:?}"))
        .short_description(
            MultiformatMessageString::builder()
                .text(code.description())
                .build(),
        )
        .help(
            MultiformatMessageString::builder()
                .text(format!("{}. See {}", code.description(), help_uri(code)))
                .markdown(format!(
                    "{}. See [`{code}`]({}).",
                    code.description(),
                    help_uri(code)
                ))
                .build(),
        )
        .help_uri(help_uri(code))
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level_name(code.default_severity())))
                .build(),
        )
        .build()
}

fn result(finding: &Finding) -> SarifResult {
    let rule_index = Code::iter()
        .position(|c| c == finding.code)
        .expect("every code is in Code::iter()");
    let level = match finding.severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
    };
    // The first line is the message (what viewers show when space is short);
    // notes and hints follow, one per line.
    let mut text = finding.message.clone();
    for note in &finding.notes {
        text.push('\n');
        text.push_str(&note.to_string());
    }

    let mut location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(
                    ArtifactLocation::builder()
                        .uri(image_uri(&finding.location.path))
                        .uri_base_id(IMAGE_ROOT)
                        .build(),
                )
                .build(),
        )
        .build();
    if let Some(env) = &finding.env {
        location.logical_locations = Some(vec![LogicalLocation::builder()
            .name(env.clone())
            .fully_qualified_name(env.clone())
            .kind("namespace")
            .build()]);
    }

    let mut properties = BTreeMap::new();
    if let Some(layer) = finding.location.layer {
        properties.insert("layer".to_string(), json!(layer));
    }
    if let Some(created_by) = &finding.location.created_by {
        properties.insert("createdBy".to_string(), json!(created_by));
    }
    if let Some(env) = &finding.env {
        properties.insert("environment".to_string(), json!(env));
    }
    if !finding.fields.is_empty() {
        properties.insert("details".to_string(), Value::Object(finding.fields.clone()));
    }

    let mut result = SarifResult::builder()
        .rule_id(finding.code.as_str())
        .rule_index(rule_index as i64)
        .level(level)
        .message(message(text))
        .locations(vec![location])
        .partial_fingerprints(BTreeMap::from([(
            "imgaudit/v1".to_string(),
            fingerprint(finding),
        )]))
        .build();
    if !properties.is_empty() {
        result.properties = Some(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        );
    }
    if let Some(suppression) = &finding.suppressed {
        result.suppressions = Some(vec![Suppression::builder()
            .kind(json!("external"))
            .status(json!("accepted"))
            .justification(suppression.reason.clone())
            .build()]);
    }
    result
}

/// The path inside the image as a URI reference relative to `IMAGE_ROOT`:
/// leading `/` dropped, everything outside RFC 3986 `pchar` and `/`
/// percent-encoded (UTF-8), `:` too so a first segment can never read as a
/// scheme. The root itself is `./`.
pub fn image_uri(path: &str) -> String {
    let relative = path.trim_start_matches('/');
    if relative.is_empty() {
        return "./".to_string();
    }
    let mut uri = String::with_capacity(relative.len());
    for byte in relative.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b'@' => uri.push(byte as char),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

/// 64-bit FNV-1a of `rule NUL path`, as 16 hex digits. FNV, not
/// `DefaultHasher`, because the value must never change between Rust
/// releases or platforms: code scanning matches results across runs by it.
fn fingerprint(finding: &Finding) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let key = format!("{}\0{}", finding.code, finding.location.path);
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{sample_report, ImageInfo};

    fn schema_validator() -> jsonschema::Validator {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/schemas/sarif-schema-2.1.0.json"
        );
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}")),
        )
        .unwrap();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&schema)
            .expect("the vendored SARIF schema compiles")
    }

    fn assert_valid(validator: &jsonschema::Validator, log: &Value) {
        let errors: Vec<String> = validator
            .iter_errors(log)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "SARIF schema violations:\n{}",
            errors.join("\n")
        );
    }

    #[test]
    fn validates_against_the_sarif_schema() {
        let validator = schema_validator();
        let log: Value = serde_json::from_str(&render(&sample_report())).unwrap();
        assert_valid(&validator, &log);

        // An empty report is valid too (results: []).
        let empty = AuditReport::new(ImageInfo::default(), vec![], vec![]);
        let log: Value = serde_json::from_str(&render(&empty)).unwrap();
        assert_valid(&validator, &log);
        assert_eq!(log["runs"][0]["results"], json!([]));
    }

    #[test]
    fn the_validator_rejects_broken_logs() {
        // Guard against a validator that accepts anything.
        let validator = schema_validator();
        let mut log: Value = serde_json::from_str(&render(&sample_report())).unwrap();
        log["runs"][0]["results"][0]["level"] = json!("fatal");
        assert!(!validator.is_valid(&log));
        let mut log: Value = serde_json::from_str(&render(&sample_report())).unwrap();
        log["runs"][0]["results"][0]
            .as_object_mut()
            .unwrap()
            .remove("message");
        assert!(!validator.is_valid(&log));
        // Formats are checked too: `helpUri` must be an absolute URI.
        let mut log: Value = serde_json::from_str(&render(&sample_report())).unwrap();
        log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = json!("docs/rules.md");
        assert!(!validator.is_valid(&log));
    }

    #[test]
    fn driver_lists_every_rule() {
        let log: Value = serde_json::from_str(&render(&sample_report())).unwrap();
        let driver = &log["runs"][0]["tool"]["driver"];
        assert_eq!(driver["name"], "imgaudit");
        assert_eq!(driver["informationUri"], INFORMATION_URI);
        let rules = driver["rules"].as_array().unwrap();
        assert_eq!(rules.len(), Code::iter().count());
        for (rule, code) in rules.iter().zip(Code::iter()) {
            assert_eq!(rule["id"], code.as_str());
            assert_eq!(rule["shortDescription"]["text"], code.description());
            assert_eq!(
                rule["helpUri"],
                format!("https://github.com/imgaudit/imgaudit/blob/main/docs/rules.md#{code}")
            );
        }
        let malformed = rules
            .iter()
            .find(|r| r["id"] == "metadata-malformed")
            .unwrap();
        assert_eq!(malformed["defaultConfiguration"]["level"], "error");
    }

    #[test]
    fn results_carry_location_properties_and_suppressions() {
        let log: Value = serde_json::from_str(&render(&sample_report())).unwrap();
        let run = &log["runs"][0];
        assert_eq!(run["originalUriBaseIds"]["IMAGE_ROOT"]["uri"], "file:///");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 5);

        let record = results
            .iter()
            .find(|r| r["ruleId"] == "record-mismatch")
            .unwrap();
        assert_eq!(record["level"], "error");
        assert_eq!(
            record["ruleIndex"],
            Code::iter()
                .position(|c| c == Code::RecordMismatch)
                .unwrap()
        );
        assert_eq!(
            record["locations"][0]["physicalLocation"]["artifactLocation"],
            json!({
                "uri": "opt/venv/lib/python3.12/site-packages/requests/api.py",
                "uriBaseId": "IMAGE_ROOT"
            })
        );
        assert_eq!(
            record["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "/opt/venv"
        );
        assert_eq!(record["properties"]["layer"], 3);
        assert!(record["properties"]["createdBy"]
            .as_str()
            .unwrap()
            .contains("sed -i"));
        assert_eq!(record["properties"]["details"]["distribution"], "requests");
        assert_eq!(
            record["message"]["text"],
            "`requests/api.py` differs from its RECORD entry\n\
             RECORD says sha256=Wfh8ZCYrjY0JzV8d4vdyXbYd9dmhm3DbCZHHnBHHGXY, size 6449\n\
             hint: reinstall `requests` instead of patching it in place"
        );
        assert!(record.get("suppressions").is_none());

        let warning = results
            .iter()
            .find(|r| r["ruleId"] == "shim-not-executable")
            .unwrap();
        assert_eq!(warning["level"], "warning");

        let suppressed = results
            .iter()
            .find(|r| {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    == "usr/bin/chardetect"
            })
            .unwrap();
        assert_eq!(
            suppressed["suppressions"],
            json!([{
                "kind": "external",
                "status": "accepted",
                "justification": "Debian ships it without dist-info"
            }])
        );

        // Image-wide: no logical location, the root as `./`.
        let budget = results
            .iter()
            .find(|r| r["ruleId"] == "size-budget-exceeded")
            .unwrap();
        assert!(budget["locations"][0].get("logicalLocations").is_none());
        assert_eq!(
            budget["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "./"
        );
    }

    #[test]
    fn info_is_a_note() {
        let mut finding = Finding::new(Code::DependencyConflict, "/x", "m");
        finding.severity = Severity::Info;
        let report = AuditReport::new(ImageInfo::default(), vec![], vec![finding]);
        let log: Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(log["runs"][0]["results"][0]["level"], "note");
        assert_valid(&schema_validator(), &log);
    }

    #[test]
    fn fingerprints_are_stable_and_depend_on_rule_and_path_only() {
        let a = Finding::new(Code::RecordMismatch, "/opt/venv/bin/x", "one");
        let b = Finding::new(Code::RecordMismatch, "/opt/venv/bin/x", "two").layer(4, None);
        let c = Finding::new(Code::ShimMissing, "/opt/venv/bin/x", "one");
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        // Pinned: a change here breaks result tracking in code scanning.
        assert_eq!(fingerprint(&a), "981311c844afa174");
    }

    #[test]
    fn hostile_paths_become_valid_uri_references() {
        let cases = [
            ("/", "./"),
            ("/usr/bin/python3", "usr/bin/python3"),
            ("/opt/my app/bin/tool", "opt/my%20app/bin/tool"),
            ("/a:b/c", "a%3Ab/c"),
            ("/x/100%/#frag?q", "x/100%25/%23frag%3Fq"),
            ("/srv/naïve/☃", "srv/na%C3%AFve/%E2%98%83"),
            ("/we/ird\\name\t", "we/ird%5Cname%09"),
        ];
        for (path, uri) in cases {
            assert_eq!(image_uri(path), uri, "for {path:?}");
        }
        // And the whole log stays schema-valid with such paths.
        let findings = cases
            .iter()
            .map(|(path, _)| Finding::new(Code::RecordMismatch, *path, "m"))
            .collect();
        let report = AuditReport::new(ImageInfo::default(), vec![], findings);
        let log: Value = serde_json::from_str(&render(&report)).unwrap();
        assert_valid(&schema_validator(), &log);
    }
}
