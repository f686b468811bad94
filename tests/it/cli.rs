//! End-to-end tests of the `imgaudit` binary on the committed fixture images.
//!
//! Every test runs the built binary (`CARGO_BIN_EXE_imgaudit`) as a user
//! would, on the real images of the OCI layout `testdata/images/oci` (one tag
//! per scenario, built by `testdata/build-fixtures.sh`), and judges it against
//! the runtime truth in `testdata/truth/TAG.json`: what really happened when
//! each image's launchers and `pip check` were run in a chroot.
//!
//! What this file owns: exit codes, the rule ids reported per scenario, the
//! cross-check against the truth files, config behaviour seen from outside
//! (`--config`, ignores, severities, budgets), every output format parsed back
//! by an independent reader (serde_json, the official SARIF schema, Python's
//! `junitparser`), input forms (layout dir, OCI archive, stdin, `--image`,
//! `--platform`), `files`, `init`, `--help`, colours, and the docs guard
//! `every_code_has_a_docs_heading`.
//!
//! What it deliberately does not do: build synthetic images (the other
//! modules of `tests/it` do), or snapshot whole messages (`fixtures.rs` pins
//! every fixture's report; here only rule ids, paths, counts and exit codes
//! are asserted).
//!
//! Every command runs in a fresh empty working directory, so an
//! `imgaudit.toml` lying around in the repository can never change a result,
//! with `NO_COLOR`, `CLICOLOR` and `CLICOLOR_FORCE` removed from its
//! environment unless a test sets them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use strum::IntoEnumIterator;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The crate root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The OCI layout holding every fixture image.
fn layout() -> PathBuf {
    root().join("testdata/images/oci")
}

/// `testdata/images/oci:TAG`, as an absolute path (the commands run elsewhere).
fn fixture(tag: &str) -> String {
    format!("{}:{tag}", layout().display())
}

/// A config file under `testdata/config/`.
fn config(name: &str) -> String {
    root()
        .join("testdata/config")
        .join(name)
        .display()
        .to_string()
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The stdout, parsed as JSON (the run must have used `--format json`).
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); stderr:\n{}\nstdout:\n{}",
                self.stderr, self.stdout
            )
        })
    }

    /// The non-empty lines of stderr.
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

/// The options of one run besides its arguments.
#[derive(Default)]
struct Opts<'a> {
    /// Working directory; a fresh empty one when `None`.
    cwd: Option<&'a Path>,
    /// Bytes on stdin; stdin is empty (`/dev/null`) when `None`.
    stdin: Option<&'a [u8]>,
    /// Extra environment variables.
    env: &'a [(&'a str, &'a str)],
}

/// Run `imgaudit ARGS` with `opts`.
fn imgaudit_with(args: &[&str], opts: Opts<'_>) -> Run {
    let scratch;
    let cwd = match opts.cwd {
        Some(dir) => dir,
        None => {
            scratch = tempfile::tempdir().expect("a temporary working directory");
            scratch.path()
        }
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imgaudit"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        // The test run's own fact cache, never the developer's.
        .env(
            "IMGAUDIT_CACHE_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-cache"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if opts.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for (k, v) in opts.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the imgaudit binary runs");
    let writer = opts.stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let bytes = bytes.to_vec();
        // A separate thread, so a large image cannot deadlock against the
        // child filling its stdout pipe.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().expect("imgaudit finishes");
    if let Some(w) = writer {
        w.join().expect("the stdin writer finishes");
    }
    Run {
        code: out
            .status
            .code()
            .unwrap_or_else(|| panic!("imgaudit {args:?} was killed by a signal")),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Run `imgaudit ARGS` in a fresh empty directory.
fn imgaudit(args: &[&str]) -> Run {
    imgaudit_with(args, Opts::default())
}

/// Audit fixture `tag` with `--format json` and `extra` arguments.
fn audit_json(tag: &str, extra: &[&str]) -> (i32, Value) {
    let image = fixture(tag);
    let mut args = vec![image.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    let run = imgaudit(&args);
    assert!(
        run.code == 0 || run.code == 1,
        "imgaudit {args:?} exited {}; stderr:\n{}",
        run.code,
        run.stderr
    );
    (run.code, run.json())
}

/// The `findings` array of a JSON report.
fn findings(report: &Value) -> &Vec<Value> {
    report["findings"]
        .as_array()
        .expect("`findings` is an array")
}

/// Findings that count: not suppressed.
fn active(report: &Value) -> Vec<&Value> {
    findings(report)
        .iter()
        .filter(|f| f.get("suppressed").is_none())
        .collect()
}

/// The set of rule ids of the active findings.
fn rules(report: &Value) -> BTreeSet<String> {
    active(report)
        .iter()
        .map(|f| f["rule"].as_str().expect("rule is a string").to_string())
        .collect()
}

/// The paths of the active findings of `rule`.
fn paths_of(report: &Value, rule: &str) -> BTreeSet<String> {
    active(report)
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| f["path"].as_str().expect("path is a string").to_string())
        .collect()
}

/// A short listing of the findings, for assertion messages.
fn listing(report: &Value) -> String {
    findings(report)
        .iter()
        .map(|f| format!("  {} {} {}", f["severity"], f["rule"], f["path"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Set of owned strings from string literals.
fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn all_tags() -> Vec<String> {
    crate::util::fixture_tags()
}

/// The runtime truth of fixture `tag`, if it has one.
fn truth(tag: &str) -> Option<Value> {
    let path = root().join(format!("testdata/truth/{tag}.json"));
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).expect("truth files are JSON"))
}

/// The launcher kinds of the truth files that are console-script shims, the
/// objects imgaudit audits. The truth also runs `script` entries: plain
/// Python programs a Debian package ships (`/usr/bin/pydoc3.11`,
/// `py3compile`, `pygettext3.11`). They are not written from an installer's
/// template, so they are not launchers in the sense of `python.md`, and
/// `pygettext3.11` fails in every image for a reason outside Python: its
/// shebang is `#! /usr/bin/env python3` and the tiny base has no coreutils,
/// so no `/usr/bin/env`.
const SHIM_KINDS: &[&str] = &["pip", "pip-sh-polyglot", "setuptools-entry-script"];

/// What the truth says failed at run time in `truth`: the shim launchers that
/// exited non-zero on `--help`, the `flake8` launchers whose lint probe (`flake8
/// -` on `import os`, the way CI uses it) did not report `F401` (this is how
/// the truth sees the metadata incident: `--help` reads no metadata, linting
/// does), and the environments whose `pip check` failed for a dependency
/// reason (exit 1; 127 means the interpreter itself is gone).
struct TruthFailures {
    launchers: BTreeSet<String>,
    pip_check_envs: BTreeSet<String>,
    entrypoint_failed: bool,
}

fn truth_failures(truth: &Value) -> TruthFailures {
    let mut launchers: BTreeSet<String> = truth["launchers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| SHIM_KINDS.contains(&l["kind"].as_str().unwrap()))
        .filter(|l| l["exit"] != 0)
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    let envs = truth["envs"].as_array().unwrap();
    for env in envs {
        let probe = &env["flake8_lint_probe"];
        if probe.is_object() && !probe["stdout"].as_str().unwrap_or("").contains("F401") {
            launchers.insert(probe["argv"][0].as_str().unwrap().to_string());
        }
    }
    let pip_check_envs = envs
        .iter()
        .filter(|e| e["pip_check"]["exit"] == 1)
        .map(|e| e["prefix"].as_str().unwrap().to_string())
        .collect();
    TruthFailures {
        launchers,
        pip_check_envs,
        entrypoint_failed: truth["entrypoint"]["exit"] != 0,
    }
}

/// Broken scenarios whose breakage the truth harness cannot observe, with
/// why. These images pass every probe of the harness and are still wrong, so
/// imgaudit must report them although their truth file shows no failure.
/// Each has its own test below; this list only keeps them out of the "clean"
/// set, and a test fails if the truth starts seeing one of them.
const TRUTH_BLIND: &[(&str, &str)] = &[(
    "file-edited",
    "integrity only: the edited `requests/__init__.py` runs fine, but it is not \
     the release `pip show` and scanners report",
)];

/// The tags whose truth shows no failure of a shim launcher, of `pip check`
/// or of the entrypoint (including the [`TRUTH_BLIND`] ones).
fn truth_clean_tags() -> Vec<String> {
    all_tags()
        .into_iter()
        .filter(|tag| {
            truth(tag).is_some_and(|t| {
                let f = truth_failures(&t);
                f.launchers.is_empty() && f.pip_check_envs.is_empty() && !f.entrypoint_failed
            })
        })
        .collect()
}

/// An OCI *archive* (a tar of the layout directory), made once per test run
/// under Cargo's per-target temp dir and shared by the tests that need one.
fn oci_archive() -> &'static Path {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("imgaudit-cli-fixtures.oci.tar");
        let partial = dir.join(format!(
            "imgaudit-cli-fixtures.{}.partial",
            std::process::id()
        ));
        let file = std::fs::File::create(&partial).unwrap();
        let mut tar = tar::Builder::new(file);
        tar.follow_symlinks(false);
        tar.append_dir_all(".", layout()).unwrap();
        tar.into_inner().unwrap().sync_all().unwrap();
        std::fs::rename(&partial, &path).unwrap();
        path
    })
}

/// Run a Python snippet with `python3`; panics with its stderr when it fails.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `python3` ({e}): run `bash scripts/setup.sh` first")
        });
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------
// Clean images: exit 0, nothing reported
// ---------------------------------------------------------------------------

/// Proves imgaudit stays silent on images that work: every fixture whose
/// runtime truth shows no failing launcher, no failing `pip check` and a
/// working entrypoint exits 0 with zero findings of any severity (so no
/// warning and no info either), and prints nothing on stderr. This covers
/// the Debian base (dh-python RECORD without INSTALLER, the `wheel` entry
/// point Debian does not ship), a slimmed venv (`__pycache__` deleted),
/// setuptools egg-info launchers, pip's `/bin/sh` polyglot launchers behind
/// a long shebang and a `/usr/local` CPython: all known non-defects.
#[test]
fn truth_clean_images_exit_0_with_no_findings() {
    let clean = truth_clean_tags();
    // The truth files really contain the clean scenarios this test is about.
    for expected in [
        "base",
        "healthy",
        "legacy-setuptools-healthy",
        "long-shebang",
        "usr-local",
    ] {
        assert!(
            clean.iter().any(|t| t == expected),
            "{expected} is not clean in its truth file: {clean:?}"
        );
    }
    // The blind scenarios really are invisible to the truth harness (if it
    // learns to see one, move it out of `TRUTH_BLIND`).
    for (blind, why) in TRUTH_BLIND {
        assert!(
            clean.iter().any(|t| t == blind),
            "{blind} now fails in its truth file; remove it from TRUTH_BLIND ({why})"
        );
    }
    for tag in &clean {
        if TRUTH_BLIND.iter().any(|(blind, _)| blind == tag) {
            continue; // broken, asserted by its own test
        }
        let image = fixture(tag);
        let run = imgaudit(&[&image, "--format", "json"]);
        let report = run.json();
        assert_eq!(run.code, 0, "{tag}:\n{}", listing(&report));
        assert!(
            findings(&report).is_empty(),
            "{tag} has findings:\n{}",
            listing(&report)
        );
        let summary = &report["summary"];
        assert_eq!(summary["errors"], 0, "{tag}");
        assert_eq!(summary["warnings"], 0, "{tag}");
        assert_eq!(summary["infos"], 0, "{tag}");
        assert_eq!(run.stderr, "", "{tag}: stderr");
    }
}

/// Proves the text report of a clean image is the one-line summary, with the
/// environment and launcher counts, and exit 0.
#[test]
fn healthy_text_report_is_one_summary_line() {
    let run = imgaudit(&[&fixture("healthy"), "--color", "never"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "no problems found in 2 environments, 8 launchers"
    );
}

// ---------------------------------------------------------------------------
// Broken scenarios: exit 1 with the rule that explains the run-time failure
// ---------------------------------------------------------------------------

/// Audit `tag` and check: exit 1, and the set of active rule ids is exactly
/// `expected` (a missing rule is a false negative, an extra one a false
/// positive). Returns the report for finer checks.
fn assert_broken(tag: &str, expected: &[&str]) -> Value {
    let (code, report) = audit_json(tag, &[]);
    assert_eq!(code, 1, "{tag} must fail:\n{}", listing(&report));
    assert_eq!(
        rules(&report),
        set(expected),
        "{tag}: rule ids differ; findings:\n{}",
        listing(&report)
    );
    report
}

/// Proves the incident imgaudit exists for: `*.dist-info` deleted in the same
/// `RUN` that installed the packages. Every pip launcher of the venv is
/// reported as `entry-point-without-metadata`, and nothing else: the Debian
/// `/usr` environment is untouched and there is no earlier layer to blame
/// (`required-file-deleted` needs a layer that deleted something).
///
/// The truth shows why: `flake8 --help` still exits 0 (it reads no
/// metadata), but linting (`flake8 -` on `import os`) dies with
/// `KeyError: 'default'` because flake8 discovers its reporters through
/// `importlib.metadata`; `importlib.metadata` sees 0 distributions, so
/// `pip check` says "No broken requirements found.".
#[test]
fn incident_same_run_is_entry_point_without_metadata() {
    let report = assert_broken("incident-same-run", &["entry-point-without-metadata"]);
    let truth = truth("incident-same-run").unwrap();
    let probe = &truth["envs"][0]["flake8_lint_probe"];
    assert!(probe["stderr_tail"]
        .as_str()
        .unwrap()
        .contains("KeyError: 'default'"));
    assert_eq!(truth["envs"][0]["distributions"], serde_json::json!([]));
    // One finding per shim launcher of the venv, as listed by the truth.
    let venv_launchers: BTreeSet<String> = truth["launchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .filter(|p| p.starts_with("/opt/venv/bin/"))
        .collect();
    assert_eq!(
        paths_of(&report, "entry-point-without-metadata"),
        venv_launchers
    );
    // None of them carries a layer: the same step installed and stripped.
    for f in active(&report) {
        assert_eq!(f["env"], "/opt/venv");
    }
}

/// Proves the later-layer variant of the incident names both the launchers
/// (`entry-point-without-metadata`) and the Dockerfile step that did it
/// (`required-file-deleted`, with the layer and its `created_by`), so the
/// fix is one line of the Dockerfile.
#[test]
fn incident_later_run_is_entry_point_without_metadata_and_required_file_deleted() {
    let report = assert_broken(
        "incident-later-run",
        &["entry-point-without-metadata", "required-file-deleted"],
    );
    assert!(paths_of(&report, "entry-point-without-metadata").contains("/opt/venv/bin/flake8"));
    let deleted: Vec<&Value> = active(&report)
        .into_iter()
        .filter(|f| f["rule"] == "required-file-deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{}", listing(&report));
    assert_eq!(deleted[0]["layer"], 3);
    assert!(deleted[0]["created_by"]
        .as_str()
        .unwrap()
        .contains("-name '*.dist-info' -exec rm -rf"));
    assert_eq!(deleted[0]["count"], 10);
}

/// Proves a deleted launcher is one `shim-missing` on the launcher the image
/// runs (truth: the entrypoint fails with "No such file or directory"), and
/// not also a `record-missing-file` for the same absent file: the finding
/// points at the cause.
#[test]
fn launcher_deleted_is_shim_missing() {
    let report = assert_broken("launcher-deleted", &["shim-missing"]);
    let truth = truth("launcher-deleted").unwrap();
    let entry = truth["entrypoint"]["argv"][0].as_str().unwrap();
    assert_eq!(paths_of(&report, "shim-missing"), set(&[entry]));
    assert_eq!(active(&report).len(), 1, "{}", listing(&report));
}

/// Proves a deleted package directory is reported where it breaks: the
/// launcher that imports it (`entry-point-module-missing`, the one launcher
/// the truth shows failing with `ModuleNotFoundError`) and its distribution's
/// RECORD (`record-missing-file`, one finding for the whole directory).
#[test]
fn package_deleted_is_entry_point_module_missing_and_record_missing_file() {
    let report = assert_broken(
        "package-deleted",
        &["entry-point-module-missing", "record-missing-file"],
    );
    let failing = truth_failures(&truth("package-deleted").unwrap()).launchers;
    assert_eq!(failing, set(&["/opt/venv/bin/flake8"]));
    assert_eq!(paths_of(&report, "entry-point-module-missing"), failing);
    assert_eq!(
        paths_of(&report, "record-missing-file"),
        set(&["/opt/venv/lib/python3.11/site-packages/flake8-7.1.1.dist-info"])
    );
}

/// Proves a file edited after install is a `record-mismatch` on exactly that
/// file. The truth shows nothing failing (the patch is harmless at run
/// time): this rule is about integrity, which is why it can be ignored with
/// a reason.
#[test]
fn file_edited_is_record_mismatch() {
    let report = assert_broken("file-edited", &["record-mismatch"]);
    assert_eq!(
        paths_of(&report, "record-mismatch"),
        set(&["/opt/venv/lib/python3.11/site-packages/requests/__init__.py"])
    );
}

/// Proves an uninstalled dependency is `dependency-missing` on the
/// distribution that requires it, exactly what the truth's `pip check`
/// printed ("requests 2.32.3 requires idna, which is not installed.").
#[test]
fn dependency_uninstalled_is_dependency_missing() {
    let report = assert_broken("dependency-uninstalled", &["dependency-missing"]);
    let truth = truth("dependency-uninstalled").unwrap();
    assert!(truth["pip_check"]["output"]
        .as_str()
        .unwrap()
        .contains("requests 2.32.3 requires idna"));
    let finding = active(&report)[0];
    assert_eq!(
        finding["path"],
        "/opt/venv/lib/python3.11/site-packages/requests-2.32.3.dist-info"
    );
    assert!(finding["message"].as_str().unwrap().contains("`idna"));
}

/// Proves a venv copied to another path (`COPY --from=builder /build/venv
/// /opt/venv`) is `interpreter-missing` on exactly the launchers the truth
/// shows failing (exit 127), and that its RECORD is not reported: relative
/// RECORD paths still resolve after the move (a known non-defect).
#[test]
fn venv_moved_is_interpreter_missing() {
    let report = assert_broken("venv-moved", &["interpreter-missing"]);
    let failing = truth_failures(&truth("venv-moved").unwrap()).launchers;
    assert_eq!(failing.len(), 4);
    assert_eq!(paths_of(&report, "interpreter-missing"), failing);
    for f in active(&report) {
        assert_eq!(f["interpreter"], "/build/venv/bin/python");
    }
}

/// Proves a purged base interpreter is reported once per cause: the venv
/// root (`venv-interpreter-missing`, instead of one finding per venv
/// launcher), the Debian launcher whose shebang names `/usr/bin/python3`
/// (`interpreter-missing`), and the step that purged it
/// (`required-file-deleted`). Every shim launcher the truth shows failing
/// is covered by one of them.
#[test]
fn interpreter_purged_is_venv_interpreter_missing() {
    let report = assert_broken(
        "interpreter-purged",
        &[
            "interpreter-missing",
            "required-file-deleted",
            "venv-interpreter-missing",
        ],
    );
    assert_eq!(
        paths_of(&report, "venv-interpreter-missing"),
        set(&["/opt/venv"])
    );
    assert_eq!(
        paths_of(&report, "interpreter-missing"),
        set(&["/usr/bin/chardetect"])
    );
}

/// Proves a setuptools `load_entry_point` launcher whose `*.egg-info` was
/// deleted is `entry-point-without-metadata` (truth: it dies with
/// `importlib.metadata.PackageNotFoundError: No package metadata was found
/// for hello-legacy`), and the deleting step is `required-file-deleted`.
#[test]
fn legacy_setuptools_is_entry_point_without_metadata() {
    let report = assert_broken(
        "legacy-setuptools",
        &["entry-point-without-metadata", "required-file-deleted"],
    );
    let truth = truth("legacy-setuptools").unwrap();
    let hello = truth["launchers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == "/opt/venv/bin/hello-legacy")
        .unwrap();
    assert!(hello["stderr_tail"]
        .as_str()
        .unwrap()
        .contains("PackageNotFoundError"));
    assert_eq!(
        paths_of(&report, "entry-point-without-metadata"),
        set(&["/opt/venv/bin/hello-legacy"])
    );
}

// ---------------------------------------------------------------------------
// The runtime truth as an oracle, over every fixture
// ---------------------------------------------------------------------------

/// Proves no real failure goes unreported: for every fixture with a truth
/// file, each shim launcher that failed when run is the path of an active
/// error (or lives in a venv whose root has `venv-interpreter-missing`), each
/// environment whose `pip check` failed has a dependency finding, and a
/// failing entrypoint makes imgaudit exit 1.
#[test]
fn truth_every_runtime_failure_is_reported() {
    for tag in all_tags() {
        let Some(truth) = truth(&tag) else { continue };
        let failures = truth_failures(&truth);
        let (code, report) = audit_json(&tag, &[]);
        let errors: Vec<&Value> = active(&report)
            .into_iter()
            .filter(|f| f["severity"] == "error")
            .collect();
        for launcher in &failures.launchers {
            let covered = errors.iter().any(|f| {
                f["path"] == launcher.as_str()
                    || (f["rule"] == "venv-interpreter-missing"
                        && launcher.starts_with(&format!("{}/", f["path"].as_str().unwrap())))
                    // A cause in a distribution's metadata names the
                    // launchers it puts at risk.
                    || f["launchers_at_risk"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|p| p == launcher.as_str()))
            });
            assert!(
                covered,
                "{tag}: {launcher} fails at run time but no error names it:\n{}",
                listing(&report)
            );
        }
        for env in &failures.pip_check_envs {
            assert!(
                // A dependency finding, or its cause: metadata pip cannot
                // read makes it report the distribution as not installed.
                errors.iter().any(|f| f["env"] == env.as_str()
                    && matches!(
                        f["rule"].as_str(),
                        Some(
                            "dependency-missing"
                                | "dependency-conflict"
                                | "metadata-file-missing"
                                | "metadata-malformed"
                        )
                    )),
                "{tag}: `pip check` fails in {env} but no dependency finding (or its cause):\n{}",
                listing(&report)
            );
        }
        if failures.entrypoint_failed {
            assert_eq!(code, 1, "{tag}: the entrypoint fails but exit is {code}");
        }
    }
}

/// Proves imgaudit finds the same launchers the truth harness ran: for every
/// fixture with a truth file, the shim launchers in the truth are exactly
/// the launchers of the JSON report's `environments[].launchers`, so nothing
/// is skipped and no activate script or `python` symlink is mistaken for one.
/// The launcher the image runs at start (`Entrypoint`/`Cmd`, resolved through
/// `PATH`) is flagged `runs_at_start`.
#[test]
fn truth_launchers_are_the_launchers_found() {
    for tag in all_tags() {
        let Some(truth) = truth(&tag) else { continue };
        let (_, report) = audit_json(&tag, &[]);
        let expected: BTreeSet<String> = truth["launchers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| SHIM_KINDS.contains(&l["kind"].as_str().unwrap()))
            .map(|l| l["path"].as_str().unwrap().to_string())
            .collect();
        let launchers: Vec<&Value> = report["environments"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["launchers"].as_array().unwrap())
            .collect();
        let found: BTreeSet<String> = launchers
            .iter()
            .map(|l| l["path"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(found, expected, "{tag}: launchers differ from the truth");
        let at_start: BTreeSet<String> = launchers
            .iter()
            .filter(|l| l["runs_at_start"] == true)
            .map(|l| l["path"].as_str().unwrap().to_string())
            .collect();
        let argv0 = truth["entrypoint"]["argv"][0].as_str().unwrap();
        let entry = if argv0.starts_with('/') {
            argv0.to_string()
        } else {
            // `CMD ["flake8"]`: the first `PATH` dir that has it, as the
            // truth's launcher list shows.
            expected
                .iter()
                .find(|p| p.ends_with(&format!("/{argv0}")))
                .cloned()
                .unwrap_or_default()
        };
        if expected.contains(&entry) {
            assert_eq!(at_start, set(&[&entry]), "{tag}: runs_at_start");
        } else {
            assert!(at_start.is_empty(), "{tag}: runs_at_start {at_start:?}");
        }
    }
}

/// Proves imgaudit sees the distributions Python sees: for every fixture
/// with a truth file, each environment's `distributions` count in the JSON
/// report equals the number of distributions `importlib.metadata` listed
/// when the image ran (0 after the incident, 9 after `pip uninstall idna`,
/// 6 for Debian's `/usr` when `/usr/local/.../dist-packages` is on its path).
/// Environments whose interpreter is gone have no such list and are skipped.
#[test]
fn truth_distribution_counts_match() {
    for tag in all_tags() {
        let Some(truth) = truth(&tag) else { continue };
        let (_, report) = audit_json(&tag, &[]);
        let found: BTreeMap<&str, &Value> = report["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["root"].as_str().unwrap(), &e["distributions"]))
            .collect();
        for env in truth["envs"].as_array().unwrap() {
            let Some(dists) = env["distributions"].as_array() else {
                continue; // the interpreter could not run
            };
            let prefix = env["prefix"].as_str().unwrap();
            assert_eq!(
                found.get(prefix).copied(),
                Some(&Value::from(dists.len())),
                "{tag}: {prefix}: importlib.metadata saw {dists:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Exit 2: input errors, one line on stderr
// ---------------------------------------------------------------------------

/// Assert an input error: exit 2, nothing on stdout, exactly one line on
/// stderr that starts with `error: ` and contains each of `needles`.
fn assert_input_error(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing on stdout");
    let lines = run.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "exactly one stderr line, got:\n{}",
        run.stderr
    );
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{needle:?} not in {:?}",
            lines[0]
        );
    }
}

/// Proves a missing image file is exit 2 with one line that names the path,
/// and that the OS reason is said once (not `…: No such file or directory
/// (os error 2): No such file or directory (os error 2)`).
#[test]
fn missing_image_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("app.tar");
    let missing = missing.to_str().unwrap();
    let run = imgaudit(&[missing]);
    assert_input_error(&run, &[missing]);
    assert_eq!(
        run.stderr.matches("No such file or directory").count(),
        1,
        "the reason is repeated: {}",
        run.stderr
    );
}

/// Proves a file that is not an image (here a Dockerfile, passed by
/// mistake) is exit 2 with one line naming it, without echoing the file's
/// bytes to the terminal.
#[test]
fn non_image_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let mut text = String::from("FROM python:3.11-slim\n");
    for i in 0..40 {
        text.push_str(&format!("RUN echo step {i} >> /etc/steps\n"));
    }
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();
    let run = imgaudit(&[path]);
    assert_input_error(&run, &[path]);
    assert!(
        !run.stderr.contains("FROM python") && !run.stderr.contains("RUN echo"),
        "the file's content is echoed: {}",
        run.stderr
    );
}

/// Proves a directory that is neither an OCI layout nor an extracted
/// `docker save` is exit 2 with one line naming it.
#[test]
fn empty_directory_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    assert_input_error(&imgaudit(&[path]), &[path]);
}

/// Proves an unknown tag is exit 2 with one line listing the tags the
/// layout does hold.
#[test]
fn unknown_tag_is_exit_2_and_lists_the_tags() {
    let run = imgaudit(&[&fixture("no-such-tag")]);
    assert_input_error(&run, &["no-such-tag", "healthy", "incident-later-run"]);
}

/// Proves a config with an unknown key is refused before the image is read:
/// exit 2 with one line `FILE:LINE:COL: …` naming the file, line 4 of
/// `e2e-bad.toml`, and the key.
#[test]
fn bad_config_is_exit_2_naming_file_and_line() {
    let bad = config("e2e-bad.toml");
    let run = imgaudit(&[&fixture("healthy"), "--config", &bad]);
    assert_input_error(&run, &[&format!("{bad}:4:"), "fial-on"]);
}

/// Proves a `--config` that does not exist is exit 2 (not a silent default),
/// with one line naming it.
#[test]
fn missing_config_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("imgaudit.toml");
    let path = path.to_str().unwrap();
    assert_input_error(&imgaudit(&[&fixture("healthy"), "--config", path]), &[path]);
}

/// Proves a bad command line is exit 2 too (clap), never 1.
#[test]
fn unknown_format_is_exit_2() {
    let run = imgaudit(&[&fixture("healthy"), "--format", "xml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown format `xml`"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Config: ignores, severities, rules off, budgets
// ---------------------------------------------------------------------------

/// Proves a reviewed `[[ignore]]` turns exit 1 into 0 while the finding stays
/// in the report, marked `suppressed` with the config's reason, counted in
/// `summary.suppressed` and not in `summary.errors`; `--verbose` text shows
/// it with the reason, the default text only counts it.
#[test]
fn ignore_turns_exit_1_into_0_and_keeps_the_finding() {
    let ignore = config("e2e-ignore.toml");
    let (code, report) = audit_json("launcher-deleted", &["--config", &ignore]);
    assert_eq!(code, 0, "{}", listing(&report));
    let all = findings(&report);
    assert_eq!(all.len(), 1, "{}", listing(&report));
    assert_eq!(all[0]["rule"], "shim-missing");
    assert_eq!(
        all[0]["suppressed"]["reason"],
        "flake8 only runs in CI; this image never calls it"
    );
    assert_eq!(report["summary"]["suppressed"], 1);
    assert_eq!(report["summary"]["errors"], 0);

    let image = fixture("launcher-deleted");
    let quiet = imgaudit(&[&image, "--config", &ignore, "--color", "never"]);
    assert_eq!(quiet.code, 0);
    assert!(quiet.stdout.contains("(1 suppressed)"), "{}", quiet.stdout);
    assert!(!quiet.stdout.contains("shim-missing"), "{}", quiet.stdout);
    let verbose = imgaudit(&[&image, "--config", &ignore, "--verbose", "--color", "never"]);
    assert_eq!(verbose.code, 0);
    assert!(
        verbose
            .stdout
            .contains("(suppressed: flake8 only runs in CI; this image never calls it)"),
        "{}",
        verbose.stdout
    );
}

/// Proves an ignore that matches nothing is reported on stderr as a warning
/// naming the config file and the entry's line, without failing the run.
#[test]
fn unmatched_ignore_warns_on_stderr() {
    let path = config("e2e-unmatched-ignore.toml");
    let run = imgaudit(&[&fixture("healthy"), "--config", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with(&format!("warning: {path}:3:1: ")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("matched no finding"), "{}", lines[0]);
}

/// Proves `[rules] x = "warning"` demotes a rule (exit 0, the finding is a
/// warning) and `fail-on = "warning"` makes warnings fail the gate again.
#[test]
fn rule_severity_and_fail_on_warning() {
    let (code, report) = audit_json(
        "launcher-deleted",
        &["--config", &config("e2e-demote.toml")],
    );
    assert_eq!(code, 0, "{}", listing(&report));
    assert_eq!(findings(&report)[0]["severity"], "warning");
    assert_eq!(report["summary"]["warnings"], 1);
    assert_eq!(report["summary"]["errors"], 0);

    let (code, report) = audit_json(
        "launcher-deleted",
        &["--config", &config("e2e-fail-on-warning.toml")],
    );
    assert_eq!(code, 1, "{}", listing(&report));
    assert_eq!(findings(&report)[0]["severity"], "warning");
}

/// Proves `[rules] x = "off"` drops the rule's findings entirely: exit 0 and
/// nothing in the report, not even as suppressed.
#[test]
fn rule_off_drops_its_findings() {
    let (code, report) = audit_json("launcher-deleted", &["--config", &config("e2e-off.toml")]);
    assert_eq!(code, 0, "{}", listing(&report));
    assert!(findings(&report).is_empty(), "{}", listing(&report));
    assert_eq!(report["summary"]["suppressed"], 0);
}

/// Proves a size budget gates too: a `budget.total` far below the image's
/// size makes even `healthy` exit 1 with one `size-budget-exceeded` at `/`
/// whose `actual` is over its `limit`.
#[test]
fn tiny_budget_is_size_budget_exceeded() {
    let (code, report) = audit_json("healthy", &["--config", &config("e2e-budget.toml")]);
    assert_eq!(code, 1, "{}", listing(&report));
    assert_eq!(rules(&report), set(&["size-budget-exceeded"]));
    let f = active(&report)[0];
    assert_eq!(f["path"], "/");
    assert_eq!(f["budget"], "total");
    assert_eq!(f["limit"], 1_000_000);
    assert!(f["actual"].as_u64().unwrap() > 1_000_000);
}

/// Proves the reviewed-ignores example of `docs/ci.md` is the file
/// `testdata/config/e2e-ci-example.toml`, word for word, and that it works:
/// on `file-edited` its ignore suppresses the one `record-mismatch` (exit 0).
#[test]
fn ci_docs_example_config_loads_and_suppresses() {
    let path = config("e2e-ci-example.toml");
    let example = std::fs::read_to_string(&path).unwrap();
    let docs = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    assert!(
        docs.contains(example.trim_end()),
        "docs/ci.md does not contain testdata/config/e2e-ci-example.toml verbatim"
    );
    let (code, report) = audit_json("file-edited", &["--config", &path]);
    assert_eq!(code, 0, "{}", listing(&report));
    assert_eq!(report["summary"]["suppressed"], 1);
}

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------

/// Proves the JSON report's contract (`docs/report-json.md`): a
/// `schema_version`, findings with `rule`/`severity`/`path`/`message` (paths
/// absolute inside the image, rules known ids), environments with their
/// `launchers`, and a summary whose counts match the findings.
#[test]
fn json_report_shape() {
    let codes: BTreeSet<&str> = imgaudit::checks::Code::iter().map(|c| c.as_str()).collect();
    let (_, report) = audit_json("package-deleted", &[]);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["tool"]["name"], "imgaudit");
    assert_eq!(report["image"]["reference"], "package-deleted");
    assert_eq!(report["image"]["format"], "oci-layout");
    assert_eq!(report["image"]["layers"].as_array().unwrap().len(), 4);
    for f in findings(&report) {
        assert!(codes.contains(f["rule"].as_str().unwrap()), "{f}");
        assert!(["error", "warning", "info"].contains(&f["severity"].as_str().unwrap()));
        assert!(f["path"].as_str().unwrap().starts_with('/'), "{f}");
        assert!(!f["message"].as_str().unwrap().is_empty(), "{f}");
    }
    let envs = report["environments"].as_array().unwrap();
    let roots: Vec<&str> = envs.iter().map(|e| e["root"].as_str().unwrap()).collect();
    assert_eq!(roots, ["/usr", "/opt/venv"]);
    for e in envs {
        assert!(e["launchers"].is_array(), "{e}");
    }
    let venv = &envs[1];
    assert!(venv["launchers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["path"] == "/opt/venv/bin/flake8" && l["module"] == "flake8.main.cli"));
    let errors = findings(&report)
        .iter()
        .filter(|f| f["severity"] == "error")
        .count();
    assert_eq!(report["summary"]["errors"], errors);
}

/// The vendored official SARIF 2.1.0 schema, compiled.
fn sarif_validator() -> jsonschema::Validator {
    let path = root().join("testdata/schemas/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored SARIF schema compiles")
}

/// Assert `log` is valid SARIF 2.1.0, listing every violation.
fn assert_valid_sarif(validator: &jsonschema::Validator, log: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: SARIF schema violations:\n{}",
        errors.join("\n")
    );
}

/// Proves `--format sarif` is valid against the official SARIF 2.1.0 schema
/// on a clean image and on every broken scenario, that the driver lists every
/// rule id, and that each result's `ruleId`/`ruleIndex` agree and its
/// location is the image path relative to `IMAGE_ROOT`.
#[test]
fn sarif_validates_against_the_official_schema() {
    let validator = sarif_validator();
    for tag in [
        "healthy",
        "incident-later-run",
        "package-deleted",
        "venv-moved",
        "interpreter-purged",
    ] {
        let run = imgaudit(&[&fixture(tag), "--format", "sarif"]);
        let log = run.json();
        assert_valid_sarif(&validator, &log, tag);
        let run0 = &log["runs"][0];
        let ids: Vec<&str> = run0["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let codes: Vec<&str> = imgaudit::checks::Code::iter().map(|c| c.as_str()).collect();
        assert_eq!(ids, codes, "{tag}: driver rules");
        let (_, report) = audit_json(tag, &[]);
        let results = run0["results"].as_array().unwrap();
        assert_eq!(results.len(), findings(&report).len(), "{tag}");
        for r in results {
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(r["ruleId"], ids[index], "{tag}");
            let loc = &r["locations"][0]["physicalLocation"]["artifactLocation"];
            assert_eq!(loc["uriBaseId"], "IMAGE_ROOT");
            assert!(!loc["uri"].as_str().unwrap().starts_with('/'), "{loc}");
        }
    }
}

/// Parse a JUnit file with Python's `junitparser` and return (declared
/// failures of `<testsuites>`, counted failing cases as `suite/case`, total
/// cases). Fails, never skips, when `junitparser` is not installed.
fn junitparser_read(path: &Path) -> (u64, Vec<String>, u64) {
    const SCRIPT: &str = r#"
import json, sys
try:
    import junitparser
except ImportError:
    sys.exit("junitparser is not installed: run `bash scripts/setup.sh` "
             "(it installs it with pip), or `python3 -m pip install junitparser`")
xml = junitparser.JUnitXml.fromfile(sys.argv[1])
failed, total = [], 0
for suite in xml:
    for case in suite:
        total += 1
        if any(isinstance(r, junitparser.Failure) for r in case.result):
            failed.append(suite.name + "/" + case.name)
print(json.dumps({"declared": xml.failures, "failed": failed, "total": total}))
"#;
    let out = python(SCRIPT, &[path.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        v["declared"].as_u64().unwrap(),
        v["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        v["total"].as_u64().unwrap(),
    )
}

/// Proves `--format junit` is read back by `junitparser` (what CI test tabs
/// use) with the right failures: one failing testcase per (environment or
/// `image`, rule) that has an active error or warning, matching the JSON
/// report of the same image, and one testcase per rule per suite.
#[test]
fn junit_is_read_back_by_junitparser() {
    let rule_count = imgaudit::checks::Code::iter().count() as u64;
    for tag in [
        "healthy",
        "incident-later-run",
        "package-deleted",
        "interpreter-purged",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let xml = dir.path().join("imgaudit.xml");
        let run = imgaudit(&[&fixture(tag), "--format", "junit"]);
        std::fs::write(&xml, &run.stdout).unwrap();
        let (declared, failed, total) = junitparser_read(&xml);

        let (_, report) = audit_json(tag, &[]);
        let expected: BTreeSet<String> = active(&report)
            .iter()
            .filter(|f| f["severity"] != "info")
            .map(|f| {
                format!(
                    "{}/{}",
                    f["env"].as_str().unwrap_or("image"),
                    f["rule"].as_str().unwrap()
                )
            })
            .collect();
        let failed: BTreeSet<String> = failed.into_iter().collect();
        assert_eq!(failed, expected, "{tag}: failing testcases");
        assert_eq!(declared, expected.len() as u64, "{tag}: failures=");
        let suites = report["environments"].as_array().unwrap().len() as u64 + 1;
        assert_eq!(total, suites * rule_count, "{tag}: testcases");
    }
}

/// Proves one run writes every requested format: JSON on stdout plus
/// `--output sarif=F --output junit=G`, all three parsed back and describing
/// the same findings, with the same exit code as a plain run.
#[test]
fn one_run_writes_json_sarif_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture("package-deleted");
    let run = imgaudit_with(
        &[
            &image,
            "--format",
            "json",
            "--output",
            "sarif=imgaudit.sarif",
            "--output",
            "junit=imgaudit.xml",
        ],
        Opts {
            cwd: Some(dir.path()),
            ..Opts::default()
        },
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(rules(&report).len(), 2);

    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("imgaudit.sarif")).unwrap())
            .unwrap();
    assert_valid_sarif(&sarif_validator(), &sarif, "--output sarif");
    let sarif_rules: BTreeSet<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sarif_rules, rules(&report));

    let (declared, failed, _) = junitparser_read(&dir.path().join("imgaudit.xml"));
    assert_eq!(declared, 2);
    assert_eq!(
        failed.into_iter().collect::<BTreeSet<_>>(),
        set(&[
            "/opt/venv/entry-point-module-missing",
            "/opt/venv/record-missing-file"
        ])
    );
}

/// Proves `--quiet` text is the errors and the summary line only (no
/// environment headers), and that the summary counts match the JSON.
#[test]
fn quiet_text_is_errors_and_summary() {
    let run = imgaudit(&[&fixture("launcher-deleted"), "--quiet", "--color", "never"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("error[shim-missing]: "),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("environment /opt/venv"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.lines().last().unwrap(),
        "1 error, 0 warnings, 0 suppressed across 2 environments, 7 launchers"
    );
}

/// Proves colours follow `--color` and the environment: `never` and
/// `NO_COLOR=1` with `auto` give no escape codes even when `CLICOLOR_FORCE`
/// asks for colour; `CLICOLOR_FORCE=1` with `auto` colours a pipe; `always`
/// colours.
#[test]
fn colors_follow_flag_and_no_color() {
    let image = fixture("launcher-deleted");
    let esc = |run: &Run| run.stdout.contains('\u{1b}');
    let no_color = imgaudit_with(
        &[&image, "--color", "auto"],
        Opts {
            env: &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
            ..Opts::default()
        },
    );
    assert!(
        !esc(&no_color),
        "NO_COLOR=1 --color auto:\n{}",
        no_color.stdout
    );
    let forced = imgaudit_with(
        &[&image, "--color", "auto"],
        Opts {
            env: &[("CLICOLOR_FORCE", "1")],
            ..Opts::default()
        },
    );
    assert!(esc(&forced), "CLICOLOR_FORCE=1 --color auto");
    assert!(
        esc(&imgaudit(&[&image, "--color", "always"])),
        "--color always"
    );
    assert!(
        !esc(&imgaudit(&[&image, "--color", "never"])),
        "--color never"
    );
    // A pipe with no colour variables: plain.
    assert!(!esc(&imgaudit(&[&image])), "--color auto on a pipe");
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// Proves the same image gives the same findings however it is named or
/// delivered: `DIR:TAG`, `DIR --image TAG`, an OCI archive `FILE:TAG`, and
/// that archive on stdin (`cat app.tar | imgaudit - --image TAG`), with the
/// input format recorded in `image.format`.
#[test]
fn layout_archive_and_stdin_agree() {
    let key = |r: &Value| -> Vec<(String, String)> {
        findings(r)
            .iter()
            .map(|f| (f["rule"].to_string(), f["path"].to_string()))
            .collect()
    };
    let (code, by_tag) = audit_json("launcher-deleted", &[]);
    assert_eq!(code, 1);

    let dir = layout();
    let run = imgaudit(&[
        dir.to_str().unwrap(),
        "--image",
        "launcher-deleted",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(key(&run.json()), key(&by_tag), "--image");

    let archive = oci_archive();
    let arg = format!("{}:launcher-deleted", archive.display());
    let run = imgaudit(&[&arg, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let from_archive = run.json();
    assert_eq!(from_archive["image"]["format"], "oci-archive");
    assert_eq!(key(&from_archive), key(&by_tag), "oci archive");

    let bytes = std::fs::read(archive).unwrap();
    let run = imgaudit_with(
        &["-", "--image", "launcher-deleted", "--format", "json"],
        Opts {
            stdin: Some(&bytes),
            ..Opts::default()
        },
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let from_stdin = run.json();
    assert_eq!(from_stdin["image"]["source"], "-");
    assert_eq!(key(&from_stdin), key(&by_tag), "stdin");
}

/// Proves `--platform` picks a manifest from a multi-platform index
/// (`multiarch`: linux/amd64 and linux/arm64/v8), and that a platform the
/// index lacks is exit 2 with one line listing the ones it has.
#[test]
fn platform_picks_from_a_multi_arch_index() {
    for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        let (code, report) = audit_json("multiarch", &["--platform", platform]);
        assert_eq!(code, 0);
        assert_eq!(report["image"]["architecture"], arch, "{platform}");
    }
    let run = imgaudit(&[&fixture("multiarch"), "--platform", "linux/s390x"]);
    assert_input_error(&run, &["linux/s390x", "linux/amd64", "linux/arm64"]);
}

// ---------------------------------------------------------------------------
// Other commands
// ---------------------------------------------------------------------------

/// Proves `imgaudit files` lists the merged tree: text is `ls -l` style with
/// the layer that wrote each entry, jsonl is one object per line with
/// mode/size/layer/target, and a path absent from the image is exit 2.
#[test]
fn files_lists_the_merged_tree() {
    let image = fixture("healthy");
    let run = imgaudit(&["files", &image, "/opt/venv/bin"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let flake8 = run
        .stdout
        .lines()
        .find(|l| l.ends_with(" /opt/venv/bin/flake8"))
        .expect("flake8 is listed");
    assert!(flake8.starts_with("-rwxr-xr-x"), "{flake8}");
    assert!(flake8.contains(" L2 "), "{flake8}");
    assert!(run
        .stdout
        .lines()
        .any(|l| l.ends_with("/opt/venv/bin/python -> python3")));

    let run = imgaudit(&["files", &image, "/opt/venv/bin", "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries: BTreeMap<String, Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
        .map(|v| (v["path"].as_str().unwrap().to_string(), v))
        .collect();
    let f = &entries["/opt/venv/bin/flake8"];
    assert_eq!(f["type"], "file");
    assert_eq!(f["mode"], "0755");
    assert_eq!(f["layer"], 2);
    assert_eq!(
        entries["/opt/venv/bin/python3"]["target"],
        "/usr/bin/python3"
    );

    // On `launcher-deleted` the whiteout really removed it.
    let run = imgaudit(&["files", &fixture("launcher-deleted"), "/opt/venv/bin"]);
    assert!(
        !run.stdout.contains("/opt/venv/bin/flake8"),
        "{}",
        run.stdout
    );

    let run = imgaudit(&["files", &image, "/no/such/path"]);
    assert_input_error(&run, &["/no/such/path"]);
}

/// Proves `imgaudit init` writes a starter `imgaudit.toml` that the audit
/// then loads from the working directory unchanged (healthy stays exit 0),
/// and refuses to overwrite it without `--force`.
#[test]
fn init_writes_a_config_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = || Opts {
        cwd: Some(dir.path()),
        ..Opts::default()
    };
    let run = imgaudit_with(&["init"], cwd());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = dir.path().join("imgaudit.toml");
    let text = std::fs::read_to_string(&path).expect("init wrote imgaudit.toml");
    for code in imgaudit::checks::Code::iter() {
        assert!(
            text.contains(&format!("# {code} = ")),
            "starter lacks {code}"
        );
    }
    // Picked up from the working directory...
    let run = imgaudit_with(&[&fixture("healthy")], cwd());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // ...and by name.
    let run = imgaudit_with(&[&fixture("healthy"), "--config", "imgaudit.toml"], cwd());
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A broken image still fails with it: the starter changes nothing.
    let run = imgaudit_with(&[&fixture("launcher-deleted")], cwd());
    assert_eq!(run.code, 1, "{}", run.stderr);

    let again = imgaudit_with(&["init"], cwd());
    assert_input_error(&again, &["imgaudit.toml", "--force"]);
    let forced = imgaudit_with(&["init", "--force"], cwd());
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

/// Proves `--help` lists every subcommand and the exit codes, and that
/// `imgaudit IMAGE` is `imgaudit audit IMAGE`. A subcommand is listed as soon
/// as it exists (`size` is checked once `imgaudit size --help` works).
#[test]
fn help_mentions_every_subcommand() {
    let help = imgaudit(&["--help"]);
    assert_eq!(help.code, 0);
    let mut subcommands = vec!["audit", "files", "init"];
    if imgaudit(&["size", "--help"]).code == 0 {
        subcommands.push("size");
    }
    for sub in subcommands {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
            "`{sub}` not in --help:\n{}",
            help.stdout
        );
    }
    assert!(help.stdout.contains("Exit status: 0 clean, 1 findings"));

    let short = imgaudit(&[&fixture("launcher-deleted"), "--format", "json"]);
    let long = imgaudit(&["audit", &fixture("launcher-deleted"), "--format", "json"]);
    assert_eq!((short.code, short.stdout), (long.code, long.stdout));
}

// ---------------------------------------------------------------------------
// Docs guards
// ---------------------------------------------------------------------------

/// Proves `docs/rules.md` documents every rule: one `### <id>` heading per
/// `Code`, in the enum's order (so SARIF `helpUri` anchors
/// `docs/rules.md#<id>` resolve), and no heading for a rule that does not
/// exist.
#[test]
fn every_code_has_a_docs_heading() {
    let docs = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    let codes: Vec<&str> = imgaudit::checks::Code::iter().map(|c| c.as_str()).collect();
    let headings: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(str::trim)
        .collect();
    let code_headings: Vec<&str> = headings
        .iter()
        .copied()
        .filter(|h| h.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    for code in &codes {
        assert!(
            code_headings.contains(code),
            "docs/rules.md has no `### {code}` heading"
        );
    }
    assert_eq!(
        code_headings, codes,
        "rule headings are not in `Code` order"
    );
}

/// Proves the README keeps the two set-up commands a newcomer runs, verbatim,
/// under their heading.
#[test]
fn readme_keeps_the_two_setup_commands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## Set-up (two commands)")
        .nth(1)
        .expect("README has a `## Set-up (two commands)` section");
    let section = section.split("\n## ").next().unwrap();
    for command in [
        "bash scripts/setup.sh && cargo run --release -- testdata/images/oci:incident-later-run",
        "bash scripts/setup.sh && cargo test",
    ] {
        assert!(section.contains(command), "README set-up lacks `{command}`");
    }
}

/// Proves `shim-not-executable` on a real image (`RUN chmod -x
/// /opt/venv/bin/pyflakes`), and only that: the truth records exit 126
/// (`Permission denied`) for the launcher.
#[test]
fn shim_not_executable_fixture() {
    let report = assert_broken("shim-not-executable", &["shim-not-executable"]);
    let finding = active(&report)[0];
    assert_eq!(finding["path"], "/opt/venv/bin/pyflakes");
    assert_eq!(finding["layer"], 3);
}

/// Proves `metadata-file-missing` on a real image (METADATA of pycodestyle
/// and RECORD of mccabe deleted), with the cause reported once: RECORD's own
/// row for the deleted METADATA is not a second `record-missing-file`, and
/// the launchers put at risk are named (the truth: flake8 dies with
/// `TypeError` loading its plugins, `pip check` fails).
#[test]
fn metadata_file_missing_fixture() {
    let report = assert_broken("metadata-file-missing", &["metadata-file-missing"]);
    let paths: Vec<&str> = active(&report)
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/opt/venv/lib/python3.11/site-packages/mccabe-0.7.0.dist-info/RECORD",
            "/opt/venv/lib/python3.11/site-packages/pycodestyle-2.12.1.dist-info/METADATA",
        ]
    );
    assert!(active(&report)[1]["launchers_at_risk"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "/opt/venv/bin/flake8"));
}

/// Proves `metadata-malformed` on a real image (a METADATA without
/// `Version`, an `entry_points.txt` with a garbage line) is an error, and the
/// edit is reported once: no `record-mismatch` for the same two files. The
/// truth: `pip check`/`pip list` crash with `TypeError`, flake8 exits 1.
#[test]
fn metadata_malformed_fixture() {
    let report = assert_broken("metadata-malformed", &["metadata-malformed"]);
    assert_eq!(active(&report).len(), 2, "{}", listing(&report));
    assert!(active(&report).iter().all(|f| f["severity"] == "error"));
}

/// Proves `dependency-conflict` on a real image (`pip install --no-deps
/// idna==2.4` under requests, which needs `idna>=2.5,<4`), matching the
/// truth's `pip check` line.
#[test]
fn dependency_conflict_fixture() {
    let report = assert_broken("dependency-conflict", &["dependency-conflict"]);
    let truth = truth("dependency-conflict").unwrap();
    assert!(truth["pip_check"]["output"]
        .as_str()
        .unwrap()
        .contains("requests 2.32.3 has requirement idna<4,>=2.5, but you have idna 2.4"));
    let finding = active(&report)[0];
    assert_eq!(finding["requirement"], "idna <4,>=2.5");
    assert_eq!(finding["installed"], "2.4");
}
