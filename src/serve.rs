//! `crusoe-ial serve`: the IAL server on the bridge, with graceful shutdown on SIGTERM and SIGINT.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::bridge::Bridge;
use crate::config::{Config, ConfigError};
use crate::crusoe::ClientPool;

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
    let app = crate::ial::router(Arc::new(bridge), config.ial);
    crate::telemetry::metrics::spawn_upkeep();
    let grace = config.shutdown_grace;
    match tls {
        None => serve_http(tokio::net::TcpListener::from_std(listener)?, app, grace).await,
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                stopping(grace).await;
                stopper.graceful_shutdown(Some(grace));
            });
            axum_server::from_tcp_rustls(
                listener,
                axum_server::tls_rustls::RustlsConfig::from_config(tls),
            )?
            .handle(handle)
            .serve(app.into_make_service())
            .await?;
            Ok(())
        }
    }
}

async fn stopping(grace: std::time::Duration) {
    crate::shutdown::signal().await;
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutdown signal received: no new connections, finishing requests in flight"
    );
}

async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    grace: std::time::Duration,
) -> Result<(), ServeError> {
    let stopped = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&stopped);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        stopping(grace).await;
        notify.notify_one();
    });
    let deadline = async {
        stopped.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served?,
        _ = deadline => tracing::warn!("grace period over: exiting with requests still in flight; Cycle retries them"),
    }
    Ok(())
}
