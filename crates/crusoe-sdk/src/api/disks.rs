use reqwest::Method;

use super::{item_path, project_path};
use crate::client::{join_filter, Call, CrusoeClient};
use crate::types::{CreateDiskRequest, Disk, DiskFilter, Operation};
use crate::CrusoeError;

const DISKS: &str = "storage/disks";

impl CrusoeClient {
    /// `listDisks`.
    pub async fn list_disks(
        &self,
        project_id: &str,
        filter: &DiskFilter,
    ) -> Result<Vec<Disk>, CrusoeError> {
        let path = project_path(project_id, &format!("/{DISKS}"))?;
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
        self.execute_items(call).await
    }

    /// `getDisk`.
    pub async fn get_disk(&self, project_id: &str, disk_id: &str) -> Result<Disk, CrusoeError> {
        let path = item_path(project_id, DISKS, "disk_id", disk_id)?;
        self.execute(Call::new("get_disk", Method::GET, path)).await
    }

    /// `createDisk`.
    pub async fn create_disk(
        &self,
        project_id: &str,
        request: &CreateDiskRequest,
    ) -> Result<Operation, CrusoeError> {
        let path = project_path(project_id, &format!("/{DISKS}"))?;
        let call = Call::new("create_disk", Method::POST, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `deleteDisk`. Crusoe refuses to delete an attached disk.
    pub async fn delete_disk(
        &self,
        project_id: &str,
        disk_id: &str,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, DISKS, "disk_id", disk_id)?;
        self.execute_operation(Call::new("delete_disk", Method::DELETE, path))
            .await
    }
}
