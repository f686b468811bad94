//! The run of one shard: each image audited (or its result read back from
//! the result cache), its report written to the output directory, one
//! summary row per image in `summary-<I>.jsonl`.
//!
//! The audit is `crate::audit` with the config and gate of `imgaudit audit`,
//! on an image opened with the audit's extractors and the fact cache, so a
//! scan's per-image report is byte for byte the report `imgaudit audit -f
//! json` prints for that image. An image that cannot be read (gone from
//! the registry, a digest mismatch, a hostile layer) is a row with status
//! `unreadable` and its one-line error; the run goes on with the next.
//!
//! `--jobs J` images are in flight at once (threads taking the next image
//! of the slice); each image's own layers are read in parallel underneath
//! (rayon), so J only needs to cover the latency of a registry, not the
//! cores.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::results::{write_atomic, CachedResult, ResultCache, ResultKey};
use super::{PlanEntry, ScanError};
use crate::config::Config;
use crate::report::{self, AuditReport, Format};

/// Finding counts of one image (active per severity, suppressed) and its
/// Python environments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Active errors.
    pub errors: usize,
    /// Active warnings.
    pub warnings: usize,
    /// Active infos.
    pub infos: usize,
    /// Suppressed findings.
    pub suppressed: usize,
    /// Python environments found.
    pub environments: usize,
}

impl From<&report::Summary> for Counts {
    fn from(s: &report::Summary) -> Counts {
        Counts {
            errors: s.errors,
            warnings: s.warnings,
            infos: s.infos,
            suppressed: s.suppressed,
            environments: s.environments,
        }
    }
}

/// Whether the image could be audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Read and audited; see the gate.
    Audited,
    /// Could not be read: `error` says why.
    Unreadable,
}

/// The gate of an audited image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// No active finding at or above `fail-on`.
    Pass,
    /// Active findings at or above `fail-on`.
    Fail,
}

/// One line of `summary-<I>.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// The plan entry's reference.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The manifest digest.
    pub digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The first layer's digest, from the plan.
    #[serde(default)]
    pub base: Option<String>,
    /// Audited or unreadable.
    pub status: Status,
    /// Counts (all zero when unreadable).
    #[serde(flatten)]
    pub counts: Counts,
    /// The gate; `null` when unreadable.
    pub gate: Option<Gate>,
    /// The result came from the result cache: nothing was read.
    pub cached: bool,
    /// Wall time of this image.
    pub seconds: f64,
    /// Stored bytes of the layers read (not served by the fact cache): what
    /// a registry image had to download.
    pub bytes_pulled: u64,
    /// The JSON report's file name in the output directory.
    #[serde(default)]
    pub report: Option<String>,
    /// Why the image is unreadable.
    #[serde(default)]
    pub error: Option<String>,
    /// The shard that scanned it.
    pub shard: usize,
}

/// An audited image, as an [`Opener`] returns it.
pub struct Audited {
    /// The report (config applied).
    pub report: AuditReport,
    /// The gate failed.
    pub failed: bool,
    /// See [`SummaryRow::bytes_pulled`].
    pub bytes_pulled: u64,
}

/// Opens and audits one image of the plan. The CLI's opener reads registry
/// references through `crate::registry` and local inputs as files.
pub trait Opener: Sync {
    /// Open `entry`, audit it with `config`; the error is one line.
    fn audit(&self, entry: &PlanEntry, config: &Config) -> Result<Audited, String>;
}

/// The opener of `crate::image`: an [`crate::source::OpenRequest`] per
/// entry, the audit's extractors, the fact cache.
pub struct ImageOpener<F> {
    /// Makes the request for an entry (or says why it cannot).
    pub request: F,
    /// The fact cache.
    pub cache: Option<crate::cache::FactCache>,
    extractors: Arc<crate::extract::ExtractorSet>,
}

impl<F> ImageOpener<F>
where
    F: Fn(&PlanEntry) -> Result<crate::source::OpenRequest, String> + Sync,
{
    /// An opener with the audit's extractors.
    pub fn new(request: F, cache: Option<crate::cache::FactCache>) -> ImageOpener<F> {
        ImageOpener {
            request,
            cache,
            extractors: Arc::new(crate::python::extractors::extractors()),
        }
    }
}

impl<F> Opener for ImageOpener<F>
where
    F: Fn(&PlanEntry) -> Result<crate::source::OpenRequest, String> + Sync,
{
    fn audit(&self, entry: &PlanEntry, config: &Config) -> Result<Audited, String> {
        let req = (self.request)(entry)?;
        let opts = crate::image::OpenOptions {
            extractors: self.extractors.clone(),
            cache: self.cache.clone(),
            ..Default::default()
        };
        let (image, pending) =
            crate::image::open_deferred_with(&req, &opts, None).map_err(|e| e.to_string())?;
        check_platform(&image, &entry.platform)?;
        let crate::Audit { report, failed, .. } = crate::audit(&image, config);
        pending.wait().map_err(|e| e.to_string())?;
        // A cache that cannot be written costs the next night time, not
        // this night's result.
        let _ = image.save_facts();
        let bytes_pulled = image
            .layers
            .iter()
            .zip(&image.resolved.layers)
            .filter(|(read, _)| !read.from_cache)
            .map(|(_, stored)| stored.size)
            .sum();
        Ok(Audited {
            report,
            failed,
            bytes_pulled,
        })
    }
}

/// The image opened is the platform the plan names (an index child picked
/// by platform, or a single image whose config says so).
fn check_platform(image: &crate::image::Image, want: &str) -> Result<(), String> {
    let cfg = &image.resolved.config;
    let (Some(os), Some(arch)) = (cfg.os.as_deref(), cfg.architecture.as_deref()) else {
        return Ok(());
    };
    let mut parts = want.split('/');
    let (want_os, want_arch, want_variant) = (parts.next(), parts.next(), parts.next());
    // A variant is compared only when both sides name one: many configs
    // leave it out (`arm64` is `arm64/v8`).
    let variant_ok = match (want_variant, cfg.variant.as_deref()) {
        (Some(w), Some(h)) => w == h,
        _ => true,
    };
    if want_os == Some(os) && want_arch == Some(arch) && variant_ok {
        return Ok(());
    }
    let variant = cfg
        .variant
        .as_deref()
        .map(|v| format!("/{v}"))
        .unwrap_or_default();
    Err(format!(
        "the plan says `{want}` but the image is `{os}/{arch}{variant}`"
    ))
}

/// Reports progress of a run (the CLI draws a bar).
pub trait RunProgress: Sync {
    /// One image is done.
    fn done(&self, row: &SummaryRow);
}

/// How to run a shard.
pub struct RunOptions<'a> {
    /// Where reports and the summary go (created if missing).
    pub out_dir: &'a Path,
    /// `I`, for `summary-<I>.jsonl`.
    pub shard_index: usize,
    /// Images in flight at once (at least 1).
    pub jobs: usize,
    /// The effective config.
    pub config: &'a Config,
    /// The result cache.
    pub results: Option<&'a ResultCache>,
    /// Also write `<stem>.sarif`.
    pub sarif: bool,
    /// Also write `<stem>.junit.xml`.
    pub junit: bool,
}

/// The summary file of shard `index`.
pub fn summary_name(index: usize) -> String {
    format!("summary-{index}.jsonl")
}

/// Run the shard `entries` (already ordered and sliced): rows in the same
/// order, also written to `summary-<I>.jsonl`. Only trouble with the output
/// directory is an error; an image that cannot be read is a row.
pub fn run(
    entries: &[PlanEntry],
    opener: &dyn Opener,
    opts: &RunOptions<'_>,
    progress: Option<&dyn RunProgress>,
) -> Result<Vec<SummaryRow>, ScanError> {
    std::fs::create_dir_all(opts.out_dir).map_err(|e| ScanError::io(opts.out_dir, e))?;
    let config_hash = super::results::config_hash(opts.config);
    let version = super::tool_version();
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<SummaryRow>>> = Mutex::new(vec![None; entries.len()]);
    let fatal: Mutex<Option<ScanError>> = Mutex::new(None);
    let bases = Bases::default();
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, entries.len().max(1)) {
            s.spawn(|| loop {
                if fatal.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = entries.get(i) else { return };
                // Dropped after the image, even if its audit panics:
                // the other images of the base never wait forever.
                let first_of_base = bases.claim(entry.base.as_deref());
                let key = ResultKey {
                    digest: entry.digest.clone(),
                    platform: entry.platform.clone(),
                    version: version.clone(),
                    config: config_hash.clone(),
                };
                let outcome = scan_one(entry, key, opener, opts);
                drop(first_of_base);
                match outcome {
                    Ok(row) => {
                        if let Some(p) = progress {
                            p.done(&row);
                        }
                        rows.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(row);
                    }
                    Err(e) => {
                        fatal
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let rows: Vec<SummaryRow> = rows
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect();
    let mut body = String::new();
    for row in &rows {
        // Plain data with string keys: serialization cannot fail.
        body.push_str(&serde_json::to_string(row).expect("a summary row serializes"));
        body.push('\n');
    }
    write_atomic(
        &opts.out_dir.join(summary_name(opts.shard_index)),
        body.as_bytes(),
    )?;
    Ok(rows)
}

/// The first image of each base is read before the others of that base.
///
/// Why: the slice is sorted by base, so with `--jobs J` the first J images
/// in flight usually share one base, and all J would download its layers
/// at once before any of them is in the fact cache. Holding the others
/// back until the first is done costs one image's latency per base and
/// saves J-1 downloads of every base layer (the point of sorting by base).
#[derive(Default)]
struct Bases {
    state: Mutex<std::collections::HashMap<String, bool>>,
    changed: std::sync::Condvar,
}

impl Bases {
    /// Wait while another thread reads the first image of `base`; a guard
    /// when this thread is the one to read it first (dropping it wakes the
    /// others).
    fn claim<'a>(&'a self, base: Option<&'a str>) -> Option<BaseGuard<'a>> {
        let base = base?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match state.get(base) {
                None => {
                    state.insert(base.to_string(), false);
                    return Some(BaseGuard { bases: self, base });
                }
                Some(true) => return None,
                Some(false) => {
                    state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }
}

/// Held while the first image of a base is read.
struct BaseGuard<'a> {
    bases: &'a Bases,
    base: &'a str,
}

impl Drop for BaseGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.bases.state.lock().unwrap_or_else(|e| e.into_inner());
        state.insert(self.base.to_string(), true);
        self.bases.changed.notify_all();
    }
}

fn scan_one(
    entry: &PlanEntry,
    key: ResultKey,
    opener: &dyn Opener,
    opts: &RunOptions<'_>,
) -> Result<SummaryRow, ScanError> {
    let start = Instant::now();
    // `read_plan` refuses entries without a file stem; one made in code
    // without it is unreadable rather than a path outside the directory.
    let Some(stem) = entry.file_stem() else {
        return Ok(row(
            entry,
            opts,
            start,
            Err("no `sha256:` digest and `os/arch` platform".into()),
        ));
    };
    let usable =
        |c: &CachedResult| (!opts.sarif || c.sarif.is_some()) && (!opts.junit || c.junit.is_some());
    let cached = opts.results.and_then(|r| r.get(&key)).filter(usable);
    let (result, was_cached, bytes_pulled) = match cached {
        Some(c) => (c, true, 0),
        None => match opener.audit(entry, opts.config) {
            Err(message) => return Ok(row(entry, opts, start, Err(message))),
            Ok(audited) => {
                let text = report::text::TextOptions::default();
                let render =
                    |on: bool, f: Format| on.then(|| report::render(&audited.report, f, &text));
                let result = CachedResult {
                    key,
                    counts: Counts::from(&audited.report.summary),
                    failed: audited.failed,
                    json: report::render(&audited.report, Format::Json, &text),
                    sarif: render(opts.sarif, Format::Sarif),
                    junit: render(opts.junit, Format::Junit),
                };
                if let Some(cache) = opts.results {
                    // A result that cannot be cached is only a slower
                    // next night.
                    let _ = cache.put(&result);
                }
                (result, false, audited.bytes_pulled)
            }
        },
    };
    let dir = opts.out_dir;
    let json_name = format!("{stem}.json");
    write_atomic(&dir.join(&json_name), result.json.as_bytes())?;
    if let Some(sarif) = result.sarif.as_deref().filter(|_| opts.sarif) {
        write_atomic(&dir.join(format!("{stem}.sarif")), sarif.as_bytes())?;
    }
    if let Some(junit) = result.junit.as_deref().filter(|_| opts.junit) {
        write_atomic(&dir.join(format!("{stem}.junit.xml")), junit.as_bytes())?;
    }
    let mut r = row(entry, opts, start, Ok((&result, json_name)));
    r.cached = was_cached;
    r.bytes_pulled = bytes_pulled;
    Ok(r)
}

fn row(
    entry: &PlanEntry,
    opts: &RunOptions<'_>,
    start: Instant,
    outcome: Result<(&CachedResult, String), String>,
) -> SummaryRow {
    let seconds = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let mut row = SummaryRow {
        reference: entry.reference.clone(),
        digest: entry.digest.clone(),
        platform: entry.platform.clone(),
        base: entry.base.clone(),
        status: Status::Unreadable,
        counts: Counts::default(),
        gate: None,
        cached: false,
        seconds,
        bytes_pulled: 0,
        report: None,
        error: None,
        shard: opts.shard_index,
    };
    match outcome {
        Ok((result, name)) => {
            row.status = Status::Audited;
            row.counts = result.counts;
            row.gate = Some(if result.failed {
                Gate::Fail
            } else {
                Gate::Pass
            });
            row.report = Some(name);
        }
        Err(message) => row.error = Some(message),
    }
    row
}
