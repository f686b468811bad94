//! Who we are to a registry: the credentials for a host (the keychain) and
//! the challenges a registry answers with (`WWW-Authenticate`).
//!
//! The keychain, first match wins (what docker, podman and ggcr's
//! `authn.DefaultKeychain` users already have):
//! 1. `--registry-token` (a bearer token used as is, for every host asked);
//! 2. `IMGAUDIT_REGISTRY_USERNAME` / `IMGAUDIT_REGISTRY_PASSWORD`;
//! 3. `DOCKER_AUTH_CONFIG` (a config.json document in the environment, as
//!    GitLab CI sets it);
//! 4. docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker`): `auths`
//!    (including Docker Hub's `https://index.docker.io/v1/` key),
//!    `credHelpers`, `credsStore` — a helper runs as `docker-credential-X get`;
//! 5. podman's `auth.json` (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers`).
//!
//! A helper that is missing or fails degrades to anonymous with one warning:
//! a public image still audits. Parsing config.json and running helpers is
//! the `docker_credential` crate's (one small dependency).
//!
//! No ambient cloud credentials are minted (no instance-metadata calls, no
//! `gcloud`/`aws` exec): only what the user configured is sent (trivy
//! GHSA-xcq4-m2r3-cmrj).

use std::collections::BTreeMap;

/// What to present to one registry host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: anonymous (a bearer registry still hands out pull tokens).
    Anonymous,
    /// Username and password (Basic, or exchanged for a token).
    Basic {
        /// User name.
        username: String,
        /// Password or access token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json), exchanged
    /// at the token realm with `grant_type=refresh_token`.
    IdentityToken(String),
    /// A bearer token to send as is (`--registry-token`).
    RegistryToken(String),
}

impl Credential {
    /// Short description for messages (never the secret).
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Anonymous => "anonymous",
            Credential::Basic { .. } => "username and password",
            Credential::IdentityToken(_) => "identity token",
            Credential::RegistryToken(_) => "registry token",
        }
    }
}

/// Where credentials come from besides the files (flags and environment).
#[derive(Clone, Debug, Default)]
pub struct Keychain {
    /// `--registry-token`.
    pub token: Option<String>,
    /// `IMGAUDIT_REGISTRY_USERNAME` / `_PASSWORD`.
    pub basic: Option<(String, String)>,
    /// Look in `DOCKER_AUTH_CONFIG`, config.json and auth.json.
    pub use_files: bool,
}

impl Keychain {
    /// The keychain of the environment: env credentials and the files.
    pub fn from_env() -> Keychain {
        let basic = match (
            std::env::var("IMGAUDIT_REGISTRY_USERNAME"),
            std::env::var("IMGAUDIT_REGISTRY_PASSWORD"),
        ) {
            (Ok(u), Ok(p)) if !u.is_empty() => Some((u, p)),
            _ => None,
        };
        Keychain {
            token: None,
            basic,
            use_files: true,
        }
    }

    /// Credentials for `registry` (a name as in references: `docker.io`,
    /// `host:port`). Warnings (a failing helper) are returned beside.
    pub fn resolve(&self, registry: &str) -> (Credential, Option<String>) {
        if let Some(t) = &self.token {
            return (Credential::RegistryToken(t.clone()), None);
        }
        if let Some((u, p)) = &self.basic {
            return (
                Credential::Basic {
                    username: u.clone(),
                    password: p.clone(),
                },
                None,
            );
        }
        if !self.use_files {
            return (Credential::Anonymous, None);
        }
        let keys = store_keys(registry);
        let mut warning = None;
        let mut attempt = |r: Result<docker_credential::DockerCredential, _>, from: &str| match r {
            Ok(c) => Some(from_docker(c)),
            Err(e) => {
                use docker_credential::CredentialRetrievalError as E;
                match e {
                    E::NoCredentialConfigured | E::ConfigNotFound | E::ConfigReadError => None,
                    other => {
                        warning.get_or_insert_with(|| {
                            format!(
                                "credentials for {registry} from {from}: {}; continuing anonymously",
                                one_line(&other.to_string())
                            )
                        });
                        None
                    }
                }
            }
        };
        for key in &keys {
            if let Ok(doc) = std::env::var("DOCKER_AUTH_CONFIG") {
                let r = docker_credential::get_credential_from_reader(doc.as_bytes(), key);
                if let Some(c) = attempt(r, "DOCKER_AUTH_CONFIG") {
                    return (c, None);
                }
            }
        }
        for key in &keys {
            if let Some(c) = attempt(docker_credential::get_credential(key), "docker config.json") {
                return (c, None);
            }
        }
        for key in &keys {
            if let Some(c) = attempt(
                docker_credential::get_podman_credential(key),
                "podman auth.json",
            ) {
                return (c, None);
            }
        }
        (Credential::Anonymous, warning)
    }
}

/// The keys a credential store may hold a registry under: the name itself,
/// and for Docker Hub the legacy `https://index.docker.io/v1/` key docker
/// login writes.
fn store_keys(registry: &str) -> Vec<String> {
    if matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        vec![
            "https://index.docker.io/v1/".to_string(),
            "docker.io".to_string(),
            "index.docker.io".to_string(),
        ]
    } else {
        vec![registry.to_string()]
    }
}

fn from_docker(c: docker_credential::DockerCredential) -> Credential {
    match c {
        docker_credential::DockerCredential::IdentityToken(t) => Credential::IdentityToken(t),
        docker_credential::DockerCredential::UsernamePassword(u, p) => Credential::Basic {
            username: u,
            password: p,
        },
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One challenge of a `WWW-Authenticate` header: a scheme and its
/// parameters (lower-cased names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// `basic`, `bearer` (lower case).
    pub scheme: String,
    /// `realm`, `service`, `scope`, `error`.
    pub params: BTreeMap<String, String>,
}

/// Parse every challenge in the `WWW-Authenticate` values (RFC 7235: a
/// header may hold several, comma-separated, and several headers may be
/// sent). Quoted strings may hold commas and `\"` escapes.
pub fn parse_challenges<'a>(headers: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    for h in headers {
        let b = h.as_bytes();
        let mut i = 0;
        while i < b.len() {
            while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
                i += 1;
            }
            let start = i;
            while i < b.len() && is_token(b[i]) {
                i += 1;
            }
            if start == i {
                i += 1;
                continue;
            }
            let word = &h[start..i];
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if i < b.len() && b[i] == b'=' {
                // A parameter of the current challenge.
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                let value = if i < b.len() && b[i] == b'"' {
                    i += 1;
                    let mut v = String::new();
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' && i + 1 < b.len() {
                            i += 1;
                        }
                        let ch_len = utf8_len(b[i]);
                        v.push_str(h.get(i..i + ch_len).unwrap_or(""));
                        i += ch_len;
                    }
                    i += 1;
                    v
                } else {
                    let s = i;
                    while i < b.len() && b[i] != b',' && !b[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    h[s..i].to_string()
                };
                if let Some(c) = out.last_mut() {
                    c.params.insert(word.to_ascii_lowercase(), value);
                }
            } else {
                out.push(Challenge {
                    scheme: word.to_ascii_lowercase(),
                    params: BTreeMap::new(),
                });
            }
        }
    }
    out
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_challenge() {
        let c = parse_challenges([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#,
            r#"Basic realm="x, y", Bearer realm=https://r/t"#,
        ]);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["scope"], "repository:a/b:pull,push");
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(c[1].params["realm"], "x, y");
        assert_eq!(c[2].params["realm"], "https://r/t");
        // Hostile input: no panic, nothing invented.
        for junk in [
            "=",
            "\"",
            "Bearer realm=\"",
            "é=é",
            ",,,",
            "Bearer realm=\"a\\",
        ] {
            let _ = parse_challenges([junk]);
        }
    }

    #[test]
    fn docker_hub_has_its_legacy_key() {
        assert_eq!(store_keys("docker.io")[0], "https://index.docker.io/v1/");
        assert_eq!(
            store_keys("127.0.0.1:5000"),
            vec!["127.0.0.1:5000".to_string()]
        );
    }
}
