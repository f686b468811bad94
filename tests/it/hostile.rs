//! Hostile and broken inputs, one test per case, through the binary. Each
//! must end with exit status 2 and exactly one line on stderr that says what
//! is wrong and where (the member, blob or entry), with no panic; and the run
//! must not write anything: the whole sandbox (image, and the working
//! directory the process ran in) is identical before and after, and the
//! host's `/etc/passwd` (the traversal targets' namesake) is untouched.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::util::{
    digest, docker_archive_bytes, docker_archive_images, hex_of, imgaudit_in, oci_layout,
    oci_layout_blobs, oci_multiplatform, snapshot, Compression, LayerBlob, LayerBuilder, Layout,
    OuterTar, TAG,
};

/// A temp dir holding the input, and a working directory three levels deep
/// inside it, so a `../../etc/passwd` written relative to the working
/// directory would still land (visibly) inside the sandbox.
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("cwd/a/b")).unwrap();
        Sandbox { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Run `imgaudit files ARGS…` from the deep working directory and check
    /// the failure contract; returns the single stderr line.
    fn fails(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let before = snapshot(self.tmp.path());
        let host_passwd = host_file_state("/etc/passwd");
        let mut all = vec!["files"];
        all.extend_from_slice(args);
        let out = imgaudit_in(Some(&self.path("cwd/a/b")), &all, stdin);
        let after = snapshot(self.tmp.path());
        assert_eq!(before, after, "imgaudit {all:?} wrote into the sandbox");
        assert_eq!(
            host_passwd,
            host_file_state("/etc/passwd"),
            "imgaudit {all:?} touched the host's /etc/passwd"
        );
        assert!(
            !self.path("etc").exists() && !self.path("cwd/etc").exists(),
            "a traversal landed on disk"
        );
        assert_eq!(
            out.code, 2,
            "imgaudit {all:?}: expected exit 2\nstdout:\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        );
        assert!(out.stdout.is_empty(), "stdout not empty:\n{}", out.stdout);
        assert!(
            !out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"),
            "panic:\n{}",
            out.stderr
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one stderr line, got:\n{}",
            out.stderr
        );
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        eprintln!("{}", lines[0]);
        lines[0].to_string()
    }

    /// An OCI layout of `layers` (plain) at `<sandbox>/oci`.
    fn oci(&self, layers: &[Vec<u8>]) -> Layout {
        oci_layout(&self.path("oci"), layers, Compression::None, json!({}))
    }
}

/// Length and mtime of a host file (read only), to prove it was not written.
fn host_file_state(path: &str) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Assert `line` contains each of `parts`.
fn says(line: &str, parts: &[&str]) {
    for p in parts {
        assert!(line.contains(p), "stderr line lacks {p:?}:\n{line}");
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Rewrite the image manifest of `layout` with `edit` (new blob, new digest,
/// `index.json` updated to point at it).
fn edit_manifest(layout: &Layout, edit: impl FnOnce(&mut Value)) {
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(layout.blob(&layout.manifest)).unwrap()).unwrap();
    edit(&mut m);
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = digest(&bytes);
    std::fs::write(layout.blob(&d), &bytes).unwrap();
    edit_index(layout, |ix| {
        ix["manifests"][0]["digest"] = Value::from(d.clone());
        ix["manifests"][0]["size"] = Value::from(bytes.len());
    });
}

/// The manifest digest `index.json` of `layout` points at now.
fn edit_index_digest(layout: &Layout) -> String {
    let ix: Value =
        serde_json::from_slice(&std::fs::read(layout.root.join("index.json")).unwrap()).unwrap();
    ix["manifests"][0]["digest"].as_str().unwrap().to_string()
}

/// Rewrite `index.json` of `layout` with `edit`.
fn edit_index(layout: &Layout, edit: impl FnOnce(&mut Value)) {
    let p = layout.root.join("index.json");
    let mut ix: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    edit(&mut ix);
    std::fs::write(&p, serde_json::to_vec(&ix).unwrap()).unwrap();
}

fn one_file() -> Vec<u8> {
    LayerBuilder::new().file("hello", b"hello", 0o644).build()
}

// Proves: an entry named `../../etc/passwd` is refused (exit 2, naming the
// entry and the layer blob) and nothing lands on disk, not even relative to
// the working directory.
#[test]
fn path_traversal_entry() {
    let sb = Sandbox::new();
    let layer = LayerBuilder::new()
        .file("../../etc/passwd", b"root::0:0", 0o644)
        .build();
    let l = sb.oci(&[layer]);
    let line = sb.fails(&[&s(&l.root)], None);
    says(
        &line,
        &["`../../etc/passwd`", hex_of(&l.layers[0]), "climbs out"],
    );
}

// Proves: an absolute entry name that then climbs (`/../etc/passwd`) is
// refused, naming entry and layer. (A plain absolute name is read with its
// `/` stripped, as Docker does: `wild::absolute_names_match_umoci`.)
#[test]
fn absolute_entry_name_that_climbs() {
    let sb = Sandbox::new();
    let layer = LayerBuilder::new()
        .file("/../etc/passwd", b"root::0:0", 0o644)
        .build();
    let l = sb.oci(&[layer]);
    let line = sb.fails(&[&s(&l.root)], None);
    says(
        &line,
        &["`/../etc/passwd`", hex_of(&l.layers[0]), "climbs out"],
    );
}

// Proves: a bare `.wh.` whiteout (names nothing) is rejected as umoci does,
// naming the entry and layer.
#[test]
fn bare_whiteout() {
    let sb = Sandbox::new();
    let layer = LayerBuilder::new()
        .dir("etc", 0o755)
        .raw(
            &crate::util::header(tar::EntryType::Regular, b"etc/.wh.", 0, 0o644),
            b"",
        )
        .build();
    let l = sb.oci(&[layer]);
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &["`etc/.wh.`", hex_of(&l.layers[0]), "bare `.wh.`"]);
}

// Proves: a symlink loop used as the parent directory of a later entry is an
// error that names the entry and the layer, not a hang or a crash.
#[test]
fn symlink_loop_as_parent() {
    let sb = Sandbox::new();
    let l = sb.oci(&[
        LayerBuilder::new()
            .symlink("a", "b")
            .symlink("b", "a")
            .build(),
        LayerBuilder::new().file("a/x", b"x", 0o644).build(),
    ]);
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &["layer 1", "`/a/x`", "symbolic links"]);
}

// Proves: a hardlink to a path that exists nowhere is an error naming the
// link, its target and the layer.
#[test]
fn hardlink_to_missing_target() {
    let sb = Sandbox::new();
    let l = sb.oci(&[LayerBuilder::new()
        .file("a", b"a", 0o644)
        .hardlink("x", "nothere")
        .build()]);
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &["layer 0", "`/x`", "`/nothere`", "does not exist"]);
}

/// A layer whose last entry declares 1000 bytes and holds 10, then ends.
fn truncated_entry_layer() -> Vec<u8> {
    LayerBuilder::new()
        .file("ok", b"ok", 0o644)
        .raw_bytes(crate::util::header(tar::EntryType::Regular, b"big", 1000, 0o644).as_bytes())
        .raw_bytes(b"0123456789")
        .build_unterminated()
}

// Proves: an entry whose declared size runs past the end of an uncompressed
// (seekable) layer is reported as truncated, naming the entry and layer.
#[test]
fn truncated_entry_plain_layer() {
    let sb = Sandbox::new();
    let l = sb.oci(&[truncated_entry_layer()]);
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &["`big`", hex_of(&l.layers[0]), "1000", "truncated"]);
}

// Proves: the same truncated entry inside a gzip layer (streamed, not
// seekable) is also reported as a truncated entry, naming the entry and the
// layer — not as a gzip failure (the gzip stream itself is intact).
#[test]
fn truncated_entry_gzip_layer() {
    let sb = Sandbox::new();
    let l = oci_layout(
        &sb.path("oci"),
        &[truncated_entry_layer()],
        Compression::Gzip,
        json!({}),
    );
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&l.layers[0]), "`big`", "truncated"]);
}

// Proves: a docker-archive cut off in the middle of a member is reported as
// a truncated outer tar naming the member, from a file.
#[test]
fn truncated_outer_tar() {
    let sb = Sandbox::new();
    let layer = LayerBuilder::new()
        .file("data", &[7u8; 4000], 0o644)
        .build();
    let bytes = docker_archive_bytes(&[("t:1", vec![layer])]);
    // Cut in the middle of `<id>/layer.tar` (the first large member).
    let cut = bytes.len() / 2;
    std::fs::write(sb.path("cut.tar"), &bytes[..cut]).unwrap();
    let line = sb.fails(&[&s(&sb.path("cut.tar"))], None);
    says(&line, &["cut.tar", "layer.tar", "truncated"]);
}

// Proves: the same truncated docker-archive on stdin fails cleanly too,
// naming stdin.
#[test]
fn truncated_outer_tar_on_stdin() {
    let sb = Sandbox::new();
    let layer = LayerBuilder::new()
        .file("data", &[7u8; 4000], 0o644)
        .build();
    let bytes = docker_archive_bytes(&[("t:1", vec![layer])]);
    let cut = bytes.len() / 2;
    let line = sb.fails(&["-"], Some(&bytes[..cut]));
    says(&line, &["<stdin>", "layer.tar"]);
}

/// An OCI layout whose only layer blob is exactly `data` (digest and size
/// match it, so only the content is wrong).
fn layout_with_blob(sb: &Sandbox, data: Vec<u8>, media_type: &str) -> Layout {
    oci_layout_blobs(
        &sb.path("oci"),
        &[LayerBlob {
            data,
            media_type: media_type.to_string(),
            diff_id: digest(b"whatever"),
        }],
        json!({}),
    )
}

// Proves: a gzip layer cut in half (its digest matching the cut bytes) is a
// decompression error naming the layer blob.
#[test]
fn truncated_gzip_layer() {
    let sb = Sandbox::new();
    let full = crate::util::compress(
        &LayerBuilder::new()
            .file(
                "data",
                &(0..20000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
                0o644,
            )
            .build(),
        Compression::Gzip,
    );
    let half = full[..full.len() / 2].to_vec();
    let l = layout_with_blob(&sb, half, "application/vnd.oci.image.layer.v1.tar+gzip");
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&l.layers[0]), "Gzip"]);
}

// Proves: gzip magic followed by garbage is a decompression error naming the
// layer blob.
#[test]
fn gzip_garbage() {
    let sb = Sandbox::new();
    let mut data = vec![0x1f, 0x8b, 0x08, 0x00];
    data.extend((0..600u32).map(|i| (i * 31 + 7) as u8));
    let l = layout_with_blob(&sb, data, "application/vnd.oci.image.layer.v1.tar+gzip");
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&l.layers[0]), "Gzip"]);
}

// Proves: zstd magic followed by garbage is a decompression error naming the
// layer blob.
#[test]
fn zstd_garbage() {
    let sb = Sandbox::new();
    let mut data = vec![0x28, 0xb5, 0x2f, 0xfd];
    data.extend((0..600u32).map(|i| (i * 31 + 7) as u8));
    let l = layout_with_blob(&sb, data, "application/vnd.oci.image.layer.v1.tar+zstd");
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&l.layers[0]), "Zstd"]);
}

// Proves: a docker-archive whose `manifest.json` is not JSON fails naming
// `manifest.json`.
#[test]
fn bad_json_manifest_json() {
    let sb = Sandbox::new();
    let mut t = OuterTar::new();
    t.file("manifest.json", b"[{\"Config\": ");
    std::fs::write(sb.path("bad.tar"), t.finish()).unwrap();
    let line = sb.fails(&[&s(&sb.path("bad.tar"))], None);
    says(&line, &["bad.tar", "`manifest.json`", "invalid JSON"]);
}

// Proves: an OCI layout whose `index.json` is not JSON fails naming
// `index.json`.
#[test]
fn bad_json_index_json() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    std::fs::write(l.root.join("index.json"), b"{\"manifests\": [").unwrap();
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &["`index.json`", "invalid JSON"]);
}

// Proves: a config blob that is not JSON (its digest correct) fails naming
// the config blob.
#[test]
fn bad_json_config() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    let bad = b"{\"rootfs\": nope".to_vec();
    let d = digest(&bad);
    std::fs::write(l.blob(&d), &bad).unwrap();
    edit_manifest(&l, |m| {
        m["config"]["digest"] = Value::from(d.clone());
        m["config"]["size"] = Value::from(bad.len());
    });
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&d), "invalid JSON"]);
}

// Proves: a layer blob whose bytes don't hash to its digest (one content
// byte flipped, the tar still well-formed) is refused, naming the blob and
// both digests.
#[test]
fn layer_digest_mismatch() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    let p = l.blob(&l.layers[0]);
    let mut bytes = std::fs::read(&p).unwrap();
    // The last "hello" is the content (the first is the entry's name).
    let at = bytes.windows(5).rposition(|w| w == b"hello").unwrap();
    bytes[at] = b'j';
    std::fs::write(&p, &bytes).unwrap();
    let line = sb.fails(&[&s(&l.root)], None);
    says(
        &line,
        &[hex_of(&l.layers[0]), "digest mismatch", &digest(&bytes)],
    );
}

// Proves: a gzip layer whose uncompressed sha256 is not the config's
// `diff_ids[0]` is refused, naming the layer and both digests.
#[test]
fn diff_id_mismatch() {
    let sb = Sandbox::new();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let layer = one_file();
    let l = oci_layout(
        &sb.path("oci"),
        std::slice::from_ref(&layer),
        Compression::Gzip,
        json!({"rootfs": {"diff_ids": [wrong]}}),
    );
    let line = sb.fails(&[&s(&l.root)], None);
    says(
        &line,
        &[
            hex_of(&l.layers[0]),
            "diff_id mismatch",
            &wrong,
            &digest(&layer),
        ],
    );
}

// Proves: a config blob whose bytes no longer match its digest is refused,
// naming the config blob.
#[test]
fn config_digest_mismatch() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    let p = l.blob(&l.config);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.push(b' ');
    std::fs::write(&p, &bytes).unwrap();
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&l.config), "digest mismatch"]);
}

// Proves: a layer blob the manifest names but the layout lacks is reported
// missing, by name.
#[test]
fn missing_blob() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    std::fs::remove_file(l.blob(&l.layers[0])).unwrap();
    let line = sb.fails(&[&s(&l.root)], None);
    says(
        &line,
        &[
            &format!("`blobs/sha256/{}`", hex_of(&l.layers[0])),
            "missing",
        ],
    );
}

// Proves: a manifest whose layer digest is `sha256:../../x` is refused
// without opening any file outside `blobs/`, naming the manifest blob and
// the bad value.
#[test]
fn manifest_digest_climbs() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    // A file the traversal would reach, to make sure it is not read.
    std::fs::write(sb.path("x"), one_file()).unwrap();
    edit_manifest(&l, |m| {
        m["layers"][0]["digest"] = Value::from("sha256:../../x");
    });
    let manifest = edit_index_digest(&l);
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &[hex_of(&manifest), "../../x"]);
}

// Proves: the same climbing digest in `index.json` is refused, naming it.
#[test]
fn index_digest_climbs() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    edit_index(&l, |ix| {
        ix["manifests"][0]["digest"] = Value::from("sha256:../../x");
    });
    let line = sb.fails(&[&s(&l.root)], None);
    says(&line, &["`index.json`", "../../x"]);
}

// Proves: a docker-archive holding two images, with no tag chosen, fails
// with a message listing both tags and how to pick one.
#[test]
fn two_images_no_tag() {
    let sb = Sandbox::new();
    let p = docker_archive_images(
        &sb.path("two.tar"),
        &[
            ("first:1", vec![one_file()]),
            (
                "second:2",
                vec![LayerBuilder::new().file("other", b"o", 0o644).build()],
            ),
        ],
    );
    let line = sb.fails(&[&s(&p)], None);
    says(
        &line,
        &["two.tar", "2 images", "first:1", "second:2", "--image"],
    );
}

// Proves: asking a multi-platform image for a platform it lacks fails with
// the platforms it has.
#[test]
fn unknown_platform() {
    let sb = Sandbox::new();
    let dir = sb.path("multi");
    std::fs::create_dir_all(&dir).unwrap();
    oci_multiplatform(
        &dir,
        &[("amd64", vec![one_file()]), ("arm64", vec![one_file()])],
    );
    let line = sb.fails(&[&s(&dir), "--platform", "linux/s390x"], None);
    says(&line, &["linux/s390x", "linux/amd64", "linux/arm64"]);
}

// Proves: an empty file is "not a container image", naming it.
#[test]
fn empty_file() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("empty.tar"), b"").unwrap();
    let line = sb.fails(&[&s(&sb.path("empty.tar"))], None);
    says(&line, &["empty.tar", "not a container image"]);
}

// Proves: a directory that is not an OCI layout is "not a container image",
// naming it.
#[test]
fn directory_not_an_image() {
    let sb = Sandbox::new();
    let dir = sb.path("notimage");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("README"), b"hi").unwrap();
    let line = sb.fails(&[&s(&dir)], None);
    says(&line, &["notimage", "not a container image"]);
}

// Proves: a tag that names nothing in an OCI layout fails listing what is
// there.
#[test]
fn unknown_tag() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    let line = sb.fails(&[&s(&l.root), "--image", "nope"], None);
    says(&line, &["`nope`", TAG]);
}

/// The first `": "`-separated segment (8+ bytes) that occurs twice.
fn repeated_segment(line: &str) -> Option<&str> {
    let segments: Vec<&str> = line.split(": ").collect();
    segments
        .iter()
        .enumerate()
        .find(|(i, seg)| seg.len() >= 8 && segments[i + 1..].contains(seg))
        .map(|(_, seg)| *seg)
}

// Proves: the error line states each cause once. A layer error, an overlay
// error and an outer-tar error are each wrapped by the image error; the
// line must not print the wrapped message a second (or third) time.
#[test]
fn error_line_states_each_cause_once() {
    let sb = Sandbox::new();
    let mut repeats = Vec::new();
    // A layer error (traversal).
    let l = sb.oci(&[LayerBuilder::new()
        .file("../../etc/passwd", b"x", 0o644)
        .build()]);
    repeats.push(sb.fails(&[&s(&l.root)], None));
    std::fs::remove_dir_all(&l.root).unwrap();
    // An overlay error (hardlink to nothing).
    let l = sb.oci(&[LayerBuilder::new().hardlink("x", "nothere").build()]);
    repeats.push(sb.fails(&[&s(&l.root)], None));
    // An outer tar error (truncated member).
    let bytes = docker_archive_bytes(&[("t:1", vec![one_file()])]);
    std::fs::write(sb.path("cut.tar"), &bytes[..bytes.len() / 2]).unwrap();
    repeats.push(sb.fails(&[&s(&sb.path("cut.tar"))], None));
    let bad: Vec<String> = repeats
        .iter()
        .filter_map(|line| repeated_segment(line).map(|seg| format!("{seg:?} repeats in: {line}")))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Run `imgaudit args…` under a 4 GiB address-space cap (`ulimit -v`, as
/// the hostile suite of issue 14 ran) and a time limit; a run that takes
/// longer is killed and fails the test instead of hanging it.
fn bounded(args: &[&str], secs: u64) -> crate::util::Output {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304; exec \"$0\" \"$@\"")
        .arg(crate::util::bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imgaudit");
    let pipe = |r: Option<Box<dyn std::io::Read + Send>>| {
        let mut r = r.expect("piped");
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = pipe(child.stdout.take().map(|p| Box::new(p) as _));
    let err = pipe(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for imgaudit") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("imgaudit {args:?} ran longer than {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    crate::util::Output {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

/// Assert a bounded run ended with exit 2 and one `error:` line; returns it.
fn one_error_line(out: &crate::util::Output) -> String {
    assert_eq!(out.code, 2, "expected exit 2\nstderr:\n{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "panic:\n{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line:\n{}", out.stderr);
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    lines[0].to_string()
}

/// A layer whose one file sits 100,000 directories deep (the directories are
/// implied by its PAX `path`, so the layer stays small).
fn deep_layer(depth: usize) -> Vec<u8> {
    let path = format!("{}f", "d/".repeat(depth));
    LayerBuilder::new()
        .pax_long(tar::EntryType::Regular, &path, b"deep", 0o644)
        .build()
}

// See: issue 14
// Proves: a tree 100,000 directories deep is walked without overflowing a
// stack: the audit (environment discovery), `size` (final walk, advice walk,
// dive's visits) and their JSON output all finish, and the numbers count the
// one deep file.
#[test]
fn r14_deep_directories_walk_iteratively() {
    let sb = Sandbox::new();
    let l = sb.oci(&[deep_layer(100_000)]);
    let root = s(&l.root);
    let audit = bounded(&["audit", &root, "--format", "json"], 120);
    assert_eq!(audit.code, 0, "audit failed:\n{}", audit.stderr);
    let report: Value = serde_json::from_str(&audit.stdout).unwrap();
    assert!(report.is_object(), "{report}");
    let size = bounded(&["size", &root, "--format", "json"], 120);
    assert_eq!(size.code, 0, "size failed:\n{}", size.stderr);
    let report: Value = serde_json::from_str(&size.stdout).unwrap();
    assert_eq!(report["total_files"], 1, "{}", size.stdout);
    assert_eq!(report["total_bytes"], 4);
    // Only shallow directories can be among the largest.
    let dirs = report["largest_dirs"].as_array().unwrap();
    assert_eq!(dirs.len(), 10);
    assert_eq!(dirs[0]["path"], "/d");
    assert_eq!(dirs[9]["path"], format!("/d{}", "/d".repeat(9)));
    let text = bounded(&["size", &root], 120);
    assert_eq!(text.code, 0, "size failed:\n{}", text.stderr);
}

/// No raw terminal control in `text`: no ESC, C1 CSI, CR, BEL or
/// bidirectional override.
fn no_raw_controls(text: &str) {
    for c in ['\u{1b}', '\u{9b}', '\r', '\u{7}', '\u{202e}'] {
        assert!(!text.contains(c), "raw {c:?} in output:\n{text:?}");
    }
}

// See: issue 14
// Proves: entry names and symlink targets holding ESC/OSC sequences, a CR, a
// bidi override and a newline reach the `files` text output escaped, one
// line per entry (a `\n` in a name cannot forge a line).
#[test]
fn r14_files_text_escapes_names() {
    let sb = Sandbox::new();
    let evil = "a\u{1b}]0;pwned\u{7}\rb\nforged \u{202e}x";
    let l = sb.oci(&[LayerBuilder::new()
        .file(evil, b"x", 0o644)
        .symlink("link", "\u{1b}[2Jt\nu")
        .build()]);
    let out = bounded(&["files", &s(&l.root)], 60);
    assert_eq!(out.code, 0, "{}", out.stderr);
    no_raw_controls(&out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(r"/a\u{1b}]0;pwned\u{7}\rb\nforged \u{202e}x")),
        "{}",
        out.stdout
    );
    assert!(lines.iter().any(|l| l.ends_with(r"/link -> \u{1b}[2Jt\nu")));
}

// See: issue 14
// Proves: an error naming an entry whose name holds ESC and a newline is
// still one escaped line on stderr.
#[test]
fn r14_error_line_escapes_entry_names() {
    let sb = Sandbox::new();
    let l = sb.oci(&[LayerBuilder::new()
        .file("../\u{1b}[31m\nerror: forged", b"x", 0o644)
        .build()]);
    let line = sb.fails(&[&s(&l.root)], None);
    no_raw_controls(&line);
    says(&line, &[r"\u{1b}[31m\nerror: forged", "climbs out"]);
}

// See: issue 14
// Proves: a docker-archive whose two images carry 400 KB tags fails with an
// error line of bounded length (the list of tags is clipped), not a
// megabyte line.
#[test]
fn r14_error_line_is_clipped() {
    let sb = Sandbox::new();
    let t1 = format!("a{}:1", "x".repeat(400_000));
    let t2 = format!("b{}:2", "y".repeat(400_000));
    let p = docker_archive_images(
        &sb.path("two.tar"),
        &[(&t1, vec![one_file()]), (&t2, vec![one_file()])],
    );
    let line = sb.fails(&[&s(&p)], None);
    says(&line, &["two.tar", "2 images", "bytes in all"]);
    assert!(line.chars().count() < 5000, "{} chars", line.len());
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success(), "mkfifo {}", path.display());
}

// See: issue 14
// Proves: a FIFO given as the image, as a layout's `index.json`, as a layer
// blob or as `--config`, and `--config /dev/zero`, each end at once with one
// error line naming what is not a regular file (they used to block forever,
// or read 2 GB).
#[test]
fn r14_fifos_and_devices_are_refused() {
    let sb = Sandbox::new();
    let fifo = sb.path("image.fifo");
    mkfifo(&fifo);
    let line = one_error_line(&bounded(&["files", &s(&fifo)], 30));
    says(
        &line,
        &["image.fifo", "not a regular file or directory (a FIFO)"],
    );

    let l = sb.oci(&[one_file()]);
    let root = s(&l.root);
    let blob = l.blob(&l.layers[0]);
    let saved = std::fs::read(&blob).unwrap();
    mkfifo(&blob);
    let line = one_error_line(&bounded(&["files", &root], 30));
    says(
        &line,
        &[hex_of(&l.layers[0]), "not a regular file (a FIFO)"],
    );
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, saved).unwrap();

    let config = sb.path("config.fifo");
    mkfifo(&config);
    for c in [s(&config), "/dev/zero".to_string()] {
        let line = one_error_line(&bounded(&["audit", &root, "--config", &c], 30));
        says(&line, &[&c, "could not read config: not a regular file"]);
    }

    let index = l.root.join("index.json");
    std::fs::remove_file(&index).unwrap();
    mkfifo(&index);
    let line = one_error_line(&bounded(&["files", &root], 30));
    says(&line, &["`index.json`", "not a regular file (a FIFO)"]);
}

// See: issue 14
// Proves: a config or layer blob that is a symlink to a file outside the
// layout (here a copy of the right bytes, so only the symlink is wrong) is
// refused before it is read, while a symlink that stays inside the layout
// is followed.
#[test]
fn r14_symlinks_out_of_the_layout_are_refused() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    let root = s(&l.root);
    for digest in [&l.config, &l.layers[0]] {
        let blob = l.blob(digest);
        let outside = sb.path("outside");
        std::fs::rename(&blob, &outside).unwrap();
        std::os::unix::fs::symlink(&outside, &blob).unwrap();
        let line = one_error_line(&bounded(&["files", &root], 30));
        says(
            &line,
            &[hex_of(digest), "leads out of the layout directory"],
        );
        // The same bytes through a symlink inside the layout: read.
        let inside = l.root.join("inside");
        std::fs::rename(&outside, &inside).unwrap();
        std::fs::remove_file(&blob).unwrap();
        std::os::unix::fs::symlink("../../inside", &blob).unwrap();
        let out = bounded(&["files", &root], 30);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("/hello"), "{}", out.stdout);
        std::fs::remove_file(&blob).unwrap();
        std::fs::rename(&inside, &blob).unwrap();
    }
}

/// `sha512:<hex>` of `bytes`.
fn sha512_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes)))
}

// See: issue 14
// Proves: a config named by a sha512 digest is verified (the right bytes
// open, one changed byte is a digest mismatch), and a digest whose
// algorithm imgaudit cannot hash is refused rather than trusted.
#[test]
fn r14_sha512_verified_unknown_algorithms_refused() {
    let sb = Sandbox::new();
    let l = sb.oci(&[one_file()]);
    let root = s(&l.root);
    let config = std::fs::read(l.blob(&l.config)).unwrap();
    let d512 = sha512_digest(&config);
    let dir = l.root.join("blobs/sha512");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(&d512["sha512:".len()..]);
    std::fs::write(&path, &config).unwrap();
    edit_manifest(&l, |m| m["config"]["digest"] = Value::from(d512.clone()));
    let out = bounded(&["files", &root], 30);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("/hello"), "{}", out.stdout);

    let mut changed = config.clone();
    changed.push(b' ');
    std::fs::write(&path, &changed).unwrap();
    let line = one_error_line(&bounded(&["files", &root], 30));
    says(&line, &[&d512, "digest mismatch"]);

    let unknown = format!("md5:{}", "0".repeat(32));
    std::fs::create_dir_all(l.root.join("blobs/md5")).unwrap();
    std::fs::write(l.root.join("blobs/md5").join("0".repeat(32)), &config).unwrap();
    edit_manifest(&l, |m| m["config"]["digest"] = Value::from(unknown.clone()));
    let line = one_error_line(&bounded(&["files", &root], 30));
    says(&line, &["md5:", "unsupported"]);
}

const SITE: &str = "opt/venv/lib/python3.11/site-packages";

// See: issue 14
// Proves: inputs that used to multiply findings and parses, or make checks
// quadratic, audit in bounded time with one finding per file:
// - a RECORD of 100,000 malformed rows, hard-linked into 1,000 dist-infos,
//   is parsed once and gives one `metadata-malformed` per dist with a count;
// - an `entry_points.txt` of 50,000 bad lines is one finding with a count;
// - 3,000 console scripts whose RECORD lists 3,000 deleted launchers give
//   3,000 `shim-missing` (indexed, not scripts × rows);
// - 2,000 missing requirements against 1,000 deleted dist-infos give their
//   `dependency-missing`, naming the layer that deleted the one that was
//   there;
// - a `Requires-Dist` whose marker is an or of 20 ands over distinct extras
//   (exponential in pep508_rs) is skipped as unparsable, not evaluated.
#[test]
fn r14_findings_and_parses_do_not_multiply() {
    let sb = Sandbox::new();
    let dist = |name: &str| format!("{SITE}/{name}-1.0.dist-info");
    let meta = |name: &str, requires: &[String]| {
        let mut m = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
        for r in requires {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m.into_bytes()
    };
    let bad_record = "a,b,c,d\n".repeat(100_000);
    let bad_eps = format!("[console_scripts]\n{}", "no equals sign\n".repeat(50_000));
    let mut scripts = String::from("[console_scripts]\n");
    let mut record = String::new();
    for i in 0..3_000 {
        scripts.push_str(&format!("s{i} = tool.cli:main\n"));
        record.push_str(&format!("../../../bin/s{i},,\n"));
    }
    let mut requires: Vec<String> = (0..2_000).map(|i| format!("dep{i}")).collect();
    requires.push("gone5".into());
    let terms: Vec<String> = (0..20)
        .map(|i| format!("(extra == 'a{i}' and extra == 'b{i}')"))
        .collect();
    requires.push(format!("slow; {}", terms.join(" or ")));

    let mut base = LayerBuilder::new()
        .file(
            "opt/venv/pyvenv.cfg",
            b"home = /usr/local/bin\nversion = 3.11.4\n",
            0o644,
        )
        .file(
            &format!("{}/METADATA", dist("tool")),
            &meta("tool", &requires),
            0o644,
        )
        .file(&format!("{}/INSTALLER", dist("tool")), b"pip\n", 0o644)
        .file(
            &format!("{}/RECORD", dist("tool")),
            record.as_bytes(),
            0o644,
        )
        .file(
            &format!("{}/entry_points.txt", dist("tool")),
            scripts.as_bytes(),
            0o644,
        )
        .file(
            &format!("{}/METADATA", dist("bad0")),
            &meta("bad0", &[]),
            0o644,
        )
        .file(&format!("{}/INSTALLER", dist("bad0")), b"pip\n", 0o644)
        .file(
            &format!("{}/RECORD", dist("bad0")),
            bad_record.as_bytes(),
            0o644,
        )
        .file(
            &format!("{}/entry_points.txt", dist("bad0")),
            bad_eps.as_bytes(),
            0o644,
        );
    for i in 1..1_000 {
        let d = dist(&format!("bad{i}"));
        base = base
            .file(
                &format!("{d}/METADATA"),
                &meta(&format!("bad{i}"), &[]),
                0o644,
            )
            .file(&format!("{d}/INSTALLER"), b"pip\n", 0o644)
            .hardlink(&format!("{d}/RECORD"), &format!("{}/RECORD", dist("bad0")));
    }
    let mut deleting = LayerBuilder::new();
    for i in 0..1_000 {
        let d = dist(&format!("gone{i}"));
        base = base.file(
            &format!("{d}/METADATA"),
            &meta(&format!("gone{i}"), &[]),
            0o644,
        );
        deleting = deleting.whiteout(&d);
    }
    let l = sb.oci(&[base.build(), deleting.build()]);
    let out = bounded(&["audit", &s(&l.root), "--format", "json"], 120);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let of =
        |rule: &str| -> Vec<&Value> { findings.iter().filter(|f| f["rule"] == rule).collect() };

    let malformed = of("metadata-malformed");
    let records: Vec<&&Value> = malformed
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("/RECORD"))
        .collect();
    assert_eq!(records.len(), 1_000);
    for f in &records {
        let m = f["message"].as_str().unwrap();
        assert!(
            m.contains("RECORD line 1: ") && m.ends_with("(and 99999 more malformed rows)"),
            "{m}"
        );
    }
    let eps: Vec<&&Value> = malformed
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("/entry_points.txt"))
        .collect();
    assert_eq!(eps.len(), 1);
    let m = eps[0]["message"].as_str().unwrap();
    assert!(m.ends_with("(and 49999 more malformed lines)"), "{m}");
    assert_eq!(malformed.len(), 1_001);

    assert_eq!(of("shim-missing").len(), 3_000);
    let missing = of("dependency-missing");
    assert_eq!(
        missing.len(),
        2_001,
        "the marker-bombed requirement is skipped"
    );
    let gone = missing
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .contains("`gone5` is not installed")
        })
        .expect("gone5 is missing");
    assert!(
        gone.to_string().contains("`gone5` was removed by layer 1"),
        "{gone}"
    );
}

// See: issue 10 (the `markers` target hit its memory limit: pep508_rs
// interns every node of every marker's decision diagram, intermediate
// ones too, for the life of the process).
// Proves: 2,000 distinct requirements whose markers are or-ed ands over
// distinct extras, each within the bounds (23 comparisons, 560 bytes; about
// 10 MB of diagram each in pep508_rs, 20 GB in all), are parsed and
// evaluated under a 4 GiB address-space limit: each applies through its
// last term, so each missing one is a `dependency-missing`.
#[test]
fn r10_fuzz_markers_cost_memory_linear_in_their_length() {
    let sb = Sandbox::new();
    let dist = format!("{SITE}/tool-1.0.dist-info");
    let mut meta = String::from("Metadata-Version: 2.1\nName: tool\nVersion: 1.0\n");
    for k in 0..2_000 {
        let terms: Vec<String> = (0..11)
            .map(|i| format!("(extra == 'a{k}x{i}' and extra == 'b{k}x{i}')"))
            .collect();
        meta.push_str(&format!(
            "Requires-Dist: dep{k}; {} or python_version >= '3'\n",
            terms.join(" or ")
        ));
    }
    let layer = LayerBuilder::new()
        .file(
            "opt/venv/pyvenv.cfg",
            b"home = /usr/local/bin\nversion = 3.11.4\n",
            0o644,
        )
        .file(&format!("{dist}/METADATA"), meta.as_bytes(), 0o644)
        .file(&format!("{dist}/INSTALLER"), b"pip\n", 0o644)
        .file(&format!("{dist}/RECORD"), b"", 0o644)
        .build();
    let l = sb.oci(&[layer]);
    let out = bounded(&["audit", &s(&l.root), "--format", "json"], 120);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let missing = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "dependency-missing")
        .count();
    assert_eq!(missing, 2_000);
}
