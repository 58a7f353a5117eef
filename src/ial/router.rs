//! The IAL's HTTP surface: Cycle's ten endpoints (GET or POST where Cycle's sources disagree, the
//! `provision-check` alias), health, and Cycle-shaped answers for everything that goes wrong,
//! including unknown paths and methods and oversized bodies. What each endpoint does is the
//! [`Provider`]'s business.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use tower_http::trace::TraceLayer;

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
    ) -> impl Future<Output = Result<LocationsResponse, IalError>> + Send;
    fn server_models(
        &self,
        auth: Option<Auth>,
    ) -> impl Future<Output = Result<ServerModelsResponse, IalError>> + Send;
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
}

impl Default for IalOptions {
    fn default() -> Self {
        Self {
            envelope: Envelope::Wrapped,
            body_limit: 256 * 1024,
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
    let api = Router::new()
        .route("/v1/auth/verify", post(verify::<P>))
        .route(
            "/v1/infrastructure/provider/locations",
            get(locations::<P>).post(locations::<P>),
        )
        .route(
            "/v1/infrastructure/provider/server-models",
            get(server_models::<P>).post(server_models::<P>),
        )
        .route("/v1/location/configure", post(configure::<P>))
        .route("/v1/infrastructure/server/provision", post(provision::<P>))
        .route(
            "/v1/infrastructure/server/provision-status",
            get(provision_status::<P>).post(provision_status::<P>),
        )
        .route(
            "/v1/infrastructure/server/provision-check",
            get(provision_status::<P>).post(provision_status::<P>),
        )
        .route("/v1/infrastructure/server/restart", post(restart::<P>))
        .route(
            "/v1/infrastructure/server/decommission",
            post(decommission::<P>),
        )
        .route("/v1/infrastructure/ip/allocate", post(allocate::<P>))
        .route("/v1/infrastructure/ip/release", post(release::<P>))
        .layer(DefaultBodyLimit::max(options.body_limit))
        .with_state(state);
    with_basics(api)
}

/// Health, and Cycle-shaped answers for unknown paths and wrong methods on every route.
fn with_basics(router: Router) -> Router {
    router
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http())
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

fn respond<T: Serialize>(envelope: Envelope, result: Result<T, IalError>) -> Response {
    match result {
        Ok(payload) => match envelope {
            Envelope::Wrapped => Json(json!({ "data": payload, "error": null })).into_response(),
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
    let result = async { s.provider.verify(decode_auth_only(&body(b)?)?).await }.await;
    respond(s.options.envelope, result)
}

async fn locations<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.locations(decode_auth_only(&body(b)?)?).await }.await;
    respond(s.options.envelope, result)
}

async fn server_models<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async { s.provider.server_models(decode_auth_only(&body(b)?)?).await }.await;
    respond(s.options.envelope, result)
}

async fn configure<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .configure_location(decode(&body(b)?, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn provision<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .provision(decode(&body(b)?, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn provision_status<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .provision_status(decode(&body(b)?, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn restart<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .restart(decode(&body(b)?, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn decommission<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .decommission(decode(&body(b)?, Wrapping::Required)?)
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
            .allocate_ip(decode(&body(b)?, Wrapping::Required)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}

async fn release<P: Provider>(
    State(s): State<AppState<P>>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        s.provider
            .release_ip(decode(&body(b)?, Wrapping::Optional)?)
            .await
    }
    .await;
    respond(s.options.envelope, result)
}
