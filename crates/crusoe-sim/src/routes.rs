//! The simulator's routes: Crusoe's API under the base path (counted, faulted, signed), and the
//! admin endpoints under their own prefix (none of that).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, MethodRouter};
use axum::Router;

use super::handlers::kinds::{
    CUSTOM_IMAGES, DISKS, FIREWALL_RULES, LOAD_BALANCERS, NETWORKS, SUBNETS, VMS,
};
use super::handlers::project_call::{get_list, get_one, ProjectCall, ResourceCall};
use super::handlers::{catalog, compute, custom_images, networking, operations, storage};
use super::http::{authenticate, count_calls, inject_faults, SimError};
use super::world::Family;
use super::{admin, Sim};

/// Where each family's operations are read, below its resources' path: Crusoe gives every
/// family an operations endpoint of its own.
const OPERATIONS: [(&str, Family); 7] = [
    ("compute/vms/instances", Family::Vms),
    ("storage/disks", Family::Disks),
    ("networking/vpc-networks", Family::Networks),
    ("networking/vpc-subnets", Family::Subnets),
    ("networking/vpc-firewall-rules", Family::FirewallRules),
    ("networking/load-balancers", Family::LoadBalancers),
    ("compute/custom-images", Family::CustomImages),
];

fn operation_route(family: Family) -> MethodRouter<Arc<Sim>> {
    get(move |call: ResourceCall| async move { operations::get_operation(family, &call) })
}

fn operations_route(family: Family) -> MethodRouter<Arc<Sim>> {
    get(
        move |call: ProjectCall, q: Query<HashMap<String, String>>| async move {
            operations::list_operations(family, &call, &q)
        },
    )
}

pub fn router(sim: Arc<Sim>) -> Router {
    const P: &str = "/projects/{project_id}";
    let mut api = Router::new()
        .route("/locations", get(catalog::list_locations))
        .route("/capacities", get(catalog::list_capacities))
        .route("/compute/images", get(catalog::list_images))
        .route("/compute/images/{image_id}", get(catalog::get_image))
        .route("/organizations/projects", get(catalog::list_projects))
        .route(
            "/organizations/projects/{project_id}",
            get(catalog::get_project),
        )
        .route(&format!("{P}/quotas"), get(catalog::list_quotas))
        .route(
            &format!("{P}/compute/vms/types"),
            get(catalog::list_vm_types),
        )
        .route(
            &format!("{P}/compute/custom-images"),
            get_list(&CUSTOM_IMAGES).post(custom_images::create_custom_image),
        )
        .route(
            &format!("{P}/compute/custom-images/{{image_id}}"),
            get_one(&CUSTOM_IMAGES).delete(custom_images::delete_custom_image),
        )
        .route(
            &format!("{P}/compute/vms/instances"),
            get(compute::list_vms).post(compute::create_vm),
        )
        .route(
            &format!("{P}/compute/vms/instances/{{vm_id}}"),
            get_one(&VMS)
                .delete(compute::delete_vm)
                .patch(compute::update_vm),
        )
        .route(
            &format!("{P}/compute/vms/instances/{{vm_id}}/attach-disks"),
            axum::routing::post(compute::attach_disks),
        )
        .route(
            &format!("{P}/compute/vms/instances/{{vm_id}}/detach-disks"),
            axum::routing::post(compute::detach_disks),
        )
        .route(
            &format!("{P}/storage/disks"),
            get(storage::list_disks).post(storage::create_disk),
        )
        .route(
            &format!("{P}/storage/disks/{{disk_id}}"),
            get_one(&DISKS).delete(storage::delete_disk),
        )
        .route(
            &format!("{P}/networking/vpc-networks"),
            get_list(&NETWORKS).post(networking::create_network),
        )
        .route(
            &format!("{P}/networking/vpc-networks/{{id}}"),
            get_one(&NETWORKS).delete(networking::delete_network),
        )
        .route(
            &format!("{P}/networking/vpc-subnets"),
            get_list(&SUBNETS).post(networking::create_subnet),
        )
        .route(
            &format!("{P}/networking/vpc-subnets/{{id}}"),
            get_one(&SUBNETS).delete(networking::delete_subnet),
        )
        .route(
            &format!("{P}/networking/vpc-firewall-rules"),
            get_list(&FIREWALL_RULES).post(networking::create_firewall_rule),
        )
        .route(
            &format!("{P}/networking/vpc-firewall-rules/{{id}}"),
            get_one(&FIREWALL_RULES).delete(networking::delete_firewall_rule),
        )
        .route(
            &format!("{P}/networking/load-balancers"),
            get(networking::list_load_balancers).post(networking::create_load_balancer),
        )
        .route(
            &format!("{P}/networking/load-balancers/{{id}}"),
            get_one(&LOAD_BALANCERS)
                .patch(networking::update_load_balancer)
                .delete(networking::delete_load_balancer),
        );
    for (path, family) in OPERATIONS {
        let route = format!("{P}/{path}/operations/{{operation_id}}");
        api = api.route(&route, operation_route(family));
        api = api.route(&format!("{P}/{path}/operations"), operations_route(family));
    }
    let api = api
        // The last layer added runs first: count, then faults, then the signature check.
        .route_layer(from_fn_with_state(Arc::clone(&sim), authenticate))
        .route_layer(from_fn_with_state(Arc::clone(&sim), inject_faults))
        .route_layer(from_fn_with_state(Arc::clone(&sim), count_calls));

    let api = if sim.base_path.is_empty() {
        api
    } else {
        sim.base_paths
            .iter()
            .filter(|p| !p.is_empty())
            .fold(Router::new(), |all, prefix| all.nest(prefix, api.clone()))
    };
    api.merge(admin::router())
        .fallback(|| async { SimError::not_found("route") })
        .with_state(sim)
}
