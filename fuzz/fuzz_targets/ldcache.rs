//! `/etc/ld.so.cache` (old `ld.so-1.7.0`, new `glibc-ld.so.cache1.1`, and
//! the old format followed by the new one), as the native checks read it
//! from an image, then looked up for every machine the loader knows.
#![no_main]

use imgaudit::native::ldcache::LdCache;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(cache) = LdCache::parse(data) else {
        return;
    };
    // Never more entries than the bytes can hold (12 per old entry, the
    // smallest): the count in the header is not trusted for memory.
    assert!(cache.entries.len() <= data.len() / 12 + 1);
    for e in cache.entries.iter().take(64) {
        for (machine, class64) in [(62, true), (62, false), (3, false), (183, true), (0, true)] {
            let _ = cache.lookup(&e.name, machine, class64).count();
        }
    }
});
