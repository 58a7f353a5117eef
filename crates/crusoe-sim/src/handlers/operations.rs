//! The operation endpoints: one per family, each knowing only its own family's operations.

use axum::Json;

use super::project_call::ResourceCall;
use crate::http::{SimError, SimResult};
use crate::world::Family;

/// Unknown, foreign and expired operations all answer 403, as Crusoe documents.
pub fn get_operation(family: Family, call: &ResourceCall) -> SimResult {
    call.run(|w| {
        w.operation(&call.project_id, family, &call.id)
            .map(Json)
            .ok_or_else(SimError::forbidden)
    })
}
