//! `crusoe-ial serve`: the HTTP server, with graceful shutdown on SIGTERM and SIGINT.

use tokio::net::TcpListener;

use crate::config::Config;

pub async fn run(config: Config) -> std::io::Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        crusoe_endpoint = %config.crusoe.client.endpoint,
        server_held_credentials = config.crusoe.credentials.is_some(),
        "serving"
    );
    axum::serve(listener, crate::ial::router())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    crate::shutdown::signal().await;
    tracing::info!("shutdown signal received, finishing requests in flight");
}
