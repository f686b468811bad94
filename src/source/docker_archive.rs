//! `docker save` tarballs: `manifest.json` names the config and the layers.
//!
//! Covers the legacy layout (`<id>/layer.tar`, often a symlink to
//! `<hex>.tar`; no media types, layers uncompressed) and Docker 25+, whose
//! `manifest.json` points into an embedded OCI layout (`blobs/sha256/…`;
//! gzip layers in the containerd store). The OCI `index.json` beside it may
//! name other platforms whose blobs are absent (moby#49473): we follow
//! `manifest.json`, which only names blobs that are present.
//! This module owns choosing the image of a `docker save` tarball: by any
//! spelling of a tag in `RepoTags` (`x`, `x:latest`, `docker.io/library/x`,
//! `index.docker.io/library/x:latest` are one name, see
//! [`super::tag_matches`]) or by image ID (`sha256:…`, the config's digest,
//! what `docker images --no-trunc` prints).
//! Spec: moby `image/tarexport/save.go` (`manifestItem`), which oci-spec has
//! no type for; `image/tarexport/load.go` for what the loader checks.

use serde::Deserialize;

use super::{
    bad_json, is_digest, tag_matches, BlobStore, Format, ImageConfig, LayerRef, ResolvedImage,
    SourceError,
};

#[derive(Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// `blobs/sha256/<hex>` → `sha256:<hex>`: a content-addressed blob of the
/// Docker 25+ layout, whose name is its digest by definition.
fn digest_from_blob_name(name: &str) -> Option<String> {
    name.strip_prefix("blobs/sha256/")
        .map(|hex| format!("sha256:{hex}"))
}

/// The image ID a `manifest.json` entry's config name claims (`<hex>.json`
/// in the legacy layout, `blobs/sha256/<hex>` in Docker 25+), for selecting
/// by `sha256:…` before the config is read.
fn claimed_id(config: &str) -> Option<String> {
    let name = config.trim_start_matches("./");
    digest_from_blob_name(name).or_else(|| {
        let stem = name.strip_suffix(".json")?;
        (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| format!("sha256:{stem}"))
    })
}

/// Resolve the image in a `docker save` store.
pub fn resolve(store: &dyn BlobStore, tag: Option<&str>) -> Result<ResolvedImage, SourceError> {
    let input = store.input().to_string();
    let bytes = store.read_small("manifest.json")?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(&bytes).map_err(|e| bad_json(store, "manifest.json", e))?;
    let tags_of = |m: &ManifestItem| m.repo_tags.clone().unwrap_or_default();
    let chosen = match tag {
        Some(t) if is_digest(t) => items
            .iter()
            .find(|m| claimed_id(&m.config).as_deref() == Some(t))
            .ok_or_else(|| SourceError::Select {
                input: input.clone(),
                why: format!(
                    "no image with ID `{t}`; the tarball holds: {}",
                    list_tags(&items)
                ),
            })?,
        Some(t) => items
            .iter()
            .find(|m| tags_of(m).iter().any(|have| tag_matches(t, have)))
            .ok_or_else(|| SourceError::Select {
                input: input.clone(),
                why: format!(
                    "no image tagged `{t}`; the tarball holds: {}",
                    list_tags(&items)
                ),
            })?,
        None => match items.as_slice() {
            [one] => one,
            [] => {
                return Err(SourceError::Select {
                    input,
                    why: "`manifest.json` lists no image".into(),
                })
            }
            _ => {
                return Err(SourceError::Select {
                    input: input.clone(),
                    why: format!(
                        "the tarball holds {} images; pick one with {}: {}",
                        items.len(),
                        pick_hint(store, "IMAGE.tar:TAG"),
                        list_tags(&items)
                    ),
                })
            }
        },
    };
    let config_name = chosen.config.trim_start_matches("./").to_string();
    // A Docker 25+ blob is content-addressed: its name is checked. A legacy
    // `<hex>.json` is not: Docker's loader (`tarexport/load.go`) reads the
    // file `Config` names and computes the image ID from its bytes, never
    // comparing it with the name, and ggcr's mutate fixtures ship a config
    // whose name is not its hash. So the name is only a name here; the
    // digest reported is the real one, and the layers are still verified
    // against the `diff_ids` of the config actually read.
    let config_bytes =
        store.read_verified(&config_name, digest_from_blob_name(&config_name).as_deref())?;
    let config_digest = Some(format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&config_bytes))
    ));
    let config = ImageConfig::parse(&config_bytes).map_err(|e| bad_json(store, &config_name, e))?;
    if config.diff_ids.len() != chosen.layers.len() {
        return Err(SourceError::Inconsistent {
            input,
            why: format!(
                "`manifest.json` lists {} layers but the config has {} diff_ids",
                chosen.layers.len(),
                config.diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::with_capacity(chosen.layers.len());
    for (i, name) in chosen.layers.iter().enumerate() {
        let name = name.trim_start_matches("./").to_string();
        let blob = store.require(&name)?;
        let size = match &blob {
            super::Blob::Range(r) => r.len,
            super::Blob::Memory(m) => m.len() as u64,
            super::Blob::Indexed(ix) => ix.uncompressed_size,
            // A `docker save` archive is local; no store hands these out.
            super::Blob::Remote(_) => 0,
        };
        layers.push(LayerRef {
            digest: name
                .strip_prefix("blobs/sha256/")
                .map(|h| format!("sha256:{h}")),
            diff_id: config.diff_ids.get(i).cloned(),
            media_type: None,
            size,
            blob,
            name,
        });
    }
    let format = if store.get("oci-layout").is_some() || store.get("index.json").is_some() {
        Format::DockerArchiveOci
    } else {
        Format::DockerArchive
    };
    Ok(ResolvedImage {
        format,
        reference: tags_of(chosen)
            .first()
            .cloned()
            .or_else(|| tag.map(String::from)),
        config_digest,
        manifest_digest: None,
        config,
        layers,
    })
}

fn list_tags(items: &[ManifestItem]) -> String {
    let tags: Vec<String> = items
        .iter()
        .map(|m| {
            m.repo_tags
                .as_ref()
                .filter(|t| !t.is_empty())
                .map(|t| t.join(", "))
                .unwrap_or_else(|| match claimed_id(&m.config) {
                    Some(id) => id,
                    None => format!("<untagged {}>", m.config),
                })
        })
        .collect();
    tags.join("; ")
}

/// How to pick one image of several: `INPUT:TAG` works on a path only, so
/// stdin is told `--image TAG` alone. An untagged image is listed by its ID
/// (`sha256:…`), which `--image` takes too.
pub(crate) fn pick_hint(store: &dyn BlobStore, by_path: &str) -> String {
    if store.input() == super::tarball::STDIN {
        "`--image TAG`".to_string()
    } else {
        format!("`{by_path}` or `--image TAG`")
    }
}
