//! `imgaudit scan`: the nightly scan of a registry, in four modes.
//!
//! - `--registry HOST[/PREFIX] --plan`: list the registry, print the plan
//!   (JSON lines) on stdout;
//! - `--from PLAN|- [--shard [I/]N]`: scan one shard of a plan into
//!   `--out-dir` (per-image reports, `summary-<I>.jsonl`); exit 0 when the
//!   shard ran, whatever the images' findings (the gate is the merge's:
//!   an engine must not retry a shard because an image has findings);
//! - `--merge DIR`: one report of every shard's results, and the gate;
//! - `--registry HOST[/PREFIX]` alone: plan, scan and merge in one process.
//!
//! This module owns the flags and the wiring: the registry client behind
//! the plan ([`crate::scan::plan::Registry`]), the opener of each image,
//! the progress bar (images done / total, cache hits, bytes pulled) and the
//! exit codes. The work itself is [`crate::scan`]'s.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{input, When};
use crate::report::Format;
use crate::scan::{self, merge, plan, run, shard, PlanEntry};

/// Options of `imgaudit scan`.
#[derive(Args, Debug)]
#[command(
    after_help = "Modes: `--registry R --plan` prints the plan; `--from PLAN --shard I/N` scans a shard into `--out-dir`; \
                        `--merge DIR` merges every shard's results into one report and exits 2 if an image was unreadable, \
                        else 1 if one failed the gate, else 0; `--registry R` alone does all three. See docs/nightly.md."
)]
pub struct ScanArgs {
    /// The registry to list, `HOST[:PORT]`, optionally with a repository
    /// prefix (`HOST/team`: only repositories under `team/`).
    #[arg(long, value_name = "HOST[/PREFIX]")]
    registry: Option<String>,
    /// Only repositories matching this glob (repeatable; whole repository
    /// path, `*` within a component, `**` across).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// No repository matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Which tags: `all`, `latest`, or a glob such as `v*`.
    #[arg(long, value_name = "all|latest|GLOB", default_value = "all")]
    tags: String,
    /// Print the plan (one JSON object per image and platform) and stop.
    #[arg(long, requires = "registry")]
    plan: bool,
    /// Scan the images of this plan (`-` for stdin).
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["registry", "plan"])]
    from: Option<String>,
    /// Scan only slice I of N of the plan (0-based); `N` alone takes `I`
    /// from `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job).
    #[arg(long, value_name = "[I/]N", env = "IMGAUDIT_SHARD", requires = "from")]
    shard: Option<shard::ShardSpec>,
    /// Cache directory: layer facts, plan expansions and per-image results
    /// (default: as for `audit`). Shards may share one.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Neither read nor write any cache.
    #[arg(long)]
    no_cache: bool,
    /// Where per-image reports and `summary-<I>.jsonl` go.
    #[arg(long, value_name = "DIR", default_value = "imgaudit-scan")]
    out_dir: PathBuf,
    /// Images in flight at once (default: the cores, at most 4).
    #[arg(long, short = 'j', value_name = "J")]
    jobs: Option<usize>,
    /// Also write each image's SARIF log (`<digest>.<platform>.sarif`).
    #[arg(long)]
    sarif: bool,
    /// Also write each image's JUnit XML (`<digest>.<platform>.junit.xml`).
    #[arg(long)]
    junit: bool,
    /// Merge the results in DIR into one report (with `--from PLAN`, an
    /// image of the plan no shard recorded counts as unreadable).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["registry", "plan", "shard"])]
    merge: Option<PathBuf>,
    /// Format of the merged report: text, json, sarif, junit.
    #[arg(long, short = 'f', value_name = "FORMAT")]
    format: Option<Format>,
    #[command(flatten)]
    gate: super::gate::GateArgs,
    /// Progress bar on stderr: auto (a terminal, unless `CI` is set), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto, env = "IMGAUDIT_PROGRESS")]
    progress: When,
    #[command(flatten)]
    access: super::registry::RegistryArgs,
}

impl ScanArgs {
    fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        self.cache
            .clone()
            .or_else(crate::cache::FactCache::default_dir)
    }

    fn jobs(&self) -> usize {
        self.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4)
        })
    }

    fn plan_options(&self, registry: &str) -> anyhow::Result<plan::PlanOptions> {
        Ok(plan::PlanOptions {
            target: registry.parse().map_err(anyhow::Error::msg)?,
            include: plan::repo_globs(&self.include)
                .map_err(|e| anyhow::anyhow!("`--include` {e}"))?,
            exclude: plan::repo_globs(&self.exclude)
                .map_err(|e| anyhow::anyhow!("`--exclude` {e}"))?,
            tags: self.tags.parse().map_err(anyhow::Error::msg)?,
            cache: self.cache_dir(),
        })
    }
}

/// Run `imgaudit scan`.
pub(super) fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.merge {
        let plan = args.from.as_deref().map(read_plan).transpose()?;
        let merged = merge::load(dir, plan.as_deref())?;
        return finish(args, &merged, dir);
    }
    if let Some(from) = &args.from {
        let shard = match args.shard {
            Some(spec) => spec.resolve(std::env::var("JOB_COMPLETION_INDEX").ok().as_deref())?,
            None => {
                // A pod of an Indexed Job without `--shard` would scan the
                // whole plan, as every other pod does: say so.
                if std::env::var_os("JOB_COMPLETION_INDEX").is_some() {
                    eprintln!("warning: `JOB_COMPLETION_INDEX` is set but `--shard` is not: this process scans the whole plan (use `--shard N`)");
                }
                shard::Shard { index: 0, count: 1 }
            }
        };
        let entries = read_plan(from)?;
        let rows = run_shard(args, entries, shard)?;
        let unreadable = rows
            .iter()
            .filter(|r| r.status == run::Status::Unreadable)
            .count();
        let cached = rows.iter().filter(|r| r.cached).count();
        eprintln!(
            "shard {}/{}: {} images scanned ({cached} from the result cache, {unreadable} unreadable) into `{}`",
            shard.index,
            shard.count,
            rows.len(),
            args.out_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(registry) = &args.registry else {
        anyhow::bail!(
            "`imgaudit scan` needs `--registry HOST[/PREFIX]` (with `--plan` to only plan), `--from PLAN` or `--merge DIR`"
        );
    };
    let planned = plan_registry(args, registry)?;
    if args.plan {
        let mut out = std::io::stdout().lock();
        out.write_all(scan::write_plan(&planned).as_bytes())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let count = planned.len();
    let rows = run_shard(args, planned, shard::Shard { index: 0, count: 1 })?;
    debug_assert_eq!(rows.len(), count);
    let merged = merge::from_rows(rows, &args.out_dir);
    finish(args, &merged, &args.out_dir)
}

/// Print the merged report and return its exit code.
fn finish(args: &ScanArgs, merged: &merge::Merged, dir: &Path) -> anyhow::Result<ExitCode> {
    for w in &merged.warnings {
        eprintln!(
            "warning: {}",
            crate::escape::for_terminal(w, crate::escape::MAX_LINE)
        );
    }
    let body = merged.render(args.format.unwrap_or_default(), dir)?;
    let mut out = std::io::stdout().lock();
    let code = ExitCode::from(merged.exit_code());
    match out.write_all(body.as_bytes()).and_then(|()| out.flush()) {
        // The gate stands when the reader goes away, as for `audit`.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(code),
    }
}

fn read_plan(from: &str) -> anyhow::Result<Vec<PlanEntry>> {
    let text = if from == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the plan from stdin")?;
        s
    } else {
        std::fs::read_to_string(from).with_context(|| format!("cannot read the plan `{from}`"))?
    };
    Ok(scan::read_plan(&text, from)?)
}

fn plan_registry(args: &ScanArgs, registry: &str) -> anyhow::Result<Vec<PlanEntry>> {
    let opts = args.plan_options(registry)?;
    let client = args.access.client()?;
    let planned = plan::plan(&client, &opts)?;
    for w in &planned.warnings {
        eprintln!(
            "warning: {}",
            crate::escape::for_terminal(w, crate::escape::MAX_LINE)
        );
    }
    let stats = client.stats();
    eprintln!(
        "planned {} images from `{}`: {} requests, {} blobs ({} manifests from the plan cache)",
        planned.entries.len(),
        opts.target.host,
        stats.requests,
        stats.blob_requests,
        planned.cache_hits
    );
    Ok(planned.entries)
}

fn run_shard(
    args: &ScanArgs,
    entries: Vec<PlanEntry>,
    shard: shard::Shard,
) -> anyhow::Result<Vec<run::SummaryRow>> {
    let config = args.gate.config()?;
    let ordered = shard::order(entries);
    let slice = shard::slice(&ordered, shard);
    let cache_dir = args.cache_dir();
    let facts = cache_dir
        .as_deref()
        .and_then(|d| match crate::cache::FactCache::open(d) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("warning: {e}; continuing without a cache");
                None
            }
        });
    let results = match (&facts, cache_dir.as_deref()) {
        (Some(_), Some(d)) => scan::results::ResultCache::open(d)
            .map_err(|e| eprintln!("warning: {e}; continuing without a result cache"))
            .ok(),
        _ => None,
    };
    // One client for the shard: its connections, tokens and counters are
    // shared by every image in flight.
    let client = args.access.client()?;
    let opener = run::ImageOpener::new(|e: &PlanEntry| request(e, &client), facts);
    let opts = run::RunOptions {
        out_dir: &args.out_dir,
        shard_index: shard.index,
        jobs: args.jobs(),
        config: &config,
        results: results.as_ref(),
        sarif: args.sarif,
        junit: args.junit,
    };
    let bar = ScanBar::start(args.progress, slice.len());
    let rows = run::run(
        slice,
        &opener,
        &opts,
        bar.as_ref().map(|b| b as &dyn run::RunProgress),
    )?;
    drop(bar);
    // What this shard asked of registries, beside its summary: the proof
    // that a warm night downloads no blob.
    let stats = serde_json::json!({ "shard": shard.index, "registry": client.stats() });
    scan::results::write_atomic(
        &args.out_dir.join(format!("stats-{}.json", shard.index)),
        format!("{stats}\n").as_bytes(),
    )?;
    Ok(rows)
}

/// The request that opens a plan entry: a registry reference pinned to the
/// planned digest (a tag may have moved since the plan), or a local input
/// as written (plans written by hand for files).
fn request(
    entry: &PlanEntry,
    client: &crate::registry::Client,
) -> Result<crate::source::OpenRequest, String> {
    let platform = input::parse_platform(&entry.platform)?;
    let input = if is_local(&entry.reference) {
        entry.reference.clone()
    } else {
        let reference =
            crate::registry::reference::strip_scheme(&entry.reference).unwrap_or(&entry.reference);
        format!("registry:{}@{}", repository(reference), entry.digest)
    };
    let mut req =
        input::request(&input, None, Some(platform), true).map_err(|e| super::one_line(&e))?;
    if crate::registry::reference::strip_scheme(&req.input).is_some() {
        req.registry = Some(client.clone());
    }
    Ok(req)
}

fn is_local(reference: &str) -> bool {
    ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|t| reference.starts_with(t))
        || Path::new(&crate::source::split_reference(reference).0).exists()
}

/// `HOST/REPO` of `HOST/REPO:TAG` or `HOST/REPO@DIGEST`.
fn repository(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rfind(':') {
        Some(i) if !reference[i..].contains('/') => &reference[..i],
        _ => reference,
    }
}

/// The scan's progress bar: images done / total, cache hits, bytes pulled.
struct ScanBar {
    bar: ProgressBar,
    cached: AtomicUsize,
    unreadable: AtomicUsize,
    bytes: AtomicU64,
}

impl ScanBar {
    fn start(when: When, total: usize) -> Option<ScanBar> {
        if !super::progress::shows(when) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} scanning {pos}/{len} images {wide_bar} {msg} [{elapsed}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Some(ScanBar {
            bar,
            cached: AtomicUsize::new(0),
            unreadable: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
        })
    }
}

impl run::RunProgress for ScanBar {
    fn done(&self, row: &run::SummaryRow) {
        let cached = self
            .cached
            .fetch_add(usize::from(row.cached), Ordering::Relaxed)
            + usize::from(row.cached);
        let bad = usize::from(row.status == run::Status::Unreadable);
        let unreadable = self.unreadable.fetch_add(bad, Ordering::Relaxed) + bad;
        let bytes = self.bytes.fetch_add(row.bytes_pulled, Ordering::Relaxed) + row.bytes_pulled;
        self.bar.set_message(format!(
            "{cached} cached, {} pulled{}",
            indicatif::HumanBytes(bytes),
            if unreadable > 0 {
                format!(", {unreadable} unreadable")
            } else {
                String::new()
            }
        ));
        self.bar.inc(1);
    }
}

impl Drop for ScanBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_of_references() {
        for (reference, repo) in [
            ("localhost:5000/app:1.0", "localhost:5000/app"),
            ("localhost:5000/team/app:latest", "localhost:5000/team/app"),
            ("localhost:5000/app@sha256:abcd", "localhost:5000/app"),
            ("localhost:5000/app", "localhost:5000/app"), // no tag: the port stays
            ("registry.example/a/b:v1", "registry.example/a/b"),
        ] {
            assert_eq!(repository(reference), repo, "{reference}");
        }
    }
}
