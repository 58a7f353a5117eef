//! Every fixture is read by the client's wire types, and (when `../shared` is present) matches
//! Crusoe's OpenAPI schema for the answer it stands for. A fixture that drifts from either fails.

mod common;

use std::collections::BTreeSet;

use common::swagger::{assert_all_found, Swagger};
use crusoe_sdk::types::*;
use serde::de::DeserializeOwned;

fn reads_as<T: DeserializeOwned>(name: &str) -> Result<(), String> {
    serde_json::from_str::<T>(&common::fixture_text(name))
        .map(|_| ())
        .map_err(|e| format!("{name}: {e}"))
}

type Reader = fn(&str) -> Result<(), String>;

/// fixture, the Crusoe operation whose 200 answer it is (None for error bodies), its reader.
const FIXTURES: &[(&str, Option<&str>, Reader)] = &[
    ("project.json", Some("getProject"), reads_as::<Project>),
    (
        "locations.json",
        Some("listLocations"),
        reads_as::<Items<String>>,
    ),
    (
        "capacities.json",
        Some("listSliceCapacities"),
        reads_as::<Items<Capacity>>,
    ),
    (
        "vm_types.json",
        Some("getVMTypes"),
        reads_as::<Items<VmType>>,
    ),
    ("images.json", Some("listImages"), reads_as::<Items<Image>>),
    ("image.json", Some("getImage"), reads_as::<Image>),
    (
        "custom_images.json",
        Some("listCustomImages"),
        reads_as::<Items<Image>>,
    ),
    ("vm.json", Some("getInstance"), reads_as::<Vm>),
    ("vms_page1.json", Some("listInstances"), reads_as::<VmPage>),
    ("vms_page2.json", Some("listInstances"), reads_as::<VmPage>),
    (
        "operation_in_progress.json",
        Some("createInstance"),
        reads_as::<AsyncOperationResponse>,
    ),
    (
        "operation_vm_succeeded.json",
        Some("getComputeVMsInstancesOperation"),
        reads_as::<Operation>,
    ),
    (
        "operation_failed_out_of_stock.json",
        Some("getComputeVMsInstancesOperation"),
        reads_as::<Operation>,
    ),
    ("disk.json", Some("getDisk"), reads_as::<Disk>),
    ("disks.json", Some("listDisks"), reads_as::<Items<Disk>>),
    (
        "vpc_network_post.json",
        Some("createVPCNetwork"),
        reads_as::<VpcNetworkPostResponse>,
    ),
    (
        "vpc_network.json",
        Some("getVPCNetwork"),
        reads_as::<VpcNetwork>,
    ),
    (
        "vpc_networks.json",
        Some("listVPCNetworks"),
        reads_as::<Items<VpcNetwork>>,
    ),
    (
        "vpc_subnet_post.json",
        Some("createVPCSubnet"),
        reads_as::<VpcSubnetPostResponse>,
    ),
    (
        "vpc_subnet.json",
        Some("getVPCSubnet"),
        reads_as::<VpcSubnet>,
    ),
    (
        "vpc_subnets.json",
        Some("listVPCSubnets"),
        reads_as::<Items<VpcSubnet>>,
    ),
    (
        "firewall_rule.json",
        Some("getVPCFirewallRule"),
        reads_as::<FirewallRule>,
    ),
    (
        "firewall_rules.json",
        Some("listVPCFirewallRules"),
        reads_as::<Items<FirewallRule>>,
    ),
    (
        "load_balancer.json",
        Some("getExternalLoadBalancer"),
        reads_as::<LoadBalancer>,
    ),
    (
        "load_balancers.json",
        Some("listExternalLoadBalancers"),
        reads_as::<Items<LoadBalancer>>,
    ),
    (
        "quotas.json",
        Some("listProjectQuotas"),
        reads_as::<ProjectQuotas>,
    ),
    ("error_bad_credential.json", None, |_| Ok(())),
    ("error_out_of_stock.json", None, |_| Ok(())),
    ("error_not_found.json", None, |_| Ok(())),
    ("error_conflict.json", None, |_| Ok(())),
    ("error_internal.json", None, |_| Ok(())),
    ("error_too_many_requests.json", None, |_| Ok(())),
];

#[test]
fn every_fixture_file_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(on_disk, listed, "fixtures on disk and in FIXTURES differ");
}

#[test]
fn every_fixture_deserialises_into_the_clients_types() {
    let failures: Vec<String> = FIXTURES
        .iter()
        .filter_map(|(name, _, read)| read(name).err())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_fixture_matches_crusoes_openapi() {
    let Some(swagger) = Swagger::from_shared(common::shared_dir()) else {
        return;
    };
    let mut failures = Vec::new();
    for (name, operation, _) in FIXTURES {
        if let Some(operation) = operation {
            let schema = swagger.response_schema(operation);
            for v in swagger.violations(schema, &common::fixture(name)) {
                failures.push(format!("{name}{v}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn error_fixtures_carry_crusoes_required_error_fields() {
    for (name, operation, _) in FIXTURES {
        if operation.is_none() {
            let v = common::fixture(name);
            assert!(v["code"].is_string() && v["message"].is_string(), "{name}");
        }
    }
}

#[test]
fn go_nil_slices_read_as_empty() {
    let mut vm = common::fixture("vm.json");
    vm["host_channel_adapters"] = serde_json::Value::Null;
    vm["disks"] = serde_json::Value::Null;
    let vm: Vm = serde_json::from_value(vm).unwrap();
    assert!(vm.disks.is_empty() && vm.host_channel_adapters.is_empty());
}

#[test]
fn vm_state_reads_with_or_without_prefix_and_keeps_unknown_states() {
    for (wire, want) in [
        ("STATE_RUNNING", VmState::Running),
        ("RUNNING", VmState::Running),
        ("STATE_STOPPED", VmState::Stopped),
        ("STATE_DELETING", VmState::Deleting),
        ("STATE_PAUSED", VmState::Other("PAUSED".into())),
    ] {
        let mut vm = common::fixture("vm.json");
        vm["state"] = wire.into();
        let vm: Vm = serde_json::from_value(vm).unwrap();
        assert_eq!(vm.state, want, "{wire}");
    }
}

#[test]
fn vm_accessors_give_the_identity_cycle_needs() {
    let vm: Vm = serde_json::from_value(common::fixture("vm.json")).unwrap();
    assert_eq!(vm.mac_address(), Some("00:00:5e:00:53:af"));
    assert_eq!(vm.private_ipv4(), Some("172.27.0.5"));
    assert_eq!(vm.public_ipv4().unwrap().address, "203.0.113.10");
    let page: VmPage = serde_json::from_value(common::fixture("vms_page2.json")).unwrap();
    let provisioning = &page.items[0];
    assert_eq!(
        provisioning.mac_address(),
        None,
        "an empty MAC is not a MAC"
    );
    assert_eq!(provisioning.public_ipv4(), None);
}

#[test]
fn unknown_fields_are_ignored() {
    let mut vm = common::fixture("vm.json");
    vm["a_field_crusoe_adds_next_year"] = serde_json::json!({"x": 1});
    assert!(serde_json::from_value::<Vm>(vm).is_ok());
}

#[test]
fn a_missing_required_field_is_an_error() {
    let mut vm = common::fixture("vm.json");
    vm.as_object_mut().unwrap().remove("id");
    assert!(serde_json::from_value::<Vm>(vm).is_err());
}

#[test]
fn the_schema_check_itself_catches_drift() {
    let Some(swagger) = Swagger::from_shared(common::shared_dir()) else {
        return;
    };
    let schema = swagger.response_schema("getInstance");
    let mut vm = common::fixture("vm.json");
    vm.as_object_mut().unwrap().remove("maintenance_policy");
    vm["network_interfaces"][0]["ips"][0]["public_ipv4"]["address"] = 7.into();
    vm["disks"] = serde_json::json!({});
    assert_all_found(
        &swagger.violations(schema, &vm),
        &[
            "/maintenance_policy: required",
            "public_ipv4/address: expected string",
            "/disks: expected array",
        ],
    );
    let op = swagger.response_schema("getComputeVMsInstancesOperation");
    let mut bad_state = common::fixture("operation_vm_succeeded.json");
    bad_state["state"] = "DONE".into();
    assert!(!swagger.violations(op, &bad_state).is_empty());
}
