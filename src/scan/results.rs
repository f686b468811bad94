//! The per-image result cache: an audit's rendered outputs and summary
//! counts, keyed by manifest digest + platform + imgaudit version + config
//! hash, under `<cache>/results/`.
//!
//! Why a second cache beside the fact cache: the fact cache saves reading
//! layer bytes, but an image opened from a registry still costs its manifest
//! and config requests and the audit itself. A manifest digest names the
//! config and every layer, so an unchanged image audited by the same
//! imgaudit with the same config has the same report: the second night
//! reads it back and contacts the registry for nothing but the plan's HEADs.
//!
//! Each record repeats its key fields and is ignored unless they match (a
//! stray or truncated file is a miss, and the next writer replaces it).
//! Writes are a temp file + rename in the same directory, as in
//! `crate::cache`: shards that share one cache volume never see half a
//! record. An unreadable image is never cached: the failure may be
//! transient (a registry restart), and the next night should try again.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::ScanError;
use crate::localfile::read_capped;

/// The key of a result: everything the report depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultKey {
    /// The manifest digest.
    pub digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// [`super::tool_version`].
    pub version: String,
    /// [`config_hash`] of the effective config.
    pub config: String,
}

impl ResultKey {
    fn file_name(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.digest, &self.platform, &self.version, &self.config] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        format!("{}.json", hex::encode(h.finalize()))
    }
}

/// The hash of an effective config (file, flags and environment applied).
///
/// Why its `Debug` text: `Config` is plain data in ordered containers
/// (`BTreeMap`, `Vec`), so its `Debug` rendering is deterministic and
/// changes whenever any setting does; a serde shape would have to be kept
/// in step with every new field by hand, and a forgotten field would serve
/// stale results. The cost of the conservative choice is a miss when only a
/// comment's line moves an `[[ignore]]` span.
pub fn config_hash(config: &crate::config::Config) -> String {
    hex::encode(Sha256::digest(format!("{config:?}").as_bytes()))
}

/// A cached result: what the summary row and the output files need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedResult {
    /// The key it was stored under.
    pub key: ResultKey,
    /// Active errors, warnings, infos, suppressed findings, environments.
    pub counts: super::run::Counts,
    /// The gate failed.
    pub failed: bool,
    /// The JSON report.
    pub json: String,
    /// The SARIF log, when it was asked for.
    #[serde(default)]
    pub sarif: Option<String>,
    /// The JUnit XML, when it was asked for.
    #[serde(default)]
    pub junit: Option<String>,
}

/// Cap on one stored result (its counts and reports): a record larger than
/// this is not one imgaudit wrote, and is not read into memory.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

/// `<cache>/results`.
#[derive(Clone, Debug)]
pub struct ResultCache {
    dir: PathBuf,
}

impl ResultCache {
    /// Open (creating) `<cache_dir>/results`.
    pub fn open(cache_dir: &Path) -> Result<ResultCache, ScanError> {
        let dir = cache_dir.join("results");
        fs::create_dir_all(&dir).map_err(|e| ScanError::io(&dir, e))?;
        Ok(ResultCache { dir })
    }

    /// The result stored under `key`, if a whole record with that key is there.
    pub fn get(&self, key: &ResultKey) -> Option<CachedResult> {
        let bytes = read_capped(&self.dir.join(key.file_name()), MAX_RESULT_BYTES).ok()?;
        let result: CachedResult = serde_json::from_slice(&bytes).ok()?;
        (result.key == *key).then_some(result)
    }

    /// Store a result (atomically).
    pub fn put(&self, result: &CachedResult) -> Result<(), ScanError> {
        let path = self.dir.join(result.key.file_name());
        // Plain data with string keys: serialization cannot fail.
        let body = serde_json::to_vec(result).expect("a cached result serializes");
        write_atomic(&path, &body)
    }
}

/// Write `body` to `path` through a temp file in the same directory and a
/// rename: readers see the old file or the new one, never a part.
pub(crate) fn write_atomic(path: &Path, body: &[u8]) -> Result<(), ScanError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| ScanError::io(dir, e))?;
    tmp.write_all(body).map_err(|e| ScanError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| ScanError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, FailOn};

    fn key(platform: &str) -> ResultKey {
        ResultKey {
            digest: format!("sha256:{}", hex::encode([1u8; 32])),
            platform: platform.into(),
            version: super::super::tool_version(),
            config: config_hash(&Config::default()),
        }
    }

    fn result(key: ResultKey) -> CachedResult {
        CachedResult {
            key,
            counts: Default::default(),
            failed: true,
            json: "{\"schema_version\": 1}\n".into(),
            sarif: None,
            junit: None,
        }
    }

    #[test]
    fn every_key_part_matters() {
        let dir = tempfile::tempdir().unwrap();
        let c = ResultCache::open(dir.path()).unwrap();
        let k = key("linux/amd64");
        assert!(c.get(&k).is_none());
        c.put(&result(k.clone())).unwrap();
        assert_eq!(c.get(&k).unwrap(), result(k.clone()));
        let mut other = k.clone();
        other.platform = "linux/arm64".into();
        assert!(c.get(&other).is_none());
        let mut other = k.clone();
        other.version = "0.0.0 (commit x)".into();
        assert!(c.get(&other).is_none());
        let strict = Config {
            fail_on: FailOn::Warning,
            ..Config::default()
        };
        let mut other = k.clone();
        other.config = config_hash(&strict);
        assert_ne!(other.config, k.config);
        assert!(c.get(&other).is_none());
    }

    #[test]
    fn broken_records_are_misses_and_get_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let c = ResultCache::open(dir.path()).unwrap();
        let k = key("linux/amd64");
        c.put(&result(k.clone())).unwrap();
        let path = dir.path().join("results").join(k.file_name());
        let good = fs::read(&path).unwrap();
        fs::write(&path, &good[..good.len() / 2]).unwrap();
        assert!(c.get(&k).is_none());
        // A record of another key under this name is not served.
        let mut stray = result(k.clone());
        stray.key.platform = "linux/s390x".into();
        fs::write(&path, serde_json::to_vec(&stray).unwrap()).unwrap();
        assert!(c.get(&k).is_none());
        c.put(&result(k.clone())).unwrap();
        assert!(c.get(&k).is_some());
    }

    #[test]
    fn concurrent_writers_leave_whole_records() {
        let dir = tempfile::tempdir().unwrap();
        let c = ResultCache::open(dir.path()).unwrap();
        let k = key("linux/amd64");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        c.put(&result(k.clone())).unwrap();
                        if let Some(r) = c.get(&k) {
                            assert_eq!(r.key, k);
                        }
                    }
                });
            }
        });
        let left = fs::read_dir(dir.path().join("results")).unwrap().count();
        assert_eq!(left, 1, "no temp file left behind");
    }
}
