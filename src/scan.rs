//! The nightly scan of a registry, spread over machines: the plan, its
//! shards, the per-image result cache, the run of one shard and the merge of
//! every shard's results into one report.
//!
//! The flow (`docs/nightly.md`):
//!
//! ```text
//!  plan   catalog → tags → HEAD → manifests (indexes expanded)  → plan.jsonl
//!  shard  sort by (base, digest), slice I of N                  → PlanEntry[]
//!  run    result cache hit? else open + lib::audit + gate       → out-dir/<digest>.<platform>.json
//!                                                                  out-dir/summary-<I>.jsonl
//!  merge  every summary-*.jsonl + per-image reports             → one report, one exit code
//! ```
//!
//! This module owns the plan's wire shape ([`PlanEntry`], one JSON object
//! per line), the order and slicing that make shards deterministic on every
//! machine ([`shard`]), the result cache ([`results`]), the run of a shard
//! ([`run`]) and the merge ([`merge`]). It does not speak HTTP (the plan asks
//! a [`plan::Registry`], which the CLI backs with `crate::registry`), read
//! layers (`crate::image` does, with the fact cache), or decide findings
//! (`crate::audit` does, with the same config and gate as `imgaudit audit`).
//! There is no scheduler here: the shards are run by an engine teams
//! already have (a Kubernetes Indexed Job, a GitHub Actions matrix), which
//! only needs each shard to be a pure function of the plan and its index.

pub mod merge;
pub mod plan;
pub mod results;
pub mod run;
pub mod shard;

use serde::{Deserialize, Serialize};

/// What can go wrong in a scan outside one image (an unreadable image is a
/// row of the summary, never an error of the run).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A plan line that is not a plan entry.
    #[error("plan `{source_name}` line {line}: {message}")]
    PlanLine {
        /// The plan file, or `-`.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A file or directory the scan needs could not be read or written.
    #[error("`{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A `summary-*.jsonl` line that is not a summary row.
    #[error("summary `{path}` line {line}: {message}")]
    SummaryLine {
        /// The summary file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// `--merge DIR` found no `summary-*.jsonl`.
    #[error(
        "`{0}` holds no `summary-*.jsonl`: run `imgaudit scan --from PLAN --out-dir {0}` first"
    )]
    NothingToMerge(String),
    /// `--shard` or `JOB_COMPLETION_INDEX` out of range or malformed.
    #[error("{0}")]
    Shard(String),
    /// Listing the registry failed (the catalog itself; a single repository
    /// or tag that fails is a warning of the plan).
    #[error("registry `{host}`: {message}")]
    Registry {
        /// The registry host.
        host: String,
        /// What failed.
        message: String,
    },
    /// A merged output needs per-image files the scan did not write.
    #[error("{0}")]
    MissingOutput(String),
}

impl ScanError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> ScanError {
        ScanError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// One image to scan: one line of the plan.
///
/// For an index (a multi-platform image) there is one entry per platform
/// child, and `digest` is the child's manifest digest: the same child in
/// two indexes, or under two tags, is one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The reference a person recognises, `HOST/REPO:TAG` (the first one
    /// in sorted order when several tags name the same manifest). A local
    /// input imgaudit reads (`oci:DIR:TAG`, an archive path) is accepted
    /// too, for plans written by hand.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The manifest digest scanned, `sha256:…`.
    pub digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The first layer's digest: images on one base sort together, so they
    /// land on one shard and share its layer facts.
    #[serde(default)]
    pub base: Option<String>,
}

impl PlanEntry {
    /// The file stem of this image's outputs, `sha256-<hex>.<os>-<arch>[-<variant>]`,
    /// or `None` when the digest or platform could name a path outside the
    /// output directory (a hand-edited or hostile plan).
    ///
    /// Why not `sha256:<hex>.linux/amd64`: a `/` makes a directory, and a
    /// `:` is refused by `actions/upload-artifact` (NTFS forbids it), which
    /// is how the GitHub Actions recipe carries reports between jobs.
    pub fn file_stem(&self) -> Option<String> {
        let digest = crate::cache::file_key(&self.digest)?;
        let platform_ok = !self.platform.is_empty()
            && self.platform.split('/').count() <= 3
            && self.platform.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
                    && part != "."
                    && part != ".."
            });
        platform_ok.then(|| format!("{digest}.{}", self.platform.replace('/', "-")))
    }

    /// The identity of a scan: manifest digest and platform.
    pub fn key(&self) -> (&str, &str) {
        (&self.digest, &self.platform)
    }
}

/// Parse a plan: one [`PlanEntry`] per line; blank lines are skipped.
/// `source_name` names the plan in errors.
pub fn read_plan(text: &str, source_name: &str) -> Result<Vec<PlanEntry>, ScanError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: PlanEntry = serde_json::from_str(line).map_err(|e| ScanError::PlanLine {
            source_name: source_name.to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if entry.file_stem().is_none() {
            return Err(ScanError::PlanLine {
                source_name: source_name.to_string(),
                line: i + 1,
                message: format!(
                    "`{}` on `{}` is no `sha256:<64 hex>` digest with an `os/arch[/variant]` platform",
                    entry.digest, entry.platform
                ),
            });
        }
        out.push(entry);
    }
    Ok(out)
}

/// A plan as JSON lines, one entry per line, ending in a newline.
pub fn write_plan(entries: &[PlanEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        // Plain data with string keys: serialization cannot fail.
        out.push_str(&serde_json::to_string(e).expect("a plan entry serializes"));
        out.push('\n');
    }
    out
}

/// The version of imgaudit a result belongs to: the crate version and the
/// commit it was built from (not the build date: two builds of one commit
/// give the same results).
pub fn tool_version() -> String {
    let detail = env!("IMGAUDIT_VERSION_DETAIL");
    let commit = detail.split(", built").next().unwrap_or(detail);
    format!("{} ({commit})", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn entry(digest: &str, platform: &str) -> PlanEntry {
        PlanEntry {
            reference: "localhost:5000/app:1".into(),
            digest: digest.into(),
            platform: platform.into(),
            base: None,
        }
    }

    #[test]
    fn file_stems_stay_in_the_output_directory() {
        assert_eq!(
            entry(D, "linux/arm64/v8").file_stem().unwrap(),
            format!("sha256-{}.linux-arm64-v8", &D[7..])
        );
        for (digest, platform) in [
            ("sha256:../../etc", "linux/amd64"), // not a digest
            (D, "linux/../../x"),                // a parent directory
            (D, "linux/amd 64"),                 // a space
            (D, ""),                             // no platform
            (D, "a/b/c/d"),                      // too many parts
            (D, "linux//amd64"),                 // an empty part
        ] {
            assert_eq!(entry(digest, platform).file_stem(), None, "{platform}");
        }
    }

    #[test]
    fn plans_round_trip_and_bad_lines_name_their_number() {
        let plan = vec![entry(D, "linux/amd64"), {
            let mut e = entry(D, "linux/arm64");
            e.base = Some(D.into());
            e
        }];
        let text = write_plan(&plan);
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with("{\"ref\":\"localhost:5000/app:1\",\"digest\":\"sha256:"));
        assert_eq!(read_plan(&format!("\n{text}\n"), "p").unwrap(), plan);
        let err = read_plan(&format!("{text}{{\"ref\":1}}\n"), "plan.jsonl").unwrap_err();
        assert!(
            err.to_string().starts_with("plan `plan.jsonl` line 3: "),
            "{err}"
        );
        let hostile = text.replace("linux/amd64", "../x");
        let err = read_plan(&hostile, "p").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("`../x`"), "{err}");
    }

    #[test]
    fn the_version_has_no_build_date() {
        let v = tool_version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(!v.contains("built"), "{v}");
    }
}
