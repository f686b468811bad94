//! The merged tree: the final filesystem of an image, in memory.
//!
//! This is the only thing analyzers talk to. It answers lookups, directory
//! listings, chroot-style symlink resolution, metadata, and reads of file
//! bytes — the bytes come from the content store: captured in memory while a
//! compressed layer streamed by, or read on demand with a positioned read
//! from an uncompressed layer. Nothing is extracted to disk.
//!
//! Nodes live in an arena (`Vec<Node>`); a directory maps child names to
//! node ids. Removing a subtree only unlinks it (the arena keeps the dead
//! nodes: memory is bounded by the number of entries across layers, which is
//! metadata). Hardlinks share a [`ContentId`], so their bytes are addressed
//! by (layer, offset) and survive the target path being whited out.
//!
//! Symlink resolution follows Linux path resolution inside a chroot:
//! absolute targets restart at the image root, `..` at the root stays at the
//! root, and more than [`MAX_HOPS`] symlinks is a loop (`ELOOP`).

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::layer::FileRange;

/// Linux's limit on symlinks followed in one path resolution (`MAXSYMLINKS`).
pub const MAX_HOPS: usize = 40;

/// Index of a node in the arena.
pub type NodeId = u32;

/// The root directory's id.
pub const ROOT: NodeId = 0;

/// Index of a file's content in the content store (shared by hardlinks).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContentId(pub u32);

/// Type of a filesystem object. Hardlinks are files that share content.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Named pipe.
    Fifo,
}

impl Kind {
    /// The name used in `files --format jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Char => "char",
            Kind::Block => "block",
            Kind::Fifo => "fifo",
        }
    }
}

/// One filesystem object in the merged tree.
#[derive(Clone, Debug)]
pub struct Node {
    /// Type.
    pub kind: Kind,
    /// Permission bits (incl. setuid/setgid/sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Content size for files; 0 otherwise.
    pub size: u64,
    /// Modification time.
    pub mtime: u64,
    /// 0-based index of the layer that produced this node.
    pub layer: u32,
    /// Symlink target as written in the layer.
    pub link: Option<Box<str>>,
    /// Content, for regular files.
    pub content: Option<ContentId>,
    pub(crate) name: Box<str>,
    pub(crate) parent: NodeId,
    pub(crate) children: Option<BTreeMap<Box<str>, NodeId>>,
}

impl Node {
    /// A directory no entry described (the root, or a parent a layer's
    /// entry implies): `0755`, owned by root, made by `layer`.
    pub(crate) fn implicit_dir(layer: u32) -> Node {
        Node {
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            layer,
            link: None,
            content: None,
            name: "".into(),
            parent: ROOT,
            children: Some(BTreeMap::new()),
        }
    }

    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// True when any execute bit is set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// Where a file's bytes are.
#[derive(Debug)]
pub struct Content {
    /// Layer holding the bytes.
    pub layer: u32,
    /// Offset in the uncompressed layer stream.
    pub offset: u64,
    /// Length.
    pub size: u64,
    /// Bytes captured while streaming (whole file or a head).
    pub captured: Option<Arc<[u8]>>,
    /// A sparse file: its stored bytes are a data map, never read as content.
    pub sparse: bool,
    /// ELF dynamic facts, when an extractor kept them.
    pub elf: Option<Arc<crate::elf::ElfFacts>>,
    sha256: OnceLock<[u8; 32]>,
}

/// Errors answering a question about the tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// No such path.
    #[error("`{0}`: no such file or directory")]
    NotFound(String),
    /// Too many symlinks.
    #[error("`{0}`: too many levels of symbolic links")]
    Loop(String),
    /// A non-directory in the middle of a path.
    #[error("`{0}`: not a directory")]
    NotADirectory(String),
    /// Content asked of something that is not a regular file.
    #[error("`{0}`: not a regular file")]
    NotAFile(String),
    /// A sparse file's content is not expanded.
    #[error("`{0}`: a sparse file; its content is not read")]
    Sparse(String),
    /// The bytes went by in a compressed stream and were not captured.
    #[error("`{0}`: content was not captured from a compressed layer")]
    ContentUnavailable(String),
    /// Reading the bytes failed.
    #[error("`{path}`: read error: {source}")]
    Io {
        /// Path inside the image.
        path: String,
        /// Underlying error.
        source: io::Error,
    },
}

/// What [`MergedTree::walk_events`] reports about a node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WalkEvent {
    /// The node is reached (before a directory's children).
    Enter,
    /// A directory is left (after its children).
    Leave,
}

/// Why a resolution failed, before the path is attached ([`TreeError`]).
#[derive(Copy, Clone, Debug)]
enum Fail {
    NotFound,
    Loop,
    NotADirectory,
}

impl Fail {
    fn at(self, path: &str) -> TreeError {
        let path = path.to_string();
        match self {
            Fail::NotFound => TreeError::NotFound(path),
            Fail::Loop => TreeError::Loop(path),
            Fail::NotADirectory => TreeError::NotADirectory(path),
        }
    }
}

/// Result of resolving a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The node reached.
    pub id: NodeId,
    /// Its canonical absolute path (no symlinks, no `.`/`..`).
    pub path: String,
}

/// The final filesystem of an image.
#[derive(Debug)]
pub struct MergedTree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) contents: Vec<Content>,
    /// Positioned access to each layer's bytes, when it was seekable.
    pub(crate) layer_access: Vec<Option<FileRange>>,
    /// Symlinks that lead to a directory: where, and the hops it took
    /// (see [`MergedTree::follow`]).
    link_cache: std::sync::Mutex<std::collections::HashMap<NodeId, (NodeId, usize)>>,
}

impl Default for MergedTree {
    fn default() -> Self {
        MergedTree::new(Vec::new())
    }
}

impl MergedTree {
    /// An empty tree holding only `/`.
    pub fn new(layer_access: Vec<Option<FileRange>>) -> MergedTree {
        MergedTree {
            nodes: vec![Node::implicit_dir(0)],
            contents: Vec::new(),
            layer_access,
            link_cache: Default::default(),
        }
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// Children of a directory, sorted by name (empty for non-directories).
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = (&str, NodeId)> + '_ {
        self.nodes[id as usize]
            .children
            .iter()
            .flat_map(|c| c.iter().map(|(k, v)| (&**k, *v)))
    }

    /// A child of a directory by name, without following symlinks.
    pub fn child(&self, id: NodeId, name: &str) -> Option<NodeId> {
        self.nodes[id as usize]
            .children
            .as_ref()?
            .get(name)
            .copied()
    }

    /// The absolute path of a live node.
    pub fn path_of(&self, mut id: NodeId) -> String {
        let mut parts = Vec::new();
        while id != ROOT {
            let n = &self.nodes[id as usize];
            parts.push(&*n.name);
            id = n.parent;
        }
        if parts.is_empty() {
            return "/".to_string();
        }
        let mut s = String::new();
        for p in parts.iter().rev() {
            s.push('/');
            s.push_str(p);
        }
        s
    }

    /// Resolve a path following every symlink, the last one included
    /// (`stat`).
    pub fn stat(&self, path: &str) -> Result<Resolved, TreeError> {
        self.resolve_from(ROOT, path, true)
    }

    /// Resolve a path following symlinks in the middle but not the last
    /// component (`lstat`).
    pub fn lstat(&self, path: &str) -> Result<Resolved, TreeError> {
        self.resolve_from(ROOT, path, false)
    }

    /// True when `path` exists (following symlinks).
    pub fn exists(&self, path: &str) -> bool {
        self.stat(path).is_ok()
    }

    /// Chroot-style resolution of `path` relative to directory `start`
    /// (absolute paths restart at the root).
    pub fn resolve_from(
        &self,
        start: NodeId,
        path: &str,
        follow_final: bool,
    ) -> Result<Resolved, TreeError> {
        let mut hops = 0usize;
        let id = self
            .resolve_id(start, path, follow_final, &mut hops)
            .map_err(|fail| fail.at(path))?;
        Ok(Resolved {
            id,
            path: self.path_of(id),
        })
    }

    /// [`MergedTree::resolve_from`] without the path, counting symlinks
    /// followed in `hops`.
    ///
    /// The walk keeps only the node it is at: `..` goes to that node's
    /// parent, which is the real parent of where a symlink led, as in the
    /// kernel's walk (the directories walked so far are always the ancestry
    /// of the current one). A symlink is followed by resolving its target
    /// from its own directory ([`MergedTree::follow`]), at most
    /// [`MAX_HOPS`] deep in all.
    fn resolve_id(
        &self,
        start: NodeId,
        path: &str,
        follow_final: bool,
        hops: &mut usize,
    ) -> Result<NodeId, Fail> {
        let mut cur = if path.starts_with('/') { ROOT } else { start };
        let mut comps = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .peekable();
        while let Some(comp) = comps.next() {
            if comp == ".." {
                cur = self.nodes[cur as usize].parent; // the root's parent is the root
                continue;
            }
            let children = self.nodes[cur as usize]
                .children
                .as_ref()
                .ok_or(Fail::NotADirectory)?;
            let &next = children.get(comp).ok_or(Fail::NotFound)?;
            let node = &self.nodes[next as usize];
            let is_last = comps.peek().is_none();
            if node.kind == Kind::Symlink && (!is_last || follow_final) {
                *hops += 1;
                if *hops > MAX_HOPS {
                    return Err(Fail::Loop);
                }
                cur = self.follow(next, cur, hops)?;
                continue;
            }
            if !is_last && node.kind != Kind::Dir {
                return Err(Fail::NotADirectory);
            }
            cur = next;
        }
        Ok(cur)
    }

    /// Where symlink `link` (a child of directory `dir`) leads, its whole
    /// target followed.
    ///
    /// A symlink that leads to a directory is resolved once and remembered,
    /// with the hops its target took: a target of 100,000 components would
    /// otherwise be split and walked again for every path through it, that
    /// is for every child of the directory it names (issue 14). The answer
    /// depends only on directories and symlinks that exist, so adding nodes
    /// keeps it right; [`MergedTree::unlink`] of a directory or a symlink
    /// forgets every answer.
    fn follow(&self, link: NodeId, dir: NodeId, hops: &mut usize) -> Result<NodeId, Fail> {
        let known = self
            .link_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&link).copied());
        if let Some((to, took)) = known {
            *hops += took;
            return if *hops > MAX_HOPS {
                Err(Fail::Loop)
            } else {
                Ok(to)
            };
        }
        let before = *hops;
        let target = self.nodes[link as usize].link.as_deref().unwrap_or("");
        let to = self.resolve_id(dir, target, true, hops)?;
        if self.nodes[to as usize].is_dir() {
            if let Ok(mut c) = self.link_cache.lock() {
                c.insert(link, (to, *hops - before));
            }
        }
        Ok(to)
    }

    /// List a directory (following symlinks to it): `(name, id)` sorted.
    pub fn read_dir(&self, path: &str) -> Result<Vec<(String, NodeId)>, TreeError> {
        let r = self.stat(path)?;
        if !self.node(r.id).is_dir() {
            return Err(TreeError::NotADirectory(path.to_string()));
        }
        Ok(self
            .children(r.id)
            .map(|(n, id)| (n.to_string(), id))
            .collect())
    }

    /// Visit every node below `start` (not `start` itself) depth-first in
    /// name order, with its absolute path. Symlinks are not followed.
    pub fn walk(&self, start: NodeId, mut visit: impl FnMut(&str, NodeId, &Node)) {
        self.walk_events(start, |event, path, id, node| {
            if event == WalkEvent::Enter {
                visit(path, id, node);
            }
        });
    }

    /// [`MergedTree::walk`] that also reports leaving each directory (after
    /// its children), for walks that sum a subtree or close a scope.
    ///
    /// The walk is iterative, with an explicit stack of child iterators: a
    /// layer can nest directories 100,000 deep for the price of one long
    /// name, and a recursive walk overflows the thread's stack long before
    /// that (issue 14). The path is one buffer, grown and truncated in
    /// place, so a visit costs the length of its own name, not of its path.
    pub fn walk_events(
        &self,
        start: NodeId,
        mut visit: impl FnMut(WalkEvent, &str, NodeId, &Node),
    ) {
        let base = self.path_of(start);
        let mut path = if base == "/" { String::new() } else { base };
        type Children<'t> = Option<std::collections::btree_map::Iter<'t, Box<str>, NodeId>>;
        // Per open directory: its remaining children, and (id, path length
        // before its name) to report and undo when it is left.
        let mut stack: Vec<(Children<'_>, Option<(NodeId, usize)>)> = vec![(
            self.nodes[start as usize]
                .children
                .as_ref()
                .map(|c| c.iter()),
            None,
        )];
        while let Some((children, _)) = stack.last_mut() {
            match children.as_mut().and_then(Iterator::next) {
                Some((name, &child)) => {
                    let len = path.len();
                    path.push('/');
                    path.push_str(name);
                    let node = self.node(child);
                    visit(WalkEvent::Enter, &path, child, node);
                    if node.is_dir() {
                        stack.push((node.children.as_ref().map(|c| c.iter()), Some((child, len))));
                    } else {
                        path.truncate(len);
                    }
                }
                None => {
                    if let Some((_, Some((dir, len)))) = stack.pop() {
                        visit(WalkEvent::Leave, &path, dir, self.node(dir));
                        path.truncate(len);
                    }
                }
            }
        }
    }

    /// The content record of a file node.
    pub fn content(&self, id: NodeId) -> Option<&Content> {
        self.node(id).content.map(|c| &self.contents[c.0 as usize])
    }

    /// Read a file's bytes: all of them, or the first `limit`.
    pub fn read(&self, id: NodeId, limit: Option<usize>) -> Result<Vec<u8>, TreeError> {
        let node = self.node(id);
        let Some(c) = self.content(id) else {
            return Err(TreeError::NotAFile(self.path_of(id)));
        };
        if c.sparse {
            return Err(TreeError::Sparse(self.path_of(id)));
        }
        let want = limit.map_or(node.size, |l| (l as u64).min(node.size)) as usize;
        if let Some(cap) = c.captured.as_ref() {
            if cap.len() >= want {
                return Ok(cap[..want].to_vec());
            }
        }
        match self
            .layer_access
            .get(c.layer as usize)
            .and_then(|a| a.as_ref())
        {
            Some(range) => range
                .read_exact_at(c.offset, want)
                .map_err(|source| TreeError::Io {
                    path: self.path_of(id),
                    source,
                }),
            None => Err(TreeError::ContentUnavailable(self.path_of(id))),
        }
    }

    /// Read a file by path (following symlinks).
    pub fn read_path(&self, path: &str, limit: Option<usize>) -> Result<Vec<u8>, TreeError> {
        let r = self.stat(path)?;
        if self.node(r.id).kind != Kind::File {
            return Err(TreeError::NotAFile(path.to_string()));
        }
        self.read(r.id, limit)
    }

    /// sha256 of a file's content: computed inline while streaming, or now
    /// by a positioned read (and remembered).
    pub fn sha256(&self, id: NodeId) -> Result<[u8; 32], TreeError> {
        let Some(c) = self.content(id) else {
            return Err(TreeError::NotAFile(self.path_of(id)));
        };
        if let Some(h) = c.sha256.get() {
            return Ok(*h);
        }
        if c.sparse {
            return Err(TreeError::Sparse(self.path_of(id)));
        }
        let digest: [u8; 32] =
            if let Some(cap) = c.captured.as_ref().filter(|cap| cap.len() as u64 == c.size) {
                Sha256::digest(cap).into()
            } else {
                let Some(range) = self
                    .layer_access
                    .get(c.layer as usize)
                    .and_then(|a| a.as_ref())
                else {
                    return Err(TreeError::ContentUnavailable(self.path_of(id)));
                };
                let mut h = Sha256::new();
                let mut buf = vec![0u8; (c.size as usize).clamp(1, 1 << 20)];
                let mut pos = 0u64;
                while pos < c.size {
                    let n = ((c.size - pos) as usize).min(buf.len());
                    let n = range
                        .read_at(c.offset + pos, &mut buf[..n])
                        .map_err(|source| TreeError::Io {
                            path: self.path_of(id),
                            source,
                        })?;
                    if n == 0 {
                        return Err(TreeError::Io {
                            path: self.path_of(id),
                            source: io::ErrorKind::UnexpectedEof.into(),
                        });
                    }
                    h.update(&buf[..n]);
                    pos += n as u64;
                }
                h.finalize().into()
            };
        let _ = c.sha256.set(digest);
        Ok(digest)
    }

    /// Every content's sha256 known so far (computed inline while
    /// streaming, or later by a check), as `(layer, offset, sha256)`: the
    /// fact cache stores them with the layer.
    pub fn known_hashes(&self) -> impl Iterator<Item = (u32, u64, [u8; 32])> + '_ {
        self.contents
            .iter()
            .filter_map(|c| c.sha256.get().map(|h| (c.layer, c.offset, *h)))
    }

    /// Number of live nodes (excluding `/`).
    pub fn len(&self) -> usize {
        let mut n = 0;
        self.walk(ROOT, |_, _, _| n += 1);
        n
    }

    /// True when only `/` exists.
    pub fn is_empty(&self) -> bool {
        self.nodes[ROOT as usize]
            .children
            .as_ref()
            .is_none_or(|c| c.is_empty())
    }

    // ---- mutation, for the overlay only ----

    #[allow(clippy::too_many_arguments)] // one per field of `Content`
    pub(crate) fn add_content(
        &mut self,
        layer: u32,
        offset: u64,
        size: u64,
        captured: Option<Arc<[u8]>>,
        sha256: Option<[u8; 32]>,
        sparse: bool,
        elf: Option<Arc<crate::elf::ElfFacts>>,
    ) -> ContentId {
        let lock = OnceLock::new();
        if let Some(h) = sha256 {
            let _ = lock.set(h);
        }
        self.contents.push(Content {
            layer,
            offset,
            size,
            captured,
            sparse,
            elf,
            sha256: lock,
        });
        ContentId(self.contents.len() as u32 - 1)
    }

    pub(crate) fn alloc(&mut self, mut node: Node, parent: NodeId, name: &str) -> NodeId {
        node.parent = parent;
        node.name = name.into();
        self.nodes.push(node);
        let id = self.nodes.len() as NodeId - 1;
        let old = self.nodes[parent as usize]
            .children
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), id);
        if let Some(old) = old {
            self.forget_links(old);
        }
        id
    }

    pub(crate) fn unlink(&mut self, parent: NodeId, name: &str) -> Option<NodeId> {
        let old = self.nodes[parent as usize]
            .children
            .as_mut()?
            .remove(name)?;
        self.forget_links(old);
        Some(old)
    }

    /// Forget remembered symlink resolutions when `gone`, a directory or a
    /// symlink that one of them may pass through, leaves the tree. (A file
    /// leaving cannot change where a symlink to a directory leads.)
    fn forget_links(&mut self, gone: NodeId) {
        if matches!(self.nodes[gone as usize].kind, Kind::Dir | Kind::Symlink) {
            if let Ok(c) = self.link_cache.get_mut() {
                c.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Node {
        Node::implicit_dir(0)
    }

    // See: issue 14
    // Proves: a chain of 100,000 directories is walked (on a thread with a
    // small stack, where the old recursive walk overflowed) in order, each
    // directory entered once and left once, innermost left first.
    #[test]
    fn r14_walk_is_iterative() {
        const DEPTH: usize = 100_000;
        let mut tree = MergedTree::default();
        let mut cur = ROOT;
        for _ in 0..DEPTH {
            cur = tree.alloc(dir(), cur, "d");
        }
        tree.alloc(dir(), ROOT, "e");
        let events = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let mut events = Vec::new();
                tree.walk_events(ROOT, |e, path, _, _| events.push((e, path.len())));
                (events, tree.len())
            })
            .unwrap()
            .join()
            .unwrap();
        let (events, len) = events;
        assert_eq!(len, DEPTH + 1);
        assert_eq!(events.len(), 2 * (DEPTH + 1));
        // Down the chain, back up it, then `/e`.
        assert_eq!(events[0], (WalkEvent::Enter, 2));
        assert_eq!(events[DEPTH - 1], (WalkEvent::Enter, 2 * DEPTH));
        assert_eq!(events[DEPTH], (WalkEvent::Leave, 2 * DEPTH));
        assert_eq!(events[2 * DEPTH - 1], (WalkEvent::Leave, 2));
        assert_eq!(events[2 * DEPTH], (WalkEvent::Enter, 2));
        assert_eq!(events[2 * DEPTH + 1], (WalkEvent::Leave, 2));
    }

    // See: issue 14
    // Proves: a symlink whose target has 200,000 components is walked once,
    // not once per path through it: 2,000 lookups of children behind it
    // take well under the time one walk per lookup would (400 million
    // steps), and they resolve where the kernel would; removing a directory
    // the symlink passes through is seen by the next lookup.
    #[test]
    fn r14_long_symlink_target_is_resolved_once() {
        const DEPTH: usize = 100_000;
        let mut tree = MergedTree::default();
        let mut cur = ROOT;
        for _ in 0..DEPTH {
            cur = tree.alloc(dir(), cur, "d");
        }
        for i in 0..2_000 {
            tree.alloc(dir(), ROOT, &format!("x{i}"));
        }
        // `d/d/…/d/../../…/..`: down the chain and back up to `/`.
        let target = format!("{}{}", "d/".repeat(DEPTH), "../".repeat(DEPTH));
        let link = Node {
            kind: Kind::Symlink,
            link: Some(target.into()),
            children: None,
            ..dir()
        };
        tree.alloc(link, ROOT, "l");
        let start = std::time::Instant::now();
        for i in 0..2_000 {
            let r = tree.stat(&format!("/l/x{i}")).unwrap();
            assert_eq!(r.path, format!("/x{i}"));
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        // Cut the chain: the symlink now dangles.
        tree.unlink(ROOT, "d");
        assert!(matches!(tree.stat("/l/x0"), Err(TreeError::NotFound(_))));
    }

    // See: issue 14
    // Proves: remembered symlinks count their hops as the kernel does: a
    // chain of 40 symlinks to a directory resolves, 41 is a loop, whether or
    // not the shorter chain was resolved (and remembered) first.
    #[test]
    fn r14_remembered_symlinks_keep_the_hop_limit() {
        let mut tree = MergedTree::default();
        tree.alloc(dir(), ROOT, "real");
        for i in 0..=MAX_HOPS {
            let target = if i == MAX_HOPS {
                "real".to_string()
            } else {
                format!("c{}", i + 1)
            };
            let link = Node {
                kind: Kind::Symlink,
                link: Some(target.into()),
                children: None,
                ..dir()
            };
            tree.alloc(link, ROOT, &format!("c{i}"));
        }
        for _ in 0..2 {
            assert_eq!(tree.stat("/c1").unwrap().path, "/real");
            assert!(matches!(tree.stat("/c0"), Err(TreeError::Loop(_))));
            assert!(matches!(tree.stat("/c0/"), Err(TreeError::Loop(_))));
            assert_eq!(tree.lstat("/c0").unwrap().path, "/c0");
        }
    }
}
