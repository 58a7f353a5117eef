//! Every setting as the layers give it, before validation: the shape of our TOML file, which the
//! other layers fill by the same keys. Unknown keys are refused, so that a typo does not silently
//! fall back to a default.

use std::path::PathBuf;

use serde::Deserialize;

use super::BridgeSettings;
use crate::backends::cloudsigma::config::RawCloudSigma;
use crate::backends::crusoe::config::RawCrusoe;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    /// Which cloud serves: `crusoe` or `cloudsigma`.
    pub backend: Option<String>,
    pub listen: Option<String>,
    pub log_format: Option<String>,
    /// `wrapped` (`{data, error}`) or `bare`.
    pub envelope: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub max_in_flight: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    pub header_read_timeout_secs: Option<u64>,
    pub body_read_timeout_secs: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub shutdown_grace_secs: Option<u64>,
    #[serde(default)]
    pub crusoe: RawCrusoe,
    #[serde(default)]
    pub cloudsigma: RawCloudSigma,
    #[serde(default)]
    pub bridge: BridgeSettings,
    #[serde(default)]
    pub cycloid: crate::cycloid::CycloidSettings,
}
