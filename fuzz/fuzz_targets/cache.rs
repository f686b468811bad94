//! The fact cache as a damaged or hostile directory serves it: each part of
//! the input (split on `\n--LAYER--\n`, at most 4) is stored, behind a valid
//! header and checksum, as the facts of one layer of a small `docker save`
//! archive whose blobs have matching verified records — so the image opener
//! serves those facts instead of reading the layers, as it does on a re-run
//! — then the whole audit runs on them (overlay, every check, the sink and
//! gate, every report format, the size view).
//!
//! A cache record's checksum proves the record is whole, not that its
//! facts are what the layer reader would have produced: a record written by
//! another version, a bug, or anyone who can write the directory (a CI
//! cache restored from another branch) holds any `LayerIndex` postcard can
//! encode. Nothing it holds may panic, hang or grow memory beyond the
//! record; entries the layer reader never produces (a path with `..`, an
//! absolute link target for a hardlink, a size past the layer's end) are
//! refused by the cache, which then reads the layer as if the record did
//! not exist.
//!
//! `CACHE_FUZZ_VERBOSE=1` prints which layers came from the cache (how the
//! seeds were checked: a seed the cache refuses exercises nothing past the
//! decoder).
#![no_main]

use std::io::Write;
use std::sync::Arc;

use imgaudit::cache::{FactCache, FileIdentity, Verified};
use imgaudit::image::{open_with, OpenOptions};
use imgaudit::layer::FileRange;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::append;

const SEP: &[u8] = b"\n--LAYER--\n";

fuzz_target!(|data: &[u8]| {
    let verbose = std::env::var_os("CACHE_FUZZ_VERBOSE").is_some();
    let payloads = common::split(data, SEP, 4);
    // One small, distinct layer per payload: the layers' bytes do not
    // matter, only that each has a digest of its own.
    let layers: Vec<Vec<u8>> = (0..payloads.len())
        .map(|i| {
            let mut b = tar::Builder::new(Vec::new());
            append(&mut b, &format!("layer{i}"), b"");
            b.into_inner().unwrap()
        })
        .collect();
    let refs: Vec<&[u8]> = layers.iter().map(Vec::as_slice).collect();
    let (archive, placed) = common::docker_archive(&refs);
    // Everything in one temp dir, removed when the input is done.
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("image.tar");
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(&archive));
    let Ok(file) = written.and_then(|()| std::fs::File::open(&path)) else {
        return;
    };
    let file = Arc::new(file);
    let Ok(cache) = FactCache::open(&dir.path().join("cache")) else {
        return;
    };
    let extractors = Arc::new(imgaudit::python::extractors::extractors());
    let version = extractors.version();
    for ((payload, layer), (digest, offset)) in payloads.iter().zip(&layers).zip(&placed) {
        let range = FileRange {
            file: file.clone(),
            offset: *offset,
            len: layer.len() as u64,
        };
        let Ok(id) = FileIdentity::of(&range) else {
            return;
        };
        let verified = Verified {
            digest: digest.clone(),
            diff_id: Some(digest.clone()),
        };
        if cache.record_verified(&id, &verified).is_err()
            || cache.put_payload(digest, &version, payload).is_err()
        {
            return;
        }
    }
    let req = common::request(path.display().to_string(), true, None);
    let opts = OpenOptions {
        extractors,
        cache: Some(cache),
        ..OpenOptions::default()
    };
    let image = match open_with(&req, &opts, None) {
        Ok(image) => image,
        Err(e) => {
            if verbose {
                eprintln!("cache fuzz: not opened: {e}");
            }
            return;
        }
    };
    if verbose {
        let served: Vec<bool> = image.layers.iter().map(|l| l.from_cache).collect();
        eprintln!("cache fuzz: layers served from the cache: {served:?}");
    }
    common::audit_everything(&image, common::config_for(data));
});
