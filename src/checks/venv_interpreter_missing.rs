//! `venv-interpreter-missing`: a venv's `bin/python` does not resolve, so
//! every launcher of the venv fails with `no such file or directory` (the
//! kernel reports the *interpreter* missing as the script missing). The
//! usual cause: the base interpreter named by `home` in `pyvenv.cfg` was
//! purged, or the venv was copied into an image without that Python.

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::finding::{Finding, Step};
use crate::python::env::EnvKind;

/// The typed diagnostic. JSON fields: `interpreter`, `launchers`, `home`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct VenvInterpreterMissing {
    /// The venv root (the finding's path and env).
    #[serde(skip)]
    pub env: String,
    /// Where `interpreter` points, when it is a symlink.
    #[serde(skip)]
    pub target: Option<String>,
    /// The symlink chain from `interpreter`, itself first.
    #[serde(skip)]
    pub chain: Vec<String>,
    /// The layer that deleted the end of the chain, when one did.
    #[serde(skip)]
    pub deleted_by: Option<Step>,
    /// The venv's interpreter, e.g. `/opt/venv/bin/python`.
    pub interpreter: String,
    /// How many launchers the venv has (all of them fail).
    pub launchers: usize,
    /// `home` from `pyvenv.cfg`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

impl From<VenvInterpreterMissing> for Finding {
    fn from(d: VenvInterpreterMissing) -> Finding {
        let python = &d.interpreter;
        let mut f = Finding::new(
            Code::VenvInterpreterMissing,
            &d.env,
            match &d.target {
                Some(t) => format!("`{python}` points at `{t}`, which does not resolve to an executable: every launcher in this venv fails"),
                None => format!("`{python}` is missing: every launcher in this venv fails"),
            },
        )
        .env(&d.env)
        .fields(&d);
        if let Some(h) = &d.home {
            f = f.note(format!("`pyvenv.cfg` says `home = {h}`"));
        }
        if d.chain.len() > 1 {
            f = f.note(format!("symlink chain: {}", d.chain.join(" -> ")));
        }
        if let Some(step) = &d.deleted_by {
            f = f.note(format!(
                "the base interpreter was deleted by {}",
                step.label()
            ));
        }
        f.at(d.deleted_by.as_ref()).hint("keep the Python the venv was created with, or rebuild the venv against the Python in this image")
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let env = &facts.env;
        if env.kind != EnvKind::Venv {
            continue;
        }
        let python = env
            .interpreter
            .clone()
            .unwrap_or_else(|| format!("{}/bin/python", env.root));
        let ok = cx.tree.stat(&python).is_ok_and(|r| {
            let n = cx.tree.node(r.id);
            n.kind == crate::tree::Kind::File && n.is_executable()
        });
        if ok {
            continue;
        }
        let target = cx
            .tree
            .lstat(&python)
            .ok()
            .and_then(|r| cx.tree.node(r.id).link.as_deref().map(String::from));
        let home = env.pyvenv.as_ref().and_then(|c| c.home.clone());
        // Follow the symlink chain to the first link whose target is gone.
        let mut chain = vec![python.clone()];
        let mut cur = python.clone();
        for _ in 0..crate::tree::MAX_HOPS {
            let Ok(r) = cx.tree.lstat(&cur) else { break };
            let Some(link) = cx.tree.node(r.id).link.as_deref() else {
                break;
            };
            let dir = r.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            cur = if link.starts_with('/') {
                link.to_string()
            } else {
                format!("{dir}/{link}")
            };
            chain.push(cur.clone());
        }
        out.push(
            VenvInterpreterMissing {
                env: env.root.clone(),
                target,
                chain,
                deleted_by: cx.removed_by(&cur).map(|l| cx.step(l)),
                interpreter: python,
                launchers: facts.launchers.len(),
                home,
            }
            .into(),
        );
    }
}
