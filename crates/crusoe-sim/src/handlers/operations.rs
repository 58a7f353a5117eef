//! The operation endpoints: one per family, each knowing only its own family's operations.

use std::collections::HashMap;

use axum::extract::Query;
use axum::Json;

use super::project_call::{ProjectCall, ResourceCall};
use crate::http::{items, list_param, SimError, SimResult};
use crate::world::Family;

/// Unknown, foreign and expired operations all answer 403, as Crusoe documents.
pub fn get_operation(family: Family, call: &ResourceCall) -> SimResult {
    call.run(|w| {
        w.operation(&call.project_id, family, &call.id)
            .map(Json)
            .ok_or_else(SimError::forbidden)
    })
}

/// `list<Family>Operations`: the family's operations in the project that are running or not yet
/// expired, narrowed by `resource_id` and `state` (one comma-separated value, as Crusoe takes
/// every array parameter).
pub fn list_operations(
    family: Family,
    call: &ProjectCall,
    q: &Query<HashMap<String, String>>,
) -> SimResult {
    let states = list_param(q.get("state"));
    if let Some(bad) = states
        .iter()
        .find(|s| !matches!(s.as_str(), "IN_PROGRESS" | "SUCCEEDED" | "FAILED"))
    {
        return Err(SimError::bad_request(format!(
            "state {bad:?} is not one of IN_PROGRESS, SUCCEEDED, FAILED"
        )));
    }
    let resource = q.get("resource_id").filter(|r| !r.is_empty());
    call.run(|w| {
        Ok(items(w.operations(
            &call.project_id,
            family,
            resource.map(String::as_str),
            &states,
        )))
    })
}
