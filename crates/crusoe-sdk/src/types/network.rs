use serde::{Deserialize, Serialize};

use super::null_as_empty;

/// `VPCNetwork`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcNetwork {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub gateway: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub subnets: Vec<String>,
}

/// `VPCNetworkPostRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVpcNetworkRequest {
    pub name: String,
    pub cidr: String,
}

/// `VPCNetworkPostResponse`: creation is synchronous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcNetworkPostResponse {
    pub network: VpcNetwork,
}

/// `NATGateway`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatGateway {
    pub id: String,
    pub public_ipv4_address: String,
    pub public_ipv4_id: String,
}

/// `VPCSubnet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcSubnet {
    pub id: String,
    pub name: String,
    pub cidr: String,
    pub location: String,
    pub vpc_network_id: String,
    pub nat_gateways: Option<Vec<NatGateway>>,
}

/// `VPCSubnetPostRequest`: all five fields are required by Crusoe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVpcSubnetRequest {
    pub name: String,
    pub cidr: String,
    pub location: String,
    pub vpc_network_id: String,
    pub nat_gateway_enabled: bool,
}

/// `VPCSubnetPostResponse`: creation is synchronous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcSubnetPostResponse {
    pub subnet: VpcSubnet,
}

/// `FirewallRuleObject`: a CIDR or a resource id, not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallRuleObject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

impl FirewallRuleObject {
    pub fn cidr(cidr: impl Into<String>) -> Self {
        Self {
            cidr: Some(cidr.into()),
            resource_id: None,
        }
    }

    pub fn resource(id: impl Into<String>) -> Self {
        Self {
            cidr: None,
            resource_id: Some(id.into()),
        }
    }
}

/// `VPCFirewallRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallRule {
    pub id: String,
    pub name: String,
    pub vpc_network_id: String,
    /// `allow` or `deny`.
    pub action: String,
    /// `ingress` or `egress`.
    pub direction: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub protocols: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub destination_ports: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub source_ports: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub sources: Vec<FirewallRuleObject>,
    #[serde(deserialize_with = "null_as_empty")]
    pub destinations: Vec<FirewallRuleObject>,
    /// `active` or `inactive`.
    pub state: String,
}

/// `VPCFirewallRulesPostRequestV1Alpha5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateFirewallRuleRequest {
    pub name: String,
    pub vpc_network_id: String,
    pub action: String,
    pub direction: String,
    pub protocols: Vec<String>,
    pub sources: Vec<FirewallRuleObject>,
    pub destinations: Vec<FirewallRuleObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_ports: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ports: Option<Vec<String>>,
}
