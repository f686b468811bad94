//! Real-format fixtures: the images `testdata/derive-fixtures.sh` converts
//! from the OCI layout `testdata/images/oci` into `target/fixtures/` (legacy
//! and Docker 25+ `docker save`, containerd store, oci-archive, OCI dirs with
//! zstd and plain layers, a tarball with `manifest.json` last for stdin, a
//! tarball holding several images) must all give the merged tree of the
//! layout itself. The comparison is `files --format jsonl`, exact when the
//! layer counts agree, without the `layer` field otherwise (a conversion
//! that squashes or drops empty layers renumbers them but must not change
//! the tree).
//!
//! The fixtures are derived (or found up to date) once per test run, by a
//! `OnceLock`; with neither the script nor the fixtures, the tests fail and
//! say so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{files_jsonl, open_with, parse_jsonl, without_layer};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn layout() -> PathBuf {
    root().join("testdata/images/oci")
}

/// `target/fixtures`, brought up to date once per test run: the script is
/// idempotent (it skips when its stamp matches `index.json`), so running it
/// keeps the fixtures in step with the layout.
pub(crate) fn fixtures() -> PathBuf {
    static DERIVED: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = root().join("target/fixtures");
    let script = root().join("testdata/derive-fixtures.sh");
    let result = DERIVED.get_or_init(|| {
        if !script.exists() {
            return if dir.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "{} is missing and so is {}: the real-format fixtures are not built yet",
                    dir.display(),
                    script.display()
                ))
            };
        }
        let out = Command::new("bash")
            .arg(&script)
            .current_dir(root())
            .output()
            .map_err(|e| format!("running {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed (run scripts/setup.sh):\n{}{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        layout().join("index.json").exists(),
        "{} is missing",
        layout().display()
    );
    dir
}

/// `files --format jsonl` of the layout's tag, and its layer count.
fn reference(tag: &str) -> (String, usize) {
    let l = layout();
    let out = files_jsonl(&l.display().to_string(), &["--image", tag], None);
    let layers = open_with(&l, Some(tag), None).layers.len();
    (out, layers)
}

/// Assert `input` (with `extra` args, or piped when `stdin`) gives the
/// reference tree of `tag`.
fn assert_same_tree(tag: &str, input: &Path, extra: &[&str], stdin: bool) {
    assert!(input.exists(), "fixture {} is missing", input.display());
    let (want, want_layers) = reference(tag);
    assert!(!want.is_empty(), "{tag}: the reference tree is empty");
    let got = if stdin {
        let bytes = std::fs::read(input).unwrap();
        files_jsonl("-", extra, Some(&bytes))
    } else {
        files_jsonl(&input.display().to_string(), extra, None)
    };
    let got_layers = open_with(
        input,
        extra
            .iter()
            .position(|a| *a == "--image")
            .map(|i| extra[i + 1]),
        None,
    )
    .layers
    .len();
    if got_layers == want_layers {
        assert_eq!(
            got,
            want,
            "{} differs from {}:{tag}",
            input.display(),
            layout().display()
        );
    } else {
        assert_eq!(
            without_layer(&parse_jsonl(&got)),
            without_layer(&parse_jsonl(&want)),
            "{} ({got_layers} layers) differs from {}:{tag} ({want_layers} layers)",
            input.display(),
            layout().display()
        );
    }
}

// Proves: every legacy `docker save` fixture (`docker-archive/TAG.tar`) has
// the tree of the layout's TAG.
#[test]
fn docker_archive_fixtures() {
    let dir = fixtures().join("docker-archive");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
        if p.extension().is_some_and(|x| x == "tar") && stem != "multi" {
            assert_same_tree(&stem, &p, &[], false);
            n += 1;
        }
    }
    assert!(n > 0, "no docker-archive fixtures in {}", dir.display());
}

// Proves: skopeo's oci-archive of `healthy` is the same image.
#[test]
fn oci_archive_healthy() {
    assert_same_tree(
        "healthy",
        &fixtures().join("oci-archive/healthy.tar"),
        &[],
        false,
    );
}

// Proves: the OCI dir recompressed with zstd layers is the same image.
#[test]
fn oci_dir_zstd_healthy() {
    assert_same_tree(
        "healthy",
        &fixtures().join("oci-dir/healthy-zstd"),
        &[],
        false,
    );
}

// Proves: uncompressed layers labelled `…tar+gzip` (what skopeo 1.9 writes
// with `--dest-oci-accept-uncompressed-layers`) are read by their magic
// bytes, and give the same image.
#[test]
fn oci_dir_plain_mislabeled_healthy() {
    assert_same_tree(
        "healthy",
        &fixtures().join("oci-dir/healthy-plain-mislabeled"),
        &[],
        false,
    );
}

// Proves: the OCI dir with plain (uncompressed) layers is the same image.
#[test]
fn oci_dir_plain_healthy() {
    assert_same_tree(
        "healthy",
        &fixtures().join("oci-dir/healthy-plain"),
        &[],
        false,
    );
}

// Proves: Docker 25+'s `docker save` (manifest.json beside an OCI layout,
// classic store) is the same image.
#[test]
fn docker25_healthy() {
    assert_same_tree(
        "healthy",
        &fixtures().join("docker25/healthy.tar"),
        &[],
        false,
    );
}

// Proves: Docker's containerd-store `docker save` (gzip layers, index →
// manifest) is the same image.
#[test]
fn docker25_containerd_healthy() {
    assert_same_tree(
        "healthy",
        &fixtures().join("docker25-containerd/healthy.tar"),
        &[],
        false,
    );
}

// Proves: picking each image out of a tarball holding several (`--image`,
// Docker's implicit `:latest`) gives that image.
#[test]
fn docker_archive_multi_pick_each() {
    let multi = fixtures().join("docker-archive/multi.tar");
    assert_same_tree("healthy", &multi, &["--image", "healthy"], false);
    assert_same_tree(
        "launcher-deleted",
        &multi,
        &["--image", "launcher-deleted:latest"],
        false,
    );
}

// Proves: the docker tarball with `manifest.json` last, piped through stdin,
// is the same image (the one-pass reader decides layer order at the end),
// and so is the same file read from disk.
#[test]
fn stdin_manifest_last_healthy() {
    let p = fixtures().join("stdin-order/healthy-manifest-last.tar");
    assert_same_tree("healthy", &p, &[], true);
    assert_same_tree("healthy", &p, &[], false);
}

// Proves: the same with `manifest.json` and `repositories` first.
#[test]
fn stdin_manifest_first_healthy() {
    let p = fixtures().join("stdin-order/healthy-manifest-first.tar");
    assert_same_tree("healthy", &p, &[], true);
    assert_same_tree("healthy", &p, &[], false);
}

// Proves: the multi-platform tag opens for each of its platforms, each a
// non-empty tree, and the default platform (the host's, linux/amd64 here)
// is the amd64 image.
#[test]
fn multiarch_platforms() {
    let _ = fixtures();
    let l = layout().display().to_string();
    let amd64 = files_jsonl(
        &l,
        &["--image", "multiarch", "--platform", "linux/amd64"],
        None,
    );
    let arm64 = files_jsonl(
        &l,
        &["--image", "multiarch", "--platform", "linux/arm64"],
        None,
    );
    assert!(!amd64.is_empty() && !arm64.is_empty());
    let default = files_jsonl(&l, &["--image", "multiarch"], None);
    if imgaudit::source::Platform::host().arch == "amd64" {
        assert_eq!(default, amd64, "default platform is not linux/amd64");
    }
    let amd = open_with(&layout(), Some("multiarch"), Some("linux/amd64"));
    let arm = open_with(&layout(), Some("multiarch"), Some("linux/arm64"));
    assert_eq!(amd.resolved.config.architecture.as_deref(), Some("amd64"));
    assert_eq!(arm.resolved.config.architecture.as_deref(), Some("arm64"));
}
