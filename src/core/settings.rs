//! What an operator sets about the core, whatever the backend: whose credentials a call uses,
//! the bridge token, the locations offered, each tenant's request rate, and the time each kind
//! of work may take (the backends wait that long).

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::setting_error::SettingError;

/// Whose cloud credentials a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialsMode {
    /// Cycle sends each hub's credentials in `auth` (`api_key`, `secret`, `namespace`).
    PassThrough,
    /// The operator configured one key pair; Cycle presents a bridge token in `auth.api_key`.
    ServerHeld,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutSettings {
    /// How long provision waits for a server's data disk before answering (Cycle retries).
    pub provision_secs: u64,
    pub restart_secs: u64,
    pub decommission_secs: u64,
    pub allocate_secs: u64,
    pub release_secs: u64,
    pub configure_secs: u64,
}

impl Default for TimeoutSettings {
    fn default() -> Self {
        Self {
            provision_secs: 60,
            restart_secs: 120,
            decommission_secs: 120,
            allocate_secs: 120,
            release_secs: 60,
            configure_secs: 60,
        }
    }
}

/// Each timeout as a `Duration`, by the name of its setting without `_secs`.
macro_rules! durations {
    ($($name:ident: $field:ident),*) => {
        impl TimeoutSettings {
            $(pub fn $name(&self) -> Duration {
                Duration::from_secs(self.$field)
            })*
        }
    };
}

durations!(
    provision: provision_secs,
    restart: restart_secs,
    decommission: decommission_secs,
    allocate: allocate_secs,
    release: release_secs,
    configure: configure_secs
);

/// Requests each tenant (one hub with one set of credentials) may make; beyond it, 429 with
/// `Retry-After`. Cycle polls each server in flight every 5 s: 1 000 servers are 200 requests/s.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Sustained requests per second per tenant; 0 turns the limit off.
    pub per_second: u32,
    /// Requests a tenant may make at once above the sustained rate.
    pub burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_second: 500,
            burst: 1000,
        }
    }
}

/// The core's part of the `[bridge]` table.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub credentials: CredentialsMode,
    pub bridge_token: Option<SecretString>,
    /// Locations offered to Cycle; empty for all of the backend's.
    pub allowed_locations: Vec<String>,
    pub rate_limit: RateLimitSettings,
}

impl CoreSettings {
    /// Checks what can be checked before serving; the error names the setting by its file key.
    pub fn validate(&self) -> Result<(), SettingError> {
        let fail = |key: &str, reason: &str| Err(SettingError::new(key, reason));
        if self.rate_limit.per_second > 0 && self.rate_limit.burst == 0 {
            return fail(
                "bridge.rate_limit.burst",
                "must be at least 1 when the rate limit is on",
            );
        }
        if self.credentials == CredentialsMode::ServerHeld && self.bridge_token.is_none() {
            return fail(
                "bridge.bridge_token",
                "server-held credentials need a bridge token for Cycle to present",
            );
        }
        if let Some(token) = &self.bridge_token {
            use secrecy::ExposeSecret;
            if token.expose_secret().len() < 16 {
                return fail("bridge.bridge_token", "must be at least 16 characters");
            }
        }
        Ok(())
    }
}
