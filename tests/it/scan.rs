//! Issue 9, the nightly scan (`imgaudit scan`): plan → shard processes in
//! parallel over one cache → merge, through the built binary.
//!
//! These tests run the flow on plans that name the committed OCI layout's
//! images (a plan line may name any input imgaudit reads), so the sharding,
//! the result cache, the unreadable-image path and every merged format are
//! proven without a registry. The registry half (plan from a real
//! `docker-registry`, blobs counted) lives in the registry tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{bin, imgaudit_env};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn layout() -> PathBuf {
    root().join("testdata/images/oci")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A plan of the layout's images named by `tags`, as `scan --plan` writes
/// it: the manifest digest, the platform, the first layer; an index is one
/// line per platform child.
fn plan_of(tags: &[&str]) -> String {
    let index = read_json(&layout().join("index.json"));
    let blob = |d: &str| read_json(&layout().join("blobs/sha256").join(&d["sha256:".len()..]));
    let mut out = String::new();
    for tag in tags {
        let m = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == *tag)
            .unwrap_or_else(|| panic!("no `{tag}` in the layout"));
        let digest = m["digest"].as_str().unwrap();
        let manifest = blob(digest);
        let mut children = Vec::new();
        if let Some(list) = manifest["manifests"].as_array() {
            for c in list {
                let p = &c["platform"];
                let mut platform = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                );
                if let Some(v) = p["variant"].as_str() {
                    platform = format!("{platform}/{v}");
                }
                children.push((
                    c["digest"].as_str().unwrap().to_string(),
                    platform,
                    blob(c["digest"].as_str().unwrap()),
                ));
            }
        } else {
            children.push((digest.to_string(), "linux/amd64".to_string(), manifest));
        }
        for (digest, platform, manifest) in children {
            let line = serde_json::json!({
                "ref": format!("oci:{}:{tag}", layout().display()),
                "digest": digest,
                "platform": platform,
                "base": manifest["layers"][0]["digest"],
            });
            out.push_str(&format!("{line}\n"));
        }
    }
    out
}

const TAGS: &[&str] = &[
    "base",
    "healthy",
    "incident-later-run",
    "package-deleted",
    "usr-local",
    "multiarch",
];

fn env(cache: &str) -> Vec<(&str, Option<&str>)> {
    vec![
        ("IMGAUDIT_CACHE_DIR", Some(cache)),
        ("NO_COLOR", Some("1")),
        ("JOB_COMPLETION_INDEX", None),
        ("IMGAUDIT_SHARD", None),
    ]
}

/// Run shards `0..n` as parallel processes over one cache and one output
/// directory, as N pods of an Indexed Job on one volume do; shard `I` gets
/// its index from `JOB_COMPLETION_INDEX` for odd `I`, from `--shard I/N`
/// otherwise.
fn run_shards(plan: &Path, cache: &Path, out: &Path, n: usize, extra: &[&str]) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            let mut cmd = Command::new(bin());
            cmd.arg("scan")
                .arg("--from")
                .arg(plan)
                .arg("--cache")
                .arg(cache)
                .arg("--out-dir")
                .arg(out)
                .args(extra)
                .env("NO_COLOR", "1")
                .env_remove("IMGAUDIT_SHARD")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if i % 2 == 1 {
                cmd.arg("--shard")
                    .arg(n.to_string())
                    .env("JOB_COMPLETION_INDEX", i.to_string());
            } else {
                cmd.arg("--shard").arg(format!("{i}/{n}"));
            }
            cmd.spawn().expect("spawn a shard")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "shard {i}: {stderr}");
        assert!(
            stderr.starts_with(&format!("shard {i}/{n}: ")),
            "shard {i}: {stderr}"
        );
    }
}

fn summaries(out: &Path) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("summary-")
        })
        .collect();
    names.sort();
    names
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn shards_in_parallel_scan_every_image_once_and_the_second_night_reads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan.jsonl");
    let text = plan_of(TAGS);
    std::fs::write(&plan, &text).unwrap();
    let planned: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(planned.len(), TAGS.len() + 1, "multiarch has two children");
    let (cache, out) = (tmp.path().join("cache"), tmp.path().join("out"));

    run_shards(&plan, &cache, &out, 3, &["--sarif", "--junit"]);
    let rows = summaries(&out);
    // Every planned (digest, platform) exactly once across the shards.
    let mut keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["digest"].as_str().unwrap().into(),
                r["platform"].as_str().unwrap().into(),
            )
        })
        .collect();
    keys.sort();
    let mut want: Vec<(String, String)> = planned
        .iter()
        .map(|r| {
            (
                r["digest"].as_str().unwrap().into(),
                r["platform"].as_str().unwrap().into(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(keys, want);
    let shards: std::collections::BTreeSet<u64> =
        rows.iter().map(|r| r["shard"].as_u64().unwrap()).collect();
    assert_eq!(shards.len(), 3, "each shard scanned its slice");
    for r in &rows {
        assert_eq!(r["status"], "audited", "{r}");
        assert_eq!(r["cached"], false, "{r}");
        let stem = r["report"].as_str().unwrap().strip_suffix(".json").unwrap();
        for ext in ["json", "sarif", "junit.xml"] {
            assert!(out.join(format!("{stem}.{ext}")).is_file(), "{stem}.{ext}");
        }
    }
    // The arm64 child was opened as that platform, not the host's.
    let arm = rows
        .iter()
        .find(|r| r["platform"] == "linux/arm64/v8")
        .unwrap();
    let report = read_json(&out.join(arm["report"].as_str().unwrap()));
    assert_eq!(report["image"]["architecture"], "arm64");
    let pulled_cold: u64 = rows
        .iter()
        .map(|r| r["bytes_pulled"].as_u64().unwrap())
        .sum();
    assert!(pulled_cold > 0);

    // The merge: one entry per image, the gate of the worst.
    let cache_s = cache.to_str().unwrap();
    let merged = imgaudit_env(
        [
            "scan",
            "--merge",
            out.to_str().unwrap(),
            "--from",
            plan.to_str().unwrap(),
            "-f",
            "json",
        ],
        &env(cache_s),
        None,
    );
    assert_eq!(
        merged.code, 1,
        "incident images fail the gate: {}",
        merged.stderr
    );
    let doc: Value = serde_json::from_str(&merged.stdout).unwrap();
    let images = doc["images"].as_array().unwrap();
    assert_eq!(images.len(), planned.len());
    assert_eq!(doc["summary"]["images"], planned.len());
    assert_eq!(doc["summary"]["unreadable"], 0);
    let failed = images.iter().filter(|i| i["gate"] == "fail").count();
    assert_eq!(doc["summary"]["failed"], failed);
    assert!(failed >= 2, "incident-later-run and package-deleted fail");
    for i in images {
        assert!(i["digest"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(i["report"]["schema_version"], 1, "{i}");
    }

    // The per-image report is the audit's: what `imgaudit audit -f json`
    // prints for the same input.
    let healthy = rows
        .iter()
        .find(|r| r["ref"].as_str().unwrap().ends_with(":incident-later-run"))
        .unwrap();
    let audit = imgaudit_env(
        ["audit", "-f", "json", healthy["ref"].as_str().unwrap()],
        &env(cache_s),
        None,
    );
    assert_eq!(audit.code, 1, "{}", audit.stderr);
    let from_scan = read_json(&out.join(healthy["report"].as_str().unwrap()));
    assert_eq!(
        from_scan,
        serde_json::from_str::<Value>(&audit.stdout).unwrap()
    );

    // Night two, in another output directory and with another number of
    // shards: every result from the result cache, no byte read, the same
    // merged report.
    let out2 = tmp.path().join("out2");
    run_shards(&plan, &cache, &out2, 2, &["--sarif", "--junit"]);
    let rows = summaries(&out2);
    assert_eq!(rows.len(), planned.len());
    for r in &rows {
        assert_eq!(r["cached"], true, "{r}");
        assert_eq!(r["bytes_pulled"], 0, "{r}");
    }
    let merged2 = imgaudit_env(
        ["scan", "--merge", out2.to_str().unwrap(), "-f", "json"],
        &env(cache_s),
        None,
    );
    assert_eq!(merged2.code, 1);
    let doc2: Value = serde_json::from_str(&merged2.stdout).unwrap();
    let reports = |d: &Value| -> Vec<Value> {
        d["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["report"].clone())
            .collect()
    };
    assert_eq!(reports(&doc2), reports(&doc));
    assert_eq!(doc2["summary"]["cached"], planned.len());

    // Every merged format, on the same results.
    let validator = sarif_validator();
    let sarif = imgaudit_env(
        ["scan", "--merge", out2.to_str().unwrap(), "-f", "sarif"],
        &env(cache_s),
        None,
    );
    assert_eq!(sarif.code, 1, "{}", sarif.stderr);
    let log: Value = serde_json::from_str(&sarif.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), planned.len(), "one run per image");
    let ids: std::collections::BTreeSet<&str> = runs
        .iter()
        .map(|r| r["automationDetails"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        planned.len(),
        "one code-scanning category per image"
    );
    let junit = imgaudit_env(
        ["scan", "--merge", out2.to_str().unwrap(), "-f", "junit"],
        &env(cache_s),
        None,
    );
    assert_eq!(junit.code, 1);
    assert_eq!(junit.stdout.matches("<testsuite ").count(), planned.len());
    assert!(junit.stdout.contains("<failure"), "{}", junit.stdout);
    let text = imgaudit_env(
        ["scan", "--merge", out2.to_str().unwrap()],
        &env(cache_s),
        None,
    );
    assert_eq!(text.code, 1);
    assert_eq!(text.stdout.lines().count(), planned.len() + 1);
    assert!(
        text.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with(&format!("{} images: ", planned.len())),
        "{}",
        text.stdout
    );
}

/// The vendored official SARIF 2.1.0 schema, compiled.
fn sarif_validator() -> jsonschema::Validator {
    let schema = read_json(&root().join("testdata/schemas/sarif-schema-2.1.0.json"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored SARIF schema compiles")
}

#[test]
fn an_unreadable_image_is_recorded_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = plan_of(&["healthy"]);
    // A manifest that is gone (a tag deleted after the plan).
    let gone = text
        .replace(":healthy\"", ":no-such-tag\"")
        .replace("942171d1", "00000000");
    text.push_str(&gone);
    let plan = tmp.path().join("plan.jsonl");
    std::fs::write(&plan, &text).unwrap();
    let out = tmp.path().join("out");
    let cache = tmp.path().join("cache");
    let c = cache.to_str().unwrap();
    let run = imgaudit_env(
        [
            "scan",
            "--from",
            plan.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--cache",
            c,
        ],
        &env(c),
        None,
    );
    assert_eq!(run.code, 0, "a shard that ran exits 0: {}", run.stderr);
    assert!(run.stderr.contains("1 unreadable"), "{}", run.stderr);
    let rows = summaries(&out);
    assert_eq!(rows.len(), 2);
    let bad = rows.iter().find(|r| r["status"] == "unreadable").unwrap();
    assert!(
        bad["error"].as_str().unwrap().contains("no-such-tag"),
        "{bad}"
    );
    assert_eq!(bad["gate"], Value::Null);
    let good = rows.iter().find(|r| r["status"] == "audited").unwrap();
    assert_eq!(good["gate"], "pass");

    let merged = imgaudit_env(["scan", "--merge", out.to_str().unwrap()], &env(c), None);
    assert_eq!(merged.code, 2, "an unreadable image: exit 2");
    assert!(merged.stdout.contains("ERROR "), "{}", merged.stdout);
    // With the plan, an image no shard recorded is unreadable too.
    let mut longer = text.clone();
    longer.push_str(&plan_of(&["usr-local"]));
    let plan2 = tmp.path().join("plan2.jsonl");
    std::fs::write(&plan2, &longer).unwrap();
    let only_good = tmp.path().join("only-good");
    std::fs::create_dir(&only_good).unwrap();
    std::fs::write(only_good.join("summary-0.jsonl"), format!("{good}\n")).unwrap();
    std::fs::copy(
        out.join(good["report"].as_str().unwrap()),
        only_good.join(good["report"].as_str().unwrap()),
    )
    .unwrap();
    let merged = imgaudit_env(
        [
            "scan",
            "--merge",
            only_good.to_str().unwrap(),
            "--from",
            plan2.to_str().unwrap(),
            "-f",
            "json",
        ],
        &env(c),
        None,
    );
    assert_eq!(merged.code, 2);
    let doc: Value = serde_json::from_str(&merged.stdout).unwrap();
    assert_eq!(doc["summary"]["images"], 3);
    assert_eq!(doc["summary"]["unreadable"], 2);
    assert!(merged.stdout.contains("no shard recorded it"));
}

#[test]
fn wrong_invocations_are_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_str().unwrap();
    let hostile = tmp.path().join("hostile.jsonl");
    std::fs::write(
        &hostile,
        plan_of(&["healthy"]).replace("linux/amd64", "../../etc"),
    )
    .unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (args, want) in [
        (vec!["scan"], "needs `--registry"),
        (vec!["scan", "--from", hostile.to_str().unwrap()], "line 1"),
        (
            vec!["scan", "--from", "/no/such/plan"],
            "cannot read the plan",
        ),
        (
            vec!["scan", "--merge", empty.to_str().unwrap()],
            "no `summary-*.jsonl`",
        ),
        (
            vec![
                "scan",
                "--from",
                hostile.to_str().unwrap(),
                "--shard",
                "2/2",
            ],
            "out of range",
        ),
        (
            vec!["scan", "--from", hostile.to_str().unwrap(), "--shard", "2"],
            "JOB_COMPLETION_INDEX",
        ),
        (vec!["scan", "--plan"], "--registry"),
        (
            vec!["scan", "--registry", "localhost:1", "--tags", "[", "--plan"],
            "--tags",
        ),
    ] {
        let run = imgaudit_env(&args, &env(t), None);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
    }
}

/// Run a validator of `scripts/setup.sh`; its output on failure.
fn validator(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("`{program}` ({e}): run `bash scripts/setup.sh` first"))
}

/// The Kubernetes recipe against the Kubernetes API schemas (strict:
/// an unknown or misspelt field fails), offline, with `kubernetes-validate`.
#[test]
fn the_kubernetes_recipe_validates() {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .map(|n| format!("deploy/kubernetes/{n}"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let mut args = vec!["--strict", "-k", "1.33.0"];
    args.extend(files.iter().map(String::as_str));
    let out = validator("kubernetes-validate", &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Six resources, each named as passed.
    assert_eq!(
        stdout.matches(" passed for resource ").count(),
        6,
        "{stdout}"
    );
    // The kustomization lists every resource and generates the shard Job's ConfigMap.
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    for f in &files {
        let name = f.rsplit('/').next().unwrap();
        assert!(kustomization.contains(&format!("- {name}")), "{name}");
    }
    // The shards are an Indexed Job with per-index retries, and the number
    // of shards in `--shard` is the Job's `completions`.
    let job = std::fs::read_to_string(dir.join("shards-job.yaml")).unwrap();
    assert!(job.contains("completionMode: Indexed"));
    assert!(job.contains("backoffLimitPerIndex: "));
    let completions = job
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions: "))
        .unwrap();
    assert!(job.contains(&format!("--shard={completions}\n")), "{job}");
}

/// The GitHub Actions recipe against the workflow schema vendored in
/// `check-jsonschema` (offline), and its shard count in step with its matrix.
#[test]
fn the_github_actions_recipe_validates() {
    let out = validator(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.github-workflows",
            "deploy/github/nightly-scan.yml",
        ],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let workflow = std::fs::read_to_string(root().join("deploy/github/nightly-scan.yml")).unwrap();
    let matrix = workflow
        .lines()
        .find_map(|l| l.trim().strip_prefix("shard: ["))
        .unwrap();
    let n = matrix.split(',').count();
    assert!(
        workflow.contains(&format!("--shard ${{{{ matrix.shard }}}}/{n}")),
        "{workflow}"
    );
}

const PLAIN: &str = "127.0.0.1:5000";

/// Where `scripts/registry.sh` keeps the registries' state and logs.
fn registry_dir() -> PathBuf {
    std::env::var_os("IMGAUDIT_REGISTRY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/registry"))
}

/// imgaudit's requests about repositories under `prefix`, from the plain
/// registry's access log, once the log has settled.
///
/// Why only imgaudit's and why wait: the registry writes its access log
/// asynchronously, and on a loaded machine a line of skopeo's push (or of
/// the previous step) lands after the next step has started counting.
fn access_log(prefix: &str) -> Vec<String> {
    let read = || -> Vec<String> {
        std::fs::read_to_string(registry_dir().join("plain/registry.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.starts_with("127.0.0.1 - ")
                    && l.ends_with(concat!("\"imgaudit/", env!("CARGO_PKG_VERSION"), "\""))
                    && (l.contains(&format!("\"GET /v2/{prefix}/"))
                        || l.contains(&format!("\"HEAD /v2/{prefix}/")))
            })
            .map(String::from)
            .collect()
    };
    let mut last = read();
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let now = read();
        if now.len() == last.len() {
            return now;
        }
        last = now;
    }
    last
}

fn push(src_tag: &str, dest: &str) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"]);
    if src_tag == "multiarch" {
        cmd.arg("--all");
    }
    let out = cmd
        .arg(format!("oci:{}:{src_tag}", layout().display()))
        .arg(format!("docker://{PLAIN}/{dest}"))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stats(out: &Path) -> Vec<Value> {
    let mut v: Vec<Value> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("stats-")
        })
        .map(|p| read_json(&p))
        .collect();
    v.sort_by_key(|s| s["shard"].as_u64());
    v
}

/// The nightly flow on one machine, against the real loopback
/// registry (`scripts/registry.sh`): push the fixtures, `--plan`, two shard
/// processes in parallel over one cache, `--merge`: every digest scanned
/// exactly once; the second night downloads no blob, counted in the
/// registry's own access log and in the shards' client counters.
#[test]
fn the_nightly_flow_against_a_real_registry() {
    assert!(
        std::net::TcpStream::connect(PLAIN).is_ok(),
        "no test registry on {PLAIN}: run `bash scripts/setup.sh`"
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("it/scan-{}-{nanos}", std::process::id());
    for tag in ["healthy", "incident-later-run", "base"] {
        push(tag, &format!("{prefix}/app:{tag}"));
    }
    push("healthy", &format!("{prefix}/app:latest")); // the same manifest again
    push("multiarch", &format!("{prefix}/multi:1")); // an index, two platforms
    assert!(
        !access_log(&prefix).is_empty() || registry_dir().join("plain/registry.log").exists(),
        "no access log in {}: set IMGAUDIT_REGISTRY_DIR",
        registry_dir().display()
    );

    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let c = cache.to_str().unwrap();
    let target = format!("{PLAIN}/{prefix}");
    let plan_cmd = ["scan", "--registry", &target, "--plan", "--cache", c];
    let before = access_log(&prefix).len();
    let planned = imgaudit_env(plan_cmd, &env(c), None);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(
        planned.stderr.contains("planned 5 images"),
        "{}",
        planned.stderr
    );
    let lines: Vec<Value> = planned
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let platforms: Vec<&str> = lines
        .iter()
        .map(|l| l["platform"].as_str().unwrap())
        .collect();
    assert_eq!(
        platforms.iter().filter(|p| **p == "linux/arm64/v8").count(),
        1,
        "{platforms:?}"
    );
    let mut digests: Vec<&str> = lines
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    digests.sort();
    digests.dedup();
    assert_eq!(
        digests.len(),
        5,
        "`latest` is `healthy` again: {}",
        planned.stdout
    );
    for l in &lines {
        assert!(
            l["ref"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{target}/")),
            "{l}"
        );
        assert!(l["base"].as_str().unwrap().starts_with("sha256:"), "{l}");
    }
    let plan_log = access_log(&prefix).split_off(before);
    assert!(
        plan_log
            .iter()
            .all(|l| !l.contains("/blobs/") || l.contains("\"GET ")),
        "{plan_log:?}"
    );
    let plan = tmp.path().join("plan.jsonl");
    std::fs::write(&plan, &planned.stdout).unwrap();

    // Night one: two shards at once over one cache.
    let out = tmp.path().join("out");
    let before = access_log(&prefix).len();
    run_shards(&plan, &cache, &out, 2, &[]);
    let night_one = access_log(&prefix).split_off(before);
    let rows = summaries(&out);
    let mut scanned: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["digest"].as_str().unwrap(),
                r["platform"].as_str().unwrap(),
            )
        })
        .collect();
    scanned.sort();
    let mut want: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["digest"].as_str().unwrap(),
                l["platform"].as_str().unwrap(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(scanned, want, "every image exactly once");
    for r in &rows {
        assert_eq!(r["status"], "audited", "{r}");
    }
    let blob_gets = night_one.iter().filter(|l| l.contains("/blobs/")).count() as u64;
    let counted: u64 = stats(&out)
        .iter()
        .map(|s| s["registry"]["blob_requests"].as_u64().unwrap())
        .sum();
    assert!(blob_gets > 0, "night one read layers: {night_one:?}");
    assert_eq!(
        counted, blob_gets,
        "the client's counters are the registry's"
    );
    let merged = imgaudit_env(
        [
            "scan",
            "--merge",
            out.to_str().unwrap(),
            "--from",
            plan.to_str().unwrap(),
            "-f",
            "json",
        ],
        &env(c),
        None,
    );
    assert_eq!(
        merged.code, 1,
        "incident-later-run fails: {}",
        merged.stderr
    );
    let doc: Value = serde_json::from_str(&merged.stdout).unwrap();
    assert_eq!(doc["summary"]["images"], 5);
    assert_eq!(doc["summary"]["failed"], 1);

    // Night two: the same plan again, then the shards: no blob at all,
    // only the catalog, the tag lists and one HEAD per tag.
    let before = access_log(&prefix).len();
    let replanned = imgaudit_env(plan_cmd, &env(c), None);
    assert_eq!(replanned.code, 0, "{}", replanned.stderr);
    assert_eq!(replanned.stdout, planned.stdout);
    let out2 = tmp.path().join("out2");
    run_shards(&plan, &cache, &out2, 2, &[]);
    let night_two = access_log(&prefix).split_off(before);
    assert!(
        night_two
            .iter()
            .all(|l| l.contains("\"HEAD ") || l.contains("/tags/list")),
        "night two read more than HEADs and tag lists: {night_two:?}"
    );
    assert_eq!(
        night_two.iter().filter(|l| l.contains("\"HEAD ")).count(),
        5,
        "one HEAD per tag (app: 4, multi: 1): {night_two:?}"
    );
    for s in stats(&out2) {
        assert_eq!(s["registry"]["requests"], 0, "{s}");
    }
    for r in summaries(&out2) {
        assert_eq!(r["cached"], true, "{r}");
    }

    // Night three: a new image on a known base downloads only the blobs
    // no earlier image had (its new layers and its config).
    push("package-deleted", &format!("{prefix}/app:new"));
    let replanned = imgaudit_env(plan_cmd, &env(c), None);
    assert_eq!(replanned.code, 0, "{}", replanned.stderr);
    let plan3 = tmp.path().join("plan3.jsonl");
    std::fs::write(&plan3, &replanned.stdout).unwrap();
    let before = access_log(&prefix).len();
    let out_new = tmp.path().join("out-new");
    run_shards(&plan3, &cache, &out_new, 2, &[]);
    let night_three = access_log(&prefix).split_off(before);
    let rows = summaries(&out_new);
    assert_eq!(rows.len(), 6);
    assert_eq!(rows.iter().filter(|r| r["cached"] == false).count(), 1);
    let manifest_of = |tag: &str| {
        let index = read_json(&layout().join("index.json"));
        let d = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string();
        read_json(&layout().join("blobs/sha256").join(&d["sha256:".len()..]))
    };
    let layers = |m: &Value| -> Vec<String> {
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    };
    let known: Vec<String> = ["healthy", "incident-later-run", "base"]
        .iter()
        .flat_map(|t| layers(&manifest_of(t)))
        .collect();
    let new = manifest_of("package-deleted");
    let mut allowed: Vec<String> = layers(&new)
        .into_iter()
        .filter(|l| !known.contains(l))
        .collect();
    allowed.push(new["config"]["digest"].as_str().unwrap().to_string());
    let fetched: Vec<&String> = night_three
        .iter()
        .filter(|l| l.contains("/blobs/"))
        .collect();
    assert!(!fetched.is_empty());
    for l in &fetched {
        assert!(
            allowed.iter().any(|d| l.contains(d.as_str())),
            "a known blob again: {l}"
        );
    }
    assert!(
        layers(&new).iter().any(|l| known.contains(l)),
        "the new image shares layers with the old ones"
    );

    // An image deleted after the plan is an unreadable row (no result
    // cache here), and the merge says so with exit 2.
    let gone = lines
        .iter()
        .find(|l| l["ref"].as_str().unwrap().ends_with("app:base"))
        .unwrap();
    let out = Command::new("skopeo")
        .args(["delete", "--tls-verify=false"])
        .arg(format!(
            "docker://{target}/app@{}",
            gone["digest"].as_str().unwrap()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out3 = tmp.path().join("out3");
    let run = imgaudit_env(
        [
            "scan",
            "--from",
            plan.to_str().unwrap(),
            "--no-cache",
            "--out-dir",
            out3.to_str().unwrap(),
        ],
        &env(c),
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = summaries(&out3);
    assert_eq!(rows.len(), 5);
    let bad: Vec<&Value> = rows
        .iter()
        .filter(|r| r["status"] == "unreadable")
        .collect();
    assert_eq!(bad.len(), 1, "{rows:?}");
    assert_eq!(bad[0]["digest"], gone["digest"]);
    let merged = imgaudit_env(["scan", "--merge", out3.to_str().unwrap()], &env(c), None);
    assert_eq!(merged.code, 2, "{}", merged.stdout);
    // SARIF needs the per-image logs of `--sarif`: one line saying so.
    let sarif = imgaudit_env(
        ["scan", "--merge", out3.to_str().unwrap(), "-f", "sarif"],
        &env(c),
        None,
    );
    assert_eq!(sarif.code, 2);
    assert!(sarif.stderr.contains("`--sarif`"), "{}", sarif.stderr);

    // Plan, scan and merge in one go: the registry as it is now (the
    // deleted manifest took its tag with it), the gate of the night.
    let out4 = tmp.path().join("out4");
    let one_go = imgaudit_env(
        [
            "scan",
            "--registry",
            &target,
            "--cache",
            c,
            "--out-dir",
            out4.to_str().unwrap(),
            "-f",
            "json",
        ],
        &env(c),
        None,
    );
    assert_eq!(one_go.code, 1, "{}", one_go.stderr);
    let doc: Value = serde_json::from_str(&one_go.stdout).unwrap();
    assert_eq!(doc["summary"]["images"], 5, "{}", one_go.stdout);
    assert_eq!(
        doc["summary"]["cached"], 5,
        "every image was scanned before"
    );
    assert!(out4.join("summary-0.jsonl").is_file());
}

/// On a terminal the scan shows images done / total, results from the cache
/// and bytes pulled, and clears the bar before its last line. The second
/// image lives on a loopback "registry" that takes seconds to answer each
/// request (then 404), so the bar is on screen while it waits (run in tmux,
/// as the other terminal tests).
#[test]
fn the_progress_bar_counts_images_cache_hits_and_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = slow.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in slow.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                std::thread::sleep(std::time::Duration::from_secs(2));
                let _ = conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    let mut plan = plan_of(&["healthy"]);
    plan.push_str(&format!(
        "{}\n",
        serde_json::json!({
            "ref": format!("127.0.0.1:{port}/slow/app:1"),
            "digest": format!("sha256:{}", "f".repeat(64)),
            "platform": "linux/amd64",
            "base": format!("sha256:{}", "f".repeat(64)),
        })
    ));
    std::fs::write(dir.join("plan.jsonl"), plan).unwrap();
    let socket = format!("imgaudit-scan-test-{}", std::process::id());
    let script = format!(
        "cd {d} && {bin} scan --from plan.jsonl --jobs 1 --cache c --out-dir out; sleep 60",
        d = dir.display(),
        bin = bin()
    );
    let status = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "20",
        ])
        .arg(script)
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .status()
        .expect("tmux is needed for the terminal tests: run scripts/setup.sh");
    assert!(status.success());
    let screen = || {
        let out = Command::new("tmux")
            .args(["-L", &socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wait_for = |needle: &str| {
        let start = std::time::Instant::now();
        loop {
            let s = screen();
            if s.contains(needle) {
                return s;
            }
            if start.elapsed() > std::time::Duration::from_secs(20) {
                let _ = Command::new("tmux")
                    .args(["-L", &socket, "kill-server"])
                    .status();
                panic!("{needle:?} never showed:\n{s}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let during = wait_for("scanning 1/2 images");
    assert!(during.contains("0 cached, "), "{during}");
    assert!(during.contains("MiB pulled"), "{during}");
    let end = wait_for("shard 0/1: 2 images scanned");
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    assert!(end.contains("1 unreadable"), "{end}");
    assert!(!end.contains("scanning "), "the bar is cleared:\n{end}");
}
