use serde::{Deserialize, Serialize};

use super::null_as_empty;

/// `CapacityV1Alpha5`: how many of a type are in stock in a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub location: String,
    pub quantity: u32,
    #[serde(rename = "type")]
    pub product_name: Option<String>,
    pub num_slices: Option<u32>,
    pub quota_type: Option<String>,
}

/// `Type`: a VM type. Crusoe gives no price and no location here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmType {
    pub product_name: String,
    pub description: String,
    pub cpu_cores: i64,
    pub cpu_type: String,
    pub memory_gb: i64,
    pub memory_type: String,
    pub disk_gb: i64,
    pub disk_type: String,
    pub num_gpu: i64,
    pub gpu_type: String,
}

/// `Image`: a public or custom image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub locations: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
}

/// `CustomImagePostRequest`. Crusoe spells the disk's key `DiskID` (its OpenAPI, client-go, and
/// the packer plugin agree); the image takes the disk's location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateCustomImageRequest {
    #[serde(rename = "DiskID")]
    pub disk_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}
