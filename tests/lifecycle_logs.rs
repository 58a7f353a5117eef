//! What an operator watches over a whole lifecycle: logs that carry request ids, hub and server but
//! never a secret, and Prometheus metrics with bounded labels.
//!
//! A test binary of its own: the test installs the process's global tracing subscriber (once per
//! process; `tests/cycloid_logs.rs` installs its own) and reads every line logged in the process,
//! debug level included, as well as the process-wide metrics recorder. Beside the end-to-end tests
//! (`tests/e2e`) it would read theirs too, and no other test could install a subscriber.

mod common;

use common::harness::{test_settings, Harness, CYCLE_SERVER, HUB};
use common::logs::Captured;
use common::{quick_sim_config, SECRET};
use serde_json::{json, Value};

#[tokio::test]
async fn a_whole_lifecycle_logs_ids_and_no_secret_and_metrics_have_bounded_labels() {
    let logs = Captured::global_json_debug();
    let mut h = Harness::start(quick_sim_config(), test_settings()).await;
    // A per-hub config in base64 must not be logged either.
    let config_b64 = "c3NoX3B1YmxpY19rZXkgPSAic2VjcmV0LWJhc2U2NC1jb25maWciCg==";
    h.auth["config"] = json!(config_b64);

    let server = h.provision_ready("c1a.4x", "us-east1-a").await;
    let id = server.server_id;
    let allocate = Harness::allocate_request(&id, "us-east1-a", &server.config);
    let ip = Harness::data(h.cycle("/v1/infrastructure/ip/allocate", allocate).await);
    let release = Harness::release_request(&ip);
    Harness::data(h.cycle("/v1/infrastructure/ip/release", release).await);
    Harness::data(h.server_call("restart", &id, "us-east1-a").await);
    Harness::data(h.server_call("decommission", &id, "us-east1-a").await);
    // A rejected secret too.
    let mut wrong = h.auth.clone();
    wrong["secret"] = json!("WRONGWRONGWRONGWRONGWA");
    h.cycle_as(&wrong, "/v1/auth/verify", Value::Null).await;
    assert!(h.retries().is_empty(), "retried: {:?}", h.retries());

    // Errors, whoever answers them (a handler, a limit, the fallback), are logged once each.
    let http = reqwest::Client::new();
    let send = |id: &'static str, request: reqwest::RequestBuilder| async move {
        let answer = request.header("x-request-id", id).send().await.unwrap();
        answer.status().as_u16()
    };
    let unauthenticated = http
        .post(format!("{}/v1/infrastructure/provider/locations", h.url))
        .json(&json!({"auth": null, "request": null}));
    assert_eq!(send("log-test-401", unauthenticated).await, 401);
    let nowhere = http.post(format!("{}/v1/no/such/endpoint", h.url));
    assert_eq!(send("log-test-404", nowhere).await, 404);
    let mut crowded = http.post(format!("{}/v1/auth/verify", h.url));
    for i in 0..70 {
        crowded = crowded.header(format!("x-h{i}"), "v");
    }
    assert_eq!(send("log-test-431", crowded).await, 431);

    let text = logs.text();
    for (id, code) in [
        ("log-test-401", "unauthorized"),
        ("log-test-404", "not-found"),
        ("log-test-431", "headers-too-large"),
    ] {
        let logged: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("answering Cycle with an error"))
            .filter(|l| l.contains(&format!("\"request_id\":\"{id}\"")))
            .collect();
        assert_eq!(logged.len(), 1, "{id} is logged once: {logged:?}");
        assert!(
            logged[0].contains(&format!("\"code\":\"{code}\"")),
            "{}",
            logged[0]
        );
    }
    for secret in [
        SECRET,
        "WRONGWRONGWRONGWRONGWA",
        config_b64,
        "secret-base64-config",
    ] {
        assert!(
            !text.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
    assert!(
        text.contains(&format!("\"hub_id\":\"{HUB}\"")),
        "the hub is logged"
    );
    assert!(
        text.contains(&format!("\"server_id\":\"{id}\"")),
        "the server is logged"
    );
    assert!(text.contains("\"request_id\":\""), "requests carry an id");

    // Metrics: every family present, with labels from bounded sets only.
    let (status, metrics) = h.raw("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    for family in [
        "ial_requests_total{endpoint=\"/v1/infrastructure/server/provision\",status=\"200\"}",
        "ial_request_duration_seconds_bucket{endpoint=\"/v1/infrastructure/server/provision-status\"",
        "crusoe_calls_total{operation=\"create_vm\",outcome=\"ok\"}",
        "crusoe_call_duration_seconds_bucket{operation=\"list_vms\"",
        "crusoe_operation_waits_total{family=\"compute/vms/instances\",outcome=\"succeeded\"}",
        "crusoe_operation_wait_seconds_bucket",
        "bridge_servers_in_flight",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics:\n{metrics}");
    }
    for leak in [
        SECRET,
        HUB,
        CYCLE_SERVER,
        common::PROJECT,
        common::ACCESS_KEY,
        "127.0.0.1",
    ] {
        assert!(!metrics.contains(leak), "{leak} is in a metric label");
    }
    h.restart_bridge().await;
}
