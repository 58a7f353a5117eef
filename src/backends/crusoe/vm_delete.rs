//! Deleting a VM as Crusoe's clients have found it must be done. The packer plugin saw a 409 on
//! DELETE in the same second a VM reached `STATE_SHUTOFF` and now waits and retries
//! (modal-labs/packer-plugin-crusoe 60b0774); one of its commits also stops a VM before deleting
//! it, on the claim that Crusoe refuses to delete a running one (414a312, which its own author
//! marks unverified), while Crusoe's terraform provider and autoscaler delete running VMs
//! directly. Whichever Crusoe does, this succeeds: a refusal right after a state change is tried
//! again, and a refused VM that still runs is stopped first.

use std::time::{Duration, Instant};

use crusoe_sdk::types::{UpdateVmRequest, VmAction, VmState};
use crusoe_sdk::{Backoff, CrusoeError, Pending, ProjectClient};

/// Starts the deletion of a VM: the operation, or `None` when the VM is already gone. Gives up
/// with Crusoe's last refusal once `deadline` has passed.
pub async fn delete_vm(
    project: &ProjectClient,
    vm_id: &str,
    deadline: Instant,
) -> Result<Option<Pending>, CrusoeError> {
    let pauses = Backoff::growing(Duration::from_millis(500), Duration::from_secs(5), 1.5);
    let mut round = 0;
    loop {
        let refusal = match project.vms().delete(vm_id).await {
            Ok(op) => return Ok(Some(op)),
            Err(CrusoeError::NotFound(_)) => return Ok(None),
            Err(e @ (CrusoeError::Conflict(_) | CrusoeError::BadRequest(_))) => e,
            Err(e) => return Err(e),
        };
        let vm = match project.vms().get(vm_id).await {
            Ok(vm) => vm,
            Err(CrusoeError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        match vm.state {
            VmState::Deleting | VmState::Deleted => return Ok(None),
            VmState::Running => {
                tracing::info!(vm = %vm.name, "Crusoe refused to delete a running VM ({refusal}); stopping it first");
                stop(project, vm_id, deadline).await?;
            }
            // Refused for the VM's own request (a 400 on a VM already stopped): waiting changes
            // nothing.
            _ if matches!(refusal, CrusoeError::BadRequest(_))
                && matches!(vm.state, VmState::Shutoff | VmState::Stopped) =>
            {
                return Err(refusal);
            }
            // Another operation, or a state change Crusoe has not finished: wait, then again.
            _ => {}
        }
        round += 1;
        let pause = pauses.delay(round);
        if Instant::now() + pause >= deadline {
            return Err(refusal);
        }
        tokio::time::sleep(pause).await;
    }
}

/// Stops a VM and waits for it, within `deadline`. A conflicting operation is left to finish.
async fn stop(project: &ProjectClient, vm_id: &str, deadline: Instant) -> Result<(), CrusoeError> {
    match project
        .vms()
        .update(vm_id, &UpdateVmRequest::action(VmAction::Stop))
        .await
    {
        Ok(op) => {
            let left = deadline.saturating_duration_since(Instant::now());
            match op.wait(left).await {
                Ok(_) | Err(CrusoeError::OperationTimeout { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(CrusoeError::Conflict(_) | CrusoeError::BadRequest(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
