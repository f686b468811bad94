//! The differential oracle: imgaudit's merged tree must equal what the
//! reference implementation, `umoci unpack`, writes to disk — path for path:
//! type, permission bits, size, symlink target and the sha256 of every
//! file's bytes (imgaudit's through `MergedTree::sha256`).
//!
//! Inputs: every synthetic overlay case of `overlay::CASES`, and every tag
//! (every platform of a multi-platform tag) of the real fixture layout
//! `testdata/images/oci` when it exists.
//!
//! What is *not* compared, and why (each is a property of `umoci unpack
//! --rootless` writing to a real filesystem, not a difference in overlay
//! semantics):
//!
//! - uid/gid: rootless umoci never chowns; files belong to the user running
//!   the test, and the image's owner goes into the `user.rootlesscontainers`
//!   xattr (a protobuf) instead.
//! - mtime/atime: not part of the merged-tree contract.
//! - the mode of symlinks: Linux symlinks have no mode of their own (always
//!   0777 on disk), and umoci never chmods them.
//! - the size of directories, symlinks and special files: on disk it is a
//!   filesystem artefact (block size, target length); imgaudit reports 0.
//! - character and block devices: rootless umoci cannot `mknod` them and
//!   writes an empty regular file in their place (its `tar_extract.go`,
//!   "creating empty file in place of device"), with the header's permission
//!   bits (umoci 0.4.7; newer versions leave it at 0000). Such a pair is
//!   accepted only in exactly that shape: empty file, same permission bits.
//! - the root directory itself: umoci creates `rootfs/` for the bundle.
//!
//! A missing `umoci` fails the test (it is installed by `scripts/setup.sh`):
//! skipping would let the overlay drift from the reference unnoticed.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use imgaudit::image::Image;
use imgaudit::tree::{Kind, TreeError, ROOT};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::overlay::CASES;
use crate::util::{digest, hex_of, oci_layout, open_with, Compression, TAG};

/// What is compared of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    kind: &'static str,
    /// Permission bits incl. setuid/setgid/sticky; `None` for symlinks.
    mode: Option<u32>,
    /// Files only.
    size: Option<u64>,
    /// Symlinks only.
    target: Option<String>,
    /// Files only; `None` on the imgaudit side when the bytes went by in a
    /// compressed stream and were not kept (counted, never compared).
    sha256: Option<String>,
}

fn umoci() -> &'static str {
    let path = "/usr/bin/umoci";
    let found = Path::new(path).exists()
        || Command::new("umoci")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`umoci` is not installed: the differential oracle needs it; run scripts/setup.sh"
    );
    if Path::new(path).exists() {
        path
    } else {
        "umoci"
    }
}

/// `umoci unpack --rootless --image LAYOUT:TAG` into a temp bundle, then
/// the rootfs, walked without following symlinks.
pub(crate) fn umoci_tree(layout: &Path, tag: &str) -> (tempfile::TempDir, BTreeMap<String, Seen>) {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let out = Command::new(umoci())
        .arg("unpack")
        .arg("--rootless")
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(&bundle)
        .output()
        .expect("run umoci");
    assert!(
        out.status.success(),
        "umoci unpack {}:{tag} failed:\n{}",
        layout.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let rootfs = bundle.join("rootfs");
    let mut seen = BTreeMap::new();
    walk_disk(&rootfs, &rootfs, &mut seen);
    (tmp, seen)
}

fn walk_disk(root: &Path, dir: &Path, seen: &mut BTreeMap<String, Seen>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let ft = meta.file_type();
        let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
        let perm = meta.mode() & 0o7777;
        let entry = if ft.is_dir() {
            walk_disk(root, &p, seen);
            Seen::other("dir", perm)
        } else if ft.is_symlink() {
            Seen {
                kind: "symlink",
                mode: None,
                size: None,
                target: Some(std::fs::read_link(&p).unwrap().display().to_string()),
                sha256: None,
            }
        } else if ft.is_file() {
            let mut h = Sha256::new();
            let mut f =
                std::fs::File::open(&p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Seen {
                kind: "file",
                mode: Some(perm),
                size: Some(meta.len()),
                target: None,
                sha256: Some(hex::encode(h.finalize())),
            }
        } else if ft.is_fifo() {
            Seen::other("fifo", perm)
        } else if ft.is_char_device() {
            Seen::other("char", perm)
        } else if ft.is_block_device() {
            Seen::other("block", perm)
        } else {
            Seen::other("socket", perm)
        };
        seen.insert(rel, entry);
    }
}

impl Seen {
    fn other(kind: &'static str, mode: u32) -> Seen {
        Seen {
            kind,
            mode: Some(mode),
            size: None,
            target: None,
            sha256: None,
        }
    }
}

/// imgaudit's merged tree in the same shape; also the number of files whose
/// bytes were not available (compressed, not captured).
fn imgaudit_tree(image: &Image) -> (BTreeMap<String, Seen>, usize) {
    let tree = &image.tree;
    let mut seen = BTreeMap::new();
    let mut unavailable = 0;
    tree.walk(ROOT, |path, id, node| {
        let perm = node.mode & 0o7777;
        let entry = match node.kind {
            Kind::File => Seen {
                kind: "file",
                mode: Some(perm),
                size: Some(node.size),
                target: None,
                sha256: match tree.sha256(id) {
                    Ok(h) => Some(hex::encode(h)),
                    Err(TreeError::ContentUnavailable(_)) => {
                        unavailable += 1;
                        None
                    }
                    Err(e) => panic!("sha256 of {path}: {e}"),
                },
            },
            Kind::Symlink => Seen {
                kind: "symlink",
                mode: None,
                size: None,
                target: node.link.as_deref().map(String::from),
                sha256: None,
            },
            k => Seen::other(k.as_str(), perm),
        };
        seen.insert(path.to_string(), entry);
    });
    (seen, unavailable)
}

/// The differences between umoci's rootfs and imgaudit's tree, one readable
/// line each, after the documented deviations.
fn differences(umoci: &BTreeMap<String, Seen>, ours: &BTreeMap<String, Seen>) -> Vec<String> {
    let mut diffs = Vec::new();
    for (path, u) in umoci {
        let Some(o) = ours.get(path) else {
            diffs.push(format!("{path}: only in umoci: {u:?}"));
            continue;
        };
        // Rootless device stand-in: an empty regular file (umoci 0.4.7
        // then applies the header's permission bits to it).
        if matches!(o.kind, "char" | "block") {
            if !(u.kind == "file" && u.mode == o.mode && u.size == Some(0)) {
                diffs.push(format!("{path}: imgaudit {o:?}, umoci {u:?}"));
            }
            continue;
        }
        if u.kind != o.kind {
            diffs.push(format!(
                "{path}: type: umoci {}, imgaudit {}",
                u.kind, o.kind
            ));
            continue;
        }
        if u.mode != o.mode {
            diffs.push(format!(
                "{path}: mode: umoci {:04o}, imgaudit {:04o}",
                u.mode.unwrap_or(0),
                o.mode.unwrap_or(0)
            ));
        }
        if u.size != o.size {
            diffs.push(format!(
                "{path}: size: umoci {:?}, imgaudit {:?}",
                u.size, o.size
            ));
        }
        if u.target != o.target {
            diffs.push(format!(
                "{path}: target: umoci {:?}, imgaudit {:?}",
                u.target, o.target
            ));
        }
        if o.sha256.is_some() && u.sha256 != o.sha256 {
            diffs.push(format!(
                "{path}: content: umoci sha256:{}, imgaudit sha256:{}",
                u.sha256.as_deref().unwrap_or("-"),
                o.sha256.as_deref().unwrap_or("-")
            ));
        }
    }
    for (path, o) in ours {
        if !umoci.contains_key(path) {
            diffs.push(format!("{path}: only in imgaudit: {o:?}"));
        }
    }
    diffs
}

/// Compare imgaudit's tree of one image with umoci's rootfs of it; the
/// number of entries compared, or the full list of differences.
pub(crate) fn check(
    label: &str,
    theirs: &BTreeMap<String, Seen>,
    image: &Image,
    allow_uncaptured: bool,
) -> Result<usize, String> {
    let (ours, unavailable) = imgaudit_tree(image);
    if !allow_uncaptured && unavailable > 0 {
        return Err(format!(
            "{label}: {unavailable} files' content unavailable from imgaudit"
        ));
    }
    let diffs = differences(theirs, &ours);
    if !diffs.is_empty() {
        return Err(format!(
            "{label}: imgaudit and umoci disagree on {} of {} entries:\n  {}",
            diffs.len(),
            theirs.len().max(ours.len()),
            diffs.join("\n  ")
        ));
    }
    eprintln!(
        "oracle: {label}: {} entries compared with umoci{}",
        theirs.len(),
        if unavailable > 0 {
            format!(" ({unavailable} files' bytes not captured, content not compared)")
        } else {
            String::new()
        }
    );
    Ok(theirs.len())
}

/// Fail with every error collected, or report the total.
fn verdict(what: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of the {what} differ from umoci:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("oracle: {what}: {total} entries compared");
}

// Proves: for every synthetic overlay case (opaque markers, whiteouts,
// re-adds, type changes, hardlinks, `./` and long names, symlinked parents,
// dangling symlinks, loops, climbing symlinks, empty layers, duplicates,
// special files, waste), and for every prefix of its layers (each
// intermediate state too), imgaudit's merged tree is exactly what umoci
// unpacks, contents included.
#[test]
fn synthetic_cases_match_umoci() {
    let mut total = 0;
    let mut failures = Vec::new();
    for case in CASES {
        let layers = (case.layers)();
        for n in 1..=layers.len() {
            let tmp = tempfile::tempdir().unwrap();
            // Plain layers, so every file's bytes can be hashed by imgaudit.
            let l = oci_layout(
                &tmp.path().join("oci"),
                &layers[..n],
                Compression::None,
                serde_json::json!({}),
            );
            let image = crate::util::open(&l.root);
            let (_bundle, theirs) = umoci_tree(&l.root, TAG);
            let label = format!("{} (layers 0..{n})", case.name);
            match check(&label, &theirs, &image, false) {
                Ok(0) if n == layers.len() => failures.push(format!("{label}: nothing compared")),
                Ok(k) => total += k,
                Err(e) => failures.push(e),
            }
        }
    }
    verdict(
        &format!("{} synthetic cases", CASES.len()),
        total,
        &failures,
    );
}

fn fixture_layout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/images/oci")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn blob_file(layout: &Path, digest: &str) -> PathBuf {
    layout.join("blobs/sha256").join(hex_of(digest))
}

fn is_index(d: &Value) -> bool {
    let mt = d["mediaType"].as_str().unwrap_or("");
    mt.contains("image.index") || mt.contains("manifest.list")
}

/// `(manifest digest, platform)` for a descriptor: itself, or every
/// platform of the image index it points at.
fn image_manifests(layout: &Path, d: &Value, out: &mut Vec<(String, Option<String>)>) {
    let digest = d["digest"].as_str().unwrap().to_string();
    if !is_index(d) {
        let platform = d.get("platform").map(|p| {
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                s.push('/');
                s.push_str(v);
            }
            s
        });
        out.push((digest, platform));
        return;
    }
    let index = read_json(&blob_file(layout, &digest));
    for m in index["manifests"].as_array().unwrap() {
        // Attestation manifests (buildx) carry `unknown/unknown`: no image.
        if m["platform"]["os"] == "unknown" {
            continue;
        }
        image_manifests(layout, m, out);
    }
}

fn decompress(blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if blob.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(blob)
            .read_to_end(&mut out)
            .unwrap();
        out
    } else if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::decode_all(blob).unwrap()
    } else {
        blob.to_vec()
    }
}

/// Add one image of `layout` to the layout at `dest`, with every layer
/// decompressed (the same uncompressed tar streams, checked against the
/// config's `diff_ids`, stored under their diff_id), the config blob copied
/// byte for byte, and `index.json` descriptor named `name` returned. Layers
/// shared between images are decompressed and written once.
fn add_decompressed(layout: &Path, manifest_digest: &str, dest: &Path, name: &str) -> Value {
    let blobs = dest.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let manifest = read_json(&blob_file(layout, manifest_digest));
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config_bytes = std::fs::read(blob_file(layout, config_digest)).unwrap();
    std::fs::write(blobs.join(hex_of(config_digest)), &config_bytes).unwrap();
    let config: Value = serde_json::from_slice(&config_bytes).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let mut layers = Vec::new();
    for (i, l) in manifest["layers"].as_array().unwrap().iter().enumerate() {
        let diff_id = diff_ids[i].as_str().unwrap();
        let plain = blobs.join(hex_of(diff_id));
        if !plain.exists() {
            let blob = std::fs::read(blob_file(layout, l["digest"].as_str().unwrap())).unwrap();
            let tar = decompress(&blob);
            assert_eq!(
                digest(&tar),
                diff_id,
                "layer {i} of {manifest_digest} does not match its diff_id"
            );
            std::fs::write(&plain, &tar).unwrap();
        }
        layers.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": diff_id,
            "size": std::fs::metadata(&plain).unwrap().len(),
        }));
    }
    let mut m = manifest.clone();
    m["layers"] = Value::Array(layers);
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = digest(&bytes);
    std::fs::write(blobs.join(hex_of(&d)), &bytes).unwrap();
    serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": d,
        "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": name},
    })
}

// Proves: for every tag (and every platform of a multi-platform tag) of the
// real fixture layout, imgaudit's merged tree equals umoci's rootfs,
// contents included. umoci unpacks each image once, from a copy of the
// layout with decompressed layers (the very same tar streams); imgaudit
// reads the image twice: as stored, through the tag and platform a user
// passes (compressed layers: metadata, plus the bytes imgaudit captured),
// and from the decompressed copy (every file's bytes). Until the fixture
// exists only the synthetic cases above are asserted.
#[test]
fn fixture_images_match_umoci() {
    let layout = fixture_layout();
    if !layout.join("index.json").exists() {
        eprintln!(
            "oracle: {} does not exist yet; only the synthetic cases are compared",
            layout.display()
        );
        return;
    }
    let index = read_json(&layout.join("index.json"));
    // (label, tag, platform, name in the copy)
    let mut images: Vec<(String, String, Option<String>, String)> = Vec::new();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("plain");
    let mut descs = Vec::new();
    for d in index["manifests"].as_array().unwrap() {
        let Some(tag) = d["annotations"]["org.opencontainers.image.ref.name"].as_str() else {
            continue;
        };
        let mut manifests = Vec::new();
        image_manifests(&layout, d, &mut manifests);
        assert!(!manifests.is_empty(), "tag {tag}: no image manifest");
        for (manifest_digest, platform) in manifests {
            let (label, platform) = match platform {
                Some(p) if is_index(d) => (format!("{tag} ({p})"), Some(p)),
                _ => (tag.to_string(), None),
            };
            let name = format!("image{}", images.len());
            descs.push(add_decompressed(&layout, &manifest_digest, &copy, &name));
            images.push((label, tag.to_string(), platform, name));
        }
    }
    assert!(!images.is_empty(), "{}: no tagged image", layout.display());
    std::fs::write(
        copy.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let copy_index = serde_json::json!({"schemaVersion": 2, "manifests": descs});
    std::fs::write(
        copy.join("index.json"),
        serde_json::to_vec(&copy_index).unwrap(),
    )
    .unwrap();
    let mut total = 0;
    let mut failures = Vec::new();
    for (label, tag, platform, name) in &images {
        let (_bundle, theirs) = umoci_tree(&copy, name);
        let stored = open_with(&layout, Some(tag), platform.as_deref());
        let plain = open_with(&copy, Some(name), None);
        for r in [
            check(&format!("{label}, as stored"), &theirs, &stored, true),
            check(&format!("{label}, decompressed"), &theirs, &plain, false),
        ] {
            match r {
                Ok(k) => total += k,
                Err(e) => failures.push(e),
            }
        }
    }
    verdict(
        &format!("{} fixture images", images.len()),
        total,
        &failures,
    );
}
