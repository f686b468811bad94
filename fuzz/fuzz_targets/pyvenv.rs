//! pyvenv.cfg (`key = value` lines) and the version read from it.
#![no_main]

use imgaudit::python::pyvenv::PyvenvCfg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = PyvenvCfg::parse(data);
    let _ = cfg.major_minor();
});
