//! Issue 10, items 2, 3 and 5: every image an input holds can be selected,
//! legacy `docker save` configs are read the way Docker's loader reads them,
//! and things that are not images are named for what they are.
//!
//! Each layout is built here with the writers of `util.rs`, in the shape the
//! real tools write: a cosign layout (image untagged, its `.sig` tagged), an
//! index whose children have no `platform`, a Docker manifest list inside an
//! OCI layout, a legacy archive whose config is not named by its hash, OCI
//! artifacts. Every readable one is compared with `umoci unpack` of the same
//! layers (`oracle.rs`); umoci needs a tag and reads only OCI media types, so
//! it unpacks the same layers from a plain tagged OCI layout.

use std::path::Path;

use serde_json::{json, Value};

use crate::oracle::{check, umoci_tree};
use crate::util::{
    config_json, digest, docker_archive_images, hex_of, imgaudit, oci_layout, open_with,
    Compression, LayerBlob, LayerBuilder, OuterTar, TAG,
};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const COSIGN_LAYER: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

fn layers(marker: &str) -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("etc", 0o755)
            .file("etc/os-release", b"ID=test\n", 0o644)
            .file("etc/gone", b"x", 0o644)
            .build(),
        LayerBuilder::new()
            .whiteout("etc/gone")
            .file(&format!("srv/{marker}"), marker.as_bytes(), 0o600)
            .symlink("srv/link", marker)
            .build(),
    ]
}

/// Write `bytes` as a blob of the layout at `root`; its digest.
fn blob(root: &Path, bytes: &[u8]) -> String {
    let d = digest(bytes);
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(root.join("blobs/sha256").join(hex_of(&d)), bytes).unwrap();
    d
}

fn json_blob(root: &Path, v: &Value) -> (String, usize) {
    let bytes = serde_json::to_vec(v).unwrap();
    (blob(root, &bytes), bytes.len())
}

fn write_index(root: &Path, manifests: Vec<Value>) {
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn size_of(root: &Path, d: &str) -> u64 {
    std::fs::metadata(root.join("blobs/sha256").join(hex_of(d)))
        .unwrap()
        .len()
}

/// An artifact manifest (cosign `.sig`, an SBOM…): `config_type` for its
/// config, one layer of `layer_type`, `artifactType` when given.
fn artifact(
    root: &Path,
    config_type: &str,
    layer_type: &str,
    artifact_type: Option<&str>,
) -> Value {
    let config = if config_type == "application/vnd.oci.image.config.v1+json" {
        // cosign writes a real-looking image config over the payloads.
        config_json(&[], &json!({}))
    } else {
        b"{}".to_vec()
    };
    let config_digest = blob(root, &config);
    let payload = br#"{"critical":{"type":"cosign container image signature"}}"#;
    let payload_digest = blob(root, payload);
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": layer_type, "digest": payload_digest, "size": payload.len()}],
    });
    if let Some(t) = artifact_type {
        m["artifactType"] = Value::from(t);
    }
    let (d, size) = json_blob(root, &m);
    json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size})
}

fn with_name(mut desc: Value, name: &str) -> Value {
    desc["annotations"] = json!({ REF_NAME: name });
    desc
}

/// The one stderr line of a failed run (exit 2, no report, no panic).
fn error_line(out: &crate::util::Output) -> String {
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line:\n{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    lines[0].to_string()
}

fn files_ok(args: &[&str]) -> String {
    let mut all = vec!["files"];
    all.extend_from_slice(args);
    let out = imgaudit(&all);
    assert_eq!(out.code, 0, "{all:?}:\n{}", out.stderr);
    out.stdout
}

/// Compare the opened image with umoci's rootfs of `layout:TAG`; fails with
/// every difference.
fn same_as_umoci(label: &str, umoci_layout: &Path, image: &imgaudit::image::Image) {
    let (_bundle, theirs) = umoci_tree(umoci_layout, TAG);
    let compared = check(label, &theirs, image, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(compared > 3, "{label}: only {compared} entries compared");
}

// Proves (item 2, cosign): in a layout where cosign left the image untagged
// and tagged only its `.sig`, the image is picked by manifest digest
// (`--image sha256:…`, `DIR@sha256:…`) and is the tree umoci unpacks; with no
// selector the error lists names that can be passed back (the digest for the
// untagged image, the tag for the signature); the `.sig` itself is named an
// OCI artifact (item 5).
// See: issue 10
#[test]
fn r10_cosign_layout_image_by_digest_sig_is_an_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cosign");
    let image = oci_layout(&root, &layers("signed"), Compression::Gzip, json!({}));
    let (_bundle, theirs) = umoci_tree(&root, TAG);
    let sig_tag = format!("sha256-{}.sig", hex_of(&image.manifest));
    let sig = artifact(
        &root,
        "application/vnd.oci.image.config.v1+json",
        COSIGN_LAYER,
        None,
    );
    let untagged = json!({
        "mediaType": OCI_MANIFEST,
        "digest": image.manifest,
        "size": size_of(&root, &image.manifest),
    });
    write_index(&root, vec![untagged, with_name(sig, &sig_tag)]);
    let dir = root.to_str().unwrap();

    let opened = open_with(&root, Some(&image.manifest), None);
    let compared =
        check("cosign image by digest", &theirs, &opened, true).unwrap_or_else(|e| panic!("{e}"));
    assert!(compared > 3);
    assert_eq!(
        opened.resolved.config_digest.as_deref(),
        Some(image.config.as_str())
    );

    let by_flag = files_ok(&[dir, "--image", &image.manifest]);
    let by_at = files_ok(&[&format!("{dir}@{}", image.manifest)]);
    assert_eq!(by_flag, by_at);
    assert!(by_flag.contains("srv/signed"), "{by_flag}");

    let line = error_line(&imgaudit(["files", dir]));
    assert!(
        line.contains(&image.manifest) && line.contains(&sig_tag),
        "{line}"
    );
    assert!(line.contains("DIR@sha256:"), "{line}");
    // Every name listed selects: the digest (above) and the tag (below).
    let line = error_line(&imgaudit(["files", &format!("{dir}:{sig_tag}")]));
    assert!(
        line.contains(&format!(
            "`{sig_tag}` is an OCI artifact ({COSIGN_LAYER}), not a container image"
        )),
        "{line}"
    );
    // The same layout as an OCI archive on stdin: selected by digest, and
    // the `.sig` named an artifact under stdin's one label.
    let archive = crate::util::tar_dir(&root, &tmp.path().join("cosign.tar"));
    let bytes = std::fs::read(&archive).unwrap();
    let out = crate::util::imgaudit_in(
        None,
        ["files", "-", "--image", image.manifest.as_str()],
        Some(&bytes),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, by_flag);
    let line = error_line(&crate::util::imgaudit_in(
        None,
        ["files", "-", "--image", sig_tag.as_str()],
        Some(&bytes),
    ));
    assert!(
        line.starts_with("error: <stdin>: `") && line.contains("is an OCI artifact"),
        "{line}"
    );
    // A digest the layout does not hold lists what it holds.
    let absent = format!("sha256:{}", "0".repeat(64));
    let line = error_line(&imgaudit(["files", dir, "--image", &absent]));
    assert!(
        line.contains("no manifest with digest") && line.contains(&sig_tag),
        "{line}"
    );
}

// Proves (item 2): an image index whose children carry no `platform` is
// resolved by each child's config `os`/`architecture`, as containerd does —
// each platform gives exactly the tree umoci unpacks from that image — a
// platform no config declares is an error listing what the configs say, and
// a child in a nested index can be picked by its own digest.
// See: issue 10
#[test]
fn r10_platformless_index_matched_by_config() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let mut children = Vec::new();
    let mut umoci_trees = Vec::new();
    for arch in ["amd64", "arm64"] {
        let l = oci_layout(
            &root,
            &layers(arch),
            Compression::None,
            json!({"architecture": arch, "os": "linux"}),
        );
        // index.json names this image `TAG` right now: umoci reads it.
        umoci_trees.push(umoci_tree(&root, TAG));
        children.push((
            l.manifest.clone(),
            json!({"mediaType": OCI_MANIFEST, "digest": l.manifest, "size": size_of(&root, &l.manifest)}),
        ));
    }
    let (index_digest, index_size) = json_blob(
        &root,
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": children.iter().map(|c| c.1.clone()).collect::<Vec<_>>()}),
    );
    write_index(
        &root,
        vec![with_name(
            json!({"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size}),
            "multi",
        )],
    );
    for (i, arch) in ["amd64", "arm64"].iter().enumerate() {
        let platform = format!("linux/{arch}");
        let image = open_with(&root, Some("multi"), Some(&platform));
        check(&platform, &umoci_trees[i].1, &image, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(crate::util::listing(&image)
            .iter()
            .any(|l| l.contains(&format!("srv/{arch} "))));
        // The same child by its digest, inside the nested index.
        let by_digest = open_with(&root, Some(&children[i].0), Some("linux/s390x"));
        assert_eq!(
            crate::util::listing(&by_digest),
            crate::util::listing(&image)
        );
    }
    let line = error_line(&imgaudit([
        "files",
        root.to_str().unwrap(),
        "--platform",
        "linux/s390x",
    ]));
    assert!(
        line.contains("linux/amd64 (from its config), linux/arm64 (from its config)"),
        "{line}"
    );
}

// Proves (item 2): a lone index child without `platform` is taken whatever
// the host platform (the only image there is), and is umoci's tree.
// See: issue 10
#[test]
fn r10_lone_platformless_child_is_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let l = oci_layout(
        &root,
        &layers("lone"),
        Compression::None,
        json!({"architecture": "riscv64", "os": "linux"}),
    );
    let (_bundle, theirs) = umoci_tree(&root, TAG);
    let (index_digest, index_size) = json_blob(
        &root,
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": l.manifest, "size": size_of(&root, &l.manifest)}
        ]}),
    );
    write_index(
        &root,
        vec![with_name(
            json!({"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size}),
            TAG,
        )],
    );
    let image = open_with(&root, None, Some("linux/amd64"));
    check("lone child", &theirs, &image, false).unwrap_or_else(|e| panic!("{e}"));
}

// Proves (item 2): a Docker manifest list (schema 2, Docker media types)
// inside an OCI layout is followed to the platform asked for, its Docker
// `rootfs.diff.tar.gzip` layers read, and the tree is what umoci unpacks from
// the same layers in an OCI image.
// See: issue 10
#[test]
fn r10_docker_manifest_list_in_an_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docker-list");
    let mut entries = Vec::new();
    let mut oracle = Vec::new();
    for arch in ["amd64", "arm64"] {
        let tars = layers(arch);
        // The oracle's copy: the same layers as an OCI image umoci reads.
        let plain = tmp.path().join(format!("plain-{arch}"));
        oci_layout(&plain, &tars, Compression::Gzip, json!({}));
        oracle.push(umoci_tree(&plain, TAG));
        let blobs: Vec<LayerBlob> = tars
            .iter()
            .map(|t| LayerBlob::new(t, Compression::Gzip))
            .collect();
        let diff_ids: Vec<String> = blobs.iter().map(|b| b.diff_id.clone()).collect();
        let config = config_json(&diff_ids, &json!({"architecture": arch}));
        let config_digest = blob(&root, &config);
        let layer_descs: Vec<Value> = blobs
            .iter()
            .map(|b| {
                json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                       "digest": blob(&root, &b.data), "size": b.data.len()})
            })
            .collect();
        let (m, size) = json_blob(
            &root,
            &json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "digest": config_digest, "size": config.len()},
                "layers": layer_descs,
            }),
        );
        entries.push(json!({
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": m, "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let list_type = "application/vnd.docker.distribution.manifest.list.v2+json";
    let (list, list_size) = json_blob(
        &root,
        &json!({"schemaVersion": 2, "mediaType": list_type, "manifests": entries}),
    );
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    write_index(
        &root,
        vec![with_name(
            json!({"mediaType": list_type, "digest": list, "size": list_size}),
            "docker.io/library/app:1",
        )],
    );
    for (i, arch) in ["amd64", "arm64"].iter().enumerate() {
        // containerd's full name, picked by the short spelling.
        let image = open_with(&root, Some("app:1"), Some(&format!("linux/{arch}")));
        check(arch, &oracle[i].1, &image, true).unwrap_or_else(|e| panic!("{e}"));
    }
}

// Proves (item 2): a `docker save` tag matches in every spelling a user
// types — normalised as Docker's `ParseNormalizedNamed` does — and only its
// own name: another tag or namespace is an error listing the tags.
// See: issue 10
#[test]
fn r10_docker_archive_tags_in_every_spelling() {
    let tmp = tempfile::tempdir().unwrap();
    let path = docker_archive_images(
        &tmp.path().join("two.tar"),
        &[("x:latest", layers("x")), ("other/x:2", layers("y"))],
    );
    let input = path.to_str().unwrap();
    for want in [
        "x",
        "x:latest",
        "docker.io/library/x",
        "index.docker.io/library/x:latest",
    ] {
        let out = files_ok(&[input, "--image", want]);
        assert!(
            out.contains("srv/x") && !out.contains("srv/y"),
            "{want}: {out}"
        );
        let out = files_ok(&[&format!("{input}:{want}")]);
        assert!(out.contains("srv/x"), "{input}:{want}: {out}");
    }
    let out = files_ok(&[input, "--image", "docker.io/other/x:2"]);
    assert!(out.contains("srv/y"), "{out}");
    for wrong in ["x:2", "ghcr.io/x", "library/other/x:2"] {
        let line = error_line(&imgaudit(["files", input, "--image", wrong]));
        assert!(
            line.contains("x:latest") && line.contains("other/x:2"),
            "{line}"
        );
    }
}

// Proves (item 2): a `docker save` image is selected by its image ID (the
// config digest, `sha256:…`), and an untagged one is listed by that ID.
// See: issue 10
#[test]
fn r10_docker_archive_image_id_selects() {
    let tmp = tempfile::tempdir().unwrap();
    let path = docker_archive_images(
        &tmp.path().join("two.tar"),
        &[("a:1", layers("a")), ("b:1", layers("b"))],
    );
    let b = open_with(&path, Some("b:1"), None);
    let id = b.resolved.config_digest.clone().unwrap();
    let by_id = open_with(&path, Some(&id), None);
    assert_eq!(crate::util::listing(&by_id), crate::util::listing(&b));
    assert_eq!(by_id.resolved.config_digest.as_deref(), Some(id.as_str()));
}

// Proves (item 3): a legacy `docker save` whose config file is not named by
// its sha256 (ggcr's mutate fixtures ship one; Docker's loader never compares
// the name) is read, the real config digest is reported, the layers are still
// verified against its diff_ids, and the tree is umoci's of the same layers.
// See: issue 10
#[test]
fn r10_legacy_config_not_named_by_its_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let tars = layers("legacy");
    let diff_ids: Vec<String> = tars.iter().map(|t| digest(t)).collect();
    let config = config_json(&diff_ids, &json!({}));
    let misnamed = format!("{}.json", "a".repeat(64));
    let mut outer = OuterTar::new();
    let mut names = Vec::new();
    for (i, t) in tars.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        outer.file(&name, t);
        names.push(name);
    }
    outer.file(&misnamed, &config);
    outer.file(
        "manifest.json",
        &serde_json::to_vec(
            &json!([{"Config": misnamed, "RepoTags": ["legacy:1"], "Layers": names}]),
        )
        .unwrap(),
    );
    let path = tmp.path().join("legacy.tar");
    std::fs::write(&path, outer.finish()).unwrap();

    let plain = tmp.path().join("plain");
    oci_layout(&plain, &tars, Compression::None, json!({}));
    let image = open_with(&path, None, None);
    same_as_umoci("legacy misnamed config", &plain, &image);
    assert_eq!(image.resolved.config_digest, Some(digest(&config)));
    assert_ne!(
        image.resolved.config_digest,
        Some(format!("sha256:{}", "a".repeat(64)))
    );

    // The layers are still checked against the config actually read.
    let mut bad = OuterTar::new();
    for (i, t) in tars.iter().enumerate() {
        let mut t = t.clone();
        if i == 1 {
            // A byte of `srv/legacy`'s data (a 512-aligned block, not a
            // header naming it): the tar stays valid, its diff_id does not.
            let at = (0..t.len() - 6)
                .step_by(512)
                .find(|&p| &t[p..p + 6] == b"legacy")
                .unwrap();
            t[at] ^= 1;
        }
        bad.file(&format!("layer{i}/layer.tar"), &t);
    }
    bad.file(&misnamed, &config);
    bad.file(
        "manifest.json",
        &serde_json::to_vec(
            &json!([{"Config": misnamed, "RepoTags": ["legacy:1"], "Layers": names}]),
        )
        .unwrap(),
    );
    let bad_path = tmp.path().join("bad.tar");
    std::fs::write(&bad_path, bad.finish()).unwrap();
    let line = error_line(&imgaudit(["files", bad_path.to_str().unwrap()]));
    assert!(
        line.contains("digest mismatch") || line.contains("diff_id"),
        "{line}"
    );
}

// Proves (item 3): `--no-verify`'s help says what it skips and what it
// still checks.
// See: issue 10
#[test]
fn r10_no_verify_help_says_what_it_skips() {
    let out = imgaudit(["audit", "--help"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let help = out.stdout.replace('\n', " ");
    let help: String = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in [
        "neither a layer blob's digest",
        "uncompressed diff_id",
        "Index, manifest and config blobs are still checked",
    ] {
        assert!(
            help.contains(part),
            "{part:?} not in --help:\n{}",
            out.stdout
        );
    }
}

/// Writes an artifact's blobs into a layout; its descriptor.
type BuildDesc = Box<dyn Fn(&Path) -> Value>;

// Proves (item 5): OCI artifacts are named for what they are, with their
// type — by `artifactType`, by a config that is no image config (Helm), and
// with an `artifactType` but no `layers` at all (which an image manifest
// requires) — never "invalid JSON" or a missing-diff_ids complaint.
// See: issue 10
#[test]
fn r10_artifacts_are_not_images() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, BuildDesc, &str)> = vec![
        (
            "sbom",
            Box::new(|r: &Path| {
                artifact(
                    r,
                    "application/vnd.oci.empty.v1+json",
                    "application/spdx+json",
                    Some("application/vnd.example.sbom+json"),
                )
            }),
            "application/vnd.example.sbom+json",
        ),
        (
            "helm",
            Box::new(|r: &Path| {
                artifact(
                    r,
                    "application/vnd.cncf.helm.config.v1+json",
                    "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    None,
                )
            }),
            "application/vnd.cncf.helm.config.v1+json",
        ),
        (
            "no-layers",
            Box::new(|r: &Path| {
                let (d, size) = json_blob(
                    r,
                    &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "artifactType": "application/vnd.example.note",
                            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                       "digest": digest(b"{}"), "size": 2}}),
                );
                json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size})
            }),
            "application/vnd.example.note",
        ),
    ];
    for (name, build, kind) in cases {
        let root = tmp.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        blob(&root, b"{}");
        let desc = build(&root);
        write_index(&root, vec![with_name(desc, name)]);
        let line = error_line(&imgaudit(["audit", root.to_str().unwrap()]));
        assert!(
            line.ends_with(&format!(
                "`{name}` is an OCI artifact ({kind}), not a container image"
            )),
            "{name}: {line}"
        );
    }
}

// Proves (item 2, bounded): a digest search through nested indexes reads each
// index once — a chain of indexes each listing the one below 2000 times
// (2000^7 paths without that) answers at once, with the one-line
// "no manifest with digest" error — and a thousand platform-less entries
// naming one manifest are matched by its config, each platform listed once.
// See: issue 10
#[test]
fn r10_selection_work_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let l = oci_layout(
        &root,
        &layers("deep"),
        Compression::None,
        json!({"architecture": "arm64", "os": "linux"}),
    );
    let child = json!({"mediaType": OCI_MANIFEST, "digest": l.manifest, "size": size_of(&root, &l.manifest)});
    let mut below = vec![child.clone(); 1000];
    for _ in 0..7 {
        let (d, size) = json_blob(
            &root,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": below}),
        );
        below = vec![json!({"mediaType": OCI_INDEX, "digest": d, "size": size}); 2000];
    }
    below.truncate(1);
    write_index(&root, vec![with_name(below.pop().unwrap(), TAG)]);
    let dir = root.to_str().unwrap();
    let absent = format!("sha256:{}", "0".repeat(64));
    let start = std::time::Instant::now();
    let line = error_line(&imgaudit(["files", dir, "--image", &absent]));
    assert!(line.contains("no manifest with digest"), "{line}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    // The image at the bottom, by digest through seven indexes.
    let by_digest = open_with(&root, Some(&l.manifest), None);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    // A thousand untagged platform-less entries naming that manifest:
    // matched by its config, read once; a platform no config declares is
    // listed once, not a thousand times.
    write_index(&root, vec![child; 1000]);
    let by_config = open_with(&root, None, Some("linux/arm64"));
    assert_eq!(
        crate::util::listing(&by_digest),
        crate::util::listing(&by_config)
    );
    let line = error_line(&imgaudit(["files", dir, "--platform", "linux/amd64"]));
    assert!(
        line.contains("available: linux/arm64 (from its config) (choose"),
        "{line}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}
