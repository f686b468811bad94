//! Registries: read an image by reference (`registry:HOST/REPO:TAG`) over
//! the distribution API v2, with the credentials and trust users already
//! have (docker/podman config, credential helpers, `certs.d`).
//!
//! This module is the wire: references, the keychain and challenges
//! (`auth`), and the [`Client`] (ping, tokens, manifests, blobs, catalog,
//! tags, retries, resumable blob streams). Choosing the image in what a
//! registry returns is the source's job (`source::registry`), with the
//! same manifest and index logic as an OCI layout; nothing here knows a
//! layer's contents.

pub mod auth;
pub mod client;
pub mod reference;

pub use auth::{Credential, Keychain};
pub use client::{
    BlobStream, Client, Descriptor, RegistryError, RegistryOptions, Stats, MANIFEST_ACCEPT,
};
pub use reference::Reference;
