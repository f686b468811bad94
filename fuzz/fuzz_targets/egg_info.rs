//! egg-info: requires.txt (sections of requirements) and
//! installed-files.txt, and the requirements parsed as PEP 508.
#![no_main]

use imgaudit::python::dist::DistRequirement;
use imgaudit::python::egg_info::{parse_installed_files, parse_requires_txt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reqs = parse_requires_txt(data);
    let _ = DistRequirement::parse_all(&reqs);
    let _ = parse_installed_files(data);
});
