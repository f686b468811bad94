//! Issue 9: images read from a real registry — Debian's `docker-registry`
//! (distribution 2.8) on loopback, started by `scripts/setup.sh`
//! (`scripts/registry.sh`): plain HTTP on :5000, TLS with a throwaway CA +
//! htpasswd on :5001, token auth on :5002 with the token server of
//! `tests/registry/token_server.py` on :5003. Fixtures are pushed with
//! `skopeo`. A loopback proxy written here sits in front of :5000 for what
//! a real registry does only on a bad day: a blob cut mid-stream, a 429
//! with `Retry-After`, a redirect to another host, a server that ignores
//! `Range`, and lies (a wrong digest, a blob longer than its manifest says).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::util::{bin, fixture_tags, Output};

const PLAIN: &str = "127.0.0.1:5000";
const TLS: &str = "127.0.0.1:5001";
const TOKEN: &str = "127.0.0.1:5002";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn state_dir() -> PathBuf {
    std::env::var_os("IMGAUDIT_REGISTRY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/registry"))
}

fn layout() -> String {
    root().join("testdata/images/oci").display().to_string()
}

/// The registries must be up: they are a service of the test run, like a
/// database would be (`scripts/setup.sh` starts them).
fn require_registries() {
    for port in [5000, 5001, 5002, 5003] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "no test registry on 127.0.0.1:{port}: run `bash scripts/setup.sh` (or `bash scripts/registry.sh start`)"
        );
    }
}

fn skopeo_copy(src: &str, dest: &str, extra: &[&str]) {
    let out = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "-q"])
        .args(extra)
        .args([src, dest])
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy {src} {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Push every fixture tag (and the two-platform index, and a zstd image)
/// to the plain registry once per test process, under `it/fixtures/TAG`.
fn pushed() -> &'static Vec<String> {
    static PUSHED: OnceLock<Vec<String>> = OnceLock::new();
    PUSHED.get_or_init(|| {
        require_registries();
        let mut tags = fixture_tags();
        for t in &tags {
            let all = if t == "multiarch" {
                &["--all"][..]
            } else {
                &[]
            };
            let mut extra = vec!["--dest-tls-verify=false"];
            extra.extend_from_slice(all);
            skopeo_copy(
                &format!("oci:{}:{t}", layout()),
                &format!("docker://{PLAIN}/it/fixtures/{t}:latest"),
                &extra,
            );
        }
        let zstd = root().join("target/fixtures/oci-dir/healthy-zstd");
        let zstd_tag = std::fs::read_to_string(zstd.join("index.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| {
                v["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .map(String::from)
            });
        let src = match &zstd_tag {
            Some(t) => format!("oci:{}:{t}", zstd.display()),
            None => format!("oci:{}", zstd.display()),
        };
        skopeo_copy(
            &src,
            &format!("docker://{PLAIN}/it/fixtures/healthy-zstd:latest"),
            &["--dest-tls-verify=false", "--dest-compress-format", "zstd"],
        );
        tags.push("healthy-zstd".into());
        tags
    })
}

/// Run the binary with a clean credential environment (no developer
/// `~/.docker/config.json`), `extra` env on top.
fn run(args: &[&str], env: &[(&str, &str)], cache: Option<&Path>) -> Output {
    static EMPTY: OnceLock<tempfile::TempDir> = OnceLock::new();
    let empty = EMPTY.get_or_init(|| tempfile::tempdir().unwrap());
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("DOCKER_CONFIG", empty.path())
        .env("REGISTRY_AUTH_FILE", empty.path().join("absent.json"))
        .env_remove("DOCKER_AUTH_CONFIG")
        .env_remove("IMGAUDIT_REGISTRY_USERNAME")
        .env_remove("IMGAUDIT_REGISTRY_PASSWORD")
        .env_remove("IMGAUDIT_REGISTRY_TOKEN")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .stdin(Stdio::null());
    match cache {
        Some(c) => cmd.env("IMGAUDIT_CACHE_DIR", c),
        None => cmd.arg("--no-cache"),
    };
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run imgaudit");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", out.stdout, out.stderr))
}

/// The report without the `image` section (which names the source).
fn findings_part(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("image");
    v
}

/// The one error line of a failed run.
fn error_line(out: &Output) -> String {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("reading registry") && !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line:\n{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    lines[0].to_string()
}

#[test]
fn every_fixture_audits_the_same_from_the_registry_as_from_the_layout() {
    let tags = pushed();
    let zstd_layout = root().join("target/fixtures/oci-dir/healthy-zstd");
    for t in tags {
        let platforms: &[Option<&str>] = if t == "multiarch" {
            &[Some("linux/amd64"), Some("linux/arm64")]
        } else {
            &[None]
        };
        for p in platforms {
            let local = if t == "healthy-zstd" {
                zstd_layout.display().to_string()
            } else {
                format!("{}:{t}", layout())
            };
            let remote = format!("registry:{PLAIN}/it/fixtures/{t}:latest");
            let mut a = vec![local.as_str(), "-f", "json"];
            let mut b = vec![remote.as_str(), "-f", "json"];
            if let Some(p) = p {
                a.extend(["--platform", p]);
                b.extend(["--platform", p]);
            }
            let (la, lb) = (run(&a, &[], None), run(&b, &[], None));
            assert_eq!(la.code, lb.code, "{t} {p:?}: exit codes\n{}", lb.stderr);
            let (ja, jb) = (json(&la), json(&lb));
            assert_eq!(findings_part(&ja), findings_part(&jb), "{t} {p:?}");
            // The same image: same config, same layers, the registry named.
            assert_eq!(
                ja["image"]["config_digest"], jb["image"]["config_digest"],
                "{t}"
            );
            assert_eq!(ja["image"]["layers"], jb["image"]["layers"], "{t}");
            assert_eq!(jb["image"]["format"], "registry");
            assert_eq!(
                jb["image"]["reference"],
                format!("{PLAIN}/it/fixtures/{t}:latest")
            );
            assert!(
                lb.stderr.contains(&format!(
                    "reading registry {PLAIN}/it/fixtures/{t}:latest, {}",
                    p.unwrap_or("linux/amd64")
                )),
                "{}",
                lb.stderr
            );
        }
    }
}

#[test]
fn files_and_size_read_the_registry_too_and_digests_pin() {
    pushed();
    let remote = format!("registry:{PLAIN}/it/fixtures/healthy:latest");
    let local = format!("{}:healthy", layout());
    let a = run(&["files", &local, "--format", "jsonl"], &[], None);
    let b = run(&["files", &remote, "--format", "jsonl"], &[], None);
    assert_eq!((a.code, b.code), (0, 0), "{}", b.stderr);
    assert_eq!(a.stdout, b.stdout);
    let a = run(&["size", &local, "-f", "json"], &[], None);
    let b = run(&["size", &remote, "-f", "json"], &[], None);
    assert_eq!((a.code, b.code), (0, 0), "{}", b.stderr);
    assert_eq!(json(&a)["layers"], json(&b)["layers"]);
    // By digest, in the three spellings.
    let audit = json(&run(&[&remote, "-f", "json"], &[], None));
    let digest = audit["image"]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    for r in [
        format!("registry:{PLAIN}/it/fixtures/healthy@{digest}"),
        format!("docker://{PLAIN}/it/fixtures/healthy@{digest}"),
        format!("{PLAIN}/it/fixtures/healthy@{digest}"),
    ] {
        let o = run(&[&r, "-f", "json"], &[], None);
        assert_eq!(o.code, 0, "{r}: {}", o.stderr);
        assert_eq!(json(&o)["image"]["manifest_digest"], digest.as_str());
    }
    // A digest the repository does not hold: one line, exit 2.
    let absent = format!(
        "registry:{PLAIN}/it/fixtures/healthy@sha256:{}",
        "0".repeat(64)
    );
    let o = run(&[&absent], &[], None);
    assert_eq!(o.code, 2);
    let line = error_line(&o);
    assert!(
        line.contains("no such manifest") || line.contains("404"),
        "{line}"
    );
    // A missing tag too.
    let o = run(
        &[&format!("registry:{PLAIN}/it/fixtures/healthy:nope")],
        &[],
        None,
    );
    assert_eq!(o.code, 2);
    assert!(error_line(&o).contains("no such manifest"));
}

#[test]
fn a_local_path_always_wins_over_a_registry_reference() {
    pushed();
    let dir = tempfile::tempdir().unwrap();
    // A directory named like a registry reference, holding a layout.
    let name = format!("{PLAIN}/it/fixtures/healthy:latest");
    let local = dir.path().join(&name);
    std::fs::create_dir_all(local.parent().unwrap()).unwrap();
    Command::new("cp")
        .args(["-a", &layout(), local.to_str().unwrap()])
        .status()
        .unwrap();
    let out = Command::new(bin())
        .current_dir(dir.path())
        .args([&name, "--no-cache", "-f", "json", "--image", "healthy"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["image"]["format"], "oci-layout", "{v}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("reading registry"));
}

// ---------------------------------------------------------------------------
// Auth and TLS

fn push_auth_fixtures() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        require_registries();
        let ca = tempfile::tempdir().unwrap();
        std::fs::copy(state_dir().join("ca.crt"), ca.path().join("ca.crt")).unwrap();
        let src = format!("oci:{}:healthy", layout());
        skopeo_copy(
            &src,
            &format!("docker://{TLS}/it/private/healthy:latest"),
            &[
                "--dest-cert-dir",
                ca.path().to_str().unwrap(),
                "--dest-creds",
                "alice:wonderland",
            ],
        );
        for repo in ["public/healthy", "it/private/healthy"] {
            skopeo_copy(
                &src,
                &format!("docker://{TOKEN}/{repo}:latest"),
                &[
                    "--dest-tls-verify=false",
                    "--dest-creds",
                    "alice:wonderland",
                ],
            );
        }
    });
}

fn token_log_lines() -> Vec<Value> {
    std::fs::read_to_string(state_dir().join("token/token.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn auth_matrix() {
    push_auth_fixtures();
    let ca = state_dir().join("ca.crt");
    let ca = ca.to_str().unwrap();
    let private_tls = format!("registry:{TLS}/it/private/healthy:latest");
    let private_tok = format!("registry:{TOKEN}/it/private/healthy:latest");
    let public_tok = format!("registry:{TOKEN}/public/healthy:latest");
    let creds = [
        ("IMGAUDIT_REGISTRY_USERNAME", "alice"),
        ("IMGAUDIT_REGISTRY_PASSWORD", "wonderland"),
    ];
    let ok = |o: &Output, what: &str| {
        assert_eq!(o.code, 0, "{what}: {}", o.stderr);
        assert!(
            o.stdout.contains("no problems found"),
            "{what}: {}",
            o.stdout
        );
    };

    // Anonymous bearer: a public repository of the token registry.
    let before = token_log_lines().len();
    ok(&run(&[&public_tok], &[], None), "anonymous bearer");
    let asked: Vec<Value> = token_log_lines().split_off(before);
    assert!(
        asked.iter().any(|l| l["authorization"].is_null()
            && l["query"]["scope"][0] == "repository:public/healthy:pull"),
        "{asked:?}"
    );
    // The same repository asked anonymously is refused when private.
    let o = run(&[&private_tok], &[], None);
    assert_eq!(o.code, 2);
    assert!(error_line(&o).contains("requires credentials"));

    // Basic over TLS with the throwaway CA.
    ok(
        &run(&[&private_tls, "--ca-cert", ca], &creds, None),
        "basic + tls",
    );
    // The same CA from certs.d is not tried here (that is /etc); without
    // any: one line that says how to trust it.
    let o = run(&[&private_tls], &creds, None);
    assert_eq!(o.code, 2);
    let line = error_line(&o);
    assert!(
        line.contains("--ca-cert") && line.contains("certificate"),
        "{line}"
    );
    // --insecure skips verification.
    ok(
        &run(&[&private_tls, "--insecure", TLS], &creds, None),
        "insecure",
    );
    // Wrong password: one line, exit 2, for both Basic and bearer.
    let wrong = [
        ("IMGAUDIT_REGISTRY_USERNAME", "alice"),
        ("IMGAUDIT_REGISTRY_PASSWORD", "not-it"),
    ];
    for r in [&private_tls, &private_tok] {
        let o = run(&[r, "--ca-cert", ca], &wrong, None);
        assert_eq!(o.code, 2, "{r}");
        assert!(error_line(&o).contains("wrong username or password"), "{r}");
        assert!(
            !o.stderr.contains("not-it"),
            "the password is never printed"
        );
    }

    // Bearer with credentials from the environment (Basic exchanged for a token).
    let before = token_log_lines().len();
    ok(&run(&[&private_tok], &creds, None), "bearer with creds");
    let asked = token_log_lines().split_off(before);
    assert!(
        asked.iter().any(|l| l["authorization"] == "Basic"),
        "{asked:?}"
    );

    // config.json with a credential helper on PATH.
    let home = tempfile::tempdir().unwrap();
    let bindir = home.path().join("bin");
    std::fs::create_dir_all(&bindir).unwrap();
    let marker = home.path().join("helper-was-asked");
    let helper = bindir.join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho \"$server\" > '{}'\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"wonderland\"}}' \"$server\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", helper.to_str().unwrap()])
        .status()
        .unwrap();
    let cfg = home.path().join("docker");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"credHelpers":{{"{TOKEN}":"fake"}}}}"#),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("DOCKER_CONFIG", cfg.to_str().unwrap()),
        ("PATH", path.as_str()),
    ];
    ok(&run(&[&private_tok], &env, None), "credential helper");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), TOKEN);

    // A helper that is not installed: one warning, anonymous; a public
    // image still audits.
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"credHelpers":{{"{TOKEN}":"absent-helper"}}}}"#),
    )
    .unwrap();
    let o = run(&[&public_tok], &env, None);
    ok(&o, "missing helper, public image");
    assert!(
        o.stderr.contains("warning:") && o.stderr.contains("anonymously"),
        "{}",
        o.stderr
    );

    // identitytoken (a refresh token) exchanged with grant_type=refresh_token.
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"auths":{{"{TOKEN}":{{"identitytoken":"refresh-alice-0001"}}}}}}"#),
    )
    .unwrap();
    let before = token_log_lines().len();
    ok(&run(&[&private_tok], &env, None), "identity token");
    let asked = token_log_lines().split_off(before);
    assert!(
        asked.iter().any(|l| l["grant_type"] == "refresh_token"),
        "{asked:?}"
    );

    // auths with a base64 `auth`, from DOCKER_AUTH_CONFIG and from a podman auth.json.
    let auth = base64_encode(b"alice:wonderland");
    let doc = format!(r#"{{"auths":{{"{TOKEN}":{{"auth":"{auth}"}}}}}}"#);
    ok(
        &run(&[&private_tok], &[("DOCKER_AUTH_CONFIG", &doc)], None),
        "DOCKER_AUTH_CONFIG",
    );
    let podman = home.path().join("auth.json");
    std::fs::write(&podman, &doc).unwrap();
    ok(
        &run(
            &[&private_tok],
            &[("REGISTRY_AUTH_FILE", podman.to_str().unwrap())],
            None,
        ),
        "podman auth.json",
    );

    // --registry-token: a token got elsewhere, sent as is (no exchange).
    let token = fetch_token("it/private/healthy");
    let before = token_log_lines().len();
    ok(
        &run(&[&private_tok, "--registry-token", &token], &[], None),
        "registry token",
    );
    assert_eq!(
        token_log_lines().len(),
        before,
        "no token request with --registry-token"
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A pull token for `repo` from the token server, as alice.
fn fetch_token(repo: &str) -> String {
    let mut s = TcpStream::connect("127.0.0.1:5003").unwrap();
    write!(
        s,
        "GET /token?service=imgaudit-test&scope=repository:{repo}:pull HTTP/1.1\r\nHost: 127.0.0.1:5003\r\nAuthorization: Basic {}\r\nConnection: close\r\n\r\n",
        base64_encode(b"alice:wonderland")
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    v["token"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------
// A scripted loopback proxy in front of the plain registry.

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
}

/// What the proxy does with a request.
enum Act {
    /// Forward to the registry; optionally cut the body after N bytes, or
    /// ignore a `Range` header (answer 200 with the whole body).
    Forward {
        cut_after: Option<usize>,
        ignore_range: bool,
    },
    /// Answer this status with these headers and body.
    Answer(u16, Vec<(String, String)>, Vec<u8>),
}

type Script = dyn Fn(&Seen, usize) -> Act + Send + Sync;

struct Proxy {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    stream.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        stream.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let n: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; n];
    stream.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
    })
}

/// Forward `req` to the plain registry (without its credentials) and
/// return the raw response (headers, body).
fn upstream(req: &Seen, ignore_range: bool) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(PLAIN).unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {PLAIN}\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        if matches!(k.as_str(), "host" | "connection" | "authorization")
            || (ignore_range && k == "range")
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let headers = String::from_utf8_lossy(&resp[..split]).into_owned();
    (headers, resp[split..].to_vec())
}

fn start_proxy(bind: &str, script: Arc<Script>) -> Proxy {
    let listener = TcpListener::bind(bind).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let seen = seen2.clone();
            let script = script.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut out = conn;
                // One request per connection: every answer says close.
                let Some(req) = read_request(&mut reader) else {
                    return;
                };
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push(req.clone());
                    s.len() - 1
                };
                match script(&req, n) {
                    Act::Answer(status, headers, body) => {
                        let mut head = format!(
                            "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = out.write_all(head.as_bytes());
                        let _ = out.write_all(&body);
                    }
                    Act::Forward {
                        cut_after,
                        ignore_range,
                    } => {
                        let (head, body) = upstream(&req, ignore_range);
                        let _ = out.write_all(head.as_bytes());
                        let end = cut_after.map_or(body.len(), |c| c.min(body.len()));
                        let _ = out.write_all(&body[..end]);
                    }
                }
                let _ = out.flush();
            });
        }
    });
    Proxy { addr, seen }
}

fn is_blob(r: &Seen) -> bool {
    r.method == "GET" && r.path.contains("/blobs/sha256:")
}

/// The biggest layer of the healthy fixture (the one worth cutting).
fn big_layer_digest() -> String {
    let out = run(&[&format!("{}:healthy", layout()), "-f", "json"], &[], None);
    let v = json(&out);
    v["image"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|l| l["size"].as_u64().unwrap())
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn retries_resumes_and_redirects() {
    pushed();
    let big = big_layer_digest();
    let local = json(&run(
        &[&format!("{}:healthy", layout()), "-f", "json"],
        &[],
        None,
    ));

    // A second host (127.0.0.2) that serves blobs and records whether any
    // credential reached it.
    let other = start_proxy(
        "127.0.0.2:0",
        Arc::new(|_: &Seen, _| Act::Forward {
            cut_after: None,
            ignore_range: false,
        }),
    );
    let other_addr = other.addr.clone();
    let big2 = big.clone();
    // Faults, each once: a 429 on the first manifest GET, the big blob cut
    // in the middle on its first GET, then ignored Range on the resume; the
    // other blobs redirected to the second host.
    let state: Arc<Mutex<BTreeMap<&'static str, bool>>> = Arc::default();
    let st = state.clone();
    let front = start_proxy(
        "127.0.0.1:0",
        Arc::new(move |r: &Seen, _n| {
            if !r.headers.contains_key("authorization") {
                return Act::Answer(
                    401,
                    vec![("WWW-Authenticate".into(), "Basic realm=\"proxy\"".into())],
                    vec![],
                );
            }
            let mut st = st.lock().unwrap();
            if r.method == "GET" && r.path.contains("/manifests/") && !st.contains_key("429") {
                st.insert("429", true);
                return Act::Answer(429, vec![("Retry-After".into(), "1".into())], vec![]);
            }
            if is_blob(r) && r.path.ends_with(&big2) {
                if !st.contains_key("cut") {
                    st.insert("cut", true);
                    return Act::Forward {
                        cut_after: Some(1_000_000),
                        ignore_range: false,
                    };
                }
                if !st.contains_key("norange") && r.headers.contains_key("range") {
                    st.insert("norange", true);
                    return Act::Forward {
                        cut_after: Some(3_000_000),
                        ignore_range: true,
                    };
                }
                return Act::Forward {
                    cut_after: None,
                    ignore_range: false,
                };
            }
            if is_blob(r) {
                return Act::Answer(
                    307,
                    vec![("Location".into(), format!("http://{other_addr}{}", r.path))],
                    vec![],
                );
            }
            Act::Forward {
                cut_after: None,
                ignore_range: false,
            }
        }),
    );
    let creds = [
        ("IMGAUDIT_REGISTRY_USERNAME", "alice"),
        ("IMGAUDIT_REGISTRY_PASSWORD", "wonderland"),
    ];
    let t0 = std::time::Instant::now();
    let out = run(
        &[
            &format!("registry:{}/it/fixtures/healthy:latest", front.addr),
            "-f",
            "json",
        ],
        &creds,
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let remote = json(&out);
    // The same audit as from the layout, after all that.
    assert_eq!(findings_part(&local), findings_part(&remote));
    assert_eq!(local["image"]["layers"], remote["image"]["layers"]);
    let seen = front.seen.lock().unwrap().clone();
    // 429 honoured: the manifest asked twice, at least a second apart.
    let manifest_gets = seen
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/manifests/"))
        .count();
    assert!(manifest_gets >= 2, "{seen:?}");
    assert!(t0.elapsed() >= std::time::Duration::from_secs(1));
    // The cut blob resumed with Range (twice: after the cut, after the
    // short 200 that ignored the first Range).
    let big_gets: Vec<&Seen> = seen
        .iter()
        .filter(|r| is_blob(r) && r.path.ends_with(&big))
        .collect();
    assert!(big_gets.len() >= 3, "{big_gets:?}");
    assert!(
        big_gets[1]
            .headers
            .get("range")
            .is_some_and(|v| v == "bytes=1000000-"),
        "{big_gets:?}"
    );
    // Redirected blobs reached the other host without the credentials.
    let other_seen = other.seen.lock().unwrap().clone();
    assert!(!other_seen.is_empty(), "no blob was redirected");
    for r in &other_seen {
        assert!(
            !r.headers.contains_key("authorization"),
            "credentials followed a redirect: {r:?}"
        );
    }
}

#[test]
fn registries_that_lie_get_one_line_and_exit_2() {
    pushed();
    let big = big_layer_digest();
    // (what the proxy does, what the error must say)
    type Lie = Box<dyn Fn(&Seen) -> Option<Act> + Send + Sync>;
    let cases: Vec<(&str, Lie, &[&str])> = vec![
        (
            "manifest digest header lies",
            Box::new(|r: &Seen| {
                (r.method == "GET" && r.path.contains("/manifests/")).then(|| {
                    let (head, body) = upstream(r, false);
                    let mut headers = vec![(
                        "Docker-Content-Digest".to_string(),
                        format!("sha256:{}", "1".repeat(64)),
                    )];
                    for l in head.lines() {
                        if let Some(v) = l.strip_prefix("Content-Type: ") {
                            headers.push(("Content-Type".into(), v.into()));
                        }
                    }
                    Act::Answer(200, headers, body)
                })
            }),
            &["digest mismatch"],
        ),
        (
            "blob longer than the manifest says",
            {
                let big = big.clone();
                Box::new(move |r: &Seen| {
                    (is_blob(r) && r.path.ends_with(&big)).then(|| {
                        let (_, mut body) = upstream(r, false);
                        body.extend_from_slice(&[0u8; 4096]);
                        Act::Answer(200, vec![], body)
                    })
                })
            },
            &["more bytes than the manifest"],
        ),
        (
            "a blob that is not what its digest says",
            {
                let big = big.clone();
                Box::new(move |r: &Seen| {
                    (is_blob(r) && r.path.ends_with(&big)).then(|| {
                        let (_, mut body) = upstream(r, false);
                        let n = body.len();
                        body[n / 2] ^= 0xff;
                        Act::Answer(200, vec![], body)
                    })
                })
            },
            &[],
        ),
        (
            "token realm pointing at the metadata service",
            Box::new(|r: &Seen| {
                (r.path == "/v2/").then(|| {
                    Act::Answer(
                        401,
                        vec![(
                            "WWW-Authenticate".into(),
                            "Bearer realm=\"http://169.254.169.254/latest/meta-data\",service=\"x\"".into(),
                        )],
                        vec![],
                    )
                })
            }),
            &["token realm", "refused"],
        ),
        (
            "a server that is not a registry",
            Box::new(|r: &Seen| {
                (r.path == "/v2/").then(|| Act::Answer(404, vec![], b"nope".to_vec()))
            }),
            &["not a registry"],
        ),
        (
            "5xx forever",
            Box::new(|r: &Seen| {
                (r.path.contains("/manifests/")).then(|| Act::Answer(503, vec![], vec![]))
            }),
            &["503"],
        ),
    ];
    for (what, lie, says) in cases {
        let lie: Arc<Lie> = Arc::new(lie);
        let p = start_proxy(
            "127.0.0.1:0",
            Arc::new(move |r: &Seen, _| {
                lie(r).unwrap_or(Act::Forward {
                    cut_after: None,
                    ignore_range: false,
                })
            }),
        );
        let out = run(
            &[&format!("registry:{}/it/fixtures/healthy:latest", p.addr)],
            &[],
            None,
        );
        assert_eq!(out.code, 2, "{what}: {}", out.stderr);
        let line = error_line(&out);
        for s in says {
            assert!(line.contains(s), "{what}: {line}");
        }
    }
}

/// The proxy's default: pass the request to the plain registry.
fn forward() -> Act {
    Act::Forward {
        cut_after: None,
        ignore_range: false,
    }
}

/// `imgaudit scan --plan` of the registry at `addr` (plain HTTP).
fn plan_at(addr: &str, env: &[(&str, &str)]) -> Output {
    run(
        &["scan", "--registry", addr, "--plan", "--plain-http", addr],
        env,
        None,
    )
}

/// The scan's listings (`/v2/_catalog`, `/tags/list`) from a registry that
/// lies: a `Link` that leads back to a page already read is one line and
/// exit 2 (before, only a link to the page itself was caught: a two-page
/// loop cost 100 000 requests); names the reference grammar refuses are
/// skipped with a warning, never requested, never planned.
#[test]
fn a_registry_whose_listings_lie_cannot_loop_or_smuggle_names() {
    pushed();
    let catalog = |next: &str| {
        Act::Answer(
            200,
            vec![("Link".into(), format!("<{next}>; rel=\"next\""))],
            br#"{"repositories":["it/fixtures/healthy"]}"#.to_vec(),
        )
    };
    // Page 2 links back to page 1 by an absolute URL of the same registry
    // (followed: it is a path there), so the loop is two pages long.
    let addr: Arc<OnceLock<String>> = Arc::default();
    let looping = start_proxy("127.0.0.1:0", {
        let addr = addr.clone();
        Arc::new(move |r: &Seen, _| match r.path.as_str() {
            "/v2/_catalog?n=1000" => catalog("/v2/_catalog?last=a&n=1000"),
            "/v2/_catalog?last=a&n=1000" => catalog(&format!(
                "http://{}/v2/_catalog?n=1000",
                addr.get().unwrap()
            )),
            _ => forward(),
        })
    });
    addr.set(looping.addr.clone()).unwrap();
    let out = plan_at(&looping.addr, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = error_line(&out);
    assert!(
        line.contains("points back to `/v2/_catalog?n=1000`"),
        "{line}"
    );
    let catalog_gets = looping
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path.starts_with("/v2/_catalog"))
        .count();
    assert_eq!(catalog_gets, 2);

    // A `Link` to another host is not followed: the request would carry
    // this registry's credentials there.
    let thief = start_proxy(
        "127.0.0.1:0",
        Arc::new(|_: &Seen, _| Act::Answer(200, vec![], vec![])),
    );
    let thief_addr = thief.addr.clone();
    let leaky = start_proxy(
        "127.0.0.1:0",
        Arc::new(move |r: &Seen, _| {
            if !r.headers.contains_key("authorization") {
                Act::Answer(
                    401,
                    vec![("WWW-Authenticate".into(), "Basic realm=\"it\"".into())],
                    vec![],
                )
            } else if r.path.starts_with("/v2/_catalog") {
                catalog(&format!("http://{thief_addr}/v2/_catalog?n=1000"))
            } else {
                forward()
            }
        }),
    );
    let out = plan_at(
        &leaky.addr,
        &[
            ("IMGAUDIT_REGISTRY_USERNAME", "it-user"),
            ("IMGAUDIT_REGISTRY_PASSWORD", "it-secret"),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = error_line(&out);
    assert!(line.contains("not followed"), "{line}");
    assert!(
        leaky
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.path.starts_with("/v2/_catalog") && r.headers.contains_key("authorization")),
        "the credentials were in play"
    );
    assert!(
        thief.seen.lock().unwrap().is_empty(),
        "{:?}",
        thief.seen.lock().unwrap()
    );

    let smuggling = start_proxy(
        "127.0.0.1:0",
        Arc::new(|r: &Seen, _| {
            if r.path.starts_with("/v2/_catalog") {
                Act::Answer(
                    200,
                    vec![],
                    br#"{"repositories":["it/fixtures/healthy","it/../../v2/_catalog","It/Upper","it/a\u001b[2Jb"]}"#
                        .to_vec(),
                )
            } else if r.path.starts_with("/v2/it/fixtures/healthy/tags/list") {
                Act::Answer(
                    200,
                    vec![],
                    br#"{"tags":["latest","../../../blobs/x","-rc","a:b"]}"#.to_vec(),
                )
            } else {
                forward()
            }
        }),
    );
    let out = plan_at(&smuggling.addr, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let planned: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(planned.len(), 1, "{}", out.stdout);
    assert_eq!(
        planned[0]["ref"],
        format!("{}/it/fixtures/healthy:latest", smuggling.addr)
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 6, "{}", out.stderr);
    assert!(
        warnings.iter().all(|w| w.contains("skipped: not a")),
        "{warnings:#?}"
    );
    assert!(out.stderr.contains("`it/a\\u{1b}[2Jb`"), "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    // Nothing but the one good repository and tag reached a request path.
    for r in smuggling.seen.lock().unwrap().iter() {
        assert!(
            r.path == "/v2/"
                || r.path.starts_with("/v2/_catalog")
                || r.path.starts_with("/v2/it/fixtures/healthy/"),
            "{r:?}"
        );
        assert!(!r.path.contains(".."), "{r:?}");
    }
}

/// Registry access-log lines of blob GETs for `repo`. distribution writes
/// its access log asynchronously: wait until the log stops growing.
fn blob_gets(repo: &str) -> Vec<String> {
    let log = state_dir().join("plain/registry.log");
    let len = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let mut last = len();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = len();
        if now == last {
            break;
        }
        last = now;
    }
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("\"GET /v2/{repo}/blobs/")))
        .map(String::from)
        .collect()
}

#[test]
fn a_warm_cache_downloads_no_layer_twice() {
    require_registries();
    let repo = format!("it/cache/healthy-{}", std::process::id());
    skopeo_copy(
        &format!("oci:{}:healthy", layout()),
        &format!("docker://{PLAIN}/{repo}:latest"),
        &["--dest-tls-verify=false"],
    );
    let cache = tempfile::tempdir().unwrap();
    let r = format!("registry:{PLAIN}/{repo}:latest");
    let cold = run(&[&r, "-f", "json"], &[], Some(cache.path()));
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    let after_cold = blob_gets(&repo);
    let layers: Vec<String> = json(&cold)["image"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    for d in &layers {
        assert_eq!(
            after_cold.iter().filter(|l| l.contains(d.as_str())).count(),
            1,
            "{d} read once"
        );
    }
    let warm = run(&[&r, "-f", "json"], &[], Some(cache.path()));
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    assert_eq!(findings_part(&json(&cold)), findings_part(&json(&warm)));
    let new: Vec<String> = blob_gets(&repo).split_off(after_cold.len());
    for d in &layers {
        assert!(
            !new.iter().any(|l| l.contains(d.as_str())),
            "layer {d} downloaded again: {new:?}"
        );
    }
}
