//! Test support: an in-memory layer builder, writers for the image formats
//! imgaudit reads (OCI layout dir/archive, legacy `docker save`), a runner
//! for the built binary, and a compact listing of a merged tree.
//!
//! Layers are built block by block with the `tar` crate's `Header` API, but
//! names are copied into the header bytes by hand: `tar::Builder` refuses
//! `..` and absolute names, and the hostile tests need exactly those. Long
//! names are written explicitly as GNU (`L`) or PAX (`x`) records, so a test
//! says which encoding it exercises.
//!
//! Everything written here is deterministic (fixed mtimes, sorted JSON keys),
//! so the same layers always give the same digests.

#![allow(dead_code)] // each test module uses a different part of this file

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use imgaudit::image::Image;
use imgaudit::source::{OpenRequest, Platform};
use imgaudit::tree::{Kind, ROOT};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// Fixed mtime for every entry (2023-11-14), so digests are reproducible.
pub const MTIME: u64 = 1_700_000_000;

/// The ref name (`org.opencontainers.image.ref.name`) of built OCI layouts.
pub const TAG: &str = "test";

/// The repo tag of built docker archives.
pub const REPO_TAG: &str = "imgaudit-test:latest";

/// A tar layer under construction.
#[derive(Default)]
pub struct LayerBuilder {
    buf: Vec<u8>,
}

/// A ustar header for `name`, copied verbatim (no checks: hostile names
/// included). Names longer than 100 bytes need [`LayerBuilder::gnu_long`] or
/// [`LayerBuilder::pax_long`].
pub fn header(kind: tar::EntryType, name: &[u8], size: u64, mode: u32) -> tar::Header {
    assert!(name.len() <= 100, "use a long-name record for {name:?}");
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_cksum();
    h
}

/// Write `target` into the link-name field of `h` verbatim (any bytes).
pub fn set_link(h: &mut tar::Header, target: &[u8]) {
    assert!(target.len() <= 100, "link target too long: {target:?}");
    h.as_old_mut().linkname[..target.len()].copy_from_slice(target);
    h.set_cksum();
}

/// `len path=value\n`, where `len` counts itself.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = 1 + key.len() + 1 + value.len() + 1; // ' ' key '=' value '\n'
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len += 1;
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> LayerBuilder {
        LayerBuilder::default()
    }

    /// Append a header and its data, padded to a block.
    pub fn raw(mut self, header: &tar::Header, data: &[u8]) -> LayerBuilder {
        self.buf.extend_from_slice(header.as_bytes());
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// Append arbitrary bytes (for truncated or corrupt layers).
    pub fn raw_bytes(mut self, bytes: &[u8]) -> LayerBuilder {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A directory.
    pub fn dir(self, path: &str, mode: u32) -> LayerBuilder {
        let h = header(tar::EntryType::Directory, path.as_bytes(), 0, mode);
        self.raw(&h, b"")
    }

    /// A regular file.
    pub fn file(self, path: &str, data: &[u8], mode: u32) -> LayerBuilder {
        let h = header(
            tar::EntryType::Regular,
            path.as_bytes(),
            data.len() as u64,
            mode,
        );
        self.raw(&h, data)
    }

    /// A symlink `path -> target`.
    pub fn symlink(self, path: &str, target: &str) -> LayerBuilder {
        let mut h = header(tar::EntryType::Symlink, path.as_bytes(), 0, 0o777);
        set_link(&mut h, target.as_bytes());
        self.raw(&h, b"")
    }

    /// A hardlink `path` to the earlier entry `target`.
    pub fn hardlink(self, path: &str, target: &str) -> LayerBuilder {
        let mut h = header(tar::EntryType::Link, path.as_bytes(), 0, 0o644);
        set_link(&mut h, target.as_bytes());
        self.raw(&h, b"")
    }

    /// A named pipe.
    pub fn fifo(self, path: &str, mode: u32) -> LayerBuilder {
        let h = header(tar::EntryType::Fifo, path.as_bytes(), 0, mode);
        self.raw(&h, b"")
    }

    /// A character or block device: metadata only, never content.
    pub fn device(
        self,
        kind: tar::EntryType,
        path: &str,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> LayerBuilder {
        let mut h = header(kind, path.as_bytes(), 0, mode);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        self.raw(&h, b"")
    }

    /// `DIR/.wh.NAME`: deletes `path` from the layers below.
    pub fn whiteout(self, path: &str) -> LayerBuilder {
        let name = match path.rsplit_once('/') {
            Some((dir, base)) => format!("{dir}/.wh.{base}"),
            None => format!(".wh.{path}"),
        };
        let h = header(tar::EntryType::Regular, name.as_bytes(), 0, 0o644);
        self.raw(&h, b"")
    }

    /// `DIR/.wh..wh..opq`: hides everything under `dir` from the layers below.
    pub fn opaque(self, dir: &str) -> LayerBuilder {
        let name = format!("{dir}/.wh..wh..opq");
        let h = header(tar::EntryType::Regular, name.as_bytes(), 0, 0o644);
        self.raw(&h, b"")
    }

    /// A file whose name travels in a GNU long-name (`L`) record; the ustar
    /// header carries the first 100 bytes, as GNU tar writes it.
    pub fn gnu_long(
        self,
        kind: tar::EntryType,
        path: &str,
        data: &[u8],
        mode: u32,
    ) -> LayerBuilder {
        let mut name = path.as_bytes().to_vec();
        name.push(0);
        let mut carrier = header(
            tar::EntryType::GNULongName,
            b"././@LongLink",
            name.len() as u64,
            0o644,
        );
        carrier.set_cksum();
        let short = &path.as_bytes()[..path.len().min(100)];
        let h = header(kind, short, data.len() as u64, mode);
        self.raw(&carrier, &name).raw(&h, data)
    }

    /// An entry whose name travels in a PAX extended header (`x`) `path`
    /// record; the ustar header carries a placeholder name, as bsdtar does.
    pub fn pax_long(
        self,
        kind: tar::EntryType,
        path: &str,
        data: &[u8],
        mode: u32,
    ) -> LayerBuilder {
        let rec = pax_record("path", path.as_bytes());
        let carrier = header(
            tar::EntryType::XHeader,
            b"PaxHeaders.0/placeholder",
            rec.len() as u64,
            0o644,
        );
        let h = header(kind, b"placeholder-not-the-name", data.len() as u64, mode);
        self.raw(&carrier, &rec).raw(&h, data)
    }

    /// The tar bytes, with the two zero blocks that end an archive.
    pub fn build(mut self) -> Vec<u8> {
        self.buf.extend(std::iter::repeat_n(0u8, 1024));
        self.buf
    }

    /// The tar bytes without the end-of-archive blocks.
    pub fn build_unterminated(self) -> Vec<u8> {
        self.buf
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a `sha256:` digest.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

/// Layer compression in built OCI layouts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar (`…layer.v1.tar`).
    None,
    /// `…tar+gzip`.
    Gzip,
    /// `…tar+zstd`.
    Zstd,
}

/// Compress a tar with `c`.
pub fn compress(tar: &[u8], c: Compression) -> Vec<u8> {
    match c {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(tar).unwrap();
            enc.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(tar, 3).unwrap(),
    }
}

/// The OCI media type of a layer compressed with `c`.
pub fn layer_media_type(c: Compression) -> &'static str {
    match c {
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// One layer blob as stored, with what the manifest and config say of it.
pub struct LayerBlob {
    /// The stored bytes.
    pub data: Vec<u8>,
    /// Manifest media type.
    pub media_type: String,
    /// The config's `rootfs.diff_ids[i]`.
    pub diff_id: String,
}

impl LayerBlob {
    /// A well-formed blob: `tar` compressed with `c`, correct diff_id.
    pub fn new(tar: &[u8], c: Compression) -> LayerBlob {
        LayerBlob {
            data: compress(tar, c),
            media_type: layer_media_type(c).to_string(),
            diff_id: digest(tar),
        }
    }
}

/// An OCI layout written by [`oci_layout`]: where it is and the digests
/// a test may want to tamper with.
pub struct Layout {
    /// The layout directory.
    pub root: PathBuf,
    /// Digest of the image manifest.
    pub manifest: String,
    /// Digest of the config.
    pub config: String,
    /// Digests of the layer blobs, bottom first.
    pub layers: Vec<String>,
}

impl Layout {
    /// Path of the blob with this digest.
    pub fn blob(&self, digest: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex_of(digest))
    }
}

/// Deep-merge `extra` into `base` (objects merge, anything else replaces).
fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e.clone(),
    }
}

/// An image config for `diff_ids`, one history entry per layer, with
/// `extra` merged over it.
pub fn config_json(diff_ids: &[String], extra: &Value) -> Vec<u8> {
    let history: Vec<Value> = (0..diff_ids.len())
        .map(|i| json!({"created": "2023-11-14T22:13:20Z", "created_by": format!("layer {i}")}))
        .collect();
    let mut cfg = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    merge(&mut cfg, extra);
    serde_json::to_vec(&cfg).unwrap()
}

fn write_blob(root: &Path, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let dir = root.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(hex_of(&d)), bytes).unwrap();
    d
}

/// Write an OCI image layout at `dir` holding one image of `layers`
/// (uncompressed tars, bottom first), each compressed with `compression`;
/// `config_extra` is merged over the generated config. `index.json` names
/// the image [`TAG`].
pub fn oci_layout(
    dir: &Path,
    layers: &[Vec<u8>],
    compression: Compression,
    config_extra: Value,
) -> Layout {
    let blobs: Vec<LayerBlob> = layers
        .iter()
        .map(|l| LayerBlob::new(l, compression))
        .collect();
    oci_layout_blobs(dir, &blobs, config_extra)
}

/// Like [`oci_layout`], from blobs exactly as given (for corrupt ones).
pub fn oci_layout_blobs(dir: &Path, blobs: &[LayerBlob], config_extra: Value) -> Layout {
    let root = dir.to_path_buf();
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let diff_ids: Vec<String> = blobs.iter().map(|b| b.diff_id.clone()).collect();
    let config = config_json(&diff_ids, &config_extra);
    let config_digest = write_blob(&root, &config);
    let mut layer_descs = Vec::new();
    let mut layer_digests = Vec::new();
    for b in blobs {
        let d = write_blob(&root, &b.data);
        layer_descs.push(json!({"mediaType": b.media_type, "digest": d, "size": b.data.len()}));
        layer_digests.push(d);
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": layer_descs,
    }))
    .unwrap();
    let manifest_digest = write_blob(&root, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": TAG},
        }],
    });
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    Layout {
        root,
        manifest: manifest_digest,
        config: config_digest,
        layers: layer_digests,
    }
}

/// Write a multi-platform OCI layout: `index.json` → an image index (tag
/// [`TAG`]) → one manifest per `(arch, layers)`, all gzip.
pub fn oci_multiplatform(dir: &Path, images: &[(&str, Vec<Vec<u8>>)]) -> PathBuf {
    let mut descs = Vec::new();
    for (arch, layers) in images {
        let sub = oci_layout(
            dir,
            layers,
            Compression::Gzip,
            json!({ "architecture": arch }),
        );
        let size = std::fs::metadata(sub.blob(&sub.manifest)).unwrap().len();
        descs.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sub.manifest,
            "size": size,
            "platform": {"os": "linux", "architecture": arch},
        }));
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descs,
    }))
    .unwrap();
    let index_digest = write_blob(dir, &index);
    let top = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest,
            "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": TAG},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    dir.to_path_buf()
}

/// Members of an outer tarball, written in order.
pub struct OuterTar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for OuterTar {
    fn default() -> Self {
        OuterTar::new()
    }
}

impl OuterTar {
    /// An empty outer tarball.
    pub fn new() -> OuterTar {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        OuterTar { builder }
    }

    /// A regular member.
    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut OuterTar {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(MTIME);
        self.builder.append_data(&mut h, name, data).unwrap();
        self
    }

    /// A directory member.
    pub fn dir(&mut self, name: &str) -> &mut OuterTar {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_mtime(MTIME);
        self.builder.append_data(&mut h, name, &[][..]).unwrap();
        self
    }

    /// A symlink member (docker's `<id>/layer.tar -> ../<hex>.tar`).
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut OuterTar {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_mtime(MTIME);
        self.builder.append_link(&mut h, name, target).unwrap();
        self
    }

    /// The tarball bytes.
    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

/// Write a legacy `docker save` tarball at `path` holding one image of
/// `layers` (uncompressed tars, bottom first), tagged [`REPO_TAG`].
pub fn docker_archive(path: &Path, layers: &[Vec<u8>]) -> PathBuf {
    docker_archive_images(path, &[(REPO_TAG, layers.to_vec())])
}

/// [`docker_archive`] with `config_extra` merged over the image config (e.g.
/// a `history` with real-looking `created_by` steps).
pub fn docker_archive_with(path: &Path, layers: &[Vec<u8>], config_extra: &Value) -> PathBuf {
    let bytes = docker_archive_bytes_with(&[(REPO_TAG, layers.to_vec())], config_extra);
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// Write a legacy `docker save` tarball holding several tagged images.
/// Members come in docker's order: layers, then configs, then
/// `manifest.json` and `repositories` last (what makes stdin hard).
pub fn docker_archive_images(path: &Path, images: &[(&str, Vec<Vec<u8>>)]) -> PathBuf {
    let bytes = docker_archive_bytes(images);
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// The bytes of a legacy `docker save` tarball (see [`docker_archive_images`]).
pub fn docker_archive_bytes(images: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
    docker_archive_bytes_with(images, &json!({}))
}

/// [`docker_archive_bytes`] with `config_extra` merged over every config.
pub fn docker_archive_bytes_with(images: &[(&str, Vec<Vec<u8>>)], config_extra: &Value) -> Vec<u8> {
    let mut outer = OuterTar::new();
    let mut manifest = Vec::new();
    let mut repositories = serde_json::Map::new();
    let mut written = std::collections::BTreeSet::new();
    for (tag, layers) in images {
        let diff_ids: Vec<String> = layers.iter().map(|l| digest(l)).collect();
        let mut names = Vec::new();
        let mut parent = String::new();
        for (layer, diff_id) in layers.iter().zip(&diff_ids) {
            // The legacy v1 id: a hash of the chain, like docker's.
            let id = hex::encode(Sha256::digest(format!("{parent}{diff_id}")));
            if written.insert(id.clone()) {
                outer.dir(&format!("{id}/"));
                outer.file(&format!("{id}/VERSION"), b"1.0");
                let mut v1 = json!({"id": id, "created": "2023-11-14T22:13:20Z"});
                if !parent.is_empty() {
                    v1["parent"] = Value::from(parent.clone());
                }
                outer.file(&format!("{id}/json"), &serde_json::to_vec(&v1).unwrap());
                outer.file(&format!("{id}/layer.tar"), layer);
            }
            names.push(format!("{id}/layer.tar"));
            parent = id;
        }
        let config = config_json(&diff_ids, config_extra);
        let config_name = format!("{}.json", hex_of(&digest(&config)));
        if written.insert(config_name.clone()) {
            outer.file(&config_name, &config);
        }
        manifest.push(json!({"Config": config_name, "RepoTags": [tag], "Layers": names}));
        let (repo, t) = tag.rsplit_once(':').unwrap();
        repositories.insert(repo.to_string(), json!({ t: parent }));
    }
    outer.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    outer.file(
        "repositories",
        &serde_json::to_vec(&Value::Object(repositories)).unwrap(),
    );
    outer.finish()
}

/// Pack a directory (an OCI layout) into a tar: an `oci-archive`.
pub fn tar_dir(dir: &Path, out: &Path) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    std::fs::write(out, b.into_inner().unwrap()).unwrap();
    out.to_path_buf()
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Output {
    /// Exit code (`-1` if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Assert success and return stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "imgaudit failed:\n{}", self.stderr);
        &self.stdout
    }
}

/// Every fixture tag of the committed layout `testdata/images/oci`, in
/// `index.json` order.
pub fn fixture_tags() -> Vec<String> {
    let index = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/images/oci/index.json");
    let index: Value = serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(String::from)
        .collect()
}

/// The fact cache the test runs share (under `target/`).
pub fn test_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-cache")
}

/// Path of the built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_imgaudit")
}

/// Run `imgaudit args…` with `NO_COLOR` and no progress bar.
pub fn imgaudit<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    imgaudit_in(None, args, None)
}

/// Run `imgaudit args…` in `cwd`, feeding `stdin` through a pipe.
pub fn imgaudit_in<I, S>(cwd: Option<&Path>, args: I, stdin: Option<&[u8]>) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("NO_COLOR", "1")
        // Never the developer's own cache; one shared by the test run, so
        // repeated runs of a fixture also exercise the warm path.
        .env("IMGAUDIT_CACHE_DIR", test_cache_dir())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().expect("spawn imgaudit");
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        // A thread, so a large input can't deadlock against a full stdout pipe.
        std::thread::spawn(move || {
            // imgaudit may stop reading early on an error: EPIPE is fine.
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().expect("wait for imgaudit");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `imgaudit files INPUT --format jsonl [extra…]`, which must succeed.
pub fn files_jsonl(input: &str, extra: &[&str], stdin: Option<&[u8]>) -> String {
    let mut args = vec!["files", input, "--format", "jsonl"];
    args.extend_from_slice(extra);
    let out = imgaudit_in(None, &args, stdin);
    assert_eq!(
        out.code, 0,
        "imgaudit {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out.stdout
}

/// Parse `files --format jsonl` output, one object per line.
pub fn parse_jsonl(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The same lines without the `layer` field (for inputs whose layer
/// counts differ, such as a squashed re-export).
pub fn without_layer(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .map(|v| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("layer");
            v
        })
        .collect()
}

/// Open an image through the library, verifying digests, host platform.
pub fn open(input: &Path) -> Image {
    open_with(input, None, None)
}

/// Open an image with an explicit tag and platform.
pub fn open_with(input: &Path, tag: Option<&str>, platform: Option<&str>) -> Image {
    let req = OpenRequest {
        input: input.display().to_string(),
        tag: tag.map(String::from),
        platform: platform.map_or_else(Platform::host, |p| p.parse().unwrap()),
        verify: true,
        registry: None,
    };
    imgaudit::image::open(&req, None).unwrap_or_else(|e| panic!("opening {}: {e}", input.display()))
}

/// Build an OCI layout of `layers` (plain tars, so every file's bytes can be
/// read back by a positioned read) in a fresh temp dir and open it.
pub fn open_layers(layers: &[Vec<u8>]) -> (tempfile::TempDir, Image) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = oci_layout(
        &tmp.path().join("oci"),
        layers,
        Compression::None,
        json!({}),
    );
    let image = open(&layout.root);
    (tmp, image)
}

fn kind_str(k: Kind) -> &'static str {
    k.as_str()
}

/// One line per entry of the merged tree, in walk order:
/// `PATH TYPE MODE SIZE L<layer>`, then ` -> TARGET` for symlinks and
/// ` = "CONTENT"` (escaped) for files, the content read back through
/// `MergedTree::read`. Exact, and readable in an assertion diff.
pub fn listing(image: &Image) -> Vec<String> {
    let tree = &image.tree;
    let mut out = Vec::new();
    tree.walk(ROOT, |path, id, node| {
        let mut s = format!(
            "{path} {} {:04o} {} L{}",
            kind_str(node.kind),
            node.mode,
            node.size,
            node.layer
        );
        if let Some(t) = &node.link {
            s.push_str(&format!(" -> {t}"));
        }
        if node.kind == Kind::File {
            let bytes = tree
                .read(id, None)
                .unwrap_or_else(|e| panic!("reading {path}: {e}"));
            s.push_str(&format!(" = {:?}", String::from_utf8_lossy(&bytes)));
        }
        out.push(s);
    });
    out
}

/// Every file under `root` with its size, for "nothing was written" checks.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            out.insert(e.path(), meta.len());
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// Run `imgaudit args…` with extra environment (`None` removes a variable);
/// unlike [`imgaudit_in`], `NO_COLOR` is only set if `env` sets it, and
/// `CI` is removed unless `env` sets it, so colour and CI tests start clean.
pub fn imgaudit_env<I, S>(args: I, env: &[(&str, Option<&str>)], cwd: Option<&Path>) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CI")
        .stdin(Stdio::null());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run imgaudit");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
