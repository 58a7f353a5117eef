use std::collections::HashSet;

use reqwest::Method;

use super::OperationFamily;
use crate::client::{join_filter, Call};
use crate::types::{
    AttachDisksRequest, CreateVmRequest, DetachDisksRequest, DiskAttachment, UpdateVmRequest, Vm,
    VmFilter, VmPage, VmType,
};
use crate::{CrusoeError, Pending, ProjectClient};

const VMS: &str = "compute/vms/instances";

/// A runaway paginator (a server that keeps handing out tokens) stops here.
const MAX_PAGES: usize = 10_000;

/// `project.vms()`: the project's VM instances.
#[derive(Clone, Copy, Debug)]
pub struct Vms<'a> {
    project: &'a ProjectClient,
}

impl ProjectClient {
    pub fn vms(&self) -> Vms<'_> {
        Vms { project: self }
    }

    /// `getVMTypes`: the VM types this project may use.
    pub async fn vm_types(&self) -> Result<Vec<VmType>, CrusoeError> {
        self.list_items("list_vm_types", "compute/vms/types").await
    }
}

impl Vms<'_> {
    /// `listInstances`, one page. Pages are always sorted by `created_at`, as Crusoe's paging
    /// needs a stable order.
    async fn page(
        self,
        filter: &VmFilter,
        next_token: Option<&str>,
    ) -> Result<VmPage, CrusoeError> {
        let client = self.project.client();
        let mut call = Call::new(
            "list_vms",
            Method::GET,
            self.project.path(&format!("/{VMS}"))?,
        )
        .query("sort", "created_at")
        .query("limit", client.settings().page_size.to_string());
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
        client.execute(call).await
    }

    /// `listInstances`, every page.
    pub async fn list(self, filter: &VmFilter) -> Result<Vec<Vm>, CrusoeError> {
        let mut vms = Vec::new();
        let mut token: Option<String> = None;
        let mut seen_tokens = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self.page(filter, token.as_deref()).await?;
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
    pub async fn get(self, vm_id: &str) -> Result<Vm, CrusoeError> {
        self.project.get_item("get_vm", VMS, "vm_id", vm_id).await
    }

    /// `createInstance`. `metadata.id` of the returned operation is the new VM's id.
    pub async fn create(self, request: &CreateVmRequest) -> Result<Pending, CrusoeError> {
        if request.image.is_some() && request.custom_image.is_some() {
            return Err(CrusoeError::InvalidRequest(
                "create_vm: give image or custom_image, not both".into(),
            ));
        }
        let path = self.project.path(&format!("/{VMS}"))?;
        let call = Call::new("create_vm", Method::POST, path).json(request)?;
        self.project.start(OperationFamily::Vms, call).await
    }

    /// `deleteInstance`.
    pub async fn delete(self, vm_id: &str) -> Result<Pending, CrusoeError> {
        let family = OperationFamily::Vms;
        self.project
            .delete_item("delete_vm", family, "vm_id", vm_id)
            .await
    }

    /// `updateInstance`: START, STOP, RESET or UPDATE.
    pub async fn update(
        self,
        vm_id: &str,
        request: &UpdateVmRequest,
    ) -> Result<Pending, CrusoeError> {
        let path = self.project.item_path(VMS, "vm_id", vm_id)?;
        let call = Call::new("update_vm", Method::PATCH, path).json(request)?;
        self.project.start(OperationFamily::Vms, call).await
    }

    /// `updateInstanceAttachDisks`.
    pub async fn attach_disks(
        &self,
        vm_id: &str,
        disks: Vec<DiskAttachment>,
    ) -> Result<Pending, CrusoeError> {
        let path = self.project.item_path(VMS, "vm_id", vm_id)? + "/attach-disks";
        let call = Call::new("attach_disks", Method::POST, path).json(&AttachDisksRequest {
            attach_disks: disks,
        })?;
        self.project.start(OperationFamily::Vms, call).await
    }

    /// `updateInstanceDetachDisks`.
    pub async fn detach_disks(
        self,
        vm_id: &str,
        disk_ids: Vec<String>,
    ) -> Result<Pending, CrusoeError> {
        let path = self.project.item_path(VMS, "vm_id", vm_id)? + "/detach-disks";
        let call = Call::new("detach_disks", Method::POST, path).json(&DetachDisksRequest {
            detach_disks: disk_ids,
        })?;
        self.project.start(OperationFamily::Vms, call).await
    }
}
