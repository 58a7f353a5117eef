//! The IAL's HTTP surface: Cycle's ten endpoints (GET or POST where Cycle's sources disagree, the
//! `provision-check` alias), health, and Cycle-shaped answers for everything that goes wrong,
//! including unknown paths and methods and oversized bodies. What each endpoint does is the
//! [`Provider`]'s business.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::telemetry::metrics::Metrics;

use super::answer::{Answer, Envelope};
use super::extract::NoPayload;
use super::layers;
use super::request::Call;
use super::types::*;
use super::IalError;

/// What serves the IAL's endpoints. Each method gets the decoded call and answers its payload
/// or an error in Cycle's terms.
pub trait Provider: Send + Sync + 'static {
    fn verify(
        &self,
        auth: Option<Auth>,
    ) -> impl Future<Output = Result<VerifyResponse, IalError>> + Send;
    fn locations(
        &self,
        auth: Option<Auth>,
    ) -> impl Future<Output = Result<Rendered<LocationsResponse>, IalError>> + Send;
    fn server_models(
        &self,
        auth: Option<Auth>,
    ) -> impl Future<Output = Result<Rendered<ServerModelsResponse>, IalError>> + Send;
    fn configure_location(
        &self,
        call: Call<ConfigureLocation>,
    ) -> impl Future<Output = Result<ConfigureLocationResponse, IalError>> + Send;
    fn provision(
        &self,
        call: Call<ProvisionServer>,
    ) -> impl Future<Output = Result<ProvisionResponse, IalError>> + Send;
    fn provision_status(
        &self,
        call: Call<ProvisionStatus>,
    ) -> impl Future<Output = Result<ProvisionStatusResponse, IalError>> + Send;
    fn restart(&self, call: Call<ServerRef>)
        -> impl Future<Output = Result<bool, IalError>> + Send;
    fn decommission(
        &self,
        call: Call<ServerRef>,
    ) -> impl Future<Output = Result<bool, IalError>> + Send;
    fn allocate_ip(
        &self,
        call: Call<AllocateIp>,
    ) -> impl Future<Output = Result<AllocateIpResponse, IalError>> + Send;
    fn release_ip(
        &self,
        call: Call<ReleaseIp>,
    ) -> impl Future<Output = Result<bool, IalError>> + Send;

    /// Whether the provider can serve now; the reason when not.
    fn readiness(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct IalOptions {
    pub envelope: Envelope,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest time one IAL request may take; longer than every deadline of the bridge.
    pub request_timeout: Duration,
    /// Requests served at once; more are answered 503 at once rather than queued.
    pub max_in_flight: usize,
    /// Largest total size of a request's header names and values, in bytes (431 beyond).
    pub max_header_bytes: usize,
    /// Most header fields a request may carry (431 beyond).
    pub max_headers: usize,
    /// Longest a client may take to send a request's headers; the connection is closed after.
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's body, once its headers are in: 408 and the
    /// connection closed after. The body is read before the request counts in flight.
    pub body_read_timeout: Duration,
}

impl Default for IalOptions {
    fn default() -> Self {
        Self {
            envelope: Envelope::Wrapped,
            body_limit: 256 * 1024,
            request_timeout: Duration::from_secs(180),
            max_in_flight: 512,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

struct AppState<P> {
    provider: Arc<P>,
    envelope: Envelope,
}

impl<P> Clone for AppState<P> {
    fn clone(&self) -> Self {
        Self {
            provider: Arc::clone(&self.provider),
            envelope: self.envelope,
        }
    }
}

impl<P> AppState<P> {
    fn answer<R>(&self, payload: R) -> Answer<R> {
        Answer::new(payload, self.envelope)
    }
}

/// The IAL's routes, limited, measured and observed; `/metrics` renders `metrics`, whose
/// recorder the caller installed (`serve` does).
pub fn router<P: Provider>(provider: Arc<P>, options: IalOptions, metrics: Metrics) -> Router {
    let state = AppState {
        provider,
        envelope: options.envelope,
    };
    let routes = [
        ("/v1/auth/verify", post(verify::<P>)),
        (
            "/v1/infrastructure/provider/locations",
            get(locations::<P>).post(locations::<P>),
        ),
        (
            "/v1/infrastructure/provider/server-models",
            get(server_models::<P>).post(server_models::<P>),
        ),
        ("/v1/location/configure", post(configure::<P>)),
        ("/v1/infrastructure/server/provision", post(provision::<P>)),
        (
            "/v1/infrastructure/server/provision-status",
            get(provision_status::<P>).post(provision_status::<P>),
        ),
        (
            "/v1/infrastructure/server/provision-check",
            get(provision_status::<P>).post(provision_status::<P>),
        ),
        ("/v1/infrastructure/server/restart", post(restart::<P>)),
        (
            "/v1/infrastructure/server/decommission",
            post(decommission::<P>),
        ),
        ("/v1/infrastructure/ip/allocate", post(allocate::<P>)),
        ("/v1/infrastructure/ip/release", post(release::<P>)),
    ];
    metrics.register_endpoints(&routes.each_ref().map(|(path, _)| *path));
    let api = routes
        .into_iter()
        .fold(Router::new(), |api, (path, handler)| {
            api.route(path, handler)
        });
    // Health, readiness and metrics are never shed nor timed: an orchestrator must see them
    // most when the bridge is busiest.
    let app = layers::limited(api, &options)
        .route("/readyz", get(readyz::<P>))
        .with_state(state)
        .route("/healthz", get(healthz))
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics.render(),
                )
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    layers::observed(app)
}

/// Readiness: the configuration was valid (or the process would not serve) and the provider says
/// it can work.
async fn readyz<P: Provider>(
    State(s): State<AppState<P>>,
) -> Result<Json<serde_json::Value>, IalError> {
    s.provider.readiness().await.map_err(|why| {
        IalError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            why,
        )
    })?;
    Ok(Json(json!({ "status": "ready" })))
}

/// Liveness: the process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn not_found(method: Method, uri: Uri) -> IalError {
    IalError::not_found(format!("no endpoint at {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> IalError {
    IalError::method_not_allowed(format!("{} does not accept {method}", uri.path()))
}

type Answered<R> = Result<Answer<R>, IalError>;

/// One handler per endpoint: the decoded call to the provider's method, its answer in the envelope.
macro_rules! handlers {
    ($($handler:ident($request:ty) -> $out:ty = $method:ident($arg:ident);)*) => {$(
        async fn $handler<P: Provider>(
            State(s): State<AppState<P>>,
            call: Call<$request>,
        ) -> Answered<$out> {
            Ok(s.answer(s.provider.$method(handlers!(@arg call $arg)).await?))
        }
    )*};
    (@arg $call:ident auth) => { $call.auth };
    (@arg $call:ident call) => { $call };
}

handlers! {
    verify(NoPayload) -> VerifyResponse = verify(auth);
    locations(NoPayload) -> Rendered<LocationsResponse> = locations(auth);
    server_models(NoPayload) -> Rendered<ServerModelsResponse> = server_models(auth);
    configure(ConfigureLocation) -> ConfigureLocationResponse = configure_location(call);
    provision(ProvisionServer) -> ProvisionResponse = provision(call);
    provision_status(ProvisionStatus) -> ProvisionStatusResponse = provision_status(call);
    restart(ServerRef) -> bool = restart(call);
    decommission(ServerRef) -> bool = decommission(call);
    allocate(AllocateIp) -> AllocateIpResponse = allocate_ip(call);
    release(ReleaseIp) -> bool = release_ip(call);
}
