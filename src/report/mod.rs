//! Reports: the one place that turns audit results into bytes.
//!
//! This module owns the report *input*, [`AuditReport`] (what was audited,
//! which Python environments were found, the findings and their summary), and
//! the four output formats, one file each:
//!
//! | format | file | for | spec |
//! |---|---|---|---|
//! | `text` | [`text`] | people at a terminal | rustc/uv-style diagnostics |
//! | `json` | [`json`] | scripts and dashboards | `docs/report-json.md`, schema version [`SCHEMA_VERSION`] |
//! | `sarif` | [`sarif`] | code scanning (GitHub, GitLab) | SARIF 2.1.0 (OASIS) |
//! | `junit` | [`junit`] | CI test tabs | Jenkins JUnit XML, as written by `quick-junit` |
//!
//! Every format is a pure function of an [`AuditReport`] returning a
//! `String`; [`write_report`] writes one into any [`std::io::Write`]. Nothing
//! here reads images, runs checks, applies the config or decides the exit
//! code: checks return data, `crate::sink` applies the config and gates.
//! Findings are sorted with [`crate::finding::sort_findings`] by
//! [`AuditReport::new`], so every format is deterministic. The views of the
//! image and its environments are `From` impls (`views.rs`).

pub mod json;
pub mod junit;
pub mod sarif;
pub mod text;
mod views;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::finding::{sort_findings, Finding, Severity};

/// Version of the JSON report schema (`docs/report-json.md`). Bumped only on
/// a breaking change: removing or renaming a field, or changing its type.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a report shows. Serialized as is by the `json` format.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that wrote the report.
    pub tool: ToolInfo,
    /// The image audited.
    pub image: ImageInfo,
    /// Every Python environment found, findings or not.
    pub environments: Vec<EnvironmentInfo>,
    /// All findings, suppressed ones included, sorted with [`sort_findings`].
    pub findings: Vec<Finding>,
    /// Counts over `findings` and `environments`.
    pub summary: Summary,
}

impl AuditReport {
    /// Environment roots in report order, then any root only a finding names
    /// (so such findings get a group or suite rather than vanishing).
    pub fn environment_roots(&self) -> Vec<&str> {
        let mut roots: Vec<&str> = self.environments.iter().map(|e| e.root.as_str()).collect();
        for finding in &self.findings {
            if let Some(env) = finding.env.as_deref() {
                if !roots.contains(&env) {
                    roots.push(env);
                }
            }
        }
        roots
    }

    /// Assemble a report: sorts `findings` and computes the [`Summary`].
    pub fn new(
        image: ImageInfo,
        environments: Vec<EnvironmentInfo>,
        mut findings: Vec<Finding>,
    ) -> AuditReport {
        sort_findings(&mut findings);
        let summary = Summary::from_findings(&findings, &environments);
        AuditReport {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            image,
            environments,
            findings,
            summary,
        }
    }
}

/// Name and version of the tool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolInfo {
    /// `imgaudit`.
    pub name: String,
    /// The crate version, e.g. `0.1.0`.
    pub version: String,
}

impl ToolInfo {
    /// This build of imgaudit.
    pub fn current() -> ToolInfo {
        ToolInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The image audited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// What the user passed: a path, `path:tag`, or `-` for stdin.
    pub source: String,
    /// The input format: `docker-archive`, `oci-layout`, `oci-archive`, …
    pub format: String,
    /// The tag, when the input names one (`RepoTags`, `org.opencontainers.image.ref.name`).
    pub reference: Option<String>,
    /// `sha256:…` digest of the image config blob.
    pub config_digest: Option<String>,
    /// The manifest digest a registry reference resolved to (for an index,
    /// the chosen platform's manifest); registry images only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// From the image config, e.g. `amd64`.
    pub architecture: Option<String>,
    /// From the image config, e.g. `linux`.
    pub os: Option<String>,
    /// Layers, bottom first.
    pub layers: Vec<LayerInfo>,
}

/// One layer of the image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LayerInfo {
    /// 0-based position, bottom first; the `layer` of a finding refers to this.
    pub index: usize,
    /// Digest of the stored (possibly compressed) blob.
    pub digest: Option<String>,
    /// Digest of the uncompressed tar (`rootfs.diff_ids[index]`).
    pub diff_id: Option<String>,
    /// The blob's media type, when the manifest gives one.
    pub media_type: Option<String>,
    /// Stored size in bytes (compressed when the blob is).
    pub size: u64,
    /// The history entry's `created_by` (the Dockerfile step).
    pub created_by: Option<String>,
}

/// One Python environment found in the image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnvironmentInfo {
    /// Its root, e.g. `/opt/venv` or `/usr`; findings refer to it by this.
    pub root: String,
    /// `venv`, `system`, `usr-local`, …
    pub kind: String,
    /// e.g. `3.12`.
    pub python_version: Option<String>,
    /// The interpreter path, e.g. `/opt/venv/bin/python`.
    pub interpreter: Option<String>,
    /// Where its launchers live, e.g. `/opt/venv/bin`.
    pub bin_dir: String,
    /// Its `site-packages`/`dist-packages` directories.
    pub site_dirs: Vec<String>,
    /// Number of installed distributions.
    pub distributions: usize,
    /// Launchers found in `bin_dir`.
    pub launchers: Vec<LauncherInfo>,
}

/// A launcher (console-script shim) in an environment's `bin/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LauncherInfo {
    /// Absolute path in the image.
    pub path: String,
    /// The template that wrote it: `pip`, `sh-exec`, `env`, `easy-install`, …
    pub template: String,
    /// The interpreter its shebang or `exec` line names.
    pub interpreter: Option<String>,
    /// The module it imports.
    pub module: Option<String>,
    /// The entry point name it loads.
    pub entry_point: Option<String>,
    /// Named by the image `Entrypoint` or `Cmd`, so it runs when the container starts.
    pub runs_at_start: bool,
    /// Symlinks elsewhere on `PATH` that run this launcher (pipx, `uv tool`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// Counts for the summary line and CI dashboards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Active (unsuppressed) findings of severity error.
    pub errors: usize,
    /// Active findings of severity warning.
    pub warnings: usize,
    /// Active findings of severity info.
    pub infos: usize,
    /// Suppressed findings, any severity.
    pub suppressed: usize,
    /// Python environments found.
    pub environments: usize,
    /// Launchers across all environments.
    pub launchers: usize,
    /// Installed distributions across all environments.
    pub distributions: usize,
}

impl Summary {
    /// Count `findings` (active per severity, suppressed in one bucket) and `environments`.
    pub fn from_findings(findings: &[Finding], environments: &[EnvironmentInfo]) -> Summary {
        let mut summary = Summary {
            environments: environments.len(),
            launchers: environments.iter().map(|e| e.launchers.len()).sum(),
            distributions: environments.iter().map(|e| e.distributions).sum(),
            ..Summary::default()
        };
        for finding in findings {
            if !finding.is_active() {
                summary.suppressed += 1;
                continue;
            }
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
            }
        }
        summary
    }

    /// Active findings of any severity.
    pub fn active(&self) -> usize {
        self.errors + self.warnings + self.infos
    }
}

/// An output format, as named by `--format` and `--output FORMAT=FILE`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Human-readable diagnostics ([`text`]).
    #[default]
    Text,
    /// The versioned JSON report ([`json`]).
    Json,
    /// SARIF 2.1.0 ([`sarif`]).
    Sarif,
    /// JUnit XML ([`junit`]).
    Junit,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 4] = [Format::Text, Format::Json, Format::Sarif, Format::Junit];

    /// The name users type: `text`, `json`, `sarif`, `junit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `--format` or `--output` value was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Not one of the format names.
    #[error("unknown format `{0}`, expected one of `text`, `json`, `sarif`, `junit`")]
    Unknown(String),
    /// `--output` without `=FILE`.
    #[error("invalid output `{0}`, expected `FORMAT=FILE`, e.g. `sarif=imgaudit.sarif`")]
    MissingFile(String),
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Format, FormatError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| FormatError::Unknown(s.to_string()))
    }
}

/// One `--output FORMAT=FILE` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputTarget {
    /// The format to write.
    pub format: Format,
    /// Where to write it.
    pub path: PathBuf,
}

impl FromStr for OutputTarget {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<OutputTarget, FormatError> {
        match s.split_once('=') {
            Some((format, path)) if !path.is_empty() => Ok(OutputTarget {
                format: format.parse()?,
                path: PathBuf::from(path),
            }),
            _ => Err(FormatError::MissingFile(s.to_string())),
        }
    }
}

/// Render `report` in `format`; `text` options only matter for [`Format::Text`].
pub fn render(report: &AuditReport, format: Format, text: &text::TextOptions) -> String {
    match format {
        Format::Text => text::render(report, text),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Junit => junit::render(report),
    }
}

/// Render `report` in `format` and write it to `out`.
pub fn write_report(
    out: &mut impl io::Write,
    report: &AuditReport,
    format: Format,
    text: &text::TextOptions,
) -> io::Result<()> {
    out.write_all(render(report, format, text).as_bytes())
}

/// A small report shared by the format tests: two environments (one clean),
/// image-wide findings, a suppressed one, notes, hints, rule fields.
#[cfg(test)]
pub(crate) fn sample_report() -> AuditReport {
    use crate::diag::Code;
    use crate::finding::Suppression;

    let run_pip = Some(
        "/bin/sh -c pip install --no-cache-dir alembic==1.13.1 requests==2.32.3   # buildkit"
            .to_string(),
    );
    let findings = vec![
        Finding::new(
            Code::RecordMismatch,
            "/opt/venv/lib/python3.12/site-packages/requests/api.py",
            "`requests/api.py` differs from its RECORD entry",
        )
        .env("/opt/venv")
        .layer(3, Some("RUN /bin/sh -c sed -i s/foo/bar/ /opt/venv/lib/python3.12/site-packages/requests/api.py # buildkit".into()))
        .field("distribution", "requests")
        .field("expected_size", 6449)
        .field("actual_size", 6450)
        .note("RECORD says sha256=Wfh8ZCYrjY0JzV8d4vdyXbYd9dmhm3DbCZHHnBHHGXY, size 6449")
        .hint("reinstall `requests` instead of patching it in place"),
        Finding::new(
            Code::EntryPointWithoutMetadata,
            "/opt/venv/bin/alembic",
            "launcher `alembic` has no entry point in any installed distribution",
        )
        .env("/opt/venv")
        .layer(4, Some("RUN /bin/sh -c rm -rf /opt/venv/lib/python3.12/site-packages/*.dist-info # buildkit".into()))
        .hint("keep `*.dist-info` directories when slimming the image"),
        Finding::new(
            Code::ShimNotExecutable,
            "/opt/venv/bin/tool",
            "launcher `tool` is not executable",
        )
        .with_severity(crate::finding::Severity::Warning)
        .env("/opt/venv")
        .layer(2, run_pip),
        Finding::new(
            Code::EntryPointWithoutMetadata,
            "/usr/bin/chardetect",
            "launcher `chardetect` has no entry point in any installed distribution",
        )
        .env("/usr"),
        Finding::new(
            Code::SizeBudgetExceeded,
            "/",
            "merged filesystem is 612 MB, over the `budget.total` of 500 MB",
        )
        .field("budget", 500_000_000u64)
        .field("actual", 612_000_000u64),
    ];
    let mut findings = findings;
    findings[3].suppressed = Some(Suppression {
        reason: "Debian ships it without dist-info".into(),
    });
    let launcher = |path: &str, module: &str| LauncherInfo {
        path: path.into(),
        template: "pip".into(),
        interpreter: Some("/opt/venv/bin/python".into()),
        module: Some(module.into()),
        entry_point: Some(path.rsplit('/').next().unwrap_or_default().into()),
        runs_at_start: path.ends_with("alembic"),
        aliases: Vec::new(),
    };
    AuditReport::new(
        ImageInfo {
            source: "app.tar".into(),
            format: "docker-archive".into(),
            reference: Some("app:dev".into()),
            config_digest: Some(
                "sha256:5b0b1e3fa0d8cbd1f8c52b4ad3e9a7f32b68f1c0c6a7b5e2f4d8a1c3e9b7f6a2".into(),
            ),
            manifest_digest: None,
            architecture: Some("amd64".into()),
            os: Some("linux".into()),
            layers: vec![LayerInfo {
                index: 0,
                digest: Some(
                    "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                        .into(),
                ),
                diff_id: Some(
                    "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                        .into(),
                ),
                media_type: Some("application/vnd.oci.image.layer.v1.tar".into()),
                size: 77_838_336,
                created_by: Some("/bin/sh -c #(nop) ADD file:9f3a in / ".into()),
            }],
        },
        vec![
            EnvironmentInfo {
                root: "/opt/venv".into(),
                kind: "venv".into(),
                python_version: Some("3.12".into()),
                interpreter: Some("/opt/venv/bin/python".into()),
                bin_dir: "/opt/venv/bin".into(),
                site_dirs: vec!["/opt/venv/lib/python3.12/site-packages".into()],
                distributions: 9,
                launchers: vec![
                    launcher("/opt/venv/bin/alembic", "alembic.config"),
                    launcher("/opt/venv/bin/tool", "tool.cli"),
                ],
            },
            EnvironmentInfo {
                root: "/usr".into(),
                kind: "system".into(),
                python_version: Some("3.11".into()),
                interpreter: Some("/usr/bin/python3.11".into()),
                bin_dir: "/usr/bin".into(),
                site_dirs: vec!["/usr/lib/python3/dist-packages".into()],
                distributions: 4,
                launchers: vec![LauncherInfo {
                    path: "/usr/bin/chardetect".into(),
                    template: "pip".into(),
                    interpreter: Some("/usr/bin/python3".into()),
                    module: Some("chardet.cli.chardetect".into()),
                    entry_point: Some("chardetect".into()),
                    runs_at_start: false,
                    aliases: Vec::new(),
                }],
            },
            EnvironmentInfo {
                root: "/usr/local".into(),
                kind: "usr-local".into(),
                python_version: None,
                interpreter: None,
                bin_dir: "/usr/local/bin".into(),
                site_dirs: vec![],
                distributions: 0,
                launchers: vec![],
            },
        ],
        findings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_active_and_suppressed() {
        let report = sample_report();
        assert_eq!(
            report.summary,
            Summary {
                errors: 3,
                warnings: 1,
                infos: 0,
                suppressed: 1,
                environments: 3,
                launchers: 3,
                distributions: 13,
            }
        );
        assert_eq!(report.summary.active(), 4);
    }

    #[test]
    fn new_sorts_findings() {
        let report = sample_report();
        let order: Vec<_> = report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.code, f.location.path))
            .collect();
        assert_eq!(
            order,
            [
                "entry-point-without-metadata /opt/venv/bin/alembic",
                "entry-point-without-metadata /usr/bin/chardetect",
                "record-mismatch /opt/venv/lib/python3.12/site-packages/requests/api.py",
                "shim-not-executable /opt/venv/bin/tool",
                "size-budget-exceeded /",
            ]
        );
    }

    #[test]
    fn formats_parse() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!(
            "xml".parse::<Format>().unwrap_err().to_string(),
            "unknown format `xml`, expected one of `text`, `json`, `sarif`, `junit`"
        );
        assert_eq!(
            "sarif=out/imgaudit.sarif".parse::<OutputTarget>(),
            Ok(OutputTarget {
                format: Format::Sarif,
                path: "out/imgaudit.sarif".into()
            })
        );
        // `=` in the file name belongs to the file.
        assert_eq!(
            "json=a=b.json".parse::<OutputTarget>().unwrap().path,
            PathBuf::from("a=b.json")
        );
        assert_eq!(
            "sarif".parse::<OutputTarget>().unwrap_err().to_string(),
            "invalid output `sarif`, expected `FORMAT=FILE`, e.g. `sarif=imgaudit.sarif`"
        );
        assert_eq!(
            "sarif=".parse::<OutputTarget>().unwrap_err(),
            FormatError::MissingFile("sarif=".into())
        );
        assert_eq!(
            "yaml=x".parse::<OutputTarget>().unwrap_err(),
            FormatError::Unknown("yaml".into())
        );
    }

    #[test]
    fn write_report_writes_the_rendered_bytes() {
        let report = sample_report();
        for format in Format::ALL {
            let mut out = Vec::new();
            write_report(&mut out, &report, format, &text::TextOptions::default()).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                render(&report, format, &text::TextOptions::default())
            );
        }
    }
}
