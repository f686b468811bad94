//! The nightly scan's files (`imgaudit scan`): a plan (`--from`: one JSON
//! object per line, often a CI artifact), the order and slices its shards
//! take, and the merge of an output directory that every shard (and anyone
//! with the volume) writes: `summary-*.jsonl` and the JSON reports and
//! SARIF logs their rows name, rendered in the four formats.
//!
//! The input is split on `\n--FILE--\n`: part 0 is the plan (given to the
//! merge when it parses and is not empty), part 1 `summary-0.jsonl`, part 2
//! `summary-1.jsonl`; each later part is a file of the output directory,
//! its first line the file's name (a name that is not a plain file name is
//! skipped: the harness must not write outside its temp dir either).
//!
//! Properties beyond "no panic": every plan entry's file stem is a plain
//! file name (the run writes `<stem>.json` with it); the N slices of the
//! ordered plan are the plan, once; the merge has one report slot per row
//! and an exit code of 0–2; its text output holds no control character
//! but `\n` (a terminal shows it); its JSON and SARIF are JSON; and nothing
//! it renders comes from `secret.json`/`secret.sarif`, which lie beside
//! the output directory (a row naming `../secret.json`).
#![no_main]

use imgaudit::report::Format;
use imgaudit::scan::{merge, read_plan, shard};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SEP: &[u8] = b"\n--FILE--\n";
const SECRET: &str = "SECRET-FROM-OUTSIDE-THE-OUTPUT-DIR";

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data, SEP, 12);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let plan = read_plan(&text(parts[0]), "plan.jsonl").ok();
    if let Some(entries) = &plan {
        for e in entries {
            let stem = e
                .file_stem()
                .expect("read_plan keeps only entries with a stem");
            assert!(
                !stem.contains('/') && !stem.starts_with('.') && !stem.contains('\0'),
                "{stem:?}"
            );
        }
        let ordered = shard::order(entries.clone());
        for count in [1, 2, 3, 7] {
            let mut seen = Vec::new();
            for index in 0..count {
                seen.extend_from_slice(shard::slice(&ordered, shard::Shard { index, count }));
            }
            assert_eq!(seen, ordered, "{count} shards");
        }
    }

    let Ok(root) = tempfile::tempdir() else {
        return;
    };
    let secret = format!(r#"{{"runs":[{{"{SECRET}":1}}],"findings":[{{"rule":"{SECRET}"}}]}}"#);
    let out = root.path().join("out");
    if std::fs::create_dir(&out).is_err()
        || std::fs::write(root.path().join("secret.json"), &secret).is_err()
        || std::fs::write(root.path().join("secret.sarif"), &secret).is_err()
    {
        return;
    }
    for (i, part) in parts.iter().enumerate().skip(1) {
        let (name, body) = match i {
            1 | 2 => (format!("summary-{}.jsonl", i - 1), *part),
            _ => {
                let (name, body) = match part.iter().position(|&b| b == b'\n') {
                    Some(n) => (&part[..n], &part[n + 1..]),
                    None => (&part[..], &b""[..]),
                };
                let Ok(name) = std::str::from_utf8(name) else {
                    continue;
                };
                if name.is_empty()
                    || name.len() > 64
                    || name.contains(['/', '\0'])
                    || name.starts_with('.')
                {
                    continue;
                }
                (name.to_string(), body)
            }
        };
        if std::fs::write(out.join(name), body).is_err() {
            return;
        }
    }

    let plan = plan.filter(|p| !p.is_empty());
    let Ok(merged) = merge::load(&out, plan.as_deref()) else {
        return;
    };
    assert_eq!(merged.rows.len(), merged.reports.len());
    assert!(merged.exit_code() <= 2);
    // The input may carry the marker itself; only then may an output.
    let planted = data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    for format in [Format::Text, Format::Json, Format::Sarif, Format::Junit] {
        let Ok(body) = merged.render(format, &out) else {
            continue;
        };
        assert!(
            planted || !body.contains(SECRET),
            "{format:?} read outside the directory"
        );
        match format {
            Format::Text => assert!(
                !body.chars().any(|c| c.is_control() && c != '\n'),
                "a control character in the text output: {body:?}"
            ),
            Format::Json | Format::Sarif => {
                serde_json::from_str::<serde_json::Value>(&body).expect("the merge writes JSON");
            }
            Format::Junit => assert!(body.starts_with("<?xml")),
        }
    }
});
