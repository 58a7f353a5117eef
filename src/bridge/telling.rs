//! The bridge's side of the Cycloid story: after each call that changed something, what is
//! known of the server, handed to the sink. Nothing here can fail a call or delay it beyond a
//! queue push (and, at provision, a catalogue read that is cached).

use super::cycloid::{story, Server, Teller};
use super::error::BridgeError;
use super::naming;
use super::settings::CredentialsMode;
use super::tenant::Tenant;
use super::Bridge;
use crate::ial::types::*;

fn from_id(hub: &str, server_id: &str) -> Server {
    Server {
        hub: hub.to_string(),
        server_id: server_id.to_string(),
        cycle_server_id: server_id.strip_prefix(naming::PREFIX).map(str::to_string),
        ..Server::default()
    }
}

fn some(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Bridge {
    /// Where this call's story goes, if anywhere.
    pub(super) fn teller(&self, auth: Option<&Auth>) -> Option<Teller> {
        self.cycloid.teller_lenient(
            auth.and_then(|a| a.config.as_deref()),
            self.settings.credentials == CredentialsMode::PassThrough,
        )
    }

    /// verify's check of `auth.config`: a 422 naming the field, before anything else.
    pub(super) fn check_hub_config(&self, auth: Option<&Auth>) -> Result<(), BridgeError> {
        self.cycloid
            .teller(
                auth.and_then(|a| a.config.as_deref()),
                self.settings.credentials == CredentialsMode::PassThrough,
            )
            .map(drop)
            .map_err(|e| BridgeError::invalid(e.to_string(), "/auth/config"))
    }

    pub(super) async fn tell_provision(
        &self,
        teller: &Teller,
        t: &Tenant,
        req: &ProvisionServer,
        result: &Result<ProvisionResponse, BridgeError>,
    ) {
        let server = Server {
            hub: t.hub.clone(),
            server_id: match result {
                Ok(a) => a.server_id.clone(),
                Err(_) => naming::server_name(req.cycle.server_id.trim()),
            },
            cycle_server_id: Some(req.cycle.server_id.trim().to_string()),
            cycle_location_id: some(&req.cycle.location_id),
            location: Some(req.location_id.trim().to_string()),
            model: Some(req.model_id.trim().to_string()),
            hostname: Some(req.hostname.trim().to_string()),
        };
        match result {
            Ok(_) => {
                self.cycloid.remember(&server);
                self.cycloid.forget(&server);
                let vm_type = match self.catalog.snapshot(t).await {
                    Ok(snap) => snap.vm_type(req.model_id.trim()).cloned(),
                    Err(_) => None,
                };
                self.cycloid
                    .event(teller, &server, story::accepted(&server));
                self.cycloid.register(
                    teller,
                    &server,
                    story::resource(&server, t.project.id(), vm_type.as_ref()),
                );
            }
            Err(e) => {
                if let Some(event) = story::failed(&server, e) {
                    self.cycloid.event_once(teller, &server, "failed", event);
                }
            }
        }
    }

    pub(super) fn tell_status(
        &self,
        teller: &Teller,
        t: &Tenant,
        server_id: &str,
        location: &Option<String>,
        result: &Result<ProvisionStatusResponse, BridgeError>,
    ) {
        let mut server = from_id(&t.hub, server_id);
        server.location = some(location);
        let server = self.cycloid.recall(server);
        match result {
            Ok(r) if r.provisioned => {
                let event = story::provisioned(&server, r);
                self.cycloid
                    .event_once(teller, &server, "provisioned", event);
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(event) = story::failed(&server, e) {
                    self.cycloid.event_once(teller, &server, "failed", event);
                    // The VM was never made: nothing of it is left to inventory.
                    if matches!(
                        e,
                        BridgeError::OutOfStock(_) | BridgeError::ProviderFailed(_)
                    ) {
                        self.cycloid.unregister(teller, &server);
                    }
                }
            }
        }
    }

    fn server_of(&self, t: &Tenant, req: &ServerRef) -> Server {
        let mut server = from_id(&t.hub, &req.server_id);
        server.location = some(&req.location_id);
        server.model = some(&req.model_id);
        server.hostname = some(&req.hostname);
        if let Some(c) = &req.cycle {
            server.cycle_server_id = some(&Some(c.server_id.clone())).or(server.cycle_server_id);
            server.cycle_location_id = some(&c.location_id);
        }
        self.cycloid.recall(server)
    }

    pub(super) fn tell_restart(&self, teller: &Teller, t: &Tenant, req: &ServerRef) {
        let server = self.server_of(t, req);
        self.cycloid
            .event(teller, &server, story::restarted(&server));
    }

    pub(super) fn tell_decommission(&self, teller: &Teller, t: &Tenant, req: &ServerRef) {
        let server = self.server_of(t, req);
        self.cycloid
            .event(teller, &server, story::decommissioned(&server));
        self.cycloid.unregister(teller, &server);
        self.cycloid.forget(&server);
    }

    pub(super) fn tell_allocate(
        &self,
        teller: &Teller,
        t: &Tenant,
        req: &AllocateIp,
        ip: &AllocateIpResponse,
    ) {
        let mut server = from_id(&t.hub, &req.server_id);
        server.location = some(&Some(req.location_id.clone()));
        server.cycle_server_id =
            some(&Some(req.cycle.server_id.clone())).or(server.cycle_server_id);
        let server = self.cycloid.recall(server);
        self.cycloid
            .remember_ip(&t.hub, &ip.ip_id, &server.server_id);
        self.cycloid
            .event(teller, &server, story::ip_allocated(&server, ip));
    }

    pub(super) fn tell_release(&self, teller: &Teller, t: &Tenant, req: &ReleaseIp) {
        // Cycle's release need not name the server; the replica that allocated knows it.
        let owner = some(&req.server_id).or_else(|| self.cycloid.ip_owner(&t.hub, &req.ip_id));
        let mut server = from_id(&t.hub, owner.as_deref().unwrap_or(""));
        server.location = some(&req.location_id);
        let server = self.cycloid.recall(server);
        self.cycloid
            .event(teller, &server, story::ip_released(&server, req));
    }
}
