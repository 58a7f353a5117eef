//! `crusoe-ial serve`: the IAL server on the bridge, with graceful shutdown on SIGTERM and SIGINT.
//! Building what is served ([`app`]) and serving it on a listener bound before ([`serve_on`]) are
//! apart, so that tests, the demo and the process all run the same server, and a caller that asked
//! for port 0 knows the port before anyone connects.

use std::convert::Infallible;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use crate::backends::cloudsigma::{CloudSigma, CloudSigmaConfig};
use crate::backends::crusoe::config::{endpoint_advice, ClientSettings, Credentials};
use crate::backends::crusoe::Crusoe;
use crate::backends::BackendName;
use crate::config::{BridgeSettings, Config, ConfigError, SettingError};
use crate::core::{Core, CredentialsMode};
use crate::cycloid::Told;
use crate::ial::IalOptions;
use crate::telemetry::metrics::Metrics;
use axum::Router;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What the served app is built from: the parts of the configuration the bridge and the IAL
/// router use. Tests fill it in directly; `serve` takes it from its [`Config`].
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub client: ClientSettings,
    /// The operator's own credentials and project (server-held mode).
    pub server_held: Option<(Credentials, String)>,
    pub bridge: BridgeSettings,
    pub ial: IalOptions,
    /// Serve CloudSigma, with this configuration, instead of Crusoe.
    pub cloudsigma: Option<CloudSigmaConfig>,
}

impl AppSettings {
    pub fn from_config(config: &Config) -> Self {
        let server_held = match (&config.crusoe.credentials, &config.crusoe.project_id) {
            (Some(c), Some(p)) => Some((c.clone(), p.clone())),
            _ => None,
        };
        Self {
            client: config.crusoe.client.clone(),
            server_held,
            bridge: config.bridge.clone(),
            ial: config.ial,
            cloudsigma: (config.backend == BackendName::CloudSigma)
                .then(|| config.cloudsigma.clone()),
        }
    }

    /// The bridge as configured; a setting it cannot use is an error naming it (which
    /// [`Config::invalid`] turns into one naming where the value came from).
    pub fn bridge(&self) -> Result<Bridge, SettingError> {
        bridge(&self.bridge, self.client.clone(), self.server_held.clone())
    }
}

/// The bridge `settings` describe, on Crusoe reached with `client`, with the operator's key pair
/// and project when given; a setting it cannot use is an error naming it.
pub fn bridge(
    settings: &BridgeSettings,
    client: ClientSettings,
    server_held: Option<(Credentials, String)>,
) -> Result<Bridge, SettingError> {
    settings.validate()?;
    if settings.credentials == CredentialsMode::ServerHeld && server_held.is_none() {
        return Err(SettingError::new(
            "crusoe.access_key_id",
            "server-held credentials need CRUSOE_ACCESS_KEY_ID, CRUSOE_SECRET_KEY and CRUSOE_DEFAULT_PROJECT",
        ));
    }
    let crusoe = Crusoe::new(settings.crusoe(), client, server_held)?;
    let core = Core::new(settings.core(), crusoe)?;
    Told::new(core, &settings.cycloid)
}

/// What serves Cycle: the core on its backend, telling Cycloid each server's story.
pub type Bridge = Told<Crusoe>;

/// The bridge on CloudSigma that `settings` and `config` describe; a setting it cannot use is an
/// error naming it.
pub fn cloudsigma_bridge(
    settings: &BridgeSettings,
    config: CloudSigmaConfig,
) -> Result<Told<CloudSigma>, SettingError> {
    settings.cycloid.validate()?;
    settings.core().validate()?;
    if settings.credentials == CredentialsMode::ServerHeld && config.operator.is_none() {
        return Err(SettingError::new(
            "cloudsigma.username",
            "server-held credentials need CLOUDSIGMA_USERNAME and CLOUDSIGMA_PASSWORD (or CLOUDSIGMA_TOKEN)",
        ));
    }
    let backend = CloudSigma::new(
        config,
        settings.boot.ipxe_url.clone(),
        settings.boot.ipxe_sha256.clone(),
    )?;
    let core = Core::new(settings.core(), backend)?;
    Told::new(core, &settings.cycloid)
}

/// Builds the bridge `config` sets up, on the backend it names, to check that it can serve.
pub fn check_bridge(config: &Config) -> Result<(), ConfigError> {
    let settings = AppSettings::from_config(config);
    match settings.cloudsigma {
        Some(cs) => cloudsigma_bridge(&settings.bridge, cs).map(drop),
        None => settings.bridge().map(drop),
    }
    .map_err(|e| config.invalid(e))
}

/// What the server drains after its last answer: the bridge's side channels (Cycloid), whatever
/// the backend.
trait Drains: Send + Sync {
    fn drain(
        &self,
        deadline: tokio::time::Instant,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<B: crate::core::Backend> Drains for Told<B> {
    fn drain(
        &self,
        deadline: tokio::time::Instant,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(Told::drain(self, deadline))
    }
}

/// Everything that is served: the bridge behind the IAL router and its layers, the metrics it
/// renders, and the limits the HTTP server itself enforces.
pub struct App {
    router: Router,
    ial: IalOptions,
    metrics: Metrics,
    bridge: Arc<dyn Drains>,
}

/// The longest the side channels may deliver what they hold after the last answer: within
/// Kubernetes' default 30 s between SIGTERM and SIGKILL, with the requests' own grace.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// Builds the app. This is where the process's metrics recorder is installed, before anything
/// records.
pub fn app(settings: &AppSettings) -> Result<App, SettingError> {
    let metrics = crate::telemetry::metrics::install(&[
        crate::backends::crusoe::metrics::describe,
        crate::backends::cloudsigma::metrics::describe,
    ]);
    let (router, bridge): (Router, Arc<dyn Drains>) = match &settings.cloudsigma {
        None => {
            let bridge = Arc::new(settings.bridge()?);
            (
                crate::ial::router(bridge.clone(), settings.ial, metrics),
                bridge,
            )
        }
        Some(cs) => {
            // A wait that outlasts Cycle's request is cut off by the request's time limit at
            // whatever point it reached.
            let budget = settings.ial.request_timeout.as_secs();
            if cs.settings.wait_secs + 30 > budget {
                return Err(SettingError::new(
                    "cloudsigma.wait_secs",
                    format!(
                        "{}s leaves too little of the {budget}s request time limit (request_timeout_secs): keep it at least 30s below",
                        cs.settings.wait_secs
                    ),
                ));
            }
            let bridge = Arc::new(cloudsigma_bridge(&settings.bridge, cs.clone())?);
            (
                crate::ial::router(bridge.clone(), settings.ial, metrics),
                bridge,
            )
        }
    };
    Ok(App {
        router,
        ial: settings.ial,
        metrics,
        bridge,
    })
}

/// A listener on `addr` (port 0: any free one), ready for [`serve_on`].
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `app` on `listener`, over TLS when given, until `stop` resolves; then no new
/// connection is accepted, requests in flight have `grace` to finish, and the side channels
/// (Cycloid) up to `grace` more, at most 10 s, to deliver what those requests queued.
pub async fn serve_on(
    listener: TcpListener,
    app: App,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    let stopping = async move {
        stop.await;
        stopper.graceful_shutdown(Some(grace));
        std::future::pending::<Infallible>().await
    };
    let service = app.router.into_make_service();
    let served = async {
        match tls {
            None => {
                let mut server = axum_server::from_tcp(listener)?.handle(handle);
                transport_limits(server.http_builder(), &app.ial);
                server.serve(service).await
            }
            Some(tls) => {
                let mut server = axum_server::from_tcp_rustls(
                    listener,
                    axum_server::tls_rustls::RustlsConfig::from_config(tls),
                )?
                .handle(handle);
                transport_limits(server.http_builder(), &app.ial);
                server.serve(service).await
            }
        }
    };
    // The stop watch and the metrics upkeep live as long as the server, not beyond it: tests
    // serve and drop many in one process.
    let served = tokio::select! {
        served = served => served,
        never = stopping => match never {},
        never = app.metrics.upkeep() => match never {},
    };
    app.bridge
        .drain(tokio::time::Instant::now() + grace.min(DRAIN_MAX))
        .await;
    served
}

pub async fn run(config: Config) -> Result<(), ServeError> {
    let app = app(&AppSettings::from_config(&config)).map_err(|e| config.invalid(e))?;
    let tls = config
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()
        .map_err(|e| config.invalid(e))?;
    let listener = bind(config.listen)?;
    let grace = config.shutdown_grace;
    // Before the line below: whoever reads it may signal at once.
    let stop = stopping(grace);
    if let Some(advice) = endpoint_advice(&config.crusoe.client.endpoint) {
        tracing::warn!("{advice}");
    }
    // With port 0 this line is the only place the port is told: `listening_on` reads it back.
    tracing::info!(
        listen = %listener.local_addr()?,
        https = tls.is_some(),
        backend = config.backend.name(),
        crusoe_endpoint = %config.crusoe.client.endpoint,
        credentials = ?config.bridge.credentials,
        ip_strategy = ?config.bridge.ips.strategy,
        "serving"
    );
    serve_on(listener, app, tls, stop, grace).await?;
    Ok(())
}

/// The address in `serve`'s "serving" line, when `line` is that line as the JSON log format
/// writes it; for whoever started the process on port 0 and reads its log.
pub fn listening_on(line: &str) -> Option<SocketAddr> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    if event["message"] != "serving" {
        return None;
    }
    event["listen"].as_str()?.parse().ok()
}

/// The HTTP server's own limits: a slow client is cut off after the header read timeout, and
/// header limits sit above the router's (which answer in Cycle's shape) as a hard backstop.
fn transport_limits(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    ial: &IalOptions,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(ial.header_read_timeout)
        .max_headers(ial.max_headers * 2)
        .max_buf_size((ial.max_header_bytes * 4).max(64 * 1024));
}

/// Resolves at SIGTERM or SIGINT, whose handlers are installed at the call.
fn stopping(grace: Duration) -> impl Future<Output = ()> {
    let signal = crate::shutdown::signal();
    async move {
        signal.await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutdown signal received: no new connections, finishing requests in flight"
        );
    }
}
