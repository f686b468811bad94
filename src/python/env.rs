//! Python environment discovery in a merged tree.
//!
//! An environment is what one interpreter sees: its bin dir(s), its site
//! dirs (where distributions and their metadata live) and its stdlib. We
//! find:
//!
//! - every venv, by its `pyvenv.cfg`, anywhere in the image (PEP 405);
//!   its stdlib is the base interpreter's (`home` in `pyvenv.cfg`), and with
//!   `include-system-site-packages = true` the base's site dirs count too;
//! - Debian's system Python (`/usr/bin/python3`, `/usr/lib/python3/dist-packages`,
//!   `/usr/lib/python3.X/{site,dist}-packages`, and pip's
//!   `/usr/local/lib/python3.X/dist-packages` with `/usr/local/bin`);
//! - the official `python:3.x` layout: CPython under `/usr/local`
//!   (`/usr/local/lib/python3.X/os.py` marks its stdlib).
//!
//! - the user site of `pip install --user`: `$HOME/.local/lib/python3.X/site-packages`
//!   and `$HOME/.local/bin`, part of the base interpreter's environment;
//! - `.pth` files in every site dir ([`super::pth`]): editable installs put
//!   their source dirs (or a PEP 660 finder) on the import path that way.
//!
//! `lib64` is often a symlink to `lib`: site dirs are kept by canonical
//! path, so nothing is counted twice. Directories on the image's
//! `PYTHONPATH` join every environment's import path, and their `bin/`
//! (`pip install --target DIR`) is a bin dir of the base interpreter.
//!
//! Discovery only reads directory listings and a few small files through
//! the tree; it never reads layers.

use std::collections::BTreeSet;

use crate::python::pth::{parse_finder_mapping, parse_pth};
use crate::python::pyvenv::PyvenvCfg;
use crate::tree::{Kind, MergedTree, ROOT};

/// What kind of environment.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvKind {
    /// A virtual environment (`pyvenv.cfg`).
    Venv,
    /// The distribution's Python under `/usr` (Debian layout).
    System,
    /// CPython installed under `/usr/local` (official images).
    UsrLocal,
}

impl EnvKind {
    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::Venv => "venv",
            EnvKind::System => "system",
            EnvKind::UsrLocal => "usr-local",
        }
    }
}

/// One Python environment in the image.
#[derive(Clone, Debug)]
pub struct Env {
    /// Root: the venv dir, `/usr` or `/usr/local`.
    pub root: String,
    /// Kind.
    pub kind: EnvKind,
    /// `3.11`, from `pyvenv.cfg` or the `python3.X` dir name.
    pub version: Option<String>,
    /// The interpreter this environment runs (e.g. `/opt/venv/bin/python`).
    pub interpreter: Option<String>,
    /// Directories holding launchers.
    pub bin_dirs: Vec<String>,
    /// Site dirs that belong to this environment (canonical paths).
    pub site_dirs: Vec<String>,
    /// Extra site dirs seen through `include-system-site-packages` or
    /// `PYTHONPATH`: importable, their distributions satisfy dependencies.
    pub extra_site_dirs: Vec<String>,
    /// Stdlib dirs (`lib/python3.X` and its `lib-dynload`).
    pub stdlib_dirs: Vec<String>,
    /// The venv's config.
    pub pyvenv: Option<PyvenvCfg>,
    /// Directories the `.pth` files of the site dirs put on the import path
    /// (editable installs: setuptools' static `__editable__.*.pth`, legacy
    /// `easy-install.pth`), canonical, only those that exist.
    pub pth_dirs: Vec<String>,
    /// Top-level modules served by a PEP 660 editable finder
    /// (`__editable___*_finder.py` imported by a `.pth`): name and path.
    pub editable_modules: Vec<(String, String)>,
    /// `.pth` path lines that name no directory in the image: `(pth file,
    /// dir)`. `site.py` skips them silently; for an editable install it means
    /// the source is gone.
    pub pth_missing: Vec<(String, String)>,
}

impl Env {
    /// Every directory on this environment's import path.
    pub fn import_path(&self) -> impl Iterator<Item = &str> {
        self.site_dirs
            .iter()
            .chain(&self.pth_dirs)
            .chain(&self.extra_site_dirs)
            .chain(&self.stdlib_dirs)
            .map(String::as_str)
    }
}

fn is_dir(tree: &MergedTree, path: &str) -> bool {
    tree.stat(path).is_ok_and(|r| tree.node(r.id).is_dir())
}

fn canonical_dir(tree: &MergedTree, path: &str) -> Option<String> {
    let r = tree.stat(path).ok()?;
    tree.node(r.id).is_dir().then_some(r.path)
}

/// `python3.X` directory names under `dir`, e.g. `["3.11"]`.
fn python_versions(tree: &MergedTree, dir: &str) -> Vec<String> {
    let Ok(entries) = tree.read_dir(dir) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|(name, _)| {
            let v = name.strip_prefix("python")?;
            let ok = v.starts_with('3')
                && v.contains('.')
                && v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            ok.then(|| v.to_string())
        })
        .collect()
}

fn push_unique(v: &mut Vec<String>, s: Option<String>) {
    if let Some(s) = s {
        if !v.contains(&s) {
            v.push(s);
        }
    }
}

/// Stdlib dirs of a prefix (`/usr`, `/usr/local`) for a version.
fn stdlib_of(tree: &MergedTree, prefix: &str, version: &str) -> Vec<String> {
    let mut v = Vec::new();
    for lib in ["lib", "lib64"] {
        let base = format!("{prefix}/{lib}/python{version}");
        push_unique(&mut v, canonical_dir(tree, &base));
        push_unique(&mut v, canonical_dir(tree, &format!("{base}/lib-dynload")));
    }
    v
}

/// Find every Python environment in the tree, for a container whose
/// `PYTHONPATH` and `HOME` are those given.
pub fn discover(tree: &MergedTree, pythonpath: Option<&str>, home: Option<&str>) -> Vec<Env> {
    let mut envs = Vec::new();

    // System Python under /usr (Debian layout).
    let usr_versions = python_versions(tree, "/usr/lib");
    let has_usr_python = tree.exists("/usr/bin/python3")
        || usr_versions
            .iter()
            .any(|v| tree.exists(&format!("/usr/bin/python{v}")));
    let mut system: Option<Env> = None;
    if has_usr_python || is_dir(tree, "/usr/lib/python3/dist-packages") {
        let mut site = Vec::new();
        push_unique(
            &mut site,
            canonical_dir(tree, "/usr/lib/python3/dist-packages"),
        );
        let mut stdlib = Vec::new();
        for v in &usr_versions {
            for sub in ["site-packages", "dist-packages"] {
                push_unique(
                    &mut site,
                    canonical_dir(tree, &format!("/usr/lib/python{v}/{sub}")),
                );
                push_unique(
                    &mut site,
                    canonical_dir(tree, &format!("/usr/local/lib/python{v}/dist-packages")),
                );
            }
            stdlib.extend(stdlib_of(tree, "/usr", v));
        }
        let mut bins = vec!["/usr/bin".to_string()];
        if usr_versions
            .iter()
            .any(|v| is_dir(tree, &format!("/usr/local/lib/python{v}/dist-packages")))
            && is_dir(tree, "/usr/local/bin")
        {
            bins.push("/usr/local/bin".to_string());
        }
        let version = usr_versions.iter().max().cloned();
        let interpreter = ["/usr/bin/python3".to_string()]
            .into_iter()
            .chain(version.iter().map(|v| format!("/usr/bin/python{v}")))
            .find(|p| tree.lstat(p).is_ok());
        system = Some(Env {
            root: "/usr".into(),
            kind: EnvKind::System,
            version,
            interpreter,
            bin_dirs: bins,
            site_dirs: site,
            extra_site_dirs: Vec::new(),
            stdlib_dirs: stdlib,
            pyvenv: None,
            pth_dirs: Vec::new(),
            editable_modules: Vec::new(),
            pth_missing: Vec::new(),
        });
    }

    // CPython under /usr/local (official images): its stdlib has os.py.
    let mut usr_local: Option<Env> = None;
    for v in python_versions(tree, "/usr/local/lib") {
        if !tree.exists(&format!("/usr/local/lib/python{v}/os.py"))
            && !tree.exists(&format!("/usr/local/lib/python{v}/os.pyc"))
        {
            continue;
        }
        let mut site = Vec::new();
        push_unique(
            &mut site,
            canonical_dir(tree, &format!("/usr/local/lib/python{v}/site-packages")),
        );
        let interpreter = [
            format!("/usr/local/bin/python{v}"),
            "/usr/local/bin/python3".into(),
        ]
        .into_iter()
        .find(|p| tree.lstat(p).is_ok());
        usr_local = Some(Env {
            root: "/usr/local".into(),
            kind: EnvKind::UsrLocal,
            version: Some(v.clone()),
            interpreter,
            bin_dirs: vec!["/usr/local/bin".into()],
            site_dirs: site,
            extra_site_dirs: Vec::new(),
            stdlib_dirs: stdlib_of(tree, "/usr/local", &v),
            pyvenv: None,
            pth_dirs: Vec::new(),
            editable_modules: Vec::new(),
            pth_missing: Vec::new(),
        });
        // The official image has no Debian python: /usr/local/bin is ours.
        if let Some(sys) = system.as_mut() {
            sys.bin_dirs.retain(|b| b != "/usr/local/bin");
        }
        break;
    }

    // Venvs: every pyvenv.cfg that is a regular file.
    let mut cfgs = Vec::new();
    tree.walk(ROOT, |path, _, node| {
        if node.kind == Kind::File && path.ends_with("/pyvenv.cfg") {
            cfgs.push(path.to_string());
        }
    });
    for cfg_path in cfgs {
        let root = cfg_path.trim_end_matches("/pyvenv.cfg").to_string();
        let bytes = tree
            .read_path(&cfg_path, Some(64 << 10))
            .unwrap_or_default();
        let cfg = PyvenvCfg::parse(&bytes);
        let mut versions: Vec<String> = Vec::new();
        let mut site = Vec::new();
        for lib in ["lib", "lib64"] {
            for v in python_versions(tree, &format!("{root}/{lib}")) {
                push_unique(
                    &mut site,
                    canonical_dir(tree, &format!("{root}/{lib}/python{v}/site-packages")),
                );
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
        }
        let version = cfg
            .version
            .as_deref()
            .map(major_minor)
            .or_else(|| versions.first().cloned());
        // The base interpreter's prefix: `home` is its bin dir.
        let mut stdlib = Vec::new();
        if let (Some(home), Some(v)) = (cfg.home.as_deref(), version.as_deref()) {
            let prefix = home.trim_end_matches('/').trim_end_matches("/bin");
            let prefix = if prefix.is_empty() { "/" } else { prefix };
            stdlib = stdlib_of(tree, prefix.trim_end_matches('/'), v);
            if stdlib.is_empty() {
                // `home` may be a symlinked dir; try the usual prefixes too.
                for p in ["/usr/local", "/usr"] {
                    stdlib = stdlib_of(tree, p, v);
                    if !stdlib.is_empty() {
                        break;
                    }
                }
            }
        }
        let mut extra = Vec::new();
        if cfg.include_system_site_packages {
            let base = usr_local.as_ref().or(system.as_ref());
            if let Some(b) = base {
                extra.extend(b.site_dirs.iter().cloned());
            }
        }
        let bin = format!("{root}/bin");
        let interpreter = ["python", "python3"]
            .iter()
            .map(|n| format!("{bin}/{n}"))
            .chain(version.iter().map(|v| format!("{bin}/python{v}")))
            .find(|p| tree.lstat(p).is_ok())
            .or_else(|| Some(format!("{bin}/python")));
        envs.push(Env {
            root,
            kind: EnvKind::Venv,
            version,
            interpreter,
            bin_dirs: vec![bin],
            site_dirs: site,
            extra_site_dirs: extra,
            stdlib_dirs: stdlib,
            pyvenv: Some(cfg),
            pth_dirs: Vec::new(),
            editable_modules: Vec::new(),
            pth_missing: Vec::new(),
        });
    }

    // pip --user: the user site of the container's user (`HOME` as the
    // process gets it, `exec::home_dir`) belongs to the base interpreter
    // (venvs disable it), with its scripts in `~/.local/bin`.
    let home = home.unwrap_or("/root").trim_end_matches('/');
    if let Some(base) = usr_local.as_mut().or(system.as_mut()) {
        if let Some(v) = base.version.clone() {
            let site = format!("{home}/.local/lib/python{v}/site-packages");
            if let Some(dir) = canonical_dir(tree, &site) {
                push_unique(&mut base.site_dirs, Some(dir));
                let bin = format!("{home}/.local/bin");
                if is_dir(tree, &bin) && !base.bin_dirs.contains(&bin) {
                    base.bin_dirs.push(bin);
                }
            }
        }
    }

    let mut all: Vec<Env> = system.into_iter().chain(usr_local).chain(envs).collect();
    for env in &mut all {
        apply_pth_files(tree, env);
    }
    if let Some(pp) = pythonpath {
        let dirs: BTreeSet<String> = pp
            .split(':')
            .filter(|d| d.starts_with('/'))
            .filter_map(|d| canonical_dir(tree, d))
            .collect();
        for env in &mut all {
            for d in &dirs {
                if !env.site_dirs.contains(d) && !env.extra_site_dirs.contains(d) {
                    env.extra_site_dirs.push(d.clone());
                }
            }
        }
        // `pip install --target DIR` writes its scripts to `DIR/bin`, with
        // the shebang of the interpreter that ran pip: the base one (a venv
        // has its own site-packages and no reason for `--target`).
        if let Some(base) = all.iter_mut().find(|e| e.kind != EnvKind::Venv) {
            for d in &dirs {
                let bin = format!("{d}/bin");
                if is_dir(tree, &bin) && !base.bin_dirs.contains(&bin) {
                    base.bin_dirs.push(bin);
                }
            }
        }
    }
    all
}

/// What the `.pth` files of `env`'s site dirs add to its import path, as
/// `site.addsitedir` would: path lines that exist (relative ones joined to
/// the site dir), and the `MAPPING` of every editable finder module an
/// `import` line names (looked up next to the `.pth`, where setuptools puts
/// it).
fn apply_pth_files(tree: &MergedTree, env: &mut Env) {
    let sites: Vec<String> = env
        .site_dirs
        .iter()
        .chain(&env.extra_site_dirs)
        .cloned()
        .collect();
    for site in sites {
        let Ok(entries) = tree.read_dir(&site) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n.ends_with(".pth"))
            .collect();
        // site.py reads them in sorted order.
        names.sort();
        for name in names {
            let bytes = tree
                .read_path(&format!("{site}/{name}"), Some(64 << 10))
                .unwrap_or_default();
            let pth = parse_pth(&bytes);
            for p in &pth.paths {
                let full = if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("{site}/{p}")
                };
                match canonical_dir(tree, &full) {
                    Some(dir) => {
                        if !env.site_dirs.contains(&dir) && !env.extra_site_dirs.contains(&dir) {
                            push_unique(&mut env.pth_dirs, Some(dir));
                        }
                    }
                    None => env.pth_missing.push((format!("{site}/{name}"), full)),
                }
            }
            for m in &pth.imports {
                let Ok(src) = tree.read_path(&format!("{site}/{m}.py"), Some(1 << 20)) else {
                    continue;
                };
                for kv in parse_finder_mapping(&src) {
                    if !env.editable_modules.contains(&kv) {
                        env.editable_modules.push(kv);
                    }
                }
            }
        }
    }
}

/// `3.11.2` → `3.11`.
pub fn major_minor(v: &str) -> String {
    let mut it = v.trim().split('.');
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => format!("{a}.{b}"),
        _ => v.trim().to_string(),
    }
}
