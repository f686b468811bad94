//! Installed distributions in a site dir: `*.dist-info` (PEP 376/627) and
//! setuptools' `*.egg-info` (directory or single file), read through the
//! merged tree.
//!
//! `importlib.metadata` finds distributions by directory name, so we do
//! too: a directory `NAME-VERSION.dist-info` is a distribution even when its
//! METADATA is gone (that is a finding, not an absence). Names are compared
//! after PEP 503 normalisation.
//! Spec: <https://packaging.python.org/en/latest/specifications/recording-installed-packages/>.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::python::egg_info;
use crate::python::entry_points::EntryPoints;
use crate::python::markers::{parse_requirement, Requirement};
use crate::python::metadata::Metadata;
use crate::python::normalize_name;
use crate::python::record::{parse_record, Record};
use crate::tree::{ContentId, Kind, MergedTree, NodeId};

/// Largest metadata file we parse (RECORD of torch is ~2 MB).
const MAX_META: usize = 16 << 20;

/// Which metadata format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistFormat {
    /// `NAME-VERSION.dist-info/` (wheels).
    DistInfo,
    /// `NAME-VERSION-pyX.Y.egg-info/` (setuptools).
    EggInfoDir,
    /// `NAME-VERSION-pyX.Y.egg-info` as a single PKG-INFO file.
    EggInfoFile,
}

/// One installed distribution.
#[derive(Clone, Debug)]
pub struct Dist {
    /// Absolute path of the `.dist-info`/`.egg-info`.
    pub dir: String,
    /// The site dir holding it.
    pub site_dir: String,
    /// Format.
    pub format: DistFormat,
    /// Name from METADATA, else from the directory name.
    pub name: String,
    /// PEP 503 normalised name.
    pub key: String,
    /// Version from METADATA, else from the directory name.
    pub version: Option<String>,
    /// Parsed METADATA / PKG-INFO, if present and readable (shared by
    /// every dist whose file is a hard link to the same content).
    pub metadata: Option<Arc<Metadata>>,
    /// Problems reading metadata files: (path, message).
    pub problems: Vec<(String, String)>,
    /// METADATA (or PKG-INFO) exists.
    pub has_metadata: bool,
    /// RECORD exists.
    pub has_record: bool,
    /// WHEEL exists.
    pub has_wheel: bool,
    /// Content of INSTALLER (`pip`, `uv`, …), when present.
    pub installer: Option<String>,
    /// Parsed RECORD (shared by every dist whose RECORD is a hard link to
    /// the same content).
    pub record: Option<Arc<Record>>,
    /// Parsed `entry_points.txt` (empty when absent; shared like `record`).
    pub entry_points: Arc<EntryPoints>,
    /// Requirements (`Requires-Dist`, or egg-info `requires.txt`), parsed
    /// once per file content (bounded, see [`parse_requirement`]) and shared;
    /// the ones that do not parse are left out, as `pip check` leaves them out.
    pub requires: Arc<[DistRequirement]>,
    /// Layer that produced the metadata dir.
    pub layer: u32,
}

/// One requirement of a distribution: the text as written and its PEP 508
/// parse (name as a normalised [`pep508_rs::PackageName`], specifiers,
/// markers), so no check re-parses strings.
#[derive(Clone, Debug)]
pub struct DistRequirement {
    /// The requirement as written, trimmed (what messages quote).
    pub raw: String,
    /// The parsed requirement.
    pub requirement: Requirement,
}

impl DistRequirement {
    /// Parse the requirement strings of a distribution, dropping those that
    /// do not parse.
    pub fn parse_all(lines: &[String]) -> Vec<DistRequirement> {
        lines
            .iter()
            .filter_map(|raw| {
                Some(DistRequirement {
                    requirement: parse_requirement(raw).ok()?,
                    raw: raw.trim().to_string(),
                })
            })
            .collect()
    }

    /// The required distribution's PEP 503 normalised name.
    pub fn key(&self) -> &str {
        self.requirement.name.as_ref()
    }
}

impl Dist {
    /// True when an installer wrote this dist (RECORD is then authoritative,
    /// PEP 627); Debian's dh-python writes no INSTALLER.
    pub fn installed_by_tool(&self) -> bool {
        self.installer.is_some()
    }
}

/// `foo_bar-1.0.dist-info` → (`foo_bar`, `1.0`); `foo.egg-info` → (`foo`, None).
pub fn split_dir_name(name: &str) -> Option<(String, Option<String>)> {
    let stem = name
        .strip_suffix(".dist-info")
        .or_else(|| name.strip_suffix(".egg-info"))?;
    let mut parts = stem.splitn(3, '-');
    let n = parts.next().filter(|n| !n.is_empty())?;
    let v = parts.next().map(String::from);
    Some((n.to_string(), v))
}

/// Requirements parsed once per file content (see [`Dist::requires`]).
type ParsedRequires = Arc<[DistRequirement]>;

fn parse_requires(lines: Vec<String>) -> ParsedRequires {
    DistRequirement::parse_all(&lines).into()
}

/// METADATA / PKG-INFO parsed, with its requirements, once per content.
#[derive(Debug)]
struct ParsedMetadata {
    metadata: Result<Arc<Metadata>, String>,
    requires: ParsedRequires,
}

impl Default for ParsedMetadata {
    fn default() -> Self {
        ParsedMetadata {
            metadata: Err(String::new()),
            requires: ParsedRequires::default(),
        }
    }
}

impl ParsedMetadata {
    fn parse(bytes: &[u8]) -> ParsedMetadata {
        match Metadata::parse(bytes) {
            Ok(m) => ParsedMetadata {
                requires: parse_requires(m.requires_dist.clone()),
                metadata: Ok(Arc::new(m)),
            },
            Err(e) => ParsedMetadata {
                metadata: Err(e.to_string()),
                requires: ParsedRequires::default(),
            },
        }
    }
}

fn read_text(tree: &MergedTree, id: NodeId) -> Result<Vec<u8>, String> {
    let node = tree.node(id);
    if node.size as usize > MAX_META {
        return Err(format!("{} bytes, larger than imgaudit reads", node.size));
    }
    tree.read(id, None).map_err(|e| e.to_string())
}

/// Parsed RECORD and `entry_points.txt` files by content: a hard link to a
/// parsed file is not parsed again (a crafted image links one 4 MiB RECORD
/// into thousands of dist-infos, issue 14). Shared by every environment of
/// an audit.
#[derive(Debug, Default)]
pub struct ParseCache {
    metadata: Mutex<HashMap<ContentId, Arc<ParsedMetadata>>>,
    requires_txt: Mutex<HashMap<ContentId, Arc<ParsedRequires>>>,
    records: Mutex<HashMap<ContentId, Arc<Record>>>,
    entry_points: Mutex<HashMap<ContentId, Arc<EntryPoints>>>,
}

/// `parse(bytes of id)`, once per content id; `read` errors are not cached.
fn parse_once<T: Default>(
    tree: &MergedTree,
    id: NodeId,
    cache: &Mutex<HashMap<ContentId, Arc<T>>>,
    parse: impl FnOnce(&[u8]) -> T,
) -> Result<Arc<T>, String> {
    let content = tree.node(id).content;
    if let Some(hit) = content.and_then(|c| cache.lock().ok()?.get(&c).cloned()) {
        return Ok(hit);
    }
    let parsed = Arc::new(parse(&read_text(tree, id)?));
    if let (Some(c), Ok(mut map)) = (content, cache.lock()) {
        map.insert(c, parsed.clone());
    }
    Ok(parsed)
}

/// One problem for a file's malformed rows or lines: the first, and how
/// many more (a finding per row would multiply with a crafted file).
fn summarize(first: Option<String>, count: usize, what: &str) -> Option<String> {
    let first = first?;
    Some(match count {
        0 | 1 => first,
        n => format!("{first} (and {} more malformed {what})", n - 1),
    })
}

/// Load every distribution in a site dir.
pub fn load_site_dir(tree: &MergedTree, site_dir: &str) -> Vec<Dist> {
    load_site_dir_with(tree, site_dir, &ParseCache::default())
}

/// [`load_site_dir`] sharing parsed files through `cache`.
pub fn load_site_dir_with(tree: &MergedTree, site_dir: &str, cache: &ParseCache) -> Vec<Dist> {
    let Ok(entries) = tree.read_dir(site_dir) else {
        return Vec::new();
    };
    let mut dists = Vec::new();
    for (name, id) in entries {
        let Some((dir_name, dir_version)) = split_dir_name(&name) else {
            continue;
        };
        let dir = format!("{}/{}", site_dir.trim_end_matches('/'), name);
        let node = tree.node(id);
        let format = match (name.ends_with(".dist-info"), node.kind) {
            (true, Kind::Dir) => DistFormat::DistInfo,
            (false, Kind::Dir) => DistFormat::EggInfoDir,
            (false, Kind::File) => DistFormat::EggInfoFile,
            _ => continue,
        };
        let mut d = Dist {
            dir: dir.clone(),
            site_dir: site_dir.to_string(),
            format,
            key: normalize_name(&dir_name),
            name: dir_name,
            version: dir_version,
            metadata: None,
            problems: Vec::new(),
            has_metadata: false,
            has_record: false,
            has_wheel: false,
            installer: None,
            record: None,
            entry_points: Arc::default(),
            requires: Arc::default(),
            layer: node.layer,
        };
        let child = |f: &str| -> Option<NodeId> {
            let cid = tree.child(id, f)?;
            (tree.node(cid).kind == Kind::File).then_some(cid)
        };
        let meta_id = match format {
            DistFormat::EggInfoFile => Some(id),
            DistFormat::DistInfo => child("METADATA"),
            DistFormat::EggInfoDir => child("PKG-INFO"),
        };
        if let Some(mid) = meta_id {
            d.has_metadata = true;
            let meta_path = tree.path_of(mid);
            match parse_once(tree, mid, &cache.metadata, ParsedMetadata::parse) {
                Ok(parsed) => match &parsed.metadata {
                    Ok(m) => {
                        if let Some(n) = &m.name {
                            d.name = n.clone();
                            d.key = normalize_name(n);
                        }
                        if m.version.is_some() {
                            d.version = m.version.clone();
                        }
                        d.requires = parsed.requires.clone();
                        d.metadata = Some(m.clone());
                    }
                    Err(e) => d.problems.push((meta_path, e.clone())),
                },
                Err(e) => d.problems.push((meta_path, e)),
            }
        }
        if format == DistFormat::EggInfoFile {
            dists.push(d);
            continue;
        }
        if let Some(iid) = child("INSTALLER") {
            let text = read_text(tree, iid).unwrap_or_default();
            d.installer = Some(String::from_utf8_lossy(&text).trim().to_string());
        }
        if let Some(rid) = child("RECORD") {
            d.has_record = true;
            match parse_once(tree, rid, &cache.records, parse_record) {
                Ok(rec) => {
                    // RECORD is authoritative only where an installer wrote it
                    // (PEP 627); Debian's build-time RECORDs are not judged.
                    if d.installer.is_some() {
                        let first = rec.errors.first().map(ToString::to_string);
                        if let Some(why) = summarize(first, rec.error_count, "rows") {
                            d.problems.push((tree.path_of(rid), why));
                        }
                    }
                    d.record = Some(rec);
                }
                Err(e) => d.problems.push((tree.path_of(rid), e)),
            }
        }
        d.has_wheel = child("WHEEL").is_some();
        if let Some(eid) = child("entry_points.txt") {
            match parse_once(tree, eid, &cache.entry_points, EntryPoints::parse) {
                Ok(eps) => {
                    let first = eps.errors.first().map(ToString::to_string);
                    if let Some(why) = summarize(first, eps.error_count, "lines") {
                        d.problems.push((tree.path_of(eid), why));
                    }
                    d.entry_points = eps;
                }
                Err(e) => d.problems.push((tree.path_of(eid), e)),
            }
        }
        if format == DistFormat::EggInfoDir {
            if let Some(qid) = child("requires.txt") {
                if let Ok(parsed) = parse_once(tree, qid, &cache.requires_txt, |bytes| {
                    parse_requires(egg_info::parse_requires_txt(bytes))
                }) {
                    d.requires = (*parsed).clone();
                }
            }
        }
        dists.push(d);
    }
    dists
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Node, ROOT};
    use std::collections::BTreeMap;

    fn node(kind: Kind, content: Option<ContentId>, size: u64) -> Node {
        Node {
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            layer: 0,
            link: None,
            content,
            name: "".into(),
            parent: ROOT,
            children: (kind == Kind::Dir).then(BTreeMap::new),
        }
    }

    // See: issue 14
    // Proves: METADATA, RECORD and entry_points.txt hard-linked into many
    // dist-infos are parsed once per content: every dist shares the parse
    // (the same allocation), its requirements included, and a bad RECORD
    // is one problem per dist with the count of its bad rows.
    #[test]
    fn r14_hardlinked_metadata_is_parsed_once() {
        let mut tree = MergedTree::default();
        let site = tree.alloc(node(Kind::Dir, None, 0), ROOT, "site");
        let file = |tree: &mut MergedTree, bytes: &[u8]| {
            let c = tree.add_content(
                0,
                0,
                bytes.len() as u64,
                Some(bytes.into()),
                None,
                false,
                None,
            );
            node(Kind::File, Some(c), bytes.len() as u64)
        };
        let meta = file(&mut tree, b"Name: a\nVersion: 1\nRequires-Dist: b>=1\n");
        let record = file(&mut tree, "x,y,z,w\n".repeat(300).as_bytes());
        let eps = file(&mut tree, b"[console_scripts]\na = a:main\n");
        let installer = file(&mut tree, b"pip\n");
        for i in 0..50 {
            let d = tree.alloc(node(Kind::Dir, None, 0), site, &format!("a{i}-1.dist-info"));
            tree.alloc(meta.clone(), d, "METADATA");
            tree.alloc(record.clone(), d, "RECORD");
            tree.alloc(eps.clone(), d, "entry_points.txt");
            tree.alloc(installer.clone(), d, "INSTALLER");
        }
        let dists = load_site_dir_with(&tree, "/site", &ParseCache::default());
        assert_eq!(dists.len(), 50);
        let first = &dists[0];
        for d in &dists {
            assert!(Arc::ptr_eq(
                d.metadata.as_ref().unwrap(),
                first.metadata.as_ref().unwrap()
            ));
            assert!(Arc::ptr_eq(&d.requires, &first.requires));
            assert!(Arc::ptr_eq(
                d.record.as_ref().unwrap(),
                first.record.as_ref().unwrap()
            ));
            assert!(Arc::ptr_eq(&d.entry_points, &first.entry_points));
            assert_eq!(d.requires.len(), 1);
            assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
            assert!(
                d.problems[0].1.ends_with("(and 299 more malformed rows)"),
                "{:?}",
                d.problems
            );
        }
    }
}
