//! Disks: list (filtered), get, create, delete (refused while attached).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::Query;

use super::kinds::DISKS;
use super::project_call::{ProjectCall, ResourceCall};
use crate::catalog;
use crate::http::{list_param, object, optional_str, required_str, SimError, SimResult};
use crate::resources::Disk;
use crate::world::{timestamp, Action};

pub async fn list_disks(call: ProjectCall, Query(q): Query<HashMap<String, String>>) -> SimResult {
    let ids = list_param(q.get("disk_ids"));
    let names = list_param(q.get("disk_names"));
    let location = q.get("location").cloned();
    let exclude_os = q.get("exclude_os").map(|v| v == "true").unwrap_or(false);
    call.list_where(&DISKS, |d| {
        (ids.is_empty() || ids.contains(&d.id))
            && (names.is_empty() || names.contains(&d.name))
            && location.as_ref().is_none_or(|l| &d.location == l)
            && (!exclude_os || !d.attached_to.iter().any(|a| a.attachment_type == "os"))
    })
}

/// `10GiB` or `1TiB` to GiB.
fn parse_size(size: &str) -> Result<u64, SimError> {
    let bad = || SimError::bad_request(format!("size {size:?} must be like 100GiB or 1TiB"));
    let (number, factor) = if let Some(n) = size.strip_suffix("GiB") {
        (n, 1)
    } else if let Some(n) = size.strip_suffix("TiB") {
        (n, 1024)
    } else {
        return Err(bad());
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    Ok(n * factor)
}

pub async fn create_disk(call: ProjectCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    if optional_str(&body, "snapshot_id")?.is_some() {
        return Err(SimError::bad_request(
            "creating a disk from a snapshot is not simulated",
        ));
    }
    // Without a snapshot, Crusoe needs size and location.
    let size = optional_str(&body, "size")?
        .ok_or_else(|| SimError::bad_request("size is required without snapshot_id"))?;
    let gib = parse_size(&size)?;
    let location = optional_str(&body, "location")?
        .ok_or_else(|| SimError::bad_request("location is required without snapshot_id"))?;
    if !catalog::LOCATIONS.contains(&location.as_str()) {
        return Err(SimError::bad_request(format!(
            "unknown location {location:?}"
        )));
    }
    let disk_type = optional_str(&body, "type")?.unwrap_or_else(|| "persistent-ssd".into());
    if !matches!(disk_type.as_str(), "persistent-ssd" | "shared-volume") {
        return Err(SimError::bad_request(
            "type must be persistent-ssd or shared-volume",
        ));
    }
    // The OpenAPI still documents 512 or 4096; since 2026-06-30 every persistent disk has
    // 512-byte blocks and a value given is ignored (terraform-provider-crusoe 2c4a455).
    if let Some(v) = body.get("block_size").filter(|v| !v.is_null()) {
        if !matches!(v.as_i64(), Some(512 | 4096)) {
            return Err(SimError::bad_request("block_size must be 512 or 4096"));
        }
    }
    let block_size = 512;
    call.run(|w| {
        let id = w.new_id();
        let serial = w.new_serial();
        let now = timestamp();
        let disk = Disk {
            id: id.clone(),
            name,
            location,
            size: format!("{gib}GiB"),
            disk_type,
            block_size,
            serial,
            created_at: now.clone(),
            updated_at: now,
            attached_to: Vec::new(),
        };
        DISKS.insert(w, &call.project_id, id.clone(), disk);
        DISKS.start_op(w, &call.project_id, &id, Action::CreateDisk)
    })
}

pub async fn delete_disk(call: ResourceCall) -> SimResult {
    call.start(&DISKS, |_, disk| {
        if !disk.attached_to.is_empty() {
            return Err(SimError::conflict(
                "disk is attached to an instance; detach it first",
            ));
        }
        Ok(Action::DeleteDisk)
    })
}
