//! Resources an input can name stay bounded (issue 14, the parts in the
//! layer reader and the image opener): a manifest that names one member
//! thousands of times is verified by a bounded pool, each distinct blob
//! hashed once; not one thread per layer.

use std::process::Command;

use serde_json::json;

use crate::util::{bin, config_json, digest, LayerBuilder, OuterTar};

// See: issue 14 (one OS thread per plain layer).
#[test]
fn r14_a_member_named_thousands_of_times_is_hashed_once_on_a_bounded_pool() {
    const N: usize = 3000;
    let layer = LayerBuilder::new()
        .file("etc/motd", b"hello\n", 0o644)
        .build();
    let diff_id = digest(&layer);
    let config = config_json(&vec![diff_id; N], &json!({}));
    let config_name = format!("{}.json", crate::util::hex_of(&digest(&config)));
    let mut outer = OuterTar::new();
    outer.file("layer.tar", &layer);
    outer.file(&config_name, &config);
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": ["many:latest"],
        "Layers": vec!["layer.tar"; N],
    }]);
    outer.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.tar");
    std::fs::write(&path, outer.finish()).unwrap();
    // Under a 2 GiB address-space limit: 3000 threads' stacks alone would
    // need 6 GiB, so a thread per layer fails here; a bounded pool passes.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 2097152; exec {} files --no-cache --progress never {} /etc/motd",
            bin(),
            path.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("/etc/motd"));
}

// See: issue 14 (stdin keeps every non-layer member up to 64 MiB with no
// total).
#[test]
fn r14_stdin_non_layer_members_have_a_total_budget() {
    let mut outer = OuterTar::new();
    let junk = vec![b'{'; 60 << 20];
    for i in 0..5 {
        outer.file(&format!("junk{i}.json"), &junk);
    }
    let bytes = outer.finish();
    let out = crate::util::imgaudit_in(None, ["files", "-", "--progress", "never"], Some(&bytes));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("exceed 256 MiB"), "{}", out.stderr);
}

// See: issue 14 (PAX/GNU long-name payloads of 1–6 GiB are read whole).
#[test]
fn r14_a_six_gib_long_name_is_refused_before_it_is_read() {
    use crate::util::{oci_layout, Compression};
    for kind in [b'L', b'x'] {
        // A header declaring a 6 GiB payload, then a little of it: a few
        // KiB of gzip claim gigabytes of name.
        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_size(6 << 30);
        h.set_cksum();
        let mut layer = h.as_bytes().to_vec();
        layer.extend_from_slice(&vec![b'a'; 1 << 20]);
        for c in [Compression::Gzip, Compression::None] {
            let dir = tempfile::tempdir().unwrap();
            oci_layout(&dir.path().join("l"), &[layer.clone()], c, json!({}));
            let out = crate::util::imgaudit([
                "files",
                "--no-cache",
                dir.path().join("l").to_str().unwrap(),
            ]);
            assert_eq!(out.code, 2, "{}", out.stderr);
            assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
            assert!(out.stderr.contains("refusing to read it"), "{}", out.stderr);
        }
    }
}
