//! Servers: provision, provision-status, restart, decommission. Everything is found by its
//! deterministic name, so every call is safe to repeat, on any replica, after any crash.
//!
//! Provision does the creating (data disk, then VM) and answers as soon as Crusoe has accepted the
//! VM; provision-status observes and takes the next step (make the address static, start a stopped
//! VM) and reports. Cycle's provision-status request does not carry the model, so a VM can only be
//! created by provision without making `extra` the only copy of its type.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::boot::BootVars;
use super::catalog::is_compatible;
use super::create::{create_once, Created};
use super::error::{BridgeError, Doing};
use super::identity;
use super::lookup::vms_named;
use super::naming;
use super::network::LocationConfig;
use super::tenant::Tenant;
use super::Bridge;
use crate::ial::types::{
    ProvisionResponse, ProvisionServer, ProvisionStatus, ProvisionStatusResponse, ServerAuth,
    ServerRef,
};
use crusoe_sdk::ids::PathId;
use crusoe_sdk::types::{
    CreateDiskRequest, CreateVmRequest, Disk, DiskAttachment, DiskFilter, IpAddressesRequest,
    NetworkInterfaceRequest, Operation, OperationState, PublicIpv4Address, PublicIpv4Request,
    UpdateVmRequest, Vm, VmAction, VmState,
};
use crusoe_sdk::{CrusoeError, OperationFamily};

/// CycleOS takes 35 GB for its base volume and needs 45 GB in all.
pub const CYCLEOS_MIN_DISK_GB: u32 = 45;
/// Largest data disk a provision may ask for, in GiB.
const MAX_STORAGE_GIB: u64 = 64 * 1024;

const EXTRA_VM_NAME: &str = "vm_name";
const EXTRA_VM_OPERATION: &str = "vm_operation_id";
const EXTRA_DISK_OPERATION: &str = "disk_operation_id";

/// The VMs that carry a name, oldest first.
pub async fn find_vms(t: &Tenant, name: &str) -> Result<Vec<Vm>, BridgeError> {
    vms_named(&t.client, &t.project_id, name)
        .await
        .doing(|| format!("looking up VM {name}"))
}

/// What provision-status needs of a VM. The status view holds one for every server in flight, so
/// it keeps no more: a full VM record with its nested lists cost several kilobytes each.
#[derive(Debug, Clone)]
pub struct VmStatus {
    pub id: String,
    pub name: String,
    pub state: VmState,
    pub created_at: String,
    pub mac_address: Option<String>,
    pub public_ipv4: Option<PublicIpv4Address>,
}

impl From<Vm> for VmStatus {
    fn from(vm: Vm) -> Self {
        Self {
            mac_address: vm.mac_address().map(str::to_string),
            public_ipv4: vm.public_ipv4().cloned(),
            id: vm.id,
            name: vm.name,
            state: vm.state,
            created_at: vm.created_at,
        }
    }
}

/// When replicas raced and Crusoe holds several VMs of one name, the oldest wins and the others
/// are deleted; a deletion that cannot start now is tried again at the next call.
async fn keep_oldest(t: &Tenant, mut vms: Vec<VmStatus>) -> Option<VmStatus> {
    if vms.is_empty() {
        return None;
    }
    let oldest = vms.remove(0);
    for duplicate in vms.iter().filter(|v| !v.state.is_terminal()) {
        tracing::warn!(vm = %duplicate.name, id = %duplicate.id, "deleting a duplicate VM; the oldest of the name is kept");
        if let Err(e) = t.client.delete_vm(&t.project_id, &duplicate.id).await {
            tracing::warn!(vm = %duplicate.name, "duplicate not deleted yet: {e}");
        }
    }
    Some(oldest)
}

/// `provision_options` storage, in GB: `attached_storage_size` or `storage_size`, number or text.
fn requested_storage(options: Option<&Map<String, Value>>) -> Result<Option<u64>, BridgeError> {
    for key in ["attached_storage_size", "storage_size"] {
        let pointer = format!("/request/provision_options/{key}");
        let value = match options.and_then(|o| o.get(key)) {
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let gb = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .filter(|gb| *gb <= MAX_STORAGE_GIB)
        .ok_or_else(|| {
            BridgeError::invalid(
                format!("{pointer} must be a whole number of GB up to {MAX_STORAGE_GIB}"),
                &pointer,
            )
        })?;
        if gb > 0 {
            return Ok(Some(gb));
        }
    }
    Ok(None)
}

fn reservation(options: Option<&Map<String, Value>>) -> Result<Option<String>, BridgeError> {
    match options.and_then(|o| o.get("reservation_id")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => PathId::parse("reservation id", s)
            .map(|id| Some(id.as_str().to_string()))
            .map_err(|e| {
                BridgeError::invalid(
                    format!("/request/provision_options/reservation_id {}", e.reason),
                    "/request/provision_options/reservation_id",
                )
            }),
        Some(_) => Err(BridgeError::invalid(
            "/request/provision_options/reservation_id must be a string",
            "/request/provision_options/reservation_id",
        )),
    }
}

pub async fn provision(
    b: &Bridge,
    t: &Tenant,
    req: ProvisionServer,
) -> Result<ProvisionResponse, BridgeError> {
    let cycle_id = naming::cycle_id(&req.cycle.server_id, "/request/cycle/server_id")?;
    // Go marshals an unset ObjectID as 24 zeros: that names no server, and every server sent
    // so would share one VM.
    if cycle_id.bytes().all(|b| b == b'0') {
        return Err(BridgeError::invalid(
            "/request/cycle/server_id is Cycle's zero ObjectID: it names no server",
            "/request/cycle/server_id",
        ));
    }
    let name = naming::server_name(cycle_id);
    let location = req.location_id.trim();
    let model_id = req.model_id.trim();

    // Everything that can be refused is checked before anything is created.
    let snap = b.catalog.snapshot(t).await?;
    let model = snap.vm_type(model_id).ok_or_else(|| {
        BridgeError::invalid(
            format!("model {model_id:?} is not a Crusoe VM type in this project"),
            "/request/model_id",
        )
    })?;
    if !is_compatible(model) {
        return Err(BridgeError::invalid(
            format!(
                "model {model_id} cannot run CycleOS, which needs x86-64 and at least 4 GB of memory ({} CPU, {} GB)",
                model.cpu_type, model.memory_gb
            ),
            "/request/model_id",
        ));
    }
    if !b.catalog.is_offered(&snap, location) {
        return Err(BridgeError::invalid(
            format!("location {location:?} is not offered by this bridge"),
            "/request/location_id",
        ));
    }
    if !snap.offers(model_id, location) {
        return Err(BridgeError::invalid(
            format!("model {model_id} is not offered in {location}"),
            "/request/model_id",
        ));
    }
    let network = LocationConfig::from_request(
        req.location_configuration.as_ref(),
        location,
        "/request/location_configuration",
    )?;
    let options = req.provision_options.as_ref();
    let storage = requested_storage(options)?;
    if let Some(id) = reservation(options)? {
        // Crusoe's terraform provider stopped sending reservation_specification (2026-01) and
        // warns "The requested reservation_id was ignored by the backend": say so, send nothing.
        tracing::warn!(
            reservation = %id,
            server = %name,
            "Crusoe ignores a reservation given at VM creation; the server is created on demand"
        );
    }
    // CycleOS's storage is never the boot disk, which holds only iPXE: a type's `disk_gb` is its
    // own local disks (0 on CPU types, NVMe on GPU types), and a data disk makes up for too few.
    let too_small = model.disk_gb < i64::from(CYCLEOS_MIN_DISK_GB);
    let disk_gib = match storage {
        Some(gb) if too_small => Some(gb.max(u64::from(CYCLEOS_MIN_DISK_GB))),
        Some(gb) => Some(gb),
        None if too_small => Some(u64::from(b.settings.boot.data_disk_gib)),
        None => None,
    };
    let startup_script = b.boot.render(&BootVars {
        hostname: req.hostname.trim(),
        server_name: &name,
        cycle_server_id: cycle_id,
        hub_id: &t.hub,
        location,
        model: model_id,
    })?;

    let _guard = b
        .locks
        .lock(&format!("server/{}/{name}", t.project_id))
        .await;
    let mut extra = Map::new();
    extra.insert(EXTRA_VM_NAME.into(), name.clone().into());
    let answer = |extra| ProvisionResponse {
        server_id: name.clone(),
        location_modified: false,
        extra,
    };
    let vms = find_vms(t, &name).await?;
    if let Some(vm) = keep_oldest(t, vms.into_iter().map(VmStatus::from).collect()).await {
        if vm.state.is_terminal() {
            return Err(BridgeError::Conflict(format!(
                "server {name} is being deleted; provision again once it is gone"
            )));
        }
        // Provisioned already (a retry, a concurrent call, another replica): nothing new.
        return Ok(answer(extra));
    }
    // A server created from a boot image that does not exist would boot nothing.
    let boot_image = match &b.boot_images {
        Some(images) => Some(images.id_for(t, location).await?),
        None => None,
    };

    let stock: u32 = t
        .client
        .list_capacities(&[model_id.to_string()], &[location.to_string()])
        .await
        .doing(|| format!("checking stock of {model_id} in {location}"))?
        .iter()
        .filter(|c| c.location == location && c.product_name.as_deref() == Some(model_id))
        .map(|c| c.quantity)
        .sum();
    if stock == 0 {
        return Err(BridgeError::OutOfStock(format!(
            "Crusoe has no {model_id} in stock in {location} right now; nothing was created. Choose another model or location, or retry later"
        )));
    }

    let disk_id = match disk_gib {
        Some(gib) => Some(ensure_disk(b, t, &name, location, gib, &mut extra).await?),
        None => None,
    };
    let request = CreateVmRequest {
        name: name.clone(),
        vm_type: model_id.to_string(),
        location: location.to_string(),
        ssh_public_key: b.boot.ssh_public_key.clone(),
        image: b.boot.public_image().map(str::to_string),
        custom_image: boot_image,
        startup_script,
        network_interfaces: Some(vec![NetworkInterfaceRequest {
            subnet: Some(network.subnet_id.clone()),
            // CycleOS needs a static public address.
            ips: vec![IpAddressesRequest {
                public_ipv4: PublicIpv4Request {
                    ip_type: "static".into(),
                    id: None,
                },
            }],
        }]),
        disks: disk_id
            .as_ref()
            .map(|id| vec![DiskAttachment::data_read_write(id)]),
        // Crusoe installs its agent by default; the boot disk will hold only iPXE.
        install_crusoe_watch_agent: Some(false),
        ..Default::default()
    };
    let created = create_once(
        || t.client.create_vm(&t.project_id, &request),
        || async {
            let vms = vms_named(&t.client, &t.project_id, &name).await?;
            Ok(vms.into_iter().next())
        },
    )
    .await;
    match created {
        Ok(Created::Accepted(op)) => {
            extra.insert(EXTRA_VM_OPERATION.into(), op.operation_id.into());
            Ok(answer(extra))
        }
        // An attempt whose answer was lost made it: provision-status takes it from here.
        Ok(Created::Found(_)) => Ok(answer(extra)),
        // Another replica created the VM (and attached the disk) a moment ago: same outcome.
        Err(CrusoeError::Conflict(_)) if !find_vms(t, &name).await?.is_empty() => Ok(answer(extra)),
        // Crusoe may still be making it, with the disk: keep the disk for Cycle's retry.
        Err(e @ CrusoeError::OutcomeUnknown { .. }) => {
            Err(e).doing(|| format!("creating VM {name}"))
        }
        Err(e) => {
            // No VM: its data disk would be billed for nothing.
            delete_data_disk(t, &name).await;
            if let (Some(images), CrusoeError::BadRequest(_) | CrusoeError::NotFound(_)) =
                (&b.boot_images, &e)
            {
                // Perhaps the cached boot image was deleted: the next provision looks again.
                images.forget(t, location).await;
            }
            Err(e).doing(|| format!("creating VM {name}"))
        }
    }
}

/// The server's data disk by name; created, and waited for, when missing.
async fn ensure_disk(
    b: &Bridge,
    t: &Tenant,
    name: &str,
    location: &str,
    gib: u64,
    extra: &mut Map<String, Value>,
) -> Result<String, BridgeError> {
    let disk_name = naming::data_disk_name(name);
    if let Some(id) = oldest_disk(t, &disk_name).await? {
        return Ok(id);
    }
    let gib = u32::try_from(gib).unwrap_or(u32::MAX);
    let request = CreateDiskRequest::persistent_ssd(&disk_name, location, gib);
    let by_name = DiskFilter {
        names: vec![disk_name.clone()],
        ..Default::default()
    };
    let created = create_once(
        || t.client.create_disk(&t.project_id, &request),
        || async {
            let disks = t.client.list_disks(&t.project_id, &by_name).await?;
            Ok(disks
                .into_iter()
                .min_by(|a, b| a.created_at.cmp(&b.created_at)))
        },
    )
    .await
    .doing(|| format!("creating disk {disk_name}"))?;
    let op = match created {
        Created::Accepted(op) => op,
        Created::Found(disk) => return Ok(disk.id),
    };
    extra.insert(EXTRA_DISK_OPERATION.into(), op.operation_id.clone().into());
    let done = t
        .client
        .wait_operation(OperationFamily::Disks, &t.project_id, op, b.settings.timeouts.provision())
        .await
        .map_err(|e| match e {
            CrusoeError::OperationTimeout { .. } => BridgeError::Timeout(format!(
                "disk {disk_name} is still being created; Cycle's retry of provision continues from there"
            )),
            other => BridgeError::Crusoe {
                doing: format!("creating disk {disk_name}"),
                source: Box::new(other),
            },
        })?;
    // The disk's id comes from the finished operation, as Crusoe's own clients read it (terraform
    // and the CSI driver), not from the POST's metadata. Replicas may have raced: every one of
    // them settles on the oldest disk of the name.
    let made = done.result_as::<Disk>().ok().map(|d| d.id);
    match (oldest_disk(t, &disk_name).await?, made) {
        (Some(oldest), _) => Ok(oldest),
        (None, Some(id)) => Ok(id),
        (None, None) => Err(BridgeError::ProviderFailed(format!(
            "Crusoe finished creating disk {disk_name} but names no disk"
        ))),
    }
}

/// The oldest disk of a name; younger unattached ones (left by a race) are deleted.
async fn oldest_disk(t: &Tenant, disk_name: &str) -> Result<Option<String>, BridgeError> {
    let filter = DiskFilter {
        names: vec![disk_name.to_string()],
        ..Default::default()
    };
    let mut disks = t
        .client
        .list_disks(&t.project_id, &filter)
        .await
        .doing(|| format!("looking up disk {disk_name}"))?;
    disks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let mut disks = disks.into_iter();
    let Some(oldest) = disks.next() else {
        return Ok(None);
    };
    for younger in disks.filter(|d| d.attached_to.is_empty()) {
        if let Err(e) = t.client.delete_disk(&t.project_id, &younger.id).await {
            tracing::warn!(disk = %disk_name, "could not delete a duplicate data disk: {e}");
        }
    }
    Ok(Some(oldest.id))
}

/// Deletes the server's data disks that no VM holds. Best effort: failures are logged, and
/// decommission or `gc` finish the job.
async fn delete_data_disk(t: &Tenant, name: &str) {
    let disk_name = naming::data_disk_name(name);
    let filter = DiskFilter {
        names: vec![disk_name.clone()],
        ..Default::default()
    };
    match t.client.list_disks(&t.project_id, &filter).await {
        Ok(disks) => {
            for d in disks.iter().filter(|d| d.attached_to.is_empty()) {
                if let Err(e) = t.client.delete_disk(&t.project_id, &d.id).await {
                    tracing::warn!(disk = %disk_name, "could not delete an unused data disk: {e}");
                }
            }
        }
        Err(e) => tracing::warn!(disk = %disk_name, "could not look up the data disk: {e}"),
    }
}

fn operation_id_hint<'a>(extra: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a str> {
    extra
        .and_then(|e| e.get(key))
        .and_then(Value::as_str)
        .filter(|id| PathId::parse("operation id", id).is_ok())
}

/// The answer for a server still being created.
pub fn pending(req: ProvisionStatus, name: String) -> ProvisionStatusResponse {
    ProvisionStatusResponse {
        server_id: name,
        provisioned: false,
        auth: ServerAuth::default(),
        extra: req.extra.unwrap_or_default(),
    }
}

/// Reports on a server from `vms`, the VMs of its name as just read (directly or coalesced).
pub async fn provision_status(
    t: &Tenant,
    req: ProvisionStatus,
    name: String,
    vms: Vec<VmStatus>,
) -> Result<ProvisionStatusResponse, BridgeError> {
    let mut extra = req.extra.clone().unwrap_or_default();
    let pending = |extra| ProvisionStatusResponse {
        server_id: name.clone(),
        provisioned: false,
        auth: ServerAuth::default(),
        extra,
    };
    let Some(vm) = keep_oldest(t, vms).await else {
        return missing_vm(t, &name, req.extra.as_ref())
            .await
            .map(|()| pending(extra.clone()));
    };
    extra.insert("vm_state".into(), vm.state.name().into());
    match vm.state {
        VmState::Running => {
            match (vm.mac_address.as_deref(), vm.public_ipv4.as_ref()) {
                (Some(mac), Some(ip)) if ip.ip_type == "static" => {
                    // What Cycle's iPXE will present; Cycle refuses a server whose identity differs.
                    let uuid =
                        identity::smbios_uuid(&vm.id).map_err(BridgeError::ProviderFailed)?;
                    let mac = identity::ipxe_mac(mac).map_err(BridgeError::ProviderFailed)?;
                    Ok(ProvisionStatusResponse {
                        server_id: name.clone(),
                        provisioned: true,
                        auth: ServerAuth {
                            uuid: Some(uuid),
                            initial_ips: Some(vec![ip.address.clone()]),
                            mac_addr: Some(mac),
                        },
                        extra,
                    })
                }
                (_, Some(ip)) if ip.ip_type != "static" => {
                    // CycleOS needs the address to stay: make it static, report when it is.
                    let update = UpdateVmRequest::make_public_ip_static(&ip.id);
                    match t.client.update_vm(&t.project_id, &vm.id, &update).await {
                        Ok(_) | Err(CrusoeError::Conflict(_)) => Ok(pending(extra)),
                        Err(e) => Err(e).doing(|| format!("making the address of {name} static")),
                    }
                }
                _ => Ok(pending(extra)),
            }
        }
        VmState::Stopped | VmState::Shutoff | VmState::Shutdown => {
            match t
                .client
                .update_vm(
                    &t.project_id,
                    &vm.id,
                    &UpdateVmRequest::action(VmAction::Start),
                )
                .await
            {
                Ok(_) | Err(CrusoeError::Conflict(_)) => Ok(pending(extra)),
                Err(e) => Err(e).doing(|| format!("starting {name}")),
            }
        }
        VmState::Deleting | VmState::Deleted => Err(BridgeError::NotFound(format!(
            "server {name} is being deleted"
        ))),
        _ => Ok(pending(extra)),
    }
}

/// No VM carries the name: still being created, failed, or gone.
async fn missing_vm(
    t: &Tenant,
    name: &str,
    extra: Option<&Map<String, Value>>,
) -> Result<(), BridgeError> {
    let gone = || {
        BridgeError::NotFound(format!(
            "no VM named {name} exists in project {}: it was never created or was deleted; provision it again",
            t.project_id
        ))
    };
    let Some(op_id) = operation_id_hint(extra, EXTRA_VM_OPERATION) else {
        return Err(gone());
    };
    let op = match t
        .client
        .get_operation(OperationFamily::Vms, &t.project_id, op_id)
        .await
    {
        Ok(op) => op,
        Err(CrusoeError::Forbidden(_)) => return Err(gone()),
        Err(e) => return Err(e).doing(|| format!("reading the creation of {name}")),
    };
    match op.state {
        OperationState::Pending | OperationState::InProgress => Ok(()),
        OperationState::Failed => {
            delete_data_disk(t, name).await;
            let (code, message) = op.failure();
            let detail = format!(
                "Crusoe could not create {name}: {code}: {message}. Nothing billable was left behind"
            );
            Err(if crusoe_sdk::is_out_of_stock_code(&code) {
                BridgeError::OutOfStock(format!(
                    "{detail}; choose another model or location, or retry later"
                ))
            } else {
                BridgeError::ProviderFailed(format!(
                    "{detail}; correct the cause and provision again"
                ))
            })
        }
        _ => Err(gone()),
    }
}

pub async fn restart(b: &Bridge, t: &Tenant, req: ServerRef) -> Result<bool, BridgeError> {
    let name = naming::parse_server_id(&req.server_id, "/request/server_id")?;
    let vm = find_vms(t, &name)
        .await?
        .into_iter()
        .find(|v| !v.state.is_terminal())
        .ok_or_else(|| BridgeError::NotFound(format!("no server {name} to restart")))?;
    let op = t
        .client
        .update_vm(
            &t.project_id,
            &vm.id,
            &UpdateVmRequest::action(VmAction::Reset),
        )
        .await
        .doing(|| format!("restarting {name}"))?;
    t.client
        .wait_operation(
            OperationFamily::Vms,
            &t.project_id,
            op,
            b.settings.timeouts.restart(),
        )
        .await
        .doing(|| format!("restarting {name}"))?;
    Ok(true)
}

/// Waits before the next look, growing from a quarter second to two, never past the deadline.
async fn pause(round: u32, deadline: Instant) -> bool {
    let wait =
        Duration::from_millis(250u64.saturating_mul(1 << round.min(3))).min(Duration::from_secs(2));
    let now = Instant::now();
    if now + wait >= deadline {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

async fn wait_op(
    t: &Tenant,
    family: OperationFamily,
    op: Operation,
    deadline: Instant,
    doing: &str,
) -> Result<(), BridgeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    match t
        .client
        .wait_operation(family, &t.project_id, op, left)
        .await
    {
        Ok(_) => Ok(()),
        Err(CrusoeError::OperationTimeout { .. }) => Ok(()), // the caller re-checks and reports the timeout
        Err(e) => Err(e).doing(|| doing.to_string()),
    }
}

pub async fn decommission(b: &Bridge, t: &Tenant, req: ServerRef) -> Result<bool, BridgeError> {
    let name = naming::parse_server_id(&req.server_id, "/request/server_id")?;
    let deadline = Instant::now() + b.settings.timeouts.decommission();
    let timeout = || {
        BridgeError::Timeout(format!(
            "decommissioning {name} did not finish within {}s; nothing is lost: Cycle's retry continues where this stopped",
            b.settings.timeouts.decommission_secs
        ))
    };
    let _guard = b
        .locks
        .lock(&format!("server/{}/{name}", t.project_id))
        .await;

    // The VM (and any duplicates) first: its data disk cannot go while attached.
    let mut round = 0;
    loop {
        let vms = find_vms(t, &name).await?;
        if vms.is_empty() {
            break;
        }
        for vm in vms.iter().filter(|v| !v.state.is_terminal()) {
            match t.client.delete_vm(&t.project_id, &vm.id).await {
                Ok(op) => {
                    wait_op(
                        t,
                        OperationFamily::Vms,
                        op,
                        deadline,
                        &format!("deleting VM {name}"),
                    )
                    .await?
                }
                Err(CrusoeError::Conflict(_)) | Err(CrusoeError::NotFound(_)) => {}
                Err(e) => return Err(e).doing(|| format!("deleting VM {name}")),
            }
        }
        if !pause(round, deadline).await {
            return Err(timeout());
        }
        round += 1;
    }

    // Addresses made for it.
    let prefix = naming::ip_load_balancer_prefix(&name);
    let lbs = t
        .client
        .list_load_balancers(&t.project_id, &Default::default())
        .await
        .doing(|| format!("listing load balancers of {name}"))?;
    for lb in lbs.iter().filter(|lb| lb.name.starts_with(&prefix)) {
        match t.client.delete_load_balancer(&t.project_id, &lb.id).await {
            Ok(op) => {
                wait_op(
                    t,
                    OperationFamily::LoadBalancers,
                    op,
                    deadline,
                    &format!("deleting load balancer {}", lb.name),
                )
                .await?
            }
            Err(CrusoeError::NotFound(_)) | Err(CrusoeError::Conflict(_)) => {}
            Err(e) => return Err(e).doing(|| format!("deleting load balancer {}", lb.name)),
        }
    }

    // Then its data disk.
    let disk_name = naming::data_disk_name(&name);
    let filter = DiskFilter {
        names: vec![disk_name.clone()],
        ..Default::default()
    };
    let mut round = 0;
    loop {
        let disks = t
            .client
            .list_disks(&t.project_id, &filter)
            .await
            .doing(|| format!("looking up disk {disk_name}"))?;
        if disks.is_empty() {
            break;
        }
        for d in disks.iter().filter(|d| d.attached_to.is_empty()) {
            match t.client.delete_disk(&t.project_id, &d.id).await {
                Ok(op) => {
                    wait_op(
                        t,
                        OperationFamily::Disks,
                        op,
                        deadline,
                        &format!("deleting disk {disk_name}"),
                    )
                    .await?
                }
                Err(CrusoeError::NotFound(_)) | Err(CrusoeError::Conflict(_)) => {}
                Err(e) => return Err(e).doing(|| format!("deleting disk {disk_name}")),
            }
        }
        if !pause(round, deadline).await {
            return Err(timeout());
        }
        round += 1;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn storage_options_are_read_as_numbers_or_text() {
        assert_eq!(requested_storage(None).unwrap(), None);
        assert_eq!(
            requested_storage(Some(&options(json!({"storage_size": 200})))).unwrap(),
            Some(200)
        );
        assert_eq!(
            requested_storage(Some(&options(json!({"attached_storage_size": "150"})))).unwrap(),
            Some(150)
        );
        assert_eq!(
            requested_storage(Some(&options(json!({"storage_size": 0})))).unwrap(),
            None
        );
        let err = requested_storage(Some(&options(json!({"storage_size": "lots"})))).unwrap_err();
        assert!(
            matches!(err, BridgeError::InvalidInput { pointer: Some(ref p), .. } if p == "/request/provision_options/storage_size")
        );
        assert!(requested_storage(Some(&options(json!({"storage_size": -5})))).is_err());
    }

    #[test]
    fn reservation_ids_are_checked() {
        assert_eq!(
            reservation(Some(&options(
                json!({"reservation_id": "804bf3a2-81f2-4d78-9a9e-dc6a55ed33d8"})
            )))
            .unwrap()
            .as_deref(),
            Some("804bf3a2-81f2-4d78-9a9e-dc6a55ed33d8")
        );
        assert!(reservation(Some(&options(json!({"reservation_id": "../x"})))).is_err());
        assert!(reservation(Some(&options(json!({"reservation_id": 5})))).is_err());
    }
}
