//! Cycle's whole lifecycle through the bridge's HTTP API against the simulator: verify,
//! locations, models, configure, provision, poll, allocate, release, restart, decommission. Every
//! answer is checked against Cycle's published IAL schemas when `../shared` is present, and at the
//! end nothing billable the bridge made is left.

use crate::common;

use common::harness::{element, Harness, CYCLE_SERVER, STAND_IN_IPXE_URL};
use common::openapi::CycleSpec;
use common::swagger::assert_all_found;
use common::{quick_sim_config, PROJECT};
use crusoe_ial::ial::{Envelope, IalOptions};
use serde_json::{json, Value};

/// Answers collected along the way, to check against Cycle's schemas.
#[derive(Default)]
struct Seen(Vec<(&'static str, &'static str, Value)>);

impl Seen {
    fn keep(&mut self, path: &'static str, method: &'static str, data: &Value) {
        self.0.push((path, method, data.clone()));
    }

    /// What Cycle's Go types would refuse, with or without `../shared`.
    fn check_against_cycles_go_types(&self) {
        let failures: Vec<String> = self
            .0
            .iter()
            .flat_map(|(path, _, data)| {
                common::cycle_go::violations(path, data)
                    .into_iter()
                    .map(move |v| format!("{path}: {v}"))
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    fn check_against_cycles_schemas(&self) {
        let Some(shared) = common::shared_dir() else {
            eprintln!("skipped: ../shared is absent, so Cycle's IAL OpenAPI cannot be read");
            return;
        };
        let spec = CycleSpec::load(&shared.join("reference/cycle-ial/openapi"));
        let mut failures = Vec::new();
        for (path, method, data) in &self.0 {
            let (schema, file) = spec.response(path, method);
            for v in spec.violations(&schema, &file, data) {
                failures.push(format!("{method} {path}: {v}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

async fn lifecycle(h: &Harness, seen: &mut Seen, unwrap: fn((u16, Value)) -> Value) {
    let verify = unwrap(h.cycle("/v1/auth/verify", Value::Null).await);
    assert_eq!(verify, json!({"valid": true}));
    seen.keep("/v1/auth/verify", "post", &verify);

    let locations = unwrap(
        h.cycle("/v1/infrastructure/provider/locations", Value::Null)
            .await,
    );
    let east = element(
        &locations["locations"],
        "/provider/location_id",
        "us-east1-a",
    )
    .clone();
    assert_eq!(east["abbreviation"], "USE1A");
    assert_eq!(east["geographic"]["country"], "US");
    assert_eq!(east["compatible"], true);
    seen.keep("/v1/infrastructure/provider/locations", "get", &locations);

    let models = unwrap(
        h.cycle("/v1/infrastructure/provider/server-models", Value::Null)
            .await,
    );
    let model = |id: &str| element(&models["models"], "/provider/model_id", id).clone();
    let h100 = model("h100-80gb-sxm-ib.8x");
    assert_eq!(
        (
            h100["provider"]["category"].as_str(),
            h100["provider"]["class"].as_str()
        ),
        (Some("gpu"), Some("h100"))
    );
    assert_eq!(h100["specs"]["gpu"]["count"], 8);
    assert_eq!(h100["specs"]["gpu"]["vram_gb"], 80);
    assert_eq!(
        h100["pricing"]["hourly"], 31_200,
        "dollars per hour in mils"
    );
    assert_eq!(
        model("gh200.1x")["compatible"],
        false,
        "ARM cannot run CycleOS"
    );
    assert_eq!(model("c1a.1x")["compatible"], false, "under 4 GB");
    assert_eq!(model("c1a.4x")["compatible"], true);
    assert!(model("c1a.4x")["provider"]["locations"]
        .as_array()
        .unwrap()
        .contains(&json!("us-east1-a")));
    seen.keep("/v1/infrastructure/provider/server-models", "get", &models);

    let configured = h.configure("us-east1-a").await;
    assert_eq!(configured["configured"], true);
    assert_eq!(configured["version"], "1");
    seen.keep("/v1/location/configure", "post", &configured);
    let config = configured["configuration_latest"].clone();
    assert!(config["subnet_id"].is_string() && config["vpc_network_id"].is_string());

    // c1a.4x has no disk of its own: a data disk comes with it.
    let provisioned = unwrap(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config),
        )
        .await,
    );
    let server_id = provisioned["server_id"].as_str().unwrap().to_string();
    assert_eq!(server_id, format!("cycle-{CYCLE_SERVER}"));
    assert_eq!(provisioned["location_modified"], false);
    seen.keep("/v1/infrastructure/server/provision", "post", &provisioned);
    let extra = provisioned["extra"].clone();

    let status = unwrap(
        h.cycle(
            "/v1/infrastructure/server/provision-status",
            Harness::status_request(&server_id, "us-east1-a", &config, &extra),
        )
        .await,
    );
    seen.keep("/v1/infrastructure/server/provision-status", "get", &status);
    let ready = h
        .wait_provisioned(&server_id, "us-east1-a", &config, &extra)
        .await;
    seen.keep("/v1/infrastructure/server/provision-status", "get", &ready);
    let vm = h.project()["vms"][0].clone();
    assert_eq!(ready["auth"]["uuid"], vm["id"]);
    assert_eq!(
        ready["auth"]["mac_addr"],
        vm["network_interfaces"][0]["mac_address"]
    );
    let public = vm["network_interfaces"][0]["ips"][0]["public_ipv4"].clone();
    assert_eq!(public["type"], "static", "CycleOS needs a static address");
    assert_eq!(ready["auth"]["initial_ips"], json!([public["address"]]));
    assert_eq!(
        vm["disks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["attachment_type"] == "data")
            .count(),
        1
    );
    let script = vm["sim"]["startup_script"].as_str().unwrap();
    assert!(script.starts_with("#!/bin/bash"));
    assert!(script.contains(&format!("readonly SERVER='{server_id}'")));
    assert!(
        script.contains(&format!("readonly IPXE_URL='{STAND_IN_IPXE_URL}'")),
        "the default boot mode, ipxe, downloads the configured image"
    );
    assert_eq!(
        vm["sim"]["install_crusoe_watch_agent"], false,
        "the boot disk will hold only iPXE: no agent"
    );

    let allocate = json!({
        "kind": "ipv4",
        "server_id": server_id,
        "location_id": "us-east1-a",
        "zone_id": null,
        "location_configuration": config,
        "cycle": {"pool_id": "66a1b2c3d4e5f60718293a4c", "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": "l"}
    });
    let ip = unwrap(
        h.cycle("/v1/infrastructure/ip/allocate", allocate.clone())
            .await,
    );
    seen.keep("/v1/infrastructure/ip/allocate", "post", &ip);
    let lb = h.project()["load_balancers"][0].clone();
    assert_eq!(ip["cidr"], format!("{}/32", lb["vip"].as_str().unwrap()));
    assert_eq!(ip["netmask"], "255.255.255.255");
    assert_eq!(
        ip["nat_private_ip"],
        vm["network_interfaces"][0]["ips"][0]["private_ipv4"]["address"]
    );
    assert_eq!(
        ip["gateway"].as_str().unwrap().rsplit('.').next(),
        Some("1")
    );
    let again = unwrap(h.cycle("/v1/infrastructure/ip/allocate", allocate).await);
    assert_eq!(again, ip, "a retried allocation returns the same address");
    assert_eq!(h.count("load_balancers"), 1);

    let release = json!({
        "kind": "ipv4",
        "ip_id": ip["ip_id"],
        "ip_assignment_id": ip["ip_assignment_id"],
        "cidr": ip["cidr"],
        "nat_private_ip": ip["nat_private_ip"],
        "zone_id": null,
        "server_id": server_id,
        "location_id": "us-east1-a",
        "location_configuration": config,
        "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": "l"}
    });
    let released = unwrap(
        h.cycle("/v1/infrastructure/ip/release", release.clone())
            .await,
    );
    assert_eq!(released, json!(true));
    seen.keep("/v1/infrastructure/ip/release", "post", &released);
    assert_eq!(
        unwrap(h.cycle("/v1/infrastructure/ip/release", release).await),
        json!(true),
        "twice is fine"
    );
    assert_eq!(h.count("load_balancers"), 0);

    let restarted = unwrap(h.server_call("restart", &server_id, "us-east1-a").await);
    assert_eq!(restarted, json!(true));
    seen.keep("/v1/infrastructure/server/restart", "post", &restarted);
    let calls = h.sim.sim.calls();
    assert_eq!(
        calls["PATCH /projects/{project_id}/compute/vms/instances/{vm_id}"], 1,
        "one RESET: {calls:?}"
    );

    let gone = unwrap(
        h.server_call("decommission", &server_id, "us-east1-a")
            .await,
    );
    assert_eq!(gone, json!(true));
    seen.keep("/v1/infrastructure/server/decommission", "post", &gone);
    assert_eq!(
        unwrap(
            h.server_call("decommission", &server_id, "us-east1-a")
                .await
        ),
        json!(true),
        "a server already gone is decommissioned"
    );

    assert_eq!(h.billable(), (0, 0, 0), "no VM, disk or load balancer left");
    // What remains of the bridge's making is the hub's network in that location, which location
    // configure owns and every later server of the hub reuses.
    let project = h.project();
    let ours: Vec<&str> = project["vpc_networks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .filter(|n| n.starts_with("cycle-"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(h.sim.sim.inventory()["operations_in_progress"], 0);
    assert_eq!(project["id"], PROJECT);
    // Without faults no answer said to retry: had one, the harness would have hidden nothing but
    // counted it here.
    assert!(h.retries().is_empty(), "retried: {:?}", h.retries());
}

#[tokio::test]
async fn the_whole_lifecycle_through_the_bridge_leaves_nothing_billable_and_matches_cycles_schemas()
{
    let h = Harness::start(quick_sim_config(), common::harness::test_settings()).await;
    let mut seen = Seen::default();
    lifecycle(&h, &mut seen, Harness::data).await;
    seen.check_against_cycles_go_types();
    seen.check_against_cycles_schemas();
}

#[tokio::test]
async fn with_bare_payloads_the_lifecycle_answers_exactly_cycles_openapi_shapes() {
    let options = IalOptions {
        envelope: Envelope::Bare,
        ..Default::default()
    };
    let h = Harness::start_with(
        quick_sim_config(),
        common::harness::test_settings(),
        options,
    )
    .await;
    let mut seen = Seen::default();
    lifecycle(&h, &mut seen, |(status, body)| {
        assert_eq!(status, 200, "{body}");
        body
    })
    .await;
    seen.check_against_cycles_go_types();
    seen.check_against_cycles_schemas();
}

#[tokio::test]
async fn listing_calls_accept_get_with_or_without_a_body_and_provision_check_is_an_alias() {
    let h = Harness::start(quick_sim_config(), common::harness::test_settings()).await;
    let body = serde_json::to_vec(&json!({"auth": h.auth, "request": null})).unwrap();
    let (status, answer) = h
        .raw(
            "GET",
            "/v1/infrastructure/provider/locations",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(!answer["data"]["locations"].as_array().unwrap().is_empty());
    let (status, answer) = h
        .raw("GET", "/v1/infrastructure/provider/server-models", None)
        .await;
    assert_eq!(status, 401, "no body, no credentials: {answer}");
    assert_eq!(answer["error"]["code"], "401.unauthorized");

    let config = h.configure("us-east1-a").await;
    let config = config["configuration_latest"].clone();
    let provisioned = Harness::data(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.16x", "us-east1-a", &config),
        )
        .await,
    );
    let status_body = json!({"auth": h.auth, "request": Harness::status_request(provisioned["server_id"].as_str().unwrap(), "us-east1-a", &config, &provisioned["extra"])});
    for (method, path) in [
        ("GET", "/v1/infrastructure/server/provision-status"),
        ("POST", "/v1/infrastructure/server/provision-check"),
        ("GET", "/v1/infrastructure/server/provision-check"),
    ] {
        let (status, answer) = h
            .raw(
                method,
                path,
                Some(serde_json::to_vec(&status_body).unwrap()),
            )
            .await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        assert_eq!(answer["data"]["server_id"], provisioned["server_id"]);
    }
    let data_disks = h.project()["disks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"].as_str().unwrap().ends_with("-data"))
        .count();
    assert_eq!(
        data_disks, 1,
        "c1a.16x has no disk of its own, so it gets a data disk"
    );
}

#[test]
fn the_cycle_schema_check_itself_catches_drift() {
    let Some(shared) = common::shared_dir() else {
        eprintln!("skipped: ../shared is absent");
        return;
    };
    let spec = CycleSpec::load(&shared.join("reference/cycle-ial/openapi"));
    let (schema, file) = spec.response("/v1/infrastructure/provider/server-models", "get");
    let bad = json!({"models": [{"name": "x", "description": "d", "specs": {"cpu": {"count": "8", "type": "amd"}, "memory": {"size_gb": 8, "type": "RAM"}, "features": {}}, "provider": {"category": "cpu"}}], "extra": {}});
    assert_all_found(
        &spec.violations(&schema, &file, &bad),
        &[
            "/pricing: required",
            "/cpu/count: expected",
            "/provider/model_id: required",
        ],
    );
    let (schema, file) = spec.response("/v1/infrastructure/ip/release", "post");
    assert!(
        !spec.violations(&schema, &file, &json!("true")).is_empty(),
        "release answers a boolean"
    );
}

#[tokio::test]
async fn provision_status_reports_the_identity_as_ipxe_presents_it_whatever_case_crusoe_uses() {
    let h = Harness::start(
        crusoe_sim::SimConfig {
            upper_case_macs: true,
            ..quick_sim_config()
        },
        common::harness::test_settings(),
    )
    .await;
    let ready = h.provision_ready("c1a.4x", "us-east1-a").await.status;
    let vm = h.project()["vms"][0].clone();
    let crusoe_mac = vm["network_interfaces"][0]["mac_address"].as_str().unwrap();
    assert!(
        crusoe_mac.bytes().any(|b| b.is_ascii_uppercase()),
        "{crusoe_mac}"
    );
    let mac = ready["auth"]["mac_addr"].as_str().unwrap();
    assert_eq!(mac, crusoe_mac.to_ascii_lowercase());
    assert!(mac.split(':').count() == 6);
    let uuid = ready["auth"]["uuid"].as_str().unwrap();
    assert_eq!(uuid, vm["id"].as_str().unwrap().to_ascii_lowercase());
    assert_eq!(
        uuid::Uuid::parse_str(uuid)
            .unwrap()
            .hyphenated()
            .to_string(),
        uuid
    );
}

#[test]
fn the_cycle_go_type_check_itself_catches_what_cycle_refuses() {
    use serde_json::json;
    let good = json!({"ip_id": "a", "ip_assignment_id": "b", "cidr": "203.0.113.10/32", "gateway": "10.0.0.1", "network": "203.0.113.10/32", "nat_private_ip": "10.0.0.5"});
    assert!(common::cycle_go::allocate_ip_response(&good).is_empty());
    let mut bare = good.clone();
    bare["network"] = json!("203.0.113.10");
    assert_eq!(
        common::cycle_go::allocate_ip_response(&bare).len(),
        1,
        "a bare address is not a CIDR"
    );
    let mut empty = good.clone();
    empty["gateway"] = json!("");
    assert_eq!(
        common::cycle_go::allocate_ip_response(&empty).len(),
        1,
        "\"\" is not an IP; null would be"
    );
    let mut null = good;
    null["gateway"] = Value::Null;
    assert!(common::cycle_go::allocate_ip_response(&null).is_empty());
}
