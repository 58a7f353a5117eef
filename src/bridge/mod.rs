//! The translation between Cycle and Crusoe, the only layer that knows both: it implements the
//! IAL's [`Provider`] with Crusoe calls.

mod boot;
pub mod boot_images;
mod catalog;
mod create;
pub mod cycloid;
mod data_disk;
pub mod error;
pub mod gc;
mod identity;
mod ids;
pub mod image_build;
mod ips;
mod locks;
mod lookup;
pub mod naming;
mod network;
mod rate;
mod servers;
pub mod settings;
mod telling;
mod tenant;
mod vm_delete;
mod vm_view;

use std::time::{Duration, Instant};

use secrecy::SecretString;

pub use boot::{check_script, generated_ssh_key, Boot, BootVars, Finish, IpxeImage};
pub use data_disk::CYCLEOS_MIN_DISK_GB;
pub use network::{LocationConfig, CONFIG_VERSION};
pub use settings::{BridgeSettings, RateLimitSettings};
pub use tenant::ServerHeld;

use crate::config::SettingError;
use crate::ial::request::Call;
use crate::ial::router::Provider;
use crate::ial::types::*;
use crate::ial::IalError;
use crusoe_sdk::{ClientPool, CrusoeError};
use error::BridgeError;
use settings::CredentialsMode;
use tenant::Tenant;

pub struct Bridge {
    settings: BridgeSettings,
    pool: ClientPool,
    server_held: Option<ServerHeld>,
    catalog: catalog::Catalog,
    boot: boot::Boot,
    /// In the `ipxe-image` mode, each tenant's boot image per location.
    boot_images: Option<boot_images::BootImages>,
    locks: locks::KeyedLocks,
    /// Servers Cycle polls that are not provisioned yet; forgotten when no longer polled.
    in_flight: moka::sync::Cache<String, ()>,
    /// Coalesced reads of the VMs of servers being polled.
    vm_view: vm_view::VmView,
    /// The last readiness check and when it was made.
    readiness: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    rate: rate::TenantRate,
    /// Each server's story, told to Cycloid when configured.
    cycloid: cycloid::Sink,
}

/// How long a readiness answer is reused, and how long its check may take.
const READINESS_TTL: Duration = Duration::from_secs(10);
const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

impl Bridge {
    /// Builds the bridge; the error names the setting at fault (by its file key) and why.
    pub fn new(
        settings: BridgeSettings,
        pool: ClientPool,
        server_held: Option<(crusoe_sdk::Credentials, String)>,
    ) -> Result<Self, SettingError> {
        settings.validate()?;
        let boot = boot::Boot::new(&settings.boot)?;
        if let Some(warning) = boot.warning() {
            tracing::warn!("{warning}");
        }
        let server_held = match (settings.credentials, server_held) {
            (CredentialsMode::ServerHeld, Some((credentials, project_id))) => Some(ServerHeld {
                credentials,
                project_id,
                token: settings
                    .bridge_token
                    .clone()
                    .unwrap_or_else(|| SecretString::from(String::new())),
            }),
            (CredentialsMode::ServerHeld, None) => {
                return Err(SettingError::new(
                    "crusoe.access_key_id",
                    "server-held credentials need CRUSOE_ACCESS_KEY_ID, CRUSOE_SECRET_KEY and CRUSOE_DEFAULT_PROJECT",
                ))
            }
            (CredentialsMode::PassThrough, _) => None,
        };
        let settings_status = settings.status.clone();
        let boot_images = boot.boot_image_sha256().map(|sha| {
            boot_images::BootImages::new(
                sha.to_string(),
                Duration::from_secs(settings.catalog_ttl_secs),
            )
        });
        let cycloid = cycloid::Sink::new(&settings.cycloid)?;
        Ok(Self {
            cycloid,
            boot_images,
            catalog: catalog::Catalog::new(&settings),
            rate: rate::TenantRate::new(&settings.rate_limit),
            settings,
            pool,
            server_held,
            boot,
            locks: locks::KeyedLocks::default(),
            in_flight: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(Duration::from_secs(15 * 60))
                .build(),
            readiness: tokio::sync::Mutex::new(None),
            vm_view: vm_view::VmView::new(
                Duration::from_millis(settings_status.refresh_ms),
                settings_status.batch,
            ),
        })
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

    async fn check_crusoe(&self) -> Result<(), String> {
        let Some(held) = &self.server_held else {
            // Pass-through: every call brings its own credentials, nothing to check ahead.
            return Ok(());
        };
        let client = self.pool.client(held.credentials.clone());
        match tokio::time::timeout(READINESS_TIMEOUT, client.project(&held.project_id).get()).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "Crusoe does not accept the configured credentials for project {}: {e}",
                held.project_id
            )),
            Err(_) => Err(format!(
                "Crusoe did not answer within {}s",
                READINESS_TIMEOUT.as_secs()
            )),
        }
    }

    pub fn settings(&self) -> &BridgeSettings {
        &self.settings
    }

    /// At shutdown, after the last answer: lets the side channels deliver what they hold, until
    /// `deadline`.
    pub async fn drain(&self, deadline: tokio::time::Instant) {
        self.cycloid.drain(deadline).await;
    }

    fn tenant(&self, auth: Option<&Auth>) -> Result<Tenant, BridgeError> {
        let t = tenant::resolve(
            self.settings.credentials,
            &self.pool,
            self.server_held.as_ref(),
            auth,
        )?;
        self.rate
            .check(&t)
            .map_err(|wait| BridgeError::RateLimited {
                hub: t.hub.clone(),
                wait,
            })?;
        Ok(t)
    }
}

impl Provider for Bridge {
    async fn verify(&self, auth: Option<Auth>) -> Result<VerifyResponse, IalError> {
        let invalid = Ok(VerifyResponse { valid: false });
        self.check_hub_config(auth.as_ref())?;
        let t = match self.tenant(auth.as_ref()) {
            Ok(t) => t,
            // Missing or unusable credentials (or a wrong bridge token) are not valid ones.
            Err(BridgeError::Unauthorized(_) | BridgeError::InvalidInput { .. }) => return invalid,
            Err(e) => return Err(e.into()),
        };
        match t.project.get().await {
            Ok(_) => Ok(VerifyResponse { valid: true }),
            // Crusoe said no: the credentials are not valid for that project.
            Err(
                CrusoeError::BadCredentials(_)
                | CrusoeError::Forbidden(_)
                | CrusoeError::NotFound(_),
            ) => invalid,
            // Crusoe did not answer: that says nothing about the credentials.
            Err(e) => Err(IalError::from(BridgeError::Crusoe {
                doing: format!("verifying access to project {}", t.project.id()),
                source: Box::new(e),
            })),
        }
    }

    async fn locations(&self, auth: Option<Auth>) -> Result<Rendered<LocationsResponse>, IalError> {
        let region = auth.as_ref().and_then(|a| a.region.as_deref());
        let t = self.tenant(auth.as_ref())?;
        Ok(self.catalog.locations_answer(&t, region).await?)
    }

    async fn server_models(
        &self,
        auth: Option<Auth>,
    ) -> Result<Rendered<ServerModelsResponse>, IalError> {
        let t = self.tenant(auth.as_ref())?;
        Ok(self.catalog.models_answer(&t).await?)
    }

    async fn configure_location(
        &self,
        call: Call<ConfigureLocation>,
    ) -> Result<ConfigureLocationResponse, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        Ok(network::configure(self, &t, call.request).await?)
    }

    async fn provision(&self, call: Call<ProvisionServer>) -> Result<ProvisionResponse, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        let teller = self.teller(call.auth.as_ref());
        let told = teller.as_ref().map(|_| call.request.clone());
        let result = servers::provision(self, &t, call.request).await;
        if let (Some(teller), Some(req)) = (&teller, &told) {
            self.tell_provision(teller, &t, req, &result).await;
        }
        let answer = result?;
        // The next polls must not trust a view from before the VM existed.
        if answer.extra.contains_key("vm_operation_id") {
            self.vm_view.created(&t, &answer.server_id).await;
        } else {
            self.vm_view.invalidate(&t, &answer.server_id).await;
        }
        Ok(answer)
    }

    async fn provision_status(
        &self,
        call: Call<ProvisionStatus>,
    ) -> Result<ProvisionStatusResponse, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        let key = format!("{}/{}", t.project.id(), call.request.server_id);
        let name = naming::parse_server_id(&call.request.server_id, "/request/server_id")?;
        let seen = if self.settings.status.coalesce {
            self.vm_view.vms(&t, &name).await?
        } else {
            vm_view::Seen::Vms(
                servers::find_vms(&t, &name)
                    .await?
                    .into_iter()
                    .map(servers::VmStatus::from)
                    .collect(),
            )
        };
        let teller = self.teller(call.auth.as_ref());
        // Polls are the hot path: keep only what the story reads, not the whole request.
        let told = teller.as_ref().map(|_| {
            (
                call.request.server_id.clone(),
                call.request.location_id.clone(),
            )
        });
        let result = match seen {
            vm_view::Seen::Vms(vms) => {
                servers::provision_status(self, &t, call.request, name, vms).await
            }
            vm_view::Seen::JustCreated => Ok(servers::pending(call.request, name)),
        };
        if let (Some(teller), Some((server_id, location))) = (&teller, &told) {
            self.tell_status(teller, &t, server_id, location, &result);
        }
        self.track(key, matches!(&result, Ok(r) if !r.provisioned));
        Ok(result?)
    }

    async fn readiness(&self) -> Result<(), String> {
        let mut cached = self.readiness.lock().await;
        if let Some((at, answer)) = cached.as_ref() {
            if at.elapsed() < READINESS_TTL {
                return answer.clone();
            }
        }
        let answer = self.check_crusoe().await;
        *cached = Some((Instant::now(), answer.clone()));
        answer
    }

    async fn restart(&self, call: Call<ServerRef>) -> Result<bool, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        let teller = self.teller(call.auth.as_ref());
        let told = teller.as_ref().map(|_| call.request.clone());
        let restarted = servers::restart(self, &t, call.request).await?;
        if let (Some(teller), Some(req)) = (&teller, &told) {
            self.tell_restart(teller, &t, req);
        }
        Ok(restarted)
    }

    async fn decommission(&self, call: Call<ServerRef>) -> Result<bool, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        let name = naming::parse_server_id(&call.request.server_id, "/request/server_id")?;
        let teller = self.teller(call.auth.as_ref());
        let told = teller.as_ref().map(|_| call.request.clone());
        let done = servers::decommission(self, &t, call.request).await;
        self.vm_view.invalidate(&t, &name).await;
        let done = done?;
        if let (Some(teller), Some(req)) = (&teller, &told) {
            self.tell_decommission(teller, &t, req);
        }
        Ok(done)
    }

    async fn allocate_ip(&self, call: Call<AllocateIp>) -> Result<AllocateIpResponse, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        let teller = self.teller(call.auth.as_ref());
        let told = teller.as_ref().map(|_| call.request.clone());
        let ip = ips::allocate(self, &t, call.request).await?;
        if let (Some(teller), Some(req)) = (&teller, &told) {
            self.tell_allocate(teller, &t, req, &ip);
        }
        Ok(ip)
    }

    async fn release_ip(&self, call: Call<ReleaseIp>) -> Result<bool, IalError> {
        let t = self.tenant(call.auth.as_ref())?;
        let teller = self.teller(call.auth.as_ref());
        let told = teller.as_ref().map(|_| call.request.clone());
        let released = ips::release(self, &t, call.request).await?;
        if let (Some(teller), Some(req)) = (&teller, &told) {
            self.tell_release(teller, &t, req);
        }
        Ok(released)
    }
}
