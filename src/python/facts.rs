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
use super::env::{discover, Env};
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
        });
    }
    out
}

/// Gather facts for every environment of the image whose merged tree is
/// `tree` and whose config is `config` (for `PYTHONPATH`, `PATH` and the
/// start command).
pub fn gather(tree: &MergedTree, config: &ImageConfig) -> Vec<EnvFacts> {
    let envs = discover(tree, config.env_var("PYTHONPATH"));
    let starts = crate::exec::start_commands(tree, config);
    // One cache for every environment: a hard-linked RECORD is parsed once.
    let cache = ParseCache::default();
    envs.into_par_iter()
        .map(|env| {
            let dists = env
                .site_dirs
                .iter()
                .flat_map(|s| load_site_dir_with(tree, s, &cache))
                .collect();
            let extra_dists = env
                .extra_site_dirs
                .iter()
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
        .collect()
}
