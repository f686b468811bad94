//! The rule registry: one [`Code`] per rule, one file per rule.
//!
//! The code, the file name and the `docs/rules.md` heading are the same word
//! (`entry-point-module-missing` ↔ `checks/entry_point_module_missing.rs` ↔
//! `docs/rules.md#entry-point-module-missing`). The order of [`Code`] is the
//! order of the docs.

use std::collections::HashMap;

use serde::Serialize;

use crate::audit::EnvFacts;
use crate::finding::{Finding, Severity};
use crate::image::Image;
use crate::python::dist::Dist;
use crate::python::entry_points::EntryPoint;
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
mod venv_interpreter_missing;

/// A check: reads facts, pushes findings.
pub type CheckFn = fn(&CheckCtx<'_>, &mut Vec<Finding>);

/// Every check, in docs order. `size-budget-exceeded` is checked by the
/// gate against the size view, not here.
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
    /// Removed subtree roots → layer that removed them.
    removed: HashMap<&'a str, usize>,
}

impl<'a> CheckCtx<'a> {
    /// Build the context.
    pub fn new(image: &'a Image, facts: &'a [EnvFacts]) -> CheckCtx<'a> {
        let mut removed = HashMap::new();
        for (i, e) in image.effects.iter().enumerate() {
            for r in &e.removals {
                removed.insert(r.path.as_str(), i);
            }
        }
        CheckCtx {
            image,
            tree: &image.tree,
            facts,
            path: crate::audit::path_var(image),
            removed,
        }
    }

    /// The layer whose whiteout/opaque/overwrite removed `path` (or an
    /// ancestor of it), if any.
    pub fn removed_by(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.removed.get(p) {
                return Some(*l);
            }
            match p.rfind('/') {
                Some(0) | None => return None,
                Some(i) => p = &p[..i],
            }
        }
    }

    /// Attach layer `i` (and its Dockerfile step) to a finding.
    pub fn at_layer(&self, f: Finding, layer: usize) -> Finding {
        let created_by = self
            .image
            .layers
            .get(layer)
            .and_then(|l| l.created_by.clone());
        f.layer(layer, created_by)
    }

    /// A short `layer N (`RUN …`)` label.
    pub fn layer_label(&self, layer: usize) -> String {
        match self
            .image
            .layers
            .get(layer)
            .and_then(|l| l.created_by.as_deref())
        {
            Some(c) => format!("layer {layer} (`{}`)", shorten(c, 100)),
            None => format!("layer {layer}"),
        }
    }
}

/// Cut a string to at most `n` chars, with an ellipsis.
pub fn shorten(s: &str, n: usize) -> String {
    let s = s.trim();
    let s = s.strip_prefix("/bin/sh -c ").unwrap_or(s);
    let s = s.strip_prefix("#(nop) ").unwrap_or(s).trim();
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{cut}…")
    }
}

/// Console and GUI scripts declared by the visible distributions, by name.
pub fn declared_scripts(facts: &EnvFacts) -> HashMap<&str, (&Dist, &EntryPoint)> {
    let mut m = HashMap::new();
    for d in facts.all_dists() {
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

/// Stable rule ids. Serialized in kebab-case, the form users write in config.
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// A launcher in `bin/` that no installed distribution declares.
    EntryPointWithoutMetadata,
    /// A declared, RECORD-listed launcher that is absent.
    ShimMissing,
    /// A launcher without an execute bit.
    ShimNotExecutable,
    /// A launcher whose interpreter does not resolve to an executable file.
    InterpreterMissing,
    /// A venv whose `bin/python` does not resolve.
    VenvInterpreterMissing,
    /// A launcher whose module is not importable from its environment.
    EntryPointModuleMissing,
    /// A RECORD-listed file whose hash or size differs.
    RecordMismatch,
    /// RECORD-listed files that are absent.
    RecordMissingFile,
    /// A dist-info without METADATA (or RECORD/WHEEL when an installer wrote it).
    MetadataFileMissing,
    /// A metadata file that cannot be parsed.
    MetadataMalformed,
    /// A required distribution that is not installed.
    DependencyMissing,
    /// An installed distribution whose version does not satisfy a requirement.
    DependencyConflict,
    /// A layer deleted a file that must stay (dist-info, launcher, interpreter, …).
    RequiredFileDeleted,
    /// A size budget from the config is exceeded.
    SizeBudgetExceeded,
}

impl Code {
    /// The kebab-case id, e.g. `record-mismatch`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// One-line description, used for SARIF rule metadata and `--help` lists.
    pub fn description(self) -> &'static str {
        match self {
            Code::EntryPointWithoutMetadata => {
                "a launcher in bin/ that no installed distribution declares as an entry point"
            }
            Code::ShimMissing => "a declared console-script launcher is absent from bin/",
            Code::ShimNotExecutable => "a launcher has no execute bit",
            Code::InterpreterMissing => {
                "the interpreter a launcher names does not resolve to an executable file"
            }
            Code::VenvInterpreterMissing => "a venv's bin/python does not resolve",
            Code::EntryPointModuleMissing => {
                "the module a launcher imports is not importable in its environment"
            }
            Code::RecordMismatch => "an installed file's sha256 or size differs from RECORD",
            Code::RecordMissingFile => "files listed in RECORD are absent",
            Code::MetadataFileMissing => "a dist-info directory lacks METADATA, RECORD or WHEEL",
            Code::MetadataMalformed => "a metadata file cannot be parsed",
            Code::DependencyMissing => "a required distribution is not installed",
            Code::DependencyConflict => {
                "an installed distribution does not satisfy a version requirement"
            }
            Code::RequiredFileDeleted => {
                "a layer deleted a file that must stay (metadata, launcher, interpreter)"
            }
            Code::SizeBudgetExceeded => "a size budget from the config is exceeded",
        }
    }

    /// Severity before any config override.
    pub fn default_severity(self) -> Severity {
        // Every rule fires only where the fixtures' runtime truth records a
        // failure or lost metadata, so all default to error; `[rules]` in
        // imgaudit.toml demotes.
        Severity::Error
    }
}

/// Launchers that break when distribution `key` has broken metadata: its own
/// console scripts, and those of every distribution that requires it (their
/// plugin loading and version checks read its metadata at start-up).
///
/// The answer for every key is indexed once per environment (on first
/// use), so asking per problem is a lookup, not a pass over every launcher
/// and requirement (issue 14).
pub fn affected_launchers(facts: &EnvFacts, key: &str) -> Vec<String> {
    facts
        .launchers_by_dependency
        .get_or_init(|| launchers_by_dependency(facts))
        .get(key)
        .cloned()
        .unwrap_or_default()
}

/// For each distribution key, the sorted launchers that depend on its
/// metadata (see [`affected_launchers`]).
fn launchers_by_dependency(facts: &EnvFacts) -> HashMap<String, Vec<String>> {
    let declared = declared_scripts(facts);
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for l in &facts.launchers {
        let Some((d, _)) = declared.get(l.name.as_str()) else {
            continue;
        };
        let mut keys: Vec<String> = d
            .requirements
            .iter()
            .flatten()
            .map(|req| crate::python::normalize_name(req.name.as_ref()))
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn codes_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::iter() {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert_eq!(code.as_str().parse::<Code>().unwrap(), code);
        }
    }
}
