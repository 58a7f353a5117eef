//! The environment variables the service reads, each with the setting it sets. The loader reads
//! the environment through this table and nothing else, so docs/configuration.md's list is tested against
//! it (tests/e2e/readme.rs) and cannot drift from what is read.

use std::collections::HashMap;

use figment::value::{Dict, Value};

use super::error::{ConfigError, Origin};

/// One variable and the setting (file key) it sets.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub key: &'static str,
    pub form: Form,
}

/// How a variable's text becomes the setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Text,
    /// Text never shown; `in_file: false` keeps it out of the config file (a ConfigMap, often).
    Secret {
        in_file: bool,
    },
    /// A whole number.
    Number,
    /// Comma-separated words.
    List,
    /// One of two words, for a setting that is true or false.
    Switch {
        on: &'static str,
        off: &'static str,
    },
}

impl Form {
    pub fn in_file(self) -> bool {
        !matches!(self, Form::Secret { in_file: false })
    }
}

const fn var(name: &'static str, key: &'static str, form: Form) -> EnvVar {
    EnvVar { name, key, form }
}

use Form::*;

/// Every variable read. Crusoe's own names (`CRUSOE_*`) are those of Crusoe's CLI, Cycloid's
/// (`CY_*`) those of Cycloid's CLI.
pub const ENV_VARS: &[EnvVar] = &[
    var("IAL_BACKEND", "backend", Text),
    var("IAL_LISTEN", "listen", Text),
    var("IAL_LOG_FORMAT", "log_format", Text),
    var("IAL_ENVELOPE", "envelope", Text),
    var("IAL_TLS_CERT", "tls_cert", Text),
    var("IAL_TLS_KEY", "tls_key", Text),
    var("CRUSOE_API_ENDPOINT", "crusoe.api_endpoint", Text),
    // The names Crusoe's tools read, as the SDK reads them (`Credentials::from_env`).
    var(
        crate::backends::crusoe::config::ACCESS_KEY_ID_VAR,
        "crusoe.access_key_id",
        Text,
    ),
    var(
        crate::backends::crusoe::config::SECRET_KEY_VAR,
        "crusoe.secret_key",
        Secret { in_file: true },
    ),
    var("CRUSOE_DEFAULT_PROJECT", "crusoe.default_project", Text),
    var("IAL_CRUSOE_PROFILE", "crusoe.profile", Text),
    var("IAL_CRUSOE_CONFIG", "crusoe.config_file", Text),
    var(
        "IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS",
        "crusoe.attempt_timeout_secs",
        Number,
    ),
    var(
        "IAL_CRUSOE_CALL_DEADLINE_SECS",
        "crusoe.call_deadline_secs",
        Number,
    ),
    var("IAL_CRUSOE_MAX_ATTEMPTS", "crusoe.max_attempts", Number),
    // The names CloudSigma's terraform provider reads (`cloudsigma/provider.go`).
    var("CLOUDSIGMA_API_ENDPOINT", "cloudsigma.api_endpoint", Text),
    var("CLOUDSIGMA_USERNAME", "cloudsigma.username", Text),
    var(
        "CLOUDSIGMA_PASSWORD",
        "cloudsigma.password",
        Secret { in_file: true },
    ),
    var(
        "CLOUDSIGMA_TOKEN",
        "cloudsigma.token",
        Secret { in_file: true },
    ),
    var("CLOUDSIGMA_LOCATION", "cloudsigma.location", Text),
    var("IAL_CLOUDSIGMA_LOCATIONS", "cloudsigma.locations", List),
    var("IAL_CREDENTIALS", "bridge.credentials", Text),
    var(
        "IAL_BRIDGE_TOKEN",
        "bridge.bridge_token",
        Secret { in_file: false },
    ),
    var("IAL_ALLOWED_LOCATIONS", "bridge.allowed_locations", List),
    var("IAL_IP_STRATEGY", "bridge.ips.strategy", Text),
    var("IAL_BOOT_MODE", "bridge.boot.mode", Text),
    var("IAL_IPXE_URL", "bridge.boot.ipxe_url", Text),
    var("IAL_IPXE_SHA256", "bridge.boot.ipxe_sha256", Text),
    var("IAL_IMAGE", "bridge.boot.image", Text),
    var("IAL_CUSTOM_IMAGE", "bridge.boot.custom_image", Text),
    var("IAL_SSH_PUBLIC_KEY", "bridge.boot.ssh_public_key", Text),
    // The names Cycloid's CLI reads.
    var("CY_ORG", "cycloid.organization", Text),
    var("CY_API_KEY", "cycloid.api_key", Secret { in_file: false }),
    var("CY_API_URL", "cycloid.url", Text),
    var(
        "IAL_NESTED_VIRTUALIZATION",
        "bridge.nested_virtualization",
        Switch {
            on: "on",
            off: "off",
        },
    ),
    var(
        "IAL_STATUS_READS",
        "bridge.status.coalesce",
        Switch {
            on: "coalesced",
            off: "per-poll",
        },
    ),
];

/// The variable that sets `key`, if one does.
pub fn var_for(key: &str) -> Option<&'static EnvVar> {
    ENV_VARS.iter().find(|v| v.key == key)
}

/// Whether `key` holds a secret, whose value no message may show.
pub(super) fn is_secret(key: &str) -> bool {
    var_for(key).is_some_and(|v| matches!(v.form, Secret { .. }))
}

/// The settings `env` gives, nested by key. An empty variable is how shells and manifests say
/// "unset", so it sets nothing.
pub(super) fn settings(env: &HashMap<String, String>) -> Result<Dict, ConfigError> {
    let mut dict = Dict::new();
    for var in ENV_VARS {
        let Some(text) = env
            .get(var.name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let invalid = |reason: String| ConfigError::new(var.key, Origin::Env(var.name), reason);
        let value = match var.form {
            Text | Secret { .. } => Value::from(text.to_string()),
            Number => Value::from(
                text.parse::<u64>()
                    .map_err(|_| invalid(format!("{text:?} is not a whole number")))?,
            ),
            List => Value::from(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::from(s.to_string()))
                    .collect::<Vec<_>>(),
            ),
            Switch { on, off } => Value::from(match text {
                t if t == on => true,
                t if t == off => false,
                _ => return Err(invalid(format!("{text:?} is neither {on} nor {off}"))),
            }),
        };
        insert(&mut dict, var.key, value);
    }
    Ok(dict)
}

/// Puts `value` at the dotted `key` of `dict`, making the tables on the way.
pub(super) fn insert(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
