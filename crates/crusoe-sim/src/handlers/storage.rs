//! Disks: list (filtered), get, create, delete (refused while attached).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::catalog;
use crate::http::{
    in_project, list_param, object, optional_str, required_str, Caller, SimError, SimResult,
};
use crate::resources::Disk;
use crate::world::{timestamp, Action, Family, Fate};
use crate::Sim;

pub async fn list_disks(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> SimResult {
    let ids = list_param(q.get("disk_ids"));
    let names = list_param(q.get("disk_names"));
    let location = q.get("location").cloned();
    let exclude_os = q.get("exclude_os").map(|v| v == "true").unwrap_or(false);
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        let items: Vec<Value> = p
            .disks
            .values()
            .filter(|d| ids.is_empty() || ids.contains(&d.id))
            .filter(|d| names.is_empty() || names.contains(&d.name))
            .filter(|d| location.as_ref().is_none_or(|l| &d.location == l))
            .filter(|d| !exclude_os || !d.attached_to.iter().any(|a| a.attachment_type == "os"))
            .map(|d| p.disk_json(d))
            .collect();
        Ok(Json(json!({"items": items})))
    })
}

pub async fn get_disk(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, disk_id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        p.disks
            .get(&disk_id)
            .map(|d| Json(p.disk_json(d)))
            .ok_or_else(|| SimError::not_found("disk"))
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

pub async fn create_disk(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> SimResult {
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
    let block_size = match body.get("block_size") {
        None | Some(Value::Null) => 4096,
        Some(v) => match v.as_i64() {
            Some(b @ (512 | 4096)) => b,
            _ => return Err(SimError::bad_request("block_size must be 512 or 4096")),
        },
    };
    in_project(&sim, &caller, &project_id, |w| {
        let id = w.new_id();
        let serial = w.new_serial();
        let now = timestamp();
        w.projects
            .get_mut(&project_id)
            .expect("owned")
            .disks
            .insert(
                id.clone(),
                Disk {
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
                },
            );
        let op = w.start_op(
            &project_id,
            Family::Disks,
            &id,
            Action::CreateDisk,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn delete_disk(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, disk_id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let disk = w.projects[&project_id]
            .disks
            .get(&disk_id)
            .ok_or_else(|| SimError::not_found("disk"))?;
        if !disk.attached_to.is_empty() {
            return Err(SimError::conflict(
                "disk is attached to an instance; detach it first",
            ));
        }
        let op = w.start_op(
            &project_id,
            Family::Disks,
            &disk_id,
            Action::DeleteDisk,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}
