//! Issue 13, "the CLI a newcomer expects": one test per defect, per
//! message and per convention, through the built binary. The terminal cases
//! (progress spinner, `imgaudit -` on a terminal, colour under `CI`) run the
//! binary in a detached `tmux` session on a private socket and read the
//! screen with `capture-pane`; `scripts/setup.sh` installs tmux.
//!
//! See: issue 13.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::{
    bin, compress, digest, docker_archive_bytes, hex_of, imgaudit, imgaudit_env, imgaudit_in,
    oci_layout, oci_layout_blobs, oci_multiplatform, Compression, LayerBlob, LayerBuilder,
};

/// The fixture layout (one tag per scenario).
fn fixture(tag: &str) -> String {
    format!("{}/testdata/images/oci:{tag}", env!("CARGO_MANIFEST_DIR"))
}

/// A derived fixture in `target/fixtures` (`scripts/setup.sh`).
fn derived(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fixtures")
        .join(rel);
    assert!(p.exists(), "{} missing: run scripts/setup.sh", p.display());
    p
}

/// An input error: exit 2, exactly one `error: …` line on stderr, nothing
/// on stdout. Returns the line.
fn one_error_line(out: &crate::util::Output) -> String {
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "", "an error printed a report");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line:\n{}", out.stderr);
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    lines[0].to_string()
}

fn says(line: &str, parts: &[&str]) {
    for p in parts {
        assert!(line.contains(p), "{p:?} not in:\n{line}");
    }
}

fn one_file() -> Vec<u8> {
    LayerBuilder::new()
        .file("etc/hello", b"hi\n", 0o644)
        .build()
}

// ---------------------------------------------------------------------------
// Defects

/// Run the binary with its stdout a pipe whose reading end is closed at once
/// (`imgaudit IMAGE | true`); return the exit code.
fn exit_code_with_stdout_closed(args: &[&str]) -> i32 {
    let mut child = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(stderr, "", "a closed stdout is no error");
    status.code().expect("killed by a signal")
}

// Defect 1: the gate follows the findings, whatever happens to stdout.
#[test]
fn r13_gate_holds_when_stdout_closes_early() {
    // An error finding: exit 1, even though nobody reads the report.
    assert_eq!(
        exit_code_with_stdout_closed(&[&fixture("launcher-deleted")]),
        1
    );
    // In every format (JSON is the largest write).
    assert_eq!(
        exit_code_with_stdout_closed(&[&fixture("launcher-deleted"), "-f", "json"]),
        1
    );
    // No finding: exit 0.
    assert_eq!(exit_code_with_stdout_closed(&[&fixture("healthy")]), 0);
}

/// Records what the library reports to a progress bar.
#[derive(Default)]
struct Recorder {
    total: std::sync::Mutex<Vec<u64>>,
    advanced: std::sync::atomic::AtomicU64,
}

impl imgaudit::image::Progress for Recorder {
    fn total(&self, bytes: u64) {
        self.total.lock().unwrap().push(bytes);
    }
    fn advance(&self, bytes: u64) {
        self.advanced
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

// Defect 2: the bar's total is the layers' stored size from the manifest
// (not the input path's inode size), and every layer advances it to the end.
#[test]
fn r13_progress_total_comes_from_the_manifest() {
    for input in [
        format!("{}/testdata/images/oci", env!("CARGO_MANIFEST_DIR")),
        derived("docker-archive/healthy.tar").display().to_string(),
    ] {
        let req = imgaudit::source::OpenRequest {
            input: input.clone(),
            tag: Some("healthy".into()),
            platform: imgaudit::source::Platform::host(),
            verify: true,
            registry: None,
        };
        let rec = Recorder::default();
        let image = imgaudit::image::open(&req, Some(&rec)).unwrap();
        let stored: u64 = image.layers.iter().map(|l| l.stored_size).sum();
        assert_eq!(*rec.total.lock().unwrap(), [stored], "{input}");
        assert_eq!(
            rec.advanced.load(std::sync::atomic::Ordering::Relaxed),
            stored,
            "{input}"
        );
        assert!(stored > 1 << 20, "{input}: {stored}");
    }
}

/// A detached tmux session on a private socket, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Run `script` (sh) in a 160×40 terminal; the pane stays open after it.
    fn run(script: &str) -> Tmux {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let socket = format!(
            "imgaudit-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "160", "-y", "40"])
            .arg(format!("{script}; sleep 60"))
            .env_remove("NO_COLOR")
            .env_remove("CI")
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux is needed for the terminal tests: run scripts/setup.sh");
        assert!(status.success());
        Tmux { socket }
    }

    /// The screen, with colour escapes when `escapes`.
    fn screen(&self, escapes: bool) -> String {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "capture-pane", "-p"]);
        if escapes {
            cmd.arg("-e");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    }

    /// Wait (up to 20 s) until the screen shows `needle`; the screen.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(false);
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{needle:?} never showed:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

// Defect 2: with `auto` on a terminal, a slow read (stdin with nothing yet)
// gets a spinner, and it ticks while no byte arrives.
#[test]
fn r13_spinner_shows_and_ticks_on_a_slow_stdin() {
    let t = Tmux::run(&format!("sleep 4 | {} -", bin()));
    let first = t.wait_for("reading <stdin>");
    // Within 2 s (20 ticks, and the elapsed clock) the line must change,
    // although not a byte has arrived.
    let start = Instant::now();
    let second = loop {
        std::thread::sleep(Duration::from_millis(150));
        let screen = t.screen(false);
        if screen != first || start.elapsed() > Duration::from_secs(2) {
            break screen;
        }
    };
    assert!(second.contains("reading <stdin>"), "{second}");
    assert_ne!(first, second, "the spinner froze");
    // Then the empty input is an error, and the bar is gone from the line.
    let end = t.wait_for("error: <stdin>");
    assert!(!end.contains("reading <stdin>"), "{end}");
}

// Message: `imgaudit -` on a terminal says it waits for a tar on stdin.
#[test]
fn r13_stdin_on_a_terminal_says_it_is_waiting() {
    let t = Tmux::run(&format!("{} -", bin()));
    let screen = t.wait_for("waiting for an image tar on stdin");
    says(&screen, &["docker save IMAGE | imgaudit -"]);
}

// Convention: `CI=true` means no colour (and no bar) on a terminal;
// `--no-color` too; without either, a terminal gets colour.
#[test]
fn r13_ci_and_no_color_turn_colour_off_on_a_terminal() {
    let cmd = format!("{} {}", bin(), fixture("launcher-deleted"));
    let coloured = Tmux::run(&cmd);
    coloured.wait_for("1 error");
    assert!(coloured.screen(true).contains("\x1b["), "no colour at all");
    for script in [format!("CI=true {cmd}"), format!("{cmd} --no-color")] {
        let t = Tmux::run(&script);
        t.wait_for("1 error");
        let screen = t.screen(true);
        assert!(!screen.contains("\x1b["), "{script}: colour:\n{screen:?}");
    }
}

// Defect 3: `files IMAGE LINK` shows the link, as `ls -l LINK` does.
#[test]
fn r13_files_on_a_symlink_shows_the_link() {
    let out = imgaudit(["files", &fixture("healthy"), "/opt/venv/bin/python"]);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(lines[0].starts_with('l'), "{}", lines[0]);
    assert!(
        lines[0].ends_with("/opt/venv/bin/python -> python3"),
        "{}",
        lines[0]
    );
    let jsonl = imgaudit([
        "files",
        &fixture("healthy"),
        "/opt/venv/bin/python",
        "-f",
        "jsonl",
    ]);
    let v: Value = serde_json::from_str(jsonl.ok().trim()).unwrap();
    assert_eq!(v["type"], "symlink");
    assert_eq!(v["target"], "python3");
}

// Defect 4: `-q` keeps the warning that fails a `fail-on = "warning"` gate.
#[test]
fn r13_quiet_shows_what_fails_a_warning_gate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imgaudit.toml"),
        "fail-on = \"warning\"\n[rules]\nshim-missing = \"warning\"\n",
    )
    .unwrap();
    let out = imgaudit_in(Some(dir.path()), [&fixture("launcher-deleted"), "-q"], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    says(
        &out.stdout,
        &["warning[shim-missing]", "0 errors, 1 warning"],
    );
    // With the default gate, `-q` still hides warnings.
    let out = imgaudit([
        &fixture("launcher-deleted"),
        "-q",
        "--rule",
        "shim-missing=warning",
    ]);
    assert_eq!(out.code, 0);
    assert!(
        !out.stdout.contains("warning[shim-missing]"),
        "{}",
        out.stdout
    );
}

// Defect 5: `DIR:TAG` and `--image OTHER` conflict.
#[test]
fn r13_conflicting_selectors_are_refused() {
    let line = one_error_line(&imgaudit([&fixture("healthy"), "--image", "base"]));
    says(&line, &["healthy", "--image base"]);
    // The same tag twice is fine.
    assert_eq!(
        imgaudit([&fixture("healthy"), "--image", "healthy"]).code,
        0
    );
}

// Defect 6: several images on stdin: the hint is `--image`, never the
// `IMAGE.tar:TAG` stdin cannot take.
#[test]
fn r13_multi_image_hint_on_stdin_is_image_flag() {
    let bytes = docker_archive_bytes(&[("a:1", vec![one_file()]), ("b:1", vec![one_file()])]);
    let out = imgaudit_in(None, ["-"], Some(&bytes));
    let line = one_error_line(&out);
    says(&line, &["<stdin>", "--image TAG", "a:1", "b:1"]);
    assert!(!line.contains("IMAGE.tar:TAG"), "{line}");
    // A file still gets both ways.
    let file = one_error_line(&imgaudit([derived("docker-archive/multi.tar")]));
    says(&file, &["IMAGE.tar:TAG", "--image TAG"]);
}

// Defect 7: mistyped commands are not images; `help --help` works.
#[test]
fn r13_mistyped_commands_and_help_help() {
    let line = one_error_line(&imgaudit(["sise", &fixture("healthy")]));
    says(&line, &["unknown command `sise`", "`size`"]);
    let line = one_error_line(&imgaudit(["version"]));
    says(&line, &["imgaudit --version"]);
    let help = imgaudit(["help", "--help"]);
    says(help.ok(), &["Usage: imgaudit", "completions", "explain"]);
    // An unknown flag is one line too, with clap's suggestion.
    let line = one_error_line(&imgaudit([&fixture("healthy"), "--fial-on", "warning"]));
    says(&line, &["--fial-on", "--fail-on"]);
}

// Defect 8: `-o FORMAT=-` is stdout, not a file named `-`.
#[test]
fn r13_output_dash_is_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = imgaudit_in(
        Some(dir.path()),
        [&fixture("launcher-deleted"), "-o", "json=-"],
        None,
    );
    assert_eq!(out.code, 1);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["summary"]["errors"], 1);
    assert!(!dir.path().join("-").exists(), "wrote a file named `-`");
    // Two formats for stdout is a usage error.
    let line = one_error_line(&imgaudit([
        &fixture("launcher-deleted"),
        "-f",
        "sarif",
        "-o",
        "json=-",
    ]));
    says(&line, &["stdout"]);
}

// Defect 9: the text's "`--format json` lists N" is what the JSON lists.
#[test]
fn r13_size_text_names_the_json_count() {
    let image = fixture("incident-later-run");
    let text = imgaudit(["size", &image]);
    let json: Value = serde_json::from_str(imgaudit(["size", &image, "-f", "json"]).ok()).unwrap();
    let said: Vec<u64> = text
        .ok()
        .lines()
        .filter_map(|l| l.split("(`--format json` lists ").nth(1))
        .map(|rest| rest.trim_end_matches(')').parse().unwrap())
        .collect();
    assert!(!said.is_empty(), "no such line to check:\n{}", text.stdout);
    let listed: Vec<u64> = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["removals_total"].as_u64() > Some(5))
        .map(|l| l["removals"].as_array().unwrap().len() as u64)
        .collect();
    assert_eq!(said, listed);
}

// Defect 10: `--platform` spellings from `uname -m` and other case.
#[test]
fn r13_platform_spellings_are_normalised() {
    let canonical = imgaudit([&fixture("multiarch"), "--platform", "linux/amd64"]);
    assert_eq!(canonical.code, 0, "{}", canonical.stderr);
    for spelling in ["linux/x86_64", "Linux/AMD64", "linux/x86-64"] {
        let out = imgaudit([&fixture("multiarch"), "--platform", spelling]);
        assert_eq!(
            (out.code, &out.stdout),
            (canonical.code, &canonical.stdout),
            "{spelling}: {}",
            out.stderr
        );
    }
    let arm = imgaudit([&fixture("multiarch"), "--platform", "linux/aarch64"]);
    assert_eq!(arm.code, 0, "{}", arm.stderr);
}

// Defect 11: no Python environment is "nothing audited", and
// `require-python` (config, flag, env) makes it fail.
#[test]
fn r13_nothing_audited_is_said_and_can_fail() {
    let image = fixture("multiarch");
    let out = imgaudit([&image, "--platform", "linux/amd64"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        "nothing audited: no Python environment found in the image\n"
    );
    let flag = imgaudit([&image, "--platform", "linux/amd64", "--require-python"]);
    assert_eq!(flag.code, 1);
    let env = imgaudit_env(
        [&image, "--platform", "linux/amd64"],
        &[("IMGAUDIT_REQUIRE_PYTHON", Some("1"))],
        None,
    );
    assert_eq!(env.code, 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("imgaudit.toml"), "require-python = true\n").unwrap();
    let config = imgaudit_in(
        Some(dir.path()),
        [&image, "--platform", "linux/amd64"],
        None,
    );
    assert_eq!(config.code, 1);
    // Other formats say it on stderr.
    let json = imgaudit([&image, "--platform", "linux/amd64", "-f", "json"]);
    says(&json.stderr, &["nothing audited"]);
    // An image with Python is unaffected.
    assert_eq!(imgaudit([&fixture("healthy"), "--require-python"]).code, 0);
}

// ---------------------------------------------------------------------------
// Messages

// References that are no path say what imgaudit reads and how.
#[test]
fn r13_references_that_are_not_paths() {
    let line = one_error_line(&imgaudit(["python:3.12"]));
    says(
        &line,
        &[
            "`python:3.12`",
            "registry:docker.io/python:3.12",
            "docker save python:3.12",
        ],
    );
    assert!(!line.contains("os error"), "{line}");
    // A daemon is never asked (issue 9: no silent fallback to a local image).
    let line = one_error_line(&imgaudit(["docker-daemon:python:3.12"]));
    says(&line, &["daemon", "registry:HOST/REPO:TAG", "docker save"]);
    let layout = format!("{}/testdata/images/oci", env!("CARGO_MANIFEST_DIR"));
    // `DIR@sha256:…` is a selector (issue 10): a digest the layout does not
    // hold lists what it does hold, in names the user can pass back.
    let absent = format!("sha256:{}", "0".repeat(64));
    let line = one_error_line(&imgaudit([format!("{layout}@{absent}")]));
    says(
        &line,
        &["no manifest with digest", &absent, "the layout holds:"],
    );
    // A transport prefix names a local path for sure: a missing one is
    // "no such file", with what imgaudit reads, and no registry guess.
    for input in ["docker-archive:missing.tar", "oci:missing-dir:tag"] {
        let line = one_error_line(&imgaudit([input]));
        says(
            &line,
            &[
                "missing",
                "No such file or directory",
                "`docker save` tarball",
            ],
        );
        assert!(
            !line.contains("registry") && !line.contains("os error"),
            "{line}"
        );
    }
}

// The skopeo/syft transport prefixes are accepted.
#[test]
fn r13_transport_prefixes_are_accepted() {
    let plain = imgaudit([&fixture("healthy")]);
    assert_eq!(plain.code, 0);
    let summary = plain.stdout.lines().last().unwrap().to_string();
    for input in [
        format!("oci:{}", fixture("healthy")),
        format!(
            "docker-archive:{}",
            derived("docker-archive/healthy.tar").display()
        ),
        format!(
            "oci-archive:{}",
            derived("oci-archive/healthy.tar").display()
        ),
    ] {
        let out = imgaudit([&input]);
        assert_eq!(out.code, 0, "{input}: {}", out.stderr);
        assert_eq!(out.stdout.lines().last().unwrap(), summary, "{input}");
    }
}

// A `docker export` tar or an unpacked rootfs points to `docker save`.
#[test]
fn r13_rootfs_points_to_docker_save() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("export.tar");
    std::fs::write(
        &tar,
        LayerBuilder::new()
            .dir("bin", 0o755)
            .dir("etc", 0o755)
            .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644)
            .dir("usr", 0o755)
            .build(),
    )
    .unwrap();
    let rootfs = dir.path().join("rootfs");
    for d in ["bin", "etc", "usr"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    for input in [&tar, &rootfs] {
        let line = one_error_line(&imgaudit([input]));
        says(&line, &["root filesystem", "docker save"]);
    }
}

// A platform listed in the index whose blobs are absent says so.
#[test]
fn r13_platform_listed_but_absent() {
    let dir = tempfile::tempdir().unwrap();
    let layout = oci_multiplatform(
        dir.path(),
        &[("amd64", vec![one_file()]), ("arm64", vec![one_file()])],
    );
    // Delete the arm64 manifest blob, as a single-platform copy would.
    let top: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let inner_digest = top["manifests"][0]["digest"].as_str().unwrap();
    let inner: Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(hex_of(inner_digest))).unwrap(),
    )
    .unwrap();
    let arm = inner["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap();
    std::fs::remove_file(
        layout
            .join("blobs/sha256")
            .join(hex_of(arm["digest"].as_str().unwrap())),
    )
    .unwrap();
    let line = one_error_line(&imgaudit([
        layout.to_str().unwrap(),
        "--platform",
        "linux/arm64",
    ]));
    says(&line, &["linux/arm64", "listed in the index", "absent"]);
    // The platform that is there still works.
    assert_eq!(
        imgaudit([layout.to_str().unwrap(), "--platform", "linux/amd64"]).code,
        0
    );
}

// A corrupt gzip layer is "corrupt", not a "checksum mismatch"; and stdin
// is `<stdin>` in that message too.
#[test]
fn r13_corrupt_gzip_layer_is_called_corrupt() {
    let tar = LayerBuilder::new()
        .file(
            "data",
            &(0..20000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
            0o644,
        )
        .build();
    let mut gz = compress(&tar, Compression::Gzip);
    // Damage the CRC32 in the gzip trailer: the deflate data is intact, so
    // only the checksum disagrees.
    let crc = gz.len() - 8;
    gz[crc] ^= 0xff;
    let dir = tempfile::tempdir().unwrap();
    let layout = oci_layout_blobs(
        &dir.path().join("oci"),
        &[LayerBlob {
            data: gz,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            diff_id: digest(&tar),
        }],
        json!({}),
    );
    let line = one_error_line(&imgaudit([&layout.root]));
    says(&line, &["corrupt Gzip blob", hex_of(&layout.layers[0])]);
    assert!(!line.contains("checksum"), "{line}");

    // The same layer in a `docker save` on stdin.
    let mut bad = compress(&tar, Compression::Gzip);
    let n = bad.len() - 8;
    bad[n] ^= 0xff;
    let bytes = docker_archive_bytes(&[("t:1", vec![bad])]);
    let line = one_error_line(&imgaudit_in(None, ["-"], Some(&bytes)));
    assert!(line.starts_with("error: <stdin>: "), "{line}");
}

// ---------------------------------------------------------------------------
// Conventions

// `--fail-on` (and `IMGAUDIT_FAIL_ON`) beside the config key.
#[test]
fn r13_fail_on_flag_and_env() {
    let image = fixture("launcher-deleted");
    assert_eq!(imgaudit([&image]).code, 1);
    assert_eq!(imgaudit([&image, "--fail-on", "never"]).code, 0);
    let env = imgaudit_env([&image], &[("IMGAUDIT_FAIL_ON", Some("never"))], None);
    assert_eq!(env.code, 0, "{}", env.stderr);
    // The flag wins over the config file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imgaudit.toml"),
        "fail-on = \"never\"\n[rules]\nshim-missing = \"warning\"\n",
    )
    .unwrap();
    assert_eq!(imgaudit_in(Some(dir.path()), [&image], None).code, 0);
    assert_eq!(
        imgaudit_in(Some(dir.path()), [&image, "--fail-on", "warning"], None).code,
        1
    );
    let line = one_error_line(&imgaudit([&image, "--fail-on", "sometimes"]));
    says(&line, &["sometimes", "never"]);
}

// `-f` is `--format`, for every command; `IMGAUDIT_FORMAT` too.
#[test]
fn r13_short_format_flag_and_env() {
    let image = fixture("launcher-deleted");
    let long = imgaudit([&image, "--format", "sarif"]);
    let short = imgaudit([&image, "-f", "sarif"]);
    assert_eq!(short.stdout, long.stdout);
    let env = imgaudit_env([&image], &[("IMGAUDIT_FORMAT", Some("sarif"))], None);
    assert_eq!(env.stdout, long.stdout);
    serde_json::from_str::<Value>(&short.stdout).unwrap();
    serde_json::from_str::<Value>(imgaudit(["size", &image, "-f", "json"]).ok()).unwrap();
}

// `--ignore RULE[:GLOB]` and `--rule RULE=LEVEL`, and their env lists.
#[test]
fn r13_ignore_and_rule_on_the_command_line() {
    let image = fixture("launcher-deleted");
    let out = imgaudit([&image, "--ignore", "shim-missing:/opt/venv/bin/*", "-v"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    says(
        &out.stdout,
        &["(suppressed: ignored on the command line", "1 suppressed"],
    );
    let off = imgaudit([&image, "--rule", "shim-missing=off"]);
    assert_eq!(off.code, 0);
    assert!(!off.stdout.contains("shim-missing"), "{}", off.stdout);
    let env = imgaudit_env(
        [&image],
        &[(
            "IMGAUDIT_RULE",
            Some("shim-missing=info record-mismatch=warning"),
        )],
        None,
    );
    assert_eq!(env.code, 0, "{}", env.stderr);
    says(&env.stdout, &["info[shim-missing]"]);
    let env = imgaudit_env([&image], &[("IMGAUDIT_IGNORE", Some("shim-missing"))], None);
    assert_eq!(env.code, 0, "{}", env.stderr);
    // An ignore that matches nothing is a warning, as in the config.
    let stale = imgaudit([&image, "--ignore", "record-mismatch"]);
    says(
        &stale.stderr,
        &["warning: `--ignore record-mismatch`", "matched no finding"],
    );
    // Typos: one line, with the closest rule.
    let line = one_error_line(&imgaudit([&image, "--ignore", "shim-mising"]));
    says(&line, &["did you mean `shim-missing`"]);
    let line = one_error_line(&imgaudit([&image, "--rule", "shim-missing=fatal"]));
    says(&line, &["fatal", "`error`, `warning`, `info`, `off`"]);
}

// `imgaudit rules` and `imgaudit explain RULE`.
#[test]
fn r13_rules_and_explain() {
    let rules = imgaudit(["rules"]);
    let ids: Vec<&str> = rules
        .ok()
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(ids.len() >= 14, "{ids:?}");
    for id in &ids {
        let text = imgaudit(["explain", id]);
        assert!(text.ok().starts_with(&format!("### {id}\n")), "{id}");
        says(&text.stdout, &["**Default severity:**"]);
    }
    let line = one_error_line(&imgaudit(["explain", "shim-mising"]));
    says(&line, &["did you mean `shim-missing`"]);
}

// Completions for every shell clap_complete knows, and the man page, from
// the same definitions as `--help`.
#[test]
fn r13_completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = imgaudit(["completions", shell]);
        says(out.ok(), &["imgaudit", "explain", "fail-on"]);
    }
    let man = imgaudit(["man"]);
    says(man.ok(), &[".TH imgaudit 1", ".SH NAME", "completions"]);
    let line = one_error_line(&imgaudit(["completions", "tcsh"]));
    says(&line, &["tcsh"]);
}

// `--version` names the commit and the build date.
#[test]
fn r13_version_has_commit_and_date() {
    let out = imgaudit(["--version"]);
    let line = out.ok().trim();
    assert!(line.starts_with("imgaudit 0."), "{line}");
    let detail = line
        .split_once(" (")
        .and_then(|(_, d)| d.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no detail in {line:?}"));
    let (commit, built) = detail.split_once(", built ").expect(line);
    let commit = commit.strip_prefix("commit ").expect(line);
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{line}"
    );
    let date: Vec<&str> = built.split('-').collect();
    assert_eq!(
        date.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [4, 2, 2],
        "{line}"
    );
}

// `--no-color` beats `CLICOLOR_FORCE`, and conflicts with `--color`.
#[test]
fn r13_no_color_flag() {
    let image = fixture("launcher-deleted");
    let forced = imgaudit_env([&image], &[("CLICOLOR_FORCE", Some("1"))], None);
    assert!(
        forced.stdout.contains("\x1b["),
        "CLICOLOR_FORCE gave no colour"
    );
    let off = imgaudit_env(
        [&image, "--no-color"],
        &[("CLICOLOR_FORCE", Some("1"))],
        None,
    );
    assert!(!off.stdout.contains("\x1b["), "{:?}", off.stdout);
    one_error_line(&imgaudit([&image, "--no-color", "--color", "always"]));
}

// Every usage error is one line, exit 2 (no usage block).
#[test]
fn r13_usage_errors_are_one_line() {
    let no_args: [&str; 0] = [];
    for args in [
        &no_args[..],
        &["audit"][..],
        &["files"][..],
        &["--color", "sometimes", "x.tar"][..],
        &["explain"][..],
    ] {
        one_error_line(&imgaudit(args));
    }
    // Not a usage error: a layout that is really there stays an image.
    let dir = tempfile::tempdir().unwrap();
    let l = oci_layout(
        &dir.path().join("sise"),
        &[one_file()],
        Compression::None,
        json!({}),
    );
    let out = imgaudit_in(Some(dir.path()), ["sise"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(l.root.ends_with("sise"));
}
