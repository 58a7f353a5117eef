//! Names of the metrics the client records through the `metrics` facade; whoever embeds the
//! client chooses the recorder.

/// Crusoe calls, by `operation` and `outcome`.
pub const CRUSOE_CALLS: &str = "crusoe_calls_total";
/// Crusoe call latency (retries included), by `operation`.
pub const CRUSOE_DURATION: &str = "crusoe_call_duration_seconds";
/// Attempts beyond the first, by `operation`.
pub const CRUSOE_RETRIES: &str = "crusoe_retries_total";
/// Operations waited on, by `family` and `outcome`.
pub const OPERATION_WAITS: &str = "crusoe_operation_waits_total";
/// Time spent waiting on operations, by `family`.
pub const OPERATION_WAIT_DURATION: &str = "crusoe_operation_wait_seconds";

/// Every `operation` label the client records: one per Crusoe call it makes. Listed so that an
/// exporter can show each series from the start.
pub const OPERATIONS: &[&str] = &[
    "attach_disks",
    "create_custom_image",
    "create_disk",
    "create_firewall_rule",
    "create_load_balancer",
    "create_vm",
    "create_vpc_network",
    "create_vpc_subnet",
    "delete_custom_image",
    "delete_disk",
    "delete_firewall_rule",
    "delete_load_balancer",
    "delete_vm",
    "delete_vpc_network",
    "delete_vpc_subnet",
    "detach_disks",
    "get_custom_image",
    "get_disk",
    "get_firewall_rule",
    "get_image",
    "get_load_balancer",
    "get_operation",
    "get_project",
    "get_vm",
    "get_vpc_network",
    "get_vpc_subnet",
    "list_capacities",
    "list_custom_images",
    "list_disks",
    "list_firewall_rules",
    "list_images",
    "list_load_balancers",
    "list_locations",
    "list_operations",
    "list_project_quotas",
    "list_vm_types",
    "list_vms",
    "list_vpc_networks",
    "list_vpc_subnets",
    "update_load_balancer",
    "update_vm",
];
