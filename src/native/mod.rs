//! The native layer of an image: how its ELF objects load.
//!
//! Owns the emulation of the dynamic loader on the merged tree
//! ([`loader`]: `DT_NEEDED` resolved through `DT_RPATH`/`LD_LIBRARY_PATH`/
//! `DT_RUNPATH`/`/etc/ld.so.cache`/system directories, as glibc's `ld.so`
//! does) and the parser of the image's loader cache ([`ldcache`]). Reads the
//! ELF facts the layer reader kept (`crate::elf`, on each file's content in
//! the tree); never reads layers and names no Python layout: which objects
//! a Python environment loads is the Python analyzer's choice
//! (`python::extensions`), what is a finding is the checks'.

pub mod ldcache;
pub mod loader;
