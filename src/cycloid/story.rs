//! What each IAL call that changed something tells Cycloid: an event for the organisation's
//! timeline and, at provision and decommission, the server's inventory resource. Pure: the
//! facts in, the Cycloid bodies out.

use serde_json::{Map, Value};

use crate::core::backend::BackendInfo;
use crate::core::catalogue::Model;
use crate::core::error::CoreError;
use crate::ial::types::*;
use cycloid_sdk::{EventType, Filter, NewEvent, NewInventoryResource, Severity, Tag};

/// The custom attribute that marks a resource as this bridge's, for `gc`.
pub const MANAGED_BY: (&str, &str) = ("managed_by", "crusoe-ial");

/// What is known of a server when a call arrives; `None` where the call does not say.
#[derive(Debug, Clone, Default)]
pub struct Server {
    /// The backend that serves it: Cycloid's `resources_provider`.
    pub provider: &'static str,
    pub hub: String,
    /// The bridge's id, Cycle's `server_id` (the VM's name).
    pub server_id: String,
    pub cycle_server_id: Option<String>,
    pub cycle_location_id: Option<String>,
    pub location: Option<String>,
    pub model: Option<String>,
    pub hostname: Option<String>,
}

impl Server {
    fn tags(&self) -> Vec<Tag> {
        let mut tags = vec![Tag::lossy("hub", &self.hub)];
        let server_id = Some(self.server_id.clone());
        for (key, value) in [
            ("server_id", &server_id),
            ("cycle_server_id", &self.cycle_server_id),
            ("location", &self.location),
            ("model", &self.model),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                tags.push(Tag::lossy(key, v));
            }
        }
        tags
    }

    fn on(&self, b: &BackendInfo) -> String {
        match (&self.model, &self.location) {
            (Some(m), Some(l)) => format!("{m} in {l}"),
            (None, Some(l)) => format!("in {l}"),
            (Some(m), None) => m.clone(),
            (None, None) => format!("on {}", b.display),
        }
    }

    fn cycle(&self) -> String {
        match &self.cycle_server_id {
            Some(id) => format!("Cycle server {id} (hub {})", self.hub),
            None => format!("a server of hub {}", self.hub),
        }
    }

    fn event(&self, severity: Severity, title: String, message: String) -> NewEvent {
        NewEvent {
            kind: EventType::Custom,
            title,
            message,
            severity,
            tags: self.tags(),
            icon: None,
            color: None,
        }
    }

    /// How any replica finds this server's resource again.
    pub fn find(&self) -> Vec<Filter> {
        let mut f = vec![
            Filter::eq("resources_provider", self.provider),
            Filter::eq(MANAGED_BY.0, MANAGED_BY.1),
            Filter::eq("cycle_hub_id", &self.hub),
        ];
        match &self.cycle_server_id {
            Some(id) => f.push(Filter::eq("cycle_server_id", id)),
            None => f.push(Filter::eq("resources_name", &self.server_id)),
        }
        f
    }
}

pub fn accepted(b: &BackendInfo, s: &Server) -> NewEvent {
    s.event(
        Severity::Info,
        format!(
            "Server {} accepted for provisioning",
            s.hostname.as_deref().unwrap_or(&s.server_id)
        ),
        format!(
            "{} is being created on {} as {}: {}. {} has accepted the work; the server is reported provisioned once it runs.",
            s.cycle(),
            b.display,
            s.server_id,
            s.on(b),
            b.display
        ),
    )
}

pub fn provisioned(b: &BackendInfo, s: &Server, status: &ProvisionStatusResponse) -> NewEvent {
    let ips = status
        .auth
        .initial_ips
        .as_ref()
        .map(|ips| ips.join(", "))
        .unwrap_or_else(|| "none".into());
    s.event(
        Severity::Info,
        format!("Server {} provisioned", s.server_id),
        format!(
            "{} runs on {} as {} ({}): public IPv4 {ips}, MAC {}, VM {}. It now boots Cycle's iPXE image.",
            s.cycle(),
            b.display,
            s.server_id,
            s.on(b),
            status.auth.mac_addr.as_deref().unwrap_or("unknown"),
            status.auth.uuid.as_deref().unwrap_or("unknown"),
        ),
    )
}

/// The failure event of a provisioning, if `error` is one worth a timeline entry: out of stock
/// (`warn`), or the cloud refusing or failing the work (`err`). Input mistakes and transient
/// trouble are Cycle's to see and retry, not the infrastructure's story.
pub fn failed(b: &BackendInfo, s: &Server, error: &CoreError) -> Option<NewEvent> {
    let on = format!("failed on {}", b.display);
    let refused = format!("refused by {}", b.display);
    let (severity, what) = match error {
        CoreError::OutOfStock(_) => (Severity::Warn, "out of stock"),
        CoreError::Failed { .. } => (Severity::Err, on.as_str()),
        CoreError::Backend(f)
            if f.status
                .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
        {
            (Severity::Err, refused.as_str())
        }
        _ => return None,
    };
    let error_id = error.backend().and_then(|f| f.error_id.clone());
    let mut message = format!(
        "Provisioning {} ({}) {what}: {error}",
        s.server_id,
        s.cycle()
    );
    if let Some(id) = error_id {
        message.push_str(&format!(" {} error id: {id}.", b.display));
    }
    Some(s.event(
        severity,
        format!("Server {} provisioning {what}", s.server_id),
        message,
    ))
}

pub fn restarted(b: &BackendInfo, s: &Server) -> NewEvent {
    s.event(
        Severity::Info,
        format!("Server {} restarted", s.server_id),
        format!(
            "{} ({}), {}, was restarted on {}; it boots Cycle's iPXE image again.",
            s.server_id,
            s.on(b),
            s.cycle(),
            b.display
        ),
    )
}

pub fn decommissioned(b: &BackendInfo, s: &Server) -> NewEvent {
    s.event(
        Severity::Info,
        format!("Server {} decommissioned", s.server_id),
        format!(
            "{} ({}), {}, was deleted on {} with its disks and addresses; nothing of it is billed any more.",
            s.server_id,
            s.on(b),
            s.cycle(),
            b.display
        ),
    )
}

pub fn ip_allocated(_: &BackendInfo, s: &Server, ip: &AllocateIpResponse) -> NewEvent {
    s.event(
        Severity::Info,
        format!("IP {} allocated to {}", ip.cidr, s.server_id),
        format!(
            "{} got the address {} (id {}), private address {}.",
            s.cycle(),
            ip.cidr,
            ip.ip_id,
            ip.nat_private_ip.as_deref().unwrap_or("none")
        ),
    )
}

pub fn ip_released(b: &BackendInfo, s: &Server, req: &ReleaseIp) -> NewEvent {
    let cidr = req.cidr.as_deref().unwrap_or(&req.ip_id);
    s.event(
        Severity::Info,
        format!("IP {cidr} released"),
        format!(
            "The address {cidr} (id {}) of {} was released on {}.",
            req.ip_id, s.server_id, b.display
        ),
    )
}

/// The server's inventory resource: `type` the model, sizes from the catalogue (cores, MB).
pub fn resource(
    b: &BackendInfo,
    s: &Server,
    account: &str,
    model: Option<&Model>,
) -> NewInventoryResource {
    let mut attrs = Map::new();
    attrs.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    attrs.insert("cycle_hub_id".into(), s.hub.clone().into());
    if let Some(id) = &s.cycle_server_id {
        attrs.insert("cycle_server_id".into(), id.clone().into());
    }
    if let Some(id) = &s.cycle_location_id {
        attrs.insert("cycle_location_id".into(), id.clone().into());
    }
    if let Some(l) = &s.location {
        attrs.insert("location".into(), l.clone().into());
    }
    attrs.insert(b.account_attribute.into(), Value::from(account));
    let mb = |gb: i64| u64::try_from(gb).ok().map(|g| g * 1024);
    NewInventoryResource {
        provider: b.name.into(),
        kind: s.model.clone().unwrap_or_else(|| "vm".into()),
        name: s.server_id.clone(),
        label: s.hostname.clone().unwrap_or_else(|| s.server_id.clone()),
        custom_attributes: attrs,
        cpu: model.and_then(|m| u64::try_from(m.cpu_cores).ok()),
        memory: model.and_then(|m| mb(m.memory_gb)),
        storage: model.and_then(|m| mb(m.disk_gb)),
    }
}
