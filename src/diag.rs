//! The rule vocabulary: every rule's [`Code`], its one-line description, its
//! default [`Severity`] and where it is documented.
//!
//! This is the bottom of the analyzer layer: it names rules and depends on
//! nothing else in the crate, so that findings (`finding`), the checks that
//! produce them (`checks`), the config that overrides them (`config`), the sink
//! that applies that config (`sink`) and the reports that render them
//! (`report`) can all name a rule without depending on each other (cargo-deny
//! keeps its `Code` enums in `diags.rs`, apart from the checks, for the same
//! reason). The wording of each finding does *not* live here: it lives in the
//! typed diagnostic of each rule, `checks/<rule>.rs`.
//!
//! The code, the check's file name and the `docs/rules.md` heading are the same
//! word (`entry-point-module-missing` ↔ `checks/entry_point_module_missing.rs`
//! ↔ `docs/rules.md#entry-point-module-missing`). The order of [`Code`] is the
//! order of the docs.

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
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
    serde::Deserialize,
    strum::Display,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a gate.
    Info,
    /// Likely a problem; fails the gate only with `fail-on = "warning"`.
    Warning,
    /// Breaks at run time or loses metadata; fails the gate by default.
    Error,
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
    /// A library an extension module or the interpreter needs does not resolve.
    SharedLibraryMissing,
    /// An extension module built for another Python version.
    ExtensionAbiMismatch,
    /// An ELF object or a wheel of another CPU architecture than the image's.
    ElfArchMismatch,
    /// A venv whose `bin/python` is another Python version than it was made with.
    VenvPythonVersionMismatch,
}

impl Code {
    /// The kebab-case id, e.g. `record-mismatch`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Where the rule is documented, relative to the repository root:
    /// `docs/rules.md#<code>` (the heading is the code itself).
    pub fn docs_path(self) -> String {
        format!("docs/rules.md#{}", self.as_str())
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
            Code::SharedLibraryMissing => {
                "a shared library that an extension module or the interpreter links does not resolve in the image"
            }
            Code::ExtensionAbiMismatch => {
                "an extension module is built for another Python version than its environment's"
            }
            Code::ElfArchMismatch => {
                "an extension module, the interpreter or a wheel is for another CPU architecture than the image"
            }
            Code::VenvPythonVersionMismatch => {
                "a venv's bin/python runs another Python version than the venv was created with"
            }
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
            assert_eq!(code.docs_path(), format!("docs/rules.md#{code}"));
        }
    }
}
