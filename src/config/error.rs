//! The configuration's one error: the setting at fault, where its value came from, and why.
//! Code outside the loader (the bridge, TLS) names only the setting, as a [`SettingError`];
//! [`Origins::invalid`](super::Origins::invalid) adds where the value came from.

use std::path::PathBuf;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, `--listen`.
    Flag(&'static str),
    /// An environment variable, `IAL_LISTEN`.
    Env(&'static str),
    /// Our own `--config` file.
    File(PathBuf),
    /// A profile of Crusoe's own config file.
    Profile { path: PathBuf, name: String },
    /// No source set it: its default applies, or it is missing.
    Default,
}

/// One invalid setting. Displays as a single line; never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}: {reason}", self.place())]
pub struct ConfigError {
    /// The setting by its file key (`listen`, `crusoe.secret_key`); empty for a whole file.
    pub key: String,
    pub origin: Origin,
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, origin: Origin, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            origin,
            reason: reason.into(),
        }
    }

    /// The setting as the operator gave it: `--listen (listen)`, `IAL_LISTEN (listen)`,
    /// `listen in /etc/ial.toml`, `access_key_id in ~/.crusoe/config [default]`, or the key alone
    /// when nothing set it. An environment-only setting is named by its variable.
    pub fn place(&self) -> String {
        place(&self.key, &self.origin)
    }
}

pub(super) fn place(key: &str, origin: &Origin) -> String {
    let env_only = super::env::var_for(key).filter(|v| !v.form.in_file());
    match (origin, env_only) {
        (Origin::Flag(name) | Origin::Env(name), _) if key.is_empty() => name.to_string(),
        (Origin::Flag(name) | Origin::Env(name), Some(_)) => name.to_string(),
        (Origin::Flag(name) | Origin::Env(name), None) => format!("{name} ({key})"),
        (Origin::File(path), _) if key.is_empty() => path.display().to_string(),
        (Origin::File(path), _) => format!("{key} in {}", path.display()),
        (Origin::Profile { path, name }, _) => format!(
            "{} in {} [{name}]",
            key.strip_prefix("crusoe.").unwrap_or(key),
            path.display()
        ),
        (Origin::Default, Some(var)) => var.name.to_string(),
        (Origin::Default, None) => key.to_string(),
    }
}

/// A setting that cannot be used, named by its file key.
pub use crate::setting_error::{in_range, SettingError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_origin_names_the_setting_as_the_operator_gave_it() {
        let shown = |key: &str, origin: Origin| ConfigError::new(key, origin, "why").to_string();
        assert_eq!(
            shown("listen", Origin::Flag("--listen")),
            "invalid configuration: --listen (listen): why"
        );
        assert_eq!(
            shown("listen", Origin::Env("IAL_LISTEN")),
            "invalid configuration: IAL_LISTEN (listen): why"
        );
        assert_eq!(
            shown("listen", Origin::File("/etc/ial.toml".into())),
            "invalid configuration: listen in /etc/ial.toml: why"
        );
        assert_eq!(
            shown(
                "crusoe.access_key_id",
                Origin::Profile {
                    path: "/h/.crusoe/config".into(),
                    name: "default".into()
                }
            ),
            "invalid configuration: access_key_id in /h/.crusoe/config [default]: why"
        );
        assert_eq!(
            shown("bridge.bridge_token", Origin::Env("IAL_BRIDGE_TOKEN")),
            "invalid configuration: IAL_BRIDGE_TOKEN: why"
        );
        assert_eq!(
            shown("bridge.bridge_token", Origin::Default),
            "invalid configuration: IAL_BRIDGE_TOKEN: why"
        );
        assert_eq!(
            shown("bridge.boot.ipxe_url", Origin::Default),
            "invalid configuration: bridge.boot.ipxe_url: why"
        );
        assert_eq!(
            shown("", Origin::Flag("--config")),
            "invalid configuration: --config: why"
        );
    }

    #[test]
    fn a_range_check_says_the_range_and_the_value() {
        assert_eq!(in_range("n", 5, 1..=20), Ok(5));
        let err = in_range("n", 0, 1..=20).unwrap_err();
        assert_eq!(err.key, "n");
        assert_eq!(err.reason, "must be from 1 to 20, not 0");
    }
}
