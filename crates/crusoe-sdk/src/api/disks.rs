use reqwest::Method;

use super::OperationFamily;
use crate::client::{join_filter, Call};
use crate::types::{CreateDiskRequest, Disk, DiskFilter};
use crate::{CrusoeError, Pending, ProjectClient};

const DISKS: &str = "storage/disks";

/// `project.disks()`: the project's disks.
#[derive(Clone, Copy, Debug)]
pub struct Disks<'a> {
    project: &'a ProjectClient,
}

impl ProjectClient {
    pub fn disks(&self) -> Disks<'_> {
        Disks { project: self }
    }
}

impl Disks<'_> {
    /// `listDisks`.
    pub async fn list(self, filter: &DiskFilter) -> Result<Vec<Disk>, CrusoeError> {
        let path = self.project.path(&format!("/{DISKS}"))?;
        let mut call = Call::new("list_disks", Method::GET, path);
        if let Some(v) = join_filter("disk_ids", &filter.ids)? {
            call = call.query("disk_ids", v);
        }
        if let Some(v) = join_filter("disk_names", &filter.names)? {
            call = call.query("disk_names", v);
        }
        if let Some(location) = &filter.location {
            call = call.query("location", location.clone());
        }
        if let Some(exclude_os) = filter.exclude_os {
            call = call.query("exclude_os", exclude_os.to_string());
        }
        self.project.client().execute_items(call).await
    }

    /// `getDisk`.
    pub async fn get(self, disk_id: &str) -> Result<Disk, CrusoeError> {
        self.project
            .get_item("get_disk", DISKS, "disk_id", disk_id)
            .await
    }

    /// `createDisk`. The finished operation's `result` holds the disk.
    pub async fn create(self, request: &CreateDiskRequest) -> Result<Pending, CrusoeError> {
        let path = self.project.path(&format!("/{DISKS}"))?;
        let call = Call::new("create_disk", Method::POST, path).json(request)?;
        self.project.start(OperationFamily::Disks, call).await
    }

    /// `deleteDisk`. Crusoe refuses to delete an attached disk.
    pub async fn delete(self, disk_id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::Disks;
        self.project
            .delete_item("delete_disk", family, "disk_id", disk_id)
            .await
    }
}
