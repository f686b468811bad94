//! The image formats: docker `manifest.json`, OCI `index.json`, image
//! index/manifest and config, read from a tarball built from the input.
//!
//! The input is split on `\n--BLOB--\n`: the first part is `manifest.json`
//! (first byte even) or `index.json` (odd); every other part is stored as
//! `blobs/sha256/<its digest>` so manifests that name a part by digest
//! reach it (the seeds do). The image config is also parsed on its own.
//!
//! The first byte: bit 0 = `index.json` (else `manifest.json`), bit 1 =
//! verify, bit 2 = select tag `latest`, bit 3 = select by the digest of
//! part 1 (as `--image sha256:…` does: a manifest or an index, found at
//! any depth), bit 4 = the archive gzip-compressed (sniffed as a user's
//! `.tar.gz` is).
#![no_main]

use sha2::{Digest, Sha256};

use imgaudit::layer::ReadOptions;
use imgaudit::source::config::ImageConfig;
use imgaudit::source::tarball::TarStore;
use imgaudit::source::{resolve, Platform};
use libfuzzer_sys::fuzz_target;

const SEP: &[u8] = b"\n--BLOB--\n";

#[path = "common.rs"]
mod common;
use common::append;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let parts = common::split(rest, SEP, 8);

    for p in &parts {
        let _ = ImageConfig::parse(p);
    }

    let mut builder = tar::Builder::new(Vec::new());
    let top = if mode & 1 == 0 {
        "manifest.json"
    } else {
        "index.json"
    };
    append(&mut builder, top, parts[0]);
    if mode & 1 == 1 {
        append(
            &mut builder,
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        );
    }
    for p in &parts[1..] {
        let name = format!("blobs/sha256/{}", hex::encode(Sha256::digest(p)));
        append(&mut builder, &name, p);
    }
    let Ok(mut tarball) = builder.into_inner() else {
        return;
    };
    if mode & 16 != 0 {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if gz.write_all(&tarball).is_err() {
            return;
        }
        let Ok(compressed) = gz.finish() else {
            return;
        };
        tarball = compressed;
    }
    let layers = ReadOptions {
        name: String::new(),
        compression: None,
        verify: mode & 2 != 0,
        extractors: Default::default(),
        budget: Default::default(),
    };
    let Ok(store) = TarStore::from_reader("fuzz.tar", &tarball[..], &layers) else {
        return;
    };
    let platform = Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        variant: None,
    };
    let by_digest = parts
        .get(1)
        .map(|p| format!("sha256:{}", hex::encode(Sha256::digest(p))));
    let tag = match (mode & 8 != 0, &by_digest) {
        (true, Some(d)) => Some(d.as_str()),
        _ => (mode & 4 != 0).then_some("latest"),
    };
    let _ = resolve(&store, tag, &platform);
});
