//! How the container finds a command: `PATH` from the image config and a
//! `which` through the merged tree.
//!
//! This module owns command lookup as the kernel and a shell would do it at
//! container start, against the final filesystem: nothing Python-specific.
//! It depends only on the image config (`crate::source`) and the merged tree
//! (`crate::tree`), so both the Python fact gathering and the checks use it
//! without depending on each other.

use crate::source::ImageConfig;
use crate::tree::{Kind, MergedTree};

/// Docker's default `PATH`, used when the image config sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `PATH` from the image config, or Docker's default; relative entries are
/// dropped (they depend on the working directory).
pub fn path_var(config: &ImageConfig) -> Vec<String> {
    config
        .env_var("PATH")
        .unwrap_or(DEFAULT_PATH)
        .split(':')
        .filter(|s| s.starts_with('/'))
        .map(String::from)
        .collect()
}

/// Resolve a command name through `path` to an absolute path in the tree: the
/// first executable regular file (symlinks followed). A name with a `/` is
/// taken as a path and only has to exist.
pub fn which(tree: &MergedTree, path: &[String], cmd: &str) -> Option<String> {
    if cmd.contains('/') {
        return tree.stat(cmd).ok().map(|_| cmd.to_string());
    }
    path.iter()
        .map(|d| format!("{}/{}", d.trim_end_matches('/'), cmd))
        .find(|p| {
            tree.stat(p).is_ok_and(|r| {
                tree.node(r.id).kind == Kind::File && tree.node(r.id).is_executable()
            })
        })
}

/// The commands the container runs at start: the first words of `Entrypoint`
/// then `Cmd` (`argv[0]`, and a launcher named as `argv[1]` or `argv[2]` of a shell
/// or `python`), each as written and as resolved through `PATH`.
pub fn start_commands(tree: &MergedTree, config: &ImageConfig) -> Vec<String> {
    let path = path_var(config);
    config
        .entrypoint
        .iter()
        .chain(config.cmd.iter())
        .take(3)
        .flat_map(|s| {
            let resolved = which(tree, &path, s);
            [Some(s.clone()), resolved].into_iter().flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_var_defaults_and_drops_relative_entries() {
        let config = ImageConfig::default();
        assert_eq!(path_var(&config).join(":"), DEFAULT_PATH);
        let config = ImageConfig {
            env: vec!["PATH=/opt/venv/bin:bin:/usr/bin".into()],
            ..ImageConfig::default()
        };
        assert_eq!(path_var(&config), ["/opt/venv/bin", "/usr/bin"]);
    }
}
