//! The simulated cloud's whole state, behind one lock. Time moves lazily: every request first
//! completes the operations whose time has come, in order, so the simulator needs no background
//! task and a seeded run is repeatable.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::catalog;
use super::resources::{parse_private_cidr, Attachment, Network, Project, Subnet, VmState};

/// Faults to inject, as shares of requests or operations (0.0 to 1.0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Requests answered 500, 502 or 503.
    pub server_error_rate: f64,
    /// Requests answered 429.
    pub rate_limit_rate: f64,
    /// Requests whose connection is cut before the answer completes (nothing was done).
    pub connection_reset_rate: f64,
    /// Requests carried out whose answer is then lost: the connection is cut after the work.
    pub lost_answer_rate: f64,
    /// Added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Operations that end FAILED with `internal_error`.
    pub operation_failure_rate: f64,
    /// Operations that stay IN_PROGRESS for ever.
    pub stuck_operation_rate: f64,
    /// Guests whose startup script asks for a power-off that never comes (the script failed).
    pub stuck_guest_rate: f64,
    /// DELETE of a VM that is not `STATE_SHUTOFF` is refused with 400, as a packer plugin commit
    /// says Crusoe does (modal-labs/packer-plugin-crusoe 414a312; Crusoe's terraform provider
    /// deletes running VMs).
    pub delete_needs_stopped_vm: bool,
    /// DELETE of a VM within this many milliseconds of its last change (an operation finishing,
    /// its guest powering off) is answered 409, as the packer plugin saw right after
    /// `STATE_SHUTOFF` (60b0774).
    pub delete_conflict_after_change_ms: u64,
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("server_error_rate", self.server_error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("connection_reset_rate", self.connection_reset_rate),
            ("lost_answer_rate", self.lost_answer_rate),
            ("operation_failure_rate", self.operation_failure_rate),
            ("stuck_operation_rate", self.stuck_operation_rate),
            ("stuck_guest_rate", self.stuck_guest_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// What happens to one request before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    ServerError(u16),
    RateLimited,
    ConnectionReset,
    LostAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Vms,
    Disks,
    Networks,
    Subnets,
    FirewallRules,
    LoadBalancers,
    CustomImages,
}

#[derive(Debug, Clone)]
pub enum Action {
    CreateVm {
        took_capacity: bool,
    },
    DeleteVm {
        previous: VmState,
    },
    StartVm,
    StopVm,
    ResetVm,
    MakeIpStatic,
    AttachDisks(Vec<DiskToAttach>),
    DetachDisks(Vec<String>),
    CreateDisk,
    DeleteDisk,
    DeleteNetwork,
    DeleteSubnet,
    CreateFirewallRule,
    DeleteFirewallRule,
    /// The address it will have once made.
    CreateLoadBalancer(Ipv4Addr),
    UpdateLoadBalancer(Value),
    DeleteLoadBalancer,
    /// The image as it will be listed once made.
    CreateCustomImage(Value),
    DeleteCustomImage,
}

/// A disk named in an attach request.
#[derive(Debug, Clone)]
pub struct DiskToAttach {
    pub disk_id: String,
    pub attachment_type: String,
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    Succeed,
    Fail { code: String, message: String },
    Never,
}

#[derive(Debug, Clone)]
struct Op {
    /// When it is due, in Unix milliseconds.
    due_ms: u64,
    id: String,
    project: String,
    family: Family,
    resource_id: String,
    action: Action,
    state: &'static str,
    started_at: String,
    completed_at: String,
    fate: Fate,
    result: Option<Value>,
}

impl Op {
    fn json(&self) -> Value {
        // The resource's id in `metadata` only where a Crusoe client reads it there (the packer
        // plugin, for VMs and custom images); Crusoe's other clients read ids from the finished
        // operation's result, so the bridge must too.
        let metadata = match self.family {
            Family::Vms | Family::CustomImages => json!({"id": self.resource_id}),
            _ => json!({}),
        };
        let mut v = json!({
            "operation_id": self.id,
            "state": self.state,
            "metadata": metadata,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
        });
        if let Some(result) = &self.result {
            v["result"] = result.clone();
        }
        v
    }
}

#[derive(Debug, Clone)]
pub struct Timing {
    /// How long an operation takes.
    pub op_delay: Duration,
    /// How long a finished operation can still be read.
    pub op_ttl: Duration,
}

pub struct World {
    pub projects: BTreeMap<String, Project>,
    /// access key id -> secret key
    pub secrets: HashMap<String, String>,
    pub capacity: BTreeMap<(String, String), u32>,
    pub faults: Faults,
    pub timing: Timing,
    ops: HashMap<String, Op>,
    pending: BTreeMap<(Instant, u64), String>,
    finished: VecDeque<(Instant, String)>,
    seq: u64,
    rng: StdRng,
    next_public: u32,
    free_public: Vec<u32>,
    pub upper_case_macs: bool,
    /// Guests that will power themselves off: (when, seq) -> (project, VM id).
    power_offs: BTreeMap<(Instant, u64), (String, String)>,
}

/// Synthetic public addresses come from 198.18.0.0/15 (reserved for benchmarking): room for
/// 131 070 of them, and never a real host's.
const PUBLIC_BASE: u32 = 0xC612_0000;
const PUBLIC_SIZE: u32 = 1 << 17;

pub fn timestamp() -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    now.format(&Rfc3339).unwrap_or_default()
}

impl World {
    pub fn new(seed: u64, timing: Timing, faults: Faults) -> Self {
        let mut capacity = BTreeMap::new();
        for location in catalog::LOCATIONS {
            for t in catalog::VM_TYPES {
                capacity.insert(
                    (location.to_string(), t.product_name.to_string()),
                    catalog::default_quantity(location, t),
                );
            }
        }
        Self {
            projects: BTreeMap::new(),
            secrets: HashMap::new(),
            capacity,
            faults,
            timing,
            ops: HashMap::new(),
            pending: BTreeMap::new(),
            finished: VecDeque::new(),
            seq: 0,
            rng: StdRng::seed_from_u64(seed),
            next_public: 1,
            free_public: Vec::new(),
            upper_case_macs: false,
            power_offs: BTreeMap::new(),
        }
    }

    pub fn new_id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn new_mac(&mut self) -> String {
        let b: [u8; 5] = self.rng.random();
        // Locally administered, unicast.
        let mac = format!(
            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4]
        );
        if self.upper_case_macs {
            mac.to_ascii_uppercase()
        } else {
            mac
        }
    }

    pub fn new_serial(&mut self) -> String {
        let b: [u8; 10] = self.rng.random();
        b.iter().map(|x| format!("{x:02X}")).collect::<String>()[..19].to_string()
    }

    pub fn allocate_public(&mut self) -> Option<Ipv4Addr> {
        let host = match self.free_public.pop() {
            Some(h) => h,
            None if self.next_public < PUBLIC_SIZE - 1 => {
                self.next_public += 1;
                self.next_public - 1
            }
            None => return None,
        };
        Some(Ipv4Addr::from(PUBLIC_BASE + host))
    }

    pub fn release_public(&mut self, ip: Ipv4Addr) {
        let h = u32::from(ip).wrapping_sub(PUBLIC_BASE);
        if h < PUBLIC_SIZE {
            self.free_public.push(h);
        }
    }

    /// Adds a key pair owning a project, with Crusoe's usual starting point: a default VPC
    /// network with one subnet per location, and one custom image.
    pub fn add_key(&mut self, access_key_id: &str, secret_key: &str, project_id: &str) {
        self.secrets
            .insert(access_key_id.to_string(), secret_key.to_string());
        if self.projects.contains_key(project_id) {
            return;
        }
        let mut project = Project {
            id: project_id.to_string(),
            name: format!("project-{}", &project_id[..project_id.len().min(8)]),
            owner_key: access_key_id.to_string(),
            ..Default::default()
        };
        let network = Network {
            id: self.new_id(),
            name: "default-ethernet".into(),
            cidr: "172.16.0.0/12".into(),
            gateway: self.new_id(),
        };
        for (i, location) in catalog::LOCATIONS.iter().enumerate() {
            let cidr = format!("172.{}.0.0/16", 16 + i);
            let subnet =
                self.new_subnet(&format!("default-{location}"), &cidr, location, &network.id);
            project.subnets.insert(subnet.id.clone(), subnet);
        }
        project.networks.insert(network.id.clone(), network);
        self.projects.insert(project_id.to_string(), project);
    }

    pub fn new_subnet(
        &mut self,
        name: &str,
        cidr: &str,
        location: &str,
        network_id: &str,
    ) -> Subnet {
        let (base, len) = parse_private_cidr(cidr).expect("caller validated the CIDR");
        Subnet {
            id: self.new_id(),
            name: name.to_string(),
            cidr: cidr.to_string(),
            location: location.to_string(),
            network_id: network_id.to_string(),
            base,
            size: 1u32 << (32 - len),
            next_host: 2,
            free_hosts: Vec::new(),
        }
    }

    /// Projects an access key may use.
    pub fn owns(&self, access_key_id: &str, project_id: &str) -> bool {
        self.projects
            .get(project_id)
            .is_some_and(|p| p.owner_key == access_key_id)
    }

    /// Draws the fault, if any, for one incoming request.
    pub fn draw_request_fault(&mut self) -> Option<RequestFault> {
        let f = self.faults.clone();
        if f.connection_reset_rate > 0.0 && self.rng.random::<f64>() < f.connection_reset_rate {
            return Some(RequestFault::ConnectionReset);
        }
        if f.lost_answer_rate > 0.0 && self.rng.random::<f64>() < f.lost_answer_rate {
            return Some(RequestFault::LostAnswer);
        }
        if f.server_error_rate > 0.0 && self.rng.random::<f64>() < f.server_error_rate {
            let status = [500, 502, 503][self.rng.random_range(0..3)];
            return Some(RequestFault::ServerError(status));
        }
        if f.rate_limit_rate > 0.0 && self.rng.random::<f64>() < f.rate_limit_rate {
            return Some(RequestFault::RateLimited);
        }
        None
    }

    /// The fate of a new operation: what the request asked for, unless a fault says otherwise.
    pub fn draw_fate(&mut self, planned: Fate) -> Fate {
        if planned != Fate::Succeed {
            return planned;
        }
        let f = self.faults.clone();
        if f.stuck_operation_rate > 0.0 && self.rng.random::<f64>() < f.stuck_operation_rate {
            return Fate::Never;
        }
        if f.operation_failure_rate > 0.0 && self.rng.random::<f64>() < f.operation_failure_rate {
            return Fate::Fail {
                code: "internal_error".into(),
                message: "the operation failed (injected fault)".into(),
            };
        }
        Fate::Succeed
    }

    /// Starts an operation and returns its IN_PROGRESS rendering, as the POST/PATCH/DELETE answer.
    pub fn start_op(
        &mut self,
        project: &str,
        family: Family,
        resource_id: &str,
        action: Action,
        fate: Fate,
    ) -> Value {
        let id = self.new_id().to_uppercase();
        let fate = self.draw_fate(fate);
        let never = fate == Fate::Never;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let op = Op {
            due_ms: now_ms + self.timing.op_delay.as_millis() as u64,
            id: id.clone(),
            project: project.to_string(),
            family,
            resource_id: resource_id.to_string(),
            action,
            state: "IN_PROGRESS",
            started_at: timestamp(),
            completed_at: String::new(),
            fate,
            result: None,
        };
        let answer = op.json();
        if family == Family::Vms {
            if let Some(vm) = self
                .projects
                .get_mut(project)
                .and_then(|p| p.vms.get_mut(resource_id))
            {
                vm.busy_with = Some(id.clone());
            }
        }
        self.ops.insert(id.clone(), op);
        if !never {
            let seq = self.next_seq();
            self.pending
                .insert((Instant::now() + self.timing.op_delay, seq), id);
        }
        answer
    }

    /// Reads an operation the way Crusoe's operation endpoints do: only within its own family and
    /// project, and only until it expires.
    pub fn operation(&self, project: &str, family: Family, id: &str) -> Option<Value> {
        self.ops
            .get(id)
            .filter(|op| op.project == project && op.family == family)
            .map(Op::json)
    }

    /// A family's operations in a project that have not expired, oldest first; only those on
    /// `resource` and in `states` when given.
    pub fn operations(
        &self,
        project: &str,
        family: Family,
        resource: Option<&str>,
        states: &[String],
    ) -> Vec<Value> {
        let mut ops: Vec<&Op> = self
            .ops
            .values()
            .filter(|op| op.project == project && op.family == family)
            .filter(|op| resource.is_none_or(|r| op.resource_id == r))
            .filter(|op| states.is_empty() || states.iter().any(|s| s == op.state))
            .collect();
        ops.sort_by_key(|op| op.due_ms);
        ops.into_iter().map(Op::json).collect()
    }

    pub fn pending_operations(&self) -> usize {
        self.ops
            .values()
            .filter(|o| o.state == "IN_PROGRESS")
            .count()
    }

    /// Completes every operation whose time has come, powers off the guests that asked for it,
    /// and forgets expired operations.
    pub fn advance(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.power_offs.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (project, vm_id) = entry.remove();
            self.guest_power_off(&project, &vm_id);
        }
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let id = entry.remove();
            self.complete(&id);
            self.finished.push_back((now, id));
        }
        while let Some((at, _)) = self.finished.front() {
            if now.duration_since(*at) < self.timing.op_ttl {
                break;
            }
            let (_, id) = self.finished.pop_front().expect("front exists");
            self.ops.remove(&id);
        }
    }

    fn complete(&mut self, id: &str) {
        let Some(op) = self.ops.get(id).cloned() else {
            return;
        };
        let result = match &op.fate {
            Fate::Succeed => Ok(self.succeed(&op)),
            Fate::Fail { code, message } => {
                self.roll_back(&op);
                Err(json!({"code": code, "message": message}))
            }
            Fate::Never => return,
        };
        if op.family == Family::Vms {
            if let Some(vm) = self
                .projects
                .get_mut(&op.project)
                .and_then(|p| p.vms.get_mut(&op.resource_id))
            {
                if vm.busy_with.as_deref() == Some(id) {
                    vm.busy_with = None;
                }
                vm.changed_at = Some(Instant::now());
            }
        }
        let stored = self.ops.get_mut(id).expect("op exists");
        stored.completed_at = timestamp();
        match result {
            Ok(value) => {
                stored.state = "SUCCEEDED";
                stored.result = Some(value);
            }
            Err(failure) => {
                stored.state = "FAILED";
                stored.result = Some(failure);
            }
        }
    }

    /// A boot: the guest's startup script runs, and one that powers off is due to have done so
    /// one operation delay later (see `guest`).
    fn booted(&mut self, op: &Op) {
        let powers_off = self
            .vm(op, |vm| {
                vm.startup_script
                    .as_deref()
                    .is_some_and(super::guest::powers_off)
            })
            .unwrap_or(false);
        let stuck = self.faults.stuck_guest_rate;
        if powers_off && !(stuck > 0.0 && self.rng.random::<f64>() < stuck) {
            let seq = self.next_seq();
            self.power_offs.insert(
                (Instant::now() + self.timing.op_delay, seq),
                (op.project.clone(), op.resource_id.clone()),
            );
        }
    }

    /// What a guest's own power-off does: the VM shuts off and a dynamic address goes.
    fn guest_power_off(&mut self, project: &str, vm_id: &str) {
        let Some(vm) = self
            .projects
            .get_mut(project)
            .and_then(|p| p.vms.get_mut(vm_id))
            .filter(|vm| vm.state == VmState::Running && vm.busy_with.is_none())
        else {
            return;
        };
        vm.state = VmState::Shutoff;
        vm.changed_at = Some(Instant::now());
        vm.updated_at = timestamp();
        if !vm.public_ip.is_static {
            if let Some(ip) = vm.public_ip.address.take() {
                self.release_public(ip);
            }
        }
    }

    fn succeed(&mut self, op: &Op) -> Value {
        let now = timestamp();
        let rid = op.resource_id.as_str();
        match &op.action {
            Action::CreateVm { .. } | Action::StartVm => {
                let need_ip = self
                    .vm(op, |vm| vm.public_ip.address.is_none())
                    .unwrap_or(false);
                let ip = if need_ip {
                    self.allocate_public()
                } else {
                    None
                };
                let mac = self.new_mac();
                let due = op.due_ms;
                self.with_vm(op, |vm| {
                    vm.state = VmState::Running;
                    vm.running_since_ms = Some(due);
                    vm.mac.get_or_insert(mac);
                    if ip.is_some() {
                        vm.public_ip.address = ip;
                    }
                    vm.updated_at = now.clone();
                });
                self.booted(op);
                self.vm_json(op)
            }
            Action::StopVm => {
                let released = self
                    .vm(op, |vm| {
                        (!vm.public_ip.is_static)
                            .then_some(vm.public_ip.address)
                            .flatten()
                    })
                    .flatten();
                if let Some(ip) = released {
                    self.release_public(ip);
                }
                self.with_vm(op, |vm| {
                    vm.state = VmState::Shutoff;
                    if !vm.public_ip.is_static {
                        vm.public_ip.address = None;
                    }
                    vm.updated_at = now.clone();
                });
                self.vm_json(op)
            }
            Action::ResetVm => {
                self.with_vm(op, |vm| {
                    vm.state = VmState::Running;
                    vm.updated_at = now.clone();
                });
                self.booted(op);
                self.vm_json(op)
            }
            Action::MakeIpStatic => {
                self.with_vm(op, |vm| vm.public_ip.is_static = true);
                self.vm_json(op)
            }
            Action::DeleteVm { .. } => {
                self.remove_vm(&op.project, rid, true);
                json!({})
            }
            Action::AttachDisks(attachments) => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    for a in attachments {
                        if let Some(d) = p.disks.get_mut(&a.disk_id) {
                            if !d.attached_to.iter().any(|x| x.vm_id == rid) {
                                d.attached_to.push(Attachment {
                                    vm_id: rid.to_string(),
                                    attachment_type: a.attachment_type.clone(),
                                    mode: a.mode.clone(),
                                });
                            }
                        }
                    }
                }
                self.vm_json(op)
            }
            Action::DetachDisks(ids) => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    for id in ids {
                        if let Some(d) = p.disks.get_mut(id) {
                            d.attached_to.retain(|a| a.vm_id != rid);
                        }
                    }
                }
                self.vm_json(op)
            }
            Action::CreateDisk => self
                .projects
                .get(&op.project)
                .and_then(|p| p.disks.get(rid).map(|d| p.disk_json(d)))
                .unwrap_or_else(|| json!({})),
            Action::DeleteDisk => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.disks.remove(rid);
                }
                json!({})
            }
            Action::DeleteNetwork => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.networks.remove(rid);
                }
                json!({})
            }
            Action::DeleteSubnet => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.subnets.remove(rid);
                }
                json!({})
            }
            Action::CreateFirewallRule => self
                .projects
                .get(&op.project)
                .and_then(|p| p.firewall_rules.get(rid).cloned())
                .unwrap_or_else(|| json!({})),
            // A load balancer gets its address when made, as Crusoe's LB controller reads it
            // from the finished operation; until then it is listed without one.
            Action::CreateLoadBalancer(vip) => match self
                .projects
                .get_mut(&op.project)
                .and_then(|p| p.load_balancers.get_mut(rid))
            {
                Some(lb) => {
                    lb["vip"] = vip.to_string().into();
                    lb.clone()
                }
                None => {
                    self.release_public(*vip);
                    json!({})
                }
            },
            Action::DeleteFirewallRule => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.firewall_rules.remove(rid);
                }
                json!({})
            }
            Action::UpdateLoadBalancer(listeners) => {
                let p = self.projects.get_mut(&op.project);
                match p.and_then(|p| p.load_balancers.get_mut(rid)) {
                    Some(lb) => {
                        lb["listen_ports_and_backends"] = listeners.clone();
                        lb.clone()
                    }
                    None => json!({}),
                }
            }
            Action::DeleteLoadBalancer => {
                self.remove_load_balancer(&op.project, rid);
                json!({})
            }
            Action::CreateCustomImage(image) => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.custom_images.insert(rid.to_string(), image.clone());
                }
                image.clone()
            }
            Action::DeleteCustomImage => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.custom_images.remove(rid);
                }
                json!({})
            }
        }
    }

    fn roll_back(&mut self, op: &Op) {
        let rid = op.resource_id.as_str();
        match &op.action {
            Action::CreateVm { took_capacity } => self.remove_vm(&op.project, rid, *took_capacity),
            Action::DeleteVm { previous } => {
                let previous = *previous;
                self.with_vm(op, |vm| vm.state = previous);
            }
            Action::StartVm => self.with_vm(op, |vm| vm.state = VmState::Shutoff),
            Action::StopVm | Action::ResetVm => self.with_vm(op, |vm| vm.state = VmState::Running),
            Action::CreateDisk => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.disks.remove(rid);
                }
            }
            Action::CreateFirewallRule => {
                if let Some(p) = self.projects.get_mut(&op.project) {
                    p.firewall_rules.remove(rid);
                }
            }
            Action::CreateLoadBalancer(vip) => {
                self.remove_load_balancer(&op.project, rid);
                self.release_public(*vip);
            }
            _ => {}
        }
    }

    /// Removes a load balancer and frees its address.
    fn remove_load_balancer(&mut self, project: &str, id: &str) {
        let vip = self
            .projects
            .get_mut(project)
            .and_then(|p| p.load_balancers.remove(id))
            .and_then(|lb| lb["vip"].as_str().and_then(|v| v.parse().ok()));
        if let Some(vip) = vip {
            self.release_public(vip);
        }
    }

    /// Removes a VM with what dies with it (its OS disk, its addresses), detaching data disks.
    pub fn remove_vm(&mut self, project: &str, vm_id: &str, return_capacity: bool) {
        let Some(p) = self.projects.get_mut(project) else {
            return;
        };
        let Some(vm) = p.vms.remove(vm_id) else {
            return;
        };
        p.disks.remove(&vm.os_disk_id);
        for d in p.disks.values_mut() {
            d.attached_to.retain(|a| a.vm_id != vm_id);
        }
        if let Some(s) = p.subnets.get_mut(&vm.subnet_id) {
            s.release(vm.private_ip);
        }
        if let Some(ip) = vm.public_ip.address {
            self.release_public(ip);
        }
        if return_capacity {
            *self
                .capacity
                .entry((vm.location.clone(), vm.vm_type.clone()))
                .or_insert(0) += 1;
        }
    }

    fn with_vm(&mut self, op: &Op, f: impl FnOnce(&mut super::resources::Vm)) {
        if let Some(vm) = self
            .projects
            .get_mut(&op.project)
            .and_then(|p| p.vms.get_mut(&op.resource_id))
        {
            f(vm);
        }
    }

    fn vm<T>(&self, op: &Op, f: impl FnOnce(&super::resources::Vm) -> T) -> Option<T> {
        self.projects
            .get(&op.project)
            .and_then(|p| p.vms.get(&op.resource_id))
            .map(f)
    }

    fn vm_json(&self, op: &Op) -> Value {
        self.projects
            .get(&op.project)
            .and_then(|p| p.vms.get(&op.resource_id).map(|vm| p.vm_json(vm)))
            .unwrap_or_else(|| json!({}))
    }
}
