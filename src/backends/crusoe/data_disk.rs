//! A server's data disk, where CycleOS keeps its storage (the boot disk holds only iPXE): how large
//! it must be, making it once, finding it by name, and deleting it.
//!
//! Crusoe's disk record has no state: a disk it is deleting is listed like any other until the
//! deletion is done. Attached to a new VM in that time, it vanishes from under the VM (the
//! simulator does exactly that; whether Crusoe refuses the VM instead is not published). So a disk
//! found by name is used only once no operation on it is in progress, every deletion the bridge
//! starts here is waited for, and provision-status checks that the VM holds its disk.

use std::time::Instant;

use serde_json::{Map, Value};

use super::create::{create_once, Created};
use super::error::{failed, failure, Doing};
use super::lookup::disks_named;
use super::Tenant;
use crate::core::error::CoreError;
use crate::core::naming;
use crusoe_sdk::types::{CreateDiskRequest, Disk, DiskAttachment};
use crusoe_sdk::{CrusoeError, OperationFamily, Pending};

/// Hint in `extra`: the operation that made the data disk.
pub const EXTRA_DISK_OPERATION: &str = "disk_operation_id";

/// The server's data disk by name, once nothing is being done to it; created, and waited for,
/// when there is none.
pub async fn ensure(
    t: &Tenant,
    server: &str,
    location: &str,
    gib: u64,
    deadline: Instant,
    extra: &mut Map<String, Value>,
) -> Result<Disk, CoreError> {
    let disk_name = naming::data_disk_name(server);
    if let Some(disk) = settled(t, &disk_name, None, deadline).await? {
        return Ok(disk);
    }
    let gib = u32::try_from(gib).unwrap_or(u32::MAX);
    let request = CreateDiskRequest::persistent_ssd(&disk_name, location, gib);
    let created = create_once(
        || t.account.disks().create(&request),
        || async {
            let disks = disks_named(&t.account, &disk_name).await?;
            Ok(disks.into_iter().next())
        },
    )
    .await
    .doing(|| format!("creating disk {disk_name}"))?;
    let op = match created {
        Created::Accepted(op) => op,
        // A create whose answer was lost: it may still be in progress.
        Created::Found(_) => {
            return settled(t, &disk_name, None, deadline)
                .await?
                .ok_or_else(|| {
                    failed(format!(
                        "disk {disk_name} was made and is gone again; provision again"
                    ))
                })
        }
    };
    extra.insert(EXTRA_DISK_OPERATION.into(), op.operation_id.clone().into());
    let left = deadline.saturating_duration_since(Instant::now());
    let done = op.wait(left).await.map_err(|e| match e {
        CrusoeError::OperationTimeout { .. } => CoreError::Timeout(format!(
            "disk {disk_name} is still being created; Cycle's retry of provision continues from there"
        )),
        other => failure(format!("creating disk {disk_name}"), other),
    })?;
    // Replicas may have raced: every one of them settles on the oldest disk of the name. The
    // id comes from the finished operation, as Crusoe's own clients read it.
    let made = done.result_as::<Disk>().ok().map(|d| d.id);
    settled(t, &disk_name, made.as_deref(), deadline)
        .await?
        .ok_or_else(|| {
            failed(format!(
                "Crusoe finished creating disk {disk_name} but lists no such disk"
            ))
        })
}

/// The oldest disk of a name once no operation on it is in progress (one being deleted is waited
/// for, and then gone); younger unattached copies, left by a race, are deleted. `made` is a disk
/// whose creation the caller has just seen finish: nothing else is being done to it.
async fn settled(
    t: &Tenant,
    disk_name: &str,
    made: Option<&str>,
    deadline: Instant,
) -> Result<Option<Disk>, CoreError> {
    loop {
        let disks = disks_named(&t.account, disk_name)
            .await
            .doing(|| format!("looking up disk {disk_name}"))?;
        let mut disks = disks.into_iter();
        let Some(oldest) = disks.next() else {
            return Ok(None);
        };
        let operations = t.account.operations(OperationFamily::Disks);
        let busy = if made == Some(oldest.id.as_str()) {
            Vec::new()
        } else {
            operations
                .in_progress(&oldest.id)
                .await
                .doing(|| format!("checking what is being done to disk {disk_name}"))?
        };
        if busy.is_empty() {
            for younger in disks.filter(|d| d.attached_to.is_empty()) {
                if let Err(e) = t.account.disks().delete(&younger.id).await {
                    tracing::warn!(disk = %disk_name, "could not delete a duplicate data disk: {e}");
                }
            }
            return Ok(Some(oldest));
        }
        tracing::info!(
            disk = %disk_name,
            operations = busy.len(),
            "the data disk is being changed (created or deleted); waiting before using it"
        );
        for op in busy {
            finish(operations.pending(op), deadline)
                .await
                .map_err(|e| match e {
                    CrusoeError::OperationTimeout { .. } => CoreError::Timeout(format!(
                        "disk {disk_name} is still being changed (created or deleted); Cycle's retry continues once it is done"
                    )),
                    other => failure(format!("waiting for disk {disk_name}"), other),
                })?;
        }
    }
}

/// Waits for an operation until `deadline`. Its outcome does not matter here (the caller looks
/// again); only that it is over.
async fn finish(op: Pending, deadline: Instant) -> Result<(), CrusoeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    match op.wait(left).await {
        Ok(_) | Err(CrusoeError::OperationFailed { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the server's data disks that no VM holds, and waits until they are gone (or until
/// `deadline`), so that a provision retried at once finds none. Best effort: failures are logged,
/// and decommission or `gc` finish the job.
pub async fn delete_unattached(t: &Tenant, server: &str, deadline: Instant) {
    let disk_name = naming::data_disk_name(server);
    let disks = match disks_named(&t.account, &disk_name).await {
        Ok(disks) => disks,
        Err(e) => {
            tracing::warn!(disk = %disk_name, "could not look up the data disk: {e}");
            return;
        }
    };
    for d in disks.iter().filter(|d| d.attached_to.is_empty()) {
        let deleted = match t.account.disks().delete(&d.id).await {
            Ok(op) => finish(op, deadline).await,
            Err(CrusoeError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = deleted {
            tracing::warn!(disk = %disk_name, "an unused data disk is not deleted yet: {e}");
        }
    }
}

/// Attaches the server's data disk to its VM, which must be stopped (Crusoe's terraform provider:
/// attaching "requires that the VM be stopped"), and waits for it.
pub async fn attach(
    t: &Tenant,
    vm_id: &str,
    disk: &Disk,
    deadline: Instant,
) -> Result<(), CoreError> {
    if disk.attached_to.iter().any(|a| a.vm_id == vm_id) {
        return Ok(());
    }
    let op = t
        .account
        .vms()
        .attach_disks(vm_id, vec![DiskAttachment::data_read_write(&disk.id)])
        .await
        .doing(|| format!("attaching disk {}", disk.name))?;
    finish(op, deadline)
        .await
        .doing(|| format!("attaching disk {}", disk.name))
}
