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

/// The home directory of the container's process, as runc gives it: `HOME`
/// from the config when set; else the home of the config's `User` (a name or
/// a uid, the part before `:`; root when unset) in the image's `/etc/passwd`;
/// else `/` (runc's default when the user has no passwd entry).
pub fn home_dir(tree: &MergedTree, config: &ImageConfig) -> String {
    if let Some(home) = config.env_var("HOME") {
        return home.to_string();
    }
    let user = config
        .user
        .as_deref()
        .and_then(|u| u.split(':').next())
        .filter(|u| !u.is_empty())
        .unwrap_or("root");
    let passwd = tree
        .read_path("/etc/passwd", Some(PASSWD_MAX))
        .unwrap_or_default();
    passwd_home(&passwd, user).unwrap_or_else(|| "/".to_string())
}

/// Largest `/etc/passwd` read (the extractor keeps files up to this size).
const PASSWD_MAX: usize = 4 << 20;

/// The home field of `user` (a name, or a uid when all digits; root's
/// entry for uid 0 when it is named otherwise) in passwd(5) text.
fn passwd_home(passwd: &[u8], user: &str) -> Option<String> {
    let user = if user == "root" { "0" } else { user };
    let by_uid = !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit());
    String::from_utf8_lossy(passwd).lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 6 || line.starts_with('#') {
            return None;
        }
        let hit = if by_uid { f[2] == user } else { f[0] == user };
        (hit && f[5].starts_with('/')).then(|| f[5].to_string())
    })
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

    #[test]
    fn passwd_home_by_name_uid_and_root() {
        let passwd = b"# comment\nroot:x:0:0:root:/root:/bin/sh\n\
            app:x:1000:1000::/home/app:/bin/sh\nbroken:x:7\nnohome:x:8:8::relative:/bin/sh\n";
        for (user, home) in [
            ("app", Some("/home/app")),
            ("1000", Some("/home/app")),
            ("root", Some("/root")),
            ("0", Some("/root")),
            ("broken", None),
            ("nohome", None),
            ("ghost", None),
            ("4242", None),
        ] {
            assert_eq!(passwd_home(passwd, user).as_deref(), home, "{user}");
        }
    }
}
