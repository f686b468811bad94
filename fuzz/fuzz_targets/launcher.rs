//! Launcher scripts: the shebang line and the launcher classification
//! (pip/distlib wrappers, `/bin/sh` trampolines, uv, ELF heads).
#![no_main]

use imgaudit::python::launcher::{classify, parse_shebang};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_shebang(data);
    let _ = classify(data);
});
