//! An opened image: the resolved source, every layer's index, the merged
//! tree and what each layer did to the ones below. This is the one value
//! the commands (`files`, `size`, the audit) work from.
//!
//! Data flow: `source::open` finds the config and the layer blobs →
//! `layer::read_layer_*` indexes every layer, in parallel (rayon), verifying
//! digests → `overlay::Overlay` applies them in order → `tree::MergedTree`.

use std::sync::Arc;

use rayon::prelude::*;

use crate::layer::{self, LayerIndex, ReadOptions};
use crate::overlay::{LayerEffect, Overlay, OverlayError};
use crate::source::{self, Blob, OpenRequest, ResolvedImage, SourceError};
use crate::tree::MergedTree;

/// Anything that stops an image from being read. Exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Finding the image's parts failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A layer is malformed or fails verification.
    #[error("{input}: {source}")]
    Layer {
        /// The input.
        input: String,
        /// The layer error (names the layer).
        source: layer::LayerError,
    },
    /// The layers don't stack.
    #[error("{input}: {source}")]
    Overlay {
        /// The input.
        input: String,
        /// The overlay error.
        source: OverlayError,
    },
}

/// One layer: where it came from and what it holds.
#[derive(Debug)]
pub struct Layer {
    /// Member or blob name.
    pub name: String,
    /// Blob digest, when known.
    pub digest: Option<String>,
    /// Uncompressed digest (config `diff_ids[i]`).
    pub diff_id: Option<String>,
    /// Media type, when known.
    pub media_type: Option<String>,
    /// Stored (possibly compressed) size.
    pub stored_size: u64,
    /// `created_by` from the config history.
    pub created_by: Option<String>,
    /// The layer's entries.
    pub index: Arc<LayerIndex>,
}

/// An opened, merged image.
#[derive(Debug)]
pub struct Image {
    /// What the user passed.
    pub input: String,
    /// The resolved source (format, reference, config).
    pub resolved: ResolvedImage,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// The final filesystem.
    pub tree: MergedTree,
    /// What each layer removed from the layers below.
    pub effects: Vec<LayerEffect>,
}

/// Progress callbacks, for a progress bar.
pub trait Progress: Sync {
    /// The stored bytes of all the layers, from the manifest, once the
    /// source is resolved (before any layer is read).
    fn total(&self, _bytes: u64) {}
    /// The stored bytes of one layer, once it is read.
    fn advance(&self, bytes: u64);
}

/// Whole-blob digests still being computed on plain, seekable layers.
///
/// Why deferred: on an uncompressed `docker save`, walking the tar headers
/// takes a fraction of a second, but hashing a 5 GB layer takes seconds on
/// one core. The audit starts its checks on the tree right away and waits
/// for the hashes only before it reports, so the two overlap on the cores.
/// A mismatch is still an error (exit 2); no finding is printed for an
/// image that fails verification.
pub struct PendingVerification {
    input: String,
    jobs: Vec<VerifyJob>,
}

struct VerifyJob {
    name: String,
    digest: Option<String>,
    diff_id: Option<String>,
    handle: std::thread::JoinHandle<std::io::Result<String>>,
}

impl PendingVerification {
    /// Wait for every hash and compare it with the expected digests.
    pub fn wait(self) -> Result<(), ImageError> {
        let mut first_err = None;
        for job in self.jobs {
            let result = job
                .handle
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread panicked")));
            let err = match result {
                Err(source) => Some(layer::LayerError::Io {
                    layer: job.name.clone(),
                    source,
                }),
                Ok(actual) => {
                    // A plain layer's blob digest and diff_id are the same bytes.
                    let index = LayerIndex {
                        blob_digest: Some(actual.clone()),
                        diff_id: Some(actual),
                        ..LayerIndex::default()
                    };
                    index
                        .check_digests(&job.name, job.digest.as_deref(), job.diff_id.as_deref())
                        .err()
                }
            };
            if let (None, Some(e)) = (&first_err, err) {
                first_err = Some(e);
            }
        }
        match first_err {
            Some(source) => Err(ImageError::Layer {
                input: self.input,
                source,
            }),
            None => Ok(()),
        }
    }
}

/// Open, verify and merge an image.
pub fn open(req: &OpenRequest, progress: Option<&dyn Progress>) -> Result<Image, ImageError> {
    let (image, pending) = open_deferred(req, progress)?;
    pending.wait()?;
    Ok(image)
}

/// Open and merge an image; whole-blob verification of plain seekable
/// layers continues in the background until [`PendingVerification::wait`].
pub fn open_deferred(
    req: &OpenRequest,
    progress: Option<&dyn Progress>,
) -> Result<(Image, PendingVerification), ImageError> {
    let resolved = source::open(req)?;
    if let Some(p) = progress {
        p.total(resolved.layers.iter().map(|l| l.size).sum());
    }
    let input = req.input.clone();
    type Read = Result<(Arc<LayerIndex>, Option<crate::layer::FileRange>), layer::LayerError>;
    let indexes: Vec<Read> = resolved
        .layers
        .par_iter()
        .map(|l| {
            let opts = ReadOptions {
                name: l.name.clone(),
                compression: l
                    .media_type
                    .as_deref()
                    .and_then(layer::Compression::from_media_type),
                verify: req.verify,
            };
            let (index, deferred) = match &l.blob {
                Blob::Range(r) => {
                    let (ix, d) = layer::read_layer_range_deferred(r, &opts)?;
                    (Arc::new(ix), d)
                }
                Blob::Indexed(ix) => (ix.clone(), None),
                Blob::Memory(m) => (Arc::new(layer::read_layer_stream(&m[..], &opts)?), None),
            };
            if req.verify && deferred.is_none() {
                index.check_digests(&l.name, l.digest.as_deref(), l.diff_id.as_deref())?;
            }
            if let Some(p) = progress {
                p.advance(l.size);
            }
            Ok((index, deferred))
        })
        .collect();
    let mut layers = Vec::with_capacity(indexes.len());
    let mut access = Vec::with_capacity(indexes.len());
    let mut pending = PendingVerification {
        input: input.clone(),
        jobs: Vec::new(),
    };
    for (i, (l, read)) in resolved.layers.iter().zip(indexes).enumerate() {
        let (index, deferred) = read.map_err(|source| ImageError::Layer {
            input: input.clone(),
            source,
        })?;
        if let Some(range) = deferred {
            pending.jobs.push(VerifyJob {
                name: l.name.clone(),
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                handle: std::thread::spawn(move || layer::hash_range(&range)),
            });
        }
        access.push(match (&l.blob, index.seekable) {
            (Blob::Range(r), true) => Some(r.clone()),
            _ => None,
        });
        layers.push(Layer {
            name: l.name.clone(),
            digest: l.digest.clone(),
            diff_id: l.diff_id.clone(),
            media_type: l.media_type.clone(),
            stored_size: l.size,
            created_by: resolved.config.created_by(i).map(String::from),
            index,
        });
    }
    let mut overlay = Overlay::new(MergedTree::new(access));
    for l in &layers {
        overlay
            .apply(&l.index)
            .map_err(|source| ImageError::Overlay {
                input: input.clone(),
                source,
            })?;
    }
    let (tree, effects) = overlay.finish();
    Ok((
        Image {
            input,
            resolved,
            layers,
            tree,
            effects,
        },
        pending,
    ))
}
