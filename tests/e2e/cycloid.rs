//! Cycloid as the destination of each server's story (issue 16), end to end: the bridge on the
//! Crusoe simulator, its sink on the Cycloid simulator. The lifecycle yields exactly the events
//! and inventory expected, in order; with Cycloid failing in each way, the IAL answers are byte
//! for byte those of a bridge without the sink; a bad `auth.config` is refused at verify.

use crate::common;

use std::time::Duration;

use base64::Engine;
use common::harness::{element, test_settings, Harness, CYCLE_LOCATION, CYCLE_SERVER, HUB};
use common::quick_sim_config;
use common::PROJECT;
use crusoe_ial::config::BridgeSettings;
use cycloid_sim::{Behaviour, CycloidSim, RunningCycloid};
use serde_json::{json, Value};

const ORG: &str = "acme-gpu";
const KEY: &str = "cy-key-5f0c1d9e-the-operators";
const HUB_KEY: &str = "cy-key-7a7b-the-hubs-own";
const LOCATION: &str = "us-east1-a";
const MODEL: &str = "c1a.4x";
/// The simulator has no H100 in Iceland.
const ICELAND: &str = "eu-iceland1-a";
const H100: &str = "h100-80gb-sxm-ib.8x";
const OTHER_SERVER: &str = "5f1e2d3c4b5a69788796a5ff";

fn with_sink(url: &str, key: &str) -> BridgeSettings {
    let mut s = test_settings();
    s.cycloid.organization = Some(ORG.into());
    s.cycloid.api_key = Some(key.to_string().into());
    s.cycloid.url = url.into();
    s.cycloid.timeout_ms = 300;
    s.cycloid.max_attempts = 2;
    s
}

async fn cycloid() -> RunningCycloid {
    RunningCycloid::start(CycloidSim::new(ORG, KEY))
        .await
        .unwrap()
}

/// Waits until `done` holds of the simulator, or fails with what it holds.
async fn until(sim: &CycloidSim, what: &str, done: impl Fn(&CycloidSim) -> bool) {
    for _ in 0..400 {
        if done(sim) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "Cycloid never got {what}: events {:#?}, resources {:#?}, requests {:#?}",
        sim.events(),
        sim.resources(),
        sim.received()
    );
}

fn tags(event: &Value) -> Vec<(String, String)> {
    event["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_lifecycle_tells_cycloid_each_step_in_order_and_the_inventory_follows() {
    let cy = cycloid().await;
    let h = Harness::start(quick_sim_config(), with_sink(&cy.url(), KEY)).await;
    let models = Harness::data(
        h.cycle("/v1/infrastructure/provider/server-models", Value::Null)
            .await,
    );
    let model = element(&models["models"], "/name", MODEL).clone();

    let ready = h.provision_ready(MODEL, LOCATION).await;
    let id = ready.server_id.clone();
    until(&cy.sim, "the server's resource", |s| {
        s.resources().len() == 1
    })
    .await;
    let resource = cy.sim.resources()[0].clone();
    assert_eq!(resource["provider"], "crusoe");
    assert_eq!(resource["type"], MODEL);
    assert_eq!(resource["name"], id.as_str());
    assert_eq!(resource["label"], format!("node-{CYCLE_SERVER}"));
    assert_eq!(resource["cpu"], model["specs"]["cpu"]["count"]);
    assert_eq!(
        resource["memory"].as_u64().unwrap(),
        model["specs"]["memory"]["size_gb"].as_u64().unwrap() * 1024
    );
    assert!(resource["storage"].as_u64().is_some(), "{resource}");
    assert_eq!(
        resource["custom_attributes"],
        json!({"managed_by": "crusoe-ial", "cycle_hub_id": HUB, "cycle_server_id": CYCLE_SERVER,
               "cycle_location_id": CYCLE_LOCATION, "location": LOCATION, "crusoe_project": PROJECT})
    );

    // Cycle polls again after provisioned: the timeline says it once.
    h.wait_provisioned(&id, LOCATION, &ready.config, &ready.provisioned["extra"])
        .await;
    let allocate = Harness::allocate_request(&id, LOCATION, &ready.config);
    let ip = Harness::data(h.cycle("/v1/infrastructure/ip/allocate", allocate).await);
    let release = Harness::release_request(&ip);
    Harness::data(h.cycle("/v1/infrastructure/ip/release", release).await);
    Harness::data(h.server_call("restart", &id, LOCATION).await);
    Harness::data(h.server_call("decommission", &id, LOCATION).await);
    until(&cy.sim, "six events and an empty inventory", |s| {
        s.events().len() == 6 && s.resources().is_empty()
    })
    .await;

    let events = cy.sim.events();
    let cidr = ip["cidr"].as_str().unwrap();
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            format!("Server node-{CYCLE_SERVER} accepted for provisioning"),
            format!("Server {id} provisioned"),
            format!("IP {cidr} allocated to {id}"),
            format!("IP {cidr} released"),
            format!("Server {id} restarted"),
            format!("Server {id} decommissioned"),
        ]
    );
    for e in &events {
        assert_eq!(e["type"], "Custom");
        assert_eq!(e["severity"], "info");
        let tags = tags(e);
        for (key, value) in [
            ("hub", HUB),
            ("server_id", id.as_str()),
            ("cycle_server_id", CYCLE_SERVER),
            ("location", LOCATION),
            ("model", MODEL),
        ] {
            assert!(
                tags.contains(&(key.to_string(), value.to_string())),
                "{key}={value} not in the tags of {e}"
            );
        }
    }
    let provisioned = events[1]["message"].as_str().unwrap();
    let public = ready.status["auth"]["initial_ips"][0].as_str().unwrap();
    assert!(provisioned.contains(public), "{provisioned}");
    assert!(events[0]["message"].as_str().unwrap().contains(MODEL));
    assert!(events[2]["message"].as_str().unwrap().contains(cidr));

    // Every request carried the operator's key as a bearer, and only there.
    let received = cy.sim.received();
    assert!(received.iter().all(|r| r.status < 300), "{received:#?}");
    assert!(received.iter().all(|r| r.authorization.as_deref()
        == Some(&format!("Bearer {KEY}")[..])
        && !r.target.contains(KEY)));
    // Found again by its custom attributes, as any replica would.
    assert!(received.iter().any(|r| r.method == "GET"
        && r.target
            .contains(&format!("cycle_server_id[eq]={CYCLE_SERVER}"))));
}

#[tokio::test]
async fn out_of_stock_is_one_warning_however_often_cycle_retries() {
    let cy = cycloid().await;
    let h = Harness::start(quick_sim_config(), with_sink(&cy.url(), KEY)).await;
    let config = h.configure(ICELAND).await["configuration_latest"].clone();
    for _ in 0..3 {
        let (status, body) = h
            .cycle(
                "/v1/infrastructure/server/provision",
                Harness::provision_request(OTHER_SERVER, H100, ICELAND, &config),
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }
    until(&cy.sim, "the warning", |s| s.events().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = cy.sim.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["severity"], "warn");
    assert_eq!(
        e["title"],
        format!("Server cycle-{OTHER_SERVER} provisioning out of stock")
    );
    assert!(e["message"].as_str().unwrap().contains(H100), "{e}");
    assert!(tags(e).contains(&("location".into(), ICELAND.into())));
    assert!(tags(e).contains(&("model".into(), H100.into())));
    assert!(
        cy.sim.resources().is_empty(),
        "nothing was made to inventory"
    );
}

fn config_b64(doc: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(doc)
}

#[tokio::test]
async fn a_hub_can_bring_its_own_organisation_in_auth_config() {
    let cy = RunningCycloid::start(CycloidSim::new("hub-org", HUB_KEY))
        .await
        .unwrap();
    let mut settings = test_settings();
    settings.cycloid.allowed_urls = vec![cy.url()];
    let mut h = Harness::start(quick_sim_config(), settings).await;
    h.auth["config"] = json!(config_b64(&format!(
        "[cycloid]\norganization = \"hub-org\"\napi_key = \"{HUB_KEY}\"\nurl = \"{}\"\n",
        cy.url()
    )));
    assert_eq!(
        Harness::data(h.cycle("/v1/auth/verify", Value::Null).await),
        json!({"valid": true})
    );
    let ready = h.provision_ready(MODEL, LOCATION).await;
    Harness::data(
        h.server_call("decommission", &ready.server_id, LOCATION)
            .await,
    );
    until(
        &cy.sim,
        "three events, the resource made and removed",
        |s| s.events().len() == 3 && s.resources().is_empty(),
    )
    .await;
    let received = cy.sim.received();
    assert!(received
        .iter()
        .any(|r| r.method == "POST" && r.target.ends_with("/inventory/resources")));
    assert!(received.iter().any(|r| r.method == "DELETE"));
    assert!(received
        .iter()
        .all(|r| r.target.starts_with("/organizations/hub-org/")));
}

#[tokio::test]
async fn a_config_the_bridge_does_not_read_is_a_422_at_verify_naming_the_field() {
    let mut h = Harness::start(quick_sim_config(), test_settings()).await;
    let secret = "cy-key-never-shown-0000";
    let cases = [
        ("%%% not base64".to_string(), "base64"),
        (config_b64("cycloid = ["), "TOML"),
        (
            config_b64(&format!(r#"{{"cycloid": {{"api_key": "{secret}"}}}}"#)),
            "cycloid.organization is missing",
        ),
        (
            config_b64(&format!(
                r#"{{"cycloid": {{"organization": "Not Canonical", "api_key": "{secret}"}}}}"#
            )),
            "cycloid.organization",
        ),
        (
            config_b64(r#"{"cycloid": {"organization": "acme"}}"#),
            "cycloid.api_key is missing",
        ),
        (
            config_b64(&format!(
                r#"{{"cycloid": {{"organization": "acme", "api_key": "{secret}", "url": "https://elsewhere.example"}}}}"#
            )),
            "cycloid.url",
        ),
        (
            config_b64(&format!(
                r#"{{"cycloid": {{"organization": "acme", "api_key": "{secret}", "token": "x"}}}}"#
            )),
            "cycloid.token",
        ),
        (
            config_b64(&format!("[cycliod]\napi_key = \"{secret}\"\n")),
            "cycliod",
        ),
    ];
    for (config, names) in cases {
        h.auth["config"] = json!(config);
        let (status, body) = h.cycle("/v1/auth/verify", Value::Null).await;
        assert_eq!(status, 422, "{config}: {body}");
        let detail = body["error"]["detail"].as_str().unwrap();
        assert!(detail.contains(names), "{config}: {detail}");
        assert!(detail.contains("/auth/config"), "{detail}");
        assert_eq!(body["error"]["source"], "/auth/config", "{body}");
        assert!(!body.to_string().contains(secret), "{body}");
    }
    // Elsewhere the same config is not in Cycle's way: the call is served, the sink is off.
    let (status, body) = h
        .cycle("/v1/infrastructure/provider/locations", Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Cycle's calls of one lifecycle, each answer's status and body exactly as sent. Polls before
/// provisioned are not kept: how many there are depends on timing, not on the sink.
async fn script(h: &Harness) -> Vec<(String, u16, Vec<u8>)> {
    const CONFIGURE: &str = "/v1/location/configure";
    const PROVISION: &str = "/v1/infrastructure/server/provision";
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    let mut call = async |path: &str, request: Value| -> Value {
        let body = json!({"auth": h.auth, "request": request});
        let resp = http.post(format!("{}{path}", h.url)).json(&body).send();
        let resp = resp.await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap().to_vec();
        answers.push((path.to_string(), status, bytes.clone()));
        serde_json::from_slice(&bytes).unwrap()
    };
    call("/v1/auth/verify", Value::Null).await;
    call("/v1/infrastructure/provider/locations", Value::Null).await;
    call("/v1/infrastructure/provider/server-models", Value::Null).await;
    let configured = call(CONFIGURE, Harness::configure_request(LOCATION)).await;
    let config = configured["data"]["configuration_latest"].clone();
    let provision = Harness::provision_request(CYCLE_SERVER, MODEL, LOCATION, &config);
    let provisioned = call(PROVISION, provision).await["data"].clone();
    let (id, extra) = (
        provisioned["server_id"].as_str().unwrap(),
        &provisioned["extra"],
    );
    h.wait_provisioned(id, LOCATION, &config, extra).await;
    let status = Harness::status_request(id, LOCATION, &config, extra);
    call("/v1/infrastructure/server/provision-status", status).await;
    let allocate = Harness::allocate_request(id, LOCATION, &config);
    let ip = call("/v1/infrastructure/ip/allocate", allocate).await["data"].clone();
    call(
        "/v1/infrastructure/ip/release",
        Harness::release_request(&ip),
    )
    .await;
    for action in ["restart", "decommission"] {
        let path = format!("/v1/infrastructure/server/{action}");
        call(&path, Harness::server_ref(id, LOCATION)).await;
    }
    // A failure Cycle sees: out of stock is told to Cycloid too, and must answer the same.
    let configured = call(CONFIGURE, Harness::configure_request(ICELAND)).await;
    let iceland = configured["data"]["configuration_latest"].clone();
    let provision = Harness::provision_request(OTHER_SERVER, H100, ICELAND, &iceland);
    let refused = call(PROVISION, provision).await;
    assert_eq!(refused["error"]["status"], 409, "{refused}");
    answers
}

#[tokio::test]
async fn a_failing_cycloid_changes_no_ial_answer_by_a_byte() {
    let baseline = script(&Harness::start(quick_sim_config(), test_settings()).await).await;
    assert!(baseline.iter().all(|(_, s, _)| *s < 500), "{baseline:?}");

    // Down: nothing listens where the sink sends.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut ways: Vec<(&str, BridgeSettings, Option<Behaviour>)> = vec![
        ("down", with_sink(&down, KEY), None),
        (
            "refusing the key",
            with_sink("http://unused", "cy-key-wrong"),
            None,
        ),
    ];
    for (name, behaviour) in [
        ("slow", Behaviour::Slow(Duration::from_secs(2))),
        ("failing", Behaviour::Fail(503)),
        ("throttling", Behaviour::Throttle),
        ("answering garbage", Behaviour::Garbage),
    ] {
        ways.push((name, with_sink("http://unused", KEY), Some(behaviour)));
    }
    for (name, mut settings, behaviour) in ways {
        let cy = cycloid().await;
        if settings.cycloid.url == "http://unused" {
            settings.cycloid.url = cy.url();
        }
        if let Some(b) = behaviour {
            cy.sim.set_behaviour(b);
        }
        let h = Harness::start(quick_sim_config(), settings).await;
        let answers = script(&h).await;
        assert_eq!(answers.len(), baseline.len(), "{name}");
        for (with, without) in answers.iter().zip(&baseline) {
            assert_eq!(
                (with.0.as_str(), with.1, String::from_utf8_lossy(&with.2)),
                (
                    without.0.as_str(),
                    without.1,
                    String::from_utf8_lossy(&without.2)
                ),
                "Cycloid {name}"
            );
        }
        if name != "down" {
            // The sink did try: the answers are the same although Cycloid was called.
            until(&cy.sim, &format!("a request while {name}"), |s| {
                !s.received().is_empty()
            })
            .await;
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn at_shutdown_the_story_already_queued_is_delivered_before_the_exit() {
    let crusoe = common::start_sim(quick_sim_config()).await;
    let cy = cycloid().await;
    // Each Cycloid request takes 400 ms: the story of the provision (an event, a find and a
    // create) is still being delivered when SIGTERM comes.
    cy.sim
        .set_behaviour(Behaviour::Slow(Duration::from_millis(400)));
    let url = cy.url();
    let (child, addr, _home) = common::serve_process_with(
        "",
        &[],
        &[
            ("CRUSOE_API_ENDPOINT", &crusoe.endpoint()),
            ("CY_ORG", ORG),
            ("CY_API_KEY", KEY),
            ("CY_API_URL", &url),
        ],
    )
    .await;
    let call = |path: &'static str, request: Value| {
        let url = format!("http://{addr}{path}");
        async move {
            let body = json!({"auth": common::harness::default_auth(), "request": request});
            common::post_json(&url, &body).await["data"].clone()
        }
    };
    let config = call(
        "/v1/location/configure",
        Harness::configure_request(LOCATION),
    )
    .await["configuration_latest"]
        .clone();
    let provisioned = call(
        "/v1/infrastructure/server/provision",
        Harness::provision_request(CYCLE_SERVER, MODEL, LOCATION, &config),
    )
    .await;
    assert!(provisioned["server_id"].is_string(), "{provisioned}");
    assert!(cy.sim.resources().is_empty(), "not delivered yet");
    common::send_signal(&child, "TERM");
    let out = common::exit_within(
        child,
        Duration::from_secs(15),
        "serve stops within the drain's bound",
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(cy.sim.events().len(), 1, "{:#?}", cy.sim.received());
    assert_eq!(cy.sim.resources().len(), 1, "{:#?}", cy.sim.received());
}
