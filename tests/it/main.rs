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

// End to end: the built binary on every committed fixture image, judged
// against the runtime truth of `testdata/truth/` (exit codes, formats, config).
mod cli;

// The size view on images whose sizes are known by construction, the
// slimming advice executed, and the dive comparison.
mod size;

// Golden reports: every fixture's findings and text report, pinned with insta.
mod fixtures;

// Every `$ imgaudit …` example of `docs/rules.md` against the binary.
mod docs;

// The module graph is a DAG and the input side names no Python layout.
mod architecture;

// The fact cache: warm equals cold on every fixture, extractor-set changes
// miss, tampered blobs fail verification, corrupt records are rewritten,
// processes share one directory.
mod cache;

// Resources an input can name stay bounded: verification threads.
mod bounds;

// Issue 13, the CLI a newcomer expects: exit codes on a closed stdout,
// progress, selectors, messages, the flags peers taught users, and the
// terminal cases through tmux.
mod cli_ux;

// Issue 10, what the world writes: kaniko `/` entries, absolute and
// non-UTF-8 names against umoci; gzip/xz/zstd outer archives, path and stdin.
mod wild;

// Issue 10: every image of an input selectable (by any spelling of its name,
// by digest, by a platform-less index child's config), legacy configs read
// as Docker's loader reads them, OCI artifacts named as such.
mod selection;

// Issue 9: images read from real loopback registries (plain, TLS + Basic,
// token auth), the auth matrix, and a scripted proxy for retries, resumes,
// redirects and registries that lie.
mod registry;

// Issue 12, the native layer: the native fixtures against their runtime
// truth, the loader's search order on ELF files built byte by byte.
mod native;

// Issue 10, item 7 at the extremes: 100,000 layers, compression bombs,
// /dev/zero, many tiny entries, deep trees and symlink chains through every
// view, 1 MB names, RECORD rows out of the image, deep JSON, hostile
// configs; item 2's nested platform-less indexes and index cycles.
mod extremes;

// Issue 10, item 3: image files other projects commit for their tests
// (testdata/third-party/), every name read, every image against umoci.
mod third_party;

// Issue 9, the nightly scan: plan, shard processes in parallel over one
// cache, merge; the result cache; unreadable images; every merged format.
mod scan;

// Issue 11: every way teams install Python (uv, …), each layout judged
// against its recorded runtime truth (`testdata/truth/installers/`).
mod installers;
