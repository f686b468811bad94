//! The checks: one file per rule, and [`CHECKS`], the registry that runs
//! them in docs order.
//!
//! Each `checks/<rule>.rs` owns one rule: its `check` function, which reads
//! the image and the Python facts ([`EnvFacts`]) and pushes findings, and its
//! typed diagnostic, a struct with the rule's fields whose `From` impl into
//! [`Finding`] holds the only wording of the rule (cargo-deny's `struct X` +
//! `From<X> for Diag`). The rule vocabulary ([`Code`], descriptions, default
//! severities) lives below, in `crate::diag`; the config is applied above, in
//! `crate::sink`. The code, the file name and the `docs/rules.md` heading are
//! the same word (`entry-point-module-missing` ↔
//! `checks/entry_point_module_missing.rs` ↔
//! `docs/rules.md#entry-point-module-missing`).

use std::collections::HashMap;

pub use crate::diag::Code;
use crate::finding::{Finding, Step};
use crate::image::Image;
use crate::overlay::History;
use crate::python::dist::Dist;
use crate::python::entry_points::EntryPoint;
use crate::python::facts::EnvFacts;
use crate::tree::MergedTree;

mod dependency_conflict;
mod dependency_missing;
mod entry_point_module_missing;
mod entry_point_without_metadata;
mod interpreter_missing;
mod metadata_file_missing;
mod metadata_malformed;
mod record_mismatch;
mod record_missing_file;
mod required_file_deleted;
mod shim_missing;
mod shim_not_executable;
pub mod size_budget_exceeded;
mod venv_interpreter_missing;
// Issue 12, the native layer.
mod elf_arch_mismatch;
mod extension_abi_mismatch;
mod shared_library_missing;
mod venv_python_version_mismatch;

/// The note of every launcher finding whose launcher the container runs first.
pub(crate) const RUNS_AT_START: &str =
    "this launcher runs at container start (image Entrypoint/Cmd)";

/// A check: reads facts, pushes findings.
pub type CheckFn = fn(&CheckCtx<'_>, &mut Vec<Finding>);

/// Every check of the image's Python environments, in docs order.
/// `size-budget-exceeded` reads the config's budgets, so it runs apart
/// ([`size_budget_exceeded::check`]).
pub const CHECKS: &[(Code, CheckFn)] = &[
    (
        Code::EntryPointWithoutMetadata,
        entry_point_without_metadata::check,
    ),
    (Code::ShimMissing, shim_missing::check),
    (Code::ShimNotExecutable, shim_not_executable::check),
    (Code::InterpreterMissing, interpreter_missing::check),
    (
        Code::VenvInterpreterMissing,
        venv_interpreter_missing::check,
    ),
    (
        Code::EntryPointModuleMissing,
        entry_point_module_missing::check,
    ),
    (Code::RecordMismatch, record_mismatch::check),
    (Code::RecordMissingFile, record_missing_file::check),
    (Code::MetadataFileMissing, metadata_file_missing::check),
    (Code::MetadataMalformed, metadata_malformed::check),
    (Code::DependencyMissing, dependency_missing::check),
    (Code::DependencyConflict, dependency_conflict::check),
    (Code::RequiredFileDeleted, required_file_deleted::check),
    (Code::SharedLibraryMissing, shared_library_missing::check),
    (Code::ExtensionAbiMismatch, extension_abi_mismatch::check),
    (Code::ElfArchMismatch, elf_arch_mismatch::check),
    (
        Code::VenvPythonVersionMismatch,
        venv_python_version_mismatch::check,
    ),
];

/// What every check reads: the image (tree, config, layer effects) and the
/// Python facts gathered once.
pub struct CheckCtx<'a> {
    /// The image.
    pub image: &'a Image,
    /// Its merged tree.
    pub tree: &'a MergedTree,
    /// Python environments with their distributions and launchers.
    pub facts: &'a [EnvFacts],
    /// `PATH` of the image config.
    pub path: Vec<String>,
    /// What the layers removed, asked by path (the one history query).
    pub history: History<'a>,
}

impl<'a> CheckCtx<'a> {
    /// Build the context.
    pub fn new(image: &'a Image, facts: &'a [EnvFacts]) -> CheckCtx<'a> {
        CheckCtx {
            image,
            tree: &image.tree,
            facts,
            path: crate::exec::path_var(&image.resolved.config),
            history: image.history(),
        }
    }

    /// The layer whose whiteout/opaque/overwrite removed `path` (or an
    /// ancestor of it), if any.
    pub fn removed_by(&self, path: &str) -> Option<usize> {
        self.history.deleted_by(path)
    }

    /// Layer `i` and its Dockerfile step.
    pub fn step(&self, layer: usize) -> Step {
        Step {
            layer,
            created_by: self
                .image
                .layers
                .get(layer)
                .and_then(|l| l.created_by.clone()),
        }
    }
}

/// Name the symlinks a launcher is reached through (`pipx`'s and `uv tool`'s
/// bin dirs): a user types `flake8` and runs `/usr/local/bin/flake8`, not the
/// tool venv's file the finding names. Every finding on a launcher with
/// aliases gets a first note "reached as …" and the JSON field `reached_as`.
pub fn note_aliases(facts: &[EnvFacts], findings: &mut [Finding]) {
    let aliases: HashMap<&str, &[String]> = facts
        .iter()
        .flat_map(|f| &f.launchers)
        .filter(|l| !l.aliases.is_empty())
        .map(|l| (l.path.as_str(), l.aliases.as_slice()))
        .collect();
    if aliases.is_empty() {
        return;
    }
    for f in findings.iter_mut() {
        let Some(links) = aliases.get(f.location.path.as_str()) else {
            continue;
        };
        let list = links
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        f.notes.insert(
            0,
            crate::finding::Note::Note(format!("reached as {list} (a symlink to this launcher)")),
        );
        f.fields
            .insert("reached_as".into(), serde_json::json!(links.to_vec()));
    }
}

/// Console and GUI scripts declared by the visible distributions, by name.
pub fn declared_scripts(facts: &EnvFacts) -> HashMap<&str, (&Dist, &EntryPoint)> {
    facts.declared_scripts()
}

/// pip names its own launchers after the *target* interpreter (`pip`,
/// `pip3`, `pip3.X`), whatever `entry_points.txt` says (pip's
/// `_install_wheel`/`get_console_script_specs`).
pub fn is_pip_alias(name: &str) -> bool {
    name == "pip"
        || name == "pip3"
        || name
            .strip_prefix("pip3.")
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
