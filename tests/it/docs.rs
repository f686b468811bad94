//! The docs run: every `$ imgaudit …` example in `docs/rules.md` is run
//! against the built binary and must print what the doc shows, so the doc
//! fails this test the day it drifts from the real output (issue 8).
//!
//! An example is a fenced block whose first line is `$ imgaudit ARGS`; the
//! rest of the block is the expected stdout. A line `[… …]` stands for any
//! number of lines (the doc's elisions), up to the next expected line.

use std::path::Path;

use crate::util::imgaudit_in;

/// `(command line, expected lines)` of every example in `doc`.
fn examples(doc: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```") {
            let mut block: Vec<String> = Vec::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                block.push(l.to_string());
            }
            if let Some(cmd) = block.first().and_then(|l| l.strip_prefix("$ imgaudit")) {
                out.push((cmd.trim().to_string(), block[1..].to_vec()));
            }
        }
    }
    out
}

fn is_elision(line: &str) -> bool {
    line.starts_with("[…") && line.ends_with(']')
}

/// Does `actual` match `expected`, elisions included? `Err` says where not
/// (the first mismatch of the closest attempt).
fn matches(expected: &[String], actual: &[&str]) -> Result<(), String> {
    match (expected.first(), actual.first()) {
        (None, None) => Ok(()),
        (None, Some(a)) => Err(format!("imgaudit printed more: {a}")),
        (Some(e), _) if is_elision(e) => {
            // An elision swallows any number of lines: try every split,
            // shortest first (outputs are a few dozen lines).
            let mut first_err = None;
            for skip in 0..=actual.len() {
                match matches(&expected[1..], &actual[skip..]) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            Err(first_err.unwrap_or_default())
        }
        (Some(e), None) => Err(format!("output ends before: {e}")),
        (Some(e), Some(a)) if e == a => matches(&expected[1..], &actual[1..]),
        (Some(e), Some(a)) => Err(format!("the doc says\n  {e}\nbut imgaudit printed\n  {a}")),
    }
}

#[test]
fn matcher_handles_elisions() {
    let doc = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(matches(&doc("a\n[… more …]\nd"), &["a", "b", "c", "d"]).is_ok());
    assert!(matches(&doc("a\nb"), &["a", "b"]).is_ok());
    assert!(matches(&doc("a\nb"), &["a", "c"]).is_err());
    assert!(matches(&doc("a"), &["a", "b"]).is_err());
    assert!(matches(&doc("a\n[…]\nz"), &["a", "b"]).is_err());
    // An elision followed by a blank line does not stop at the first blank.
    assert!(matches(&doc("[… x …]\n\nz"), &["a", "", "b", "", "z"]).is_ok());
}

#[test]
fn rules_md_examples_match_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/rules.md")).unwrap();
    let examples = examples(&doc);
    assert!(
        examples.len() >= 13,
        "found only {} examples",
        examples.len()
    );
    let mut drifted = Vec::new();
    for (cmd, expected) in &examples {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        let out = imgaudit_in(Some(root), &args, None);
        let actual: Vec<&str> = out.stdout.lines().collect();
        if let Err(why) = matches(expected, &actual) {
            drifted.push(format!("$ imgaudit {cmd}\n{why}"));
        }
    }
    assert!(
        drifted.is_empty(),
        "docs/rules.md drifted from the binary:\n\n{}",
        drifted.join("\n\n")
    );
}
