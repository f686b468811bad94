//! The sink: where the config meets the findings, cargo-deny's
//! `diag/sink.rs`.
//!
//! It owns the one place that changes findings after the checks: `[rules]`
//! severity overrides (and `off`), `[[ignore]]` suppressions with their
//! reasons, the ignores that matched nothing, and the exit-code gate. Checks
//! push findings with the rule's default severity and never read the config;
//! reports render what the sink left and never decide the exit code.

use crate::config::{Config, UnmatchedIgnore};
use crate::finding::{Finding, Suppression};

/// Apply the config to `findings`, in place:
///
/// 1. `[rules]` overrides set each finding's severity; `off` removes the
///    finding entirely (it is in no report and counts nowhere).
/// 2. `[[ignore]]` entries mark the findings they match as suppressed with
///    the entry's reason. Suppressed findings stay in the list (every
///    report shows them as such) but do not count for [`gate`].
///    When several entries match, the first in file order gives the reason;
///    all of them count as matched. A finding already suppressed keeps its
///    suppression.
///
/// Returns the ignores that matched no remaining finding, in file order;
/// an ignore that only matched findings of a rule set to `off` is among
/// them, since it no longer does anything.
///
/// Glob semantics: `path` is matched against the whole of
/// `finding.location.path` (absolute, `/`-separated) with
/// `literal_separator(false)`, so `*` and `?` match `/` too and
/// `/usr/bin/*` covers `/usr/bin/sub/tool`.
pub fn apply(config: &Config, findings: &mut Vec<Finding>) -> Vec<UnmatchedIgnore> {
    findings.retain_mut(|finding| match config.rules.get(&finding.code) {
        None => true,
        Some(level) => match level.severity() {
            Some(severity) => {
                finding.severity = severity;
                true
            }
            None => false,
        },
    });

    let mut matched = vec![false; config.ignores.len()];
    for finding in findings.iter_mut() {
        for (i, ignore) in config.ignores.iter().enumerate() {
            if !ignore.matches(finding) {
                continue;
            }
            matched[i] = true;
            if finding.suppressed.is_none() {
                finding.suppressed = Some(Suppression {
                    reason: ignore.reason.clone(),
                });
            }
        }
    }

    config
        .ignores
        .iter()
        .zip(matched)
        .filter(|(_, matched)| !matched)
        .map(|(ignore, _)| UnmatchedIgnore {
            at: ignore.at.clone(),
            rule: ignore.rule,
            path: ignore.path.clone(),
        })
        .collect()
}

/// The gate: true when any active (unsuppressed) finding is at least
/// [`Config::fail_on`]. Call after [`apply`].
pub fn gate(config: &Config, findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.is_active() && config.fail_on.threshold().is_some_and(|t| f.severity >= t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::finding::Severity;

    fn parse(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_str(text, "imgaudit.toml")
    }

    fn findings() -> Vec<Finding> {
        vec![
            Finding::new(Code::EntryPointWithoutMetadata, "/usr/bin/chardetect", "m1"),
            Finding::new(Code::EntryPointWithoutMetadata, "/opt/venv/bin/tool", "m2"),
            Finding::new(
                Code::RecordMismatch,
                "/usr/lib/python3/dist-packages/a.py",
                "m3",
            ),
            Finding::new(Code::ShimMissing, "/opt/venv/bin/gone", "m4"),
            Finding::new(Code::MetadataMalformed, "/usr/bin/sub/x", "m5")
                .with_severity(Severity::Warning),
        ]
    }

    fn summary(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}{}",
                    f.code,
                    f.severity,
                    f.location.path,
                    f.suppressed
                        .as_ref()
                        .map(|s| format!(" (suppressed: {})", s.reason))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn apply_severity_overrides_and_off() {
        let config = parse("[rules]\nshim-missing = \"off\"\nrecord-mismatch = \"warning\"\nmetadata-malformed = \"error\"\n").unwrap();
        let mut list = findings();
        let unmatched = apply(&config, &mut list);
        assert!(unmatched.is_empty());
        assert_eq!(
            summary(&list),
            [
                "entry-point-without-metadata error /usr/bin/chardetect",
                "entry-point-without-metadata error /opt/venv/bin/tool",
                "record-mismatch warning /usr/lib/python3/dist-packages/a.py",
                "metadata-malformed error /usr/bin/sub/x",
            ]
        );
    }

    #[test]
    fn apply_ignores_by_rule_path_and_both() {
        let config = parse(
            r#"
[[ignore]]  # by rule
rule = "record-mismatch"
reason = "patched on purpose"
[[ignore]]  # by path glob; `*` crosses `/`
path = "/usr/bin/*"
reason = "debian"
[[ignore]]  # by rule and path: only the venv launcher
rule = "entry-point-without-metadata"
path = "/opt/venv/**"
reason = "vendored"
[[ignore]]  # by rule and path, path does not match: unmatched
rule = "shim-missing"
path = "/usr/**"
reason = "never"
"#,
        )
        .unwrap();
        let mut list = findings();
        let unmatched = apply(&config, &mut list);
        assert_eq!(
            summary(&list),
            [
                "entry-point-without-metadata error /usr/bin/chardetect (suppressed: debian)",
                "entry-point-without-metadata error /opt/venv/bin/tool (suppressed: vendored)",
                "record-mismatch error /usr/lib/python3/dist-packages/a.py (suppressed: patched on purpose)",
                "shim-missing error /opt/venv/bin/gone",
                "metadata-malformed warning /usr/bin/sub/x (suppressed: debian)",
            ]
        );
        assert_eq!(unmatched.len(), 1);
        assert_eq!(
            unmatched[0].to_string(),
            "imgaudit.toml:12:1: [[ignore]] for rule `shim-missing` at path `/usr/**` matched no finding"
        );
        // The active shim-missing error still fails the default gate...
        assert!(gate(&config, &list));
        // ...and nothing fails once it is gone.
        list.retain(|f| f.code != Code::ShimMissing);
        assert!(!gate(&config, &list));
    }

    #[test]
    fn apply_first_ignore_gives_the_reason_and_off_findings_leave_ignores_unmatched() {
        let config = parse(
            r#"
[rules]
shim-missing = "off"
[[ignore]]
path = "/usr/**"
reason = "first"
[[ignore]]
rule = "record-mismatch"
reason = "second"
[[ignore]]
rule = "shim-missing"
reason = "rule is off anyway"
"#,
        )
        .unwrap();
        let mut list = findings();
        let unmatched = apply(&config, &mut list);
        assert_eq!(
            list[2].suppressed.as_ref().map(|s| s.reason.as_str()),
            Some("first")
        );
        let unmatched: Vec<_> = unmatched.iter().map(ToString::to_string).collect();
        assert_eq!(
            unmatched,
            ["imgaudit.toml:10:1: [[ignore]] for rule `shim-missing` matched no finding"]
        );
    }

    #[test]
    fn gate_levels() {
        let warning =
            Finding::new(Code::MetadataMalformed, "/a", "w").with_severity(Severity::Warning);
        let info = {
            let mut f = Finding::new(Code::RecordMismatch, "/b", "i");
            f.severity = Severity::Info;
            f
        };
        let mut suppressed_error = Finding::new(Code::RecordMismatch, "/c", "e");
        suppressed_error.suppressed = Some(Suppression { reason: "r".into() });

        let on_error = Config::default();
        let on_warning = parse("fail-on = \"warning\"").unwrap();
        // Nothing: pass.
        assert!(!gate(&on_error, &[]));
        // A suppressed error never fails.
        assert!(!gate(&on_error, std::slice::from_ref(&suppressed_error)));
        assert!(!gate(&on_warning, std::slice::from_ref(&suppressed_error)));
        // A warning fails only `fail-on = "warning"`.
        assert!(!gate(&on_error, std::slice::from_ref(&warning)));
        assert!(gate(&on_warning, std::slice::from_ref(&warning)));
        // Info never fails.
        assert!(!gate(&on_warning, std::slice::from_ref(&info)));
        // An active error fails both.
        let error = Finding::new(Code::RecordMismatch, "/d", "e");
        assert!(gate(&on_error, std::slice::from_ref(&error)));
        assert!(gate(&on_warning, &[error]));
    }
}
