//! `crusoe-ial simulate` as its own process: the lifecycle the bridge will drive (create disk,
//! create VM with it, wait, reset, delete, delete disk) leaves nothing behind, as the inspection
//! endpoint shows; and a run without keys prints a usable generated one.

use crate::common;

use std::time::Duration;

use common::{get_json, run_bin, spawn_bin, vm_request, PROJECT, SECRET};
use crusoe_sdk::types::*;
use crusoe_sdk::CrusoeClient;
use tokio::io::{AsyncBufReadExt, BufReader};

const WAIT: Duration = Duration::from_secs(10);

/// Starts the simulator and returns it with the lines it printed up to its inspection line.
async fn spawn(args: &[&str]) -> (tokio::process::Child, Vec<String>) {
    // It reads no home and writes to standard error only when it cannot start.
    let simulate = ["simulate", "--listen", "127.0.0.1:0", "--op-delay-ms", "50"];
    let (mut child, _home) = spawn_bin(&[&simulate[..], args].concat(), &[]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("inspect:");
            seen.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("simulator did not start");
    (child, seen)
}

fn exported(lines: &[String], var: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("export {var}=")))
        .unwrap_or_else(|| panic!("{var} not printed: {lines:?}"))
        .to_string()
}

#[tokio::test]
async fn a_lifecycle_against_the_simulate_command_leaves_nothing_behind() {
    let key = format!("{}:{SECRET}:{PROJECT}", common::ACCESS_KEY);
    let (mut child, lines) = spawn(&["--key", &key]).await;
    let endpoint = exported(&lines, "CRUSOE_API_ENDPOINT");
    assert!(
        !lines.concat().contains(SECRET),
        "a given secret is not echoed: {lines:?}"
    );
    let admin = endpoint.replace("/v1", "/_sim");
    let c = CrusoeClient::new(common::fast_settings(&endpoint), common::credentials()).unwrap();
    let project = c.project(PROJECT);

    let disk = CreateDiskRequest::persistent_ssd("cycle-life-data", "us-east1-a", 100);
    let op = project.disks().create(&disk).await.unwrap();
    let disk_id = op.wait(WAIT).await.unwrap().result_as::<Disk>().unwrap().id;
    let request = CreateVmRequest {
        disks: Some(vec![DiskAttachment::data_read_write(&disk_id)]),
        ..vm_request("cycle-life", "c1a.8x")
    };
    let op = project.vms().create(&request).await.unwrap();
    let vm_id = op.resource_id().unwrap().to_string();
    let vm: Vm = op.wait(WAIT).await.unwrap().result_as().unwrap();
    assert_eq!(vm.state, VmState::Running);

    let inventory = get_json(&format!("{admin}/inventory")).await;
    assert_eq!(
        inventory["projects"][0]["vms"].as_array().unwrap().len(),
        1,
        "exactly one VM exists"
    );

    let reset = UpdateVmRequest::action(VmAction::Reset);
    let op = project.vms().update(&vm_id, &reset).await.unwrap();
    op.wait(WAIT).await.unwrap();
    let op = project.vms().delete(&vm_id).await.unwrap();
    op.wait(WAIT).await.unwrap();
    let op = project.disks().delete(&disk_id).await.unwrap();
    op.wait(WAIT).await.unwrap();

    let inventory = get_json(&format!("{admin}/inventory")).await;
    let left = &inventory["projects"][0];
    assert_eq!(left["id"], PROJECT);
    assert_eq!(left["vms"], serde_json::json!([]));
    assert_eq!(left["disks"], serde_json::json!([]));
    assert_eq!(left["load_balancers"], serde_json::json!([]));
    assert_eq!(inventory["operations_in_progress"], 0);

    let calls = get_json(&format!("{admin}/calls")).await;
    assert_eq!(
        calls["by_endpoint"]["POST /projects/{project_id}/compute/vms/instances"],
        1
    );
    assert_eq!(
        calls["by_endpoint"]["DELETE /projects/{project_id}/storage/disks/{disk_id}"],
        1
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn without_keys_it_generates_one_that_works() {
    let (mut child, lines) = spawn(&[]).await;
    let endpoint = exported(&lines, "CRUSOE_API_ENDPOINT");
    let key = exported(&lines, "CRUSOE_ACCESS_KEY_ID");
    let secret = exported(&lines, "CRUSOE_SECRET_KEY");
    let project = exported(&lines, "CRUSOE_DEFAULT_PROJECT");
    let creds = crusoe_sdk::Credentials::new(&key, &secret.into()).unwrap();
    let c = CrusoeClient::new(common::fast_settings(&endpoint), creds).unwrap();
    assert_eq!(c.project(&project).get().await.unwrap().id, project);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_malformed_key_is_refused_at_start() {
    let out = run_bin(
        &[
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "only-two:parts",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "clap's usage error");
    assert!(out.stderr.contains("ACCESS_KEY_ID:SECRET_KEY:PROJECT_ID"));
}
