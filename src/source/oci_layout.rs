//! OCI image layouts: `oci-layout` + `index.json` + `blobs/<alg>/<hex>`, as a
//! directory ([`DirStore`]) or inside a tar (an `oci-archive`, read through
//! `tarball::TarStore`). `index.json` may point at nested image indexes
//! (multi-platform); we pick by `org.opencontainers.image.ref.name` (or
//! containerd's `io.containerd.image.name`) and then by platform.
//! Spec: OCI image-spec v1.1 `image-layout.md`, `image-index.md`,
//! `manifest.md`, `annotations.md`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::{
    bad_json, blob_path, tag_matches, Blob, BlobStore, Format, ImageConfig, LayerRef, Platform,
    ResolvedImage, SourceError,
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
                super::file_kind(&meta.file_type())
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
        let file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(Blob::Range(FileRange {
            file: Arc::new(file),
            offset: 0,
            len: meta.len(),
        }))
    }

    fn refused(&self, name: &str) -> Option<String> {
        self.checked(name).err().flatten()
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

fn describe_platforms(ds: &[Descriptor]) -> String {
    let v: Vec<String> = ds
        .iter()
        .map(|d| match d.platform() {
            Some(p) => {
                let mut s = format!("{}/{}", p.os(), p.architecture());
                if let Some(v) = p.variant() {
                    s.push('/');
                    s.push_str(v);
                }
                s
            }
            None => "<no platform>".into(),
        })
        .collect();
    v.join(", ")
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
                            super::docker_archive::pick_hint(store, "DIR:NAME")
                                .replace("TAG", "NAME"),
                            list_names(many)
                        ),
                    });
                }
                pick_platform(&input, many, platform)?
            }
        },
    };
    let (manifest_name, manifest) = descend(store, chosen, platform, 0)?;
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
        config,
        layers,
    })
}

fn pick_platform(
    input: &str,
    ds: &[Descriptor],
    platform: &Platform,
) -> Result<Descriptor, SourceError> {
    ds.iter()
        .find(|d| platform_matches(d, platform))
        .cloned()
        .ok_or_else(|| SourceError::Select {
            input: input.to_string(),
            why: format!(
                "no manifest for platform `{platform}`; available: {} (choose with `--platform`)",
                describe_platforms(ds)
            ),
        })
}

fn descend(
    store: &dyn BlobStore,
    d: Descriptor,
    platform: &Platform,
    depth: usize,
) -> Result<(String, ImageManifest), SourceError> {
    if depth > MAX_DEPTH {
        return Err(SourceError::Inconsistent {
            input: store.input().to_string(),
            why: format!("image indexes nested deeper than {MAX_DEPTH}"),
        });
    }
    let (name, bytes) = read_blob(store, &d).map_err(|e| platform_absent(store, &d, e))?;
    if is_index(&d) {
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|e| bad_json(store, &name, e))?;
        let next = pick_platform(store.input(), index.manifests(), platform)?;
        return descend(store, next, platform, depth + 1);
    }
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| bad_json(store, &name, e))?;
    Ok((name, manifest))
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
                describe_platforms(std::slice::from_ref(d))
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
