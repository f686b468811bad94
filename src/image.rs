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

/// Progress callback: (layers done, layers total).
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Open, verify and merge an image.
pub fn open(req: &OpenRequest, progress: Option<Progress<'_>>) -> Result<Image, ImageError> {
    let resolved = source::open(req)?;
    let input = req.input.clone();
    let indexes: Vec<Result<Arc<LayerIndex>, layer::LayerError>> = resolved
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
            let index = match &l.blob {
                Blob::Range(r) => Arc::new(layer::read_layer_range(r, &opts)?),
                Blob::Indexed(ix) => ix.clone(),
                Blob::Memory(m) => Arc::new(layer::read_layer_stream(&m[..], &opts)?),
            };
            if req.verify {
                index.check_digests(&l.name, l.digest.as_deref(), l.diff_id.as_deref())?;
            }
            if let Some(p) = progress {
                p(l.size);
            }
            Ok(index)
        })
        .collect();
    let mut layers = Vec::with_capacity(indexes.len());
    let mut access = Vec::with_capacity(indexes.len());
    for (i, (l, index)) in resolved.layers.iter().zip(indexes).enumerate() {
        let index = index.map_err(|source| ImageError::Layer {
            input: input.clone(),
            source,
        })?;
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
    Ok(Image {
        input,
        resolved,
        layers,
        tree,
        effects,
    })
}
