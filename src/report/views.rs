//! The report's views of the audited image and its environments, as `From`
//! impls: what of an [`Image`] and of the Python facts ([`EnvFacts`]) a report
//! shows. Kept here, beside the view types, so the audit itself never names a
//! report type.

use crate::image::Image;
use crate::python::facts::EnvFacts;
use crate::python::launcher::{Interpreter, Launcher};
use crate::report::{EnvironmentInfo, ImageInfo, LauncherInfo, LayerInfo};

/// Build the report's view of the image.
impl From<&Image> for ImageInfo {
    fn from(image: &Image) -> ImageInfo {
        let r = &image.resolved;
        ImageInfo {
            source: image.input.clone(),
            format: r.format.as_str().to_string(),
            reference: r.reference.clone(),
            config_digest: r.config_digest.clone(),
            manifest_digest: r
                .manifest_digest
                .clone()
                .filter(|_| r.format == crate::source::Format::Registry),
            architecture: r.config.architecture.clone(),
            os: r.config.os.clone(),
            layers: image
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| LayerInfo {
                    index: i,
                    digest: l.digest.clone(),
                    diff_id: l.diff_id.clone(),
                    media_type: l.media_type.clone(),
                    size: l.stored_size,
                    created_by: l.created_by.clone(),
                })
                .collect(),
        }
    }
}

/// The report's view of one environment and its launchers.
impl From<&EnvFacts> for EnvironmentInfo {
    fn from(f: &EnvFacts) -> EnvironmentInfo {
        EnvironmentInfo {
            root: f.env.root.clone(),
            kind: f.env.kind.as_str().to_string(),
            python_version: f.env.version.clone(),
            interpreter: f.env.interpreter.clone(),
            bin_dir: f.env.bin_dirs.join(":"),
            site_dirs: f.env.site_dirs.clone(),
            distributions: f.dists.len(),
            launchers: f
                .launchers
                .iter()
                .map(|l| {
                    let (base, interp, module, ep) = match &l.launcher {
                        Launcher::Script {
                            interpreter,
                            module,
                            func,
                            ..
                        } => (
                            "pip",
                            Some(interpreter),
                            Some(module.clone()),
                            Some(format!("{module}:{func}")),
                        ),
                        Launcher::LoadEntryPoint {
                            interpreter,
                            dist,
                            group,
                            name,
                            ..
                        } => (
                            "easy-install",
                            Some(interpreter),
                            None,
                            Some(format!("{dist} {group} {name}")),
                        ),
                        Launcher::NotALauncher(_) => ("none", None, None, None),
                    };
                    let (suffix, path) = match interp {
                        Some(Interpreter::Path(p)) => ("", Some(p.clone())),
                        Some(Interpreter::ShExec { python, .. }) => {
                            ("/sh-exec", Some(python.clone()))
                        }
                        Some(Interpreter::Env { program, .. }) => ("/env", Some(program.clone())),
                        Some(Interpreter::Relocatable { program, .. }) => {
                            ("/relocatable", Some(program.clone()))
                        }
                        None => ("", None),
                    };
                    LauncherInfo {
                        path: l.path.clone(),
                        template: format!("{base}{suffix}"),
                        interpreter: path,
                        module,
                        entry_point: ep,
                        runs_at_start: l.runs_at_start,
                        aliases: l.aliases.clone(),
                    }
                })
                .collect(),
        }
    }
}
