//! `docker save` tarballs: `manifest.json` names the config and the layers.
//!
//! Covers the legacy layout (`<id>/layer.tar`, often a symlink to
//! `<hex>.tar`; no media types, layers uncompressed) and Docker 25+, whose
//! `manifest.json` points into an embedded OCI layout (`blobs/sha256/…`;
//! gzip layers in the containerd store). The OCI `index.json` beside it may
//! name other platforms whose blobs are absent (moby#49473): we follow
//! `manifest.json`, which only names blobs that are present.
//! Spec: moby `image/tarexport/save.go` (`manifestItem`), which oci-spec has
//! no type for.

use serde::Deserialize;

use super::{
    bad_json, tag_matches, BlobStore, Format, ImageConfig, LayerRef, ResolvedImage, SourceError,
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

/// `blobs/sha256/<hex>` or `<hex>.json` / `<hex>.tar` → `sha256:<hex>`.
fn digest_from_name(name: &str) -> Option<String> {
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        return Some(format!("sha256:{hex}"));
    }
    let stem = name.strip_suffix(".json")?;
    (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{stem}"))
}

/// Resolve the image in a `docker save` store.
pub fn resolve(store: &dyn BlobStore, tag: Option<&str>) -> Result<ResolvedImage, SourceError> {
    let input = store.input().to_string();
    let bytes = store.read_small("manifest.json")?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(&bytes).map_err(|e| bad_json(store, "manifest.json", e))?;
    let tags_of = |m: &ManifestItem| m.repo_tags.clone().unwrap_or_default();
    let chosen = match tag {
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
    let config_digest = digest_from_name(&config_name);
    let config_bytes = store.read_verified(&config_name, config_digest.as_deref())?;
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
                .unwrap_or_else(|| format!("<untagged {}>", m.config))
        })
        .collect();
    tags.join("; ")
}

/// How to pick one image of several: `INPUT:TAG` works on a path only, so
/// stdin is told `--image TAG` alone.
pub(crate) fn pick_hint(store: &dyn BlobStore, by_path: &str) -> String {
    if store.input() == super::tarball::STDIN {
        "`--image TAG`".to_string()
    } else {
        format!("`{by_path}` or `--image TAG`")
    }
}
