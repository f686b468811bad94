//! Image references: `HOST[:PORT]/REPO[:TAG|@DIGEST]`, as the user types them
//! (`registry:…`, `docker://…`, or bare), normalised the way distribution's
//! reference grammar does (`reference/normalize.go`): a first component with
//! a `.` or a `:`, or `localhost`, is a registry; otherwise the name is on
//! Docker Hub (`docker.io`, one-component names under `library/`).

use std::fmt;

/// Docker Hub's name in references and credential stores.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API answers (ggcr's `name.DefaultRegistry`).
pub const DOCKER_HUB_API: &str = "index.docker.io";

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]` as the user named it (`docker.io` for Docker Hub).
    pub registry: String,
    /// `library/python`, `team/app`.
    pub repository: String,
    /// The tag, if any (`latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// `sha256:…`, if pinned.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse `HOST/REPO[:TAG][@DIGEST]`, with or without a `registry:` or
    /// `docker://` prefix. A reference without tag or digest means `:latest`.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let s = strip_scheme(text).unwrap_or(text);
        if s.is_empty() || s.len() > 4096 {
            return Err(format!("`{}` is not an image reference", clip(text)));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                if !is_digest(d) {
                    return Err(format!(
                        "`{}`: `{}` is not a digest (expected `sha256:<64 hex>`)",
                        clip(text),
                        clip(d)
                    ));
                }
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // The tag is after the last `:` that follows the last `/` (a port is
        // before the first `/`).
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            if !is_tag(t) {
                return Err(format!(
                    "`{}`: `{}` is not a valid tag",
                    clip(text),
                    clip(t)
                ));
            }
        }
        let (registry, repository) = split_domain(name);
        if !is_repository(&repository) {
            return Err(format!(
                "`{}`: `{}` is not a valid repository name (lower-case letters, digits, `._-` and `/`)",
                clip(text),
                clip(&repository)
            ));
        }
        if !is_host(&registry) {
            return Err(format!(
                "`{}`: `{}` is not a registry host",
                clip(text),
                clip(&registry)
            ));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host the registry API is reached at (`index.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// What the manifest endpoint takes: the digest if pinned, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository, pinned to `digest`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

/// True when `tag` is a tag by the reference grammar: `[\w][\w.-]{0,127}`.
/// A registry's tag list is checked with it too: a listed "tag" that is not
/// one cannot be named in a reference, so no plan may carry it.
pub fn is_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// True when `name` is a repository path: `/`-separated components of
/// lower-case letters, digits and `._-`, each starting and ending with a
/// letter or digit (the grammar's `path-component`, its separators
/// loosened). A registry's catalog is checked with it too.
pub fn is_repository(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 4096
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

/// True when `text` is a digest, `<alg>:<hex>` (`sha256:…`), not a name:
/// what `REF@…`, `--image` and `DIR@…` take to pick a manifest (or a
/// `docker save` image ID, its config digest).
pub fn is_digest(text: &str) -> bool {
    text.split_once(':').is_some_and(|(alg, hex)| {
        matches!(alg, "sha256" | "sha384" | "sha512")
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The API host of a registry name (`docker.io` → `index.docker.io`).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB || registry == "registry-1.docker.io" {
        DOCKER_HUB_API
    } else {
        registry
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The reference part of `registry:REF` or `docker://REF`.
///
/// `registry:5000/app` is not the prefix: it is the host `registry` on port
/// 5000 (a compose service, the common CI spelling), as Docker reads it, so
/// it is a bare reference. A Docker Hub name whose first component is a
/// number is spelt `registry:docker.io/5000/app`. Without this rule the
/// reference `registry:5000/app:1` printed (`Display`) would read back as
/// Docker Hub's `5000/app` (found by the `registry` fuzz target, issue 10).
pub fn strip_scheme(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix("registry:") {
        let port_first = rest
            .split_once('/')
            .is_some_and(|(p, _)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return (!port_first).then_some(rest);
    }
    text.strip_prefix("docker://")
}

/// True when `text` names a registry image by its form alone: a
/// `registry:`/`docker://` prefix, or a first component that is a host
/// (`HOST.DOMAIN/…`, `HOST:PORT/…`, `localhost/…`). A bare `name:tag` is
/// not one: it is far more often a misspelt file name than a Docker Hub
/// image, and imgaudit never goes to the network unasked.
pub fn looks_like_registry(text: &str) -> bool {
    if strip_scheme(text).is_some() {
        return true;
    }
    let Some((first, rest)) = text.split_once('/') else {
        return false;
    };
    !rest.is_empty()
        && !first.is_empty()
        && (first.contains('.') || first.contains(':') || first == "localhost")
        && !first.starts_with('.')
        && Reference::parse(text).is_ok()
}

/// `domain-and-port` of distribution's `reference/regexp.go`: DNS labels
/// (letters, digits, inner `-`) joined by `.`, or a bracketed IPv6 address,
/// then an optional `:port`. Anything else (`registry:h:5000`, `h%2f`) would
/// be printed as a reference that reads back differently, or reach the URL
/// the client builds (found by the `registry` fuzz target, issue 10).
fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.starts_with('[') || n.ends_with(']') => (n, Some(p)),
        _ => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = match name.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').is_some_and(|a| {
            !a.is_empty() && a.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
        }),
        None => {
            !name.is_empty()
                && name.len() <= 255
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                })
        }
    };
    port_ok && name_ok
}

/// `splitDockerDomain` of distribution's `reference/normalize.go`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, rest) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        domain
    };
    let rest = if domain == DOCKER_HUB && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    (domain, rest)
}

fn clip(s: &str) -> String {
    crate::escape::clip(s, crate::escape::MAX_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(s).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn normalises_like_distribution() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            p("registry:127.0.0.1:5000/t/app:1.0"),
            (
                "127.0.0.1:5000".into(),
                "t/app".into(),
                Some("1.0".into()),
                None
            )
        );
        assert_eq!(
            p("docker://python"),
            (
                "docker.io".into(),
                "library/python".into(),
                Some("latest".into()),
                None
            )
        );
        assert_eq!(
            p("index.docker.io/library/x"),
            (
                "docker.io".into(),
                "library/x".into(),
                Some("latest".into()),
                None
            )
        );
        assert_eq!(
            p(&format!("localhost/app@{d}")),
            ("localhost".into(), "app".into(), None, Some(d.clone()))
        );
        assert_eq!(
            p(&format!("ghcr.io/o/r:v1@{d}")),
            ("ghcr.io".into(), "o/r".into(), Some("v1".into()), Some(d))
        );
        assert_eq!(
            Reference::parse("docker://python").unwrap().api_host(),
            "index.docker.io"
        );
        assert_eq!(
            Reference::parse("registry:h:5000/a/b:t")
                .unwrap()
                .to_string(),
            "h:5000/a/b:t"
        );
        // A host named `registry` with a port (a compose service), in every
        // spelling, and its printed form reads back as itself (found by the
        // `registry` fuzz target: it read as Docker Hub's `5000/app`).
        for text in [
            "registry:5000/app:1",
            "registry:registry:5000/app:1",
            "docker://registry:5000/app:1",
        ] {
            let r = Reference::parse(text).unwrap();
            assert_eq!(
                (r.registry.as_str(), r.repository.as_str()),
                ("registry:5000", "app"),
                "{text}"
            );
            assert_eq!(Reference::parse(&r.to_string()), Ok(r), "{text}");
        }
        assert_eq!(
            p("registry:docker.io/5000/app").1,
            "5000/app",
            "the prefix before a Docker Hub name that starts with a number"
        );
    }

    #[test]
    fn refuses_what_the_grammar_refuses() {
        for bad in [
            "registry:",
            "registry:h/UPPER",
            "registry:h/a:-bad",
            "registry:h/a@sha256:xyz",
            "registry:h/a//b",
            "registry:h/a/",
            // Found by the `registry` fuzz target: a second scheme prefix
            // left in the host, which printed as another reference.
            "docker://registry:127.0.0.1:5000/team/app:1.2",
            "registry:h:5000:1/a",
            "registry:h%2f.io/a",
            "registry:-h.io/a",
            "registry:h..io/a",
            "registry:[::1/a",
            "registry:h:/a",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_explicit_hosts_look_like_registries() {
        assert!(looks_like_registry("127.0.0.1:5000/t/app:1"));
        assert!(looks_like_registry("[::1]:5000/t/app"));
        assert!(looks_like_registry("Registry.Example.COM/t/app"));
        assert!(looks_like_registry("ghcr.io/o/r"));
        assert!(looks_like_registry("localhost/app"));
        assert!(looks_like_registry("registry:python"));
        assert!(!looks_like_registry("python:3.11"));
        assert!(!looks_like_registry("out/image.tar"));
        assert!(!looks_like_registry("./image.tar"));
    }
}
