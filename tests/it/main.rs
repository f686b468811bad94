//! imgaudit's integration tests: one binary, one module per concern
//! (ripgrep `tests/tests.rs`, uv `tests/it/main.rs`).

// Builders for layers and images, the binary runner, tree listings.
mod util;

// The overlay edge cases of `images.md`, through the library: exact merged
// trees, file contents and waste accounting; and every input format giving
// the same `files --format jsonl`.
mod overlay;

// Hostile and broken inputs, through the binary: exit 2, one precise line
// on stderr, no panic, nothing written to disk.
mod hostile;

// The differential oracle: imgaudit's merged tree against `umoci unpack`.
mod oracle;

// The real-format fixtures (`testdata/derive-fixtures.sh`) all agree with
// the OCI layout they were derived from.
mod formats;

// Issue 13, the CLI a newcomer expects: exit codes on a closed stdout,
// progress, selectors, messages, the flags peers taught users, and the
// terminal cases through tmux.
mod cli_ux;
