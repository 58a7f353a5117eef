use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectResourceDetails {
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectResources {
    pub disks: ProjectResourceDetails,
    pub images: ProjectResourceDetails,
    pub instances: ProjectResourceDetails,
    pub snapshots: ProjectResourceDetails,
    pub vpc_networks: ProjectResourceDetails,
}

/// `Project`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub relation: String,
    pub resources: ProjectResources,
}

/// `ProjectQuota` (every field optional in Crusoe's OpenAPI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectQuota {
    pub available: Option<i64>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub max: Option<i64>,
    pub programmatic_name: Option<String>,
    #[serde(rename = "type")]
    pub quota_type: Option<String>,
    pub used: Option<i64>,
}

/// `ListProjectQuotasResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectQuotas {
    #[serde(default, deserialize_with = "super::null_as_empty")]
    pub quotas: Vec<ProjectQuota>,
}
