//! The size view (`imgaudit size IMAGE`): what each layer costs, what it
//! adds and what it deletes or overwrites from below, the largest
//! directories of the final filesystem, **waste** counted right, dive's
//! numbers for comparison, and slimming advice with the bytes each step
//! would save.
//!
//! What it owns: the [`SizeReport`] (a versioned wire schema,
//! [`SCHEMA_VERSION`]) and its two renderings, [`render_text`] for people
//! and [`render_json`] for machines. What it does not do: read layers or
//! apply whiteouts (that is `overlay`, whose per-layer [`LayerEffect`]s this
//! module reads), compare sizes against `[budget]` (the audit does, from the
//! same numbers: [`SizeReport::total_bytes`], [`LayerSize::uncompressed_bytes`],
//! [`SizeReport::waste_bytes`]), or report deleted must-stay files (the
//! finding `required-file-deleted` does; [`advice::MUST_STAY`] only lists
//! them).
//!
//! The spec is `size-and-speed.md`, "Counting waste correctly": **waste =
//! bytes of regular files in all layers − bytes of regular files in the
//! merged result**, hard links counted once, deleted directories included,
//! reported per layer that caused it with the largest paths. The two sides
//! are computed independently here (from the layer indexes and from a walk
//! of the merged tree), and the overlay charges every byte that leaves the
//! tree to the layer that removed it; the tests check that both agree.
//!
//! dive's numbers ([`dive::DiveCompat`]) are reproduced with dive's own
//! algorithm and labelled "dive-compatible": they differ from waste on
//! purpose (an overwritten file counts twice, a deleted directory counts
//! zero), and `bench/dive-compare.sh` checks them against `dive` itself.

pub mod advice;
pub mod dive;

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::escape::escape;
use crate::image::Image;
use crate::overlay::{Cause, LayerEffect};
use crate::tree::{ContentId, Kind, MergedTree, WalkEvent, ROOT};

pub use advice::Advice;
pub use dive::DiveCompat;

/// Version of the JSON shape of [`SizeReport`]. Bumped on any change that
/// removes or renames a field or changes its meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// Removed subtrees listed per layer in the report (largest first).
pub const MAX_REMOVALS: usize = 20;

/// Directories listed in [`SizeReport::largest_dirs`].
pub const MAX_DIRS: usize = 10;

/// Removed paths shown per layer in the text rendering.
const TEXT_REMOVALS: usize = 5;

/// Inefficient paths shown in the text rendering of the dive block.
const TEXT_DIVE_FILES: usize = 5;

/// Everything `imgaudit size` reports about an image.
#[derive(Clone, Debug, Serialize)]
pub struct SizeReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The image as the user named it.
    pub image: String,
    /// The tag or ref name chosen inside it, if any.
    pub reference: Option<String>,
    /// Digest of the image config (the image id), when known.
    pub config_digest: Option<String>,
    /// Bytes of regular files in the final (merged) filesystem, each
    /// hard-linked content once. `budget.total` is checked against this.
    pub total_bytes: u64,
    /// Regular-file paths in the final filesystem (every hard link counted).
    pub total_files: u64,
    /// Distinct file contents in the final filesystem (hard links once).
    pub unique_files: u64,
    /// Bytes of regular files in all layers (hard-link entries carry no
    /// bytes and are not counted).
    pub layers_file_bytes: u64,
    /// Regular-file entries in all layers.
    pub layers_files: u64,
    /// Σ of the layers' uncompressed tar sizes.
    pub uncompressed_bytes: u64,
    /// Σ of the layers' stored (possibly compressed) sizes.
    pub stored_bytes: u64,
    /// **Waste**: `layers_file_bytes − total_bytes`, the bytes shipped in
    /// layers that the final filesystem does not show (overwritten, whited
    /// out, hidden by an opaque directory). `budget.waste` is checked
    /// against this. Equals the sum of [`LayerSize::removed_bytes`].
    pub waste_bytes: u64,
    /// Files behind [`Self::waste_bytes`]: `layers_files − unique_files`.
    pub waste_files: u64,
    /// What the waste costs as stored: each layer's hidden bytes times its
    /// stored/uncompressed ratio. An estimate (compression is not uniform);
    /// equals the waste for uncompressed layers.
    pub waste_stored_bytes_estimate: u64,
    /// Every layer, bottom first.
    pub layers: Vec<LayerSize>,
    /// The largest directories of the final filesystem by cumulative bytes
    /// (each content counted under the first path that names it), at most
    /// [`MAX_DIRS`], `/` excluded.
    pub largest_dirs: Vec<DirSize>,
    /// dive's numbers computed with dive's algorithm, for comparison. Not
    /// waste: see [`dive`].
    pub dive_compatible: DiveCompat,
    /// Slimming advice, largest saving first.
    pub advice: Vec<Advice>,
    /// Bytes all advice steps together would free (each content once).
    pub advice_total_bytes: u64,
    /// What must stay in any case ([`advice::MUST_STAY`]).
    pub must_stay: Vec<&'static str>,
    /// The finding that reports a layer deleting a must-stay path
    /// (`required-file-deleted`).
    pub must_stay_rule: &'static str,
}

/// One layer's sizes and what it did to the layers below.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSize {
    /// 0-based index, bottom first.
    pub index: usize,
    /// `created_by` from the config history.
    pub created_by: Option<String>,
    /// Blob digest, when known.
    pub digest: Option<String>,
    /// Size as stored (compressed, for compressed layers).
    pub stored_bytes: u64,
    /// Size of the uncompressed tar stream. `budget.layer` is checked
    /// against this.
    pub uncompressed_bytes: u64,
    /// Tar entries (whiteouts included).
    pub entries: usize,
    /// Regular files the layer adds (hard links not counted).
    pub files: u64,
    /// Bytes of those files.
    pub file_bytes: u64,
    /// Whiteout and opaque-marker entries.
    pub whiteouts: usize,
    /// Of [`Self::file_bytes`], what is still visible in the final
    /// filesystem.
    pub visible_bytes: u64,
    /// Of [`Self::file_bytes`], what later layers (or this one, by a
    /// duplicate entry) hide: the waste *stored in* this layer.
    pub hidden_bytes: u64,
    /// The waste this layer *caused*: bytes of files it made unreachable by
    /// deleting or overwriting them (hard links once, directories included).
    pub removed_bytes: u64,
    /// Files it made unreachable.
    pub removed_files: u64,
    /// The subtrees it removed, largest first (at most [`MAX_REMOVALS`]).
    pub removals: Vec<RemovedPath>,
    /// How many subtrees it removed in all.
    pub removals_total: usize,
}

/// A subtree a layer deleted or overwrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemovedPath {
    /// Absolute path of the subtree's root.
    pub path: String,
    /// How it went: `whiteout`, `opaque` (its contents) or `replaced`.
    pub cause: Cause,
    /// Bytes made unreachable.
    pub bytes: u64,
    /// Files made unreachable.
    pub files: u64,
}

/// A directory of the final filesystem and what is under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirSize {
    /// Absolute path.
    pub path: String,
    /// Bytes of regular files under it (cumulative).
    pub bytes: u64,
    /// Regular files under it.
    pub files: u64,
}

/// Analyse an opened image.
pub fn analyze(image: &Image) -> SizeReport {
    let tree = &image.tree;
    // dive's trees are built from the layer indexes, the rest from the
    // merged tree: two independent passes, one per core.
    let indexes: Vec<&crate::layer::LayerIndex> = image.layers.iter().map(|l| &*l.index).collect();
    let (dive_compatible, (walk, (advice, advice_total_bytes))) = rayon::join(
        || dive::compute(&indexes),
        || (walk_final(tree, image.layers.len()), advice::advise(image)),
    );

    let mut layers = Vec::with_capacity(image.layers.len());
    let mut layers_file_bytes = 0u64;
    let mut layers_files = 0u64;
    let mut stored_estimate = 0f64;
    for (i, l) in image.layers.iter().enumerate() {
        // From the index, not the overlay: the two sides of the waste
        // equation are computed independently.
        let (files, file_bytes) = l
            .index
            .entries
            .iter()
            .filter(|e| e.kind == crate::layer::EntryKind::File)
            .fold((0u64, 0u64), |(n, b), e| (n + 1, b + e.size));
        layers_files += files;
        layers_file_bytes += file_bytes;
        let visible = walk.visible_by_layer[i];
        let hidden = file_bytes.saturating_sub(visible);
        let uncompressed = l.index.uncompressed_size;
        if uncompressed > 0 {
            stored_estimate += hidden as f64 * (l.stored_size as f64 / uncompressed as f64);
        }
        let empty = LayerEffect::default();
        let effect = image.effects.get(i).unwrap_or(&empty);
        let mut removals: Vec<RemovedPath> = effect
            .removals
            .iter()
            .map(|r| RemovedPath {
                path: r.path.clone(),
                cause: r.cause,
                bytes: r.bytes,
                files: r.files,
            })
            .collect();
        removals.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        let removals_total = removals.len();
        removals.truncate(MAX_REMOVALS);
        layers.push(LayerSize {
            index: i,
            created_by: l.created_by.clone(),
            digest: l.digest.clone(),
            stored_bytes: l.stored_size,
            uncompressed_bytes: uncompressed,
            entries: l.index.entries.len(),
            files,
            file_bytes,
            whiteouts: effect.whiteouts,
            visible_bytes: visible,
            hidden_bytes: hidden,
            removed_bytes: effect.removed_bytes,
            removed_files: effect.removed_files,
            removals,
            removals_total,
        });
    }

    SizeReport {
        schema_version: SCHEMA_VERSION,
        image: image.input.clone(),
        reference: image.resolved.reference.clone(),
        config_digest: image.resolved.config_digest.clone(),
        total_bytes: walk.total_bytes,
        total_files: walk.total_files,
        unique_files: walk.unique_files,
        layers_file_bytes,
        layers_files,
        uncompressed_bytes: image.layers.iter().map(|l| l.index.uncompressed_size).sum(),
        stored_bytes: image.layers.iter().map(|l| l.stored_size).sum(),
        waste_bytes: layers_file_bytes.saturating_sub(walk.total_bytes),
        waste_files: layers_files.saturating_sub(walk.unique_files),
        waste_stored_bytes_estimate: stored_estimate.round() as u64,
        layers,
        largest_dirs: walk.largest_dirs,
        dive_compatible,
        advice,
        advice_total_bytes,
        must_stay: advice::MUST_STAY.to_vec(),
        must_stay_rule: advice::MUST_STAY_RULE,
    }
}

/// What one walk of the final filesystem yields.
struct FinalWalk {
    total_bytes: u64,
    total_files: u64,
    unique_files: u64,
    visible_by_layer: Vec<u64>,
    largest_dirs: Vec<DirSize>,
}

fn walk_final(tree: &MergedTree, layers: usize) -> FinalWalk {
    let mut seen: HashSet<ContentId> = HashSet::new();
    let mut total_files = 0u64;
    let mut visible_by_layer = vec![0u64; layers];
    let mut top: Vec<DirSize> = Vec::with_capacity(MAX_DIRS + 1);
    // (bytes, files) of each open directory, the root's at the bottom: the
    // walk is iterative (`walk_events`), so the sums are kept here instead
    // of on the call stack.
    let mut open: Vec<(u64, u64)> = vec![(0, 0)];
    tree.walk_events(ROOT, |event, path, _, node| match (event, node.kind) {
        (WalkEvent::Enter, Kind::Dir) => open.push((0, 0)),
        (WalkEvent::Leave, _) => {
            let (b, f) = open.pop().expect("entered before left");
            // A directory with MAX_DIRS ancestors (`/` not counted) can never
            // be listed: each ancestor holds at least its bytes and sorts
            // before it (a prefix). Skipping it keeps a 100,000-deep chain
            // linear instead of copying and comparing every long path.
            if depth_below(path, MAX_DIRS) {
                offer(&mut top, path, b, f);
            }
            let parent = open.last_mut().expect("the root stays open");
            parent.0 += b;
            parent.1 += f;
        }
        (WalkEvent::Enter, Kind::File) => {
            total_files += 1;
            let here = open.last_mut().expect("the root stays open");
            here.1 += 1;
            let Some(c) = node.content else { return };
            if seen.insert(c) {
                here.0 += node.size;
                let layer = tree.contents[c.0 as usize].layer as usize;
                if let Some(v) = visible_by_layer.get_mut(layer) {
                    *v += node.size;
                }
            }
        }
        _ => {}
    });
    let (total_bytes, _) = open.pop().expect("the root stays open");
    FinalWalk {
        total_bytes,
        total_files,
        unique_files: seen.len() as u64,
        visible_by_layer,
        largest_dirs: top,
    }
}

/// True when absolute `path` has at most `n` components.
fn depth_below(path: &str, n: usize) -> bool {
    path.bytes().filter(|&b| b == b'/').take(n + 1).count() <= n
}

/// Keep the [`MAX_DIRS`] largest directories (ties: path order).
fn offer(top: &mut Vec<DirSize>, path: &str, bytes: u64, files: u64) {
    fn key(d: &DirSize) -> (std::cmp::Reverse<u64>, &str) {
        (std::cmp::Reverse(d.bytes), d.path.as_str())
    }
    let new = (std::cmp::Reverse(bytes), path);
    if top.len() == MAX_DIRS {
        let last = top.last().expect("full");
        if new >= key(last) {
            return;
        }
        top.pop();
    }
    let at = top.partition_point(|x| key(x) < new);
    top.insert(
        at,
        DirSize {
            path: path.to_string(),
            bytes,
            files,
        },
    );
}

/// The report as pretty JSON, newline-terminated.
pub fn render_json(report: &SizeReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a SizeReport always serializes");
    s.push('\n');
    s
}

/// Bytes for people, in SI units as `docker` and dive print them
/// (`999 B`, `1.2 kB`, `45.0 MB`, `9.87 GB`).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if b < 1000 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.2} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// `created_by` as a one-line label ([`crate::step::shorten`]), or
/// `(no history)`.
fn short_created_by(c: Option<&str>) -> String {
    c.map_or_else(|| "(no history)".to_string(), crate::step::shorten)
}

struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("{code}{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("\x1b[1m", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("\x1b[2m", s)
    }
    fn warn(&self, s: &str) -> String {
        self.wrap("\x1b[1;33m", s)
    }
    fn good(&self, s: &str) -> String {
        self.wrap("\x1b[1;32m", s)
    }
}

/// `45.0 MB (45007771 B)`; below 1000 bytes the two are one (`999 B`).
fn both(b: u64) -> String {
    if b < 1000 {
        format!("{b} B")
    } else {
        format!("{} ({b} B)", human_bytes(b))
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn percent(part: u64, whole: u64) -> String {
    let pct = if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    };
    if pct > 0.0 && pct < 0.1 {
        "<0.1%".to_string()
    } else {
        format!("{pct:.1}%")
    }
}

/// The report for people: summary, layer table, waste per layer, largest
/// directories, the dive-compatible block and the advice. `color` adds ANSI
/// styling (the caller decides, honouring `NO_COLOR`).
pub fn render_text(report: &SizeReport, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    let o = &mut out;
    let _ = match &report.reference {
        Some(r) => writeln!(
            o,
            "{} {} ({})",
            p.bold("Image"),
            escape(&report.image),
            escape(r)
        ),
        None => writeln!(o, "{} {}", p.bold("Image"), escape(&report.image)),
    };
    let _ = writeln!(
        o,
        "  final filesystem  {}  {} ({} distinct)",
        both(report.total_bytes),
        plural(report.total_files, "file", "files"),
        report.unique_files
    );
    let _ = writeln!(
        o,
        "  in all layers     {}  {}; tars {}, stored {}",
        both(report.layers_file_bytes),
        plural(report.layers_files, "file", "files"),
        human_bytes(report.uncompressed_bytes),
        human_bytes(report.stored_bytes),
    );
    let waste_line = format!(
        "  waste             {}  {}, {} of the bytes in layers",
        both(report.waste_bytes),
        plural(report.waste_files, "file", "files"),
        percent(report.waste_bytes, report.layers_file_bytes),
    );
    let _ = writeln!(
        o,
        "{}",
        if report.waste_bytes > 0 {
            p.warn(&waste_line)
        } else {
            p.good(&waste_line)
        }
    );
    if report.waste_bytes > 0 && report.waste_stored_bytes_estimate != report.waste_bytes {
        let _ = writeln!(
            o,
            "                    ≈ {} of it as stored (estimate from each layer's compression ratio)",
            human_bytes(report.waste_stored_bytes_estimate)
        );
    }
    let _ = writeln!(
        o,
        "{}",
        p.dim("  waste = bytes of files in all layers − bytes of files in the final filesystem (hard links once)")
    );

    // Layer table.
    let _ = writeln!(o);
    let _ = writeln!(o, "{}", p.bold("Layers (bottom first)"));
    let header = [
        "#",
        "stored",
        "uncompressed",
        "entries",
        "adds",
        "deletes/overwrites",
        "created_by",
    ];
    let rows: Vec<[String; 7]> = report
        .layers
        .iter()
        .map(|l| {
            [
                l.index.to_string(),
                both(l.stored_bytes),
                both(l.uncompressed_bytes),
                l.entries.to_string(),
                format!(
                    "{} in {}",
                    both(l.file_bytes),
                    plural(l.files, "file", "files")
                ),
                if l.removals_total == 0 {
                    "-".to_string()
                } else {
                    format!(
                        "{} in {}",
                        both(l.removed_bytes),
                        plural(l.removed_files, "file", "files")
                    )
                },
                short_created_by(l.created_by.as_deref()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::from(" ");
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            // Numbers right-aligned, text left-aligned; the last column unpadded.
            if i == cells.len() - 1 {
                s.push_str(&format!(" {c}"));
            } else if matches!(i, 0 | 3) {
                s.push_str(&format!(" {}{c}", " ".repeat(pad)));
            } else {
                s.push_str(&format!(" {c}{}", " ".repeat(pad)));
            }
        }
        s
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(o, "{}", p.dim(&line(&head)));
    for r in &rows {
        let _ = writeln!(o, "{}", line(r));
    }

    // Waste per layer.
    let _ = writeln!(o);
    let _ = writeln!(o, "{}", p.bold("Waste by the layer that caused it"));
    let culprits: Vec<&LayerSize> = report
        .layers
        .iter()
        .filter(|l| l.removed_bytes > 0)
        .collect();
    if culprits.is_empty() {
        let _ = writeln!(
            o,
            "  none: no layer deletes or overwrites file bytes from below"
        );
    }
    for l in culprits {
        let _ = writeln!(
            o,
            "  layer {} ({}) made {} unreachable in {}:",
            l.index,
            short_created_by(l.created_by.as_deref()),
            p.warn(&both(l.removed_bytes)),
            plural(l.removed_files, "file", "files"),
        );
        for r in l
            .removals
            .iter()
            .filter(|r| r.bytes > 0)
            .take(TEXT_REMOVALS)
        {
            let cause = match r.cause {
                Cause::Whiteout => "deleted",
                Cause::Opaque => "hidden by an opaque directory",
                Cause::Replaced => "overwritten",
            };
            let _ = writeln!(
                o,
                "    {:>24}  {}  {}",
                both(r.bytes),
                escape(&r.path),
                p.dim(&format!("({cause}, {})", plural(r.files, "file", "files")))
            );
        }
        let more = l.removals.iter().filter(|r| r.bytes > 0).count() > TEXT_REMOVALS
            || l.removals_total > l.removals.len();
        if more {
            let _ = writeln!(
                o,
                "    {}",
                p.dim(&format!(
                    "… {} removed paths in all (`--format json` lists {})",
                    l.removals_total,
                    l.removals.len()
                ))
            );
        }
    }

    // Largest directories.
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{}",
        p.bold("Largest directories of the final filesystem (cumulative)")
    );
    for d in &report.largest_dirs {
        let _ = writeln!(
            o,
            "  {:>24}  {:>6}  {}",
            both(d.bytes),
            percent(d.bytes, report.total_bytes),
            escape(&d.path)
        );
    }
    if report.largest_dirs.is_empty() {
        let _ = writeln!(o, "  (none)");
    }

    // dive-compatible block.
    let d = &report.dive_compatible;
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{}",
        p.bold("dive-compatible (dive 0.13 algorithm, for comparison with `dive --ci`; not imgaudit's waste)")
    );
    let _ = writeln!(o, "  efficiency:        {:.4} %", d.efficiency * 100.0);
    let _ = writeln!(
        o,
        "  wastedBytes:       {} bytes ({})",
        d.wasted_bytes,
        human_bytes(d.wasted_bytes)
    );
    match d.user_wasted_ratio {
        Some(r) => {
            let _ = writeln!(o, "  userWastedPercent: {:.4} %", r * 100.0);
        }
        None => {
            let _ = writeln!(o, "  userWastedPercent: undefined (a single layer)");
        }
    }
    let _ = writeln!(
        o,
        "  sizeBytes:         {} bytes ({})",
        d.size_bytes,
        human_bytes(d.size_bytes)
    );
    for f in d.inefficient_files.iter().take(TEXT_DIVE_FILES) {
        let _ = writeln!(
            o,
            "    {:>3}×  {:>24}  {}",
            f.count,
            both(f.bytes),
            escape(&f.path)
        );
    }
    if d.inefficient_files_total > TEXT_DIVE_FILES {
        let _ = writeln!(
            o,
            "    {}",
            p.dim(&format!("… {} paths in all", d.inefficient_files_total))
        );
    }
    let _ = writeln!(
        o,
        "{}",
        p.dim("  dive counts every copy of a path seen in 2+ layers (the kept one too), nothing for a deleted directory, and ignores opaque directories")
    );

    // Advice.
    let _ = writeln!(o);
    let _ = writeln!(o, "{}", p.bold("Slimming advice"));
    if report.advice.is_empty() {
        let _ = writeln!(o, "  nothing to delete from the usual suspects");
    } else {
        let _ = writeln!(
            o,
            "  {}",
            p.dim(&format!(
                "all together: {}; each step frees its bytes only at the end of the RUN that created the files",
                both(report.advice_total_bytes)
            ))
        );
    }
    for a in &report.advice {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "  {}  {} in {}: {}",
            p.bold(a.id),
            p.warn(&both(a.bytes)),
            plural(a.files, "file", "files"),
            a.what
        );
        for e in &a.examples {
            let _ = writeln!(o, "    {:>24}  {}", both(e.bytes), escape(&e.path));
        }
        if a.roots > a.examples.len() {
            let _ = writeln!(o, "    {}", p.dim(&format!("… {} paths in all", a.roots)));
        }
        for lb in &a.by_layer {
            let _ = writeln!(
                o,
                "    in layer {} ({}): {}",
                lb.layer,
                short_created_by(lb.created_by.as_deref()),
                both(lb.bytes)
            );
        }
        let _ = writeln!(o, "    matches: {}", a.patterns.join("; "));
        let _ = writeln!(o, "    {}", escape(&a.run));
        let _ = writeln!(o, "    {}", p.dim(&format!("note: {}", a.note)));
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{}", p.bold("Must stay"));
    for m in &report.must_stay {
        let _ = writeln!(o, "  - {m}");
    }
    let _ = writeln!(
        o,
        "  {}",
        p.dim(&format!(
            "a layer that deleted one of these is reported by `imgaudit audit` as `{}`",
            report.must_stay_rule
        ))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human() {
        // (bytes, text)
        let cases = [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1.00 kB"),
            (20_147, "20.1 kB"),
            (45_007_771, "45.0 MB"),
            (9_870_000_000, "9.87 GB"),
        ];
        for (b, want) in cases {
            assert_eq!(human_bytes(b), want, "{b}");
        }
    }

    #[test]
    fn created_by_is_shortened() {
        // The one shortener (`crate::step::shorten`), or a placeholder.
        assert_eq!(
            short_created_by(Some("/bin/sh -c #(nop)  CMD [\"sh\"]")),
            "CMD [\"sh\"]"
        );
        assert_eq!(short_created_by(Some("RUN a\n  && b")), "RUN a && b");
        assert_eq!(short_created_by(None), "(no history)");
    }
}
