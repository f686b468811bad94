//! The audit: gather Python facts from the merged tree once, run every check
//! in parallel over those facts, and return sorted findings.
//!
//! Facts are gathered here (environments, distributions, launchers) so that
//! each check is a pure function of them; checks never re-walk layers.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::checks::{self, CheckCtx};
use crate::finding::{sort_findings, Finding};
use crate::image::Image;
use crate::python::dist::{load_site_dir_with, Dist, ParseCache};
use crate::python::env::{discover, Env};
use crate::python::launcher::{self, Launcher};
use crate::tree::{Kind, MergedTree};

/// Bytes of a `bin/` file read to classify it.
pub const LAUNCHER_HEAD: usize = 8 << 10;

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
    /// [`crate::checks::affected_launchers`].
    pub(crate) launchers_by_dependency: std::sync::OnceLock<HashMap<String, Vec<String>>>,
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
}

/// The commands the container runs at start (argv[0] of Entrypoint, else
/// Cmd; and a Python launcher named as argv[1] of a shell or python).
fn start_commands(image: &Image) -> Vec<String> {
    let cfg = &image.resolved.config;
    let argv: Vec<&String> = cfg.entrypoint.iter().chain(cfg.cmd.iter()).collect();
    argv.iter().take(3).map(|s| s.to_string()).collect()
}

/// `PATH` from the image config, or Docker's default.
pub fn path_var(image: &Image) -> Vec<String> {
    image
        .resolved
        .config
        .env_var("PATH")
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .split(':')
        .filter(|s| s.starts_with('/'))
        .map(String::from)
        .collect()
}

/// Resolve a command name through PATH to an absolute path in the tree.
pub fn which(tree: &MergedTree, path: &[String], cmd: &str) -> Option<String> {
    if cmd.contains('/') {
        return tree.stat(cmd).ok().map(|_| cmd.to_string());
    }
    path.iter()
        .map(|d| format!("{}/{}", d.trim_end_matches('/'), cmd))
        .find(|p| {
            tree.stat(p).is_ok_and(|r| {
                tree.node(r.id).kind == Kind::File && tree.node(r.id).is_executable()
            })
        })
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

/// Gather facts for every environment.
pub fn gather(image: &Image) -> Vec<EnvFacts> {
    let tree = &image.tree;
    let pythonpath = image.resolved.config.env_var("PYTHONPATH");
    let envs = discover(tree, pythonpath);
    let path = path_var(image);
    let starts: Vec<String> = start_commands(image)
        .into_iter()
        .flat_map(|s| {
            let resolved = which(tree, &path, &s);
            [Some(s), resolved].into_iter().flatten()
        })
        .collect();
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

/// Run every check and return sorted findings.
pub fn run(image: &Image, facts: &[EnvFacts]) -> Vec<Finding> {
    let cx = CheckCtx::new(image, facts);
    let mut findings: Vec<Finding> = checks::CHECKS
        .par_iter()
        .flat_map_iter(|(_, check)| {
            let mut out = Vec::new();
            check(&cx, &mut out);
            out
        })
        .collect();
    sort_findings(&mut findings);
    findings
}

/// Findings for exceeded `[budget]` limits: total merged size, any single
/// layer's uncompressed size, and waste (bytes shipped but unreachable).
pub fn budget_findings(image: &Image, budget: &crate::config::Budget) -> Vec<Finding> {
    use crate::checks::Code;
    let mut out = Vec::new();
    let human = crate::size::human_bytes;
    if let Some(limit) = budget.total {
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        image.tree.walk(crate::tree::ROOT, |_, _, n| {
            if let Some(c) = n.content {
                if seen.insert(c) {
                    total += n.size;
                }
            }
        });
        if total > limit {
            out.push(
                Finding::new(
                    Code::SizeBudgetExceeded,
                    "/",
                    format!(
                        "the merged filesystem holds {} of files, over the `budget.total` of {}",
                        human(total),
                        human(limit)
                    ),
                )
                .field("budget", "total")
                .field("limit", limit)
                .field("actual", total),
            );
        }
    }
    if let Some(limit) = budget.layer {
        for (i, l) in image.layers.iter().enumerate() {
            let size = l.index.uncompressed_size;
            if size > limit {
                let f = Finding::new(
                    Code::SizeBudgetExceeded,
                    "/",
                    format!(
                        "layer {i} is {} uncompressed, over the `budget.layer` of {}",
                        human(size),
                        human(limit)
                    ),
                )
                .field("budget", "layer")
                .field("limit", limit)
                .field("actual", size);
                out.push(f.layer(i, l.created_by.clone()));
            }
        }
    }
    if let Some(limit) = budget.waste {
        let waste: u64 = image.effects.iter().map(|e| e.removed_bytes).sum();
        if waste > limit {
            let worst = image
                .effects
                .iter()
                .enumerate()
                .max_by_key(|(_, e)| e.removed_bytes)
                .map(|(i, _)| i);
            let mut f = Finding::new(
                Code::SizeBudgetExceeded,
                "/",
                format!("layers ship {} of files that later layers delete or overwrite, over the `budget.waste` of {}", human(waste), human(limit)),
            )
            .field("budget", "waste")
            .field("limit", limit)
            .field("actual", waste)
            .note("hint: `imgaudit size IMAGE` shows which layer wastes what");
            if let Some(i) = worst {
                f = f.layer(i, image.layers[i].created_by.clone());
            }
            out.push(f);
        }
    }
    out
}

/// Build the report's view of the image.
pub fn image_info(image: &Image) -> crate::report::ImageInfo {
    let r = &image.resolved;
    crate::report::ImageInfo {
        source: image.input.clone(),
        format: r.format.as_str().to_string(),
        reference: r.reference.clone(),
        config_digest: r.config_digest.clone(),
        architecture: r.config.architecture.clone(),
        os: r.config.os.clone(),
        layers: image
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| crate::report::LayerInfo {
                index: i,
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                media_type: l.media_type.clone(),
                size: l.stored_size,
                created_by: l.created_by.clone(),
            })
            .collect(),
    }
}

/// Build the report's view of the environments and their launchers.
pub fn environment_info(facts: &[EnvFacts]) -> Vec<crate::report::EnvironmentInfo> {
    use crate::python::launcher::Interpreter;
    facts
        .iter()
        .map(|f| crate::report::EnvironmentInfo {
            root: f.env.root.clone(),
            kind: f.env.kind.as_str().to_string(),
            python_version: f.env.version.clone(),
            interpreter: f.env.interpreter.clone(),
            bin_dir: f.env.bin_dirs.join(":"),
            site_dirs: f.env.site_dirs.clone(),
            distributions: f.dists.len(),
            launchers: f
                .launchers
                .iter()
                .map(|l| {
                    let (base, interp, module, ep) = match &l.launcher {
                        Launcher::Script {
                            interpreter,
                            module,
                            func,
                            ..
                        } => (
                            "pip",
                            Some(interpreter),
                            Some(module.clone()),
                            Some(format!("{module}:{func}")),
                        ),
                        Launcher::LoadEntryPoint {
                            interpreter,
                            dist,
                            group,
                            name,
                            ..
                        } => (
                            "easy-install",
                            Some(interpreter),
                            None,
                            Some(format!("{dist} {group} {name}")),
                        ),
                        Launcher::NotALauncher(_) => ("none", None, None, None),
                    };
                    let (suffix, path) = match interp {
                        Some(Interpreter::Path(p)) => ("", Some(p.clone())),
                        Some(Interpreter::ShExec { python, .. }) => {
                            ("/sh-exec", Some(python.clone()))
                        }
                        Some(Interpreter::Env { program, .. }) => ("/env", Some(program.clone())),
                        Some(Interpreter::Relocatable { program, .. }) => {
                            ("/relocatable", Some(program.clone()))
                        }
                        None => ("", None),
                    };
                    crate::report::LauncherInfo {
                        path: l.path.clone(),
                        template: format!("{base}{suffix}"),
                        interpreter: path,
                        module,
                        entry_point: ep,
                        runs_at_start: l.runs_at_start,
                    }
                })
                .collect(),
        })
        .collect()
}
