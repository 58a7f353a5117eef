use std::collections::HashSet;

use reqwest::Method;

use super::{item_path, project_path};
use crate::client::{join_filter, Call, CrusoeClient};
use crate::types::{
    AttachDisksRequest, CreateVmRequest, DetachDisksRequest, DiskAttachment, Operation,
    UpdateVmRequest, Vm, VmFilter, VmPage,
};
use crate::CrusoeError;

const VMS: &str = "compute/vms/instances";

/// A runaway paginator (a server that keeps handing out tokens) stops here.
const MAX_PAGES: usize = 10_000;

impl CrusoeClient {
    /// `listInstances`, one page. Pages are always sorted by `created_at`, as Crusoe's paging
    /// needs a stable order.
    pub async fn list_vms_page(
        &self,
        project_id: &str,
        filter: &VmFilter,
        next_token: Option<&str>,
    ) -> Result<VmPage, CrusoeError> {
        let path = project_path(project_id, &format!("/{VMS}"))?;
        let mut call = Call::new("list_vms", Method::GET, path)
            .query("sort", "created_at")
            .query("limit", self.settings().page_size.to_string());
        for (key, values) in [
            ("ids", &filter.ids),
            ("names", &filter.names),
            ("types", &filter.types),
            ("locations", &filter.locations),
        ] {
            if let Some(v) = join_filter(key, values)? {
                call = call.query(key, v);
            }
        }
        let states: Vec<String> = filter.states.iter().map(|s| s.wire_name()).collect();
        if let Some(v) = join_filter("states", &states)? {
            call = call.query("states", v);
        }
        if let Some(token) = next_token.filter(|t| !t.is_empty()) {
            call = call.query("next_token", token);
        }
        self.execute(call).await
    }

    /// `listInstances`, every page.
    pub async fn list_vms(
        &self,
        project_id: &str,
        filter: &VmFilter,
    ) -> Result<Vec<Vm>, CrusoeError> {
        let mut vms = Vec::new();
        let mut token: Option<String> = None;
        let mut seen_tokens = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .list_vms_page(project_id, filter, token.as_deref())
                .await?;
            vms.extend(page.items);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                None => return Ok(vms),
                Some(next) => {
                    if !seen_tokens.insert(next.clone()) {
                        return Err(CrusoeError::InvalidResponse(
                            "list_vms: the same next_page_token came back twice".into(),
                        ));
                    }
                    token = Some(next);
                }
            }
        }
        Err(CrusoeError::InvalidResponse(format!(
            "list_vms: more than {MAX_PAGES} pages"
        )))
    }

    /// `getInstance`.
    pub async fn get_vm(&self, project_id: &str, vm_id: &str) -> Result<Vm, CrusoeError> {
        let path = item_path(project_id, VMS, "vm_id", vm_id)?;
        self.execute(Call::new("get_vm", Method::GET, path)).await
    }

    /// `createInstance`. `metadata.id` of the returned operation is the new VM's id.
    pub async fn create_vm(
        &self,
        project_id: &str,
        request: &CreateVmRequest,
    ) -> Result<Operation, CrusoeError> {
        if request.image.is_some() && request.custom_image.is_some() {
            return Err(CrusoeError::InvalidRequest(
                "create_vm: give image or custom_image, not both".into(),
            ));
        }
        let path = project_path(project_id, &format!("/{VMS}"))?;
        let call = Call::new("create_vm", Method::POST, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `deleteInstance`.
    pub async fn delete_vm(&self, project_id: &str, vm_id: &str) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, VMS, "vm_id", vm_id)?;
        self.execute_operation(Call::new("delete_vm", Method::DELETE, path))
            .await
    }

    /// `updateInstance`: START, STOP, RESET or UPDATE.
    pub async fn update_vm(
        &self,
        project_id: &str,
        vm_id: &str,
        request: &UpdateVmRequest,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, VMS, "vm_id", vm_id)?;
        let call = Call::new("update_vm", Method::PATCH, path).json(request)?;
        self.execute_operation(call).await
    }

    /// `updateInstanceAttachDisks`.
    pub async fn attach_disks(
        &self,
        project_id: &str,
        vm_id: &str,
        disks: Vec<DiskAttachment>,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, VMS, "vm_id", vm_id)? + "/attach-disks";
        let call = Call::new("attach_disks", Method::POST, path).json(&AttachDisksRequest {
            attach_disks: disks,
        })?;
        self.execute_operation(call).await
    }

    /// `updateInstanceDetachDisks`.
    pub async fn detach_disks(
        &self,
        project_id: &str,
        vm_id: &str,
        disk_ids: Vec<String>,
    ) -> Result<Operation, CrusoeError> {
        let path = item_path(project_id, VMS, "vm_id", vm_id)? + "/detach-disks";
        let call = Call::new("detach_disks", Method::POST, path).json(&DetachDisksRequest {
            detach_disks: disk_ids,
        })?;
        self.execute_operation(call).await
    }
}
