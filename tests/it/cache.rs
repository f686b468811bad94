//! The fact cache end to end: a warm audit reads no layer and reports
//! exactly what the cold one did, on every fixture; changing the extractor
//! set misses; a tampered blob at the same path fails verification instead
//! of being served; corrupted records are ignored and rewritten; processes
//! sharing one cache directory agree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imgaudit::cache::FactCache;
use imgaudit::extract::{Action, Rule, Select, When};
use imgaudit::image::{self, Image, OpenOptions};
use imgaudit::source::{OpenRequest, Platform};
use serde_json::Value;

use crate::util::imgaudit;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn layout() -> PathBuf {
    root().join("testdata/images/oci")
}

fn tags() -> Vec<String> {
    crate::util::fixture_tags()
}

/// `imgaudit INPUT --format json --cache DIR`: (exit code, report without
/// the fields that name the run rather than the image).
fn audit(input: &str, cache: &Path) -> (i32, Value) {
    let out = imgaudit([
        input,
        "--format",
        "json",
        "--progress",
        "never",
        "--cache",
        cache.to_str().unwrap(),
    ]);
    assert!(
        out.code == 0 || out.code == 1,
        "imgaudit {input} failed ({}):\n{}",
        out.code,
        out.stderr
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    (out.code, v)
}

fn open(input: &Path, tag: Option<&str>, opts: &OpenOptions) -> Image {
    let req = OpenRequest {
        input: input.display().to_string(),
        tag: tag.map(String::from),
        platform: Platform::host(),
        verify: true,
        registry: None,
    };
    image::open_with(&req, opts, None).unwrap_or_else(|e| panic!("{}: {e}", input.display()))
}

fn python_opts(cache: &Path) -> OpenOptions {
    OpenOptions {
        extractors: Arc::new(imgaudit::python::extractors::extractors()),
        cache: Some(FactCache::open(cache).unwrap()),
        ..OpenOptions::default()
    }
}

#[test]
fn warm_audit_equals_cold_on_every_fixture() {
    let cache = tempfile::tempdir().unwrap();
    for tag in tags() {
        let input = format!("{}:{tag}", layout().display());
        let cold = audit(&input, cache.path());
        let warm = audit(&input, cache.path());
        assert_eq!(
            cold, warm,
            "{tag}: the warm audit differs from the cold one"
        );
        // The warm run was served entirely from the cache.
        let image = open(&layout(), Some(&tag), &python_opts(cache.path()));
        let cached: Vec<bool> = image.layers.iter().map(|l| l.from_cache).collect();
        assert!(
            cached.iter().all(|c| *c),
            "{tag}: layers from cache {cached:?}"
        );
    }
}

#[test]
fn changing_the_extractor_set_misses() {
    let cache = tempfile::tempdir().unwrap();
    let first = open(&layout(), Some("healthy"), &python_opts(cache.path()));
    assert!(
        first.layers.iter().all(|l| !l.from_cache),
        "a cold cache hit"
    );
    let again = open(&layout(), Some("healthy"), &python_opts(cache.path()));
    assert!(again.layers.iter().all(|l| l.from_cache));
    // Another set of extractors: the facts of the first are never served.
    let mut changed = imgaudit::python::extractors::extractors();
    changed.rules.push(Rule {
        select: Select::NameSuffix(".so"),
        action: Action::Head { bytes: 64 },
        when: When::Always,
    });
    let opts = OpenOptions {
        extractors: Arc::new(changed),
        ..python_opts(cache.path())
    };
    let other = open(&layout(), Some("healthy"), &opts);
    assert!(other.layers.iter().all(|l| !l.from_cache));
    // The merged trees agree all the same.
    assert_eq!(
        paths(&first),
        paths(&other),
        "same image, different extractors, different trees"
    );
    let none = OpenOptions {
        cache: Some(FactCache::open(cache.path()).unwrap()),
        ..OpenOptions::default()
    };
    assert!(open(&layout(), Some("healthy"), &none)
        .layers
        .iter()
        .all(|l| !l.from_cache));
}

/// Every path of the merged tree with its mode and size.
fn paths(image: &Image) -> Vec<String> {
    let mut out = Vec::new();
    image.tree.walk(imgaudit::tree::ROOT, |path, _, node| {
        out.push(format!("{path} {:o} {}", node.mode, node.size));
    });
    out
}

/// Copy a directory tree (an OCI layout) so a test may modify it.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// The largest blob of a layout: the biggest layer.
fn largest_blob(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
}

#[test]
fn a_tampered_blob_fails_verification_and_is_never_served() {
    // Both a plain layout (positioned reads, background hashing) and the
    // gzip one (inline hashing).
    let plain = root().join("target/fixtures/oci-dir/healthy-plain");
    for (src, tag) in [
        (plain.as_path(), None),
        (layout().as_path(), Some("healthy")),
    ] {
        if !src.exists() {
            panic!("{} is missing: run scripts/setup.sh", src.display());
        }
        let work = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let dir = work.path().join("layout");
        copy_dir(src, &dir);
        let input = match tag {
            Some(t) => format!("{}:{t}", dir.display()),
            None => dir.display().to_string(),
        };
        let (code, _) = audit(&input, cache.path());
        assert_eq!(code, 0);
        // Same path, same size, the old mtime put back: only the bytes and
        // the ctime differ.
        let blob = largest_blob(&dir);
        let meta = std::fs::metadata(&blob).unwrap();
        let mut bytes = std::fs::read(&blob).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&blob, &bytes).unwrap();
        filetime::set_file_mtime(
            &blob,
            filetime::FileTime::from_last_modification_time(&meta),
        )
        .unwrap();
        let out = imgaudit([
            input.as_str(),
            "--cache",
            cache.path().to_str().unwrap(),
            "--progress",
            "never",
        ]);
        assert_eq!(
            out.code, 2,
            "{input}: tampered blob accepted:\n{}",
            out.stdout
        );
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("mismatch") || out.stderr.contains("decompress"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn corrupted_records_are_ignored_and_rewritten() {
    let cache = tempfile::tempdir().unwrap();
    let input = format!("{}:incident-later-run", layout().display());
    let cold = audit(&input, cache.path());
    let facts = cache.path().join("facts");
    let mut n = 0;
    for e in std::fs::read_dir(&facts).unwrap() {
        let p = e.unwrap().path();
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes.len() - 7;
        bytes[at] ^= 1;
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&p, &bytes).unwrap();
        n += 1;
    }
    assert!(n > 0, "the cold run stored no facts");
    let after = audit(&input, cache.path());
    assert_eq!(cold, after);
    // Rewritten: the next open is served from the cache again.
    let image = open(
        &layout(),
        Some("incident-later-run"),
        &python_opts(cache.path()),
    );
    assert!(image.layers.iter().all(|l| l.from_cache));
}

#[test]
fn processes_sharing_one_cache_agree() {
    let cache = tempfile::tempdir().unwrap();
    let input = format!("{}:dependency-conflict", layout().display());
    let runs: Vec<(i32, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| audit(&input, cache.path())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &runs[1..] {
        assert_eq!(r, &runs[0]);
    }
    assert_eq!(audit(&input, cache.path()), runs[0]);
    let left: Vec<String> = std::fs::read_dir(cache.path().join("facts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

#[test]
fn a_copy_of_a_layout_is_served_once_its_blobs_hash_to_their_digests() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("copy");
    copy_dir(&layout(), &copy);
    let first = open(&layout(), Some("healthy"), &python_opts(cache.path()));
    assert!(first.layers.iter().all(|l| !l.from_cache));
    // Other files (new inodes, no verified record): each blob is hashed
    // (no inflate, no walk) and its facts served.
    let second = open(&copy, Some("healthy"), &python_opts(cache.path()));
    assert!(second.layers.iter().all(|l| l.from_cache));
    assert_eq!(paths(&first), paths(&second));
    // ... and the copy's verified records were written: the next open
    // hashes nothing (the records match without a hash).
    let records = std::fs::read_dir(cache.path().join("verified"))
        .unwrap()
        .count();
    assert_eq!(
        records,
        2 * first.layers.len(),
        "one record per layer per file"
    );
    // A copy whose blob was altered is read, and fails verification.
    let blob = largest_blob(&copy);
    let mut bytes = std::fs::read(&blob).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let out = imgaudit([
        format!("{}:healthy", copy.display()).as_str(),
        "--cache",
        cache.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}
