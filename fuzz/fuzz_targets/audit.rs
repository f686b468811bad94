//! The whole audit on generated layers: what `imgaudit IMAGE` does after
//! the bytes are read. The input is the `overlay` target's (tars split on
//! `\n--LAYER--\n`, at most 4), stored as a `docker save` archive with a
//! fixed config (`PATH`, an entrypoint, a `USER`), opened as the CLI opens
//! it (the analyzers' extractors, no verification), then every check, the
//! config's sink and gate, every report format and the size view (its
//! waste, advice and dive-compatible numbers).
//!
//! Where `overlay` stops at the Python facts, this one reaches the checks
//! and the renderers: a hostile tree must not panic a check (a path with no
//! parent, a launcher that is its own interpreter, a RECORD naming the
//! tree's root) nor a report.
#![no_main]

use std::io::Write;

use imgaudit::image::{open_with, OpenOptions};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SEP: &[u8] = b"\n--LAYER--\n";

fuzz_target!(|data: &[u8]| {
    let layers = common::split(data, SEP, 4);
    // One file per fuzzing process, in the temp dir, removed after the open.
    let path = std::env::temp_dir().join(format!("imgaudit-fuzz-audit-{}.tar", std::process::id()));
    let Ok(mut f) = std::fs::File::create(&path) else {
        return;
    };
    if f.write_all(&common::docker_archive(&layers).0).is_err() {
        return;
    }
    drop(f);
    let req = common::request(path.display().to_string(), false, None);
    let opts = OpenOptions {
        extractors: std::sync::Arc::new(imgaudit::python::extractors::extractors()),
        ..OpenOptions::default()
    };
    let opened = open_with(&req, &opts, None);
    // Read in one pass: the archive is not needed past the open, and a
    // fuzzing run leaves no file behind.
    let _ = std::fs::remove_file(&path);
    let Ok(image) = opened else {
        return;
    };
    // The reader's seekable walk (an uncompressed archive member) must
    // produce what the fact cache accepts back, as the streaming walk must
    // (the `layer` target).
    for l in &image.layers {
        if let Err(why) = l.index.check() {
            panic!("the reader produced an index its own check refuses: {why}");
        }
    }
    common::audit_everything(&image, common::config_for(data));
});
