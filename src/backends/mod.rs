//! The clouds the core can drive, one folder each, each reached only through
//! [`crate::core::Backend`]. A new backend goes in a folder of its own here, with its settings
//! in its own table, and is named in [`BackendName`].

pub mod cloudsigma;
pub mod crusoe;

use serde::Deserialize;

/// Which backend serves (`backend` in the file, `IAL_BACKEND` in the environment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendName {
    #[default]
    Crusoe,
    #[serde(rename = "cloudsigma")]
    CloudSigma,
}

impl BackendName {
    /// As `backend` and `IAL_BACKEND` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crusoe => crusoe::INFO.name,
            Self::CloudSigma => cloudsigma::INFO.name,
        }
    }
}
