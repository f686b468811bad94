//! `imgaudit.toml` → [`Config`]: the gate level, per-rule severity overrides,
//! reviewed ignores and size budgets.
//!
//! This module owns the config file: parsing it with spans kept, validating
//! every value. Applying the result to findings and to the exit-code gate is
//! the sink's job (the `sink` module), which reads this [`Config`]. It does not
//! read images, run checks or print anything, and the size budgets are only
//! parsed here (the `size-budget-exceeded` check reads [`Config::budget`]).
//!
//! The shape follows cargo-deny (`src/diag/sink.rs` for severity overrides,
//! `unmatched-source` for ignores that matched nothing), with one deliberate
//! difference: every `[[ignore]]` needs a `reason`, which is echoed in every
//! report. Every error names the file and the `line:column` it comes from,
//! computed from the byte spans `toml` keeps ([`toml::Spanned`]), e.g.
//!
//! ```text
//! imgaudit.toml:7:1: unknown rule `record-mismatched` in [rules], did you mean `record-mismatch`?
//! ```
//!
//! The file format, with every key:
//!
//! ```toml
//! fail-on = "error"                        # or "warning", "never"
//! require-python = false                   # true: no Python environment fails the gate
//! [rules]
//! record-mismatch = "warning"              # "error" | "warning" | "info" | "off"
//! [[ignore]]
//! rule = "entry-point-without-metadata"    # optional if `path` is given
//! path = "/usr/bin/*"                      # glob, optional if `rule` is given
//! reason = "Debian ships these on purpose" # required
//! [budget]
//! total = "500MB"                          # merged filesystem, uncompressed
//! layer = "200MB"                          # any single layer, uncompressed
//! waste = "50MB"                           # bytes shipped but not visible
//! ```
//!
//! The starter file `imgaudit init` writes is [`STARTER`].

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::diag::Code;
use crate::diag::Severity;
use crate::finding::Finding;

/// The file name looked up in the working directory when no `--config` is given.
pub const FILE_NAME: &str = "imgaudit.toml";

/// The commented starter config that `imgaudit init` writes.
///
/// Lines starting with `##` explain; lines starting with a single `#` are
/// examples that parse once the `# ` is removed (a test checks this, and that
/// the `[rules]` list names every [`Code`] with its default severity).
pub const STARTER: &str = r#"## imgaudit.toml: configuration for `imgaudit`.
##
## `imgaudit` reads `imgaudit.toml` from the current directory, or the file given
## with `--config`. Lines starting with `##` explain; lines starting with `#` are
## examples: remove the `# ` to use them. Rules are described in
## https://github.com/imgaudit/imgaudit/blob/main/docs/rules.md

## Exit with code 1 when an active (not ignored) finding is at least this severe:
## "error" (the default) or "warning"; "never" reports without gating.
## `--fail-on` on the command line wins over this.
# fail-on = "error"

## An image without any Python environment is reported as "nothing audited";
## set this to exit with code 1 for it (`--require-python` does the same).
# require-python = true

## Change the severity of a rule: "error", "warning", "info", or "off" (its
## findings are dropped entirely). Every rule, with its default severity:
# [rules]
# entry-point-without-metadata = "error"
# shim-missing = "error"
# shim-not-executable = "error"
# interpreter-missing = "error"
# venv-interpreter-missing = "error"
# entry-point-module-missing = "error"
# record-mismatch = "error"
# record-missing-file = "error"
# metadata-file-missing = "error"
# metadata-malformed = "error"
# dependency-missing = "error"
# dependency-conflict = "error"
# required-file-deleted = "error"
# size-budget-exceeded = "error"
# shared-library-missing = "error"
# extension-abi-mismatch = "error"
# elf-arch-mismatch = "error"
# venv-python-version-mismatch = "error"

## Ignore findings you have reviewed. Each entry needs `rule`, `path` or both,
## and always a `reason`. Ignored findings are still reported, marked suppressed
## with the reason, but never fail the gate. An ignore that matches nothing is
## reported as a warning, so stale entries get noticed.
##
## `path` is a glob matched against the absolute path inside the image. `*` and
## `?` also match `/` (so `/usr/bin/*` covers `/usr/bin/sub/tool` too), `**`
## matches any number of directories, `{a,b}` alternates, `[ab]` is a class.
# [[ignore]]
# rule = "entry-point-without-metadata"
# path = "/usr/bin/*"
# reason = "Debian ships these launchers without dist-info on purpose"

## Size budgets, each reported as `size-budget-exceeded` when exceeded. Units:
## B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024);
## a bare integer is a number of bytes.
# [budget]
# total = "500MB"  ## uncompressed size of the merged filesystem
# layer = "200MB"  ## uncompressed size of any single layer
# waste = "50MB"   ## bytes shipped in layers but hidden in the merged filesystem
"#;

/// A place in a config file: `origin:line:column`, 1-based, columns in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The file as the user named it (or the `origin` given to [`Config::from_str`]).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`.
    pub fn from_offset(origin: &str, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position {
            origin: origin.to_string(),
            line,
            column,
        }
    }
}

/// [`Position::from_offset`] for many offsets of one text: lines are
/// indexed once, and columns are counted on from the previous answer, so a
/// config with thousands of `[[ignore]]` entries (even on one line) costs
/// one pass over the text, not one per entry (issue 14).
struct Positions<'a> {
    origin: &'a str,
    text: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    /// The last answer: (byte offset, 1-based column there).
    last: std::cell::Cell<(usize, usize)>,
}

impl<'a> Positions<'a> {
    fn new(origin: &'a str, text: &'a str) -> Positions<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Positions {
            origin,
            text,
            line_starts,
            last: std::cell::Cell::new((0, 1)),
        }
    }

    fn at(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The line holding `offset`: the last line start at or before it.
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line - 1];
        let (last_offset, last_column) = self.last.get();
        let column = if (line_start..=offset).contains(&last_offset) {
            last_column + self.text[last_offset..offset].chars().count()
        } else {
            self.text[line_start..offset].chars().count() + 1
        };
        self.last.set((offset, column));
        Position {
            origin: self.origin.to_string(),
            line,
            column,
        }
    }
}

impl Position {
    /// A value given on the command line (`--ignore …`), which has no line:
    /// shown as `origin` alone.
    pub fn command_line(origin: impl Into<String>) -> Position {
        Position {
            origin: origin.into(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return f.write_str(&self.origin);
        }
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

/// Why a config could not be loaded. Every variant but [`ConfigError::Read`]
/// carries the [`Position`] of the offending key or value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    ///
    /// The cause is part of the message and deliberately not a `source()`,
    /// so an `anyhow` chain (`{:#}`) does not print it twice; the same holds
    /// for [`ConfigError::BadSize`].
    #[error("{}: could not read config: {error}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The path is not a regular file (a FIFO, a device, a directory):
    /// reading it could block forever or never end.
    #[error("{}: could not read config: not a regular file ({kind})", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// Larger than any config needs ([`MAX_CONFIG_BYTES`]).
    #[error(
        "{}: could not read config: larger than {} bytes",
        path.display(),
        MAX_CONFIG_BYTES
    )]
    TooLarge {
        /// The path given.
        path: PathBuf,
    },
    /// Not valid TOML, or a key or value type the format does not allow
    /// (unknown keys included); the message is `toml`'s.
    #[error("{at}: {message}")]
    Toml {
        /// Where `toml` located the problem.
        at: Position,
        /// `toml`'s message, on one line.
        message: String,
    },
    /// A severity that is not one of the allowed words.
    #[error(
        "{at}: unknown severity `{}` for `{}`, expected one of {expected}",
        crate::escape::clip(.value, crate::escape::MAX_VALUE),
        crate::escape::clip(.key, crate::escape::MAX_VALUE)
    )]
    BadSeverity {
        /// The value.
        at: Position,
        /// `fail-on` or the rule id.
        key: String,
        /// What was written.
        value: String,
        /// The allowed words, in backticks.
        expected: &'static str,
    },
    /// A rule id that no [`Code`] has.
    #[error(
        "{at}: unknown rule `{}` in {table}{}",
        crate::escape::clip(.rule, crate::escape::MAX_VALUE),
        hint_for_rule(.rule, *.suggestion)
    )]
    UnknownRule {
        /// The key (in `[rules]`) or the value (in `[[ignore]]`).
        at: Position,
        /// What was written.
        rule: String,
        /// `[rules]` or `[[ignore]]`.
        table: &'static str,
        /// The closest rule id, when one is close.
        suggestion: Option<Code>,
    },
    /// An `[[ignore]]` `path` that is not a valid glob.
    #[error(
        "{at}: invalid glob `{}` in [[ignore]]: {reason}",
        crate::escape::clip(.glob, crate::escape::MAX_VALUE)
    )]
    BadGlob {
        /// The `path` value.
        at: Position,
        /// The pattern.
        glob: String,
        /// What `globset` (or the empty check) objected to.
        reason: String,
    },
    /// An `[[ignore]]` `path` that is relative, so it can never match an image path.
    #[error(
        "{at}: glob `{}` in [[ignore]] can never match: image paths are absolute, start it with `/` or `**/`",
        crate::escape::clip(.glob, crate::escape::MAX_VALUE)
    )]
    RelativeGlob {
        /// The `path` value.
        at: Position,
        /// The pattern.
        glob: String,
    },
    /// An `[[ignore]]` with neither `rule` nor `path`, which would ignore everything.
    #[error("{at}: [[ignore]] needs `rule`, `path` or both")]
    IgnoreWithoutTarget {
        /// The `[[ignore]]` entry.
        at: Position,
    },
    /// An `[[ignore]]` without a `reason`, or with an empty one.
    #[error(
        "{at}: [[ignore]] needs a non-empty `reason` saying why the finding is safe to ignore"
    )]
    MissingReason {
        /// The `[[ignore]]` entry, or the empty `reason` value.
        at: Position,
    },
    /// A `[budget]` value that is not a size.
    #[error(
        "{at}: invalid size `{}` for `budget.{key}`: {reason}",
        crate::escape::clip(.value, crate::escape::MAX_VALUE)
    )]
    BadSize {
        /// The value.
        at: Position,
        /// `total`, `layer` or `waste`.
        key: &'static str,
        /// What was written.
        value: String,
        /// Why it is not a size.
        reason: SizeError,
    },
}

fn hint_for_rule(rule: &str, suggestion: Option<Code>) -> String {
    if rule == "fail-on" {
        return " (top-level keys such as `fail-on` must come before the first [table])".into();
    }
    match suggestion {
        Some(code) => format!(", did you mean `{code}`?"),
        None => String::new(),
    }
}

/// Why a size such as `"500MB"` could not be parsed (see [`parse_size`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Nothing but whitespace.
    #[error("empty size")]
    Empty,
    /// The number part is missing or malformed.
    #[error("expected a number followed by a unit such as `MB` or `GiB`")]
    BadNumber,
    /// A unit that is not one of the known ones.
    #[error(
        "unknown unit `{}`, expected one of `B`, `KB`, `MB`, `GB`, `TB`, `KiB`, `MiB`, `GiB`, `TiB`",
        crate::escape::clip(.0, crate::escape::MAX_VALUE)
    )]
    UnknownUnit(String),
    /// A negative TOML integer.
    #[error("a size cannot be negative")]
    Negative,
    /// More bytes than fit in 64 bits.
    #[error("too large")]
    Overflow,
}

/// Parse a size: a number (decimals allowed, e.g. `1.5GB`), optional
/// whitespace, and a unit, `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or
/// `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), case-insensitive. A bare
/// number is bytes. Fractions of a byte are truncated.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SizeError::Empty);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim_start());
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(SizeError::BadNumber);
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(SizeError::UnknownUnit(unit.to_string())),
    };
    // Only digits are left, so a parse failure is an overflow.
    let whole: u64 = whole.parse().map_err(|_| SizeError::Overflow)?;
    let mut bytes = whole.checked_mul(multiplier).ok_or(SizeError::Overflow)?;
    // The fraction in integer arithmetic, so `0.1GB` is exactly 100_000_000
    // rather than a float rounded near it. Digits past the 18th cannot move
    // the result by a byte (the largest unit is 2^40), so they are dropped,
    // which also keeps `10^len` inside a u128.
    let fraction = &fraction[..fraction.len().min(18)];
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().map_err(|_| SizeError::BadNumber)?;
        let part = numerator * u128::from(multiplier) / 10u128.pow(fraction.len() as u32);
        // `part < multiplier`, so it fits in a u64.
        bytes = bytes.checked_add(part as u64).ok_or(SizeError::Overflow)?;
    }
    Ok(bytes)
}

/// What `[rules]` may set a rule to.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, strum::Display, strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum RuleLevel {
    /// Report as an error.
    Error,
    /// Report as a warning.
    Warning,
    /// Report as info (never fails the gate).
    Info,
    /// Drop the rule's findings entirely.
    Off,
}

impl RuleLevel {
    /// The severity findings get, or `None` for [`RuleLevel::Off`].
    pub fn severity(self) -> Option<Severity> {
        match self {
            RuleLevel::Error => Some(Severity::Error),
            RuleLevel::Warning => Some(Severity::Warning),
            RuleLevel::Info => Some(Severity::Info),
            RuleLevel::Off => None,
        }
    }
}

/// One `[[ignore]]` entry, validated: at least one of `rule` and `path`, and a reason.
#[derive(Clone, Debug)]
pub struct Ignore {
    /// Only findings of this rule, when set.
    pub rule: Option<Code>,
    /// Only findings whose path matches this glob, when set (the pattern as written).
    pub path: Option<String>,
    /// Why it is safe; copied into [`crate::finding::Suppression::reason`].
    pub reason: String,
    /// Where the entry starts in the config file.
    pub at: Position,
    matcher: Option<GlobSet>,
}

impl Ignore {
    /// True when this entry covers `finding`: its rule (if set) is the
    /// finding's and its glob (if set) matches the finding's path.
    pub fn matches(&self, finding: &Finding) -> bool {
        let rule_matches = match self.rule {
            Some(rule) => rule == finding.code,
            None => true,
        };
        let path_matches = match &self.matcher {
            Some(matcher) => matcher.is_match(&finding.location.path),
            None => true,
        };
        rule_matches && path_matches
    }
}

/// An `[[ignore]]` that matched no finding; the caller warns about it on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmatchedIgnore {
    /// Where the entry starts in the config file.
    pub at: Position,
    /// Its `rule`, if set.
    pub rule: Option<Code>,
    /// Its `path` glob, if set.
    pub path: Option<String>,
}

impl fmt::Display for UnmatchedIgnore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [[ignore]]", self.at)?;
        if let Some(rule) = self.rule {
            write!(f, " for rule `{rule}`")?;
        }
        if let Some(path) = &self.path {
            write!(f, " at path `{path}`")?;
        }
        write!(f, " matched no finding")
    }
}

/// Size budgets from `[budget]`, in bytes; `None` when not set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// Total uncompressed size of the merged filesystem.
    pub total: Option<u64>,
    /// Uncompressed size of any single layer.
    pub layer: Option<u64>,
    /// Waste: bytes of regular files in all layers minus those in the merged result.
    pub waste: Option<u64>,
}

/// The gate level: `fail-on` in the config, `--fail-on` on the command line.
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    clap::ValueEnum,
)]
#[strum(serialize_all = "lowercase")]
pub enum FailOn {
    /// Fail on active errors (the default).
    Error,
    /// Fail on active warnings and errors.
    Warning,
    /// Never fail on findings (budgets are findings too); report only.
    Never,
}

impl FailOn {
    /// The least severity that fails the gate, `None` for [`FailOn::Never`].
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Never => None,
        }
    }
}

/// A loaded and validated `imgaudit.toml`. [`Config::default`] is what
/// applies when there is no file: gate on errors, no overrides, no ignores,
/// no budgets.
#[derive(Clone, Debug)]
pub struct Config {
    /// The gate: the sink fails on active findings at least this severe.
    pub fail_on: FailOn,
    /// `require-python`: an image with no Python environment fails the gate
    /// (it is always *reported* as "nothing audited").
    pub require_python: bool,
    /// Per-rule overrides from `[rules]`.
    pub rules: BTreeMap<Code, RuleLevel>,
    /// `[[ignore]]` entries, in file order.
    pub ignores: Vec<Ignore>,
    /// `[budget]`.
    pub budget: Budget,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            fail_on: FailOn::Error,
            require_python: false,
            rules: BTreeMap::new(),
            ignores: Vec::new(),
            budget: Budget::default(),
        }
    }
}

// The raw, spanned shape of the file. `deny_unknown_fields` makes `toml`
// report unknown keys with their span; everything semantic (severity words,
// rule ids, globs, sizes) is checked afterwards in `validate`, where the spans
// let every error point at the exact value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    fail_on: Option<Spanned<String>>,
    require_python: Option<bool>,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<RawIgnore>>,
    #[serde(default)]
    budget: RawBudget,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    rule: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    total: Option<Spanned<toml::Value>>,
    layer: Option<Spanned<toml::Value>>,
    waste: Option<Spanned<toml::Value>>,
}

/// The largest config file read: a config is a few KB; a megabyte is room
/// for thousands of `[[ignore]]` entries.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The longest `[[ignore]]` `path` glob, in bytes: `globset` compiles a glob
/// into a regex, and a long one (150,000 `?`) exceeds the regex size limit,
/// on which `globset` panics (issue 14).
pub const MAX_GLOB_LEN: usize = 1024;

/// The deepest nesting of `{…}` alternates (and `[…]` classes inside them)
/// in a glob, for the same reason.
pub const MAX_GLOB_NESTING: usize = 8;

const FAIL_ON_WORDS: &str = "`error`, `warning`, `never`";
const RULE_LEVEL_WORDS: &str = "`error`, `warning`, `info`, `off`";

impl Config {
    /// Read and validate the config file at `path`. Errors name `path` as written.
    ///
    /// Only a regular file of at most [`MAX_CONFIG_BYTES`] is read: the type
    /// is checked before opening (opening a FIFO blocks until a writer
    /// comes), and the read stops past the cap (`/proc` files and a file
    /// that grows report a size that cannot be trusted).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        use crate::localfile::{read_capped, ReadError};
        let read_err = |error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        };
        let bytes = read_capped(path, MAX_CONFIG_BYTES).map_err(|e| match e {
            ReadError::Io(error) => read_err(error),
            ReadError::NotAFile(kind) => ConfigError::NotAFile {
                path: path.to_path_buf(),
                kind,
            },
            ReadError::TooLarge(_) => ConfigError::TooLarge {
                path: path.to_path_buf(),
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e.utf8_error(),
            ))
        })?;
        Config::from_str(&text, &path.display().to_string())
    }

    /// Parse and validate config `text`; `origin` names it in errors (usually the path).
    pub fn from_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let positions = Positions::new(origin, text);
        let at = |span: Range<usize>| positions.at(span.start);
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Toml {
            at: at(e.span().unwrap_or(0..0)),
            // `toml` messages can span lines ("invalid string\nexpected ..."):
            // keep the error on one line.
            message: e.message().trim().lines().collect::<Vec<_>>().join(", "),
        })?;

        let mut config = Config::default();
        if let Some(fail_on) = raw.fail_on {
            config.fail_on =
                fail_on
                    .get_ref()
                    .parse::<FailOn>()
                    .map_err(|_| ConfigError::BadSeverity {
                        at: at(fail_on.span()),
                        key: "fail-on".into(),
                        value: fail_on.get_ref().clone(),
                        expected: FAIL_ON_WORDS,
                    })?;
        }
        config.require_python = raw.require_python.unwrap_or(false);

        // BTreeMap iteration is by key text, not by position; sort by span so
        // the first error reported is the first one in the file.
        let mut rules: Vec<_> = raw.rules.into_iter().collect();
        rules.sort_by_key(|(key, _)| key.span().start);
        for (key, value) in rules {
            let code =
                parse_code(key.get_ref()).map_err(|suggestion| ConfigError::UnknownRule {
                    at: at(key.span()),
                    rule: key.get_ref().clone(),
                    table: "[rules]",
                    suggestion,
                })?;
            let level =
                value
                    .get_ref()
                    .parse::<RuleLevel>()
                    .map_err(|_| ConfigError::BadSeverity {
                        at: at(value.span()),
                        key: key.get_ref().clone(),
                        value: value.get_ref().clone(),
                        expected: RULE_LEVEL_WORDS,
                    })?;
            config.rules.insert(code, level);
        }

        for entry in raw.ignore {
            let entry_at = at(entry.span());
            let raw = entry.into_inner();
            let rule = match raw.rule {
                None => None,
                Some(rule) => Some(parse_code(rule.get_ref()).map_err(|suggestion| {
                    ConfigError::UnknownRule {
                        at: at(rule.span()),
                        rule: rule.get_ref().clone(),
                        table: "[[ignore]]",
                        suggestion,
                    }
                })?),
            };
            let (path, matcher) = match raw.path {
                None => (None, None),
                Some(path) => {
                    let matcher = compile_glob(path.get_ref(), at(path.span()))?;
                    (Some(path.into_inner()), Some(matcher))
                }
            };
            if rule.is_none() && path.is_none() {
                return Err(ConfigError::IgnoreWithoutTarget { at: entry_at });
            }
            let reason = match raw.reason {
                None => return Err(ConfigError::MissingReason { at: entry_at }),
                Some(reason) if reason.get_ref().trim().is_empty() => {
                    return Err(ConfigError::MissingReason {
                        at: at(reason.span()),
                    })
                }
                Some(reason) => reason.into_inner(),
            };
            config.ignores.push(Ignore {
                rule,
                path,
                reason,
                at: entry_at,
                matcher,
            });
        }

        let size = |key: &'static str, value: Option<Spanned<toml::Value>>| match value {
            None => Ok(None),
            Some(value) => {
                let bad = |reason| ConfigError::BadSize {
                    at: at(value.span()),
                    key,
                    value: match value.get_ref() {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    reason,
                };
                match value.get_ref() {
                    toml::Value::String(s) => parse_size(s).map(Some).map_err(bad),
                    toml::Value::Integer(n) => u64::try_from(*n)
                        .map(Some)
                        .map_err(|_| bad(SizeError::Negative)),
                    _ => Err(bad(SizeError::BadNumber)),
                }
            }
        };
        config.budget = Budget {
            total: size("total", raw.budget.total)?,
            layer: size("layer", raw.budget.layer)?,
            waste: size("waste", raw.budget.waste)?,
        };
        Ok(config)
    }

    /// `imgaudit.toml` in `cwd`, if there is one (only that directory, no walking up).
    pub fn default_path_lookup(cwd: &Path) -> Option<PathBuf> {
        let path = cwd.join(FILE_NAME);
        path.is_file().then_some(path)
    }

    /// The level `code` reports at: its `[rules]` override, else its default severity.
    pub fn level(&self, code: Code) -> RuleLevel {
        self.rules
            .get(&code)
            .copied()
            .unwrap_or(match code.default_severity() {
                Severity::Error => RuleLevel::Error,
                Severity::Warning => RuleLevel::Warning,
                Severity::Info => RuleLevel::Info,
            })
    }

    /// `--rule RULE=LEVEL`: the same as `RULE = "LEVEL"` in `[rules]`, and
    /// it wins over the file.
    pub fn parse_rule_override(spec: &str) -> Result<(Code, RuleLevel), String> {
        let Some((rule, level)) = spec.split_once('=') else {
            return Err(format!(
                "expected `RULE=LEVEL`, e.g. `record-mismatch=warning`, not `{spec}`"
            ));
        };
        let code = parse_code(rule.trim()).map_err(|s| unknown_rule_message(rule, s))?;
        let level = level.trim().parse::<RuleLevel>().map_err(|_| {
            format!("unknown level `{level}` for `{code}`, expected one of {RULE_LEVEL_WORDS}")
        })?;
        Ok((code, level))
    }

    /// `--ignore RULE[:GLOB]`: an `[[ignore]]` from the command line, with
    /// the flag itself as its reason. `RULE` may be `*` (any rule) when a
    /// glob is given.
    pub fn parse_ignore(spec: &str) -> Result<Ignore, String> {
        let (rule, glob) = match spec.split_once(':') {
            Some((rule, glob)) => (rule.trim(), Some(glob.trim())),
            None => (spec.trim(), None),
        };
        let code = match rule {
            "*" | "" if glob.is_some() => None,
            _ => Some(parse_code(rule).map_err(|s| unknown_rule_message(rule, s))?),
        };
        let at = Position::command_line(format!("`--ignore {spec}`"));
        let (path, matcher) = match glob {
            None => (None, None),
            Some(glob) => {
                let matcher = compile_glob(glob, at.clone()).map_err(|e| {
                    // The position is the flag; drop it from the message.
                    e.to_string()
                        .trim_start_matches(&format!("{at}: "))
                        .replace(" in [[ignore]]", "")
                })?;
                (Some(glob.to_string()), Some(matcher))
            }
        };
        Ok(Ignore {
            rule: code,
            path,
            reason: "ignored on the command line (`--ignore`)".to_string(),
            at,
            matcher,
        })
    }
}

fn unknown_rule_message(rule: &str, suggestion: Option<Code>) -> String {
    match suggestion {
        Some(code) => {
            format!("unknown rule `{rule}`, did you mean `{code}`? (`imgaudit rules` lists them)")
        }
        None => format!("unknown rule `{rule}` (`imgaudit rules` lists them)"),
    }
}

/// A rule id, or the closest known one (by edit distance) as a suggestion.
pub fn parse_code(text: &str) -> Result<Code, Option<Code>> {
    use strum::IntoEnumIterator;
    text.parse::<Code>().map_err(|_| {
        // The distance is at least the difference in length: a long key
        // (a megabyte, from a hostile config) is never compared.
        let chars = text.chars().count();
        Code::iter()
            .filter(|code| chars.abs_diff(code.as_str().len()) <= 3)
            .map(|code| (edit_distance(text, code.as_str()), code))
            .filter(|(distance, _)| *distance <= 3)
            .min()
            .map(|(_, code)| code)
    })
}

/// Levenshtein distance, for "did you mean" suggestions (rule ids here,
/// subcommands in the CLI).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

fn compile_glob(pattern: &str, at: Position) -> Result<GlobSet, ConfigError> {
    let bad = |at, reason: String| ConfigError::BadGlob {
        at,
        glob: pattern.to_string(),
        reason,
    };
    if pattern.is_empty() {
        return Err(bad(at, "the pattern is empty".into()));
    }
    // Bounded before `globset` sees it: its regex has a size limit, and
    // `compile_matcher` panics ("regex compilation shouldn't fail") past it.
    if pattern.len() > MAX_GLOB_LEN {
        return Err(bad(
            at,
            format!(
                "{} bytes, longer than the {MAX_GLOB_LEN} a glob may have",
                pattern.len()
            ),
        ));
    }
    if glob_nesting(pattern) > MAX_GLOB_NESTING {
        return Err(bad(
            at,
            format!("`{{…}}` alternates nested deeper than {MAX_GLOB_NESTING}"),
        ));
    }
    // Image paths are absolute, so a pattern that starts with a literal path
    // component can never match. Saying so beats a silent "matched no finding".
    if !pattern.starts_with(['/', '*', '?', '[', '{']) {
        return Err(ConfigError::RelativeGlob {
            at,
            glob: pattern.to_string(),
        });
    }
    let glob = GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map_err(|e| bad(at.clone(), e.kind().to_string()))?;
    // A one-glob set rather than `compile_matcher`: building a set returns
    // the regex error instead of panicking on it, so anything the bounds
    // above let through still ends as a config error with its line.
    let mut set = GlobSetBuilder::new();
    set.add(glob);
    set.build().map_err(|e| bad(at, e.kind().to_string()))
}

/// How deep `{…}` alternates nest in a glob (a `\` escapes the next
/// character, as `globset` reads it on Unix).
fn glob_nesting(pattern: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' => {
                depth += 1;
                max = max.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(text, "imgaudit.toml")
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn valid_configs() {
        let cases: &[(&str, &str)] = &[
            // The empty file is the default config.
            ("", "fail_on=error rules={} ignores=0 budget=None/None/None"),
            // Comments only.
            ("# nothing\n", "fail_on=error rules={} ignores=0 budget=None/None/None"),
            // fail-on warning.
            ("fail-on = \"warning\"\n", "fail_on=warning rules={} ignores=0 budget=None/None/None"),
            // fail-on never: report without gating.
            ("fail-on = \"never\"\n", "fail_on=never rules={} ignores=0 budget=None/None/None"),
            // Every rule level, including `off`.
            (
                "[rules]\nrecord-mismatch = \"warning\"\nshim-missing = \"off\"\nmetadata-malformed = \"error\"\ndependency-conflict = \"info\"\n",
                "fail_on=error rules={ShimMissing: Off, RecordMismatch: Warning, MetadataMalformed: Error, DependencyConflict: Info} ignores=0 budget=None/None/None",
            ),
            // Ignore by rule only, by path only, by both; inline-table array form too.
            (
                "[[ignore]]\nrule = \"shim-missing\"\nreason = \"r1\"\n[[ignore]]\npath = \"/usr/bin/*\"\nreason = \"r2\"\n[[ignore]]\nrule = \"record-mismatch\"\npath = \"**/site-packages/**\"\nreason = \"r3\"\n",
                "fail_on=error rules={} ignores=3 budget=None/None/None",
            ),
            ("ignore = [{ rule = \"shim-missing\", reason = \"r\" }]\n", "fail_on=error rules={} ignores=1 budget=None/None/None"),
            // Sizes: decimal units, binary units, bare integers, spaces, lower case.
            (
                "[budget]\ntotal = \"500MB\"\nlayer = \"1.5 GiB\"\nwaste = 1024\n",
                "fail_on=error rules={} ignores=0 budget=Some(500000000)/Some(1610612736)/Some(1024)",
            ),
            ("[budget]\nwaste = \"50kib\"\n", "fail_on=error rules={} ignores=0 budget=None/None/Some(51200)"),
        ];
        for (text, expected) in cases {
            let config = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let got = format!(
                "fail_on={} rules={:?} ignores={} budget={:?}/{:?}/{:?}",
                config.fail_on,
                config.rules,
                config.ignores.len(),
                config.budget.total,
                config.budget.layer,
                config.budget.waste
            );
            assert_eq!(&got, expected, "for {text:?}");
        }
    }

    #[test]
    fn invalid_configs() {
        let cases: &[(&str, &str)] = &[
            // TOML syntax error: reported with toml's message, kept on one line.
            (
                "fail-on = \n",
                "imgaudit.toml:1:11: invalid string, expected `\"`, `'`",
            ),
            // Unknown top-level key (deny_unknown_fields keeps the span).
            (
                "fail-on = \"error\"\nfail_on = \"warning\"\n",
                "imgaudit.toml:2:1: unknown field `fail_on`, expected one of `fail-on`, `require-python`, `rules`, `ignore`, `budget`",
            ),
            // Unknown key inside an [[ignore]].
            (
                "[[ignore]]\nrule = \"shim-missing\"\nreasons = \"typo\"\n",
                "imgaudit.toml:3:1: unknown field `reasons`, expected one of `rule`, `path`, `reason`",
            ),
            // Unknown key inside [budget].
            (
                "[budget]\nwasted = \"1MB\"\n",
                "imgaudit.toml:2:1: unknown field `wasted`, expected one of `total`, `layer`, `waste`",
            ),
            // Wrong value type for a rule.
            (
                "[rules]\nrecord-mismatch = 1\n",
                "imgaudit.toml:2:19: invalid type: integer `1`, expected a string",
            ),
            // Bad fail-on word (`info` is not a gate level).
            (
                "fail-on = \"info\"\n",
                "imgaudit.toml:1:11: unknown severity `info` for `fail-on`, expected one of `error`, `warning`, `never`",
            ),
            // Bad rule level word.
            (
                "[rules]\nrecord-mismatch = \"warn\"\n",
                "imgaudit.toml:2:19: unknown severity `warn` for `record-mismatch`, expected one of `error`, `warning`, `info`, `off`",
            ),
            // Unknown rule id, with a suggestion; the first bad key in the file wins.
            (
                "# c\n[rules]\nshim-missing = \"off\"\n\n\n\nrecord-mismatched = \"warning\"\nzzz = \"off\"\n",
                "imgaudit.toml:7:1: unknown rule `record-mismatched` in [rules], did you mean `record-mismatch`?",
            ),
            // Unknown rule id with nothing close: no suggestion.
            (
                "[rules]\nleftpad = \"off\"\n",
                "imgaudit.toml:2:1: unknown rule `leftpad` in [rules]",
            ),
            // A top-level key after [rules] lands in [rules]: say so.
            (
                "[rules]\nfail-on = \"warning\"\n",
                "imgaudit.toml:2:1: unknown rule `fail-on` in [rules] (top-level keys such as `fail-on` must come before the first [table])",
            ),
            // Unknown rule id in an ignore points at the value.
            (
                "[[ignore]]\nrule = \"shim-mising\"\nreason = \"r\"\n",
                "imgaudit.toml:2:8: unknown rule `shim-mising` in [[ignore]], did you mean `shim-missing`?",
            ),
            // Bad glob: globset's reason.
            (
                "[[ignore]]\npath = \"/usr/{bin\"\nreason = \"r\"\n",
                "imgaudit.toml:2:8: invalid glob `/usr/{bin` in [[ignore]]: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)",
            ),
            // Empty glob.
            (
                "[[ignore]]\npath = \"\"\nreason = \"r\"\n",
                "imgaudit.toml:2:8: invalid glob `` in [[ignore]]: the pattern is empty",
            ),
            // Relative glob can never match an absolute image path.
            (
                "[[ignore]]\npath = \"usr/bin/*\"\nreason = \"r\"\n",
                "imgaudit.toml:2:8: glob `usr/bin/*` in [[ignore]] can never match: image paths are absolute, start it with `/` or `**/`",
            ),
            // An ignore with neither rule nor path points at its header.
            (
                "fail-on = \"error\"\n\n[[ignore]]\nreason = \"everything\"\n",
                "imgaudit.toml:3:1: [[ignore]] needs `rule`, `path` or both",
            ),
            // Missing reason points at the second entry's header.
            (
                "[[ignore]]\nrule = \"shim-missing\"\nreason = \"r\"\n[[ignore]]\nrule = \"record-mismatch\"\n",
                "imgaudit.toml:4:1: [[ignore]] needs a non-empty `reason` saying why the finding is safe to ignore",
            ),
            // A blank reason is no reason; points at the value.
            (
                "[[ignore]]\nrule = \"shim-missing\"\nreason = \"  \"\n",
                "imgaudit.toml:3:10: [[ignore]] needs a non-empty `reason` saying why the finding is safe to ignore",
            ),
            // Unknown size unit.
            (
                "[budget]\ntotal = \"500 megs\"\n",
                "imgaudit.toml:2:9: invalid size `500 megs` for `budget.total`: unknown unit `megs`, expected one of `B`, `KB`, `MB`, `GB`, `TB`, `KiB`, `MiB`, `GiB`, `TiB`",
            ),
            // No number.
            (
                "[budget]\nlayer = \"MB\"\n",
                "imgaudit.toml:2:9: invalid size `MB` for `budget.layer`: expected a number followed by a unit such as `MB` or `GiB`",
            ),
            // Negative integer.
            (
                "[budget]\nwaste = -1\n",
                "imgaudit.toml:2:9: invalid size `-1` for `budget.waste`: a size cannot be negative",
            ),
            // Overflow.
            (
                "[budget]\ntotal = \"99999999999TiB\"\n",
                "imgaudit.toml:2:9: invalid size `99999999999TiB` for `budget.total`: too large",
            ),
            // Hostile value: non-ASCII before the error, columns count characters.
            (
                "[[ignore]]\nreason = \"naïve ☃\"\nrule = \"bogus\"\n",
                "imgaudit.toml:3:8: unknown rule `bogus` in [[ignore]]",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&err(text), expected, "for {text:?}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("imgaudit-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, "[rules]\nnope = \"off\"\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("{}:2:1: unknown rule `nope` in [rules]", path.display())
        );
        assert_eq!(Config::default_path_lookup(&dir), Some(path.clone()));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(Config::default_path_lookup(&dir), None);
        let e = Config::load(&path).unwrap_err();
        // One line, no `source()` for anyhow to repeat.
        assert!(std::error::Error::source(&e).is_none());
        let e = e.to_string();
        assert!(
            e.starts_with(&format!("{}: could not read config: ", path.display())),
            "{e}"
        );
        std::fs::remove_dir(&dir).unwrap();
    }

    // See: issue 14
    // Proves: globs `globset` would panic on (150,000 `?`, alternates nested
    // 200 deep) are config errors with their line, and a glob at the
    // bounds still compiles and matches.
    #[test]
    fn r14_globs_are_bounded() {
        let cfg = |glob: &str| format!("\n[[ignore]]\npath = \"{glob}\"\nreason = \"r\"\n");
        let long = format!("/{}", "?".repeat(150_000));
        let e = parse(&cfg(&long)).unwrap_err().to_string();
        assert!(
            e.starts_with("imgaudit.toml:3:8: invalid glob `/???"),
            "{e}"
        );
        assert!(
            e.ends_with("150001 bytes, longer than the 1024 a glob may have"),
            "{e}"
        );
        assert!(e.len() < 1000, "{}", e.len());
        let deep = format!("/{}a{}", "{a,".repeat(200), "}".repeat(200));
        let e = parse(&cfg(&deep)).unwrap_err().to_string();
        assert!(e.ends_with("`{…}` alternates nested deeper than 8"), "{e}");
        // At the bounds: compiles and matches.
        let ok = format!("/{}{}x{}", "?".repeat(100), "{a,".repeat(8), "}".repeat(8));
        let c = parse(&cfg(&ok)).unwrap();
        let path = format!("/{}x", "p".repeat(100));
        assert!(c.ignores[0].matcher.as_ref().unwrap().is_match(&path));
    }

    // See: issue 14
    // Proves: the positions of 20,000 `[[ignore]]` entries (and of as many
    // on one line) are the ones `Position::from_offset` gives, found in one
    // pass (this used to count lines from the top of the file per entry).
    #[test]
    fn r14_ignore_positions_in_one_pass() {
        let entry = "[[ignore]]\nrule = \"shim-missing\"\nreason = \"r\"\n";
        let text = entry.repeat(20_000);
        let start = std::time::Instant::now();
        let c = parse(&text).unwrap();
        assert_eq!(c.ignores.len(), 20_000);
        assert_eq!(c.ignores[19_999].at.line, 3 * 19_999 + 1);
        let one_line = format!(
            "ignore = [{}]",
            vec!["{ rule = \"shim-missing\", reason = \"é\" }"; 20_000].join(", ")
        );
        let c = parse(&one_line).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        let positions = Positions::new("imgaudit.toml", &one_line);
        for offset in [0, 11, 50, 5000, one_line.len() - 1, one_line.len()] {
            assert_eq!(
                positions.at(offset),
                Position::from_offset("imgaudit.toml", &one_line, offset),
                "{offset}"
            );
        }
        let last = &c.ignores[19_999].at;
        assert_eq!(last.line, 1);
        assert_eq!(
            *last,
            Position::from_offset("imgaudit.toml", &one_line, one_line.rfind('{').unwrap())
        );
    }

    // See: issue 14
    // Proves: a megabyte-long unknown rule id is reported clipped, on one
    // short line.
    #[test]
    fn r14_unknown_rule_is_clipped() {
        let rule = "x".repeat(1 << 20);
        let e = parse(&format!("[rules]\n{rule} = \"off\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("imgaudit.toml:2:1: unknown rule `xxx"), "{e}");
        assert!(e.contains("… (1048576 bytes in all)` in [rules]"), "{e}");
        assert!(e.len() < 400, "{}", e.len());
    }

    // See: issue 14
    // Proves: `--config` naming a FIFO or a device is refused before it is
    // opened (no blocking, no 2 GB read of `/dev/zero`), and a file over
    // the cap is refused after reading only the cap.
    #[test]
    fn r14_config_must_be_a_small_regular_file() {
        let e = Config::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/dev/zero: could not read config: not a regular file (a character device)"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = Config::load(&fifo).unwrap_err().to_string();
        assert!(
            e.ends_with("could not read config: not a regular file (a FIFO)"),
            "{e}"
        );
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(MAX_CONFIG_BYTES as usize + 1)).unwrap();
        let e = Config::load(&big).unwrap_err().to_string();
        assert!(
            e.ends_with("could not read config: larger than 1048576 bytes"),
            "{e}"
        );
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("not a regular file (a directory)"), "{e}");
    }

    #[test]
    fn testdata_configs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/config");
        let mut checked = (0, 0);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let result = Config::load(&path);
            if name.starts_with("valid-") {
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
                checked.0 += 1;
            } else if name.starts_with("invalid-") {
                let e = result.err().unwrap_or_else(|| panic!("{name} parsed"));
                let expected = std::fs::read_to_string(path.with_extension("err")).unwrap();
                let got = e.to_string().replace(&path.display().to_string(), "[FILE]");
                assert_eq!(got, expected.trim_end(), "{name}");
                checked.1 += 1;
            }
        }
        assert!(checked.0 > 0 && checked.1 > 0, "checked {checked:?}");
    }

    #[test]
    fn sizes() {
        let cases: &[(&str, Result<u64, SizeError>)] = &[
            ("0", Ok(0)),
            ("1", Ok(1)),
            ("1B", Ok(1)),
            ("1KB", Ok(1_000)),
            ("1KiB", Ok(1_024)),
            ("500MB", Ok(500_000_000)),
            ("500MiB", Ok(500 << 20)),
            ("2GB", Ok(2_000_000_000)),
            ("2 GiB", Ok(2 << 30)),
            ("1TB", Ok(1_000_000_000_000)),
            ("0.1GB", Ok(100_000_000)),
            ("1.5KiB", Ok(1_536)),
            // Sub-byte fractions truncate.
            ("1.999B", Ok(1)),
            ("0.0015KB", Ok(1)),
            ("  7mb ", Ok(7_000_000)),
            ("", Err(SizeError::Empty)),
            (".5MB", Err(SizeError::BadNumber)),
            ("1.2.3MB", Err(SizeError::BadNumber)),
            ("-1MB", Err(SizeError::BadNumber)),
            ("5 PB", Err(SizeError::UnknownUnit("PB".into()))),
            ("18446744073709551616", Err(SizeError::Overflow)),
            ("20000000TB", Err(SizeError::Overflow)),
        ];
        for (text, expected) in cases {
            assert_eq!(&parse_size(text), expected, "for {text:?}");
        }
    }

    #[test]
    fn starter_parses_and_lists_every_rule() {
        // As written: everything is commented out, so it is the default config.
        let config = parse(STARTER).unwrap();
        assert_eq!(config.fail_on, FailOn::Error);
        assert!(!config.require_python);
        assert!(config.rules.is_empty() && config.ignores.is_empty());

        // Uncommented: every example line must parse too.
        let uncommented: String = STARTER
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) => rest,
                None => line,
            })
            .fold(String::new(), |acc, line| acc + line + "\n");
        let config = parse(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        // The rule list is complete and shows the default severities.
        for code in Code::iter() {
            assert_eq!(config.rules.get(&code), Some(&config.level(code)), "{code}");
            assert_eq!(
                config.level(code).severity(),
                Some(code.default_severity()),
                "{code}"
            );
        }
        assert_eq!(config.rules.len(), Code::iter().count());
        assert_eq!(config.ignores.len(), 1);
        assert_eq!(
            config.budget,
            Budget {
                total: Some(500_000_000),
                layer: Some(200_000_000),
                waste: Some(50_000_000),
            }
        );
    }

    #[test]
    fn command_line_rules_and_ignores() {
        // `--rule RULE=LEVEL`: valid forms.
        assert_eq!(
            Config::parse_rule_override("shim-missing=off"),
            Ok((Code::ShimMissing, RuleLevel::Off))
        );
        assert_eq!(
            Config::parse_rule_override("record-mismatch = warning"),
            Ok((Code::RecordMismatch, RuleLevel::Warning))
        );
        // Invalid: no `=`, a typo'd rule (with suggestion), an unknown level.
        let cases = [
            ("shim-missing", "expected `RULE=LEVEL`"),
            ("shim-mising=off", "did you mean `shim-missing`?"),
            (
                "shim-missing=fatal",
                "unknown level `fatal` for `shim-missing`",
            ),
        ];
        for (spec, want) in cases {
            let e = Config::parse_rule_override(spec).unwrap_err();
            assert!(e.contains(want), "{spec}: {e}");
        }

        // `--ignore RULE[:GLOB]`: rule only, rule and glob, any rule under a glob.
        let rule_only = Config::parse_ignore("shim-missing").unwrap();
        assert_eq!(
            (rule_only.rule, rule_only.path.as_deref()),
            (Some(Code::ShimMissing), None)
        );
        let both = Config::parse_ignore("shim-missing:/opt/venv/bin/*").unwrap();
        assert_eq!(both.path.as_deref(), Some("/opt/venv/bin/*"));
        assert_eq!(
            both.at.to_string(),
            "`--ignore shim-missing:/opt/venv/bin/*`"
        );
        let any = Config::parse_ignore("*:/usr/**").unwrap();
        assert_eq!(any.rule, None);
        // Invalid: `*` alone would ignore everything; a relative glob; a typo.
        for (spec, want) in [
            ("*", "unknown rule `*`"),
            ("shim-missing:opt/*", "can never match"),
            ("shim-mising", "did you mean `shim-missing`?"),
        ] {
            let e = Config::parse_ignore(spec).unwrap_err();
            assert!(e.contains(want), "{spec}: {e}");
            assert!(!e.contains("[[ignore]]"), "{spec}: {e}");
        }
    }

    #[test]
    fn position_counts_lines_and_characters() {
        let text = "ab\nçd☃x\n";
        assert_eq!(Position::from_offset("f", text, 0).to_string(), "f:1:1");
        assert_eq!(Position::from_offset("f", text, 3).to_string(), "f:2:1");
        // `ç` is 2 bytes and `☃` 3: byte 9 is `x`, the 4th character.
        assert_eq!(Position::from_offset("f", text, 9).to_string(), "f:2:4");
        // Past the end and inside a character are clamped, not a panic.
        assert_eq!(Position::from_offset("f", text, 99).to_string(), "f:3:1");
        assert_eq!(Position::from_offset("f", text, 4).to_string(), "f:2:1");
    }
}
