//! The layers around the IAL's routes: the limits that protect the bridge (each answered in
//! Cycle's shape), the per-route metrics, request ids, the request's span, and the one place
//! errors are logged.

use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::{BoxError, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::error::Overloaded;
use tower::load_shed::LoadShedLayer;
use tower::timeout::error::Elapsed;
use tower::timeout::TimeoutLayer;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::telemetry::metrics as names;

use super::{IalError, IalOptions};

/// The IAL routes of `router` (those added so far) under their limits and measured. The last
/// layer added runs first: measure, refuse oversized headers, read the whole body within its size
/// and time limits, then shed load, count the request in flight and bound its time.
pub fn limited<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    options: &IalOptions,
) -> Router<S> {
    let timeout = options.request_timeout;
    let headers = HeaderLimits {
        max_headers: options.max_headers,
        max_header_bytes: options.max_header_bytes,
    };
    let body = BodyLimits {
        max_bytes: options.body_limit,
        read_timeout: options.body_read_timeout,
    };
    router
        .layer(DefaultBodyLimit::max(options.body_limit))
        .route_layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |error: BoxError| async move {
                    refused(&error, timeout)
                }))
                // Beyond the limit a request is answered 503 at once, not queued: under
                // overload a queue only grows, and the caller learns nothing while it waits.
                .layer(LoadShedLayer::new())
                // Global: a route layer is applied to each route, and `ConcurrencyLimitLayer`
                // would give each route a limit of its own.
                .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight))
                .layer(TimeoutLayer::new(timeout)),
        )
        // Before the limits: a body still arriving holds no place among the requests in
        // flight, so callers that trickle bodies cannot crowd out the others.
        .route_layer(from_fn_with_state(body, read_body))
        .route_layer(from_fn_with_state(headers, check_headers))
        .route_layer(from_fn(measure))
}

/// What the shedding and time layers report, in Cycle's terms.
fn refused(error: &BoxError, timeout: Duration) -> IalError {
    if error.is::<Overloaded>() {
        IalError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Overloaded",
            "the bridge is serving as many requests as it allows; retry shortly",
        )
        .with_retry_after(1)
    } else if error.is::<Elapsed>() {
        IalError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "request-timeout",
            "Request timed out",
            format!(
                "the request took longer than {}s; retry, and the work continues where it stopped",
                timeout.as_secs()
            ),
        )
    } else {
        // The layers above report nothing else; should one start to, Cycle still gets its shape.
        IalError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("the request could not be served: {error}"),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct HeaderLimits {
    max_headers: usize,
    max_header_bytes: usize,
}

/// Refuses requests with more or larger headers than allowed. The HTTP server's own limits sit
/// above these (see `serve`), so a caller normally gets this answer in Cycle's shape.
async fn check_headers(
    State(limits): State<HeaderLimits>,
    request: Request,
    next: Next,
) -> Result<Response, IalError> {
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
    Ok(next.run(request).await)
}

#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    max_bytes: usize,
    read_timeout: Duration,
}

/// Reads the whole body, within `body_limit_bytes` and `body_read_timeout_secs`, before the
/// request is counted in flight. A caller that sends it too slowly gets 408 and the connection is
/// closed (what is left of its body is never read); one too large, 413.
async fn read_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let too_large = || {
        IalError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!(
                "the request body is larger than this server accepts ({} bytes)",
                limits.max_bytes
            ),
        )
        .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(closing(too_large()));
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, limits.max_bytes).collect();
    let bytes = match tokio::time::timeout(limits.read_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return Err(closing(too_large())),
        Ok(Err(e)) => {
            return Err(IalError::new(
                StatusCode::BAD_REQUEST,
                "invalid-body",
                "Invalid body",
                format!("the request body could not be read: {e}"),
            )
            .into_response())
        }
        Err(_) => {
            let error = IalError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Request body too slow",
                format!(
                    "the request body did not arrive within {}s; send it at once, then retry",
                    limits.read_timeout.as_secs()
                ),
            );
            return Err(closing(error.into_response()));
        }
    };
    Ok(next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await)
}

/// An answer after which the connection is closed: the rest of the body it did not read would
/// otherwise be taken for the next request.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
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

/// Request ids (Cycle's `x-request-id`, or a new one, sent back), each request's span and its
/// answer's line, and the errors logged, for every route and fallback of `router` so far.
pub fn observed(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn(accept_request_id))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    // `log_errors` logs each error answered, with its detail; this would log
                    // every 5xx a second time, without it.
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(from_fn(log_errors)),
    )
}

/// Longest `x-request-id` kept.
const MAX_REQUEST_ID: usize = 64;

/// Whether a caller's `x-request-id` is an id: 1 to 64 letters, digits, `-`, `_`, `.` or `:`.
fn is_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Keeps the caller's `x-request-id` only when it is one id of safe characters; otherwise the
/// header is dropped, a new id is made for the request, and the answer carries that one, so the
/// caller learns which id its request was logged under.
async fn accept_request_id(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut given = headers.get_all("x-request-id").iter();
    let keep = match (given.next(), given.next()) {
        (None, _) => true,
        (Some(one), None) => is_request_id(one.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        headers.remove("x-request-id");
        tracing::debug!("an x-request-id that is not a short id of safe characters was replaced");
    }
    next.run(request).await
}

/// Each request's span: its id (Cycle's `x-request-id` or a new one), method and path; the hub
/// and server are recorded once the body is read.
fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_request_id(v.as_bytes()))
        .map(str::to_string)
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

/// Logs the error an answer carries (see `IalError`'s `IntoResponse`), once, whatever built it.
/// It runs inside the request's span, so the line carries the request id, method and path, and
/// the hub and server once known.
async fn log_errors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<IalError>() {
        // The detail may quote what the caller sent: a field, which the text format quotes and
        // escapes (`telemetry::logfmt`), never the message.
        if error.status.is_server_error() {
            tracing::warn!(
                status = error.status.as_u16(),
                code = error.slug,
                detail = %error.detail,
                error_id = error.error_id.as_deref(),
                "answering Cycle with an error"
            );
        } else {
            tracing::info!(
                status = error.status.as_u16(),
                code = error.slug,
                detail = %error.detail,
                error_id = error.error_id.as_deref(),
                "answering Cycle with an error"
            );
        }
    }
    response
}
