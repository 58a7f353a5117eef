use reqwest::Method;

use super::{item_path, project_path};
use crate::client::{Call, CrusoeClient};
use crate::types::{
    CreateFirewallRuleRequest, CreateVpcNetworkRequest, CreateVpcSubnetRequest, FirewallRule,
    Operation, VpcNetwork, VpcNetworkPostResponse, VpcSubnet, VpcSubnetPostResponse,
};
use crate::CrusoeError;

const NETWORKS: &str = "networking/vpc-networks";
const SUBNETS: &str = "networking/vpc-subnets";
const FIREWALL_RULES: &str = "networking/vpc-firewall-rules";

impl CrusoeClient {
    /// `listVPCNetworks`.
    pub async fn list_vpc_networks(
        &self,
        project_id: &str,
    ) -> Result<Vec<VpcNetwork>, CrusoeError> {
        let path = project_path(project_id, &format!("/{NETWORKS}"))?;
        self.execute_items(Call::new("list_vpc_networks", Method::GET, path))
            .await
    }

    /// `getVPCNetwork`.
    pub async fn get_vpc_network(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<VpcNetwork, CrusoeError> {
        let path = item_path(project_id, NETWORKS, "vpc_network_id", id)?;
        self.execute(Call::new("get_vpc_network", Method::GET, path))
            .await
    }

    /// `createVPCNetwork`: synchronous, answers the network.
    pub async fn create_vpc_network(
        &self,
        project_id: &str,
        request: &CreateVpcNetworkRequest,
    ) -> Result<VpcNetwork, CrusoeError> {
        let path = project_path(project_id, &format!("/{NETWORKS}"))?;
        let call = Call::new("create_vpc_network", Method::POST, path).json(request)?;
        let answer: VpcNetworkPostResponse = self.execute(call).await?;
        Ok(answer.network)
    }

    /// `deleteVPCNetwork`.
    pub async fn delete_vpc_network(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, NETWORKS, "vpc_network_id", id)?;
        self.execute_operation(Call::new("delete_vpc_network", Method::DELETE, path))
            .await
    }

    /// `listVPCSubnets`.
    pub async fn list_vpc_subnets(&self, project_id: &str) -> Result<Vec<VpcSubnet>, CrusoeError> {
        let path = project_path(project_id, &format!("/{SUBNETS}"))?;
        self.execute_items(Call::new("list_vpc_subnets", Method::GET, path))
            .await
    }

    /// `getVPCSubnet`.
    pub async fn get_vpc_subnet(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<VpcSubnet, CrusoeError> {
        let path = item_path(project_id, SUBNETS, "vpc_subnet_id", id)?;
        self.execute(Call::new("get_vpc_subnet", Method::GET, path))
            .await
    }

    /// `createVPCSubnet`: synchronous, answers the subnet.
    pub async fn create_vpc_subnet(
        &self,
        project_id: &str,
        request: &CreateVpcSubnetRequest,
    ) -> Result<VpcSubnet, CrusoeError> {
        let path = project_path(project_id, &format!("/{SUBNETS}"))?;
        let call = Call::new("create_vpc_subnet", Method::POST, path).json(request)?;
        let answer: VpcSubnetPostResponse = self.execute(call).await?;
        Ok(answer.subnet)
    }

    /// `deleteVPCSubnet`.
    pub async fn delete_vpc_subnet(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, SUBNETS, "vpc_subnet_id", id)?;
        self.execute_operation(Call::new("delete_vpc_subnet", Method::DELETE, path))
            .await
    }

    /// `listVPCFirewallRules`.
    pub async fn list_firewall_rules(
        &self,
        project_id: &str,
    ) -> Result<Vec<FirewallRule>, CrusoeError> {
        let path = project_path(project_id, &format!("/{FIREWALL_RULES}"))?;
        self.execute_items(Call::new("list_firewall_rules", Method::GET, path))
            .await
    }

    /// `getVPCFirewallRule`.
    pub async fn get_firewall_rule(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<FirewallRule, CrusoeError> {
        let path = item_path(project_id, FIREWALL_RULES, "vpc_firewall_rule_id", id)?;
        self.execute(Call::new("get_firewall_rule", Method::GET, path))
            .await
    }

    /// `createVPCFirewallRule`.
    pub async fn create_firewall_rule(
        &self,
        project_id: &str,
        request: &CreateFirewallRuleRequest,
    ) -> Result<Operation, CrusoeError> {
        let path = project_path(project_id, &format!("/{FIREWALL_RULES}"))?;
        let call = Call::new("create_firewall_rule", Method::POST, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `deleteVPCFirewallRule`.
    pub async fn delete_firewall_rule(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, FIREWALL_RULES, "vpc_firewall_rule_id", id)?;
        self.execute_operation(Call::new("delete_firewall_rule", Method::DELETE, path))
            .await
    }
}
