//! The bridge's own OpenAPI document (`openapi/crusoe-ial.yaml`) against what the bridge serves:
//! every documented operation is served, other methods on those paths are refused, and real
//! answers match the documented schemas, with no undocumented field.

use crate::common;

use common::harness::{test_settings, Harness, CYCLE_SERVER};
use common::openapi::CycleSpec;
use common::quick_sim_config;
use serde_json::{json, Value};

fn spec() -> common::openapi::SingleSpec {
    CycleSpec::single(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/crusoe-ial.yaml"),
    )
}

#[tokio::test]
async fn every_documented_operation_is_served_and_no_other_method() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let spec = spec();
    let ops = spec.operations();
    assert!(ops.len() >= 16, "{ops:?}");
    for (method, path) in &ops {
        let (status, body) = h.raw(method, path, None).await;
        assert!(
            status != 404 && status != 405,
            "{method} {path} is documented but answers {status}: {body}"
        );
    }
    let documented_paths: std::collections::BTreeSet<&String> =
        ops.iter().map(|(_, p)| p).collect();
    for path in documented_paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if !ops.contains(&(method.to_string(), path.clone())) {
                let (status, _) = h.raw(method, path, None).await;
                assert_eq!(status, 405, "{method} {path} is served but not documented");
            }
        }
    }
}

#[tokio::test]
async fn answers_match_the_documented_schemas_exactly() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let spec = spec();
    let mut answers: Vec<(&str, &str, String, Value)> = Vec::new();
    let mut keep = |path: &'static str, method: &'static str, answer: (u16, Value)| {
        answers.push((path, method, answer.0.to_string(), answer.1));
    };
    keep(
        "/v1/auth/verify",
        "post",
        h.cycle("/v1/auth/verify", Value::Null).await,
    );
    keep(
        "/v1/infrastructure/provider/locations",
        "get",
        h.cycle("/v1/infrastructure/provider/locations", Value::Null)
            .await,
    );
    keep(
        "/v1/infrastructure/provider/server-models",
        "get",
        h.cycle("/v1/infrastructure/provider/server-models", Value::Null)
            .await,
    );
    let configured = h
        .cycle(
            "/v1/location/configure",
            json!({"location_id": "us-east1-a", "version": "", "configuration_current": {}, "cycle": {"location_id": "x"}}),
        )
        .await;
    let config = configured.1["data"]["configuration_latest"].clone();
    keep("/v1/location/configure", "post", configured);
    let provisioned = h
        .cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config),
        )
        .await;
    let id = provisioned.1["data"]["server_id"]
        .as_str()
        .unwrap()
        .to_string();
    let extra = provisioned.1["data"]["extra"].clone();
    keep("/v1/infrastructure/server/provision", "post", provisioned);
    // Polled while provisioning, and once provisioned.
    let status = "/v1/infrastructure/server/provision-status";
    let poll = Harness::status_request(&id, "us-east1-a", &config, &extra);
    keep(status, "get", h.cycle(status, poll.clone()).await);
    h.wait_provisioned(&id, "us-east1-a", &config, &extra).await;
    keep(status, "get", h.cycle(status, poll).await);
    let allocate = Harness::allocate_request(&id, "us-east1-a", &config);
    let allocated = h.cycle("/v1/infrastructure/ip/allocate", allocate).await;
    let ip = allocated.1["data"].clone();
    keep("/v1/infrastructure/ip/allocate", "post", allocated);
    keep(
        "/v1/infrastructure/ip/release",
        "post",
        h.cycle("/v1/infrastructure/ip/release", json!({"kind": "ipv4", "ip_id": ip["ip_id"], "ip_assignment_id": ip["ip_assignment_id"]})).await,
    );
    keep(
        "/v1/infrastructure/server/restart",
        "post",
        h.server_call("restart", &id, "us-east1-a").await,
    );
    keep(
        "/v1/infrastructure/server/decommission",
        "post",
        h.server_call("decommission", &id, "us-east1-a").await,
    );
    keep("/healthz", "get", h.raw("GET", "/healthz", None).await);
    keep("/readyz", "get", h.raw("GET", "/readyz", None).await);
    // Failures, in the documented error shape.
    keep(
        "/v1/infrastructure/server/provision",
        "post",
        h.cycle(
            "/v1/infrastructure/server/provision",
            json!({"hostname": 1}),
        )
        .await,
    );
    keep(
        "/v1/auth/verify",
        "post",
        h.raw("POST", "/v1/auth/verify", Some(b"{".to_vec())).await,
    );

    let mut failures = Vec::new();
    for (path, method, status, body) in &answers {
        let schema = if status == "200" {
            spec.response(path, method, "200")
        } else {
            spec.doc["components"]["schemas"]["ErrorEnvelope"].clone()
        };
        for v in spec.violations(&schema, body) {
            failures.push(format!("{method} {path} {status}: {v}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        answers.iter().filter(|a| a.2 != "200").count() >= 2,
        "errors were checked too"
    );
}

#[test]
fn the_drift_check_itself_catches_an_undocumented_field() {
    let spec = spec();
    let schema = spec.response("/v1/infrastructure/server/provision", "post", "200");
    let drifted = json!({"data": {"server_id": "cycle-x", "location_modified": false, "extra": {}, "new_field": 1}, "error": null});
    let found = spec.violations(&schema, &drifted);
    assert!(found.iter().any(|v| v.contains("new_field")), "{found:?}");
}
