use reqwest::Method;

use crate::client::Call;
use crate::ids::PathId;
use crate::types::{Project, ProjectQuotas};
use crate::{CrusoeError, ProjectClient};

impl ProjectClient {
    /// `getProject`: the cheapest call that proves a key pair may use a project.
    pub async fn get(&self) -> Result<Project, CrusoeError> {
        let id = PathId::parse("project_id", self.id())?;
        let path = format!("/organizations/projects/{id}");
        self.client()
            .execute(Call::new("get_project", Method::GET, path))
            .await
    }

    /// `listProjectQuotas`.
    pub async fn quotas(&self) -> Result<ProjectQuotas, CrusoeError> {
        let path = self.path("/quotas")?;
        self.client()
            .execute(Call::new("list_project_quotas", Method::GET, path))
            .await
    }
}
