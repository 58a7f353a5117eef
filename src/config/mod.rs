//! The service's configuration, in one layered load: `serve`'s flags, then environment
//! variables, then our TOML file, then the profile of Crusoe's own config file
//! (`~/.crusoe/config`), then defaults. figment merges the layers and remembers each value's
//! source, so every invalid value stops start-up with one line naming the setting, where it was
//! set, and why; never a secret's value.
//!
//! - [`env`](mod@env): the variables read and the setting each sets (docs/configuration.md's list is tested against it)
//! - [`flags`]: `serve`'s flags
//! - `sources`: the layers and where each value came from
//! - `schema`: every setting as the layers give it
//! - `validate`: from those to the typed [`Config`]
//! - [`error`]: [`ConfigError`], naming a setting and its [`Origin`]

mod bridge_table;
pub mod env;
pub mod error;
pub mod flags;
mod schema;
mod sources;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::ial::IalOptions;

pub use crate::backends::crusoe::config::{CrusoeConfig, DEFAULT_PROFILE};
pub use crate::telemetry::LogFormat;
pub use bridge_table::BridgeSettings;
pub use env::{EnvVar, Form, ENV_VARS};
pub use error::{in_range, ConfigError, Origin, SettingError};
pub use flags::{ServeFlags, FLAGS};
pub use sources::{Origins, Sources};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which cloud serves Cycle.
    pub backend: crate::backends::BackendName,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// How long requests in flight may finish after SIGTERM or SIGINT.
    pub shutdown_grace: Duration,
    /// Serve HTTPS with this certificate chain and key (PEM files), instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    pub crusoe: CrusoeConfig,
    pub cloudsigma: crate::backends::cloudsigma::CloudSigmaConfig,
    pub ial: IalOptions,
    pub bridge: BridgeSettings,
    /// Where each value came from, for the errors of what is checked after loading.
    pub origins: Origins,
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let layered = sources::Layered::read(sources)?;
        let raw = layered.extract()?;
        validate::config(raw, layered.origins())
    }

    /// A setting found unusable after loading (by the bridge, by TLS), named by its source.
    pub fn invalid(&self, e: SettingError) -> ConfigError {
        self.origins.invalid(e)
    }
}

#[cfg(test)]
mod tests;
