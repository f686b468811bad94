//! imgaudit: audit a built container image without a daemon.
//!
//! It reads `docker save` tarballs (legacy and Docker 25+), OCI layouts
//! (directory and archive) and stdin, rebuilds the final filesystem in
//! memory with OCI/umoci overlay semantics, and proves the Python
//! environments inside still work. See `docs/architecture.md`.
//!
//! ```no_run
//! use imgaudit::source::{OpenRequest, Platform};
//! let image = imgaudit::image::open(
//!     &OpenRequest { input: "app.tar".into(), tag: None, platform: Platform::host(), verify: true },
//!     None,
//! ).unwrap();
//! assert!(image.tree.exists("/usr/bin/python3"));
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod checks;
pub mod cli;
pub mod config;
pub mod escape;
pub mod finding;
pub mod image;
pub mod layer;
pub mod overlay;
pub mod python;
pub mod report;
pub mod size;
pub mod source;
pub mod tree;
