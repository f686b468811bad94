//! An opened image: the resolved source, every layer's index, the merged
//! tree and what each layer did to the ones below. This is the one value
//! the commands (`files`, `size`, the audit) work from.
//!
//! Data flow: `source::open` finds the config and the layer blobs →
//! `layer::read_layer_*` indexes every layer, in parallel (rayon), verifying
//! digests → `overlay::Overlay` applies them in order → `tree::MergedTree`.

use std::sync::Arc;

use rayon::prelude::*;

use crate::cache::{FactCache, FileIdentity, Verified};
use crate::extract::ExtractorSet;
use crate::layer::{self, CaptureBudget, LayerIndex, ReadOptions};
use crate::overlay::{History, LayerEffect, Overlay, OverlayError};
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
    /// The facts came from the cache: no byte of the layer was read.
    pub from_cache: bool,
    /// Identity of the local blob, when the layer is a range of a file.
    identity: Option<FileIdentity>,
    /// Streamed from a registry: its facts are cached by digest alone (a
    /// verified download is its own record).
    remote: bool,
    /// The digests were computed (or found in a verified record) and match;
    /// set later for layers hashed in the background.
    verified: Arc<std::sync::atomic::AtomicBool>,
}

/// How to open an image: what to extract, and where facts are cached.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// The analyzers' extractors (default: none).
    pub extractors: Arc<ExtractorSet>,
    /// The fact cache, if any.
    pub cache: Option<FactCache>,
    /// Total bytes the extractors may keep in memory.
    pub budget: CaptureBudget,
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
    extractors: Arc<ExtractorSet>,
    cache: Option<FactCache>,
}

impl Image {
    /// What the layers removed, asked by path.
    pub fn history(&self) -> History<'_> {
        History::new(&self.effects)
    }

    /// Store every verified layer's facts in the cache, with the file hashes
    /// computed since the image was opened (a check hashed RECORD rows by
    /// positioned reads): the next run finds them without reading a byte.
    ///
    /// Call it after [`PendingVerification::wait`] succeeded: only verified
    /// layers are stored. Cache trouble is returned, never fatal.
    pub fn save_facts(&self) -> Result<usize, crate::cache::CacheError> {
        let Some(cache) = &self.cache else {
            return Ok(0);
        };
        let version = self.extractors.version();
        let mut hashes: Vec<std::collections::HashMap<u64, [u8; 32]>> =
            vec![Default::default(); self.layers.len()];
        for (layer, offset, sha) in self.tree.known_hashes() {
            if let Some(m) = hashes.get_mut(layer as usize) {
                m.insert(offset, sha);
            }
        }
        let mut saved = 0;
        // A manifest may list one blob many times (issue 10: 100,000 layers
        // of one digest): its record and facts are written once, not once
        // per listing, unless a check hashed files in that listing.
        let mut done: std::collections::HashSet<&str> = Default::default();
        for (l, hashes) in self.layers.iter().zip(hashes) {
            let verified = l.verified.load(std::sync::atomic::Ordering::Relaxed);
            let (Some(key), true) = (l.cache_key(), verified) else {
                continue;
            };
            if l.remote {
                if !l.from_cache {
                    cache.put(key, &version, &l.index)?;
                    saved += 1;
                }
                continue;
            }
            let Some(id) = &l.identity else {
                continue;
            };
            // Hashes a check computed since the layer was read or loaded.
            let new_hash = |e: &layer::Entry| {
                e.sha256.is_none()
                    && e.kind == layer::EntryKind::File
                    && hashes.contains_key(&e.data_offset)
            };
            if hashes.is_empty() && !done.insert(key) {
                continue;
            }
            let record = Verified {
                digest: key.to_string(),
                diff_id: l.diff_id.clone(),
            };
            if l.from_cache && !l.index.entries.iter().any(new_hash) {
                // Facts unchanged; the record may be new (a copy of a file
                // whose blob was just hashed to its digest).
                if cache.verified(id).as_ref() != Some(&record) {
                    cache.record_verified(id, &record)?;
                }
                continue;
            }
            let mut index = (*l.index).clone();
            for e in &mut index.entries {
                if new_hash(e) {
                    e.sha256 = hashes.get(&e.data_offset).copied();
                }
            }
            cache.record_verified(id, &record)?;
            cache.put(key, &version, &index)?;
            saved += 1;
        }
        Ok(saved)
    }
}

impl Layer {
    /// The digest the layer's facts are cached under: the blob digest, or
    /// for a `docker save` layer (stored uncompressed, named by its diff_id)
    /// the diff_id.
    pub fn cache_key(&self) -> Option<&str> {
        self.digest.as_deref().or(self.diff_id.as_deref())
    }
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
    /// The hashing runs here once [`PendingVerification::start`]ed: one
    /// coordinator over a bounded pool, a result per distinct range.
    running: Option<std::thread::JoinHandle<Vec<std::io::Result<String>>>>,
    /// Distinct ranges, and which one each job hashes.
    slot_of_job: Vec<usize>,
}

struct VerifyJob {
    name: String,
    digest: Option<String>,
    diff_id: Option<String>,
    range: crate::layer::FileRange,
    /// Set when the hash matched: the layer may then be cached.
    verified: Arc<std::sync::atomic::AtomicBool>,
}

impl PendingVerification {
    /// Start hashing on a bounded pool. Why bounded and deduplicated: a
    /// manifest can name the same member thousands of times (issue 14);
    /// one thread per layer would exhaust the process, and hashing the same
    /// bytes twice is waste. Distinct ranges are hashed once each, by at most
    /// as many threads as there are cores.
    fn start(&mut self) {
        let mut slots: Vec<crate::layer::FileRange> = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for job in &self.jobs {
            let key = (
                Arc::as_ptr(&job.range.file) as usize,
                job.range.offset,
                job.range.len,
            );
            let slot = *seen.entry(key).or_insert_with(|| {
                slots.push(job.range.clone());
                slots.len() - 1
            });
            self.slot_of_job.push(slot);
        }
        if slots.is_empty() {
            return;
        }
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(slots.len());
        self.running = Some(std::thread::spawn(move || {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let results: Vec<std::sync::Mutex<Option<std::io::Result<String>>>> =
                slots.iter().map(|_| std::sync::Mutex::new(None)).collect();
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(range) = slots.get(i) else { break };
                        let r = layer::hash_range(range);
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some(r);
                        }
                    });
                }
            });
            results
                .into_iter()
                .map(|m| {
                    m.into_inner().ok().flatten().unwrap_or_else(|| {
                        Err(std::io::Error::other("the hashing thread panicked"))
                    })
                })
                .collect()
        }));
    }

    /// Wait for every hash and compare it with the expected digests.
    pub fn wait(self) -> Result<(), ImageError> {
        let results = match self.running {
            Some(h) => h.join().unwrap_or_else(|_| vec![]),
            None => Vec::new(),
        };
        let mut first_err = None;
        for (job, slot) in self.jobs.iter().zip(&self.slot_of_job) {
            let err = match results.get(*slot) {
                None => Some(layer::LayerError::Io {
                    layer: job.name.clone(),
                    source: std::io::Error::other("the hashing thread panicked"),
                }),
                Some(Err(source)) => Some(layer::LayerError::Io {
                    layer: job.name.clone(),
                    source: std::io::Error::new(source.kind(), source.to_string()),
                }),
                Some(Ok(actual)) => {
                    // A plain layer's blob digest and diff_id are the same bytes.
                    let index = LayerIndex {
                        blob_digest: Some(actual.clone()),
                        diff_id: Some(actual.clone()),
                        ..LayerIndex::default()
                    };
                    index
                        .check_digests(&job.name, job.digest.as_deref(), job.diff_id.as_deref())
                        .err()
                }
            };
            match err {
                None => job
                    .verified
                    .store(true, std::sync::atomic::Ordering::Relaxed),
                Some(e) if first_err.is_none() => first_err = Some(e),
                Some(_) => {}
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

/// Open, verify and merge an image (no extractors, no cache).
pub fn open(req: &OpenRequest, progress: Option<&dyn Progress>) -> Result<Image, ImageError> {
    open_with(req, &OpenOptions::default(), progress)
}

/// Open, verify and merge an image with extractors and a cache; verified
/// layers' facts are stored in the cache before returning.
pub fn open_with(
    req: &OpenRequest,
    opts: &OpenOptions,
    progress: Option<&dyn Progress>,
) -> Result<Image, ImageError> {
    let (image, pending) = open_deferred_with(req, opts, progress)?;
    pending.wait()?;
    if let Err(e) = image.save_facts() {
        eprintln!("warning: {e}");
    }
    Ok(image)
}

/// Open and merge an image (no extractors, no cache); whole-blob
/// verification of plain seekable layers continues in the background until
/// [`PendingVerification::wait`].
pub fn open_deferred(
    req: &OpenRequest,
    progress: Option<&dyn Progress>,
) -> Result<(Image, PendingVerification), ImageError> {
    open_deferred_with(req, &OpenOptions::default(), progress)
}

/// One layer as read (or found in the cache).
struct LayerRead {
    index: Arc<LayerIndex>,
    deferred: Option<crate::layer::FileRange>,
    identity: Option<FileIdentity>,
    from_cache: bool,
    /// Verified already (inline hash, or a matching verified record).
    verified: bool,
}

/// Serve a layer from the cache: only when its blob is a local file range
/// whose verified record still matches its stat data, and facts for this
/// extractor set exist under the verified digest.
fn from_cache(
    cache: &FactCache,
    key: &str,
    diff_id: Option<&str>,
    identity: &FileIdentity,
    version: &str,
) -> (bool, Option<LayerIndex>) {
    let Some(v) = cache.verified(identity) else {
        return (false, None);
    };
    let verified = v.digest == key && (diff_id.is_none() || v.diff_id.as_deref() == diff_id);
    if !verified {
        return (false, None);
    }
    (true, cache.get(key, version))
}

/// Whether cached facts, stored under blob digest `key`, belong to a layer
/// whose uncompressed digest is `diff_id`: the facts record the diff_id they
/// were verified with (a plain layer's is its blob digest), and a config that
/// claims another one for the same blob is not served from the cache.
fn facts_fit(index: &LayerIndex, key: &str, diff_id: Option<&str>) -> bool {
    let Some(want) = diff_id else {
        return true;
    };
    match index.diff_id.as_deref() {
        Some(have) => have == want,
        // Plain layers hashed in the background store no diff_id: their
        // diff_id is the blob digest itself.
        None => index.seekable && want == key,
    }
}

/// [`open_deferred`] with extractors and a cache.
pub fn open_deferred_with(
    req: &OpenRequest,
    opts: &OpenOptions,
    progress: Option<&dyn Progress>,
) -> Result<(Image, PendingVerification), ImageError> {
    let template = ReadOptions {
        name: String::new(),
        compression: None,
        verify: req.verify,
        extractors: opts.extractors.clone(),
        budget: opts.budget.clone(),
    };
    let resolved = source::open_with(req, &template)?;
    if let Some(p) = progress {
        p.total(resolved.layers.iter().map(|l| l.size).sum());
    }
    let input = req.input.clone();
    let version = opts.extractors.version();
    let read_one = |l: &source::LayerRef| -> Result<LayerRead, layer::LayerError> {
        let read_opts = ReadOptions {
            name: l.name.clone(),
            compression: l
                .media_type
                .as_deref()
                .and_then(layer::Compression::from_media_type),
            ..template.clone()
        };
        let key = l.digest.as_deref().or(l.diff_id.as_deref());
        if let Blob::Remote(remote) = &l.blob {
            return read_remote(remote.as_ref(), l, key, opts, &version, read_opts, progress);
        }
        let identity = match (&l.blob, &opts.cache, key) {
            (Blob::Range(r), Some(_), Some(_)) => FileIdentity::of(r).ok(),
            _ => None,
        };
        let mut known_good = false;
        if let (Some(cache), Some(key), Some(id)) = (&opts.cache, key, &identity) {
            let (ok, facts) = from_cache(cache, key, l.diff_id.as_deref(), id, &version);
            known_good = ok;
            // No record for this file, but facts for this digest (the
            // same layer in another archive or layout, or a file copied
            // since): verify the blob by its digest alone — a sequential
            // sha256 of the stored bytes, no inflate, no tar walk — and
            // take the facts when it matches.
            let facts = match facts {
                Some(index) => Some(index),
                None if !ok && req.verify => match (&l.blob, cache.get(key, &version)) {
                    (Blob::Range(r), Some(index))
                        if facts_fit(&index, key, l.diff_id.as_deref())
                            && layer::hash_range(r).is_ok_and(|d| d == key) =>
                    {
                        Some(index)
                    }
                    // A mismatch falls through to the full read, which
                    // reports it with the layer's name.
                    _ => None,
                },
                None => None,
            };
            if let Some(index) = facts {
                if let Some(p) = progress {
                    p.advance(l.size);
                }
                return Ok(LayerRead {
                    index: Arc::new(index),
                    deferred: None,
                    identity,
                    from_cache: true,
                    verified: true,
                });
            }
        }
        // A verified record without facts (another extractor set read
        // it): read the layer, but skip hashing bytes already verified.
        let read_opts = ReadOptions {
            verify: read_opts.verify && !known_good,
            ..read_opts
        };
        let (index, deferred) = match &l.blob {
            Blob::Range(r) => {
                let (ix, d) = layer::read_layer_range_deferred(r, &read_opts)?;
                (Arc::new(ix), d)
            }
            Blob::Indexed(ix) => (ix.clone(), None),
            Blob::Remote(_) => unreachable!("remote layers are read above"),
            Blob::Memory(m) => (
                Arc::new(layer::read_layer_stream(&m[..], &read_opts)?),
                None,
            ),
        };
        if read_opts.verify && deferred.is_none() {
            index.check_digests(&l.name, l.digest.as_deref(), l.diff_id.as_deref())?;
        }
        if let Some(p) = progress {
            p.advance(l.size);
        }
        Ok(LayerRead {
            index,
            identity,
            from_cache: false,
            verified: known_good || (read_opts.verify && deferred.is_none()),
            deferred,
        })
    };
    // Registry layers wait on the network more than on a core: several
    // blobs in flight, more than the cores (a pool of its own, so the
    // global pool's workers stay free for inflating).
    let remote = resolved
        .layers
        .iter()
        .any(|l| matches!(l.blob, Blob::Remote(_)));
    let pool = remote
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(rayon::current_num_threads().max(4))
                .build()
                .ok()
        })
        .flatten();
    let reads: Vec<Result<LayerRead, layer::LayerError>> = match &pool {
        Some(pool) => pool.install(|| resolved.layers.par_iter().map(read_one).collect()),
        None => resolved.layers.par_iter().map(read_one).collect(),
    };
    let mut layers = Vec::with_capacity(reads.len());
    let mut access = Vec::with_capacity(reads.len());
    let mut pending = PendingVerification {
        input: input.clone(),
        jobs: Vec::new(),
        running: None,
        slot_of_job: Vec::new(),
    };
    for (i, (l, read)) in resolved.layers.iter().zip(reads).enumerate() {
        let read = read.map_err(|source| ImageError::Layer {
            input: input.clone(),
            source,
        })?;
        let verified = Arc::new(std::sync::atomic::AtomicBool::new(read.verified));
        if let Some(range) = read.deferred {
            pending.jobs.push(VerifyJob {
                name: l.name.clone(),
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                range,
                verified: verified.clone(),
            });
        }
        access.push(match (&l.blob, read.index.seekable) {
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
            remote: matches!(l.blob, Blob::Remote(_)),
            index: read.index,
            from_cache: read.from_cache,
            identity: read.identity,
            verified,
        });
    }
    let mut overlay = Overlay::new(MergedTree::new(access), opts.extractors.clone());
    for l in &layers {
        overlay
            .apply(&l.index)
            .map_err(|source| ImageError::Overlay {
                input: input.clone(),
                source,
            })?;
    }
    let (tree, effects) = overlay.finish();
    pending.start();
    Ok((
        Image {
            input,
            resolved,
            layers,
            tree,
            effects,
            extractors: opts.extractors.clone(),
            cache: opts.cache.clone(),
        },
        pending,
    ))
}

/// A registry layer: its facts from the cache when this digest was read
/// and verified before (no byte downloaded), else streamed once through
/// the layer reader, which hashes as it reads.
fn read_remote(
    remote: &dyn source::RemoteBlob,
    l: &source::LayerRef,
    key: Option<&str>,
    opts: &OpenOptions,
    version: &str,
    read_opts: ReadOptions,
    progress: Option<&dyn Progress>,
) -> Result<LayerRead, layer::LayerError> {
    if let (Some(cache), Some(key), true) = (&opts.cache, key, read_opts.verify) {
        if let Some(index) = cache.get(key, version) {
            if facts_fit(&index, key, l.diff_id.as_deref()) {
                if let Some(p) = progress {
                    p.advance(l.size);
                }
                return Ok(LayerRead {
                    index: Arc::new(index),
                    deferred: None,
                    identity: None,
                    from_cache: true,
                    verified: true,
                });
            }
        }
    }
    let stream = remote
        .open(Some(l.size))
        .map_err(|source| layer::LayerError::Io {
            layer: l.name.clone(),
            source,
        })?;
    let index = layer::read_layer_stream_pipelined(stream, &read_opts)?;
    if read_opts.verify {
        index.check_digests(&l.name, l.digest.as_deref(), l.diff_id.as_deref())?;
    }
    if let Some(p) = progress {
        p.advance(l.size);
    }
    Ok(LayerRead {
        index: Arc::new(index),
        deferred: None,
        identity: None,
        from_cache: false,
        verified: read_opts.verify,
    })
}
