//! Every wording variant of every rule, pinned: each typed diagnostic is
//! built by hand (the fixtures in `tests/it/fixtures.rs` pin what real images
//! produce, but not every branch of every message) and rendered as the JSON
//! finding it becomes.

use super::*;
use crate::finding::Step;

fn step(layer: usize) -> Step {
    Step {
        layer,
        created_by: Some(format!(
            "RUN /bin/sh -c rm -rf /opt/venv/lib/python3.12/site-packages/*.dist-info step {layer} # buildkit"
        )),
    }
}

fn render(findings: Vec<Finding>) -> String {
    findings
        .iter()
        .map(|f| serde_json::to_string_pretty(f).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_rule_wording_is_pinned() {
    use entry_point_without_metadata::{EntryPointWithoutMetadata, Missing};
    let env = || "/opt/venv".to_string();
    let epwm =
        |missing: Missing, deleted: Option<(Step, String, usize)>| EntryPointWithoutMetadata {
            path: "/opt/venv/bin/tool".into(),
            env: env(),
            runs_at_start: true,
            missing,
            deleted,
            launcher: "tool".into(),
            distribution: None,
            module: None,
        };
    let findings: Vec<Finding> = vec![
        EntryPointWithoutMetadata {
            module: Some("tool.cli".into()),
            ..epwm(
                Missing::ConsoleScript,
                Some((
                    step(3),
                    "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info".into(),
                    1,
                )),
            )
        }
        .into(),
        EntryPointWithoutMetadata {
            distribution: Some("tool".into()),
            ..epwm(
                Missing::Distribution {
                    entry_point: "tool".into(),
                },
                None,
            )
        }
        .into(),
        EntryPointWithoutMetadata {
            distribution: Some("tool".into()),
            ..epwm(
                Missing::EntryPoint {
                    group: "console_scripts".into(),
                    entry_point: "tool".into(),
                    dist_dir: "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info".into(),
                },
                Some((
                    step(4),
                    "/opt/venv/lib/python3.12/site-packages/a-1.dist-info".into(),
                    2,
                )),
            )
        }
        .into(),
        shim_missing::ShimMissing {
            path: "/opt/venv/bin/tool".into(),
            env: env(),
            script: "tool".into(),
            record_line: 7,
            record_path: "../../../bin/tool".into(),
            deleted_by: Some(step(3)),
            distribution: "tool".into(),
            entry_point: "tool = tool.cli:main".into(),
        }
        .into(),
        shim_not_executable::ShimNotExecutable {
            path: "/opt/venv/bin/tool".into(),
            name: "tool".into(),
            mode: 0o644,
            env: env(),
            step: step(2),
        }
        .into(),
        interpreter_missing::InterpreterMissing {
            path: "/opt/venv/bin/tool".into(),
            name: "tool".into(),
            env: env(),
            why: "`/build/venv/bin/python`: no such file or directory".into(),
            runs_at_start: false,
            moved_from: Some("/build/venv".into()),
            step: step(2),
            deleted: false,
            interpreter: "/build/venv/bin/python".into(),
        }
        .into(),
        interpreter_missing::InterpreterMissing {
            path: "/usr/bin/tool".into(),
            name: "tool".into(),
            env: "/usr".into(),
            why: "`/usr/bin/python3`: no such file or directory".into(),
            runs_at_start: true,
            moved_from: None,
            step: step(3),
            deleted: true,
            interpreter: "/usr/bin/python3".into(),
        }
        .into(),
        venv_interpreter_missing::VenvInterpreterMissing {
            env: env(),
            target: Some("/usr/bin/python3.12".into()),
            chain: vec!["/opt/venv/bin/python".into(), "/usr/bin/python3.12".into()],
            deleted_by: Some(step(3)),
            interpreter: "/opt/venv/bin/python".into(),
            launchers: 4,
            home: Some("/usr/bin".into()),
        }
        .into(),
        venv_interpreter_missing::VenvInterpreterMissing {
            env: env(),
            target: None,
            chain: vec!["/opt/venv/bin/python".into()],
            deleted_by: None,
            interpreter: "/opt/venv/bin/python".into(),
            launchers: 0,
            home: None,
        }
        .into(),
        entry_point_module_missing::EntryPointModuleMissing {
            path: "/opt/venv/bin/tool".into(),
            name: "tool".into(),
            env: env(),
            runs_at_start: true,
            top: "tool".into(),
            deleted_by: Some(step(3)),
            searched: vec![
                "/usr/lib/python3.12".into(),
                "/opt/venv/lib/python3.12/site-packages".into(),
            ],
            pth_missing: Vec::new(),
            module: "tool.cli".into(),
            pycache_only: None,
        }
        .into(),
        entry_point_module_missing::EntryPointModuleMissing {
            path: "/opt/venv/bin/tool".into(),
            name: "tool".into(),
            env: env(),
            runs_at_start: false,
            top: "tool".into(),
            deleted_by: None,
            searched: vec!["/opt/venv/lib/python3.12/site-packages".into()],
            pth_missing: Vec::new(),
            module: "tool.cli".into(),
            pycache_only: Some(
                "/opt/venv/lib/python3.12/site-packages/tool/__pycache__/cli.cpython-312.pyc"
                    .into(),
            ),
        }
        .into(),
        record_mismatch::RecordMismatch {
            path: "/opt/venv/lib/python3.12/site-packages/tool/a.py".into(),
            env: env(),
            size_differs: true,
            step: step(3),
            distribution: "tool".into(),
            expected_sha256: "AAAA".into(),
            expected_size: Some(10),
            actual_size: 12,
            actual_sha256: None,
            looks_stripped: false,
        }
        .into(),
        record_mismatch::RecordMismatch {
            path: "/opt/venv/lib/python3.12/site-packages/tool/_speedups.cpython-312-x86_64-linux-gnu.so".into(),
            env: env(),
            size_differs: true,
            step: step(3),
            distribution: "tool".into(),
            expected_sha256: "AAAA".into(),
            expected_size: Some(20000),
            actual_size: 14000,
            actual_sha256: None,
            looks_stripped: true,
        }
        .into(),
        record_mismatch::RecordMismatch {
            path: "/opt/venv/lib/python3.12/site-packages/tool/a.py".into(),
            env: env(),
            size_differs: false,
            step: step(3),
            distribution: "tool".into(),
            expected_sha256: "AAAA".into(),
            expected_size: None,
            actual_size: 12,
            actual_sha256: Some("BBBB".into()),
            looks_stripped: false,
        }
        .into(),
        record_missing_file::RecordMissingFile {
            dir: "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info".into(),
            env: env(),
            first: "/opt/venv/lib/python3.12/site-packages/tool/a.py".into(),
            deleted: Some((step(3), 2)),
            distribution: "tool".into(),
            count: 2,
            files: vec![
                "/opt/venv/lib/python3.12/site-packages/tool/a.py".into(),
                "/opt/venv/lib/python3.12/site-packages/tool/b.py".into(),
            ],
        }
        .into(),
        metadata_file_missing::MetadataFileMissing {
            dir: "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info".into(),
            env: env(),
            deleted_by: Some(step(3)),
            distribution: "tool".into(),
            file: "METADATA",
            launchers_at_risk: vec!["/opt/venv/bin/tool".into()],
        }
        .into(),
        metadata_malformed::MetadataMalformed {
            path: "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info/METADATA".into(),
            why: "the metadata of `tool` has no `Version` header".into(),
            env: env(),
            distribution: "tool".into(),
            launchers_at_risk: vec![],
        }
        .into(),
        dependency_missing::DependencyMissing {
            dir: "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info".into(),
            env: env(),
            name: "idna".into(),
            removed_by: Some(step(3)),
            distribution: "tool".into(),
            requirement: "idna<4,>=2.5".into(),
        }
        .into(),
        dependency_conflict::DependencyConflict {
            dir: "/opt/venv/lib/python3.12/site-packages/tool-1.0.dist-info".into(),
            env: env(),
            installed_name: "idna".into(),
            installed_dir: "/opt/venv/lib/python3.12/site-packages/idna-5.0.dist-info".into(),
            step: step(2),
            distribution: "tool".into(),
            requirement: "idna<4,>=2.5".into(),
            installed: "5.0".into(),
        }
        .into(),
        required_file_deleted::RequiredFileDeleted {
            step: step(3),
            first: "/opt/venv/pyvenv.cfg".into(),
            count: 1,
            files: vec!["/opt/venv/pyvenv.cfg".into()],
            kind: "venv configuration",
        }
        .into(),
        size_budget_exceeded::SizeBudgetExceeded {
            budget: size_budget_exceeded::Limit::Total,
            limit: 1_000,
            actual: 2_500_000,
            step: None,
        }
        .into(),
        size_budget_exceeded::SizeBudgetExceeded {
            budget: size_budget_exceeded::Limit::Layer,
            limit: 1_000,
            actual: 2_500_000,
            step: Some(step(1)),
        }
        .into(),
        size_budget_exceeded::SizeBudgetExceeded {
            budget: size_budget_exceeded::Limit::Waste,
            limit: 1_000,
            actual: 2_500,
            step: Some(step(3)),
        }
        .into(),
        // Issue 12: the native layer.
        shared_library_missing::SharedLibraryMissing {
            path: "/usr/lib/x86_64-linux-gnu/libodbc.so.2".into(),
            env: Some(env()),
            deleted: Some((step(4), "/usr/lib/x86_64-linux-gnu/libodbc.so.2".into())),
            library: "libodbc.so.2".into(),
            needed_by: vec!["/opt/venv/lib/python3.11/site-packages/pyodbc.cpython-311-x86_64-linux-gnu.so".into()],
            modules: vec!["pyodbc (/opt/venv)".into()],
            launchers: vec!["/opt/venv/bin/tool".into()],
            searched: vec!["/usr/lib/x86_64-linux-gnu/libodbc.so.2".into()],
        }
        .into(),
        // The interpreter's own library, needed by several objects, in a
        // `.libs` directory: the other wording and hint.
        shared_library_missing::SharedLibraryMissing {
            path: "/usr/bin/python3.11".into(),
            env: None,
            deleted: None,
            library: "libz-abc123.so.1".into(),
            needed_by: vec!["/usr/bin/python3.11".into(), "/usr/lib/libx.so".into()],
            modules: vec!["python (/usr)".into()],
            launchers: Vec::new(),
            searched: vec!["/opt/x.libs/libz-abc123.so.1".into()],
        }
        .into(),
        extension_abi_mismatch::ExtensionAbiMismatch {
            path: "/opt/venv/lib/python3.11/site-packages/_cffi_backend.cpython-312-x86_64-linux-gnu.so".into(),
            env: env(),
            module: "_cffi_backend".into(),
            built_for: "CPython 3.12".into(),
            python: "3.11".into(),
        }
        .into(),
        elf_arch_mismatch::ElfArchMismatch {
            path: "/opt/venv/lib/python3.11/site-packages/pyzmq-26.2.0.dist-info".into(),
            env: env(),
            what: "distribution `pyzmq` 26.2.0".into(),
            image_platform: "linux/arm64".into(),
            elf_arch: vec!["amd64".into()],
            objects: vec!["/opt/venv/a.so".into(), "/opt/venv/b.so".into()],
            wheel_tags: vec!["cp311-cp311-manylinux_2_17_x86_64".into()],
        }
        .into(),
        venv_python_version_mismatch::VenvPythonVersionMismatch {
            env: env(),
            step: Some(step(1)),
            interpreter: "/usr/bin/python3.13".into(),
            runs: "3.13".into(),
            created_with: "3.11".into(),
            launchers: 3,
        }
        .into(),
    ];
    // Every rule is here.
    let codes: std::collections::BTreeSet<Code> = findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes.len(),
        <Code as strum::IntoEnumIterator>::iter().count()
    );
    insta::assert_snapshot!(render(findings));
}
