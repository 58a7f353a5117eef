use serde::{Deserialize, Serialize};

use super::null_as_empty;

/// `VMAttachmentV1Alpha5`: a VM a disk is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskVmAttachment {
    pub vm_id: String,
    pub attachment_type: String,
    pub mode: Option<String>,
}

/// `DiskV1Alpha5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disk {
    pub id: String,
    pub name: String,
    pub location: String,
    /// Size and unit, e.g. `100GiB` or `1TiB`.
    pub size: String,
    #[serde(rename = "type")]
    pub disk_type: String,
    pub block_size: i64,
    pub serial_number: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub attached_to: Vec<DiskVmAttachment>,
    pub dns_name: Option<String>,
    pub vips: Option<Vec<String>>,
}

/// `DisksPostRequestV1Alpha5`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateDiskRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Size and unit, e.g. `100GiB`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `persistent-ssd` (Crusoe's default) or `shared-volume`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
}

impl CreateDiskRequest {
    /// A persistent SSD of `size_gib` GiB. No block size is sent: every persistent disk has
    /// 512-byte blocks and Crusoe ignores one given on create (terraform-provider-crusoe
    /// 2c4a455, 2026-06-30, "any value set here is ignored").
    pub fn persistent_ssd(
        name: impl Into<String>,
        location: impl Into<String>,
        size_gib: u32,
    ) -> Self {
        Self {
            name: name.into(),
            location: Some(location.into()),
            size: Some(format!("{size_gib}GiB")),
            disk_type: Some("persistent-ssd".into()),
            block_size: None,
            snapshot_id: None,
        }
    }
}

/// Filters of list-disks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskFilter {
    pub ids: Vec<String>,
    pub names: Vec<String>,
    pub location: Option<String>,
    pub exclude_os: Option<bool>,
}
