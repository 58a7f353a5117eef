//! The kinds of resource a project holds, each said once: the name Crusoe's 404 gives one, the
//! family of its operations, where the project keeps them, and how Crusoe renders one.

use std::collections::BTreeMap;

use axum::Json;
use serde_json::{json, Value};

use crate::http::{operation, SimError, SimResult};
use crate::resources::{Disk, Network, Project, Subnet, Vm};
use crate::world::{Action, Family, Fate, World};

pub struct Kind<T> {
    /// As in Crusoe's `{name} not found`.
    pub name: &'static str,
    pub family: Family,
    pub of: fn(&Project) -> &BTreeMap<String, T>,
    pub of_mut: fn(&mut Project) -> &mut BTreeMap<String, T>,
    pub render: fn(&Project, &T) -> Value,
}

impl<T> Kind<T> {
    pub fn not_found(&self) -> SimError {
        SimError::not_found(self.name)
    }

    pub fn find<'p>(&self, project: &'p Project, id: &str) -> Result<&'p T, SimError> {
        (self.of)(project).get(id).ok_or_else(|| self.not_found())
    }

    /// Stores a new one in a project that `Call::run` has checked is there.
    pub fn insert(&self, w: &mut World, project_id: &str, id: String, resource: T) {
        let project = w.projects.get_mut(project_id).expect("owned");
        (self.of_mut)(project).insert(id, resource);
    }

    /// Stores one that Crusoe makes at once, with no operation, and answers `{<key>: it}`.
    pub fn insert_answered(
        &self,
        w: &mut World,
        project_id: &str,
        key: &str,
        id: String,
        resource: T,
    ) -> SimResult {
        let rendered = (self.render)(&w.projects[project_id], &resource);
        self.insert(w, project_id, id, resource);
        Ok(Json(json!({ key: rendered })))
    }

    /// Starts `action` on one of these, to succeed unless a fault says otherwise, and answers it.
    pub fn start_op(&self, w: &mut World, project_id: &str, id: &str, action: Action) -> SimResult {
        operation(w.start_op(project_id, self.family, id, action, Fate::Succeed))
    }
}

/// Kinds the simulator only stores are kept as Crusoe renders them.
fn stored(_: &Project, resource: &Value) -> Value {
    resource.clone()
}

/// One line of the table below: both accessors from the one `Project` field.
macro_rules! kind {
    ($name:literal, $family:ident, $field:ident, $render:expr) => {
        Kind {
            name: $name,
            family: Family::$family,
            of: |p| &p.$field,
            of_mut: |p| &mut p.$field,
            render: $render,
        }
    };
}

pub const VMS: Kind<Vm> = kind!("instance", Vms, vms, Project::vm_json);
pub const DISKS: Kind<Disk> = kind!("disk", Disks, disks, Project::disk_json);
pub const NETWORKS: Kind<Network> = kind!("VPC network", Networks, networks, Project::network_json);
pub const SUBNETS: Kind<Subnet> = kind!("VPC subnet", Subnets, subnets, Project::subnet_json);
pub const FIREWALL_RULES: Kind<Value> =
    kind!("VPC firewall rule", FirewallRules, firewall_rules, stored);
pub const LOAD_BALANCERS: Kind<Value> =
    kind!("load balancer", LoadBalancers, load_balancers, stored);
pub const CUSTOM_IMAGES: Kind<Value> = kind!("custom image", CustomImages, custom_images, stored);
