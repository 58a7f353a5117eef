use serde::{Deserialize, Serialize};

use super::null_as_empty;

/// `HealthCheckOptionsExternalLB`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckOptions {
    pub failure_count: i64,
    pub interval: i64,
    pub success_count: i64,
    pub timeout: i64,
}

impl Default for HealthCheckOptions {
    fn default() -> Self {
        Self {
            failure_count: 3,
            interval: 10,
            success_count: 2,
            timeout: 5,
        }
    }
}

/// `Backend`. `status` is required in Crusoe's schema even in requests; it is reported by Crusoe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    pub ip: String,
    pub port: i64,
    #[serde(default)]
    pub status: String,
}

/// `ListenPortAndBackend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenPortAndBackend {
    pub listen_port: i64,
    #[serde(deserialize_with = "null_as_empty")]
    pub backends: Vec<Backend>,
}

/// `ExternalLoadBalancer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: String,
    pub name: String,
    pub location: String,
    pub project_id: String,
    pub protocol: String,
    pub vip: String,
    pub vpc_id: String,
    pub health_check_options: HealthCheckOptions,
    #[serde(deserialize_with = "null_as_empty")]
    pub listen_ports_and_backends: Vec<ListenPortAndBackend>,
}

/// `ExternalLoadBalancerPostRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateLoadBalancerRequest {
    pub name: String,
    pub location: String,
    pub vpc_id: String,
    /// e.g. `LOAD_BALANCER_PROTOCOL_TCP`.
    pub protocol: String,
    pub listen_ports_and_backends: Vec<ListenPortAndBackend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_options: Option<HealthCheckOptions>,
}

/// `ExternalLoadBalancerPatchRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateLoadBalancerRequest {
    pub listen_ports_and_backends: Vec<ListenPortAndBackend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_options: Option<HealthCheckOptions>,
}

/// Filters of list-load-balancers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadBalancerFilter {
    pub name: Option<String>,
    pub location: Option<String>,
    pub vpc_network_id: Option<String>,
}
