//! `crusoe-ial gc` against the simulator with planted orphans: it lists them, deletes nothing by
//! default, deletes exactly them with --apply, and never touches a live server or a foreign name.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::harness::{test_settings, Harness, CYCLE_SERVER};
use common::{quick_sim_config, sim_client, ACCESS_KEY, PROJECT, SECRET};
use crusoe_sdk::types::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_crusoe-ial");

async fn gc(endpoint: &str, args: &[&str]) -> (i32, String) {
    gc_with(endpoint, args, &[]).await
}

/// [`gc`] with more environment (Cycloid's).
async fn gc_with(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(BIN)
        .arg("gc")
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("CRUSOE_API_ENDPOINT", endpoint)
        .env("CRUSOE_ACCESS_KEY_ID", ACCESS_KEY)
        .env("CRUSOE_SECRET_KEY", SECRET)
        .env("CRUSOE_DEFAULT_PROJECT", PROJECT)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn gc_lists_planted_orphans_and_deletes_exactly_them_with_apply() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    // A live server with its data disk and an address: not garbage.
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let p = Harness::data(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config),
        )
        .await,
    );
    let live = p["server_id"].as_str().unwrap().to_string();
    h.wait_provisioned(&live, "us-east1-a", &config, &p["extra"])
        .await;
    Harness::data(
        h.cycle(
            "/v1/infrastructure/ip/allocate",
            json!({"kind": "ipv4", "server_id": live, "location_id": "us-east1-a", "location_configuration": config,
                   "cycle": {"pool_id": null, "server_id": "s", "server_model_class": "c", "server_model_category": "c", "location_id": "l"}}),
        )
        .await,
    );

    // Orphans, as a crash between two steps leaves them, and a disk that is not the bridge's.
    let c = sim_client(&h.sim);
    let wait = Duration::from_secs(5);
    for name in ["cycle-deadbeefdeadbeefdeadbeef-data", "scratch-data"] {
        let op = c
            .project(PROJECT)
            .disks()
            .create(&CreateDiskRequest::persistent_ssd(name, "us-east1-a", 50))
            .await
            .unwrap();
        op.wait(wait).await.unwrap();
    }
    let vm = c
        .project(PROJECT)
        .vms()
        .list(&VmFilter::names([live.clone()]))
        .await
        .unwrap()
        .remove(0);
    let op = c
        .project(PROJECT)
        .load_balancers()
        .create(&CreateLoadBalancerRequest {
            name: "cycle-deadbeefdeadbeefdeadbeef-ip-default".into(),
            location: "us-east1-a".into(),
            vpc_id: vm.network_interfaces[0].network.clone(),
            protocol: "LOAD_BALANCER_PROTOCOL_TCP".into(),
            listen_ports_and_backends: vec![ListenPortAndBackend {
                listen_port: 80,
                backends: vec![Backend {
                    ip: "172.27.0.9".into(),
                    port: 80,
                    status: String::new(),
                }],
            }],
            health_check_options: None,
        })
        .await
        .unwrap();
    op.wait(wait).await.unwrap();
    let before = h.billable();

    let (code, out) = gc(&h.sim.endpoint(), &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("disk cycle-deadbeefdeadbeefdeadbeef-data"),
        "{out}"
    );
    assert!(
        out.contains("load balancer cycle-deadbeefdeadbeefdeadbeef-ip-default"),
        "{out}"
    );
    assert!(
        out.contains("2 orphans") && out.contains("dry run"),
        "{out}"
    );
    assert!(
        !out.contains("scratch-data") && !out.contains(&format!("{live}-data")),
        "{out}"
    );
    assert_eq!(h.billable(), before, "a dry run deletes nothing");

    let (code, out) = gc(&h.sim.endpoint(), &["--apply"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deleted 2 of 2"), "{out}");
    let (vms, disks, lbs) = h.billable();
    assert_eq!((vms, disks, lbs), (before.0, before.1 - 1, before.2 - 1));
    let names: Vec<String> = h.project()["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"scratch-data".to_string()) && names.contains(&format!("{live}-data")),
        "{names:?}"
    );

    let (code, out) = gc(&h.sim.endpoint(), &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("nothing to collect"), "{out}");
}

#[tokio::test]
async fn gc_without_credentials_says_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(BIN)
        .arg("gc")
        .env_clear()
        .env("HOME", home.path())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRUSOE_ACCESS_KEY_ID"));
}

#[tokio::test]
async fn gc_finds_the_cycloid_inventory_a_crash_left_and_only_that() {
    use cycloid_sim::{CycloidSim, RunningCycloid};
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let ready = h.provision_ready("c1a.4x", "us-east1-a").await;
    let cy = RunningCycloid::start(CycloidSim::new("acme-gpu", "cy-gc-key"))
        .await
        .unwrap();
    let resource = |name: &str, managed_by: &str, project: &str| {
        json!({"provider": "crusoe", "type": "c1a.4x", "name": name, "label": name,
               "custom_attributes": {"managed_by": managed_by, "crusoe_project": project}})
    };
    let gone = "cycle-deadbeefdeadbeefdeadbeef";
    let gone_id = cy
        .sim
        .insert_resource(resource(gone, "crusoe-ial", PROJECT));
    cy.sim
        .insert_resource(resource(&ready.server_id, "crusoe-ial", PROJECT));
    cy.sim.insert_resource(resource(
        "cycle-aaaabbbbccccddddeeeeffff",
        "someone-else",
        PROJECT,
    ));
    cy.sim.insert_resource(resource(
        "cycle-aaaabbbbccccddddeeee0000",
        "crusoe-ial",
        "another-project",
    ));

    let endpoint = h.sim.endpoint();
    let url = cy.url();
    let env = [
        ("CY_ORG", "acme-gpu"),
        ("CY_API_KEY", "cy-gc-key"),
        ("CY_API_URL", url.as_str()),
    ];
    let (code, out) = gc_with(&endpoint, &[], &env).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("Cycloid inventory resource {gone} (id {gone_id})")),
        "{out}"
    );
    assert!(out.contains("dry run"), "{out}");
    assert!(
        !out.contains(&ready.server_id) && !out.contains("ffff") && !out.contains("0000"),
        "{out}"
    );
    assert!(!out.contains("cy-gc-key"), "{out}");
    assert_eq!(cy.sim.resources().len(), 4, "a dry run deletes nothing");

    let (code, out) = gc_with(&endpoint, &["--apply"], &env).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("deleted 1 Cycloid inventory resources"),
        "{out}"
    );
    let left: Vec<String> = cy
        .sim
        .resources()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&gone.to_string()), "{left:?}");
}

/// An image builder left running, in a Crusoe that refuses to delete running VMs and answers 409
/// right after a state change: `gc --apply` stops it and deletes it.
#[tokio::test]
async fn gc_deletes_a_running_builder_when_crusoe_wants_it_stopped_first() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let c = sim_client(&h.sim);
    let op = c
        .project(PROJECT)
        .vms()
        .create(&CreateVmRequest {
            name: "crusoe-ial-image-builder-0123456789ab-us-east1-a".into(),
            vm_type: "c1a.2x".into(),
            location: "us-east1-a".into(),
            ssh_public_key: "ssh-ed25519 AAAA".into(),
            image: Some("ubuntu22.04:latest".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    op.wait(Duration::from_secs(5)).await.unwrap();
    assert_eq!(h.project()["vms"][0]["state"], "STATE_RUNNING");
    h.sim
        .sim
        .set_faults(crusoe_sim::Faults {
            delete_needs_stopped_vm: true,
            delete_conflict_after_change_ms: 1500,
            ..Default::default()
        })
        .unwrap();
    let (code, out) = gc(&h.sim.endpoint(), &["--apply"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deleted 1 of 1"), "{out}");
    assert_eq!(h.count("vms"), 0, "{}", h.project());
}
