//! ELF dynamic facts: what the dynamic loader reads from a shared object or an
//! executable, parsed from the few byte ranges that hold it.
//!
//! Owns: [`ElfFacts`] (class, machine, `PT_INTERP`, `DT_SONAME`, `DT_NEEDED`,
//! `DT_RPATH`, `DT_RUNPATH`) and the two ways to get them while the layer
//! reader makes its one pass: by positioned reads of a seekable layer
//! ([`parse_at`]), or from the bytes as they stream by ([`ElfStream`]).
//! Deliberately does not: decide which files are parsed (the analyzers'
//! extractors do), resolve libraries (the native checks do), or read section
//! headers, symbols or relocations.
//!
//! Spec: the System V gABI, "Program Header" and "Dynamic Section"
//! (<https://refspecs.linuxfoundation.org/elf/gabi4+/ch5.dynamic.html>); the
//! structures and their endian-aware accessors come from the `object` crate.
//!
//! Why `object` and not `goblin`: both are well kept (`object` is what
//! `addr2line`, `backtrace` and rustc's own tools use), but `object` with
//! only `read_core` + `elf` adds one crate to the build (its `memchr` is
//! already here) and builds in 2.7 s of CPU, where `goblin` brings `scroll`,
//! `scroll_derive` (a proc macro), `plain` and `log` for 5.6 s; and `object`
//! parses through its `ReadRef` trait, which [`Sparse`] implements over the
//! few ranges kept, so a 100 MB library is never held in memory — `goblin`'s
//! `Elf::parse` wants the whole file in one slice.
//!
//! Where the bytes sit, and why streaming needs care: the ELF header and the
//! program headers are at the start; `PT_DYNAMIC` is in the writable segment,
//! usually far into the file (after `.text` and `.rodata`: 300 MB into a big
//! CUDA library); `.dynstr`, which holds the names the dynamic entries point
//! at, is in the first read-only segment, *before* `.dynamic` — except after
//! `patchelf` (auditwheel's tool), which appends the rewritten `.dynstr` at
//! the end of the file. A positioned read simply reads each range. A stream
//! cannot go back, so while the first `PT_LOAD` segment passes (where every
//! linker puts `.dynstr`) [`ElfStream`] keeps only the NUL-terminated strings
//! that can be a library name or a search path (they contain `.so` or
//! `ORIGIN`, or start with `/`), at most [`MAX_CANDIDATES`] bytes of them;
//! strings that come after `.dynamic` are read exactly. Memory is bounded by
//! that budget, never by the file's size. A name that could not be read
//! leaves the facts marked incomplete: a check then stays silent about that
//! object rather than guess.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;

use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};
use object::read::ReadRef;
use object::Endianness;

/// Largest `PT_DYNAMIC` segment read (real ones are a few KB).
const MAX_DYNAMIC: u64 = 1 << 20;
/// Most program headers read.
const MAX_PHNUM: u64 = 1024;
/// Longest string read from `.dynstr` (a name or a search path).
const MAX_STRING: u64 = 4096;
/// Bytes of candidate strings an [`ElfStream`] keeps per file.
pub const MAX_CANDIDATES: usize = 1 << 20;

/// What the dynamic loader reads from one ELF file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ElfFacts {
    /// `ELFCLASS64`.
    pub class64: bool,
    /// `e_machine` (`EM_X86_64` = 62, `EM_AARCH64` = 183, …).
    pub machine: u16,
    /// `e_type` (`ET_EXEC` = 2, `ET_DYN` = 3).
    pub kind: u16,
    /// `PT_INTERP`: the program interpreter (`/lib64/ld-linux-x86-64.so.2`).
    pub interp: Option<String>,
    /// Has a `PT_DYNAMIC` segment (a static executable has none).
    pub dynamic: bool,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH`.
    pub rpath: Option<String>,
    /// `DT_RUNPATH`.
    pub runpath: Option<String>,
    /// Every string the loader reads (`PT_INTERP` and the names the dynamic
    /// section points at) was read. When false, the interpreter, some
    /// `needed` entries or a search path are missing from these facts.
    pub complete: bool,
}

impl ElfFacts {
    /// The architecture name the OCI image config uses for this machine
    /// (`GOARCH` spelling), when known.
    pub fn oci_arch(&self) -> Option<&'static str> {
        Some(match (self.machine, self.class64) {
            (62, true) => "amd64",
            (3, false) => "386",
            (183, true) => "arm64",
            (40, false) => "arm",
            (21, true) => "ppc64le",
            (22, true) => "s390x",
            (243, true) => "riscv64",
            (8, _) => "mips",
            (258, true) => "loong64",
            _ => return None,
        })
    }
}

/// Byte ranges of one file, kept at their offsets: the partial buffer
/// `object` parses from.
///
/// Each range is stored in `u64` words, its first byte at the word offset
/// `start % 8`, so every kept byte's address is congruent to its file offset
/// modulo 8: a structure aligned in the file (as the gABI has every header
/// and `Dyn` entry) is aligned as `object`'s zero-copy views require,
/// whichever range it is read from.
#[derive(Debug, Default)]
pub struct Sparse {
    size: u64,
    ranges: BTreeMap<u64, (Box<[u64]>, usize)>,
    kept: usize,
}

impl Sparse {
    fn new(size: u64) -> Sparse {
        Sparse {
            size,
            ..Sparse::default()
        }
    }

    fn insert(&mut self, at: u64, bytes: &[u8]) {
        let pad = (at % 8) as usize;
        let mut words = vec![0u64; (pad + bytes.len()).div_ceil(8)].into_boxed_slice();
        as_bytes_mut(&mut words)[pad..pad + bytes.len()].copy_from_slice(bytes);
        self.kept += bytes.len();
        self.ranges.insert(at, (words, bytes.len()));
    }

    /// The kept bytes from `offset` to the end of the range holding it.
    fn slice_from(&self, offset: u64) -> Option<&[u8]> {
        // Ranges may nest (a candidate string inside a read range) and
        // overlap (a string read after the program headers that hold its
        // first byte): of a few that start at or before `offset`, the one
        // that reaches furthest. The nearest one alone could be the shorter
        // (found by the `elf` fuzz target: the positioned reads then missed
        // a `PT_INTERP` the stream read).
        let (start, words, len) = self
            .ranges
            .range(..=offset)
            .rev()
            .take(8)
            .filter(|(&start, (_, len))| offset < start + *len as u64)
            .max_by_key(|(&start, (_, len))| start + *len as u64)
            .map(|(&start, (words, len))| (start, words, *len))?;
        let pad = (start % 8) as usize;
        Some(&as_bytes(words)[pad + (offset - start) as usize..pad + len])
    }

    fn has(&self, r: &Range<u64>) -> bool {
        // An empty range (a `PT_DYNAMIC` of size 0) is always at hand: asked
        // for, it would be asked for again forever.
        r.start >= r.end
            || self
                .slice_from(r.start)
                .is_some_and(|s| s.len() as u64 >= r.end - r.start)
    }
}

fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64 has no padding and any byte is a valid u8; the length is
    // the same memory measured in bytes.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}

fn as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; the borrow is unique.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) }
}

impl<'a> ReadRef<'a> for &'a Sparse {
    fn len(self) -> Result<u64, ()> {
        Ok(self.size)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        let s = self.slice_from(offset).ok_or(())?;
        let size = usize::try_from(size).map_err(|_| ())?;
        s.get(..size).ok_or(())
    }

    fn read_bytes_at_until(self, range: Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        let s = self.slice_from(range.start).ok_or(())?;
        let n = usize::try_from(range.end.saturating_sub(range.start)).map_err(|_| ())?;
        let s = &s[..n.min(s.len())];
        memchr::memchr(delimiter, s).map(|i| &s[..i]).ok_or(())
    }
}

/// One step of the parse: the facts, or the ranges still to read.
enum Step {
    Need(Vec<Range<u64>>),
    Done(Option<ElfFacts>),
}

/// What the first pass over the program headers found.
#[derive(Clone, Debug, Default)]
struct Layout {
    /// End of the program headers.
    phdr_end: u64,
    /// File range of the first `PT_LOAD` segment (where `.dynstr` lives).
    first_load: Option<Range<u64>>,
    /// `PT_DYNAMIC` parsed.
    dynamic_known: bool,
}

/// Parse as far as the kept ranges allow. With `last`, strings that could
/// not be read are dropped and the facts marked incomplete.
// A list of ranges that happens to hold one is still a list.
#[allow(clippy::single_range_in_vec_init)]
fn step(s: &Sparse, last: bool, layout: &mut Layout) -> Step {
    if s.size < 64 {
        return Step::Done(None);
    }
    let Some(ident) = s.slice_from(0).filter(|b| b.len() >= 64) else {
        return need_or_give_up(vec![0..64], last);
    };
    if ident[..4] != elf::ELFMAG {
        return Step::Done(None);
    }
    match ident[4] {
        x if x == elf::ELFCLASS64.0 => step_as::<elf::FileHeader64<Endianness>>(s, last, layout),
        x if x == elf::ELFCLASS32.0 => step_as::<elf::FileHeader32<Endianness>>(s, last, layout),
        _ => Step::Done(None),
    }
}

/// The NUL-terminated string at the start of `r`, clipped to the file:
/// `Ok(Some)` when read, `Ok(None)` when it can never be (the whole range is
/// kept and holds no NUL, or it lies past the end of the file), `Err` with
/// the range still to read.
///
/// Why `Ok(None)` matters: a range that was read and still holds no string
/// must not be asked for again, or the stream, which reads until nothing
/// more is needed, would ask for it forever (found by the `elf` fuzz target:
/// a `PT_INTERP` whose NUL lies past its `p_filesz`; the kernel refuses such
/// a file too).
fn string_in(s: &Sparse, r: Range<u64>) -> Result<Option<String>, Range<u64>> {
    let r = r.start..r.end.min(s.size);
    if r.start >= r.end {
        return Ok(None);
    }
    match s.read_bytes_at_until(r.clone(), 0) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(b).into_owned())),
        Err(()) if s.has(&r) => Ok(None),
        Err(()) => Err(r),
    }
}

fn need_or_give_up(ranges: Vec<Range<u64>>, last: bool) -> Step {
    if last {
        Step::Done(None)
    } else {
        Step::Need(ranges)
    }
}

fn step_as<Elf: FileHeader<Endian = Endianness>>(
    s: &Sparse,
    last: bool,
    layout: &mut Layout,
) -> Step {
    let Ok(header) = Elf::parse(s) else {
        return Step::Done(None);
    };
    let Ok(endian) = header.endian() else {
        return Step::Done(None);
    };
    let mut facts = ElfFacts {
        class64: header.is_type_64(),
        machine: header.e_machine(endian).0,
        kind: header.e_type(endian).0,
        ..ElfFacts::default()
    };
    let phoff: u64 = header.e_phoff(endian).into();
    let phnum = u64::from(header.e_phnum(endian));
    let phentsize = u64::from(header.e_phentsize(endian));
    if phentsize != std::mem::size_of::<Elf::ProgramHeader>() as u64 {
        return Step::Done(None); // `object` would refuse it: read nothing more
    }
    if phoff == 0 || phnum == 0 || phnum > MAX_PHNUM {
        // No program headers (a relocatable object), or PN_XNUM.
        facts.complete = phnum == 0;
        return Step::Done(Some(facts));
    }
    let phdrs_range = phoff..phoff.saturating_add(phnum * phentsize);
    if !s.has(&phdrs_range) {
        return need_or_give_up(vec![phdrs_range], last);
    }
    let Ok(phdrs) = header.program_headers(endian, s) else {
        return Step::Done(None);
    };
    layout.phdr_end = phdrs_range.end;
    let mut loads = Vec::new();
    let mut dynamic = None;
    let mut interp = None;
    for ph in phdrs {
        let off: u64 = ph.p_offset(endian).into();
        let filesz: u64 = ph.p_filesz(endian).into();
        let range = off..off.saturating_add(filesz);
        match ph.p_type(endian) {
            elf::PT_LOAD => {
                if layout.first_load.is_none() {
                    layout.first_load = Some(range.clone());
                }
                loads.push((ph.p_vaddr(endian).into(), range));
            }
            elf::PT_DYNAMIC => dynamic = Some((ph, range)),
            elf::PT_INTERP => interp = Some(range),
            _ => {}
        }
    }
    let mut need = Vec::new();
    // A string the loader needs that could not be read (yet): the interpreter
    // counts, as the dynamic names do (found by the `elf` fuzz target: a
    // `PT_INTERP` the stream had passed left a "complete" file without it).
    let mut missing = false;
    if let Some(r) = interp {
        match string_in(s, r.start..r.end.min(r.start.saturating_add(MAX_STRING))) {
            Ok(v) => facts.interp = v,
            Err(r) => {
                missing = true;
                need.push(r);
            }
        }
    }
    let Some((ph, range)) = dynamic else {
        facts.complete = !missing;
        return if need.is_empty() || last {
            Step::Done(Some(facts))
        } else {
            Step::Need(need)
        };
    };
    facts.dynamic = true;
    if range.end - range.start > MAX_DYNAMIC || range.end > s.size {
        return Step::Done(Some(facts)); // incomplete: the loader would refuse it too
    }
    if !s.has(&range) {
        need.push(range);
        return need_or_give_up(need, last);
    }
    layout.dynamic_known = true;
    let Ok(Some(entries)) = ph.dynamic(endian, s) else {
        return Step::Done(Some(facts));
    };
    let (mut strtab, mut strsz) = (None, None);
    // (tag, offset in .dynstr): every DT_NEEDED in order, then the last
    // entry of each single-valued tag.
    let mut strings: Vec<(elf::DynamicTag, u64)> = Vec::new();
    // Why the last: a tag that holds one value is the last entry that
    // spells it, as glibc's `elf_get_dynamic_info` reads them
    // (`info[tag] = dyn` over the whole section). Taking each entry in turn
    // let an earlier one stand in for a last one that could not be read:
    // the stream, which cannot go back for the last one's string, reported
    // the first `DT_SONAME` where the file's is another (found by the `elf`
    // fuzz target: two `DT_SONAME`s).
    let mut single: [Option<u64>; 3] = [None; 3];
    for d in entries {
        let tag = d.tag(endian);
        let val = d.val(endian);
        match tag {
            elf::DT_NULL => break,
            elf::DT_STRTAB => strtab = Some(val),
            elf::DT_STRSZ => strsz = Some(val),
            elf::DT_NEEDED => strings.push((tag, val)),
            elf::DT_SONAME => single[0] = Some(val),
            elf::DT_RPATH => single[1] = Some(val),
            elf::DT_RUNPATH => single[2] = Some(val),
            _ => {}
        }
    }
    for (tag, val) in [elf::DT_SONAME, elf::DT_RPATH, elf::DT_RUNPATH]
        .into_iter()
        .zip(single)
    {
        if let Some(val) = val {
            strings.push((tag, val));
        }
    }
    // DT_STRTAB is an address: the PT_LOAD segment holding it gives the
    // file offset.
    let strtab_off = strtab.and_then(|a| {
        loads.iter().find_map(|(vaddr, r): &(u64, Range<u64>)| {
            (a >= *vaddr && a - vaddr < r.end - r.start).then(|| r.start + (a - vaddr))
        })
    });
    let (Some(base), Some(size)) = (strtab_off, strsz) else {
        facts.complete = strings.is_empty() && !missing;
        return Step::Done(Some(facts));
    };
    for (tag, off) in strings {
        if off >= size {
            missing = true;
            continue;
        }
        let r =
            base.saturating_add(off)..base.saturating_add(size.min(off.saturating_add(MAX_STRING)));
        match string_in(s, r) {
            Ok(Some(v)) => match tag {
                elf::DT_NEEDED => facts.needed.push(v),
                elf::DT_SONAME => facts.soname = Some(v),
                elf::DT_RPATH => facts.rpath = Some(v),
                _ => facts.runpath = Some(v),
            },
            Ok(None) => missing = true,
            Err(r) => {
                missing = true;
                need.push(r);
            }
        }
    }
    if !need.is_empty() && !last {
        return Step::Need(need);
    }
    facts.complete = !missing;
    Step::Done(Some(facts))
}

/// Parse a file of `size` bytes by positioned reads: `read_at(offset, len)`
/// returns up to `len` bytes at `offset` of the file. `None` when it is not
/// ELF (or not even a valid header).
pub fn parse_at(
    size: u64,
    mut read_at: impl FnMut(u64, usize) -> io::Result<Vec<u8>>,
) -> io::Result<Option<ElfFacts>> {
    let mut s = Sparse::new(size);
    let mut layout = Layout::default();
    // Header, program headers, interp + dynamic, strings: four rounds; one
    // more for a string that straddles what was read.
    for round in 0..6 {
        match step(&s, round == 5, &mut layout) {
            Step::Done(f) => return Ok(f),
            Step::Need(ranges) => {
                for r in coalesce(ranges) {
                    let end = r.end.min(size);
                    if r.start >= end || s.has(&(r.start..end)) {
                        continue;
                    }
                    let bytes = read_at(r.start, (end - r.start) as usize)?;
                    s.insert(r.start, &bytes);
                }
            }
        }
    }
    match step(&s, true, &mut layout) {
        Step::Done(f) => Ok(f),
        Step::Need(_) => Ok(None),
    }
}

/// Merge ranges that lie close together, so the strings of one `.dynstr`
/// are one read, not one per name.
fn coalesce(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end + (16 << 10) && r.end - last.start <= 1 << 20 => {
                last.end = last.end.max(r.end)
            }
            _ => out.push(r),
        }
    }
    out
}

/// Parse a whole file held in memory.
pub fn parse(bytes: &[u8]) -> Option<ElfFacts> {
    parse_at(bytes.len() as u64, |off, len| {
        let start = off as usize;
        Ok(bytes[start..(start + len).min(bytes.len())].to_vec())
    })
    .ok()
    .flatten()
}

/// Parse a file from its bytes as they stream by, in order, once.
///
/// Feed every chunk with [`ElfStream::feed`], then [`ElfStream::finish`].
#[derive(Debug)]
pub struct ElfStream {
    s: Sparse,
    layout: Layout,
    pos: u64,
    /// Ranges wanted, each with the bytes gathered so far.
    pending: Vec<(Range<u64>, Vec<u8>)>,
    /// Not ELF, or finished early: ignore the rest.
    done: bool,
    /// The unterminated string at the end of the last chunk scanned.
    carry: Vec<u8>,
    carry_start: u64,
    carry_overflow: bool,
    candidates: usize,
}

impl ElfStream {
    /// A parser for a file of `size` bytes.
    pub fn new(size: u64) -> ElfStream {
        ElfStream {
            s: Sparse::new(size),
            layout: Layout::default(),
            pos: 0,
            pending: vec![(0..64.min(size), Vec::new())],
            done: size < 64,
            carry: Vec::new(),
            carry_start: 0,
            carry_overflow: false,
            candidates: 0,
        }
    }

    /// The next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        let start = self.pos;
        self.pos += chunk.len() as u64;
        if self.done {
            return;
        }
        let mut scanned = false;
        loop {
            // Fill what is wanted from this chunk.
            let mut completed = false;
            for (r, buf) in &mut self.pending {
                let next = r.start + buf.len() as u64;
                if next >= r.end || next < start || next >= self.pos {
                    continue;
                }
                let from = (next - start) as usize;
                let to = (r.end.min(self.pos) - start) as usize;
                buf.extend_from_slice(&chunk[from..to]);
                completed |= r.start + buf.len() as u64 >= r.end;
            }
            // Once the program headers are known, keep candidate strings.
            let mut did_scan = false;
            if !scanned && self.layout.phdr_end > 0 {
                self.scan(chunk, start);
                scanned = true;
                did_scan = true;
            }
            if !completed && !did_scan {
                break;
            }
            let (full, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|(r, b)| r.start + b.len() as u64 >= r.end);
            self.pending = rest;
            for (r, b) in full {
                self.s.insert(r.start, &b);
            }
            match step(&self.s, false, &mut self.layout) {
                Step::Done(_) => {
                    self.done = true;
                    self.pending.clear();
                    return;
                }
                Step::Need(ranges) => {
                    // Ranges that began before this chunk went by: only the
                    // candidate strings can answer them (at `finish`).
                    // A range already kept is never asked for again: each
                    // turn of this loop then completes a new range, so it ends.
                    for r in ranges {
                        if r.start >= start
                            && !self.s.has(&r)
                            && !self.pending.iter().any(|(p, _)| *p == r)
                        {
                            self.pending.push((r, Vec::new()));
                        }
                    }
                }
            }
        }
    }

    /// Keep the candidate strings of `chunk` (at file offset `start`) that
    /// lie in the first `PT_LOAD` segment, before `PT_DYNAMIC` is known.
    fn scan(&mut self, chunk: &[u8], start: u64) {
        if self.layout.dynamic_known {
            return;
        }
        let Some(window) = self.layout.first_load.clone() else {
            return;
        };
        let lo = start.max(window.start).max(self.layout.phdr_end);
        let hi = (start + chunk.len() as u64).min(window.end);
        if lo >= hi {
            return;
        }
        let part = &chunk[(lo - start) as usize..(hi - start) as usize];
        // The string that straddled the last chunk's end.
        let first_nul = memchr::memchr(0, part);
        if let Some(i) = first_nul {
            if lo == self.carry_start + self.carry.len() as u64 && !self.carry_overflow {
                let mut run = std::mem::take(&mut self.carry);
                run.extend_from_slice(&part[..=i]);
                let at = self.carry_start;
                self.keep_if_candidate(at, &run);
            }
        }
        let mut last_end = 0usize;
        let mut hits: Vec<usize> = Vec::new();
        for needle in [&b".so"[..], b"ORIGIN", b"\0/"] {
            hits.extend(memchr::memmem::find_iter(part, needle));
        }
        hits.sort_unstable();
        for h in hits {
            if h < last_end {
                continue;
            }
            let run_start = if part[h] == 0 {
                h + 1
            } else {
                match memchr::memrchr(0, &part[..h]) {
                    Some(z) => z + 1,
                    None => continue, // began in the carried string
                }
            };
            let Some(z) = memchr::memchr(0, &part[run_start..]) else {
                break; // ends in the next chunk: carried
            };
            let run = &part[run_start..=run_start + z];
            last_end = run_start + z + 1;
            self.keep_if_candidate(lo + run_start as u64, run);
        }
        // Carry the unterminated tail.
        match memchr::memrchr(0, part) {
            Some(z) => {
                self.carry.clear();
                self.carry.extend_from_slice(&part[z + 1..]);
                self.carry_start = lo + z as u64 + 1;
                self.carry_overflow = false;
            }
            None if first_nul.is_none() => {
                if lo != self.carry_start + self.carry.len() as u64 {
                    self.carry.clear();
                    self.carry_start = lo;
                    self.carry_overflow = false;
                }
                self.carry.extend_from_slice(part);
            }
            None => {}
        }
        if self.carry.len() as u64 > MAX_STRING {
            self.carry.clear();
            self.carry_overflow = true;
        }
    }

    fn keep_if_candidate(&mut self, at: u64, run: &[u8]) {
        let text = &run[..run.len() - 1];
        let wanted = text.first() == Some(&b'/')
            || memchr::memmem::find(text, b".so").is_some()
            || memchr::memmem::find(text, b"ORIGIN").is_some();
        if wanted && run.len() as u64 <= MAX_STRING && self.candidates + run.len() <= MAX_CANDIDATES
        {
            self.candidates += run.len();
            self.s.insert(at, run);
        }
    }

    /// The facts, from what went by. `None` when the file is not ELF.
    pub fn finish(mut self) -> Option<ElfFacts> {
        // Ranges still pending that the stream passed completely: keep them.
        for (r, b) in std::mem::take(&mut self.pending) {
            if r.start + b.len() as u64 >= r.end {
                self.s.insert(r.start, &b);
            }
        }
        match step(&self.s, true, &mut self.layout) {
            Step::Done(f) => f,
            Step::Need(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real shared library of the build machine's C library, and the
    /// `python3` binary: both are ELF on every machine that runs the tests.
    fn samples() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for p in [
            "/usr/bin/python3",
            "/bin/sh",
            "/lib/x86_64-linux-gnu/libz.so.1",
            "/lib/x86_64-linux-gnu/libm.so.6",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        ] {
            if let Ok(b) = std::fs::read(p) {
                v.push(b);
            }
        }
        v
    }

    #[test]
    fn whole_file_parse_reads_the_dynamic_names() {
        let all = samples();
        assert!(!all.is_empty(), "no ELF sample on this machine");
        for b in &all {
            let f = parse(b).expect("an ELF file");
            assert!(f.complete, "{f:?}");
            assert!(f.dynamic);
            // Every sample but libc links libc (libc links the loader).
            assert!(
                f.needed
                    .iter()
                    .any(|n| n.starts_with("libc.so") || n.starts_with("ld-linux")),
                "{f:?}"
            );
        }
    }

    #[test]
    fn streaming_equals_positioned_reads_for_any_chunk_size() {
        for b in samples() {
            let whole = parse(&b);
            for chunk in [61usize, 4096, 65536, 1 << 20] {
                let mut st = ElfStream::new(b.len() as u64);
                for c in b.chunks(chunk) {
                    st.feed(c);
                }
                assert_eq!(st.finish(), whole, "chunk {chunk}");
            }
        }
    }

    /// Hostile bytes: every byte of the header, the program headers and the
    /// first KB, and bytes spread over the whole file, set to values that
    /// break sizes and offsets. Never a panic; complete streamed facts agree.
    #[test]
    fn mutated_files_never_panic() {
        // The smallest sample: the test runs unoptimised.
        let b = samples().into_iter().min_by_key(Vec::len).unwrap();
        let mut positions: Vec<usize> = (0..512.min(b.len())).collect();
        positions.extend((0..100).map(|i| (i * 7919 * 31) % b.len()));
        for (n, &at) in positions.iter().enumerate() {
            let mut m = b.clone();
            m[at] = [0xff, 0x00, 0x80, 0x7f][n % 4];
            let whole = parse(&m);
            let mut st = ElfStream::new(m.len() as u64);
            for c in m.chunks(4096) {
                st.feed(c);
            }
            // A stream that read every name agrees; one that could not (a
            // name cut so that it no longer looks like one) says so.
            if let Some(f) = st.finish().filter(|f| f.complete) {
                assert_eq!(Some(f), whole, "byte {at}");
            }
        }
    }

    /// The facts of `file` streamed in chunks of `chunk` bytes.
    fn streamed(file: &[u8], chunk: usize) -> Option<ElfFacts> {
        let mut st = ElfStream::new(file.len() as u64);
        for c in file.chunks(chunk) {
            st.feed(c);
        }
        st.finish()
    }

    /// Found by the `elf` fuzz target (issue 10): a `PT_INTERP` whose NUL
    /// lies past its `p_filesz` made the stream ask for the same range
    /// forever. Both ways of reading must end, agree, and read no
    /// interpreter (the kernel refuses such a file: `binfmt_elf` wants the
    /// last byte of the segment to be NUL).
    #[test]
    fn r10_fuzz_unterminated_interp_ends() {
        // The fuzz input: two bytes that pick chunk sizes, then the file.
        let input = include_bytes!("../fuzz/corpus/elf/r10-unterminated-interp");
        let file = &input[2..];
        let whole = parse(file).expect("an ELF header");
        assert_eq!(whole.interp, None, "{whole:?}");
        for chunk in [1, 17, 4097] {
            assert_eq!(
                streamed(file, chunk).as_ref(),
                Some(&whole),
                "chunk {chunk}"
            );
        }
    }

    /// Found by the `elf` fuzz target (issue 10): a `PT_INTERP` that lies
    /// where the stream had already passed when the program headers were
    /// known. The stream cannot go back, so it misses the interpreter — and
    /// must then say its facts are incomplete, not report a file without one.
    #[test]
    fn r10_fuzz_passed_interp_is_incomplete() {
        let input = include_bytes!("../fuzz/corpus/elf/r10-interp-passed");
        let file = &input[2..];
        let whole = parse(file).expect("an ELF header");
        assert!(whole.interp.is_some(), "{whole:?}");
        for chunk in [1, 7, 64, 4096] {
            let part = streamed(file, chunk).expect("an ELF header");
            if part.complete {
                assert_eq!(part, whole, "chunk {chunk}");
            } else {
                assert_eq!(part.interp, None, "chunk {chunk}");
            }
        }
    }

    /// Found by the `elf` fuzz target (issue 10): a `PT_INTERP` whose
    /// first byte is the last of the program headers, read in one range with
    /// a `PT_DYNAMIC` that lies inside the header. The positioned reads
    /// looked the string up in the program headers' range (the nearest
    /// start, one byte long) and missed the interpreter the stream read.
    #[test]
    fn r10_fuzz_overlapping_ranges_read_the_longest() {
        let input = include_bytes!("../fuzz/corpus/elf/r10-overlapping-ranges");
        let file = &input[2..];
        let whole = parse(file).expect("an ELF header");
        assert_eq!(whole.interp.as_deref(), Some("("), "{whole:?}");
        for chunk in [1, 17, 4097] {
            // The stream may know less (here: the dynamic section lies in
            // bytes it passed before the program headers named it), never
            // something else.
            let Some(part) = streamed(file, chunk) else {
                continue;
            };
            assert!(
                part.interp.is_none() || part.interp == whole.interp,
                "chunk {chunk}"
            );
            if part.complete {
                assert_eq!(part, whole, "chunk {chunk}");
            }
        }
    }

    /// Found by the `elf` fuzz target (issue 10): a dynamic section with
    /// two `DT_SONAME`s, the last one's string in bytes the stream had
    /// passed before the program headers named the section. The stream
    /// reported the first one's string; the file's soname is the last one's
    /// (glibc keeps the last entry of a tag), so it must say it does not
    /// know it.
    #[test]
    fn r10_fuzz_duplicate_soname_is_the_last() {
        let input = include_bytes!("../fuzz/corpus/elf/r10-duplicate-soname");
        let file = &input[2..];
        let whole = parse(file).expect("an ELF header");
        assert_eq!(whole.soname.as_deref(), Some(""), "{whole:?}");
        for chunk in [1, 2, 17, 257, 4097] {
            let Some(part) = streamed(file, chunk) else {
                continue;
            };
            assert!(
                part.soname.is_none() || part.soname == whole.soname,
                "chunk {chunk}: {part:?}"
            );
            if part.complete {
                assert_eq!(part, whole, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn not_elf_and_truncated() {
        assert_eq!(parse(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(parse(&[0u8; 200]), None);
        let b = samples().remove(0);
        // A header whose program headers are cut off.
        assert_eq!(parse(&b[..100]), None);
        let mut st = ElfStream::new(b.len() as u64);
        st.feed(&b[..100]);
        assert_eq!(st.finish(), None);
    }
}
