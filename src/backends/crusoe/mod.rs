//! Crusoe Cloud as a backend of the core: the only part of the product that speaks to Crusoe
//! (through the `crusoe-sdk` crate). Each of the core's requests becomes Crusoe calls here:
//!
//! - `network`: a location is the hub's VPC network, a subnet there and firewall rules
//! - `servers`: a server is a VM named from Cycle's id with a data disk (`data_disk`), booted into
//!   Cycle's iPXE (`boot`, `boot_images`, `image_build`) and read through the status view
//!   (`vm_view`)
//! - `ips`: an address is a load balancer's VIP or the VM's own public address, made static
//! - `gc`: what a crash or a bug left behind, found by name
//! - `error`: Crusoe's failures in the core's terms

mod boot;
pub mod boot_images;
mod catalog;
pub mod config;
mod create;
mod data_disk;
pub mod error;
pub mod gc;
mod identity;
mod ids;
pub mod image_build;
mod ips;
mod lookup;
pub mod metrics;
mod network;
mod servers;
pub mod settings;
mod vm_delete;
mod vm_view;

use std::sync::Arc;
use std::time::Duration;

pub use boot::{check_script, generated_ssh_key, Boot, BootVars, Finish, IpxeImage};
pub use network::{LocationConfig, CONFIG_VERSION};
pub use settings::CrusoeSettings;

use crate::core::backend::{
    Account, Backend, BackendInfo, Caller, Extra, LocationState, Observed, Presented,
};
use crate::core::catalogue::Catalogue;
use crate::core::error::CoreError;
use crate::core::locks::KeyedLocks;
use crate::core::plan::ProvisionPlan;
use crate::ial::types::{
    AllocateIp, AllocateIpResponse, ConfigureLocation, ProvisionStatus, ProvisionStatusResponse,
    ReleaseIp,
};
use crate::setting_error::SettingError;
use crusoe_sdk::ids::PathId;
use crusoe_sdk::{ClientPool, ClientSettings, Credentials, CrusoeError, ProjectClient};
use error::Doing;
use secrecy::SecretString;

/// One call's Crusoe project: the caller's key pair scoped to its project.
pub type Tenant = Caller<ProjectClient>;

pub static INFO: BackendInfo = BackendInfo {
    name: "crusoe",
    display: "Crusoe",
    model_noun: "Crusoe VM type",
    account_attribute: "crusoe_project",
    credentials: [
        "the Crusoe access key id",
        "the Crusoe secret key",
        "the Crusoe project id",
    ],
};

/// How long the readiness check may take.
const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

impl Account for ProjectClient {
    fn scope(&self) -> &str {
        self.id()
    }
}

pub struct Crusoe {
    settings: CrusoeSettings,
    pool: ClientPool,
    /// The operator's key pair and project (server-held mode).
    operator: Option<(Credentials, String)>,
    catalog: catalog::Catalog,
    boot: boot::Boot,
    /// In the `ipxe-image` mode, each tenant's boot image per location.
    boot_images: Option<boot_images::BootImages>,
    locks: KeyedLocks,
    /// Coalesced reads of the VMs of servers being polled.
    vm_view: vm_view::VmView,
}

impl Crusoe {
    /// The backend; the error names the setting at fault (by its file key) and why.
    pub fn new(
        settings: CrusoeSettings,
        client: ClientSettings,
        operator: Option<(Credentials, String)>,
    ) -> Result<Self, SettingError> {
        settings.validate()?;
        let pool =
            ClientPool::new(client).map_err(|e| SettingError::new("crusoe", e.to_string()))?;
        let boot = boot::Boot::new(&settings.boot)?;
        if let Some(warning) = boot.warning() {
            tracing::warn!("{warning}");
        }
        let boot_images = boot.boot_image_sha256().map(|sha| {
            boot_images::BootImages::new(
                sha.to_string(),
                Duration::from_secs(settings.catalog_ttl_secs),
            )
        });
        Ok(Self {
            catalog: catalog::Catalog::new(&settings),
            vm_view: vm_view::VmView::new(
                Duration::from_millis(settings.status.refresh_ms),
                settings.status.batch,
            ),
            boot_images,
            boot,
            locks: KeyedLocks::default(),
            operator,
            pool,
            settings,
        })
    }

    pub fn settings(&self) -> &CrusoeSettings {
        &self.settings
    }

    /// The client every call of `credentials` shares.
    pub fn client(&self, credentials: Credentials) -> crusoe_sdk::CrusoeClient {
        self.pool.client(credentials)
    }
}

/// What provision-status answered, as the core's observation.
fn observed(r: ProvisionStatusResponse) -> Observed {
    if r.provisioned {
        Observed::Ready {
            auth: r.auth,
            extra: r.extra,
        }
    } else {
        Observed::Pending { extra: r.extra }
    }
}

impl Backend for Crusoe {
    type Account = ProjectClient;

    fn info(&self) -> &'static BackendInfo {
        &INFO
    }

    /// `api_key` is the access key id, `secret` the secret key, `namespace` the project id: the
    /// three things every Crusoe call needs, in the fields Cycle's integration form offers.
    fn account(&self, presented: Presented<'_>) -> Result<ProjectClient, CoreError> {
        PathId::parse("project id", presented.namespace).map_err(|e| {
            CoreError::invalid(
                format!("/auth/namespace is not a Crusoe project id: {}", e.reason),
                "/auth/namespace",
            )
        })?;
        let credentials = Credentials::new(
            presented.api_key,
            &SecretString::from(presented.secret.to_string()),
        )
        .map_err(|e| {
            CoreError::Unauthorized(format!("the credentials in auth cannot be used: {e}"))
        })?;
        Ok(self.pool.client(credentials).project(presented.namespace))
    }

    fn operator_account(&self) -> Option<ProjectClient> {
        let (credentials, project) = self.operator.as_ref()?;
        Some(
            self.pool
                .client(credentials.clone())
                .project(project.clone()),
        )
    }

    async fn verify(&self, caller: &Tenant) -> Result<bool, CoreError> {
        match caller.account.get().await {
            Ok(_) => Ok(true),
            // Crusoe said no: the credentials are not valid for that project.
            Err(
                CrusoeError::BadCredentials(_)
                | CrusoeError::Forbidden(_)
                | CrusoeError::NotFound(_),
            ) => Ok(false),
            // Crusoe did not answer: that says nothing about the credentials.
            Err(e) => {
                Err(e).doing(|| format!("verifying access to project {}", caller.account.id()))
            }
        }
    }

    async fn readiness(&self) -> Result<(), String> {
        let Some(project) = self.operator_account() else {
            return Ok(());
        };
        match tokio::time::timeout(READINESS_TIMEOUT, project.get()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "Crusoe does not accept the configured credentials for project {}: {e}",
                project.id()
            )),
            Err(_) => Err(format!(
                "Crusoe did not answer within {}s",
                READINESS_TIMEOUT.as_secs()
            )),
        }
    }

    async fn catalogue(&self, caller: &Tenant) -> Result<Arc<Catalogue>, CoreError> {
        self.catalog.catalogue(caller).await
    }

    async fn ensure_location(
        &self,
        caller: &Tenant,
        request: &ConfigureLocation,
        current: Option<LocationState>,
    ) -> Result<LocationState, CoreError> {
        network::configure(self, caller, request, current).await
    }

    async fn create_server(
        &self,
        caller: &Tenant,
        plan: &ProvisionPlan,
    ) -> Result<Extra, CoreError> {
        let extra = servers::provision(self, caller, plan).await?;
        // The next polls must not trust a view from before the VM existed.
        if extra.contains_key(servers::EXTRA_VM_OPERATION) {
            self.vm_view.created(caller, &plan.name).await;
        } else {
            self.vm_view.invalidate(caller, &plan.name).await;
        }
        Ok(extra)
    }

    async fn observe_server(
        &self,
        caller: &Tenant,
        name: &str,
        request: &ProvisionStatus,
    ) -> Result<Observed, CoreError> {
        let seen = if self.settings.status.coalesce {
            self.vm_view.vms(caller, name).await?
        } else {
            vm_view::Seen::Vms(
                servers::find_vms(caller, name)
                    .await?
                    .into_iter()
                    .map(servers::VmStatus::from)
                    .collect(),
            )
        };
        match seen {
            vm_view::Seen::Vms(vms) => {
                servers::provision_status(self, caller, request, name.to_string(), vms)
                    .await
                    .map(observed)
            }
            vm_view::Seen::JustCreated => Ok(Observed::Pending {
                extra: request.extra.clone().unwrap_or_default(),
            }),
        }
    }

    async fn restart_server(&self, caller: &Tenant, name: &str) -> Result<(), CoreError> {
        servers::restart(self, caller, name).await
    }

    async fn delete_server(&self, caller: &Tenant, name: &str) -> Result<(), CoreError> {
        let done = servers::decommission(self, caller, name).await;
        self.vm_view.invalidate(caller, name).await;
        done
    }

    async fn allocate_ip(
        &self,
        caller: &Tenant,
        name: &str,
        request: &AllocateIp,
    ) -> Result<AllocateIpResponse, CoreError> {
        ips::allocate(self, caller, name, request).await
    }

    async fn release_ip(&self, caller: &Tenant, request: &ReleaseIp) -> Result<(), CoreError> {
        ips::release(self, caller, request).await
    }
}

#[cfg(test)]
mod tests {
    //! How Cycle's `auth` becomes a Crusoe project: the core's rules (`core::caller`) with this
    //! backend's reading of the three fields.
    use super::*;
    use crate::core::caller::resolve as core_resolve;
    use crate::core::CredentialsMode;
    use crate::ial::types::{Auth, AuthCycle};

    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";
    const TOKEN: &str = "a-long-bridge-token-123";

    fn crusoe(operator: Option<(Credentials, String)>) -> Crusoe {
        Crusoe::new(
            CrusoeSettings {
                boot: settings::BootSettings {
                    ipxe_url: Some("https://ipxe.example/ipxe.efi".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            ClientSettings::default(),
            operator,
        )
        .unwrap()
    }

    fn resolve(
        mode: CredentialsMode,
        backend: &Crusoe,
        auth: Option<&Auth>,
    ) -> Result<Tenant, CoreError> {
        let token = SecretString::from(TOKEN);
        core_resolve(mode, backend, Some(&token), auth)
    }

    fn auth(key: &str, secret: &str, project: &str) -> Auth {
        let mut auth = Auth::default();
        auth.api_key = Some(key.into());
        auth.secret = Some(secret.into());
        auth.namespace = Some(project.into());
        auth.cycle = Some(AuthCycle {
            hub_name: Some("hub".into()),
            hub_id: Some("65f1e2d3c4b5a69788796a5b".into()),
        });
        auth
    }

    #[test]
    fn pass_through_uses_the_callers_key_and_project() {
        let t = resolve(
            CredentialsMode::PassThrough,
            &crusoe(None),
            Some(&auth("KEY", SECRET, "proj-1")),
        )
        .unwrap();
        assert_eq!(t.account.client().credentials().access_key_id(), "KEY");
        assert_eq!(t.account.id(), "proj-1");
        assert_eq!(t.hub, "65f1e2d3c4b5a69788796a5b");
    }

    #[test]
    fn nothing_in_auth_changes_where_credentials_are_sent() {
        let mut hostile = auth("KEY", SECRET, "proj-1");
        hostile.region = Some("https://evil.example/v1alpha5".into());
        hostile.client_id = Some("https://evil.example".into());
        hostile.subscription_id = Some("evil.example:443".into());
        // `config` would be base64 of per-hub settings: an endpoint in it is not read.
        hostile.config = Some("eyJhcGlfZW5kcG9pbnQiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9".into());
        let p = crusoe(None);
        let t = resolve(CredentialsMode::PassThrough, &p, Some(&hostile)).unwrap();
        assert_eq!(
            t.account.client().endpoint(),
            ClientSettings::default().endpoint.as_str()
        );
        assert!(!t.account.client().endpoint().contains("evil"));
    }

    #[test]
    fn the_cache_key_differs_by_secret_and_project() {
        let p = crusoe(None);
        let a = resolve(
            CredentialsMode::PassThrough,
            &p,
            Some(&auth("KEY", SECRET, "p1")),
        )
        .unwrap();
        let b = resolve(
            CredentialsMode::PassThrough,
            &p,
            Some(&auth("KEY", "AAAAAAAAAAAAAAAAAAAAAA", "p1")),
        )
        .unwrap();
        let c = resolve(
            CredentialsMode::PassThrough,
            &p,
            Some(&auth("KEY", SECRET, "p2")),
        )
        .unwrap();
        assert_ne!(a.cache_key, b.cache_key);
        assert_ne!(a.cache_key, c.cache_key);
    }

    #[test]
    fn missing_or_bad_credentials_say_which_field() {
        let err = resolve(CredentialsMode::PassThrough, &crusoe(None), None).unwrap_err();
        assert!(matches!(err, CoreError::Unauthorized(ref d) if d.contains("/auth/api_key")));
        let mut a = auth("KEY", SECRET, "p");
        a.secret = None;
        let err = resolve(CredentialsMode::PassThrough, &crusoe(None), Some(&a)).unwrap_err();
        assert!(err.to_string().contains("/auth/secret"));
        let err = resolve(
            CredentialsMode::PassThrough,
            &crusoe(None),
            Some(&auth("KEY", SECRET, "../other")),
        )
        .unwrap_err();
        assert!(matches!(err, CoreError::InvalidInput { .. }));
        let err = resolve(
            CredentialsMode::PassThrough,
            &crusoe(None),
            Some(&auth("KEY", "not*base64", "p")),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("not*base64"));
    }

    #[test]
    fn server_held_mode_wants_the_token_and_ignores_callers_keys() {
        let held = crusoe(Some((
            Credentials::new("OPERATOR", &SecretString::from(SECRET)).unwrap(),
            "operator-project".into(),
        )));
        let mut a = auth("a-long-bridge-token-123", "ignored", "ignored");
        let t = resolve(CredentialsMode::ServerHeld, &held, Some(&a)).unwrap();
        assert_eq!(t.account.client().credentials().access_key_id(), "OPERATOR");
        assert_eq!(t.account.id(), "operator-project");
        a.api_key = Some("a-long-bridge-token-124".into());
        let err = resolve(CredentialsMode::ServerHeld, &held, Some(&a)).unwrap_err();
        assert!(matches!(err, CoreError::Unauthorized(_)));
        assert!(!err.to_string().contains("a-long-bridge-token-123"));
    }

    #[test]
    fn a_hostile_hub_id_is_refused() {
        let mut a = auth("KEY", SECRET, "p");
        a.cycle.as_mut().unwrap().hub_id = Some("../../x".into());
        assert!(resolve(CredentialsMode::PassThrough, &crusoe(None), Some(&a)).is_err());
    }
}
