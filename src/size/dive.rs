//! dive-compatible numbers: `efficiency`, `wastedBytes` and
//! `userWastedPercent` computed the way dive 0.13.1 computes them, so users
//! can compare imgaudit with what their CI gate (`dive --ci`) says.
//!
//! What it owns: a faithful re-implementation of dive's per-layer file trees
//! and its `Efficiency` pass, fed from the layer indexes imgaudit already has.
//! What it does not do: decide what waste *is*. dive's numbers are wrong in
//! ways that matter (see `docs/size.md` and the brief "Counting waste
//! correctly"); imgaudit's own waste is computed in [`super`] from the overlay.
//!
//! The algorithm, from wagoodman/dive at tag v0.13.1:
//!
//! - `dive/image/docker/image_archive.go` `processLayerTar`: every tar entry
//!   but `.` is added to the layer's tree with `AddPath(path.Clean(name))`,
//!   and the layer's size is the sum of every entry's header size
//!   (`tree.FileSize += uint64(element.Size)`), so a layer's size is its
//!   regular-file bytes, not the size of its tar.
//! - `dive/filetree/file_tree.go` `AddPath`: missing parents are created
//!   with an empty payload (not a directory, size 0); a component starting
//!   with `.wh..wh..` is never added ("don't add paths that should be
//!   deleted"), so opaque markers are invisible to dive. A `.wh.NAME` entry
//!   is an ordinary node whose `Path()` drops the `.wh.` prefix.
//! - `dive/filetree/efficiency.go` `Efficiency`: each layer's tree is visited
//!   children first, in name order, leaves only (`node.IsLeaf()`: no
//!   children *in that layer*). Each leaf adds its size to its path's
//!   `CumulativeSize`; a whiteout adds 0, unless the path is a directory in
//!   the stack of the layers below (`StackTreeRange(trees, 0, i-1)`), in
//!   which case it adds the size of every node under it. A whiteout of a path
//!   absent below makes `GetNode` fail, and the error aborts the rest of that
//!   layer's visit (dive logs it and goes on with the next layer), after
//!   the path's entry was created with `minDiscoveredSize = -1`, which then
//!   counts as -1 in the score.
//!   `score = Σ minDiscoveredSize / Σ CumulativeSize` over all paths.
//! - `dive/image/image.go` `Analyze`: `wastedBytes` is the sum of
//!   `CumulativeSize` over paths seen two or more times (the kept copy
//!   included, dive#684), `userWastedPercent = wastedBytes / Σ size of layers
//!   1..n` (a ratio, despite the name).
//!
//! Deleting a populated directory therefore costs nothing in dive's eyes (the
//! directory is not a leaf in the lower layer, so its path is seen once), and
//! an opaque directory is ignored altogether.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::layer::{EntryKind, LayerIndex};

/// At most this many inefficient paths are kept in a report.
pub const MAX_INEFFICIENT_FILES: usize = 1000;

/// dive's numbers for an image, computed with dive's algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiveCompat {
    /// dive's `efficiencyScore` (0..1): Σ smallest size seen per path over
    /// Σ every size seen per path. `dive --ci` prints it times 100 as
    /// `efficiency`.
    pub efficiency: f64,
    /// dive's `inefficientBytes` (`wastedBytes` in `dive --ci`): the sum of
    /// every copy of every path seen in two or more layers, the kept copy
    /// included.
    pub wasted_bytes: u64,
    /// dive's `userWastedPercent` as a ratio (`dive --ci` prints it times
    /// 100): `wasted_bytes / user_size_bytes`. `None` when the image has a
    /// single layer (dive divides by zero).
    pub user_wasted_ratio: Option<f64>,
    /// dive's `sizeBytes`: the sum of [`Self::layer_size_bytes`].
    pub size_bytes: u64,
    /// The sizes of all layers but the first, dive's denominator for
    /// `userWastedPercent`.
    pub user_size_bytes: u64,
    /// dive's per-layer `sizeBytes`: the sum of the tar header sizes of the
    /// layer's entries (its regular-file bytes).
    pub layer_size_bytes: Vec<u64>,
    /// dive's `fileReference` list: paths seen two or more times, largest
    /// first (then by path), at most [`MAX_INEFFICIENT_FILES`].
    pub inefficient_files: Vec<DiveFile>,
    /// How many paths dive would list (before the cap).
    pub inefficient_files_total: usize,
}

/// One entry of dive's inefficient-files list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiveFile {
    /// The path (a whiteout's path is the path it deletes).
    pub path: String,
    /// How many times dive saw it (dive's `count`).
    pub count: usize,
    /// dive's `sizeBytes` for it: the sum over every time it was seen.
    pub bytes: u64,
}

/// The payload dive keeps for a node (`FileInfo`, the fields that matter).
#[derive(Copy, Clone, Debug, Default)]
struct Info {
    size: u64,
    is_dir: bool,
}

#[derive(Clone, Debug)]
struct DNode {
    info: Info,
    children: BTreeMap<Box<str>, usize>,
}

/// dive's `FileTree`: an arena; removed nodes just become unreachable.
#[derive(Clone, Debug)]
struct DTree {
    nodes: Vec<DNode>,
}

const WHITEOUT: &str = ".wh.";
const DOUBLE_WHITEOUT: &str = ".wh..wh..";
const DROOT: usize = 0;

impl DTree {
    fn new() -> DTree {
        DTree {
            nodes: vec![DNode {
                info: Info::default(),
                children: BTreeMap::new(),
            }],
        }
    }

    /// `FileTree.AddPath`.
    fn add_path(&mut self, path: &str, info: Info) {
        let mut names = path.split('/').filter(|n| !n.is_empty()).peekable();
        let mut node = DROOT;
        while let Some(name) = names.next() {
            if let Some(&c) = self.nodes[node].children.get(name) {
                node = c;
            } else {
                if name.starts_with(DOUBLE_WHITEOUT) {
                    return;
                }
                self.nodes.push(DNode {
                    info: Info::default(),
                    children: BTreeMap::new(),
                });
                let id = self.nodes.len() - 1;
                self.nodes[node].children.insert(name.into(), id);
                node = id;
            }
            if names.peek().is_none() {
                self.nodes[node].info = info;
            }
        }
    }

    /// `FileTree.GetNode`.
    fn get(&self, path: &str) -> Option<usize> {
        let mut node = DROOT;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            node = *self.nodes[node].children.get(name)?;
        }
        Some(node)
    }

    /// `FileTree.RemovePath` (errors ignored, as `Stack` collects them).
    fn remove(&mut self, path: &str) {
        let Some((dir, name)) = path.trim_end_matches('/').rsplit_once('/') else {
            return;
        };
        if let Some(parent) = self.get(dir) {
            if !name.is_empty() {
                self.nodes[parent].children.remove(name);
            }
        }
    }

    /// `FileTree.Stack(upper)`: graft every node of `upper`, children first.
    fn stack(&mut self, upper: &DTree) {
        let mut path = String::new();
        upper.visit_all(DROOT, &mut path, &mut |p, name, info| {
            if name.starts_with(WHITEOUT) {
                self.remove(p);
            } else {
                self.add_path(p, info);
            }
        });
    }

    /// Children-first visit of every node below `id` with its dive `Path()`.
    fn visit_all(&self, id: usize, path: &mut String, f: &mut impl FnMut(&str, &str, Info)) {
        let _ = self.post_order(id, path, &mut |p, name, node| {
            f(p, name, self.nodes[node].info);
            Some(())
        });
    }

    /// Children-first (post-order) visit of every node below `id`, in name
    /// order, with its dive `Path()`, its own name and its id; `None` from
    /// the visitor stops the visit and is returned.
    ///
    /// Iterative, with an explicit stack: a layer nests directories as deep
    /// as its longest name allows, far deeper than a recursive visit's stack
    /// (issue 14).
    fn post_order(
        &self,
        id: usize,
        path: &mut String,
        f: &mut impl FnMut(&str, &str, usize) -> Option<()>,
    ) -> Option<()> {
        type Frame<'t> = (
            std::collections::btree_map::Iter<'t, Box<str>, usize>,
            Option<(&'t str, usize, usize)>,
        );
        let base = path.len();
        let mut stack: Vec<Frame<'_>> = vec![(self.nodes[id].children.iter(), None)];
        while let Some((children, _)) = stack.last_mut() {
            if let Some((name, &c)) = children.next() {
                let len = path.len();
                path.push('/');
                path.push_str(name);
                stack.push((self.nodes[c].children.iter(), Some((&**name, c, len))));
                continue;
            }
            if let Some((_, Some((name, c, len)))) = stack.pop() {
                let shown = dive_path(path, len, name);
                let r = f(&shown, name, c);
                path.truncate(len);
                r.or_else(|| {
                    path.truncate(base);
                    None
                })?;
            }
        }
        Some(())
    }

    /// Σ size of `id` and every node under it (the whiteout `sizer`).
    fn subtree_size(&self, id: usize) -> u64 {
        let mut total = self.nodes[id].info.size;
        let mut stack: Vec<usize> = self.nodes[id].children.values().copied().collect();
        while let Some(n) = stack.pop() {
            total += self.nodes[n].info.size;
            stack.extend(self.nodes[n].children.values().copied());
        }
        total
    }
}

/// `FileNode.Path()`: a whiteout prefix is dropped from the node's own name.
fn dive_path<'a>(path: &'a str, parent_len: usize, name: &str) -> Cow<'a, str> {
    match name.strip_prefix(WHITEOUT) {
        Some(rest) => Cow::Owned(format!("{}/{rest}", &path[..parent_len])),
        None => Cow::Borrowed(path),
    }
}

/// dive's tree for one layer, and the layer's dive size.
fn layer_tree(index: &LayerIndex) -> (DTree, u64) {
    let mut tree = DTree::new();
    let mut size = 0u64;
    for e in &index.entries {
        // Reconstruct the tar name dive saw: our reader decodes whiteouts.
        let (name, info) = match e.kind {
            EntryKind::Whiteout => {
                let name = match e.path.rsplit_once('/') {
                    Some((dir, base)) => format!("{dir}/{WHITEOUT}{base}"),
                    None => format!("{WHITEOUT}{}", e.path),
                };
                (name, Info::default())
            }
            EntryKind::Opaque => (
                if e.path.is_empty() {
                    format!("{DOUBLE_WHITEOUT}opq")
                } else {
                    format!("{}/{DOUBLE_WHITEOUT}opq", e.path)
                },
                Info::default(),
            ),
            _ => (
                e.path.to_string(),
                Info {
                    size: e.size,
                    is_dir: e.kind == EntryKind::Dir,
                },
            ),
        };
        if name.is_empty() {
            continue; // `./`: dive skips `path.Clean(name) == "."`
        }
        size += info.size;
        tree.add_path(&name, info);
    }
    (tree, size)
}

/// dive's `EfficiencyData` for one path.
struct PathData {
    cumulative: u64,
    /// `minDiscoveredSize`, `-1` until a size is seen: an entry whose visit
    /// aborted keeps the `-1`, and dive adds it to the score's numerator.
    min: i64,
    count: usize,
}

/// Compute dive's numbers for layers given bottom first.
pub fn compute(layers: &[&LayerIndex]) -> DiveCompat {
    let built: Vec<(DTree, u64)> = layers.iter().map(|l| layer_tree(l)).collect();
    let trees: Vec<&DTree> = built.iter().map(|(t, _)| t).collect();
    let layer_size_bytes: Vec<u64> = built.iter().map(|(_, s)| *s).collect();

    let mut data: HashMap<String, PathData> = HashMap::new();
    // `StackTreeRange(trees, 0, i-1)` = trees[0].Copy() stacked with trees
    // 0..i-1: built incrementally, only when a whiteout needs it.
    let mut stacked: Option<(DTree, usize)> = None;
    for (i, tree) in trees.iter().enumerate() {
        let mut path = String::new();
        let _aborted = visit_leaves(tree, DROOT, &mut path, &mut |p, name, info| {
            // dive creates the path's entry before looking anything up.
            let d = data.entry(p.to_string()).or_insert(PathData {
                cumulative: 0,
                min: -1,
                count: 0,
            });
            let size = if name.starts_with(WHITEOUT) {
                let (s, upto) = stacked.get_or_insert_with(|| (trees[0].clone(), 0));
                while *upto < i {
                    s.stack(trees[*upto]);
                    *upto += 1;
                }
                let prev = s.get(p)?; // missing below: dive's visit aborts
                if s.nodes[prev].info.is_dir {
                    s.subtree_size(prev)
                } else {
                    0
                }
            } else {
                info.size
            };
            d.cumulative += size;
            if d.min < 0 || (size as i64) < d.min {
                d.min = size as i64;
            }
            d.count += 1;
            Some(())
        });
    }

    let mut minimum = 0i64;
    let mut discovered = 0u64;
    let mut wasted = 0u64;
    let mut files = Vec::new();
    for (path, d) in data {
        minimum += d.min;
        discovered += d.cumulative;
        if d.count >= 2 {
            wasted += d.cumulative;
            files.push(DiveFile {
                path,
                count: d.count,
                bytes: d.cumulative,
            });
        }
    }
    let efficiency = if discovered == 0 {
        1.0
    } else {
        minimum as f64 / discovered as f64
    };
    files.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    let total = files.len();
    files.truncate(MAX_INEFFICIENT_FILES);
    let size_bytes: u64 = layer_size_bytes.iter().sum();
    let user_size_bytes: u64 = layer_size_bytes.iter().skip(1).sum();
    let ratio = wasted as f64 / user_size_bytes as f64;
    DiveCompat {
        efficiency,
        wasted_bytes: wasted,
        user_wasted_ratio: ratio.is_finite().then_some(ratio),
        size_bytes,
        user_size_bytes,
        layer_size_bytes,
        inefficient_files: files,
        inefficient_files_total: total,
    }
}

/// `VisitDepthChildFirst` with the `IsLeaf` evaluator; `None` from the
/// visitor aborts the whole visit (dive returns the error up the stack).
fn visit_leaves(
    tree: &DTree,
    id: usize,
    path: &mut String,
    f: &mut impl FnMut(&str, &str, Info) -> Option<()>,
) -> Option<()> {
    tree.post_order(id, path, &mut |p, name, c| {
        if tree.nodes[c].children.is_empty() {
            f(p, name, tree.nodes[c].info)?;
        }
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Entry;

    fn entry(path: &str, kind: EntryKind, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            link: None,
            data_offset: 0,
            captured: None,
            sha256: None,
            sparse: false,
            elf: None,
        }
    }

    fn index(entries: Vec<Entry>) -> LayerIndex {
        LayerIndex {
            entries,
            ..LayerIndex::default()
        }
    }

    #[test]
    fn overwritten_file_counts_both_copies() {
        let l0 = index(vec![entry("a", EntryKind::File, 100)]);
        let l1 = index(vec![entry("a", EntryKind::File, 30)]);
        let d = compute(&[&l0, &l1]);
        assert_eq!(d.wasted_bytes, 130);
        assert_eq!(d.efficiency, 30.0 / 130.0);
        assert_eq!(d.layer_size_bytes, vec![100, 30]);
        assert_eq!(d.user_wasted_ratio, Some(130.0 / 30.0));
    }

    #[test]
    fn deleted_populated_dir_is_free_for_dive() {
        let l0 = index(vec![
            entry("d", EntryKind::Dir, 0),
            entry("d/x", EntryKind::File, 10),
            entry("d/y", EntryKind::File, 20),
        ]);
        let l1 = index(vec![entry("d", EntryKind::Whiteout, 0)]);
        let d = compute(&[&l0, &l1]);
        assert_eq!(d.wasted_bytes, 0);
        assert_eq!(d.efficiency, 1.0);
        // Layer 1 holds no bytes: dive divides 0 by 0 (`NaN`).
        assert_eq!(d.user_wasted_ratio, None);
    }

    #[test]
    fn whiteout_of_absent_path_aborts_the_layer() {
        // `.wh.a` (absent below) comes before `b` in name order: `b` is
        // never counted, so its duplicate is invisible to dive.
        let l0 = index(vec![entry("b", EntryKind::File, 5)]);
        let l1 = index(vec![
            entry("a", EntryKind::Whiteout, 0),
            entry("b", EntryKind::File, 7),
        ]);
        let d = compute(&[&l0, &l1]);
        assert_eq!(d.wasted_bytes, 0);
        assert_eq!(d.layer_size_bytes, vec![5, 7]);
        // `/a`'s entry keeps `minDiscoveredSize = -1`: (5 - 1) / 5.
        assert_eq!(d.efficiency, 0.8);
    }

    #[test]
    fn single_layer_has_no_user_ratio() {
        let l0 = index(vec![entry("a", EntryKind::File, 1)]);
        let d = compute(&[&l0]);
        assert_eq!(d.user_wasted_ratio, None);
        assert_eq!(d.efficiency, 1.0);
    }
}
