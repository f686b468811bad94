//! PEP 508 requirements and markers: parsed, then evaluated against a
//! CPython environment and checked against an installed version; and
//! imgaudit's marker parse (its own `and`/`or` over `pep508_rs`
//! comparisons) compared with `pep508_rs`'s parse of the whole string.
#![no_main]

use imgaudit::python::markers::{
    applicability, parse_requirement, parse_requirement_whole, requirement_applies,
    version_satisfies, MarkerEnv,
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
    let parsed = parse_requirement(req);
    if let Ok(r) = &parsed {
        let _ = applicability(r, &env);
        let _ = requirement_applies(r, &env);
        let _ = version_satisfies("1.0.post1", r);
    }
    // The oracle: the same requirement, its marker parsed by pep508_rs. Its
    // diagrams are interned for the life of the process (why imgaudit does
    // not use them), so a long run of this target grows by them: about ten
    // million inputs fill 2 GB.
    let whole = parse_requirement_whole(req);
    match (&parsed, &whole) {
        (Ok(ours), Ok(theirs)) => {
            assert_eq!(ours.name, theirs.name, "{req:?}");
            assert_eq!(ours.extras, theirs.extras, "{req:?}");
            assert_eq!(ours.version_or_url, theirs.version_or_url, "{req:?}");
            let ours_applies = ours
                .marker
                .as_ref()
                .is_none_or(|m| m.evaluate(env.environment()));
            let theirs_applies = theirs.evaluate_markers(env.environment(), &[]);
            assert_eq!(ours_applies, theirs_applies, "{req:?}");
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!(
            "{req:?}: imgaudit {:?}, pep508_rs {:?}",
            ours.as_ref().map(|_| ()).map_err(|e| e.source.to_string()),
            theirs
                .as_ref()
                .map(|_| ())
                .map_err(|e| e.source.to_string())
        ),
    }
});
