//! `venv-python-version-mismatch`: a venv's `bin/python` resolves, but to a
//! Python of another version than the one `pyvenv.cfg` records
//! (`version`/`version_info`), and the venv holds no
//! `lib/pythonX.Y/site-packages` for that version. CPython's `site` adds
//! `<venv>/lib/python<its own X.Y>/site-packages` to the path, so nothing the
//! venv holds is importable: every launcher dies with `ModuleNotFoundError`
//! (a bookworm venv, Python 3.11, copied onto a trixie base, Python 3.13).

use serde::Serialize;

use super::shared_library_missing::elf_at;
use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::env::{major_minor, EnvKind};

/// The typed diagnostic. JSON fields: `interpreter`, `runs`, `created_with`,
/// `launchers`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct VenvPythonVersionMismatch {
    /// The venv root.
    #[serde(skip)]
    pub env: String,
    /// The layer that brought the venv's `pyvenv.cfg`.
    #[serde(skip)]
    pub step: Option<Step>,
    /// Where `bin/python` leads.
    pub interpreter: String,
    /// The version it runs (`3.13`).
    pub runs: String,
    /// The version `pyvenv.cfg` records (`3.11`).
    pub created_with: String,
    /// The venv's launchers (all of them fail).
    pub launchers: usize,
}

impl From<VenvPythonVersionMismatch> for Finding {
    fn from(d: VenvPythonVersionMismatch) -> Finding {
        Finding::new(
            Code::VenvPythonVersionMismatch,
            &d.env,
            format!(
                "the venv was created with Python {} but its `bin/python` is `{}`, Python {}: `lib/python{}/site-packages` is not on its path, so every import of an installed package fails",
                d.created_with, d.interpreter, d.runs, d.created_with
            ),
        )
        .env(&d.env)
        .fields(&d)
        .note(format!("{} launchers of this venv fail with `ModuleNotFoundError`", d.launchers))
        .at(d.step.as_ref())
        .hint(format!(
            "recreate the venv on the final base (`python{} -m venv` + install), or keep the base image's Python at {}",
            d.runs, d.created_with
        ))
    }
}

/// The `X.Y` a Python executable at `real` runs: from its name
/// (`python3.13`), else its `libpython3.13.so` (`DT_NEEDED`), else the one
/// `lib/pythonX.Y/os.py` of its prefix.
fn version_of(cx: &CheckCtx<'_>, real: &str) -> Option<String> {
    let name = real.rsplit('/').next()?;
    let digits = |s: &str| {
        let v: String = s
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let v = v.trim_end_matches('.').to_string();
        (v.contains('.') && v.starts_with('3')).then_some(v)
    };
    if let Some(v) = name.strip_prefix("python").and_then(digits) {
        return Some(v);
    }
    if let Some((_, f)) = elf_at(cx, real) {
        if let Some(v) = f
            .needed
            .iter()
            .find_map(|n| n.strip_prefix("libpython").and_then(digits))
        {
            return Some(v);
        }
    }
    let prefix = real.rsplit_once('/')?.0.rsplit_once('/')?.0;
    let found: Vec<String> = cx
        .tree
        .read_dir(&format!("{prefix}/lib"))
        .ok()?
        .into_iter()
        .filter_map(|(n, _)| n.strip_prefix("python").and_then(digits))
        .filter(|v| cx.tree.exists(&format!("{prefix}/lib/python{v}/os.py")))
        .collect();
    (found.len() == 1).then(|| found[0].clone())
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let env = &facts.env;
        if env.kind != EnvKind::Venv {
            continue;
        }
        let Some(cfg) = env.pyvenv.as_ref() else {
            continue;
        };
        let Some(recorded) = cfg
            .version
            .as_deref()
            .or_else(|| cfg.keys.get("version_info").map(String::as_str))
        else {
            continue;
        };
        let created_with = major_minor(recorded);
        let python = env
            .interpreter
            .clone()
            .unwrap_or_else(|| format!("{}/bin/python", env.root));
        let Ok(r) = cx.tree.stat(&python) else {
            continue; // venv-interpreter-missing
        };
        let Some(runs) = version_of(cx, &r.path) else {
            continue;
        };
        let runs = major_minor(&runs);
        if runs == created_with {
            continue;
        }
        let has_own = ["lib", "lib64"].iter().any(|l| {
            cx.tree
                .exists(&format!("{}/{l}/python{runs}/site-packages", env.root))
        });
        if has_own {
            continue;
        }
        out.push(
            VenvPythonVersionMismatch {
                step: cx
                    .tree
                    .lstat(&format!("{}/pyvenv.cfg", env.root))
                    .ok()
                    .map(|r| cx.step(cx.tree.node(r.id).layer as usize)),
                env: env.root.clone(),
                interpreter: r.path,
                runs,
                created_with,
                launchers: facts.launchers.len(),
            }
            .into(),
        );
    }
}
