//! `crusoe-ial serve`: the IAL server on the bridge, with graceful shutdown on SIGTERM and SIGINT.

use std::sync::Arc;

use crate::bridge::Bridge;
use crate::config::{Config, ConfigError};
use crusoe_sdk::ClientPool;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The bridge as configured; a setting it cannot use is a configuration error naming it.
pub fn build_bridge(config: &Config) -> Result<Bridge, ConfigError> {
    let pool = ClientPool::new(config.crusoe.client.clone()).map_err(|e| ConfigError {
        field: "crusoe".into(),
        reason: e.to_string(),
    })?;
    let server_held = match (&config.crusoe.credentials, &config.crusoe.project_id) {
        (Some(c), Some(p)) => Some((c.clone(), p.clone())),
        _ => None,
    };
    Bridge::new(config.bridge.clone(), pool, server_held)
        .map_err(|(field, reason)| ConfigError { field, reason })
}

pub async fn run(config: Config) -> Result<(), ServeError> {
    let bridge = build_bridge(&config)?;
    let tls = config
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    let listener = std::net::TcpListener::bind(config.listen)?;
    listener.set_nonblocking(true)?;
    tracing::info!(
        listen = %listener.local_addr()?,
        https = tls.is_some(),
        crusoe_endpoint = %config.crusoe.client.endpoint,
        credentials = ?config.bridge.credentials,
        ip_strategy = ?config.bridge.ips.strategy,
        "serving"
    );
    // Installed before anything records: what is recorded without a recorder is lost.
    let metrics = crate::telemetry::metrics::install();
    let app = crate::ial::router(Arc::new(bridge), config.ial, metrics);
    tokio::spawn(metrics.upkeep());
    let grace = config.shutdown_grace;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        stopping(grace).await;
        stopper.graceful_shutdown(Some(grace));
    });
    match tls {
        None => {
            let mut server = axum_server::from_tcp(listener)?.handle(handle);
            transport_limits(server.http_builder(), &config.ial);
            server.serve(app.into_make_service()).await?;
        }
        Some(tls) => {
            let mut server = axum_server::from_tcp_rustls(
                listener,
                axum_server::tls_rustls::RustlsConfig::from_config(tls),
            )?
            .handle(handle);
            transport_limits(server.http_builder(), &config.ial);
            server.serve(app.into_make_service()).await?;
        }
    }
    Ok(())
}

/// The HTTP server's own limits: a slow client is cut off after the header read timeout, and
/// header limits sit above the router's (which answer in Cycle's shape) as a hard backstop.
fn transport_limits(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    ial: &crate::ial::IalOptions,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(ial.header_read_timeout)
        .max_headers(ial.max_headers * 2)
        .max_buf_size((ial.max_header_bytes * 4).max(64 * 1024));
}

async fn stopping(grace: std::time::Duration) {
    crate::shutdown::signal().await;
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutdown signal received: no new connections, finishing requests in flight"
    );
}
