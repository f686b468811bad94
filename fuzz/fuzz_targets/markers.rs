//! PEP 508 requirements and markers: parsed, then evaluated against a
//! CPython environment and checked against an installed version.
#![no_main]

use imgaudit::python::markers::{
    applicability, parse_requirement, requirement_applies, version_satisfies, MarkerEnv,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The environment too comes from the image (pyvenv.cfg, the config's
    // architecture): the first line is `python_version arch` when it
    // parses, the rest the requirement.
    let (env_line, req) = text.split_once('\n').unwrap_or(("3.11 amd64", text));
    let env = env_line
        .split_once(' ')
        .and_then(|(v, a)| MarkerEnv::new(v, a).ok())
        .unwrap_or_else(|| MarkerEnv::new("3.11", "amd64").unwrap());
    if let Ok(r) = parse_requirement(req) {
        let _ = applicability(&r, &env);
        let _ = requirement_applies(&r, &env);
        let _ = version_satisfies("1.0.post1", &r);
    }
});
