//! Sources: turn what the user passed (a `docker save` tarball, an OCI
//! layout directory or archive, `-` for stdin) into a [`ResolvedImage`]: the
//! chosen image's config and its layers, bottom first, each a [`Blob`].
//!
//! The boundary: a source only finds and verifies *blobs*; it knows nothing
//! of whiteouts or Python. A [`BlobStore`] answers "give me the member or
//! blob named N"; the two manifest dialects (`docker_archive` for
//! `manifest.json`, `oci_layout` for `index.json`) pick the image from any
//! store. A registry source later is one more `BlobStore` whose blobs stream
//! over HTTP, with nothing below it changing.
//!
//! Specs: OCI image-spec v1.1 `image-layout.md`, `image-index.md`,
//! `manifest.md`, `config.md`; Docker's `docker save` format
//! (moby `image/tarexport`), including the Docker 25+ layout that embeds an
//! OCI layout beside `manifest.json`.

pub mod config;
pub mod docker_archive;
pub mod oci_layout;
pub mod registry;
pub mod tarball;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::ImageConfig;

use crate::layer::{FileRange, LayerIndex};

/// Largest JSON document (manifest, index, config) we accept.
pub const MAX_JSON: u64 = 64 << 20;

/// Errors finding or verifying an image's parts. Every message names the
/// input and the member or blob.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The input path can't be opened.
    #[error("{path}: {source}")]
    Open {
        /// The input.
        path: String,
        /// Underlying error.
        source: io::Error,
    },
    /// The input is a file but not a tarball.
    #[error("{input}: not a container image: {why}")]
    NotATar {
        /// The input.
        input: String,
        /// What it is instead.
        why: &'static str,
    },
    /// The outer tarball is malformed.
    #[error("{input}: malformed tar: {source}")]
    OuterTar {
        /// The input.
        input: String,
        /// Underlying error.
        source: io::Error,
    },
    /// Neither `manifest.json` nor `index.json`.
    #[error("{0}: not a container image (no `manifest.json` or `index.json`)")]
    NotAnImage(String),
    /// The manifest chosen is an OCI artifact (a signature, an SBOM, a Helm
    /// chart): its `artifactType`, config media type or layer media types
    /// say it has no filesystem to audit.
    #[error("{input}: `{name}` is an OCI artifact ({kind}), not a container image")]
    Artifact {
        /// The input.
        input: String,
        /// The ref name or manifest digest that chose it.
        name: String,
        /// The artifact type (or the media type that gave it away).
        kind: String,
    },
    /// A blob or member the manifest names is absent.
    #[error("{input}: `{name}` is missing")]
    Missing {
        /// The input.
        input: String,
        /// The member or blob.
        name: String,
    },
    /// A JSON document can't be parsed.
    #[error("{input}: `{name}`: invalid JSON: {why}")]
    BadJson {
        /// The input.
        input: String,
        /// The member or blob.
        name: String,
        /// Parser message.
        why: String,
    },
    /// A JSON document is larger than [`MAX_JSON`].
    #[error("{input}: `{name}` is {size} bytes, too large for a manifest or config")]
    TooLarge {
        /// The input.
        input: String,
        /// The member or blob.
        name: String,
        /// Its size.
        size: u64,
    },
    /// A blob or file of the layout that is there but must not be read: not
    /// a regular file (a FIFO would block the read forever), or a symlink
    /// leading out of the layout directory.
    #[error("{input}: `{name}`: {why}")]
    Refused {
        /// The image path as given.
        input: String,
        /// The blob or file.
        name: String,
        /// Why it is not read.
        why: String,
    },
    /// A digest whose algorithm imgaudit cannot verify.
    #[error(
        "{input}: `{name}`: digest `{}` uses an unsupported algorithm (supported: `sha256`, `sha512`)",
        crate::escape::clip(.digest, crate::escape::MAX_VALUE)
    )]
    UnsupportedDigest {
        /// The image path as given.
        input: String,
        /// The blob or member.
        name: String,
        /// The digest as written.
        digest: String,
    },
    /// A blob's hash is not its digest.
    #[error("{input}: `{name}`: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The input.
        input: String,
        /// The blob.
        name: String,
        /// Expected digest.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// The user's tag or platform selects nothing (or the choice is ambiguous).
    #[error("{input}: {why}")]
    Select {
        /// The input.
        input: String,
        /// What was asked and what is there.
        why: String,
    },
    /// The layer count and the config's `diff_ids` disagree, or similar.
    #[error("{input}: {why}")]
    Inconsistent {
        /// The input.
        input: String,
        /// What disagrees.
        why: String,
    },
    /// Reading failed.
    #[error("{input}: `{name}`: read error: {source}")]
    Io {
        /// The input.
        input: String,
        /// The member or blob.
        name: String,
        /// Underlying error.
        source: io::Error,
    },
}

/// The bytes of one member or blob.
#[derive(Clone, Debug)]
pub enum Blob {
    /// A byte range of a file on disk (OCI blob file, or a member of an
    /// outer tarball), read with positioned reads.
    Range(FileRange),
    /// Kept in memory (small JSON members read from stdin).
    Memory(Arc<[u8]>),
    /// Already indexed as a layer while streaming (stdin): one pass only.
    Indexed(Arc<LayerIndex>),
    /// Somewhere else (a registry): opened as a stream when read.
    Remote(Arc<dyn RemoteBlob>),
}

/// A blob that is read as a stream from elsewhere (a registry).
pub trait RemoteBlob: Send + Sync + std::fmt::Debug {
    /// The bytes, from the first; `size` (the manifest's) bounds what may
    /// arrive and lets a broken transfer resume.
    fn open(&self, size: Option<u64>) -> io::Result<Box<dyn io::Read + Send>>;
    /// A small blob (a config) whole, at most `limit` bytes.
    fn read_small(&self, limit: u64) -> io::Result<Vec<u8>>;
}

/// A place that holds named members or blobs (`manifest.json`,
/// `blobs/sha256/<hex>`, `<id>/layer.tar`).
pub trait BlobStore: Send + Sync {
    /// How the input is named in messages.
    fn input(&self) -> &str;
    /// The member or blob at `name` (relative, no leading `./`).
    fn get(&self, name: &str) -> Option<Blob>;
    /// True when the store is a directory (OCI layout dir) rather than a tar.
    fn is_dir(&self) -> bool {
        false
    }

    /// Why [`BlobStore::get`] answered `None` for a `name` that is there
    /// but must not be read (not a regular file, a symlink out of the
    /// store); `None` when it is simply absent.
    fn refused(&self, _name: &str) -> Option<String> {
        None
    }
}

impl dyn BlobStore + '_ {
    /// The member at `name`, or a `Missing` error.
    pub fn require(&self, name: &str) -> Result<Blob, SourceError> {
        self.get(name).ok_or_else(|| match self.refused(name) {
            Some(why) => SourceError::Refused {
                input: self.input().to_string(),
                name: name.to_string(),
                why,
            },
            None => SourceError::Missing {
                input: self.input().to_string(),
                name: name.to_string(),
            },
        })
    }

    /// Read a small JSON member whole.
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        match self.require(name)? {
            Blob::Memory(b) => Ok(b.to_vec()),
            Blob::Range(r) => {
                if r.len > MAX_JSON {
                    return Err(SourceError::TooLarge {
                        input: self.input().to_string(),
                        name: name.to_string(),
                        size: r.len,
                    });
                }
                r.read_exact_at(0, r.len as usize)
                    .map_err(|source| SourceError::Io {
                        input: self.input().to_string(),
                        name: name.to_string(),
                        source,
                    })
            }
            Blob::Remote(r) => r.read_small(MAX_JSON).map_err(|source| SourceError::Io {
                input: self.input().to_string(),
                name: name.to_string(),
                source,
            }),
            Blob::Indexed(_) => Err(SourceError::BadJson {
                input: self.input().to_string(),
                name: name.to_string(),
                why: "expected a JSON document, found a layer tar".to_string(),
            }),
        }
    }

    /// Read a small blob and check it against its digest.
    pub fn read_verified(&self, name: &str, digest: Option<&str>) -> Result<Vec<u8>, SourceError> {
        let bytes = self.read_small(name)?;
        if let Some(expected) = digest {
            verify_bytes(self.input(), name, &bytes, expected)?;
        }
        Ok(bytes)
    }
}

/// Check `bytes` against `sha256:<hex>`. Other algorithms are accepted
/// unverified (the spec allows sha512; we have never seen one in the wild).
pub fn verify_bytes(
    input: &str,
    name: &str,
    bytes: &[u8],
    expected: &str,
) -> Result<(), SourceError> {
    use sha2::Digest as _;
    // Every algorithm the OCI spec registers is verified; any other is
    // refused rather than trusted unverified (issue 14).
    let actual = match expected.split_once(':').map(|(alg, _)| alg) {
        Some("sha256") => format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))),
        Some("sha512") => format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes))),
        _ => {
            return Err(SourceError::UnsupportedDigest {
                input: input.to_string(),
                name: name.to_string(),
                digest: expected.to_string(),
            })
        }
    };
    if actual != expected {
        return Err(SourceError::DigestMismatch {
            input: input.to_string(),
            name: name.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// The member name of a blob in an OCI layout: `blobs/<alg>/<hex>`.
/// Refuses digests that would make a path climb (`../`).
pub fn blob_path(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'+' || b == b'.'
            })
            && s != "."
            && s != ".."
    };
    (ok(alg) && ok(hex)).then(|| format!("blobs/{alg}/{hex}"))
}

/// Which input format the image came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Legacy `docker save` (manifest.json, `<id>/layer.tar`).
    DockerArchive,
    /// Docker 25+ `docker save` (manifest.json + embedded OCI layout).
    DockerArchiveOci,
    /// OCI image layout directory.
    OciLayout,
    /// OCI image layout in a tar (`oci-archive:`).
    OciArchive,
    /// A registry (`registry:HOST/REPO:TAG`).
    Registry,
}

impl Format {
    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DockerArchive => "docker-archive",
            Format::DockerArchiveOci => "docker-archive (docker 25+ oci layout)",
            Format::OciLayout => "oci-layout",
            Format::OciArchive => "oci-archive",
            Format::Registry => "registry",
        }
    }
}

/// One layer of the chosen image.
#[derive(Clone, Debug)]
pub struct LayerRef {
    /// Member or blob name, for messages.
    pub name: String,
    /// Blob digest, when the format gives one.
    pub digest: Option<String>,
    /// `rootfs.diff_ids[i]` from the config.
    pub diff_id: Option<String>,
    /// Media type, when the format gives one.
    pub media_type: Option<String>,
    /// Stored size.
    pub size: u64,
    /// The bytes.
    pub blob: Blob,
}

/// The image a source resolved to.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// Input format.
    pub format: Format,
    /// The tag or ref name chosen, if any.
    pub reference: Option<String>,
    /// Digest of the config blob.
    pub config_digest: Option<String>,
    /// Digest of the image manifest chosen (OCI layouts and registries;
    /// for an index, the platform's manifest).
    pub manifest_digest: Option<String>,
    /// The parsed config.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerRef>,
}

/// `os/arch[/variant]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`.
    pub arch: String,
    /// e.g. `v8`.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of the machine running imgaudit (what a runtime would pick).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform {
                    os: os.to_string(),
                    arch: arch.to_string(),
                    variant: Some(variant.to_string()),
                })
            }
            _ => Err(format!(
                "`{s}` is not a platform: expected `os/arch[/variant]`"
            )),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What to open and how to choose.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    /// Path, `-` for stdin; may carry `:tag` (`image.tar:repo:tag`).
    pub input: String,
    /// Explicit tag (`--image`), wins over one in `input`.
    pub tag: Option<String>,
    /// Platform for image indexes.
    pub platform: Platform,
    /// Verify digests.
    pub verify: bool,
    /// The registry client for `registry:` inputs (one per process: it
    /// keeps connections, tokens and counters); `None` makes one from the
    /// environment when a registry input needs it.
    pub registry: Option<crate::registry::Client>,
}

/// Split `path:tag` or `path@digest` where `path` exists; otherwise the
/// whole string is the path. `DIR@sha256:…` selects by manifest digest
/// (the selector is then `sha256:…`, what `--image` takes too).
pub fn split_reference(input: &str) -> (PathBuf, Option<String>) {
    if input == "-" || Path::new(input).exists() {
        return (PathBuf::from(input), None);
    }
    for (i, _) in input.match_indices([':', '@']) {
        let (p, t) = (&input[..i], &input[i + 1..]);
        if !p.is_empty() && !t.is_empty() && Path::new(p).exists() {
            return (PathBuf::from(p), Some(t.to_string()));
        }
    }
    (PathBuf::from(input), None)
}

/// True when `text` is a digest selector (`sha256:…`); the reference
/// grammar's rule, kept with the registry references.
pub use crate::registry::reference::is_digest;

/// A name as Docker's `ParseNormalizedNamed` spells it in full:
/// `x` → `docker.io/library/x:latest`, `index.docker.io/…` → `docker.io/…`;
/// `None` when it has no repository part (then only exact equality matches).
///
/// A port of `splitDockerDomain` and the implicit `:latest` of
/// distribution's `reference/normalize.go`: the first component is a
/// registry when it has a `.` or a `:`, is `localhost`, or is not lower case;
/// otherwise the name is on Docker Hub, where `index.docker.io` is
/// `docker.io` and a one-component name is under `library/`.
///
/// Written here rather than taken from oci-spec's `distribution::Reference`
/// (same rules; its feature adds no crate, oci-spec already depends on
/// `regex`): measured, that type compiles its grammar regex on first use,
/// 62 ms of a 72 ms `imgaudit files x.tar --image
/// index.docker.io/library/x:latest` (10 ms with an exact tag). Matching
/// needs the normal form, not validation: a misspelt name matches nothing
/// either way, and the error lists what the input holds.
fn normalized(name: &str) -> Option<String> {
    let (named, digest) = match name.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (name, None),
    };
    let (repo, tag) = match named.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (named, None),
    };
    if repo.is_empty() || repo.split('/').any(str::is_empty) || tag == Some("") {
        return None;
    }
    let (mut domain, mut rest) = match repo.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first, rest.to_string())
        }
        _ => ("docker.io", repo.to_string()),
    };
    if domain == "index.docker.io" {
        domain = "docker.io";
    }
    if domain == "docker.io" && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    let mut full = format!("{domain}/{rest}");
    match (tag, digest) {
        (Some(t), _) => {
            full.push(':');
            full.push_str(t);
        }
        (None, None) => full.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        full.push('@');
        full.push_str(d);
    }
    Some(full)
}

/// True when a user's `want` names the image tagged `have`: equal once both
/// are normalised the way the reference grammar says, so
/// `index.docker.io/library/x:latest`, `docker.io/library/x`, `x` and
/// `x:latest` are one name. Digests compare exactly.
pub fn tag_matches(want: &str, have: &str) -> bool {
    if want == have {
        return true;
    }
    if is_digest(want) || is_digest(have) {
        return false;
    }
    match (normalized(want), normalized(have)) {
        (Some(w), Some(h)) => w == h,
        _ => false,
    }
}

/// Open and resolve an image.
pub fn open(req: &OpenRequest) -> Result<ResolvedImage, SourceError> {
    open_with(
        req,
        &crate::layer::ReadOptions {
            name: String::new(),
            compression: None,
            verify: req.verify,
            extractors: Default::default(),
            budget: Default::default(),
        },
    )
}

/// [`open`], reading layers that can only stream once (stdin) with the
/// extractors and budget of `layers` (its name and compression are ignored).
pub fn open_with(
    req: &OpenRequest,
    layers: &crate::layer::ReadOptions,
) -> Result<ResolvedImage, SourceError> {
    if let Some(text) = crate::registry::reference::strip_scheme(&req.input) {
        return open_registry(req, text);
    }
    let (path, tag_in_input) = split_reference(&req.input);
    let tag = req.tag.clone().or(tag_in_input);
    let input = path.display().to_string();
    let store: Box<dyn BlobStore> = if input == "-" {
        Box::new(tarball::TarStore::from_stdin(layers)?)
    } else {
        let meta = std::fs::metadata(&path).map_err(|source| SourceError::Open {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            Box::new(oci_layout::DirStore::open(&path)?)
        } else if !meta.is_file() {
            // Checked before opening: opening a FIFO blocks until a writer
            // comes, and a device never ends (issue 14).
            return Err(SourceError::Open {
                path: input,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "not a regular file or directory ({}); pipe a stream to `imgaudit -` instead",
                        crate::localfile::kind(&meta.file_type())
                    ),
                ),
            });
        } else {
            Box::new(tarball::TarStore::open_path(&path, layers)?)
        }
    };
    resolve(&*store, tag.as_deref(), &req.platform)
}

/// Open `registry:REF`: the manifest or index it names, then the same
/// choice of image as in an OCI layout (`--platform`, `--image DIGEST`).
fn open_registry(req: &OpenRequest, text: &str) -> Result<ResolvedImage, SourceError> {
    let input = req.input.clone();
    let reference = crate::registry::Reference::parse(text).map_err(|why| SourceError::Select {
        input: input.clone(),
        why,
    })?;
    let client = match &req.registry {
        Some(c) => c.clone(),
        None => crate::registry::Client::new(crate::registry::RegistryOptions::from_env())
            .map_err(|e| SourceError::Select {
                input: input.clone(),
                why: e.to_string(),
            })?,
    };
    let store = registry::RegistryStore::open(client, reference.clone(), input)?;
    let mut resolved = oci_layout::resolve(&store, req.tag.as_deref(), &req.platform)?;
    resolved.format = Format::Registry;
    resolved.reference = Some(reference.to_string());
    Ok(resolved)
}

/// Choose the image in a store: `manifest.json` (docker) first, else
/// `index.json` (OCI).
pub fn resolve(
    store: &dyn BlobStore,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<ResolvedImage, SourceError> {
    // A refused `manifest.json`/`index.json` (a FIFO, a symlink out of the
    // layout) is there: reading it reports why, instead of "not an image".
    let present = |name| store.get(name).is_some() || store.refused(name).is_some();
    if present("manifest.json") {
        docker_archive::resolve(store, tag)
    } else if present("index.json") {
        oci_layout::resolve(store, tag, platform)
    } else {
        Err(SourceError::NotAnImage(store.input().to_string()))
    }
}

pub(crate) fn bad_json(
    store: &dyn BlobStore,
    name: &str,
    e: impl std::fmt::Display,
) -> SourceError {
    SourceError::BadJson {
        input: store.input().to_string(),
        name: name.to_string(),
        why: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        assert_eq!(
            "linux/arm64/v8"
                .parse::<Platform>()
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//".parse::<Platform>().is_err());
    }

    #[test]
    fn tags() {
        assert!(tag_matches("app", "app:latest"));
        assert!(tag_matches("app:1", "docker.io/library/app:1"));
        assert!(!tag_matches("app:1", "app:2"));
        assert!(tag_matches("healthy", "healthy"));
    }

    // Every spelling a user types for a Docker Hub name is one name
    // (`ParseNormalizedNamed`); other registries and namespaces stay apart.
    #[test]
    fn tags_in_every_spelling() {
        let have = "docker.io/library/x:latest";
        for want in [
            "x",
            "x:latest",
            "library/x",
            "docker.io/library/x",
            "index.docker.io/library/x:latest",
            "docker.io/x:latest",
        ] {
            assert!(tag_matches(want, have), "{want}");
            assert!(tag_matches(want, "x:latest"), "{want}");
        }
        assert!(tag_matches("org/app:2", "index.docker.io/org/app:2"));
        assert!(tag_matches(
            "localhost:5000/app",
            "localhost:5000/app:latest"
        ));
        assert!(!tag_matches("ghcr.io/x", have));
        assert!(!tag_matches("other/x", have));
        assert!(!tag_matches("x:1", have));
        // The cases of distribution's `normalize_test.go`: a first component
        // with `.` or `:` or `localhost` is a registry, else Docker Hub.
        let cases = [
            ("test.com:tag", "docker.io/library/test.com:tag"),
            ("test.com:5000", "docker.io/library/test.com:5000"),
            ("test.com/repo:tag", "test.com/repo:tag"),
            ("test:5000/repo", "test:5000/repo:latest"),
            ("localhost/repo", "localhost/repo:latest"),
            ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080"),
            ("opensuse/leap:15.3", "docker.io/opensuse/leap:15.3"),
            ("index.docker.io/redis", "docker.io/library/redis:latest"),
        ];
        for (given, want) in cases {
            assert_eq!(normalized(given).as_deref(), Some(want), "{given}");
        }
        let d = format!("sha256:{}", "c".repeat(64));
        assert_eq!(
            normalized(&format!("x@{d}")),
            Some(format!("docker.io/library/x@{d}"))
        );
        for bad in ["", ":tag", "a//b", "x:"] {
            assert_eq!(normalized(bad), None, "{bad:?}");
        }
        // A digest is no name: equal or nothing.
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(tag_matches(&d, &d));
        assert!(!tag_matches(&d, have));
        assert!(is_digest(&d));
        assert!(!is_digest("sha256:xyz"));
        assert!(!is_digest("x:latest"));
    }

    #[test]
    fn digest_selectors_split_off_a_path() {
        let dir = std::env::temp_dir();
        let d = format!("sha256:{}", "b".repeat(64));
        let (p, sel) = split_reference(&format!("{}@{d}", dir.display()));
        assert_eq!((p, sel.as_deref()), (dir.clone(), Some(d.as_str())));
        let (p, sel) = split_reference(&format!("{}:app:1", dir.display()));
        assert_eq!((p, sel.as_deref()), (dir, Some("app:1")));
    }

    #[test]
    fn blob_paths_never_climb() {
        assert_eq!(blob_path("sha256:abc").as_deref(), Some("blobs/sha256/abc"));
        assert_eq!(blob_path("sha256:../../etc"), None);
        assert_eq!(blob_path("sha256:.."), None);
        assert_eq!(blob_path("nocolon"), None);
    }
}
