//! Command-line interface: clap arguments → validated settings → the
//! library → an exit code. Data goes to stdout, messages to stderr.
//!
//! This module owns the argument definitions (one source for `--help`, the
//! shell completions and the man page), the `IMGAUDIT_*` environment
//! equivalents, the `CI` convention, and how every failure becomes exactly
//! one `error: …` line. It does not read images or decide findings: the
//! submodules interpret what the user typed ([`input`]: image references,
//! platforms, friendlier input errors), draw the progress bar
//! ([`progress`]) and print the rule catalogue ([`rules`]).
//!
//! Exit codes (documented in README): 0 clean (or only findings below the
//! gate), 1 findings at or above `fail-on` or a budget exceeded, 2 the image,
//! the config or the command line is wrong. The audit's exit code follows the
//! findings even when stdout closes early (`| head`, `| true`): a gate must
//! not pass because its reader went away. `files` and `size` have no
//! findings, so a closed stdout is 0 for them.

mod gate;
mod input;
mod progress;
pub mod registry;
mod rules;
mod scan;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::extract::ExtractorSet;
use crate::image::{self, Image};
use crate::report::{self, text::TextOptions, AuditReport, Format, OutputTarget};
use crate::source::Platform;
use crate::tree::{Kind, Node, ROOT};

/// `imgaudit --version`: the crate version, the commit and the build date
/// (from `build.rs`; `commit unknown` when built outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("IMGAUDIT_VERSION_DETAIL"),
    ")"
);

/// Audit a built container image: rebuild its filesystem from the layers and
/// prove its Python environments still work.
#[derive(Parser, Debug)]
#[command(
    name = "imgaudit",
    version = VERSION,
    after_help = "`imgaudit IMAGE [OPTIONS]` is short for `imgaudit audit IMAGE [OPTIONS]`.\n\
                  Exit status: 0 clean, 1 findings at or above `fail-on` (or a budget exceeded), 2 the image, config or command line is wrong.\n\
                  With `CI` set (as every CI service does) there is no colour and no progress bar."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommand names; anything else in first position means `audit`.
const SUBCOMMANDS: &[&str] = &[
    "audit",
    "files",
    "size",
    "scan",
    "init",
    "rules",
    "explain",
    "completions",
    "man",
    "help",
];

/// Rewrite the arguments before clap sees them:
///
/// - `imgaudit IMAGE …` → `imgaudit audit IMAGE …`;
/// - `imgaudit help [COMMAND] --help` → `imgaudit help [COMMAND]` (clap's
///   `help` subcommand takes no flags, so `help --help` used to fail);
/// - a first word that is no command and no file, but looks like a mistyped
///   command (`sise`, `version`), is an error naming the command it is
///   close to, instead of an "image not found" about a file nobody meant.
fn preprocess(mut args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let first = args.get(1).and_then(|a| a.to_str()).map(String::from);
    match first.as_deref() {
        None => Err(
            "no image given: run `imgaudit IMAGE` (a `docker save` tarball, an OCI layout or archive, or `-` for stdin); `imgaudit --help` lists every command".into(),
        ),
        Some("help") => {
            args.retain(|a| a != "--help" && a != "-h");
            Ok(args)
        }
        Some(a) if SUBCOMMANDS.contains(&a) => Ok(args),
        Some("-h" | "--help" | "-V" | "--version") => Ok(args),
        Some(a) => {
            if let Some(hint) = input::mistyped_command(a, SUBCOMMANDS) {
                return Err(hint);
            }
            args.insert(1, "audit".into());
            Ok(args)
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Audit the Python environments of an image (the default command).
    Audit(AuditArgs),
    /// Print the merged filesystem of an image, one line per entry.
    Files(FilesArgs),
    /// Where the bytes go: layers, waste counted right, slimming advice.
    Size(SizeArgs),
    /// Scan a registry: plan, shards across machines, merge (docs/nightly.md).
    Scan(scan::ScanArgs),
    /// Write a commented starter `imgaudit.toml` in the current directory.
    Init(InitArgs),
    /// List every rule with its default severity and what it means.
    Rules,
    /// Explain a rule: why it breaks at run time and how to fix it (docs/rules.md).
    Explain(ExplainArgs),
    /// Print a shell completion script, e.g. `imgaudit completions bash > /etc/bash_completion.d/imgaudit`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `imgaudit man > imgaudit.1`.
    Man,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    /// The rule id, e.g. `entry-point-without-metadata`.
    #[arg(value_name = "RULE")]
    rule: String,
}

#[derive(Args, Debug)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `--color` and `--no-color`, shared by the commands that colour.
#[derive(Args, Debug, Clone, Copy)]
struct ColorArgs {
    /// Colours: auto (a terminal, unless `NO_COLOR` or `CI` is set), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto, env = "IMGAUDIT_COLOR")]
    color: When,
    /// The same as `--color never`.
    #[arg(long, conflicts_with = "color")]
    no_color: bool,
}

impl ColorArgs {
    fn stdout(self) -> bool {
        if self.no_color {
            return false;
        }
        match self.color {
            When::Always => true,
            When::Never => false,
            // CI turns off the terminal default only: an explicit
            // `CLICOLOR_FORCE` still wins, as it does over a pipe.
            When::Auto => report::text::use_color(io::stdout().is_terminal() && !in_ci()),
        }
    }
}

#[derive(Args, Debug)]
struct SizeArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = SizeFormat::Text)]
    format: SizeFormat,
    #[command(flatten)]
    color: ColorArgs,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
enum SizeFormat {
    /// For people.
    Text,
    /// The versioned size report.
    Json,
}

/// Options of the audit.
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    image: ImageArgs,
    #[command(flatten)]
    gate: gate::GateArgs,
    /// Format written to stdout: text (default), json, sarif, junit.
    #[arg(long, short = 'f', value_name = "FORMAT", env = "IMGAUDIT_FORMAT")]
    format: Option<Format>,
    /// Also write FORMAT to FILE (repeatable), e.g. `-o sarif=imgaudit.sarif`; `FILE` `-` is stdout.
    #[arg(long = "output", short = 'o', value_name = "FORMAT=FILE")]
    outputs: Vec<OutputTarget>,
    /// Text: only the findings that fail the gate, and the summary line.
    #[arg(long, short)]
    quiet: bool,
    /// Text: also show suppressed findings with their reason.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    color: ColorArgs,
}

#[derive(Args, Debug)]
struct InitArgs {
    /// Overwrite an existing `imgaudit.toml`.
    #[arg(long)]
    force: bool,
}

/// How to find and open the image.
#[derive(Args, Debug, Clone)]
pub struct ImageArgs {
    /// The image: a `docker save` tarball, an OCI layout directory or
    /// archive, `-` for stdin, or `registry:HOST[:PORT]/REPO[:TAG|@DIGEST]`
    /// (also `docker://…`, or a bare `HOST/REPO:TAG` when no such path exists). `PATH:TAG` picks an image by tag,
    /// `PATH@sha256:…` by manifest digest (image ID in a `docker save`); the
    /// skopeo prefixes `docker-archive:`, `oci-archive:` and `oci:` are accepted.
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Pick the image with this tag (or OCI ref name, in any spelling: `x`,
    /// `docker.io/library/x:latest`), or by digest (`sha256:…`: an OCI
    /// manifest, a `docker save` image ID), when the input holds several.
    #[arg(long = "image", value_name = "TAG|DIGEST")]
    tag: Option<String>,
    /// Platform to pick from a multi-platform index: `os/arch[/variant]` (`linux/x86_64` = `linux/amd64`).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = input::parse_platform, env = "IMGAUDIT_PLATFORM")]
    platform: Option<Platform>,
    /// Skip hashing the layers: neither a layer blob's digest (the manifest's)
    /// nor its uncompressed diff_id (the config's) is checked, which saves a
    /// sha256 pass over every layer's bytes. Index, manifest and config
    /// blobs are still checked against their digests (they are small), and
    /// names and bounds are still enforced.
    #[arg(long)]
    no_verify: bool,
    /// Progress bar on stderr: auto (a terminal, unless `CI` is set), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto, env = "IMGAUDIT_PROGRESS")]
    progress: When,
    /// Cache layer facts and verified digests in DIR (default:
    /// `$IMGAUDIT_CACHE_DIR`, else `$XDG_CACHE_HOME/imgaudit`, else
    /// `~/.cache/imgaudit`). A local layer is served from the cache only
    /// while its file's stat data match the record of its verified digest.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<std::path::PathBuf>,
    /// Neither read nor write the fact cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    registry: registry::RegistryArgs,
}

#[derive(Args, Debug)]
struct FilesArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Only this directory (or file) inside the image; a symlink is shown
    /// itself, as `ls -l` does (end it with `/` to list the directory it
    /// points to).
    #[arg(value_name = "PATH")]
    path: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = FilesFormat::Text)]
    format: FilesFormat,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
enum FilesFormat {
    /// `ls -l` style, for people.
    Text,
    /// One JSON object per line.
    Jsonl,
}

/// When to do something that depends on the terminal.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum When {
    /// Decide from the terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// True when running under CI: `CI` set to anything but empty, `0` or
/// `false` (GitHub Actions, GitLab CI, CircleCI, Travis, Buildkite and
/// Jenkins' plugins all set `CI=true`). `auto` colour and progress are then
/// off: logs are files, and escape codes only clutter them.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| {
        let v = v.to_string_lossy().to_ascii_lowercase();
        !v.is_empty() && v != "0" && v != "false"
    })
}

impl ImageArgs {
    /// The fact cache to use, if any. A cache directory that cannot be
    /// created is a warning, never a failed audit.
    fn cache(&self) -> Option<crate::cache::FactCache> {
        if self.no_cache {
            return None;
        }
        let dir = self
            .cache
            .clone()
            .or_else(crate::cache::FactCache::default_dir)?;
        match crate::cache::FactCache::open(&dir) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("warning: {e}; continuing without a cache");
                None
            }
        }
    }

    /// Open the image, verified, with a progress bar on stderr when it
    /// helps; `extractors` say what the command's analyzers need from file
    /// bytes. Verified layers' facts are stored in the cache.
    pub fn open(&self, extractors: ExtractorSet) -> anyhow::Result<Image> {
        let (image, pending, bar) = self.open_deferred(extractors)?;
        let verified = pending.wait().map_err(|e| input::explain(e, &self.image));
        drop(bar);
        verified?;
        save_facts(&image);
        Ok(image)
    }

    /// Open the image; plain layers' whole-blob digests are still being
    /// computed until the returned [`image::PendingVerification`] is waited
    /// on (then call [`save_facts`]). The progress bar, if any, keeps ticking
    /// (as "verifying") until the returned [`progress::Bar`] is dropped:
    /// hashing a large plain layer takes seconds after its headers were
    /// indexed.
    fn open_deferred(
        &self,
        extractors: ExtractorSet,
    ) -> anyhow::Result<(Image, image::PendingVerification, Option<progress::Bar>)> {
        let mut req = input::request(
            &self.image,
            self.tag.as_deref(),
            self.platform.clone(),
            !self.no_verify,
        )?;
        if let Some(reference) = crate::registry::reference::strip_scheme(&req.input) {
            req.registry = Some(self.registry.client()?);
            // One line on what is read: a registry run is never silently
            // something else (no daemon, no local fallback).
            eprintln!("reading registry {reference}, {}", req.platform);
        }
        let opts = image::OpenOptions {
            extractors: std::sync::Arc::new(extractors),
            cache: self.cache(),
            ..Default::default()
        };
        let bar = progress::Bar::start(self.progress, &req.input);
        let result =
            image::open_deferred_with(&req, &opts, bar.as_ref().map(|b| b as &dyn image::Progress));
        let (image, pending) = result.map_err(|e| input::explain(e, &req.input))?;
        if let Some(bar) = &bar {
            bar.verifying();
        }
        Ok((self.check_platform(image)?, pending, bar))
    }

    /// A single-platform image that is not the `--platform` asked for is an
    /// error, as with `docker run --platform`: auditing another
    /// architecture's image silently would answer the wrong question.
    fn check_platform(&self, image: Image) -> anyhow::Result<Image> {
        let Some(want) = &self.platform else {
            return Ok(image);
        };
        let cfg = &image.resolved.config;
        let (Some(os), Some(arch)) = (cfg.os.as_deref(), cfg.architecture.as_deref()) else {
            return Ok(image);
        };
        let variant_ok = want
            .variant
            .as_deref()
            .is_none_or(|v| cfg.variant.as_deref().is_none_or(|have| have == v));
        if os == want.os && arch == want.arch && variant_ok {
            return Ok(image);
        }
        anyhow::bail!(
            "{}: the image is {os}/{arch}, not the requested `{want}`",
            input::display_name(&image.input)
        )
    }
}

/// Run the CLI; returns the process exit code.
pub fn run() -> ExitCode {
    let args = match preprocess(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version: to stdout, exit 0.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", clap_one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Files(args) => files(&args),
        Command::Audit(args) => audit(&args),
        Command::Size(args) => size(&args),
        Command::Scan(args) => scan::scan(&args),
        Command::Init(args) => init(&args),
        Command::Rules => print_stdout(&rules::list()),
        Command::Explain(args) => rules::explain(&args.rule).and_then(|text| print_stdout(&text)),
        Command::Completions(args) => {
            let mut buf = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "imgaudit", &mut buf);
            print_stdout(&String::from_utf8_lossy(&buf))
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut buf)
                .map_err(anyhow::Error::from)
                .and_then(|()| print_stdout(&String::from_utf8_lossy(&buf)))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "error: {}",
                crate::escape::for_terminal(&one_line(&e), crate::escape::MAX_LINE)
            );
            ExitCode::from(2)
        }
    }
}

/// A clap error on one line: its message (a list such as the missing
/// arguments joined onto it) and any `tip:`, without the usage block.
fn clap_one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut paragraphs = rendered.split("\n\n");
    let mut line = paragraphs
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(rest) = line.strip_prefix("error: ") {
        line = rest.to_string();
    }
    for tip in rendered
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tip:"))
    {
        line.push_str("; ");
        line.push_str(tip);
    }
    line.push_str(" (`--help` lists the options)");
    line
}

/// The error and its causes on one line, each cause once: our error types
/// already embed their source's text, so `{:#}` would repeat it. The caller
/// escapes the line ([`crate::escape`]): a newline in a cause, or in an
/// entry name it quotes, shows as `\n` and cannot start a second line.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn print_stdout(text: &str) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn files(args: &FilesArgs) -> anyhow::Result<ExitCode> {
    let image = args.image.open(ExtractorSet::none())?;
    let tree = &image.tree;
    // `ls -l LINK` shows the link; `ls -l LINK/` what it points to.
    let start = match args.path.as_deref() {
        None | Some("/") => ROOT,
        Some(p) => {
            let found = if p.ends_with('/') {
                tree.stat(p)
            } else {
                tree.lstat(p)
            };
            found
                .map_err(|e| anyhow::anyhow!("{}: {e}", input::display_name(&image.input)))?
                .id
        }
    };
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout);
    let mut result = Ok(());
    let mut emit = |path: &str, node: &Node| -> io::Result<()> {
        match args.format {
            FilesFormat::Text => writeln!(out, "{}", ls_line(path, node)),
            FilesFormat::Jsonl => {
                let mut obj = serde_json::json!({
                    "path": path,
                    "type": node.kind.as_str(),
                    "mode": format!("{:04o}", node.mode),
                    "uid": node.uid,
                    "gid": node.gid,
                    "size": node.size,
                    "layer": node.layer,
                });
                if let Some(t) = &node.link {
                    obj["target"] = serde_json::Value::from(&**t);
                }
                writeln!(out, "{obj}")
            }
        }
    };
    if start != ROOT && !tree.node(start).is_dir() {
        let path = tree.path_of(start);
        result = emit(&path, tree.node(start));
    } else {
        tree.walk(start, |path, _, node| {
            if result.is_ok() {
                result = emit(path, node);
            }
        });
    }
    result?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `drwxr-xr-x 0/0 4096 L0 /path -> target`, the path and target escaped
/// for a terminal (a name is input: it may hold ESC, CR or a newline).
pub fn ls_line(path: &str, node: &Node) -> String {
    let t = match node.kind {
        Kind::File => '-',
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Char => 'c',
        Kind::Block => 'b',
        Kind::Fifo => 'p',
    };
    let mut s = format!(
        "{t}{} {:>5}/{:<5} {:>10} L{:<2} {path}",
        mode_string(node.mode),
        node.uid,
        node.gid,
        node.size,
        node.layer,
        path = crate::escape::escape(path)
    );
    if let Some(l) = &node.link {
        s.push_str(" -> ");
        s.push_str(&crate::escape::escape(l));
    }
    s
}

fn mode_string(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for (shift, special, lower, upper) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        s.push(match (mode & special != 0, x) {
            (true, true) => lower,
            (true, false) => upper,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

fn load_config(explicit: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir()
            .ok()
            .and_then(|cwd| Config::default_path_lookup(&cwd)),
    };
    match path {
        Some(p) => Ok(Config::load(&p)?),
        None => Ok(Config::default()),
    }
}

/// Store the verified layers' facts in the cache; trouble is a warning.
pub fn save_facts(image: &Image) {
    if let Err(e) = image.save_facts() {
        eprintln!("warning: {e}");
    }
}

/// `--rule` and `--ignore` from `IMGAUDIT_RULE` / `IMGAUDIT_IGNORE` when the
/// flags are absent: whitespace-separated lists (one value per flag would
/// not fit a variable, and no rule id, level or sensible glob has spaces).
fn env_list<T>(name: &str, parse: fn(&str) -> Result<T, String>) -> anyhow::Result<Vec<T>> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(Vec::new());
    };
    value
        .to_string_lossy()
        .split_whitespace()
        .map(|item| parse(item).map_err(|e| anyhow::anyhow!("`{name}`: {e}")))
        .collect()
}

impl AuditArgs {
    /// What goes to stdout: `-o FORMAT=-`, else `--format`, else text; and
    /// the `--output` targets that are files.
    fn outputs(&self) -> anyhow::Result<(Format, Vec<&OutputTarget>)> {
        let (to_stdout, files): (Vec<&OutputTarget>, Vec<&OutputTarget>) =
            self.outputs.iter().partition(|t| t.path.as_os_str() == "-");
        let format = match (to_stdout.as_slice(), self.format) {
            ([], format) => format.unwrap_or_default(),
            ([one], None) => one.format,
            ([one], Some(format)) if format == one.format => format,
            ([one], Some(format)) => anyhow::bail!(
                "`--format {format}` and `--output {}=-` both write to stdout: keep one",
                one.format
            ),
            ([..], _) => {
                anyhow::bail!("more than one `--output FORMAT=-`: only one format can go to stdout")
            }
        };
        Ok((format, files))
    }
}

fn audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let config = args.gate.config()?;
    let (stdout_format, files) = args.outputs()?;
    // Checks run while plain layers are still being hashed; the hashes are
    // waited on before anything is reported.
    let (image, pending, bar) = args
        .image
        .open_deferred(crate::python::extractors::extractors())?;
    let crate::Audit {
        report,
        unmatched,
        failed,
    } = crate::audit(&image, &config);
    let verified = pending
        .wait()
        .map_err(|e| input::explain(e, &args.image.image));
    drop(bar);
    verified?;
    save_facts(&image);
    for unmatched in unmatched {
        eprintln!(
            "warning: {}",
            crate::escape::for_terminal(&unmatched.to_string(), crate::escape::MAX_LINE)
        );
    }
    let nothing_audited = report.environments.is_empty();
    let code = if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if nothing_audited && stdout_format != Format::Text {
        // The text summary says so itself; other formats only count zero.
        eprintln!("warning: no Python environment found in the image: nothing audited");
    }
    for target in files {
        write_to_file(&report, target)?;
    }
    let text = TextOptions {
        color: args.color.stdout(),
        verbose: args.verbose,
        quiet: args.quiet,
        gate: config.fail_on.threshold(),
    };
    let mut out = io::stdout().lock();
    let written =
        report::write_report(&mut out, &report, stdout_format, &text).and_then(|()| out.flush());
    match written {
        // The reader went away (`| head`, `| true`): the gate still stands.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(code),
    }
}

fn write_to_file(report: &AuditReport, target: &OutputTarget) -> anyhow::Result<()> {
    let text = TextOptions::default();
    let body = report::render(report, target.format, &text);
    std::fs::write(&target.path, body)
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", target.path.display()))
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let path = std::path::Path::new(crate::config::FILE_NAME);
    if path.exists() && !args.force {
        anyhow::bail!("`imgaudit.toml` already exists (use `--force` to overwrite)");
    }
    std::fs::write(path, crate::config::STARTER)?;
    eprintln!("wrote imgaudit.toml");
    Ok(ExitCode::SUCCESS)
}

fn size(args: &SizeArgs) -> anyhow::Result<ExitCode> {
    let image = args.image.open(ExtractorSet::none())?;
    let report = crate::size::analyze(&image);
    let body = match args.format {
        SizeFormat::Text => crate::size::render_text(&report, args.color.stdout()),
        SizeFormat::Json => crate::size::render_json(&report),
    };
    print_stdout(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(args: &[&str]) -> Result<Vec<String>, String> {
        let mut all = vec!["imgaudit"];
        all.extend_from_slice(args);
        preprocess(all.into_iter().map(OsString::from).collect()).map(|v| {
            v.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn arguments_before_clap() {
        // An image path gets the implicit `audit`.
        assert_eq!(pre(&["app.tar"]).unwrap(), ["imgaudit", "audit", "app.tar"]);
        // Flags first still mean the audit.
        assert_eq!(
            pre(&["-f", "json", "app.tar"]).unwrap(),
            ["imgaudit", "audit", "-f", "json", "app.tar"]
        );
        // `help --help` is `help`.
        assert_eq!(pre(&["help", "--help"]).unwrap(), ["imgaudit", "help"]);
        assert_eq!(
            pre(&["help", "size", "-h"]).unwrap(),
            ["imgaudit", "help", "size"]
        );
        // Typos of commands are not taken for images.
        let sise = pre(&["sise", "app.tar"]).unwrap_err();
        assert!(sise.contains("`size`"), "{sise}");
        let version = pre(&["version"]).unwrap_err();
        assert!(version.contains("--version"), "{version}");
        // No argument at all: one line, not the whole help.
        assert!(pre(&[]).unwrap_err().starts_with("no image given"));
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
