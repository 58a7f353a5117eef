//! `crusoe-ial simulate` as its own process: the lifecycle the bridge will drive (create disk,
//! create VM with it, wait, reset, delete, delete disk) leaves nothing behind, as the inspection
//! endpoint shows; and a run without keys prints a usable generated one.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{PROJECT, SECRET};
use crusoe_sdk::types::*;
use crusoe_sdk::CrusoeClient;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_crusoe-ial");
const WAIT: Duration = Duration::from_secs(10);

/// Starts the simulator and returns it with the lines it printed up to its inspection line.
async fn spawn(args: &[&str]) -> (tokio::process::Child, Vec<String>) {
    let mut child = tokio::process::Command::new(BIN)
        .arg("simulate")
        .args(["--listen", "127.0.0.1:0", "--op-delay-ms", "50"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
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

    let op = c
        .project(PROJECT)
        .disks()
        .create(&CreateDiskRequest::persistent_ssd(
            "cycle-life-data",
            "us-east1-a",
            100,
        ))
        .await
        .unwrap();
    let disk_id = op.wait(WAIT).await.unwrap().result_as::<Disk>().unwrap().id;
    let request = CreateVmRequest {
        name: "cycle-life".into(),
        vm_type: "c1a.8x".into(),
        location: "us-east1-a".into(),
        ssh_public_key: "ssh-ed25519 AAAA life".into(),
        image: Some("ubuntu22.04:latest".into()),
        disks: Some(vec![DiskAttachment::data_read_write(&disk_id)]),
        ..Default::default()
    };
    let op = c.project(PROJECT).vms().create(&request).await.unwrap();
    let vm_id = op.resource_id().unwrap().to_string();
    let vm: Vm = op.wait(WAIT).await.unwrap().result_as().unwrap();
    assert_eq!(vm.state, VmState::Running);

    let inventory: Value = reqwest::get(format!("{admin}/inventory"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        inventory["projects"][0]["vms"].as_array().unwrap().len(),
        1,
        "exactly one VM exists"
    );

    let op = c
        .project(PROJECT)
        .vms()
        .update(&vm_id, &UpdateVmRequest::action(VmAction::Reset))
        .await
        .unwrap();
    op.wait(WAIT).await.unwrap();
    let op = c.project(PROJECT).vms().delete(&vm_id).await.unwrap();
    op.wait(WAIT).await.unwrap();
    let op = c.project(PROJECT).disks().delete(&disk_id).await.unwrap();
    op.wait(WAIT).await.unwrap();

    let inventory: Value = reqwest::get(format!("{admin}/inventory"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project = &inventory["projects"][0];
    assert_eq!(project["id"], PROJECT);
    assert_eq!(project["vms"], serde_json::json!([]));
    assert_eq!(project["disks"], serde_json::json!([]));
    assert_eq!(project["load_balancers"], serde_json::json!([]));
    assert_eq!(inventory["operations_in_progress"], 0);

    let calls: Value = reqwest::get(format!("{admin}/calls"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let out = tokio::process::Command::new(BIN)
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "only-two:parts",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ACCESS_KEY_ID:SECRET_KEY:PROJECT_ID"));
}
