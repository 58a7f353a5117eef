//! One method per Crusoe call the bridge uses, grouped by family. Every id that enters a path is
//! checked by [`PathId`] first.

mod catalog;
mod custom_images;
mod disks;
mod load_balancers;
mod networking;
mod operations;
mod projects;
mod vms;

pub use operations::OperationFamily;

use super::ids::PathId;
use super::CrusoeError;

/// `/projects/{project_id}` followed by `rest`.
pub(crate) fn project_path(project_id: &str, rest: &str) -> Result<String, CrusoeError> {
    let project = PathId::parse("project_id", project_id)?;
    Ok(format!("/projects/{project}{rest}"))
}

/// `/projects/{project_id}/{collection}/{id}`.
pub(crate) fn item_path(
    project_id: &str,
    collection: &str,
    what: &'static str,
    id: &str,
) -> Result<String, CrusoeError> {
    let id = PathId::parse(what, id)?;
    project_path(project_id, &format!("/{collection}/{id}"))
}
