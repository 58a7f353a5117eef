//! One handle per resource family of a project (`project.vms()`, `project.disks()`, ...), and the
//! calls that belong to no project (locations, capacities, public images). Every id that enters a
//! path is checked by [`PathId`](crate::ids::PathId) first.

mod catalog;
mod custom_images;
mod disks;
mod load_balancers;
mod networking;
mod operations;
mod projects;
mod vms;

pub use custom_images::CustomImages;
pub use disks::Disks;
pub use load_balancers::LoadBalancers;
pub use networking::{FirewallRules, VpcNetworks, VpcSubnets};
pub use operations::OperationFamily;
pub use vms::Vms;
