//! `venv-interpreter-missing`: a venv's `bin/python` does not resolve, so
//! every launcher of the venv fails with `no such file or directory` (the
//! kernel reports the *interpreter* missing as the script missing). The
//! usual cause: the base interpreter named by `home` in `pyvenv.cfg` was
//! purged, or the venv was copied into an image without that Python.

use super::{CheckCtx, Code};
use crate::finding::Finding;
use crate::python::env::EnvKind;

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
        let mut f = Finding::new(
            Code::VenvInterpreterMissing,
            &env.root,
            match &target {
                Some(t) => format!("`{python}` points at `{t}`, which does not resolve to an executable: every launcher in this venv fails"),
                None => format!("`{python}` is missing: every launcher in this venv fails"),
            },
        )
        .env(&env.root)
        .field("interpreter", python.as_str())
        .field("launchers", facts.launchers.len());
        if let Some(h) = &home {
            f = f
                .field("home", h.as_str())
                .note(format!("`pyvenv.cfg` says `home = {h}`"));
        }
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
        if chain.len() > 1 {
            f = f.note(format!("symlink chain: {}", chain.join(" -> ")));
        }
        if let Some(layer) = cx.removed_by(&cur) {
            f = f.note(format!(
                "the base interpreter was deleted by {}",
                cx.layer_label(layer)
            ));
            f = cx.at_layer(f, layer);
        }
        out.push(f.hint("keep the Python the venv was created with, or rebuild the venv against the Python in this image"));
    }
}
