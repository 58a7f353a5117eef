//! The core's errors, which every backend speaks, and the one place where they become Cycle's: a
//! status, a slug, a title and a detail that says what happened and what to do. A backend sorts
//! its cloud's failures into a [`FailureKind`]; the core alone decides what Cycle sees of each.

use std::fmt;

use axum::http::StatusCode;

use crate::ial::IalError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Missing or rejected credentials, or a wrong bridge token.
    #[error("{0}")]
    Unauthorized(String),
    /// The request itself is wrong; `pointer` names the field when there is one.
    #[error("{detail}")]
    InvalidInput {
        detail: String,
        pointer: Option<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    OutOfStock(String),
    #[error("{0}")]
    Conflict(String),
    /// The cloud finished the work as failed, for a reason other than stock; `title` names the
    /// cloud ("Crusoe operation failed").
    #[error("{detail}")]
    Failed { title: &'static str, detail: String },
    /// The work did not finish in time; a retry continues it.
    #[error("{0}")]
    Timeout(String),
    /// A call to the cloud failed.
    #[error("{0}")]
    Backend(BackendFailure),
    /// This tenant made more requests than its rate limit allows.
    #[error("hub {hub} is over its request rate; retry in {}s", wait.as_secs() + 1)]
    RateLimited {
        hub: String,
        wait: std::time::Duration,
    },
    /// One failure handed to every caller that waited on the same work (a shared cache fill).
    #[error("{0}")]
    Shared(std::sync::Arc<CoreError>),
}

impl CoreError {
    pub fn invalid(detail: impl Into<String>, pointer: &str) -> Self {
        CoreError::InvalidInput {
            detail: detail.into(),
            pointer: Some(pointer.to_string()),
        }
    }

    /// The failed call behind this error, when a cloud's call failed.
    pub fn backend(&self) -> Option<&BackendFailure> {
        match self {
            CoreError::Backend(f) => Some(f),
            CoreError::Shared(inner) => inner.backend(),
            _ => None,
        }
    }
}

/// What kind of failure a cloud's call came to, as far as Cycle is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The cloud rejected the credentials.
    Unauthorized,
    /// The credentials are fine but may not do this.
    Forbidden,
    NotFound,
    /// Another operation holds the resource; a retry shortly succeeds.
    Busy,
    OutOfStock,
    /// The cloud's work finished as failed.
    Failed,
    /// Failing, throttling, unreachable, or its outcome unknown: retry later, nothing was lost.
    Unavailable,
    Timeout,
    /// The cloud answered something the backend cannot read.
    InvalidResponse,
    /// The cloud refused the request as wrong.
    Rejected,
    /// Anything else: the cloud's side, not Cycle's request.
    Other,
}

/// A failed call to a cloud: what kind, what the bridge was doing, and what the cloud said.
#[derive(Debug)]
pub struct BackendFailure {
    pub kind: FailureKind,
    /// Cycle's title for it ("Crusoe rejected the credentials").
    pub title: &'static str,
    /// What the bridge was doing, in words: "creating VM cycle-…".
    pub doing: String,
    /// What to do about it, for Cycle's detail.
    pub advice: &'static str,
    /// The HTTP status the cloud answered, when it answered.
    pub status: Option<u16>,
    /// The cloud's id for the failure, for its support.
    pub error_id: Option<String>,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for BackendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.doing, self.source)
    }
}

impl FailureKind {
    fn status_and_slug(self) -> (StatusCode, &'static str) {
        match self {
            FailureKind::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            FailureKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            FailureKind::NotFound => (StatusCode::NOT_FOUND, "not-found"),
            FailureKind::Busy => (StatusCode::CONFLICT, "conflict"),
            FailureKind::OutOfStock => (StatusCode::CONFLICT, "out-of-stock"),
            FailureKind::Failed | FailureKind::Other => {
                (StatusCode::BAD_GATEWAY, "provider-failed")
            }
            FailureKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "provider-unavailable"),
            FailureKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            FailureKind::InvalidResponse => (StatusCode::BAD_GATEWAY, "provider-invalid-response"),
            FailureKind::Rejected => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input"),
        }
    }
}

fn e(status: StatusCode, slug: &'static str, title: &'static str, detail: String) -> IalError {
    IalError::new(status, slug, title, detail)
}

impl From<CoreError> for IalError {
    fn from(err: CoreError) -> Self {
        IalError::from(&err)
    }
}

impl From<&CoreError> for IalError {
    fn from(err: &CoreError) -> Self {
        match err {
            CoreError::Unauthorized(d) => e(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                d.clone(),
            ),
            CoreError::InvalidInput { detail, pointer } => {
                let error = e(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-input",
                    "Invalid input",
                    detail.clone(),
                );
                match pointer {
                    Some(p) => error.with_source(p.clone()),
                    None => error,
                }
            }
            CoreError::NotFound(d) => e(StatusCode::NOT_FOUND, "not-found", "Not found", d.clone()),
            CoreError::OutOfStock(d) => e(
                StatusCode::CONFLICT,
                "out-of-stock",
                "Out of stock",
                d.clone(),
            ),
            CoreError::Conflict(d) => e(StatusCode::CONFLICT, "conflict", "Conflict", d.clone()),
            CoreError::Failed { title, detail } => e(
                StatusCode::BAD_GATEWAY,
                "provider-failed",
                title,
                detail.clone(),
            ),
            CoreError::Timeout(d) => e(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "Timed out",
                d.clone(),
            ),
            CoreError::RateLimited { wait, .. } => e(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                err.to_string(),
            )
            .with_retry_after(wait.as_secs() + 1),
            CoreError::Backend(f) => {
                let (status, slug) = f.kind.status_and_slug();
                let mut error = e(
                    status,
                    slug,
                    f.title,
                    format!("{}: {}. {}", f.doing, f.source, f.advice),
                );
                error.error_id = f.error_id.as_deref().map(Box::from);
                error
            }
            CoreError::Shared(inner) => IalError::from(inner.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind, error_id: Option<&str>) -> CoreError {
        CoreError::Backend(BackendFailure {
            kind,
            title: "Cloud call failed",
            doing: "creating VM cycle-x".into(),
            advice: "Retry.",
            status: Some(500),
            error_id: error_id.map(str::to_string),
            source: "boom".into(),
        })
    }

    #[test]
    fn each_kind_of_failure_is_one_status_and_slug_for_cycle() {
        for (kind, status, slug) in [
            (FailureKind::Unauthorized, 401, "unauthorized"),
            (FailureKind::OutOfStock, 409, "out-of-stock"),
            (FailureKind::Busy, 409, "conflict"),
            (FailureKind::Unavailable, 503, "provider-unavailable"),
            (FailureKind::Rejected, 422, "invalid-input"),
            (FailureKind::Timeout, 504, "timeout"),
        ] {
            let answer = IalError::from(failure(kind, None));
            assert_eq!((answer.status.as_u16(), answer.slug), (status, slug));
        }
    }

    #[test]
    fn the_detail_says_what_was_done_what_failed_and_what_to_do_and_keeps_the_error_id() {
        let answer = IalError::from(failure(FailureKind::Other, Some("e-1")));
        assert_eq!(answer.detail, "creating VM cycle-x: boom. Retry.");
        assert_eq!(answer.title, "Cloud call failed");
        assert_eq!(answer.error_id.as_deref(), Some("e-1"));
    }
}
