//! HTTP plumbing: CloudSigma's error array, the request id header, authentication, faults, call
//! counting, and the entry point that splits `/{location}/api/2.0/...` and
//! `/{location}/direct/api/2.0/...` off every other path.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use super::world::RequestFault;
use super::{admin, api, Sim};

/// Largest accepted JSON request body.
const MAX_JSON_BODY: usize = 8 << 20;
/// Largest accepted upload (the simulator keeps the bytes in memory).
pub const MAX_UPLOAD: usize = 64 << 20;

/// One error of CloudSigma's error array (D:errors.rst): `[{"error_type", "error_message",
/// "error_point"}]`, `error_point` always present, null unless a field is to blame.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub point: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            point: None,
        }
    }

    /// 400 `validation`, blaming `point` (a field name) when given.
    pub fn validation(point: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            point: point.map(str::to_string),
            ..Self::new(StatusCode::BAD_REQUEST, "validation", message)
        }
    }

    pub fn required(point: &str) -> Self {
        Self::validation(Some(point), "This field is required")
    }

    pub fn notexist(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notexist", message)
    }

    /// 403 `permission`: not allowed, including an action in the wrong state (D:general.rst).
    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission", message)
    }

    /// 402: not enough funds (D:general.rst). The error type is not shown in any dump;
    /// `billing` is the documented type that fits (D:errors.rst).
    pub fn funds(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "billing", message)
    }

    /// 405. CloudSigma documents the status, not its error type; `validation` is a choice.
    pub fn method(method: &Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "validation",
            format!("Method {method} is not allowed on this URL"),
        )
    }

    pub fn body(&self) -> Value {
        json!([{
            "error_type": self.kind,
            "error_message": self.message,
            "error_point": self.point,
        }])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body())
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// A JSON answer with CloudSigma's content type (D:dumps: `application/json; charset=utf-8`).
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// 204 with an empty body (D:general.rst: never parse it; D:dumps/response_server_delete).
pub fn no_content() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The simulator's whole router: the admin routes under `/_sim`, everything else through
/// `entry`.
pub fn router(sim: Arc<Sim>) -> Router {
    admin::router().fallback(entry).with_state(sim)
}

/// Which of the two hosts of a location a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Api,
    Upload,
}

/// A request to a location, as the API handlers see it.
pub struct Call {
    pub method: Method,
    /// Path segments below `/api/2.0/`, without the empty one the final `/` leaves.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The account index, once authenticated.
    pub account: usize,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        // The last occurrence wins, as for `format` (D:general.rst).
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `scheme://host` as the client reached the simulator (from the `Host` header).
    pub fn origin(&self) -> String {
        let host = self
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Splits `/{location}/api/2.0/rest` or `/{location}/direct/api/2.0/rest`.
fn split_path(path: &str) -> Option<(String, Host, &str)> {
    let rest = path.strip_prefix('/')?;
    let (location, rest) = rest.split_once('/')?;
    if let Some(r) = rest.strip_prefix("api/2.0/") {
        return Some((location.to_string(), Host::Api, r));
    }
    if let Some(r) = rest.strip_prefix("direct/api/2.0/") {
        return Some((location.to_string(), Host::Upload, r));
    }
    None
}

fn not_found_route() -> Response {
    ApiError::notexist("No such URL").into_response()
}

/// Every request outside `/_sim`.
async fn entry(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    let mut response = handle(&sim, request).await;
    response.headers_mut().insert("x-request-id", request_id());
    response
}

async fn handle(sim: &Arc<Sim>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let Some((location, host, rest)) = split_path(&path) else {
        return not_found_route();
    };
    if !sim.has_location(&location) || location != location.to_ascii_lowercase() {
        return not_found_route();
    }
    let method = request.method().clone();
    let route = api::route_key(host, rest);
    sim.count(format!("{method} {route}"));

    // Faults apply to the API and upload routes, before authentication, as on a proxy.
    let (latency, fault) = {
        let mut w = sim.world();
        (w.faults.latency_ms, w.draw_request_fault())
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        Some(RequestFault::ConnectionReset) => return cut_connection(),
        Some(RequestFault::ServerError(status)) => {
            return ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "backend",
                "unknown error (injected fault)",
            )
            .into_response();
        }
        Some(RequestFault::LostAnswer) | None => {}
    }
    let lost = fault == Some(RequestFault::LostAnswer);

    let response = serve(sim, request, method, location, host, rest.to_string()).await;
    if lost {
        sim.count(format!("lost answer ({})", response.status().as_u16()));
        return cut_connection();
    }
    response
}

async fn serve(
    sim: &Arc<Sim>,
    request: Request,
    method: Method,
    location: String,
    host: Host,
    rest: String,
) -> Response {
    let (parts, body) = request.into_parts();
    // Authentication first: a 401 answers whatever the path (D:general.rst).
    let Some(account) = authenticate(sim, &parts.headers, &location, host) else {
        return unauthorized();
    };
    let query = parse_query(parts.uri.query().unwrap_or(""));
    if host == Host::Upload {
        return api::upload(sim, account, &rest, &parts.headers, body, &method).await;
    }
    // Every path ends with `/` (CLOUDSIGMA.md §1.1; the official clients always send it): a path
    // without it is not found, as a strictness choice.
    if !rest.is_empty() && !rest.ends_with('/') {
        return not_found_route();
    }
    if let Err(e) = check_accept(&parts.headers) {
        return e.into_response();
    }
    let body = match axum::body::to_bytes(body, MAX_JSON_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "validation",
                "Request body too large",
            )
            .into_response()
        }
    };
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let call = Call {
        method,
        segments,
        query,
        headers: parts.headers,
        body,
        account,
    };
    match api::dispatch(sim, &call) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// 406 when `Accept` names none of the types CloudSigma serves (D:general.rst). XML is one of
/// them, but the simulator speaks only JSON: an `Accept` that allows nothing but XML gets 406.
fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let ok = accept.split(',').any(|t| {
        let t = t.split(';').next().unwrap_or("").trim();
        matches!(t, "application/json" | "*/*" | "application/*")
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "validation",
            format!("Cannot answer in {accept} (the simulator speaks JSON)"),
        ))
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// 401 as CloudSigma answers it: a `WWW-Authenticate` challenge (Digest, realm "users",
/// D:general.rst) and no JSON body (none is documented; L and P never read it, CLOUDSIGMA.md §2).
/// The simulator issues the Digest challenge but does not accept Digest answers.
fn unauthorized() -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    let challenge =
        format!(r#"Digest nonce="{nonce}", realm="users", algorithm="MD5", qop="auth""#);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// HTTP Basic (e-mail:password, D:general.rst) everywhere; `Bearer <token>` on the API host only,
/// where an account's token is its password (token issuance is undocumented, CLOUDSIGMA.md §2);
/// the upload host takes Basic only (D:upload_download.rst). Credentials of an account of another
/// location are refused (accounts are per location, §1.3).
fn authenticate(sim: &Sim, headers: &HeaderMap, location: &str, host: Host) -> Option<usize> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
    let value = value.trim();
    let w = sim.world();
    let found = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        decoded.and_then(|d| {
            let (user, pass) = d.split_once(':')?;
            w.accounts
                .iter()
                .position(|a| a.location == location && a.username == user && a.password == pass)
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && host == Host::Api {
        w.accounts
            .iter()
            .position(|a| a.location == location && !value.is_empty() && a.password == value)
    } else {
        None
    };
    found
}

/// Headers go out, then the body fails: hyper drops the connection mid-answer.
pub fn cut_connection() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(broken_body())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn broken_body() -> Body {
    let stream = Once(Some(Err::<Bytes, std::io::Error>(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "injected connection reset",
    ))));
    Body::from_stream(stream)
}

/// A one-item stream, without pulling in a stream crate for one use.
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
