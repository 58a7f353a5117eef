//! Cycle retries, concurrently and after crashes: the bridge does each thing once.

use crate::common;

use common::harness::{serve_bridge, test_settings, Harness, CYCLE_SERVER};
use common::{attached_disk, quick_sim_config};
use crusoe_ial::ial::IalOptions;
use serde_json::{json, Value};

fn names(h: &Harness, kind: &str) -> Vec<String> {
    h.project()[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn provision_five_times_at_once_and_again_after_a_restart_gives_one_vm() {
    let mut h = Harness::start(quick_sim_config(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let request = Harness::provision_request(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config);

    let answers = futures::future::join_all(
        (0..5).map(|_| h.cycle("/v1/infrastructure/server/provision", request.clone())),
    )
    .await;
    let ids: Vec<Value> = answers
        .into_iter()
        .map(|a| Harness::data(a)["server_id"].clone())
        .collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(names(&h, "vms"), vec![format!("cycle-{CYCLE_SERVER}")]);
    let data_disks = |h: &Harness| {
        names(h, "disks")
            .into_iter()
            .filter(|n| n.ends_with("-data"))
            .count()
    };
    assert_eq!(data_disks(&h), 1);

    h.restart_bridge().await;
    let again = Harness::data(
        h.cycle("/v1/infrastructure/server/provision", request)
            .await,
    );
    assert_eq!(again["server_id"], ids[0]);
    assert_eq!(h.count("vms"), 1, "a restarted bridge finds the VM by name");
    assert_eq!(data_disks(&h), 1);
    let calls = h.sim.sim.calls();
    assert_eq!(
        calls["POST /projects/{project_id}/compute/vms/instances"], 1,
        "{calls:?}"
    );
    assert_eq!(
        calls["POST /projects/{project_id}/storage/disks"], 1,
        "{calls:?}"
    );
}

#[tokio::test]
async fn two_replicas_racing_end_with_one_vm_the_oldest() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let (other_url, _task) = serve_bridge(&h.sim, test_settings(), IalOptions::default()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let request = Harness::provision_request(CYCLE_SERVER, "c1a.16x", "us-east1-a", &config);
    let body = serde_json::to_vec(&json!({"auth": h.auth, "request": request})).unwrap();
    let http = reqwest::Client::new();
    let send = |url: String| {
        let http = http.clone();
        let body = body.clone();
        async move {
            http.post(format!("{url}/v1/infrastructure/server/provision"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let (a, b) = tokio::join!(send(h.url.clone()), send(other_url.clone()));
    assert_eq!(a["data"]["server_id"], b["data"]["server_id"], "{a} {b}");
    let server_id = a["data"]["server_id"].as_str().unwrap().to_string();
    let first_vm = h.project()["vms"][0]["id"].clone();

    // Whatever the race made, polling converges on one VM: the oldest.
    let ready = h
        .wait_provisioned(&server_id, "us-east1-a", &config, &a["data"]["extra"])
        .await;
    for _ in 0..100 {
        if h.count("vms") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.count("vms"), 1);
    assert_eq!(h.project()["vms"][0]["id"], first_vm);
    assert_eq!(ready["auth"]["uuid"], first_vm);
}

#[tokio::test]
async fn decommission_release_and_configure_repeated_do_nothing_more() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let first = h.configure("us-east1-a").await;
    let before = h.sim.sim.inventory();
    let calls_before = h.sim.sim.calls();
    for _ in 0..3 {
        let again = h
            .cycle(
                "/v1/location/configure",
                json!({"location_id": "us-east1-a", "version": "1", "configuration_current": first["configuration_latest"], "cycle": {"location_id": "x"}}),
            )
            .await;
        assert_eq!(
            Harness::data(again),
            first,
            "the current version with resources present changes nothing"
        );
    }
    assert_eq!(h.sim.sim.inventory(), before);
    let posts = |calls: &std::collections::BTreeMap<String, u64>| {
        calls
            .iter()
            .filter(|(k, _)| k.starts_with("POST"))
            .map(|(_, v)| v)
            .sum::<u64>()
    };
    assert_eq!(
        posts(&h.sim.sim.calls()),
        posts(&calls_before),
        "nothing created"
    );

    // A first-time request (no version) for the same hub and location finds the same resources.
    let fresh = h.configure("us-east1-a").await;
    assert_eq!(fresh["configuration_latest"], first["configuration_latest"]);
    // Another location of the same hub reuses the network, with a subnet of its own.
    let west = h.configure("us-southcentral1-a").await["configuration_latest"].clone();
    assert_eq!(
        west["vpc_network_id"],
        first["configuration_latest"]["vpc_network_id"]
    );
    assert_ne!(
        west["subnet_id"],
        first["configuration_latest"]["subnet_id"]
    );
    assert_eq!(
        names(&h, "vpc_networks")
            .iter()
            .filter(|n| n.starts_with("cycle-"))
            .count(),
        1
    );

    // Decommission of a server that never existed, twice, and release of an address gone.
    let server = Harness::server_ref("cycle-0123456789abcdef01234567", "us-east1-a");
    for _ in 0..2 {
        assert_eq!(
            Harness::data(
                h.cycle("/v1/infrastructure/server/decommission", server.clone())
                    .await
            ),
            json!(true)
        );
    }
    let release = json!({"kind": "ipv4", "ip_id": "x", "ip_assignment_id": "lb-8b7c6d5e-4f3a-4b2c-9d1e-0f2a3b4c5d6e", "cidr": "198.18.0.9/32"});
    for _ in 0..2 {
        assert_eq!(
            Harness::data(
                h.cycle("/v1/infrastructure/ip/release", release.clone())
                    .await
            ),
            json!(true)
        );
    }
}

#[tokio::test]
async fn an_older_configuration_is_migrated_adopting_what_it_named() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let current = h.configure("us-east1-a").await["configuration_latest"].clone();
    // A version-0 configuration naming the same resources (no firewall rules recorded).
    let old = json!({"location": "us-east1-a", "vpc_network_id": current["vpc_network_id"], "subnet_id": current["subnet_id"], "subnet_cidr": current["subnet_cidr"]});
    let migrated = Harness::data(
        h.cycle(
            "/v1/location/configure",
            json!({"location_id": "us-east1-a", "version": "0", "configuration_current": old, "cycle": {"location_id": "x"}}),
        )
        .await,
    );
    assert_eq!(migrated["version"], "1");
    assert_eq!(migrated["configuration_latest"], current);

    // A current-version configuration whose subnet is gone is repaired, not trusted.
    let mut broken = current.clone();
    broken["subnet_id"] = json!("36c0b0d9-8b68-4869-addb-227b06b64ee9");
    let repaired = Harness::data(
        h.cycle(
            "/v1/location/configure",
            json!({"location_id": "us-east1-a", "version": "1", "configuration_current": broken, "cycle": {"location_id": "x"}}),
        )
        .await,
    );
    assert_eq!(
        repaired["configuration_latest"]["subnet_id"],
        current["subnet_id"]
    );
}

/// The names of the data disks the server's VM holds, as the simulator renders the VM.
fn vm_data_disks(h: &Harness, server_id: &str) -> Vec<String> {
    let p = h.project();
    let vm = p["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == server_id)
        .unwrap_or_else(|| panic!("no VM {server_id}: {}", p["vms"]))
        .clone();
    vm["disks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attachment_type"] == "data")
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

/// Operations slow enough that a deletion is still running when Cycle calls again.
fn slow_sim() -> crusoe_sim::SimConfig {
    crusoe_sim::SimConfig {
        op_delay: std::time::Duration::from_millis(800),
        ..quick_sim_config()
    }
}

async fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test]
async fn a_provision_retried_at_once_after_a_refused_one_gets_a_live_data_disk() {
    let h = Harness::start(slow_sim(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let mut wrong = config.clone();
    wrong["subnet_id"] = json!("00000000-0000-0000-0000-000000000000");
    let refused = h
        .cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.2x", "us-east1-a", &wrong),
        )
        .await;
    assert_eq!(refused.0, 422, "{}", refused.1);

    let provisioned = Harness::data(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.2x", "us-east1-a", &config),
        )
        .await,
    );
    let server = provisioned["server_id"].as_str().unwrap();
    h.wait_provisioned(server, "us-east1-a", &config, &provisioned["extra"])
        .await;
    assert_eq!(vm_data_disks(&h, server), vec![format!("{server}-data")]);
    assert!(
        names(&h, "disks").contains(&format!("{server}-data")),
        "{:?}",
        names(&h, "disks")
    );
}

#[tokio::test]
async fn a_provision_retried_after_crusoe_failed_the_vm_never_gets_the_disk_being_deleted() {
    let h = Harness::start(slow_sim(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let request = Harness::provision_request(CYCLE_SERVER, "c1a.2x", "us-east1-a", &config);
    let disk = format!("cycle-{CYCLE_SERVER}-data");

    // The stock is gone between the bridge's check and the VM: Crusoe fails the creation.
    let provision = h.cycle("/v1/infrastructure/server/provision", request.clone());
    let take_stock = async {
        wait_until(|| names(&h, "disks").contains(&disk), "the data disk").await;
        h.sim.sim.set_capacity("us-east1-a", "c1a.2x", 0).unwrap();
    };
    let (provisioned, ()) = tokio::join!(provision, take_stock);
    let provisioned = Harness::data(provisioned);
    let server = provisioned["server_id"].as_str().unwrap().to_string();
    let status = Harness::status_request(&server, "us-east1-a", &config, &provisioned["extra"]);
    let mut failed = None;
    for _ in 0..100 {
        let answer = h
            .cycle("/v1/infrastructure/server/provision-status", status.clone())
            .await;
        if answer.0 != 200 {
            failed = Some(answer);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failed = failed.expect("provision-status reports the failed creation");
    assert_eq!(failed.0, 409, "{}", failed.1);
    assert_eq!(
        failed.1["error"]["code"], "409.out-of-stock",
        "{}",
        failed.1
    );

    // Stock is back and Cycle provisions again at once.
    h.sim.sim.set_capacity("us-east1-a", "c1a.2x", 5).unwrap();
    let again = Harness::data(
        h.cycle("/v1/infrastructure/server/provision", request)
            .await,
    );
    h.wait_provisioned(&server, "us-east1-a", &config, &again["extra"])
        .await;
    // Long enough for any deletion started before to have finished.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(vm_data_disks(&h, &server), vec![disk]);
}

#[tokio::test]
async fn a_disk_another_replica_is_deleting_is_waited_for_and_replaced() {
    let h = Harness::start(slow_sim(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let disk = format!("cycle-{CYCLE_SERVER}-data");
    // What a failed provision on another replica leaves: the disk, being deleted.
    let crusoe = common::sim_client(&h.sim).project(common::PROJECT);
    let made = crusoe
        .disks()
        .create(&crusoe_sdk::types::CreateDiskRequest::persistent_ssd(
            &disk,
            "us-east1-a",
            100,
        ))
        .await
        .unwrap()
        .wait(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let old_id = made.result.unwrap()["id"].as_str().unwrap().to_string();
    let _deleting = crusoe.disks().delete(&old_id).await.unwrap();

    let provisioned = Harness::data(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.2x", "us-east1-a", &config),
        )
        .await,
    );
    let server = provisioned["server_id"].as_str().unwrap();
    h.wait_provisioned(server, "us-east1-a", &config, &provisioned["extra"])
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let held = vm_data_disks(&h, server);
    assert_eq!(held, vec![disk.clone()]);
    let ids: Vec<Value> = h.project()["disks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == disk.as_str())
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], old_id.as_str(), "a new disk, not the one deleted");
}

#[tokio::test]
async fn a_vm_without_its_data_disk_is_never_reported_ready_and_gets_one_once_stopped() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let server = h.provision_ready("c1a.2x", "us-east1-a").await;
    let name = server.server_id.as_str();
    let crusoe = common::sim_client(&h.sim).project(common::PROJECT);
    let five = std::time::Duration::from_secs(5);
    let vm = &crusoe_ial_vm(&crusoe, name).await;
    let disk_id = attached_disk(vm, "data");
    use crusoe_sdk::types::{UpdateVmRequest, VmAction};
    // Someone takes the disk away in Crusoe.
    let stop = UpdateVmRequest::action(VmAction::Stop);
    crusoe
        .vms()
        .update(&vm.id, &stop)
        .await
        .unwrap()
        .wait(five)
        .await
        .unwrap();
    crusoe
        .vms()
        .detach_disks(&vm.id, vec![disk_id.clone()])
        .await
        .unwrap()
        .wait(five)
        .await
        .unwrap();
    crusoe
        .disks()
        .delete(&disk_id)
        .await
        .unwrap()
        .wait(five)
        .await
        .unwrap();
    let start = UpdateVmRequest::action(VmAction::Start);
    crusoe
        .vms()
        .update(&vm.id, &start)
        .await
        .unwrap()
        .wait(five)
        .await
        .unwrap();

    let status = Harness::status_request(
        name,
        "us-east1-a",
        &server.config,
        &server.provisioned["extra"],
    );
    let path = "/v1/infrastructure/server/provision-status";
    // Once the status view has read the VM again (it refreshes every `status.refresh_ms`).
    let mut answer = h.cycle(path, status.clone()).await;
    for _ in 0..100 {
        if answer.0 != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        answer = h.cycle(path, status.clone()).await;
    }
    assert_eq!(answer.0, 409, "running without its disk: {}", answer.1);
    let detail = answer.1["error"]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("{name}-data")), "{detail}");

    // Stopped, the bridge gives it a new disk and starts it.
    crusoe
        .vms()
        .update(&vm.id, &stop)
        .await
        .unwrap()
        .wait(five)
        .await
        .unwrap();
    // Polls that still see it running, before the view reads it again, keep saying why.
    let mut ready = Value::Null;
    for _ in 0..200 {
        let answer = h.cycle(path, status.clone()).await;
        match answer.0 {
            200 if answer.1["data"]["provisioned"] == true => {
                ready = answer.1["data"].clone();
                break;
            }
            200 | 409 => {}
            _ => panic!("{}", answer.1),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready["auth"]["uuid"], server.status["auth"]["uuid"]);
    assert_eq!(vm_data_disks(&h, name), vec![format!("{name}-data")]);
}

async fn crusoe_ial_vm(crusoe: &crusoe_sdk::ProjectClient, name: &str) -> crusoe_sdk::types::Vm {
    let filter = crusoe_sdk::types::VmFilter::names([name]);
    crusoe.vms().list(&filter).await.unwrap().remove(0)
}
