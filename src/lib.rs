//! imgaudit: audit a built container image without a daemon.
//!
//! It reads `docker save` tarballs (legacy and Docker 25+), OCI layouts
//! (directory and archive) and stdin, rebuilds the final filesystem in
//! memory with OCI/umoci overlay semantics, and proves the Python
//! environments inside still work. See `docs/architecture.md`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use imgaudit::image::OpenOptions;
//! use imgaudit::source::{OpenRequest, Platform};
//! // The audit's analyzers declare what they need from file bytes; the
//! // layer reader extracts exactly that (and the cache, if any, keeps it).
//! let opts = OpenOptions {
//!     extractors: Arc::new(imgaudit::python::extractors::extractors()),
//!     cache: imgaudit::cache::FactCache::default_dir()
//!         .and_then(|d| imgaudit::cache::FactCache::open(&d).ok()),
//!     ..OpenOptions::default()
//! };
//! let image = imgaudit::image::open_with(
//!     &OpenRequest { input: "app.tar".into(), tag: None, platform: Platform::host(), verify: true, registry: None },
//!     &opts,
//!     None,
//! ).unwrap();
//! assert!(image.tree.exists("/usr/bin/python3"));
//! let audit = imgaudit::audit(&image, &imgaudit::config::Config::default());
//! println!("{} errors", audit.report.summary.errors);
//! ```
//!
//! The modules, in flow order (each depends only on modules above it; a test,
//! `module_graph_is_acyclic`, keeps it so):
//!
//! - input: `extract` (what analyzers declare they need from file bytes) →
//!   `layer` → `source`, `tree` → `overlay`, `cache` (per-layer facts by
//!   digest) → `image` (one pass over the bytes, or none when the facts are
//!   cached; the merged filesystem and the removal history);
//! - shared below the analyzers: `step` (a Dockerfile step in one line),
//!   `exec` (`PATH` and `which` in the image), `size` (the size view);
//! - analyzers: `python` (parsers and the facts gathered once), `diag` (the
//!   rule vocabulary), `finding`, `config`, `checks` (one file per rule),
//!   `sink` (the config applied to findings);
//! - output: `report` (text, JSON, SARIF, JUnit); `cli` on top;
//! - [`audit`], below, runs the analyzers over an opened image.
#![deny(missing_docs)]

pub mod cache;
pub mod checks;
pub mod cli;
pub mod config;
pub mod diag;
pub mod elf;
pub mod escape;
pub mod exec;
pub mod extract;
pub mod finding;
pub mod image;
pub mod layer;
pub mod localfile;
pub mod native;
pub mod overlay;
pub mod python;
pub mod registry;
pub mod report;
pub mod scan;
pub mod sink;
pub mod size;
pub mod source;
pub mod step;
pub mod tree;

use rayon::prelude::*;

/// The outcome of [`audit`]: the report to render, the ignores that matched
/// nothing (the caller warns) and the gate.
#[derive(Clone, Debug)]
pub struct Audit {
    /// Image, environments and findings (config applied, sorted).
    pub report: report::AuditReport,
    /// `[[ignore]]` entries that matched no finding.
    pub unmatched: Vec<config::UnmatchedIgnore>,
    /// True when an active finding is at or above `fail-on`: exit 1.
    pub failed: bool,
}

/// Audit an opened image: gather the Python facts once, run every check in
/// parallel over them, check the size budgets, and apply the config (severity
/// overrides, ignores, gate) in the sink.
pub fn audit(image: &image::Image, config: &config::Config) -> Audit {
    let facts = python::facts::gather(&image.tree, &image.resolved.config);
    let cx = checks::CheckCtx::new(image, &facts);
    let mut findings: Vec<finding::Finding> = checks::CHECKS
        .par_iter()
        .flat_map_iter(|(_, check)| {
            let mut out = Vec::new();
            check(&cx, &mut out);
            out
        })
        .collect();
    checks::note_aliases(&facts, &mut findings);
    checks::size_budget_exceeded::check(image, &config.budget, &mut findings);
    let unmatched = sink::apply(config, &mut findings);
    // An image with no Python environment is reported as "nothing
    // audited"; it fails the gate only when the config asks for Python.
    let failed = sink::gate(config, &findings) || (facts.is_empty() && config.require_python);
    let report = report::AuditReport::new(
        report::ImageInfo::from(image),
        facts.iter().map(report::EnvironmentInfo::from).collect(),
        findings,
    );
    Audit {
        report,
        unmatched,
        failed,
    }
}
