use reqwest::Method;

use super::OperationFamily;
use crate::client::Call;
use crate::types::{
    CreateLoadBalancerRequest, LoadBalancer, LoadBalancerFilter, UpdateLoadBalancerRequest,
};
use crate::{CrusoeError, Pending, ProjectClient};

const LBS: &str = "networking/load-balancers";

/// `project.load_balancers()`: the project's external load balancers.
#[derive(Clone, Copy, Debug)]
pub struct LoadBalancers<'a> {
    project: &'a ProjectClient,
}

impl ProjectClient {
    pub fn load_balancers(&self) -> LoadBalancers<'_> {
        LoadBalancers { project: self }
    }
}

impl LoadBalancers<'_> {
    /// `listExternalLoadBalancers`.
    pub async fn list(self, filter: &LoadBalancerFilter) -> Result<Vec<LoadBalancer>, CrusoeError> {
        let path = self.project.path(&format!("/{LBS}"))?;
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
        self.project.client().execute_items(call).await
    }

    /// `getExternalLoadBalancer`.
    pub async fn get(self, id: &str) -> Result<LoadBalancer, CrusoeError> {
        let what = "load_balancer_id";
        self.project
            .get_item("get_load_balancer", LBS, what, id)
            .await
    }

    /// `createExternalLoadBalancer`. Its `vip` is known once the operation has finished.
    pub async fn create(self, request: &CreateLoadBalancerRequest) -> Result<Pending, CrusoeError> {
        let path = self.project.path(&format!("/{LBS}"))?;
        let call = Call::new("create_load_balancer", Method::POST, path).json(request)?;
        self.project
            .start(OperationFamily::LoadBalancers, call)
            .await
    }

    /// `updateExternalLoadBalancer`.
    pub async fn update(
        &self,
        id: &str,
        request: &UpdateLoadBalancerRequest,
    ) -> Result<Pending, CrusoeError> {
        let path = self.project.item_path(LBS, "load_balancer_id", id)?;
        let call = Call::new("update_load_balancer", Method::PATCH, path).json(request)?;
        self.project
            .start(OperationFamily::LoadBalancers, call)
            .await
    }

    /// `deleteExternalLoadBalancer`.
    pub async fn delete(self, id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::LoadBalancers;
        self.project
            .delete_item("delete_load_balancer", family, "load_balancer_id", id)
            .await
    }
}
