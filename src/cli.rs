//! Command-line interface: clap arguments → validated settings → the
//! library → an exit code. Data goes to stdout, messages to stderr.
//!
//! Exit codes (documented in README): 0 clean (or only findings below the
//! gate), 1 findings at or above `fail-on` or a budget exceeded, 2 the image
//! or the config could not be read. A closed stdout (`| head`) is 0.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::extract::ExtractorSet;
use crate::image::{self, Image};
use crate::report::{self, text::TextOptions, AuditReport, Format, OutputTarget};
use crate::source::{OpenRequest, Platform};
use crate::tree::{Kind, Node, ROOT};

/// Audit a built container image: rebuild its filesystem from the layers and
/// prove its Python environments still work.
#[derive(Parser, Debug)]
#[command(
    name = "imgaudit",
    version,
    after_help = "`imgaudit IMAGE [OPTIONS]` is short for `imgaudit audit IMAGE [OPTIONS]`.\n\
                  Exit status: 0 clean, 1 findings at or above `fail-on` (or a budget exceeded), 2 the image or config could not be read."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommand names; anything else in first position means `audit`.
const SUBCOMMANDS: &[&str] = &["audit", "files", "size", "init", "help"];

/// `imgaudit IMAGE …` → `imgaudit audit IMAGE …`.
fn default_to_audit(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let first = args.get(1).and_then(|a| a.to_str()).map(String::from);
    match first.as_deref() {
        Some(a) if SUBCOMMANDS.contains(&a) => {}
        Some("-h" | "--help" | "-V" | "--version") | None => {}
        Some(_) => args.insert(1, "audit".into()),
    }
    args
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Audit the Python environments of an image (the default command).
    Audit(AuditArgs),
    /// Print the merged filesystem of an image, one line per entry.
    Files(FilesArgs),
    /// Where the bytes go: layers, waste counted right, slimming advice.
    Size(SizeArgs),
    /// Write a commented starter `imgaudit.toml` in the current directory.
    Init(InitArgs),
}

#[derive(Args, Debug)]
struct SizeArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SizeFormat::Text)]
    format: SizeFormat,
    /// Colours in text output: auto (terminal, `NO_COLOR` respected), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    color: When,
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
    /// Config file (default: `imgaudit.toml` in the current directory, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Format written to stdout: text, json, sarif, junit.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: Format,
    /// Also write FORMAT to FILE (repeatable), e.g. `--output sarif=imgaudit.sarif`.
    #[arg(long = "output", short = 'o', value_name = "FORMAT=FILE")]
    outputs: Vec<OutputTarget>,
    /// Text: only errors and the summary line.
    #[arg(long, short)]
    quiet: bool,
    /// Text: also show suppressed findings with their reason.
    #[arg(long, short)]
    verbose: bool,
    /// Colours in text output: auto (terminal, `NO_COLOR` respected), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    color: When,
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
    /// archive, or `-` for stdin. `PATH:TAG` picks an image by tag.
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Pick the image with this tag (or OCI ref name) when the input holds several.
    #[arg(long = "image", value_name = "TAG")]
    tag: Option<String>,
    /// Platform to pick from a multi-platform index: `os/arch[/variant]`.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// Skip digest verification (faster on large uncompressed images).
    #[arg(long)]
    no_verify: bool,
    /// Show a progress bar: auto (on a terminal, for large images), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto)]
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
}

#[derive(Args, Debug)]
struct FilesArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Only this directory (or file) inside the image.
    #[arg(value_name = "PATH")]
    path: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FilesFormat::Text)]
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

/// Progress bars are shown for images at least this large.
const PROGRESS_MIN_BYTES: u64 = 256 << 20;

impl ImageArgs {
    fn request(&self) -> OpenRequest {
        OpenRequest {
            input: self.image.clone(),
            tag: self.tag.clone(),
            platform: self.platform.clone().unwrap_or_else(Platform::host),
            verify: !self.no_verify,
        }
    }

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
    pub fn open(&self, extractors: ExtractorSet) -> Result<Image, image::ImageError> {
        let (image, pending) = self.open_deferred(extractors)?;
        pending.wait()?;
        save_facts(&image);
        Ok(image)
    }

    /// Open the image; plain layers' whole-blob digests are still being
    /// computed until the returned [`image::PendingVerification`] is waited on
    /// (then call [`save_facts`]).
    pub fn open_deferred(
        &self,
        extractors: ExtractorSet,
    ) -> Result<(Image, image::PendingVerification), image::ImageError> {
        let req = self.request();
        let opts = image::OpenOptions {
            extractors: std::sync::Arc::new(extractors),
            cache: self.cache(),
            ..Default::default()
        };
        let size_hint = std::fs::metadata(crate::source::split_reference(&req.input).0)
            .map(|m| m.len())
            .unwrap_or(0);
        let show = match self.progress {
            When::Always => true,
            When::Never => false,
            When::Auto => io::stderr().is_terminal() && size_hint >= PROGRESS_MIN_BYTES,
        };
        let result = if show {
            let bar = indicatif::ProgressBar::new(size_hint);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} reading layers {bytes}/{total_bytes} [{elapsed}]",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let tick = |n: u64| bar.inc(n);
            let result = image::open_deferred_with(&req, &opts, Some(&tick));
            bar.finish_and_clear();
            result
        } else {
            image::open_deferred_with(&req, &opts, None)
        };
        let (image, pending) = result?;
        Ok((self.check_platform(image)?, pending))
    }

    /// A single-platform image that is not the `--platform` asked for is an
    /// error, as with `docker run --platform`: auditing another
    /// architecture's image silently would answer the wrong question.
    fn check_platform(&self, image: Image) -> Result<Image, image::ImageError> {
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
        Err(image::ImageError::Source(
            crate::source::SourceError::Select {
                input: image.input.clone(),
                why: format!("the image is {os}/{arch}, not the requested `{want}`"),
            },
        ))
    }
}

/// Run the CLI; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse_from(default_to_audit(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Files(args) => files(&args),
        Command::Audit(args) => audit(&args),
        Command::Size(args) => size(&args),
        Command::Init(args) => init(&args),
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

fn files(args: &FilesArgs) -> anyhow::Result<ExitCode> {
    let image = args.image.open(ExtractorSet::none())?;
    let tree = &image.tree;
    let start = match args.path.as_deref() {
        None | Some("/") => ROOT,
        Some(p) => {
            tree.stat(p)
                .map_err(|e| anyhow::anyhow!("{}: {e}", image.input))?
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

fn audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    // Checks run while plain layers are still being hashed; the hashes are
    // waited on before anything is reported.
    let (image, pending) = args
        .image
        .open_deferred(crate::python::extractors::extractors())?;
    let crate::Audit {
        report,
        unmatched,
        failed,
    } = crate::audit(&image, &config);
    pending.wait()?;
    save_facts(&image);
    for unmatched in unmatched {
        eprintln!(
            "warning: {}",
            crate::escape::for_terminal(&unmatched.to_string(), crate::escape::MAX_LINE)
        );
    }
    let color = stdout_color(args.color);
    for target in &args.outputs {
        write_to_file(&report, target)?;
    }
    let text = TextOptions {
        color,
        verbose: args.verbose,
        quiet: args.quiet,
    };
    let mut out = io::stdout().lock();
    report::write_report(&mut out, &report, args.format, &text)?;
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_to_file(report: &AuditReport, target: &OutputTarget) -> anyhow::Result<()> {
    let text = TextOptions::default();
    let body = report::render(report, target.format, &text);
    std::fs::write(&target.path, body)
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", target.path.display()))
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let path = std::path::Path::new("imgaudit.toml");
    if path.exists() && !args.force {
        anyhow::bail!("`imgaudit.toml` already exists (use `--force` to overwrite)");
    }
    std::fs::write(path, crate::config::STARTER)?;
    eprintln!("wrote imgaudit.toml");
    Ok(ExitCode::SUCCESS)
}

fn stdout_color(when: When) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => report::text::use_color(io::stdout().is_terminal()),
    }
}

fn size(args: &SizeArgs) -> anyhow::Result<ExitCode> {
    let image = args.image.open(ExtractorSet::none())?;
    let report = crate::size::analyze(&image);
    let body = match args.format {
        SizeFormat::Text => crate::size::render_text(&report, stdout_color(args.color)),
        SizeFormat::Json => crate::size::render_json(&report),
    };
    let mut out = io::stdout().lock();
    out.write_all(body.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
