//! The backend-neutral core: it implements Cycle's [`Provider`] once, for any [`Backend`].
//! Everything that is the same on every cloud is here: callers and the two credential modes, the
//! bridge token, each tenant's rate, readiness, the names derived from Cycle's ids, Cycle's input
//! rules ([`plan`]), the catalogue as Cycle sees it ([`catalogue`]) and errors as Cycle reads them
//! ([`error`]). What a cloud does is its backend's (`crate::backends`).

pub mod backend;
pub mod by_name;
pub mod caller;
pub mod catalogue;
pub mod error;
pub mod locks;
pub mod naming;
pub mod plan;
mod rate;
pub mod settings;

use std::time::{Duration, Instant};

pub use backend::{Account, Backend, BackendInfo, Caller, Extra, LocationState, Observed};
pub use error::{BackendFailure, CoreError, FailureKind};
pub use plan::ProvisionPlan;
pub use settings::{CoreSettings, CredentialsMode};

use crate::ial::request::Call;
use crate::ial::router::Provider;
use crate::ial::types::*;
use crate::ial::IalError;
use crate::setting_error::SettingError;
use catalogue::{Catalogue, Model, Offer};

/// How long a readiness answer is reused.
const READINESS_TTL: Duration = Duration::from_secs(10);

pub struct Core<B: Backend> {
    settings: CoreSettings,
    backend: B,
    offer: Offer,
    rate: rate::TenantRate,
    /// Servers Cycle polls that are not provisioned yet; forgotten when no longer polled.
    in_flight: moka::sync::Cache<String, ()>,
    /// The last readiness check and when it was made.
    readiness: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl<B: Backend> Core<B> {
    /// The core around `backend`; the error names the setting at fault (by its file key).
    pub fn new(settings: CoreSettings, backend: B) -> Result<Self, SettingError> {
        settings.validate()?;
        Ok(Self {
            offer: Offer::new(backend.info(), &settings.allowed_locations),
            rate: rate::TenantRate::new(&settings.rate_limit),
            in_flight: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(Duration::from_secs(15 * 60))
                .build(),
            readiness: tokio::sync::Mutex::new(None),
            settings,
            backend,
        })
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn settings(&self) -> &CoreSettings {
        &self.settings
    }

    /// The caller behind `auth`, within its rate.
    pub fn caller(&self, auth: Option<&Auth>) -> Result<Caller<B::Account>, CoreError> {
        let caller = caller::resolve(
            self.settings.credentials,
            &self.backend,
            self.settings.bridge_token.as_ref(),
            auth,
        )?;
        self.rate
            .check(&caller.hub, &caller.cache_key)
            .map_err(|wait| CoreError::RateLimited {
                hub: caller.hub.clone(),
                wait,
            })?;
        Ok(caller)
    }

    /// The caller behind `auth`, not counted against its rate: for what is told of a call after
    /// it was answered.
    pub fn whose(&self, auth: Option<&Auth>) -> Option<Caller<B::Account>> {
        caller::resolve(
            self.settings.credentials,
            &self.backend,
            self.settings.bridge_token.as_ref(),
            auth,
        )
        .ok()
    }

    /// The model `id` as this caller's catalogue describes it; `None` when it does not, or when
    /// the catalogue cannot be read now.
    pub async fn model(&self, caller: &Caller<B::Account>, id: &str) -> Option<Model> {
        let catalogue = self.backend.catalogue(caller).await.ok()?;
        catalogue.model(id).cloned()
    }

    fn track(&self, key: String, pending: bool) {
        if pending {
            self.in_flight.insert(key, ());
        } else {
            self.in_flight.invalidate(&key);
        }
        self.in_flight.run_pending_tasks();
        metrics::gauge!(crate::telemetry::metrics::SERVERS_IN_FLIGHT)
            .set(self.in_flight.entry_count() as f64);
    }

    /// What the catalogue says of the plan's model in its location: refused unless the operator
    /// offers the location, the backend offers the model there, and it can run CycleOS (and
    /// virtual machines, when Cycle asks for them).
    fn check_plan(&self, catalogue: &Catalogue, plan: &mut ProvisionPlan) -> Result<(), CoreError> {
        let (model_id, location) = (&plan.model_id, &plan.location);
        let model = catalogue.model(model_id).ok_or_else(|| {
            CoreError::invalid(
                format!(
                    "model {model_id:?} is not a {} in this project",
                    self.backend.info().model_noun
                ),
                "/request/model_id",
            )
        })?;
        if !model.runs_cycleos() {
            return Err(CoreError::invalid(
                format!(
                    "model {model_id} cannot run CycleOS, which needs x86-64 and at least 4 GB of memory ({} CPU, {} GB)",
                    model.cpu_type, model.memory_gb
                ),
                "/request/model_id",
            ));
        }
        if !self.offer.is_offered(catalogue, location) {
            return Err(CoreError::invalid(
                format!("location {location:?} is not offered by this bridge"),
                "/request/location_id",
            ));
        }
        if !model.offered_in.contains(location) {
            return Err(CoreError::invalid(
                format!("model {model_id} is not offered in {location}"),
                "/request/model_id",
            ));
        }
        if plan.hypervisor {
            if let Err(why) = &model.hypervisor {
                return Err(CoreError::invalid(
                    format!("/request/model_features/hypervisor cannot be met: {why}"),
                    "/request/model_features/hypervisor",
                ));
            }
        }
        plan.model = Some(model.clone());
        Ok(())
    }
}

/// Each of Cycle's calls, answered in the core's terms: what [`Provider`] answers, before it
/// becomes Cycle's error shape; what a wrapper (Cycloid) sees of each call.
impl<B: Backend> Core<B> {
    pub async fn verify(&self, auth: Option<Auth>) -> Result<VerifyResponse, CoreError> {
        let invalid = Ok(VerifyResponse { valid: false });
        let caller = match self.caller(auth.as_ref()) {
            Ok(c) => c,
            // Missing or unusable credentials (or a wrong bridge token) are not valid ones.
            Err(CoreError::Unauthorized(_) | CoreError::InvalidInput { .. }) => return invalid,
            Err(e) => return Err(e),
        };
        Ok(VerifyResponse {
            valid: self.backend.verify(&caller).await?,
        })
    }

    pub async fn locations(
        &self,
        auth: Option<Auth>,
    ) -> Result<Rendered<LocationsResponse>, CoreError> {
        let region = auth.as_ref().and_then(|a| a.region.as_deref());
        let caller = self.caller(auth.as_ref())?;
        let catalogue = self.backend.catalogue(&caller).await?;
        Ok(self
            .offer
            .locations_answer(caller.cache_key, catalogue, region))
    }

    pub async fn server_models(
        &self,
        auth: Option<Auth>,
    ) -> Result<Rendered<ServerModelsResponse>, CoreError> {
        let caller = self.caller(auth.as_ref())?;
        let catalogue = self.backend.catalogue(&caller).await?;
        Ok(self.offer.models_answer(caller.cache_key, catalogue))
    }

    pub async fn configure_location(
        &self,
        call: Call<ConfigureLocation>,
    ) -> Result<ConfigureLocationResponse, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        let request = call.request;
        let location = request.location_id.trim();
        let catalogue = self.backend.catalogue(&caller).await?;
        if !self.offer.is_offered(&catalogue, location) {
            return Err(CoreError::invalid(
                format!("location {location:?} is not one this bridge offers"),
                "/request/location_id",
            ));
        }
        let current = request
            .configuration_current
            .as_ref()
            .map(|data| LocationState {
                version: request.version.clone().unwrap_or_default(),
                data: data.clone(),
            });
        let state = self
            .backend
            .ensure_location(&caller, &request, current)
            .await?;
        Ok(ConfigureLocationResponse {
            configured: true,
            version: Some(state.version),
            configuration_latest: state.data,
        })
    }

    pub async fn provision(
        &self,
        call: Call<ProvisionServer>,
    ) -> Result<ProvisionResponse, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        let mut plan = ProvisionPlan::from_request(&call.request, &caller.hub)?;
        let catalogue = self.backend.catalogue(&caller).await?;
        self.check_plan(&catalogue, &mut plan)?;
        let extra = self.backend.create_server(&caller, &plan).await?;
        Ok(ProvisionResponse {
            server_id: plan.name,
            location_modified: false,
            extra,
        })
    }

    pub async fn provision_status(
        &self,
        call: Call<ProvisionStatus>,
    ) -> Result<ProvisionStatusResponse, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        let key = format!("{}/{}", caller.account.scope(), call.request.server_id);
        let name = naming::parse_server_id(&call.request.server_id, "/request/server_id")?;
        let observed = self
            .backend
            .observe_server(&caller, &name, &call.request)
            .await;
        let answer = observed.map(|o| match o {
            Observed::Pending { extra } => ProvisionStatusResponse {
                server_id: name,
                provisioned: false,
                auth: ServerAuth::default(),
                extra,
            },
            Observed::Ready { auth, extra } => ProvisionStatusResponse {
                server_id: name,
                provisioned: true,
                auth,
                extra,
            },
        });
        self.track(key, matches!(&answer, Ok(r) if !r.provisioned));
        answer
    }

    pub async fn readiness(&self) -> Result<(), String> {
        let mut cached = self.readiness.lock().await;
        if let Some((at, answer)) = cached.as_ref() {
            if at.elapsed() < READINESS_TTL {
                return answer.clone();
            }
        }
        let answer = match self.settings.credentials {
            // Pass-through: every call brings its own credentials, nothing to check ahead.
            CredentialsMode::PassThrough => Ok(()),
            CredentialsMode::ServerHeld => self.backend.readiness().await,
        };
        *cached = Some((Instant::now(), answer.clone()));
        answer
    }

    pub async fn restart(&self, call: Call<ServerRef>) -> Result<bool, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        let name = naming::parse_server_id(&call.request.server_id, "/request/server_id")?;
        self.backend.restart_server(&caller, &name).await?;
        Ok(true)
    }

    pub async fn decommission(&self, call: Call<ServerRef>) -> Result<bool, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        let name = naming::parse_server_id(&call.request.server_id, "/request/server_id")?;
        self.backend.delete_server(&caller, &name).await?;
        Ok(true)
    }

    pub async fn allocate_ip(
        &self,
        call: Call<AllocateIp>,
    ) -> Result<AllocateIpResponse, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        let name = naming::parse_server_id(&call.request.server_id, "/request/server_id")?;
        self.backend
            .allocate_ip(&caller, &name, &call.request)
            .await
    }

    pub async fn release_ip(&self, call: Call<ReleaseIp>) -> Result<bool, CoreError> {
        let caller = self.caller(call.auth.as_ref())?;
        self.backend.release_ip(&caller, &call.request).await?;
        Ok(true)
    }
}

/// Each of Cycle's calls by the inherent method of its name, its error in Cycle's shape.
macro_rules! in_cycles_terms {
    ($($name:ident($arg:ident: $ty:ty) -> $out:ty;)*) => {$(
        async fn $name(&self, $arg: $ty) -> Result<$out, IalError> {
            Ok(Core::$name(self, $arg).await?)
        }
    )*};
}

impl<B: Backend> Provider for Core<B> {
    in_cycles_terms! {
        verify(auth: Option<Auth>) -> VerifyResponse;
        locations(auth: Option<Auth>) -> Rendered<LocationsResponse>;
        server_models(auth: Option<Auth>) -> Rendered<ServerModelsResponse>;
        configure_location(call: Call<ConfigureLocation>) -> ConfigureLocationResponse;
        provision(call: Call<ProvisionServer>) -> ProvisionResponse;
        provision_status(call: Call<ProvisionStatus>) -> ProvisionStatusResponse;
        restart(call: Call<ServerRef>) -> bool;
        decommission(call: Call<ServerRef>) -> bool;
        allocate_ip(call: Call<AllocateIp>) -> AllocateIpResponse;
        release_ip(call: Call<ReleaseIp>) -> bool;
    }

    async fn readiness(&self) -> Result<(), String> {
        Core::readiness(self).await
    }
}

#[cfg(test)]
mod tests;
