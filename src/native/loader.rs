//! The dynamic loader, emulated on the merged tree: which file each
//! `DT_NEEDED` name of an object resolves to, as glibc's `ld.so` would find
//! it (`elf/dl-load.c` `_dl_map_object`, `elf/dl-deps.c`), or that it does
//! not resolve.
//!
//! For one name needed by object `O`, in order:
//!
//! 1. a name with a `/` is a path, opened as is;
//! 2. an object already loaded whose `DT_SONAME` (or the name it was loaded
//!    as) is the name satisfies it — the interpreter's own libraries
//!    (`libpython3.11.so.1.0`) are loaded before any extension module;
//! 3. `DT_RPATH` of `O`, then of the objects that loaded it, up to the
//!    executable — only when `O` has no `DT_RUNPATH`;
//! 4. `LD_LIBRARY_PATH` (from the image config's `Env`);
//! 5. `DT_RUNPATH` of `O` (not of its loaders);
//! 6. `/etc/ld.so.cache` of the image ([`LdCache`]);
//! 7. the system directories of the image's C library: the multiarch pair
//!    `/lib/<triplet>`, `/usr/lib/<triplet>` then `/lib`, `/usr/lib` on a
//!    Debian-style tree, `/lib64`, `/usr/lib64` on others (64-bit); musl's
//!    `/etc/ld-musl-<arch>.path` or `/lib:/usr/local/lib:/usr/lib`.
//!
//! Search paths expand `$ORIGIN` (the directory of `O` as found; for the
//! executable, its resolved path, as `/proc/self/exe` gives), `$LIB` and
//! `$PLATFORM`. Every candidate is resolved chroot-style through the tree's
//! symlinks and must be a regular file; a candidate of another ELF class or
//! machine is skipped and the search goes on, as `open_verify` does.
//!
//! `ld.so.conf` and `ld.so.conf.d` are *not* read: `ld.so` never reads them,
//! only `ldconfig` does when it writes the cache. Deliberately not done:
//! hwcap subdirectories (a copy in `glibc-hwcaps/x86-64-v3/` is a copy of a
//! library the plain directory also holds), `DT_FLAGS_1 NODEFLIB`, secure
//! mode.

use std::collections::HashMap;
use std::sync::Arc;

use super::ldcache::LdCache;
use crate::elf::ElfFacts;
use crate::tree::{Kind, MergedTree};

/// Names the NVIDIA container runtime mounts into a GPU container at start:
/// an image never ships them, and linking them is not a defect.
const PROVIDED_AT_RUN_TIME: &[&str] = &["libcuda.so.1", "libnvidia-ml.so.1"];

/// One object in a process, as the loader found it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The path it was found at (not resolved: `$ORIGIN` is its directory).
    pub path: String,
    /// Its facts.
    pub facts: Arc<ElfFacts>,
    /// The object that needed it (index into [`Closure::objects`]).
    pub parent: Option<usize>,
}

/// A needed name the loader does not find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// The name (`libodbc.so.2`).
    pub name: String,
    /// The object that needs it.
    pub needed_by: String,
    /// Every path tried, in order (what `LD_DEBUG=libs` would print).
    pub tried: Vec<String>,
}

/// The objects a load brings in, and what it could not find.
#[derive(Clone, Debug, Default)]
pub struct Closure {
    /// Objects, breadth first, the root first.
    pub objects: Vec<Loaded>,
    /// Names not found.
    pub missing: Vec<Unresolved>,
    /// Some object's facts were incomplete (a name could not be read): what
    /// it needs is not known in full.
    pub incomplete: bool,
}

impl Closure {
    /// Whether `name` is already loaded (by soname or by the name it was
    /// loaded as).
    fn provides(&self, name: &str) -> bool {
        self.objects.iter().any(|o| {
            o.facts.soname.as_deref() == Some(name) || o.path.rsplit('/').next() == Some(name)
        })
    }
}

/// The loader of one image.
pub struct Loader<'a> {
    tree: &'a MergedTree,
    cache: Option<LdCache>,
    ld_library_path: Vec<String>,
    /// Per machine, the system directories.
    system_dirs: HashMap<(u16, bool), Vec<String>>,
}

/// The GNU multiarch triplet and `$PLATFORM` of a machine.
fn triplet(machine: u16, class64: bool) -> Option<(&'static str, &'static str)> {
    Some(match (machine, class64) {
        (62, true) => ("x86_64-linux-gnu", "x86_64"),
        (3, false) => ("i386-linux-gnu", "i686"),
        (183, true) => ("aarch64-linux-gnu", "aarch64"),
        (40, false) => ("arm-linux-gnueabihf", "v7l"),
        (21, true) => ("powerpc64le-linux-gnu", "powerpc64le"),
        (22, true) => ("s390x-linux-gnu", "s390x"),
        (243, true) => ("riscv64-linux-gnu", "riscv64"),
        _ => return None,
    })
}

impl<'a> Loader<'a> {
    /// A loader for `tree`, with `LD_LIBRARY_PATH` from the image config.
    pub fn new(tree: &'a MergedTree, ld_library_path: Option<&str>) -> Loader<'a> {
        let cache = tree
            .read_path("/etc/ld.so.cache", Some(64 << 20))
            .ok()
            .and_then(|b| LdCache::parse(&b));
        let ld_library_path = ld_library_path
            .map(|v| {
                v.split([':', ';'])
                    .filter(|d| !d.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Loader {
            tree,
            cache,
            ld_library_path,
            system_dirs: HashMap::new(),
        }
    }

    fn is_dir(&self, p: &str) -> bool {
        self.tree
            .stat(p)
            .is_ok_and(|r| self.tree.node(r.id).is_dir())
    }

    fn system_dirs(&mut self, f: &ElfFacts) -> Vec<String> {
        let key = (f.machine, f.class64);
        if let Some(d) = self.system_dirs.get(&key) {
            return d.clone();
        }
        let musl = f.interp.as_deref().is_some_and(|i| i.contains("ld-musl"));
        let dirs: Vec<String> = if musl {
            let arch = f
                .interp
                .as_deref()
                .and_then(|i| i.rsplit("ld-musl-").next())
                .and_then(|s| s.split('.').next())
                .unwrap_or("");
            match self
                .tree
                .read_path(&format!("/etc/ld-musl-{arch}.path"), Some(1 << 16))
            {
                Ok(b) => String::from_utf8_lossy(&b)
                    .split(['\n', ':'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                Err(_) => vec!["/lib".into(), "/usr/local/lib".into(), "/usr/lib".into()],
            }
        } else {
            match triplet(f.machine, f.class64) {
                Some((t, _))
                    if self.is_dir(&format!("/lib/{t}"))
                        || self.is_dir(&format!("/usr/lib/{t}")) =>
                {
                    vec![
                        format!("/lib/{t}"),
                        format!("/usr/lib/{t}"),
                        "/lib".into(),
                        "/usr/lib".into(),
                    ]
                }
                _ if f.class64 => vec!["/lib64".into(), "/usr/lib64".into()],
                _ => vec!["/lib".into(), "/usr/lib".into()],
            }
        };
        self.system_dirs.insert(key, dirs.clone());
        dirs
    }

    /// Expand `$ORIGIN`, `$LIB`, `$PLATFORM` (and their `${…}` forms) in one
    /// search-path entry.
    fn expand(&self, entry: &str, origin: &str, f: &ElfFacts) -> String {
        let (lib, platform) = match triplet(f.machine, f.class64) {
            Some((t, p)) if self.is_dir(&format!("/lib/{t}")) => (format!("lib/{t}"), p),
            Some((_, p)) if f.class64 && self.is_dir("/lib64") => ("lib64".to_string(), p),
            Some((_, p)) => ("lib".to_string(), p),
            None => ("lib".to_string(), ""),
        };
        entry
            .replace("${ORIGIN}", origin)
            .replace("$ORIGIN", origin)
            .replace("${LIB}", &lib)
            .replace("$LIB", &lib)
            .replace("${PLATFORM}", platform)
            .replace("$PLATFORM", platform)
    }

    /// The ELF facts of the regular file at `path` (following symlinks),
    /// `Some(None)` when it is a regular file without facts.
    fn file_facts(&self, path: &str) -> Option<Option<Arc<ElfFacts>>> {
        let r = self.tree.stat(path).ok()?;
        let node = self.tree.node(r.id);
        if node.kind != Kind::File {
            return None;
        }
        Some(self.tree.content(r.id).and_then(|c| c.elf.clone()))
    }

    /// Look for `name` in `dir`: the candidate's facts when it is usable by
    /// an object like `want`.
    fn try_dir(
        &self,
        dir: &str,
        name: &str,
        want: &ElfFacts,
        tried: &mut Vec<String>,
    ) -> Option<(String, Arc<ElfFacts>)> {
        let dir = if dir.is_empty() { "." } else { dir };
        let path = format!("{}/{name}", dir.trim_end_matches('/'));
        self.try_path(path, want, tried)
    }

    fn try_path(
        &self,
        path: String,
        want: &ElfFacts,
        tried: &mut Vec<String>,
    ) -> Option<(String, Arc<ElfFacts>)> {
        if !path.starts_with('/') {
            return None; // relative to the process's cwd: not decidable here
        }
        // Remembered as written lexically (`$ORIGIN/../../x.libs` folded),
        // so a report and the layer history can name it; resolved through
        // the tree as the kernel would.
        let shown = lexical(&path);
        if tried.contains(&shown) {
            return None;
        }
        tried.push(shown);
        match self.file_facts(&path)? {
            // A file the extractors did not parse (its name holds no `.so`):
            // the loader would try it; count it found.
            None => Some((
                path,
                Arc::new(ElfFacts {
                    complete: false,
                    ..want.clone()
                }),
            )),
            Some(f) if f.machine == want.machine && f.class64 == want.class64 => Some((path, f)),
            Some(_) => None, // wrong class or machine: skipped, search goes on
        }
    }

    /// Load `root` (found at `path`, an executable when `preloaded` is
    /// `None`) and everything it needs, breadth first, as `ld.so` does.
    /// Objects of `preloaded` (the interpreter's closure) are already in the
    /// process.
    pub fn load(
        &mut self,
        path: &str,
        root: Arc<ElfFacts>,
        preloaded: Option<&Closure>,
    ) -> Closure {
        let mut c = Closure::default();
        let exe_rpath = match preloaded {
            Some(p) => p
                .objects
                .first()
                .filter(|o| o.facts.runpath.is_none())
                .and_then(|o| o.facts.rpath.clone().map(|r| (o.path.clone(), r))),
            None => None,
        };
        c.objects.push(Loaded {
            path: path.to_string(),
            facts: root,
            parent: None,
        });
        let mut i = 0;
        while i < c.objects.len() {
            let obj = c.objects[i].clone();
            if !obj.facts.complete {
                c.incomplete = true;
            }
            let origin = dir_of(&obj.path);
            for name in &obj.facts.needed {
                if c.provides(name) || preloaded.is_some_and(|p| p.provides(name)) {
                    continue;
                }
                if PROVIDED_AT_RUN_TIME.contains(&name.as_str()) {
                    continue;
                }
                let mut tried = Vec::new();
                let found = self.find(name, &obj, i, &c, origin, exe_rpath.as_ref(), &mut tried);
                match found {
                    Some((p, facts)) => c.objects.push(Loaded {
                        path: p,
                        facts,
                        parent: Some(i),
                    }),
                    None => c.missing.push(Unresolved {
                        name: name.clone(),
                        needed_by: obj.path.clone(),
                        tried,
                    }),
                }
            }
            i += 1;
        }
        c
    }

    #[allow(clippy::too_many_arguments)]
    fn find(
        &mut self,
        name: &str,
        obj: &Loaded,
        index: usize,
        c: &Closure,
        origin: &str,
        exe_rpath: Option<&(String, String)>,
        tried: &mut Vec<String>,
    ) -> Option<(String, Arc<ElfFacts>)> {
        let f = &obj.facts;
        if name.contains('/') {
            return self.try_path(name.to_string(), f, tried);
        }
        let musl = f.interp.as_deref().is_some_and(|i| i.contains("ld-musl"));
        // 3. DT_RPATH of the object and its loaders, when it has no RUNPATH.
        if f.runpath.is_none() || musl {
            let mut at = Some(index);
            while let Some(k) = at {
                let o = &c.objects[k];
                if let Some(rp) = o.facts.rpath.as_deref() {
                    if o.facts.runpath.is_none() || k == index {
                        let org = dir_of(&o.path);
                        for d in rp.split(':') {
                            let d = self.expand(d, org, &o.facts);
                            if let Some(hit) = self.try_dir(&d, name, f, tried) {
                                return Some(hit);
                            }
                        }
                    }
                }
                at = o.parent;
            }
            if let Some((exe, rp)) = exe_rpath {
                for d in rp.split(':') {
                    let d = self.expand(d, dir_of(exe), f);
                    if let Some(hit) = self.try_dir(&d, name, f, tried) {
                        return Some(hit);
                    }
                }
            }
        }
        // 4. LD_LIBRARY_PATH.
        for d in self.ld_library_path.clone() {
            let d = self.expand(&d, origin, f);
            if let Some(hit) = self.try_dir(&d, name, f, tried) {
                return Some(hit);
            }
        }
        // 5. DT_RUNPATH of the object itself.
        if let Some(rp) = f.runpath.as_deref() {
            for d in rp.split(':') {
                let d = self.expand(d, origin, f);
                if let Some(hit) = self.try_dir(&d, name, f, tried) {
                    return Some(hit);
                }
            }
        }
        // 6. ld.so.cache (glibc only).
        if !musl {
            let paths: Vec<String> = self
                .cache
                .as_ref()
                .map(|cache| {
                    cache
                        .lookup(name, f.machine, f.class64)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            for p in paths {
                if let Some(hit) = self.try_path(p, f, tried) {
                    return Some(hit);
                }
            }
        }
        // 7. System directories.
        for d in self.system_dirs(f) {
            if let Some(hit) = self.try_dir(&d, name, f, tried) {
                return Some(hit);
            }
        }
        None
    }
}

/// `path` with `.` and `x/..` folded as text.
fn lexical(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}
