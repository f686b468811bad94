//! The progress bar on stderr while an image is read.
//!
//! This module owns when a bar shows and what it says; the library only
//! reports through [`crate::image::Progress`]: the total stored bytes once
//! the manifest is read (so the total is the layers' size, never the input
//! path's inode size or 0 for stdin), then each layer's bytes as it is
//! indexed.
//!
//! Why a delay instead of a size threshold: the size of the input path says
//! nothing for a directory (4 KiB) or stdin (0), and a read is slow for
//! reasons a size does not predict (a cold disk, a slow pipe). So with
//! `auto`, on a terminal and outside CI, every read gets a bar, but it is
//! drawn only once the read has taken [`DELAY`]: fast reads stay silent, a
//! slow one never is. The spinner ticks on its own timer
//! ([`indicatif::ProgressBar::enable_steady_tick`]), so it keeps moving
//! while one big layer streams and no byte count changes.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{in_ci, input::display_name, When};

/// How long a read runs before the bar appears (with `auto`).
const DELAY: Duration = Duration::from_millis(300);
/// The spinner's own tick.
const TICK: Duration = Duration::from_millis(100);

/// A progress bar for one image read.
pub(crate) struct Bar {
    bar: ProgressBar,
    /// Set when the read is over, so a late timer never draws a bar again.
    done: Arc<Mutex<bool>>,
}

impl Bar {
    /// A bar for reading `input`, or `None` when none should show.
    pub(crate) fn start(when: When, input: &str) -> Option<Bar> {
        if !shows(when) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(spinner_style());
        bar.set_message(format!("reading {}", display_name(input)));
        let done = Arc::new(Mutex::new(false));
        let delay = if when == When::Always {
            Duration::ZERO
        } else {
            DELAY
        };
        let (timer_bar, timer_done) = (bar.clone(), done.clone());
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let done = timer_done.lock().unwrap_or_else(|e| e.into_inner());
            if !*done {
                timer_bar.set_draw_target(ProgressDrawTarget::stderr());
                timer_bar.enable_steady_tick(TICK);
            }
        });
        Some(Bar { bar, done })
    }

    /// Every layer is indexed; the whole-blob digests of plain layers may
    /// still be hashing (and the audit running its checks).
    pub(crate) fn verifying(&self) {
        self.bar.set_message("verifying layer digests");
    }
}

/// Whether a progress bar shows on stderr: `always`, or `auto` on a
/// terminal outside CI (and not a `dumb` one). `scan`'s bar asks too.
pub(crate) fn shows(when: When) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => {
            std::io::stderr().is_terminal()
                && !in_ci()
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

impl Drop for Bar {
    /// The read is over (or failed): clear the bar, so an error line or the
    /// report starts on a clean line.
    fn drop(&mut self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        *done = true;
        self.bar.finish_and_clear();
    }
}

impl crate::image::Progress for Bar {
    fn total(&self, bytes: u64) {
        self.bar.set_length(bytes);
        self.bar.set_style(bar_style());
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {msg} {wide_bar} {bytes}/{total_bytes} ({eta} left) [{elapsed}]",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}
