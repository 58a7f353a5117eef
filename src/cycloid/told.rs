//! Cycloid as a wrapper around the core: each call is answered by the core, then what is known of
//! the server (backend-neutral facts: the hub, the account, the model as the catalogue describes
//! it, the outcome) is handed to the sink. Nothing here can fail a call or delay it beyond a queue
//! push (and, at provision, a catalogue read that is cached).

use super::{story, Server, Sink, Teller};
use crate::core::{Backend, Core, CoreError, CredentialsMode};
use crate::ial::request::Call;
use crate::ial::router::Provider;
use crate::ial::types::*;
use crate::ial::IalError;
use crate::setting_error::SettingError;

/// The core of backend `B`, telling Cycloid each server's story when configured.
pub struct Told<B: Backend> {
    core: Core<B>,
    sink: Sink,
}

fn from_id(provider: &'static str, hub: &str, server_id: &str) -> Server {
    Server {
        provider,
        hub: hub.to_string(),
        server_id: server_id.to_string(),
        cycle_server_id: server_id
            .strip_prefix(crate::core::naming::PREFIX)
            .map(str::to_string),
        ..Server::default()
    }
}

fn some(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl<B: Backend> Told<B> {
    pub fn new(core: Core<B>, settings: &super::CycloidSettings) -> Result<Self, SettingError> {
        Ok(Self {
            sink: Sink::new(settings)?,
            core,
        })
    }

    pub fn core(&self) -> &Core<B> {
        &self.core
    }

    /// At shutdown, after the last answer: lets the sink deliver what it holds, until `deadline`.
    pub async fn drain(&self, deadline: tokio::time::Instant) {
        self.sink.drain(deadline).await;
    }

    fn pass_through(&self) -> bool {
        self.core.settings().credentials == CredentialsMode::PassThrough
    }

    /// Where this call's story goes, if anywhere, and the hub it is about.
    fn teller(&self, auth: Option<&Auth>) -> Option<(Teller, String)> {
        let teller = self
            .sink
            .teller_lenient(auth.and_then(|a| a.config.as_deref()), self.pass_through())?;
        let caller = self.core.whose(auth)?;
        Some((teller, caller.hub))
    }

    /// Where this call's story goes, the hub, and the request to tell it from.
    fn told<R: Clone>(&self, call: &Call<R>) -> Option<(Teller, String, R)> {
        let (teller, hub) = self.teller(call.auth.as_ref())?;
        Some((teller, hub, call.request.clone()))
    }

    fn info(&self) -> &'static crate::core::BackendInfo {
        self.core.backend().info()
    }

    /// A server known by its id and, when Cycle said, its location.
    fn server_at(&self, hub: &str, server_id: &str, location: Option<&str>) -> Server {
        let mut server = from_id(self.info().name, hub, server_id);
        server.location = some(&location.map(str::to_string));
        server
    }

    /// After a call on a server Cycle named, what `tell` says of it, when anything is told.
    fn tell_server(
        &self,
        told: &Option<(Teller, String, ServerRef)>,
        tell: impl FnOnce(&Teller, &Server),
    ) {
        if let Some((teller, hub, req)) = told {
            tell(teller, &self.server_of(hub, req));
        }
    }

    fn server_of(&self, hub: &str, req: &ServerRef) -> Server {
        let mut server = self.server_at(hub, &req.server_id, req.location_id.as_deref());
        server.model = some(&req.model_id);
        server.hostname = some(&req.hostname);
        if let Some(c) = &req.cycle {
            server.cycle_server_id = some(&Some(c.server_id.clone())).or(server.cycle_server_id);
            server.cycle_location_id = some(&c.location_id);
        }
        self.sink.recall(server)
    }

    async fn tell_provision(
        &self,
        teller: &Teller,
        auth: Option<&Auth>,
        req: &ProvisionServer,
        result: &Result<ProvisionResponse, CoreError>,
    ) {
        let Some(caller) = self.core.whose(auth) else {
            return;
        };
        let info = self.info();
        let server = Server {
            provider: info.name,
            hub: caller.hub.clone(),
            server_id: match result {
                Ok(a) => a.server_id.clone(),
                Err(_) => crate::core::naming::server_name(req.cycle.server_id.trim()),
            },
            cycle_server_id: Some(req.cycle.server_id.trim().to_string()),
            cycle_location_id: some(&req.cycle.location_id),
            location: Some(req.location_id.trim().to_string()),
            model: Some(req.model_id.trim().to_string()),
            hostname: Some(req.hostname.trim().to_string()),
        };
        match result {
            Ok(_) => {
                self.sink.remember(&server);
                self.sink.forget(&server);
                let model = self.core.model(&caller, req.model_id.trim()).await;
                self.sink
                    .event(teller, &server, story::accepted(info, &server));
                use crate::core::Account;
                self.sink.register(
                    teller,
                    &server,
                    story::resource(info, &server, caller.account.scope(), model.as_ref()),
                );
            }
            Err(e) => {
                if let Some(event) = story::failed(info, &server, e) {
                    self.sink.event_once(teller, &server, "failed", event);
                }
            }
        }
    }
}

impl<B: Backend> Provider for Told<B> {
    async fn verify(&self, auth: Option<Auth>) -> Result<VerifyResponse, IalError> {
        // A hub config the bridge does not read is a 422 naming the field, before anything else.
        self.sink
            .teller(
                auth.as_ref().and_then(|a| a.config.as_deref()),
                self.pass_through(),
            )
            .map_err(|e| CoreError::invalid(e.to_string(), "/auth/config"))?;
        Ok(self.core.verify(auth).await?)
    }

    async fn locations(&self, auth: Option<Auth>) -> Result<Rendered<LocationsResponse>, IalError> {
        Ok(self.core.locations(auth).await?)
    }

    async fn server_models(
        &self,
        auth: Option<Auth>,
    ) -> Result<Rendered<ServerModelsResponse>, IalError> {
        Ok(self.core.server_models(auth).await?)
    }

    async fn configure_location(
        &self,
        call: Call<ConfigureLocation>,
    ) -> Result<ConfigureLocationResponse, IalError> {
        Ok(self.core.configure_location(call).await?)
    }

    async fn provision(&self, call: Call<ProvisionServer>) -> Result<ProvisionResponse, IalError> {
        let Some((teller, _)) = self.teller(call.auth.as_ref()) else {
            return Ok(self.core.provision(call).await?);
        };
        let auth = call.auth.clone();
        let req = call.request.clone();
        let result = self.core.provision(call).await;
        if !matches!(result, Err(CoreError::RateLimited { .. })) {
            self.tell_provision(&teller, auth.as_ref(), &req, &result)
                .await;
        }
        Ok(result?)
    }

    async fn provision_status(
        &self,
        call: Call<ProvisionStatus>,
    ) -> Result<ProvisionStatusResponse, IalError> {
        let Some((teller, hub)) = self.teller(call.auth.as_ref()) else {
            return Ok(self.core.provision_status(call).await?);
        };
        // Polls are the hot path: keep only what the story reads, not the whole request.
        let server_id = call.request.server_id.clone();
        let location = call.request.location_id.clone();
        let result = self.core.provision_status(call).await;
        let info = self.info();
        let server = self
            .sink
            .recall(self.server_at(&hub, &server_id, location.as_deref()));
        match &result {
            Ok(r) if r.provisioned => {
                let event = story::provisioned(info, &server, r);
                self.sink.event_once(&teller, &server, "provisioned", event);
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(event) = story::failed(info, &server, e) {
                    self.sink.event_once(&teller, &server, "failed", event);
                    // The server was never made: nothing of it is left to inventory.
                    if matches!(e, CoreError::OutOfStock(_) | CoreError::Failed { .. }) {
                        self.sink.unregister(&teller, &server);
                    }
                }
            }
        }
        Ok(result?)
    }

    async fn readiness(&self) -> Result<(), String> {
        self.core.readiness().await
    }

    async fn restart(&self, call: Call<ServerRef>) -> Result<bool, IalError> {
        let told = self.told(&call);
        let restarted = self.core.restart(call).await?;
        self.tell_server(&told, |teller, server| {
            self.sink
                .event(teller, server, story::restarted(self.info(), server));
        });
        Ok(restarted)
    }

    async fn decommission(&self, call: Call<ServerRef>) -> Result<bool, IalError> {
        let told = self.told(&call);
        let done = self.core.decommission(call).await?;
        self.tell_server(&told, |teller, server| {
            let event = story::decommissioned(self.info(), server);
            self.sink.event(teller, server, event);
            // Nothing of it is left to inventory, nor to remember.
            self.sink.unregister(teller, server);
            self.sink.forget(server);
        });
        Ok(done)
    }

    async fn allocate_ip(&self, call: Call<AllocateIp>) -> Result<AllocateIpResponse, IalError> {
        let told = self.told(&call);
        let ip = self.core.allocate_ip(call).await?;
        if let Some((teller, hub, req)) = &told {
            let mut server = self.server_at(hub, &req.server_id, Some(&req.location_id));
            server.cycle_server_id =
                some(&Some(req.cycle.server_id.clone())).or(server.cycle_server_id);
            let server = self.sink.recall(server);
            self.sink.remember_ip(hub, &ip.ip_id, &server.server_id);
            let event = story::ip_allocated(self.info(), &server, &ip);
            self.sink.event(teller, &server, event);
        }
        Ok(ip)
    }

    async fn release_ip(&self, call: Call<ReleaseIp>) -> Result<bool, IalError> {
        let told = self.told(&call);
        let released = self.core.release_ip(call).await?;
        if let Some((teller, hub, req)) = &told {
            // Cycle's release need not name the server; the replica that allocated knows it.
            let owner = some(&req.server_id).or_else(|| self.sink.ip_owner(hub, &req.ip_id));
            let server = self.server_at(
                hub,
                owner.as_deref().unwrap_or(""),
                req.location_id.as_deref(),
            );
            let server = self.sink.recall(server);
            let event = story::ip_released(self.info(), &server, req);
            self.sink.event(teller, &server, event);
        }
        Ok(released)
    }
}
