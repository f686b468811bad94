//! `interpreter-missing`: the interpreter on a launcher's shebang (or on the
//! `exec` line of pip's `/bin/sh` polyglot) does not resolve, chroot-style,
//! to an executable regular file. The kernel then reports
//! `exec /opt/venv/bin/alembic: no such file or directory` — about the
//! launcher, which does exist. The classic cause: a venv copied from a
//! builder stage to another path (`COPY --from=builder /app/.venv /opt/venv`).

use serde::Serialize;

use super::{CheckCtx, Code};
use crate::exec::which;
use crate::finding::{Finding, Step};
use crate::python::launcher::{Interpreter, Launcher};
use crate::tree::{Kind, MergedTree};

/// Why `path` is not a runnable interpreter, or `None` when it is.
fn not_runnable(tree: &MergedTree, path: &str) -> Option<String> {
    match tree.stat(path) {
        Err(e) => Some(e.to_string()),
        Ok(r) => {
            let n = tree.node(r.id);
            if n.kind != Kind::File {
                Some(format!("`{}` is not a regular file", r.path))
            } else if !n.is_executable() {
                Some(format!("`{}` is not executable", r.path))
            } else {
                None
            }
        }
    }
}

/// The typed diagnostic. JSON fields: `interpreter`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct InterpreterMissing {
    /// The launcher.
    #[serde(skip)]
    pub path: String,
    /// Its command name.
    #[serde(skip)]
    pub name: String,
    /// Root of its environment.
    #[serde(skip)]
    pub env: String,
    /// Why the interpreter does not run (the lookup's error).
    #[serde(skip)]
    pub why: String,
    /// Named by the image's Entrypoint/Cmd.
    #[serde(skip)]
    pub runs_at_start: bool,
    /// The venv root the launcher was written for, when the venv was moved.
    #[serde(skip)]
    pub moved_from: Option<String>,
    /// The layer blamed: the one that deleted the interpreter, else the one
    /// that wrote the launcher.
    #[serde(skip)]
    pub step: Step,
    /// `step` deleted the interpreter.
    #[serde(skip)]
    pub deleted: bool,
    /// The program that is missing: the shebang's interpreter, the shell of
    /// a polyglot launcher, `/usr/bin/env`'s program or a tool it needs.
    pub interpreter: String,
}

impl From<InterpreterMissing> for Finding {
    fn from(d: InterpreterMissing) -> Finding {
        let mut f = Finding::new(
            Code::InterpreterMissing,
            &d.path,
            format!("launcher `{}` runs `{}`, which is missing: it fails with `no such file or directory`", d.name, d.interpreter),
        )
        .env(&d.env)
        .fields(&d)
        .note(d.why.clone());
        if d.runs_at_start {
            f = f.note(super::RUNS_AT_START);
        }
        if let Some(venv_root) = &d.moved_from {
            f = f
                .note(format!(
                    "the venv was built at `{venv_root}` and moved to `{}`: launchers keep the old path",
                    d.env
                ))
                .hint(format!(
                    "build the venv at `{}` in the builder stage, or reinstall launchers after the copy",
                    d.env
                ));
        }
        if d.deleted {
            f = f.note(format!("deleted by {}", d.step.label()));
        }
        f.at(Some(&d.step))
    }
}

/// Run the check.
pub(crate) fn check(cx: &CheckCtx<'_>, out: &mut Vec<Finding>) {
    for facts in cx.facts {
        let env = &facts.env;
        // When the venv's own python is broken, `venv-interpreter-missing`
        // is the cause: launchers that name it are not reported again.
        let venv_python_broken = env
            .interpreter
            .as_deref()
            .is_some_and(|p| env.pyvenv.is_some() && not_runnable(cx.tree, p).is_some());
        for l in &facts.launchers {
            let interp = match &l.launcher {
                Launcher::Script { interpreter, .. }
                | Launcher::LoadEntryPoint { interpreter, .. } => interpreter,
                Launcher::NotALauncher(_) => continue,
            };
            let mut problems: Vec<(String, String)> = Vec::new();
            match interp {
                Interpreter::Path(p) | Interpreter::ShExec { python: p, .. } => {
                    if let Interpreter::ShExec { shell, .. } = interp {
                        if let Some(why) = not_runnable(cx.tree, shell) {
                            problems.push((shell.clone(), why));
                        }
                    }
                    let under_venv = venv_python_broken
                        && env.bin_dirs.iter().any(|b| p.starts_with(&format!("{b}/")));
                    if !under_venv {
                        if let Some(why) = not_runnable(cx.tree, p) {
                            problems.push((p.clone(), why));
                        }
                    }
                }
                Interpreter::Env {
                    env: env_bin,
                    program,
                } => {
                    if let Some(why) = not_runnable(cx.tree, env_bin) {
                        problems.push((env_bin.clone(), why));
                    } else if which(cx.tree, &cx.path, program).is_none() {
                        problems.push((
                            program.clone(),
                            format!(
                                "`{program}` is not found on the image's PATH ({})",
                                cx.path.join(":")
                            ),
                        ));
                    }
                }
                Interpreter::Relocatable { shell, program } => {
                    if let Some(why) = not_runnable(cx.tree, shell) {
                        problems.push((shell.clone(), why));
                    }
                    for tool in ["realpath", "dirname"] {
                        if which(cx.tree, &cx.path, tool).is_none() {
                            problems.push((
                                tool.into(),
                                format!("`{tool}` is not on the image's PATH"),
                            ));
                        }
                    }
                    let p = format!("{}/{program}", l.bin_dir);
                    if !venv_python_broken {
                        if let Some(why) = not_runnable(cx.tree, &p) {
                            problems.push((p, why));
                        }
                    }
                }
            }
            for (interpreter, why) in problems {
                let moved_from = interpreter
                    .strip_suffix("/bin/python")
                    .or_else(|| interpreter.strip_suffix("/bin/python3"))
                    .filter(|venv_root| *venv_root != env.root && env.pyvenv.is_some())
                    .map(String::from);
                // Deleted by a later layer, or never there: then the step
                // that wrote the launcher is the cause.
                let deleted_by = cx.removed_by(&interpreter).map(|l| cx.step(l));
                out.push(
                    InterpreterMissing {
                        path: l.path.clone(),
                        name: l.name.clone(),
                        env: env.root.clone(),
                        why,
                        runs_at_start: l.runs_at_start,
                        moved_from,
                        step: deleted_by
                            .clone()
                            .unwrap_or_else(|| cx.step(l.layer as usize)),
                        deleted: deleted_by.is_some(),
                        interpreter,
                    }
                    .into(),
                );
            }
        }
    }
}
