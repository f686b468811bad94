//! The overlay on generated layers: the input is split on the separator
//! `\n--LAYER--\n` into up to 4 tars, each read with the layer reader and
//! applied in order (whiteouts, opaque markers, hardlinks, symlinks and
//! parents replaced by files), then the Python facts are gathered from the
//! merged tree (environment discovery, link resolution, tree walks).
#![no_main]

use std::sync::Arc;

use imgaudit::layer::{read_layer_stream, CaptureBudget, ReadOptions};
use imgaudit::overlay::Overlay;
use imgaudit::source::config::ImageConfig;
use imgaudit::tree::MergedTree;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SEP: &[u8] = b"\n--LAYER--\n";

fuzz_target!(|data: &[u8]| {
    let extractors = Arc::new(imgaudit::python::extractors::extractors());
    let budget = CaptureBudget::new(1 << 20);
    let mut indexes = Vec::new();
    for (i, layer) in common::split(data, SEP, 4).into_iter().enumerate() {
        let opts = ReadOptions {
            name: format!("layer{i}"),
            compression: None,
            verify: false,
            extractors: extractors.clone(),
            budget: budget.clone(),
        };
        match read_layer_stream(layer, &opts) {
            Ok(index) => indexes.push(index),
            Err(_) => return,
        }
    }
    let mut overlay = Overlay::new(MergedTree::new(vec![None; indexes.len()]), extractors);
    for index in &indexes {
        if overlay.apply(index).is_err() {
            return;
        }
    }
    let (tree, _effects) = overlay.finish();
    let _ = imgaudit::python::facts::gather(&tree, &ImageConfig::default());
});
