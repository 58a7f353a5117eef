//! The bridge's errors, and the one place where they become Cycle's: a status, a slug, and a
//! detail that says what happened and what to do.

use axum::http::StatusCode;

use crate::ial::IalError;
use crusoe_sdk::CrusoeError;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
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
    /// Crusoe finished an operation as FAILED for a reason other than stock.
    #[error("{0}")]
    ProviderFailed(String),
    /// The work did not finish in time; a retry continues it.
    #[error("{0}")]
    Timeout(String),
    /// A call to Crusoe failed; `doing` says what the bridge was doing.
    #[error("{doing}: {source}")]
    Crusoe {
        doing: String,
        #[source]
        source: Box<CrusoeError>,
    },
    /// This tenant made more requests than its rate limit allows.
    #[error("hub {hub} is over its request rate; retry in {}s", wait.as_secs() + 1)]
    RateLimited {
        hub: String,
        wait: std::time::Duration,
    },
    /// One failure handed to every caller that waited on the same work (a shared cache fill).
    #[error("{0}")]
    Shared(std::sync::Arc<BridgeError>),
}

impl BridgeError {
    pub fn invalid(detail: impl Into<String>, pointer: &str) -> Self {
        BridgeError::InvalidInput {
            detail: detail.into(),
            pointer: Some(pointer.to_string()),
        }
    }
}

/// Adds what the bridge was doing to a Crusoe failure.
pub trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, BridgeError>;
}

impl<T> Doing<T> for Result<T, CrusoeError> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, BridgeError> {
        self.map_err(|source| BridgeError::Crusoe {
            doing: what(),
            source: Box::new(source),
        })
    }
}

fn e(status: StatusCode, slug: &'static str, title: &'static str, detail: String) -> IalError {
    IalError::new(status, slug, title, detail)
}

impl From<BridgeError> for IalError {
    fn from(err: BridgeError) -> Self {
        IalError::from(&err)
    }
}

impl From<&BridgeError> for IalError {
    fn from(err: &BridgeError) -> Self {
        match err {
            BridgeError::Unauthorized(d) => e(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                d.clone(),
            ),
            BridgeError::InvalidInput { detail, pointer } => {
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
            BridgeError::NotFound(d) => {
                e(StatusCode::NOT_FOUND, "not-found", "Not found", d.clone())
            }
            BridgeError::OutOfStock(d) => e(
                StatusCode::CONFLICT,
                "out-of-stock",
                "Out of stock",
                d.clone(),
            ),
            BridgeError::Conflict(d) => e(StatusCode::CONFLICT, "conflict", "Conflict", d.clone()),
            BridgeError::ProviderFailed(d) => e(
                StatusCode::BAD_GATEWAY,
                "provider-failed",
                "Crusoe operation failed",
                d.clone(),
            ),
            BridgeError::Timeout(d) => e(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "Timed out",
                d.clone(),
            ),
            BridgeError::RateLimited { wait, .. } => e(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                err.to_string(),
            )
            .with_retry_after(wait.as_secs() + 1),
            BridgeError::Crusoe { doing, source } => crusoe_error(doing, source),
            BridgeError::Shared(inner) => IalError::from(inner.as_ref()),
        }
    }
}

fn crusoe_error(doing: &str, source: &CrusoeError) -> IalError {
    if let Some(id) = source.error_id() {
        tracing::warn!(error_id = id, status = source.status(), "{doing}: {source}");
    }
    let detail = |advice: &str| format!("{doing}: {source}. {advice}");
    let out_of_stock = || {
        e(
            StatusCode::CONFLICT,
            "out-of-stock",
            "Out of stock",
            detail("Choose another model or location, or retry later."),
        )
    };
    match source {
        CrusoeError::BadCredentials(_) => e(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Crusoe rejected the credentials",
            detail("Check the access key id (API Key) and secret key (Secret) in Cycle's integration settings."),
        ),
        CrusoeError::Forbidden(_) => e(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Crusoe denied access",
            detail("Check that the key pair belongs to the project given as Namespace."),
        ),
        CrusoeError::NotFound(_) => e(StatusCode::NOT_FOUND, "not-found", "Not found", detail("")),
        CrusoeError::Conflict(_) => e(
            StatusCode::CONFLICT,
            "conflict",
            "Busy",
            detail("Another operation is in progress on the resource; retry shortly."),
        ),
        // Whether Crusoe said so in an answer or in a failed operation: the same 409.
        CrusoeError::OutOfStock(_) => out_of_stock(),
        CrusoeError::OperationFailed { .. } if source.is_out_of_stock() => out_of_stock(),
        CrusoeError::OperationFailed { .. } => e(
            StatusCode::BAD_GATEWAY,
            "provider-failed",
            "Crusoe operation failed",
            detail("Nothing billable was left behind; correct the cause and try again."),
        ),
        CrusoeError::RateLimited(_)
        | CrusoeError::Server(_)
        | CrusoeError::Connect(_)
        | CrusoeError::OutcomeUnknown { .. } => e(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider-unavailable",
            "Crusoe unavailable",
            detail("Crusoe is failing or throttling; retry later. Nothing was lost."),
        ),
        CrusoeError::Timeout(_) | CrusoeError::OperationTimeout { .. } => e(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "Timed out",
            detail("Crusoe is slow; retry, and the work continues where it stopped."),
        ),
        CrusoeError::InvalidResponse(_) => e(
            StatusCode::BAD_GATEWAY,
            "provider-invalid-response",
            "Unexpected answer from Crusoe",
            detail("Retry; if it persists, report it with the error id."),
        ),
        CrusoeError::BadRequest(_) | CrusoeError::InvalidId(_) | CrusoeError::InvalidRequest(_) => e(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Rejected",
            detail("Correct the request or the bridge's settings."),
        ),
        // A kind of failure this bridge was not built for: Crusoe's side, not Cycle's request.
        _ => e(
            StatusCode::BAD_GATEWAY,
            "provider-failed",
            "Crusoe call failed",
            detail("Retry; if it persists, report it with the error id."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crusoe_sdk::ApiError;

    fn answered(status: u16, body: &str) -> IalError {
        let source = CrusoeError::from_api(ApiError::from_body(status, body.as_bytes()));
        IalError::from(BridgeError::Crusoe {
            doing: "creating VM cycle-x".into(),
            source: Box::new(source),
        })
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
}
