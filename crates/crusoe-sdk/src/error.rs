//! Crusoe's error model: the body `{code, message, error_id, reason}` plus the HTTP status,
//! sorted into the cases a caller acts on differently.

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
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(reason) = self.reason.as_deref().filter(|r| !r.is_empty()) {
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

    /// An error answer of lack of stock (see [`is_out_of_stock_code`]).
    fn is_capacity(&self) -> bool {
        is_out_of_stock_code(&self.code)
    }
}

/// The one test of "out of stock", for error answers and failed operations alike: Crusoe's code
/// `out_of_stock` (CRUSOE.md; the packer plugin compares a failed operation's code with exactly
/// that). No client has shown another spelling, so none is guessed.
pub fn is_out_of_stock_code(code: &str) -> bool {
    code.eq_ignore_ascii_case("out_of_stock")
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
            CrusoeError::OperationFailed { code, .. } => is_out_of_stock_code(code),
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
        let html = ApiError::from_body(502, &b"<html>\n".repeat(100));
        assert!(html.message.len() <= BODY_EXCERPT);
        assert!(!html.message.contains('\n'));
    }
}
