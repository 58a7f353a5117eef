//! The `[crusoe]` table: where Crusoe is, how hard the client tries, and the key pair and project
//! the bridge holds itself (server-held mode, `gc`, `image`); and what the loader reads from
//! Crusoe's own config file (`~/.crusoe/config`). The loader (`crate::config`) layers and names the
//! sources; what the values mean is Crusoe's, so it is here.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::setting_error::{in_range, SettingError};
use crusoe_sdk::ids::PathId;
pub use crusoe_sdk::profile::{Profile, ProfileError, DEFAULT_PROFILE};
use crusoe_sdk::CredentialsError;
pub use crusoe_sdk::{
    ClientSettings, Credentials, RetryPolicy, ACCESS_KEY_ID_VAR, DEFAULT_ENDPOINT, SECRET_KEY_VAR,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrusoe {
    pub api_endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_key: Option<SecretString>,
    pub default_project: Option<String>,
    /// Which profile of Crusoe's config file to read.
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    pub attempt_timeout_secs: Option<u64>,
    pub call_deadline_secs: Option<u64>,
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct CrusoeConfig {
    pub client: ClientSettings,
    /// Server-held credentials, when configured.
    pub credentials: Option<Credentials>,
    pub project_id: Option<String>,
}

impl CrusoeConfig {
    /// A client of the configured key pair and its project, for the commands that work on one
    /// project (`gc`, `image`); the error says what to set, and why one project (`why`).
    pub fn project_client(&self, why: &str) -> Result<crusoe_sdk::ProjectClient, String> {
        let credentials = self.credentials.clone().ok_or_else(|| {
            format!("no Crusoe credentials configured: set CRUSOE_ACCESS_KEY_ID and CRUSOE_SECRET_KEY ({why})")
        })?;
        let project = self
            .project_id
            .clone()
            .ok_or("no project configured: set CRUSOE_DEFAULT_PROJECT")?;
        let client = crusoe_sdk::CrusoeClient::new(self.client.clone(), credentials)
            .map_err(|e| e.to_string())?;
        Ok(client.project(project))
    }
}

/// The `[crusoe]` table, checked; `missing` says that one half of the key pair is set without the
/// other (the loader knows where each value came from).
pub fn crusoe_config(
    raw: RawCrusoe,
    missing: &dyn Fn(&str, &str) -> SettingError,
) -> Result<CrusoeConfig, SettingError> {
    let endpoint = endpoint(raw.api_endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT))?;
    let credentials = match (raw.access_key_id, raw.secret_key) {
        (None, None) => None,
        (Some(_), None) => return Err(missing("crusoe.secret_key", "crusoe.access_key_id")),
        (None, Some(_)) => return Err(missing("crusoe.access_key_id", "crusoe.secret_key")),
        (Some(id), Some(secret)) => Some(Credentials::new(&id, &secret).map_err(|e| {
            let key = match e {
                CredentialsError::BadSecretKey(_) => "crusoe.secret_key",
                _ => "crusoe.access_key_id",
            };
            SettingError::new(key, e.to_string())
        })?),
    };
    let project_id = match raw.default_project {
        None => None,
        Some(project) => {
            let project = project.trim().to_string();
            PathId::parse("project id", &project)
                .map_err(|e| SettingError::new("crusoe.default_project", e.reason))?;
            Some(project)
        }
    };
    let mut client = ClientSettings {
        endpoint,
        user_agent: crate::USER_AGENT.into(),
        ..ClientSettings::default()
    };
    let seconds = |key: &str, secs: u64| in_range(key, secs, 1..=3600).map(Duration::from_secs);
    if let Some(secs) = raw.attempt_timeout_secs {
        client.attempt_timeout = seconds("crusoe.attempt_timeout_secs", secs)?;
    }
    if let Some(secs) = raw.call_deadline_secs {
        client.call_deadline = seconds("crusoe.call_deadline_secs", secs)?;
    }
    if let Some(n) = raw.max_attempts {
        client.retry = RetryPolicy {
            max_attempts: in_range("crusoe.max_attempts", n, 1..=20)?,
            ..client.retry
        };
    }
    Ok(CrusoeConfig {
        client,
        credentials,
        project_id,
    })
}

fn endpoint(value: &str) -> Result<Url, SettingError> {
    crate::setting_error::api_endpoint("crusoe.api_endpoint", value)
}

/// Advice for an operator whose endpoint names Crusoe's old API, once at start-up.
pub fn endpoint_advice(endpoint: &Url) -> Option<String> {
    crusoe_sdk::endpoint_advice(endpoint)
}

/// What a profile of Crusoe's config file sets, by the keys of the `[crusoe]` table.
pub fn profile_values(profile: &Profile) -> [(&'static str, Option<String>); 4] {
    [
        ("crusoe.access_key_id", profile.access_key_id.clone()),
        (
            "crusoe.secret_key",
            profile
                .secret_key
                .as_ref()
                .map(|s| s.expose_secret().to_string()),
        ),
        ("crusoe.default_project", profile.default_project.clone()),
        ("crusoe.api_endpoint", profile.api_endpoint.clone()),
    ]
}
