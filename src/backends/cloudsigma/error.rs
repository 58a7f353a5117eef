//! CloudSigma's failures in the core's terms: each [`CloudSigmaError`] sorted into a
//! [`FailureKind`], with CloudSigma's title and what to do, and what the bridge was doing.

use crate::core::error::{BackendFailure, CoreError, FailureKind};
use cloudsigma_sdk::{CloudSigmaError, ErrorKind};

/// Cycle's title for work CloudSigma finished as failed.
pub const FAILED: &str = "CloudSigma operation failed";

pub fn failed(detail: impl Into<String>) -> CoreError {
    CoreError::Failed {
        title: FAILED,
        detail: detail.into(),
    }
}

/// CloudSigma's answers left the outcome open (nothing Cycle did wrong): retry later.
pub fn unavailable(doing: &str, detail: &str) -> CoreError {
    CoreError::Backend(BackendFailure {
        kind: FailureKind::Unavailable,
        title: "CloudSigma unavailable",
        doing: doing.to_string(),
        advice: "Retry later.",
        status: None,
        error_id: None,
        source: detail.to_string().into(),
    })
}

/// Adds what the bridge was doing to a CloudSigma failure.
pub trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CoreError>;
}

impl<T> Doing<T> for Result<T, CloudSigmaError> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CoreError> {
        self.map_err(|source| failure(what(), source))
    }
}

/// A failed CloudSigma call as the core's error.
pub fn failure(doing: String, source: CloudSigmaError) -> CoreError {
    let (kind, title, advice) = sort(&source);
    CoreError::Backend(BackendFailure {
        kind,
        title,
        doing,
        advice,
        status: source.status(),
        error_id: source.request_id().map(str::to_string),
        source: Box::new(source),
    })
}

/// A failed start or create: a 503 there is CloudSigma out of capacity ("We currently cannot
/// provide enough resources", D:drives.rst; capacity is checked when a server starts,
/// CLOUDSIGMA.md §4), which Cycle reads as out of stock.
pub fn capacity_failure(doing: String, source: CloudSigmaError) -> CoreError {
    match source.kind() {
        ErrorKind::Unavailable if source.status() == Some(503) => CoreError::Backend(BackendFailure {
            kind: FailureKind::OutOfStock,
            title: "Out of stock",
            doing,
            advice: "CloudSigma has no capacity for this size in this location now; choose another size or location, or retry later.",
            status: source.status(),
            error_id: source.request_id().map(str::to_string),
            source: Box::new(source),
        }),
        _ => failure(doing, source),
    }
}

fn sort(source: &CloudSigmaError) -> (FailureKind, &'static str, &'static str) {
    match source.kind() {
        ErrorKind::Unauthorized => (
            FailureKind::Unauthorized,
            "CloudSigma rejected the credentials",
            "Check the e-mail (API Key), password (Secret) and location (Namespace) in Cycle's integration settings: a CloudSigma account lives in one location.",
        ),
        ErrorKind::InsufficientFunds => (
            FailureKind::Forbidden,
            "CloudSigma account lacks funds",
            "CloudSigma refuses to start servers or sell subscriptions without funds for five days of use; add funds to the account.",
        ),
        ErrorKind::Forbidden => (
            FailureKind::Forbidden,
            "CloudSigma denied access",
            "The account may not do this, or the resource is not in a state that allows it; retry, and check the account's permissions.",
        ),
        ErrorKind::NotFound => (FailureKind::NotFound, "Not found", ""),
        ErrorKind::Concurrency => (
            FailureKind::Busy,
            "Busy",
            "Another operation is in progress on the resource; retry shortly.",
        ),
        ErrorKind::Unavailable
        | ErrorKind::Server
        | ErrorKind::Transport
        | ErrorKind::OutcomeUnknown => (
            FailureKind::Unavailable,
            "CloudSigma unavailable",
            "CloudSigma is failing or unreachable; retry later. Nothing was lost.",
        ),
        ErrorKind::Decode => (
            FailureKind::InvalidResponse,
            "Unexpected answer from CloudSigma",
            "Retry; if it persists, report it with the request id.",
        ),
        ErrorKind::Validation => (
            FailureKind::Rejected,
            "Rejected",
            "Correct the request or the bridge's settings.",
        ),
        _ => (
            FailureKind::Other,
            "CloudSigma call failed",
            "Retry; if it persists, report it with the request id.",
        ),
    }
}
