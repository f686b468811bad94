//! What the user typed about the image, read the way a newcomer means it.
//!
//! This module owns the `IMAGE` argument and its selectors before the
//! library sees them: the skopeo/syft transport prefixes (`docker-archive:`,
//! `oci-archive:`, `oci:`), references that are not files (`python:3.12`,
//! `docker://…`), a selector after the path (`DIR:NAME`, `DIR@sha256:…`,
//! the manifest digest), a selector given twice in disagreement
//! (`DIR:TAG` and `--image OTHER`), `--platform` spellings
//! (`linux/x86_64` is `linux/amd64`), stdin on a terminal, and the few
//! input errors worth a better sentence than the library's (a `docker export`
//! root filesystem, a corrupt compressed layer, stdin's name). It never
//! opens an image itself; the source modules do.

use std::io::IsTerminal;
use std::path::Path;

use crate::config::edit_distance;
use crate::image::ImageError;
use crate::layer::LayerError;
use crate::source::tarball::STDIN;
use crate::source::{split_reference, tag_matches, OpenRequest, Platform, SourceError};

/// The transports of `skopeo`/`syft` references that name a local file or
/// directory; the path (and optional `:TAG`) follows the prefix.
const LOCAL_TRANSPORTS: &[&str] = &["docker-archive:", "oci-archive:", "oci:"];

/// Transports that name a registry or a daemon, which imgaudit does not read.
const REMOTE_TRANSPORTS: &[&str] = &["docker-daemon:", "containers-storage:"];

/// How an input is named in messages: stdin is [`STDIN`] everywhere.
pub(crate) fn display_name(input: &str) -> &str {
    if input == "-" {
        STDIN
    } else {
        input
    }
}

/// A first argument that is no file and no command but looks like a
/// mistyped command: the one-line error for it, else `None` (it is then
/// an image, and a missing one is reported as such).
pub(crate) fn mistyped_command(word: &str, commands: &[&str]) -> Option<String> {
    if word.starts_with('-') || Path::new(word).exists() {
        return None;
    }
    if matches!(word, "version" | "ver") {
        return Some(format!(
            "unknown command `{word}`: the version is `imgaudit --version`"
        ));
    }
    // Image references have a separator or a dot (`app.tar`, `./oci`,
    // `python:3.12`); commands are bare words.
    if word.contains(['/', ':', '.', '@']) {
        return None;
    }
    let (distance, closest) = commands
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .min()?;
    (distance <= 2).then(|| {
        format!(
            "unknown command `{word}`, did you mean `{closest}`? (an image file of that name: `imgaudit audit ./{word}`)"
        )
    })
}

/// `--platform`: `os/arch[/variant]`, normalised the way containerd's
/// `platforms.Normalize` does, so what `uname -m` prints works too
/// (<https://github.com/containerd/platforms/blob/main/database.go>):
/// lower case; `x86_64`/`x86-64` → `amd64`; `aarch64` → `arm64`;
/// `i386`/`i686`/`x86` → `386`; `armhf` → `arm/v7`, `armel` → `arm/v6`.
pub(crate) fn parse_platform(text: &str) -> Result<Platform, String> {
    let mut p: Platform = text.trim().to_ascii_lowercase().parse()?;
    let (arch, variant) = match p.arch.as_str() {
        "x86_64" | "x86-64" | "amd64" => ("amd64", None),
        "aarch64" | "arm64" => ("arm64", None),
        "i386" | "i486" | "i586" | "i686" | "x86" | "386" => ("386", None),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v6")),
        "ppc64el" => ("ppc64le", None),
        other => (other, None),
    };
    p.arch = arch.to_string();
    if p.variant.is_none() {
        p.variant = variant.map(String::from);
    }
    Ok(p)
}

/// The [`OpenRequest`] for `IMAGE`, `--image`, `--platform`: transport
/// prefixes stripped, references that are no file explained, conflicting
/// tags refused, and a word on stderr when stdin is a terminal.
pub(crate) fn request(
    image: &str,
    tag: Option<&str>,
    platform: Option<Platform>,
    verify: bool,
) -> anyhow::Result<OpenRequest> {
    let input = local_path(image)?;
    let (_, tag_in_input) = split_reference(&input);
    if let (Some(named), Some(flag)) = (tag_in_input.as_deref(), tag) {
        if !tag_matches(named, flag) && !tag_matches(flag, named) {
            anyhow::bail!(
                "`{image}` picks the image `{named}` but `--image {flag}` picks another: give one of them"
            );
        }
    }
    if input == "-" && std::io::stdin().is_terminal() {
        eprintln!(
            "waiting for an image tar on stdin (`docker save IMAGE | imgaudit -`); press Ctrl-C to quit"
        );
    }
    Ok(OpenRequest {
        input,
        tag: tag.map(String::from),
        platform: platform.unwrap_or_else(Platform::host),
        verify,
        registry: None,
    })
}

/// `IMAGE` as a path the sources can open (with an optional `:TAG`), or
/// the one-line reason it is not one.
fn local_path(image: &str) -> anyhow::Result<String> {
    if image == "-" || Path::new(image).exists() {
        return Ok(image.to_string());
    }
    if let Some(rest) = crate::registry::reference::strip_scheme(image) {
        crate::registry::Reference::parse(rest).map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(format!("registry:{rest}"));
    }
    if let Some(transport) = REMOTE_TRANSPORTS.iter().find(|t| image.starts_with(**t)) {
        anyhow::bail!(
            "`{image}`: imgaudit reads no daemon or container store ({transport}); read the image from its registry (`imgaudit registry:HOST/REPO:TAG`) or save it first: `docker save REF -o image.tar && imgaudit image.tar`"
        );
    }
    let (path, transport) = match LOCAL_TRANSPORTS
        .iter()
        .find_map(|t| image.strip_prefix(t).map(|rest| (rest, Some(*t))))
    {
        Some(found) => found,
        None => (image, None),
    };
    let (file, _) = split_reference(path);
    match std::fs::metadata(&file) {
        Ok(_) => return Ok(path.to_string()),
        // Permission denied and the like: the source reports the OS reason.
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Ok(path.to_string()),
        Err(_) if path == "-" => return Ok(path.to_string()),
        Err(_) => {}
    }
    if transport.is_some() {
        // `oci:DIR:TAG` names a local path for sure: no registry guess.
        anyhow::bail!("{}", not_found(&file.display().to_string()));
    }
    // A bare `HOST/REPO:TAG` with an explicit host, and no path of that name
    // (a local path always wins: checked above, with and without `:TAG`).
    if crate::registry::reference::looks_like_registry(path) {
        return Ok(format!("registry:{path}"));
    }
    if looks_like_registry_reference(path) {
        anyhow::bail!(
            "`{image}` is not a file or directory; to read it from a registry, name the registry: `imgaudit registry:docker.io/{image}` (imgaudit never asks the Docker daemon), or save it first: `docker save {image} | imgaudit -`"
        );
    }
    anyhow::bail!("{}", not_found(&file.display().to_string()))
}

/// The message for an input path that does not exist.
fn not_found(path: &str) -> String {
    format!(
        "{path}: No such file or directory; imgaudit reads a `docker save` tarball, an OCI layout directory or archive, or `-` for stdin"
    )
}

/// `python:3.12`, `ghcr.io/org/app:1.2`, `library/redis`: a name:tag a
/// registry would understand, not something that reads as a file path.
fn looks_like_registry_reference(text: &str) -> bool {
    if text.starts_with(['.', '/', '~']) || text.contains("//") {
        return false;
    }
    let name = text.rsplit('/').next().unwrap_or(text);
    let is_archive = [".tar", ".tgz", ".gz", ".xz", ".txz", ".zst", ".oci"]
        .iter()
        .any(|ext| name.split(':').next().unwrap_or(name).ends_with(ext));
    !is_archive && (name.contains(':') || name.contains('@'))
}

/// Turn an image error into the message a user can act on; most pass
/// through as the library wrote them (with stdin named [`STDIN`]).
pub(crate) fn explain(e: ImageError, input: &str) -> anyhow::Error {
    let name = display_name(split_reference(input).0.to_str().unwrap_or(input)).to_string();
    match &e {
        ImageError::Source(SourceError::NotAnImage(_)) => {
            if input == "-" {
                return anyhow::anyhow!(
                    "{STDIN}: not a container image (no `manifest.json` or `index.json`); a `docker export` root filesystem has no layers or config: send `docker save IMAGE` instead"
                );
            }
            if looks_like_rootfs(&split_reference(input).0) {
                return anyhow::anyhow!(
                    "{name}: a root filesystem (`docker export` output or an unpacked rootfs), not an image: it has no layers, history or config to audit; use `docker save IMAGE -o image.tar` instead"
                );
            }
        }
        ImageError::Layer {
            source: LayerError::Decompress { layer, source, .. },
            ..
        } if source.to_string().contains("too much memory") => {
            // zstd's decoder refuses a frame whose window is larger than
            // 2^27 (its default `windowLogMax`): that bounds the memory a
            // small blob can demand (a `--long=31` frame asks for 2 GiB).
            return anyhow::anyhow!(
                "{name}: layer {layer}: its zstd frame needs a decoding window larger than 128 MiB, which imgaudit does not allocate; recompress it without `--long` or with `--long=27` or less"
            );
        }
        ImageError::Layer {
            source: LayerError::Decompress { layer, kind, .. },
            ..
        } => {
            return anyhow::anyhow!(
                "{name}: layer {layer}: corrupt {kind:?} blob: its compressed data does not decode (damaged or cut short); save or copy the image again"
            );
        }
        _ => {}
    }
    let text = e.to_string();
    match text.strip_prefix("-: ") {
        Some(rest) => anyhow::anyhow!("{STDIN}: {rest}"),
        None => anyhow::Error::new(e),
    }
}

/// True when `path` is a directory or tar holding a Linux root filesystem
/// (at least two of `etc/`, `usr/`, `bin/` at the top) rather than an image.
fn looks_like_rootfs(path: &Path) -> bool {
    const TOP: [&str; 3] = ["etc", "usr", "bin"];
    if path.is_dir() {
        return TOP.iter().filter(|d| path.join(d).exists()).count() >= 2;
    }
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let Ok(entries) = archive.entries() else {
        return false;
    };
    let mut seen = [false; 3];
    // The top directories come first in `docker export`; a bounded look is enough.
    for entry in entries.take(4096).map_while(Result::ok) {
        let Ok(p) = entry.path() else { continue };
        let text = p.to_string_lossy();
        let top = text
            .trim_start_matches("./")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some(i) = TOP.iter().position(|t| *t == top) {
            seen[i] = true;
        }
        if seen.iter().filter(|s| **s).count() >= 2 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_are_normalised() {
        let cases = [
            // What `uname -m` prints on Intel and ARM servers.
            ("linux/x86_64", "linux/amd64"),
            ("Linux/X86_64", "linux/amd64"),
            ("linux/x86-64", "linux/amd64"),
            ("linux/aarch64", "linux/arm64"),
            // The variant given stays.
            ("linux/arm64/v8", "linux/arm64/v8"),
            ("linux/i686", "linux/386"),
            // Debian's architecture names.
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            // Already canonical.
            ("linux/s390x", "linux/s390x"),
        ];
        for (given, want) in cases {
            assert_eq!(parse_platform(given).unwrap().to_string(), want, "{given}");
        }
        assert!(parse_platform("linux").is_err());
    }

    #[test]
    fn registry_references_are_told_apart_from_paths() {
        // References a registry understands.
        for r in ["python:3.12", "ghcr.io/org/app:1.2", "redis@sha256:abc"] {
            assert!(looks_like_registry_reference(r), "{r}");
        }
        // Paths, even missing ones.
        for p in [
            "app.tar",
            "./oci:tag",
            "/tmp/x.tar:app",
            "out/image.tar",
            "layout",
        ] {
            assert!(!looks_like_registry_reference(p), "{p}");
        }
        // A compose service `registry` on port 5000, in each spelling, is
        // read from that host, not from Docker Hub's `5000/app`.
        for typed in [
            "registry:5000/app:1",
            "registry:registry:5000/app:1",
            "docker://registry:5000/app:1",
        ] {
            let input = local_path(typed).unwrap();
            let rest = crate::registry::reference::strip_scheme(&input).unwrap();
            let r = crate::registry::Reference::parse(rest).unwrap();
            assert_eq!(r.to_string(), "registry:5000/app:1", "{typed} → {input}");
        }
    }

    #[test]
    fn commands_and_typos() {
        let cmds = ["audit", "files", "size", "init"];
        assert!(mistyped_command("sise", &cmds).unwrap().contains("`size`"));
        assert!(mistyped_command("fils", &cmds).unwrap().contains("`files`"));
        assert!(mistyped_command("version", &cmds)
            .unwrap()
            .contains("--version"));
        // Paths and references are images, not typos.
        assert_eq!(mistyped_command("app.tar", &cmds), None);
        assert_eq!(mistyped_command("python:3.12", &cmds), None);
        // Far from every command: an image name.
        assert_eq!(mistyped_command("myimage", &cmds), None);
    }
}
