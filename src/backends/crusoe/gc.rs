//! Garbage: resources that carry the bridge's names but whose owner is gone, such as a data disk
//! or a load balancer left by a crash between two steps, or a duplicate from a race.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::core::naming;
use crusoe_sdk::types::{Disk, DiskFilter, LoadBalancerFilter, VmFilter};
use crusoe_sdk::{CrusoeError, ProjectClient};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    DataDisk,
    LoadBalancer,
    /// A VM of `crusoe-ial image build`, which deletes it unless it was interrupted.
    ImageBuilder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub location: String,
    pub why: String,
}

impl std::fmt::Display for Orphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::DataDisk => "disk",
            Kind::LoadBalancer => "load balancer",
            Kind::ImageBuilder => "VM",
        };
        write!(
            f,
            "{kind} {} ({}) in {}: {}",
            self.name, self.id, self.location, self.why
        )
    }
}

/// The VM name a bridge-made data disk or load balancer belongs to.
fn owner(name: &str) -> Option<&str> {
    if !name.starts_with(naming::PREFIX) {
        return None;
    }
    if let Some(vm) = name.strip_suffix("-data") {
        return Some(vm);
    }
    name.find("-ip-").map(|i| &name[..i])
}

fn disk_orphan(d: &Disk, why: String) -> Orphan {
    Orphan {
        kind: Kind::DataDisk,
        id: d.id.clone(),
        name: d.name.clone(),
        location: d.location.clone(),
        why,
    }
}

/// Finds the orphans of a project. Only names the bridge makes are considered.
pub async fn find(project: &ProjectClient) -> Result<Vec<Orphan>, CrusoeError> {
    let vms = project.vms().list(&VmFilter::default()).await?;
    let live: HashSet<&str> = vms
        .iter()
        .filter(|v| !v.state.is_terminal())
        .map(|v| v.name.as_str())
        .collect();
    let mut orphans: Vec<Orphan> = vms
        .iter()
        .filter(|v| !v.state.is_terminal() && v.name.starts_with(super::boot_images::BUILDER_PREFIX))
        .map(|v| Orphan {
            kind: Kind::ImageBuilder,
            id: v.id.clone(),
            name: v.name.clone(),
            location: v.location.clone(),
            why: "an image builder left by an interrupted `crusoe-ial image build` (unless one runs now)".into(),
        })
        .collect();

    let disks = project.disks().list(&DiskFilter::default()).await?;
    for d in disks.iter().filter(|d| d.attached_to.is_empty()) {
        let Some(vm) = owner(&d.name).filter(|_| d.name.ends_with("-data")) else {
            continue;
        };
        if !live.contains(vm) {
            orphans.push(disk_orphan(d, format!("its VM {vm} is gone")));
        } else {
            // The VM lives; an unattached disk of its name is a duplicate from a race.
            let held = disks
                .iter()
                .any(|o| o.name == d.name && !o.attached_to.is_empty());
            if held {
                orphans.push(disk_orphan(
                    d,
                    format!("a duplicate: VM {vm} holds another disk of that name"),
                ));
            }
        }
    }

    let lbs = project
        .load_balancers()
        .list(&LoadBalancerFilter::default())
        .await?;
    for lb in &lbs {
        let Some(vm) = owner(&lb.name).filter(|_| lb.name.contains("-ip-")) else {
            continue;
        };
        if !live.contains(vm) {
            orphans.push(Orphan {
                kind: Kind::LoadBalancer,
                id: lb.id.clone(),
                name: lb.name.clone(),
                location: lb.location.clone(),
                why: format!("its VM {vm} is gone"),
            });
        }
    }
    Ok(orphans)
}

/// Deletes orphans, waiting for each; returns how many went.
pub async fn delete(
    project: &ProjectClient,
    orphans: &[Orphan],
    wait: Duration,
) -> Result<usize, CrusoeError> {
    let mut deleted = 0;
    for o in orphans {
        let op = match o.kind {
            Kind::DataDisk => project.disks().delete(&o.id).await.map(Some),
            Kind::LoadBalancer => project.load_balancers().delete(&o.id).await.map(Some),
            Kind::ImageBuilder => {
                super::vm_delete::delete_vm(project, &o.id, Instant::now() + wait).await
            }
        };
        match op {
            Ok(Some(op)) => {
                op.wait(wait).await?;
                deleted += 1;
            }
            Ok(None) | Err(CrusoeError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

/// An inventory resource in Cycloid that names a server of this project whose VM is gone: a
/// crash between decommission and the sink's delivery, or a delivery dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryOrphan {
    pub id: u32,
    pub name: String,
}

impl std::fmt::Display for InventoryOrphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cycloid inventory resource {} (id {}): its VM is gone",
            self.name, self.id
        )
    }
}

/// The inventory resources this bridge made for `project` whose server no longer exists.
pub async fn find_inventory(
    project: &ProjectClient,
    cycloid: &cycloid_sdk::CycloidClient,
) -> Result<Vec<InventoryOrphan>, String> {
    use crate::cycloid::story::MANAGED_BY;
    use cycloid_sdk::Filter;
    let vms = project
        .vms()
        .list(&VmFilter::default())
        .await
        .map_err(|e| format!("listing the project's VMs: {e}"))?;
    let live: HashSet<&str> = vms
        .iter()
        .filter(|v| !v.state.is_terminal())
        .map(|v| v.name.as_str())
        .collect();
    let resources = cycloid
        .inventory()
        .find(&[
            Filter::eq("resources_provider", super::INFO.name),
            Filter::eq(MANAGED_BY.0, MANAGED_BY.1),
            Filter::eq("crusoe_project", project.id()),
        ])
        .await
        .map_err(|e| format!("listing Cycloid's inventory: {e}"))?;
    Ok(resources
        .into_iter()
        .filter_map(|r| {
            let name = r.name.unwrap_or_default();
            (name.starts_with(naming::PREFIX) && !live.contains(name.as_str()))
                .then_some(InventoryOrphan { id: r.id, name })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_the_bridges_names_only() {
        assert_eq!(owner("cycle-abc-data"), Some("cycle-abc"));
        assert_eq!(owner("cycle-abc-ip-default"), Some("cycle-abc"));
        assert_eq!(owner("scratch-data"), None);
        assert_eq!(owner("cycle-hub-h-us-east1-a"), None);
    }
}
