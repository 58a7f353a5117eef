//! Resources by name. Every lookup sends Crusoe's name filter and then keeps exact matches only,
//! the copy that wins first (`core::by_name`):
//! nothing a Crusoe client has shown says whether those filters match exactly, by prefix, or are
//! ignored, and a lookup that answered another resource could delete or image the wrong one.

use crate::core::by_name::{oldest_first, Named};
use crusoe_sdk::types::{
    Disk, DiskFilter, Image, LoadBalancer, LoadBalancerFilter, Vm, VmFilter, VpcNetwork, VpcSubnet,
};
use crusoe_sdk::{CrusoeError, ProjectClient};

/// The VMs named exactly `name`, the one that wins first (`core::by_name`).
pub async fn vms_named(project: &ProjectClient, name: &str) -> Result<Vec<Vm>, CrusoeError> {
    let mut vms = project.vms().list(&VmFilter::names([name])).await?;
    vms.retain(|v| v.name == name);
    oldest_first(&mut vms);
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
    oldest_first(&mut lbs);
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
    oldest_first(&mut disks);
    Ok(disks)
}

// Which copy of a name wins is `core::by_name`'s one rule: the earliest `created_at` where Crusoe
// gives one (VMs, disks, images), then the lowest id (the only key for the rest).
macro_rules! named {
    ($($t:ty => $created:ident),* $(,)?) => {$(
        impl Named for $t {
            fn id(&self) -> &str {
                &self.id
            }
            named!(@created $created);
        }
    )*};
    (@created created_at) => {
        fn created_at(&self) -> &str {
            &self.created_at
        }
    };
    (@created none) => {};
}

named!(
    Vm => created_at,
    super::servers::VmStatus => created_at,
    Disk => created_at,
    Image => created_at,
    LoadBalancer => none,
    VpcNetwork => none,
    VpcSubnet => none,
);
