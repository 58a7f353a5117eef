//! The IAL's HTTP surface: Cycle's ten endpoints (GET or POST where Cycle's sources disagree, the
//! `provision-check` alias), health, and Cycle-shaped answers for everything that goes wrong,
//! including unknown paths and methods and oversized bodies. What each endpoint does is the
//! [`Provider`]'s business.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::telemetry::metrics as names;

use super::request::{decode, decode_auth_only, Call, Wrapping};
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

/// How successful answers are shaped: Cycle's prose guide wants `{data, error}`, its OpenAPI shows
/// bare payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    Wrapped,
    Bare,
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
        }
    }
}

struct AppState<P> {
    provider: Arc<P>,
    options: IalOptions,
}

impl<P> Clone for AppState<P> {
    fn clone(&self) -> Self {
        Self {
            provider: Arc::clone(&self.provider),
            options: self.options,
        }
    }
}

pub fn router<P: Provider>(provider: Arc<P>, options: IalOptions) -> Router {
    let state = AppState { provider, options };
    let limits = Arc::new(Limits {
        in_flight: Semaphore::new(options.max_in_flight),
        max_header_bytes: options.max_header_bytes,
        max_headers: options.max_headers,
        timeout: options.request_timeout,
    });
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
    // Installs the recorder before any request (what is recorded without one is lost), with each
    // route's series at zero.
    crate::telemetry::metrics::register_endpoints(&routes.each_ref().map(|(path, _)| *path));
    let api = routes
        .into_iter()
        .fold(Router::new(), |api, (path, handler)| {
            api.route(path, handler)
        })
        // The last layer added runs first: measure, then limit, then read the body.
        .layer(DefaultBodyLimit::max(options.body_limit))
        .route_layer(from_fn_with_state(limits, limit))
        .route_layer(from_fn(measure))
        .route("/readyz", get(readyz::<P>))
        .with_state(state);
    with_basics(api)
}

struct Limits {
    in_flight: Semaphore,
    timeout: Duration,
    max_header_bytes: usize,
    max_headers: usize,
}

/// Refuses requests with more or larger headers than allowed. The HTTP server's own limits sit
/// above these (see `serve`), so a caller normally gets this answer in Cycle's shape.
fn check_headers(limits: &Limits, request: &Request) -> Result<(), IalError> {
    let headers = request.headers();
    let too_large = |detail: String| {
        IalError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request headers too large",
            detail,
        )
    };
    if headers.len() > limits.max_headers {
        return Err(too_large(format!(
            "the request carries {} header fields; at most {} are accepted",
            headers.len(),
            limits.max_headers
        )));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(too_large(format!(
            "the request's headers total {bytes} bytes; at most {} are accepted",
            limits.max_header_bytes
        )));
    }
    Ok(())
}

/// Sheds load beyond the concurrency limit and bounds each request's time, in Cycle's terms.
async fn limit(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    if let Err(error) = check_headers(&limits, &request) {
        return error.into_response();
    }
    let Ok(_permit) = limits.in_flight.try_acquire() else {
        return IalError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Overloaded",
            "the bridge is serving as many requests as it allows; retry shortly",
        )
        .with_retry_after(1)
        .into_response();
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => IalError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "request-timeout",
            "Request timed out",
            format!(
                "the request took longer than {}s; retry, and the work continues where it stopped",
                limits.timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Counts and times each IAL request by route and status.
async fn measure(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(names::IAL_REQUESTS, "endpoint" => endpoint.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(names::IAL_DURATION, "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Readiness: the configuration was valid (or the process would not serve) and the provider says
/// it can work.
async fn readyz<P: Provider>(State(s): State<AppState<P>>) -> Response {
    match s.provider.readiness().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(why) => IalError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            why,
        )
        .into_response(),
    }
}

async fn metrics_text() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics::render(),
    )
        .into_response()
}

/// Health, metrics, request ids and logging, and Cycle-shaped answers for unknown paths and wrong
/// methods on every route.
fn with_basics(router: Router) -> Router {
    router
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_request(())
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
}

/// Each request's span: its id (Cycle's `x-request-id` or a new one), method and path; the hub
/// and server are recorded once the body is read.
fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(64).collect::<String>())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        hub_id = tracing::field::Empty,
        server_id = tracing::field::Empty,
    )
}

/// Ids from outside, made safe to log: bounded, and only the characters ids are made of.
fn loggable(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Records who a call is for on the request's span.
fn record_ids(auth: Option<&Auth>, server: Option<&str>) {
    let span = Span::current();
    if let Some(hub) = auth
        .and_then(|a| a.cycle.as_ref())
        .and_then(|c| c.hub_id.as_deref())
    {
        span.record("hub_id", loggable(hub));
    }
    if let Some(server) = server {
        span.record("server_id", loggable(server));
    }
}

/// The server a request is about, for logs.
trait ServerHint {
    fn server_hint(&self) -> Option<&str>;
}

impl ServerHint for ConfigureLocation {
    fn server_hint(&self) -> Option<&str> {
        None
    }
}

impl ServerHint for ProvisionServer {
    fn server_hint(&self) -> Option<&str> {
        Some(&self.cycle.server_id)
    }
}

impl ServerHint for ProvisionStatus {
    fn server_hint(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

impl ServerHint for ServerRef {
    fn server_hint(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

impl ServerHint for AllocateIp {
    fn server_hint(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

impl ServerHint for ReleaseIp {
    fn server_hint(&self) -> Option<&str> {
        self.server_id.as_deref()
    }
}

/// Decodes a call with a payload and records its ids.
fn decoded<T: DeserializeOwned + ServerHint>(
    b: Result<Bytes, BytesRejection>,
    wrapping: Wrapping,
) -> Result<Call<T>, IalError> {
    let call: Call<T> = decode(&body(b)?, wrapping)?;
    record_ids(call.auth.as_ref(), call.request.server_hint());
    Ok(call)
}

/// Decodes a call without a payload and records its hub.
fn decoded_auth(b: Result<Bytes, BytesRejection>) -> Result<Option<Auth>, IalError> {
    let auth = decode_auth_only(&body(b)?)?;
    record_ids(auth.as_ref(), None);
    Ok(auth)
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

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, IalError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            IalError::new(
                status,
                "payload-too-large",
                "Payload too large",
                "the request body is larger than this server accepts",
            )
        } else {
            IalError::new(
                status,
                "invalid-body",
                "Invalid body",
                rejection.body_text(),
            )
        }
    })
}

/// `{"data": <payload>, "error": null}`, serialised straight from the payload.
#[derive(Serialize)]
struct Wrapped<'a, T> {
    data: &'a T,
    error: Option<()>,
}

/// A pre-rendered payload, copied once into a body of exactly its size.
fn respond_rendered<T>(envelope: Envelope, result: Result<Rendered<T>, IalError>) -> Response {
    match result {
        Ok(payload) => {
            let json = payload.as_str();
            let body = match envelope {
                Envelope::Wrapped => {
                    const HEAD: &str = "{\"data\":";
                    const TAIL: &str = ",\"error\":null}";
                    let mut out = String::with_capacity(HEAD.len() + json.len() + TAIL.len());
                    out.push_str(HEAD);
                    out.push_str(json);
                    out.push_str(TAIL);
                    out
                }
                Envelope::Bare => json.to_string(),
            };
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response()
        }
        Err(error) => respond::<()>(envelope, Err(error)),
    }
}

fn respond<T: Serialize>(envelope: Envelope, result: Result<T, IalError>) -> Response {
    match result {
        Ok(payload) => match envelope {
            Envelope::Wrapped => Json(Wrapped {
                data: &payload,
                error: None,
            })
            .into_response(),
            Envelope::Bare => Json(payload).into_response(),
        },
        Err(error) => {
            if error.status.is_server_error() {
                tracing::warn!(
                    status = error.status.as_u16(),
                    code = error.slug,
                    "answering Cycle with an error: {}",
                    error.detail
                );
            } else {
                tracing::info!(
                    status = error.status.as_u16(),
                    code = error.slug,
                    "answering Cycle with an error: {}",
                    error.detail
                );
            }
            error.into_response()
        }
    }
}

async fn verify<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.verify(decoded_auth(b)?).await }.await;
    respond(s.options.envelope, result)
}

async fn locations<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.locations(decoded_auth(b)?).await }.await;
    respond_rendered(s.options.envelope, result)
}

async fn server_models<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.server_models(decoded_auth(b)?).await }.await;
    respond_rendered(s.options.envelope, result)
}

async fn configure<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .configure_location(decoded(b, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn provision<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.provision(decoded(b, Wrapping::Required)?).await }.await;
    respond(s.options.envelope, result)
}

async fn provision_status<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .provision_status(decoded(b, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn restart<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.restart(decoded(b, Wrapping::Required)?).await }.await;
    respond(s.options.envelope, result)
}

async fn decommission<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .decommission(decoded(b, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn allocate<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .allocate_ip(decoded(b, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn release<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.release_ip(decoded(b, Wrapping::Optional)?).await }.await;
    respond(s.options.envelope, result)
}
