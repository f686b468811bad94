//! Issue 12, the native layer: the committed fixtures of
//! `testdata/images/native` (built by `testdata/build-native-fixtures.sh`
//! from Debian packages and PyPI wheels) judged against their runtime truth
//! (`testdata/truth/native/TAG.json`: `python -c 'import X'` and `ld.so
//! --list` run in the image, `readelf -d`), and synthetic images whose ELF
//! files are built here byte by byte, for each branch of the loader's search
//! (`DT_RPATH`, `DT_RUNPATH` with `$ORIGIN`, `LD_LIBRARY_PATH`, the image's
//! `/etc/ld.so.cache`, another machine's library skipped) and for
//! `venv-python-version-mismatch`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::util::{self, imgaudit, LayerBuilder};

const NATIVE_RULES: &[&str] = &[
    "shared-library-missing",
    "extension-abi-mismatch",
    "elf-arch-mismatch",
    "venv-python-version-mismatch",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn layout() -> PathBuf {
    root().join("testdata/images/native")
}

/// Every tag of `testdata/images/native`, in `index.json` order.
pub fn native_tags() -> Vec<String> {
    tags()
}

fn tags() -> Vec<String> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout().join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn truth(tag: &str) -> Value {
    let p = root().join(format!("testdata/truth/native/{tag}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// `--format json` of `image`: (exit code, native findings).
fn audit(image: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec![image, "--format", "json"];
    args.extend_from_slice(extra);
    let run = imgaudit(&args);
    assert!(
        run.code == 0 || run.code == 1,
        "imgaudit {args:?} exited {}: {}",
        run.code,
        run.stderr
    );
    let report: Value = serde_json::from_str(&run.stdout).expect("a JSON report");
    let native = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| NATIVE_RULES.contains(&f["rule"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    (run.code, native)
}

fn listing(fs: &[Value]) -> String {
    fs.iter()
        .map(|f| format!("  {} {} {}", f["rule"], f["path"], f["message"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The library an `ImportError: libX.so: cannot open shared object file`
/// names.
fn library_of(error: &str) -> Option<&str> {
    let rest = error.strip_prefix("ImportError: ")?;
    let (lib, tail) = rest.split_once(": ")?;
    tail.starts_with("cannot open shared object file")
        .then_some(lib)
}

/// Every fixture's recorded failure is named by a finding, and every import
/// that worked in the image is named by none.
#[test]
fn every_native_fixture_agrees_with_its_truth() {
    let all = tags();
    assert!(all.len() >= 9, "{all:?}");
    for tag in &all {
        let t = truth(tag);
        let (code, fs) = audit(&format!("{}:{tag}", layout().display()), &[]);
        let failed: Vec<&Value> = t["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["exit"] != 0)
            .collect();
        for i in &failed {
            let err = i["error"].as_str().unwrap();
            let module = i["module"].as_str().unwrap();
            if let Some(lib) = library_of(err) {
                assert!(
                    fs.iter()
                        .any(|f| f["rule"] == "shared-library-missing" && f["library"] == lib),
                    "{tag}: `import {module}` failed with `{err}`; findings:\n{}",
                    listing(&fs)
                );
            } else if err.starts_with("ModuleNotFoundError") {
                // The module is built for another Python, or the whole venv
                // runs on another Python.
                assert!(
                    fs.iter().any(|f| (f["rule"] == "extension-abi-mismatch"
                        && f["module"].as_str().unwrap().ends_with(module))
                        || (f["rule"] == "venv-python-version-mismatch"
                            && i["python"]
                                .as_str()
                                .unwrap()
                                .starts_with(f["path"].as_str().unwrap()))),
                    "{tag}: `import {module}` failed with `{err}`; findings:\n{}",
                    listing(&fs)
                );
            } else {
                panic!("{tag}: an import failure no rule names: {err}");
            }
            assert_eq!(code, 1, "{tag}");
        }
        // `ld.so --list` of each recorded extension: it fails exactly when a
        // finding names that object (or the library it lists as missing).
        for (path, e) in t["elf"].as_object().unwrap() {
            let Some(list) = e.get("ld_so_list") else {
                continue;
            };
            let named = fs.iter().any(|f| {
                f["rule"] == "shared-library-missing"
                    && f["needed_by"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|n| n == path.as_str())
            });
            assert_eq!(
                list["exit"] != 0,
                named,
                "{tag}: {path}: ld.so --list {list}; findings:\n{}",
                listing(&fs)
            );
            // What we report missing is what `readelf -d` lists as NEEDED.
            for f in fs.iter().filter(|f| f["rule"] == "shared-library-missing") {
                let lib = f["library"].as_str().unwrap();
                if f["needed_by"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n == path.as_str())
                {
                    assert!(
                        e["readelf_d"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|l| l.as_str().unwrap().ends_with(&format!("[{lib}]"))),
                        "{tag}: {lib} is not a NEEDED of {path}"
                    );
                }
            }
        }
        // The wrong-platform image: its config says arm64, its ELF says x86-64.
        if tag == "arm64-x86-ext" {
            let machines: BTreeSet<&str> = t["elf"]
                .as_object()
                .unwrap()
                .values()
                .map(|e| e["machine"].as_str().unwrap())
                .collect();
            assert_eq!(machines, BTreeSet::from(["Advanced Micro Devices X86-64"]));
            let paths: BTreeSet<&str> = fs
                .iter()
                .filter(|f| f["rule"] == "elf-arch-mismatch")
                .map(|f| f["path"].as_str().unwrap())
                .collect();
            assert!(paths.contains("/usr/bin/python3.11"), "{}", listing(&fs));
            assert!(
                paths.contains("/opt/venv/lib/python3.11/site-packages/pyzmq-26.2.0.dist-info"),
                "{}",
                listing(&fs)
            );
            continue;
        }
        // Healthy images stay silent.
        if failed.is_empty() {
            assert!(
                fs.is_empty(),
                "{tag}: no import failed, but:\n{}",
                listing(&fs)
            );
        } else {
            assert!(
                fs.iter().all(|f| f["rule"] != "elf-arch-mismatch"),
                "{tag}:\n{}",
                listing(&fs)
            );
        }
    }
}

/// The cause once, with its layer: the purge of `libodbc2`.
#[test]
fn r12_the_deleting_layer_is_named() {
    let image = format!("{}:odbc-purged", layout().display());
    let (_, fs) = audit(&image, &[]);
    assert_eq!(fs.len(), 1, "{}", listing(&fs));
    let f = &fs[0];
    assert_eq!(f["path"], "/usr/lib/x86_64-linux-gnu/libodbc.so.2");
    assert_eq!(f["layer"], 4);
    assert_eq!(f["created_by"], "RUN apt-get purge -y libodbc2");
    assert_eq!(f["modules"], json!(["pyodbc (/opt/venv)"]));
}

// ---------------------------------------------------------------------------
// Synthetic ELF files
// ---------------------------------------------------------------------------

/// A minimal ELF64 little-endian shared object: one `PT_LOAD` covering the
/// file, a `PT_DYNAMIC`, `.dynstr` before `.dynamic` (as linkers lay it
/// out), and the given dynamic names.
struct Elf<'a> {
    machine: u16,
    needed: &'a [&'a str],
    soname: Option<&'a str>,
    rpath: Option<&'a str>,
    runpath: Option<&'a str>,
}

impl Elf<'_> {
    fn so(needed: &[&'static str]) -> Elf<'static> {
        let needed: &'static [&'static str] = Box::leak(needed.to_vec().into_boxed_slice());
        Elf {
            machine: 62,
            needed,
            soname: None,
            rpath: None,
            runpath: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut add = |s: &str| {
            let off = strtab.len() as u64;
            strtab.extend(s.as_bytes());
            strtab.push(0);
            off
        };
        let mut dynamic: Vec<(u64, u64)> = Vec::new();
        for n in self.needed {
            dynamic.push((1, add(n)));
        }
        if let Some(s) = self.soname {
            dynamic.push((14, add(s)));
        }
        if let Some(s) = self.rpath {
            dynamic.push((15, add(s)));
        }
        if let Some(s) = self.runpath {
            dynamic.push((29, add(s)));
        }
        let strtab_off = 64 + 2 * 56u64;
        let dyn_off = (strtab_off + strtab.len() as u64).div_ceil(8) * 8;
        dynamic.push((5, strtab_off));
        dynamic.push((10, strtab.len() as u64));
        dynamic.push((0, 0));
        let dyn_size = dynamic.len() as u64 * 16;
        let total = dyn_off + dyn_size;
        let mut b = Vec::new();
        b.extend([0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        b.extend([0u8; 8]);
        b.extend(3u16.to_le_bytes()); // ET_DYN
        b.extend(self.machine.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(0u64.to_le_bytes()); // entry
        b.extend(64u64.to_le_bytes()); // phoff
        b.extend(0u64.to_le_bytes()); // shoff
        b.extend(0u32.to_le_bytes());
        b.extend(64u16.to_le_bytes());
        b.extend(56u16.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(64u16.to_le_bytes());
        b.extend(0u16.to_le_bytes());
        b.extend(0u16.to_le_bytes());
        let ph = |b: &mut Vec<u8>, ty: u32, flags: u32, off: u64, size: u64| {
            b.extend(ty.to_le_bytes());
            b.extend(flags.to_le_bytes());
            for v in [off, off, off, size, size, 8] {
                b.extend(v.to_le_bytes());
            }
        };
        ph(&mut b, 1, 6, 0, total);
        ph(&mut b, 2, 6, dyn_off, dyn_size);
        b.extend(&strtab);
        b.resize(dyn_off as usize, 0);
        for (t, v) in dynamic {
            b.extend(t.to_le_bytes());
            b.extend(v.to_le_bytes());
        }
        b
    }
}

/// A `glibc-ld.so.cache1.1` with x86-64 entries.
fn ld_so_cache(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut b = b"glibc-ld.so.cache1.1".to_vec();
    b.extend((entries.len() as u32).to_le_bytes());
    b.resize(48, 0);
    let strings_at = 48 + 24 * entries.len();
    let mut strings = Vec::new();
    for (name, path) in entries {
        let key = strings_at + strings.len();
        strings.extend(name.as_bytes());
        strings.push(0);
        let value = strings_at + strings.len();
        strings.extend(path.as_bytes());
        strings.push(0);
        b.extend(0x0303i32.to_le_bytes());
        b.extend((key as u32).to_le_bytes());
        b.extend((value as u32).to_le_bytes());
        b.extend([0u8; 12]);
    }
    b.extend(strings);
    b
}

const SITE: &str = "opt/venv/lib/python3.11/site-packages";

/// A venv on a tiny "Python" whose interpreter is an ELF executable needing
/// only `libc.so.6`, plus `ext` (relative to the site dir) and `extra`.
fn venv_image(
    dir: &Path,
    ext: &[(&str, Vec<u8>)],
    extra: impl FnOnce(LayerBuilder) -> LayerBuilder,
    config: Value,
) -> String {
    let python = Elf {
        machine: 62,
        needed: &["libc.so.6"],
        soname: None,
        rpath: None,
        runpath: None,
    }
    .bytes();
    let libc = Elf {
        soname: Some("libc.so.6"),
        ..Elf::so(&[])
    }
    .bytes();
    let mut base = LayerBuilder::new()
        .dir("usr/lib/x86_64-linux-gnu", 0o755)
        .file("usr/lib/x86_64-linux-gnu/libc.so.6", &libc, 0o755)
        .file("usr/bin/python3.11", &python, 0o755)
        .symlink("usr/bin/python3", "python3.11")
        .file("usr/lib/python3.11/os.py", b"", 0o644)
        .dir("usr/lib/python3.11/lib-dynload", 0o755)
        .file(
            "opt/venv/pyvenv.cfg",
            b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
            0o644,
        )
        .symlink("opt/venv/bin/python", "/usr/bin/python3.11")
        .dir(SITE, 0o755);
    for (rel, bytes) in ext {
        base = base.file(&format!("{SITE}/{rel}"), bytes, 0o755);
    }
    let layers = vec![extra(base).build()];
    util::oci_layout(dir, &layers, util::Compression::None, config);
    format!("{}:{}", dir.display(), util::TAG)
}

fn missing(fs: &[Value]) -> BTreeSet<String> {
    fs.iter()
        .filter(|f| f["rule"] == "shared-library-missing")
        .map(|f| f["library"].as_str().unwrap().to_string())
        .collect()
}

/// Each search step of `ld.so`, fired and silent.
#[test]
fn r12_the_loader_search_order() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = |name: &'static str| {
        Elf {
            soname: Some(name),
            ..Elf::so(&["libc.so.6"])
        }
        .bytes()
    };
    let mut n = 0;
    let mut run =
        |ext: Vec<(&str, Vec<u8>)>, extra: &dyn Fn(LayerBuilder) -> LayerBuilder, config: Value| {
            n += 1;
            let image = venv_image(&tmp.path().join(n.to_string()), &ext, extra, config);
            audit(&image, &[]).1
        };
    let ext = |e: Elf<'static>| vec![("m/_x.cpython-311-x86_64-linux-gnu.so", e.bytes())];

    // Not anywhere: reported, with the module at risk.
    let fs = run(
        ext(Elf::so(&["libfoo.so.1", "libc.so.6"])),
        &|l| l,
        json!({}),
    );
    assert_eq!(missing(&fs), BTreeSet::from(["libfoo.so.1".to_string()]));
    assert_eq!(fs[0]["modules"], json!(["m._x (/opt/venv)"]));

    // In the system directory: found.
    let fs = run(
        ext(Elf::so(&["libfoo.so.1"])),
        &|l| {
            l.file(
                "usr/lib/x86_64-linux-gnu/libfoo.so.1",
                &lib("libfoo.so.1"),
                0o755,
            )
        },
        json!({}),
    );
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));

    // RUNPATH with $ORIGIN (the manylinux `.libs` layout): found; the same
    // library one directory off: missing.
    let with_runpath = |rp: &'static str| Elf {
        runpath: Some(rp),
        ..Elf::so(&["libbar-1234.so"])
    };
    let bundled = |l: LayerBuilder| {
        l.file(
            &format!("{SITE}/m.libs/libbar-1234.so"),
            &lib("libbar-1234.so"),
            0o755,
        )
    };
    let fs = run(ext(with_runpath("$ORIGIN/../m.libs")), &bundled, json!({}));
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));
    let fs = run(ext(with_runpath("$ORIGIN/m.libs")), &bundled, json!({}));
    assert_eq!(missing(&fs), BTreeSet::from(["libbar-1234.so".to_string()]));

    // RPATH is ignored when RUNPATH is present; used when it is not.
    let both = Elf {
        rpath: Some("/opt/lib"),
        runpath: Some("/nowhere"),
        ..Elf::so(&["libq.so"])
    };
    let in_opt = |l: LayerBuilder| l.file("opt/lib/libq.so", &lib("libq.so"), 0o755);
    let fs = run(ext(both), &in_opt, json!({}));
    assert_eq!(missing(&fs), BTreeSet::from(["libq.so".to_string()]));
    let rpath_only = Elf {
        rpath: Some("/opt/lib"),
        ..Elf::so(&["libq.so"])
    };
    let fs = run(ext(rpath_only), &in_opt, json!({}));
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));

    // LD_LIBRARY_PATH from the image config's Env.
    let env = json!({"config": {"Env": ["PATH=/usr/bin", "LD_LIBRARY_PATH=/opt/lib"]}});
    let fs = run(ext(Elf::so(&["libq.so"])), &in_opt, env);
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));

    // The image's /etc/ld.so.cache; without it, /opt/lib is not searched
    // (ld.so.conf alone is not read by ld.so).
    let cached = |l: LayerBuilder| {
        in_opt(l)
            .file(
                "etc/ld.so.cache",
                &ld_so_cache(&[("libq.so", "/opt/lib/libq.so")]),
                0o644,
            )
            .file("etc/ld.so.conf", b"/opt/lib\n", 0o644)
    };
    let fs = run(ext(Elf::so(&["libq.so"])), &cached, json!({}));
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));
    let conf_only = |l: LayerBuilder| in_opt(l).file("etc/ld.so.conf", b"/opt/lib\n", 0o644);
    let fs = run(ext(Elf::so(&["libq.so"])), &conf_only, json!({}));
    assert_eq!(missing(&fs), BTreeSet::from(["libq.so".to_string()]));

    // A library of another machine in the way is skipped: missing.
    let arm = Elf {
        machine: 183,
        soname: Some("libfoo.so.1"),
        ..Elf::so(&[])
    }
    .bytes();
    let fs = run(
        ext(Elf::so(&["libfoo.so.1"])),
        &|l| l.file("usr/lib/x86_64-linux-gnu/libfoo.so.1", &arm, 0o755),
        json!({}),
    );
    assert_eq!(missing(&fs), BTreeSet::from(["libfoo.so.1".to_string()]));

    // A symlinked library resolves inside the image (chroot-style).
    let fs = run(
        ext(Elf::so(&["libfoo.so.1"])),
        &|l| {
            l.file(
                "usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3",
                &lib("libfoo.so.1"),
                0o755,
            )
            .symlink("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.2.3")
        },
        json!({}),
    );
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));

    // Another loaded object's SONAME satisfies the name (the interpreter's
    // closure is loaded first): the module needs `libc.so.6` only by soname.
    let fs = run(ext(Elf::so(&["libc.so.6"])), &|l| l, json!({}));
    assert!(missing(&fs).is_empty(), "{}", listing(&fs));
}

/// A venv made by Python 3.11 whose `bin/python` is now a 3.13: fires; the
/// same venv on its own 3.11, or with a 3.13 site dir: silent.
#[test]
fn r12_venv_python_version_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let build = |name: &str, target: &str, extra: &dyn Fn(LayerBuilder) -> LayerBuilder| {
        let layers = vec![extra(
            LayerBuilder::new()
                .file("usr/bin/python3.11", b"\x7fELF", 0o755)
                .file("usr/bin/python3.13", b"\x7fELF", 0o755)
                .file("usr/lib/python3.13/os.py", b"", 0o644)
                .file(
                    "opt/venv/pyvenv.cfg",
                    b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
                    0o644,
                )
                .symlink("opt/venv/bin/python", target)
                .dir("opt/venv/lib/python3.11/site-packages", 0o755),
        )
        .build()];
        let dir = tmp.path().join(name);
        util::oci_layout(&dir, &layers, util::Compression::None, json!({}));
        audit(&format!("{}:{}", dir.display(), util::TAG), &[]).1
    };
    let fs = build("moved", "/usr/bin/python3.13", &|l| l);
    let hits: Vec<&Value> = fs
        .iter()
        .filter(|f| f["rule"] == "venv-python-version-mismatch")
        .collect();
    assert_eq!(hits.len(), 1, "{}", listing(&fs));
    assert_eq!(hits[0]["path"], "/opt/venv");
    assert_eq!(hits[0]["runs"], "3.13");
    assert_eq!(hits[0]["created_with"], "3.11");

    let fs = build("same", "/usr/bin/python3.11", &|l| l);
    assert!(fs.is_empty(), "{}", listing(&fs));
    let fs = build("both", "/usr/bin/python3.13", &|l| {
        l.dir("opt/venv/lib/python3.13/site-packages", 0o755)
    });
    assert!(fs.is_empty(), "{}", listing(&fs));
}

/// The same image through the streaming reader (gzip layers) and through
/// positioned reads (plain layers) gives the same native findings.
#[test]
fn r12_streaming_and_seekable_layers_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let ext = Elf {
        runpath: Some("$ORIGIN/../m.libs"),
        ..Elf::so(&["libbar-1234.so", "libgone.so.3"])
    };
    let libc = Elf {
        soname: Some("libc.so.6"),
        ..Elf::so(&[])
    };
    let layers = vec![LayerBuilder::new()
        .file("usr/lib/x86_64-linux-gnu/libc.so.6", &libc.bytes(), 0o755)
        .file(
            "usr/bin/python3.11",
            &Elf::so(&["libc.so.6"]).bytes(),
            0o755,
        )
        .file(
            "opt/venv/pyvenv.cfg",
            b"home = /usr/bin\nversion = 3.11.2\n",
            0o644,
        )
        .symlink("opt/venv/bin/python", "/usr/bin/python3.11")
        .file(
            &format!("{SITE}/m/_x.cpython-311-x86_64-linux-gnu.so"),
            &ext.bytes(),
            0o755,
        )
        .build()];
    let mut results = Vec::new();
    for (name, c) in [
        ("plain", util::Compression::None),
        ("gzip", util::Compression::Gzip),
    ] {
        let dir = tmp.path().join(name);
        util::oci_layout(&dir, &layers, c, json!({}));
        let (_, fs) = audit(&format!("{}:{}", dir.display(), util::TAG), &["--no-cache"]);
        results.push(missing(&fs));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(
        results[0],
        BTreeSet::from(["libbar-1234.so".to_string(), "libgone.so.3".to_string()])
    );
}
