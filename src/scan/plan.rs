//! The plan: which images a registry holds, one [`PlanEntry`] per manifest
//! and platform.
//!
//! The walk, as the distribution API offers it
//! (<https://distribution.github.io/distribution/spec/api/>): the catalog
//! (`GET /v2/_catalog`, `Link`-paginated), each repository's tags
//! (`GET /v2/<name>/tags/list`, paginated), a `HEAD` per tag for its
//! manifest digest, then one `GET` per *distinct* manifest: an index is
//! expanded to its platform children (each child's manifest read for its
//! first layer, the `base`); a single image's config is read for its
//! platform. Tags naming a manifest already seen cost only their `HEAD`.
//!
//! What a manifest digest leads to never changes, so with a cache directory
//! the expansion is stored under `<cache>/plan/<digest>.json`: the next
//! night's plan costs the catalog, the tag lists and one `HEAD` per tag, and
//! no manifest or blob of an unchanged image.
//!
//! Skipped, each with a warning: schema 1 manifests (deprecated since
//! distribution 2.3), artifacts (a config media type that is no image
//! config: signatures, SBOMs, Helm charts), and index children without a
//! real platform (BuildKit's `unknown/unknown` attestation manifests). A
//! repository or tag that fails (deleted between the listing and the `HEAD`)
//! is a warning too; only a catalog that cannot be listed fails the plan.
//!
//! This module does not speak HTTP: it asks a [`Registry`], which
//! `crate::registry::Client` is (auth, TLS, retries, pagination; the impl at
//! the end of this file) and the tests fake, serving real manifests.

use std::path::PathBuf;

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{PlanEntry, ScanError};
use crate::escape::{for_terminal, MAX_VALUE};
use crate::registry::reference::{is_repository, is_tag};

/// A manifest as a `HEAD` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// `Content-Type`.
    pub media_type: String,
    /// `Docker-Content-Digest`.
    pub digest: String,
}

/// What the plan asks of a registry. Errors are one line.
pub trait Registry: Sync {
    /// Every repository name (all pages).
    fn catalog(&self, host: &str) -> Result<Vec<String>, String>;
    /// Every tag of `repo` (all pages).
    fn tags(&self, host: &str, repo: &str) -> Result<Vec<String>, String>;
    /// `HEAD` of a tag's manifest.
    fn head(&self, host: &str, repo: &str, tag: &str) -> Result<Descriptor, String>;
    /// The manifest (or index) with `digest`, its bytes verified against it.
    fn manifest(&self, host: &str, repo: &str, digest: &str) -> Result<Vec<u8>, String>;
    /// A small blob (an image config), verified against `digest`.
    fn config(&self, host: &str, repo: &str, digest: &str) -> Result<Vec<u8>, String>;
}

/// `--registry HOST[:PORT][/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `HOST[:PORT]`.
    pub host: String,
    /// Only repositories at or under this path (empty: all).
    pub prefix: String,
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .or_else(|| s.strip_prefix("docker://"))
            .unwrap_or(s)
            .trim_end_matches('/');
        let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(format!(
                "`{s}` is not a registry: expected `HOST[:PORT][/PREFIX]`, e.g. `localhost:5000/team`"
            ));
        }
        Ok(Target {
            host: host.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// `--tags`.
#[derive(Clone, Debug)]
pub enum Tags {
    /// Every tag.
    All,
    /// Only `latest`.
    Latest,
    /// Tags matching a glob.
    Glob(GlobMatcher),
}

impl std::str::FromStr for Tags {
    type Err = String;

    fn from_str(s: &str) -> Result<Tags, String> {
        match s {
            "all" => Ok(Tags::All),
            "latest" => Ok(Tags::Latest),
            glob => GlobBuilder::new(glob)
                .build()
                .map(|g| Tags::Glob(g.compile_matcher()))
                .map_err(|e| format!("`--tags {glob}`: {e}")),
        }
    }
}

impl Tags {
    fn matches(&self, tag: &str) -> bool {
        match self {
            Tags::All => true,
            Tags::Latest => tag == "latest",
            Tags::Glob(g) => g.is_match(tag),
        }
    }
}

/// Repository globs (`--include`, `--exclude`), matched against the whole
/// repository path; `*` stays within one path component, `**` crosses them.
pub fn repo_globs(globs: &[String]) -> Result<Option<GlobSet>, String> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for g in globs {
        set.add(
            GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("`{g}`: {e}"))?,
        );
    }
    set.build().map(Some).map_err(|e| e.to_string())
}

/// How to plan.
pub struct PlanOptions {
    /// The registry and prefix.
    pub target: Target,
    /// Only repositories matching one of these.
    pub include: Option<GlobSet>,
    /// No repository matching one of these.
    pub exclude: Option<GlobSet>,
    /// Which tags.
    pub tags: Tags,
    /// The cache directory (its `plan/` holds manifest expansions).
    pub cache: Option<PathBuf>,
}

/// The plan and what was skipped on the way.
#[derive(Debug, Default)]
pub struct Planned {
    /// One entry per image and platform, sorted by reference and platform.
    pub entries: Vec<PlanEntry>,
    /// One line per skipped repository, tag or manifest.
    pub warnings: Vec<String>,
    /// Manifests expanded from the plan cache (no request).
    pub cache_hits: usize,
}

/// One platform image of a manifest: what a digest expands to (cached).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Child {
    digest: String,
    platform: String,
    base: Option<String>,
}

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const CONFIG_TYPES: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

impl PlanOptions {
    fn wants_repo(&self, repo: &str) -> bool {
        let prefix = &self.target.prefix;
        let under = prefix.is_empty()
            || repo == prefix
            || repo
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        under
            && self.include.as_ref().is_none_or(|s| s.is_match(repo))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(repo))
    }

    fn cache_path(&self, digest: &str) -> Option<PathBuf> {
        let key = crate::cache::file_key(digest)?;
        Some(
            self.cache
                .as_ref()?
                .join("plan")
                .join(format!("{key}.json")),
        )
    }
}

/// List the registry and expand every distinct manifest.
pub fn plan(registry: &dyn Registry, opts: &PlanOptions) -> Result<Planned, ScanError> {
    // The walk waits on the registry, not on the CPU: the default pool has
    // one thread per core (2 on the project's machines), which would keep
    // only two requests in flight. A pool of its own keeps REQUESTS_IN_FLIGHT
    // (the connection pool of the client reuses their connections).
    match rayon::ThreadPoolBuilder::new()
        .num_threads(REQUESTS_IN_FLIGHT)
        .build()
    {
        Ok(pool) => pool.install(|| plan_in_pool(registry, opts)),
        Err(_) => plan_in_pool(registry, opts),
    }
}

/// Requests the plan keeps in flight.
const REQUESTS_IN_FLIGHT: usize = 16;

/// Cap on an expansion record of the plan's cache: its children, smaller
/// than the index they come from (the registry client's cap on a document
/// is 64 MiB).
const MAX_MANIFEST_RECORD: u64 = 64 << 20;

fn plan_in_pool(registry: &dyn Registry, opts: &PlanOptions) -> Result<Planned, ScanError> {
    let host = opts.target.host.as_str();
    let mut out = Planned::default();
    // A listed name that the reference grammar refuses cannot be named in
    // a reference: no shard could read it back as the image planned, and
    // it would be pasted into request paths (`../`, `?`, `#`) unchecked.
    let mut repos = Vec::new();
    for r in registry
        .catalog(host)
        .map_err(|message| ScanError::Registry {
            host: host.to_string(),
            message,
        })?
    {
        if !opts.wants_repo(&r) {
            continue;
        }
        if is_repository(&r) {
            repos.push(r);
        } else {
            out.warnings.push(format!(
                "repository `{}` skipped: not a repository name (lower-case letters, digits, `._-` and `/`)",
                for_terminal(&r, MAX_VALUE)
            ));
        }
    }
    repos.sort();
    repos.dedup();

    // (repo, tag) → descriptor, in parallel: a registry's latency, not
    // its bandwidth, bounds a walk of thousands of tags.
    type Heads = (Vec<(String, String, Descriptor)>, Vec<String>);
    let heads: Vec<Heads> = repos
        .par_iter()
        .map(|repo| {
            let mut tags = match registry.tags(host, repo) {
                Ok(t) => t,
                Err(e) => {
                    return (
                        Vec::new(),
                        vec![format!("repository `{repo}` skipped: {e}")],
                    )
                }
            };
            let mut warnings = Vec::new();
            tags.retain(|t| {
                if !opts.tags.matches(t) {
                    return false;
                }
                let ok = is_tag(t);
                if !ok {
                    warnings.push(format!(
                        "`{host}/{repo}`: tag `{}` skipped: not a tag (letters, digits, `_.-`, at most 128)",
                        for_terminal(t, MAX_VALUE)
                    ));
                }
                ok
            });
            tags.sort();
            tags.dedup();
            let results: Vec<Result<(String, String, Descriptor), String>> = tags
                .into_par_iter()
                .map(|tag| {
                    registry
                        .head(host, repo, &tag)
                        .map(|d| (repo.clone(), tag.clone(), d))
                        .map_err(|e| format!("`{host}/{repo}:{tag}` skipped: {e}"))
                })
                .collect();
            let mut found = Vec::new();
            for r in results {
                match r {
                    Ok(t) => found.push(t),
                    Err(w) => warnings.push(w),
                }
            }
            (found, warnings)
        })
        .collect();
    let mut tagged = Vec::new();
    for (found, warnings) in heads {
        tagged.extend(found);
        out.warnings.extend(warnings);
    }
    tagged.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));

    // The first reference (in sorted order) of each distinct manifest.
    let mut firsts: Vec<(String, String, Descriptor)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for t in tagged {
        if seen.insert(t.2.digest.clone()) {
            firsts.push(t);
        }
    }
    type Expanded = (String, Result<(Vec<Child>, bool), String>, Vec<String>);
    let expanded: Vec<Expanded> = firsts
        .par_iter()
        .map(|(repo, tag, desc)| {
            let reference = format!("{host}/{repo}:{tag}");
            let mut warnings = Vec::new();
            let children = expand(registry, opts, repo, desc, &mut warnings)
                .map_err(|e| format!("`{reference}` skipped: {e}"));
            (reference, children, warnings)
        })
        .collect();
    let mut entries = Vec::new();
    for (reference, children, warnings) in expanded {
        out.warnings
            .extend(warnings.into_iter().map(|w| format!("`{reference}`: {w}")));
        match children {
            Ok((children, hit)) => {
                out.cache_hits += usize::from(hit);
                entries.extend(children.into_iter().map(|c| PlanEntry {
                    reference: reference.clone(),
                    digest: c.digest,
                    platform: c.platform,
                    base: c.base,
                }));
            }
            Err(w) => out.warnings.push(w),
        }
    }
    entries.sort_by(|a, b| {
        (&a.reference, &a.platform, &a.digest).cmp(&(&b.reference, &b.platform, &b.digest))
    });
    let mut seen = std::collections::BTreeSet::new();
    entries.retain(|e| seen.insert((e.digest.clone(), e.platform.clone())));
    out.entries = entries;
    Ok(out)
}

/// The platform images of one manifest digest: from the plan cache, or
/// read (and then cached). `bool`: served from the cache.
fn expand(
    registry: &dyn Registry,
    opts: &PlanOptions,
    repo: &str,
    desc: &Descriptor,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Child>, bool), String> {
    let host = opts.target.host.as_str();
    let cache_path = opts.cache_path(&desc.digest);
    if let Some(path) = &cache_path {
        // A record the cache holds is at most what a manifest may be.
        let cached = crate::localfile::read_capped(path, MAX_MANIFEST_RECORD)
            .ok()
            .and_then(|b| serde_json::from_slice::<(String, Vec<Child>)>(&b).ok());
        if let Some((digest, children)) = cached {
            if digest == desc.digest {
                return Ok((children, true));
            }
        }
    }
    let bytes = registry.manifest(host, repo, &desc.digest)?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or(&desc.media_type)
        .to_string();
    let mut children = Vec::new();
    if manifest["schemaVersion"].as_u64() == Some(1) {
        return Err("a schema 1 manifest (deprecated; push it again with a current client)".into());
    }
    if INDEX_TYPES.contains(&media_type.as_str()) || manifest.get("manifests").is_some() {
        for child in manifest["manifests"].as_array().into_iter().flatten() {
            let digest = child["digest"].as_str().unwrap_or_default();
            let p = &child["platform"];
            let (os, arch) = (
                p["os"].as_str().unwrap_or("unknown"),
                p["architecture"].as_str().unwrap_or("unknown"),
            );
            let attestation = child["annotations"]["vnd.docker.reference.type"].as_str()
                == Some("attestation-manifest");
            if attestation || os == "unknown" || arch == "unknown" {
                continue;
            }
            let platform = platform_string(os, arch, p["variant"].as_str());
            if crate::cache::file_key(digest).is_none() {
                warnings.push(format!("child `{digest}` has no sha256 digest: skipped"));
                continue;
            }
            let body = match registry.manifest(host, repo, digest) {
                Ok(b) => b,
                Err(e) => {
                    warnings.push(format!("{platform} child skipped: {e}"));
                    continue;
                }
            };
            let m: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if m.get("manifests").is_some() {
                warnings.push(format!("{platform} child is itself an index: skipped"));
                continue;
            }
            children.push(Child {
                digest: digest.to_string(),
                platform,
                base: first_layer(&m),
            });
        }
    } else {
        let config_type = manifest["config"]["mediaType"].as_str().unwrap_or_default();
        if !CONFIG_TYPES.contains(&config_type) {
            return Err(format!(
                "an artifact (config media type `{config_type}`), not an image"
            ));
        }
        let config_digest = manifest["config"]["digest"].as_str().unwrap_or_default();
        let config: serde_json::Value =
            serde_json::from_slice(&registry.config(host, repo, config_digest)?)
                .map_err(|e| format!("config is not JSON: {e}"))?;
        let (Some(os), Some(arch)) = (config["os"].as_str(), config["architecture"].as_str())
        else {
            return Err("the image config names no `os` and `architecture`".into());
        };
        children.push(Child {
            digest: desc.digest.clone(),
            platform: platform_string(os, arch, config["variant"].as_str()),
            base: first_layer(&manifest),
        });
    }
    if let Some(path) = &cache_path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Plain data: serialization cannot fail. A plan cache that cannot
        // be written only costs the next plan its manifest requests.
        let body = serde_json::to_vec(&(&desc.digest, &children)).expect("children serialize");
        let _ = super::results::write_atomic(path, &body);
    }
    Ok((children, false))
}

fn platform_string(os: &str, arch: &str, variant: Option<&str>) -> String {
    match variant.filter(|v| !v.is_empty()) {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    }
}

fn first_layer(manifest: &serde_json::Value) -> Option<String> {
    let d = manifest["layers"].get(0)?["digest"].as_str()?;
    crate::cache::file_key(d).map(|_| d.to_string())
}

/// The registry client is the plan's registry (auth, TLS, retries, `Link`
/// pagination are its business); the errors become the one-line strings
/// the plan turns into warnings.
impl Registry for crate::registry::Client {
    fn catalog(&self, host: &str) -> Result<Vec<String>, String> {
        crate::registry::Client::catalog(self, host).map_err(|e| e.to_string())
    }

    fn tags(&self, host: &str, repo: &str) -> Result<Vec<String>, String> {
        crate::registry::Client::tags(self, host, repo).map_err(|e| e.to_string())
    }

    fn head(&self, host: &str, repo: &str, tag: &str) -> Result<Descriptor, String> {
        let reference = crate::registry::Reference {
            registry: host.to_string(),
            repository: repo.to_string(),
            tag: Some(tag.to_string()),
            digest: None,
        };
        self.head_manifest(&reference)
            .map(|d| Descriptor {
                media_type: d.media_type,
                digest: d.digest,
            })
            .map_err(|e| e.to_string())
    }

    fn manifest(&self, host: &str, repo: &str, digest: &str) -> Result<Vec<u8>, String> {
        self.get_manifest_by_digest(host, repo, digest)
            .map_err(|e| e.to_string())
    }

    fn config(&self, host: &str, repo: &str, digest: &str) -> Result<Vec<u8>, String> {
        self.get_blob_small(host, repo, digest)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A registry serving the real manifests, index and configs of the
    /// committed OCI layout, under made-up repositories and tags, and
    /// counting the requests that read manifests or blobs.
    struct Layout {
        dir: PathBuf,
        /// repo → tag → OCI ref name in the layout.
        repos: BTreeMap<&'static str, Vec<(&'static str, &'static str)>>,
        reads: AtomicUsize,
        heads: AtomicUsize,
    }

    impl Layout {
        fn new() -> Layout {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/images/oci");
            let mut repos = BTreeMap::new();
            repos.insert(
                "team/app",
                vec![
                    ("1.0", "healthy"),
                    ("latest", "healthy"), // the same manifest again
                    ("broken", "incident-later-run"),
                    ("gone", "no-such-ref"), // HEAD fails: a warning
                ],
            );
            repos.insert("team/multi", vec![("1", "multiarch")]);
            repos.insert("team/again", vec![("x", "multiarch")]); // same index, other repo
            repos.insert("teamster/app", vec![("1", "base")]); // not under `team/`
            repos.insert("other/app", vec![("1", "base")]);
            Layout {
                dir,
                repos,
                reads: AtomicUsize::new(0),
                heads: AtomicUsize::new(0),
            }
        }

        fn blob(&self, digest: &str) -> Result<Vec<u8>, String> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let hex = digest.strip_prefix("sha256:").ok_or("bad digest")?;
            std::fs::read(self.dir.join("blobs/sha256").join(hex)).map_err(|e| e.to_string())
        }
    }

    use std::path::Path;

    impl Registry for Layout {
        fn catalog(&self, _: &str) -> Result<Vec<String>, String> {
            Ok(self.repos.keys().rev().map(|r| r.to_string()).collect())
        }
        fn tags(&self, _: &str, repo: &str) -> Result<Vec<String>, String> {
            Ok(self.repos[repo]
                .iter()
                .map(|(t, _)| t.to_string())
                .collect())
        }
        fn head(&self, _: &str, repo: &str, tag: &str) -> Result<Descriptor, String> {
            self.heads.fetch_add(1, Ordering::Relaxed);
            let name = self.repos[repo].iter().find(|(t, _)| *t == tag).unwrap().1;
            let index: serde_json::Value =
                serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap())
                    .unwrap();
            let m = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
                .ok_or_else(|| "404 manifest unknown".to_string())?;
            Ok(Descriptor {
                media_type: m["mediaType"].as_str().unwrap().into(),
                digest: m["digest"].as_str().unwrap().into(),
            })
        }
        fn manifest(&self, _: &str, _: &str, digest: &str) -> Result<Vec<u8>, String> {
            self.blob(digest)
        }
        fn config(&self, _: &str, _: &str, digest: &str) -> Result<Vec<u8>, String> {
            self.blob(digest)
        }
    }

    fn options(cache: Option<PathBuf>) -> PlanOptions {
        PlanOptions {
            target: "localhost:5000/team".parse().unwrap(),
            include: None,
            exclude: None,
            tags: Tags::All,
            cache,
        }
    }

    #[test]
    fn targets() {
        for (text, host, prefix) in [
            ("localhost:5000", "localhost:5000", ""),
            ("localhost:5000/", "localhost:5000", ""),
            ("localhost:5000/team/sub", "localhost:5000", "team/sub"),
            ("https://registry.example/team", "registry.example", "team"),
            ("docker://registry.example", "registry.example", ""),
        ] {
            let t: Target = text.parse().unwrap();
            assert_eq!(
                (t.host.as_str(), t.prefix.as_str()),
                (host, prefix),
                "{text}"
            );
        }
        for bad in ["", "/team", "user@host"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plan_expands_indexes_and_drops_duplicate_manifests() {
        let reg = Layout::new();
        let planned = plan(&reg, &options(None)).unwrap();
        let got: Vec<(String, String)> = planned
            .entries
            .iter()
            .map(|e| (e.reference.clone(), e.platform.clone()))
            .collect();
        assert_eq!(
            got,
            [
                // `team/again:x` and `team/multi:1` are one index: its
                // children are planned once, under the first reference.
                ("localhost:5000/team/again:x".into(), "linux/amd64".into()),
                (
                    "localhost:5000/team/again:x".into(),
                    "linux/arm64/v8".into()
                ),
                ("localhost:5000/team/app:1.0".into(), "linux/amd64".into()),
                (
                    "localhost:5000/team/app:broken".into(),
                    "linux/amd64".into()
                ),
            ]
        );
        // `latest` is `1.0` again; `gone` is a warning; `teamster/` and
        // `other/` are outside the prefix.
        assert_eq!(planned.warnings.len(), 1, "{:?}", planned.warnings);
        assert!(planned.warnings[0].contains("team/app:gone"));
        // Every entry has a digest of its own and the base layer it
        // starts from; index children carry the child's digest.
        let index_children: Vec<&PlanEntry> = planned.entries[..2].iter().collect();
        assert!(index_children
            .iter()
            .all(|e| e.digest.starts_with("sha256:ca1b3") || e.digest.starts_with("sha256:fb428")));
        for e in &planned.entries {
            assert!(e.file_stem().is_some(), "{e:?}");
            assert!(
                e.base.as_deref().is_some_and(|b| b.starts_with("sha256:")),
                "{e:?}"
            );
        }
        let healthy = &planned.entries[2];
        assert_eq!(
            healthy.digest,
            "sha256:942171d12943caf2b57b26aaf06ca3cbc220282be39e3623a9de58e21841ebaa"
        );
    }

    #[test]
    fn filters_pick_repositories_and_tags() {
        let reg = Layout::new();
        let mut opts = options(None);
        opts.target.prefix.clear();
        opts.include = repo_globs(&["team/*".into(), "other/*".into()]).unwrap();
        opts.exclude = repo_globs(&["team/m*".into(), "team/again".into()]).unwrap();
        opts.tags = "1*".parse().unwrap();
        let planned = plan(&reg, &opts).unwrap();
        let got: Vec<&str> = planned
            .entries
            .iter()
            .map(|e| e.reference.as_str())
            .collect();
        assert_eq!(
            got,
            ["localhost:5000/other/app:1", "localhost:5000/team/app:1.0"]
        );
        opts.tags = Tags::Latest;
        let planned = plan(&reg, &opts).unwrap();
        let got: Vec<&str> = planned
            .entries
            .iter()
            .map(|e| e.reference.as_str())
            .collect();
        assert_eq!(got, ["localhost:5000/team/app:latest"]);
    }

    /// A registry whose listings carry names the reference grammar refuses:
    /// `Layout` panics when asked for a repository it does not hold, so the
    /// plan must never ask for these (nor plan, nor paste them into a path).
    struct Lying(Layout);

    const BAD_REPOS: [&str; 5] = [
        "team/../../v2/_catalog",
        "team/App",
        "team/app?n=1",
        "team/a b",
        "team/x\u{1b}]0;owned\u{7}",
    ];
    const BAD_TAGS: [&str; 4] = ["../1.0", "-rc", "a:b", "x\ny"];

    impl Registry for Lying {
        fn catalog(&self, h: &str) -> Result<Vec<String>, String> {
            let mut c = self.0.catalog(h)?;
            c.extend(BAD_REPOS.iter().map(|r| r.to_string()));
            Ok(c)
        }
        fn tags(&self, h: &str, repo: &str) -> Result<Vec<String>, String> {
            let mut t = self.0.tags(h, repo)?;
            if repo == "team/app" {
                t.extend(BAD_TAGS.iter().map(|t| t.to_string()));
                t.push("x".repeat(129));
            }
            Ok(t)
        }
        fn head(&self, h: &str, repo: &str, tag: &str) -> Result<Descriptor, String> {
            self.0.head(h, repo, tag)
        }
        fn manifest(&self, h: &str, repo: &str, d: &str) -> Result<Vec<u8>, String> {
            self.0.manifest(h, repo, d)
        }
        fn config(&self, h: &str, repo: &str, d: &str) -> Result<Vec<u8>, String> {
            self.0.config(h, repo, d)
        }
    }

    #[test]
    fn names_the_grammar_refuses_are_skipped_with_a_warning() {
        let honest = plan(&Layout::new(), &options(None)).unwrap();
        let lying = plan(&Lying(Layout::new()), &options(None)).unwrap();
        assert_eq!(lying.entries, honest.entries);
        let extra: Vec<&String> = lying
            .warnings
            .iter()
            .filter(|w| !honest.warnings.contains(w))
            .collect();
        assert_eq!(
            extra.len(),
            BAD_REPOS.len() + BAD_TAGS.len() + 1,
            "{extra:#?}"
        );
        for w in &extra {
            assert!(w.contains("skipped: not a"), "{w}");
            // Printed safe: no raw control character reaches a terminal.
            assert!(!w.chars().any(char::is_control), "{w:?}");
        }
        assert!(extra.iter().any(|w| w.contains("`team/../../v2/_catalog`")));
        assert!(extra.iter().any(|w| w.contains("x\\u{1b}]0;owned\\u{7}")));
        assert!(extra
            .iter()
            .any(|w| w.starts_with("`localhost:5000/team/app`: tag `../1.0` skipped")));
    }

    #[test]
    fn the_second_plan_reads_no_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Layout::new();
        let first = plan(&reg, &options(Some(dir.path().into()))).unwrap();
        let reads = reg.reads.swap(0, Ordering::Relaxed);
        // The index and its two children, two image manifests and their configs.
        assert_eq!(reads, 7);
        assert_eq!(first.cache_hits, 0);
        let heads = reg.heads.swap(0, Ordering::Relaxed);
        let second = plan(&reg, &options(Some(dir.path().into()))).unwrap();
        assert_eq!(second.entries, first.entries);
        assert_eq!(reg.reads.load(Ordering::Relaxed), 0, "only HEADs");
        assert_eq!(reg.heads.load(Ordering::Relaxed), heads);
        assert_eq!(second.cache_hits, 3);
    }
}
