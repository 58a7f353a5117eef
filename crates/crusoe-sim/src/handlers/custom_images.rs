//! Custom images: made from a disk of a shut-off VM (as the packer plugin makes them), listed
//! with the location of that disk, usable as `custom_image` in that location, and deleted.
//! Crusoe's list takes no filter.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::http::{in_project, object, optional_str, required_str, Caller, SimError, SimResult};
use crate::resources::VmState;
use crate::world::{timestamp, Action, Family, Fate};
use crate::Sim;

pub async fn list_custom_images(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        Ok(Json(
            json!({"items": p.custom_images.values().collect::<Vec<_>>()}),
        ))
    })
}

pub async fn get_custom_image(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, image_id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        w.projects[&project_id]
            .custom_images
            .get(&image_id)
            .map(|i| Json(i.clone()))
            .ok_or_else(|| SimError::not_found("custom image"))
    })
}

/// `CustomImagePostRequest`: `DiskID` and `name` required, `description` and `tags` optional.
pub async fn create_custom_image(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> SimResult {
    let body = object(&body)?;
    let disk_id = required_str(&body, "DiskID")?;
    let name = required_str(&body, "name")?;
    let description = optional_str(&body, "description")?.unwrap_or_default();
    let tags = match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => tags.clone(),
        Some(_) => return Err(SimError::bad_request("tags must be an array of strings")),
    };
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        let disk = p
            .disks
            .get(&disk_id)
            .ok_or_else(|| SimError::not_found("disk"))?;
        // The packer plugin images a VM's disk only once the VM is STATE_SHUTOFF: a disk in use
        // by a VM that runs or is busy is refused.
        for a in &disk.attached_to {
            if let Some(vm) = p.vms.get(&a.vm_id) {
                if vm.state != VmState::Shutoff || vm.busy_with.is_some() {
                    return Err(SimError::conflict(format!(
                        "disk {disk_id} is in use by instance {} in {}: stop it first",
                        vm.id,
                        vm.state.wire()
                    )));
                }
            }
        }
        let location = disk.location.clone();
        let image_id = w.new_id();
        let image = json!({
            "id": image_id,
            "name": name,
            "description": description,
            "created_at": timestamp(),
            "locations": [location],
            "tags": tags,
        });
        let op = w.start_op(
            &project_id,
            Family::CustomImages,
            &image_id,
            Action::CreateCustomImage(image),
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn delete_custom_image(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, image_id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        if !w.projects[&project_id]
            .custom_images
            .contains_key(&image_id)
        {
            return Err(SimError::not_found("custom image"));
        }
        let op = w.start_op(
            &project_id,
            Family::CustomImages,
            &image_id,
            Action::DeleteCustomImage,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}
