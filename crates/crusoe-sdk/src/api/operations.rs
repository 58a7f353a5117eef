/// Each resource family has its own operations endpoint; an operation is only known to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationFamily {
    Vms,
    Disks,
    VpcNetworks,
    VpcSubnets,
    FirewallRules,
    LoadBalancers,
    CustomImages,
}

impl OperationFamily {
    pub const ALL: [OperationFamily; 7] = [
        OperationFamily::Vms,
        OperationFamily::Disks,
        OperationFamily::VpcNetworks,
        OperationFamily::VpcSubnets,
        OperationFamily::FirewallRules,
        OperationFamily::LoadBalancers,
        OperationFamily::CustomImages,
    ];

    pub fn collection(self) -> &'static str {
        match self {
            OperationFamily::Vms => "compute/vms/instances",
            OperationFamily::Disks => "storage/disks",
            OperationFamily::VpcNetworks => "networking/vpc-networks",
            OperationFamily::VpcSubnets => "networking/vpc-subnets",
            OperationFamily::FirewallRules => "networking/vpc-firewall-rules",
            OperationFamily::LoadBalancers => "networking/load-balancers",
            OperationFamily::CustomImages => "compute/custom-images",
        }
    }
}
