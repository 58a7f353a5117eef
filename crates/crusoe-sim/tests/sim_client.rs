//! The client against the simulator: every client call succeeds, every answer the simulator gives
//! is read by the client's types and (when `../shared` is present) matches Crusoe's OpenAPI.

mod common;

use std::time::Duration;

use common::{
    attached_disk, quick_sim_config, signed_raw, sim_client, start_sim, vm_request, PROJECT,
};
use crusoe_sdk::types::*;
use crusoe_sdk::{CrusoeError, OperationFamily, Pending};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

async fn wait(op: Pending) -> Operation {
    op.wait(WAIT).await.unwrap()
}

/// A VM on `subnet` with a dynamic public address, a startup script and, if given, `disk`.
fn vm_on(name: &str, subnet: &str, disk: Option<&str>) -> CreateVmRequest {
    CreateVmRequest {
        startup_script: Some("#!/bin/bash\necho booted\n".into()),
        network_interfaces: Some(vec![NetworkInterfaceRequest {
            subnet: Some(subnet.into()),
            ips: vec![IpAddressesRequest {
                public_ipv4: PublicIpv4Request {
                    ip_type: "dynamic".into(),
                    id: None,
                },
            }],
        }]),
        disks: disk.map(|d| vec![DiskAttachment::data_read_write(d)]),
        ..vm_request(name, "c1a.16x")
    }
}

#[tokio::test]
async fn every_client_call_works_against_the_simulator_and_a_full_lifecycle_leaves_nothing() {
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let project = c.project(PROJECT);
    let before = sim.sim.inventory();

    // Catalogue and project.
    assert_eq!(project.get().await.unwrap().id, PROJECT);
    assert!(!project.quotas().await.unwrap().quotas.is_empty());
    let locations = c.list_locations().await.unwrap();
    assert!(locations.contains(&"us-east1-a".to_string()));
    let caps = c
        .list_capacities(&["c1a.16x".into()], &["us-east1-a".into()])
        .await
        .unwrap();
    assert_eq!(caps.len(), 1);
    let stock_before = caps[0].quantity;
    let types = project.vm_types().await.unwrap();
    assert!(types.iter().any(|t| t.cpu_type == "arm"), "one ARM type");
    assert!(types.iter().any(|t| t.num_gpu > 0) && types.iter().any(|t| t.num_gpu == 0));
    let images = c.list_images(None).await.unwrap();
    assert!(c.list_images(Some("h100")).await.unwrap().len() <= images.len());
    assert_eq!(c.get_image(&images[0].id).await.unwrap().id, images[0].id);
    assert!(
        project.custom_images().list().await.unwrap().is_empty(),
        "a project starts without custom images"
    );

    // Network: VPC network and subnet are synchronous, the firewall rule is an operation.
    let net = project
        .vpc_networks()
        .create(&CreateVpcNetworkRequest {
            name: "cycle-hub-test".into(),
            cidr: "10.10.0.0/16".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        project.vpc_networks().get(&net.id).await.unwrap().name,
        "cycle-hub-test"
    );
    let subnet = project
        .vpc_subnets()
        .create(&CreateVpcSubnetRequest {
            name: "cycle-hub-test-us-east1-a".into(),
            cidr: "10.10.1.0/24".into(),
            location: "us-east1-a".into(),
            vpc_network_id: net.id.clone(),
            nat_gateway_enabled: false,
        })
        .await
        .unwrap();
    assert_eq!(
        project.vpc_subnets().get(&subnet.id).await.unwrap().cidr,
        "10.10.1.0/24"
    );
    assert!(project
        .vpc_subnets()
        .list()
        .await
        .unwrap()
        .iter()
        .any(|s| s.id == subnet.id));
    assert_eq!(
        project.vpc_networks().get(&net.id).await.unwrap().subnets,
        vec![subnet.id.clone()]
    );
    let fw_op = project
        .firewall_rules()
        .create(&CreateFirewallRuleRequest {
            name: "cycle-hub-test-ingress".into(),
            vpc_network_id: net.id.clone(),
            action: "allow".into(),
            direction: "ingress".into(),
            protocols: vec!["tcp".into()],
            sources: vec![FirewallRuleObject::cidr("0.0.0.0/0")],
            destinations: vec![FirewallRuleObject::resource(&net.id)],
            destination_ports: Some(vec!["22".into(), "443".into()]),
            source_ports: None,
        })
        .await
        .unwrap();
    assert_eq!(
        fw_op.resource_id(),
        None,
        "no Crusoe client reads a firewall rule's id from metadata"
    );
    let fw: FirewallRule = wait(fw_op).await.result_as().unwrap();
    let fw_id = fw.id.clone();
    assert_eq!(
        project
            .firewall_rules()
            .get(&fw_id)
            .await
            .unwrap()
            .destination_ports,
        ["22", "443"]
    );
    assert_eq!(project.firewall_rules().list().await.unwrap().len(), 1);

    // A data disk, then a VM with it.
    let disk_op = project
        .disks()
        .create(&CreateDiskRequest::persistent_ssd(
            "cycle-test-data",
            "us-east1-a",
            100,
        ))
        .await
        .unwrap();
    let disk: Disk = wait(disk_op).await.result_as().unwrap();
    let disk_id = disk.id.clone();
    assert_eq!(
        (disk.id.as_str(), disk.size.as_str()),
        (disk_id.as_str(), "100GiB")
    );
    let vm_op = project
        .vms()
        .create(&vm_on("cycle-test", &subnet.id, Some(&disk_id)))
        .await
        .unwrap();
    let vm_id = vm_op.resource_id().unwrap().to_string();
    let provisioning = project.vms().get(&vm_id).await.unwrap();
    assert_eq!(provisioning.state, VmState::Provisioning);
    assert_eq!(
        provisioning.mac_address(),
        None,
        "no MAC before the VM is placed"
    );
    let vm: Vm = wait(vm_op).await.result_as().unwrap();
    assert_eq!(vm.state, VmState::Running);
    assert!(vm.mac_address().is_some());
    let private = vm.private_ipv4().unwrap();
    assert!(
        private.starts_with("10.10.1."),
        "private address from its subnet: {private}"
    );
    let public = vm.public_ipv4().unwrap().clone();
    assert_eq!(public.ip_type, "dynamic");
    assert!(vm
        .disks
        .iter()
        .any(|d| d.id == disk_id && d.attachment_type == "data"));
    assert!(vm.disks.iter().any(|d| d.attachment_type == "os"));
    let found = project
        .vms()
        .list(&VmFilter::names(["cycle-test"]))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let stock_during = c
        .list_capacities(&["c1a.16x".into()], &["us-east1-a".into()])
        .await
        .unwrap()[0]
        .quantity;
    assert_eq!(stock_during, stock_before - 1, "a VM consumes stock");

    // Its address made static, keeping the address; a reset; a stop and start.
    let op = project
        .vms()
        .update(&vm_id, &UpdateVmRequest::make_public_ip_static(&public.id))
        .await
        .unwrap();
    wait(op).await;
    let vm = project.vms().get(&vm_id).await.unwrap();
    assert_eq!(vm.public_ipv4().unwrap().ip_type, "static");
    assert_eq!(vm.public_ipv4().unwrap().address, public.address);
    let reset = UpdateVmRequest::action(VmAction::Reset);
    let op = project.vms().update(&vm_id, &reset).await.unwrap();
    assert_eq!(wait(op).await.state, OperationState::Succeeded);
    let stop = UpdateVmRequest::action(VmAction::Stop);
    let op = project.vms().update(&vm_id, &stop).await.unwrap();
    wait(op).await;
    let stopped = project.vms().get(&vm_id).await.unwrap();
    assert_eq!(stopped.state, VmState::Shutoff);
    // A custom image of the shut-off VM's OS disk, listed in the disk's location, then deleted.
    let os_disk = attached_disk(&stopped, "os");
    let op = project
        .custom_images()
        .create(&CreateCustomImageRequest {
            disk_id: os_disk,
            name: "ipxe".into(),
            description: Some("an iPXE disk".into()),
            tags: None,
        })
        .await
        .unwrap();
    let image_id = op.resource_id().unwrap().to_string();
    wait(op).await;
    let image = project.custom_images().get(&image_id).await.unwrap();
    assert_eq!(
        (image.name.as_str(), image.locations.clone()),
        ("ipxe", vec!["us-east1-a".to_string()])
    );
    assert_eq!(project.custom_images().list().await.unwrap(), vec![image]);
    let op = project.custom_images().delete(&image_id).await.unwrap();
    wait(op).await;
    assert!(project.custom_images().list().await.unwrap().is_empty());
    assert_eq!(
        stopped.public_ipv4().unwrap().address,
        public.address,
        "a static address survives a stop"
    );
    let start = UpdateVmRequest::action(VmAction::Start);
    let op = project.vms().update(&vm_id, &start).await.unwrap();
    wait(op).await;

    // A load balancer in front of it.
    let listeners = vec![ListenPortAndBackend {
        listen_port: 443,
        backends: vec![Backend {
            ip: private.to_string(),
            port: 443,
            status: String::new(),
        }],
    }];
    let lb_op = project
        .load_balancers()
        .create(&CreateLoadBalancerRequest {
            name: "cycle-ip-test".into(),
            location: "us-east1-a".into(),
            vpc_id: net.id.clone(),
            protocol: "LOAD_BALANCER_PROTOCOL_TCP".into(),
            listen_ports_and_backends: listeners.clone(),
            health_check_options: Some(HealthCheckOptions::default()),
        })
        .await
        .unwrap();
    assert!(
        project
            .load_balancers()
            .list(&Default::default())
            .await
            .unwrap()
            .iter()
            .all(|lb| lb.vip.is_empty()),
        "a load balancer has no address until it is made"
    );
    let lb: LoadBalancer = wait(lb_op).await.result_as().unwrap();
    let lb_id = lb.id.clone();
    assert!(!lb.vip.is_empty());
    assert_eq!(
        project.load_balancers().get(&lb_id).await.unwrap().vip,
        lb.vip
    );
    let by_name = LoadBalancerFilter {
        name: Some("cycle-ip-test".into()),
        ..Default::default()
    };
    assert_eq!(
        project.load_balancers().list(&by_name).await.unwrap().len(),
        1
    );
    let mut moved = listeners.clone();
    moved[0].listen_port = 8443;
    let op = project
        .load_balancers()
        .update(
            &lb_id,
            &UpdateLoadBalancerRequest {
                listen_ports_and_backends: moved,
                health_check_options: None,
            },
        )
        .await
        .unwrap();
    wait(op).await;
    assert_eq!(
        project
            .load_balancers()
            .get(&lb_id)
            .await
            .unwrap()
            .listen_ports_and_backends[0]
            .listen_port,
        8443
    );

    // Detach and re-attach the data disk, which Crusoe does on a stopped VM only.
    let attach = project
        .vms()
        .attach_disks(&vm_id, vec![DiskAttachment::data_read_write(&disk_id)])
        .await;
    assert!(
        matches!(attach, Err(CrusoeError::BadRequest(_))),
        "{attach:?}"
    );
    let stop = UpdateVmRequest::action(VmAction::Stop);
    let op = project.vms().update(&vm_id, &stop).await.unwrap();
    wait(op).await;
    let op = project
        .vms()
        .detach_disks(&vm_id, vec![disk_id.clone()])
        .await
        .unwrap();
    wait(op).await;
    assert!(project
        .disks()
        .get(&disk_id)
        .await
        .unwrap()
        .attached_to
        .is_empty());
    let op = project
        .vms()
        .attach_disks(&vm_id, vec![DiskAttachment::data_read_write(&disk_id)])
        .await
        .unwrap();
    wait(op).await;
    assert_eq!(
        project.disks().get(&disk_id).await.unwrap().attached_to[0].vm_id,
        vm_id
    );

    // Tear everything down, in dependency order.
    let op = project.load_balancers().delete(&lb_id).await.unwrap();
    wait(op).await;
    let op = project.vms().delete(&vm_id).await.unwrap();
    wait(op).await;
    assert!(project.vms().get(&vm_id).await.unwrap_err().is_not_found());
    let op = project.disks().delete(&disk_id).await.unwrap();
    wait(op).await;
    let op = project.firewall_rules().delete(&fw_id).await.unwrap();
    wait(op).await;
    let op = project.vpc_subnets().delete(&subnet.id).await.unwrap();
    wait(op).await;
    let op = project.vpc_networks().delete(&net.id).await.unwrap();
    wait(op).await;

    let stock_after = c
        .list_capacities(&["c1a.16x".into()], &["us-east1-a".into()])
        .await
        .unwrap()[0]
        .quantity;
    assert_eq!(
        stock_after, stock_before,
        "deleting the VM returns its stock"
    );
    assert_eq!(
        sim.sim.inventory(),
        before,
        "the lifecycle left something behind"
    );
}

#[tokio::test]
async fn every_simulator_answer_matches_crusoes_openapi() {
    let Some(swagger) = common::swagger::Swagger::from_shared(common::shared_dir()) else {
        return;
    };
    let sim = start_sim(quick_sim_config()).await;
    let c = sim_client(&sim);
    let base = format!("http://{}", sim.addr);
    let now = time::OffsetDateTime::now_utc;
    let p = format!("/v1/projects/{PROJECT}");

    let mut answers: Vec<(&str, String, Value)> = Vec::new();
    let call =
        |operation_id: &'static str, method: &'static str, path: String, body: Option<Value>| {
            let base = base.clone();
            async move {
                let (status, answer) = signed_raw(&base, method, &path, body, now()).await;
                assert_eq!(status, 200, "{operation_id} {path}: {answer}");
                (operation_id, path, answer)
            }
        };

    let net = call(
        "createVPCNetwork",
        "POST",
        format!("{p}/networking/vpc-networks"),
        Some(json!({"name": "n", "cidr": "10.20.0.0/16"})),
    )
    .await;
    let net_id = net.2["network"]["id"].as_str().unwrap().to_string();
    answers.push(net);
    let subnet = call(
        "createVPCSubnet",
        "POST",
        format!("{p}/networking/vpc-subnets"),
        Some(json!({"name": "s", "cidr": "10.20.1.0/24", "location": "us-east1-a", "vpc_network_id": net_id, "nat_gateway_enabled": false})),
    )
    .await;
    let subnet_id = subnet.2["subnet"]["id"].as_str().unwrap().to_string();
    answers.push(subnet);
    let disk = call(
        "createDisk",
        "POST",
        format!("{p}/storage/disks"),
        Some(json!({"name": "d", "location": "us-east1-a", "size": "50GiB"})),
    )
    .await;
    let disk_op = disk.2["operation"]["operation_id"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(disk);
    let fw = call(
        "createVPCFirewallRule",
        "POST",
        format!("{p}/networking/vpc-firewall-rules"),
        Some(json!({"name": "f", "vpc_network_id": net_id, "action": "allow", "direction": "ingress", "protocols": ["tcp"], "sources": [{"cidr": "0.0.0.0/0"}], "destinations": [{"resource_id": net_id}]})),
    )
    .await;
    let fw_op = fw.2["operation"]["operation_id"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(fw);
    let vm = serde_json::to_value(vm_on("v", &subnet_id, None)).unwrap();
    let created = call(
        "createInstance",
        "POST",
        format!("{p}/compute/vms/instances"),
        Some(vm),
    )
    .await;
    let vm_id = created.2["operation"]["metadata"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let vm_op = created.2["operation"]["operation_id"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(created);
    // An in-progress VM, with its empty MAC and address, must match the schema too.
    answers.push(
        call(
            "getInstance",
            "GET",
            format!("{p}/compute/vms/instances/{vm_id}"),
            None,
        )
        .await,
    );
    let lb = call(
        "createExternalLoadBalancer",
        "POST",
        format!("{p}/networking/load-balancers"),
        Some(json!({"name": "l", "location": "us-east1-a", "vpc_id": net_id, "protocol": "LOAD_BALANCER_PROTOCOL_TCP", "listen_ports_and_backends": [{"listen_port": 80, "backends": [{"ip": "10.20.1.2", "port": 80}]}]})),
    )
    .await;
    let lb_op = lb.2["operation"]["operation_id"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(lb);
    // Ids from the finished operations, as Crusoe's own clients read them.
    let made = |family: OperationFamily, op_id: String| {
        let c = &c;
        async move {
            let operations = c.project(PROJECT);
            let operations = operations.operations(family);
            let op = operations.get(&op_id).await.unwrap();
            operations
                .pending(op)
                .wait(WAIT)
                .await
                .unwrap()
                .result
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let disk_id = made(OperationFamily::Disks, disk_op.clone()).await;
    let fw_id = made(OperationFamily::FirewallRules, fw_op).await;
    let lb_id = made(OperationFamily::LoadBalancers, lb_op).await;
    let project = c.project(PROJECT);
    let operations = project.operations(OperationFamily::Vms);
    let op = operations.get(&vm_op).await.unwrap();
    operations.pending(op).wait(WAIT).await.unwrap();
    let image_id = c.list_images(None).await.unwrap()[0].id.clone();
    // An image of the (unattached) disk: its POST and its operation must match the schema too.
    let project = c.project(PROJECT);
    let operations = project.operations(OperationFamily::Disks);
    let op = operations.get(&disk_op).await.unwrap();
    operations.pending(op).wait(WAIT).await.unwrap();
    let custom = call(
        "customImagePost",
        "POST",
        format!("{p}/compute/custom-images"),
        Some(json!({"DiskID": disk_id, "name": "ipxe"})),
    )
    .await;
    let custom_id = custom.2["operation"]["metadata"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let custom_op = custom.2["operation"]["operation_id"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(custom);
    tokio::time::sleep(Duration::from_millis(50)).await;

    for (op, path) in [
        (
            "getProject",
            format!("/v1/organizations/projects/{PROJECT}"),
        ),
        ("listLocations", "/v1/locations".to_string()),
        (
            "listSliceCapacities",
            "/v1/capacities?location=us-east1-a".to_string(),
        ),
        ("listImages", "/v1/compute/images".to_string()),
        ("getImage", format!("/v1/compute/images/{image_id}")),
        ("listCustomImages", format!("{p}/compute/custom-images")),
        (
            "getCustomImagesOperation",
            format!("{p}/compute/custom-images/operations/{custom_op}"),
        ),
        (
            "getCustomImage",
            format!("{p}/compute/custom-images/{custom_id}"),
        ),
        ("getVMTypes", format!("{p}/compute/vms/types")),
        ("listProjectQuotas", format!("{p}/quotas")),
        (
            "listInstances",
            format!("{p}/compute/vms/instances?limit=1&sort=created_at"),
        ),
        ("getInstance", format!("{p}/compute/vms/instances/{vm_id}")),
        (
            "getComputeVMsInstancesOperation",
            format!("{p}/compute/vms/instances/operations/{vm_op}"),
        ),
        ("listDisks", format!("{p}/storage/disks")),
        ("getDisk", format!("{p}/storage/disks/{disk_id}")),
        (
            "getStorageDisksOperation",
            format!("{p}/storage/disks/operations/{disk_op}"),
        ),
        (
            "listStorageDisksOperations",
            format!("{p}/storage/disks/operations?resource_id={disk_id}&state=SUCCEEDED"),
        ),
        ("listVPCNetworks", format!("{p}/networking/vpc-networks")),
        (
            "getVPCNetwork",
            format!("{p}/networking/vpc-networks/{net_id}"),
        ),
        ("listVPCSubnets", format!("{p}/networking/vpc-subnets")),
        (
            "getVPCSubnet",
            format!("{p}/networking/vpc-subnets/{subnet_id}"),
        ),
        (
            "listVPCFirewallRules",
            format!("{p}/networking/vpc-firewall-rules"),
        ),
        (
            "getVPCFirewallRule",
            format!("{p}/networking/vpc-firewall-rules/{fw_id}"),
        ),
        (
            "listExternalLoadBalancers",
            format!("{p}/networking/load-balancers"),
        ),
        (
            "getExternalLoadBalancer",
            format!("{p}/networking/load-balancers/{lb_id}"),
        ),
    ] {
        answers.push(call(op, "GET", path, None).await);
    }
    answers.push(
        call(
            "updateInstance",
            "PATCH",
            format!("{p}/compute/vms/instances/{vm_id}"),
            Some(json!({"action": "RESET"})),
        )
        .await,
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    answers.push(
        call(
            "deleteInstance",
            "DELETE",
            format!("{p}/compute/vms/instances/{vm_id}"),
            None,
        )
        .await,
    );

    let mut failures = Vec::new();
    for (op, path, answer) in &answers {
        for v in swagger.violations(swagger.response_schema(op), answer) {
            failures.push(format!("{op} {path}: {v}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(answers.len() >= 30);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_crusoe_refuses_it() {
    let sim = start_sim(quick_sim_config()).await;
    let wrong = crusoe_sdk::Credentials::new(
        common::ACCESS_KEY,
        &secrecy::SecretString::from("AAAAAAAAAAAAAAAAAAAAAA"),
    )
    .unwrap();
    let err = sim_client(&sim)
        .with_credentials(wrong)
        .list_locations()
        .await
        .unwrap_err();
    match err {
        CrusoeError::BadCredentials(api) => {
            assert_eq!(api.status, 401);
            assert_eq!(api.slug(), "bad_credential");
            assert!(api.error_id.is_some());
        }
        other => panic!("{other:?}"),
    }
}
