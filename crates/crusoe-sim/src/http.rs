//! The simulator's HTTP plumbing: Crusoe's error body and answer shapes, request-body checks, and
//! the middleware that counts calls, injects faults and checks signatures.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::auth::{self, SignedRequest};
use super::world::RequestFault;
use super::Sim;

/// Crusoe's error body as its OpenAPI documents it: the status in `code`, the slug in `message`
/// (`{"code":"429","message":"too_many_requests"}`), and here the words in `reason` and an
/// `error_id`, both fields of its `ErrorBody`.
#[derive(Debug)]
pub struct SimError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub reason: Option<String>,
}

impl SimError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            reason: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "unauthorized",
            "you do not have permission to access this resource",
        )
    }

    pub fn bad_credential(reason: &str) -> Self {
        Self {
            reason: Some(reason.to_string()),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "bad_credential",
                "invalid credentials",
            )
        }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let reason = self.reason.unwrap_or(self.message);
        let body = json!({
            "code": self.status.as_u16().to_string(),
            "message": self.code,
            "reason": reason,
            "error_id": uuid::Uuid::new_v4().to_string(),
        });
        (self.status, Json(body)).into_response()
    }
}

pub type SimResult = Result<Json<Value>, SimError>;

/// Crusoe's answer to a list: `{items}`.
pub fn items<T: Serialize>(items: impl IntoIterator<Item = T>) -> Json<Value> {
    Json(json!({"items": items.into_iter().collect::<Vec<_>>()}))
}

/// Crusoe's answer to a call that started an operation: `{operation}`.
pub fn operation(op: Value) -> SimResult {
    Ok(Json(json!({"operation": op})))
}

/// The authenticated caller's access key id.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// A request body as a JSON object.
pub fn object(body: &Bytes) -> Result<Map<String, Value>, SimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SimError::bad_request("request body must be a JSON object")),
        Err(e) => Err(SimError::bad_request(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// A required, non-empty string field.
pub fn required_str(map: &Map<String, Value>, key: &str) -> Result<String, SimError> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(SimError::bad_request(format!(
            "missing required field: {key}"
        ))),
        Some(_) => Err(SimError::bad_request(format!(
            "field {key} must be a string"
        ))),
    }
}

/// An optional string field; present but of another type is an error.
pub fn optional_str(map: &Map<String, Value>, key: &str) -> Result<Option<String>, SimError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SimError::bad_request(format!(
            "field {key} must be a string"
        ))),
    }
}

/// A required array field.
pub fn required_array<'a>(
    map: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Vec<Value>, SimError> {
    match map.get(key) {
        Some(Value::Array(a)) => Ok(a),
        None | Some(Value::Null) => Err(SimError::bad_request(format!(
            "missing required field: {key}"
        ))),
        Some(_) => Err(SimError::bad_request(format!(
            "field {key} must be an array"
        ))),
    }
}

/// The entries of an array field, each of which must be an object.
pub fn object_entries<'a>(
    list: &'a [Value],
    field: &'a str,
) -> impl Iterator<Item = Result<&'a Map<String, Value>, SimError>> {
    list.iter().map(move |entry| {
        entry
            .as_object()
            .ok_or_else(|| SimError::bad_request(format!("{field} entries must be objects")))
    })
}

/// Values of a comma-separated filter parameter.
pub fn list_param(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Counts every call by method and route, before anything else can answer it.
pub async fn count_calls(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let route = sim
        .base_paths
        .iter()
        .filter(|p| !p.is_empty())
        .find_map(|p| {
            route
                .strip_prefix(p.as_str())
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .unwrap_or(&route)
        .to_string();
    sim.count(format!("{} {route}", request.method()));
    next.run(request).await
}

/// Injects the configured faults: latency, 5xx, 429, cut connections, and answers lost after the
/// work was done.
pub async fn inject_faults(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let (latency, fault) = {
        let mut world = sim.world();
        (world.faults.latency_ms, world.draw_request_fault())
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        None => next.run(request).await,
        Some(RequestFault::ServerError(status)) => SimError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "internal_error",
            "internal error (injected fault)",
        )
        .into_response(),
        Some(RequestFault::RateLimited) => SimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many requests (injected fault)",
        )
        .into_response(),
        Some(RequestFault::ConnectionReset) => cut_connection(),
        Some(RequestFault::LostAnswer) => {
            let done = next.run(request).await;
            sim.count(format!("lost answer ({})", done.status().as_u16()));
            cut_connection()
        }
    }
}

/// Headers go out, then the body fails: hyper drops the connection mid-answer.
fn cut_connection() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(broken_body())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn broken_body() -> Body {
    let stream = once(Err::<Bytes, std::io::Error>(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "injected connection reset",
    )));
    Body::from_stream(stream)
}

/// A one-item stream, without pulling in a stream crate for one use.
fn once<T: Unpin>(item: T) -> impl futures_core::Stream<Item = T> {
    struct Once<T>(Option<T>);
    impl<T: Unpin> futures_core::Stream for Once<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.take())
        }
    }
    Once(Some(item))
}

/// Checks the signature and passes the caller's access key id on to the handler.
pub async fn authenticate(
    State(sim): State<Arc<Sim>>,
    mut request: Request,
    next: Next,
) -> Response {
    match verify_request(&sim, &request) {
        Ok(key) => {
            request.extensions_mut().insert(Caller(key));
            next.run(request).await
        }
        Err(refusal) => SimError::bad_credential(refusal.0).into_response(),
    }
}

fn verify_request(sim: &Sim, request: &Request) -> Result<String, auth::Refusal> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    // Under `nest`, the URI seen here lacks the base path; the signature covers the path as sent.
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map(|u| &u.0)
        .unwrap_or(request.uri());
    let world = sim.world();
    auth::verify(
        &SignedRequest {
            method: request.method().as_str(),
            raw_path: uri.path(),
            raw_query: uri.query(),
            authorization: header("authorization"),
            timestamp: header("x-crusoe-timestamp"),
        },
        time::OffsetDateTime::now_utc(),
        sim.max_skew_secs,
        |key| world.secrets.get(key).cloned(),
    )
    .map(str::to_string)
}
