//! RECORD (CSV rows of path, hash, size), and each row's path resolved
//! against a site directory (rows pointing outside the image must resolve
//! to nothing or to a path inside it, never panic).
#![no_main]

use imgaudit::python::record::{is_pyc, parse_record, resolve_record_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let record = parse_record(data);
    for e in &record.entries {
        let _ = is_pyc(&e.path);
        if let Some(p) = resolve_record_path("/usr/lib/python3/site-packages", &e.path) {
            assert!(
                p.starts_with('/'),
                "resolved RECORD path not absolute: {p:?}"
            );
            assert!(
                !p.split('/').any(|c| c == ".."),
                "resolved RECORD path keeps `..`: {p:?}"
            );
        }
    }
});
