//! The simulator's routes: Crusoe's API under the base path (counted, faulted, signed), and the
//! admin endpoints under their own prefix (none of that).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Extension, Router};

use super::handlers::{catalog, compute, custom_images, networking, operations, storage};
use super::http::{authenticate, count_calls, inject_faults, Caller, SimError, SimResult};
use super::world::Family;
use super::{admin, Sim};

fn operation_route(family: Family) -> axum::routing::MethodRouter<Arc<Sim>> {
    get(
        move |state: State<Arc<Sim>>, caller: Extension<Caller>, path: Path<(String, String)>| async move {
            let result: SimResult = operations::get_operation(family, state, caller, path).await;
            result
        },
    )
}

pub fn router(sim: Arc<Sim>) -> Router {
    const P: &str = "/projects/{project_id}";
    let api = Router::new()
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
            get(custom_images::list_custom_images).post(custom_images::create_custom_image),
        )
        .route(
            &format!("{P}/compute/custom-images/{{image_id}}"),
            get(custom_images::get_custom_image).delete(custom_images::delete_custom_image),
        )
        .route(
            &format!("{P}/compute/vms/instances"),
            get(compute::list_vms).post(compute::create_vm),
        )
        .route(
            &format!("{P}/compute/vms/instances/{{vm_id}}"),
            get(compute::get_vm)
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
            get(storage::get_disk).delete(storage::delete_disk),
        )
        .route(
            &format!("{P}/networking/vpc-networks"),
            get(networking::list_networks).post(networking::create_network),
        )
        .route(
            &format!("{P}/networking/vpc-networks/{{id}}"),
            get(networking::get_network).delete(networking::delete_network),
        )
        .route(
            &format!("{P}/networking/vpc-subnets"),
            get(networking::list_subnets).post(networking::create_subnet),
        )
        .route(
            &format!("{P}/networking/vpc-subnets/{{id}}"),
            get(networking::get_subnet).delete(networking::delete_subnet),
        )
        .route(
            &format!("{P}/networking/vpc-firewall-rules"),
            get(networking::list_firewall_rules).post(networking::create_firewall_rule),
        )
        .route(
            &format!("{P}/networking/vpc-firewall-rules/{{id}}"),
            get(networking::get_firewall_rule).delete(networking::delete_firewall_rule),
        )
        .route(
            &format!("{P}/networking/load-balancers"),
            get(networking::list_load_balancers).post(networking::create_load_balancer),
        )
        .route(
            &format!("{P}/networking/load-balancers/{{id}}"),
            get(networking::get_load_balancer)
                .patch(networking::update_load_balancer)
                .delete(networking::delete_load_balancer),
        )
        .route(
            &format!("{P}/compute/vms/instances/operations/{{operation_id}}"),
            operation_route(Family::Vms),
        )
        .route(
            &format!("{P}/storage/disks/operations/{{operation_id}}"),
            operation_route(Family::Disks),
        )
        .route(
            &format!("{P}/networking/vpc-networks/operations/{{operation_id}}"),
            operation_route(Family::Networks),
        )
        .route(
            &format!("{P}/networking/vpc-subnets/operations/{{operation_id}}"),
            operation_route(Family::Subnets),
        )
        .route(
            &format!("{P}/networking/vpc-firewall-rules/operations/{{operation_id}}"),
            operation_route(Family::FirewallRules),
        )
        .route(
            &format!("{P}/networking/load-balancers/operations/{{operation_id}}"),
            operation_route(Family::LoadBalancers),
        )
        .route(
            &format!("{P}/compute/custom-images/operations/{{operation_id}}"),
            operation_route(Family::CustomImages),
        )
        // The last layer added runs first: count, then faults, then the signature check.
        .route_layer(from_fn_with_state(Arc::clone(&sim), authenticate))
        .route_layer(from_fn_with_state(Arc::clone(&sim), inject_faults))
        .route_layer(from_fn_with_state(Arc::clone(&sim), count_calls));

    let api = if sim.base_path.is_empty() {
        api
    } else {
        Router::new().nest(&sim.base_path, api)
    };
    api.merge(admin::router())
        .fallback(|| async { SimError::not_found("route") })
        .with_state(sim)
}
