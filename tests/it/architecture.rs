//! The module graph stays a DAG, and the input side names no Python layout
//! (issue 8: "no import cycle between top-level modules; no Python layout
//! string in `source`, `layer`, `overlay`, `tree`, `image`").
//!
//! The graph is read from the source text: every `crate::<module>` path in
//! `src/**/*.rs` (in `use` items, inline paths and doc links; plain
//! comments excluded) is an
//! edge from the top-level module of the file to `<module>`. `lib.rs` and
//! `main.rs` are the roots and not part of the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/checks/x.rs` → `checks`.
fn top_module(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// Code of a file without plain `//` comments. Doc comments stay: a
/// `crate::x` path there is a rustdoc link, and a doc that points up the
/// flow is as much a knot as an import.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if l[i..].starts_with("///") || l[i..].starts_with("//!") => l,
            // Keep `//` inside string literals such as URLs: only cut when
            // the line has no quote before the comment.
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module → the top-level modules it names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = top_module(file) else {
            continue;
        };
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let deps = graph.entry(from.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            // `imgaudit::crate::` cannot occur; skip `$crate::` in macros.
            if code[..i].ends_with('$') {
                continue;
            }
            let rest = &code[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name != from && modules.contains(&name) {
                deps.insert(name);
            }
            // `use crate::{a, b::c}`: every name in the group.
            if rest.starts_with('{') {
                let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
                for item in group.split(',') {
                    let name = item.trim().split("::").next().unwrap_or("").trim();
                    if name != from && modules.contains(name) {
                        deps.insert(name.to_string());
                    }
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if any, as the list of modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::Active);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Active => {
                    let start = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn find_cycle_finds_cycles() {
    // The checker itself: a → b → c → a is found, a DAG is not.
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("a", "c"), ("b", "c")])),
        None
    );
}

#[test]
fn module_graph_is_acyclic() {
    let graph = module_graph();
    // The graph was read at all: the analyzers depend on the vocabulary.
    assert!(graph["checks"].contains("diag"), "{graph:?}");
    assert!(graph["finding"].contains("diag"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between top-level modules: {}\nfull graph: {graph:#?}",
            cycle.join(" → ")
        );
    }
    // The bottom of the analyzer layer depends on nothing in the crate.
    assert!(
        graph["diag"].is_empty(),
        "diag depends on {:?}",
        graph["diag"]
    );
}

#[test]
fn input_side_names_no_python_layout() {
    const LAYOUT: &[&str] = &[
        "dist-info",
        "egg-info",
        "pyvenv",
        "site-packages",
        "-packages/",
    ];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut hits = Vec::new();
    for file in files {
        let Some(module) = top_module(&file) else {
            continue;
        };
        if ![
            "source", "layer", "overlay", "tree", "image", "extract", "cache",
        ]
        .contains(&module.as_str())
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(s) = LAYOUT.iter().find(|s| line.contains(*s)) {
                hits.push(format!("{}:{}: `{s}`", file.display(), n + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "Python layout on the input side:\n{}",
        hits.join("\n")
    );
}
