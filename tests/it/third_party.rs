//! Issue 10, item 3: image files other projects commit for their own test
//! suites (`testdata/third-party/`, origins and licenses in its README),
//! each read by imgaudit and its merged tree compared with `umoci unpack`
//! (`oracle.rs`) wherever umoci can read it.
//!
//! umoci reads OCI layouts only, one image manifest by tag, so each image
//! is handed to it that way: a docker archive converted by `skopeo copy
//! docker-archive:FILE:@N oci:DIR:t` (skopeo reads what `docker load`
//! reads), an OCI archive unpacked, and an image behind an index (a
//! multi-platform tag) named directly in a temporary `index.json` over the
//! same blobs — the manifest imgaudit picks for linux/amd64. Every name a
//! layout lists is tried: images must open and match, artifacts (regclient's
//! SBOMs, signatures, artifact indexes) must be refused in one line as
//! artifacts; nothing else may happen.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::oracle::{check, umoci_tree};
use crate::util::{imgaudit, open_with};

const PLATFORM: &str = "linux/amd64";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/third-party")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn blob(root: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    read_json(&root.join("blobs/sha256").join(hex))
}

fn is_index(desc: &Value) -> bool {
    let mt = desc["mediaType"].as_str().unwrap_or("");
    mt.contains("image.index") || mt.contains("manifest.list")
}

/// The image manifest `desc` leads to for [`PLATFORM`]: itself, or through
/// indexes the child whose platform matches, else a lone child.
fn manifest_for(root: &Path, desc: &Value) -> Value {
    if !is_index(desc) {
        return desc.clone();
    }
    let index = blob(root, desc["digest"].as_str().unwrap());
    let children = index["manifests"].as_array().unwrap();
    let want =
        |c: &&Value| c["platform"]["os"] == "linux" && c["platform"]["architecture"] == "amd64";
    let child = children
        .iter()
        .find(want)
        .or(if children.len() == 1 {
            children.first()
        } else {
            None
        })
        .unwrap_or_else(|| panic!("no {PLATFORM} child in {index}"));
    manifest_for(root, child)
}

/// umoci's tree of the image manifest `manifest` of the layout at `root`:
/// unpacked from a temporary layout whose blobs are symlinks to `root`'s
/// and whose `index.json` names only that manifest (as `t`).
///
/// umoci 0.4 reads OCI media types only. A manifest in Docker's (ggcr's
/// `test_index` lists Docker manifests under OCI descriptors) is handed to
/// it as the OCI manifest of the same blobs: media types renamed, digests
/// and sizes kept — the conversion `skopeo copy --format oci` makes, which
/// skopeo skips between two OCI layouts. Zstd layers likewise (below).
fn umoci_of(
    root: &Path,
    manifest: &Value,
) -> (
    tempfile::TempDir,
    std::collections::BTreeMap<String, crate::oracle::Seen>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for e in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        std::os::unix::fs::symlink(e.path(), blobs.join(e.file_name())).unwrap();
    }
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut desc = manifest.clone();
    let mut body = blob(root, manifest["digest"].as_str().unwrap());
    let put = |bytes: &[u8]| {
        let d = crate::util::digest(bytes);
        std::fs::write(blobs.join(crate::util::hex_of(&d)), bytes).unwrap();
        d
    };
    let mut changed = false;
    // umoci 0.4 cannot read zstd layers either: it gets the same tar bytes
    // uncompressed (the diff_id, the tar's digest, is unchanged).
    for l in body["layers"].as_array_mut().unwrap() {
        if l["mediaType"].as_str().unwrap_or("").ends_with("+zstd") {
            let hex = l["digest"]
                .as_str()
                .unwrap()
                .strip_prefix("sha256:")
                .unwrap()
                .to_string();
            let stored = std::fs::read(root.join("blobs/sha256").join(hex)).unwrap();
            let tar = zstd::decode_all(&stored[..]).unwrap();
            *l = json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": put(&tar), "size": tar.len()});
            changed = true;
        }
    }
    if body["config"]["mediaType"]
        .as_str()
        .unwrap_or("")
        .contains("docker")
    {
        changed = true;
        body["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
        body["config"]["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        for l in body["layers"].as_array_mut().unwrap() {
            let gz = l["mediaType"].as_str().unwrap_or("").ends_with("gzip");
            l["mediaType"] = json!(if gz {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.oci.image.layer.v1.tar"
            });
        }
    }
    if changed {
        let bytes = serde_json::to_vec(&body).unwrap();
        desc = json!({"digest": put(&bytes), "size": bytes.len()});
    }
    desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": "t"});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [desc]})).unwrap(),
    )
    .unwrap();
    let (bundle, tree) = umoci_tree(&layout, "t");
    drop(bundle);
    (tmp, tree)
}

/// What reading every name of one input gave.
#[derive(Default, Debug)]
struct Tally {
    images: usize,
    artifacts: usize,
}

/// Read `input` (as the user names it: a path, `--image SEL`) with the
/// binary: an image (exit 0) or an artifact (exit 2, one line saying so).
/// `true` for an image.
fn read(input: &Path, sel: Option<&str>, platform: Option<&str>, tally: &mut Tally) -> bool {
    let mut args = vec![
        "files".to_string(),
        input.display().to_string(),
        "--no-cache".into(),
    ];
    if let Some(p) = platform {
        args.extend(["--platform".into(), p.to_string()]);
    }
    if let Some(s) = sel {
        args.extend(["--image".into(), s.to_string()]);
    }
    let out = imgaudit(&args);
    if out.code == 0 {
        assert!(!out.stdout.is_empty(), "{args:?}: empty listing");
        tally.images += 1;
        return true;
    }
    assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    assert!(
        out.stderr.contains("is an OCI artifact ("),
        "{args:?}: neither an image nor an artifact: {}",
        out.stderr
    );
    tally.artifacts += 1;
    false
}

/// Every name (or, untagged, the digest) of the OCI layout at `root`,
/// read from `input` (the layout or the archive it came from); each image
/// compared with umoci. Returns the tally.
fn every_oci_name(root: &Path, input: &Path) -> Tally {
    let mut tally = Tally::default();
    let index = read_json(&root.join("index.json"));
    let manifests = index["manifests"].as_array().unwrap();
    for desc in manifests {
        let sel = desc["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| desc["digest"].as_str().unwrap().to_string());
        let sel = (manifests.len() > 1).then_some(sel);
        let platform = is_index(desc).then_some(PLATFORM);
        if !read(input, sel.as_deref(), platform, &mut tally) {
            continue;
        }
        let label = format!("{}:{}", input.display(), sel.as_deref().unwrap_or(""));
        let (_tmp, theirs) = umoci_of(root, &manifest_for(root, desc));
        let image = open_with(input, sel.as_deref(), platform);
        check(&label, &theirs, &image, true).unwrap_or_else(|e| panic!("{e}"));
    }
    tally
}

/// `skopeo copy SOURCE oci:DEST:t`: what skopeo reads, written as an OCI
/// layout umoci reads.
fn skopeo(source: &str, dest: &Path) {
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--format", "oci", source])
        .arg(format!("oci:{}:t", dest.display()))
        .output()
        .expect("skopeo is installed by scripts/setup.sh");
    assert!(
        out.status.success(),
        "skopeo copy {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unpack the tar (or `.tar.xz`) at `archive` into a temp dir.
fn unpack(archive: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let file = std::fs::File::open(archive).unwrap();
    let reader: Box<dyn std::io::Read> = if archive.extension().is_some_and(|e| e == "xz") {
        Box::new(liblzma::read::XzDecoder::new(file))
    } else {
        Box::new(file)
    };
    tar::Archive::new(reader).unpack(tmp.path()).unwrap();
    tmp
}

// Proves: go-containerregistry's `docker save` fixtures (`pkg/v1/tarball`,
// `pkg/v1/mutate`: single and multi-image tarballs, a whiteout image, an
// overwritten file, a Docker 25 save that is also an OCI layout), skopeo's
// two-image `.tar.xz` and containers/image's `almostempty.tar` are read,
// every tag, and each merged tree is umoci's of the same image converted by
// skopeo. See: issue 10
#[test]
fn r10_third_party_docker_archives_match_umoci() {
    let mut tally = Tally::default();
    for name in [
        "ggcr/hello-world-v25.tar",
        "ggcr/overwritten_file.tar",
        "ggcr/source_image.tar",
        "ggcr/test_bundle.tar",
        "ggcr/test_image_1.tar",
        "ggcr/test_link.tar",
        "ggcr/whiteout_image.tar",
        "skopeo/docker-two-images.tar.xz",
        "containers-image/almostempty.tar",
    ] {
        let path = dir().join(name);
        let inner = unpack(&path);
        let manifest = read_json(&inner.path().join("manifest.json"));
        let images = manifest.as_array().unwrap();
        for (i, m) in images.iter().enumerate() {
            // An untagged image is chosen by its image ID (config digest).
            let id = format!(
                "sha256:{}",
                m["Config"].as_str().unwrap().trim_end_matches(".json")
            );
            let tag = m["RepoTags"][0].as_str().unwrap_or(&id);
            let sel = (images.len() > 1).then_some(tag);
            assert!(read(&path, sel, None, &mut tally), "{name}: {tag}");
            let tmp = tempfile::tempdir().unwrap();
            let oci = tmp.path().join("oci");
            skopeo(&format!("docker-archive:{}:@{i}", path.display()), &oci);
            let (_bundle, theirs) = umoci_tree(&oci, "t");
            let image = open_with(&path, sel, None);
            check(&format!("{name}:{tag}"), &theirs, &image, true)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert_eq!(tally.images, 12, "{tally:?}");
}

// Proves: OCI layouts and archives from go-containerregistry
// (`pkg/v1/layout/testdata/test_index`: four names, images and nested
// indexes), dive (`.data/test-oci-*-image.tar`: gzip, zstd, estargz and
// uncompressed layers) and regclient (`testdata/testrepo`: multi-platform
// indexes, Docker media types, referrers, SBOM and signature artifacts, an
// artifact index, a looping referrer index) are read name by name: every
// image matches umoci (through the manifest for linux/amd64), every
// artifact is refused as one. See: issue 10
#[test]
fn r10_third_party_oci_layouts_match_umoci() {
    let ggcr = every_oci_name(
        &dir().join("ggcr/test_index"),
        &dir().join("ggcr/test_index"),
    );
    let mut dive = Tally::default();
    for kind in ["gzip", "zstd", "estargz", "uncompressed"] {
        let path = dir().join(format!("dive/test-oci-{kind}-image.tar"));
        let inner = unpack(&path);
        let t = every_oci_name(inner.path(), &path);
        dive.images += t.images;
        dive.artifacts += t.artifacts;
    }
    let regclient = every_oci_name(
        &dir().join("regclient/testrepo"),
        &dir().join("regclient/testrepo"),
    );
    eprintln!("ggcr {ggcr:?}, dive {dive:?}, regclient {regclient:?}");
    assert!(ggcr.images >= 2, "{ggcr:?}");
    assert_eq!((dive.images, dive.artifacts), (4, 0));
    assert!(
        regclient.images >= 6 && regclient.artifacts >= 10,
        "{regclient:?}"
    );
}
