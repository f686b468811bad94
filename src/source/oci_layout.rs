//! OCI image layouts: `oci-layout` + `index.json` + `blobs/<alg>/<hex>`, as a
//! directory ([`DirStore`]) or inside a tar (an `oci-archive`, read through
//! `tarball::TarStore`). `index.json` may point at nested image indexes
//! (multi-platform). This module owns choosing the image: by
//! `org.opencontainers.image.ref.name` (or containerd's
//! `io.containerd.image.name`), or by manifest digest (cosign leaves the
//! image untagged and tags only its `.sig`/`.att`); then by platform, where
//! an index child without `platform` is matched by its config's
//! `os`/`architecture` (containerd's `images.Manifest` does this), a lone
//! one is taken, and one that is itself an index is searched (nested
//! indexes; a cycle or more than 8 levels is refused). A manifest or index
//! that is an OCI artifact (a signature, an SBOM, a referrers index) is
//! refused as such, not as broken JSON or a missing platform.
//! Spec: OCI image-spec v1.1 `image-layout.md`, `image-index.md`,
//! `manifest.md` (`artifactType`), `annotations.md`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::{
    bad_json, blob_path, is_digest, tag_matches, Blob, BlobStore, Format, ImageConfig, LayerRef,
    Platform, ResolvedImage, SourceError,
};
use crate::layer::FileRange;

/// Nested indexes deeper than this are refused (a crafted cycle).
const MAX_DEPTH: usize = 8;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// An OCI image layout directory.
pub struct DirStore {
    root: PathBuf,
    /// `root` with every symlink resolved: what a blob must stay under.
    canonical_root: PathBuf,
    input: String,
    /// Each blob file opened once, by its resolved path. A manifest may name
    /// one blob many times (100,000 layers of one digest is a valid image);
    /// a descriptor per open file would run out of file descriptors.
    open: std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<File>>>,
}

impl DirStore {
    /// Open a layout directory (checks `index.json` exists lazily).
    pub fn open(root: &Path) -> Result<DirStore, SourceError> {
        let canonical_root = root.canonicalize().map_err(|source| SourceError::Open {
            path: root.display().to_string(),
            source,
        })?;
        Ok(DirStore {
            root: root.to_path_buf(),
            canonical_root,
            input: root.display().to_string(),
            open: Default::default(),
        })
    }

    /// The file behind `name`, when it may be read: inside the layout once
    /// symlinks are resolved, and a regular file. `Err(Some(why))` when it
    /// is there but refused, `Err(None)` when it is absent.
    ///
    /// Both checks come before the file is opened (issue 14): a blob that is
    /// a symlink to a host file (`/etc/shadow`, a key) would otherwise be
    /// read and, for a config or manifest, quoted in an error; and opening a
    /// FIFO blocks until some writer comes.
    fn checked(&self, name: &str) -> Result<PathBuf, Option<String>> {
        if name.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(None);
        }
        let path = self.root.join(name);
        let real = path.canonicalize().map_err(|_| None)?;
        if !real.starts_with(&self.canonical_root) {
            return Err(Some(
                "is a symlink that leads out of the layout directory; refusing to read it".into(),
            ));
        }
        let meta = std::fs::metadata(&real).map_err(|_| None)?;
        if !meta.is_file() {
            return Err(Some(format!(
                "is not a regular file ({})",
                crate::localfile::kind(&meta.file_type())
            )));
        }
        Ok(real)
    }
}

impl BlobStore for DirStore {
    fn input(&self) -> &str {
        &self.input
    }

    fn get(&self, name: &str) -> Option<Blob> {
        let path = self.checked(name).ok()?;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let file = match open.get(&path) {
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(File::open(&path).ok()?);
                open.insert(path, f.clone());
                f
            }
        };
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(Blob::Range(FileRange {
            file,
            offset: 0,
            len: meta.len(),
        }))
    }

    /// Why `name` cannot be read though it may be absent: refused by
    /// [`DirStore::checked`], or there and not openable (no permission, no
    /// file descriptor left) — which is not "missing".
    fn refused(&self, name: &str) -> Option<String> {
        match self.checked(name) {
            Err(why) => why,
            Ok(path) => match File::open(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Some(format!("could not be opened: {e}"))
                }
                _ => None,
            },
        }
    }

    fn is_dir(&self) -> bool {
        true
    }
}

fn ref_names(d: &Descriptor) -> Vec<String> {
    let Some(a) = d.annotations() else {
        return Vec::new();
    };
    [REF_NAME, CONTAINERD_NAME]
        .iter()
        .filter_map(|k| a.get(*k).cloned())
        .collect()
}

fn is_index(d: &Descriptor) -> bool {
    let mt = d.media_type().to_string();
    mt.contains("image.index") || mt.contains("manifest.list")
}

fn platform_matches(d: &Descriptor, want: &Platform) -> bool {
    let Some(p) = d.platform() else {
        return false;
    };
    p.os().to_string() == want.os
        && p.architecture().to_string() == want.arch
        && want
            .variant
            .as_ref()
            .is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
}

/// The platform an index child's config declares (`os`, `architecture`,
/// `variant`), for a child whose descriptor has no `platform`; `None` when
/// it cannot be read or is not an image manifest.
fn config_platform(store: &dyn BlobStore, d: &Descriptor) -> Option<Platform> {
    if is_index(d) {
        return None;
    }
    let (_, bytes) = read_blob(store, d).ok()?;
    let manifest: ImageManifest = serde_json::from_slice(&bytes).ok()?;
    let (_, config) = read_blob(store, manifest.config()).ok()?;
    let config = ImageConfig::parse(&config).ok()?;
    Some(Platform {
        os: config.os?,
        arch: config.architecture?,
        variant: config.variant,
    })
}

fn config_platform_matches(found: &Platform, want: &Platform) -> bool {
    found.os == want.os
        && found.arch == want.arch
        && want
            .variant
            .as_ref()
            .is_none_or(|v| found.variant.as_deref() == Some(v.as_str()))
}

/// The platform of each of `ds`: its descriptor's, else what its config
/// declares (`from_config`). Each distinct manifest is read once: an index
/// that repeats one platform-less child a million times costs one read, so
/// the work stays bounded by the bytes of the input.
fn child_platforms(store: &dyn BlobStore, ds: &[Descriptor]) -> Vec<ChildPlatform> {
    let mut seen: std::collections::HashMap<String, Option<Platform>> = Default::default();
    ds.iter()
        .map(|d| match d.platform() {
            Some(p) => ChildPlatform {
                platform: Some(Platform {
                    os: p.os().to_string(),
                    arch: p.architecture().to_string(),
                    variant: p.variant().clone(),
                }),
                from_config: false,
            },
            None => ChildPlatform {
                platform: seen
                    .entry(d.digest().to_string())
                    .or_insert_with(|| config_platform(store, d))
                    .clone(),
                from_config: true,
            },
        })
        .collect()
}

/// One index child's platform, and whether its config said it.
struct ChildPlatform {
    platform: Option<Platform>,
    from_config: bool,
}

/// The distinct platforms of an index's children, in order (an index may
/// repeat one child; the error line lists each platform once).
fn describe_platforms(ps: &[ChildPlatform]) -> String {
    let mut v: Vec<String> = Vec::new();
    for c in ps {
        let text = match (&c.platform, c.from_config) {
            (Some(p), false) => p.to_string(),
            (Some(p), true) => format!("{p} (from its config)"),
            (None, _) => "<no platform>".into(),
        };
        if !v.contains(&text) {
            v.push(text);
        }
    }
    v.join(", ")
}

/// Config media types of container images (OCI and Docker schema 2).
const IMAGE_CONFIGS: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// A filesystem layer's media type: OCI's `…image.layer.v1.tar[+gzip|+zstd]`
/// (and its non-distributable variants), Docker's `…image.rootfs.diff…`
/// and `…image.rootfs.foreign.diff…`.
fn is_layer_type(mt: &str) -> bool {
    mt.starts_with("application/vnd.oci.image.layer.")
        || mt.starts_with("application/vnd.docker.image.rootfs.")
}

/// What makes `manifest` an OCI artifact rather than an image, as the type
/// to print; `None` for an image.
///
/// Checked in the spec's order of precedence: `artifactType` names it;
/// otherwise a config that is no image config (the empty descriptor
/// `application/vnd.oci.empty.v1+json`, a Helm chart's config) gives its
/// media type. A cosign `.sig` manifest has neither — it carries an image
/// config media type — but its layers are signature payloads
/// (`application/vnd.dev.cosign.simplesigning.v1+json`), not tars: the first
/// layer type that is no filesystem layer names it.
fn artifact_kind(manifest: &ImageManifest) -> Option<String> {
    if let Some(t) = manifest.artifact_type() {
        return Some(t.to_string());
    }
    let config = manifest.config().media_type().to_string();
    if !IMAGE_CONFIGS.contains(&config.as_str()) {
        return Some(config);
    }
    manifest
        .layers()
        .iter()
        .map(|l| l.media_type().to_string())
        .find(|mt| !is_layer_type(mt))
}

/// For a manifest oci-spec cannot parse: its `artifactType`, when it has one
/// (an artifact may have no `layers`, which an image manifest requires).
fn raw_artifact_type(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("artifactType")?.as_str().map(String::from)
}

fn read_blob(store: &dyn BlobStore, d: &Descriptor) -> Result<(String, Vec<u8>), SourceError> {
    let digest = d.digest().to_string();
    let name = blob_path(&digest).ok_or_else(|| SourceError::Inconsistent {
        input: store.input().to_string(),
        why: format!("invalid digest `{digest}`"),
    })?;
    let bytes = store.read_verified(&name, Some(&digest))?;
    Ok((name, bytes))
}

/// Resolve the image in an OCI layout store.
pub fn resolve(
    store: &dyn BlobStore,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<ResolvedImage, SourceError> {
    let input = store.input().to_string();
    let bytes = store.read_small("index.json")?;
    // serde_json directly, not `ImageIndex::from_reader`: oci-spec's error
    // prints only "serde failed", dropping what and where.
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| bad_json(store, "index.json", e))?;
    let manifests = index.manifests();
    let mut reference = tag.map(String::from);
    let chosen: Descriptor = match tag {
        Some(t) if is_digest(t) => find_digest(store, manifests, t, 0, &mut Default::default())
            .ok_or_else(|| SourceError::Select {
                input: input.clone(),
                why: format!(
                    "no manifest with digest `{t}`; the layout holds: {}",
                    list_names(manifests)
                ),
            })?,
        Some(t) => manifests
            .iter()
            .find(|d| ref_names(d).iter().any(|n| tag_matches(t, n)))
            .cloned()
            .ok_or_else(|| SourceError::Select {
                input: input.clone(),
                why: format!(
                    "no image named `{t}`; the layout holds: {}",
                    list_names(manifests)
                ),
            })?,
        None => match manifests.as_slice() {
            [one] => {
                reference = ref_names(one).into_iter().next();
                one.clone()
            }
            [] => {
                return Err(SourceError::Select {
                    input,
                    why: "`index.json` lists no manifest".into(),
                })
            }
            many => {
                let named: std::collections::BTreeSet<Vec<String>> =
                    many.iter().map(ref_names).collect();
                if named.len() > 1 && many.iter().all(|d| d.platform().is_none()) {
                    return Err(SourceError::Select {
                        input: input.clone(),
                        why: format!(
                            "the layout holds {} images; pick one with {}: {}",
                            many.len(),
                            pick_hint(store),
                            list_names(many)
                        ),
                    });
                }
                pick_platform(store, many, platform, true, &mut Walk::default())?
            }
        },
    };
    let (manifest_name, manifest_digest, manifest) =
        descend(store, chosen, platform, &mut Walk::default()).map_err(|e| match e {
            // Named the way the user chose it, when they chose by name.
            SourceError::Artifact { input, kind, name } => SourceError::Artifact {
                input,
                name: reference.clone().unwrap_or(name),
                kind,
            },
            e => e,
        })?;
    let manifest_digest_chosen = manifest_digest.clone();
    if let Some(kind) = artifact_kind(&manifest) {
        return Err(SourceError::Artifact {
            input,
            name: reference.unwrap_or(manifest_digest),
            kind,
        });
    }
    let config_desc = manifest.config();
    let (config_name, config_bytes) = read_blob(store, config_desc)?;
    let config = ImageConfig::parse(&config_bytes).map_err(|e| bad_json(store, &config_name, e))?;
    let layer_descs = manifest.layers();
    if config.diff_ids.len() != layer_descs.len() {
        return Err(SourceError::Inconsistent {
            input,
            why: format!(
                "manifest `{manifest_name}` lists {} layers but the config has {} diff_ids",
                layer_descs.len(),
                config.diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (i, d) in layer_descs.iter().enumerate() {
        let digest = d.digest().to_string();
        let name = blob_path(&digest).ok_or_else(|| SourceError::Inconsistent {
            input: input.clone(),
            why: format!("invalid layer digest `{digest}`"),
        })?;
        // An algorithm imgaudit cannot hash would leave the layer unverified.
        if !matches!(digest.split_once(':'), Some(("sha256" | "sha512", _))) {
            return Err(SourceError::UnsupportedDigest {
                input: input.clone(),
                name,
                digest,
            });
        }
        let blob = store.require(&name)?;
        if let Blob::Range(r) = &blob {
            if r.len != d.size() {
                return Err(SourceError::Inconsistent {
                    input: input.clone(),
                    why: format!(
                        "layer `{name}` is {} bytes but the manifest says {}",
                        r.len,
                        d.size()
                    ),
                });
            }
        }
        layers.push(LayerRef {
            name,
            digest: Some(digest),
            diff_id: config.diff_ids.get(i).cloned(),
            media_type: Some(d.media_type().to_string()),
            size: d.size(),
            blob,
        });
    }
    Ok(ResolvedImage {
        format: if store.is_dir() {
            Format::OciLayout
        } else {
            Format::OciArchive
        },
        reference,
        config_digest: Some(config_desc.digest().to_string()),
        manifest_digest: Some(manifest_digest_chosen),
        config,
        layers,
    })
}

/// The index child for `platform`: by its descriptor's `platform`; else a
/// child without one whose config declares that platform (containerd's
/// `images.Manifest` reads the config the same way); else a lone child
/// without a platform, which is the only image there is (when `lone`: not
/// inside an index searched for a match, where the platform must really
/// match, or a nested index would win with some other platform); else a child
/// without a platform that is itself an index holding a match. containerd's
/// `images.Manifest` walks the children whose platform matches or is absent,
/// matching ones first, into nested indexes; it stops at the first
/// candidate, where this searches every platform-less index (each once).
fn pick_platform(
    store: &dyn BlobStore,
    ds: &[Descriptor],
    platform: &Platform,
    lone: bool,
    walk: &mut Walk,
) -> Result<Descriptor, SourceError> {
    if let Some(d) = ds.iter().find(|d| platform_matches(d, platform)) {
        return Ok(d.clone());
    }
    if let (true, [one]) = (lone, ds) {
        if one.platform().is_none() {
            return Ok(one.clone());
        }
    }
    let found = child_platforms(store, ds);
    let by_config = ds.iter().zip(&found).find(|(_, c)| {
        c.from_config
            && c.platform
                .as_ref()
                .is_some_and(|p| config_platform_matches(p, platform))
    });
    if let Some((d, _)) = by_config {
        return Ok(d.clone());
    }
    for d in ds.iter().filter(|d| d.platform().is_none() && is_index(d)) {
        if index_holds(store, d, platform, walk)? {
            return Ok(d.clone());
        }
    }
    Err(SourceError::Select {
        input: store.input().to_string(),
        why: format!(
            "no manifest for platform `{platform}`; available: {} (choose with `--platform`)",
            describe_platforms(&found)
        ),
    })
}

/// When every child of an index is an artifact manifest (an OCI 1.1
/// referrers index: regclient's `sha256-<digest>` tags hold an SBOM and a
/// signature), their distinct artifact types; `None` when any child is an
/// image, an index or unreadable.
fn artifact_children(store: &dyn BlobStore, ds: &[Descriptor]) -> Option<String> {
    let mut kinds: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in ds {
        if is_index(d) {
            return None;
        }
        if !seen.insert(d.digest().to_string()) {
            continue;
        }
        let (_, bytes) = read_blob(store, d).ok()?;
        let kind = match serde_json::from_slice::<ImageManifest>(&bytes) {
            Ok(m) => artifact_kind(&m)?,
            Err(_) => raw_artifact_type(&bytes)?,
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    (!kinds.is_empty()).then(|| kinds.join(", "))
}

/// The state of one platform resolution through nested indexes: whether
/// each platform-less child index holds a match (each is searched once, so
/// an index listing one child index thousands of times at every level
/// costs one read per distinct index), and the indexes being searched or
/// descended right now, in order (one seen again is a cycle).
#[derive(Default)]
struct Walk {
    holds: std::collections::HashMap<String, bool>,
    open: Vec<String>,
}

impl Walk {
    /// Enter index `digest`; an error when it is already open (a cycle).
    ///
    /// A cycle cannot be content-addressed (an index would have to hold its
    /// own digest), so a verified layout never has one; this guard is for
    /// the reader's own termination, not only the depth bound's.
    fn enter(&mut self, store: &dyn BlobStore, digest: &str) -> Result<(), SourceError> {
        if let Some(at) = self.open.iter().position(|d| d == digest) {
            let mut chain = self.open[at..].to_vec();
            chain.push(digest.to_string());
            return Err(SourceError::Inconsistent {
                input: store.input().to_string(),
                why: format!("image indexes form a cycle: {}", chain.join(" -> ")),
            });
        }
        if self.open.len() > MAX_DEPTH {
            return Err(SourceError::Inconsistent {
                input: store.input().to_string(),
                why: format!("image indexes nested deeper than {MAX_DEPTH}"),
            });
        }
        self.open.push(digest.to_string());
        Ok(())
    }
}

/// Whether index `d` (a child without `platform`) holds a manifest for
/// `platform`, by the rules of [`pick_platform`].
fn index_holds(
    store: &dyn BlobStore,
    d: &Descriptor,
    platform: &Platform,
    walk: &mut Walk,
) -> Result<bool, SourceError> {
    let digest = d.digest().to_string();
    if let Some(known) = walk.holds.get(&digest) {
        return Ok(*known);
    }
    walk.enter(store, &digest)?;
    let (name, bytes) = read_blob(store, d)?;
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| bad_json(store, &name, e))?;
    let held = match pick_platform(store, index.manifests(), platform, false, walk) {
        Ok(_) => true,
        Err(SourceError::Select { .. }) => false,
        Err(e) => return Err(e),
    };
    walk.open.pop();
    walk.holds.insert(digest, held);
    Ok(held)
}

/// The descriptor of the manifest (or index) whose digest is `digest`,
/// searched in `ds` and the indexes they name (a platform's manifest inside
/// a multi-platform index can be picked by its digest too). Blobs that
/// cannot be read are skipped: this is a search, the chosen one is read
/// (and verified) again by [`descend`].
///
/// Each index is read once (`visited`): an index that names itself, or one
/// that lists the same child index many times at every level, would
/// otherwise make the search exponential in [`MAX_DEPTH`].
fn find_digest(
    store: &dyn BlobStore,
    ds: &[Descriptor],
    digest: &str,
    depth: usize,
    visited: &mut std::collections::HashSet<String>,
) -> Option<Descriptor> {
    if let Some(d) = ds.iter().find(|d| d.digest().to_string() == digest) {
        return Some(d.clone());
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    for d in ds.iter().filter(|d| is_index(d)) {
        if !visited.insert(d.digest().to_string()) {
            continue;
        }
        let Ok((_, bytes)) = read_blob(store, d) else {
            continue;
        };
        let Ok(index) = serde_json::from_slice::<ImageIndex>(&bytes) else {
            continue;
        };
        if let Some(found) = find_digest(store, index.manifests(), digest, depth + 1, visited) {
            return Some(found);
        }
    }
    None
}

/// How to pick one image of several in a layout: by name or by digest.
fn pick_hint(store: &dyn BlobStore) -> &'static str {
    if store.input() == super::tarball::STDIN {
        "`--image NAME` or `--image sha256:…`"
    } else {
        "`DIR:NAME`, `DIR@sha256:…` or `--image NAME`"
    }
}

/// The manifest `d` leads to, through nested indexes: its blob name, its
/// digest and the manifest.
fn descend(
    store: &dyn BlobStore,
    d: Descriptor,
    platform: &Platform,
    walk: &mut Walk,
) -> Result<(String, String, ImageManifest), SourceError> {
    if is_index(&d) {
        walk.enter(store, d.digest().as_ref())?;
    }
    let (name, bytes) = read_blob(store, &d).map_err(|e| platform_absent(store, &d, e))?;
    if is_index(&d) {
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|e| bad_json(store, &name, e))?;
        // An index may be an artifact too (image-spec v1.1 `artifactType`
        // on an index: regclient's test layout groups an SBOM and a
        // signature so); its children are then no platforms of an image.
        if let Some(kind) = index.artifact_type() {
            return Err(SourceError::Artifact {
                input: store.input().to_string(),
                name: d.digest().to_string(),
                kind: kind.to_string(),
            });
        }
        let next =
            pick_platform(store, index.manifests(), platform, true, walk).map_err(|e| {
                match (&e, artifact_children(store, index.manifests())) {
                    (SourceError::Select { .. }, Some(kinds)) => SourceError::Artifact {
                        input: store.input().to_string(),
                        name: d.digest().to_string(),
                        kind: format!("an index of artifacts only: {kinds}"),
                    },
                    _ => e,
                }
            })?;
        return descend(store, next, platform, walk);
    }
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| match raw_artifact_type(&bytes) {
            Some(kind) => SourceError::Artifact {
                input: store.input().to_string(),
                name: d.digest().to_string(),
                kind,
            },
            None => bad_json(store, &name, e),
        })?;
    Ok((name, d.digest().to_string(), manifest))
}

/// A manifest an index lists for a platform, whose blob is not in the
/// layout: a copy made for one platform only (`skopeo copy` without `--all`,
/// `docker save` of a single-platform pull) keeps the index entries of the
/// others. Say that, rather than only "`blobs/sha256/…` is missing".
fn platform_absent(store: &dyn BlobStore, d: &Descriptor, e: SourceError) -> SourceError {
    match (&e, d.platform()) {
        (SourceError::Missing { name, .. }, Some(_)) => SourceError::Select {
            input: store.input().to_string(),
            why: format!(
                "platform `{}` is listed in the index but its blobs are absent (`{name}` is missing): the image was copied without it; copy every platform (`skopeo copy --all`) or pick one that is there with `--platform`",
                describe_platforms(&child_platforms(store, std::slice::from_ref(d)))
            ),
        },
        _ => e,
    }
}

fn list_names(ds: &[Descriptor]) -> String {
    let v: Vec<String> = ds
        .iter()
        .map(|d| {
            ref_names(d)
                .into_iter()
                .next()
                .unwrap_or_else(|| d.digest().to_string())
        })
        .collect();
    v.join(", ")
}
