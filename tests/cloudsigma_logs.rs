//! What an operator watches over a whole lifecycle on CloudSigma: logs that never carry the
//! account's password (as given, or inside the Basic header) nor a server's VNC password, and
//! Prometheus metrics of the CloudSigma client with bounded labels.
//!
//! A test binary of its own, as `tests/lifecycle_logs.rs`: it installs the process's global
//! tracing subscriber at debug level and reads the process-wide metrics recorder.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::harness::serve_cloudsigma;
use common::logs::Captured;
use crusoe_ial::backends::cloudsigma::config::{cloudsigma_config, RawCloudSigma};
use crusoe_ial::backends::cloudsigma::settings::IpPoolSettings;
use crusoe_ial::config::BridgeSettings;
use serde_json::{json, Value};

const PASSWORD: &str = "cs-password-9f8e7d6c5b4a";
const WRONG: &str = "cs-wrong-password-0a1b2c3d";

async fn call(bridge: &str, auth: &Value, path: &str, request: Value) -> Value {
    common::post_json(
        &format!("{bridge}{path}"),
        &json!({"auth": auth, "request": request}),
    )
    .await
}

#[tokio::test]
async fn a_whole_lifecycle_on_cloudsigma_logs_no_password_and_metrics_have_bounded_labels() {
    let logs = Captured::global_json_debug();
    let account = cloudsigma_sim::Account {
        username: "ops@example.com".into(),
        password: PASSWORD.into(),
        location: "zrh".into(),
    };
    let sim = cloudsigma_sim::RunningSim::start(
        cloudsigma_sim::SimConfig {
            accounts: vec![account.clone()],
            transition: Duration::from_millis(100),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let iso_url = format!("http://{}/ipxe.iso", listener.local_addr().unwrap());
    let iso = axum::Router::new().route(
        "/ipxe.iso",
        axum::routing::get(|| async { vec![1u8; 8192] }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, iso).await;
    });
    let mut bridge = BridgeSettings::default();
    bridge.boot.ipxe_url = Some(iso_url);
    let config = cloudsigma_config(RawCloudSigma {
        api_endpoint: Some(sim.endpoint_template()),
        ips: Some(IpPoolSettings {
            buy: true,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let (url, _served) = serve_cloudsigma(bridge, config).await;
    let auth = json!({"api_key": account.username, "secret": PASSWORD, "namespace": "zrh",
                      "cycle": {"hub_id": "65f1e2d3c4b5a69788796a5b", "hub_name": "logs"}});

    let configured = call(&url, &auth, "/v1/location/configure", json!({"location_id": "zrh", "version": "", "configuration_current": {}, "cycle": {"location_id": "l"}})).await;
    let config = configured["data"]["configuration_latest"].clone();
    let cycle = json!({"server_id": "5f1e2d3c4b5a69788796a5c1", "model_class": "cloudsigma", "model_category": "cpu", "model_id": "m", "location_id": "l"});
    let provisioned = call(&url, &auth, "/v1/infrastructure/server/provision", json!({"hostname": "h", "model_id": "cs-2c-4g", "location_id": "zrh", "location_configuration": config, "cycle": cycle})).await;
    let id = provisioned["data"]["server_id"]
        .as_str()
        .unwrap()
        .to_string();
    let extra = provisioned["data"]["extra"].clone();
    for _ in 0..100 {
        let v = call(&url, &auth, "/v1/infrastructure/server/provision-status", json!({"server_id": id, "location_id": "zrh", "location_configuration": config, "extra": extra, "cycle": cycle})).await;
        if v["data"]["provisioned"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let vnc: Vec<String> = sim.sim.inventory()["accounts"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["vnc_password"].as_str().map(str::to_string))
        .collect();
    assert!(
        !vnc.is_empty(),
        "the simulator keeps the server's VNC password"
    );
    call(
        &url,
        &auth,
        "/v1/infrastructure/server/restart",
        json!({"server_id": id, "location_id": "zrh"}),
    )
    .await;
    let gone = call(
        &url,
        &auth,
        "/v1/infrastructure/server/decommission",
        json!({"server_id": id, "location_id": "zrh"}),
    )
    .await;
    assert_eq!(gone["data"], true, "{gone}");
    let mut wrong = auth.clone();
    wrong["secret"] = json!(WRONG);
    let refused = call(&url, &wrong, "/v1/auth/verify", Value::Null).await;
    assert_eq!(refused["data"]["valid"], false, "{refused}");

    let text = logs.text();
    let basic = |p: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{p}", account.username))
    };
    let mut secrets = vec![
        PASSWORD.to_string(),
        WRONG.to_string(),
        basic(PASSWORD),
        basic(WRONG),
    ];
    secrets.extend(vnc);
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }
    assert!(
        text.contains(&format!("\"server_id\":\"{id}\"")),
        "the server is logged"
    );

    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in [
        "cloudsigma_requests_total{method=\"POST\",route=\"servers/\",status=\"201\"}",
        "cloudsigma_requests_total{method=\"POST\",route=\"servers/{uuid}/action/?do=start\",status=\"202\"}",
        "cloudsigma_request_duration_seconds_bucket{method=\"GET\",route=\"servers/detail/\"",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics:\n{metrics}");
    }
    for leak in
        secrets
            .iter()
            .map(String::as_str)
            .chain([id.as_str(), "ops@example.com", "127.0.0.1"])
    {
        assert!(!metrics.contains(leak), "{leak} is in a metric label");
    }
    let uuid_like = metrics
        .lines()
        .filter(|l| l.starts_with("cloudsigma_"))
        .any(|l| {
            l.split(['"', '/', '?'])
                .any(|part| part.len() == 36 && part.chars().filter(|c| *c == '-').count() == 4)
        });
    assert!(
        !uuid_like,
        "a uuid is in a CloudSigma metric label:\n{metrics}"
    );
}
