//! The registry flags every image command takes, and the one client a run
//! shares (connections, tokens, counters).

use clap::Args;

use crate::registry::{Client, Keychain, RegistryOptions};

/// How to reach registries (for `registry:HOST/REPO:TAG` images).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Bearer token sent as is to the registry (skips the token exchange
    /// and every credential store).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMGAUDIT_REGISTRY_TOKEN",
        hide_env_values = true
    )]
    pub registry_token: Option<String>,
    /// Trust this CA certificate (PEM) for registries, beside the system
    /// roots. Repeatable. `/etc/docker/certs.d/HOST/*.crt` are trusted too.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<std::path::PathBuf>,
    /// Do not verify TLS for this registry host (`HOST[:PORT]`), and allow
    /// plain HTTP there. Repeatable.
    #[arg(long, value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Talk plain HTTP to this registry host. Repeatable. Loopback
    /// registries fall back to HTTP by themselves.
    #[arg(long, value_name = "HOST")]
    pub plain_http: Vec<String>,
}

impl RegistryArgs {
    /// The client these flags describe, with the environment's keychain.
    pub fn client(&self) -> anyhow::Result<Client> {
        let mut keychain = Keychain::from_env();
        keychain.token = self.registry_token.clone().filter(|t| !t.is_empty());
        let opts = RegistryOptions {
            keychain,
            ca_certs: self.ca_cert.clone(),
            insecure: self.insecure.clone(),
            plain_http: self.plain_http.clone(),
            ..RegistryOptions::from_env()
        };
        Ok(Client::new(opts)?)
    }
}
