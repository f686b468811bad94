//! Requirement parsing and marker evaluation, the way `pip check` does it.
//!
//! Owns: the marker environment of a Linux CPython image (built from the Python
//! version and the image's OCI architecture), deciding whether a `Requires-Dist`
//! applies there with **no extras**, and whether an installed version satisfies a
//! requirement's specifier.
//!
//! Deliberately does not: know which distributions are installed, or read metadata.
//! It wraps `pep508_rs` 0.9 / `pep440_rs` 0.7, with two changes: requirements use
//! [`RequirementUrl`], an opaque URL type, instead of `pep508_rs::VerbatimUrl`,
//! because `VerbatimUrl` expands `${VARS}` from the *auditing* process's environment
//! and rejects URLs it cannot parse; an audit must depend on the image alone, and a
//! URL requirement is never checked against a version anyway. And the `and`/`or`
//! of a marker is parsed here ([`Marker`]), each comparison by `pep508_rs`: its
//! whole-marker parse costs memory exponential in the marker, kept for the life
//! of the process.
//!
//! Spec: <https://packaging.python.org/en/latest/specifications/dependency-specifiers/#environment-markers>.
//! pip's behaviour, from `pip/_internal/operations/check.py` and
//! `pip/_internal/metadata/importlib/_dists.py` (`iter_dependencies`, pip 26.x): a
//! requirement without a marker always applies, one with a marker applies when
//! `req.marker.evaluate({"extra": ""})` is true, and a conflict is
//! `not req.specifier.contains(version, prereleases=True)`.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{
    MarkerEnvironment, MarkerEnvironmentBuilder, Pep508Error, Pep508ErrorSource, Pep508Url,
    VersionOrUrl,
};
use thiserror::Error;

/// A PEP 508 requirement: its name, extras and specifier (or URL, kept
/// verbatim) as `pep508_rs` parses them, and its marker as imgaudit parses it
/// ([`Marker`]). `Deref`s to the `pep508_rs` requirement, whose own marker is
/// always empty.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// Everything before the marker.
    pub inner: pep508_rs::Requirement<RequirementUrl>,
    /// The marker; `None`: there is none, or every comparison in it is one
    /// `pep508_rs` ignores (it always applies).
    pub marker: Option<Marker>,
}

impl std::ops::Deref for Requirement {
    type Target = pep508_rs::Requirement<RequirementUrl>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// A PEP 508 marker: `and`/`or` over comparisons, each comparison parsed and
/// evaluated by `pep508_rs`.
///
/// Why not `pep508_rs`'s own `MarkerTree` for the whole marker: it builds a
/// decision diagram as it parses, interning every node it makes, the
/// intermediate ones too, in a process-wide table that is never freed. An
/// image's metadata is untrusted, and a 600-byte marker can make it build
/// megabytes (`(os_name == 'a' and extra == 'b') or …`, 12 terms, within the
/// bounds of `check_bounds`: about 5 MB per requirement, kept for the life
/// of the process; 100 distinct `(extra == 'a…' and extra == 'b…') or …` of
/// 516 bytes took 2.5 s and 1.9 GB), so one 4 MiB METADATA could exhaust the
/// memory of a whole nightly scan. Here each comparison is one interned node, and the
/// `and`/`or` around them is this plain tree: memory and time linear in the
/// marker's length. The evaluation is the same: a diagram is a canonical
/// form of the same boolean function of the same comparisons.
#[derive(Debug, Clone)]
pub enum Marker {
    /// One comparison (`python_version < "3.11"`), a single-comparison
    /// `pep508_rs` tree.
    Comparison(pep508_rs::MarkerTree),
    /// `a and b and …`
    All(Vec<Marker>),
    /// `a or b or …`
    Any(Vec<Marker>),
}

impl Marker {
    /// The marker's value in `env` with no extras (`extra == "…"` is false).
    pub fn evaluate(&self, env: &MarkerEnvironment) -> bool {
        match self {
            Marker::Comparison(tree) => tree.evaluate(env, &[]),
            Marker::All(markers) => markers.iter().all(|m| m.evaluate(env)),
            Marker::Any(markers) => markers.iter().any(|m| m.evaluate(env)),
        }
    }
}

/// The URL of a `name @ url` requirement, as written: never parsed, never expanded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequirementUrl(pub String);

impl fmt::Display for RequirementUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Pep508Url for RequirementUrl {
    type Err = Infallible;

    fn parse_url(url: &str, _working_dir: Option<&std::path::Path>) -> Result<Self, Infallible> {
        Ok(RequirementUrl(url.to_owned()))
    }
}

/// A requirement string that is not PEP 508.
#[derive(Debug, Error)]
#[error("invalid requirement `{input}`")]
pub struct RequirementError {
    /// The string as given.
    pub input: String,
    /// The parser's explanation, with a caret under the offending span.
    #[source]
    pub source: Box<Pep508Error<RequirementUrl>>,
}

/// Parses a `Requires-Dist` value (or a converted `requires.txt` line).
///
/// pip skips a distribution's whole dependency list when one of its requirements
/// fails to parse ("Error parsing dependencies of …"); what to do is the caller's
/// choice.
pub fn parse_requirement(input: &str) -> Result<Requirement, RequirementError> {
    checked(input, |trimmed| {
        // `pep508_rs` never sees the marker (see [`Marker`]): the part
        // before the `;` holds none.
        let (head, marker) = match marker_start(trimmed) {
            Some(semicolon) => (&trimmed[..semicolon], Some(semicolon + 1)),
            None => (trimmed, None),
        };
        let inner = pep508_rs::Requirement::from_str(head)?;
        let marker = match marker {
            Some(offset) => MarkerParser::parse(trimmed, offset)?,
            None => None,
        };
        Ok(Requirement { inner, marker })
    })
}

/// `parse` on the trimmed input once it passes [`check_bounds`] and
/// [`check_pep508_rs_panics`]; its error names the input as given.
fn checked<T>(
    input: &str,
    parse: impl FnOnce(&str) -> Result<T, Pep508Error<RequirementUrl>>,
) -> Result<T, RequirementError> {
    // pip strips first: a folded header may start with a newline.
    let trimmed = input.trim();
    check_bounds(trimmed)
        .and_then(|()| check_pep508_rs_panics(trimmed))
        .and_then(|()| parse(trimmed))
        .map_err(|source| RequirementError {
            input: input.to_owned(),
            source: Box::new(source),
        })
}

/// The same checks, then `pep508_rs`'s parse of the whole string, marker
/// included: what [`parse_requirement`] did before it parsed markers itself.
/// Only for comparing the two (the `markers` fuzz target, the tests): its
/// marker costs memory exponential in the marker (see [`Marker`]).
#[doc(hidden)]
pub fn parse_requirement_whole(
    input: &str,
) -> Result<pep508_rs::Requirement<RequirementUrl>, RequirementError> {
    checked(input, pep508_rs::Requirement::from_str)
}

/// Where the `;` that starts a requirement's marker is, as `pep508_rs` 0.9.2
/// finds it (`parse_pep508_requirement`): the first `;` when the requirement
/// names a version (names, extras and specifiers hold none); after
/// `name @ url`, the first `;` with whitespace before it after the URL's
/// first byte, since a URL runs on through any other `;` (`parse_url`).
/// The part before it therefore holds no marker for `pep508_rs` to parse,
/// whatever the input: in the URL case every earlier `;` is inside the URL.
fn marker_start(input: &str) -> Option<usize> {
    let b = input.as_bytes();
    let mut i = run_end(b, 0, is_space);
    i = run_end(b, i, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')
    });
    i = run_end(b, i, is_space);
    if b.get(i) == Some(&b'[') {
        i = i + b[i..].iter().position(|&c| c == b']')? + 1;
        i = run_end(b, i, is_space);
    }
    if b.get(i) == Some(&b'@') {
        // The URL starts after the whitespace and takes its first byte
        // whatever it is (`x @ ;y` names the URL `;y`).
        let url = run_end(b, i + 1, is_space);
        (url + 1..b.len()).find(|&k| b[k] == b';' && is_space(b[k - 1]))
    } else {
        input.find(';')
    }
}

/// Whitespace as `pep508_rs`'s cursor sees it (`char::is_whitespace`).
fn is_space(c: u8) -> bool {
    (c as char).is_whitespace()
}

/// The end of the run of bytes from `from` that `keep` accepts.
fn run_end(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let rest = &b[from..];
    from + rest.iter().position(|&c| !keep(c)).unwrap_or(rest.len())
}

/// The marker grammar of PEP 508 as `pep508_rs` 0.9.2 reads it
/// (`marker/parse.rs`): `and` binds tighter than `or`, both are words
/// between whitespace, parentheses group, and a comparison is
/// `value op value`. Each comparison's text is handed to
/// `pep508_rs::MarkerExpression::from_str`, so what a comparison may say and
/// what it means are `pep508_rs`'s; a comparison it ignores (`os_name ~=
/// 'x'`) is left out of its `and`/`or`, as it leaves it out. Recursion is
/// bounded by [`MAX_MARKER_NESTING`] ([`check_bounds`] runs first); the
/// input is ASCII ([`check_pep508_rs_panics`]), so byte and character
/// offsets agree.
struct MarkerParser<'a> {
    input: &'a str,
    pos: usize,
}

type MarkerResult = Result<Option<Marker>, Pep508Error<RequirementUrl>>;

impl<'a> MarkerParser<'a> {
    /// The marker of `input` that starts at byte `offset`.
    fn parse(input: &'a str, offset: usize) -> MarkerResult {
        let mut parser = MarkerParser { input, pos: offset };
        let marker = parser.or()?;
        parser.skip_whitespace();
        match parser.peek() {
            None => Ok(marker),
            Some(c) => Err(parser.error(
                parser.pos,
                format!(
                    "Unexpected character '{}', expected 'and', 'or' or end of input",
                    c as char
                ),
            )),
        }
    }

    fn or(&mut self) -> MarkerResult {
        self.chain("or", Self::and, Marker::Any)
    }

    fn and(&mut self) -> MarkerResult {
        self.chain("and", Self::expression, Marker::All)
    }

    /// `inner (op inner)*`, `op` being the next word between whitespace.
    fn chain(
        &mut self,
        op: &str,
        inner: fn(&mut Self) -> MarkerResult,
        join: fn(Vec<Marker>) -> Marker,
    ) -> MarkerResult {
        let mut parts: Vec<Marker> = inner(self)?.into_iter().collect();
        loop {
            self.skip_whitespace();
            let end = self.scan(self.pos, |c| !is_space(c));
            if &self.input[self.pos..end] != op {
                break;
            }
            self.pos = end;
            parts.extend(inner(self)?);
        }
        Ok(match parts.len() {
            0 | 1 => parts.pop(),
            _ => Some(join(parts)),
        })
    }

    /// `( marker )` or one comparison.
    fn expression(&mut self) -> MarkerResult {
        self.skip_whitespace();
        if self.peek() == Some(b'(') {
            let open = self.pos;
            self.pos += 1;
            let marker = self.or()?;
            if self.peek() != Some(b')') {
                return Err(self.error(open, "Unclosed `(` in the marker".to_string()));
            }
            self.pos += 1;
            return Ok(marker);
        }
        let start = self.pos;
        self.value()?;
        self.skip_whitespace();
        self.operator();
        self.skip_whitespace();
        self.value()?;
        let text = &self.input[start..self.pos];
        match pep508_rs::MarkerExpression::from_str(text) {
            Ok(comparison) => {
                Ok(comparison.map(|c| Marker::Comparison(pep508_rs::MarkerTree::expression(c))))
            }
            Err(e) => Err(self.error(start + e.start, e.message.to_string())),
        }
    }

    /// A quoted string, or a marker name: its extent only (`pep508_rs`
    /// judges it).
    fn value(&mut self) -> Result<(), Pep508Error<RequirementUrl>> {
        match self.peek() {
            None => Err(self.error(
                self.pos,
                "Expected marker value, found end of dependency specification".to_string(),
            )),
            Some(quote @ (b'"' | b'\'')) => {
                let close = self.input.as_bytes()[self.pos + 1..]
                    .iter()
                    .position(|&c| c == quote)
                    .ok_or_else(|| self.error(self.pos, "Unclosed quoted string".to_string()))?;
                self.pos += close + 2;
                Ok(())
            }
            Some(_) => {
                self.pos = self.scan(self.pos, |c| !is_space(c) && !b"><=!~)".contains(&c));
                Ok(())
            }
        }
    }

    /// An operator's extent: `in`, `not in` or a run of `<=>~!`.
    fn operator(&mut self) {
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let end = self.scan(self.pos, |c| !is_space(c) && c != b'"' && c != b'\'');
            let word = &self.input[self.pos..end];
            self.pos = end;
            if word == "not" && self.peek().is_some_and(is_space) {
                self.skip_whitespace();
                if self.input[self.pos..].starts_with("in") {
                    self.pos += 2;
                }
            }
        } else {
            self.pos = self.scan(self.pos, |c| b"<=>~!".contains(&c));
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    /// The end of the run of bytes from `from` that `keep` accepts.
    fn scan(&self, from: usize, keep: impl Fn(u8) -> bool) -> usize {
        run_end(self.input.as_bytes(), from, keep)
    }

    fn skip_whitespace(&mut self) {
        self.pos = self.scan(self.pos, is_space);
    }

    fn error(&self, start: usize, message: String) -> Pep508Error<RequirementUrl> {
        Pep508Error {
            message: Pep508ErrorSource::String(message),
            start,
            len: 1,
            input: self.input.to_owned(),
        }
    }
}

/// The longest requirement string parsed, in bytes. Real ones are far
/// shorter (a long URL, or a marker listing a dozen platforms, is a few
/// hundred bytes).
pub const MAX_REQUIREMENT_LEN: usize = 2048;

/// The most comparisons (quoted values) a marker may hold.
pub const MAX_MARKER_COMPARISONS: usize = 24;

/// The deepest a marker's parentheses may nest.
pub const MAX_MARKER_NESTING: usize = 16;

/// Rejects, before anything parses them, requirements whose marker would
/// cost unbounded stack or memory (issue 14):
///
/// - A marker parser recurses once per parenthesis (`pep508_rs`'s did, and
///   [`MarkerParser`] does): about 4,000 nested `(` overflow the stack.
/// - `pep508_rs` normalises a whole marker into a decision diagram in which
///   every distinct `extra == '…'` (and `'…' in <key>`) is a boolean
///   variable; an or of ands over distinct extras, `(extra == 'a1' and
///   extra == 'b1') or …`, grows exponentially with the number of terms (20
///   terms, 760 bytes: over 10 s; a 900-byte one built 3.9 GB). Since issue
///   10 it only ever sees one comparison at a time ([`Marker`]), so this
///   bound is no longer what keeps the cost down; it still bounds the
///   interned comparisons one requirement can add.
///
/// So the string is bounded ([`MAX_REQUIREMENT_LEN`]), and its marker's
/// nesting ([`MAX_MARKER_NESTING`]) and number of comparisons
/// ([`MAX_MARKER_COMPARISONS`], counted as quoted values: every comparison
/// has exactly one) are bounded before parsing; real markers stay far below
/// them.
fn check_bounds(input: &str) -> Result<(), Pep508Error<RequirementUrl>> {
    let refuse = |message: String, start: usize| {
        Err(Pep508Error {
            message: Pep508ErrorSource::String(message),
            start,
            len: 1,
            // Shown with a caret under `start`: whole when in bounds.
            input: crate::escape::clip(input, MAX_REQUIREMENT_LEN).into_owned(),
        })
    };
    if input.len() > MAX_REQUIREMENT_LEN {
        return refuse(
            format!(
                "Requirement is {} bytes, longer than the {MAX_REQUIREMENT_LEN} imgaudit parses",
                input.len()
            ),
            0,
        );
    }
    let (mut depth, mut quoted, mut quote) = (0usize, 0usize, None);
    for (i, c) in input.chars().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => {
                quote = Some(c);
                quoted += 1;
                if quoted > MAX_MARKER_COMPARISONS {
                    return refuse(
                        format!("Marker has more than {MAX_MARKER_COMPARISONS} comparisons"),
                        i,
                    );
                }
            }
            (None, '(') => {
                depth += 1;
                if depth > MAX_MARKER_NESTING {
                    return refuse(
                        format!("Marker nests parentheses deeper than {MAX_MARKER_NESTING}"),
                        i,
                    );
                }
            }
            (None, ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Rejects, before `pep508_rs` sees them, two kinds of input on which `pep508_rs`
/// 0.9.2 panics instead of returning an error.
///
/// Non-ASCII text: its `Cursor::peek_while` counts characters but
/// `Cursor::slice` takes bytes (`src/cursor.rs` line 40), so
/// `colorama; platform_system == "Windows"é` slices inside a character. The PEP
/// 508 grammar is ASCII-only (names, versions, marker names and operators; URLs
/// are percent-encoded), so nothing valid is lost.
///
/// A name or extra that ends in `-`, `_` or `.`:
/// `pep508_rs` 0.9.2 accepts such a name in its parser and then panics when it
/// builds the `PackageName` / `ExtraName` (`"validation should match PEP 508
/// parsing"`, `src/lib.rs` lines 477 and 658), for inputs as plain as `foo- >=1`
/// or `foo[bar-]`, which a corrupt METADATA can hold. PEP 508 names "MUST begin
/// and end with a letter or digit", so these are errors either way; this check
/// looks at the name and at the bracketed extras right after it, and reports a
/// punctuation character that is not followed by another name character.
fn check_pep508_rs_panics(input: &str) -> Result<(), Pep508Error<RequirementUrl>> {
    if let Some((start, c)) = input.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        return Err(Pep508Error {
            message: Pep508ErrorSource::String(format!(
                "Non-ASCII character `{c}` (dependency specifiers are ASCII)"
            )),
            start,
            len: 1,
            input: input.to_owned(),
        });
    }
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let chars: Vec<char> = input.chars().collect();
    let name_end = chars
        .iter()
        .position(|&c| !is_name_char(c))
        .unwrap_or(chars.len());
    let mut regions = vec![(0, name_end)];
    let after_name = chars[name_end..]
        .iter()
        .position(|c| !c.is_whitespace())
        .map(|i| name_end + i);
    if let Some(open) = after_name.filter(|&i| chars[i] == '[') {
        let close = chars[open..]
            .iter()
            .position(|&c| c == ']')
            .map_or(chars.len(), |i| open + i);
        regions.push((open + 1, close));
    }
    for (start, end) in regions {
        for i in start..end {
            let punct = matches!(chars[i], '-' | '_' | '.');
            let followed_by_name = i + 1 < end && is_name_char(chars[i + 1]);
            if punct && !followed_by_name {
                return Err(Pep508Error {
                    message: Pep508ErrorSource::String(format!(
                        "Names must end with an alphanumeric character, not `{}`",
                        chars[i]
                    )),
                    start: i,
                    len: 1,
                    input: input.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Why a marker environment could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MarkerEnvError {
    /// The Python version is not `X.Y` or `X.Y.Z` (optionally with a pre-release).
    #[error("`{input}` is not a Python version such as `3.11` or `3.11.2`")]
    BadPythonVersion {
        /// The version as given.
        input: String,
    },
}

/// The marker environment of one Python environment in the image.
///
/// When only `major.minor` is known (from a `python3.11` directory name), the patch
/// level is not: markers on `python_full_version` may then go either way, so the
/// environment is evaluated at both ends of the series (`X.Y.0` and a patch level
/// above any released one) and a disagreement is [`Applicability::Uncertain`].
#[derive(Debug, Clone)]
pub struct MarkerEnv {
    /// `python_full_version` = the given version, or `X.Y.0`.
    low: MarkerEnvironment,
    /// `python_full_version` = `X.Y.<max>` when the patch level is unknown.
    high: Option<MarkerEnvironment>,
}

/// The patch level that stands in for "the latest" when only `X.Y` is known.
const UNKNOWN_PATCH_HIGH: &str = "9999";

impl MarkerEnv {
    /// Builds the environment for CPython `python_version` (`3.11` or `3.11.2`) on
    /// Linux, on the OCI architecture `arch` (see [`platform_machine`]).
    ///
    /// `platform_release` and `platform_version` (the kernel's) are unknowable from
    /// an image and are empty strings.
    pub fn new(python_version: &str, arch: &str) -> Result<Self, MarkerEnvError> {
        let bad = || MarkerEnvError::BadPythonVersion {
            input: python_version.to_owned(),
        };
        let version = python_version.trim();
        let parsed = Version::from_str(version).map_err(|_| bad())?;
        let release = parsed.release();
        if release.len() < 2
            || release.len() > 3
            || parsed.epoch() != 0
            || !parsed.local().is_empty()
        {
            return Err(bad());
        }
        let short = format!("{}.{}", release[0], release[1]);
        let (low_full, high_full) = if release.len() == 3 {
            (version.to_owned(), None)
        } else if parsed.is_pre() || parsed.is_post() || parsed.is_dev() {
            // `3.13rc1`: odd, but the full version is then known exactly enough.
            (version.to_owned(), None)
        } else {
            (
                format!("{short}.0"),
                Some(format!("{short}.{UNKNOWN_PATCH_HIGH}")),
            )
        };
        let machine = platform_machine(arch);
        let build = |full: &str| {
            MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
                implementation_name: "cpython",
                implementation_version: full,
                os_name: "posix",
                platform_machine: machine,
                platform_python_implementation: "CPython",
                platform_release: "",
                platform_system: "Linux",
                platform_version: "",
                python_full_version: full,
                python_version: &short,
                sys_platform: "linux",
            })
            .map_err(|_| bad())
        };
        Ok(MarkerEnv {
            low: build(&low_full)?,
            high: high_full.as_deref().map(build).transpose()?,
        })
    }

    /// The `pep508_rs` environment (with `python_full_version` = `X.Y.0` when the
    /// patch level is unknown).
    pub fn environment(&self) -> &MarkerEnvironment {
        &self.low
    }

    /// Whether the full Python version (patch level) is known.
    pub fn full_version_known(&self) -> bool {
        self.high.is_none()
    }
}

/// Maps an OCI/Go `architecture` to Python's `platform.machine()` on Linux:
/// `amd64` → `x86_64`, `arm64` → `aarch64`, `386` → `i686`, `arm` → `armv7l`,
/// `ppc64le`, `s390x`, `riscv64` unchanged, `mips64le` → `mips64`,
/// `loong64` → `loongarch64`. Anything else (including names that already are
/// machine names, like `x86_64`) is returned unchanged.
///
/// <https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#properties>
/// says `architecture` uses Go's `GOARCH` values. `arm` with variant `v6` is really
/// `armv6l`; the variant is not considered here because `platform_machine` markers
/// on 32-bit ARM are vanishingly rare.
pub fn platform_machine(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i686",
        "arm" => "armv7l",
        "mips64le" => "mips64",
        "loong64" => "loongarch64",
        other => other,
    }
}

/// Whether a requirement's marker holds in an environment, with no extras active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applicability {
    /// No marker, or the marker is true.
    Applies,
    /// The marker is false (for instance `extra == "tz"`, or another platform).
    DoesNotApply,
    /// The answer depends on the unknown patch level of Python
    /// (`python_full_version >= "3.11.4"` with only `3.11` known).
    Uncertain,
}

/// Evaluates a requirement's marker in `env` with no extras, as `pip check` does.
pub fn applicability(req: &Requirement, env: &MarkerEnv) -> Applicability {
    let Some(marker) = &req.marker else {
        return Applicability::Applies;
    };
    let low = marker.evaluate(&env.low);
    let high = env.high.as_ref().map_or(low, |high| marker.evaluate(high));
    match (low, high) {
        (true, true) => Applicability::Applies,
        (false, false) => Applicability::DoesNotApply,
        _ => Applicability::Uncertain,
    }
}

/// Whether the requirement certainly applies in `env` with no extras; an
/// [`Applicability::Uncertain`] answer is `false`, so a dependency check built on
/// it stays silent rather than guess.
pub fn requirement_applies(req: &Requirement, env: &MarkerEnv) -> bool {
    applicability(req, env) == Applicability::Applies
}

/// Whether the installed version satisfies the requirement's specifier, with
/// pre-releases allowed (`prereleases=True`, as in `pip check`).
///
/// `Some(true)` when the requirement has no specifier; `None` when `installed` is
/// not a PEP 440 version (legacy versions such as `2004d` or `1.0-SNAPSHOT` still
/// exist in old images) or the requirement is a `name @ url` requirement, which
/// names no version to compare.
pub fn version_satisfies(installed: &str, req: &Requirement) -> Option<bool> {
    match &req.version_or_url {
        None => Some(true),
        Some(VersionOrUrl::Url(_)) => None,
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
            let version = Version::from_str(installed.trim()).ok()?;
            Some(specifiers.contains(&version))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Requirement {
        parse_requirement(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn applicability_table() {
        use Applicability::*;
        let amd64_311 = MarkerEnv::new("3.11", "amd64").unwrap();
        let amd64_3112 = MarkerEnv::new("3.11.2", "amd64").unwrap();
        let arm64_312 = MarkerEnv::new("3.12.1", "arm64").unwrap();
        let cases: &[(&str, &MarkerEnv, &str, Applicability)] = &[
            // No marker: always.
            ("no marker", &amd64_311, "six", Applies),
            // alembic's real `tomli; python_version < "3.11"` on 3.11: no.
            ("tomli on 3.11", &amd64_311, "tomli; python_version < \"3.11\"", DoesNotApply),
            // Same on 3.10 would apply; check the reverse comparison.
            ("python_version >=", &amd64_311, "x; python_version >= \"3.11\"", Applies),
            // Extras are never active (requests' `socks` extra).
            ("extra", &amd64_311, "PySocks!=1.5.7,>=1.5.6; extra == \"socks\"", DoesNotApply),
            // An extra or'ed with a true marker applies.
            ("extra or linux", &amd64_311, "x; extra == \"a\" or sys_platform == \"linux\"", Applies),
            // Windows-only dependency (tiny-cli's colorama).
            ("windows only", &amd64_311, "colorama; platform_system == \"Windows\"", DoesNotApply),
            // sys_platform / os_name / implementation.
            ("linux cpython", &amd64_311, "x; sys_platform == 'linux' and os_name == 'posix' and platform_python_implementation == 'CPython' and implementation_name == 'cpython'", Applies),
            // PyPy-only dependency.
            ("pypy only", &amd64_311, "x; platform_python_implementation == 'PyPy'", DoesNotApply),
            // platform_machine from the OCI arch.
            ("machine amd64", &amd64_311, "x; platform_machine == 'x86_64'", Applies),
            ("machine arm64", &arm64_312, "x; platform_machine == 'aarch64'", Applies),
            ("machine arm64 not x86", &arm64_312, "x; platform_machine == 'x86_64'", DoesNotApply),
            // python_full_version with only 3.11 known: depends on the patch level.
            ("full version unknown", &amd64_311, "x; python_full_version >= '3.11.4'", Uncertain),
            // … but known with 3.11.2.
            ("full version known", &amd64_3112, "x; python_full_version >= '3.11.4'", DoesNotApply),
            // A full-version marker that any 3.11.x satisfies is not uncertain.
            ("full version series", &amd64_311, "x; python_full_version >= '3.8.0'", Applies),
            // implementation_version follows the full version.
            ("implementation_version", &amd64_3112, "x; implementation_version == '3.11.2'", Applies),
            // platform_release is unknown (empty) and compares false.
            ("platform_release", &amd64_311, "x; platform_release == '6.1.0'", DoesNotApply),
        ];
        for (what, env, input, expected) in cases {
            let r = req(input);
            assert_eq!(applicability(&r, env), *expected, "{what}: {input}");
            assert_eq!(requirement_applies(&r, env), *expected == Applies, "{what}");
        }
    }

    #[test]
    fn marker_env_table() {
        /// (python_version, arch, Some((full_version_known, python_full_version, platform_machine)))
        type Case<'a> = (&'a str, &'a str, Option<(bool, &'a str, &'a str)>);
        let cases: &[Case] = &[
            // Major.minor: patch unknown.
            ("3.11", "amd64", Some((false, "3.11.0", "x86_64"))),
            // Full version.
            ("3.11.2", "arm64", Some((true, "3.11.2", "aarch64"))),
            // Pre-release full version.
            ("3.13.0rc1", "386", Some((true, "3.13.0rc1", "i686"))),
            // Whitespace is trimmed.
            (" 3.12.1\n", "s390x", Some((true, "3.12.1", "s390x"))),
            // Unknown arch is passed through.
            ("3.12", "sparc64", Some((false, "3.12.0", "sparc64"))),
            // Major only is not a Python version for markers.
            ("3", "amd64", None),
            // Four components.
            ("3.11.2.1", "amd64", None),
            // Junk.
            ("python3", "amd64", None),
            // Empty.
            ("", "amd64", None),
            // Local versions do not name a Python.
            ("3.11.2+local", "amd64", None),
        ];
        for (version, arch, expected) in cases {
            let env = MarkerEnv::new(version, arch);
            match expected {
                Some((known, full, machine)) => {
                    let env = env.unwrap_or_else(|e| panic!("{version}: {e}"));
                    assert_eq!(env.full_version_known(), *known, "{version}");
                    assert_eq!(
                        env.environment().python_full_version().string,
                        *full,
                        "{version}"
                    );
                    assert_eq!(env.environment().platform_machine(), *machine, "{version}");
                    assert_eq!(env.environment().sys_platform(), "linux");
                }
                None => assert_eq!(
                    env.unwrap_err(),
                    MarkerEnvError::BadPythonVersion {
                        input: (*version).to_owned()
                    },
                    "{version}"
                ),
            }
        }
        assert_eq!(
            MarkerEnv::new("3", "amd64").unwrap_err().to_string(),
            "`3` is not a Python version such as `3.11` or `3.11.2`"
        );
    }

    #[test]
    fn platform_machine_table() {
        let cases = [
            ("amd64", "x86_64"),
            ("arm64", "aarch64"),
            ("386", "i686"),
            ("arm", "armv7l"),
            ("ppc64le", "ppc64le"),
            ("s390x", "s390x"),
            ("riscv64", "riscv64"),
            // Already a machine name.
            ("x86_64", "x86_64"),
        ];
        for (arch, machine) in cases {
            assert_eq!(platform_machine(arch), machine, "{arch}");
        }
    }

    #[test]
    fn version_satisfies_table() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            // Plain range, satisfied.
            ("2.34.2", "requests>=2.28,<3", Some(true)),
            // Plain range, conflict.
            ("1.26.0", "urllib3<3,>=2", Some(false)),
            // No specifier: any version.
            ("0.0.1", "mako", Some(true)),
            // Pre-release allowed, as in `pip check` (`prereleases=True`).
            ("2.0.0b1", "x>=1.0", Some(true)),
            // `!=` exclusions (requests' PySocks).
            ("1.5.7", "PySocks!=1.5.7,>=1.5.6", Some(false)),
            // Local version labels are ignored by specifiers without one.
            ("2.1.0+cpu", "torch==2.1.0", Some(true)),
            // Compatible release.
            ("4.16.0", "typing-extensions~=4.12", Some(true)),
            // Wildcard.
            ("3.0.7", "psycopg==3.0.*", Some(true)),
            // Normalised spellings compare equal.
            ("1.0.0-RC1", "x==1.0.0rc1", Some(true)),
            // Legacy version: unknowable.
            ("2004d", "pytz>=2020", None),
            // Empty installed version: unknowable.
            ("", "x>=1", None),
            // URL requirement: no version to compare.
            ("1.0", "pkg @ https://example.org/pkg-1.0.whl", None),
        ];
        for (installed, requirement, expected) in cases {
            assert_eq!(
                version_satisfies(installed, &req(requirement)),
                *expected,
                "{installed} vs {requirement}"
            );
        }
    }

    /// Every `Requires-Dist` in the real METADATA files parses, and on CPython 3.11
    /// / amd64 exactly the unconditional ones apply.
    #[test]
    fn real_requirements() {
        use crate::python::metadata::Metadata;
        const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/python");
        let env = MarkerEnv::new("3.11", "amd64").unwrap();
        let cases: &[(&str, &[&str])] = &[
            // `tomli; python_version < "3.11"` and the `tz` extra drop out.
            (
                "dist-info/alembic-1.20.1-pip/METADATA",
                &["sqlalchemy", "mako", "typing-extensions"],
            ),
            // Extras `socks` and `use-chardet-on-py3` drop out.
            (
                "dist-info/requests-2.34.2-pip/METADATA",
                &["charset-normalizer", "idna", "urllib3", "certifi"],
            ),
            // 32 of 33 are behind extras.
            (
                "dist-info/sqlalchemy-2.1.9-pip/METADATA",
                &["typing-extensions"],
            ),
            // Windows-only colorama, Python < 3.8 importlib-metadata, and the extras
            // (`dev` is `sys_platform == "linux" and extra == "dev"`) drop out.
            ("dist-info/tiny_cli-1.0-installer/METADATA", &["six"]),
        ];
        for (file, applying) in cases {
            let bytes = std::fs::read(format!("{TESTDATA}/{file}")).unwrap();
            let metadata = Metadata::parse(&bytes).unwrap();
            let names: Vec<String> = metadata
                .requires_dist
                .iter()
                .map(|r| req(r))
                .filter(|r| requirement_applies(r, &env))
                .map(|r| r.name.to_string())
                .collect();
            assert_eq!(names, *applying, "{file}");
        }
    }

    /// The same project installed as a wheel (METADATA) and by `setup.py install`
    /// (`requires.txt`): the converted `requires.txt` lines mean the same thing.
    #[test]
    fn requires_txt_matches_metadata() {
        use crate::python::{egg_info, metadata::Metadata};
        const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/python");
        let read = |f: &str| std::fs::read(format!("{TESTDATA}/{f}")).unwrap();
        let from_wheel = Metadata::parse(&read("dist-info/tiny_cli-1.0-installer/METADATA"))
            .unwrap()
            .requires_dist;
        let from_egg =
            egg_info::parse_requires_txt(&read("egg-info/tiny_cli-1.0-legacy/requires.txt"));
        let linux = MarkerEnv::new("3.11.2", "amd64").unwrap();
        let old = MarkerEnv::new("3.7", "arm64").unwrap();
        for env in [&linux, &old] {
            let mut a: Vec<_> = from_wheel
                .iter()
                .map(|r| (req(r).name.to_string(), applicability(&req(r), env)))
                .collect();
            let mut b: Vec<_> = from_egg
                .iter()
                .map(|r| (req(r).name.to_string(), applicability(&req(r), env)))
                .collect();
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            assert_eq!(a, b);
        }
    }

    #[test]
    fn parse_requirement_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // Real `Requires-Dist` values from the testdata.
            ("charset_normalizer<4,>=2", Some("charset-normalizer")),
            ("SQLAlchemy>=2.0", Some("sqlalchemy")),
            (
                "sqlalchemy[asyncio]; extra == \"postgresql-asyncpg\"",
                Some("sqlalchemy"),
            ),
            (
                "mariadb!=1.1.10,!=1.1.2,!=1.1.5,>=1.0.1; extra == \"mariadb-connector\"",
                Some("mariadb"),
            ),
            // The `requires.txt` conversion output.
            (
                "pytest; (sys_platform == 'linux') and extra == \"dev\"",
                Some("pytest"),
            ),
            // Leading newline from a folded header.
            ("\n  idna<4,>=2.5", Some("idna")),
            // A URL containing `${VAR}` stays verbatim (no host expansion).
            ("pkg @ https://example.org/${HOME}/pkg.whl", Some("pkg")),
            // Old-style parenthesised specifier (Metadata 1.2).
            ("zope.interface (>=5.0)", Some("zope-interface")),
            // Garbage.
            ("not a requirement !!", None),
            // Empty.
            ("", None),
            // Unbalanced marker.
            ("x; python_version < ", None),
            // Bad version in specifier.
            ("x>=1.0.0.0.0a.b", None),
            // Trailing punctuation in a name before a specifier: pep508_rs 0.9.2 would
            // panic on these, the pre-check turns them into errors.
            ("foo- >=1", None),
            ("alembic-1.;extra=='x'", None),
            // … and in an extra, with and without the closing bracket.
            ("foo[bar-]", None),
            ("foo[a, b_ ]", None),
            ("foo[a- ", None),
            // Non-ASCII after a marker: pep508_rs 0.9.2 would panic (char/byte mix-up).
            ("colorama; platform_system == \"Windows\"\u{fffd}", None),
            ("x; python_version > '3' andé", None),
            // Non-ASCII in a name.
            ("café>=1", None),
            // Inner punctuation is fine.
            ("zope.interface[test-extra]>=5", Some("zope-interface")),
        ];
        for (input, name) in cases {
            match (parse_requirement(input), name) {
                (Ok(r), Some(name)) => assert_eq!(r.name.as_ref(), *name, "{input:?}"),
                (Err(e), None) => {
                    assert!(e.to_string().starts_with("invalid requirement `"), "{e}")
                }
                (other, _) => panic!("{input:?}: unexpected {other:?}"),
            }
        }
        let url = req("pkg @ https://example.org/${HOME}/pkg.whl");
        assert!(
            matches!(&url.version_or_url, Some(VersionOrUrl::Url(u)) if u.0 == "https://example.org/${HOME}/pkg.whl")
        );
    }

    // See: issue 14
    // Proves: markers pep508_rs cannot parse in bounded stack or time are
    // refused before it sees them: 1,000 nested parentheses (a stack
    // overflow), an or of 20 ands over distinct extras (seconds to minutes,
    // gigabytes), an over-long string; real long markers and one at the
    // comparison bound still parse, and quickly.
    #[test]
    fn r14_markers_are_bounded() {
        // 1,000 deep fits the length bound; the 4,000 of the issue do not.
        let deep = format!(
            "x; {}python_version > '3'{}",
            "(".repeat(1000),
            ")".repeat(1000)
        );
        let terms = |n: usize| -> String {
            (0..n)
                .map(|i| format!("(extra == 'a{i}' and extra == 'b{i}')"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let bomb = format!("x; {}", terms(20));
        let long = format!("x @ https://example.com/{}", "a".repeat(3000));
        let start = std::time::Instant::now();
        for (what, input, why) in [
            ("nesting", &deep, "Marker nests parentheses deeper than 16"),
            ("or of ands", &bomb, "Marker has more than 24 comparisons"),
            (
                "length",
                &long,
                "Requirement is 3024 bytes, longer than the 2048 imgaudit parses",
            ),
        ] {
            let e = parse_requirement(input).unwrap_err();
            assert!(
                e.source.to_string().starts_with(why),
                "{what}: {}",
                e.source
            );
        }
        // greenlet's marker as SQLAlchemy 2.0 declares it (~230 bytes).
        let real = "greenlet!=0.4.17; python_version < \"3.13\" and (platform_machine == \"aarch64\" or (platform_machine == \"ppc64le\" or (platform_machine == \"x86_64\" or (platform_machine == \"amd64\" or (platform_machine == \"AMD64\" or (platform_machine == \"win32\" or platform_machine == \"WIN32\"))))))";
        let env = MarkerEnv::new("3.11", "amd64").unwrap();
        assert!(requirement_applies(&req(real), &env));
        // At the bound: 12 terms, 24 comparisons.
        let at_bound = req(&format!("x; {}", terms(12)));
        assert!(!requirement_applies(&at_bound, &env));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    // See: issue 10 (imgaudit parses a marker's `and`/`or` itself).
    #[test]
    fn r10_markers_parse_and_evaluate_as_pep508_rs_does() {
        let envs = [
            MarkerEnv::new("3.11", "amd64").unwrap(),
            MarkerEnv::new("3.8.10", "arm64").unwrap(),
            MarkerEnv::new("2.7", "amd64").unwrap(),
            MarkerEnv::new("3.13.0rc1", "386").unwrap(),
        ];
        let inputs = [
            "x",
            "x; python_version < \"3.11\"",
            "x ; (os_name == \"posix\" or sys_platform == \"win32\") and python_version >= \"3.8\"",
            "x;extra==\"a\"",
            "x; extra == 'a' or extra != 'b'",
            "x; \"linux\" in sys_platform",
            "x; sys_platform not in \"win32 cygwin\"",
            "x; sys_platform not  in 'win32'",
            "x; python_version in \"3.10 3.11\"",
            "x; python_full_version >= '3.11.4' or implementation_name == 'pypy'",
            // Comparisons pep508_rs ignores, alone and among others.
            "x; os_name ~= \"posix\"",
            "x; os_name ~= 'a' and python_version < '3'",
            "x; (os_name ~= 'a') or python_version < '3'",
            // URLs: a `;` in one, one that starts with `;`, a `;` right after one.
            "x @ https://h/p;q=1 ; python_version < \"3\"",
            "x @ ;y",
            "x @ ;y ; os_name == 'nt'",
            "x @ https://h/p; python_version < \"3\"",
            "x[a,b] >= 1 ; extra == 'a' or os_name == 'posix'",
            "x (>=1.0) ; python_version >= '3'",
            "x>=1;python_version>'3'",
            // Errors, each in both.
            "x; (python_version < \"3\"",
            "x; python_version < \"3\")",
            "x;",
            "x; python_version",
            "x; python_version <",
            "x; python_version < '3' and",
            "x; python_version < '3' or or os_name == 'nt'",
            "x; python_version<\"3\"and os_name==\"posix\"",
            "x; python_version < '3' and(os_name == 'nt')",
            "x; os_name == 'nt' xor os_name == 'posix'",
            "x; os_name == \"nt",
            "x; nope == 'a'",
            "x; os_name = 'nt'",
            "x; 'a' not",
            "x; () ",
        ];
        for input in inputs {
            let ours = parse_requirement(input);
            let theirs = parse_requirement_whole(input);
            match (&ours, &theirs) {
                (Ok(ours), Ok(theirs)) => {
                    assert_eq!(ours.name, theirs.name, "{input}");
                    assert_eq!(ours.extras, theirs.extras, "{input}");
                    assert_eq!(ours.version_or_url, theirs.version_or_url, "{input}");
                    for env in &envs {
                        assert_eq!(
                            ours.marker
                                .as_ref()
                                .is_none_or(|m| m.evaluate(env.environment())),
                            theirs.evaluate_markers(env.environment(), &[]),
                            "{input} in {env:?}"
                        );
                    }
                }
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "{input}: imgaudit {}, pep508_rs {}",
                    ours.is_ok(),
                    theirs.is_ok()
                ),
            }
        }
        // The shape that is exponential in pep508_rs, within the bounds, and
        // a true last term: parsed, and applies.
        let terms: Vec<String> = (0..11)
            .map(|i| format!("(extra == 'a{i}' and extra == 'b{i}')"))
            .collect();
        let r = req(&format!(
            "x; {} or python_version >= '3'",
            terms.join(" or ")
        ));
        assert!(requirement_applies(&r, &envs[0]));
    }
}
