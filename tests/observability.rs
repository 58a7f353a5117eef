//! What an operator watches: request ids, logs that carry hub and server but never a secret,
//! Prometheus metrics with bounded labels, readiness, and the limits that protect the bridge.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::harness::{test_settings, Harness, CYCLE_SERVER, HUB};
use common::{quick_sim_config, SECRET};
use crusoe_ial::ial::IalOptions;
use crusoe_sim::SimConfig;
use serde_json::{json, Value};

/// Everything this test binary logs, at debug level, as JSON lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("debug")
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}

#[tokio::test]
async fn a_whole_lifecycle_logs_ids_and_no_secret_and_metrics_have_bounded_labels() {
    let logs = captured_logs();
    let mut h = Harness::start(quick_sim_config(), test_settings()).await;
    // A per-hub config in base64 must not be logged either.
    let config_b64 = "c3NoX3B1YmxpY19rZXkgPSAic2VjcmV0LWJhc2U2NC1jb25maWciCg==";
    h.auth["config"] = json!(config_b64);

    let location = h.configure("us-east1-a").await["configuration_latest"].clone();
    let p = Harness::data(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &location),
        )
        .await,
    );
    let id = p["server_id"].as_str().unwrap().to_string();
    h.wait_provisioned(&id, "us-east1-a", &location, &p["extra"])
        .await;
    let ip = Harness::data(
        h.cycle(
            "/v1/infrastructure/ip/allocate",
            json!({"kind": "ipv4", "server_id": id, "location_id": "us-east1-a", "location_configuration": location,
                   "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c", "server_model_category": "c", "location_id": "l"}}),
        )
        .await,
    );
    Harness::data(h.cycle("/v1/infrastructure/ip/release", json!({"kind": "ipv4", "ip_id": ip["ip_id"], "ip_assignment_id": ip["ip_assignment_id"], "cidr": ip["cidr"]})).await);
    Harness::data(
        h.cycle(
            "/v1/infrastructure/server/restart",
            Harness::server_ref(&id, "us-east1-a"),
        )
        .await,
    );
    Harness::data(
        h.cycle(
            "/v1/infrastructure/server/decommission",
            Harness::server_ref(&id, "us-east1-a"),
        )
        .await,
    );
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

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
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

#[tokio::test]
async fn requests_carry_an_id_given_or_generated() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let http = reqwest::Client::new();
    let generated = http.get(format!("{}/healthz", h.url)).send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let given = http
        .get(format!("{}/healthz", h.url))
        .header("x-request-id", "cycle-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "cycle-req-42");
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_get_a_cycle_shaped_503_at_once() {
    let options = IalOptions {
        max_in_flight: 1,
        ..Default::default()
    };
    let sim = SimConfig {
        faults: crusoe_sim::Faults {
            latency_ms: 350,
            ..Default::default()
        },
        ..quick_sim_config()
    };
    let h = Harness::start_with(sim, test_settings(), options).await;
    let body = serde_json::to_vec(&json!({"auth": h.auth, "request": null})).unwrap();
    let slow = h.raw("POST", "/v1/auth/verify", Some(body.clone()));
    let later = |path: &'static str| {
        let (url, body) = (h.url.clone(), body.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = std::time::Instant::now();
            let answer = reqwest::Client::new()
                .post(format!("{url}{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.headers().get("retry-after").cloned(),
                answer.json::<Value>().await.unwrap(),
                started.elapsed(),
            )
        }
    };
    // The limit is the bridge's, not each route's: another endpoint is shed too.
    let ((first_status, _), same, other) = tokio::join!(
        slow,
        later("/v1/auth/verify"),
        later("/v1/infrastructure/provider/locations")
    );
    assert_eq!(first_status, 200);
    for (status, retry_after, answer, waited) in [same, other] {
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"]["code"], "503.overloaded");
        assert_eq!(retry_after.unwrap(), "1");
        assert!(
            waited < Duration::from_millis(200),
            "shed at once, not queued: {waited:?}"
        );
    }
    // Health is never shed.
    assert_eq!(h.raw("GET", "/healthz", None).await.0, 200);
}

#[tokio::test]
async fn a_request_past_the_time_limit_gets_a_cycle_shaped_504() {
    let options = IalOptions {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let sim = SimConfig {
        faults: crusoe_sim::Faults {
            latency_ms: 1000,
            ..Default::default()
        },
        ..quick_sim_config()
    };
    let h = Harness::start_with(sim, test_settings(), options).await;
    let body = serde_json::to_vec(&json!({"auth": h.auth, "request": null})).unwrap();
    let (status, answer) = h
        .raw("POST", "/v1/infrastructure/provider/locations", Some(body))
        .await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["error"]["code"], "504.request-timeout");
}

#[tokio::test]
async fn readiness_in_pass_through_mode_needs_only_a_valid_configuration() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let (status, answer) = h.raw("GET", "/readyz", None).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ready")));
}

#[tokio::test]
async fn metrics_are_described_and_shown_from_the_start_with_build_and_process_metrics() {
    // A fresh process: nothing has been recorded yet.
    let (_child, addr, _home) = common::serve_process("").await;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "ial_requests_total",
        "ial_request_duration_seconds",
        "bridge_servers_in_flight",
        "crusoe_ial_build_info",
        "crusoe_calls_total",
        "crusoe_call_duration_seconds",
        "crusoe_retries_total",
        "crusoe_operation_waits_total",
        "crusoe_operation_wait_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} is not described:\n{text}"
        );
    }
    assert!(
        text.contains(
            r#"ial_requests_total{endpoint="/v1/infrastructure/server/provision",status="200"} 0"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"crusoe_calls_total{operation="create_vm",outcome="ok"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "crusoe_ial_build_info{{version=\"{}\",git_commit=",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("resident memory is a number");
    assert!(rss > 1_000_000.0, "a real process's memory: {rss}");
}
