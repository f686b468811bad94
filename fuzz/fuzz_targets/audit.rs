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

use imgaudit::config::Config;
use imgaudit::image::{open_with, OpenOptions};
use imgaudit::report::{render, text::TextOptions, Format};
use imgaudit::source::{OpenRequest, Platform};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

#[path = "common.rs"]
mod common;
use common::append;

const SEP: &[u8] = b"\n--LAYER--\n";

fn archive(layers: &[&[u8]]) -> Vec<u8> {
    let digests: Vec<String> = layers
        .iter()
        .map(|l| hex::encode(Sha256::digest(l)))
        .collect();
    let diff_ids: Vec<String> = digests.iter().map(|d| format!("\"sha256:{d}\"")).collect();
    let history: Vec<String> = (0..layers.len())
        .map(|i| format!("{{\"created_by\":\"RUN step {i}\"}}"))
        .collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"],"Entrypoint":["tiny"],"Cmd":["--help"],"User":"app"}},"rootfs":{{"type":"layers","diff_ids":[{}]}},"history":[{}]}}"#,
        diff_ids.join(","),
        history.join(",")
    );
    let config_hex = hex::encode(Sha256::digest(config.as_bytes()));
    let layer_names: Vec<String> = digests
        .iter()
        .map(|d| format!("\"blobs/sha256/{d}\""))
        .collect();
    let manifest = format!(
        r#"[{{"Config":"blobs/sha256/{config_hex}","RepoTags":["fuzz:latest"],"Layers":[{}]}}]"#,
        layer_names.join(",")
    );
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "manifest.json", manifest.as_bytes());
    append(
        &mut b,
        &format!("blobs/sha256/{config_hex}"),
        config.as_bytes(),
    );
    for (l, d) in layers.iter().zip(&digests) {
        append(&mut b, &format!("blobs/sha256/{d}"), l);
    }
    b.into_inner().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let layers = common::split(data, SEP, 4);
    // One file per fuzzing process, in the temp dir, removed after the open.
    let path = std::env::temp_dir().join(format!("imgaudit-fuzz-audit-{}.tar", std::process::id()));
    let Ok(mut f) = std::fs::File::create(&path) else {
        return;
    };
    if f.write_all(&archive(&layers)).is_err() {
        return;
    }
    drop(f);
    let req = OpenRequest {
        input: path.display().to_string(),
        tag: None,
        platform: Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        },
        verify: false,
        registry: None,
    };
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
    let audit = imgaudit::audit(&image, &Config::default());
    let verbose = TextOptions {
        verbose: true,
        ..TextOptions::default()
    };
    for format in [Format::Text, Format::Json, Format::Sarif, Format::Junit] {
        let _ = render(&audit.report, format, &verbose);
    }
    let size = imgaudit::size::analyze(&image);
    let _ = imgaudit::size::render_json(&size);
    let _ = imgaudit::size::render_text(&size, false);
});
