//! VMs by name. Every lookup sends Crusoe's `names` filter and then keeps exact matches only:
//! nothing a Crusoe client has shown says whether that filter matches exactly, by prefix, or is
//! ignored, and a lookup that answered another VM could delete or image the wrong one.

use crate::crusoe::types::{Vm, VmFilter};
use crate::crusoe::{CrusoeClient, CrusoeError};

/// The VMs named exactly `name`, oldest first (as Crusoe lists them).
pub async fn vms_named(
    client: &CrusoeClient,
    project: &str,
    name: &str,
) -> Result<Vec<Vm>, CrusoeError> {
    let mut vms = client.list_vms(project, &VmFilter::names([name])).await?;
    vms.retain(|v| v.name == name);
    Ok(vms)
}
