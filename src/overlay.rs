//! Overlay resolver: applies layer changesets, bottom first, to a
//! [`MergedTree`] with OCI/umoci semantics, and records what each layer
//! removed from below (the raw material of the size view).
//!
//! Semantics (OCI image-spec `layer.md`, umoci `oci/layer/tar_extract.go`):
//!
//! - Whiteouts delete from *lower* layers only. `.wh.b` plus a new `b/…` in
//!   the same layer keeps the new `b/…` (umoci keeps same-layer paths in
//!   `upperPaths`). We get this by applying a layer's opaque markers and
//!   whiteouts first, before any of its additions.
//! - `DIR/.wh..wh..opq` hides everything under `DIR` from lower layers but
//!   keeps `DIR`, regardless of where the marker stands in the tar: "applies
//!   first" falls out of the same two-phase order.
//! - An entry over an existing path: a directory onto a directory merges
//!   attributes; anything else replaces, removing the whole subtree.
//!   Duplicate entries in one layer: the last one wins.
//! - Hardlinks resolve to the node their target path names *at that moment*
//!   and share its content id, so the bytes survive the target path being
//!   whited out or replaced later.
//! - Parent directories of an entry are resolved through symlinks inside the
//!   image root (umoci's securejoin), so `bin/x` over a lower `/bin -> usr/bin`
//!   lands in `/usr/bin/x`; missing parents are created (mode 0755).
//!
//! Waste accounting: whenever a file's last reference leaves the tree, its
//! bytes are charged to the layer that removed it. So the sum over layers
//! equals bytes in all layers minus bytes in the result, hardlinks once.

use std::sync::Arc;

use crate::extract::ExtractorSet;
use crate::layer::{Entry, EntryKind, LayerIndex};
use crate::tree::{Kind, MergedTree, Node, NodeId, TreeError, MAX_HOPS, ROOT};

/// Errors that make the layer stack inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// A hardlink names a path that does not exist.
    #[error("layer {layer}: hardlink `{path}` points at `{target}`, which does not exist")]
    HardlinkMissing {
        /// Layer index.
        layer: usize,
        /// The link's path.
        path: String,
        /// Its target.
        target: String,
    },
    /// A hardlink names a directory.
    #[error("layer {layer}: hardlink `{path}` points at directory `{target}`")]
    HardlinkToDir {
        /// Layer index.
        layer: usize,
        /// The link's path.
        path: String,
        /// Its target.
        target: String,
    },
    /// A parent path could not be resolved (symlink loop).
    #[error("layer {layer}: cannot resolve the parent of `{path}`: {why}")]
    Parent {
        /// Layer index.
        layer: usize,
        /// The entry path.
        path: String,
        /// Why.
        why: String,
    },
}

/// Why a subtree left the tree.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// A `.wh.NAME` entry.
    Whiteout,
    /// A `.wh..wh..opq` marker on the parent directory.
    Opaque,
    /// Overwritten by an entry of the same path (or a duplicate entry).
    Replaced,
}

/// One subtree removed by a layer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Removal {
    /// Absolute path of the removed subtree's root.
    pub path: String,
    /// Why it left.
    pub cause: Cause,
    /// Bytes of regular files made unreachable (hardlinks once).
    pub bytes: u64,
    /// Regular files made unreachable.
    pub files: u64,
    /// Removed paths the analyzers asked to remember by name
    /// ([`ExtractorSet::notable`]), capped at [`MAX_NOTABLE`].
    pub notable: Vec<String>,
}

/// Cap on notable paths recorded per removal.
pub const MAX_NOTABLE: usize = 10_000;

/// What one layer did to the tree below it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LayerEffect {
    /// Entries in the layer (whiteouts included).
    pub entries: usize,
    /// Regular files the layer adds (hardlinks not counted).
    pub added_files: u64,
    /// Bytes of those files.
    pub added_bytes: u64,
    /// Whiteout and opaque entries.
    pub whiteouts: usize,
    /// Bytes this layer made unreachable (waste it caused).
    pub removed_bytes: u64,
    /// Files this layer made unreachable.
    pub removed_files: u64,
    /// The subtrees it removed.
    pub removals: Vec<Removal>,
}

/// Applies layers to a tree in order.
pub struct Overlay {
    tree: MergedTree,
    refs: Vec<u32>,
    effects: Vec<LayerEffect>,
    /// Removals made while resolving parents, charged to the current layer.
    pending_removals: Vec<Removal>,
    /// Which removed paths to remember by name.
    extractors: Arc<ExtractorSet>,
}

impl Overlay {
    /// Start from an empty tree; removed paths that `extractors` calls
    /// notable are remembered by name in each [`Removal`].
    pub fn new(tree: MergedTree, extractors: Arc<ExtractorSet>) -> Overlay {
        Overlay {
            tree,
            refs: Vec::new(),
            effects: Vec::new(),
            pending_removals: Vec::new(),
            extractors,
        }
    }

    /// Finish: the merged tree and each layer's effect.
    pub fn finish(self) -> (MergedTree, Vec<LayerEffect>) {
        (self.tree, self.effects)
    }

    /// Apply the next layer (its index is the number applied so far).
    pub fn apply(&mut self, index: &LayerIndex) -> Result<(), OverlayError> {
        let layer = self.effects.len();
        let mut effect = LayerEffect {
            entries: index.entries.len(),
            ..LayerEffect::default()
        };
        // Phase 1: opaque markers and whiteouts, against lower layers only.
        for e in &index.entries {
            match e.kind {
                EntryKind::Opaque => {
                    effect.whiteouts += 1;
                    let Ok(r) = self.tree.stat(&format!("/{}", e.path)) else {
                        continue;
                    };
                    if !self.tree.node(r.id).is_dir() {
                        continue;
                    }
                    let names: Vec<Box<str>> =
                        self.tree.children(r.id).map(|(n, _)| n.into()).collect();
                    let mut removal = Removal {
                        path: r.path.clone(),
                        cause: Cause::Opaque,
                        bytes: 0,
                        files: 0,
                        notable: Vec::new(),
                    };
                    for name in names {
                        if let Some(child) = self.tree.unlink(r.id, &name) {
                            self.release(child, &mut removal);
                        }
                    }
                    self.record(&mut effect, removal);
                }
                EntryKind::Whiteout => {
                    effect.whiteouts += 1;
                    let Ok(r) = self.tree.lstat(&format!("/{}", e.path)) else {
                        continue;
                    };
                    if r.id == ROOT {
                        continue;
                    }
                    let parent = self.tree.node(r.id).parent;
                    let name: Box<str> = self.tree.node(r.id).name.clone();
                    if let Some(child) = self.tree.unlink(parent, &name) {
                        let mut removal = Removal {
                            path: r.path,
                            cause: Cause::Whiteout,
                            bytes: 0,
                            files: 0,
                            notable: Vec::new(),
                        };
                        self.release(child, &mut removal);
                        self.record(&mut effect, removal);
                    }
                }
                _ => {}
            }
        }
        // Phase 2: additions in tar order.
        for e in &index.entries {
            if matches!(e.kind, EntryKind::Opaque | EntryKind::Whiteout) {
                continue;
            }
            self.add(layer, e, &mut effect)?;
        }
        self.effects.push(effect);
        Ok(())
    }

    fn record(&mut self, effect: &mut LayerEffect, removal: Removal) {
        if removal.cause == Cause::Replaced && removal.files == 0 && removal.notable.is_empty() {
            return; // a symlink or empty dir overwritten: nothing to tell
        }
        effect.removed_bytes += removal.bytes;
        effect.removed_files += removal.files;
        effect.removals.push(removal);
    }

    /// Drop a detached subtree's references, charging freed bytes.
    fn release(&mut self, id: NodeId, removal: &mut Removal) {
        // One path buffer for the whole walk: each stack item carries the
        // length of its parent's path, which is always a prefix of the
        // buffer when the item is popped (depth-first order). Building a
        // fresh string per node was quadratic in the depth of the removed
        // subtree (issue 14: a 100 k-deep directory).
        let mut path = removal.path.clone();
        let mut stack: Vec<(NodeId, Option<usize>)> = vec![(id, None)];
        while let Some((id, parent_len)) = stack.pop() {
            let node = self.tree.node(id);
            if let Some(len) = parent_len {
                path.truncate(len);
                path.push('/');
                path.push_str(&node.name);
            }
            if removal.notable.len() < MAX_NOTABLE && self.extractors.notable(&path) {
                removal.notable.push(path.clone());
            }
            if let Some(c) = node.content {
                let r = &mut self.refs[c.0 as usize];
                *r = r.saturating_sub(1);
                if *r == 0 {
                    removal.bytes += node.size;
                    removal.files += 1;
                }
            }
            let len = path.len();
            stack.extend(self.tree.children(id).map(|(_, child)| (child, Some(len))));
        }
    }

    /// Resolve (creating as needed) the directory that will hold `path`.
    fn parent_dir(&mut self, layer: usize, path: &str) -> Result<NodeId, OverlayError> {
        let Some((dir, _)) = path.rsplit_once('/') else {
            return Ok(ROOT);
        };
        // Components still to walk, last first: a dangling symlink pushes its
        // target's components, so the walk continues where it points.
        let mut todo: Vec<Box<str>> = dir.rsplit('/').map(Into::into).collect();
        let mut hops = 0;
        let mut cur = ROOT;
        while let Some(comp) = todo.pop() {
            match &*comp {
                "" | "." => continue,
                ".." => {
                    cur = self.tree.node(cur).parent; // the root's parent is the root
                    continue;
                }
                _ => {}
            }
            let Some(id) = self.tree.child(cur, &comp) else {
                cur = self.new_dir(layer, cur, &comp);
                continue;
            };
            match self.tree.node(id).kind {
                Kind::Dir => cur = id,
                Kind::Symlink => match self.tree.resolve_from(cur, &comp, true) {
                    Ok(r) if self.tree.node(r.id).is_dir() => cur = r.id,
                    // A symlink to a file in the middle of a path: the
                    // layer's directory replaces the symlink (umoci and
                    // containerd refuse such a layer; we stay lenient).
                    Ok(_) => cur = self.replace_with_dir(layer, cur, &comp),
                    // A dangling symlink: follow it and create the missing
                    // directories where it points, inside the root, as
                    // umoci (`SecureJoinVFS` + `MkdirAll`) and containerd
                    // (`fs.RootPath` + `mkparent`) do; the symlink stays.
                    Err(TreeError::NotFound(_)) if hops < MAX_HOPS => {
                        hops += 1;
                        let target = self.tree.node(id).link.clone().unwrap_or_default();
                        if target.starts_with('/') {
                            cur = ROOT;
                        }
                        todo.extend(target.rsplit('/').map(Into::into));
                    }
                    Err(e) => {
                        return Err(OverlayError::Parent {
                            layer,
                            path: format!("/{path}"),
                            why: e.to_string(),
                        })
                    }
                },
                _ => cur = self.replace_with_dir(layer, cur, &comp),
            }
        }
        Ok(cur)
    }

    fn replace_with_dir(&mut self, layer: usize, parent: NodeId, name: &str) -> NodeId {
        if let Some(old) = self.tree.unlink(parent, name) {
            let mut removal = Removal {
                path: join(&self.tree.path_of(parent), name),
                cause: Cause::Replaced,
                bytes: 0,
                files: 0,
                notable: Vec::new(),
            };
            self.release(old, &mut removal);
            self.pending_removals.push(removal);
        }
        self.new_dir(layer, parent, name)
    }

    fn new_dir(&mut self, layer: usize, parent: NodeId, name: &str) -> NodeId {
        let node = Node::implicit_dir(layer as u32);
        self.tree.alloc(node, parent, name)
    }

    fn add(
        &mut self,
        layer: usize,
        e: &Entry,
        effect: &mut LayerEffect,
    ) -> Result<(), OverlayError> {
        if e.path.is_empty() {
            // The root directory entry: merge attributes.
            let root = &mut self.tree.nodes[ROOT as usize];
            root.mode = e.mode;
            root.uid = e.uid;
            root.gid = e.gid;
            root.mtime = e.mtime;
            return Ok(());
        }
        let parent = self.parent_dir(layer, &e.path)?;
        for r in std::mem::take(&mut self.pending_removals) {
            self.record(effect, r);
        }
        let name = e.path.rsplit('/').next().unwrap_or(&e.path);
        let existing = self.tree.child(parent, name);
        if e.kind == EntryKind::Dir {
            if let Some(id) = existing.filter(|id| self.tree.node(*id).is_dir()) {
                let n = &mut self.tree.nodes[id as usize];
                n.mode = e.mode;
                n.uid = e.uid;
                n.gid = e.gid;
                n.mtime = e.mtime;
                n.layer = layer as u32;
                return Ok(());
            }
        }
        // Build the new node before unlinking the old one: a hardlink may
        // name the very path it replaces.
        let node = match e.kind {
            EntryKind::Hardlink => {
                let target = e.link.as_deref().unwrap_or("");
                let Ok(r) = self.tree.lstat(&format!("/{target}")) else {
                    return Err(OverlayError::HardlinkMissing {
                        layer,
                        path: format!("/{}", e.path),
                        target: format!("/{target}"),
                    });
                };
                let t = self.tree.node(r.id);
                if t.is_dir() {
                    return Err(OverlayError::HardlinkToDir {
                        layer,
                        path: format!("/{}", e.path),
                        target: r.path,
                    });
                }
                let mut n = t.clone();
                n.layer = layer as u32;
                n.children = None;
                if let Some(c) = n.content {
                    self.refs[c.0 as usize] += 1;
                }
                n
            }
            _ => {
                let kind = match e.kind {
                    EntryKind::File => Kind::File,
                    EntryKind::Dir => Kind::Dir,
                    EntryKind::Symlink => Kind::Symlink,
                    EntryKind::Char => Kind::Char,
                    EntryKind::Block => Kind::Block,
                    _ => Kind::Fifo,
                };
                let content = (kind == Kind::File).then(|| {
                    effect.added_files += 1;
                    effect.added_bytes += e.size;
                    self.refs.push(1);
                    self.tree.add_content(
                        layer as u32,
                        e.data_offset,
                        e.size,
                        e.captured.clone(),
                        e.sha256,
                        e.sparse,
                        e.elf.clone(),
                    )
                });
                Node {
                    kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    size: e.size,
                    mtime: e.mtime,
                    layer: layer as u32,
                    link: if kind == Kind::Symlink {
                        e.link.clone()
                    } else {
                        None
                    },
                    content,
                    name: "".into(),
                    parent: ROOT,
                    children: (kind == Kind::Dir).then(Default::default),
                }
            }
        };
        if let Some(old) = existing.and_then(|_| self.tree.unlink(parent, name)) {
            let mut removal = Removal {
                path: format!("/{}", e.path),
                cause: Cause::Replaced,
                bytes: 0,
                files: 0,
                notable: Vec::new(),
            };
            self.release(old, &mut removal);
            self.record(effect, removal);
        }
        self.tree.alloc(node, parent, name);
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `path` is `dir` itself or lies below it, compared by path component
/// (`/opt/venv2` is not below `/opt/venv`).
pub fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        return path.starts_with('/');
    }
    match path.strip_prefix(dir) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// What the layers removed, asked by path: the one history query the
/// analyzers use instead of walking [`LayerEffect`]s themselves.
#[derive(Debug)]
pub struct History<'a> {
    effects: &'a [LayerEffect],
    /// Removed subtree root → the last layer that removed it.
    roots: std::collections::HashMap<&'a str, usize>,
}

impl<'a> History<'a> {
    /// Index the removals of `effects` (one per layer, bottom first).
    pub fn new(effects: &'a [LayerEffect]) -> History<'a> {
        let mut roots = std::collections::HashMap::new();
        for (i, e) in effects.iter().enumerate() {
            for r in &e.removals {
                roots.insert(r.path.as_str(), i);
            }
        }
        History { effects, roots }
    }

    /// The layer whose whiteout, opaque marker or overwrite removed `path`
    /// or a directory above it. The nearest removed ancestor decides: it is
    /// the removal that took `path` away.
    pub fn deleted_by(&self, path: &str) -> Option<usize> {
        let mut p = path.trim_end_matches('/');
        loop {
            if let Some(l) = self.roots.get(p) {
                return Some(*l);
            }
            match p.rfind('/') {
                Some(0) | None => return None,
                Some(i) => p = &p[..i],
            }
        }
    }

    /// Every remembered removed path ([`ExtractorSet::notable`]) with the
    /// layer that removed it, bottom layer first.
    pub fn deleted(&self) -> impl Iterator<Item = (usize, &'a str)> + '_ {
        self.effects.iter().enumerate().flat_map(|(i, e)| {
            e.removals
                .iter()
                .flat_map(move |r| r.notable.iter().map(move |p| (i, p.as_str())))
        })
    }

    /// Remembered removed paths within `dir` (by component), bottom first.
    pub fn deleted_within<'s>(
        &'s self,
        dir: &'s str,
    ) -> impl Iterator<Item = (usize, &'a str)> + 's {
        self.deleted().filter(move |(_, p)| is_within(p, dir))
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn effect(removals: &[(&str, &[&str])]) -> LayerEffect {
        LayerEffect {
            removals: removals
                .iter()
                .map(|(root, notable)| Removal {
                    path: root.to_string(),
                    cause: Cause::Whiteout,
                    bytes: 0,
                    files: 0,
                    notable: notable.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            ..LayerEffect::default()
        }
    }

    #[test]
    fn within_compares_components() {
        // (path, dir, expected)
        let cases = [
            ("/opt/venv/bin/x", "/opt/venv", true),
            ("/opt/venv", "/opt/venv", true),
            ("/opt/venv", "/opt/venv/", true),
            ("/opt/venv2/bin/x", "/opt/venv", false), // a sibling with a longer name
            ("/opt", "/opt/venv", false),
            ("/anything", "/", true),
        ];
        for (path, dir, want) in cases {
            assert_eq!(is_within(path, dir), want, "{path} in {dir}");
        }
    }

    #[test]
    fn deleted_by_finds_the_nearest_removed_ancestor() {
        let effects = vec![
            LayerEffect::default(),
            effect(&[("/opt/venv/lib/a-1.meta", &["/opt/venv/lib/a-1.meta"])]),
            effect(&[("/opt/venv", &["/opt/venv/env.cfg"])]),
        ];
        let h = History::new(&effects);
        assert_eq!(h.deleted_by("/opt/venv/lib/a-1.meta/RECORD"), Some(1));
        assert_eq!(h.deleted_by("/opt/venv/bin/tool"), Some(2));
        assert_eq!(h.deleted_by("/opt/venv2/bin/tool"), None);
        assert_eq!(h.deleted_by("/usr/bin/tool"), None);
        let within: Vec<_> = h.deleted_within("/opt/venv/lib").collect();
        assert_eq!(within, vec![(1, "/opt/venv/lib/a-1.meta")]);
        assert_eq!(h.deleted().count(), 2);
    }
}
