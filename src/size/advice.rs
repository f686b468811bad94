//! Slimming advice: what a user could delete from the final filesystem, the
//! exact bytes each step would free, and a `RUN` line that does exactly that.
//!
//! What it owns: the list of safe deletions from the brief
//! (`size-and-speed.md`, "Slimming advice"), matched in one walk of the
//! merged tree. What it does not do: report what must *not* be deleted — a
//! layer that already deleted metadata, `pyvenv.cfg` or an interpreter is the
//! finding `required-file-deleted` (`src/checks/required_file_deleted.rs`);
//! this module only lists those paths as text ([`MUST_STAY`]).
//!
//! Exactness: every rule is data (`RULES`) from which both the matcher and
//! the `RUN` line are generated, so the bytes reported are the bytes the
//! command frees:
//!
//! - `find` steps use `-path`/`-name` patterns with `fnmatch(3)` semantics
//!   (no `FNM_PATHNAME`: `*` matches `/`), reproduced with `globset` and
//!   `literal_separator(false)`; directory steps `-prune`, so nothing inside
//!   a matched directory is matched again; `-type d`/`-type f` never follow
//!   symlinks, nor does the walk.
//! - `rm -rf` steps use shell globs: `*` matches one component that does not
//!   start with a dot.
//! - A file's bytes are freed only when every hard link to its content is
//!   deleted, so content shared with a path the step keeps is not counted.
//! - Bytes are attributed to the layer that holds them: a deletion frees
//!   space only when it runs in that layer's `RUN` (a later `RUN` only hides
//!   the bytes, adding waste).

use std::collections::HashMap;

use globset::{GlobBuilder, GlobMatcher};
use serde::Serialize;

use crate::image::Image;
use crate::tree::{ContentId, Kind, MergedTree, Node, WalkEvent, ROOT};

/// What must stay in a final image, whatever the slimming.
pub const MUST_STAY: &[&str] = &[
    "`*.dist-info/` and `*.egg-info/`: entry points, `importlib.metadata`, plugin discovery, pip, SBOM and vulnerability scanners read them",
    "`bin/` launchers (console scripts) and the interpreter named in their shebang",
    "`pyvenv.cfg` of every virtual environment",
    "the interpreter and its standard library",
    "shared libraries that extension modules link (`*.so*`, including the `<pkg>.libs/` dirs wheels vendor)",
    "a `.pyc` whose `.py` is absent: it is the code (sourceless packages)",
];

/// The finding that reports a layer deleting something in [`MUST_STAY`].
pub const MUST_STAY_RULE: &str = "required-file-deleted";

/// Example paths kept per advice item.
pub const MAX_EXAMPLES: usize = 5;

/// Above this many search roots a `find` step searches `/ -xdev` instead.
const MAX_SCOPES: usize = 6;

/// Patterns that exclude Python metadata from package-level rules.
const META: &[&str] = &["*.dist-info/*", "*.egg-info/*"];

/// One way to select roots (paths to delete).
#[derive(Debug)]
enum Matcher {
    /// `find SCOPE -type d ( -name N -o -path P … ) ! -path X … -prune -exec rm -rf {} +`
    Dirs {
        names: &'static [&'static str],
        paths: &'static [&'static str],
        not_paths: &'static [&'static str],
    },
    /// `find SCOPE -type f ( -name N -o -path P … ) ! -path X … ! -name Y … -delete`;
    /// with `need_source`, only files whose name minus its last character
    /// exists (`foo.pyc` → `foo.py`).
    Files {
        names: &'static [&'static str],
        paths: &'static [&'static str],
        not_paths: &'static [&'static str],
        not_names: &'static [&'static str],
        need_source: bool,
    },
    /// `rm -rf GLOB …` (shell globs).
    Globs(&'static [&'static str]),
    /// `find DIR … -mindepth 1 -maxdepth 1 ! -name X … -exec rm -rf {} +`
    /// for every directory matching a shell glob.
    Children {
        dirs: &'static [&'static str],
        except: &'static [&'static str],
    },
}

/// Where a `find` step searches.
#[derive(Debug)]
enum Scope {
    /// The Python prefixes (`/opt/venv`, `/usr/local`) or top directories
    /// holding what matched.
    Auto,
    /// These directories.
    Fixed(&'static [&'static str]),
}

#[derive(Debug)]
struct Step {
    matcher: Matcher,
    scope: Scope,
}

/// One slimming rule.
#[derive(Debug)]
struct Rule {
    id: &'static str,
    what: &'static str,
    note: &'static str,
    steps: &'static [Step],
}

const fn dirs(names: &'static [&'static str], paths: &'static [&'static str]) -> Step {
    Step {
        matcher: Matcher::Dirs {
            names,
            paths,
            not_paths: META,
        },
        scope: Scope::Auto,
    }
}

/// The rules, in report order. Ids are stable (JSON consumers key on them).
const RULES: &[Rule] = &[
    Rule {
        id: "pycache",
        what: "Python bytecode: `__pycache__/` and `*.pyc`/`*.pyo` next to their source",
        note: "costs start-up time, not correctness; set `PYTHONDONTWRITEBYTECODE=1` so nothing writes them back",
        steps: &[
            Step {
                matcher: Matcher::Dirs {
                    names: &["__pycache__"],
                    paths: &[],
                    not_paths: &[],
                },
                scope: Scope::Auto,
            },
            Step {
                matcher: Matcher::Files {
                    names: &["*.py[co]"],
                    paths: &[],
                    not_paths: &[],
                    not_names: &[],
                    need_source: true,
                },
                scope: Scope::Auto,
            },
        ],
    },
    Rule {
        id: "package-tests",
        what: "test suites inside installed packages (`tests/`, `test/`)",
        note: "check nothing imports them; `imgaudit audit` treats their absence from RECORD as slimming, not `record-missing-file`",
        steps: &[dirs(&[], &["*-packages/*/tests", "*-packages/*/test"])],
    },
    Rule {
        id: "package-docs",
        what: "documentation inside installed packages (`docs/`, `doc/`, `examples/`, `*.md`, `*.rst`)",
        note: "check nothing imports them; `imgaudit audit` treats their absence from RECORD as slimming, not `record-missing-file`",
        steps: &[
            dirs(
                &[],
                &["*-packages/*/docs", "*-packages/*/doc", "*-packages/*/examples"],
            ),
            Step {
                matcher: Matcher::Files {
                    names: &[],
                    paths: &["*-packages/*.md", "*-packages/*.rst"],
                    not_paths: META,
                    not_names: &[],
                    need_source: false,
                },
                scope: Scope::Auto,
            },
        ],
    },
    Rule {
        id: "system-docs",
        what: "system documentation (`/usr/share/doc` but its `copyright` files, `/usr/share/man`, `/usr/share/info`)",
        note: "the `copyright` files stay: they are the licence evidence",
        steps: &[
            Step {
                matcher: Matcher::Files {
                    names: &[],
                    paths: &["/usr/share/doc/*"],
                    not_paths: &[],
                    not_names: &["copyright"],
                    need_source: false,
                },
                scope: Scope::Fixed(&["/usr/share/doc"]),
            },
            Step {
                matcher: Matcher::Globs(&["/usr/share/man", "/usr/share/info"]),
                scope: Scope::Auto,
            },
        ],
    },
    Rule {
        id: "c-headers",
        what: "C headers (`include/` directories, `*.h`, `*.hpp`)",
        note: "only needed to compile; keep them if something compiles at run time (torch.compile/Triton, cffi, numba); `imgaudit audit` treats their absence from RECORD as slimming",
        steps: &[
            Step {
                matcher: Matcher::Dirs {
                    names: &["include"],
                    paths: &[],
                    not_paths: &[],
                },
                scope: Scope::Auto,
            },
            Step {
                matcher: Matcher::Files {
                    names: &["*.h", "*.hpp"],
                    paths: &[],
                    not_paths: &[],
                    not_names: &[],
                    need_source: false,
                },
                scope: Scope::Auto,
            },
        ],
    },
    Rule {
        id: "static-libs",
        what: "static libraries (`*.a`)",
        note: "only needed to link; nothing loads them at run time",
        steps: &[Step {
            matcher: Matcher::Files {
                names: &["*.a"],
                paths: &[],
                not_paths: &[],
                not_names: &[],
                need_source: false,
            },
            scope: Scope::Auto,
        }],
    },
    Rule {
        id: "build-toolchain",
        what: "a C compiler left in a runtime stage (`/usr/lib/gcc`, `/usr/libexec/gcc`)",
        note: "better: build in one stage and copy the result into a runtime stage, or `apt-get purge --auto-remove` the compiler",
        steps: &[Step {
            matcher: Matcher::Globs(&["/usr/lib/gcc", "/usr/libexec/gcc"]),
            scope: Scope::Auto,
        }],
    },
    Rule {
        id: "pip-cache",
        what: "pip's download and wheel cache",
        note: "better: `pip install --no-cache-dir`, or `RUN --mount=type=cache,target=/root/.cache/pip`",
        steps: &[Step {
            matcher: Matcher::Globs(&["/root/.cache/pip", "/home/*/.cache/pip"]),
            scope: Scope::Auto,
        }],
    },
    Rule {
        id: "user-caches",
        what: "other caches in home directories (`~/.cache/*` but pip's)",
        note: "check nothing reads them at run time: a model cache (e.g. `huggingface`) is data, not waste",
        steps: &[Step {
            matcher: Matcher::Children {
                dirs: &["/root/.cache", "/home/*/.cache"],
                except: &["pip"],
            },
            scope: Scope::Auto,
        }],
    },
    Rule {
        id: "apt-cache",
        what: "apt's package cache (`/var/cache/apt`)",
        note: "apt recreates it on the next `apt-get update`",
        steps: &[Step {
            matcher: Matcher::Globs(&["/var/cache/apt/*"]),
            scope: Scope::Auto,
        }],
    },
    Rule {
        id: "apt-lists",
        what: "apt's package lists (`/var/lib/apt/lists`)",
        note: "run `apt-get update` again before any later `apt-get install`",
        steps: &[Step {
            matcher: Matcher::Globs(&["/var/lib/apt/lists/*"]),
            scope: Scope::Auto,
        }],
    },
    Rule {
        id: "tmp",
        what: "temporary files (`/tmp`, `/var/tmp`)",
        note: "nothing in an image should rely on them",
        steps: &[Step {
            matcher: Matcher::Globs(&["/tmp/*", "/var/tmp/*"]),
            scope: Scope::Auto,
        }],
    },
];

/// One slimming step and what it would save.
#[derive(Clone, Debug, Serialize)]
pub struct Advice {
    /// Stable id (`pycache`, `package-tests`, …).
    pub id: &'static str,
    /// What it deletes, for people.
    pub what: &'static str,
    /// Bytes freed when the `run` line ends the `RUN` that created the
    /// files: content whose every hard link is deleted, each content once.
    pub bytes: u64,
    /// Regular-file paths deleted (every hard link counted).
    pub files: u64,
    /// How many paths the step deletes at the top (directories count once).
    pub roots: usize,
    /// The largest deleted paths (at most [`MAX_EXAMPLES`]).
    pub examples: Vec<PathBytes>,
    /// The patterns, `find`-style (`-name`/`-path`) or shell globs.
    pub patterns: Vec<String>,
    /// One `RUN` line that deletes exactly what is counted here.
    pub run: String,
    /// Where the bytes are: per layer, bottom first, only layers with bytes.
    pub by_layer: Vec<LayerBytes>,
    /// Caveat or better alternative.
    pub note: &'static str,
}

/// A path and the bytes it frees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathBytes {
    /// Absolute path in the image.
    pub path: String,
    /// Bytes freed by deleting it (see [`Advice::bytes`]).
    pub bytes: u64,
    /// Regular files under it (itself, for a file).
    pub files: u64,
}

/// Bytes held by one layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerBytes {
    /// 0-based layer index.
    pub layer: usize,
    /// The layer's `created_by`, when known.
    pub created_by: Option<String>,
    /// Bytes.
    pub bytes: u64,
}

/// A compiled `find` step.
struct FindTests {
    dir: bool,
    need_source: bool,
    names: Vec<GlobMatcher>,
    paths: Vec<GlobMatcher>,
    not_paths: Vec<GlobMatcher>,
    not_names: Vec<GlobMatcher>,
}

fn glob(p: &str) -> GlobMatcher {
    // fnmatch(3) without FNM_PATHNAME, as `find -path`/`-name`: `*` and `?`
    // match `/` too.
    GlobBuilder::new(p)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .expect("advice patterns are valid globs")
        .compile_matcher()
}

fn globs(ps: &[&str]) -> Vec<GlobMatcher> {
    ps.iter().map(|p| glob(p)).collect()
}

/// A shell glob split in components: `None` is `*`.
type ShGlob = Vec<Option<&'static str>>;

fn sh_glob(p: &'static str) -> ShGlob {
    p.split('/')
        .filter(|c| !c.is_empty())
        .map(|c| (c != "*").then_some(c))
        .collect()
}

/// Does `path` match a shell glob (`*` = one component not starting with a
/// dot)?
fn sh_match(pattern: &ShGlob, path: &str) -> bool {
    let mut comps = path.split('/').filter(|c| !c.is_empty());
    let mut n = 0;
    for p in pattern {
        let Some(c) = comps.next() else {
            return false;
        };
        let ok = match p {
            Some(lit) => c == *lit,
            None => !c.starts_with('.'),
        };
        if !ok {
            return false;
        }
        n += 1;
    }
    n == pattern.len() && comps.next().is_none()
}

enum Compiled {
    Find(FindTests),
    Globs(Vec<ShGlob>),
    Children(Vec<ShGlob>, &'static [&'static str]),
}

impl Compiled {
    fn new(m: &Matcher) -> Compiled {
        match m {
            Matcher::Dirs {
                names,
                paths,
                not_paths,
            } => Compiled::Find(FindTests {
                dir: true,
                need_source: false,
                names: globs(names),
                paths: globs(paths),
                not_paths: globs(not_paths),
                not_names: Vec::new(),
            }),
            Matcher::Files {
                names,
                paths,
                not_paths,
                not_names,
                need_source,
            } => Compiled::Find(FindTests {
                dir: false,
                need_source: *need_source,
                names: globs(names),
                paths: globs(paths),
                not_paths: globs(not_paths),
                not_names: globs(not_names),
            }),
            Matcher::Globs(gs) => Compiled::Globs(gs.iter().map(|g| sh_glob(g)).collect()),
            Matcher::Children { dirs, except } => {
                Compiled::Children(dirs.iter().map(|g| sh_glob(g)).collect(), except)
            }
        }
    }

    /// Is the node at `path` (named `name`, of `kind`) a root of this step?
    fn matches(&self, tree: &MergedTree, path: &str, name: &str, kind: Kind) -> bool {
        match self {
            Compiled::Find(t) => {
                let typed = if t.dir {
                    kind == Kind::Dir
                } else {
                    kind == Kind::File
                };
                typed
                    && (t.names.iter().any(|g| g.is_match(name))
                        || t.paths.iter().any(|g| g.is_match(path)))
                    && !t.not_paths.iter().any(|g| g.is_match(path))
                    && !t.not_names.iter().any(|g| g.is_match(name))
                    // `[ -e "${f%?}" ]`: the name minus its last character
                    // exists (following symlinks, as `test -e` does).
                    && (!t.need_source || tree.stat(&path[..path.len() - 1]).is_ok())
            }
            Compiled::Globs(gs) => gs.iter().any(|g| sh_match(g, path)),
            Compiled::Children(dirs, except) => {
                let parent = &path[..path.len() - name.len() - 1];
                !except.contains(&name) && dirs.iter().any(|d| sh_match(d, parent))
            }
        }
    }
}

/// A matched root of one step.
struct Root {
    path: String,
    step: usize,
    files: u64,
    bytes: u64,
}

/// What one rule collected during the walk.
#[derive(Default)]
struct Acc {
    roots: Vec<Root>,
    files: u64,
    /// content → (links under the rule's roots, root that saw it first, size).
    contents: HashMap<ContentId, (u32, usize, u64)>,
}

struct Walk<'a> {
    tree: &'a MergedTree,
    compiled: Vec<Vec<Compiled>>,
    /// Live links per content in the whole tree.
    links: HashMap<ContentId, u32>,
    /// Links per content deleted by at least one rule, with the size.
    union: HashMap<ContentId, (u32, u64)>,
    accs: Vec<Acc>,
    /// The innermost root of each rule above the current node.
    active: Vec<Option<usize>>,
}

impl Walk<'_> {
    /// Visit one node on the way down: open the roots it starts, count its
    /// content under every open root. Returns the rules it opened.
    fn enter(&mut self, path: &str, node: &Node) -> Vec<usize> {
        let tree = self.tree;
        let name = &path[path.rfind('/').map_or(0, |i| i + 1)..];
        let mut opened = Vec::new();
        // A path longer than PATH_MAX cannot be named in a `RUN` line (the
        // kernel refuses it with `ENAMETOOLONG`), so no step matches it;
        // skipping the pattern tests there also keeps a 100,000-deep
        // directory chain linear (every test reads the whole path).
        let nameable = path.len() <= PATH_MAX;
        for (r, steps) in self.compiled.iter().enumerate() {
            if !nameable || self.active[r].is_some() {
                continue; // pruned: `find -prune`, or inside an `rm -rf`
            }
            if let Some(step) = steps
                .iter()
                .position(|s| s.matches(tree, path, name, node.kind))
            {
                let acc = &mut self.accs[r];
                acc.roots.push(Root {
                    path: path.to_string(),
                    step,
                    files: 0,
                    bytes: 0,
                });
                self.active[r] = Some(acc.roots.len() - 1);
                opened.push(r);
            }
        }
        if let (Kind::File, Some(c)) = (node.kind, node.content) {
            *self.links.entry(c).or_default() += 1;
            let mut any = false;
            for (r, a) in self.active.iter().enumerate() {
                let Some(root) = *a else { continue };
                any = true;
                let acc = &mut self.accs[r];
                acc.files += 1;
                acc.roots[root].files += 1;
                acc.contents.entry(c).or_insert((0, root, node.size)).0 += 1;
            }
            if any {
                self.union.entry(c).or_insert((0, node.size)).0 += 1;
            }
        }
        opened
    }

    /// Walk the whole tree, iteratively (see [`MergedTree::walk_events`]):
    /// the roots a node opened close when the walk leaves it.
    fn walk(&mut self) {
        let tree = self.tree;
        // Rules opened by each directory still open, innermost last.
        let mut opened_by: Vec<Vec<usize>> = Vec::new();
        tree.walk_events(ROOT, |event, path, _, node| {
            let closing = match event {
                WalkEvent::Enter => {
                    let opened = self.enter(path, node);
                    if node.kind == Kind::Dir {
                        opened_by.push(opened);
                        return;
                    }
                    opened
                }
                WalkEvent::Leave => opened_by.pop().unwrap_or_default(),
            };
            for r in closing {
                self.active[r] = None;
            }
        });
    }
}

/// Linux's `PATH_MAX`, the longest path a syscall accepts.
const PATH_MAX: usize = 4096;

/// Scan the merged tree once: the advice items that would save something,
/// largest first (ties by id), and the bytes all of them together would
/// free (each content once, only when every link is deleted).
pub fn advise(image: &Image) -> (Vec<Advice>, u64) {
    let tree = &image.tree;
    let mut w = Walk {
        tree,
        compiled: RULES
            .iter()
            .map(|r| r.steps.iter().map(|s| Compiled::new(&s.matcher)).collect())
            .collect(),
        links: HashMap::new(),
        union: HashMap::new(),
        accs: RULES.iter().map(|_| Acc::default()).collect(),
        active: vec![None; RULES.len()],
    };
    w.walk();

    let freed = |c: &ContentId, n: u32| w.links.get(c).copied().unwrap_or(0) == n;
    let total: u64 = w
        .union
        .iter()
        .filter(|(c, (n, _))| freed(c, *n))
        .map(|(_, (_, size))| size)
        .sum();

    let mut out = Vec::new();
    for (rule, acc) in RULES.iter().zip(&mut w.accs) {
        if acc.roots.is_empty() {
            continue;
        }
        let mut by_layer = vec![0u64; image.layers.len()];
        let mut bytes = 0u64;
        for (c, (n, root, size)) in &acc.contents {
            if !freed(c, *n) {
                continue; // another link outside the step keeps the bytes
            }
            bytes += size;
            acc.roots[*root].bytes += size;
            if let Some(b) = tree
                .contents
                .get(c.0 as usize)
                .and_then(|content| by_layer.get_mut(content.layer as usize))
            {
                *b += size;
            }
        }
        if bytes == 0 && acc.files == 0 {
            continue; // only empty directories or symlinks
        }
        let run = run_line(rule, &acc.roots);
        let mut roots: Vec<&Root> = acc.roots.iter().collect();
        roots.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        out.push(Advice {
            id: rule.id,
            what: rule.what,
            bytes,
            files: acc.files,
            roots: roots.len(),
            examples: roots
                .iter()
                .take(MAX_EXAMPLES)
                .map(|r| PathBytes {
                    path: r.path.clone(),
                    bytes: r.bytes,
                    files: r.files,
                })
                .collect(),
            patterns: patterns(rule),
            run,
            by_layer: by_layer
                .iter()
                .enumerate()
                .filter(|(_, b)| **b > 0)
                .map(|(i, b)| LayerBytes {
                    layer: i,
                    created_by: image.layers[i].created_by.clone(),
                    bytes: *b,
                })
                .collect(),
            note: rule.note,
        });
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.id.cmp(b.id)));
    (out, total)
}

/// Quote for `sh` (single quotes; `'` as `'\''`), bare when safe.
fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The directory a `find` step searches for a root: the Python prefix it
/// lives under (`/opt/venv` for `/opt/venv/lib/python3.11/…`), else its
/// first two components.
fn scope_of(path: &str) -> String {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if let Some(i) = comps
        .windows(2)
        .position(|w| w[0] == "lib" && w[1].starts_with("python"))
    {
        if i > 0 {
            return format!("/{}", comps[..i].join("/"));
        }
    }
    format!("/{}", comps[..comps.len().min(2)].join("/"))
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Minimal set of directories covering every root (none nested in another).
fn minimal_scopes(mut scopes: Vec<String>) -> Vec<String> {
    scopes.sort();
    scopes.dedup();
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !out.iter().any(|o| under(&s, o)) {
            out.push(s);
        }
    }
    out
}

fn find_tests(t: &Matcher) -> String {
    let (names, paths, not_paths, not_names): (&[&str], &[&str], &[&str], &[&str]) = match t {
        Matcher::Dirs {
            names,
            paths,
            not_paths,
        } => (names, paths, not_paths, &[]),
        Matcher::Files {
            names,
            paths,
            not_paths,
            not_names,
            ..
        } => (names, paths, not_paths, not_names),
        _ => unreachable!("only find steps have tests"),
    };
    let any: Vec<String> = names
        .iter()
        .map(|n| format!("-name {}", sh_quote(n)))
        .chain(paths.iter().map(|p| format!("-path {}", sh_quote(p))))
        .collect();
    let mut s = if any.len() == 1 {
        any[0].clone()
    } else {
        format!("\\( {} \\)", any.join(" -o "))
    };
    for p in not_paths {
        s.push_str(&format!(" ! -path {}", sh_quote(p)));
    }
    for n in not_names {
        s.push_str(&format!(" ! -name {}", sh_quote(n)));
    }
    s
}

/// The `RUN` line for a rule: one command per step that matched something,
/// joined with `&&`.
fn run_line(rule: &Rule, roots: &[Root]) -> String {
    let mut cmds = Vec::new();
    for (i, step) in rule.steps.iter().enumerate() {
        let mine: Vec<&Root> = roots.iter().filter(|r| r.step == i).collect();
        if mine.is_empty() {
            continue;
        }
        match &step.matcher {
            m @ (Matcher::Dirs { .. } | Matcher::Files { .. }) => {
                let scopes = match step.scope {
                    Scope::Auto => minimal_scopes(mine.iter().map(|r| scope_of(&r.path)).collect()),
                    Scope::Fixed(dirs) => dirs
                        .iter()
                        .filter(|d| mine.iter().any(|r| under(&r.path, d)))
                        .map(|d| d.to_string())
                        .collect(),
                };
                let start = if scopes.len() > MAX_SCOPES {
                    "/ -xdev".to_string()
                } else {
                    scopes
                        .iter()
                        .map(|s| sh_quote(s))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let tests = find_tests(m);
                cmds.push(match m {
                    Matcher::Dirs { .. } => {
                        format!("find {start} -type d {tests} -prune -exec rm -rf {{}} +")
                    }
                    Matcher::Files {
                        need_source: true, ..
                    } => format!(
                        "find {start} -type f {tests} -exec sh -c 'for f; do [ ! -e \"${{f%?}}\" ] || rm -f \"$f\"; done' sh {{}} +"
                    ),
                    _ => format!("find {start} -type f {tests} -delete"),
                });
            }
            Matcher::Globs(gs) => {
                let used: Vec<String> = gs
                    .iter()
                    .filter(|g| {
                        let c = sh_glob(g);
                        mine.iter().any(|r| sh_match(&c, &r.path))
                    })
                    .map(|g| g.to_string())
                    .collect();
                cmds.push(format!("rm -rf {}", used.join(" ")));
            }
            Matcher::Children { except, .. } => {
                let mut parents: Vec<String> = mine
                    .iter()
                    .map(|r| r.path.rsplit_once('/').map_or("/", |(p, _)| p).to_string())
                    .collect();
                parents.sort();
                parents.dedup();
                let quoted: Vec<String> = parents.iter().map(|p| sh_quote(p)).collect();
                let not: String = except
                    .iter()
                    .map(|e| format!(" ! -name {}", sh_quote(e)))
                    .collect();
                cmds.push(format!(
                    "find {} -mindepth 1 -maxdepth 1{not} -exec rm -rf {{}} +",
                    quoted.join(" ")
                ));
            }
        }
    }
    format!("RUN {}", cmds.join(" && "))
}

/// The rule's patterns, for people: `find` tests or shell globs.
fn patterns(rule: &Rule) -> Vec<String> {
    rule.steps
        .iter()
        .map(|s| match &s.matcher {
            m @ Matcher::Dirs { .. } => format!("-type d {} (and everything under)", find_tests(m)),
            m @ Matcher::Files { need_source, .. } => {
                let scope = match s.scope {
                    Scope::Fixed(d) => format!(" under {}", d.join(", ")),
                    Scope::Auto => String::new(),
                };
                let src = if *need_source {
                    " (only when the source `.py` exists)"
                } else {
                    ""
                };
                format!("-type f {}{scope}{src}", find_tests(m))
            }
            Matcher::Globs(gs) => gs.join(" "),
            Matcher::Children { dirs, except } => format!(
                "{} (every entry but {})",
                dirs.iter()
                    .map(|d| format!("{d}/*"))
                    .collect::<Vec<_>>()
                    .join(" "),
                except.join(", ")
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_globs() {
        // (pattern, path, matches)
        let cases = [
            ("/tmp/*", "/tmp/x", true),
            ("/tmp/*", "/tmp/.hidden", false), // `*` skips dot names
            ("/tmp/*", "/tmp/x/y", false),     // one component only
            ("/tmp/*", "/tmp", false),
            ("/home/*/.cache/pip", "/home/u/.cache/pip", true),
            ("/home/*/.cache/pip", "/home/.u/.cache/pip", false),
            ("/root/.cache/pip", "/root/.cache/pip", true),
        ];
        for (p, path, want) in cases {
            assert_eq!(sh_match(&sh_glob(p), path), want, "{p} {path}");
        }
    }

    #[test]
    fn find_globs_cross_slashes() {
        // `find -path` is fnmatch without FNM_PATHNAME: `*` matches `/`.
        let g = glob("*-packages/*/tests");
        assert!(g.is_match("/opt/venv/lib/python3.11/site-packages/pkg/tests"));
        assert!(g.is_match("/usr/lib/python3/dist-packages/a/b/tests"));
        assert!(!g.is_match("/opt/venv/lib/python3.11/site-packages/tests"));
        assert!(glob("*.dist-info/*").is_match("/x/site-packages/a-1.dist-info/LICENSE.md"));
        assert!(glob("*.py[co]").is_match("mod.pyc"));
        assert!(!glob("*.py[co]").is_match("mod.py"));
    }

    #[test]
    fn scopes() {
        // (root, scope)
        let cases = [
            (
                "/opt/venv/lib/python3.11/site-packages/a/__pycache__",
                "/opt/venv",
            ),
            (
                "/usr/local/lib/python3.11/site-packages/a/tests",
                "/usr/local",
            ),
            ("/usr/lib/python3.11/__pycache__", "/usr"),
            ("/usr/include", "/usr/include"),
            ("/usr/lib/x86_64-linux-gnu/libz.a", "/usr/lib"),
            ("/x.h", "/x.h"),
        ];
        for (root, want) in cases {
            assert_eq!(scope_of(root), want, "{root}");
        }
        assert_eq!(
            minimal_scopes(vec![
                "/usr/local".into(),
                "/usr".into(),
                "/opt/venv".into(),
                "/usr".into()
            ]),
            vec!["/opt/venv".to_string(), "/usr".to_string()]
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/opt/venv"), "/opt/venv");
        assert_eq!(sh_quote("*.pyc"), "'*.pyc'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
