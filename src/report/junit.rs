//! The `junit` format: JUnit XML for the test tab of CI systems.
//!
//! The mapping, chosen so that a CI shows one stable row per rule and
//! environment, and a row turns red exactly when that rule fails there:
//!
//! - one `<testsuite>` per Python environment, named by its root, in the order
//!   found (every environment, even a clean one, so the rows do not come and
//!   go), then one named `image` for image-wide findings (those without an
//!   environment);
//! - in each suite, one `<testcase>` per rule ([`Code::iter`] order), named by
//!   the rule id, `classname` = the suite name;
//! - a testcase *fails* when the suite has an active finding of that rule at
//!   severity warning or error: `message` = the first such finding's message,
//!   `type` = its severity, the text = every such finding, one per line, as
//!   `<path>: <message>`;
//! - otherwise it *passes*; active info findings (never a gate failure) and
//!   suppressed findings are listed in the testcase's `<system-out>`, the
//!   latter with their reason.
//!
//! The XML is written by `quick-junit` (Jenkins JUnit schema,
//! <https://llg.cubic.org/docs/junit/>) with no timestamps or durations, so
//! the output is deterministic.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use strum::IntoEnumIterator;

use crate::diag::Code;
use crate::finding::{Finding, Severity};
use crate::report::{AuditReport, EnvironmentInfo};

/// The name of the suite that holds image-wide findings.
pub const IMAGE_SUITE: &str = "image";

/// The report as JUnit XML.
pub fn render(report: &AuditReport) -> String {
    // Writing into a `Vec` cannot fail, and every string is valid UTF-8.
    to_junit(report)
        .to_string()
        .expect("a JUnit report always serializes")
}

/// The report as a `quick-junit` report, for callers that merge suites.
pub fn to_junit(report: &AuditReport) -> Report {
    let mut junit = Report::new(format!("imgaudit {}", report.image.source));

    for root in report.environment_roots() {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.env.as_deref() == Some(root))
            .collect();
        let info = report.environments.iter().find(|e| e.root == root);
        junit.add_test_suite(suite(root, info, &findings));
    }
    let image_wide: Vec<&Finding> = report.findings.iter().filter(|f| f.env.is_none()).collect();
    let mut image = suite(IMAGE_SUITE, None, &image_wide);
    image.add_property(Property::new("source", report.image.source.as_str()));
    if let Some(reference) = &report.image.reference {
        image.add_property(Property::new("reference", reference.as_str()));
    }
    junit.add_test_suite(image);
    junit
}

fn suite(name: &str, info: Option<&EnvironmentInfo>, findings: &[&Finding]) -> TestSuite {
    let mut suite = TestSuite::new(name);
    if let Some(info) = info {
        suite.add_property(Property::new("kind", info.kind.as_str()));
        if let Some(version) = &info.python_version {
            suite.add_property(Property::new("python-version", version.as_str()));
        }
    }
    for code in Code::iter() {
        let of_code: Vec<&Finding> = findings
            .iter()
            .copied()
            .filter(|f| f.code == code)
            .collect();
        suite.add_test_case(test_case(name, code, &of_code));
    }
    suite
}

fn test_case(suite: &str, code: Code, findings: &[&Finding]) -> TestCase {
    let failing: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| f.is_active() && f.severity >= Severity::Warning)
        .collect();
    let status = match failing.first() {
        None => TestCaseStatus::success(),
        Some(first) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(first.message.as_str())
                .set_type(first.severity.to_string())
                .set_description(
                    failing
                        .iter()
                        .map(|f| format!("{}: {}", f.location.path, f.message))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            status
        }
    };
    let mut case = TestCase::new(code.as_str(), status);
    case.set_classname(suite);

    let mut out = Vec::new();
    for finding in findings {
        match &finding.suppressed {
            Some(suppression) => out.push(format!(
                "suppressed: {}: {} (reason: {})",
                finding.location.path, finding.message, suppression.reason
            )),
            None if finding.severity == Severity::Info => out.push(format!(
                "info: {}: {}",
                finding.location.path, finding.message
            )),
            None => {}
        }
    }
    if !out.is_empty() {
        case.set_system_out(out.join("\n"));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{sample_report, ImageInfo};

    fn parsed(report: &AuditReport) -> Report {
        let xml = render(report);
        Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn status_of<'a>(report: &'a Report, suite: &str, case: &str) -> &'a TestCase {
        report
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == suite)
            .unwrap_or_else(|| panic!("no suite {suite}"))
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == case)
            .unwrap_or_else(|| panic!("no case {case} in {suite}"))
    }

    #[test]
    fn one_suite_per_environment_and_one_case_per_rule() {
        let report = sample_report();
        let junit = parsed(&report);
        let names: Vec<&str> = junit.test_suites.iter().map(|s| s.name.as_str()).collect();
        // The clean `/usr/local` is there too; `image` comes last.
        assert_eq!(names, ["/opt/venv", "/usr", "/usr/local", "image"]);
        let rules = Code::iter().count();
        for suite in &junit.test_suites {
            assert_eq!(suite.tests, rules, "{}", suite.name.as_str());
            let cases: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
            let codes: Vec<&str> = Code::iter().map(Code::as_str).collect();
            assert_eq!(cases, codes);
            assert!(suite
                .test_cases
                .iter()
                .all(|c| c.classname.as_ref().map(|n| n.as_str()) == Some(suite.name.as_str())));
        }
        let failures: Vec<usize> = junit.test_suites.iter().map(|s| s.failures).collect();
        // /opt/venv: entry-point-without-metadata, record-mismatch and the
        // shim-not-executable warning; /usr: only a suppressed finding;
        // image: the budget.
        assert_eq!(failures, [3, 0, 0, 1]);
        assert_eq!(junit.tests, 4 * rules);
        assert_eq!(junit.failures, 4);
        assert_eq!(junit.errors, 0);
    }

    #[test]
    fn failures_carry_message_type_and_every_finding() {
        let junit = parsed(&sample_report());
        match &status_of(&junit, "/opt/venv", "record-mismatch").status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                ty,
                description,
                ..
            } => {
                assert_eq!(
                    message.as_ref().unwrap().as_str(),
                    "`requests/api.py` differs from its RECORD entry"
                );
                assert_eq!(ty.as_ref().unwrap().as_str(), "error");
                assert_eq!(
                    description.as_ref().unwrap().as_str(),
                    "/opt/venv/lib/python3.12/site-packages/requests/api.py: `requests/api.py` differs from its RECORD entry"
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        match &status_of(&junit, "/opt/venv", "shim-not-executable").status {
            TestCaseStatus::NonSuccess { ty, .. } => {
                assert_eq!(ty.as_ref().unwrap().as_str(), "warning")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn suppressed_only_passes_with_a_note() {
        let junit = parsed(&sample_report());
        let case = status_of(&junit, "/usr", "entry-point-without-metadata");
        assert!(matches!(case.status, TestCaseStatus::Success { .. }));
        assert_eq!(
            case.system_out.as_ref().unwrap().as_str(),
            "suppressed: /usr/bin/chardetect: launcher `chardetect` has no entry point in any installed distribution (reason: Debian ships it without dist-info)"
        );
        let clean = status_of(&junit, "/usr/local", "record-mismatch");
        assert!(matches!(clean.status, TestCaseStatus::Success { .. }));
        assert!(clean.system_out.is_none());
    }

    #[test]
    fn several_findings_one_failure_and_info_passes() {
        let findings = vec![
            Finding::new(Code::RecordMismatch, "/e/b.py", "b differs").env("/e"),
            Finding::new(Code::RecordMismatch, "/e/a.py", "a differs").env("/e"),
            {
                let mut f = Finding::new(Code::DependencyConflict, "/e/x.dist-info", "x <1 wanted")
                    .env("/e");
                f.severity = Severity::Info;
                f
            },
        ];
        let report = AuditReport::new(ImageInfo::default(), vec![], findings);
        let junit = parsed(&report);
        // The environment only findings name still gets its suite.
        assert_eq!(junit.test_suites[0].name.as_str(), "/e");
        assert_eq!(junit.test_suites[0].failures, 1);
        match &status_of(&junit, "/e", "record-mismatch").status {
            TestCaseStatus::NonSuccess {
                message,
                description,
                ..
            } => {
                // Sorted by path: a before b.
                assert_eq!(message.as_ref().unwrap().as_str(), "a differs");
                assert_eq!(
                    description.as_ref().unwrap().as_str(),
                    "/e/a.py: a differs\n/e/b.py: b differs"
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        let info = status_of(&junit, "/e", "dependency-conflict");
        assert!(matches!(info.status, TestCaseStatus::Success { .. }));
        assert_eq!(
            info.system_out.as_ref().unwrap().as_str(),
            "info: /e/x.dist-info: x <1 wanted"
        );
    }

    #[test]
    fn xml_structure() {
        let xml = render(&sample_report());
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"imgaudit app.tar\""
        ));
        assert_eq!(xml.matches("<testsuite ").count(), 4);
        assert_eq!(xml.matches("<testcase ").count(), 4 * Code::iter().count());
        assert_eq!(xml.matches("<failure ").count(), 4);
        // Markup in messages is escaped, not interpreted.
        let finding = Finding::new(Code::RecordMismatch, "/a<b>&\"c\"", "`<script>` & co");
        let report = AuditReport::new(ImageInfo::default(), vec![], vec![finding]);
        let xml = render(&report);
        assert!(
            xml.contains("message=\"`&lt;script&gt;` &amp; co\""),
            "{xml}"
        );
        let junit = parsed(&report);
        assert_eq!(junit.failures, 1);
        assert!(!xml.contains("timestamp") && !xml.contains("time="));
    }
}
