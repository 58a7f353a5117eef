//! The operator's choices, end to end: server-held credentials with a bridge token, an existing
//! network, the vm-public-ip strategy, and a decommission that outlives its deadline.

use crate::common;

use std::time::Duration;

use common::harness::{element, serve_app, test_settings, Harness, CYCLE_SERVER};
use common::{fast_settings, quick_sim_config, start_sim, ACCESS_KEY, PROJECT, SECRET};
use crusoe_ial::backends::crusoe::settings::IpStrategy;
use crusoe_ial::config::BridgeSettings;
use crusoe_ial::core::CredentialsMode;
use crusoe_ial::ial::IalOptions;
use crusoe_ial::serve::AppSettings;
use crusoe_sdk::Credentials;
use crusoe_sim::{RunningSim, SimConfig};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const TOKEN: &str = "bridge-token-of-at-least-16";

/// A bridge on `sim` in server-held mode, wanting `TOKEN` and holding the test key with `secret`:
/// its URL and its task.
async fn server_held_bridge(sim: &RunningSim, secret: &str) -> (String, JoinHandle<()>) {
    let settings = BridgeSettings {
        credentials: CredentialsMode::ServerHeld,
        bridge_token: Some(SecretString::from(TOKEN)),
        ..test_settings()
    };
    let held = (
        Credentials::new(ACCESS_KEY, &SecretString::from(secret)).unwrap(),
        PROJECT.to_string(),
    );
    serve_app(&AppSettings {
        client: fast_settings(&sim.endpoint()),
        server_held: Some(held),
        bridge: settings,
        ial: IalOptions::default(),
        cloudsigma: None,
    })
    .await
}

#[tokio::test]
async fn server_held_credentials_need_the_token_and_use_the_operators_project() {
    let sim = start_sim(quick_sim_config()).await;
    let (url, _server) = server_held_bridge(&sim, SECRET).await;
    let http = reqwest::Client::new();
    let call = |auth: Value, path: &'static str, request: Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(format!("{url}{path}"))
                .json(&json!({"auth": auth, "request": request}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "Crusoe accepts the operator's key");
    // Cycle sends only the token; no Crusoe secret travels.
    let token_auth =
        json!({"api_key": TOKEN, "cycle": {"hub_id": "65f1e2d3c4b5a69788796a5b", "hub_name": "h"}});
    let (status, body) = call(token_auth.clone(), "/v1/auth/verify", Value::Null).await;
    assert_eq!(
        (status, body["data"]["valid"].clone()),
        (200, json!(true)),
        "{body}"
    );
    let wrong = json!({"api_key": "bridge-token-of-at-least-17"});
    assert_eq!(
        call(wrong.clone(), "/v1/auth/verify", Value::Null).await.1["data"]["valid"],
        false
    );
    let (status, body) = call(wrong, "/v1/infrastructure/provider/locations", Value::Null).await;
    assert_eq!(status, 401, "{body}");
    // With the token, the operator's project is used.
    let (status, body) = call(
        token_auth,
        "/v1/location/configure",
        json!({"location_id": "us-east1-a", "version": "", "configuration_current": {}, "cycle": {"location_id": "x"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let inventory = sim.sim.inventory();
    let project = inventory["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == PROJECT)
        .unwrap();
    assert!(project["vpc_networks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == body["data"]["configuration_latest"]["vpc_network_id"]));
}

#[tokio::test]
async fn server_held_mode_without_a_token_or_credentials_does_not_start() {
    let client = fast_settings("http://127.0.0.1:9/v1");
    let no_token = BridgeSettings {
        credentials: CredentialsMode::ServerHeld,
        ..test_settings()
    };
    let held = || {
        Some((
            Credentials::new(ACCESS_KEY, &SecretString::from(SECRET)).unwrap(),
            PROJECT.to_string(),
        ))
    };
    // As the operator is told, where nothing set the value: by the only way to set it.
    let named = |settings: BridgeSettings, held| {
        let err = crusoe_ial::serve::bridge(&settings, client.clone(), held)
            .err()
            .unwrap();
        crusoe_ial::config::Origins::default()
            .invalid(err)
            .to_string()
    };
    assert!(named(no_token.clone(), held()).contains("IAL_BRIDGE_TOKEN"));
    let short = BridgeSettings {
        bridge_token: Some(SecretString::from("short")),
        ..no_token.clone()
    };
    assert!(named(short, held()).contains("IAL_BRIDGE_TOKEN"));
    let no_keys = BridgeSettings {
        bridge_token: Some(SecretString::from(TOKEN)),
        ..no_token
    };
    assert!(named(no_keys, None).contains("CRUSOE_ACCESS_KEY_ID"));
}

#[tokio::test]
async fn an_existing_network_is_used_as_configured_and_nothing_is_made() {
    // First learn the simulator's default network and its us-east1-a subnet.
    let probe = start_sim(quick_sim_config()).await;
    let c = common::sim_client(&probe);
    let project = c.project(PROJECT);
    let network = project.vpc_networks().list().await.unwrap().remove(0);
    let subnet = project
        .vpc_subnets()
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.location == "us-east1-a")
        .unwrap();
    drop(probe);

    let mut settings = test_settings();
    settings.network.existing_vpc_network_id = Some(network.id.clone());
    settings
        .network
        .existing_subnets
        .insert("us-east1-a".into(), subnet.id.clone());
    settings.network.ingress_tcp_ports.clear();
    // The same seed gives the same ids, so the ids learnt above exist in this simulator too.
    let h = Harness::start(quick_sim_config(), settings).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    assert_eq!(config["vpc_network_id"], json!(network.id));
    assert_eq!(config["subnet_id"], json!(subnet.id));
    assert_eq!(h.count("vpc_networks"), 1, "no network made");
    let (status, body) = h
        .cycle(
            "/v1/location/configure",
            json!({"location_id": "us-southcentral1-a", "version": "", "configuration_current": {}, "cycle": {"location_id": "x"}}),
        )
        .await;
    assert_eq!(
        status, 409,
        "no subnet configured for that location: {body}"
    );
    assert!(Harness::detail(&body).contains("existing_subnets"));
}

#[tokio::test]
async fn vm_public_ip_hands_out_the_servers_own_static_address() {
    let mut settings = test_settings();
    settings.ips.strategy = IpStrategy::VmPublicIp;
    let h = Harness::start(quick_sim_config(), settings).await;
    let server = h.provision_ready("s1a.80x", "us-east1-a").await;
    let (config, id, ready) = (&server.config, server.server_id.as_str(), &server.status);
    let request = Harness::allocate_request(id, "us-east1-a", config);
    let ip = Harness::data(h.cycle("/v1/infrastructure/ip/allocate", request).await);
    assert_eq!(
        ip["cidr"],
        format!("{}/32", ready["auth"]["initial_ips"][0].as_str().unwrap())
    );
    assert!(ip["ip_assignment_id"].as_str().unwrap().starts_with("vm-"));
    assert_eq!(h.count("load_balancers"), 0);
    let release = Harness::release_request(&ip);
    assert_eq!(
        Harness::data(h.cycle("/v1/infrastructure/ip/release", release).await),
        json!(true)
    );
    assert_eq!(
        h.count("vms"),
        1,
        "releasing the server's own address keeps the server"
    );
}

#[tokio::test]
async fn a_decommission_past_its_deadline_is_a_504_and_the_retry_finishes_it() {
    let mut settings = test_settings();
    settings.timeouts.decommission_secs = 1;
    let h = Harness::start(
        SimConfig {
            op_delay: Duration::from_millis(1500),
            ..Default::default()
        },
        settings,
    )
    .await;
    let id = h.provision_ready("s1a.80x", "us-east1-a").await.server_id;

    let (status, answer) = h.server_call("decommission", &id, "us-east1-a").await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["error"]["code"], "504.timeout");
    assert!(Harness::detail(&answer).contains("continues where this stopped"));

    let mut done = false;
    for _ in 0..20 {
        let (status, answer) = h.server_call("decommission", &id, "us-east1-a").await;
        if status == 200 {
            assert_eq!(answer["data"], json!(true));
            done = true;
            break;
        }
        assert_eq!(status, 504, "{answer}");
    }
    assert!(done, "Cycle's retries finish the decommission");
    assert_eq!(h.billable(), (0, 0, 0));
    assert_eq!(
        h.sim.sim.calls()["DELETE /projects/{project_id}/compute/vms/instances/{vm_id}"],
        1,
        "the retry continued the deletion instead of starting another"
    );
}

#[tokio::test]
async fn in_server_held_mode_readiness_fails_when_crusoe_refuses_the_operators_key() {
    let sim = start_sim(quick_sim_config()).await;
    let (url, _server) = server_held_bridge(&sim, "AAAAAAAAAAAAAAAAAAAAAA").await;
    let answer = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(answer.status(), 503);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "503.not-ready");
    assert!(Harness::detail(&body).contains("does not accept"), "{body}");
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status(),
        200,
        "alive, though not ready"
    );
}

#[tokio::test]
async fn vm_public_ip_makes_an_address_static_only_on_a_running_server() {
    use crusoe_sdk::types::{
        CreateVmRequest, IpAddressesRequest, NetworkInterfaceRequest, PublicIpv4Request,
        UpdateVmRequest, VmAction,
    };

    let mut settings = test_settings();
    settings.ips.strategy = IpStrategy::VmPublicIp;
    let h = Harness::start(
        crusoe_sim::SimConfig {
            op_delay: Duration::from_millis(300),
            ..quick_sim_config()
        },
        settings,
    )
    .await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    // A server's VM with a dynamic address (as one made before the bridge asked for static
    // ones), running, then told to stop.
    let c = common::sim_client(&h.sim);
    let project = c.project(PROJECT);
    let name = format!("cycle-{CYCLE_SERVER}");
    let op = project
        .vms()
        .create(&CreateVmRequest {
            name: name.clone(),
            vm_type: "c1a.4x".into(),
            location: "us-east1-a".into(),
            ssh_public_key: "ssh-ed25519 AAAA test".into(),
            network_interfaces: Some(vec![NetworkInterfaceRequest {
                subnet: config["subnet_id"].as_str().map(str::to_string),
                ips: vec![IpAddressesRequest {
                    public_ipv4: PublicIpv4Request {
                        ip_type: "dynamic".into(),
                        id: None,
                    },
                }],
            }]),
            ..Default::default()
        })
        .await
        .unwrap();
    let vm_id = op.resource_id().unwrap().to_string();
    op.wait(Duration::from_secs(5)).await.unwrap();
    let stop = UpdateVmRequest::action(VmAction::Stop);
    let _pending = project.vms().update(&vm_id, &stop).await.unwrap();
    let patches = |h: &Harness| {
        h.sim
            .sim
            .calls()
            .get("PATCH /projects/{project_id}/compute/vms/instances/{vm_id}")
            .copied()
            .unwrap_or(0)
    };
    let before = patches(&h);
    let request = Harness::allocate_request(&name, "us-east1-a", &config);
    let (status, answer) = h.cycle("/v1/infrastructure/ip/allocate", request).await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        Harness::detail(&answer).contains("only while it runs"),
        "{answer}"
    );
    assert_eq!(
        patches(&h),
        before,
        "no update sent to a VM that does not run"
    );
}

#[tokio::test]
async fn with_nested_virtualization_on_models_offer_a_hypervisor_and_a_provision_asking_gets_it() {
    let mut settings = test_settings();
    settings.nested_virtualization = true;
    let h = Harness::start(quick_sim_config(), settings).await;
    let models = Harness::data(
        h.cycle("/v1/infrastructure/provider/server-models", Value::Null)
            .await,
    );
    let hypervisor = |name: &str| {
        element(&models["models"], "/provider/model_id", name)["specs"]["features"]["hypervisor"]
            .clone()
    };
    assert_eq!(hypervisor("c1a.4x"), json!(true));
    assert_eq!(hypervisor("h100-80gb-sxm-ib.8x"), json!(false));

    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let mut request = Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config);
    request["model_features"]["hypervisor"] = json!(true);
    Harness::data(
        h.cycle("/v1/infrastructure/server/provision", request)
            .await,
    );
    let vm = &h.project()["vms"][0];
    assert_eq!(
        vm["virtualization_features"]["nested_virtualization"],
        json!(true),
        "{vm}"
    );
    // A type Crusoe advises against is refused, naming the field.
    let mut sxm = Harness::provision_request(
        "5f1e2d3c4b5a69788796a5e9",
        "h100-80gb-sxm-ib.8x",
        "us-east1-a",
        &config,
    );
    sxm["model_features"]["hypervisor"] = json!(true);
    let (status, body) = h.cycle("/v1/infrastructure/server/provision", sxm).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["source"],
        "/request/model_features/hypervisor"
    );
}
