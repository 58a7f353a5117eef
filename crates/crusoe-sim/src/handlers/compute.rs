//! VMs: list (paged), get, create, delete, start/stop/reset/update, attach and detach disks.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::Query;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::kinds::VMS;
use super::project_call::{ProjectCall, ResourceCall};
use crate::catalog;
use crate::http::{
    list_param, object, object_entries, operation, optional_str, required_array, required_str,
    SimError, SimResult,
};
use crate::resources::{Attachment, Disk, Project, PublicIp, Vm, VmState};
use crate::world::{timestamp, Action, DiskToAttach, Family, Fate, World};

const MAX_SCRIPT_BYTES: usize = 64 * 1024;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

fn page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn parse_token(token: &str) -> Result<usize, SimError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| SimError::bad_request("invalid page token"))
}

pub async fn list_vms(call: ProjectCall, Query(q): Query<HashMap<String, String>>) -> SimResult {
    // Sets: a fleet's status reads ask for a hundred names at a time among thousands of VMs.
    let set = |k: &str| {
        list_param(q.get(k))
            .into_iter()
            .collect::<std::collections::HashSet<String>>()
    };
    let (ids, mut names, types, locations) =
        (set("ids"), set("names"), set("types"), set("locations"));
    if call.sim().names_match_one {
        names = q.get("names").into_iter().cloned().collect();
    }
    call.sim()
        .count_vm_list(match (ids.is_empty(), names.is_empty()) {
            (false, _) => "ids",
            (true, false) => "names",
            (true, true) => "unfiltered",
        });
    let states: Vec<String> = list_param(q.get("states"))
        .into_iter()
        .map(|s| {
            if s.starts_with("STATE_") {
                s
            } else {
                format!("STATE_{s}")
            }
        })
        .collect();
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(SimError::bad_request(format!(
                    "limit must be from 1 to {MAX_LIMIT}"
                )))
            }
        },
    };
    let offset = match (q.get("next_token"), q.get("prev_token")) {
        (Some(t), _) if !t.is_empty() => parse_token(t)?,
        (_, Some(t)) if !t.is_empty() => parse_token(t)?,
        _ => 0,
    };
    let sort = q.get("sort").map(String::as_str).unwrap_or("created_at");
    if !matches!(sort, "created_at" | "name") {
        return Err(SimError::bad_request("sort must be created_at or name"));
    }
    call.run(|w| {
        let p = &w.projects[&call.project_id];
        let mut vms: Vec<&Vm> = p
            .vms
            .values()
            .filter(|v| ids.is_empty() || ids.contains(&v.id))
            .filter(|v| names.is_empty() || names.contains(&v.name))
            .filter(|v| types.is_empty() || types.contains(&v.vm_type))
            .filter(|v| locations.is_empty() || locations.contains(&v.location))
            .filter(|v| states.is_empty() || states.iter().any(|s| s == v.state.wire()))
            .collect();
        if sort == "name" {
            vms.sort_by(|a, b| a.name.cmp(&b.name).then(a.seq.cmp(&b.seq)));
        } else {
            vms.sort_by_key(|v| v.seq);
        }
        let end = (offset + limit).min(vms.len());
        let items: Vec<Value> = vms
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|v| p.vm_json(v))
            .collect();
        let next = if end < vms.len() {
            page_token(end)
        } else {
            String::new()
        };
        let prev = if offset > 0 {
            page_token(offset.saturating_sub(limit))
        } else {
            String::new()
        };
        Ok(Json(
            json!({"items": items, "next_page_token": next, "prev_page_token": prev}),
        ))
    })
}

/// The startup script rules Crusoe documents: bash, ASCII, under 64 KiB.
fn check_script(field: &str, script: &str) -> Result<(), SimError> {
    if !script.starts_with("#!/bin/bash") {
        return Err(SimError::bad_request(format!(
            "{field} must start with #!/bin/bash"
        )));
    }
    if !script.is_ascii() {
        return Err(SimError::bad_request(format!("{field} must be ASCII")));
    }
    if script.len() >= MAX_SCRIPT_BYTES {
        return Err(SimError::bad_request(format!(
            "{field} must be under 64 KiB"
        )));
    }
    Ok(())
}

#[derive(Default)]
struct NicRequest {
    subnet: Option<String>,
    is_static: bool,
}

fn parse_nic(body: &Map<String, Value>) -> Result<NicRequest, SimError> {
    let Some(nics) = body.get("network_interfaces").filter(|v| !v.is_null()) else {
        return Ok(NicRequest::default());
    };
    let nics = nics
        .as_array()
        .ok_or_else(|| SimError::bad_request("network_interfaces must be an array"))?;
    if nics.len() > 1 {
        return Err(SimError::bad_request(
            "only one network interface is supported",
        ));
    }
    let Some(nic) = nics.first() else {
        return Ok(NicRequest::default());
    };
    let nic = nic
        .as_object()
        .ok_or_else(|| SimError::bad_request("network_interfaces[0] must be an object"))?;
    let subnet = optional_str(nic, "subnet")?.filter(|s| !s.is_empty());
    let ip_type = nic
        .get("ips")
        .and_then(|ips| ips.get(0))
        .and_then(|ip| ip.get("public_ipv4"))
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("dynamic");
    let is_static = match ip_type {
        "static" => true,
        "dynamic" => false,
        other => {
            return Err(SimError::bad_request(format!(
                "public_ipv4.type {other:?} is not static or dynamic"
            )))
        }
    };
    Ok(NicRequest { subnet, is_static })
}

fn parse_attachments(list: &[Value], field: &str) -> Result<Vec<DiskToAttach>, SimError> {
    object_entries(list, field)
        .map(|d| {
            let d = d?;
            let disk_id = required_str(d, "disk_id")?;
            let mode = required_str(d, "mode")?;
            let attachment_type = required_str(d, "attachment_type")?;
            if !matches!(mode.as_str(), "read-write" | "read-only") {
                return Err(SimError::bad_request(
                    "mode must be read-write or read-only",
                ));
            }
            if !matches!(attachment_type.as_str(), "data" | "os") {
                return Err(SimError::bad_request("attachment_type must be os or data"));
            }
            Ok(DiskToAttach {
                disk_id,
                attachment_type,
                mode,
            })
        })
        .collect()
}

/// Checks that each disk exists, is in the VM's location and is free for a read-write attachment.
fn check_disks(p: &Project, location: &str, disks: &[DiskToAttach]) -> Result<(), SimError> {
    for d in disks {
        let disk = p
            .disks
            .get(&d.disk_id)
            .ok_or_else(|| SimError::bad_request(format!("disk {} not found", d.disk_id)))?;
        if disk.location != location {
            return Err(SimError::bad_request(format!(
                "disk {} is in {}, not {location}",
                d.disk_id, disk.location
            )));
        }
        if d.mode == "read-write" && !disk.attached_to.is_empty() {
            return Err(SimError::conflict(format!(
                "disk {} is already attached",
                d.disk_id
            )));
        }
    }
    Ok(())
}

pub async fn create_vm(call: ProjectCall, body: Bytes) -> SimResult {
    let project_id = &call.project_id;
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    let vm_type = required_str(&body, "type")?;
    let location = required_str(&body, "location")?;
    required_str(&body, "ssh_public_key")?;
    let spec = catalog::vm_type(&vm_type)
        .ok_or_else(|| SimError::bad_request(format!("unknown VM type {vm_type:?}")))?;
    if !catalog::LOCATIONS.contains(&location.as_str()) {
        return Err(SimError::bad_request(format!(
            "unknown location {location:?}"
        )));
    }
    let image = optional_str(&body, "image")?.filter(|s| !s.is_empty());
    let custom_image = optional_str(&body, "custom_image")?.filter(|s| !s.is_empty());
    if image.is_some() && custom_image.is_some() {
        return Err(SimError::bad_request(
            "supply either image or custom_image, not both",
        ));
    }
    if let Some(image) = &image {
        if !catalog::image_exists(image) {
            return Err(SimError::bad_request(format!("image {image:?} not found")));
        }
    }
    for field in ["startup_script", "shutdown_script"] {
        if let Some(script) = optional_str(&body, field)? {
            check_script(field, &script)?;
        }
    }
    let watch_agent = match body.get("install_crusoe_watch_agent") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(SimError::bad_request(
                "install_crusoe_watch_agent must be a boolean",
            ))
        }
    };
    let nested_virtualization = match body.get("virtualization_features") {
        None | Some(Value::Null) => false,
        Some(Value::Object(f)) => match f.get("nested_virtualization") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(SimError::bad_request(
                    "virtualization_features.nested_virtualization must be a boolean",
                ))
            }
        },
        Some(_) => {
            return Err(SimError::bad_request(
                "virtualization_features must be an object",
            ))
        }
    };
    let nic = parse_nic(&body)?;
    let disks = match body.get("disks").filter(|v| !v.is_null()) {
        Some(Value::Array(list)) => parse_attachments(list, "disks")?,
        Some(_) => return Err(SimError::bad_request("disks must be an array")),
        None => Vec::new(),
    };

    call.run(|w| {
        let p = &w.projects[project_id];
        if let Some(custom) = &custom_image {
            let image = p.custom_images.get(custom).ok_or_else(|| {
                SimError::bad_request(format!("custom image {custom:?} not found"))
            })?;
            // An image is known to be usable where the disk it was made from was.
            let available = image["locations"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l == location.as_str()));
            if !available {
                return Err(SimError::bad_request(format!(
                    "custom image {custom} is not available in {location}"
                )));
            }
        }
        let subnet_id = match &nic.subnet {
            Some(id) => {
                let s = p
                    .subnets
                    .get(id)
                    .ok_or_else(|| SimError::bad_request(format!("subnet {id} not found")))?;
                if s.location != location {
                    return Err(SimError::bad_request(format!(
                        "subnet {id} is in {}, not {location}",
                        s.location
                    )));
                }
                id.clone()
            }
            None => p
                .subnets
                .values()
                .find(|s| s.location == location && s.name.starts_with("default-"))
                .map(|s| s.id.clone())
                .ok_or_else(|| SimError::bad_request(format!("no default subnet in {location}")))?,
        };
        check_disks(p, &location, &disks)?;

        let key = (location.clone(), vm_type.clone());
        let in_stock = w.capacity.get(&key).copied().unwrap_or(0) > 0;
        if in_stock {
            *w.capacity.get_mut(&key).expect("checked") -= 1;
        }
        let private_ip = {
            let subnet = w
                .projects
                .get_mut(project_id)
                .and_then(|p| p.subnets.get_mut(&subnet_id))
                .expect("checked");
            subnet.allocate().ok_or_else(|| {
                SimError::bad_request(format!("subnet {subnet_id} has no free address"))
            })?
        };
        let network_id = w.projects[project_id].subnets[&subnet_id]
            .network_id
            .clone();
        let now = timestamp();
        let (vm_id, nic_id, ip_id, os_disk_id) = (w.new_id(), w.new_id(), w.new_id(), w.new_id());
        let seq = w.next_seq();
        let serial = w.new_serial();
        let p = w.projects.get_mut(project_id).expect("owned");
        p.disks.insert(
            os_disk_id.clone(),
            Disk {
                id: os_disk_id.clone(),
                name: format!("{name}-os"),
                location: location.clone(),
                size: format!("{}GiB", 128.max(spec.disk_gb.min(1024))),
                disk_type: "persistent-ssd".into(),
                block_size: 512,
                serial,
                created_at: now.clone(),
                updated_at: now.clone(),
                attached_to: vec![Attachment {
                    vm_id: vm_id.clone(),
                    attachment_type: "os".into(),
                    mode: "read-write".into(),
                }],
            },
        );
        for d in &disks {
            let disk = p.disks.get_mut(&d.disk_id).expect("checked");
            disk.attached_to.push(Attachment {
                vm_id: vm_id.clone(),
                attachment_type: d.attachment_type.clone(),
                mode: d.mode.clone(),
            });
        }
        p.vms.insert(
            vm_id.clone(),
            Vm {
                id: vm_id.clone(),
                name,
                vm_type: vm_type.clone(),
                location: location.clone(),
                state: VmState::Provisioning,
                created_at: now.clone(),
                updated_at: now,
                seq,
                nic_id,
                mac: None,
                subnet_id,
                network_id,
                private_ip,
                public_ip: PublicIp {
                    id: ip_id,
                    address: None,
                    is_static: nic.is_static,
                },
                os_disk_id,
                busy_with: None,
                startup_script: optional_str(&body, "startup_script")?,
                watch_agent: watch_agent.unwrap_or(true),
                reservation: body
                    .get("reservation_specification")
                    .filter(|v| !v.is_null())
                    .cloned(),
                image: image
                    .clone()
                    .or(custom_image.clone())
                    .unwrap_or_else(|| "ubuntu22.04:latest".into()),
                running_since_ms: None,
                changed_at: None,
                nested_virtualization,
            },
        );
        let fate = if in_stock {
            Fate::Succeed
        } else {
            Fate::Fail {
                code: "out_of_stock".into(),
                message: format!("no {vm_type} capacity available in {location}"),
            }
        };
        operation(w.start_op(
            project_id,
            Family::Vms,
            &vm_id,
            Action::CreateVm {
                took_capacity: in_stock,
            },
            fate,
        ))
    })
}

fn busy_check(vm: &Vm) -> Result<(), SimError> {
    if vm.busy_with.is_some() {
        return Err(SimError::conflict(
            "another operation is in progress on this instance",
        ));
    }
    Ok(())
}

/// The VM, to change its state as its operation starts; or Crusoe's 404.
fn vm_mut<'w>(w: &'w mut World, call: &ResourceCall) -> Result<&'w mut Vm, SimError> {
    w.projects
        .get_mut(&call.project_id)
        .and_then(|p| p.vms.get_mut(&call.id))
        .ok_or_else(|| VMS.not_found())
}

pub async fn delete_vm(call: ResourceCall) -> SimResult {
    call.run(|w| {
        let (needs_stop, settle_ms) = (
            w.faults.delete_needs_stopped_vm,
            w.faults.delete_conflict_after_change_ms,
        );
        let vm = vm_mut(w, &call)?;
        busy_check(vm)?;
        // Two readings of Crusoe by the packer plugin, as faults: a VM must be stopped before it
        // is deleted (414a312), and a DELETE in the same second as a state change conflicts
        // (60b0774).
        if needs_stop && vm.state != VmState::Shutoff {
            return Err(SimError::bad_request(format!(
                "the instance must be stopped before it is deleted; it is {}",
                vm.state.wire()
            )));
        }
        if vm
            .changed_at
            .is_some_and(|at| at.elapsed() < std::time::Duration::from_millis(settle_ms))
        {
            return Err(SimError::conflict(
                "the instance's last change is still being finalized",
            ));
        }
        let previous = vm.state;
        vm.state = VmState::Deleting;
        VMS.start_op(w, &call.project_id, &call.id, Action::DeleteVm { previous })
    })
}

pub async fn update_vm(call: ResourceCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let action = required_str(&body, "action")?;
    call.run(|w| {
        let vm = vm_mut(w, &call)?;
        busy_check(vm)?;
        let wrong_state = |want: &str| {
            SimError::bad_request(format!(
                "{action} needs the instance to be {want}, it is {}",
                vm.state.wire()
            ))
        };
        let op_action = match action.as_str() {
            "START" if vm.state == VmState::Shutoff => Action::StartVm,
            "START" => return Err(wrong_state("STATE_SHUTOFF")),
            "STOP" if vm.state == VmState::Running => Action::StopVm,
            "STOP" => return Err(wrong_state("STATE_RUNNING")),
            "RESET" if vm.state == VmState::Running => Action::ResetVm,
            "RESET" => return Err(wrong_state("STATE_RUNNING")),
            "UPDATE" => {
                let public = body
                    .get("network_interfaces")
                    .and_then(|n| n.get(0))
                    .and_then(|n| n.get("ips"))
                    .and_then(|i| i.get(0))
                    .and_then(|i| i.get("public_ipv4"))
                    .ok_or_else(|| {
                        SimError::bad_request(
                            "UPDATE supports network_interfaces[0].ips[0].public_ipv4 only",
                        )
                    })?;
                if public.get("type").and_then(Value::as_str) != Some("static") {
                    return Err(SimError::bad_request("public_ipv4.type must be static"));
                }
                if public.get("id").and_then(Value::as_str) != Some(vm.public_ip.id.as_str()) {
                    return Err(SimError::bad_request(
                        "public_ipv4.id does not name the instance's address",
                    ));
                }
                if vm.state != VmState::Running {
                    return Err(wrong_state("STATE_RUNNING"));
                }
                Action::MakeIpStatic
            }
            "RESERVE" | "UNRESERVE" => {
                return Err(SimError::bad_request(format!("{action} is not simulated")))
            }
            other => return Err(SimError::bad_request(format!("unknown action {other:?}"))),
        };
        match op_action {
            Action::StartVm => vm.state = VmState::Provisioning,
            Action::StopVm => vm.state = VmState::Stopping,
            _ => {}
        }
        VMS.start_op(w, &call.project_id, &call.id, op_action)
    })
}

/// Crusoe's terraform provider attaches and detaches disks only on a stopped VM ("requires that
/// the VM be stopped", `internal/vm/vm_resource.go`): the simulator refuses it on any other.
fn stopped_check(vm: &Vm, what: &str) -> Result<(), SimError> {
    if vm.state == VmState::Shutoff {
        Ok(())
    } else {
        Err(SimError::bad_request(format!(
            "{what} needs the instance to be STATE_SHUTOFF, it is {}",
            vm.state.wire()
        )))
    }
}

pub async fn attach_disks(call: ResourceCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let disks = parse_attachments(required_array(&body, "attach_disks")?, "attach_disks")?;
    call.start(&VMS, |p, vm| {
        busy_check(vm)?;
        stopped_check(vm, "attach-disks")?;
        check_disks(p, &vm.location, &disks)?;
        Ok(Action::AttachDisks(disks))
    })
}

pub async fn detach_disks(call: ResourceCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let ids: Vec<String> = required_array(&body, "detach_disks")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| SimError::bad_request("detach_disks must hold disk ids"))
        })
        .collect::<Result<_, _>>()?;
    call.start(&VMS, |p, vm| {
        busy_check(vm)?;
        stopped_check(vm, "detach-disks")?;
        for id in &ids {
            let attached = p.disks.get(id).is_some_and(|d| {
                d.attached_to
                    .iter()
                    .any(|a| a.vm_id == call.id && a.attachment_type == "data")
            });
            if !attached {
                return Err(SimError::bad_request(format!(
                    "disk {id} is not attached to this instance as data"
                )));
            }
        }
        Ok(Action::DetachDisks(ids))
    })
}
