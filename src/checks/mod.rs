//! The rule registry: one [`Code`] per rule, one file per rule.
//!
//! The code, the file name and the `docs/rules.md` heading are the same word
//! (`entry-point-module-missing` ↔ `checks/entry_point_module_missing.rs` ↔
//! `docs/rules.md#entry-point-module-missing`). The order of [`Code`] is the
//! order of the docs.

use serde::Serialize;

use crate::finding::Severity;

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
        match self {
            Code::MetadataMalformed | Code::ShimNotExecutable => Severity::Warning,
            _ => Severity::Error,
        }
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
        }
    }
}
