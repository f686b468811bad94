//! Build script: the commit and build date that `imgaudit --version` prints.
//!
//! It sets `IMGAUDIT_VERSION_DETAIL` for `src/cli.rs`, e.g.
//! `commit 6f842c8e1a2b, built 2026-12-02`. The commit comes from `git`
//! when the source is a git checkout (a worktree included) and `git` is
//! installed; a build from a source tarball, or without `git`, says
//! `commit unknown` instead of failing. A packager can set `IMGAUDIT_COMMIT`
//! to name the commit the tarball was cut from. The date is today's (UTC),
//! or the one `SOURCE_DATE_EPOCH` gives for reproducible builds
//! (<https://reproducible-builds.org/specs/source-date-epoch/>).
//!
//! Why not rerun on every build: cargo would then relink the binary each
//! time, even when nothing changed. The script reruns when `HEAD` or the
//! branch it points to moves (a commit, a checkout), so the commit is always
//! right and the date is the date of the build that first saw the commit.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=IMGAUDIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let commit = std::env::var("IMGAUDIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit);
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    let date = civil_date(seconds.div_euclid(86_400));
    let commit = commit.unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=IMGAUDIT_VERSION_DETAIL=commit {commit}, built {date}");
}

/// `git rev-parse --short=12 HEAD`, and the files whose change means a new
/// commit; `None` when this is no git checkout or `git` is absent.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!text.is_empty()).then_some(text)
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // `--git-path` resolves worktrees and the common dir for refs. Only
    // files that exist: cargo reruns the script every time for a missing one.
    let watch = |path: Option<String>| {
        if let Some(path) = path.filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    };
    watch(git(&["rev-parse", "--git-path", "HEAD"]));
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(git(&["rev-parse", "--git-path", &branch]));
    }
    watch(git(&["rev-parse", "--git-path", "packed-refs"]));
    Some(commit)
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (proleptic Gregorian),
/// after Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
