//! For each client method: the exact method, path, canonical query, signature headers and body it
//! sends, and that it reads Crusoe's answer. Every mock requires a correct signature, so a request
//! signed over anything other than what was sent does not match.

mod common;

use common::{client_for, fixture, ExactQuery, SignedCorrectly, BASE_PATH, PROJECT};
use crusoe_sdk::types::*;
use crusoe_sdk::OperationFamily;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Expects exactly one signed call with this method, path (below `/v1`), query and, when
/// given, JSON body; answers `answer`.
async fn expect_call(
    server: &MockServer,
    http_method: &str,
    rel_path: &str,
    query: &'static str,
    body: Option<Value>,
    answer: Value,
) {
    let mut mock = Mock::given(method(http_method))
        .and(path(format!("/v1{rel_path}")))
        .and(ExactQuery(query))
        .and(SignedCorrectly);
    if let Some(body) = body {
        mock = mock
            .and(header("content-type", "application/json"))
            .and(body_json(body));
    }
    mock.respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(server)
        .await;
}

fn project(rest: &str) -> String {
    format!("/projects/{PROJECT}{rest}")
}

#[tokio::test]
async fn the_user_agent_is_the_callers_and_names_the_sdk_by_default() {
    let server = MockServer::start().await;
    let answer = ResponseTemplate::new(200).set_body_json(fixture("project.json"));
    Mock::given(header("user-agent", "my-tool/1.0"))
        .respond_with(answer.clone())
        .expect(1)
        .mount(&server)
        .await;
    assert!(crusoe_sdk::DEFAULT_USER_AGENT.starts_with("crusoe-sdk/"));
    Mock::given(header("user-agent", crusoe_sdk::DEFAULT_USER_AGENT))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    let endpoint = format!("{}{BASE_PATH}", server.uri());
    let named = crusoe_sdk::ClientSettings {
        user_agent: "my-tool/1.0".into(),
        ..common::fast_settings(&endpoint)
    };
    let named = crusoe_sdk::CrusoeClient::new(named, common::credentials()).unwrap();
    named.project(PROJECT).get().await.unwrap();
    let plain =
        crusoe_sdk::CrusoeClient::new(common::fast_settings(&endpoint), common::credentials())
            .unwrap();
    plain.project(PROJECT).get().await.unwrap();
}

#[tokio::test]
async fn get_project() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &format!("/organizations/projects/{PROJECT}"),
        "",
        None,
        fixture("project.json"),
    )
    .await;
    let p = client_for(&server).project(PROJECT).get().await.unwrap();
    assert_eq!(p.id, PROJECT);
    assert_eq!(p.name, "cycle-prod");
}

#[tokio::test]
async fn list_project_quotas() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &project("/quotas"),
        "",
        None,
        fixture("quotas.json"),
    )
    .await;
    let q = client_for(&server).project(PROJECT).quotas().await.unwrap();
    assert_eq!(q.quotas[0].programmatic_name.as_deref(), Some("h100"));
}

#[tokio::test]
async fn list_locations() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        "/locations",
        "",
        None,
        fixture("locations.json"),
    )
    .await;
    let l = client_for(&server).list_locations().await.unwrap();
    assert_eq!(l[0], "us-east1-a");
    assert_eq!(l.len(), 4);
}

#[tokio::test]
async fn list_capacities_sends_each_array_as_one_comma_separated_value_in_canonical_order() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        "/capacities",
        "location=us-east1-a&product_name=h100-80gb-sxm-ib.8x%2Cc1a.16x",
        None,
        fixture("capacities.json"),
    )
    .await;
    let c = client_for(&server)
        .list_capacities(
            &["h100-80gb-sxm-ib.8x".into(), "c1a.16x".into()],
            &["us-east1-a".into()],
        )
        .await
        .unwrap();
    assert_eq!(c[0].quantity, 4);
    assert_eq!(c[0].product_name.as_deref(), Some("h100-80gb-sxm-ib.8x"));
}

#[tokio::test]
async fn list_capacities_without_filters_sends_no_query() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        "/capacities",
        "",
        None,
        fixture("capacities.json"),
    )
    .await;
    assert_eq!(
        client_for(&server)
            .list_capacities(&[], &[])
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn list_vm_types() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &project("/compute/vms/types"),
        "",
        None,
        fixture("vm_types.json"),
    )
    .await;
    let t = client_for(&server)
        .project(PROJECT)
        .vm_types()
        .await
        .unwrap();
    assert!(t
        .iter()
        .any(|t| t.product_name == "gh200.1x" && t.cpu_type == "arm"));
}

#[tokio::test]
async fn images_public_and_custom() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        "/compute/images",
        "product_group=h100",
        None,
        fixture("images.json"),
    )
    .await;
    let image_id = "09ae8411-0fbb-411c-898c-2b8f19622ae1";
    expect_call(
        &server,
        "GET",
        &format!("/compute/images/{image_id}"),
        "",
        None,
        fixture("image.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project("/compute/custom-images"),
        "",
        None,
        fixture("custom_images.json"),
    )
    .await;
    let custom_id = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b";
    let mut custom = fixture("image.json");
    custom["id"] = custom_id.into();
    expect_call(
        &server,
        "GET",
        &project(&format!("/compute/custom-images/{custom_id}")),
        "",
        None,
        custom,
    )
    .await;

    let client = client_for(&server);
    assert_eq!(client.list_images(Some("h100")).await.unwrap().len(), 2);
    assert_eq!(
        client.get_image(image_id).await.unwrap().name,
        "ubuntu22.04"
    );
    assert_eq!(
        client
            .project(PROJECT)
            .custom_images()
            .list()
            .await
            .unwrap()[0]
            .name,
        "cycleos-boot"
    );
    assert_eq!(
        client
            .project(PROJECT)
            .custom_images()
            .get(custom_id)
            .await
            .unwrap()
            .id,
        custom_id
    );
}

#[tokio::test]
async fn custom_images_are_made_from_a_disk_with_crusoes_spelling_and_deleted() {
    let server = MockServer::start().await;
    let disk = "123e4567-e89b-12d3-a456-426614174000";
    let image = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b";
    expect_call(
        &server,
        "POST",
        &project("/compute/custom-images"),
        "",
        // `DiskID`, not `disk_id`: CustomImagePostRequest in Crusoe's OpenAPI and client-go.
        Some(json!({"DiskID": disk, "name": "crusoe-ial-ipxe-67c7f1f8e062-us-east1-a", "description": "Cycle's iPXE"})),
        fixture("operation_in_progress.json"),
    )
    .await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/compute/custom-images/{image}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;
    let client = client_for(&server);
    let op = client
        .project(PROJECT)
        .custom_images()
        .create(&CreateCustomImageRequest {
            disk_id: disk.into(),
            name: "crusoe-ial-ipxe-67c7f1f8e062-us-east1-a".into(),
            description: Some("Cycle's iPXE".into()),
            tags: None,
        })
        .await
        .unwrap();
    assert_eq!(op.state, OperationState::InProgress);
    let _pending = client
        .project(PROJECT)
        .custom_images()
        .delete(image)
        .await
        .unwrap();
    assert!(
        client
            .project(PROJECT)
            .custom_images()
            .delete("../vms")
            .await
            .is_err(),
        "an image id is checked before it enters the path"
    );
}

#[tokio::test]
async fn list_vms_follows_pages_sorted_by_created_at_with_filters_as_single_values() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &project("/compute/vms/instances"),
        "limit=2&names=cycle-a%2Ccycle-b&sort=created_at&states=STATE_RUNNING%2CSTATE_PROVISIONING",
        None,
        fixture("vms_page1.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project("/compute/vms/instances"),
        "limit=2&names=cycle-a%2Ccycle-b&next_token=bXktbGFzdC12bQ&sort=created_at&states=STATE_RUNNING%2CSTATE_PROVISIONING",
        None,
        fixture("vms_page2.json"),
    )
    .await;
    let filter = VmFilter {
        names: vec!["cycle-a".into(), "cycle-b".into()],
        states: vec![VmState::Running, VmState::Provisioning],
        ..Default::default()
    };
    let vms = client_for(&server)
        .project(PROJECT)
        .vms()
        .list(&filter)
        .await
        .unwrap();
    let names: Vec<_> = vms.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cycle-5f1e2d3c4b5a69788796a5b4",
            "cycle-6a2f3e4d5c6b7a8997a6b5c4"
        ]
    );
    assert_eq!(vms[1].state, VmState::Provisioning);
}

#[tokio::test]
async fn list_vms_by_ids_types_and_locations() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &project("/compute/vms/instances"),
        "ids=a%2Cb&limit=2&locations=us-east1-a&sort=created_at&types=c1a.16x",
        None,
        fixture("vms_page2.json"),
    )
    .await;
    let filter = VmFilter {
        ids: vec!["a".into(), "b".into()],
        types: vec!["c1a.16x".into()],
        locations: vec!["us-east1-a".into()],
        ..Default::default()
    };
    assert_eq!(
        client_for(&server)
            .project(PROJECT)
            .vms()
            .list(&filter)
            .await
            .unwrap()
            .len(),
        1
    );
}

const VM_ID: &str = "ca39e669-47ee-456b-968d-303234fbf99f";

#[tokio::test]
async fn get_vm() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &project(&format!("/compute/vms/instances/{VM_ID}")),
        "",
        None,
        fixture("vm.json"),
    )
    .await;
    let vm = client_for(&server)
        .project(PROJECT)
        .vms()
        .get(VM_ID)
        .await
        .unwrap();
    assert_eq!(vm.state, VmState::Running);
}

#[tokio::test]
async fn create_vm_sends_the_documented_body() {
    let server = MockServer::start().await;
    let want = json!({
        "name": "cycle-5f1e2d3c4b5a69788796a5b4",
        "type": "c1a.16x",
        "location": "us-east1-a",
        "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample operator@example",
        "image": "ubuntu22.04:latest",
        "startup_script": "#!/bin/bash\necho hello\n",
        "network_interfaces": [{
            "subnet": "36c0b0d9-8b68-4869-addb-227b06b64ee0",
            "ips": [{"public_ipv4": {"type": "static"}}]
        }],
        "disks": [{"disk_id": "123e4567-e89b-12d3-a456-426614174000", "mode": "read-write", "attachment_type": "data"}],
        "reservation_specification": {"selection_strategy": "on_demand"},
        "install_crusoe_watch_agent": false
    });
    expect_call(
        &server,
        "POST",
        &project("/compute/vms/instances"),
        "",
        Some(want),
        fixture("operation_in_progress.json"),
    )
    .await;
    let request = CreateVmRequest {
        name: "cycle-5f1e2d3c4b5a69788796a5b4".into(),
        vm_type: "c1a.16x".into(),
        location: "us-east1-a".into(),
        ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample operator@example".into(),
        image: Some("ubuntu22.04:latest".into()),
        startup_script: Some("#!/bin/bash\necho hello\n".into()),
        network_interfaces: Some(vec![NetworkInterfaceRequest {
            subnet: Some("36c0b0d9-8b68-4869-addb-227b06b64ee0".into()),
            ips: vec![IpAddressesRequest {
                public_ipv4: PublicIpv4Request {
                    ip_type: "static".into(),
                    id: None,
                },
            }],
        }]),
        disks: Some(vec![DiskAttachment::data_read_write(
            "123e4567-e89b-12d3-a456-426614174000",
        )]),
        reservation_specification: Some(ReservationSpecification {
            id: None,
            selection_strategy: Some("on_demand".into()),
        }),
        install_crusoe_watch_agent: Some(false),
        ..Default::default()
    };
    let op = client_for(&server)
        .project(PROJECT)
        .vms()
        .create(&request)
        .await
        .unwrap();
    assert_eq!(op.state, OperationState::InProgress);
    assert_eq!(
        op.resource_id(),
        Some(VM_ID),
        "the new VM's id is known from the first answer"
    );
}

#[tokio::test]
async fn delete_vm() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/compute/vms/instances/{VM_ID}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;
    let op = client_for(&server)
        .project(PROJECT)
        .vms()
        .delete(VM_ID)
        .await
        .unwrap();
    assert_eq!(op.operation_id, "F6EF489C-086E-458D-B812-7962964A28C9");
}

#[tokio::test]
async fn reset_vm() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "PATCH",
        &project(&format!("/compute/vms/instances/{VM_ID}")),
        "",
        Some(json!({"action": "RESET"})),
        fixture("operation_in_progress.json"),
    )
    .await;
    let _pending = client_for(&server)
        .project(PROJECT)
        .vms()
        .update(VM_ID, &UpdateVmRequest::action(VmAction::Reset))
        .await
        .unwrap();
}

#[tokio::test]
async fn make_public_ip_static_sends_the_documented_update() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "PATCH",
        &project(&format!("/compute/vms/instances/{VM_ID}")),
        "",
        Some(json!({
            "action": "UPDATE",
            "network_interfaces": [{"ips": [{"public_ipv4": {"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "type": "static"}}]}]
        })),
        fixture("operation_in_progress.json"),
    )
    .await;
    let _pending = client_for(&server)
        .project(PROJECT)
        .vms()
        .update(
            VM_ID,
            &UpdateVmRequest::make_public_ip_static("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn attach_and_detach_disks() {
    let server = MockServer::start().await;
    let disk = "123e4567-e89b-12d3-a456-426614174000";
    expect_call(
        &server,
        "POST",
        &project(&format!("/compute/vms/instances/{VM_ID}/attach-disks")),
        "",
        Some(json!({"attach_disks": [{"disk_id": disk, "mode": "read-write", "attachment_type": "data"}]})),
        fixture("operation_in_progress.json"),
    )
    .await;
    expect_call(
        &server,
        "POST",
        &project(&format!("/compute/vms/instances/{VM_ID}/detach-disks")),
        "",
        Some(json!({"detach_disks": [disk]})),
        fixture("operation_in_progress.json"),
    )
    .await;
    let client = client_for(&server);
    let _pending = client
        .project(PROJECT)
        .vms()
        .attach_disks(VM_ID, vec![DiskAttachment::data_read_write(disk)])
        .await
        .unwrap();
    let _pending = client
        .project(PROJECT)
        .vms()
        .detach_disks(VM_ID, vec![disk.into()])
        .await
        .unwrap();
}

#[tokio::test]
async fn disks_list_get_create_delete() {
    let server = MockServer::start().await;
    let disk = "123e4567-e89b-12d3-a456-426614174000";
    expect_call(
        &server,
        "GET",
        &project("/storage/disks"),
        "disk_names=cycle-x-data%2Cscratch&exclude_os=true&location=us-east1-a",
        None,
        fixture("disks.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project(&format!("/storage/disks/{disk}")),
        "",
        None,
        fixture("disk.json"),
    )
    .await;
    expect_call(
        &server,
        "POST",
        &project("/storage/disks"),
        "",
        Some(json!({"name": "cycle-x-data", "location": "us-east1-a", "size": "100GiB", "type": "persistent-ssd"})),
        fixture("operation_in_progress.json"),
    )
    .await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/storage/disks/{disk}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;

    let client = client_for(&server);
    let filter = DiskFilter {
        names: vec!["cycle-x-data".into(), "scratch".into()],
        location: Some("us-east1-a".into()),
        exclude_os: Some(true),
        ..Default::default()
    };
    let disks = client.project(PROJECT).disks().list(&filter).await.unwrap();
    assert_eq!(disks[0].attached_to[0].vm_id, VM_ID);
    assert!(disks[1].attached_to.is_empty());
    assert_eq!(
        client
            .project(PROJECT)
            .disks()
            .get(disk)
            .await
            .unwrap()
            .size,
        "100GiB"
    );
    let _pending = client
        .project(PROJECT)
        .disks()
        .create(&CreateDiskRequest::persistent_ssd(
            "cycle-x-data",
            "us-east1-a",
            100,
        ))
        .await
        .unwrap();
    let _pending = client.project(PROJECT).disks().delete(disk).await.unwrap();
}

#[tokio::test]
async fn list_disks_by_ids() {
    let server = MockServer::start().await;
    expect_call(
        &server,
        "GET",
        &project("/storage/disks"),
        "disk_ids=a%2Cb",
        None,
        fixture("disks.json"),
    )
    .await;
    let filter = DiskFilter {
        ids: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    client_for(&server)
        .project(PROJECT)
        .disks()
        .list(&filter)
        .await
        .unwrap();
}

#[tokio::test]
async fn vpc_networks_list_get_create_delete() {
    let server = MockServer::start().await;
    let id = "1ce839b7-3fab-46f9-8e54-7a6bb4ac1ffc";
    expect_call(
        &server,
        "GET",
        &project("/networking/vpc-networks"),
        "",
        None,
        fixture("vpc_networks.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project(&format!("/networking/vpc-networks/{id}")),
        "",
        None,
        fixture("vpc_network.json"),
    )
    .await;
    expect_call(
        &server,
        "POST",
        &project("/networking/vpc-networks"),
        "",
        Some(json!({"name": "cycle-hub-x", "cidr": "172.27.0.0/16"})),
        fixture("vpc_network_post.json"),
    )
    .await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/networking/vpc-networks/{id}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;

    let client = client_for(&server);
    assert_eq!(
        client
            .project(PROJECT)
            .vpc_networks()
            .list()
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        client
            .project(PROJECT)
            .vpc_networks()
            .get(id)
            .await
            .unwrap()
            .cidr,
        "172.27.0.0/16"
    );
    let created = client
        .project(PROJECT)
        .vpc_networks()
        .create(&CreateVpcNetworkRequest {
            name: "cycle-hub-x".into(),
            cidr: "172.27.0.0/16".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        created.id, id,
        "creation is synchronous and answers the network"
    );
    let _pending = client
        .project(PROJECT)
        .vpc_networks()
        .delete(id)
        .await
        .unwrap();
}

#[tokio::test]
async fn vpc_subnets_list_get_create_delete() {
    let server = MockServer::start().await;
    let id = "36c0b0d9-8b68-4869-addb-227b06b64ee0";
    expect_call(
        &server,
        "GET",
        &project("/networking/vpc-subnets"),
        "",
        None,
        fixture("vpc_subnets.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project(&format!("/networking/vpc-subnets/{id}")),
        "",
        None,
        fixture("vpc_subnet.json"),
    )
    .await;
    expect_call(
        &server,
        "POST",
        &project("/networking/vpc-subnets"),
        "",
        Some(json!({
            "name": "cycle-hub-x-us-east1-a",
            "cidr": "172.27.0.0/24",
            "location": "us-east1-a",
            "vpc_network_id": "1ce839b7-3fab-46f9-8e54-7a6bb4ac1ffc",
            "nat_gateway_enabled": false
        })),
        fixture("vpc_subnet_post.json"),
    )
    .await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/networking/vpc-subnets/{id}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;

    let client = client_for(&server);
    assert_eq!(
        client.project(PROJECT).vpc_subnets().list().await.unwrap()[0].id,
        id
    );
    assert_eq!(
        client
            .project(PROJECT)
            .vpc_subnets()
            .get(id)
            .await
            .unwrap()
            .location,
        "us-east1-a"
    );
    let created = client
        .project(PROJECT)
        .vpc_subnets()
        .create(&CreateVpcSubnetRequest {
            name: "cycle-hub-x-us-east1-a".into(),
            cidr: "172.27.0.0/24".into(),
            location: "us-east1-a".into(),
            vpc_network_id: "1ce839b7-3fab-46f9-8e54-7a6bb4ac1ffc".into(),
            nat_gateway_enabled: false,
        })
        .await
        .unwrap();
    assert_eq!(created.id, id);
    let _pending = client
        .project(PROJECT)
        .vpc_subnets()
        .delete(id)
        .await
        .unwrap();
}

#[tokio::test]
async fn firewall_rules_list_get_create_delete() {
    let server = MockServer::start().await;
    let id = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d";
    let network = "1ce839b7-3fab-46f9-8e54-7a6bb4ac1ffc";
    expect_call(
        &server,
        "GET",
        &project("/networking/vpc-firewall-rules"),
        "",
        None,
        fixture("firewall_rules.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project(&format!("/networking/vpc-firewall-rules/{id}")),
        "",
        None,
        fixture("firewall_rule.json"),
    )
    .await;
    expect_call(
        &server,
        "POST",
        &project("/networking/vpc-firewall-rules"),
        "",
        Some(json!({
            "name": "cycle-hub-x-ingress",
            "vpc_network_id": network,
            "action": "allow",
            "direction": "ingress",
            "protocols": ["tcp"],
            "destination_ports": ["22", "3000-8080"],
            "source_ports": [],
            "sources": [{"cidr": "0.0.0.0/0"}],
            "destinations": [{"resource_id": network}]
        })),
        fixture("operation_in_progress.json"),
    )
    .await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/networking/vpc-firewall-rules/{id}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;

    let client = client_for(&server);
    assert_eq!(
        client
            .project(PROJECT)
            .firewall_rules()
            .list()
            .await
            .unwrap()[0]
            .destination_ports
            .len(),
        3
    );
    assert_eq!(
        client
            .project(PROJECT)
            .firewall_rules()
            .get(id)
            .await
            .unwrap()
            .state,
        "active"
    );
    let _pending = client
        .project(PROJECT)
        .firewall_rules()
        .create(&CreateFirewallRuleRequest {
            name: "cycle-hub-x-ingress".into(),
            vpc_network_id: network.into(),
            action: "allow".into(),
            direction: "ingress".into(),
            protocols: vec!["tcp".into()],
            sources: vec![FirewallRuleObject::cidr("0.0.0.0/0")],
            destinations: vec![FirewallRuleObject::resource(network)],
            destination_ports: Some(vec!["22".into(), "3000-8080".into()]),
            source_ports: Some(vec![]),
        })
        .await
        .unwrap();
    let _pending = client
        .project(PROJECT)
        .firewall_rules()
        .delete(id)
        .await
        .unwrap();
}

#[tokio::test]
async fn load_balancers_list_get_create_update_delete() {
    let server = MockServer::start().await;
    let id = "8b7c6d5e-4f3a-4b2c-9d1e-0f2a3b4c5d6e";
    let network = "1ce839b7-3fab-46f9-8e54-7a6bb4ac1ffc";
    expect_call(
        &server,
        "GET",
        &project("/networking/load-balancers"),
        "location=us-east1-a&name=cycle-ip-x-0",
        None,
        fixture("load_balancers.json"),
    )
    .await;
    expect_call(
        &server,
        "GET",
        &project(&format!("/networking/load-balancers/{id}")),
        "",
        None,
        fixture("load_balancer.json"),
    )
    .await;
    let listeners = json!([{"listen_port": 443, "backends": [{"ip": "172.27.0.5", "port": 443, "status": ""}]}]);
    expect_call(
        &server,
        "POST",
        &project("/networking/load-balancers"),
        "",
        Some(json!({
            "name": "cycle-ip-x-0",
            "location": "us-east1-a",
            "vpc_id": network,
            "protocol": "LOAD_BALANCER_PROTOCOL_TCP",
            "listen_ports_and_backends": listeners,
            "health_check_options": {"failure_count": 3, "interval": 10, "success_count": 2, "timeout": 5}
        })),
        fixture("operation_in_progress.json"),
    )
    .await;
    expect_call(
        &server,
        "PATCH",
        &project(&format!("/networking/load-balancers/{id}")),
        "",
        Some(json!({"listen_ports_and_backends": listeners})),
        fixture("operation_in_progress.json"),
    )
    .await;
    expect_call(
        &server,
        "DELETE",
        &project(&format!("/networking/load-balancers/{id}")),
        "",
        None,
        fixture("operation_in_progress.json"),
    )
    .await;

    let client = client_for(&server);
    let filter = LoadBalancerFilter {
        name: Some("cycle-ip-x-0".into()),
        location: Some("us-east1-a".into()),
        vpc_network_id: None,
    };
    assert_eq!(
        client
            .project(PROJECT)
            .load_balancers()
            .list(&filter)
            .await
            .unwrap()[0]
            .vip,
        "198.51.100.20"
    );
    assert_eq!(
        client
            .project(PROJECT)
            .load_balancers()
            .get(id)
            .await
            .unwrap()
            .vpc_id,
        network
    );
    let backends = vec![ListenPortAndBackend {
        listen_port: 443,
        backends: vec![Backend {
            ip: "172.27.0.5".into(),
            port: 443,
            status: String::new(),
        }],
    }];
    let _pending = client
        .project(PROJECT)
        .load_balancers()
        .create(&CreateLoadBalancerRequest {
            name: "cycle-ip-x-0".into(),
            location: "us-east1-a".into(),
            vpc_id: network.into(),
            protocol: "LOAD_BALANCER_PROTOCOL_TCP".into(),
            listen_ports_and_backends: backends.clone(),
            health_check_options: Some(HealthCheckOptions::default()),
        })
        .await
        .unwrap();
    let _pending = client
        .project(PROJECT)
        .load_balancers()
        .update(
            id,
            &UpdateLoadBalancerRequest {
                listen_ports_and_backends: backends,
                health_check_options: None,
            },
        )
        .await
        .unwrap();
    let _pending = client
        .project(PROJECT)
        .load_balancers()
        .delete(id)
        .await
        .unwrap();
}

#[tokio::test]
async fn each_family_polls_its_own_operations_endpoint() {
    let server = MockServer::start().await;
    let op_id = "F6EF489C-086E-458D-B812-7962964A28C9";
    let families = [
        (OperationFamily::Vms, "compute/vms/instances"),
        (OperationFamily::Disks, "storage/disks"),
        (OperationFamily::VpcNetworks, "networking/vpc-networks"),
        (OperationFamily::VpcSubnets, "networking/vpc-subnets"),
        (
            OperationFamily::FirewallRules,
            "networking/vpc-firewall-rules",
        ),
        (OperationFamily::LoadBalancers, "networking/load-balancers"),
        (OperationFamily::CustomImages, "compute/custom-images"),
    ];
    for (_, collection) in families {
        expect_call(
            &server,
            "GET",
            &project(&format!("/{collection}/operations/{op_id}")),
            "",
            None,
            fixture("operation_vm_succeeded.json"),
        )
        .await;
    }
    let client = client_for(&server);
    for (family, _) in families {
        let op = client
            .project(PROJECT)
            .operations(family)
            .get(op_id)
            .await
            .unwrap();
        assert_eq!(op.state, OperationState::Succeeded);
    }
}

#[tokio::test]
async fn what_is_being_done_to_one_resource_is_listed_by_its_id() {
    let server = MockServer::start().await;
    let disk = "123e4567-e89b-12d3-a456-426614174000";
    expect_call(
        &server,
        "GET",
        &project("/storage/disks/operations"),
        "resource_id=123e4567-e89b-12d3-a456-426614174000&state=IN_PROGRESS",
        None,
        json!({"items": [fixture("operation_in_progress.json")["operation"]]}),
    )
    .await;
    let ops = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Disks)
        .in_progress(disk)
        .await
        .unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].state, OperationState::InProgress);
    let refused = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Disks)
        .in_progress("../x")
        .await;
    assert!(
        matches!(refused, Err(crusoe_sdk::CrusoeError::InvalidId(_))),
        "{refused:?}"
    );
}
