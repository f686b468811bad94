//! The Python facts of an image, gathered once: every environment with its
//! distributions and its launchers.
//!
//! This module owns the walk from the merged tree to [`EnvFacts`] (formerly in
//! `audit.rs`): environments by [`super::env::discover`], distributions by
//! [`super::dist::load_site_dir`], launchers by classifying the head of each
//! file in a `bin/` dir, and which launcher runs at container start. Checks
//! are pure functions of these facts and never re-walk the tree for them; the
//! facts decide nothing about findings. Depends on the tree, the image config
//! and command lookup (`crate::exec`), never on `crate::image`, so the layer
//! reader may depend on `python` (for its extractors) without a cycle.

use std::collections::HashMap;

use rayon::prelude::*;

use super::dist::{load_site_dir_with, Dist, ParseCache};
use super::entry_points::EntryPoint;
use super::env::{discover, Env, EnvKind};
use super::launcher::{self, Launcher};
use crate::source::ImageConfig;
use crate::tree::{Kind, MergedTree};

/// Bytes of a `bin/` file read to classify it: what the extractors keep.
pub use super::extractors::LAUNCHER_HEAD;

/// A file in an environment's bin dir that is a console-script launcher.
#[derive(Clone, Debug)]
pub struct LauncherFile {
    /// Absolute path.
    pub path: String,
    /// File name (the command name).
    pub name: String,
    /// Its bin dir.
    pub bin_dir: String,
    /// Permission bits.
    pub mode: u32,
    /// Layer that produced it.
    pub layer: u32,
    /// What the template says.
    pub launcher: Launcher,
    /// Named by the image's Entrypoint/Cmd: runs at container start.
    pub runs_at_start: bool,
    /// Symlinks in other bin dirs (the image's `PATH`, `/usr/local/bin`,
    /// other environments' bin dirs) that resolve to this launcher: how
    /// `pipx` and `uv tool install` expose a tool venv's launchers. Running
    /// one runs this file, with this environment's interpreter.
    pub aliases: Vec<String>,
}

/// An environment with its distributions and launchers.
#[derive(Clone, Debug)]
pub struct EnvFacts {
    /// The environment.
    pub env: Env,
    /// Distributions in its own site dirs.
    pub dists: Vec<Dist>,
    /// Distributions visible through extra site dirs (system site packages,
    /// PYTHONPATH): they satisfy dependencies and declare entry points.
    pub extra_dists: Vec<Dist>,
    /// Launchers in its bin dirs.
    pub launchers: Vec<LauncherFile>,
    /// Launchers by the normalised name of a distribution whose metadata
    /// they depend on, built on first use by
    /// [`EnvFacts::affected_launchers`].
    launchers_by_dependency: std::sync::OnceLock<HashMap<String, Vec<String>>>,
}

impl EnvFacts {
    /// Every visible distribution.
    pub fn all_dists(&self) -> impl Iterator<Item = &Dist> {
        self.dists.iter().chain(&self.extra_dists)
    }

    /// Visible distributions by normalised name.
    pub fn dist_index(&self) -> HashMap<&str, &Dist> {
        let mut m = HashMap::new();
        for d in self.all_dists() {
            m.entry(d.key.as_str()).or_insert(d);
        }
        m
    }

    /// Launchers that break when distribution `key` has broken metadata: its
    /// own console scripts, and those of every distribution that requires it
    /// (their plugin loading and version checks read its metadata at
    /// start-up).
    ///
    /// The answer for every key is indexed once per environment (on first
    /// use), so asking per problem is a lookup, not a pass over every
    /// launcher and requirement (issue 14).
    pub fn affected_launchers(&self, key: &str) -> Vec<String> {
        self.launchers_by_dependency
            .get_or_init(|| self.index_launchers_by_dependency())
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// For each distribution key, the sorted launchers that depend on its
    /// metadata (see [`EnvFacts::affected_launchers`]).
    fn index_launchers_by_dependency(&self) -> HashMap<String, Vec<String>> {
        let declared = self.declared_scripts();
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for l in &self.launchers {
            let Some((d, _)) = declared.get(l.name.as_str()) else {
                continue;
            };
            let mut keys: Vec<String> = d.requires.iter().map(|r| r.key().to_string()).collect();
            keys.push(d.key.clone());
            keys.sort();
            keys.dedup();
            for k in keys {
                out.entry(k).or_default().push(l.path.clone());
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    }

    /// Console and GUI scripts declared by the visible distributions, by name
    /// (the first distribution to declare a name wins, as on `sys.path`).
    pub fn declared_scripts(&self) -> HashMap<&str, (&Dist, &EntryPoint)> {
        let mut m = HashMap::new();
        for d in self.all_dists() {
            for ep in d
                .entry_points
                .console_scripts()
                .iter()
                .chain(d.entry_points.gui_scripts())
            {
                m.entry(ep.name.as_str()).or_insert((d, ep));
            }
        }
        m
    }
}

fn launchers_in(tree: &MergedTree, bin_dir: &str, starts: &[String]) -> Vec<LauncherFile> {
    let Ok(entries) = tree.read_dir(bin_dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, id) in entries {
        let node = tree.node(id);
        // Launchers are regular files; `python*` symlinks are not launchers.
        if node.kind != Kind::File {
            continue;
        }
        let Ok(head) = tree.read(id, Some(LAUNCHER_HEAD)) else {
            continue;
        };
        let launcher = launcher::classify(&head);
        if matches!(launcher, Launcher::NotALauncher(_)) {
            continue;
        }
        let path = format!("{}/{}", bin_dir.trim_end_matches('/'), name);
        let runs_at_start = starts.iter().any(|s| *s == path || *s == name);
        out.push(LauncherFile {
            path,
            name,
            bin_dir: bin_dir.to_string(),
            mode: node.mode,
            layer: node.layer,
            launcher,
            runs_at_start,
            aliases: Vec::new(),
        });
    }
    out
}

/// Attach to each launcher the symlinks that lead to it from the image's
/// `PATH` dirs, `/usr/local/bin` and every environment's bin dirs; a
/// launcher whose alias the image runs at start runs at start too.
///
/// Why symlinks and not copies: `pipx` (`PIPX_BIN_DIR`) and `uv tool
/// install` (`UV_TOOL_BIN_DIR`) link each tool launcher on Unix; the link
/// is what users and `CMD` name, the file it resolves to is what the
/// installer wrote and what the checks judge.
fn attach_aliases(
    tree: &MergedTree,
    config: &ImageConfig,
    starts: &[String],
    facts: &mut [EnvFacts],
) {
    let mut dirs: Vec<String> = crate::exec::path_var(config);
    dirs.push("/usr/local/bin".into());
    for f in facts.iter() {
        dirs.extend(f.env.bin_dirs.iter().cloned());
    }
    let mut seen_dirs = std::collections::HashSet::new();
    let mut by_target: HashMap<String, Vec<String>> = HashMap::new();
    for dir in dirs {
        let Ok(canon) = tree.stat(&dir).map(|r| r.path) else {
            continue;
        };
        if !seen_dirs.insert(canon) {
            continue;
        }
        let Ok(entries) = tree.read_dir(&dir) else {
            continue;
        };
        for (name, id) in entries {
            if tree.node(id).kind != Kind::Symlink {
                continue;
            }
            let link = format!("{}/{}", dir.trim_end_matches('/'), name);
            if let Ok(r) = tree.stat(&link) {
                by_target.entry(r.path).or_default().push(link);
            }
        }
    }
    for f in facts.iter_mut() {
        for l in &mut f.launchers {
            let Ok(canon) = tree.stat(&l.path).map(|r| r.path) else {
                continue;
            };
            // Only links from other directories: a link next to the
            // launcher (Debian's `/usr/bin/chardet -> chardetect`) is the
            // same bin dir under another name.
            let own_dir = canon.rsplit_once('/').map_or("", |(d, _)| d);
            if let Some(links) = by_target.get(&canon) {
                l.aliases = links
                    .iter()
                    .filter(|a| {
                        tree.stat(a.rsplit_once('/').map_or("/", |(d, _)| d))
                            .is_ok_and(|r| r.path != own_dir)
                    })
                    .cloned()
                    .collect();
                l.aliases.sort();
                l.aliases.dedup();
                if l.aliases.iter().any(|a| starts.contains(a)) {
                    l.runs_at_start = true;
                }
            }
        }
    }
}

/// Gather facts for every environment of the image whose merged tree is
/// `tree` and whose config is `config` (for `PYTHONPATH`, `PATH` and the
/// start command).
pub fn gather(tree: &MergedTree, config: &ImageConfig) -> Vec<EnvFacts> {
    let home = crate::exec::home_dir(tree, config);
    let envs = discover(tree, config.env_var("PYTHONPATH"), Some(&home));
    let starts = crate::exec::start_commands(tree, config);
    // One cache for every environment: a hard-linked RECORD is parsed once.
    let cache = ParseCache::default();
    let mut facts: Vec<EnvFacts> = envs
        .into_par_iter()
        .map(|env| {
            let dists = env
                .site_dirs
                .iter()
                .flat_map(|s| load_site_dir_with(tree, s, &cache))
                .collect();
            // Directories a `.pth` adds are on `sys.path` like any other:
            // `importlib.metadata` finds the metadata in them too (`setup.py
            // develop` leaves `NAME.egg-info` in the source dir that
            // `easy-install.pth` names, issue 11's `editable-legacy`).
            let extra_dists = env
                .extra_site_dirs
                .iter()
                .chain(env.pth_dirs.iter())
                .flat_map(|s| load_site_dir_with(tree, s, &cache))
                .collect();
            let launchers = env
                .bin_dirs
                .iter()
                .flat_map(|b| launchers_in(tree, b, &starts))
                .collect();
            EnvFacts {
                env,
                dists,
                extra_dists,
                launchers,
                launchers_by_dependency: Default::default(),
            }
        })
        .collect();
    attach_aliases(tree, config, &starts, &mut facts);
    attach_start_launchers(tree, &starts, &mut facts);
    facts
}

/// A launcher the image runs at start that lives in no environment's bin
/// dir (`pip install --target /opt/lib` leaves its scripts in
/// `/opt/lib/bin`, named by `CMD` and on no `PATH` a discovery walks) joins
/// the environment whose interpreter its shebang names, or else the base
/// interpreter's: what runs is judged wherever it is.
fn attach_start_launchers(tree: &MergedTree, starts: &[String], facts: &mut [EnvFacts]) {
    let canon = |p: &str| tree.stat(p).ok().map(|r| r.path);
    for start in starts.iter().filter(|s| s.starts_with('/')) {
        let Some(real) = canon(start) else { continue };
        let known = facts.iter().flat_map(|f| &f.launchers).any(|l| {
            canon(&l.path).as_deref() == Some(real.as_str()) || l.aliases.iter().any(|a| a == start)
        });
        if known {
            continue;
        }
        let Ok(r) = tree.stat(start) else { continue };
        let node = tree.node(r.id);
        if node.kind != Kind::File {
            continue;
        }
        let Ok(head) = tree.read(r.id, Some(LAUNCHER_HEAD)) else {
            continue;
        };
        let l = launcher::classify(&head);
        let interpreter = match &l {
            Launcher::Script { interpreter, .. } | Launcher::LoadEntryPoint { interpreter, .. } => {
                interpreter
            }
            Launcher::NotALauncher(_) => continue,
        };
        let python = match interpreter {
            launcher::Interpreter::Path(p) => Some(p.as_str()),
            launcher::Interpreter::ShExec { python, .. } => Some(python.as_str()),
            _ => None,
        };
        let python = python.and_then(canon);
        let owner = facts
            .iter()
            .position(|f| {
                python.is_some() && f.env.interpreter.as_deref().and_then(canon) == python
            })
            .or_else(|| facts.iter().position(|f| f.env.kind != EnvKind::Venv));
        let Some(i) = owner else { continue };
        let (bin_dir, name) = start.rsplit_once('/').unwrap_or(("/", start));
        facts[i].launchers.push(LauncherFile {
            path: start.clone(),
            name: name.to_string(),
            bin_dir: bin_dir.to_string(),
            mode: node.mode,
            layer: node.layer,
            launcher: l,
            runs_at_start: true,
            aliases: Vec::new(),
        });
    }
}
