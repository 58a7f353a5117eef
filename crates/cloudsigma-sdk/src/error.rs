//! CloudSigma's error model (D:errors.rst, CLOUDSIGMA.md §4): an HTTP status plus, usually, a JSON
//! array of `{error_type, error_message, error_point}`. The status is read first and the body
//! second, so that a body of another shape (a 401 without JSON, a proxy's HTML page, a single
//! object) keeps its status. CloudSigma's Go SDK loses the status in that case
//! (G:client.go `CheckResponse`).

use serde::Deserialize;

/// One entry of CloudSigma's error array.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorItem {
    /// `validation`, `notexist`, `backend`, `permission`, `database`, `concurrency`, `billing`
    /// or `payment` (D:errors.rst).
    #[serde(default, deserialize_with = "crate::types::de::string_lenient")]
    pub error_type: String,
    #[serde(default, deserialize_with = "crate::types::de::string_lenient")]
    pub error_message: String,
    /// The offending field of a validation error; documented as always present, may be null.
    #[serde(default, deserialize_with = "crate::types::de::opt_string_lenient")]
    pub error_point: Option<String>,
}

/// An error answer of CloudSigma, as it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The documented error array; empty when the body was not one.
    pub errors: Vec<ErrorItem>,
    /// The `X-REQUEST-ID` header of the answer, for support tickets (CLOUDSIGMA.md §3).
    pub request_id: Option<String>,
    /// The start of a body that was not the documented array (HTML, text, a single object).
    pub body_excerpt: Option<String>,
}

/// Longest excerpt of an unexpected error body kept in an [`ApiError`].
const EXCERPT_CHARS: usize = 200;

impl ApiError {
    /// Reads an error answer: the status always, the body when it is CloudSigma's JSON array
    /// (a single error object is also read, and its excerpt kept).
    pub fn from_response(status: u16, body: &[u8], request_id: Option<String>) -> Self {
        let mut error = ApiError {
            status,
            request_id,
            ..Default::default()
        };
        if let Ok(items) = serde_json::from_slice::<Vec<ErrorItem>>(body) {
            error.errors = items;
            return error;
        }
        if let Ok(one) = serde_json::from_slice::<ErrorItem>(body) {
            if !one.error_type.is_empty() || !one.error_message.is_empty() {
                error.errors = vec![one];
            }
        }
        error.body_excerpt = excerpt(body);
        error
    }

    /// The first `error_message`, else the body excerpt, else the status's reason phrase.
    pub fn message(&self) -> String {
        if let Some(m) = self
            .errors
            .iter()
            .map(|e| e.error_message.trim())
            .find(|m| !m.is_empty())
        {
            return m.to_string();
        }
        if let Some(x) = self.body_excerpt.as_deref().filter(|x| !x.is_empty()) {
            return x.to_string();
        }
        reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string()
    }

    /// Whether any entry has this `error_type`.
    pub fn has_type(&self, error_type: &str) -> bool {
        self.errors
            .iter()
            .any(|e| e.error_type.eq_ignore_ascii_case(error_type))
    }

    /// The case this answer falls in: the status first, then the `error_type`.
    pub fn kind(&self) -> ErrorKind {
        match self.status {
            401 => return ErrorKind::Unauthorized,
            402 => return ErrorKind::InsufficientFunds,
            403 => return ErrorKind::Forbidden,
            404 => return ErrorKind::NotFound,
            503 => return ErrorKind::Unavailable,
            _ => {}
        }
        if self.has_type("concurrency") {
            ErrorKind::Concurrency
        } else if self.has_type("billing") || self.has_type("payment") {
            ErrorKind::InsufficientFunds
        } else if self.has_type("permission") {
            ErrorKind::Forbidden
        } else if self.has_type("notexist") {
            ErrorKind::NotFound
        } else if self.status == 400 || self.has_type("validation") {
            ErrorKind::Validation
        } else if (500..600).contains(&self.status) {
            ErrorKind::Server
        } else {
            ErrorKind::Other
        }
    }

    /// Worth another attempt of an idempotent call: 500, 502, 503, 504 or a `concurrency` error
    /// ("the operation should be retried", D:errors.rst).
    pub fn is_transient(&self) -> bool {
        matches!(self.status, 500 | 502 | 503 | 504) || self.has_type("concurrency")
    }
}

fn excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let cleaned: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    (!cleaned.is_empty()).then_some(cleaned)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if self.errors.is_empty() {
            let message = self.message();
            if !message.is_empty() {
                write!(f, ": {message}")?;
            }
        }
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            if !e.error_type.is_empty() {
                write!(f, "{} ", e.error_type)?;
            }
            write!(f, "{}", e.error_message)?;
            if let Some(point) = e.error_point.as_deref().filter(|p| !p.is_empty()) {
                write!(f, " (at {point})")?;
            }
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// The cases a caller acts on differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401: credentials wrong or missing.
    Unauthorized,
    /// 403 or `permission`: not allowed, also an action in the wrong state (CLOUDSIGMA.md §4).
    Forbidden,
    /// 404 or `notexist`.
    NotFound,
    /// 402 or `billing`/`payment`: add funds.
    InsufficientFunds,
    /// 503: out of capacity, or concurrent updates of the same values.
    Unavailable,
    /// `concurrency`: two conflicting operations at once; retry.
    Concurrency,
    /// 400 or `validation`.
    Validation,
    /// Another 5xx.
    Server,
    /// No answer came.
    Transport,
    /// A create or upload was sent and its answer lost.
    OutcomeUnknown,
    /// An answer this client cannot read.
    Decode,
    /// The client is configured wrongly or the call was refused before sending.
    Config,
    Other,
}

/// Every way a call can fail. Display never contains credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudSigmaError {
    #[error("CloudSigma answered {0}")]
    Api(ApiError),
    /// No usable answer came (connection refused or cut, timeout, TLS).
    #[error("no answer from CloudSigma during {during}: {source_text}")]
    Transport { during: String, source_text: String },
    /// A create, upload or subscription purchase was sent and its answer lost: CloudSigma may
    /// have carried it out. Look the object up (by name, tag or `subscribed_object`) before
    /// sending it again (CLOUDSIGMA.md §4, §9).
    #[error("the outcome of {what} is unknown: CloudSigma may have carried it out; look it up before sending it again")]
    OutcomeUnknown { what: String },
    #[error("cannot read CloudSigma's answer to {what}: {detail}")]
    Decode { what: String, detail: String },
    #[error("CloudSigma client configuration: {0}")]
    Config(String),
}

impl From<ApiError> for CloudSigmaError {
    fn from(e: ApiError) -> Self {
        CloudSigmaError::Api(e)
    }
}

impl CloudSigmaError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CloudSigmaError::Api(api) => api.kind(),
            CloudSigmaError::Transport { .. } => ErrorKind::Transport,
            CloudSigmaError::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            CloudSigmaError::Decode { .. } => ErrorKind::Decode,
            CloudSigmaError::Config(_) => ErrorKind::Config,
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            CloudSigmaError::Api(api) => Some(api.status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// The `X-REQUEST-ID` of an error answer.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            CloudSigmaError::Api(api) => api.request_id.as_deref(),
            _ => None,
        }
    }

    /// What went wrong, in words: an answer's first `error_message` (else its excerpt), or the
    /// error's own text.
    pub fn message(&self) -> String {
        match self {
            CloudSigmaError::Api(api) => api.message(),
            CloudSigmaError::Transport { source_text, .. } => source_text.clone(),
            CloudSigmaError::Decode { detail, .. } => detail.clone(),
            CloudSigmaError::Config(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// The error answer, when there was one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            CloudSigmaError::Api(api) => Some(api),
            _ => None,
        }
    }

    /// Worth retrying an idempotent call: transport failures and transient answers.
    pub fn is_transient(&self) -> bool {
        match self {
            CloudSigmaError::Api(api) => api.is_transient(),
            CloudSigmaError::Transport { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_array_is_read_with_its_point() {
        let body = br#"[{"error_message": "This field is required", "error_point": "resource", "error_type": "validation"}]"#;
        let e = ApiError::from_response(400, body, Some("abc".into()));
        assert_eq!(e.errors.len(), 1);
        assert_eq!(e.errors[0].error_point.as_deref(), Some("resource"));
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(e.body_excerpt, None);
        assert_eq!(
            e.to_string(),
            "HTTP 400: validation This field is required (at resource) [request id abc]"
        );
    }

    #[test]
    fn other_bodies_keep_status_and_excerpt() {
        let e = ApiError::from_response(401, b"<html>\n<b>Unauthorized</b></html>", None);
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert!(e.errors.is_empty());
        assert_eq!(e.message(), "<html> <b>Unauthorized</b></html>");
        let single = ApiError::from_response(
            500,
            br#"{"error_type":"backend","error_message":"unknown error","error_point":null}"#,
            None,
        );
        assert_eq!(single.errors[0].error_type, "backend");
        assert!(single.body_excerpt.is_some());
        assert_eq!(single.kind(), ErrorKind::Server);
        let empty = ApiError::from_response(502, b"", None);
        assert_eq!(empty.message(), "Bad Gateway");
    }

    #[test]
    fn kinds_follow_status_then_type() {
        let with = |status, t: &str| ApiError {
            status,
            errors: vec![ErrorItem {
                error_type: t.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(with(402, "billing").kind(), ErrorKind::InsufficientFunds);
        assert_eq!(with(400, "payment").kind(), ErrorKind::InsufficientFunds);
        assert_eq!(with(409, "concurrency").kind(), ErrorKind::Concurrency);
        assert!(with(409, "concurrency").is_transient());
        assert_eq!(with(503, "backend").kind(), ErrorKind::Unavailable);
        assert_eq!(with(403, "permission").kind(), ErrorKind::Forbidden);
        assert_eq!(with(400, "notexist").kind(), ErrorKind::NotFound);
        assert_eq!(with(500, "database").kind(), ErrorKind::Server);
        assert_eq!(with(418, "").kind(), ErrorKind::Other);
    }
}
