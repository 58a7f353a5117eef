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
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        crusoe_endpoint = %config.crusoe.client.endpoint,
        credentials = ?config.bridge.credentials,
        ip_strategy = ?config.bridge.ips.strategy,
        "serving"
    );
    let app = crate::ial::router(Arc::new(bridge), config.ial);
    let stopping = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&stopping);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        crate::shutdown::signal().await;
        tracing::info!(
            grace_secs = config.shutdown_grace.as_secs(),
            "shutdown signal received: no new connections, finishing requests in flight"
        );
        notify.notify_one();
    });
    let grace = async {
        stopping.notified().await;
        tokio::time::sleep(config.shutdown_grace).await;
    };
    tokio::select! {
        served = server => served?,
        _ = grace => tracing::warn!("grace period over: exiting with requests still in flight; Cycle retries them"),
    }
    Ok(())
}
