//! Resources by name. Every lookup sends Crusoe's name filter and then keeps exact matches only:
//! nothing a Crusoe client has shown says whether those filters match exactly, by prefix, or are
//! ignored, and a lookup that answered another resource could delete or image the wrong one.

use crusoe_sdk::types::{Disk, DiskFilter, LoadBalancer, LoadBalancerFilter, Vm, VmFilter};
use crusoe_sdk::{CrusoeError, ProjectClient};

/// The VMs named exactly `name`, oldest first (as Crusoe lists them).
pub async fn vms_named(project: &ProjectClient, name: &str) -> Result<Vec<Vm>, CrusoeError> {
    let mut vms = project.vms().list(&VmFilter::names([name])).await?;
    vms.retain(|v| v.name == name);
    Ok(vms)
}

/// The load balancers named exactly `name`.
pub async fn load_balancers_named(
    project: &ProjectClient,
    name: &str,
) -> Result<Vec<LoadBalancer>, CrusoeError> {
    let filter = LoadBalancerFilter {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let mut lbs = project.load_balancers().list(&filter).await?;
    lbs.retain(|lb| lb.name == name);
    Ok(lbs)
}

/// The disks named exactly `name`.
pub async fn disks_named(project: &ProjectClient, name: &str) -> Result<Vec<Disk>, CrusoeError> {
    let filter = DiskFilter {
        names: vec![name.to_string()],
        ..Default::default()
    };
    let mut disks = project.disks().list(&filter).await?;
    disks.retain(|d| d.name == name);
    Ok(disks)
}
