use reqwest::Method;

use super::OperationFamily;
use crate::client::Call;
use crate::types::{
    CreateFirewallRuleRequest, CreateVpcNetworkRequest, CreateVpcSubnetRequest, FirewallRule,
    VpcNetwork, VpcNetworkPostResponse, VpcSubnet, VpcSubnetPostResponse,
};
use crate::{CrusoeError, Pending, ProjectClient};

const NETWORKS: &str = "networking/vpc-networks";
const SUBNETS: &str = "networking/vpc-subnets";
const FIREWALL_RULES: &str = "networking/vpc-firewall-rules";

/// `project.vpc_networks()`.
#[derive(Clone, Copy, Debug)]
pub struct VpcNetworks<'a> {
    project: &'a ProjectClient,
}

/// `project.vpc_subnets()`.
#[derive(Clone, Copy, Debug)]
pub struct VpcSubnets<'a> {
    project: &'a ProjectClient,
}

/// `project.firewall_rules()`: the VPC firewall rules.
#[derive(Clone, Copy, Debug)]
pub struct FirewallRules<'a> {
    project: &'a ProjectClient,
}

impl ProjectClient {
    pub fn vpc_networks(&self) -> VpcNetworks<'_> {
        VpcNetworks { project: self }
    }

    pub fn vpc_subnets(&self) -> VpcSubnets<'_> {
        VpcSubnets { project: self }
    }

    pub fn firewall_rules(&self) -> FirewallRules<'_> {
        FirewallRules { project: self }
    }
}

impl VpcNetworks<'_> {
    /// `listVPCNetworks`.
    pub async fn list(self) -> Result<Vec<VpcNetwork>, CrusoeError> {
        self.project.list_items("list_vpc_networks", NETWORKS).await
    }

    /// `getVPCNetwork`.
    pub async fn get(self, id: &str) -> Result<VpcNetwork, CrusoeError> {
        let what = "vpc_network_id";
        self.project
            .get_item("get_vpc_network", NETWORKS, what, id)
            .await
    }

    /// `createVPCNetwork`: synchronous, answers the network.
    pub async fn create(
        self,
        request: &CreateVpcNetworkRequest,
    ) -> Result<VpcNetwork, CrusoeError> {
        let path = self.project.path(&format!("/{NETWORKS}"))?;
        let call = Call::new("create_vpc_network", Method::POST, path).json(request)?;
        let answer: VpcNetworkPostResponse = self.project.client().execute(call).await?;
        Ok(answer.network)
    }

    /// `deleteVPCNetwork`.
    pub async fn delete(self, id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::VpcNetworks;
        self.project
            .delete_item("delete_vpc_network", family, "vpc_network_id", id)
            .await
    }
}

impl VpcSubnets<'_> {
    /// `listVPCSubnets`.
    pub async fn list(self) -> Result<Vec<VpcSubnet>, CrusoeError> {
        self.project.list_items("list_vpc_subnets", SUBNETS).await
    }

    /// `getVPCSubnet`.
    pub async fn get(self, id: &str) -> Result<VpcSubnet, CrusoeError> {
        let what = "vpc_subnet_id";
        self.project
            .get_item("get_vpc_subnet", SUBNETS, what, id)
            .await
    }

    /// `createVPCSubnet`: synchronous, answers the subnet.
    pub async fn create(self, request: &CreateVpcSubnetRequest) -> Result<VpcSubnet, CrusoeError> {
        let path = self.project.path(&format!("/{SUBNETS}"))?;
        let call = Call::new("create_vpc_subnet", Method::POST, path).json(request)?;
        let answer: VpcSubnetPostResponse = self.project.client().execute(call).await?;
        Ok(answer.subnet)
    }

    /// `deleteVPCSubnet`.
    pub async fn delete(self, id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::VpcSubnets;
        self.project
            .delete_item("delete_vpc_subnet", family, "vpc_subnet_id", id)
            .await
    }
}

impl FirewallRules<'_> {
    /// `listVPCFirewallRules`.
    pub async fn list(self) -> Result<Vec<FirewallRule>, CrusoeError> {
        self.project
            .list_items("list_firewall_rules", FIREWALL_RULES)
            .await
    }

    /// `getVPCFirewallRule`.
    pub async fn get(self, id: &str) -> Result<FirewallRule, CrusoeError> {
        let what = "vpc_firewall_rule_id";
        self.project
            .get_item("get_firewall_rule", FIREWALL_RULES, what, id)
            .await
    }

    /// `createVPCFirewallRule`. The finished operation's `result` holds the rule.
    pub async fn create(self, request: &CreateFirewallRuleRequest) -> Result<Pending, CrusoeError> {
        let path = self.project.path(&format!("/{FIREWALL_RULES}"))?;
        let call = Call::new("create_firewall_rule", Method::POST, path).json(request)?;
        self.project
            .start(OperationFamily::FirewallRules, call)
            .await
    }

    /// `deleteVPCFirewallRule`.
    pub async fn delete(self, id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::FirewallRules;
        self.project
            .delete_item("delete_firewall_rule", family, "vpc_firewall_rule_id", id)
            .await
    }
}
