//! Issue 10, images the world writes that imgaudit used to refuse: layer
//! entry names as Docker and containerd treat them (a kaniko `/` root entry,
//! absolute names, names that are not UTF-8), each merged tree compared
//! with `umoci unpack` through the oracle's helpers; and compressed outer
//! archives (`.tar.gz`, `.tar.xz`, `.tar.zst`, a gzip OCI archive named
//! `.tar`), made here with the `gzip`/`xz`/`zstd` tools from the derived
//! fixtures, each giving the `files --format jsonl` of the uncompressed
//! input, from a path and from stdin.

use std::path::{Path, PathBuf};
use std::process::Command;

use imgaudit::tree::ROOT;
use serde_json::json;

use crate::formats::fixtures;
use crate::oracle::{check, umoci_tree};
use crate::util::{
    files_jsonl, header, imgaudit, imgaudit_in, oci_layout, open, parse_jsonl, set_link,
    Compression, LayerBuilder, TAG,
};

/// Write `layers` as a plain OCI layout, open it with imgaudit and compare
/// its merged tree with umoci's rootfs of the same layout; the image.
fn matches_umoci(label: &str, layers: &[Vec<u8>]) -> (tempfile::TempDir, imgaudit::image::Image) {
    let tmp = tempfile::tempdir().unwrap();
    let l = oci_layout(
        &tmp.path().join("oci"),
        layers,
        Compression::None,
        json!({}),
    );
    let image = open(&l.root);
    let (_bundle, theirs) = umoci_tree(&l.root, TAG);
    let n = check(label, &theirs, &image, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(n > 0, "{label}: nothing compared");
    (tmp, image)
}

/// The paths of `files --format jsonl` of the layout in `dir`.
fn listed_paths(dir: &Path) -> Vec<String> {
    let out = files_jsonl(&dir.join("oci").display().to_string(), &[], None);
    parse_jsonl(&out)
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect()
}

// Proves: a kaniko-style layer, whose first entry is `/` (the root's own
// attributes), is read: the root takes the entry's mode, the rest of the
// tree is exactly what umoci unpacks, in the first layer and in a later one.
// See: issue 10 item 1
#[test]
fn r10_kaniko_root_entry_matches_umoci() {
    let kaniko = |file: &str| {
        LayerBuilder::new()
            .dir("/", 0o750)
            .dir("app/", 0o755)
            .file(file, b"print('hi')\n", 0o644)
            .build()
    };
    let (tmp, image) = matches_umoci(
        "kaniko `/` entry",
        &[kaniko("app/main.py"), kaniko("app/extra.py")],
    );
    assert_eq!(image.tree.node(ROOT).mode & 0o7777, 0o750);
    assert_eq!(
        listed_paths(tmp.path()),
        ["/app", "/app/extra.py", "/app/main.py"]
    );
}

// Proves: absolute entry names (`/etc/passwd`, a hardlink to `/etc/passwd`,
// an absolute symlink) are read with the `/` stripped, as moby and umoci do,
// and the merged tree equals umoci's.
// See: issue 10 item 1
#[test]
fn r10_absolute_names_match_umoci() {
    let layer = LayerBuilder::new()
        .dir("/etc", 0o755)
        .file("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644)
        .hardlink("/etc/passwd-", "/etc/passwd")
        .dir("/usr/bin", 0o755)
        .file("/usr/bin/tool", b"#!/bin/sh\n", 0o755)
        .symlink("/bin", "/usr/bin")
        .build();
    let upper = LayerBuilder::new().whiteout("/etc/passwd-").build();
    let (tmp, _image) = matches_umoci("absolute names", &[layer, upper]);
    assert_eq!(
        listed_paths(tmp.path()),
        [
            "/bin",
            "/etc",
            "/etc/passwd",
            "/usr",
            "/usr/bin",
            "/usr/bin/tool"
        ]
    );
}

/// A regular file named by raw bytes.
fn raw_file(b: LayerBuilder, name: &[u8], data: &[u8]) -> LayerBuilder {
    b.raw(
        &header(tar::EntryType::Regular, name, data.len() as u64, 0o644),
        data,
    )
}

// Proves: names that are not UTF-8 (Latin-1, as old packages ship) are read,
// not refused; two names that differ only in an invalid byte, and a real
// name spelled like the escape, stay three distinct entries; a symlink to a
// Latin-1 name resolves to it; the merged tree (names compared in the same
// encoding) equals umoci's, and so does it after a whiteout of one of them;
// `files` shows the escaped names in JSON and text.
// See: issue 10 item 1
#[test]
fn r10_latin1_names_match_umoci() {
    let mut link = header(tar::EntryType::Symlink, b"doc/latest", 0, 0o777);
    set_link(&mut link, b"caf\xe9.txt");
    let layer = raw_file(
        LayerBuilder::new().dir("doc", 0o755),
        b"doc/caf\xe9.txt",
        b"latin-1 e",
    )
    .raw(
        &header(tar::EntryType::Regular, b"doc/caf\xe8.txt", 1, 0o644),
        b"e",
    )
    .file("doc/caf\\xe9.txt", b"a real backslash", 0o644)
    .raw(&link, b"");
    let layer = layer.build();
    // A whiteout of a Latin-1 name deletes exactly that name.
    let upper = raw_file(LayerBuilder::new(), b"doc/.wh.caf\xe8.txt", b"").build();
    let (_tmp, deleted) = matches_umoci("Latin-1 names, whiteout", &[layer.clone(), upper]);
    assert!(deleted.tree.lstat("/doc/caf\\xe8.txt").is_err());
    assert!(deleted.tree.lstat("/doc/caf\\xe9.txt").is_ok());
    let (tmp, image) = matches_umoci("Latin-1 names", &[layer]);
    assert_eq!(
        listed_paths(tmp.path()),
        [
            "/doc",
            "/doc/caf\\\\xe9.txt",
            "/doc/caf\\xe8.txt",
            "/doc/caf\\xe9.txt",
            "/doc/latest"
        ]
    );
    let target = image
        .tree
        .stat("/doc/latest")
        .expect("the symlink resolves");
    assert_eq!(target.path, "/doc/caf\\xe9.txt");
    assert_eq!(image.tree.node(target.id).size, 9);
    // Text output: the stored (escaped) name, never a U+FFFD.
    let text = imgaudit(["files", &tmp.path().join("oci").display().to_string()]);
    let text = text.ok();
    assert!(text.contains("caf\\xe9.txt"), "{text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
}

/// `tool -c SRC > DST` (the compression tools all take `-c`).
fn compress_with(tool: &[&str], src: &Path, dst: &Path) -> PathBuf {
    let out = Command::new(tool[0])
        .args(&tool[1..])
        .arg("-c")
        .arg(src)
        .output()
        .unwrap_or_else(|e| panic!("`{}` is not installed (scripts/setup.sh): {e}", tool[0]));
    assert!(
        out.status.success(),
        "{tool:?} {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dst, &out.stdout).unwrap();
    dst.to_path_buf()
}

/// `files --format jsonl` of `compressed` equals that of `plain`, by path
/// and on stdin.
fn same_files(plain: &Path, compressed: &Path) {
    let want = files_jsonl(&plain.display().to_string(), &[], None);
    assert!(
        !parse_jsonl(&want).is_empty(),
        "{}: empty tree",
        plain.display()
    );
    let by_path = files_jsonl(&compressed.display().to_string(), &[], None);
    assert_eq!(by_path, want, "{} by path", compressed.display());
    let bytes = std::fs::read(compressed).unwrap();
    let by_stdin = files_jsonl("-", &[], Some(&bytes));
    assert_eq!(by_stdin, want, "{} on stdin", compressed.display());
}

// Proves: a `docker save` archive compressed with gzip, xz and zstd (the
// real tools, default settings but xz's fastest level) reads as the
// uncompressed archive, by path and on stdin; the format is sniffed, not
// taken from the name.
// See: issue 10 item 4
#[test]
fn r10_compressed_docker_archives() {
    let plain = fixtures().join("docker-archive/healthy.tar");
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["gzip"], "healthy.tar.gz"),
        (&["xz", "-1", "-T1"], "healthy.tar.xz"),
        (&["zstd", "-q"], "healthy.tar.zst"),
    ];
    for (tool, name) in cases {
        let compressed = compress_with(tool, &plain, &tmp.path().join(name));
        same_files(&plain, &compressed);
    }
}

// Proves: a gzip OCI archive named `.tar` (skopeo and podman hand these
// out) and an xz one read as the plain OCI archive, by path and on stdin.
// See: issue 10 item 4
#[test]
fn r10_compressed_oci_archives() {
    let plain = fixtures().join("oci-archive/healthy.tar");
    let tmp = tempfile::tempdir().unwrap();
    let gz_named_tar = compress_with(&["gzip"], &plain, &tmp.path().join("healthy-gzip.tar"));
    same_files(&plain, &gz_named_tar);
    let xz = compress_with(
        &["xz", "-1", "-T1"],
        &plain,
        &tmp.path().join("healthy.tar.xz"),
    );
    same_files(&plain, &xz);
}

/// Run `imgaudit files` on `bytes` by path and on stdin: exit 2, one line
/// each, which contains every part.
fn refused(bytes: &[u8], parts: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("image.tar.xz");
    std::fs::write(&p, bytes).unwrap();
    for (input, stdin) in [
        (p.display().to_string(), None),
        ("-".to_string(), Some(bytes)),
    ] {
        let out = imgaudit_in(None, ["files", input.as_str()], stdin);
        assert_eq!(out.code, 2, "{input}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{input}: {}", out.stderr);
        for part in parts {
            assert!(
                out.stderr.contains(part),
                "{input}: no `{part}` in {}",
                out.stderr
            );
        }
    }
}

// Proves: a truncated xz archive, a zstd stream of garbage and an archive
// compressed twice are refused with one line naming the compression (exit
// 2), never reported as a bad tar or read as an image.
// See: issue 10 item 4
#[test]
fn r10_broken_compressed_archives() {
    let plain = fixtures().join("oci-archive/healthy.tar");
    let tmp = tempfile::tempdir().unwrap();
    let xz = std::fs::read(compress_with(
        &["xz", "-1", "-T1"],
        &plain,
        &tmp.path().join("a.tar.xz"),
    ))
    .unwrap();
    refused(&xz[..xz.len() / 2], &["xz archive"]);
    let mut zst = vec![0x28, 0xb5, 0x2f, 0xfd];
    zst.extend_from_slice(&[0xff; 600]);
    refused(&zst, &["zstd archive"]);
    let gz = compress_with(&["gzip"], &plain, &tmp.path().join("a.tar.gz"));
    let twice = compress_with(&["gzip"], &gz, &tmp.path().join("a.tar.gz.gz"));
    refused(&std::fs::read(twice).unwrap(), &["compressed twice"]);
}
