//! The ELF reader (program headers, `PT_INTERP`, the dynamic section and
//! the `.dynstr` names) both ways the layer reader uses it: positioned
//! reads of the whole file (`elf::parse`) and the one-pass stream
//! (`elf::ElfStream`) fed in chunks. The first two bytes pick two chunk
//! sizes (1..=65536); the rest is the file.
//!
//! Beyond "never panic" and "always ends", the property no false alarm may
//! break: what the stream reports, the file says. A stream cannot go back,
//! so on a hostile file (a `PT_INTERP` inside the program headers, a name
//! that straddles what was kept) it may know less than the positioned
//! reads, and how much less can depend on where the chunks break; but every
//! fact it has is the positioned reads' fact, whatever the chunk sizes, and
//! a stream that says it read every name has exactly their facts.
#![no_main]

use imgaudit::elf::{parse, ElfFacts, ElfStream};
use libfuzzer_sys::fuzz_target;

fn stream(file: &[u8], chunk: usize) -> Option<ElfFacts> {
    let mut st = ElfStream::new(file.len() as u64);
    for c in file.chunks(chunk) {
        st.feed(c);
    }
    st.finish()
}

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b], file)) = data.split_first_chunk::<2>() else {
        return;
    };
    let whole = parse(file);
    let one = stream(file, 1 + (usize::from(a) << 8 | usize::from(b)));
    // A second, very different break-up: small when the first was large.
    let other = stream(file, 1 + usize::from(a ^ b) % 97);
    for part in [one, other].into_iter().flatten() {
        let Some(full) = &whole else {
            panic!("the stream read facts the positioned reads did not: {part:?}");
        };
        assert!(
            within(&part, full),
            "streamed {part:?}\npositioned {full:?}"
        );
        if part.complete {
            assert_eq!(
                &part, full,
                "a complete stream disagrees with positioned reads"
            );
        }
    }
    if let Some(f) = &whole {
        let _ = f.oci_arch();
    }
});

/// Every fact of `part` is a fact of `full`: the same header, an optional
/// field either unknown or equal, the needed names a subsequence (a name the
/// stream could not read is skipped, never replaced).
fn within(part: &ElfFacts, full: &ElfFacts) -> bool {
    let opt = |p: &Option<String>, f: &Option<String>| p.is_none() || p == f;
    let mut rest = full.needed.iter();
    (part.class64, part.machine, part.kind) == (full.class64, full.machine, full.kind)
        && (!part.dynamic || full.dynamic)
        && opt(&part.interp, &full.interp)
        && opt(&part.soname, &full.soname)
        && opt(&part.rpath, &full.rpath)
        && opt(&part.runpath, &full.runpath)
        && part.needed.iter().all(|n| rest.any(|m| m == n))
}
