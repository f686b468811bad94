//! Command-line interface: clap arguments → validated settings → the
//! library → an exit code. Data goes to stdout, messages to stderr.
//!
//! Exit codes (documented in README): 0 clean (or only findings below the
//! gate), 1 findings at or above `fail-on` or a budget exceeded, 2 the image
//! or the config could not be read. A closed stdout (`| head`) is 0.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::image::{self, Image};
use crate::source::{OpenRequest, Platform};
use crate::tree::{Kind, Node, ROOT};

/// Audit a built container image: rebuild its filesystem from the layers and
/// prove its Python environments still work.
#[derive(Parser, Debug)]
#[command(name = "imgaudit", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    audit: Option<ImageArgs>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the merged filesystem of an image, one line per entry.
    Files(FilesArgs),
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

    /// Open the image, with a progress bar on stderr when it helps.
    pub fn open(&self) -> Result<Image, image::ImageError> {
        let req = self.request();
        let size_hint = std::fs::metadata(crate::source::split_reference(&req.input).0)
            .map(|m| m.len())
            .unwrap_or(0);
        let show = match self.progress {
            When::Always => true,
            When::Never => false,
            When::Auto => io::stderr().is_terminal() && size_hint >= PROGRESS_MIN_BYTES,
        };
        if !show {
            return image::open(&req, None);
        }
        let bar = indicatif::ProgressBar::new(size_hint);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading layers {bytes}/{total_bytes} [{elapsed}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let tick = |n: u64| bar.inc(n);
        let result = image::open(&req, Some(&tick));
        bar.finish_and_clear();
        result
    }
}

/// Run the CLI; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match (cli.command, cli.audit) {
        (Some(Command::Files(args)), _) => files(&args),
        (None, Some(_args)) => Err(anyhow::anyhow!("the audit is not wired yet")),
        (None, None) => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn files(args: &FilesArgs) -> anyhow::Result<ExitCode> {
    let image = args.image.open()?;
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

/// `drwxr-xr-x 0/0 4096 L0 /path -> target`.
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
        node.layer
    );
    if let Some(l) = &node.link {
        s.push_str(" -> ");
        s.push_str(l);
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
