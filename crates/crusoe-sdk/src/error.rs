//! Crusoe's error model: the body `{code, message, error_id, reason}` plus the HTTP status,
//! sorted into the cases a caller acts on differently.
//!
//! The body comes in two shapes. Crusoe's OpenAPI (v1 and v1alpha5 alike) documents the status in
//! `code` and a slug in `message` (`{"code":"429","message":"too_many_requests"}`); its own clients
//! read a slug from `code` (terraform compares `code` with `internal_error`, the packer plugin with
//! `out_of_stock`) and words from `message`, sometimes wrapped as `rpc error: code = … desc = …`,
//! which terraform's `UnpackAPIError` drops. [`ApiError::slug`] and [`ApiError::detail`] read
//! either shape.

use std::time::Duration;

use serde::Deserialize;

use super::ids::InvalidId;

/// What Crusoe said, as it said it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub error_id: Option<String>,
    pub reason: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        let slug = self.slug();
        if !slug.is_empty() {
            write!(f, " {slug}")?;
        }
        let detail = self.detail();
        if !detail.is_empty() {
            write!(f, ": {detail}")?;
        }
        if let Some(reason) = self
            .reason
            .as_deref()
            .filter(|r| !r.is_empty() && *r != detail)
        {
            write!(f, " ({reason})")?;
        }
        if let Some(id) = self.error_id.as_deref().filter(|r| !r.is_empty()) {
            write!(f, " [error_id {id}]")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Longest excerpt of a non-JSON error body kept in an error (proxies answer with HTML pages).
const BODY_EXCERPT: usize = 200;

impl ApiError {
    /// Reads an error body. A body that is not Crusoe's JSON keeps a short excerpt as the message.
    pub fn from_body(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => ApiError {
                status,
                // `code` is a string in practice, but the OpenAPI example is numeric-looking.
                code: match parsed.code {
                    Some(serde_json::Value::String(s)) => s,
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                },
                message: parsed.message.unwrap_or_default(),
                error_id: parsed.error_id,
                reason: parsed.reason,
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let excerpt: String = text
                    .chars()
                    .take(BODY_EXCERPT)
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                ApiError {
                    status,
                    message: excerpt.trim().to_string(),
                    ..Default::default()
                }
            }
        }
    }

    /// `message` without the `rpc error: code = … desc = ` wrapper: as terraform's
    /// `UnpackAPIError` reads it, what follows the one ` desc = `, when there is exactly one.
    pub fn message_text(&self) -> &str {
        unwrapped(&self.message)
    }

    /// The symbolic outcome (`out_of_stock`, `bad_credential`, …) wherever Crusoe put it: in
    /// `code`, or in `message` beside the status in `code`. Empty when neither holds one.
    pub fn slug(&self) -> &str {
        if is_slug(&self.code) {
            &self.code
        } else if is_slug(self.message_text()) {
            self.message_text()
        } else {
            ""
        }
    }

    /// What happened, in words: the message (unwrapped) unless it is only the slug, then the
    /// reason.
    pub fn detail(&self) -> &str {
        let message = self.message_text();
        if !message.is_empty() && message != self.slug() {
            message
        } else {
            self.reason.as_deref().unwrap_or_default()
        }
    }

    /// An error answer of lack of stock (see [`is_out_of_stock`]).
    fn is_capacity(&self) -> bool {
        is_out_of_stock(&self.code, &self.message)
    }
}

pub(crate) fn unwrapped(message: &str) -> &str {
    let mut parts = message.split(" desc = ");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(rest), None) => rest,
        _ => message,
    }
}

/// A slug: lower-case words joined by `_` (a status number is not one).
fn is_slug(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The one test of "out of stock", for error answers and failed operations alike: the slug
/// `out_of_stock` (the packer plugin compares a failed operation's code with exactly that), in
/// `code` or, as Crusoe's OpenAPI lays errors out, in `message`. No client has shown another
/// spelling, so none is guessed.
pub fn is_out_of_stock(code: &str, message: &str) -> bool {
    [code, unwrapped(message)]
        .iter()
        .any(|s| s.trim().eq_ignore_ascii_case("out_of_stock"))
}

/// Every way a call to Crusoe can fail. New cases may come with new calls, so matches need a
/// catch-all arm; [`CrusoeError::kind`] names each case in a fixed word.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrusoeError {
    #[error("Crusoe: not found: {0}")]
    NotFound(ApiError),
    #[error("Crusoe: conflict, another operation is in progress on the resource: {0}")]
    Conflict(ApiError),
    #[error("Crusoe has no capacity: {0}")]
    OutOfStock(ApiError),
    #[error("Crusoe rejected the credentials: {0}")]
    BadCredentials(ApiError),
    #[error("Crusoe denied access (wrong project, or an unknown or expired operation): {0}")]
    Forbidden(ApiError),
    #[error("Crusoe is rate-limiting requests: {0}")]
    RateLimited(ApiError),
    #[error("Crusoe server error: {0}")]
    Server(ApiError),
    #[error("Crusoe rejected the request: {0}")]
    BadRequest(ApiError),
    #[error("Crusoe did not answer within {0:?}")]
    Timeout(Duration),
    /// No answer came: the connection could not be made, or broke. The transport's error is
    /// kept as the source.
    #[error("cannot reach Crusoe: {}", causes(.0.as_ref()))]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("Crusoe sent an invalid response: {0}")]
    InvalidResponse(String),
    #[error("Crusoe operation {operation_id} failed: {code}: {message}")]
    OperationFailed {
        operation_id: String,
        code: String,
        message: String,
    },
    #[error("Crusoe operation {operation_id} did not finish within {waited:?}")]
    OperationTimeout {
        operation_id: String,
        waited: Duration,
    },
    /// A create was sent and its answer lost (a timeout, a cut connection, a 5xx): Crusoe may
    /// have carried it out, so it is not sent again blindly. Look the resource up by its name.
    #[error("the outcome of {operation} is unknown, Crusoe may have carried it out: {cause}")]
    OutcomeUnknown {
        operation: &'static str,
        #[source]
        cause: Box<CrusoeError>,
    },
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error("invalid request to Crusoe: {0}")]
    InvalidRequest(String),
}

/// The chain of causes below a transport error: the transport's own message repeats the URL,
/// its causes say what went wrong.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}

impl CrusoeError {
    /// Sorts an error answer by its status and code.
    pub fn from_api(api: ApiError) -> Self {
        if api.is_capacity() {
            return CrusoeError::OutOfStock(api);
        }
        match api.status {
            401 => CrusoeError::BadCredentials(api),
            403 => CrusoeError::Forbidden(api),
            404 => CrusoeError::NotFound(api),
            409 => CrusoeError::Conflict(api),
            429 => CrusoeError::RateLimited(api),
            500..=599 => CrusoeError::Server(api),
            _ => CrusoeError::BadRequest(api),
        }
    }

    /// Transient failures worth another attempt: 429, 5xx except 501, no connection, timeouts.
    pub fn is_retryable(&self) -> bool {
        match self {
            CrusoeError::RateLimited(_) | CrusoeError::Connect(_) | CrusoeError::Timeout(_) => true,
            CrusoeError::Server(api) => api.status != 501,
            _ => false,
        }
    }

    /// The status Crusoe answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|a| a.status)
    }

    /// Crusoe's own error id, for support requests and logs.
    pub fn error_id(&self) -> Option<&str> {
        self.api().and_then(|a| a.error_id.as_deref())
    }

    pub fn api(&self) -> Option<&ApiError> {
        match self {
            CrusoeError::NotFound(a)
            | CrusoeError::Conflict(a)
            | CrusoeError::OutOfStock(a)
            | CrusoeError::BadCredentials(a)
            | CrusoeError::Forbidden(a)
            | CrusoeError::RateLimited(a)
            | CrusoeError::Server(a)
            | CrusoeError::BadRequest(a) => Some(a),
            _ => None,
        }
    }

    /// A short, fixed name of the kind of failure, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CrusoeError::NotFound(_) => "not_found",
            CrusoeError::Conflict(_) => "conflict",
            CrusoeError::OutOfStock(_) => "out_of_stock",
            CrusoeError::BadCredentials(_) => "bad_credentials",
            CrusoeError::Forbidden(_) => "forbidden",
            CrusoeError::RateLimited(_) => "rate_limited",
            CrusoeError::Server(_) => "server_error",
            CrusoeError::BadRequest(_) => "bad_request",
            CrusoeError::Timeout(_) => "timeout",
            CrusoeError::Connect(_) => "connect",
            CrusoeError::InvalidResponse(_) => "invalid_response",
            CrusoeError::OperationFailed { .. } => "operation_failed",
            CrusoeError::OperationTimeout { .. } => "operation_timeout",
            CrusoeError::OutcomeUnknown { .. } => "outcome_unknown",
            CrusoeError::InvalidId(_) => "invalid_id",
            CrusoeError::InvalidRequest(_) => "invalid_request",
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CrusoeError::NotFound(_))
    }

    /// Crusoe has no stock, whether it said so in an error answer or in a failed operation.
    pub fn is_out_of_stock(&self) -> bool {
        match self {
            CrusoeError::OutOfStock(_) => true,
            CrusoeError::OperationFailed { code, message, .. } => is_out_of_stock(code, message),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            ..Default::default()
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert!(matches!(
            CrusoeError::from_api(api(401, "bad_credential")),
            CrusoeError::BadCredentials(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(403, "")),
            CrusoeError::Forbidden(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(404, "")),
            CrusoeError::NotFound(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(409, "")),
            CrusoeError::Conflict(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(429, "too_many_requests")),
            CrusoeError::RateLimited(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(503, "")),
            CrusoeError::Server(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(400, "bad_request")),
            CrusoeError::BadRequest(_)
        ));
        assert!(matches!(
            CrusoeError::from_api(api(400, "out_of_stock")),
            CrusoeError::OutOfStock(_)
        ));
        assert!(
            matches!(
                CrusoeError::from_api(api(409, "insufficient_capacity")),
                CrusoeError::Conflict(_)
            ),
            "no Crusoe client has shown another code for lack of stock"
        );
    }

    #[test]
    fn an_answer_and_a_failed_operation_are_out_of_stock_by_the_same_rule() {
        let failed = |code: &str| CrusoeError::OperationFailed {
            operation_id: "op".into(),
            code: code.into(),
            message: "m".into(),
        };
        for code in ["out_of_stock", "OUT_OF_STOCK"] {
            assert!(
                CrusoeError::from_api(api(400, code)).is_out_of_stock(),
                "{code}"
            );
            assert!(failed(code).is_out_of_stock(), "{code}");
        }
        // As Crusoe's OpenAPI lays errors out: the status in `code`, the slug in `message`.
        let documented = ApiError::from_body(400, br#"{"code":"400","message":"out_of_stock"}"#);
        assert!(CrusoeError::from_api(documented).is_out_of_stock());
        let wrapped = ApiError::from_body(
            400,
            br#"{"code":"400","message":"rpc error: code = ResourceExhausted desc = out_of_stock"}"#,
        );
        assert!(CrusoeError::from_api(wrapped).is_out_of_stock());
        let failed_so = CrusoeError::OperationFailed {
            operation_id: "op".into(),
            code: "400".into(),
            message: "out_of_stock".into(),
        };
        assert!(failed_so.is_out_of_stock());
        for code in ["stock_check_failed", "capacity_reserved", "internal_error"] {
            assert!(
                !CrusoeError::from_api(api(400, code)).is_out_of_stock(),
                "{code}"
            );
            assert!(!failed(code).is_out_of_stock(), "{code}");
        }
    }

    #[test]
    fn retryable_is_429_5xx_but_501_connect_and_timeout() {
        assert!(CrusoeError::from_api(api(429, "")).is_retryable());
        assert!(CrusoeError::from_api(api(502, "")).is_retryable());
        assert!(!CrusoeError::from_api(api(501, "")).is_retryable());
        assert!(!CrusoeError::from_api(api(400, "")).is_retryable());
        assert!(!CrusoeError::from_api(api(409, "")).is_retryable());
        assert!(CrusoeError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(CrusoeError::Connect("refused".into()).is_retryable());
    }

    #[test]
    fn body_is_parsed_or_excerpted() {
        let a = ApiError::from_body(
            400,
            br#"{"code":"bad_request","message":"name taken","error_id":"e-1","reason":"dup"}"#,
        );
        assert_eq!(a.code, "bad_request");
        assert_eq!(a.error_id.as_deref(), Some("e-1"));
        assert_eq!(
            a.to_string(),
            "HTTP 400 bad_request: name taken (dup) [error_id e-1]"
        );
        let numeric = ApiError::from_body(401, br#"{"code":401,"message":"bad_credential"}"#);
        assert_eq!(numeric.code, "401");
        assert_eq!(numeric.slug(), "bad_credential");
        assert_eq!(numeric.to_string(), "HTTP 401 bad_credential");
        let documented = ApiError::from_body(
            429,
            br#"{"code":"429","message":"too_many_requests","reason":"slow down"}"#,
        );
        assert_eq!(documented.slug(), "too_many_requests");
        assert_eq!(
            documented.to_string(),
            "HTTP 429 too_many_requests: slow down"
        );
        let wrapped = ApiError::from_body(
            404,
            br#"{"code":"not_found","message":"rpc error: code = NotFound desc = vm abc not found"}"#,
        );
        assert_eq!(wrapped.to_string(), "HTTP 404 not_found: vm abc not found");
        let html = ApiError::from_body(502, &b"<html>\n".repeat(100));
        assert!(html.message.len() <= BODY_EXCERPT);
        assert!(!html.message.contains('\n'));
    }
}
