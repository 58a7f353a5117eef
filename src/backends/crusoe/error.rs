//! Crusoe's failures in the core's terms: each [`CrusoeError`] sorted into a [`FailureKind`],
//! with Crusoe's title and what to do, and what the bridge was doing when it happened.

use crate::core::error::{BackendFailure, CoreError, FailureKind};
use crusoe_sdk::CrusoeError;

/// Cycle's title for work Crusoe finished as failed.
pub const FAILED: &str = "Crusoe operation failed";

/// Work Crusoe finished as failed, for a reason other than stock.
pub fn failed(detail: impl Into<String>) -> CoreError {
    CoreError::Failed {
        title: FAILED,
        detail: detail.into(),
    }
}

/// Adds what the bridge was doing to a Crusoe failure.
pub trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CoreError>;
}

impl<T> Doing<T> for Result<T, CrusoeError> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CoreError> {
        self.map_err(|source| failure(what(), source))
    }
}

/// A failed Crusoe call as the core's error.
pub fn failure(doing: String, source: CrusoeError) -> CoreError {
    let (kind, title, advice) = sort(&source);
    CoreError::Backend(BackendFailure {
        kind,
        title,
        doing,
        advice,
        status: source.status(),
        error_id: source.error_id().map(str::to_string),
        source: Box::new(source),
    })
}

fn sort(source: &CrusoeError) -> (FailureKind, &'static str, &'static str) {
    const OUT_OF_STOCK: (FailureKind, &str, &str) = (
        FailureKind::OutOfStock,
        "Out of stock",
        "Choose another model or location, or retry later.",
    );
    match source {
        CrusoeError::BadCredentials(_) => (
            FailureKind::Unauthorized,
            "Crusoe rejected the credentials",
            "Check the access key id (API Key) and secret key (Secret) in Cycle's integration settings.",
        ),
        CrusoeError::Forbidden(_) => (
            FailureKind::Forbidden,
            "Crusoe denied access",
            "Check that the key pair belongs to the project given as Namespace.",
        ),
        CrusoeError::NotFound(_) => (FailureKind::NotFound, "Not found", ""),
        CrusoeError::Conflict(_) => (
            FailureKind::Busy,
            "Busy",
            "Another operation is in progress on the resource; retry shortly.",
        ),
        // Whether Crusoe said so in an answer or in a failed operation: the same 409.
        CrusoeError::OutOfStock(_) => OUT_OF_STOCK,
        CrusoeError::OperationFailed { .. } if source.is_out_of_stock() => OUT_OF_STOCK,
        CrusoeError::OperationFailed { .. } => (
            FailureKind::Failed,
            FAILED,
            "Nothing billable was left behind; correct the cause and try again.",
        ),
        CrusoeError::RateLimited(_)
        | CrusoeError::Server(_)
        | CrusoeError::Connect(_)
        | CrusoeError::OutcomeUnknown { .. } => (
            FailureKind::Unavailable,
            "Crusoe unavailable",
            "Crusoe is failing or throttling; retry later. Nothing was lost.",
        ),
        CrusoeError::Timeout(_) | CrusoeError::OperationTimeout { .. } => (
            FailureKind::Timeout,
            "Timed out",
            "Crusoe is slow; retry, and the work continues where it stopped.",
        ),
        CrusoeError::InvalidResponse(_) => (
            FailureKind::InvalidResponse,
            "Unexpected answer from Crusoe",
            "Retry; if it persists, report it with the error id.",
        ),
        CrusoeError::BadRequest(_) | CrusoeError::InvalidId(_) | CrusoeError::InvalidRequest(_) => (
            FailureKind::Rejected,
            "Rejected",
            "Correct the request or the bridge's settings.",
        ),
        // A kind of failure this bridge was not built for: Crusoe's side, not Cycle's request.
        _ => (
            FailureKind::Other,
            "Crusoe call failed",
            "Retry; if it persists, report it with the error id.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ial::IalError;
    use axum::http::StatusCode;
    use crusoe_sdk::ApiError;

    fn answered(status: u16, body: &str) -> IalError {
        let source = CrusoeError::from_api(ApiError::from_body(status, body.as_bytes()));
        IalError::from(failure("creating VM cycle-x".into(), source))
    }

    #[test]
    fn out_of_stock_is_409_whichever_field_crusoe_puts_the_slug_in() {
        for body in [
            r#"{"code":"400","message":"out_of_stock"}"#,
            r#"{"code":"out_of_stock","message":"no h100 left in us-east1-a"}"#,
            r#"{"code":"400","message":"rpc error: code = ResourceExhausted desc = out_of_stock"}"#,
        ] {
            let e = answered(400, body);
            assert_eq!(
                (e.status, e.slug),
                (StatusCode::CONFLICT, "out-of-stock"),
                "{body}"
            );
        }
        let e = answered(400, r#"{"code":"400","message":"bad_request"}"#);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn the_detail_cycle_reads_drops_crusoes_rpc_wrapper() {
        let e = answered(
            404,
            r#"{"code":"not_found","message":"rpc error: code = NotFound desc = subnet abc not found"}"#,
        );
        assert!(e.detail.contains("subnet abc not found"), "{}", e.detail);
        assert!(!e.detail.contains("rpc error"), "{}", e.detail);
    }

    #[test]
    fn rejected_credentials_say_which_of_cycles_fields_to_check() {
        let e = answered(401, r#"{"code":"401","message":"bad_credential"}"#);
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(e.title, "Crusoe rejected the credentials");
        assert!(e.detail.contains("(API Key)"), "{}", e.detail);
    }
}
