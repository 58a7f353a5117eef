//! From the settings as given to the typed configuration: each value parsed and checked once.
//! The checks name the setting by its key; [`Origins::invalid`] adds where its value came from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::error::{in_range, ConfigError, SettingError};
use super::schema::Raw;
use super::sources::Origins;
use super::{Config, CrusoeConfig, LogFormat, TlsFiles, DEFAULT_LISTEN};
use crate::backends::cloudsigma::config::cloudsigma_config;
use crate::backends::crusoe::config::{crusoe_config, RawCrusoe};
use crate::backends::BackendName;
use crate::ial::{Envelope, IalOptions};

pub(super) fn config(raw: Raw, origins: Origins) -> Result<Config, ConfigError> {
    let invalid = |e: SettingError| origins.invalid(e);
    let backend = match raw.backend.as_deref() {
        None => BackendName::default(),
        Some(name) => choice(
            "backend",
            name,
            &[
                ("crusoe", BackendName::Crusoe),
                ("cloudsigma", BackendName::CloudSigma),
            ],
        )
        .map_err(invalid)?,
    };
    let listen = listen(raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN)).map_err(invalid)?;
    let log_format = match raw.log_format.as_deref() {
        None => LogFormat::Text,
        Some(format) => choice(
            "log_format",
            format,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        )
        .map_err(invalid)?,
    };
    let shutdown_grace = match raw.shutdown_grace_secs {
        None => Duration::from_secs(30),
        Some(secs) => {
            Duration::from_secs(in_range("shutdown_grace_secs", secs, 0..=600).map_err(invalid)?)
        }
    };
    let tls = tls(raw.tls_cert.clone(), raw.tls_key.clone()).map_err(invalid)?;
    let ial = ial(&raw).map_err(invalid)?;
    let crusoe = crusoe(raw.crusoe, &origins)?;
    let cloudsigma = cloudsigma_config(raw.cloudsigma).map_err(invalid)?;
    let mut bridge = raw.bridge;
    bridge.cycloid = raw.cycloid;
    bridge.validate().map_err(invalid)?;
    Ok(Config {
        backend,
        listen,
        log_format,
        shutdown_grace,
        tls,
        crusoe,
        cloudsigma,
        ial,
        bridge,
        origins,
    })
}

fn listen(value: &str) -> Result<SocketAddr, SettingError> {
    value.trim().parse().map_err(|_| {
        SettingError::new(
            "listen",
            format!("{value:?} is not a socket address like 0.0.0.0:8080"),
        )
    })
}

/// The option `value` names, in any case.
fn choice<T: Copy>(key: &str, value: &str, options: &[(&str, T)]) -> Result<T, SettingError> {
    let wanted = value.trim().to_ascii_lowercase();
    options
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, option)| *option)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            SettingError::new(key, format!("{value:?} is not one of {}", names.join(", ")))
        })
}

fn tls(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<TlsFiles>, SettingError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (Some(_), None) => Err(SettingError::new(
            "tls_cert",
            "a TLS certificate needs its key (--tls-key)",
        )),
        (None, Some(_)) => Err(SettingError::new(
            "tls_key",
            "a TLS key needs its certificate (--tls-cert)",
        )),
    }
}

fn ial(raw: &Raw) -> Result<IalOptions, SettingError> {
    let mut ial = IalOptions::default();
    if let Some(envelope) = &raw.envelope {
        ial.envelope = choice(
            "envelope",
            envelope,
            &[("wrapped", Envelope::Wrapped), ("bare", Envelope::Bare)],
        )?;
    }
    if let Some(n) = raw.body_limit_bytes {
        ial.body_limit = in_range("body_limit_bytes", n, 1024..=16 * 1024 * 1024)?;
    }
    if let Some(secs) = raw.request_timeout_secs {
        ial.request_timeout =
            Duration::from_secs(in_range("request_timeout_secs", secs, 10..=3600)?);
    }
    if let Some(n) = raw.max_in_flight {
        ial.max_in_flight = in_range("max_in_flight", n, 1..=100_000)?;
    }
    if let Some(n) = raw.max_header_bytes {
        ial.max_header_bytes = in_range("max_header_bytes", n, 1024..=1024 * 1024)?;
    }
    if let Some(n) = raw.max_headers {
        ial.max_headers = in_range("max_headers", n, 8..=1000)?;
    }
    if let Some(secs) = raw.body_read_timeout_secs {
        ial.body_read_timeout =
            Duration::from_secs(in_range("body_read_timeout_secs", secs, 1..=300)?);
    }
    if let Some(secs) = raw.header_read_timeout_secs {
        ial.header_read_timeout =
            Duration::from_secs(in_range("header_read_timeout_secs", secs, 1..=300)?);
    }
    Ok(ial)
}

fn crusoe(raw: RawCrusoe, origins: &Origins) -> Result<CrusoeConfig, ConfigError> {
    let missing = |key: &str, other: &str| {
        let var = super::env::var_for(key).map_or("", |v| v.name);
        SettingError::new(
            key,
            format!(
                "missing (set {var}, or the key in a file), while {} is set",
                origins.place(other)
            ),
        )
    };
    crusoe_config(raw, &missing).map_err(|e| origins.invalid(e))
}
