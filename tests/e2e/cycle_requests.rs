//! Every request as Cycle's platform marshals it from its Go types (cycleplatform/integrations,
//! `types/*.go`): nil maps as `null`, unset ObjectIDs as `"000000000000000000000000"`, unset
//! pointers as `null`, `Auth` fields left out (`omitempty`) rather than empty, and
//! `model_features.extra` left out (`omitempty`). The bridge accepts all of it, and refuses the
//! one thing it cannot serve: a server with Cycle's zero id, which would name no server.

use crate::common;

use common::harness::{Harness, CYCLE_SERVER, HUB};
use common::{quick_sim_config, ACCESS_KEY, PROJECT, SECRET};
use serde_json::{json, Value};

const ZERO: &str = "000000000000000000000000";

/// `Auth` as Go marshals it: only the fields set, the others left out.
fn go_auth() -> Value {
    json!({"namespace": PROJECT, "api_key": ACCESS_KEY, "secret": SECRET, "cycle": {"hub_name": "hub", "hub_id": HUB}})
}

/// `CycleServerMeta` with the model and location ObjectIDs unset.
fn go_server_meta(server: &str) -> Value {
    json!({"server_id": server, "model_class": "c1a", "model_category": "cpu", "model_id": ZERO, "location_id": ZERO})
}

#[tokio::test]
async fn the_requests_cycles_go_types_produce_are_served() {
    let mut h = Harness::start(quick_sim_config(), common::harness::test_settings()).await;
    h.auth = go_auth();
    let ok = |answer: (u16, Value)| Harness::data(answer);

    assert_eq!(
        ok(h.cycle("/v1/auth/verify", Value::Null).await)["valid"],
        true
    );
    let configured = ok(h
        .cycle(
            "/v1/location/configure",
            json!({"location_id": "us-east1-a", "version": "", "configuration_current": null, "cycle": {"location_id": ZERO}}),
        )
        .await);
    let config = configured["configuration_latest"].clone();
    let provisioned = ok(h
        .cycle(
            "/v1/infrastructure/server/provision",
            json!({
                "hostname": "node-1", "model_id": "c1a.4x", "location_id": "us-east1-a", "zone_id": null,
                "model_features": {"raid": null, "hypervisor": null},
                "provision_options": null,
                "location_configuration": config,
                "cycle": go_server_meta(CYCLE_SERVER)
            }),
        )
        .await);
    let server_id = provisioned["server_id"].as_str().unwrap().to_string();
    let status_request = json!({
        "server_id": server_id, "location_id": "us-east1-a", "zone_id": null,
        "model_features": {"raid": null, "hypervisor": null},
        "provision_options": null, "location_configuration": config, "extra": null,
        "cycle": go_server_meta(CYCLE_SERVER)
    });
    let mut ready = Value::Null;
    for _ in 0..200 {
        ready = ok(h
            .cycle(
                "/v1/infrastructure/server/provision-status",
                status_request.clone(),
            )
            .await);
        if ready["provisioned"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(ready["provisioned"], true, "{ready}");
    let ip = ok(h
        .cycle(
            "/v1/infrastructure/ip/allocate",
            json!({"kind": "ipv4", "server_id": server_id, "location_id": "us-east1-a", "zone_id": null,
                   "location_configuration": config,
                   "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": ZERO}}),
        )
        .await);
    assert_eq!(
        ok(h
            .cycle(
                "/v1/infrastructure/ip/release",
                json!({"kind": "ipv4", "ip_id": ip["ip_id"], "ip_assignment_id": ip["ip_assignment_id"], "cidr": ip["cidr"],
                       "nat_private_ip": null, "zone_id": null, "server_id": server_id, "location_id": "us-east1-a",
                       "location_configuration": null,
                       "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": ZERO}}),
            )
            .await),
        true
    );
    let server_ref = json!({"server_id": server_id, "hostname": "node-1", "model_id": "c1a.4x", "location_id": "us-east1-a",
                            "zone_id": null, "extra": null, "cycle": go_server_meta(CYCLE_SERVER)});
    assert_eq!(
        ok(
            h.cycle("/v1/infrastructure/server/restart", server_ref.clone())
                .await
        ),
        true
    );
    assert_eq!(
        ok(
            h.cycle("/v1/infrastructure/server/decommission", server_ref)
                .await
        ),
        true
    );
    assert_eq!(h.billable(), (0, 0, 0));
}

#[tokio::test]
async fn a_server_with_cycles_zero_id_is_refused_and_nothing_is_made() {
    let mut h = Harness::start(quick_sim_config(), common::harness::test_settings()).await;
    h.auth = go_auth();
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let (status, answer) = h
        .cycle(
            "/v1/infrastructure/server/provision",
            json!({
                "hostname": "node-1", "model_id": "c1a.4x", "location_id": "us-east1-a", "zone_id": null,
                "model_features": {"raid": null, "hypervisor": null}, "provision_options": null,
                "location_configuration": config, "cycle": go_server_meta(ZERO)
            }),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["source"], "/request/cycle/server_id");
    assert_eq!(h.billable(), (0, 0, 0));
}

#[tokio::test]
async fn a_reservation_is_accepted_and_not_sent_since_crusoe_ignores_it() {
    let h = Harness::start(quick_sim_config(), common::harness::test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let mut request = Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config);
    request["provision_options"] =
        json!({"reservation_id": "804bf3a2-81f2-4d78-9a9e-dc6a55ed33d8"});
    Harness::data(
        h.cycle("/v1/infrastructure/server/provision", request)
            .await,
    );
    let vm = h.project()["vms"][0].clone();
    assert_eq!(
        vm["sim"]["reservation_specification"],
        Value::Null,
        "terraform dropped the field: 'The requested reservation_id was ignored by the backend'"
    );
}
