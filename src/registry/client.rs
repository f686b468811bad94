//! The registry client: the distribution HTTP API v2 over a blocking
//! `ureq` agent with rustls, the auth flows, retries and resumable blob
//! streams. Modelled on go-containerregistry's `remote` and
//! `transport` packages: ping `/v2/` once per host to learn its scheme and
//! challenge, then Basic or bearer tokens per repository scope.
//!
//! Why ureq 3 + rustls: blocking (the layer reader is a `Read` consumer on
//! worker threads; an async runtime would buy nothing), ~16 crates measured
//! against ~66 for `oci-client` and ~47 for `reqwest`.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest as _;
use ureq::http::{Response, StatusCode};
use ureq::Body;

use super::auth::{parse_challenges, Credential, Keychain};
use super::reference::{api_host, Reference};

/// The four manifest media types, all in every `Accept`: distribution
/// answers 404 for a manifest whose type the client did not list.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest, config or token response read into memory.
const MAX_DOCUMENT: u64 = 64 << 20;
/// The most bytes one listing (a catalog, a tag list) may take over all its
/// pages: a registry of a million repositories lists them in ~50 MiB.
const MAX_LISTING: u64 = 256 << 20;
/// The most pages of one listing (at `n=1000` a page, 100 million names).
const MAX_PAGES: usize = 100_000;
/// Resumes of one blob stream before giving up.
const MAX_RESUMES: u32 = 8;

/// What went wrong talking to a registry. One line each, naming the host or
/// the object; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The connection failed (after retries).
    #[error("{host}: {why}")]
    Transport {
        /// The registry host.
        host: String,
        /// What failed.
        why: String,
    },
    /// The registry answered with an error status.
    #[error("{what}: {status}{why}")]
    Status {
        /// What was asked (`HOST/REPO:TAG manifest`, a blob).
        what: String,
        /// HTTP status.
        status: u16,
        /// The registry's own message, if it gave one (`: …`).
        why: String,
    },
    /// Authentication failed or was refused.
    #[error("{host}: authentication failed ({kind}): {why}")]
    Auth {
        /// The registry host.
        host: String,
        /// Which credential was presented.
        kind: &'static str,
        /// Why.
        why: String,
    },
    /// The registry sent something that is not what it must be (a digest
    /// that does not match, a document too large, bad JSON).
    #[error("{what}: {why}")]
    Invalid {
        /// What was read.
        what: String,
        /// What is wrong with it.
        why: String,
    },
    /// A setting (`--ca-cert`) could not be used.
    #[error("{0}")]
    Config(String),
}

/// A content descriptor as the registry reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Media type (`Content-Type`).
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// Request counters, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Every HTTP request sent (pings, tokens, manifests, blobs, retries).
    pub requests: u64,
    /// Blob GETs (including resumes).
    pub blob_requests: u64,
    /// Bytes of blob bodies received.
    pub blob_bytes: u64,
}

/// How to reach registries: TLS trust, insecure and plain-HTTP hosts,
/// credentials, retry policy.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Where credentials come from.
    pub keychain: Keychain,
    /// `--ca-cert FILE`: CA certificates trusted beside the system roots.
    pub ca_certs: Vec<PathBuf>,
    /// `--insecure HOST`: TLS not verified, plain HTTP allowed.
    pub insecure: Vec<String>,
    /// `--plain-http HOST`: plain HTTP only.
    pub plain_http: Vec<String>,
    /// Per-host CA directory (`/etc/docker/certs.d/HOST/*.crt`).
    pub certs_d: PathBuf,
    /// Retries of a failed request (connect errors, 408, 429, 5xx).
    pub retries: u32,
    /// First backoff; doubled each retry (`Retry-After` wins when sent).
    pub backoff: Duration,
    /// The longest `Retry-After` honoured (a registry's word, so bounded).
    pub max_retry_after: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            keychain: Keychain::default(),
            ca_certs: Vec::new(),
            insecure: Vec::new(),
            plain_http: Vec::new(),
            certs_d: PathBuf::from("/etc/docker/certs.d"),
            retries: 5,
            backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RegistryOptions {
    /// Options from the environment: the keychain of [`Keychain::from_env`].
    pub fn from_env() -> RegistryOptions {
        RegistryOptions {
            keychain: Keychain::from_env(),
            ..RegistryOptions::default()
        }
    }
}

/// How a host wants to be talked to, learnt from its `/v2/` ping.
#[derive(Clone, Debug)]
enum HostAuth {
    Open,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

#[derive(Clone, Debug)]
struct Host {
    /// `https://host` or `http://host`.
    base: String,
    auth: HostAuth,
}

struct Inner {
    opts: RegistryOptions,
    /// System roots plus `--ca-cert`, parsed once.
    roots: Vec<ureq::tls::Certificate<'static>>,
    agents: Mutex<HashMap<String, ureq::Agent>>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    tokens: Mutex<HashMap<(String, String), String>>,
    creds: Mutex<HashMap<String, Credential>>,
    requests: AtomicU64,
    blob_requests: AtomicU64,
    blob_bytes: AtomicU64,
}

/// A registry client. Cheap to clone; share one per process: it keeps the
/// connection pools, what each host wants, tokens and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// The system trust store Debian (and most distributions) keep in one file.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The system's CA bundle, read and parsed once per process (~150
/// certificates; parsing them took most of a client's making, and a scan
/// or a test makes several clients).
fn system_roots() -> &'static [ureq::tls::Certificate<'static>] {
    static ROOTS: std::sync::OnceLock<Vec<ureq::tls::Certificate<'static>>> =
        std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        SYSTEM_BUNDLES
            .iter()
            .map(std::path::Path::new)
            .filter(|p| p.is_file())
            .find_map(|p| read_pem_certs(p).ok())
            .unwrap_or_default()
    })
}

fn read_pem_certs(path: &std::path::Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => out.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "{}: not a PEM certificate file: {e}",
                    path.display()
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(out)
}

/// True for a loopback host (`localhost`, `127.0.0.0/8`, `::1`), with or
/// without a port.
pub fn is_loopback(host: &str) -> bool {
    let h = host_only(host);
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// True for an address no public registry should send a client to:
/// loopback, RFC 1918, link-local (cloud metadata lives at 169.254.169.254),
/// unique-local IPv6, unspecified.
fn is_private(host: &str) -> bool {
    let h = host_only(host);
    if is_loopback(host) || h.eq_ignore_ascii_case("metadata.google.internal") {
        return true;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_loopback()
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// `host` without its port (`[::1]:5000` → `::1`).
fn host_only(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn transient(e: &ureq::Error) -> bool {
    // An untrusted certificate fails the same way every time.
    if e.to_string().to_ascii_lowercase().contains("certificate") {
        return false;
    }
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::BodyStalled
            | ureq::Error::Protocol(_)
    )
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::HostNotFound => "host not found (DNS)".to_string(),
        ureq::Error::ConnectionFailed => "connection refused".to_string(),
        other => {
            let s = other.to_string();
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    }
}

/// The registry's own error message from an error body
/// (`{"errors":[{"code":…,"message":…}]}`), as `: CODE message`.
fn error_body(resp: Response<Body>) -> String {
    let mut body = resp.into_body();
    let text = body
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errs {
        errors: Vec<Err1>,
    }
    #[derive(serde::Deserialize)]
    struct Err1 {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Errs>(&text) {
        Ok(e) if !e.errors.is_empty() => {
            let parts: Vec<String> = e
                .errors
                .iter()
                .map(|e| format!("{} {}", e.code, e.message).trim().to_string())
                .collect();
            format!(": {}", crate::escape::clip(&parts.join("; "), 200))
        }
        _ => String::new(),
    }
}

fn retry_after(resp: &Response<Body>, max: Duration) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(max))
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A JSON document's body (a manifest, a catalog or tag page), at most
/// [`MAX_DOCUMENT`] bytes.
fn read_document(resp: Response<Body>, what: &str) -> Result<Vec<u8>, RegistryError> {
    resp.into_body()
        .with_config()
        .limit(MAX_DOCUMENT)
        .read_to_vec()
        .map_err(|e| RegistryError::Invalid {
            what: what.to_string(),
            why: describe(&e),
        })
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn verify_digest(what: &str, bytes: &[u8], expected: &str) -> Result<(), RegistryError> {
    let actual = match expected.split_once(':').map(|(a, _)| a) {
        Some("sha256") => sha256_digest(bytes),
        Some("sha512") => format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes))),
        _ => {
            return Err(RegistryError::Invalid {
                what: what.to_string(),
                why: format!("digest `{expected}` uses an unsupported algorithm"),
            })
        }
    };
    if actual != expected {
        return Err(RegistryError::Invalid {
            what: what.to_string(),
            why: format!("digest mismatch: expected {expected}, got {actual}"),
        });
    }
    Ok(())
}

/// The next page of a paginated list, from `Link: <…>; rel="next"`.
fn next_link(resp: &Response<Body>) -> Option<String> {
    resp.headers()
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(link_next)
}

/// The target of the `rel="next"` link in one `Link` value (RFC 8288
/// §3): links are `<URI>` then `;`-separated parameters, separated by `,`
/// — a comma inside `<…>` or inside a quoted parameter is not a separator,
/// and `rel` is a list of relation types (`rel="next last"`). A value that
/// does not parse has no next link.
fn link_next(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let (uri, after) = rest.strip_prefix('<')?.split_once('>')?;
        rest = after;
        let mut next = false;
        while let Some(param) = rest.trim_start_matches([' ', '\t']).strip_prefix(';') {
            let param = param.trim_start_matches([' ', '\t']);
            let end = param.find(['=', ';', ',']).unwrap_or(param.len());
            let name = param[..end].trim_end_matches([' ', '\t']);
            rest = &param[end..];
            let mut val = std::borrow::Cow::Borrowed("");
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start_matches([' ', '\t']);
                if let Some(q) = v.strip_prefix('"') {
                    let (text, len) = quoted(q)?;
                    val = text.into();
                    rest = &q[len..];
                } else {
                    let end = v.find([';', ',']).unwrap_or(v.len());
                    val = v[..end].trim_end_matches([' ', '\t']).into();
                    rest = &v[end..];
                }
            }
            next |= name.eq_ignore_ascii_case("rel")
                && val
                    .split_ascii_whitespace()
                    .any(|t| t.eq_ignore_ascii_case("next"));
        }
        if next {
            return Some(uri.to_string());
        }
        // Anything after the parameters up to the next link is malformed:
        // skip it.
        rest = &rest[rest.find(',')?..];
    }
}

/// A quoted string's text (backslash escapes undone) and the bytes it took
/// after its opening quote, closing quote included; `None` if unterminated.
fn quoted(s: &str) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((text, i + 1)),
            '\\' => text.push(chars.next()?.1),
            c => text.push(c),
        }
    }
    None
}

/// What a request path names under `/v2/REPO/`.
enum Endpoint<'a> {
    /// `manifests/TAG` or `manifests/DIGEST`.
    Manifest(&'a str),
    /// `blobs/DIGEST`.
    Blob(&'a str),
    /// `tags/list`.
    TagList,
}

/// `/v2/REPO/…`, the one place a request path is built from names: a
/// repository, tag or digest that the reference grammar refuses (one read
/// from a manifest, a listing, a plan) is refused here, before any request,
/// instead of being pasted into the path (`../`, `?`, `#`).
fn api_path(repo: &str, endpoint: Endpoint<'_>) -> Result<String, RegistryError> {
    use super::reference::{is_digest, is_repository, is_tag};
    let (tail, ok) = match endpoint {
        Endpoint::Manifest(r) => (format!("manifests/{r}"), is_digest(r) || is_tag(r)),
        Endpoint::Blob(d) => (format!("blobs/{d}"), is_digest(d)),
        Endpoint::TagList => ("tags/list".to_string(), true),
    };
    if !ok || !is_repository(repo) {
        return Err(RegistryError::Invalid {
            what: crate::escape::for_terminal(&format!("{repo}/{tail}"), crate::escape::MAX_VALUE)
                .into_owned(),
            why: "not a repository and tag or digest the reference grammar allows: not requested"
                .into(),
        });
    }
    Ok(format!("/v2/{repo}/{tail}"))
}

enum Method {
    Get,
    Head,
}

impl Client {
    /// A client with these options. Fails only on an unreadable `--ca-cert`.
    pub fn new(opts: RegistryOptions) -> Result<Client, RegistryError> {
        let mut roots = system_roots().to_vec();
        for p in &opts.ca_certs {
            roots.extend(read_pem_certs(p).map_err(RegistryError::Config)?);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                opts,
                roots,
                agents: Mutex::default(),
                hosts: Mutex::default(),
                tokens: Mutex::default(),
                creds: Mutex::default(),
                requests: AtomicU64::new(0),
                blob_requests: AtomicU64::new(0),
                blob_bytes: AtomicU64::new(0),
            }),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            blob_requests: self.inner.blob_requests.load(Ordering::Relaxed),
            blob_bytes: self.inner.blob_bytes.load(Ordering::Relaxed),
        }
    }

    fn insecure(&self, host: &str) -> bool {
        self.inner.opts.insecure.iter().any(|h| h == host)
    }

    fn plain(&self, host: &str) -> bool {
        self.inner.opts.plain_http.iter().any(|h| h == host)
    }

    /// The agent for `host`: the shared trust store plus the host's own
    /// `certs.d` CAs, verification off for `--insecure` hosts. Redirects
    /// are followed without the `Authorization` header (a blob redirected
    /// to object storage must not carry the registry's credentials).
    fn agent(&self, host: &str) -> ureq::Agent {
        let mut agents = self.inner.agents.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = agents.get(host) {
            return a.clone();
        }
        let mut roots = self.inner.roots.clone();
        let dir = self.inner.opts.certs_d.join(host);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "crt") {
                    if let Ok(c) = read_pem_certs(&p) {
                        roots.extend(c);
                    }
                }
            }
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(if roots.is_empty() {
                ureq::tls::RootCerts::WebPki
            } else {
                ureq::tls::RootCerts::Specific(Arc::new(roots))
            })
            .disable_verification(self.insecure(host))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .max_redirects(5)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::Never)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(None)
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("imgaudit/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        agents.insert(host.to_string(), agent.clone());
        agent
    }

    /// Send one request, retrying connect errors, 408, 429 (after its
    /// `Retry-After`) and 5xx with exponential backoff.
    fn send(
        &self,
        host: &str,
        mk: &dyn Fn(&ureq::Agent) -> Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>, RegistryError> {
        self.send_with(host, self.inner.opts.retries, mk)
    }

    fn send_with(
        &self,
        host: &str,
        retries: u32,
        mk: &dyn Fn(&ureq::Agent) -> Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>, RegistryError> {
        let agent = self.agent(host);
        let mut delay = self.inner.opts.backoff;
        let mut attempt = 0;
        loop {
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let r = mk(&agent);
            let last = attempt >= retries;
            match r {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    if !last && (s == 408 || s == 429 || (500..600).contains(&s) && s != 501) {
                        let wait =
                            retry_after(&resp, self.inner.opts.max_retry_after).unwrap_or(delay);
                        drop(resp);
                        std::thread::sleep(wait);
                    } else {
                        return Ok(resp);
                    }
                }
                Err(e) if !last && transient(&e) => std::thread::sleep(delay),
                Err(e) => {
                    return Err(RegistryError::Transport {
                        host: host.to_string(),
                        why: describe(&e),
                    })
                }
            }
            attempt += 1;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    /// What `host` wants: its scheme and challenge, from a `/v2/` ping
    /// (once per host). HTTPS first; plain HTTP only for `--plain-http`
    /// hosts, and as a fallback for loopback and `--insecure` hosts (as
    /// dockerd and ggcr do).
    fn host(&self, host: &str) -> Result<Arc<Host>, RegistryError> {
        if let Some(h) = self
            .inner
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
        {
            return Ok(h.clone());
        }
        let schemes: &[&str] = if self.plain(host) {
            &["http"]
        } else if is_loopback(host) || self.insecure(host) {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut last_err = None;
        let mut found = None;
        for (i, scheme) in schemes.iter().enumerate() {
            let base = format!("{scheme}://{host}");
            let url = format!("{base}/v2/");
            // The HTTPS probe of a host that may answer plain HTTP is not
            // retried: a TLS handshake with an HTTP server fails at once,
            // and every time.
            let retries = if i + 1 < schemes.len() {
                0
            } else {
                self.inner.opts.retries
            };
            match self.send_with(host, retries, &|a| a.get(&url).call()) {
                Ok(resp) => {
                    found = Some((base, resp));
                    break;
                }
                // A certificate we cannot verify is an answer, not a reason
                // to try plain HTTP: say how to trust it.
                Err(RegistryError::Transport { why, .. })
                    if *scheme == "https" && why.to_ascii_lowercase().contains("certificate") =>
                {
                    return Err(RegistryError::Transport {
                        host: host.to_string(),
                        why: format!(
                            "TLS: {why}; trust its CA with `--ca-cert FILE` (or \
                             /etc/docker/certs.d/{host}/ca.crt), or skip verification with `--insecure {host}`"
                        ),
                    });
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some((base, resp)) = found else {
            return Err(last_err.unwrap_or_else(|| RegistryError::Transport {
                host: host.to_string(),
                why: "unreachable".into(),
            }));
        };
        let auth = match resp.status().as_u16() {
            200..=299 => HostAuth::Open,
            401 => {
                let values: Vec<String> = resp
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_string))
                    .collect();
                let challenges = parse_challenges(values.iter().map(String::as_str));
                if let Some(b) = challenges.iter().find(|c| c.scheme == "bearer") {
                    let realm =
                        b.params
                            .get("realm")
                            .cloned()
                            .ok_or_else(|| RegistryError::Auth {
                                host: host.to_string(),
                                kind: "anonymous",
                                why: "bearer challenge without a realm".into(),
                            })?;
                    HostAuth::Bearer {
                        realm,
                        service: b.params.get("service").cloned(),
                    }
                } else if challenges.iter().any(|c| c.scheme == "basic") {
                    HostAuth::Basic
                } else {
                    return Err(RegistryError::Auth {
                        host: host.to_string(),
                        kind: "anonymous",
                        why: "401 without a Basic or Bearer challenge".into(),
                    });
                }
            }
            404 => {
                return Err(RegistryError::Status {
                    what: format!("{base}/v2/"),
                    status: 404,
                    why: ": not a registry (no distribution API v2 there)".into(),
                })
            }
            s => {
                return Err(RegistryError::Status {
                    what: format!("{base}/v2/"),
                    status: s,
                    why: error_body(resp),
                })
            }
        };
        let h = Arc::new(Host { base, auth });
        self.inner
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string(), h.clone());
        Ok(h)
    }

    /// The credential for `registry` (resolved once; a helper's failure is
    /// warned about once and the registry is then asked anonymously).
    fn credential(&self, registry: &str) -> Credential {
        let mut creds = self.inner.creds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = creds.get(registry) {
            return c.clone();
        }
        let (c, warning) = self.inner.opts.keychain.resolve(registry);
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        creds.insert(registry.to_string(), c.clone());
        c
    }

    /// Whether a token realm may be asked: https, not a private address
    /// unless the registry itself is on one (a public registry must not
    /// send us to the metadata service or the intranet: ggcr #2243); plain
    /// HTTP only on loopback beside a loopback registry, or on the
    /// registry's own host when that host is `--insecure`/`--plain-http`.
    fn check_realm(&self, host: &str, realm: &str) -> Result<(), RegistryError> {
        let refuse = |why: &str| RegistryError::Auth {
            host: host.to_string(),
            kind: "anonymous",
            why: format!(
                "token realm `{}` refused: {why}",
                crate::escape::clip(realm, 200)
            ),
        };
        let uri: ureq::http::Uri = realm.parse().map_err(|_| refuse("not a URL"))?;
        let realm_host = uri.authority().map(|a| a.as_str()).unwrap_or("");
        if realm_host.is_empty() || realm_host.contains('@') {
            return Err(refuse("no host"));
        }
        match uri.scheme_str() {
            Some("https") => {
                if is_private(realm_host) && !is_private(host) {
                    return Err(refuse("a private address named by a public registry"));
                }
                Ok(())
            }
            Some("http") => {
                let loop_pair = is_loopback(realm_host) && is_loopback(host);
                let same_insecure = host_only(realm_host) == host_only(host)
                    && (self.insecure(host) || self.plain(host));
                if loop_pair || same_insecure {
                    Ok(())
                } else {
                    Err(refuse("plain HTTP (a token realm must be https)"))
                }
            }
            _ => Err(refuse("not http(s)")),
        }
    }

    /// A bearer token for `scope` at `host`, from the cache or the realm.
    fn token(
        &self,
        host: &str,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let key = (host.to_string(), scope.to_string());
        if let Some(t) = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(t.clone());
        }
        let cred = self.credential(registry);
        if let Credential::RegistryToken(t) = &cred {
            return Ok(t.clone());
        }
        self.check_realm(host, realm)?;
        let auth_err = |why: String| RegistryError::Auth {
            host: host.to_string(),
            kind: cred.kind(),
            why,
        };
        let realm_host = realm
            .parse::<ureq::http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| host.to_string());
        let resp = match &cred {
            Credential::IdentityToken(refresh) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", "imgaudit"),
                    ("scope", scope),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                self.send(&realm_host, &|a| a.post(realm).send_form(form.clone()))?
            }
            other => {
                let mut q = vec![("scope", scope.to_string())];
                if let Some(s) = service {
                    q.push(("service", s.to_string()));
                }
                let basic = match other {
                    Credential::Basic { username, password } => Some(format!(
                        "Basic {}",
                        base64::Engine::encode(
                            &base64::engine::general_purpose::STANDARD,
                            format!("{username}:{password}")
                        )
                    )),
                    _ => None,
                };
                self.send(&realm_host, &|a| {
                    let mut r = a
                        .get(realm)
                        .query_pairs(q.iter().map(|(k, v)| (*k, v.as_str())));
                    if let Some(b) = &basic {
                        r = r.header("Authorization", b);
                    }
                    r.call()
                })?
            }
        };
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let why = match &cred {
                Credential::Anonymous => "the registry requires credentials".to_string(),
                Credential::Basic { .. } => "wrong username or password".to_string(),
                _ => "the token was refused".to_string(),
            };
            return Err(auth_err(why));
        }
        if !(200..300).contains(&status) {
            return Err(auth_err(format!(
                "token realm answered {status}{}",
                error_body(resp)
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = resp
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| auth_err(format!("reading the token: {}", describe(&e))))?;
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| auth_err(format!("token response is not JSON: {e}")))?;
        let token = t
            .token
            .filter(|t| !t.is_empty())
            .or(t.access_token)
            .ok_or_else(|| auth_err("token response holds no token".into()))?;
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, token.clone());
        Ok(token)
    }

    /// The `Authorization` value for a request at `host` in `scope`.
    fn authorization(
        &self,
        host: &str,
        registry: &str,
        h: &Host,
        scope: &str,
    ) -> Result<Option<String>, RegistryError> {
        Ok(match &h.auth {
            HostAuth::Open => None,
            HostAuth::Basic => match self.credential(registry) {
                Credential::Basic { username, password } => Some(format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        format!("{username}:{password}")
                    )
                )),
                Credential::RegistryToken(t) => Some(format!("Bearer {t}")),
                _ => None,
            },
            HostAuth::Bearer { realm, service } => Some(format!(
                "Bearer {}",
                self.token(host, registry, realm, service.as_deref(), scope)?
            )),
        })
    }

    /// One authenticated request: `path` under the host's base, retried by
    /// [`Client::send`], and asked again once with a fresh token on a 401.
    fn request(
        &self,
        method: Method,
        registry: &str,
        scope: &str,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Response<Body>, RegistryError> {
        let host = api_host(registry);
        let h = self.host(host)?;
        // Only ever this host's base: a path from the registry (a `Link`)
        // was made one by `link_path`.
        let url = format!("{}{path}", h.base);
        for fresh in [false, true] {
            if fresh {
                self.inner
                    .tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&(host.to_string(), scope.to_string()));
            }
            let auth = self.authorization(host, registry, &h, scope)?;
            let resp = self.send(host, &|a| {
                let mut r = match method {
                    Method::Get => a.get(&url),
                    Method::Head => a.head(&url),
                };
                for (k, v) in headers {
                    r = r.header(*k, v);
                }
                if let Some(v) = &auth {
                    r = r.header("Authorization", v);
                }
                r.call()
            })?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                if !fresh && matches!(h.auth, HostAuth::Bearer { .. }) {
                    continue;
                }
                let cred = self.credential(registry);
                return Err(RegistryError::Auth {
                    host: host.to_string(),
                    kind: cred.kind(),
                    why: match cred {
                        Credential::Anonymous => {
                            "the registry requires credentials (docker login, \
                            IMGAUDIT_REGISTRY_USERNAME/_PASSWORD or --registry-token)"
                                .to_string()
                        }
                        Credential::Basic { .. } if matches!(h.auth, HostAuth::Basic) => {
                            "wrong username or password".to_string()
                        }
                        _ => format!("refused for `{scope}`{}", error_body(resp)),
                    },
                });
            }
            return Ok(resp);
        }
        unreachable!("the loop returns on its second pass")
    }

    fn repo_scope(repo: &str) -> String {
        format!("repository:{repo}:pull")
    }

    /// A `Link` target as a path on `registry`'s own base. A link to any
    /// other origin is refused, not followed: the request would carry this
    /// registry's credentials there. Distribution sends a path; an absolute
    /// URL is accepted when it names this very base.
    fn link_path(&self, registry: &str, link: &str) -> Result<String, String> {
        let h = self.host(api_host(registry)).map_err(|e| e.to_string())?;
        let path = link.strip_prefix(h.base.as_str()).unwrap_or(link);
        if path.starts_with('/') {
            Ok(path.to_string())
        } else {
            Err(format!(
                "its `Link` header points to `{}`, not a path on {}: not followed (the credentials stay with their registry)",
                crate::escape::for_terminal(link, crate::escape::MAX_VALUE),
                h.base
            ))
        }
    }

    /// Every repository of the registry (`/v2/_catalog`, `Link`-paginated).
    pub fn catalog(&self, registry: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let mut out = Vec::new();
        self.paginate(registry, "registry:catalog:*", "/v2/_catalog?n=1000", |b| {
            let c: Catalog = serde_json::from_slice(b).map_err(|e| e.to_string())?;
            out.extend(c.repositories);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every tag of `repo` (`/v2/REPO/tags/list`, `Link`-paginated).
    pub fn tags(&self, registry: &str, repo: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        self.paginate(
            registry,
            &Self::repo_scope(repo),
            &(api_path(repo, Endpoint::TagList)? + "?n=1000"),
            |b| {
                let t: Tags = serde_json::from_slice(b).map_err(|e| e.to_string())?;
                out.extend(t.tags.unwrap_or_default());
                Ok(())
            },
        )?;
        Ok(out)
    }

    fn paginate(
        &self,
        registry: &str,
        scope: &str,
        first: &str,
        mut page: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), RegistryError> {
        let mut path = first.to_string();
        // A registry whose `Link` loops (to any page already read, not
        // only to itself) or never ends must not keep us forever, nor
        // fill memory: the pages read are remembered, and their bytes are
        // bounded as a whole, not only one by one.
        let mut read = HashSet::new();
        let mut bytes = 0u64;
        loop {
            let resp = self.request(Method::Get, registry, scope, &path, &[])?;
            let what = format!("{registry}{path}");
            if !resp.status().is_success() {
                return Err(RegistryError::Status {
                    what,
                    status: resp.status().as_u16(),
                    why: error_body(resp),
                });
            }
            let next = next_link(&resp);
            let body = read_document(resp, &what)?;
            // The paths remembered count too: a `Link` can be long.
            bytes += (body.len() + path.len()) as u64;
            if bytes > MAX_LISTING || read.len() >= MAX_PAGES {
                return Err(RegistryError::Invalid {
                    what,
                    why: format!(
                        "the listing goes on past {} pages or {} MiB",
                        MAX_PAGES,
                        MAX_LISTING >> 20
                    ),
                });
            }
            page(&body).map_err(|why| RegistryError::Invalid {
                what: what.clone(),
                why,
            })?;
            read.insert(std::mem::take(&mut path));
            let next = match next.map(|n| self.link_path(registry, &n)) {
                Some(Err(why)) => return Err(RegistryError::Invalid { what, why }),
                Some(Ok(n)) => Some(n),
                None => None,
            };
            match next {
                Some(n) if read.contains(&n) => {
                    return Err(RegistryError::Invalid {
                        what,
                        why: format!(
                            "its `Link` header points back to `{}`, a page already read",
                            crate::escape::for_terminal(&n, crate::escape::MAX_VALUE)
                        ),
                    })
                }
                Some(n) => path = n,
                None => return Ok(()),
            }
        }
    }

    /// The descriptor of a manifest, by `HEAD` (no body downloaded).
    pub fn head_manifest(&self, r: &Reference) -> Result<Descriptor, RegistryError> {
        let path = api_path(&r.repository, Endpoint::Manifest(r.manifest_ref()))?;
        let resp = self.request(
            Method::Head,
            &r.registry,
            &Self::repo_scope(&r.repository),
            &path,
            &[("Accept", MANIFEST_ACCEPT.to_string())],
        )?;
        if !resp.status().is_success() {
            return Err(RegistryError::Status {
                what: format!("{r}"),
                status: resp.status().as_u16(),
                why: if resp.status() == StatusCode::NOT_FOUND {
                    ": no such manifest".into()
                } else {
                    String::new()
                },
            });
        }
        let digest = header(&resp, "docker-content-digest");
        match digest {
            Some(d) if super::reference::is_digest(&d) => Ok(Descriptor {
                media_type: header(&resp, "content-type").unwrap_or_default(),
                digest: d,
                size: header(&resp, "content-length")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            }),
            // No digest header: the body tells.
            _ => self.get_manifest(r).map(|(d, _)| d),
        }
    }

    /// A manifest or index, verified against the pinned digest (or, for a
    /// tag, against the registry's `Docker-Content-Digest`).
    pub fn get_manifest(&self, r: &Reference) -> Result<(Descriptor, Vec<u8>), RegistryError> {
        let path = api_path(&r.repository, Endpoint::Manifest(r.manifest_ref()))?;
        let resp = self.request(
            Method::Get,
            &r.registry,
            &Self::repo_scope(&r.repository),
            &path,
            &[("Accept", MANIFEST_ACCEPT.to_string())],
        )?;
        let what = format!("{r}");
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            return Err(RegistryError::Status {
                what,
                status,
                why: if status == 404 {
                    format!(": no such manifest{}", error_body(resp))
                } else {
                    error_body(resp)
                },
            });
        }
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let claimed = header(&resp, "docker-content-digest");
        let body = read_document(resp, &what)?;
        let digest = match (&r.digest, &claimed) {
            (Some(d), _) => {
                verify_digest(&what, &body, d)?;
                d.clone()
            }
            (None, Some(c)) if super::reference::is_digest(c) => {
                verify_digest(&what, &body, c)?;
                c.clone()
            }
            _ => sha256_digest(&body),
        };
        Ok((
            Descriptor {
                media_type,
                digest,
                size: body.len() as u64,
            },
            body,
        ))
    }

    /// A manifest by digest, for the source (children of an index).
    pub fn get_manifest_by_digest(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let r = Reference {
            registry: registry.to_string(),
            repository: repo.to_string(),
            tag: None,
            digest: Some(digest.to_string()),
        };
        self.get_manifest(&r).map(|(_, b)| b)
    }

    /// A small blob (a config) read whole and verified.
    pub fn get_blob_small(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut s = self.open_blob(registry, repo, digest, None)?;
        let mut out = Vec::new();
        (&mut s)
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut out)
            .map_err(|e| RegistryError::Invalid {
                what: format!("{registry}/{repo}@{digest}"),
                why: e.to_string(),
            })?;
        if out.len() as u64 > MAX_DOCUMENT {
            return Err(RegistryError::Invalid {
                what: format!("{registry}/{repo}@{digest}"),
                why: "larger than a config can be".into(),
            });
        }
        verify_digest(&format!("{registry}/{repo}@{digest}"), &out, digest)?;
        Ok(out)
    }

    /// A blob as a stream: the body of `GET /v2/REPO/blobs/DIGEST`, resumed
    /// with `Range` where a connection breaks. Not verified here: the
    /// reader hashes what it reads (one pass), and the caller compares.
    pub fn open_blob(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
        size: Option<u64>,
    ) -> Result<BlobStream, RegistryError> {
        let mut s = BlobStream {
            client: self.clone(),
            registry: registry.to_string(),
            repo: repo.to_string(),
            digest: digest.to_string(),
            expected: size,
            pos: 0,
            body: None,
            resumes: 0,
        };
        s.connect().map_err(|e| match e.into_inner() {
            Some(inner) => match inner.downcast::<RegistryError>() {
                Ok(r) => *r,
                Err(other) => RegistryError::Invalid {
                    what: format!("{registry}/{repo}@{digest}"),
                    why: other.to_string(),
                },
            },
            None => RegistryError::Invalid {
                what: format!("{registry}/{repo}@{digest}"),
                why: "cannot be read".into(),
            },
        })?;
        Ok(s)
    }
}

/// A blob body that resumes: on a broken connection or a body that ends
/// before the size the manifest gave, it asks again with
/// `Range: bytes=POS-`; a server that ignores the range (200) has the
/// bytes already read skipped. More bytes than the manifest's size is an
/// error (a registry that lies does not get to fill the disk or memory).
pub struct BlobStream {
    client: Client,
    registry: String,
    repo: String,
    digest: String,
    expected: Option<u64>,
    pos: u64,
    body: Option<ureq::BodyReader<'static>>,
    resumes: u32,
}

impl BlobStream {
    fn what(&self) -> String {
        format!("{}/{}@{}", self.registry, self.repo, self.digest)
    }

    fn connect(&mut self) -> io::Result<()> {
        let path = api_path(&self.repo, Endpoint::Blob(&self.digest)).map_err(io::Error::other)?;
        let mut headers = Vec::new();
        if self.pos > 0 {
            headers.push(("Range", format!("bytes={}-", self.pos)));
        }
        self.client
            .inner
            .blob_requests
            .fetch_add(1, Ordering::Relaxed);
        let resp = self
            .client
            .request(
                Method::Get,
                &self.registry,
                &Client::repo_scope(&self.repo),
                &path,
                &headers,
            )
            .map_err(io::Error::other)?;
        let status = resp.status().as_u16();
        // A body announced longer than the manifest's size is refused
        // before a byte of it is read.
        let announced = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
        if let (Some(len), Some(expected)) = (announced, self.expected) {
            let end = if status == 206 { self.pos + len } else { len };
            if end > expected {
                return Err(io::Error::other(RegistryError::Invalid {
                    what: self.what(),
                    why: format!(
                        "the registry sent more bytes than the manifest's size ({end} > {expected})"
                    ),
                }));
            }
        }
        let body = match status {
            206 if self.pos > 0 => resp.into_body().into_reader(),
            200 => {
                let mut b = resp.into_body().into_reader();
                if self.pos > 0 {
                    // The range was ignored: skip what we have.
                    let skipped = io::copy(&mut (&mut b).take(self.pos), &mut io::sink())?;
                    if skipped < self.pos {
                        return Err(io::Error::other(format!(
                            "{}: resumed body is shorter than what was read before",
                            self.what()
                        )));
                    }
                }
                b
            }
            _ => {
                let why = if status == 404 {
                    format!(": blob unknown{}", error_body(resp))
                } else {
                    error_body(resp)
                };
                return Err(io::Error::other(RegistryError::Status {
                    what: self.what(),
                    status,
                    why,
                }));
            }
        };
        self.body = Some(body);
        Ok(())
    }
}

impl Read for BlobStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.body.is_none() {
                self.connect()?;
            }
            let Some(body) = self.body.as_mut() else {
                return Ok(0);
            };
            match body.read(buf) {
                Ok(0) => {
                    let short = self.expected.is_some_and(|e| self.pos < e);
                    if short && self.resumes < MAX_RESUMES {
                        self.resumes += 1;
                        self.body = None;
                        continue;
                    }
                    if short {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("{}: body ended at {} bytes", self.what(), self.pos),
                        ));
                    }
                    return Ok(0);
                }
                Ok(n) => {
                    self.pos += n as u64;
                    self.client
                        .inner
                        .blob_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    if self.expected.is_some_and(|e| self.pos > e) {
                        return Err(io::Error::other(format!(
                            "{}: the registry sent more bytes than the manifest's size {}",
                            self.what(),
                            self.expected.unwrap_or(0)
                        )));
                    }
                    return Ok(n);
                }
                Err(_) if self.resumes < MAX_RESUMES => {
                    self.resumes += 1;
                    self.body = None;
                    std::thread::sleep(Duration::from_millis(100 * u64::from(self.resumes)));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_headers_are_parsed_as_rfc_8288_says() {
        use super::link_next;
        let cases = [
            // What distribution writes.
            (
                r#"</v2/_catalog?last=b&n=2>; rel="next""#,
                Some("/v2/_catalog?last=b&n=2"),
            ),
            (
                "</v2/_catalog?last=b&n=2>; rel=next",
                Some("/v2/_catalog?last=b&n=2"),
            ),
            // A comma inside the URI or a quoted parameter separates nothing.
            (
                r#"</v2/x/tags/list?last=a,b>; rel="next""#,
                Some("/v2/x/tags/list?last=a,b"),
            ),
            (r#"</p>; title="a, rel=next", </q>; rel="next""#, Some("/q")),
            // The next link among others, with a list of relation types.
            (
                r#"</first>; rel="first", </n>; rel="next last""#,
                Some("/n"),
            ),
            (r#"</n>;REL="Next""#, Some("/n")),
            // No next link: another relation, a parameter only looking like one.
            (r#"</p>; rel="prev""#, None),
            (r#"</p>; rel="nextpage""#, None),
            (r#"</p>; title="rel=\"next\"""#, None),
            // Malformed: unterminated, no brackets.
            (r#"</p; rel="next""#, None),
            (r#"</p>; rel="next"#, None),
            (r#"/p; rel="next""#, None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(link_next(value).as_deref(), want, "{value}");
        }
    }

    use super::*;

    #[test]
    fn request_paths_are_built_only_from_grammatical_names() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            api_path("team/app", Endpoint::Blob(&d)).unwrap(),
            format!("/v2/team/app/blobs/{d}")
        );
        assert_eq!(
            api_path("library/python", Endpoint::Manifest("3.12-slim")).unwrap(),
            "/v2/library/python/manifests/3.12-slim"
        );
        assert_eq!(
            api_path("team/app", Endpoint::TagList).unwrap(),
            "/v2/team/app/tags/list"
        );
        for (repo, endpoint) in [
            ("team/app", Endpoint::Blob("sha256:../../../_catalog")), // a manifest's config digest
            ("team/app", Endpoint::Blob("latest")),                   // a blob is named by digest
            ("team/app", Endpoint::Manifest("x?n=1")),
            ("team/app", Endpoint::Manifest("../../other/manifests/x")),
            ("team/../../v2/_catalog", Endpoint::TagList),
            ("Team/App", Endpoint::Manifest("latest")),
            ("team/app#", Endpoint::Manifest("latest")),
        ] {
            let e = api_path(repo, endpoint).unwrap_err().to_string();
            assert!(e.contains("not requested"), "{repo}: {e}");
        }
    }

    #[test]
    fn hosts_and_addresses() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(is_private("169.254.169.254"));
        assert!(is_private("10.1.2.3:443"));
        assert!(is_private("metadata.google.internal"));
        assert!(!is_private("auth.docker.io"));
        assert_eq!(host_only("h:5000"), "h");
        assert_eq!(host_only("[::1]:5000"), "::1");
    }

    #[test]
    fn realms_are_checked() {
        let c = Client::new(RegistryOptions::default()).unwrap();
        assert!(c.check_realm("ghcr.io", "https://ghcr.io/token").is_ok());
        assert!(c.check_realm("ghcr.io", "http://ghcr.io/token").is_err());
        assert!(c
            .check_realm("ghcr.io", "https://169.254.169.254/latest")
            .is_err());
        assert!(c.check_realm("ghcr.io", "https://10.0.0.1/token").is_err());
        assert!(c.check_realm("ghcr.io", "file:///etc/passwd").is_err());
        assert!(c
            .check_realm("127.0.0.1:5002", "http://127.0.0.1:5003/token")
            .is_ok());
        assert!(c
            .check_realm("127.0.0.1:5002", "http://evil.example/token")
            .is_err());
    }
}
