//! Native HTTPS, for operators without a proxy in front: rustls on ring, certificate and key from
//! PEM files, read and checked before serving.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsFiles;
use crate::setting_error::SettingError;

fn invalid(key: &str, reason: String) -> SettingError {
    SettingError::new(key, reason)
}

/// The server configuration for `files`; the error names the setting (`tls_cert`, `tls_key`).
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, SettingError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| invalid("tls_cert", format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(invalid(
            "tls_cert",
            format!("{}: no certificate in it", files.cert.display()),
        ));
    }
    // The error names the file, never its content.
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        invalid(
            "tls_key",
            format!("{}: not a PEM private key ({e})", files.key.display()),
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid("tls_cert", e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        invalid(
            "tls_key",
            format!("does not match the certificate or is unusable: {e}"),
        )
    })?;
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
