//! Inspection and control of the simulator under `/_sim`, outside CloudSigma's API: no
//! authentication, no faults, not counted.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Faults, Sim};

pub const PREFIX: &str = "/_sim";

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/inventory", get(inventory))
        .route("/_sim/drives/{uuid}/content", get(drive_content))
        .route("/_sim/calls", get(calls).delete(reset_calls))
        .route("/_sim/faults", get(get_faults).put(set_faults))
        .route("/_sim/capacity", put(set_capacity))
        .route("/_sim/balance", put(set_balance))
}

async fn inventory(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.inventory())
}

async fn drive_content(State(sim): State<Arc<Sim>>, Path(uuid): Path<String>) -> Response {
    match sim.drive_content(&uuid) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no uploaded content for this drive").into_response(),
    }
}

async fn calls(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let calls = sim.calls();
    let total: u64 = calls.values().sum();
    Json(json!({"total": total, "by_endpoint": calls}))
}

async fn reset_calls(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset_calls();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Json<Faults> {
    Json(sim.faults())
}

async fn set_faults(
    State(sim): State<Arc<Sim>>,
    Json(faults): Json<Faults>,
) -> Result<Json<Faults>, (StatusCode, String)> {
    sim.set_faults(faults.clone())
        .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    Ok(Json(faults))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityChange {
    location: String,
    /// How many more starts can succeed there; null = unlimited.
    servers: Option<u32>,
}

async fn set_capacity(
    State(sim): State<Arc<Sim>>,
    Json(change): Json<CapacityChange>,
) -> Result<StatusCode, (StatusCode, String)> {
    if !sim.has_location(&change.location) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("unknown location {:?}", change.location),
        ));
    }
    sim.set_capacity(&change.location, change.servers);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceChange {
    username: String,
    balance: String,
}

async fn set_balance(
    State(sim): State<Arc<Sim>>,
    Json(change): Json<BalanceChange>,
) -> Result<StatusCode, (StatusCode, String)> {
    sim.set_balance(&change.username, &change.balance)
        .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    Ok(StatusCode::NO_CONTENT)
}
