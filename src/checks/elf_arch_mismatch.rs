//! `elf-arch-mismatch`: the image config says one CPU architecture
//! (`architecture`/`variant`, e.g. `linux/arm64`) and an interpreter or an
//! extension module is ELF for another machine or class — the wrong-platform
//! `COPY --from` of a builder, or a wheelhouse downloaded for the build
//! host. The kernel refuses the interpreter (`exec format error`); an
//! extension fails with `ImportError: … cannot open shared object file` /
//! `wrong ELF class`. A distribution whose `WHEEL` `Tag:` lines name only
//! other platforms is reported with it (what `pip` calls "not a supported
//! wheel on this platform"). One finding per distribution (or per package
//! without one, or per interpreter).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::shared_library_missing::elf_at;
use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::extensions::extension_modules;
use crate::python::record::resolve_record_path;

/// The typed diagnostic. JSON fields: `image_platform`, `elf_arch`,
/// `objects`, `wheel_tags`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ElfArchMismatch {
    /// The dist-info dir, the package dir or the interpreter.
    #[serde(skip)]
    pub path: String,
    /// The environment root.
    #[serde(skip)]
    pub env: String,
    /// What it is: `distribution pyzmq`, `package zmq`, `interpreter`.
    #[serde(skip)]
    pub what: String,
    /// `linux/arm64`.
    pub image_platform: String,
    /// The architectures of the objects, in the config's spelling.
    pub elf_arch: Vec<String>,
    /// The ELF objects of another architecture.
    pub objects: Vec<String>,
    /// Its `WHEEL` `Tag:` values, when it has them.
    pub wheel_tags: Vec<String>,
}

impl From<ElfArchMismatch> for Finding {
    fn from(d: ElfArchMismatch) -> Finding {
        let first = d.objects.first().cloned().unwrap_or_default();
        let mut f = Finding::new(
            Code::ElfArchMismatch,
            &d.path,
            format!(
                "{} is built for `{}` but the image is `{}`: `{}` cannot be loaded",
                d.what,
                d.elf_arch.join("`, `"),
                d.image_platform,
                first
            ),
        )
        .env(&d.env)
        .fields(&d);
        if d.objects.len() > 1 {
            f = f.note(format!(
                "{} ELF objects of another architecture, e.g. `{}`",
                d.objects.len(),
                d.objects[1]
            ));
        }
        if !d.wheel_tags.is_empty() {
            f = f.note(format!("WHEEL tags: `{}`", d.wheel_tags.join("`, `")));
        }
        f.hint("build (or `pip download --platform`) for the image's platform; a `COPY --from` of a stage built for another platform ships its binaries as they are")
    }
}

/// The config's spelling of a wheel platform tag's architecture, when the
/// tag names one (`manylinux_2_17_x86_64` → `amd64`; `any` → none).
fn wheel_tag_arch(platform: &str) -> Option<&'static str> {
    let arches: &[(&str, &str)] = &[
        ("x86_64", "amd64"),
        ("aarch64", "arm64"),
        ("i686", "386"),
        ("armv7l", "arm"),
        ("ppc64le", "ppc64le"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
    ];
    if !platform.contains("linux") {
        return None;
    }
    arches
        .iter()
        .find(|(suffix, _)| platform.ends_with(suffix))
        .map(|(_, a)| *a)
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    let config = &cx.image.resolved.config;
    let Some(arch) = config.architecture.as_deref() else {
        return;
    };
    let platform = match config.variant.as_deref() {
        Some(v) => format!("linux/{arch}/{v}"),
        None => format!("linux/{arch}"),
    };
    let mut seen_interp = BTreeSet::new();
    for facts in cx.facts {
        let env = &facts.env;
        if let Some((real, f)) = env.interpreter.as_deref().and_then(|p| elf_at(cx, p)) {
            let a = f.oci_arch();
            if a.is_some_and(|a| a != arch) && seen_interp.insert(real.clone()) {
                out.push(
                    ElfArchMismatch {
                        path: real.clone(),
                        env: env.root.clone(),
                        what: "the interpreter".into(),
                        image_platform: platform.clone(),
                        elf_arch: a.map(String::from).into_iter().collect(),
                        objects: vec![real],
                        wheel_tags: Vec::new(),
                    }
                    .into(),
                );
            }
        }
        // Which distribution installed each file (RECORD).
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (i, d) in facts.dists.iter().enumerate() {
            if let Some(rec) = &d.record {
                for e in &rec.entries {
                    if e.path.ends_with(".so") || e.path.contains(".so.") {
                        if let Some(p) = resolve_record_path(&d.site_dir, &e.path) {
                            owner.insert(p, i);
                        }
                    }
                }
            }
        }
        // Group key → (path, what, arches, objects, wheel tags)
        type Group = (String, String, BTreeSet<String>, Vec<String>, Vec<String>);
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for m in extension_modules(cx.tree, env) {
            if m.import_dir.ends_with("/lib-dynload") {
                continue; // the stdlib's: the interpreter's own finding covers it
            }
            let Some((_, f)) = elf_at(cx, &m.path) else {
                continue;
            };
            let Some(a) = f.oci_arch() else { continue };
            if a == arch {
                continue;
            }
            let (key, path, what) = match owner.get(&m.path).map(|&i| &facts.dists[i]) {
                Some(d) => (
                    format!("d:{}", d.dir),
                    d.dir.clone(),
                    format!(
                        "distribution `{}`{}",
                        d.name,
                        d.version
                            .as_deref()
                            .map(|v| format!(" {v}"))
                            .unwrap_or_default()
                    ),
                ),
                None => {
                    let top = m.dotted.split('.').next().unwrap_or(&m.dotted).to_string();
                    (
                        format!("p:{}/{top}", m.import_dir),
                        format!("{}/{top}", m.import_dir),
                        format!("package `{top}`"),
                    )
                }
            };
            let g = groups
                .entry(key)
                .or_insert_with(|| (path, what, BTreeSet::new(), Vec::new(), Vec::new()));
            g.2.insert(a.to_string());
            g.3.push(m.path.clone());
        }
        // WHEEL tags of the reported distributions (and of any other
        // distribution whose tags all name another architecture).
        for d in &facts.dists {
            let Ok(w) = cx
                .tree
                .read_path(&format!("{}/WHEEL", d.dir), Some(1 << 16))
            else {
                continue;
            };
            let w = String::from_utf8_lossy(&w);
            let tags: Vec<String> = w
                .lines()
                .filter_map(|l| l.strip_prefix("Tag:").map(|t| t.trim().to_string()))
                .collect();
            let arches: BTreeSet<&str> = tags
                .iter()
                .filter_map(|t| t.rsplit('-').next())
                .flat_map(|p| p.split('.'))
                .filter_map(wheel_tag_arch)
                .collect();
            let key = format!("d:{}", d.dir);
            if let Some(g) = groups.get_mut(&key) {
                g.4 = tags;
            } else if !arches.is_empty() && !arches.contains(arch) {
                groups.insert(
                    key,
                    (
                        d.dir.clone(),
                        format!("distribution `{}`", d.name),
                        arches.iter().map(|s| s.to_string()).collect(),
                        Vec::new(),
                        tags,
                    ),
                );
            }
        }
        for (_, (path, what, arches, objects, wheel_tags)) in groups {
            out.push(
                ElfArchMismatch {
                    path,
                    env: env.root.clone(),
                    what,
                    image_platform: platform.clone(),
                    elf_arch: arches.into_iter().collect(),
                    objects,
                    wheel_tags,
                }
                .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wheel_platform_tags() {
        use super::wheel_tag_arch as a;
        assert_eq!(a("manylinux_2_17_x86_64"), Some("amd64"));
        assert_eq!(a("manylinux2014_aarch64"), Some("arm64"));
        assert_eq!(a("musllinux_1_1_x86_64"), Some("amd64"));
        assert_eq!(a("linux_armv7l"), Some("arm"));
        assert_eq!(a("any"), None);
        assert_eq!(a("macosx_11_0_arm64"), None);
        assert_eq!(a("win_amd64"), None);
    }
}
