//! The image config (OCI `config.md`, Docker's image JSON): the few fields
//! imgaudit uses, parsed leniently — Docker and OCI writers disagree on
//! optional fields, and an audit must not fail on a field it doesn't read.

use serde::Deserialize;

/// What imgaudit reads from an image config.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImageConfig {
    /// `architecture` (e.g. `amd64`).
    pub architecture: Option<String>,
    /// `os` (e.g. `linux`).
    pub os: Option<String>,
    /// `variant` (e.g. `v8`).
    pub variant: Option<String>,
    /// `config.Env`, `KEY=value` strings.
    pub env: Vec<String>,
    /// `config.Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `config.Cmd`.
    pub cmd: Vec<String>,
    /// `config.WorkingDir`.
    pub working_dir: Option<String>,
    /// `config.User` (`name`, `uid`, `name:group`, `uid:gid`), when set.
    pub user: Option<String>,
    /// `rootfs.diff_ids`, bottom first.
    pub diff_ids: Vec<String>,
    /// `created_by` of each non-empty history entry, aligned with layers
    /// when the history is consistent (else empty).
    pub layer_created_by: Vec<Option<String>>,
}

impl ImageConfig {
    /// Parse config JSON.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        let raw: Raw = serde_json::from_slice(bytes)?;
        let run = raw.config.unwrap_or_default();
        let diff_ids = raw.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        let layer_created_by: Vec<Option<String>> = raw
            .history
            .unwrap_or_default()
            .into_iter()
            .filter(|h| !h.empty_layer.unwrap_or(false))
            .map(|h| h.created_by.or(h.comment))
            .collect();
        Ok(ImageConfig {
            architecture: raw.architecture,
            os: raw.os,
            variant: raw.variant,
            env: run.env.unwrap_or_default(),
            entrypoint: run.entrypoint.unwrap_or_default(),
            cmd: run.cmd.unwrap_or_default(),
            working_dir: run.working_dir.filter(|w| !w.is_empty()),
            user: run.user.filter(|u| !u.is_empty()),
            layer_created_by: if layer_created_by.len() == diff_ids.len() {
                layer_created_by
            } else {
                Vec::new()
            },
            diff_ids,
        })
    }

    /// The value of an environment variable from `config.Env`.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// `created_by` of layer `i`, when the history says.
    pub fn created_by(&self, i: usize) -> Option<&str> {
        self.layer_created_by.get(i).and_then(|c| c.as_deref())
    }
}

#[derive(Deserialize, Default)]
struct Raw {
    architecture: Option<String>,
    os: Option<String>,
    variant: Option<String>,
    config: Option<RunConfig>,
    rootfs: Option<RootFs>,
    history: Option<Vec<History>>,
}

#[derive(Deserialize, Default)]
struct RunConfig {
    #[serde(rename = "Env")]
    env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint")]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd")]
    cmd: Option<Vec<String>>,
    #[serde(rename = "WorkingDir")]
    working_dir: Option<String>,
    #[serde(rename = "User")]
    user: Option<String>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct History {
    created_by: Option<String>,
    comment: Option<String>,
    empty_layer: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_aligns_with_layers() {
        let cfg = ImageConfig::parse(
            br#"{"architecture":"amd64","os":"linux",
                "config":{"Env":["PATH=/opt/venv/bin:/usr/bin"],"Entrypoint":["alembic"],"Cmd":null},
                "rootfs":{"type":"layers","diff_ids":["sha256:a","sha256:b"]},
                "history":[{"created_by":"ADD base"},{"created_by":"ENV X=1","empty_layer":true},{"created_by":"RUN pip install"}]}"#,
        )
        .unwrap();
        assert_eq!(cfg.created_by(1), Some("RUN pip install"));
        assert_eq!(cfg.env_var("PATH"), Some("/opt/venv/bin:/usr/bin"));
        assert!(cfg.cmd.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ImageConfig::parse(b"{").is_err());
        assert!(ImageConfig::parse(b"[]").is_err());
        assert!(ImageConfig::parse(br#"{"rootfs":{"diff_ids":[1]}}"#).is_err());
    }
}
