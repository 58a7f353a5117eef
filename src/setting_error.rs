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
