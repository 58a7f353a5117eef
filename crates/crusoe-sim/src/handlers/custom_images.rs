//! Custom images: made from a disk of a shut-off VM (as the packer plugin makes them), listed
//! with the location of that disk, usable as `custom_image` in that location, and deleted.
//! Crusoe's list takes no filter.

use axum::body::Bytes;
use serde_json::{json, Value};

use super::kinds::{CUSTOM_IMAGES, DISKS};
use super::project_call::{ProjectCall, ResourceCall};
use crate::http::{object, optional_str, required_str, SimError, SimResult};
use crate::resources::VmState;
use crate::world::{timestamp, Action};

/// `CustomImagePostRequest`: `DiskID` and `name` required, `description` and `tags` optional.
pub async fn create_custom_image(call: ProjectCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let disk_id = required_str(&body, "DiskID")?;
    let name = required_str(&body, "name")?;
    let description = optional_str(&body, "description")?.unwrap_or_default();
    let tags = match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => tags.clone(),
        Some(_) => return Err(SimError::bad_request("tags must be an array of strings")),
    };
    call.run(|w| {
        let p = &w.projects[&call.project_id];
        let disk = DISKS.find(p, &disk_id)?;
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
        let action = Action::CreateCustomImage(image);
        CUSTOM_IMAGES.start_op(w, &call.project_id, &image_id, action)
    })
}

pub async fn delete_custom_image(call: ResourceCall) -> SimResult {
    call.start(&CUSTOM_IMAGES, |_, _| Ok(Action::DeleteCustomImage))
}
