//! Cycle's platform error shape, inside the response envelope:
//! `{"data": null, "error": {"status", "code": "<status>.<slug>", "title", "detail", "source"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub status: u16,
    pub code: String,
    pub title: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Envelope {
    data: Option<()>,
    error: ErrorBody,
}

/// An error answered to Cycle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {slug}: {detail}")]
pub struct IalError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// JSON pointer to the offending input, when there is one.
    pub pointer: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// The cloud's id for the failure behind this answer: logged, not answered. Boxed to keep
    /// the error small enough to return by value.
    pub error_id: Option<Box<str>>,
}

impl IalError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            pointer: None,
            retry_after: None,
            error_id: None,
        }
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn with_source(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            detail,
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.status.as_u16(),
            code: format!("{}.{}", self.status.as_u16(), self.slug),
            title: self.title.to_string(),
            detail: self.detail.clone(),
            source: self.pointer.clone(),
        }
    }
}

/// The answer in Cycle's shape. The error itself rides along in the response's extensions, so
/// that one layer logs every error whatever built it (a handler, an extractor, a limit, a
/// fallback): see `layers::log_errors`.
impl IntoResponse for IalError {
    fn into_response(self) -> Response {
        let envelope = Envelope {
            data: None,
            error: self.body(),
        };
        let mut response = (self.status, Json(envelope)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self);
        response
    }
}
