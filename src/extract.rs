//! Extractors: what the analyzers need from file bytes, declared as data.
//!
//! The layer reader makes one pass over each layer and never decides on its
//! own which bytes matter (ripgrep's searcher pushes matches into a `Sink`
//! and lets the consumer keep what it wants). Analyzers declare an
//! [`ExtractorSet`]: rules that select a file by the shape of its path and say
//! what to extract while its bytes stream by — keep it whole, keep its first
//! N bytes, hash it. The reader runs the matching rules inline; the results
//! ride on each layer's entries as per-layer *facts* (`layer::Entry`'s
//! `captured` and `sha256`), which the fact cache stores by layer digest.
//!
//! The same set says which removed paths the overlay should remember by name
//! ([`ExtractorSet::notable`]), so the history of what each layer deleted keeps
//! the paths the analyzers ask about, and nothing else.
//!
//! Why data and not closures: a set must have a *version* — the fact cache
//! keys every entry by the layer digest **and** the version of the set that
//! produced it, so changing what is extracted invalidates old facts by
//! construction. The version is a hash of the set's own description.
//!
//! What this module does not do: name any file layout. Python's set lives in
//! `python::extractors`; [`Action::Elf`] is a format, not a layout: which
//! files are parsed as ELF is the analyzer's choice.

use sha2::{Digest as _, Sha256};

/// Bump when the shape of the facts changes (entry fields, encoding).
///
/// 2: entry names are stored names (`layer::name_from_bytes`): a literal
/// backslash is now `\\`, so facts cached by format 1 would disagree.
/// 3: entries carry ELF dynamic facts (`layer::Entry::elf`).
pub const FACTS_FORMAT: u32 = 3;

/// Which files a rule applies to, by the shape of their path.
///
/// Paths are relative to the image root, normalised (`usr/bin/x`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    /// The file name is exactly this.
    Name(&'static str),
    /// The file name ends with this.
    NameSuffix(&'static str),
    /// The immediate parent directory's name is exactly this.
    ParentName(&'static str),
    /// The immediate parent directory's name ends with this.
    ParentSuffix(&'static str),
    /// Some directory component of the path ends with this.
    DirSuffix(&'static str),
    /// The file name contains this (`.so` for `libz.so.1`).
    NameContains(&'static str),
}

impl Select {
    fn matches(&self, p: &PathParts<'_>) -> bool {
        match self {
            Select::Name(n) => p.name == *n,
            Select::NameSuffix(s) => p.name.ends_with(s),
            Select::ParentName(n) => p.parent == *n,
            Select::ParentSuffix(s) => p.parent.ends_with(s),
            Select::DirSuffix(s) => p.dir.split('/').any(|c| c.ends_with(s)),
            Select::NameContains(s) => p.name.contains(s),
        }
    }
}

/// What to extract from a selected file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep the whole file in memory when it is at most `max_size` bytes.
    Keep {
        /// Larger files are left alone.
        max_size: u64,
    },
    /// Keep the first `bytes` bytes.
    Head {
        /// How many.
        bytes: usize,
    },
    /// Compute the file's sha256 while it streams by.
    Sha256,
    /// When the file is ELF, keep its dynamic facts (`elf::ElfFacts`:
    /// machine, `DT_NEEDED`, search paths), read from the few ranges that
    /// hold them: positioned reads on a seekable layer, the one pass
    /// otherwise.
    Elf,
}

/// When a rule runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// On every layer.
    Always,
    /// Only when the bytes pass once (compressed layer, stdin): on a plain
    /// seekable layer a positioned read later is cheaper than doing it now.
    Streaming,
}

/// One declaration: files matching `select` get `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Which files.
    pub select: Select,
    /// What to extract.
    pub action: Action,
    /// On which layers.
    pub when: When,
}

/// What the reader extracts from one file, all rules combined.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Want {
    /// Keep this many bytes (0: none; `usize::MAX`: all).
    pub capture: usize,
    /// Hash the content inline.
    pub hash: bool,
    /// Parse it as ELF (see [`Action::Elf`]).
    pub elf: bool,
}

impl Want {
    /// Nothing to extract: the reader skips the data.
    pub fn is_none(&self) -> bool {
        self.capture == 0 && !self.hash && !self.elf
    }
}

/// The extractors of one command, declared by its analyzers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractorSet {
    /// Who declared it (for the version and for messages).
    pub name: &'static str,
    /// Byte extractors.
    pub rules: Vec<Rule>,
    /// Removed paths the overlay's history keeps by name: a removed node
    /// matching one of these (tested on its own name and its parent's) is
    /// listed in its removal.
    pub notable: Vec<Select>,
}

struct PathParts<'a> {
    dir: &'a str,
    parent: &'a str,
    name: &'a str,
}

fn parts(path: &str) -> PathParts<'_> {
    let path = path.trim_start_matches('/');
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    let parent = dir.rsplit('/').next().unwrap_or("");
    PathParts { dir, parent, name }
}

impl ExtractorSet {
    /// A set that extracts nothing (listing, size view).
    pub fn none() -> ExtractorSet {
        ExtractorSet {
            name: "none",
            ..ExtractorSet::default()
        }
    }

    /// What to extract from a regular file of `size` bytes at `path`.
    pub fn want(&self, path: &str, size: u64, streaming: bool) -> Want {
        let mut w = Want::default();
        if self.rules.is_empty() {
            return w;
        }
        let p = parts(path);
        for r in &self.rules {
            if r.when == When::Streaming && !streaming {
                continue;
            }
            if !r.select.matches(&p) {
                continue;
            }
            match r.action {
                Action::Keep { max_size } if size <= max_size => w.capture = usize::MAX,
                Action::Keep { .. } => {}
                Action::Head { bytes } => w.capture = w.capture.max(bytes),
                Action::Sha256 => w.hash = true,
                Action::Elf => w.elf = true,
            }
        }
        w
    }

    /// Whether a removed node at `path` is remembered by name in the
    /// overlay's history.
    pub fn notable(&self, path: &str) -> bool {
        if self.notable.is_empty() {
            return false;
        }
        let p = parts(path);
        self.notable.iter().any(|s| s.matches(&p))
    }

    /// The version of this set: facts extracted by another version are
    /// never served from the cache.
    pub fn version(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("facts-format {FACTS_FORMAT}\n{self:?}"));
        hex::encode(&h.finalize()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> ExtractorSet {
        ExtractorSet {
            name: "test",
            rules: vec![
                Rule {
                    select: Select::ParentSuffix(".meta"),
                    action: Action::Keep { max_size: 100 },
                    when: When::Always,
                },
                Rule {
                    select: Select::ParentName("bin"),
                    action: Action::Head { bytes: 8 },
                    when: When::Always,
                },
                Rule {
                    select: Select::DirSuffix("-pkgs"),
                    action: Action::Sha256,
                    when: When::Streaming,
                },
            ],
            notable: vec![Select::NameSuffix(".meta")],
        }
    }

    #[test]
    fn rules_combine_per_file() {
        let s = set();
        // (path, size, streaming, capture, hash)
        let cases = [
            ("a/x.meta/F", 10, false, usize::MAX, false), // kept whole
            ("a/x.meta/F", 101, false, 0, false),         // too large to keep
            ("usr/bin/tool", 10_000, false, 8, false),    // head only
            ("lib/p-pkgs/m/x.py", 5, false, 0, false),    // streaming-only rule
            ("lib/p-pkgs/m/x.py", 5, true, 0, true),      // hashed when streaming
            ("lib/p-pkgs/y.meta/F", 5, true, usize::MAX, true), // two rules
            ("etc/passwd", 5, true, 0, false),            // nothing
        ];
        for (path, size, streaming, capture, hash) in cases {
            assert_eq!(
                s.want(path, size, streaming),
                Want {
                    capture,
                    hash,
                    elf: false
                },
                "{path} {size} {streaming}"
            );
        }
    }

    #[test]
    fn version_follows_the_declaration() {
        let a = set();
        let mut b = set();
        assert_eq!(a.version(), b.version());
        b.rules[1].action = Action::Head { bytes: 9 };
        assert_ne!(a.version(), b.version());
        assert_ne!(ExtractorSet::none().version(), a.version());
    }

    #[test]
    fn notable_by_name() {
        let s = set();
        assert!(s.notable("/opt/a/x.meta"));
        assert!(!s.notable("/opt/a/x.meta/F"));
        assert!(!ExtractorSet::none().notable("/opt/a/x.meta"));
    }
}
