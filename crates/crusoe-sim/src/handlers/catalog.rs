use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::project_call::ProjectCall;
use crate::catalog::{self as cat, image_json, vm_type_json};
use crate::http::{items, list_param, Caller, SimError, SimResult};
use crate::Sim;

pub async fn list_locations() -> Json<Value> {
    items(cat::LOCATIONS)
}

pub async fn list_capacities(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let types = list_param(q.get("product_name"));
    let locations = list_param(q.get("location"));
    let mut world = sim.world();
    world.advance();
    let stock = world
        .capacity
        .iter()
        .filter(|((l, t), _)| {
            (types.is_empty() || types.contains(t))
                && (locations.is_empty() || locations.contains(l))
        })
        .map(|((l, t), n)| json!({"location": l, "type": t, "quantity": n, "num_slices": 1}));
    items(stock)
}

pub async fn list_images(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let group = q.get("product_group");
    let offered = cat::IMAGES.iter().filter(|i| match group {
        None => true,
        Some(g) => i.groups.is_empty() || i.groups.contains(&g.as_str()),
    });
    items(offered.map(image_json))
}

pub async fn get_image(Path(id): Path<String>) -> SimResult {
    cat::IMAGES
        .iter()
        .find(|i| i.id == id)
        .map(|i| Json(image_json(i)))
        .ok_or_else(|| SimError::not_found("image"))
}

pub async fn list_vm_types(call: ProjectCall) -> SimResult {
    call.run(|_| Ok(items(cat::VM_TYPES.iter().map(vm_type_json))))
}

pub async fn list_quotas(call: ProjectCall) -> SimResult {
    call.run(|w| {
        let p = &w.projects[&call.project_id];
        let used = p.vms.len() as i64;
        Ok(Json(json!({"quotas": [{
            "available": 10_000 - used,
            "category": "Instance",
            "description": "VMs per project",
            "max": 10_000,
            "programmatic_name": "vms",
            "type": "PROJECT_QUOTA_TYPE_MAXIMUM_VMS",
            "used": used,
        }]})))
    })
}

fn project_json(w: &crate::world::World, id: &str) -> Value {
    let p = &w.projects[id];
    let count = |n: usize| json!({"count": n});
    json!({
        "id": p.id,
        "name": p.name,
        "organization_id": "ee2a6bc3-aed5-4756-8995-9990a53d3a17",
        "relation": "owner",
        "resources": {
            "disks": count(p.disks.len()),
            "images": count(p.custom_images.len()),
            "instances": count(p.vms.len()),
            "snapshots": count(0),
            "vpc_networks": count(p.networks.len()),
        }
    })
}

/// A project the caller does not own is not found, as if it did not exist.
pub async fn get_project(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
) -> SimResult {
    let mut world = sim.world();
    world.advance();
    if !world.owns(&caller.0, &project_id) {
        return Err(SimError::not_found("project"));
    }
    Ok(Json(project_json(&world, &project_id)))
}

pub async fn list_projects(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let world = sim.world();
    let owned = world.projects.values().filter(|p| p.owner_key == caller.0);
    items(owned.map(|p| project_json(&world, &p.id)))
}
