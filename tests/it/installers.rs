//! Issue 11: every way teams install Python, judged against the runtime truth.
//!
//! The images of `testdata/images/installers` were built by the real tools
//! (`testdata/build-installer-fixtures.sh`: uv in the image, the pinned PyPI
//! wheels) and each was run in a chroot; `testdata/truth/installers/TAG.json`
//! records what happened: every launcher's `--help` (symlinked ones too,
//! with `symlink_to`), an `importlib.metadata` lookup of its entry point by
//! the interpreter that runs it, `flake8 -` on a file with an unused import,
//! `pip check` per environment and the image's own command.
//!
//! The bar is the one `cli.rs` holds the main fixtures to, taken here for any
//! layout + truth directory ([`Truth`]): every recorded runtime failure of a
//! console-script launcher is named by an error, and an image whose truth has
//! no failure gets no finding at all.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::imgaudit;

/// The launcher kinds of the truth that are installer-written shims (the
/// others are scripts a Debian package ships, see `cli.rs` `SHIM_KINDS`).
const SHIM_KINDS: &[&str] = &["pip", "pip-sh-polyglot", "setuptools-entry-script"];

/// A committed OCI layout and the truth directory recorded for its tags.
struct Truth {
    layout: PathBuf,
    dir: PathBuf,
}

/// What the truth says failed at run time in one image.
#[derive(Debug, Default)]
struct Failures {
    /// Shim launchers (as run: a symlink's own path) that failed a probe,
    /// with the file they resolve to.
    launchers: Vec<(String, String, &'static str)>,
    /// Environments whose `pip check` found a broken requirement.
    pip_check_envs: BTreeSet<String>,
    /// The image's command failed.
    entrypoint_failed: bool,
}

impl Failures {
    fn is_empty(&self) -> bool {
        self.launchers.is_empty() && self.pip_check_envs.is_empty() && !self.entrypoint_failed
    }
}

impl Truth {
    fn new(layout: &str, dir: &str) -> Truth {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Truth {
            layout: root.join(layout),
            dir: root.join(dir),
        }
    }

    /// Every tag with a truth file, in `index.json` order.
    fn tags(&self) -> Vec<String> {
        let index: Value =
            serde_json::from_str(&std::fs::read_to_string(self.layout.join("index.json")).unwrap())
                .unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
            .filter(|t| self.dir.join(format!("{t}.json")).exists())
            .map(String::from)
            .collect()
    }

    fn truth(&self, tag: &str) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.join(format!("{tag}.json"))).unwrap(),
        )
        .expect("truth files are JSON")
    }

    fn audit(&self, tag: &str) -> (i32, Value) {
        let image = format!("{}:{tag}", self.layout.display());
        let run = imgaudit([image.as_str(), "--format", "json"]);
        assert!(
            run.code == 0 || run.code == 1,
            "imgaudit {image} exited {}: {}",
            run.code,
            run.stderr
        );
        (run.code, serde_json::from_str(&run.stdout).unwrap())
    }
}

fn shims(truth: &Value) -> impl Iterator<Item = &Value> {
    truth["launchers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| SHIM_KINDS.contains(&l["kind"].as_str().unwrap()))
}

/// pip installs itself with a `pipX.Y` launcher for the interpreter that
/// runs the install, whatever `pipX.Y` its own `entry_points.txt` declares
/// (pip 26 in pipx's shared venv declares none for 3.11): the entry-point
/// lookup by that name fails while the launcher works. A known non-defect
/// (`docs/rules.md`), not a runtime failure.
fn is_pip_versioned(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_prefix("pip3.")
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

fn failures(truth: &Value) -> Failures {
    let mut f = Failures::default();
    for l in shims(truth) {
        let path = l["path"].as_str().unwrap().to_string();
        let real = l["symlink_to"].as_str().unwrap_or(&path).to_string();
        let why = if l["exit"] != 0 {
            "--help fails"
        } else if l["entry_point_probe"].is_object()
            && l["entry_point_probe"]["exit"] != 0
            && !is_pip_versioned(&real)
        {
            "importlib.metadata does not see its entry point"
        } else if l["flake8_lint_probe"].is_object()
            && !l["flake8_lint_probe"]["stdout"]
                .as_str()
                .unwrap_or("")
                .contains("F401")
        {
            "flake8 lints nothing (plugins not found)"
        } else {
            continue;
        };
        f.launchers.push((path, real, why));
    }
    for e in truth["envs"].as_array().unwrap() {
        if e["pip_check"]["exit"] == 1 {
            f.pip_check_envs
                .insert(e["prefix"].as_str().unwrap().to_string());
        }
    }
    f.entrypoint_failed = truth["entrypoint"].is_object() && truth["entrypoint"]["exit"] != 0;
    f
}

fn errors(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("suppressed").is_none() && f["severity"] == "error")
        .collect()
}

fn listing(report: &Value) -> String {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("  {} {} {}", f["severity"], f["rule"], f["path"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The report's launchers: path → aliases.
fn report_launchers(report: &Value) -> Vec<(String, Vec<String>)> {
    report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["launchers"].as_array().unwrap())
        .map(|l| {
            let aliases = l["aliases"]
                .as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (l["path"].as_str().unwrap().to_string(), aliases)
        })
        .collect()
}

fn installers() -> Truth {
    Truth::new("testdata/images/installers", "testdata/truth/installers")
}

/// The second set (`testdata/build-layout-fixtures.sh`): editables, entry-point
/// forms, virtualenv, pdm, a non-root `USER`, slimming variants.
fn layouts() -> Truth {
    Truth::new("testdata/images/layouts", "testdata/truth/layouts")
}

/// Findings below error that a layout whose runtime truth is healthy may
/// carry, each with the reason the truth cannot show: `strip` leaves the
/// extension loadable (the truth runs it) but RECORD no longer verifies it.
const HEALTHY_WARNINGS: &[(&str, &str)] = &[("epforms-so-stripped", "record-mismatch")];

/// Proves every runtime failure of the installer layouts is named: each
/// shim launcher that failed `--help`, whose entry point `importlib.metadata`
/// could not find, or whose flake8 found no checker, is the path of an error
/// (a symlinked launcher through the file it resolves to, which the report
/// lists with the symlink as an alias), or is at risk from a metadata error;
/// each failing `pip check` has a dependency finding; a failing image command
/// exits 1.
#[test]
fn installers_every_runtime_failure_is_named() {
    every_runtime_failure_is_named(&installers(), 9, 4);
}

/// As [`installers_every_runtime_failure_is_named`], on the second set.
#[test]
fn layouts_every_runtime_failure_is_named() {
    every_runtime_failure_is_named(&layouts(), 20, 7);
}

fn every_runtime_failure_is_named(t: &Truth, min_tags: usize, min_failing: usize) {
    let tags = t.tags();
    assert!(tags.len() >= min_tags, "fixtures missing: {tags:?}");
    let mut failing_tags = 0;
    for tag in &tags {
        let truth = t.truth(tag);
        let f = failures(&truth);
        let (code, report) = t.audit(tag);
        let errs = errors(&report);
        let launchers = report_launchers(&report);
        if !f.is_empty() {
            failing_tags += 1;
        }
        for (path, real, why) in &f.launchers {
            if path != real {
                assert!(
                    launchers.iter().any(|(p, a)| p == real && a.contains(path)),
                    "{tag}: {path} -> {real} is not reported as an alias of {real}"
                );
            }
            let named = errs.iter().any(|e| {
                e["path"] == real.as_str()
                    || (e["rule"] == "venv-interpreter-missing"
                        && real.starts_with(&format!("{}/", e["path"].as_str().unwrap())))
                    || e["launchers_at_risk"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|p| p == real.as_str()))
            });
            assert!(
                named,
                "{tag}: {path} fails at run time ({why}) but no error names it:\n{}",
                listing(&report)
            );
        }
        for env in &f.pip_check_envs {
            assert!(
                errs.iter().any(|e| e["env"] == env.as_str()
                    && matches!(
                        e["rule"].as_str(),
                        Some(
                            "dependency-missing"
                                | "dependency-conflict"
                                | "metadata-file-missing"
                                | "metadata-malformed"
                        )
                    )),
                "{tag}: `pip check` fails in {env} but no dependency finding:\n{}",
                listing(&report)
            );
        }
        if f.entrypoint_failed {
            assert_eq!(code, 1, "{tag}: the image command fails but exit is {code}");
        }
    }
    assert!(
        failing_tags >= min_failing,
        "the broken twins lost their failures"
    );
}

/// Proves imgaudit is silent where nothing breaks: every installer image
/// whose truth shows no failure exits 0 with no finding of any severity.
#[test]
fn installers_healthy_layouts_are_silent() {
    let healthy = healthy_are_silent(&installers());
    for expected in [
        "uv-venv",
        "uv-sync",
        "uv-sync-no-editable",
        "uv-tool",
        "uv-system",
        "poetry",
        "pip-user",
        "pip-prefix-copy",
        "pip-target-pythonpath",
        "pipx",
    ] {
        assert!(
            healthy.iter().any(|t| t == expected),
            "{expected} is not healthy in its truth: {healthy:?}"
        );
    }
}

/// As [`installers_healthy_layouts_are_silent`], on the second set; a stripped
/// extension is the one healthy image with a finding, a warning.
#[test]
fn layouts_healthy_layouts_are_silent() {
    let healthy = healthy_are_silent(&layouts());
    for expected in [
        "pip-break-system",
        "pip-user-app",
        "uv-relocatable-ok",
        "epforms",
        "epforms-so-stripped",
        "pip-venv",
        "py-deleted-legacy-pyc",
        "tests-deleted",
        "editable-finder",
        "editable-legacy",
        "virtualenv",
        "pdm",
        "hatch",
    ] {
        assert!(
            healthy.iter().any(|t| t == expected),
            "{expected} is not healthy in its truth: {healthy:?}"
        );
    }
}

/// Every tag whose truth has no failure exits 0 with no finding, except
/// the [`HEALTHY_WARNINGS`] (never an error). Returns the healthy tags.
fn healthy_are_silent(t: &Truth) -> Vec<String> {
    let mut healthy = Vec::new();
    for tag in t.tags() {
        if !failures(&t.truth(&tag)).is_empty() {
            continue;
        }
        let (code, report) = t.audit(&tag);
        let unexpected: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["severity"] == "error"
                    || !HEALTHY_WARNINGS
                        .iter()
                        .any(|(t, r)| *t == tag && f["rule"] == *r)
            })
            .collect();
        assert!(
            unexpected.is_empty(),
            "{tag}: healthy at run time, yet:\n{}",
            listing(&report)
        );
        assert_eq!(code, 0, "{tag}");
        healthy.push(tag);
    }
    healthy
}

/// Proves discovery finds exactly the launchers the truth ran: the shim
/// launchers that are files are the report's launchers, and each symlinked
/// one (`uv tool install`'s bin dir) is an alias of the launcher it resolves
/// to.
#[test]
fn installers_launchers_are_the_launchers_found() {
    launchers_are_the_launchers_found(&installers());
}

/// As [`installers_launchers_are_the_launchers_found`], on the second set.
#[test]
fn layouts_launchers_are_the_launchers_found() {
    launchers_are_the_launchers_found(&layouts());
}

fn launchers_are_the_launchers_found(t: &Truth) {
    for tag in t.tags() {
        let truth = t.truth(&tag);
        let (_, report) = t.audit(&tag);
        let launchers = report_launchers(&report);
        let found: BTreeSet<&str> = launchers.iter().map(|(p, _)| p.as_str()).collect();
        let files: BTreeSet<&str> = shims(&truth)
            .filter(|l| l["symlink_to"].is_null())
            .map(|l| l["path"].as_str().unwrap())
            .collect();
        assert_eq!(found, files, "{tag}: launchers differ from the truth");
        for l in shims(&truth).filter(|l| l["symlink_to"].is_string()) {
            let (path, real) = (
                l["path"].as_str().unwrap(),
                l["symlink_to"].as_str().unwrap(),
            );
            // Links inside one bin dir (Debian's `chardet -> chardetect`) are
            // the same launcher under another name, not an alias.
            if Path::new(path).parent() == Path::new(real).parent() {
                continue;
            }
            assert!(
                launchers
                    .iter()
                    .any(|(p, a)| p == real && a.iter().any(|x| x == path)),
                "{tag}: {path} -> {real} not reported as an alias"
            );
        }
    }
}

/// Proves the layouts' specific verdicts beyond "named or silent": a
/// stripped extension is a `record-mismatch` *warning* marked
/// `looks_stripped`; a non-root `USER`'s `--user` launchers are found from
/// `/etc/passwd` (no `ENV HOME` in the config); the legacy editable's
/// egg-info in its source dir is its distribution; and a symlinked launcher's
/// finding says how the user reaches it (`uv tool install`).
#[test]
fn layouts_specific_verdicts() {
    let t = layouts();
    let (code, report) = t.audit("epforms-so-stripped");
    assert_eq!(code, 0);
    let f = &report["findings"][0];
    assert_eq!(
        (f["rule"].as_str(), f["severity"].as_str()),
        (Some("record-mismatch"), Some("warning"))
    );
    assert_eq!(f["looks_stripped"], true);
    assert!(f["path"]
        .as_str()
        .unwrap()
        .ends_with("/epforms/_fast.cpython-311-x86_64-linux-gnu.so"));
    assert!(f["actual_size"].as_u64() < f["expected_size"].as_u64());

    let (_, report) = t.audit("pip-user-app");
    let launchers: Vec<String> = report_launchers(&report)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(
        launchers.iter().any(|p| p == "/home/app/.local/bin/flake8"),
        "{launchers:?}"
    );

    // The source dir held the metadata: deleting it is named as deleting
    // the egg-info, by the layer that did it.
    let (_, report) = t.audit("editable-legacy-src-deleted");
    let f = &report["findings"][0];
    assert_eq!(f["rule"], "entry-point-without-metadata");
    assert_eq!(f["created_by"], "RUN rm -rf /src/hello-legacy-ed");
    assert!(
        f["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("`/src/hello-legacy-ed/hello_legacy_ed.egg-info`")),
        "{f}"
    );

    let run = imgaudit([Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/images/installers:uv-tool-dist-info-deleted")
        .to_str()
        .unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "  = note: reached as `/usr/local/bin/flake8` (a symlink to this launcher)\n"
        ),
        "{}",
        run.stdout
    );
    let run = imgaudit([
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/images/installers:uv-tool-dist-info-deleted")
            .to_str()
            .unwrap(),
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let flake8 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/opt/uv/tools/flake8/bin/flake8")
        .unwrap();
    assert_eq!(
        flake8["reached_as"],
        serde_json::json!(["/usr/local/bin/flake8"])
    );
}
