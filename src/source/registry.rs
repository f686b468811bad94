//! The registry source: a [`BlobStore`] over a registry repository, so the
//! image is chosen by the same OCI index/manifest logic as a layout
//! (`oci_layout::resolve`: platforms, Docker manifest lists, artifacts).
//!
//! The store presents the reference as a one-entry `index.json` (the
//! manifest the tag or digest names, with the tag as its ref name);
//! `blobs/ALG/HEX` are manifests (fetched from `/manifests/`, verified)
//! when an index named them, else blobs: configs are read whole and
//! verified, layers are handed out as [`Blob::Remote`] streams the layer
//! reader consumes in its one pass (nothing written to disk).

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use super::{Blob, BlobStore, RemoteBlob, SourceError};
use crate::registry::{Client, Descriptor, Reference};

/// A registry repository as a blob store.
pub struct RegistryStore {
    client: Client,
    reference: Reference,
    input: String,
    top: Descriptor,
    top_bytes: Arc<[u8]>,
    /// Digests an index named: fetched from the manifest endpoint.
    manifests: Mutex<HashSet<String>>,
    /// Why a `get` failed, for [`BlobStore::refused`].
    failures: Mutex<HashMap<String, String>>,
}

#[derive(serde::Deserialize)]
struct IndexChildren {
    #[serde(default)]
    manifests: Vec<Child>,
}

#[derive(serde::Deserialize)]
struct Child {
    digest: String,
}

impl RegistryStore {
    /// Fetch the manifest (or index) `reference` names.
    pub fn open(client: Client, reference: Reference, input: String) -> Result<Self, SourceError> {
        let (mut top, bytes) =
            client
                .get_manifest(&reference)
                .map_err(|e| SourceError::Select {
                    input: input.clone(),
                    why: e.to_string(),
                })?;
        if top.media_type.is_empty() || !top.media_type.contains("json") {
            top.media_type = media_type_of(&bytes).unwrap_or_default();
        }
        let store = RegistryStore {
            client,
            reference,
            input,
            top,
            top_bytes: bytes.into(),
            manifests: Mutex::default(),
            failures: Mutex::default(),
        };
        store.note_children(&store.top_bytes);
        Ok(store)
    }

    /// The manifest digest the reference resolved to.
    pub fn digest(&self) -> &str {
        &self.top.digest
    }

    fn note_children(&self, bytes: &[u8]) {
        if let Ok(ix) = serde_json::from_slice::<IndexChildren>(bytes) {
            let mut m = self.manifests.lock().unwrap_or_else(|e| e.into_inner());
            m.extend(ix.manifests.into_iter().map(|c| c.digest));
        }
    }

    fn fail(&self, name: &str, why: String) -> Option<Blob> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), why);
        None
    }
}

/// The `mediaType` a manifest declares in its body.
fn media_type_of(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct M {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let m: M = serde_json::from_slice(bytes).ok()?;
    m.media_type.or_else(|| {
        Some(if m.manifests.is_some() {
            "application/vnd.oci.image.index.v1+json".to_string()
        } else {
            "application/vnd.oci.image.manifest.v1+json".to_string()
        })
    })
}

impl BlobStore for RegistryStore {
    fn input(&self) -> &str {
        &self.input
    }

    fn get(&self, name: &str) -> Option<Blob> {
        if name == "index.json" {
            let mut d = serde_json::json!({
                "mediaType": self.top.media_type,
                "digest": self.top.digest,
                "size": self.top_bytes.len(),
            });
            if let Some(t) = &self.reference.tag {
                d["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": t });
            }
            let index = serde_json::json!({ "schemaVersion": 2, "manifests": [d] });
            return Some(Blob::Memory(index.to_string().into_bytes().into()));
        }
        let digest = name.strip_prefix("blobs/")?.replacen('/', ":", 1);
        if digest == self.top.digest {
            return Some(Blob::Memory(self.top_bytes.clone()));
        }
        let is_manifest = self
            .manifests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&digest);
        let r = &self.reference;
        if is_manifest {
            return match self
                .client
                .get_manifest_by_digest(&r.registry, &r.repository, &digest)
            {
                Ok(bytes) => {
                    self.note_children(&bytes);
                    Some(Blob::Memory(bytes.into()))
                }
                Err(e) => self.fail(name, e.to_string()),
            };
        }
        Some(Blob::Remote(Arc::new(RemoteLayer {
            client: self.client.clone(),
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            digest,
        })))
    }

    fn refused(&self, name: &str) -> Option<String> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

/// A blob in a registry, opened as a stream when read.
#[derive(Debug)]
pub struct RemoteLayer {
    client: Client,
    registry: String,
    repository: String,
    digest: String,
}

impl RemoteBlob for RemoteLayer {
    fn open(&self, size: Option<u64>) -> io::Result<Box<dyn Read + Send>> {
        let s = self
            .client
            .open_blob(&self.registry, &self.repository, &self.digest, size)
            .map_err(io::Error::other)?;
        Ok(Box::new(s))
    }

    fn read_small(&self, limit: u64) -> io::Result<Vec<u8>> {
        let bytes = self
            .client
            .get_blob_small(&self.registry, &self.repository, &self.digest)
            .map_err(io::Error::other)?;
        if bytes.len() as u64 > limit {
            return Err(io::Error::other("too large"));
        }
        Ok(bytes)
    }
}
