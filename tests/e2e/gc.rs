//! `crusoe-ial gc` against the simulator with planted orphans: it lists them, deletes nothing by
//! default, deletes exactly them with --apply, and never touches a live server or a foreign name.

use crate::common;

use std::time::Duration;

use common::harness::{test_settings, Harness};
use common::{crusoe_env, quick_sim_config, run_bin, sim_client, vm_request, PROJECT};
use crusoe_sdk::types::*;
use serde_json::json;

async fn gc(endpoint: &str, args: &[&str]) -> (i32, String) {
    gc_with(endpoint, args, &[]).await
}

/// [`gc`] with more environment (Cycloid's).
async fn gc_with(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = run_bin(
        &[&["gc"], args].concat(),
        &[&crusoe_env(endpoint), env].concat(),
    )
    .await;
    (out.code, out.all())
}

#[tokio::test]
async fn gc_lists_planted_orphans_and_deletes_exactly_them_with_apply() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    // A live server with its data disk and an address: not garbage.
    let server = h.provision_ready("c1a.4x", "us-east1-a").await;
    let live = server.server_id;
    let allocate = Harness::allocate_request(&live, "us-east1-a", &server.config);
    Harness::data(h.cycle("/v1/infrastructure/ip/allocate", allocate).await);

    // Orphans, as a crash between two steps leaves them, and a disk that is not the bridge's.
    let c = sim_client(&h.sim);
    let project = c.project(PROJECT);
    let wait = Duration::from_secs(5);
    for name in ["cycle-deadbeefdeadbeefdeadbeef-data", "scratch-data"] {
        let op = project
            .disks()
            .create(&CreateDiskRequest::persistent_ssd(name, "us-east1-a", 50))
            .await
            .unwrap();
        op.wait(wait).await.unwrap();
    }
    let vm = project
        .vms()
        .list(&VmFilter::names([live.clone()]))
        .await
        .unwrap()
        .remove(0);
    let op = project
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
    let out = run_bin(&["gc"], &[]).await;
    out.assert_failed_saying("CRUSOE_ACCESS_KEY_ID");
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
        .create(&vm_request(
            "crusoe-ial-image-builder-0123456789ab-us-east1-a",
            "c1a.2x",
        ))
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
