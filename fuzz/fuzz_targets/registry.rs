//! What a registry or a user hands the registry client as text: every line
//! is one `WWW-Authenticate` header value (all lines together are one
//! response's headers) and an image reference.
//!
//! Beyond "never panic": a reference that parses prints (`Display`) as a
//! reference that parses to the same value, because the scan plan and the
//! reports print references that are read back (`imgaudit scan` shards).
#![no_main]

use imgaudit::registry::auth::parse_challenges;
use imgaudit::registry::reference::{is_digest, looks_like_registry, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for c in parse_challenges(text.lines()) {
        assert!(!c.scheme.is_empty());
        assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
    }
    for line in text.lines() {
        let _ = looks_like_registry(line);
        let _ = is_digest(line);
        if let Ok(r) = Reference::parse(line) {
            let _ = r.api_host();
            let _ = r.manifest_ref();
            let printed = r.to_string();
            assert_eq!(
                Reference::parse(&printed).as_ref(),
                Ok(&r),
                "{line:?} printed as {printed:?}"
            );
        }
    }
});
