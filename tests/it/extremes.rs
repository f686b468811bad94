//! Issue 10, item 7: inputs at the extremes — 100,000 layers, gzip and zstd
//! bombs, `/dev/zero` as the image, hundreds of thousands of tiny entries,
//! 100,000-deep trees and symlink chains through every command and output
//! format, 1 MB names, RECORD rows that climb out of the image, deeply
//! nested JSON in every JSON imgaudit reads, hostile `imgaudit.toml` files;
//! and item 2's nested platform-less indexes and index cycles.
//!
//! Every input is generated here (synthetic tars are the point: no real
//! image is this hostile). Each run goes through [`run`]: the binary under a
//! time limit (a hang fails the test instead of stalling it), in a working
//! directory inside a sandbox that must be unchanged afterwards, with its
//! peak resident memory (`VmHWM` of `/proc/PID/status`, sampled until it
//! exits) returned so tests can bound it. The outcome is either a correct
//! result or exit 2 with one `error:` line — never a panic.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest as _;

use crate::util::{
    bin, config_json, digest, hex_of, oci_layout, snapshot, Compression, LayerBuilder, OuterTar,
    TAG,
};

/// What a bounded run gave: the output and the peak RSS in KiB.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    peak_kib: u64,
}

impl Run {
    /// Exit 2, nothing on stdout, one `error:` line naming `parts`; no panic.
    fn refused(&self, parts: &[&str]) -> &str {
        assert_eq!(self.code, 2, "expected exit 2\nstderr:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "not one line:\n{}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        for p in parts {
            assert!(lines[0].contains(p), "{p:?} not in: {}", lines[0]);
        }
        lines[0]
    }

    /// Exit status in `codes` (0 clean, 1 findings), no panic.
    fn ok(&self, codes: &[i32]) -> &str {
        assert!(
            codes.contains(&self.code),
            "exit {}\nstderr:\n{}",
            self.code,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        &self.stdout
    }
}

/// The peak resident set of process `pid` so far, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `imgaudit ARGS…` from `cwd` (stdin from `stdin`, else empty) with no
/// cache unless `cache` names one; killed and failed after `secs`. The
/// sandbox `cwd` lies in must be byte-for-byte unchanged afterwards.
fn run_with(
    sandbox: &Path,
    args: &[&str],
    stdin: Option<std::fs::File>,
    cache: Option<&Path>,
    secs: u64,
) -> Run {
    let before = snapshot(sandbox);
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(sandbox)
        .env("NO_COLOR", "1")
        .stdin(stdin.map(Stdio::from).unwrap_or_else(Stdio::null))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match cache {
        Some(dir) => cmd.env("IMGAUDIT_CACHE_DIR", dir),
        None => cmd.arg("--no-cache"),
    };
    let mut child = cmd.spawn().expect("spawn imgaudit");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("imgaudit {args:?} ran longer than {secs} s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        peak_kib: peak,
    };
    assert_eq!(before, snapshot(sandbox), "imgaudit {args:?} wrote a file");
    run
}

fn run(sandbox: &Path, args: &[&str], secs: u64) -> Run {
    run_with(sandbox, args, None, None, secs)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every command and output format that walks the merged tree.
const EVERY_VIEW: &[&[&str]] = &[
    &["audit"],
    &["audit", "--format", "json"],
    &["audit", "--format", "sarif"],
    &["audit", "--format", "junit"],
    &["files"],
    &["files", "--format", "jsonl"],
    &["size"],
    &["size", "--format", "json"],
];

/// `view` + `input`, as one argument list.
fn with_input<'a>(view: &[&'a str], input: &'a str) -> Vec<&'a str> {
    let mut v = vec![view[0], input];
    v.extend_from_slice(&view[1..]);
    v
}

// Proves: a manifest listing 100,000 layers (one small blob listed 100,000
// times, which is valid) is read in an OCI layout — with the fact cache on,
// twice — and in a docker-archive: `files` lists the one file. It used to
// fail with "`blobs/sha256/…` is missing": each listing opened the blob
// file again until file descriptors ran out, and the open error was
// reported as a missing blob; and the cache wrote one record per listing
// (65 s). See: issue 10
#[test]
fn r10_hundred_thousand_layers() {
    const N: usize = 100_000;
    let tmp = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let layer = LayerBuilder::new()
        .file("etc/motd", b"hello\n", 0o644)
        .build();
    let diff_id = digest(&layer);
    let root = tmp.path().join("oci");
    let l = oci_layout(
        &root,
        std::slice::from_ref(&layer),
        Compression::None,
        json!({}),
    );
    let config = config_json(&vec![diff_id.clone(); N], &json!({}));
    let config_digest = digest(&config);
    std::fs::write(
        root.join("blobs/sha256").join(hex_of(&config_digest)),
        &config,
    )
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": vec![json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                              "digest": l.layers[0], "size": layer.len()}); N],
    }))
    .unwrap();
    let manifest_digest = digest(&manifest);
    std::fs::write(
        root.join("blobs/sha256").join(hex_of(&manifest_digest)),
        &manifest,
    )
    .unwrap();
    std::fs::write(
        root.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": manifest_digest, "size": manifest.len()}]}))
        .unwrap(),
    )
    .unwrap();
    for _ in 0..2 {
        let out = run_with(
            tmp.path(),
            &["files", s(&root)],
            None,
            Some(cache.path()),
            60,
        );
        assert_eq!(
            out.ok(&[0])
                .trim_end()
                .lines()
                .last()
                .unwrap()
                .split_whitespace()
                .last(),
            Some("/etc/motd")
        );
    }

    let config_name = format!("{}.json", hex_of(&config_digest));
    let mut outer = OuterTar::new();
    outer.file("layer.tar", &layer).file(&config_name, &config);
    outer.file(
        "manifest.json",
        &serde_json::to_vec(&json!([{"Config": config_name, "RepoTags": ["many:latest"],
                                     "Layers": vec!["layer.tar"; N]}]))
        .unwrap(),
    );
    let archive = tmp.path().join("many.tar");
    std::fs::write(&archive, outer.finish()).unwrap();
    let out = run(tmp.path(), &["files", s(&archive)], 60);
    assert!(out.ok(&[0]).contains("/etc/motd"), "{}", out.stdout);
}

/// A writer that hashes what passes through (the diff_id of a layer too
/// big to hold).
struct Hashing<W> {
    inner: W,
    sha: sha2::Sha256,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A layer holding one file of `size` zero bytes, written through `w`.
fn zero_layer(w: &mut dyn std::io::Write, size: u64) {
    let mut h = tar::Header::new_gnu();
    h.set_path("zero").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    w.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    w.write_all(&[0u8; 1024]).unwrap();
}

/// An OCI layout of one layer blob `data` (media type `mt`) whose tar has
/// diff_id `diff_id`.
fn one_blob_layout(root: &Path, data: &[u8], mt: &str, diff_id: &str) {
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |b: &[u8]| {
        let d = digest(b);
        std::fs::write(root.join("blobs/sha256").join(hex_of(&d)), b).unwrap();
        d
    };
    let layer = put(data);
    let config = config_json(&[diff_id.to_string()], &json!({}));
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": mt, "digest": layer, "size": data.len()}],
    }))
    .unwrap();
    let m = put(&manifest);
    std::fs::write(
        root.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m,
             "size": manifest.len(),
             "annotations": {"org.opencontainers.image.ref.name": TAG}}]}))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
}

// Proves: a gzip layer of 2 MB (deflate's ratio tops out near 1000:1) and a
// zstd layer of about 100 KB that both inflate to 2 GiB
// (one file of zeros) are streamed, not stopped: imgaudit hashes every
// inflated byte against the diff_id and lists the file with its 2 GiB
// size, in bounded time and with a peak RSS under 100 MiB (decoding holds a
// 32 KiB gzip window or the zstd frame's window, never the data). A stop at
// some size would refuse real layers (CUDA base layers inflate past 3 GB);
// the time is the inflate itself, linear in the bytes. What is bounded is
// the zstd window: a frame that asks for a 1 GiB window (`zstd --long=30`)
// is refused at its header, in one line saying so (zstd's default
// `windowLogMax` of 27, 128 MiB), instead of "corrupt". See: issue 10
#[test]
fn r10_gzip_and_zstd_bombs_stream_in_bounded_memory() {
    const SIZE: u64 = 2 << 30;
    let tmp = tempfile::tempdir().unwrap();
    let mut gz = Hashing {
        inner: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best()),
        sha: sha2::Sha256::new(),
    };
    zero_layer(&mut gz, SIZE);
    let diff_id = format!("sha256:{}", hex::encode(gz.sha.finalize()));
    let gz = gz.inner.finish().unwrap();
    let mut zst = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    zero_layer(&mut zst, SIZE);
    let zst = zst.finish().unwrap();
    for (name, data, mt) in [
        ("gzip", &gz, "application/vnd.oci.image.layer.v1.tar+gzip"),
        ("zstd", &zst, "application/vnd.oci.image.layer.v1.tar+zstd"),
    ] {
        assert!(data.len() < 8 << 20, "{name} bomb is {} bytes", data.len());
        let root = tmp.path().join(name);
        one_blob_layout(&root, data, mt, &diff_id);
        let out = run(tmp.path(), &["files", s(&root)], 120);
        let line = out.ok(&[0]).trim_end().to_string();
        assert!(
            line.contains(&SIZE.to_string()) && line.ends_with("/zero"),
            "{line}"
        );
        eprintln!(
            "{name}: {} byte blob, 2 GiB inflated, peak RSS {} KiB",
            data.len(),
            out.peak_kib
        );
        assert!(out.peak_kib < 100 << 10, "{name}: {} KiB", out.peak_kib);
    }

    let mut wide = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    wide.window_log(30).unwrap();
    wide.long_distance_matching(true).unwrap();
    let layer = LayerBuilder::new().file("f", b"x", 0o644).build();
    wide.write_all(&layer).unwrap();
    let wide = wide.finish().unwrap();
    let root = tmp.path().join("wide");
    one_blob_layout(
        &root,
        &wide,
        "application/vnd.oci.image.layer.v1.tar+zstd",
        &digest(&layer),
    );
    run(tmp.path(), &["files", s(&root)], 30).refused(&[
        &hex_of(&digest(&wide))[..12],
        "decoding window larger than 128 MiB",
    ]);
}

// Proves: `/dev/zero` as the image path is refused by its kind before it
// is read; endless zeros on stdin end at the tar's end-of-archive blocks
// with one line (not an endless read); a layer blob that is a symlink to
// `/dev/zero` is refused as leading out of the layout; an archive member
// that is a FIFO or a character device, named as a layer, is refused as
// such (it used to be "missing"). (FIFOs as the image,
// `index.json`, a blob or `--config` are `hostile.rs`'s r14 test.)
// See: issue 10
#[test]
fn r10_dev_zero_as_input() {
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), &["files", "/dev/zero"], 30)
        .refused(&["/dev/zero", "not a regular file or directory"]);
    let zeros = std::fs::File::open("/dev/zero").unwrap();
    let out = run_with(tmp.path(), &["files", "-"], Some(zeros), None, 30);
    out.refused(&["<stdin>"]);
    let root = tmp.path().join("oci");
    let l = oci_layout(
        &root,
        &[LayerBuilder::new().file("f", b"x", 0o644).build()],
        Compression::None,
        json!({}),
    );
    std::fs::remove_file(l.blob(&l.layers[0])).unwrap();
    std::os::unix::fs::symlink("/dev/zero", l.blob(&l.layers[0])).unwrap();
    run(tmp.path(), &["files", s(&root)], 30)
        .refused(&[hex_of(&l.layers[0]), "leads out of the layout"]);

    // A docker archive whose `layer.tar` member is a FIFO or `/dev/zero`'s
    // device node: named for what it is, on a path and on stdin.
    for (kind, words) in [
        (tar::EntryType::Fifo, "(a FIFO)"),
        (tar::EntryType::Char, "(a character device)"),
    ] {
        let config = config_json(&[format!("sha256:{}", "0".repeat(64))], &json!({}));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(5).unwrap();
        b.append_data(&mut h, "layer.tar", &[][..]).unwrap();
        for (name, data) in [
            ("c.json", config),
            (
                "manifest.json",
                serde_json::to_vec(&json!([{"Config": "c.json", "RepoTags": ["x:1"],
                                            "Layers": ["layer.tar"]}]))
                .unwrap(),
            ),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        let archive = tmp.path().join("special.tar");
        std::fs::write(&archive, b.into_inner().unwrap()).unwrap();
        run(tmp.path(), &["files", s(&archive)], 30).refused(&["`layer.tar`", words]);
        let stdin = std::fs::File::open(&archive).unwrap();
        run_with(tmp.path(), &["files", "-"], Some(stdin), None, 30).refused(&[
            "<stdin>",
            "`layer.tar`",
            words,
        ]);
        std::fs::remove_file(&archive).unwrap();
    }
}

/// A gzip layer of `n` empty files spread over directories of 1,000.
fn tiny_entries(n: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..n {
        let h = crate::util::header(
            tar::EntryType::Regular,
            format!("d{}/f{i}", i / 1000).as_bytes(),
            0,
            0o644,
        );
        enc.write_all(h.as_bytes()).unwrap();
    }
    enc.write_all(&[0u8; 1024]).unwrap();
    enc.finish().unwrap()
}

// Proves: memory grows with the number of entries by metadata only. Two
// images of 40,000 and 240,000 empty files: the difference in peak RSS per
// added entry stays under 2 KiB for `files` and for `size` (which keeps the
// most per entry) — measured about 0.5 and 0.7 KiB; a million entries is
// then well under a GiB. The layer is gzip, so the 120 MB of headers cost
// no disk here. See: issue 10
#[test]
fn r10_many_tiny_entries_cost_metadata_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (small, large) = (40_000usize, 240_000usize);
    let mut peaks = Vec::new();
    for n in [small, large] {
        let tar_gz = tiny_entries(n);
        let mut dec = flate2::read::GzDecoder::new(&tar_gz[..]);
        let mut sha = sha2::Sha256::new();
        std::io::copy(&mut dec, &mut sha).unwrap();
        let diff_id = format!("sha256:{}", hex::encode(sha.finalize()));
        let root = tmp.path().join(format!("n{n}"));
        one_blob_layout(
            &root,
            &tar_gz,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &diff_id,
        );
        let files = run(tmp.path(), &["files", s(&root), "--format", "jsonl"], 120);
        assert_eq!(files.ok(&[0]).lines().count(), n + n.div_ceil(1000));
        let size = run(tmp.path(), &["size", s(&root), "--format", "json"], 120);
        let report: Value = serde_json::from_str(size.ok(&[0])).unwrap();
        assert_eq!(report["total_files"], n);
        peaks.push((files.peak_kib, size.peak_kib));
    }
    let added = (large - small) as f64;
    let per_entry = |a: u64, b: u64| (b.saturating_sub(a) as f64) * 1024.0 / added;
    let files = per_entry(peaks[0].0, peaks[1].0);
    let size = per_entry(peaks[0].1, peaks[1].1);
    eprintln!("peak RSS per entry: files {files:.0} B, size {size:.0} B ({peaks:?} KiB)");
    assert!(files > 0.0 && files < 2048.0, "files: {files} B per entry");
    assert!(size > 0.0 && size < 2048.0, "size: {size} B per entry");
}

/// A venv whose interpreter is reached through a 100,000-link symlink chain
/// (each link names the one before; Linux gives up after 40), and a file
/// 100,000 directories deep.
fn deep_and_chained() -> Vec<u8> {
    const N: usize = 100_000;
    let mut b = LayerBuilder::new()
        .file("usr/bin/python3.11", b"\x7fELF", 0o755)
        .symlink("c/l0", "/usr/bin/python3.11");
    for i in 1..N {
        b = b.symlink(&format!("c/l{i}"), &format!("l{}", i - 1));
    }
    let last = format!("/c/l{}", N - 1);
    b.file(
        "opt/venv/pyvenv.cfg",
        b"home = /usr/bin\nversion = 3.11.4\n",
        0o644,
    )
    .symlink("opt/venv/bin/python", &last)
    .symlink("usr/local/bin/python3", &last)
    .file("opt/venv/lib/python3.11/site-packages/x.py", b"", 0o644)
    .pax_long(
        tar::EntryType::Regular,
        &format!("{}f", "d/".repeat(N)),
        b"deep",
        0o644,
    )
    .build()
}

// Proves: a 100,000-deep directory tree and a 100,000-link symlink chain in
// one image go through every command and output format (audit text, JSON,
// SARIF, JUnit; files text and JSONL; size text and JSON) without a stack
// overflow: each ends with its normal exit status and parseable output,
// the chain is reported as not resolving (as the kernel would: ELOOP after
// 40 links), and the error note quoting the chain is clipped. `files` lists
// the chain's directory (see below for why not the whole deep tree).
// (`hostile.rs`'s r14 test covers the deep tree in audit JSON and size.)
// See: issue 10
#[test]
fn r10_deep_trees_and_symlink_chains_through_every_view() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    oci_layout(&root, &[deep_and_chained()], Compression::Gzip, json!({}));
    for view in EVERY_VIEW {
        let mut args = with_input(view, s(&root));
        if view[0] == "files" {
            // The whole listing of a 100,000-deep tree is quadratic by
            // definition (every directory's line holds its full path: 10
            // GB); the chain's directory is listed, the walk is the same.
            args.push("/c");
        }
        let out = run(tmp.path(), &args, 120);
        let stdout = out.ok(&[0, 1]);
        match view {
            ["audit", "--format", "json"]
            | ["audit", "--format", "sarif"]
            | ["size", "--format", "json"] => {
                let _: Value = serde_json::from_str(stdout).unwrap();
            }
            ["audit"] => {
                assert!(stdout.contains("venv-interpreter-missing"), "{stdout}");
                assert!(stdout.len() < 20_000, "{} bytes", stdout.len());
            }
            ["files", "--format", "jsonl"] => {
                assert!(stdout.lines().count() >= 100_000, "one line per link");
            }
            _ => assert!(!stdout.is_empty()),
        }
    }
}

/// The PAX extended header (`x`) that carries `records` for the next entry.
fn pax_carrier(records: &[u8]) -> tar::Header {
    crate::util::header(
        tar::EntryType::XHeader,
        b"PaxHeaders.0/placeholder",
        records.len() as u64,
        0o644,
    )
}

// Proves: a 1 MiB entry name — in a PAX `path` record or a GNU long-name
// record — is refused with one line before the name is kept, while a
// 500 KiB name and link target are read and printed whole. See: issue 10
#[test]
fn r10_one_megabyte_names() {
    let tmp = tempfile::tempdir().unwrap();
    let mib = format!("a/{}", "n".repeat(1 << 20));
    for (i, layer) in [
        LayerBuilder::new().pax_long(tar::EntryType::Regular, &mib, b"x", 0o644),
        LayerBuilder::new().gnu_long(tar::EntryType::Regular, &mib, b"x", 0o644),
    ]
    .into_iter()
    .enumerate()
    {
        let root = tmp.path().join(format!("big{i}"));
        let l = oci_layout(&root, &[layer.build()], Compression::None, json!({}));
        for view in EVERY_VIEW {
            run(tmp.path(), &with_input(view, s(&root)), 30)
                .refused(&[hex_of(&l.layers[0]), "refusing to read it"]);
        }
    }
    let long = "n".repeat(500 << 10);
    let link_rec = crate::util::pax_record("linkpath", long.as_bytes());
    let root = tmp.path().join("long");
    oci_layout(
        &root,
        &[LayerBuilder::new()
            .pax_long(tar::EntryType::Regular, &format!("a/{long}"), b"x", 0o644)
            .raw(&pax_carrier(&link_rec), &link_rec)
            .raw(
                &crate::util::header(tar::EntryType::Symlink, b"lnk", 0, 0o777),
                b"",
            )
            .build()],
        Compression::None,
        json!({}),
    );
    let out = run(tmp.path(), &["files", s(&root), "--format", "jsonl"], 30);
    let lines = crate::util::parse_jsonl(out.ok(&[0]));
    assert!(lines.iter().any(|l| l["path"] == format!("/a/{long}")));
    assert!(
        lines.iter().any(|l| l["target"] == long.as_str()),
        "{}",
        &out.stdout[..200]
    );
    for view in EVERY_VIEW {
        run(tmp.path(), &with_input(view, s(&root)), 30).ok(&[0, 1]);
    }
}

// Proves: RECORD rows naming `../../../../etc/passwd` and `/etc/passwd`,
// with the host file's real hash and size, are looked up in the image, never
// on the host: both are reported absent (had the host file been read, its
// hash would have matched and nothing been reported). See: issue 10
#[test]
fn r10_record_rows_outside_the_image_never_read_the_host() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().unwrap();
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let hash =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&passwd));
    let climb = format!("{}etc/passwd", "../".repeat(12));
    let record = format!(
        "{climb},sha256={hash},{n}\n/etc/passwd,sha256={hash},{n}\npkg/__init__.py,,\n",
        n = passwd.len()
    );
    let site = "opt/venv/lib/python3.11/site-packages";
    let root = tmp.path().join("oci");
    oci_layout(
        &root,
        &[LayerBuilder::new()
            .file(
                "opt/venv/pyvenv.cfg",
                b"home = /usr/bin\nversion = 3.11.4\n",
                0o644,
            )
            .file("usr/bin/python3.11", b"\x7fELF", 0o755)
            .symlink("opt/venv/bin/python", "/usr/bin/python3.11")
            .file(
                &format!("{site}/pkg-1.0.dist-info/METADATA"),
                b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
                0o644,
            )
            .file(
                &format!("{site}/pkg-1.0.dist-info/INSTALLER"),
                b"pip\n",
                0o644,
            )
            .file(
                &format!("{site}/pkg-1.0.dist-info/WHEEL"),
                b"Wheel-Version: 1.0\n",
                0o644,
            )
            .file(
                &format!("{site}/pkg-1.0.dist-info/RECORD"),
                record.as_bytes(),
                0o644,
            )
            .file(&format!("{site}/pkg/__init__.py"), b"", 0o644)
            .build()],
        Compression::None,
        json!({}),
    );
    let out = run(tmp.path(), &["audit", s(&root), "--format", "json"], 60);
    let report: Value = serde_json::from_str(out.ok(&[1])).unwrap();
    let missing: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "record-missing-file")
        .collect();
    assert_eq!(missing.len(), 1, "{}", out.stdout);
    let m = missing[0]["message"].as_str().unwrap();
    assert!(
        m.starts_with("2 of the files") && m.contains("/etc/passwd"),
        "{m}"
    );
}

/// `[[[…]]]`, `depth` deep.
fn deep_array(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

// Proves: JSON nested 100,000 deep in each JSON imgaudit reads — a docker
// `manifest.json` (path and stdin), an OCI `index.json`, a manifest, a
// config, an unknown field inside a config (skipped without recursion, so
// the image reads), and the fact cache's verified records — ends with one
// line or a correct result, no stack overflow. See: issue 10
#[test]
fn r10_deeply_nested_json_everywhere() {
    const D: usize = 100_000;
    let tmp = tempfile::tempdir().unwrap();
    let deep = deep_array(D);
    let layer = LayerBuilder::new().file("f", b"x", 0o644).build();

    let mut outer = OuterTar::new();
    outer.file("manifest.json", deep.as_bytes());
    let archive = tmp.path().join("deep.tar");
    std::fs::write(&archive, outer.finish()).unwrap();
    run(tmp.path(), &["files", s(&archive)], 30).refused(&["`manifest.json`", "invalid JSON"]);
    let out = run_with(
        tmp.path(),
        &["files", "-"],
        Some(std::fs::File::open(&archive).unwrap()),
        None,
        30,
    );
    out.refused(&["<stdin>", "`manifest.json`", "invalid JSON"]);

    let fresh = |name: &str| {
        let root = tmp.path().join(name);
        let l = oci_layout(
            &root,
            std::slice::from_ref(&layer),
            Compression::None,
            json!({}),
        );
        (root, l)
    };
    let point_index_at = |root: &Path, d: &str, size: usize| {
        let p = root.join("index.json");
        let mut ix: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        ix["manifests"][0]["digest"] = Value::from(d);
        ix["manifests"][0]["size"] = Value::from(size);
        std::fs::write(p, serde_json::to_vec(&ix).unwrap()).unwrap();
    };
    let put = |root: &Path, b: &[u8]| {
        let d = digest(b);
        std::fs::write(root.join("blobs/sha256").join(hex_of(&d)), b).unwrap();
        d
    };

    let (root, _) = fresh("index");
    std::fs::write(root.join("index.json"), &deep).unwrap();
    run(tmp.path(), &["files", s(&root)], 30).refused(&["`index.json`", "invalid JSON"]);

    let (root, _) = fresh("manifest");
    let d = put(&root, deep.as_bytes());
    point_index_at(&root, &d, deep.len());
    run(tmp.path(), &["files", s(&root)], 30).refused(&[hex_of(&d), "invalid JSON"]);

    for (name, config_of) in [
        (
            "config",
            Box::new(|_: &[u8]| deep.clone().into_bytes()) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
        ),
        (
            "config-field",
            Box::new(|c: &[u8]| {
                let text = String::from_utf8(c.to_vec()).unwrap();
                format!(
                    "{},\"x\":{deep}}}",
                    text.trim_end().strip_suffix('}').unwrap()
                )
                .into_bytes()
            }),
        ),
    ] {
        let (root, l) = fresh(name);
        let config = config_of(&std::fs::read(l.blob(&l.config)).unwrap());
        let cd = put(&root, &config);
        let mut m: Value =
            serde_json::from_slice(&std::fs::read(l.blob(&l.manifest)).unwrap()).unwrap();
        m["config"]["digest"] = Value::from(cd.clone());
        m["config"]["size"] = Value::from(config.len());
        let mb = serde_json::to_vec(&m).unwrap();
        let md = put(&root, &mb);
        point_index_at(&root, &md, mb.len());
        let out = run(tmp.path(), &["files", s(&root)], 30);
        if name == "config" {
            out.refused(&[hex_of(&cd)]);
        } else {
            assert!(out.ok(&[0]).contains("/f"), "{}", out.stdout);
        }
    }

    // The cache's records, replaced by deep JSON: read as absent, the image
    // read again and the records rewritten.
    let cache = tempfile::tempdir().unwrap();
    let (root, _) = fresh("cached");
    let first = run_with(
        tmp.path(),
        &["files", s(&root)],
        None,
        Some(cache.path()),
        30,
    );
    let mut replaced = 0;
    for (path, _) in snapshot(cache.path()) {
        if path.is_file() {
            std::fs::write(&path, &deep).unwrap();
            replaced += 1;
        }
    }
    assert!(replaced > 0, "the cache holds no file");
    let again = run_with(
        tmp.path(),
        &["files", s(&root)],
        None,
        Some(cache.path()),
        30,
    );
    assert_eq!(first.ok(&[0]), again.ok(&[0]));
}

// Proves: hostile `imgaudit.toml` files end with one line naming the file
// (huge: over the 1 MiB cap; nested 100,000 deep in arrays, inline tables,
// a budget value and a dotted table header: toml's recursion limit), and
// pathological globs — `*a` × 500, nested alternates, 300 `**/`, 150
// negated classes — either are refused by their bound or match 20,000
// paths in bounded time. See: issue 10
#[test]
fn r10_hostile_config_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let mut b = LayerBuilder::new();
    for i in 0..20_000 {
        b = b.file(&format!("opt/{}/{i}", "a".repeat(i % 50)), b"", 0o644);
    }
    oci_layout(&root, &[b.build()], Compression::Gzip, json!({}));
    const D: usize = 100_000;
    let deep = deep_array(D);
    let refused: Vec<(&str, String, &str)> = vec![
        (
            "huge.toml",
            format!("{}\n", "#".repeat(2 << 20)),
            "larger than",
        ),
        (
            "deep-array.toml",
            format!("x = {deep}\n"),
            "recursion limit",
        ),
        (
            "deep-table.toml",
            format!("x = {}1{}\n", "{a=".repeat(D), "}".repeat(D)),
            "recursion limit",
        ),
        (
            "deep-budget.toml",
            format!("[budget]\ntotal = {deep}\n"),
            "recursion limit",
        ),
        (
            "deep-header.toml",
            format!("[{}]\n", vec!["a"; D].join(".")),
            "recursion limit",
        ),
        (
            "nested-alternates.toml",
            format!(
                "[[ignore]]\npath = \"{}a{}\"\nreason = \"r\"\n",
                "{".repeat(9),
                "}".repeat(9)
            ),
            "nested deeper than",
        ),
        (
            "long-glob.toml",
            format!(
                "[[ignore]]\npath = \"{}\"\nreason = \"r\"\n",
                "?".repeat(150_000)
            ),
            "longer than",
        ),
    ];
    for (name, text, says) in &refused {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        run(tmp.path(), &["audit", s(&root), "--config", s(&path)], 30).refused(&[name, says]);
    }
    for glob in [
        "*a".repeat(500),
        format!("{}b{}", "{a,".repeat(8), "}".repeat(8)),
        format!("{}x", "**/".repeat(300)),
        format!("{}{}", "[!a-z]".repeat(150), "?".repeat(100)),
    ] {
        let path = tmp.path().join("glob.toml");
        std::fs::write(
            &path,
            format!("[[ignore]]\npath = \"/{glob}\"\nreason = \"r\"\n"),
        )
        .unwrap();
        let start = Instant::now();
        let out = run(tmp.path(), &["audit", s(&root), "--config", s(&path)], 60);
        assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
        if out.code == 2 {
            out.refused(&["glob.toml"]);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{glob}: {:?}",
            start.elapsed()
        );
    }
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Write `v` as a blob of the layout at `root`; its descriptor (of
/// `media_type`, no platform).
fn json_desc(root: &Path, v: &Value, media_type: &str) -> Value {
    let bytes = serde_json::to_vec(v).unwrap();
    let d = digest(&bytes);
    std::fs::write(root.join("blobs/sha256").join(hex_of(&d)), &bytes).unwrap();
    json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
}

fn index_of(manifests: Vec<Value>) -> Value {
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
}

fn write_top(root: &Path, manifests: Vec<Value>) {
    std::fs::write(
        root.join("index.json"),
        serde_json::to_vec(&index_of(manifests)).unwrap(),
    )
    .unwrap();
}

/// The descriptor of the image manifest now named by `root/index.json`.
fn manifest_desc(root: &Path) -> Value {
    let ix: Value =
        serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    let mut d = ix["manifests"][0].clone();
    d.as_object_mut().unwrap().remove("annotations");
    d
}

// Proves (item 2): an index child without `platform` that is itself an
// index is searched for the platform, as containerd walks platform-less
// children: `index.json` = [amd64 manifest (with platform), index B (no
// platform)], B = [arm64 manifest (no platform, its config says arm64),
// index C (no platform)], C = [s390x manifest (no platform)]. Each platform
// opens its own image, the same tree umoci unpacks from it; a platform
// nobody has is one line listing what the top index offers. See: issue 10
#[test]
fn r10_nested_platformless_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let mut descs = Vec::new();
    let mut trees = Vec::new();
    for arch in ["amd64", "arm64", "s390x"] {
        oci_layout(
            &root,
            &[LayerBuilder::new()
                .file(&format!("srv/{arch}"), arch.as_bytes(), 0o644)
                .file("etc/os-release", b"ID=test\n", 0o644)
                .symlink("srv/link", arch)
                .build()],
            Compression::None,
            json!({"architecture": arch, "os": "linux"}),
        );
        trees.push(crate::oracle::umoci_tree(&root, TAG));
        descs.push(manifest_desc(&root));
    }
    let mut amd64 = descs[0].clone();
    amd64["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let c = json_desc(&root, &index_of(vec![descs[2].clone()]), OCI_INDEX);
    let b = json_desc(&root, &index_of(vec![descs[1].clone(), c]), OCI_INDEX);
    write_top(&root, vec![amd64, b]);
    for (i, arch) in ["amd64", "arm64", "s390x"].iter().enumerate() {
        let image = crate::util::open_with(&root, None, Some(&format!("linux/{arch}")));
        crate::oracle::check(arch, &trees[i].1, &image, false).unwrap_or_else(|e| panic!("{e}"));
        let out = run(
            tmp.path(),
            &["files", s(&root), "--platform", &format!("linux/{arch}")],
            30,
        );
        assert!(
            out.ok(&[0]).contains(&format!("/srv/{arch}")),
            "{}",
            out.stdout
        );
    }
    run(
        tmp.path(),
        &["files", s(&root), "--platform", "linux/ppc64le"],
        30,
    )
    .refused(&["no manifest for platform `linux/ppc64le`", "linux/amd64"]);
}

// Proves (item 2): index cycles end in one line. A cycle cannot be
// content-addressed (an index would have to contain its own digest), so the
// blob the cycle names back is not what its digest says: index A lists B,
// B lists A, both stored under the digests the other names — a digest
// mismatch on the first blob whose bytes are not its name, whether the
// indexes are platform-less (searched) or the lone child (descended). An
// index naming itself likewise. Nested deeper than 8 (a long chain of lone
// indexes, each a real blob) is refused by depth. See: issue 10
#[test]
fn r10_index_cycles_and_depth() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let l = oci_layout(
        &root,
        &[LayerBuilder::new().file("f", b"x", 0o644).build()],
        Compression::None,
        json!({}),
    );
    let image = manifest_desc(&root);
    let mut amd64 = image.clone();
    amd64["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let fake = format!("sha256:{}", "ab".repeat(32));
    // A names `fake`; B (names A) is stored as `fake`.
    let a = json_desc(
        &root,
        &index_of(vec![
            json!({"mediaType": OCI_INDEX, "digest": fake, "size": 100}),
        ]),
        OCI_INDEX,
    );
    let b_bytes = serde_json::to_vec(&index_of(vec![a.clone()])).unwrap();
    std::fs::write(root.join("blobs/sha256").join(hex_of(&fake)), &b_bytes).unwrap();
    for top in [vec![a.clone()], vec![amd64.clone(), a.clone()]] {
        write_top(&root, top);
        run(
            tmp.path(),
            &["files", s(&root), "--platform", "linux/arm64"],
            30,
        )
        .refused(&[hex_of(&fake), "digest mismatch"]);
    }
    // Selected by digest: the search reads each index once and ends.
    write_top(&root, vec![a.clone()]);
    run(tmp.path(), &["files", s(&root), "--image", &l.manifest], 30)
        .refused(&["no manifest with digest"]);

    let mut below = image;
    for _ in 0..10 {
        below = json_desc(&root, &index_of(vec![below]), OCI_INDEX);
    }
    write_top(&root, vec![below]);
    run(tmp.path(), &["files", s(&root)], 30).refused(&["nested deeper than 8"]);
}
