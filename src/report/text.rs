//! The `text` format: diagnostics for people at a terminal.
//!
//! Findings are grouped by Python environment (in the order the environments
//! were found), then an "image-wide" group for findings that belong to none.
//! Each finding reads like a rustc/uv diagnostic:
//!
//! ```text
//! error[record-mismatch]: `requests/api.py` differs from its RECORD entry
//!   --> /opt/venv/lib/python3.12/site-packages/requests/api.py (layer 3: RUN sed -i …)
//!   = note: RECORD says sha256=…, size 6449
//!   = hint: reinstall `requests` instead of patching it in place
//! ```
//!
//! and the report ends with one summary line. Suppressed findings only count
//! in that line, unless `verbose` shows them (dimmed, with their reason);
//! `quiet` prints active errors and the summary line only.
//!
//! Colour is plain ANSI SGR codes, used only when the caller passes
//! `color: true`; [`use_color`] decides that from the terminal and the
//! `NO_COLOR` (<https://no-color.org>) and `CLICOLOR`/`CLICOLOR_FORCE`
//! (<https://bixense.com/clicolors/>) conventions. This module writes no
//! bytes itself and never looks at the terminal.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;

use crate::finding::{Finding, Severity};
use crate::report::{AuditReport, EnvironmentInfo, Summary};

/// How to render the text report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Use ANSI colours (see [`use_color`]).
    pub color: bool,
    /// Also show suppressed findings, dimmed, with their reason.
    pub verbose: bool,
    /// Show only active errors and the summary line.
    pub quiet: bool,
    /// The gate (`fail-on`) when it is below error: `quiet` then also shows
    /// the active findings at or above it, since they are what fails the run.
    pub gate: Option<Severity>,
}

/// Whether to colour output going to a stream that is (`is_tty`) or is not a
/// terminal, honouring the environment: a non-empty `NO_COLOR` turns colour
/// off; otherwise `CLICOLOR_FORCE` set and not `0` turns it on; otherwise
/// `CLICOLOR=0` or `TERM=dumb` turns it off; otherwise colour follows `is_tty`.
pub fn use_color(is_tty: bool) -> bool {
    use_color_with(is_tty, |name| std::env::var_os(name))
}

/// [`use_color`] with the environment passed in, so it can be tested without
/// touching the process environment.
fn use_color_with(is_tty: bool, var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != OsStr::new("0")) {
        return true;
    }
    if set("CLICOLOR").is_some_and(|v| v == OsStr::new("0"))
        || set("TERM").is_some_and(|v| v == OsStr::new("dumb"))
    {
        return false;
    }
    is_tty
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[1;36m";
const GREEN: &str = "\x1b[1;32m";
const BLUE: &str = "\x1b[1;34m";

/// Wraps text in an SGR code when colour is on.
struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, severity: Severity) -> String {
        let code = match severity {
            Severity::Error => RED,
            Severity::Warning => YELLOW,
            Severity::Info => CYAN,
        };
        self.paint(code, &severity.to_string())
    }
}

/// Render the whole text report.
pub fn render(report: &AuditReport, options: &TextOptions) -> String {
    let paint = Paint {
        color: options.color,
    };
    let mut out = String::new();

    if options.quiet {
        for finding in report.findings.iter().filter(|f| {
            f.is_active()
                && (f.severity == Severity::Error
                    || options.gate.is_some_and(|gate| f.severity >= gate))
        }) {
            write_finding(&mut out, finding, &paint);
            out.push('\n');
        }
        out.push_str(&summary_line(&report.summary, options.color));
        out.push('\n');
        return out;
    }

    for (heading, findings) in groups(report) {
        let shown: Vec<&Finding> = findings
            .into_iter()
            .filter(|f| f.is_active() || options.verbose)
            .collect();
        if shown.is_empty() {
            continue;
        }
        out.push_str(&paint.paint(BOLD, &heading));
        out.push_str("\n\n");
        for finding in shown {
            if finding.is_active() {
                write_finding(&mut out, finding, &paint);
            } else {
                // Dim the whole block, uncoloured inside, so a suppressed
                // finding never looks like an active one.
                let mut block = String::new();
                write_finding(&mut block, finding, &Paint { color: false });
                for line in block.lines() {
                    out.push_str(&paint.paint(DIM, line));
                    out.push('\n');
                }
            }
            out.push('\n');
        }
    }
    out.push_str(&summary_line(&report.summary, options.color));
    out.push('\n');
    out
}

/// The last line of the text report, e.g. `2 errors, 1 warning, 0 suppressed
/// across 2 environments, 14 launchers`, or `no problems found in …` when no
/// finding is active.
pub fn summary_line(summary: &Summary, color: bool) -> String {
    let paint = Paint { color };
    let scope = format!(
        "{}, {}",
        plural(summary.environments, "environment", "environments"),
        plural(summary.launchers, "launcher", "launchers"),
    );
    if summary.active() == 0 && summary.environments == 0 {
        // "No problems found in 0 environments" reads as a pass; say that
        // nothing was checked (`require-python` makes it fail the gate).
        let mut line = format!(
            "{}: no Python environment found in the image",
            paint.paint(YELLOW, "nothing audited")
        );
        if summary.suppressed > 0 {
            let _ = write!(line, " ({} suppressed)", summary.suppressed);
        }
        return line;
    }
    if summary.active() == 0 {
        let mut line = format!("{} in {scope}", paint.paint(GREEN, "no problems found"));
        if summary.suppressed > 0 {
            let _ = write!(line, " ({} suppressed)", summary.suppressed);
        }
        return line;
    }
    let count = |n: usize, one: &str, many: &str, code: &str| {
        let text = plural(n, one, many);
        if n > 0 {
            paint.paint(code, &text)
        } else {
            text
        }
    };
    let mut parts = vec![
        count(summary.errors, "error", "errors", RED),
        count(summary.warnings, "warning", "warnings", YELLOW),
    ];
    if summary.infos > 0 {
        parts.push(count(summary.infos, "info", "infos", CYAN));
    }
    parts.push(format!("{} suppressed", summary.suppressed));
    format!("{} across {scope}", parts.join(", "))
}

/// Escape control characters (`\x1b`, `\n`, `\r`, …) so that a hostile file
/// name in an image can neither recolour the terminal nor forge extra lines
/// (one helper for every text output: [`crate::escape`]).
fn clean(text: &str) -> Cow<'_, str> {
    // Clipped too: one value from a crafted file (a megabyte-long entry
    // point) must not make a megabyte line.
    crate::escape::for_terminal(text, crate::escape::MAX_LINE)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Findings grouped for display: each known environment in order, then any
/// environment only the findings name, then image-wide findings.
fn groups(report: &AuditReport) -> Vec<(String, Vec<&Finding>)> {
    let mut groups: Vec<(String, Vec<&Finding>)> = report
        .environment_roots()
        .into_iter()
        .map(|root| {
            let info = report.environments.iter().find(|e| e.root == root);
            let findings = report
                .findings
                .iter()
                .filter(|f| f.env.as_deref() == Some(root))
                .collect();
            (env_heading(root, info), findings)
        })
        .collect();
    groups.push((
        "image-wide".to_string(),
        report.findings.iter().filter(|f| f.env.is_none()).collect(),
    ));
    groups
}

fn env_heading(root: &str, info: Option<&EnvironmentInfo>) -> String {
    let mut heading = format!("environment {}", clean(root));
    if let Some(info) = info {
        let _ = write!(heading, " ({}", clean(&info.kind));
        if let Some(version) = &info.python_version {
            let _ = write!(heading, ", Python {}", clean(version));
        }
        heading.push(')');
    }
    heading
}

fn write_finding(out: &mut String, finding: &Finding, paint: &Paint) {
    let _ = write!(
        out,
        "{}[{}]: {}",
        paint.severity(finding.severity),
        paint.paint(BOLD, finding.code.as_str()),
        clean(&finding.message)
    );
    if let Some(suppression) = &finding.suppressed {
        let _ = write!(out, " (suppressed: {})", clean(&suppression.reason));
    }
    out.push('\n');

    let _ = write!(
        out,
        "  {} {}",
        paint.paint(BLUE, "-->"),
        clean(&finding.location.path)
    );
    match (finding.location.layer, &finding.location.created_by) {
        (Some(layer), Some(created_by)) => {
            let _ = write!(
                out,
                " (layer {layer}: {})",
                crate::step::shorten(created_by)
            );
        }
        (Some(layer), None) => {
            let _ = write!(out, " (layer {layer})");
        }
        (None, _) => {}
    }
    out.push('\n');

    for note in &finding.notes {
        let (label, text) = (note.label(), note.text());
        let prefix = format!("  {} {label}: ", paint.paint(BLUE, "="));
        // Continuation lines line up under the text of the first one.
        let indent = " ".repeat(format!("  = {label}: ").len());
        for (i, line) in text.lines().enumerate() {
            out.push_str(if i == 0 { &prefix } else { &indent });
            out.push_str(&clean(line));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::report::{sample_report, ImageInfo};
    use std::ffi::OsString;

    #[test]
    fn plain_report() {
        let report = sample_report();
        let got = render(&report, &TextOptions::default());
        let expected = "\
environment /opt/venv (venv, Python 3.12)

error[entry-point-without-metadata]: launcher `alembic` has no entry point in any installed distribution
  --> /opt/venv/bin/alembic (layer 4: RUN rm -rf /opt/venv/lib/python3.12/site-packages/*.dist-in…)
  = hint: keep `*.dist-info` directories when slimming the image

error[record-mismatch]: `requests/api.py` differs from its RECORD entry
  --> /opt/venv/lib/python3.12/site-packages/requests/api.py (layer 3: RUN sed -i s/foo/bar/ /opt/venv/lib/python3.12/site-package…)
  = note: RECORD says sha256=Wfh8ZCYrjY0JzV8d4vdyXbYd9dmhm3DbCZHHnBHHGXY, size 6449
  = hint: reinstall `requests` instead of patching it in place

warning[shim-not-executable]: launcher `tool` is not executable
  --> /opt/venv/bin/tool (layer 2: RUN pip install --no-cache-dir alembic==1.13.1 requests==2.…)

image-wide

error[size-budget-exceeded]: merged filesystem is 612 MB, over the `budget.total` of 500 MB
  --> /

3 errors, 1 warning, 1 suppressed across 3 environments, 3 launchers
";
        assert_eq!(got, expected, "got:\n{got}");
        assert!(!got.contains('\x1b'));
    }

    #[test]
    fn verbose_shows_suppressed_findings_with_their_reason() {
        let report = sample_report();
        let got = render(
            &report,
            &TextOptions {
                verbose: true,
                ..TextOptions::default()
            },
        );
        assert!(got.contains(
            "environment /usr (system, Python 3.11)

error[entry-point-without-metadata]: launcher `chardetect` has no entry point in any installed distribution (suppressed: Debian ships it without dist-info)
  --> /usr/bin/chardetect
"
        ), "got:\n{got}");
        // Dimmed, and nothing else coloured inside, when colour is on.
        let got = render(
            &report,
            &TextOptions {
                verbose: true,
                color: true,
                ..TextOptions::default()
            },
        );
        assert!(got.contains("\x1b[2merror[entry-point-without-metadata]: launcher `chardetect` has no entry point in any installed distribution (suppressed: Debian ships it without dist-info)\x1b[0m\n\x1b[2m  --> /usr/bin/chardetect\x1b[0m\n"), "got:\n{got}");
    }

    #[test]
    fn quiet_prints_errors_and_the_summary_only() {
        let report = sample_report();
        let got = render(
            &report,
            &TextOptions {
                quiet: true,
                ..TextOptions::default()
            },
        );
        let headers: Vec<&str> = got
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
            .collect();
        assert_eq!(
            headers,
            [
                "error[entry-point-without-metadata]: launcher `alembic` has no entry point in any installed distribution",
                "error[record-mismatch]: `requests/api.py` differs from its RECORD entry",
                "error[size-budget-exceeded]: merged filesystem is 612 MB, over the `budget.total` of 500 MB",
                "3 errors, 1 warning, 1 suppressed across 3 environments, 3 launchers",
            ]
        );
    }

    #[test]
    fn quiet_keeps_the_warnings_that_fail_a_warning_gate() {
        // See: issue 13, defect 4. With `fail-on = "warning"` the warning is
        // what fails the run, so `-q` must not hide it.
        let report = sample_report();
        let got = render(
            &report,
            &TextOptions {
                quiet: true,
                gate: Some(Severity::Warning),
                ..TextOptions::default()
            },
        );
        assert!(
            got.contains("warning[shim-not-executable]: launcher `tool` is not executable"),
            "{got}"
        );
        assert!(!got.contains("environment /opt/venv"), "{got}");
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let report = sample_report();
        let got = render(
            &report,
            &TextOptions {
                color: true,
                ..TextOptions::default()
            },
        );
        // Errors red, warnings yellow, rule ids bold.
        assert!(got.contains("\x1b[1;31merror\x1b[0m[\x1b[1mrecord-mismatch\x1b[0m]: "));
        assert!(got.contains("\x1b[1;33mwarning\x1b[0m[\x1b[1mshim-not-executable\x1b[0m]: "));
        assert!(got.ends_with(
            "\x1b[1;31m3 errors\x1b[0m, \x1b[1;33m1 warning\x1b[0m, 1 suppressed across 3 environments, 3 launchers\n"
        ));
        // Same text once the codes are stripped.
        let stripped = strip_ansi(&got);
        assert_eq!(stripped, render(&report, &TextOptions::default()));
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn clean_report() {
        let mut report = sample_report();
        report.findings.retain(|f| !f.is_active());
        report.summary = Summary::from_findings(&report.findings, &report.environments);
        assert_eq!(
            render(&report, &TextOptions::default()),
            "no problems found in 3 environments, 3 launchers (1 suppressed)\n"
        );
        let empty = crate::report::AuditReport::new(ImageInfo::default(), vec![], vec![]);
        assert_eq!(
            render(&empty, &TextOptions::default()),
            "nothing audited: no Python environment found in the image\n"
        );
        assert_eq!(
            render(
                &empty,
                &TextOptions {
                    color: true,
                    ..TextOptions::default()
                }
            ),
            "\x1b[1;33mnothing audited\x1b[0m: no Python environment found in the image\n"
        );
    }

    #[test]
    fn summary_line_pluralises_and_shows_infos_only_when_present() {
        let summary = Summary {
            errors: 1,
            warnings: 2,
            infos: 0,
            suppressed: 0,
            environments: 1,
            launchers: 1,
            distributions: 0,
        };
        assert_eq!(
            summary_line(&summary, false),
            "1 error, 2 warnings, 0 suppressed across 1 environment, 1 launcher"
        );
        let summary = Summary {
            errors: 0,
            warnings: 0,
            infos: 2,
            ..summary
        };
        assert_eq!(
            summary_line(&summary, false),
            "0 errors, 0 warnings, 2 infos, 0 suppressed across 1 environment, 1 launcher"
        );
    }

    #[test]
    fn findings_of_unlisted_environments_get_their_own_group_and_multiline_notes_align() {
        let finding = Finding::new(
            Code::RecordMissingFile,
            "/srv/env/lib/x.dist-info",
            "2 files listed in RECORD are absent",
        )
        .env("/srv/env")
        .layer(1, None)
        .note("missing:\n/srv/env/bin/a\n/srv/env/bin/b");
        let report = crate::report::AuditReport::new(ImageInfo::default(), vec![], vec![finding]);
        assert_eq!(
            render(&report, &TextOptions::default()),
            "\
environment /srv/env

error[record-missing-file]: 2 files listed in RECORD are absent
  --> /srv/env/lib/x.dist-info (layer 1)
  = note: missing:
          /srv/env/bin/a
          /srv/env/bin/b

1 error, 0 warnings, 0 suppressed across 0 environments, 0 launchers
"
        );
    }

    #[test]
    fn use_color_honours_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        // Plain: follow the terminal.
        assert!(use_color_with(true, env(&[])));
        assert!(!use_color_with(false, env(&[])));
        // NO_COLOR wins, even over CLICOLOR_FORCE; empty NO_COLOR is unset.
        assert!(!use_color_with(true, env(&[("NO_COLOR", "1")])));
        assert!(!use_color_with(
            false,
            env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])
        ));
        assert!(use_color_with(true, env(&[("NO_COLOR", "")])));
        // CLICOLOR_FORCE forces colour into a pipe, unless it is `0`.
        assert!(use_color_with(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!use_color_with(false, env(&[("CLICOLOR_FORCE", "0")])));
        // CLICOLOR=0 and TERM=dumb turn a terminal's colour off.
        assert!(!use_color_with(true, env(&[("CLICOLOR", "0")])));
        assert!(!use_color_with(true, env(&[("TERM", "dumb")])));
        assert!(use_color_with(true, env(&[("TERM", "xterm-256color")])));
    }

    #[test]
    fn hostile_names_cannot_inject_escapes_or_lines() {
        let finding = Finding::new(
            Code::ShimMissing,
            "/opt/\x1b[31mevil\nerror[fake]: x",
            "launcher `\x1b]0;title\x07` is missing",
        )
        .env("/opt/\x1b[2Jvenv")
        .layer(1, Some("RUN /bin/sh -c touch \x1b[1m".into()))
        .hint("remove \r`x`");
        let report = crate::report::AuditReport::new(ImageInfo::default(), vec![], vec![finding]);
        let got = render(&report, &TextOptions::default());
        assert!(
            !got.contains('\x1b') && !got.contains('\r') && !got.contains('\x07'),
            "{got:?}"
        );
        assert_eq!(
            got,
            "\
environment /opt/\\u{1b}[2Jvenv

error[shim-missing]: launcher `\\u{1b}]0;title\\u{7}` is missing
  --> /opt/\\u{1b}[31mevil\\nerror[fake]: x (layer 1: RUN touch \\u{1b}[1m)
  = hint: remove \\r`x`

1 error, 0 warnings, 0 suppressed across 0 environments, 0 launchers
"
        );
    }

    // See: issue 14
    // Proves: a finding quoting a megabyte from a crafted file renders as
    // lines of bounded length.
    #[test]
    fn r14_long_values_are_clipped() {
        let huge = "m".repeat(1 << 20);
        let finding = Finding::new(Code::ShimMissing, format!("/{huge}"), huge.clone())
            .note(format!("note: {huge}"));
        let report = crate::report::AuditReport::new(ImageInfo::default(), vec![], vec![finding]);
        let got = render(&report, &TextOptions::default());
        let longest = got.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(longest < crate::escape::MAX_LINE + 64, "{longest}");
        assert!(got.contains("(1048576 bytes in all)"), "{}", &got[..200]);
    }
}
