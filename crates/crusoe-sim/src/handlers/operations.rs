//! The operation endpoints: one per family, each knowing only its own family's operations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};

use crate::http::{in_project, Caller, SimError, SimResult};
use crate::world::Family;
use crate::Sim;

/// Unknown, foreign and expired operations all answer 403, as Crusoe documents.
pub async fn get_operation(
    family: Family,
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, operation_id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        w.operation(&project_id, family, &operation_id)
            .map(Json)
            .ok_or_else(SimError::forbidden)
    })
}
