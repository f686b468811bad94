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
    /// Parsed METADATA / PKG-INFO, if present and readable.
    pub metadata: Option<Metadata>,
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
    /// Requirement strings (`Requires-Dist`, or egg-info `requires.txt`).
    pub requires: Vec<String>,
    /// [`Dist::requires`] parsed, one per string, here and nowhere else;
    /// `None` for a string that is not PEP 508 (or exceeds the bounds of
    /// [`parse_requirement`]), which pip skips too.
    pub requirements: Vec<Option<Requirement>>,
    /// Layer that produced the metadata dir.
    pub layer: u32,
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

/// Every requirement string parsed once (see [`Dist::requirements`]).
fn parse_requirements(requires: &[String]) -> Vec<Option<Requirement>> {
    requires.iter().map(|r| parse_requirement(r).ok()).collect()
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
            requires: Vec::new(),
            requirements: Vec::new(),
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
            match read_text(tree, mid) {
                Ok(bytes) => match Metadata::parse(&bytes) {
                    Ok(m) => {
                        if let Some(n) = &m.name {
                            d.name = n.clone();
                            d.key = normalize_name(n);
                        }
                        if m.version.is_some() {
                            d.version = m.version.clone();
                        }
                        d.requires = m.requires_dist.clone();
                        d.metadata = Some(m);
                    }
                    Err(e) => d.problems.push((meta_path, e.to_string())),
                },
                Err(e) => d.problems.push((meta_path, e)),
            }
        }
        if format == DistFormat::EggInfoFile {
            d.requirements = parse_requirements(&d.requires);
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
                if let Ok(bytes) = read_text(tree, qid) {
                    d.requires = egg_info::parse_requires_txt(&bytes);
                }
            }
        }
        d.requirements = parse_requirements(&d.requires);
        dists.push(d);
    }
    dists
}
