//! The operator's `[cycloid]` table: the organisation every tenant's story goes to unless its
//! hub names its own (pass-through), and how delivery behaves. The key is read from the
//! environment only (`CY_API_KEY`, the name Cycloid's CLI reads).

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::setting_error::{in_range, SettingError};
use cycloid_sdk::{Organization, DEFAULT_URL};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CycloidSettings {
    /// The organisation's canonical; with `api_key`, turns the sink on for every tenant.
    pub organization: Option<String>,
    /// Environment only (`CY_API_KEY`): the loader refuses it in the file.
    pub api_key: Option<SecretString>,
    /// Cycloid's API.
    pub url: String,
    /// Other API URLs a hub's `auth.config` may name: nothing a request carries sends a key
    /// anywhere the operator did not allow.
    pub allowed_urls: Vec<String>,
    /// Deliveries waiting; beyond it, new ones are dropped (and counted).
    pub queue: usize,
    /// Deliveries made at once; one server's are always made in order by the same worker.
    pub workers: usize,
    /// How long one request to Cycloid may take.
    pub timeout_ms: u64,
    /// Attempts per delivery, with backoff between, before it is dropped.
    pub max_attempts: u32,
}

impl Default for CycloidSettings {
    fn default() -> Self {
        Self {
            organization: None,
            api_key: None,
            url: DEFAULT_URL.into(),
            allowed_urls: Vec::new(),
            queue: 1024,
            workers: 4,
            timeout_ms: 5000,
            max_attempts: 5,
        }
    }
}

/// An API URL: http(s), a host, no credentials, query or fragment.
pub fn api_url(key: &str, value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|e| format!("{key} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("{key} must be an http or https URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{key} must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{key} must not have a query or fragment"));
    }
    Ok(url)
}

/// The same API whatever the trailing slash.
pub fn same_api(a: &Url, b: &Url) -> bool {
    a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
}

impl CycloidSettings {
    pub fn validate(&self) -> Result<(), SettingError> {
        match (&self.organization, &self.api_key) {
            (Some(org), Some(_)) => {
                Organization::parse(org.trim())
                    .map_err(|e| SettingError::new("cycloid.organization", e.to_string()))?;
            }
            (Some(_), None) => {
                return Err(SettingError::new(
                    "cycloid.api_key",
                    "missing: set CY_API_KEY to a Cycloid API key of the organisation",
                ))
            }
            (None, Some(_)) => {
                return Err(SettingError::new(
                    "cycloid.organization",
                    "missing: set CY_ORG (or cycloid.organization) to the organisation's canonical",
                ))
            }
            (None, None) => {}
        }
        api_url("cycloid.url", &self.url).map_err(|e| SettingError::new("cycloid.url", e))?;
        for u in &self.allowed_urls {
            api_url("cycloid.allowed_urls", u)
                .map_err(|e| SettingError::new("cycloid.allowed_urls", e))?;
        }
        in_range("cycloid.queue", self.queue, 1..=1_000_000)?;
        in_range("cycloid.workers", self.workers, 1..=64)?;
        in_range("cycloid.timeout_ms", self.timeout_ms, 100..=60_000)?;
        in_range("cycloid.max_attempts", self.max_attempts, 1..=20)?;
        Ok(())
    }
}
