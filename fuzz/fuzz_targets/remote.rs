//! A registry that answers anything: the registry client (ping, Basic and
//! bearer auth, token responses, retries, redirects, `Range` resumes,
//! digest checks, `Link` pagination) and what reads its answers — the
//! registry source (`registry:HOST/fuzz/app:latest` opened as the CLI opens
//! it, audited, reported) and the nightly scan's plan (catalog, tag lists,
//! `HEAD`s, manifests and configs of a registry).
//!
//! The input is a script for an HTTP server on loopback in this process:
//! parts split on `\n--RESPONSE--\n` (at most 16), each `PATH\nRAW`, the raw
//! bytes written back (status line, headers, body; the connection is closed
//! after them) to the next request for `PATH` (the request target without
//! its query); several parts for one path answer its requests in order. A
//! request with no part left gets a 404. `@ADDR@` in a part is replaced by
//! the server's `host:port`, so a seed can name the token realm or a
//! redirect on it.
//!
//! The network: a response can send the client elsewhere (a realm, a
//! redirect); run this target without one (`unshare -rn`, loopback up, as
//! `scripts/fuzz.sh` does), so that elsewhere fails at once.
//!
//! The first byte picks the job (bit 0: the plan, else the image) and the
//! credential (bits 1–2: Basic, none, a registry token, an identity token
//! from `DOCKER_AUTH_CONFIG`); the script is the rest. Property beyond "no panic, no hang": every planned
//! reference parses back (the shards read it) on this registry, and names
//! output files inside the output directory.
#![no_main]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use imgaudit::config::Config;
use imgaudit::image::{open_with, OpenOptions};
use imgaudit::registry::{Client, Keychain, Reference, RegistryOptions};
use imgaudit::report::{render, text::TextOptions, Format};
use imgaudit::scan::plan::{self, PlanOptions, Tags};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SEP: &[u8] = b"\n--RESPONSE--\n";
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

type Script = HashMap<String, VecDeque<Vec<u8>>>;

static SCRIPT: Mutex<Option<Script>> = Mutex::new(None);

/// The server's address, started once per process.
fn server() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    ADDR.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap().to_string();
        // The credential files' way (`Keychain::use_files`): an identity
        // token for this registry, as `docker login` against a registry
        // with OAuth2 writes it. Set once, before this process has any
        // thread of imgaudit's or of this server's.
        std::env::set_var(
            "DOCKER_AUTH_CONFIG",
            format!(r#"{{"auths":{{"{addr}":{{"identitytoken":"fuzz-refresh"}}}}}}"#),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || serve(conn));
            }
        });
        addr
    })
}

/// One request, one scripted answer, then close.
fn serve(conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.set_nodelay(true);
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let _ = (&mut reader)
        .take(content_length.min(1 << 20) as u64)
        .read_to_end(&mut Vec::new());
    // The path as the script names it: an absolute-form target loses its
    // origin, every target its query.
    let path = target
        .split_once("://")
        .map_or(target.as_str(), |(_, rest)| {
            rest.find('/').map_or("/", |i| &rest[i..])
        });
    let path = path.split('?').next().unwrap_or(path);
    let answer = SCRIPT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|s| s.get_mut(path))
        .and_then(VecDeque::pop_front);
    let mut conn = conn;
    let _ = conn.write_all(answer.as_deref().unwrap_or(NOT_FOUND));
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

/// With `REMOTE_FUZZ_VERBOSE` set (replaying a seed by hand), say how far
/// the input got.
fn verbose(what: impl FnOnce() -> String) {
    if std::env::var_os("REMOTE_FUZZ_VERBOSE").is_some() {
        eprintln!("{}", what());
    }
}

fn replace_addr(part: &[u8], addr: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(part.len());
    let mut rest = part;
    while let Some(i) = rest.windows(6).position(|w| w == b"@ADDR@") {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(addr.as_bytes());
        rest = &rest[i + 6..];
    }
    out.extend_from_slice(rest);
    out
}

fn script(data: &[u8], addr: &str) -> Script {
    let mut s = Script::new();
    for part in common::split(data, SEP, 16) {
        let part = replace_addr(part, addr);
        let (path, raw) = match part.iter().position(|&b| b == b'\n') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (&part[..], &[][..]),
        };
        s.entry(String::from_utf8_lossy(path).into_owned())
            .or_default()
            .push_back(raw.to_vec());
    }
    s
}

/// The client, with the credential `kind` picks (bits 1–2 of the mode
/// byte): Basic, none, a `--registry-token`, or an identity token from the
/// credential files (exchanged at the realm with `grant_type=refresh_token`).
fn client(addr: &str, kind: u8) -> Client {
    let keychain = match kind & 3 {
        0 => Keychain {
            token: None,
            basic: Some(("fuzz".into(), "fuzz-secret".into())),
            use_files: false,
        },
        1 => Keychain {
            token: None,
            basic: None,
            use_files: false,
        },
        2 => Keychain {
            token: Some("fuzz-token".into()),
            basic: None,
            use_files: false,
        },
        _ => Keychain {
            token: None,
            basic: None,
            use_files: true,
        },
    };
    Client::new(RegistryOptions {
        keychain,
        plain_http: vec![addr.to_string()],
        retries: 1,
        backoff: Duration::ZERO,
        // A `Retry-After` is honoured for up to a minute: in a fuzzer's
        // run that is a timeout, not a finding.
        max_retry_after: Duration::ZERO,
        ..RegistryOptions::default()
    })
    .expect("a client without CA files")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let addr = server();
    *SCRIPT.lock().unwrap_or_else(|e| e.into_inner()) = Some(script(data, addr));

    if mode & 1 == 1 {
        let opts = PlanOptions {
            target: addr.parse().expect("a loopback target"),
            include: None,
            exclude: None,
            tags: Tags::All,
            cache: None,
        };
        let planned = plan::plan(&client(addr, mode >> 1), &opts);
        verbose(|| format!("{planned:?}"));
        if let Ok(planned) = planned {
            for e in &planned.entries {
                // A plan's reference is read back by the shards.
                let r = Reference::parse(&e.reference).unwrap_or_else(|why| {
                    panic!("planned `{}` does not parse: {why}", e.reference)
                });
                assert_eq!(r.registry, addr);
                assert!(e.file_stem().is_some(), "{e:?}");
            }
        }
        return;
    }
    let req = common::request(
        format!("registry:{addr}/fuzz/app:latest"),
        true,
        Some(client(addr, mode >> 1)),
    );
    let opts = OpenOptions {
        extractors: std::sync::Arc::new(imgaudit::python::extractors::extractors()),
        ..OpenOptions::default()
    };
    let image = match open_with(&req, &opts, None) {
        Ok(image) => image,
        Err(e) => return verbose(|| format!("open: {e}")),
    };
    let audit = imgaudit::audit(&image, &Config::default());
    let json = render(&audit.report, Format::Json, &TextOptions::default());
    verbose(|| json.clone());
});
