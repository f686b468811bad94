//! METADATA / PKG-INFO: the strict and the lenient header parsers.
#![no_main]

use imgaudit::python::metadata::Metadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Metadata::parse(data);
    let _ = Metadata::parse_lenient(data);
});
