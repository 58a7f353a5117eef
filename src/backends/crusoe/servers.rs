//! Servers: provision, provision-status, restart, decommission. Everything is found by its
//! deterministic name, so every call is safe to repeat, on any replica, after any crash.
//!
//! Provision does the creating (data disk, then VM) and answers as soon as Crusoe has accepted the
//! VM; provision-status observes and takes the next step (make the address static, start a stopped
//! VM) and reports. Cycle's provision-status request does not carry the model, so a VM can only be
//! created by provision without making `extra` the only copy of its type.

use std::time::Instant;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::boot::BootVars;
use super::create::{create_once, Created};
use super::data_disk;
use super::error::{failed, Doing};
use super::identity;
use super::ids;
use super::lookup::{disks_named, vms_named};
use super::network::LocationConfig;
use super::vm_delete;
use super::{Crusoe, Tenant};
use crate::core::backend::Extra;
use crate::core::by_name;
use crate::core::error::CoreError;
use crate::core::naming;
use crate::core::plan::{needed_gib, requested_storage, ProvisionPlan};
use crate::ial::types::{ProvisionStatus, ProvisionStatusResponse, ServerAuth};
use crusoe_sdk::types::{
    CreateVmRequest, DiskAttachment, IpAddressesRequest, NetworkInterfaceRequest, OperationState,
    PublicIpv4Address, PublicIpv4Request, UpdateVmRequest, VirtualizationFeatures, Vm, VmAction,
    VmState,
};
use crusoe_sdk::{CrusoeError, OperationFamily, Pending};

const EXTRA_VM_NAME: &str = "vm_name";
pub const EXTRA_VM_OPERATION: &str = "vm_operation_id";

/// The VMs that carry a name, oldest first.
pub async fn find_vms(t: &Tenant, name: &str) -> Result<Vec<Vm>, CoreError> {
    vms_named(&t.account, name)
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
    pub vm_type: String,
    /// Whether it holds the server's data disk (`naming::data_disk_name`) as a data disk.
    pub holds_data_disk: bool,
}

impl From<Vm> for VmStatus {
    fn from(vm: Vm) -> Self {
        let data_disk = naming::data_disk_name(&vm.name);
        Self {
            mac_address: vm.mac_address().map(str::to_string),
            public_ipv4: vm.public_ipv4().cloned(),
            holds_data_disk: vm
                .disks
                .iter()
                .any(|d| d.attachment_type == "data" && d.name == data_disk),
            vm_type: vm.vm_type,
            id: vm.id,
            name: vm.name,
            state: vm.state,
            created_at: vm.created_at,
        }
    }
}

/// When replicas raced and Crusoe holds several VMs of one name, the oldest wins and the others
/// are deleted; a deletion that cannot start now is tried again at the next call.
async fn keep_oldest(t: &Tenant, vms: Vec<VmStatus>) -> Option<VmStatus> {
    let (oldest, duplicates) = by_name::keep_one(vms)?;
    for duplicate in duplicates.iter().filter(|v| !v.state.is_terminal()) {
        tracing::warn!(vm = %duplicate.name, id = %duplicate.id, "deleting a duplicate VM; the oldest of the name is kept");
        if let Err(e) = t.account.vms().delete(&duplicate.id).await {
            tracing::warn!(vm = %duplicate.name, "duplicate not deleted yet: {e}");
        }
    }
    Some(oldest)
}

fn reservation(options: Option<&Map<String, Value>>) -> Result<Option<String>, CoreError> {
    match options.and_then(|o| o.get("reservation_id")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            ids::uuid(s, "/request/provision_options/reservation_id").map(|id| Some(id.to_string()))
        }
        Some(_) => Err(CoreError::invalid(
            "/request/provision_options/reservation_id must be a string",
            "/request/provision_options/reservation_id",
        )),
    }
}

/// Cycle's `encrypt_storage`: Crusoe's API has no per-disk encryption setting (none in its
/// OpenAPI v1, none in terraform or client-go), and no Crusoe statement that its disks are
/// encrypted at rest was found, so a request for it is refused rather than silently dropped.
fn refuse_encryption(options: Option<&Map<String, Value>>) -> Result<(), CoreError> {
    const POINTER: &str = "/request/provision_options/encrypt_storage";
    match options.and_then(|o| o.get("encrypt_storage")) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(()),
        Some(Value::Bool(true)) => Err(CoreError::invalid(
            format!("{POINTER}: Crusoe offers no disk encryption this bridge can ask for, and does not say its disks are encrypted at rest; provision without it, or use a provider that can"),
            POINTER,
        )),
        Some(_) => Err(CoreError::invalid(
            format!("{POINTER} must be true, false or null"),
            POINTER,
        )),
    }
}

pub async fn provision(b: &Crusoe, t: &Tenant, plan: &ProvisionPlan) -> Result<Extra, CoreError> {
    let name = plan.name.clone();
    let location = plan.location.as_str();
    let model_id = plan.model_id.as_str();
    let network = LocationConfig::of_request(plan.location_configuration.as_ref(), location)?;
    let options = Some(&plan.options);
    refuse_encryption(options)?;
    if let Some(id) = reservation(options)? {
        // Crusoe's terraform provider stopped sending reservation_specification (2026-01) and
        // warns "The requested reservation_id was ignored by the backend": say so, send nothing.
        tracing::warn!(
            reservation = %id,
            server = %name,
            "Crusoe ignores a reservation given at VM creation; the server is created on demand"
        );
    }
    // CycleOS's storage is never the boot disk, which holds only iPXE.
    let disk_gib = plan.data_disk_gib(b.settings.boot.data_disk_gib);
    let startup_script = b.boot.render(&BootVars {
        hostname: &plan.hostname,
        server_name: &name,
        cycle_server_id: &plan.cycle_server_id,
        hub_id: &t.hub,
        location,
        model: model_id,
    })?;

    let _guard = b
        .locks
        .lock(&format!("server/{}/{name}", t.account.id()))
        .await;
    let mut extra = Map::new();
    extra.insert(EXTRA_VM_NAME.into(), name.clone().into());
    let vms = find_vms(t, &name).await?;
    if let Some(vm) = keep_oldest(t, vms.into_iter().map(VmStatus::from).collect()).await {
        if vm.state.is_terminal() {
            return Err(CoreError::Conflict(format!(
                "server {name} is being deleted; provision again once it is gone"
            )));
        }
        // Provisioned already (a retry, a concurrent call, another replica): nothing new.
        return Ok(extra);
    }
    // A server created from a boot image that does not exist would boot nothing.
    let boot_image = match &b.boot_images {
        Some(images) => Some(images.id_for(t, location).await?),
        None => None,
    };

    let stock: u32 = t
        .account
        .client()
        .list_capacities(&[model_id.to_string()], &[location.to_string()])
        .await
        .doing(|| format!("checking stock of {model_id} in {location}"))?
        .iter()
        .filter(|c| c.location == location && c.product_name.as_deref() == Some(model_id))
        .map(|c| c.quantity)
        .sum();
    if stock == 0 {
        return Err(CoreError::OutOfStock(format!(
            "Crusoe has no {model_id} in stock in {location} right now; nothing was created. Choose another model or location, or retry later"
        )));
    }

    check_subnet(t, &network, location).await?;

    let deadline = Instant::now() + b.settings.timeouts.provision();
    let disk_id = match disk_gib {
        Some(gib) => Some(
            data_disk::ensure(t, &name, location, gib, deadline, &mut extra)
                .await?
                .id,
        ),
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
        // Set at creation only: Crusoe's update takes no virtualization features.
        virtualization_features: plan.hypervisor.then_some(VirtualizationFeatures {
            nested_virtualization: Some(true),
        }),
        ..Default::default()
    };
    let created = create_once(
        || t.account.vms().create(&request),
        || async {
            let vms = vms_named(&t.account, &name).await?;
            Ok(vms.into_iter().next())
        },
    )
    .await;
    match created {
        Ok(Created::Accepted(op)) => {
            extra.insert(EXTRA_VM_OPERATION.into(), op.operation_id.clone().into());
            Ok(extra)
        }
        // An attempt whose answer was lost made it: provision-status takes it from here.
        Ok(Created::Found(_)) => Ok(extra),
        // Another replica created the VM (and attached the disk) a moment ago: same outcome.
        Err(CrusoeError::Conflict(_)) if !find_vms(t, &name).await?.is_empty() => Ok(extra),
        // Crusoe may still be making it, with the disk: keep the disk for Cycle's retry.
        Err(e @ CrusoeError::OutcomeUnknown { .. }) => {
            Err(e).doing(|| format!("creating VM {name}"))
        }
        Err(e) => {
            // No VM: its data disk would be billed for nothing, and a retry must not find it
            // half-deleted.
            data_disk::delete_unattached(t, &name, deadline).await;
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

/// The subnet Cycle's `location_configuration` names exists, in the location: otherwise the VM
/// would be refused after its data disk was made.
async fn check_subnet(
    t: &Tenant,
    network: &LocationConfig,
    location: &str,
) -> Result<(), CoreError> {
    const POINTER: &str = "/request/location_configuration/subnet_id";
    let id = &network.subnet_id;
    match t.account.vpc_subnets().get(id).await {
        Ok(subnet) if subnet.location == location => Ok(()),
        Ok(subnet) => Err(CoreError::invalid(
            format!(
                "subnet {id} is in {}, not {location}: run location configure for {location} again",
                subnet.location
            ),
            POINTER,
        )),
        Err(CrusoeError::NotFound(_)) => Err(CoreError::invalid(
            format!(
                "subnet {id} does not exist in project {}: run location configure for {location} again; nothing was created",
                t.account.id()
            ),
            POINTER,
        )),
        Err(e) => Err(e).doing(|| format!("looking up subnet {id}")),
    }
}

/// An operation id this bridge put in `extra`: absent, or a UUID (422 naming it otherwise).
fn operation_id_hint<'a>(
    extra: Option<&'a Map<String, Value>>,
    key: &str,
) -> Result<Option<&'a str>, CoreError> {
    let pointer = format!("/request/extra/{key}");
    match extra.and_then(|e| e.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => ids::uuid(id, &pointer).map(Some),
        Some(_) => Err(CoreError::invalid(
            format!("{pointer} must be a string"),
            &pointer,
        )),
    }
}

/// Reports on a server from `vms`, the VMs of its name as just read (directly or coalesced).
pub async fn provision_status(
    b: &Crusoe,
    t: &Tenant,
    req: &ProvisionStatus,
    name: String,
    vms: Vec<VmStatus>,
) -> Result<ProvisionStatusResponse, CoreError> {
    let mut extra = req.extra.clone().unwrap_or_default();
    let pending = |extra| ProvisionStatusResponse {
        server_id: name.clone(),
        provisioned: false,
        auth: ServerAuth::default(),
        extra,
    };
    let Some(vm) = keep_oldest(t, vms).await else {
        return missing_vm(b, t, &name, req.extra.as_ref())
            .await
            .map(|()| pending(extra.clone()));
    };
    extra.insert("vm_state".into(), vm.state.name().into());
    match vm.state {
        VmState::Running => {
            match (vm.mac_address.as_deref(), vm.public_ipv4.as_ref()) {
                (Some(mac), Some(ip)) if ip.ip_type == "static" => {
                    if let Some(gib) = missing_data_disk(b, t, req, &vm).await? {
                        return Err(running_without_data_disk(&name, &vm, gib));
                    }
                    // What Cycle's iPXE will present; Cycle refuses a server whose identity differs.
                    let uuid = identity::smbios_uuid(&vm.id).map_err(failed)?;
                    let mac = identity::ipxe_mac(mac).map_err(failed)?;
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
                    let updated = t.account.vms().update(&vm.id, &update).await;
                    b.vm_view.invalidate(t, &name).await;
                    match updated {
                        Ok(_) | Err(CrusoeError::Conflict(_)) => Ok(pending(extra)),
                        Err(e) => Err(e).doing(|| format!("making the address of {name} static")),
                    }
                }
                _ => Ok(pending(extra)),
            }
        }
        VmState::Stopped | VmState::Shutoff | VmState::Shutdown => {
            if let Some(gib) = missing_data_disk(b, t, req, &vm).await? {
                // Stopped, the VM can take its disk back (attaching needs a stopped VM); the next
                // poll starts it.
                restore_data_disk(b, t, &name, &vm, gib, &mut extra).await?;
                return Ok(pending(extra));
            }
            let started = t
                .account
                .vms()
                .update(&vm.id, &UpdateVmRequest::action(VmAction::Start))
                .await;
            // The next poll must see the VM as it is now, not as the view last read it.
            b.vm_view.invalidate(t, &name).await;
            match started {
                Ok(_) | Err(CrusoeError::Conflict(_)) => Ok(pending(extra)),
                Err(e) => Err(e).doing(|| format!("starting {name}")),
            }
        }
        VmState::Deleting | VmState::Deleted => Err(CoreError::NotFound(format!(
            "server {name} is being deleted"
        ))),
        _ => Ok(pending(extra)),
    }
}

/// The size of the data disk the server needs and its VM does not hold; `None` when it holds it
/// or needs none. Known from the VM's type and the storage Cycle asks for, as provision decided.
async fn missing_data_disk(
    b: &Crusoe,
    t: &Tenant,
    req: &ProvisionStatus,
    vm: &VmStatus,
) -> Result<Option<u64>, CoreError> {
    if vm.holds_data_disk {
        return Ok(None);
    }
    let catalogue = b.catalog.catalogue(t).await?;
    let Some(model) = catalogue.model(&vm.vm_type) else {
        // A type this project no longer lists: what it holds cannot be judged.
        return Ok(None);
    };
    let requested = requested_storage(req.provision_options.as_ref())?;
    Ok(needed_gib(
        model.disk_gb,
        requested,
        b.settings.boot.data_disk_gib,
    ))
}

/// A running VM without its data disk is never reported ready: CycleOS would find no storage.
/// Attaching needs a stopped VM, and stopping one that may be rewriting its boot disk could
/// leave it unbootable, so the bridge says what is wrong and what to do.
fn running_without_data_disk(name: &str, vm: &VmStatus, gib: u64) -> CoreError {
    CoreError::Conflict(format!(
        "server {name} (VM {}) does not hold its data disk {} ({gib} GiB), where CycleOS keeps its storage, so it is not reported ready. Decommission the server and provision it again; or stop the VM in Crusoe, and the next provision-status attaches a data disk and starts it",
        vm.id,
        naming::data_disk_name(name)
    ))
}

/// Gives a stopped VM its data disk again: the disk of its name once settled, or a new one.
async fn restore_data_disk(
    b: &Crusoe,
    t: &Tenant,
    name: &str,
    vm: &VmStatus,
    gib: u64,
    extra: &mut Map<String, Value>,
) -> Result<(), CoreError> {
    let _guard = b
        .locks
        .lock(&format!("server/{}/{name}", t.account.id()))
        .await;
    tracing::warn!(server = %name, vm = %vm.id, "the VM does not hold its data disk; attaching one before it starts");
    let location = find_vms(t, name)
        .await?
        .into_iter()
        .find(|v| v.id == vm.id)
        .map(|v| v.location)
        .ok_or_else(|| CoreError::NotFound(format!("server {name} is gone")))?;
    let deadline = Instant::now() + b.settings.timeouts.provision();
    let disk = data_disk::ensure(t, name, &location, gib, deadline, extra).await?;
    data_disk::attach(t, &vm.id, &disk, deadline).await?;
    b.vm_view.invalidate(t, name).await;
    Ok(())
}

/// No VM carries the name: still being created, failed, or gone.
async fn missing_vm(
    b: &Crusoe,
    t: &Tenant,
    name: &str,
    extra: Option<&Map<String, Value>>,
) -> Result<(), CoreError> {
    let gone = || {
        CoreError::NotFound(format!(
            "no VM named {name} exists in project {}: it was never created or was deleted; provision it again",
            t.account.id()
        ))
    };
    let Some(op_id) = operation_id_hint(extra, EXTRA_VM_OPERATION)? else {
        return Err(gone());
    };
    let op = match t.account.operations(OperationFamily::Vms).get(op_id).await {
        Ok(op) => op,
        Err(CrusoeError::Forbidden(_)) => return Err(gone()),
        Err(e) => return Err(e).doing(|| format!("reading the creation of {name}")),
    };
    match op.state {
        OperationState::Pending | OperationState::InProgress => Ok(()),
        // Made a moment ago, and read before it was listed: the next poll looks again.
        OperationState::Succeeded if finished_lately(&op) => {
            b.vm_view.exists(t, name).await;
            Ok(())
        }
        OperationState::Failed => {
            data_disk::delete_unattached(t, name, Instant::now() + b.settings.timeouts.provision())
                .await;
            let (code, message) = op.failure();
            let detail = format!(
                "Crusoe could not create {name}: {code}: {message}. Nothing billable was left behind"
            );
            Err(if crusoe_sdk::is_out_of_stock(&code, &message) {
                CoreError::OutOfStock(format!(
                    "{detail}; choose another model or location, or retry later"
                ))
            } else {
                failed(format!("{detail}; correct the cause and provision again"))
            })
        }
        _ => Err(gone()),
    }
}

/// Whether an operation finished within the time a name is taken as unknown.
fn finished_lately(op: &crusoe_sdk::types::Operation) -> bool {
    let Some(done) = op
        .completed_at
        .as_deref()
        .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
    else {
        return false;
    };
    (OffsetDateTime::now_utc() - done).unsigned_abs() < super::vm_view::UNKNOWN_FOR
}

pub async fn restart(b: &Crusoe, t: &Tenant, name: &str) -> Result<(), CoreError> {
    let vm = find_vms(t, name)
        .await?
        .into_iter()
        .find(|v| !v.state.is_terminal())
        .ok_or_else(|| CoreError::NotFound(format!("no server {name} to restart")))?;
    let op = t
        .account
        .vms()
        .update(&vm.id, &UpdateVmRequest::action(VmAction::Reset))
        .await
        .doing(|| format!("restarting {name}"))?;
    op.wait(b.settings.timeouts.restart())
        .await
        .doing(|| format!("restarting {name}"))?;
    Ok(())
}

async fn wait_op(op: Pending, deadline: Instant, doing: &str) -> Result<(), CoreError> {
    let left = deadline.saturating_duration_since(Instant::now());
    match op.wait(left).await {
        Ok(_) => Ok(()),
        Err(CrusoeError::OperationTimeout { .. }) => Ok(()), // the caller re-checks and reports the timeout
        Err(e) => Err(e).doing(|| doing.to_string()),
    }
}

pub async fn decommission(b: &Crusoe, t: &Tenant, name: &str) -> Result<(), CoreError> {
    let deadline = Instant::now() + b.settings.timeouts.decommission();
    let timeout = || {
        CoreError::Timeout(format!(
            "decommissioning {name} did not finish within {}s; nothing is lost: Cycle's retry continues where this stopped",
            b.settings.timeouts.decommission_secs
        ))
    };
    let _guard = b
        .locks
        .lock(&format!("server/{}/{name}", t.account.id()))
        .await;

    // The VM (and any duplicates) first: its data disk cannot go while attached.
    let vms_gone = by_name::delete_until_gone(
        || find_vms(t, name),
        |vm| async move {
            if vm.state.is_terminal() {
                return Ok(());
            }
            match vm_delete::delete_vm(&t.account, &vm.id, deadline).await {
                Ok(Some(op)) => wait_op(op, deadline, &format!("deleting VM {name}")).await,
                // Gone, or still busy when the deadline came: the next look tells.
                Ok(None) | Err(CrusoeError::Conflict(_)) => Ok(()),
                Err(e) => Err(e).doing(|| format!("deleting VM {name}")),
            }
        },
        deadline,
    )
    .await?;
    if !vms_gone {
        return Err(timeout());
    }

    // Addresses made for it.
    let prefix = naming::ip_load_balancer_prefix(name);
    let lbs = t
        .account
        .load_balancers()
        .list(&Default::default())
        .await
        .doing(|| format!("listing load balancers of {name}"))?;
    for lb in lbs.iter().filter(|lb| lb.name.starts_with(&prefix)) {
        match t.account.load_balancers().delete(&lb.id).await {
            Ok(op) => wait_op(op, deadline, &format!("deleting load balancer {}", lb.name)).await?,
            Err(CrusoeError::NotFound(_)) | Err(CrusoeError::Conflict(_)) => {}
            Err(e) => return Err(e).doing(|| format!("deleting load balancer {}", lb.name)),
        }
    }

    // Then its data disk.
    let disk_name = naming::data_disk_name(name);
    let disks_gone = by_name::delete_until_gone(
        || async {
            disks_named(&t.account, &disk_name)
                .await
                .doing(|| format!("looking up disk {disk_name}"))
        },
        |disk| {
            let disk_name = &disk_name;
            async move {
                if !disk.attached_to.is_empty() {
                    return Ok(());
                }
                match t.account.disks().delete(&disk.id).await {
                    Ok(op) => wait_op(op, deadline, &format!("deleting disk {disk_name}")).await,
                    Err(CrusoeError::NotFound(_)) | Err(CrusoeError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e).doing(|| format!("deleting disk {disk_name}")),
                }
            }
        },
        deadline,
    )
    .await?;
    if !disks_gone {
        return Err(timeout());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
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
