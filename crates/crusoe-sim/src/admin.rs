//! Inspection and control of the simulator, under a prefix of its own, outside Crusoe's API: no
//! signature, no faults, not counted.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Faults, Sim};

pub const PREFIX: &str = "/_sim";

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/inventory", get(inventory))
        .route("/_sim/calls", get(calls).delete(reset_calls))
        .route("/_sim/faults", get(get_faults).put(set_faults))
        .route("/_sim/capacity", put(set_capacity))
}

/// Every resource of every project, and operations still in progress.
async fn inventory(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.inventory())
}

/// Calls received per endpoint, and their total.
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
    #[serde(rename = "type")]
    vm_type: String,
    quantity: u32,
}

async fn set_capacity(
    State(sim): State<Arc<Sim>>,
    Json(change): Json<CapacityChange>,
) -> Result<StatusCode, (StatusCode, String)> {
    sim.set_capacity(&change.location, &change.vm_type, change.quantity)
        .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    Ok(StatusCode::NO_CONTENT)
}
