//! A setting that cannot be used, named by its file key: what code outside the configuration
//! loader (the core, the backends, Cycloid, TLS) reports; the loader adds where the value came
//! from. A leaf module, so that the loader can depend on the modules that own the settings and
//! none of them on the loader.

use std::fmt;
use std::ops::RangeInclusive;

/// A setting that cannot be used: its key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct SettingError {
    pub key: String,
    pub reason: String,
}

impl SettingError {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// `value` of setting `key` if it lies in `range`: the one shape of every range check.
pub fn in_range<T: PartialOrd + fmt::Display>(
    key: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<T, SettingError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(SettingError::new(
            key,
            format!(
                "must be from {} to {}, not {value}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A cloud's API endpoint as an operator gives it (`key` names the setting): an http or https
/// URL with a host, and no credentials, query or fragment, which every call's path is added to.
pub fn api_endpoint(key: &str, value: &str) -> Result<url::Url, SettingError> {
    let fail = |reason: &str| SettingError::new(key, reason);
    let url = url::Url::parse(value.trim())
        .map_err(|e| SettingError::new(key, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(fail("must be an http or https URL"));
    }
    if url.host_str().is_none() {
        return Err(fail("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail("must not have a query or fragment"));
    }
    Ok(url)
}
