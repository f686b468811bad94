//! The layer reader on arbitrary bytes: the tar header walk, PAX/GNU
//! extensions, name normalisation and the Python extractors' captures.
//! The first byte picks the framing: odd = the rest gzip-wrapped (so the
//! fuzzer reaches the tar walk behind a decoder), even = the rest as is
//! (compression sniffed from the magic bytes, as for a layer of unknown
//! media type). Property: every index the reader returns passes
//! `LayerIndex::check`, the facts the fact cache insists on.
#![no_main]

use std::io::Write;
use std::sync::Arc;

use imgaudit::layer::{read_layer_stream, CaptureBudget, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let opts = ReadOptions {
        name: "fuzz".into(),
        compression: None,
        verify: mode & 2 != 0,
        extractors: Arc::new(imgaudit::python::extractors::extractors()),
        // Small, so a capture-heavy input hits the budget path too.
        budget: CaptureBudget::new(1 << 20),
    };
    let bytes = if mode & 1 == 1 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(rest).unwrap();
        gz.finish().unwrap()
    } else {
        rest.to_vec()
    };
    // What the reader returns is what the fact cache accepts back: an
    // index it produced must pass the check the cache applies to records.
    if let Ok(index) = read_layer_stream(&bytes[..], &opts) {
        if let Err(why) = index.check() {
            panic!("the reader produced an index its own check refuses: {why}");
        }
    }
});
