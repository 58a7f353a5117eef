use reqwest::Method;

use super::project_path;
use crate::client::{Call, CrusoeClient};
use crate::ids::PathId;
use crate::types::{Project, ProjectQuotas};
use crate::CrusoeError;

impl CrusoeClient {
    /// `getProject`: the cheapest call that proves a key pair may use a project.
    pub async fn get_project(&self, project_id: &str) -> Result<Project, CrusoeError> {
        let id = PathId::parse("project_id", project_id)?;
        self.execute(Call::new(
            "get_project",
            Method::GET,
            format!("/organizations/projects/{id}"),
        ))
        .await
    }

    /// `listProjectQuotas`.
    pub async fn list_project_quotas(
        &self,
        project_id: &str,
    ) -> Result<ProjectQuotas, CrusoeError> {
        let path = project_path(project_id, "/quotas")?;
        self.execute(Call::new("list_project_quotas", Method::GET, path))
            .await
    }
}
