use serde::{Deserialize, Serialize};

use super::null_as_empty;

/// A VM's lifecycle state. Crusoe sends `STATE_RUNNING` and sometimes `RUNNING`; both read the
/// same. States not listed are kept by name (libvirt-style states exist).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum VmState {
    Provisioning,
    Running,
    Stopping,
    Stopped,
    Shutoff,
    Shutdown,
    Deleting,
    Deleted,
    Other(String),
}

impl VmState {
    /// The name without the `STATE_` prefix, as used in filters and messages.
    pub fn name(&self) -> &str {
        match self {
            VmState::Provisioning => "PROVISIONING",
            VmState::Running => "RUNNING",
            VmState::Stopping => "STOPPING",
            VmState::Stopped => "STOPPED",
            VmState::Shutoff => "SHUTOFF",
            VmState::Shutdown => "SHUTDOWN",
            VmState::Deleting => "DELETING",
            VmState::Deleted => "DELETED",
            VmState::Other(s) => s,
        }
    }

    /// The form Crusoe sends and accepts in the `states` filter.
    pub fn wire_name(&self) -> String {
        format!("STATE_{}", self.name())
    }

    /// Gone or on its way out: nothing to wait for.
    pub fn is_terminal(&self) -> bool {
        matches!(self, VmState::Deleting | VmState::Deleted)
    }
}

impl From<String> for VmState {
    fn from(s: String) -> Self {
        let bare = s.strip_prefix("STATE_").unwrap_or(&s);
        match bare.to_ascii_uppercase().as_str() {
            "PROVISIONING" | "CREATING" | "PENDING" | "STARTING" => VmState::Provisioning,
            "RUNNING" => VmState::Running,
            "STOPPING" => VmState::Stopping,
            "STOPPED" => VmState::Stopped,
            "SHUTOFF" => VmState::Shutoff,
            "SHUTDOWN" => VmState::Shutdown,
            "DELETING" => VmState::Deleting,
            "DELETED" => VmState::Deleted,
            other => VmState::Other(other.to_string()),
        }
    }
}

impl From<VmState> for String {
    fn from(s: VmState) -> Self {
        s.wire_name()
    }
}

/// `AttachedDiskV1Alpha5`: a disk as seen from the VM it is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedDisk {
    pub id: String,
    pub name: String,
    pub attachment_type: String,
    pub block_size: i64,
    pub created_at: String,
    pub updated_at: String,
    pub location: String,
    pub mode: String,
    pub serial_number: String,
    pub size: String,
    #[serde(rename = "type")]
    pub disk_type: String,
}

/// `HostChannelAdapter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostChannelAdapter {
    pub guid: String,
    pub ib_network_id: String,
    pub ib_partition_id: String,
    pub transport_network_id: String,
    pub transport_partition_id: String,
    #[serde(rename = "type")]
    pub adapter_type: String,
}

/// `PrivateIPv4Address`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateIpv4Address {
    pub address: String,
}

/// `PublicIPv4Address`. `type` is `static` or `dynamic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicIpv4Address {
    pub address: String,
    pub id: String,
    #[serde(rename = "type")]
    pub ip_type: String,
}

/// `IPAddresses`. Both addresses are pointers in client-go and `omitempty` in the packer
/// plugin: a VM without a public address (or not placed yet) may come without either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpAddresses {
    #[serde(default)]
    pub private_ipv4: Option<PrivateIpv4Address>,
    #[serde(default)]
    pub public_ipv4: Option<PublicIpv4Address>,
}

/// `NetworkInterface`, as Crusoe reports it on a VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub id: String,
    pub name: String,
    pub network: String,
    pub subnet: String,
    pub interface_type: String,
    pub mac_address: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub ips: Vec<IpAddresses>,
    pub external_dns_name: String,
}

/// `VirtualizationFeatures`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualizationFeatures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nested_virtualization: Option<bool>,
}

/// `InstanceV1Alpha5`: a VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub vm_type: String,
    pub location: String,
    pub state: VmState,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub maintenance_policy: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub disks: Vec<AttachedDisk>,
    #[serde(deserialize_with = "null_as_empty")]
    pub host_channel_adapters: Vec<HostChannelAdapter>,
    #[serde(deserialize_with = "null_as_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
    pub billing_type: Option<String>,
    pub commitment_end: Option<String>,
    pub commitment_period: Option<i64>,
    pub instance_group_id: Option<String>,
    pub instance_template_id: Option<String>,
    pub nvlink_domain_id: Option<String>,
    pub pod_id: Option<String>,
    pub reservation_id: Option<String>,
    pub virtualization_features: Option<VirtualizationFeatures>,
}

impl Vm {
    fn first_ips(&self) -> Option<&IpAddresses> {
        self.network_interfaces.first().and_then(|n| n.ips.first())
    }

    /// MAC address of the first NIC, when Crusoe has assigned one.
    pub fn mac_address(&self) -> Option<&str> {
        self.network_interfaces
            .first()
            .map(|n| n.mac_address.as_str())
            .filter(|m| !m.is_empty())
    }

    pub fn private_ipv4(&self) -> Option<&str> {
        self.first_ips()
            .and_then(|ip| ip.private_ipv4.as_ref())
            .map(|p| p.address.as_str())
            .filter(|a| !a.is_empty())
    }

    pub fn public_ipv4(&self) -> Option<&PublicIpv4Address> {
        self.first_ips()
            .and_then(|ip| ip.public_ipv4.as_ref())
            .filter(|p| !p.address.is_empty())
    }
}

/// `ListInstancesResponseV1Alpha5`: one page of VMs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmPage {
    #[serde(deserialize_with = "null_as_empty")]
    pub items: Vec<Vm>,
    pub next_page_token: Option<String>,
    pub prev_page_token: Option<String>,
}

/// `DiskAttachment`: a disk to attach, in create-VM and attach-disks requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskAttachment {
    pub disk_id: String,
    /// `read-write` or `read-only`.
    pub mode: String,
    /// `os` or `data`.
    pub attachment_type: String,
}

impl DiskAttachment {
    pub fn data_read_write(disk_id: impl Into<String>) -> Self {
        Self {
            disk_id: disk_id.into(),
            mode: "read-write".into(),
            attachment_type: "data".into(),
        }
    }
}

/// The public address wanted on a new NIC: `static` or `dynamic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicIpv4Request {
    #[serde(rename = "type")]
    pub ip_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpAddressesRequest {
    pub public_ipv4: PublicIpv4Request,
}

/// A NIC in a create-VM or update request. Crusoe's OpenAPI reuses the full `NetworkInterface`
/// schema here, but only `subnet` and the public address type are inputs (as its own terraform
/// provider sends them); the rest is assigned by Crusoe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterfaceRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    pub ips: Vec<IpAddressesRequest>,
}

/// `ReservationSpecification`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReservationSpecification {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `lowest_cost` or `on_demand`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_strategy: Option<String>,
}

/// `PartialHostChannelAdapter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialHostChannelAdapter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_partition_id: Option<String>,
}

/// `InstancesPostRequestV1Alpha5`: create a VM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateVmRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub vm_type: String,
    pub location: String,
    pub ssh_public_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterfaceRequest>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<DiskAttachment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_specification: Option<ReservationSpecification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_crusoe_watch_agent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_channel_adapters: Option<Vec<PartialHostChannelAdapter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualization_features: Option<VirtualizationFeatures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_policy: Option<String>,
}

/// The `action` of a VM PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VmAction {
    Start,
    Stop,
    Reset,
    Update,
}

/// `InstancesPatchRequestV1Alpha5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateVmRequest {
    pub action: VmAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterfaceRequest>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub vm_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
}

impl UpdateVmRequest {
    pub fn action(action: VmAction) -> Self {
        Self {
            action,
            network_interfaces: None,
            vm_type: None,
            maintenance_policy: None,
            reservation_id: None,
        }
    }

    /// Makes the VM's current public address static, keeping the address (Crusoe's documented
    /// way: UPDATE with the address's current id and `type: static`).
    pub fn make_public_ip_static(public_ipv4_id: impl Into<String>) -> Self {
        Self {
            network_interfaces: Some(vec![NetworkInterfaceRequest {
                subnet: None,
                ips: vec![IpAddressesRequest {
                    public_ipv4: PublicIpv4Request {
                        ip_type: "static".into(),
                        id: Some(public_ipv4_id.into()),
                    },
                }],
            }]),
            ..Self::action(VmAction::Update)
        }
    }
}

/// `InstancesAttachDiskPostRequestV1Alpha5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachDisksRequest {
    pub attach_disks: Vec<DiskAttachment>,
}

/// `InstancesDetachDiskPostRequest`: the ids of the disks to detach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetachDisksRequest {
    pub detach_disks: Vec<String>,
}

/// Filters of list-VMs. Each list goes to Crusoe as one comma-separated value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmFilter {
    pub ids: Vec<String>,
    pub names: Vec<String>,
    pub types: Vec<String>,
    pub locations: Vec<String>,
    pub states: Vec<VmState>,
}

impl VmFilter {
    pub fn names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Self {
            names: names.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    pub fn ids<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        Self {
            ids: ids.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}
