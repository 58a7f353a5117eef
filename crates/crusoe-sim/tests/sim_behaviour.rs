//! The simulator behaves as Crusoe does where the bridge depends on it: signatures, ownership,
//! stock, conflicts, paging, operation expiry, required fields, and the faults it injects.

mod common;

use std::time::Duration;

use common::{attached_disk, quick_sim_config, signed_raw, sim_client, start_sim, PROJECT};
use crusoe_sdk::types::*;
use crusoe_sdk::{CrusoeClient, CrusoeError, OperationFamily};
use crusoe_sim::{Faults, KeyPair, SimConfig};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

fn cpu_vm(name: &str) -> CreateVmRequest {
    CreateVmRequest {
        name: name.into(),
        vm_type: "c1a.4x".into(),
        location: "us-east1-a".into(),
        ssh_public_key: "ssh-ed25519 AAAA test".into(),
        ..Default::default()
    }
}

async fn create_running(c: &CrusoeClient, name: &str) -> Vm {
    let op = c
        .project(PROJECT)
        .vms()
        .create(&cpu_vm(name))
        .await
        .unwrap();
    op.wait(WAIT).await.unwrap().result_as().unwrap()
}

async fn admin_put(sim: &crusoe_sim::RunningSim, what: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .put(format!("{}/{what}", sim.admin()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn admin_get(sim: &crusoe_sim::RunningSim, what: &str) -> Value {
    reqwest::get(format!("{}/{what}", sim.admin()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_key_cannot_see_or_touch_another_keys_project() {
    let other = KeyPair::generate();
    let sim = start_sim(quick_sim_config()).await;
    sim.sim.add_key(&other);
    let mine = sim_client(&sim);
    create_running(&mine, "mine").await;
    let theirs = mine.with_credentials(
        crusoe_sdk::Credentials::new(&other.access_key_id, &other.secret_key.clone().into())
            .unwrap(),
    );
    assert!(theirs
        .project(PROJECT)
        .get()
        .await
        .unwrap_err()
        .is_not_found());
    for err in [
        theirs
            .project(PROJECT)
            .vms()
            .list(&VmFilter::default())
            .await
            .unwrap_err(),
        theirs
            .project(PROJECT)
            .vms()
            .create(&cpu_vm("intruder"))
            .await
            .unwrap_err(),
        theirs
            .project(PROJECT)
            .vpc_networks()
            .list()
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, CrusoeError::Forbidden(_)), "{err:?}");
    }
    assert!(theirs.project(&other.project_id).get().await.is_ok());
    assert!(theirs
        .project(&other.project_id)
        .vms()
        .list(&VmFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn unknown_keys_stale_timestamps_and_reordered_queries_get_401_bad_credential() {
    let sim = start_sim(quick_sim_config()).await;
    let base = format!("http://{}", sim.addr);
    let now = time::OffsetDateTime::now_utc();

    let (status, body) = signed_raw(
        &base,
        "GET",
        "/v1/locations",
        None,
        now - time::Duration::minutes(10),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str(), body["message"].as_str()),
        (401, Some("401"), Some("bad_credential")),
        "the status in `code`, the slug in `message`, as Crusoe's OpenAPI shows"
    );
    assert!(body["reason"].as_str().unwrap().contains("clock"));
    let (status, _) = signed_raw(
        &base,
        "GET",
        "/v1/locations",
        None,
        now - time::Duration::minutes(4),
    )
    .await;
    assert_eq!(status, 200, "within the default 300 s skew");

    let unknown = KeyPair::generate();
    let c = sim_client(&sim).with_credentials(
        crusoe_sdk::Credentials::new(&unknown.access_key_id, &unknown.secret_key.into()).unwrap(),
    );
    match c.list_locations().await.unwrap_err() {
        CrusoeError::BadCredentials(api) => {
            assert_eq!(api.reason.as_deref(), Some("unknown access key"))
        }
        other => panic!("{other:?}"),
    }

    // Signed over the canonical query but sent in another order: Crusoe refuses it.
    let ts = crusoe_sdk::signing::format_timestamp(now);
    let key = crusoe_sdk::signing::SigningKey::from_secret_key(common::SECRET).unwrap();
    let path = format!("/v1/projects/{PROJECT}/compute/vms/instances");
    let auth = crusoe_sdk::signing::authorization(
        common::ACCESS_KEY,
        &key,
        &path,
        "limit=5&sort=created_at",
        "GET",
        &ts,
    );
    let resp = reqwest::Client::new()
        .get(format!("{base}{path}?sort=created_at&limit=5"))
        .header("authorization", auth)
        .header("x-crusoe-timestamp", ts)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["reason"].as_str().unwrap().contains("canonical"));
}

#[tokio::test]
async fn no_stock_fails_the_operation_with_out_of_stock_and_leaves_nothing() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let disk_op = project
        .disks()
        .create(&CreateDiskRequest::persistent_ssd(
            "gpu-data",
            "eu-iceland1-a",
            100,
        ))
        .await
        .unwrap();
    let disk_id = disk_op
        .wait(WAIT)
        .await
        .unwrap()
        .result_as::<Disk>()
        .unwrap()
        .id;
    // H100s are out of stock in Iceland by default.
    let request = CreateVmRequest {
        vm_type: "h100-80gb-sxm-ib.8x".into(),
        location: "eu-iceland1-a".into(),
        disks: Some(vec![DiskAttachment::data_read_write(&disk_id)]),
        ..cpu_vm("gpu")
    };
    let op = project.vms().create(&request).await.unwrap();
    assert_eq!(
        op.state,
        OperationState::InProgress,
        "Crusoe accepts, then fails the operation"
    );
    let vm_id = op.resource_id().unwrap().to_string();
    match op.wait(WAIT).await.unwrap_err() {
        CrusoeError::OperationFailed { code, message, .. } => {
            assert_eq!(code, "out_of_stock");
            assert!(message.contains("eu-iceland1-a"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(project.vms().get(&vm_id).await.unwrap_err().is_not_found());
    assert!(
        project
            .disks()
            .get(&disk_id)
            .await
            .unwrap()
            .attached_to
            .is_empty(),
        "the data disk is free again"
    );
    assert_eq!(
        project
            .disks()
            .list(&DiskFilter::default())
            .await
            .unwrap()
            .len(),
        1,
        "no OS disk left behind"
    );

    // Stock set through the admin endpoint is what create consumes.
    assert_eq!(
        admin_put(
            &sim,
            "capacity",
            json!({"location": "us-east1-a", "type": "c1a.4x", "quantity": 1})
        )
        .await,
        204
    );
    create_running(&c, "last-one").await;
    let op = project.vms().create(&cpu_vm("one-too-many")).await.unwrap();
    let err = op.wait(WAIT).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::OperationFailed { ref code, .. } if code == "out_of_stock"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_attached_disk_cannot_be_deleted_and_a_busy_vm_answers_409() {
    let sim = start_sim(SimConfig {
        op_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let disk_op = project
        .disks()
        .create(&CreateDiskRequest::persistent_ssd("d", "us-east1-a", 10))
        .await
        .unwrap();
    let disk_id = disk_op
        .wait(WAIT)
        .await
        .unwrap()
        .result_as::<Disk>()
        .unwrap()
        .id;
    let request = CreateVmRequest {
        disks: Some(vec![DiskAttachment::data_read_write(&disk_id)]),
        ..cpu_vm("busy")
    };
    let op = project.vms().create(&request).await.unwrap();
    let vm_id = op.resource_id().unwrap().to_string();
    let err = project.vms().delete(&vm_id).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::Conflict(_)),
        "delete while creating: {err:?}"
    );
    let err = project.disks().delete(&disk_id).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::Conflict(_)),
        "delete an attached disk: {err:?}"
    );
    let err = project
        .vms()
        .create(&CreateVmRequest {
            name: "second".into(),
            ..request.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, CrusoeError::Conflict(_)),
        "a disk attached read-write elsewhere: {err:?}"
    );
    op.wait(WAIT).await.unwrap();
    let op = project.vms().delete(&vm_id).await.unwrap();
    op.wait(WAIT).await.unwrap();
    let op = project.disks().delete(&disk_id).await.unwrap();
    op.wait(WAIT).await.unwrap();
}

#[tokio::test]
async fn vms_page_in_creation_order_and_filter_by_name_id_and_state() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim); // two per page
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create_running(&c, &format!("vm-{i}")).await.id);
    }
    sim.sim.reset_calls();
    let all = c
        .project(PROJECT)
        .vms()
        .list(&VmFilter::default())
        .await
        .unwrap();
    assert_eq!(all.iter().map(|v| v.id.clone()).collect::<Vec<_>>(), ids);
    let calls = sim.sim.calls();
    assert_eq!(
        calls["GET /projects/{project_id}/compute/vms/instances"], 3,
        "{calls:?}"
    );

    let named = c
        .project(PROJECT)
        .vms()
        .list(&VmFilter::names(["vm-1", "vm-3"]))
        .await
        .unwrap();
    assert_eq!(
        named.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["vm-1", "vm-3"]
    );
    let by_id = c
        .project(PROJECT)
        .vms()
        .list(&VmFilter::ids([ids[4].clone()]))
        .await
        .unwrap();
    assert_eq!(by_id[0].name, "vm-4");
    let op = c
        .project(PROJECT)
        .vms()
        .update(&ids[0], &UpdateVmRequest::action(VmAction::Stop))
        .await
        .unwrap();
    op.wait(WAIT).await.unwrap();
    let stopped = VmFilter {
        states: vec![VmState::Shutoff],
        ..Default::default()
    };
    assert_eq!(
        c.project(PROJECT).vms().list(&stopped).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn networks_must_be_private_and_subnets_inside_them() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let public = CreateVpcNetworkRequest {
        name: "bad".into(),
        cidr: "8.8.0.0/16".into(),
    };
    let err = project.vpc_networks().create(&public).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::BadRequest(ref a) if a.detail().contains("RFC 1918")),
        "{err:?}"
    );
    let private = CreateVpcNetworkRequest {
        name: "ok".into(),
        cidr: "192.168.0.0/16".into(),
    };
    let net = project.vpc_networks().create(&private).await.unwrap();
    let outside = CreateVpcSubnetRequest {
        name: "s".into(),
        cidr: "10.0.0.0/24".into(),
        location: "us-east1-a".into(),
        vpc_network_id: net.id.clone(),
        nat_gateway_enabled: false,
    };
    assert!(matches!(
        project.vpc_subnets().create(&outside).await.unwrap_err(),
        CrusoeError::BadRequest(_)
    ));
    let inside = CreateVpcSubnetRequest {
        cidr: "192.168.1.0/24".into(),
        ..outside
    };
    project.vpc_subnets().create(&inside).await.unwrap();
    let overlapping = CreateVpcSubnetRequest {
        cidr: "192.168.0.0/23".into(),
        ..inside
    };
    assert!(matches!(
        project
            .vpc_subnets()
            .create(&overlapping)
            .await
            .unwrap_err(),
        CrusoeError::Conflict(_)
    ));
    let err = project.vpc_networks().delete(&net.id).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::Conflict(_)),
        "a network with subnets: {err:?}"
    );
}

#[tokio::test]
async fn required_fields_and_crusoes_rules_are_checked() {
    let sim = start_sim(quick_sim_config()).await;
    let base = format!("http://{}", sim.addr);
    let now = time::OffsetDateTime::now_utc();
    let p = format!("/v1/projects/{PROJECT}");
    for (path, body, expect) in [
        (
            format!("{p}/compute/vms/instances"),
            json!({"name": "x", "type": "c1a.4x", "location": "us-east1-a"}),
            "ssh_public_key",
        ),
        (
            format!("{p}/compute/vms/instances"),
            json!({"name": "x", "type": "nope", "location": "us-east1-a", "ssh_public_key": "k"}),
            "unknown VM type",
        ),
        (
            format!("{p}/compute/vms/instances"),
            json!({"name": "x", "type": "c1a.4x", "location": "us-east1-a", "ssh_public_key": "k", "startup_script": "echo hi"}),
            "#!/bin/bash",
        ),
        (
            format!("{p}/compute/vms/instances"),
            json!({"name": "x", "type": "c1a.4x", "location": "us-east1-a", "ssh_public_key": "k", "image": "ubuntu22.04", "custom_image": "x"}),
            "not both",
        ),
        (
            format!("{p}/networking/vpc-subnets"),
            json!({"name": "s", "cidr": "10.0.0.0/24", "location": "us-east1-a", "vpc_network_id": "n"}),
            "nat_gateway_enabled",
        ),
        (
            format!("{p}/storage/disks"),
            json!({"name": "d", "location": "us-east1-a", "size": "ten"}),
            "size",
        ),
    ] {
        let (status, answer) = signed_raw(&base, "POST", &path, Some(body), now).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(
            (&answer["code"], &answer["message"]),
            (&json!("400"), &json!("bad_request"))
        );
        assert!(
            answer["reason"].as_str().unwrap().contains(expect),
            "{answer}"
        );
        assert!(answer["error_id"].is_string());
    }
}

#[tokio::test]
async fn operations_are_per_family_and_expire() {
    let sim = start_sim(SimConfig {
        op_delay: Duration::from_millis(10),
        op_ttl: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let op = project.vms().create(&cpu_vm("ops")).await.unwrap();
    let id = op.operation_id.clone();
    assert!(matches!(
        project
            .operations(OperationFamily::Disks)
            .get(&id)
            .await
            .unwrap_err(),
        CrusoeError::Forbidden(_)
    ));
    assert!(matches!(
        project
            .operations(OperationFamily::Vms)
            .get("F6EF489C-086E-458D-B812-7962964A28C9")
            .await
            .unwrap_err(),
        CrusoeError::Forbidden(_)
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        project
            .operations(OperationFamily::Vms)
            .get(&id)
            .await
            .unwrap()
            .state,
        OperationState::Succeeded
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        project
            .operations(OperationFamily::Vms)
            .get(&id)
            .await
            .unwrap_err(),
        CrusoeError::Forbidden(_)
    ));
}

#[tokio::test]
async fn injected_request_faults_reach_the_client_as_crusoe_failures_would() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);

    assert_eq!(
        admin_put(&sim, "faults", json!({"server_error_rate": 1.0})).await,
        200
    );
    let err = c.list_locations().await.unwrap_err();
    assert!(matches!(err, CrusoeError::Server(_)), "{err:?}");
    let calls = admin_get(&sim, "calls").await;
    assert_eq!(
        calls["by_endpoint"]["GET /locations"], 3,
        "each retry reached the simulator: {calls}"
    );

    admin_put(&sim, "faults", json!({"rate_limit_rate": 1.0})).await;
    assert!(matches!(
        c.list_locations().await.unwrap_err(),
        CrusoeError::RateLimited(_)
    ));

    admin_put(&sim, "faults", json!({"connection_reset_rate": 1.0})).await;
    let err = c.list_locations().await.unwrap_err();
    assert!(matches!(err, CrusoeError::Connect(_)), "{err:?}");

    admin_put(&sim, "faults", json!({"latency_ms": 800})).await;
    assert!(matches!(
        c.list_locations().await.unwrap_err(),
        CrusoeError::Timeout(_)
    ));

    assert_eq!(
        admin_put(&sim, "faults", json!({"server_error_rate": 2.0})).await,
        400,
        "rates are shares"
    );
    assert_eq!(
        admin_put(&sim, "faults", json!({"typo_rate": 0.5})).await,
        422,
        "unknown fault names are refused"
    );

    admin_put(&sim, "faults", json!({})).await;
    assert_eq!(c.list_locations().await.unwrap().len(), 4);
    assert_eq!(
        admin_get(&sim, "faults").await,
        serde_json::to_value(Faults::default()).unwrap()
    );
}

#[tokio::test]
async fn injected_operation_faults_fail_or_never_finish() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    admin_put(&sim, "faults", json!({"operation_failure_rate": 1.0})).await;
    let op = project.vms().create(&cpu_vm("doomed")).await.unwrap();
    let vm_id = op.resource_id().unwrap().to_string();
    let err = op.wait(WAIT).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::OperationFailed { ref code, .. } if code == "internal_error"),
        "{err:?}"
    );
    assert!(
        project.vms().get(&vm_id).await.unwrap_err().is_not_found(),
        "a failed create leaves no VM"
    );

    admin_put(&sim, "faults", json!({"stuck_operation_rate": 1.0})).await;
    let op = project.vms().create(&cpu_vm("stuck")).await.unwrap();
    let err = op.wait(Duration::from_millis(300)).await.unwrap_err();
    assert!(
        matches!(err, CrusoeError::OperationTimeout { .. }),
        "{err:?}"
    );
    let inventory = admin_get(&sim, "inventory").await;
    assert_eq!(inventory["operations_in_progress"], 1);
    assert_eq!(
        inventory["projects"][0]["vms"][0]["state"],
        "STATE_PROVISIONING"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_ids_addresses_and_fault_draws() {
    async fn run(seed: u64) -> (Vec<String>, Vec<bool>) {
        let sim = start_sim(SimConfig {
            seed,
            op_delay: Duration::from_millis(1),
            ..Default::default()
        })
        .await;
        let c = sim_client(&sim);
        let mut identity = Vec::new();
        for i in 0..3 {
            let vm = create_running(&c, &format!("d{i}")).await;
            identity.push(format!(
                "{} {} {}",
                vm.id,
                vm.mac_address().unwrap(),
                vm.public_ipv4().unwrap().address
            ));
        }
        sim.sim
            .set_faults(Faults {
                server_error_rate: 0.5,
                ..Default::default()
            })
            .unwrap();
        // One attempt per call, so that each call draws exactly once.
        let single = CrusoeClient::new(
            crusoe_sdk::ClientSettings {
                retry: crusoe_sdk::RetryPolicy {
                    max_attempts: 1,
                    ..Default::default()
                },
                ..common::fast_settings(&sim.endpoint())
            },
            common::credentials(),
        )
        .unwrap();
        let mut draws = Vec::new();
        for _ in 0..20 {
            draws.push(single.list_locations().await.is_ok());
        }
        (identity, draws)
    }
    let (a_ids, a_draws) = run(7).await;
    let (b_ids, b_draws) = run(7).await;
    let (c_ids, _) = run(8).await;
    assert_eq!(a_ids, b_ids);
    assert_eq!(a_draws, b_draws);
    assert!(
        a_draws.contains(&true) && a_draws.contains(&false),
        "{a_draws:?}"
    );
    assert_ne!(a_ids, c_ids);
}

#[tokio::test]
async fn a_custom_image_is_made_only_from_a_shut_off_vms_disk_and_only_used_where_it_was_made() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let base = format!("http://{}", sim.addr);
    let p = format!("/v1/projects/{PROJECT}");
    let vm = create_running(&c, "builder").await;
    let os_disk = attached_disk(&vm, "os");
    let request = |disk: &str| CreateCustomImageRequest {
        disk_id: disk.into(),
        name: "ipxe".into(),
        ..Default::default()
    };
    match project.custom_images().create(&request(&os_disk)).await {
        Err(CrusoeError::Conflict(api)) => {
            assert!(api.detail().contains("STATE_RUNNING"), "{api:?}")
        }
        other => panic!("a running VM's disk must be refused: {other:?}"),
    }
    // Crusoe's spelling is `DiskID`; a client that sends `disk_id` gets a 400.
    let now = time::OffsetDateTime::now_utc();
    let (status, answer) = signed_raw(
        &base,
        "POST",
        &format!("{p}/compute/custom-images"),
        Some(json!({"disk_id": os_disk, "name": "ipxe"})),
        now,
    )
    .await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (400, Some("missing required field: DiskID"))
    );

    let op = project
        .vms()
        .update(&vm.id, &UpdateVmRequest::action(VmAction::Stop))
        .await
        .unwrap();
    op.wait(WAIT).await.unwrap();
    assert_eq!(
        project.vms().get(&vm.id).await.unwrap().state,
        VmState::Shutoff,
        "STOP ends in STATE_SHUTOFF"
    );
    let op = project
        .custom_images()
        .create(&request(&os_disk))
        .await
        .unwrap();
    let image = op.resource_id().unwrap().to_string();
    op.wait(WAIT).await.unwrap();

    let mut from_image = cpu_vm("served");
    from_image.custom_image = Some(image.clone());
    let op = project.vms().create(&from_image).await.unwrap();
    op.wait(WAIT).await.unwrap();
    from_image.name = "elsewhere".into();
    from_image.location = "us-northcentral1-a".into();
    match project.vms().create(&from_image).await {
        Err(CrusoeError::BadRequest(api)) => assert!(
            api.detail().contains("not available in us-northcentral1-a"),
            "{api:?}"
        ),
        other => panic!("an image is used only where it was made: {other:?}"),
    }
}

#[tokio::test]
async fn a_guest_whose_startup_script_powers_off_shuts_off_after_each_boot() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let mut request = cpu_vm("powers-off");
    request.startup_script =
        Some("#!/bin/bash\necho converting\necho o > /proc/sysrq-trigger\n".into());
    let op = project.vms().create(&request).await.unwrap();
    let vm = op.wait(WAIT).await.unwrap().result_as::<Vm>().unwrap();
    assert_eq!(vm.state, VmState::Running, "it boots first");
    let shut_off = async {
        for _ in 0..200 {
            if project.vms().get(&vm.id).await.unwrap().state == VmState::Shutoff {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(shut_off.await, "the guest powered itself off");
    let stays = create_running(&c, "stays-up").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        project.vms().get(&stays.id).await.unwrap().state,
        VmState::Running
    );
}

#[tokio::test]
async fn firewall_rules_are_taken_in_the_case_crusoes_own_controller_sends() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let net = project
        .vpc_networks()
        .create(&CreateVpcNetworkRequest {
            name: "n".into(),
            cidr: "10.30.0.0/16".into(),
        })
        .await
        .unwrap();
    let (status, answer) = signed_raw(
        &format!("http://{}", sim.addr),
        "POST",
        &format!("/v1/projects/{PROJECT}/networking/vpc-firewall-rules"),
        Some(json!({"name": "lb-rule", "vpc_network_id": net.id, "action": "ALLOW", "direction": "INGRESS", "protocols": ["tcp"], "sources": [{"cidr": "0.0.0.0/0"}], "destinations": [{"resource_id": net.id}]})),
        time::OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let op: Operation = serde_json::from_value(answer["operation"].clone()).unwrap();
    let rule: FirewallRule = project
        .operations(OperationFamily::FirewallRules)
        .pending(op)
        .wait(WAIT)
        .await
        .unwrap()
        .result_as()
        .unwrap();
    assert_eq!(
        (rule.action.as_str(), rule.direction.as_str()),
        ("allow", "ingress")
    );
}
