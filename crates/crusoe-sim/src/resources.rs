//! The simulated resources of one project, and how each is rendered as Crusoe renders it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Provisioning,
    Running,
    Stopping,
    /// Where STOP ends at Crusoe (the packer plugin and the cloud controller manager wait for it),
    /// and where a guest that powers itself off ends.
    Shutoff,
    Deleting,
}

impl VmState {
    pub fn wire(self) -> &'static str {
        match self {
            VmState::Provisioning => "STATE_PROVISIONING",
            VmState::Running => "STATE_RUNNING",
            VmState::Stopping => "STATE_STOPPING",
            VmState::Shutoff => "STATE_SHUTOFF",
            VmState::Deleting => "STATE_DELETING",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PublicIp {
    pub id: String,
    /// None while none is assigned (provisioning, or a dynamic address of a stopped VM).
    pub address: Option<Ipv4Addr>,
    pub is_static: bool,
}

#[derive(Debug, Clone)]
pub struct Vm {
    pub id: String,
    pub name: String,
    pub vm_type: String,
    pub location: String,
    pub state: VmState,
    pub created_at: String,
    pub updated_at: String,
    /// Creation order, for `sort=created_at`.
    pub seq: u64,
    pub nic_id: String,
    pub mac: Option<String>,
    pub subnet_id: String,
    pub network_id: String,
    pub private_ip: Ipv4Addr,
    pub public_ip: PublicIp,
    pub os_disk_id: String,
    /// The operation in progress on this VM, if any: Crusoe answers 409 to another.
    pub busy_with: Option<String>,
    pub startup_script: Option<String>,
    /// `install_crusoe_watch_agent`, which Crusoe defaults to true.
    pub watch_agent: bool,
    /// `reservation_specification` as sent (Crusoe ignores it: terraform's warning).
    pub reservation: Option<Value>,
    pub image: String,
    /// When it reached running, in Unix milliseconds (for measuring how soon it is reported).
    pub running_since_ms: Option<u64>,
    /// When its last operation finished or its guest powered it off.
    pub changed_at: Option<std::time::Instant>,
    /// `virtualization_features.nested_virtualization` as created (it cannot change after).
    pub nested_virtualization: bool,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub vm_id: String,
    pub attachment_type: String,
    pub mode: String,
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub id: String,
    pub name: String,
    pub location: String,
    pub size: String,
    pub disk_type: String,
    pub block_size: i64,
    pub serial: String,
    pub created_at: String,
    pub updated_at: String,
    pub attached_to: Vec<Attachment>,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub gateway: String,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub location: String,
    pub network_id: String,
    pub base: u32,
    pub size: u32,
    pub next_host: u32,
    pub free_hosts: Vec<u32>,
}

impl Subnet {
    /// Next free host address: the network address and `.1` (the gateway) are never handed out.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        if let Some(h) = self.free_hosts.pop() {
            return Some(Ipv4Addr::from(self.base + h));
        }
        if self.next_host + 1 >= self.size {
            return None;
        }
        let h = self.next_host;
        self.next_host += 1;
        Some(Ipv4Addr::from(self.base + h))
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        let h = u32::from(ip).wrapping_sub(self.base);
        if h < self.size {
            self.free_hosts.push(h);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub owner_key: String,
    pub vms: BTreeMap<String, Vm>,
    pub disks: BTreeMap<String, Disk>,
    pub networks: BTreeMap<String, Network>,
    pub subnets: BTreeMap<String, Subnet>,
    /// Rendered as Crusoe renders them; kept as JSON because the simulator only stores them.
    pub firewall_rules: BTreeMap<String, Value>,
    pub load_balancers: BTreeMap<String, Value>,
    pub custom_images: BTreeMap<String, Value>,
}

impl Project {
    pub fn vm_json(&self, vm: &Vm) -> Value {
        let disks: Vec<Value> = self
            .disks
            .values()
            .filter_map(|d| {
                d.attached_to
                    .iter()
                    .find(|a| a.vm_id == vm.id)
                    .map(|a| attached_disk_json(d, a))
            })
            .collect();
        let public = &vm.public_ip;
        json!({
            "id": vm.id,
            "name": vm.name,
            "type": vm.vm_type,
            "location": vm.location,
            "state": vm.state.wire(),
            "project_id": self.id,
            "created_at": vm.created_at,
            "updated_at": vm.updated_at,
            "maintenance_policy": "unspecified",
            "billing_type": "On-demand",
            "disks": disks,
            "host_channel_adapters": [],
            "network_interfaces": [{
                "id": vm.nic_id,
                "name": "nic-0",
                "network": vm.network_id,
                "subnet": vm.subnet_id,
                "interface_type": "ethernet",
                "mac_address": vm.mac.clone().unwrap_or_default(),
                "external_dns_name": "",
                "ips": [{
                    "private_ipv4": {"address": vm.private_ip.to_string()},
                    "public_ipv4": {
                        "id": public.id,
                        "address": public.address.map(|a| a.to_string()).unwrap_or_default(),
                        "type": if public.is_static { "static" } else { "dynamic" },
                    }
                }]
            }],
            "virtualization_features": {"nested_virtualization": vm.nested_virtualization}
        })
    }

    pub fn disk_json(&self, d: &Disk) -> Value {
        json!({
            "id": d.id,
            "name": d.name,
            "location": d.location,
            "size": d.size,
            "type": d.disk_type,
            "block_size": d.block_size,
            "serial_number": d.serial,
            "created_at": d.created_at,
            "updated_at": d.updated_at,
            "attached_to": d.attached_to.iter().map(|a| json!({
                "vm_id": a.vm_id,
                "attachment_type": a.attachment_type,
                "mode": a.mode,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn network_json(&self, n: &Network) -> Value {
        let subnets: Vec<&str> = self
            .subnets
            .values()
            .filter(|s| s.network_id == n.id)
            .map(|s| s.id.as_str())
            .collect();
        json!({"id": n.id, "name": n.name, "cidr": n.cidr, "gateway": n.gateway, "subnets": subnets})
    }

    pub fn subnet_json(&self, s: &Subnet) -> Value {
        json!({
            "id": s.id,
            "name": s.name,
            "cidr": s.cidr,
            "location": s.location,
            "vpc_network_id": s.network_id,
            "nat_gateways": [],
        })
    }

    /// Everything the project holds, for the inspection endpoint.
    pub fn inventory(&self) -> Value {
        let mut vms: Vec<&Vm> = self.vms.values().collect();
        vms.sort_by_key(|v| v.seq);
        json!({
            "id": self.id,
            // Beyond Crusoe's shape, what the VM was created with, so tests can see it.
            "vms": vms.iter().map(|v| {
                let mut vm = self.vm_json(v);
                vm["sim"] = json!({"image": v.image, "startup_script": v.startup_script, "install_crusoe_watch_agent": v.watch_agent, "reservation_specification": v.reservation, "running_since_unix_ms": v.running_since_ms});
                vm
            }).collect::<Vec<_>>(),
            "disks": self.disks.values().map(|d| self.disk_json(d)).collect::<Vec<_>>(),
            "vpc_networks": self.networks.values().map(|n| self.network_json(n)).collect::<Vec<_>>(),
            "vpc_subnets": self.subnets.values().map(|s| self.subnet_json(s)).collect::<Vec<_>>(),
            "firewall_rules": self.firewall_rules.values().collect::<Vec<_>>(),
            "load_balancers": self.load_balancers.values().collect::<Vec<_>>(),
            "custom_images": self.custom_images.values().collect::<Vec<_>>(),
        })
    }
}

fn attached_disk_json(d: &Disk, a: &Attachment) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "attachment_type": a.attachment_type,
        "block_size": d.block_size,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "location": d.location,
        "mode": a.mode,
        "serial_number": d.serial,
        "size": d.size,
        "type": d.disk_type,
    })
}

/// Parses `a.b.c.d/n` where the address is the network address and the range is private
/// (RFC 1918), as Crusoe requires for VPC networks and subnets.
pub fn parse_private_cidr(cidr: &str) -> Result<(u32, u8), &'static str> {
    let (addr, len) = cidr.split_once('/').ok_or("is not in CIDR notation")?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| "is not an IPv4 address")?;
    let len: u8 = len.parse().map_err(|_| "has an invalid prefix length")?;
    if !(8..=29).contains(&len) {
        return Err("prefix length must be between 8 and 29");
    }
    let base = u32::from(addr);
    let mask = u32::MAX << (32 - len);
    if base & !mask != 0 {
        return Err("has host bits set");
    }
    let in_range = |net: u32, bits: u8| (base & (u32::MAX << (32 - bits))) == net && len >= bits;
    let private = in_range(u32::from(Ipv4Addr::new(10, 0, 0, 0)), 8)
        || in_range(u32::from(Ipv4Addr::new(172, 16, 0, 0)), 12)
        || in_range(u32::from(Ipv4Addr::new(192, 168, 0, 0)), 16);
    if !private {
        return Err("is not a private (RFC 1918) range");
    }
    Ok((base, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rfc1918_network_addresses_are_accepted() {
        assert!(parse_private_cidr("10.0.0.0/16").is_ok());
        assert!(parse_private_cidr("172.27.0.0/24").is_ok());
        assert!(parse_private_cidr("192.168.4.0/24").is_ok());
        assert!(parse_private_cidr("172.32.0.0/16").is_err());
        assert!(parse_private_cidr("8.8.8.0/24").is_err());
        assert!(parse_private_cidr("10.0.0.1/24").is_err());
        assert!(parse_private_cidr("172.16.0.0/8").is_err());
        assert!(parse_private_cidr("10.0.0.0").is_err());
    }

    #[test]
    fn subnet_hands_out_hosts_from_dot_two_and_reuses_released_ones() {
        let (base, len) = parse_private_cidr("10.1.0.0/29").unwrap();
        let mut s = Subnet {
            id: "s".into(),
            name: "s".into(),
            cidr: "10.1.0.0/29".into(),
            location: "l".into(),
            network_id: "n".into(),
            base,
            size: 1 << (32 - len),
            next_host: 2,
            free_hosts: vec![],
        };
        let ips: Vec<_> = std::iter::from_fn(|| s.allocate()).collect();
        assert_eq!(ips.first().unwrap().to_string(), "10.1.0.2");
        assert_eq!(
            ips.last().unwrap().to_string(),
            "10.1.0.6",
            "broadcast is kept free"
        );
        s.release(ips[1]);
        assert_eq!(s.allocate(), Some(ips[1]));
    }
}
