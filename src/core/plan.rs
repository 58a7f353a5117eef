//! Cycle's input rules for a provision, as one pure function: what Cycle asked for, checked and
//! named, before the catalogue or any cloud is asked anything.

use serde_json::{Map, Value};

use super::catalogue::Model;
use super::error::CoreError;
use super::naming;
use crate::ial::types::ProvisionServer;

/// CycleOS takes 35 GB for its base volume and needs 45 GB in all.
pub const CYCLEOS_MIN_DISK_GB: u32 = 45;
/// Largest data disk a provision may ask for, in GiB.
const MAX_STORAGE_GIB: u64 = 64 * 1024;

/// A provision Cycle asked for, checked: everything a backend needs to create the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionPlan {
    /// The server's name, from Cycle's id: `server_id` in every later call.
    pub name: String,
    pub cycle_server_id: String,
    pub hostname: String,
    pub hub: String,
    pub location: String,
    pub model_id: String,
    /// The model as the catalogue describes it, once the core has checked it is offered there.
    pub model: Option<Model>,
    /// Cycle's `hypervisor` feature: the server must be able to run virtual machines.
    pub hypervisor: bool,
    /// What Cycle asked for in `provision_options`, in GB.
    pub storage_gb: Option<u64>,
    /// `provision_options` as Cycle sent them, for what a backend reads of its own.
    pub options: Map<String, Value>,
    /// The location's state, as `configure_location` answered it.
    pub location_configuration: Option<Map<String, Value>>,
}

impl ProvisionPlan {
    pub fn from_request(req: &ProvisionServer, hub: &str) -> Result<Self, CoreError> {
        let cycle_id = naming::cycle_id(&req.cycle.server_id, "/request/cycle/server_id")?;
        // Go marshals an unset ObjectID as 24 zeros: that names no server, and every server sent
        // so would share one.
        if cycle_id.bytes().all(|b| b == b'0') {
            return Err(CoreError::invalid(
                "/request/cycle/server_id is Cycle's zero ObjectID: it names no server",
                "/request/cycle/server_id",
            ));
        }
        let options = req.provision_options.clone().unwrap_or_default();
        Ok(Self {
            name: naming::server_name(cycle_id),
            cycle_server_id: cycle_id.to_string(),
            hostname: req.hostname.trim().to_string(),
            hub: hub.to_string(),
            location: req.location_id.trim().to_string(),
            model_id: req.model_id.trim().to_string(),
            model: None,
            hypervisor: req
                .model_features
                .as_ref()
                .and_then(|f| f.hypervisor)
                .unwrap_or(false),
            storage_gb: requested_storage(Some(&options))?,
            options,
            location_configuration: req.location_configuration.clone(),
        })
    }

    /// The data disk the server needs, in GiB (see [`needed_gib`]); `default_gib` is the
    /// operator's size for a model whose own disk is too small.
    pub fn data_disk_gib(&self, default_gib: u32) -> Option<u64> {
        let own = self.model.as_ref().map_or(0, |m| m.disk_gb);
        needed_gib(own, self.storage_gb, default_gib)
    }
}

/// `provision_options` storage, in GB: `attached_storage_size` or `storage_size`, number or text.
pub fn requested_storage(options: Option<&Map<String, Value>>) -> Result<Option<u64>, CoreError> {
    for key in ["attached_storage_size", "storage_size"] {
        let pointer = format!("/request/provision_options/{key}");
        let value = match options.and_then(|o| o.get(key)) {
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let gb = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .filter(|gb| *gb <= MAX_STORAGE_GIB)
        .ok_or_else(|| {
            CoreError::invalid(
                format!("{pointer} must be a whole number of GB up to {MAX_STORAGE_GIB}"),
                &pointer,
            )
        })?;
        if gb > 0 {
            return Ok(Some(gb));
        }
    }
    Ok(None)
}

/// The data disk a server needs, in GiB: what Cycle asked for (45 at least) when it asked; else
/// `default_gib` when the type's own local disks (`disk_gb`: 0 on CPU types, NVMe on GPU types)
/// hold less than CycleOS needs; else none.
pub fn needed_gib(model_disk_gb: i64, requested: Option<u64>, default_gib: u32) -> Option<u64> {
    let too_small = model_disk_gb < i64::from(CYCLEOS_MIN_DISK_GB);
    match requested {
        Some(gb) if too_small => Some(gb.max(u64::from(CYCLEOS_MIN_DISK_GB))),
        Some(gb) => Some(gb),
        None if too_small => Some(u64::from(default_gib)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(server_id: &str, options: Value) -> ProvisionServer {
        serde_json::from_value(json!({
            "hostname": " h ",
            "model_id": "c1a.2x",
            "location_id": "us-east1-a",
            "provision_options": options,
            "cycle": {"server_id": server_id}
        }))
        .unwrap()
    }

    #[test]
    fn a_plan_names_the_server_from_cycles_id_and_trims_what_cycle_sent() {
        let plan =
            ProvisionPlan::from_request(&request("65f1e2d3c4b5a69788796a5b", json!(null)), "hub")
                .unwrap();
        assert_eq!(plan.name, "cycle-65f1e2d3c4b5a69788796a5b");
        assert_eq!(plan.hostname, "h");
        assert_eq!(plan.storage_gb, None);
    }

    #[test]
    fn the_zero_object_id_and_bad_storage_are_refused_naming_the_field() {
        let zero = ProvisionPlan::from_request(&request(&"0".repeat(24), json!(null)), "hub");
        assert!(
            matches!(zero, Err(CoreError::InvalidInput { pointer: Some(ref p), .. }) if p == "/request/cycle/server_id")
        );
        let bad = ProvisionPlan::from_request(
            &request("a1", json!({"attached_storage_size": "lots"})),
            "hub",
        );
        assert!(
            matches!(bad, Err(CoreError::InvalidInput { pointer: Some(ref p), .. }) if p == "/request/provision_options/attached_storage_size")
        );
    }

    fn options(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn storage_options_are_read_as_numbers_or_text() {
        assert_eq!(requested_storage(None).unwrap(), None);
        assert_eq!(
            requested_storage(Some(&options(json!({"storage_size": 200})))).unwrap(),
            Some(200)
        );
        assert_eq!(
            requested_storage(Some(&options(json!({"attached_storage_size": "150"})))).unwrap(),
            Some(150)
        );
        assert_eq!(
            requested_storage(Some(&options(json!({"storage_size": 0})))).unwrap(),
            None
        );
        let err = requested_storage(Some(&options(json!({"storage_size": "lots"})))).unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidInput { pointer: Some(ref p), .. } if p == "/request/provision_options/storage_size")
        );
        assert!(requested_storage(Some(&options(json!({"storage_size": -5})))).is_err());
    }

    #[test]
    fn a_type_without_room_for_cycleos_gets_a_data_disk_of_at_least_45_gb() {
        assert_eq!(needed_gib(0, None, 100), Some(100));
        assert_eq!(needed_gib(0, Some(20), 100), Some(45));
        assert_eq!(needed_gib(0, Some(200), 100), Some(200));
        assert_eq!(needed_gib(7680, None, 100), None);
        assert_eq!(needed_gib(7680, Some(20), 100), Some(20));
    }
}
