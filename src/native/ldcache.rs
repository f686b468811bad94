//! `/etc/ld.so.cache` as glibc's `ld.so` reads it: soname → library path.
//!
//! Two formats, both written by `ldconfig` (glibc `sysdeps/generic/dl-cache.h`):
//!
//! - old, magic `ld.so-1.7.0`: `nlibs` entries `{ int32 flags; uint32 key,
//!   value }`, strings indexed from the end of the entries;
//! - new, magic `glibc-ld.so.cache1.1`: a 48-byte header (`nlibs`,
//!   `len_strings`, flags, extension offset), entries `{ int32 flags; uint32
//!   key, value, osversion; uint64 hwcap }`, strings indexed from the start
//!   of the new header. glibc 2.2 to 2.31 wrote both, the new one after the
//!   old one's entries (aligned to 8); since 2.32 only the new one.
//!
//! An entry is for this object when its flags pass `_dl_cache_check_flags`:
//! `1` (any ELF) or the platform's `_DL_CACHE_DEFAULT_ID` (`FLAG_ELF_LIBC6`
//! with the architecture's bits, e.g. `0x0303` for x86-64). The first match
//! wins, as in `_dl_load_cache_lookup`. Deliberately not done: hwcap
//! subdirectory preference (the loader's choice among copies of the same
//! library; any copy found means the library is found).

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";

/// One cache entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    /// `flags` (`FLAG_ELF_LIBC6` | architecture bits).
    pub flags: i32,
    /// The soname (`libz.so.1`).
    pub name: String,
    /// The path ldconfig found it at.
    pub path: String,
}

/// A parsed cache, entries in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdCache {
    /// Entries, in the order `ld.so` scans them.
    pub entries: Vec<CacheEntry>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn str_at(b: &[u8], at: usize) -> Option<String> {
    let s = b.get(at..)?;
    let end = memchr::memchr(0, s)?;
    Some(String::from_utf8_lossy(&s[..end]).into_owned())
}

/// The `_DL_CACHE_DEFAULT_ID` of an ELF machine and class (glibc
/// `sysdeps/*/dl-cache.h`), when the platform defines its own.
pub fn default_id(machine: u16, class64: bool) -> Option<i32> {
    Some(match (machine, class64) {
        (62, true) => 0x0303,  // FLAG_X8664_LIB64 | FLAG_ELF_LIBC6
        (62, false) => 0x0803, // FLAG_X8664_LIBX32
        (3, false) => 0x0003,
        (183, true) => 0x0a03, // FLAG_AARCH64_LIB64
        (40, false) => 0x0903, // FLAG_ARM_LIBHF (Debian armhf)
        (21, true) => 0x0503,  // FLAG_POWERPC_LIB64
        (22, true) => 0x0403,  // FLAG_S390_LIB64
        (243, true) => 0x1003, // FLAG_RISCV_FLOAT_ABI_DOUBLE | LIB64
        _ => return None,
    })
}

impl LdCache {
    /// Parse a cache file (little-endian, as on every platform imgaudit
    /// knows a `default_id` for but s390x and big-endian ppc64; those fail
    /// the magic check and read as no cache). `None` for anything else.
    pub fn parse(b: &[u8]) -> Option<LdCache> {
        if b.starts_with(NEW_MAGIC) {
            return Self::parse_new(b, 0);
        }
        if !b.starts_with(OLD_MAGIC) {
            return None;
        }
        // Old header: magic (11 bytes, padded to 12), nlibs.
        let n = u32_at(b, 12)? as usize;
        let entries_end = 16usize.checked_add(n.checked_mul(12)?)?;
        // A new-format cache after the old entries (aligned to 8) wins.
        let aligned = (entries_end + 7) & !7;
        if b.get(aligned..).is_some_and(|r| r.starts_with(NEW_MAGIC)) {
            return Self::parse_new(b, aligned);
        }
        let strings = b.get(entries_end..)?;
        Self::entries(b, 16, 12, n, strings)
    }

    fn parse_new(b: &[u8], base: usize) -> Option<LdCache> {
        let h = b.get(base..)?;
        let n = u32_at(h, 20)? as usize;
        // String offsets of the new format are relative to its header.
        Self::entries(h, 48, 24, n, h)
    }

    /// `n` entries of `stride` bytes from `first` in `table`: flags, key
    /// and value offsets into `strings` (the two formats differ only there).
    fn entries(
        table: &[u8],
        first: usize,
        stride: usize,
        n: usize,
        strings: &[u8],
    ) -> Option<LdCache> {
        let mut entries = Vec::with_capacity(n.min(1 << 16));
        for i in 0..n {
            let at = first.checked_add(i.checked_mul(stride)?)?;
            let flags = u32_at(table, at)? as i32;
            let key = u32_at(table, at + 4)? as usize;
            let value = u32_at(table, at + 8)? as usize;
            entries.push(CacheEntry {
                flags,
                name: str_at(strings, key)?,
                path: str_at(strings, value)?,
            });
        }
        Some(LdCache { entries })
    }

    /// Paths the cache gives for `name`, for an object of `machine`/`class64`,
    /// in lookup order.
    pub fn lookup<'a>(
        &'a self,
        name: &'a str,
        machine: u16,
        class64: bool,
    ) -> impl Iterator<Item = &'a str> + 'a {
        let id = default_id(machine, class64);
        self.entries
            .iter()
            .filter(move |e| e.name == name && (e.flags == 1 || Some(e.flags) == id))
            .map(|e| e.path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build machine's own cache, written by its `ldconfig`.
    #[test]
    fn the_hosts_cache_names_libc() {
        let Ok(b) = std::fs::read("/etc/ld.so.cache") else {
            return; // a machine without a cache: nothing to compare
        };
        let c = LdCache::parse(&b).expect("a cache ldconfig wrote parses");
        assert!(!c.entries.is_empty());
        if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            let p: Vec<_> = c.lookup("libc.so.6", 62, true).collect();
            assert!(p.iter().any(|p| p.ends_with("/libc.so.6")), "{p:?}");
            // Another architecture's flags find nothing.
            assert_eq!(c.lookup("libc.so.6", 183, true).count(), 0);
        }
    }

    fn new_format(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let mut b = NEW_MAGIC.to_vec();
        b.extend((entries.len() as u32).to_le_bytes());
        b.extend(0u32.to_le_bytes()); // len_strings (not needed to read)
        b.resize(48, 0);
        let strings_at = 48 + 24 * entries.len();
        let mut strings = Vec::new();
        for (flags, name, path) in entries {
            let key = strings_at + strings.len();
            strings.extend(name.as_bytes());
            strings.push(0);
            let value = strings_at + strings.len();
            strings.extend(path.as_bytes());
            strings.push(0);
            b.extend(flags.to_le_bytes());
            b.extend((key as u32).to_le_bytes());
            b.extend((value as u32).to_le_bytes());
            b.extend([0u8; 12]);
        }
        b.extend(strings);
        b
    }

    #[test]
    fn new_and_old_formats() {
        let b = new_format(&[
            (0x0a03, "libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1"),
            (0x0303, "libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1"),
            (0x0003, "libz.so.1", "/usr/lib/i386-linux-gnu/libz.so.1"),
        ]);
        let c = LdCache::parse(&b).unwrap();
        assert_eq!(c.entries.len(), 3);
        let x86: Vec<_> = c.lookup("libz.so.1", 62, true).collect();
        assert_eq!(x86, ["/usr/lib/x86_64-linux-gnu/libz.so.1"]);
        let arm: Vec<_> = c.lookup("libz.so.1", 183, true).collect();
        assert_eq!(arm, ["/usr/lib/aarch64-linux-gnu/libz.so.1"]);

        // Old format: strings indexed from the end of the entries.
        let mut old = OLD_MAGIC.to_vec();
        old.push(0);
        old.extend(1u32.to_le_bytes());
        old.extend(1i32.to_le_bytes());
        old.extend(0u32.to_le_bytes());
        old.extend(10u32.to_le_bytes());
        old.extend(b"libm.so.6\0/lib/libm.so.6\0");
        let c = LdCache::parse(&old).unwrap();
        assert_eq!(
            c.lookup("libm.so.6", 62, true).next(),
            Some("/lib/libm.so.6")
        );

        // Old entries followed by a new cache: the new one is read.
        let mut both = old[..28].to_vec();
        both.resize(32, 0);
        both.extend(new_format(&[(0x0303, "libq.so", "/q/libq.so")]));
        // Its string offsets are from the new header, which sits at 32.
        let c = LdCache::parse(&both).unwrap();
        assert_eq!(c.entries[0].name, "libq.so");

        // Garbage and truncation read as no cache, never a panic.
        assert_eq!(LdCache::parse(b"not a cache"), None);
        assert_eq!(LdCache::parse(&b[..60]), None);
    }
}
