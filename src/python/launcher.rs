//! Launchers: the small scripts in an environment's `bin/` that installers generate
//! from `console_scripts` / `gui_scripts` entry points.
//!
//! Owns: reading the first bytes of a `bin/` file ([`PROBE_LEN`] at most) and
//! deciding whether it is a launcher, which interpreter it runs (shebang, `/bin/sh`
//! polyglot `exec` line, `env`), and what it runs (`from module import func` or
//! setuptools' `load_entry_point(dist, group, name)`).
//!
//! Deliberately does not: resolve the interpreter or the module in the tree, or
//! compare with `entry_points.txt`; the checks do that. It is strict about the body
//! on purpose: a file is a [`Launcher::Script`] only if *every* statement in it is
//! one of the installers' template statements, so a hand-written script that happens
//! to end in `sys.exit(main())` is not mistaken for a generated shim.
//!
//! Sources (there is no spec, only the generators, all checked against real output
//! kept in `testdata/python/launchers/`):
//! - distlib `scripts.py` `SCRIPT_TEMPLATE` and `_build_shebang`
//!   (<https://github.com/pypa/distlib/blob/0.4.0/distlib/scripts.py>): "use /bin/sh
//!   as the executable, with a contrived shebang which allows the script to run
//!   either under Python or sh" when the shebang is longer than 127 bytes or the
//!   interpreter path has a space; since 0.3.9 the import sits inside the
//!   `if __name__ == '__main__':` block.
//! - pip `src/pip/_internal/operations/install/wheel.py` `PipScriptMaker` (pip 25+
//!   overrides the template with `sys.argv[0].removesuffix('.exe')`, no `re`).
//! - uv `crates/uv-install-wheel/src/wheel.rs` (`get_script_launcher`,
//!   `format_shebang`): `endswith("-script.pyw")` argv fix-up, single-quoted `exec`
//!   paths, and `"$(dirname -- "$(realpath -- "$0")")"/'python'` for relocatable
//!   venvs.
//! - pypa/installer `src/installer/scripts.py` `_SCRIPT_TEMPLATE` (double quotes).
//! - setuptools `setuptools/command/easy_install.py` `ScriptWriter.template`:
//!   `# EASY-INSTALL-ENTRY-SCRIPT: 'dist==1.0','console_scripts','name'` with
//!   `from pkg_resources import load_entry_point` (before setuptools 47) or an
//!   `importlib.metadata` shim (after).
//! - Linux `fs/binfmt_script.c` for the shebang: the interpreter runs up to the
//!   first space or tab, and the rest of the line, trimmed, is **one** argument.

use thiserror::Error;

/// How many leading bytes of a file [`classify`] looks at. Every template is well
/// under 1 KiB; a longer file is not a generated launcher.
pub const PROBE_LEN: usize = 4096;

/// A `#!` line as the kernel reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    /// The interpreter path, up to the first space or tab. Exactly what the kernel
    /// executes: a CRLF file gives `/usr/bin/python3\r`, which does not exist, and
    /// that is the real failure of such a script.
    pub program: String,
    /// The rest of the line with surrounding spaces and tabs removed; the kernel
    /// passes it as a single argument (so `#!/usr/bin/env python3 -u` asks `env` for
    /// a program called `python3 -u`). `None` when empty.
    pub args: Option<String>,
}

/// Parses the `#!` line at the start of `bytes`; `None` if there is none or it names
/// no interpreter. Non-UTF-8 bytes are replaced (U+FFFD).
pub fn parse_shebang(bytes: &[u8]) -> Option<Shebang> {
    let rest = bytes.strip_prefix(b"#!")?;
    let line = match memchr::memchr(b'\n', rest) {
        Some(end) => &rest[..end],
        None => rest,
    };
    let line = String::from_utf8_lossy(line);
    let line = line.trim_start_matches([' ', '\t']);
    let (program, args) = match line.find([' ', '\t']) {
        Some(at) => (&line[..at], line[at..].trim_matches([' ', '\t'])),
        None => (line, ""),
    };
    if program.is_empty() {
        return None;
    }
    Some(Shebang {
        program: program.to_owned(),
        args: (!args.is_empty()).then(|| args.to_owned()),
    })
}

/// What runs a launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interpreter {
    /// `#!/path/to/python3 [args]`: the path as written (arguments dropped).
    Path(String),
    /// `#!/usr/bin/env python3` or `#!/usr/bin/env -S python3 -u`: `program` is
    /// looked up on `PATH`, and `env` itself must exist.
    Env {
        /// The `env` binary from the shebang, usually `/usr/bin/env`.
        env: String,
        /// The program `env` looks up, such as `python3`.
        program: String,
    },
    /// pip/distlib/uv's `/bin/sh` polyglot for long or spaced interpreter paths:
    /// `'''exec' "/long/path/bin/python3" "$0" "$@"`. Both the shell and the
    /// interpreter must exist (distroless images have no `/bin/sh`).
    ShExec {
        /// The shell from the shebang, usually `/bin/sh`.
        shell: String,
        /// The interpreter path on the `exec` line, unquoted.
        python: String,
    },
    /// uv's relocatable polyglot:
    /// `'''exec' "$(dirname -- "$(realpath -- "$0")")"/'python' "$0" "$@"`; runs
    /// `program` from the directory the launcher really lives in, and needs the
    /// shell plus `realpath` and `dirname` on `PATH`.
    Relocatable {
        /// The shell from the shebang, usually `/bin/sh`.
        shell: String,
        /// The interpreter's file name next to the launcher, usually `python`.
        program: String,
    },
}

/// Which generator's template a [`Launcher::Script`] matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// `from m import f` at top level and `re.sub(r'(-script\.pyw|\.exe)?$', …)`:
    /// pip up to 24, distlib before 0.3.9, pypa/installer, Debian's dh-python,
    /// conda.
    Distlib,
    /// The same with the import inside `if __name__ == '__main__':` (distlib 0.3.9+,
    /// pip 24.x, virtualenv's seeded pip).
    DistlibLazyImport,
    /// pip 25+: `sys.argv[0] = sys.argv[0].removesuffix('.exe')`, no `re`.
    PipRemovesuffix,
    /// uv: `if sys.argv[0].endswith("-script.pyw"): … elif ….endswith(".exe")`.
    Uv,
    /// Import and `sys.exit(f())` with no argv fix-up (Poetry, hand-rolled shims).
    Minimal,
}

/// How a setuptools `load_entry_point` launcher finds its entry point; both fail
/// when the named distribution's metadata is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyFlavor {
    /// `from pkg_resources import load_entry_point` (setuptools < 47): fails with
    /// `DistributionNotFound`, and also when any requirement of the distribution is
    /// missing or conflicting.
    PkgResources,
    /// The `importlib.metadata.distribution(…).entry_points` shim (setuptools 47+):
    /// fails with `PackageNotFoundError`.
    ImportlibMetadata,
}

/// Why a file is not a launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Reason {
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// An ELF binary (a real program, or a symlinked-through interpreter copy).
    #[error("the file is an ELF binary")]
    Elf,
    /// Not text: NUL bytes in the first bytes.
    #[error("the file is binary")]
    Binary,
    /// A venv/virtualenv/uv activation script (`activate`, `activate.fish`,
    /// `activate_this.py`, `activate.bat`, …); these are sourced, never run.
    #[error("the file is a venv activation script")]
    VenvActivate,
    /// Text that does not start with `#!`.
    #[error("the file has no `#!` line")]
    NoShebang,
    /// `#!` with no interpreter, or `env` with no program to run.
    #[error("the `#!` line names no interpreter")]
    MalformedShebang,
    /// A shell script that is not the pip/uv `'''exec'` polyglot.
    #[error("the file is a shell script")]
    ShellScript,
    /// A setuptools `EASY-INSTALL-SCRIPT` / `EASY-INSTALL-DEV-SCRIPT` wrapper that
    /// runs a `scripts=` file, not an entry point.
    #[error("the file is a setuptools wrapper around a script, not an entry point")]
    EasyInstallScript,
    /// A script whose body is not an installer's entry-point template.
    #[error("the file is a script, not an entry-point launcher")]
    NotATemplate,
}

/// What a `bin/` file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// A pip/distlib/uv/installer template: `from module import func` and
    /// `sys.exit(func())`. Works without metadata as long as `module` imports.
    Script {
        /// What runs it.
        interpreter: Interpreter,
        /// The imported module, such as `alembic.config`.
        module: String,
        /// The called object path, such as `main` or `App.run`.
        func: String,
        /// Which generator wrote it.
        template: Template,
    },
    /// A setuptools `load_entry_point` launcher: needs the distribution's metadata
    /// at run time.
    LoadEntryPoint {
        /// What runs it.
        interpreter: Interpreter,
        /// The distribution name as written (`tiny-cli`).
        dist: String,
        /// The pinned version (`1.0`), if the spec had `==`.
        version: Option<String>,
        /// The entry-point group, `console_scripts` or `gui_scripts`.
        group: String,
        /// The entry-point name.
        name: String,
        /// Which lookup it uses.
        flavor: LegacyFlavor,
    },
    /// Anything else.
    NotALauncher(Reason),
}

/// Classifies a `bin/` file from its first bytes (only the first [`PROBE_LEN`] are
/// looked at). Never fails and never panics.
pub fn classify(bytes: &[u8]) -> Launcher {
    let bytes = &bytes[..bytes.len().min(PROBE_LEN)];
    match classify_inner(bytes) {
        Ok(launcher) => launcher,
        Err(reason) => Launcher::NotALauncher(reason),
    }
}

fn classify_inner(bytes: &[u8]) -> Result<Launcher, Reason> {
    if bytes.is_empty() {
        return Err(Reason::Empty);
    }
    if bytes.starts_with(b"\x7fELF") {
        return Err(Reason::Elf);
    }
    if memchr::memchr(0, bytes).is_some() {
        return Err(Reason::Binary);
    }
    let text = String::from_utf8_lossy(bytes);
    if !text.starts_with("#!") {
        // Every activation script mentions one of these; none has a shebang.
        let activate = ["VIRTUAL_ENV", "deactivate", "activate_this"];
        return Err(if activate.iter().any(|m| text.contains(m)) {
            Reason::VenvActivate
        } else {
            Reason::NoShebang
        });
    }
    let shebang = parse_shebang(bytes).ok_or(Reason::MalformedShebang)?;
    let mut lines = text.lines().skip(1);
    let interpreter = if is_shell(&shebang.program) {
        if shebang.args.is_some() {
            return Err(Reason::ShellScript);
        }
        let exec_line = lines.next().ok_or(Reason::ShellScript)?;
        let interpreter =
            parse_exec_line(exec_line, &shebang.program).ok_or(Reason::ShellScript)?;
        // The polyglot's third line closes the Python string the first two opened.
        if lines.next().map(str::trim_end) != Some("' '''") {
            return Err(Reason::ShellScript);
        }
        interpreter
    } else if basename(&shebang.program) == "env" {
        let program =
            env_program(shebang.args.as_deref().unwrap_or("")).ok_or(Reason::MalformedShebang)?;
        Interpreter::Env {
            env: shebang.program.clone(),
            program,
        }
    } else {
        Interpreter::Path(shebang.program.clone())
    };
    let body: Vec<&str> = lines.collect();
    if let Some(launcher) = easy_install(&body, &interpreter)? {
        return Ok(launcher);
    }
    let (module, func, template) = match_template(&body).ok_or(Reason::NotATemplate)?;
    Ok(Launcher::Script {
        interpreter,
        module,
        func,
        template,
    })
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// distlib's `_is_shell` only knows `sh`; accept the usual POSIX shells too.
fn is_shell(program: &str) -> bool {
    matches!(
        basename(program),
        "sh" | "bash" | "dash" | "ash" | "ksh" | "zsh"
    )
}

/// The program `env` runs, from the single shebang argument.
///
/// Without `-S`, GNU and busybox `env` take the whole argument as one word, options
/// and program name alike; with `-S`/`--split-string` the string is split on
/// whitespace, options and `NAME=value` assignments are skipped, and the first
/// remaining word is the program.
fn env_program(arg: &str) -> Option<String> {
    let split = if let Some(rest) = arg.strip_prefix("--split-string=") {
        rest
    } else if let Some(rest) = arg.strip_prefix("--split-string") {
        rest
    } else if let Some(rest) = arg.strip_prefix("-S") {
        rest
    } else {
        // `#!/usr/bin/env -i` (an option, no program) or `#!/usr/bin/env FOO=1`.
        if arg.is_empty() || arg.starts_with('-') || arg.contains('=') {
            return None;
        }
        return Some(arg.to_owned());
    };
    let mut words = split.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            // Options with a separate value.
            "-u" | "--unset" | "-C" | "--chdir" | "-P" => {
                words.next();
            }
            "--" => return words.next().map(str::to_owned),
            w if w.starts_with('-') || w.contains('=') => {}
            w => return Some(w.to_owned()),
        }
    }
    None
}

/// The interpreter on the polyglot's `'''exec' … "$0" "$@"` line.
fn parse_exec_line(line: &str, shell: &str) -> Option<Interpreter> {
    const RELOCATABLE: &str = r#""$(dirname -- "$(realpath -- "$0")")"/"#;
    let rest = line.strip_prefix("'''exec' ")?.trim_start();
    if let Some(program) = rest.strip_prefix(RELOCATABLE) {
        let (program, _) = shell_word(program)?;
        return (!program.is_empty()).then(|| Interpreter::Relocatable {
            shell: shell.to_owned(),
            program,
        });
    }
    let (python, _) = shell_word(rest)?;
    (!python.is_empty()).then(|| Interpreter::ShExec {
        shell: shell.to_owned(),
        python,
    })
}

/// Reads one POSIX shell word (quotes removed) and returns it with the rest of the
/// line. `None` for expansions (`$`, backticks) this parser does not evaluate, and
/// for unterminated quotes.
fn shell_word(input: &str) -> Option<(String, &str)> {
    let mut word = String::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            ' ' | '\t' => return Some((word, &input[at..])),
            '\'' => {
                chars.next();
                loop {
                    match chars.next()? {
                        (_, '\'') => break,
                        (_, c) => word.push(c),
                    }
                }
            }
            '"' => {
                chars.next();
                loop {
                    match chars.next()? {
                        (_, '"') => break,
                        (_, '\\') => match chars.next()? {
                            (_, c @ ('$' | '`' | '"' | '\\')) => word.push(c),
                            (_, c) => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        (_, '$' | '`') => return None,
                        (_, c) => word.push(c),
                    }
                }
            }
            '\\' => {
                chars.next();
                word.push(chars.next()?.1);
            }
            '$' | '`' | '(' | ')' | ';' | '&' | '|' | '<' | '>' => return None,
            c => {
                chars.next();
                word.push(c);
            }
        }
    }
    Some((word, ""))
}

/// Recognises setuptools' `ScriptWriter` output.
fn easy_install(body: &[&str], interpreter: &Interpreter) -> Result<Option<Launcher>, Reason> {
    const ENTRY: &str = "# EASY-INSTALL-ENTRY-SCRIPT:";
    if body.iter().any(|l| {
        l.starts_with("# EASY-INSTALL-SCRIPT:") || l.starts_with("# EASY-INSTALL-DEV-SCRIPT:")
    }) {
        return Err(Reason::EasyInstallScript);
    }
    let header = body.iter().find_map(|l| l.strip_prefix(ENTRY));
    let call = body.iter().find_map(|l| {
        let at = l.find("load_entry_point(")?;
        let args = &l[at + "load_entry_point(".len()..];
        // Skip the shim's own definition `def importlib_load_entry_point(spec, …`.
        (!l[..at].ends_with('_')).then_some(args)
    });
    if header.is_none() {
        return Ok(None);
    }
    let args = header
        .and_then(|h| python_str_args(h, 3))
        .or_else(|| call.and_then(|c| python_str_args(c, 3)))
        .ok_or(Reason::NotATemplate)?;
    let [spec, group, name] = <[String; 3]>::try_from(args).map_err(|_| Reason::NotATemplate)?;
    let (dist, version) = match spec.split_once("==") {
        Some((dist, version)) => (dist.trim().to_owned(), Some(version.trim().to_owned())),
        None => (spec.trim().to_owned(), None),
    };
    if dist.is_empty() || group.is_empty() || name.is_empty() {
        return Err(Reason::NotATemplate);
    }
    let flavor = if body
        .iter()
        .any(|l| l.contains("importlib.metadata") || l.contains("importlib_metadata"))
    {
        LegacyFlavor::ImportlibMetadata
    } else {
        LegacyFlavor::PkgResources
    };
    Ok(Some(Launcher::LoadEntryPoint {
        interpreter: interpreter.clone(),
        dist,
        version,
        group,
        name,
        flavor,
    }))
}

/// Reads `n` comma-separated Python string literals (`'a', "b",'c'`), the `repr()`
/// setuptools writes.
fn python_str_args(input: &str, n: usize) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    let mut rest = input.trim_start();
    while out.len() < n {
        let mut chars = rest.char_indices();
        let (_, quote) = chars.next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (at, c) if c == quote => break at + c.len_utf8(),
                (_, '\\') => value.push(chars.next()?.1),
                (_, c) => value.push(c),
            }
        };
        out.push(value);
        rest = rest[end..].trim_start();
        if out.len() < n {
            rest = rest.strip_prefix(',')?.trim_start();
        }
    }
    Some(out)
}

/// The argv fix-up line a template uses, which identifies the generator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ArgvFix {
    None,
    ReSub,
    Removesuffix,
    Uv,
}

/// Matches an installer template: every statement must be a template statement.
/// Returns `(module, func, template)`.
fn match_template(body: &[&str]) -> Option<(String, String, Template)> {
    let mut import: Option<(String, String, String, bool)> = None; // module, name, alias, nested
    let mut call: Option<String> = None;
    let mut main_guard = false;
    let mut argv = ArgvFix::None;
    for raw in body {
        let line = raw.trim_end();
        let stmt = line.trim_start();
        let indented = stmt.len() != line.len();
        if stmt.is_empty() || stmt.starts_with('#') {
            continue;
        }
        if stmt == "import re" || stmt == "import sys" {
            continue;
        }
        if !indented && is_main_guard(stmt) {
            main_guard = true;
            continue;
        }
        if let Some(rest) = stmt.strip_prefix("from ") {
            if import.is_some() {
                return None;
            }
            let (module, names) = rest.split_once(" import ")?;
            let (name, alias) = match names.trim().split_once(" as ") {
                Some((name, alias)) => (name.trim(), alias.trim()),
                None => (names.trim(), names.trim()),
            };
            let module = module.trim();
            if !is_dotted_name(module) || !is_identifier(name) || !is_identifier(alias) {
                return None;
            }
            import = Some((
                module.to_owned(),
                name.to_owned(),
                alias.to_owned(),
                indented,
            ));
            continue;
        }
        if stmt.starts_with("sys.argv[0] = re.sub(") {
            argv = ArgvFix::ReSub;
            continue;
        }
        if stmt == "sys.argv[0] = sys.argv[0].removesuffix('.exe')"
            || stmt == "sys.argv[0] = sys.argv[0].removesuffix(\".exe\")"
        {
            argv = ArgvFix::Removesuffix;
            continue;
        }
        if stmt.starts_with("if sys.argv[0].endswith(")
            || stmt.starts_with("elif sys.argv[0].endswith(")
            || stmt.starts_with("sys.argv[0] = sys.argv[0][:-")
        {
            argv = ArgvFix::Uv;
            continue;
        }
        let called = stmt
            .strip_prefix("sys.exit(")
            .or_else(|| stmt.strip_prefix("raise SystemExit("))
            .and_then(|s| s.strip_suffix("())"));
        match called {
            Some(expr) if call.is_none() && is_dotted_name(expr) => call = Some(expr.to_owned()),
            _ => return None,
        }
    }
    let (module, name, alias, nested) = import?;
    let call = call?;
    if !main_guard {
        return None;
    }
    // `sys.exit(App.run())` after `from m import App`: the call must go through the
    // imported name; report it under the real name when aliased.
    let func = match call.split_once('.') {
        Some((head, tail)) if head == alias => format!("{name}.{tail}"),
        None if call == alias => name,
        _ => return None,
    };
    let template = match (argv, nested) {
        (ArgvFix::ReSub, false) => Template::Distlib,
        (ArgvFix::ReSub, true) => Template::DistlibLazyImport,
        (ArgvFix::Removesuffix, _) => Template::PipRemovesuffix,
        (ArgvFix::Uv, _) => Template::Uv,
        (ArgvFix::None, _) => Template::Minimal,
    };
    Some((module, func, template))
}

fn is_main_guard(stmt: &str) -> bool {
    let compact: String = stmt.chars().filter(|c| !c.is_whitespace()).collect();
    compact == "if__name__=='__main__':" || compact == "if__name__==\"__main__\":"
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn is_dotted_name(s: &str) -> bool {
    s.split('.').all(is_identifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/python/launchers");

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{TESTDATA}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn path(p: &str) -> Interpreter {
        Interpreter::Path(p.into())
    }

    fn script(interpreter: Interpreter, module: &str, func: &str, template: Template) -> Launcher {
        Launcher::Script {
            interpreter,
            module: module.into(),
            func: func.into(),
            template,
        }
    }

    const LONG_VENV: &str = "/tmp/very-long-directory-name-very-long-directory-name-very-long-directory-name-very-long-directory-name-very-long-directory-name-/venv";

    #[test]
    fn real_launchers() {
        let long_python = format!("{LONG_VENV}/bin/python3");
        let uv_long = "/tmp/uv-long-directory-name-uv-long-directory-name-uv-long-directory-name-uv-long-directory-name-uv-long-directory-name-uv-long-directory-name-/venv/bin/python";
        let sh = |python: &str| Interpreter::ShExec {
            shell: "/bin/sh".into(),
            python: python.into(),
        };
        let tiny_legacy =
            |interp: &str, name: &str, group: &str, flavor| Launcher::LoadEntryPoint {
                interpreter: path(interp),
                dist: "tiny-cli".into(),
                version: Some("1.0".into()),
                group: group.into(),
                name: name.into(),
                flavor,
            };
        let cases: Vec<(&str, Launcher)> = vec![
            // pip 23.2.1 in a short-path venv: plain shebang, top-level import, re.sub.
            (
                "pip23-alembic",
                script(
                    path("/tmp/v/bin/python3"),
                    "alembic.config",
                    "main",
                    Template::Distlib,
                ),
            ),
            // pip 23.2.1 writing its own launcher at a 135-byte venv path: polyglot with
            // an unquoted exec path, then the `re` template.
            (
                "pip23-sh-pip",
                script(
                    sh(&long_python),
                    "pip._internal.cli.main",
                    "cli",
                    Template::Distlib,
                ),
            ),
            // pip 26.3 at the same long path: polyglot + `removesuffix`.
            (
                "pip26-sh-flask",
                script(
                    sh(&long_python),
                    "flask.cli",
                    "main",
                    Template::PipRemovesuffix,
                ),
            ),
            // pip 26.3 with a space in the venv path: double-quoted exec path.
            (
                "pip26-sh-space-markdown_py",
                script(
                    sh("/tmp/with space/venv/bin/python3"),
                    "markdown.__main__",
                    "run",
                    Template::PipRemovesuffix,
                ),
            ),
            // virtualenv 21's seeded pip (vendored distlib): import inside the guard.
            (
                "virtualenv-pip-3.11",
                script(
                    path("/tmp/ve/bin/python"),
                    "pip._internal.cli.main",
                    "cli",
                    Template::DistlibLazyImport,
                ),
            ),
            // Standalone distlib 0.4.4 ScriptMaker with a dotted callable.
            (
                "distlib044-tiny",
                script(
                    path("/usr/local/bin/python3"),
                    "tinycli.main",
                    "App.run",
                    Template::DistlibLazyImport,
                ),
            ),
            // uv 0.13.9: `endswith` fix-up, double-quoted `"__main__"`.
            (
                "uv-alembic",
                script(
                    path("/tmp/uvv/bin/python"),
                    "alembic.config",
                    "main",
                    Template::Uv,
                ),
            ),
            // uv relocatable venv.
            (
                "uv-relocatable-alembic",
                script(
                    Interpreter::Relocatable {
                        shell: "/bin/sh".into(),
                        program: "python".into(),
                    },
                    "alembic.config",
                    "main",
                    Template::Uv,
                ),
            ),
            // uv at a long path: single-quoted exec path.
            (
                "uv-sh-markdown_py",
                script(sh(uv_long), "markdown.__main__", "run", Template::Uv),
            ),
            // pypa/installer 1.1.0: double quotes, dotted callable.
            (
                "installer-tiny-obj",
                script(
                    path("/tmp/inst/bin/python3"),
                    "tinycli.main",
                    "App.run",
                    Template::Distlib,
                ),
            ),
            // Debian bookworm python3-chardet 5.1.0: dh-python rewrote the shebang.
            (
                "debian-chardetect",
                script(
                    path("/usr/bin/python3"),
                    "chardet.cli.chardetect",
                    "main",
                    Template::Distlib,
                ),
            ),
            // Debian python3-virtualenv: `#! /usr/bin/python3` with a space.
            (
                "debian-virtualenv",
                script(
                    path("/usr/bin/python3"),
                    "virtualenv.__main__",
                    "run_with_catch",
                    Template::Distlib,
                ),
            ),
            // setuptools 65 `setup.py install`: EASY-INSTALL header, importlib shim.
            (
                "setuptools65-easy-install-tiny",
                tiny_legacy(
                    "/tmp/legacy/bin/python3",
                    "tiny",
                    "console_scripts",
                    LegacyFlavor::ImportlibMetadata,
                ),
            ),
            // setuptools 46: `from pkg_resources import load_entry_point`, gui group.
            (
                "setuptools46-easy-install-tiny-gui",
                tiny_legacy(
                    "/tmp/oldst/bin/python3",
                    "tiny-gui",
                    "gui_scripts",
                    LegacyFlavor::PkgResources,
                ),
            ),
            // Debian python3.11's pydoc: `import pydoc; pydoc.cli()` is a script.
            (
                "debian-pydoc3.11",
                Launcher::NotALauncher(Reason::NotATemplate),
            ),
            // Debian pygettext: latin-1 bytes, `#! /usr/bin/env python3`, long script.
            (
                "debian-pygettext3.11.head",
                Launcher::NotALauncher(Reason::NotATemplate),
            ),
            // venv's bash activate script.
            (
                "venv-activate",
                Launcher::NotALauncher(Reason::VenvActivate),
            ),
            // uv's activate script opens with a licence header.
            (
                "uv-activate.head",
                Launcher::NotALauncher(Reason::VenvActivate),
            ),
            // The uv binary itself.
            ("uv-elf.head", Launcher::NotALauncher(Reason::Elf)),
        ];
        for (name, expected) in cases {
            assert_eq!(classify(&read(name)), expected, "{name}");
        }
    }

    #[test]
    fn shebang_table() {
        /// (input, Some((program, args)))
        type Case<'a> = (&'a [u8], Option<(&'a str, Option<&'a str>)>);
        let cases: &[Case] = &[
            // Plain.
            (b"#!/usr/bin/python3\n", Some(("/usr/bin/python3", None))),
            // Space after `#!` (Debian's virtualenv).
            (b"#! /usr/bin/python3\n", Some(("/usr/bin/python3", None))),
            // One argument.
            (
                b"#!/usr/bin/python3 -I\n",
                Some(("/usr/bin/python3", Some("-I"))),
            ),
            // Everything after the program is one argument, trimmed.
            (
                b"#!/usr/bin/env  python3 -u \t\n",
                Some(("/usr/bin/env", Some("python3 -u"))),
            ),
            // CRLF: the `\r` is part of the program, as for the kernel.
            (
                b"#!/usr/bin/python3\r\n",
                Some(("/usr/bin/python3\r", None)),
            ),
            // No newline at all.
            (b"#!/bin/sh", Some(("/bin/sh", None))),
            // Relative interpreter (an unrewritten wheel script).
            (b"#!python\n", Some(("python", None))),
            // Non-UTF-8 is replaced, not a panic.
            (
                b"#!/opt/\xff/python\n",
                Some(("/opt/\u{fffd}/python", None)),
            ),
            // `#!` alone.
            (b"#!\n", None),
            // `#!` with only spaces.
            (b"#!   \t\n", None),
            // Not a shebang.
            (b"# !/usr/bin/python\n", None),
            // Empty.
            (b"", None),
        ];
        for (input, expected) in cases {
            let got = parse_shebang(input);
            let got = got
                .as_ref()
                .map(|s| (s.program.as_str(), s.args.as_deref()));
            assert_eq!(got, *expected, "{:?}", String::from_utf8_lossy(input));
        }
    }

    /// The pip 23 template body, for building synthetic variants.
    const PIP_BODY: &str = "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom alembic.config import main\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n";

    #[test]
    fn interpreter_table() {
        let env = |program: &str| Interpreter::Env {
            env: "/usr/bin/env".into(),
            program: program.into(),
        };
        let cases: Vec<(String, Option<Interpreter>)> = vec![
            // `env` launcher.
            ("#!/usr/bin/env python3".into(), Some(env("python3"))),
            // `env -S` splits and skips options and assignments.
            ("#!/usr/bin/env -S python3 -u".into(), Some(env("python3"))),
            (
                "#!/usr/bin/env -S PYTHONUTF8=1 -i python3.11".into(),
                Some(env("python3.11")),
            ),
            (
                "#!/usr/bin/env -S -u HOME python3".into(),
                Some(env("python3")),
            ),
            (
                "#!/usr/bin/env --split-string=python3 -E".into(),
                Some(env("python3")),
            ),
            // Without `-S` the whole argument is the program name, which won't resolve.
            ("#!/usr/bin/env python3 -u".into(), Some(env("python3 -u"))),
            // `env` with nothing to run.
            ("#!/usr/bin/env".into(), None),
            ("#!/usr/bin/env -i".into(), None),
            ("#!/usr/bin/env -S -i".into(), None),
            // Arguments on a path shebang are dropped.
            (
                "#!/usr/local/bin/python3.12 -sE".into(),
                Some(path("/usr/local/bin/python3.12")),
            ),
            // Polyglot with a backslash-escaped quote inside double quotes.
            (
                "#!/bin/sh\n'''exec' \"/opt/a \\\"b\\\"/python3\" \"$0\" \"$@\"\n' '''".into(),
                Some(Interpreter::ShExec {
                    shell: "/bin/sh".into(),
                    python: "/opt/a \"b\"/python3".into(),
                }),
            ),
            // Polyglot run by bash, with an interpreter option after the path.
            (
                "#!/bin/bash\n'''exec' /opt/v/bin/python -E \"$0\" \"$@\"\n' '''".into(),
                Some(Interpreter::ShExec {
                    shell: "/bin/bash".into(),
                    python: "/opt/v/bin/python".into(),
                }),
            ),
        ];
        for (shebang, expected) in cases {
            let got = classify(format!("{shebang}\n{PIP_BODY}").as_bytes());
            let expected = match expected {
                Some(interpreter) => {
                    script(interpreter, "alembic.config", "main", Template::Distlib)
                }
                None => Launcher::NotALauncher(Reason::MalformedShebang),
            };
            assert_eq!(got, expected, "{shebang}");
        }
    }

    #[test]
    fn body_table() {
        let py = "#!/usr/bin/python3\n";
        let cases: Vec<(&str, String, Launcher)> = vec![
            // Poetry-style minimal shim with blank lines.
            ("minimal", format!("{py}import sys\n\nfrom app.cli import run\n\nif __name__ == \"__main__\":\n    sys.exit(run())\n"),
                script(path("/usr/bin/python3"), "app.cli", "run", Template::Minimal)),
            // An alias is reported under the imported name.
            ("alias", format!("{py}import sys\nfrom app.cli import main as _main\nif __name__ == '__main__':\n    sys.exit(_main())\n"),
                script(path("/usr/bin/python3"), "app.cli", "main", Template::Minimal)),
            // `raise SystemExit(f())`.
            ("raise SystemExit", format!("{py}from app import main\nif __name__ == '__main__':\n    raise SystemExit(main())\n"),
                script(path("/usr/bin/python3"), "app", "main", Template::Minimal)),
            // conda's `pyw?` variant of the regex.
            ("conda", format!("{py}# -*- coding: utf-8 -*-\nimport re\nimport sys\n\nfrom conda.cli import main\n\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n"),
                script(path("/usr/bin/python3"), "conda.cli", "main", Template::Distlib)),
            // CRLF body (shebang `\r` kept, body still recognised).
            ("crlf", "#!/usr/bin/python3\r\nfrom a import b\r\nif __name__ == '__main__':\r\n    sys.exit(b())\r\n".into(),
                script(path("/usr/bin/python3\r"), "a", "b", Template::Minimal)),
            // An extra statement makes it a hand-written script.
            ("extra statement", format!("{py}import sys\nfrom app import main\nprint('hi')\nif __name__ == '__main__':\n    sys.exit(main())\n"),
                Launcher::NotALauncher(Reason::NotATemplate)),
            // Calling something that was not imported.
            ("wrong call", format!("{py}from app import main\nif __name__ == '__main__':\n    sys.exit(other())\n"),
                Launcher::NotALauncher(Reason::NotATemplate)),
            // No main guard.
            ("no guard", format!("{py}import sys\nfrom app import main\nsys.exit(main())\n"),
                Launcher::NotALauncher(Reason::NotATemplate)),
            // Two imports.
            ("two imports", format!("{py}from a import b\nfrom c import d\nif __name__ == '__main__':\n    sys.exit(b())\n"),
                Launcher::NotALauncher(Reason::NotATemplate)),
            // Star import.
            ("star import", format!("{py}from a import *\nif __name__ == '__main__':\n    sys.exit(main())\n"),
                Launcher::NotALauncher(Reason::NotATemplate)),
            // Only a shebang.
            ("shebang only", py.into(), Launcher::NotALauncher(Reason::NotATemplate)),
            // A shell script.
            ("shell", "#!/bin/sh\nexec /usr/bin/python3 -m app \"$@\"\n".into(), Launcher::NotALauncher(Reason::ShellScript)),
            // A shell shebang with arguments is never the polyglot.
            ("shell args", format!("#!/bin/sh -e\n'''exec' /p \"$0\" \"$@\"\n' '''\n{PIP_BODY}"), Launcher::NotALauncher(Reason::ShellScript)),
            // Polyglot without the closing `' '''` line.
            ("polyglot unclosed", format!("#!/bin/sh\n'''exec' /p \"$0\" \"$@\"\n{PIP_BODY}"), Launcher::NotALauncher(Reason::ShellScript)),
            // Polyglot with an expansion we do not evaluate.
            ("polyglot expansion", format!("#!/bin/sh\n'''exec' \"$HOME/p\" \"$0\" \"$@\"\n' '''\n{PIP_BODY}"), Launcher::NotALauncher(Reason::ShellScript)),
            // Polyglot with an unterminated quote.
            ("polyglot open quote", format!("#!/bin/sh\n'''exec' '/p \"$0\"\n' '''\n{PIP_BODY}"), Launcher::NotALauncher(Reason::ShellScript)),
            // setuptools dev wrapper around a `scripts=` file.
            ("easy-install dev script", format!("{py}# EASY-INSTALL-DEV-SCRIPT: 'x==1.0','x'\n__requires__ = 'x==1.0'\n"),
                Launcher::NotALauncher(Reason::EasyInstallScript)),
            // EASY-INSTALL header with double-quoted repr and no version pin.
            ("easy-install quotes", format!("{py}# EASY-INSTALL-ENTRY-SCRIPT: \"it's\",\"console_scripts\",\"x\"\nfrom pkg_resources import load_entry_point\n"),
                Launcher::LoadEntryPoint { interpreter: path("/usr/bin/python3"), dist: "it's".into(), version: None, group: "console_scripts".into(), name: "x".into(), flavor: LegacyFlavor::PkgResources }),
            // A garbled header falls back to the `load_entry_point(...)` call.
            ("easy-install call fallback", format!("{py}# EASY-INSTALL-ENTRY-SCRIPT: garbled\n    sys.exit(load_entry_point('a==2', 'console_scripts', 'b')())\n"),
                Launcher::LoadEntryPoint { interpreter: path("/usr/bin/python3"), dist: "a".into(), version: Some("2".into()), group: "console_scripts".into(), name: "b".into(), flavor: LegacyFlavor::PkgResources }),
            // A garbled header and no call.
            ("easy-install garbled", format!("{py}# EASY-INSTALL-ENTRY-SCRIPT: 'a==1','console_scripts'\n"),
                Launcher::NotALauncher(Reason::NotATemplate)),
        ];
        for (what, input, expected) in cases {
            assert_eq!(classify(input.as_bytes()), expected, "{what}");
        }
    }

    #[test]
    fn non_launchers_never_panic() {
        let long = format!("#!/usr/bin/python3\n{}", "x = 1\n".repeat(2000));
        let cases: Vec<(&str, Vec<u8>, Reason)> = vec![
            // Empty file.
            ("empty", vec![], Reason::Empty),
            // ELF magic only.
            ("elf", b"\x7fELF".to_vec(), Reason::Elf),
            // A Windows .exe launcher has NULs.
            ("pe", b"MZ\x90\x00\x03\x00".to_vec(), Reason::Binary),
            // Random bytes, invalid UTF-8, no NUL.
            ("junk", b"\xff\xfe\xfd#!".to_vec(), Reason::NoShebang),
            // A .bat helper of uv's venvs.
            (
                "bat",
                b"@REM Copyright\r\n@echo off\r\n".to_vec(),
                Reason::NoShebang,
            ),
            // Fish activation.
            (
                "fish",
                b"function deactivate -d 'Exit'\n".to_vec(),
                Reason::VenvActivate,
            ),
            // A 12 KB script is cut at PROBE_LEN and is still not a template.
            ("long", long.into_bytes(), Reason::NotATemplate),
            // A shebang whose line is longer than the probe.
            (
                "endless shebang",
                [b"#!/".as_slice(), &[b'a'; 5000]].concat(),
                Reason::NotATemplate,
            ),
            // UTF-8 cut in the middle of a character at the probe boundary.
            (
                "cut utf-8",
                [
                    b"#!/usr/bin/python3\n".as_slice(),
                    &"é".repeat(3000).into_bytes(),
                ]
                .concat(),
                Reason::NotATemplate,
            ),
        ];
        for (what, input, reason) in cases {
            assert_eq!(classify(&input), Launcher::NotALauncher(reason), "{what}");
        }
    }

    #[test]
    fn reason_messages() {
        assert_eq!(
            Reason::NotATemplate.to_string(),
            "the file is a script, not an entry-point launcher"
        );
        assert_eq!(
            Reason::MalformedShebang.to_string(),
            "the `#!` line names no interpreter"
        );
    }
}
