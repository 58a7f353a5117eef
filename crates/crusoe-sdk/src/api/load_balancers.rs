use reqwest::Method;

use super::{item_path, project_path};
use crate::client::{Call, CrusoeClient};
use crate::types::{
    CreateLoadBalancerRequest, LoadBalancer, LoadBalancerFilter, Operation,
    UpdateLoadBalancerRequest,
};
use crate::CrusoeError;

const LBS: &str = "networking/load-balancers";

impl CrusoeClient {
    /// `listExternalLoadBalancers`.
    pub async fn list_load_balancers(
        &self,
        project_id: &str,
        filter: &LoadBalancerFilter,
    ) -> Result<Vec<LoadBalancer>, CrusoeError> {
        let path = project_path(project_id, &format!("/{LBS}"))?;
        let mut call = Call::new("list_load_balancers", Method::GET, path);
        for (key, value) in [
            ("name", &filter.name),
            ("location", &filter.location),
            ("vpc_network_id", &filter.vpc_network_id),
        ] {
            if let Some(v) = value {
                call = call.query(key, v.clone());
            }
        }
        self.execute_items(call).await
    }

    /// `getExternalLoadBalancer`.
    pub async fn get_load_balancer(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<LoadBalancer, CrusoeError> {
        let path = item_path(project_id, LBS, "load_balancer_id", id)?;
        self.execute(Call::new("get_load_balancer", Method::GET, path))
            .await
    }

    /// `createExternalLoadBalancer`.
    pub async fn create_load_balancer(
        &self,
        project_id: &str,
        request: &CreateLoadBalancerRequest,
    ) -> Result<Operation, CrusoeError> {
        let path = project_path(project_id, &format!("/{LBS}"))?;
        let call = Call::new("create_load_balancer", Method::POST, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `updateExternalLoadBalancer`.
    pub async fn update_load_balancer(
        &self,
        project_id: &str,
        id: &str,
        request: &UpdateLoadBalancerRequest,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, LBS, "load_balancer_id", id)?;
        let call = Call::new("update_load_balancer", Method::PATCH, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `deleteExternalLoadBalancer`.
    pub async fn delete_load_balancer(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, LBS, "load_balancer_id", id)?;
        self.execute_operation(Call::new("delete_load_balancer", Method::DELETE, path))
            .await
    }
}
