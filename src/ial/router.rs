//! Routes. The IAL endpoints themselves are added by the bridge layer; this holds what every
//! deployment serves regardless: health, and Cycle-shaped answers for unknown paths and methods.

use axum::http::{Method, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use super::IalError;

pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http())
}

/// Liveness: the process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn not_found(method: Method, uri: Uri) -> IalError {
    IalError::not_found(format!("no endpoint at {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> IalError {
    IalError::method_not_allowed(format!("{} does not accept {method}", uri.path()))
}
