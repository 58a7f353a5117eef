//! CloudSigma as a backend of the core: the only part of the product that speaks to CloudSigma
//! (through the `cloudsigma-sdk` crate). A server there boots Cycle's iPXE ISO from a CD-ROM on
//! every boot, so nothing is written to its disks:
//!
//! - `location`: a location is Cycle's ISO, uploaded once per account, and the bridge's tag
//! - `servers`: a server named from Cycle's id, created stopped and started, with a data drive
//! - `ips`: Cycle's extra addresses, from a pool of the account's IP subscriptions
//! - `catalog`: the operator's sizes, bounded and priced by each location
//! - `gc`: what a crash left behind, and what idle addresses cost
//! - `error`: CloudSigma's failures in the core's terms

mod catalog;
pub mod check;
pub mod config;
pub mod error;
pub mod gc;
mod ips;
mod location;
pub mod metrics;
mod servers;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub use config::{CloudSigmaConfig, Operator};
pub use location::{iso_name, LocationConfig, CONFIG_VERSION};
pub use settings::CloudSigmaSettings;

use crate::core::backend::{
    Account, Backend, BackendInfo, Caller, Extra, LocationState, Observed, Presented,
};
use crate::core::catalogue::Catalogue;
use crate::core::error::CoreError;
use crate::core::locks::KeyedLocks;
use crate::core::plan::ProvisionPlan;
use crate::ial::types::{
    AllocateIp, AllocateIpResponse, ConfigureLocation, ProvisionStatus, ReleaseIp,
};
use crate::setting_error::SettingError;
use cloudsigma_sdk::{Client, ClientSettings, Credentials, ErrorKind};
use error::Doing;

pub static INFO: BackendInfo = BackendInfo {
    name: "cloudsigma",
    display: "CloudSigma",
    model_noun: "CloudSigma size",
    account_attribute: "cloudsigma_account",
    credentials: [
        "the CloudSigma account's e-mail",
        "the CloudSigma account's password",
        "the CloudSigma location (zrh, fra, ...)",
    ],
};

/// Marks, in `meta`, what the bridge made.
pub const META_MANAGED_BY: &str = "managed_by";
pub const MANAGED_BY: &str = "cycle-ial-bridge";
/// The tag every resource the bridge makes carries.
pub const TAG_NAME: &str = "cycle-ial";
const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

/// One caller's CloudSigma account: a client per location its credentials are tried in.
#[derive(Clone)]
pub struct Sigma {
    scope: String,
    credentials: Credentials,
    clients: Arc<BTreeMap<String, Client>>,
}

impl std::fmt::Debug for Sigma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sigma")
            .field("scope", &self.scope)
            .field("locations", &self.locations())
            .finish()
    }
}

impl Sigma {
    pub fn client(&self, location: &str) -> Result<&Client, CoreError> {
        self.clients.get(location).ok_or_else(|| {
            CoreError::invalid(
                format!(
                    "these CloudSigma credentials are for {}, not {location:?}: a CloudSigma account lives in one location",
                    self.locations().join(", ")
                ),
                "/request/location_id",
            )
        })
    }

    pub fn has(&self, location: &str) -> bool {
        self.clients.contains_key(location)
    }

    pub fn locations(&self) -> Vec<String> {
        self.clients.keys().cloned().collect()
    }

    /// The account in lock keys: never the password.
    pub fn scope_key(&self) -> &str {
        &self.scope
    }
}

impl Account for Sigma {
    fn scope(&self) -> &str {
        &self.scope
    }
}

pub struct CloudSigma {
    settings: CloudSigmaSettings,
    endpoint: Option<String>,
    pub(crate) operator: Option<Sigma>,
    /// Accounts built from Cycle's `auth`, by a hash of it: a client per call would build a TLS
    /// stack per call.
    accounts: moka::sync::Cache<[u8; 32], Sigma>,
    catalog: catalog::Catalog,
    locks: KeyedLocks,
    ipxe_url: String,
    pub(crate) ipxe_sha256: Option<String>,
    /// Cycle's ISO, once downloaded.
    image: tokio::sync::Mutex<Option<location::Image>>,
    /// Uploads this replica made that are not named yet, by account, location and checksum.
    pending_uploads: std::sync::Mutex<BTreeMap<String, String>>,
}

impl CloudSigma {
    /// The backend; the error names the setting at fault (by its file key) and why.
    pub fn new(
        config: CloudSigmaConfig,
        ipxe_url: Option<String>,
        ipxe_sha256: Option<String>,
    ) -> Result<Self, SettingError> {
        config.settings.validate()?;
        let ipxe_url = ipxe_url
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                SettingError::new(
                    "bridge.boot.ipxe_url",
                    "the CloudSigma backend boots Cycle's iPXE ISO from a CD-ROM: set the URL of Cycle's .iso",
                )
            })?;
        let parsed = url::Url::parse(&ipxe_url)
            .map_err(|e| SettingError::new("bridge.boot.ipxe_url", format!("not a URL: {e}")))?;
        if parsed.path().ends_with(".efi") {
            return Err(SettingError::new(
                "bridge.boot.ipxe_url",
                "CloudSigma boots an ISO from a CD-ROM: give Cycle's .iso, not the .efi",
            ));
        }
        let ipxe_sha256 = match ipxe_sha256.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(h.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(SettingError::new(
                    "bridge.boot.ipxe_sha256",
                    "must be 64 hexadecimal digits",
                ))
            }
        };
        let mut backend = Self {
            catalog: catalog::Catalog::new(Duration::from_secs(config.settings.catalog_ttl_secs)),
            settings: config.settings,
            endpoint: config.endpoint,
            operator: None,
            accounts: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(15 * 60))
                .build(),
            locks: KeyedLocks::default(),
            ipxe_url,
            ipxe_sha256,
            image: tokio::sync::Mutex::new(None),
            pending_uploads: std::sync::Mutex::new(BTreeMap::new()),
        };
        if let Some(op) = config.operator {
            let account = backend
                .build_account(op.credentials, std::slice::from_ref(&op.location))
                .map_err(|e| SettingError::new("cloudsigma.location", e.to_string()))?;
            backend.operator = Some(account);
        }
        Ok(backend)
    }

    pub fn settings(&self) -> &CloudSigmaSettings {
        &self.settings
    }

    fn pending_upload(&self, key: &str) -> Option<String> {
        self.pending_uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn note_upload(&self, key: &str, uuid: Option<String>) {
        let mut pending = self
            .pending_uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match uuid {
            Some(u) => pending.insert(key.to_string(), u),
            None => pending.remove(key),
        };
    }

    fn wait(&self) -> Duration {
        Duration::from_secs(self.settings.wait_secs)
    }

    fn size(&self, id: &str) -> Option<settings::Size> {
        self.settings.sizes.iter().find(|s| s.id == id).cloned()
    }

    /// The client settings of one location: the operator's endpoint with `{location}` filled
    /// in, or the location's own host from the SDK's table.
    fn client_settings(&self, location: &str) -> Result<ClientSettings, String> {
        let mut settings = match &self.endpoint {
            Some(template) => ClientSettings::from_template(template, location),
            None => ClientSettings::for_known_location(location),
        }
        .map_err(|e| e.to_string())?;
        settings.user_agent = crate::USER_AGENT.into();
        Ok(settings)
    }

    fn build_account(
        &self,
        credentials: Credentials,
        locations: &[String],
    ) -> Result<Sigma, String> {
        let mut clients = BTreeMap::new();
        for l in locations {
            let client = Client::new(self.client_settings(l)?, credentials.clone())
                .map_err(|e| e.to_string())?;
            clients.insert(l.clone(), client);
        }
        let scope = match &credentials {
            Credentials::Basic { username, .. } => username.clone(),
            Credentials::Token(t) => {
                let digest = Sha256::digest(t.expose_secret().as_bytes());
                format!(
                    "token-{}",
                    digest[..6]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                )
            }
        };
        Ok(Sigma {
            scope,
            credentials,
            clients: Arc::new(clients),
        })
    }

    /// A client that uploads to `location`: its `direct.` host, which an operator's endpoint
    /// template cannot name, so it is asked of CloudSigma's `/locations/` then.
    async fn upload_client(&self, account: &Sigma, location: &str) -> Result<Client, CoreError> {
        let client = account.client(location)?;
        if self.endpoint.is_none() {
            return Ok(client.clone());
        }
        let listed = client
            .locations()
            .await
            .doing(|| format!("reading where {location} takes uploads"))?;
        let upload = listed
            .iter()
            .find(|l| l.id.eq_ignore_ascii_case(location))
            .and_then(|l| l.upload_url.clone())
            .ok_or_else(|| {
                error::failed(format!(
                    "CloudSigma's /locations/ gives no upload URL for {location}"
                ))
            })?;
        let mut settings = self.client_settings(location).map_err(error::failed)?;
        settings.upload_base = Some(
            url::Url::parse(&upload)
                .map_err(|e| error::failed(format!("upload URL of {location}: {e}")))?,
        );
        Client::new(settings, account.credentials.clone()).map_err(|e| error::failed(e.to_string()))
    }

    /// Cycle's ISO, downloaded once and checked.
    pub(crate) async fn image(&self) -> Result<location::Image, CoreError> {
        let mut held = self.image.lock().await;
        if let Some(image) = held.as_ref() {
            return Ok(image.clone());
        }
        let image = location::download(
            &self.ipxe_url,
            self.ipxe_sha256.as_deref(),
            self.settings.max_image_mib * 1024 * 1024,
        )
        .await?;
        *held = Some(image.clone());
        Ok(image)
    }
}

impl Backend for CloudSigma {
    type Account = Sigma;

    fn info(&self) -> &'static BackendInfo {
        &INFO
    }

    /// `api_key` is the account's e-mail and `secret` its password (HTTP Basic, the one form
    /// every CloudSigma call, uploads included, accepts); `namespace` names the location(s) the
    /// account lives in, comma-separated (an account lives in one location, §1.3), or is empty
    /// for the operator's `cloudsigma.locations`.
    fn account(&self, presented: Presented<'_>) -> Result<Sigma, CoreError> {
        let locations: Vec<String> = if presented.namespace.trim().is_empty() {
            self.settings.locations.clone()
        } else {
            presented
                .namespace
                .split(',')
                .map(|l| {
                    config::location_id(l).ok_or_else(|| {
                        CoreError::invalid(
                            "/auth/namespace must name CloudSigma locations like zrh or zrh,fra",
                            "/auth/namespace",
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let key: [u8; 32] = Sha256::new()
            .chain_update(presented.api_key.as_bytes())
            .chain_update([0])
            .chain_update(presented.secret.as_bytes())
            .chain_update([0])
            .chain_update(locations.join(",").as_bytes())
            .finalize()
            .into();
        if let Some(account) = self.accounts.get(&key) {
            return Ok(account);
        }
        let credentials = Credentials::Basic {
            username: presented.api_key.trim().to_string(),
            password: SecretString::from(presented.secret.to_string()),
        };
        let account = self
            .build_account(credentials, &locations)
            .map_err(|e| CoreError::invalid(format!("/auth/namespace: {e}"), "/auth/namespace"))?;
        self.accounts.insert(key, account.clone());
        Ok(account)
    }

    fn operator_account(&self) -> Option<Sigma> {
        self.operator.clone()
    }

    async fn verify(&self, caller: &Caller<Sigma>) -> Result<bool, CoreError> {
        for l in caller.account.locations() {
            match caller.account.client(&l)?.profile().await {
                Ok(_) => return Ok(true),
                Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {}
                Err(e) => return Err(e).doing(|| format!("verifying the account in {l}")),
            }
        }
        Ok(false)
    }

    async fn readiness(&self) -> Result<(), String> {
        let Some(account) = &self.operator else {
            return Ok(());
        };
        for l in account.locations() {
            let client = account.client(&l).map_err(|e| e.to_string())?;
            match tokio::time::timeout(READINESS_TIMEOUT, client.profile()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(format!(
                        "CloudSigma does not accept the configured credentials in {l}: {e}"
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "CloudSigma did not answer within {}s",
                        READINESS_TIMEOUT.as_secs()
                    ))
                }
            }
        }
        Ok(())
    }

    async fn catalogue(&self, caller: &Caller<Sigma>) -> Result<Arc<Catalogue>, CoreError> {
        self.catalog.catalogue(self, caller).await
    }

    async fn ensure_location(
        &self,
        caller: &Caller<Sigma>,
        request: &ConfigureLocation,
        current: Option<LocationState>,
    ) -> Result<LocationState, CoreError> {
        let location = request.location_id.trim().to_ascii_lowercase();
        let config =
            location::ensure(self, caller, &location, current.as_ref().map(|c| &c.data)).await?;
        Ok(config.to_state())
    }

    async fn create_server(
        &self,
        caller: &Caller<Sigma>,
        plan: &ProvisionPlan,
    ) -> Result<Extra, CoreError> {
        servers::create(self, caller, plan).await
    }

    async fn observe_server(
        &self,
        caller: &Caller<Sigma>,
        name: &str,
        request: &ProvisionStatus,
    ) -> Result<Observed, CoreError> {
        servers::observe(self, caller, name, request).await
    }

    async fn restart_server(&self, caller: &Caller<Sigma>, name: &str) -> Result<(), CoreError> {
        servers::restart(self, caller, name).await
    }

    async fn delete_server(&self, caller: &Caller<Sigma>, name: &str) -> Result<(), CoreError> {
        servers::delete(self, caller, name).await
    }

    async fn allocate_ip(
        &self,
        caller: &Caller<Sigma>,
        name: &str,
        request: &AllocateIp,
    ) -> Result<AllocateIpResponse, CoreError> {
        ips::allocate(self, caller, name, request).await
    }

    async fn release_ip(
        &self,
        caller: &Caller<Sigma>,
        request: &ReleaseIp,
    ) -> Result<(), CoreError> {
        ips::release(self, caller, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> CloudSigma {
        CloudSigma::new(
            CloudSigmaConfig::default(),
            Some("https://ipxe.example/ipxe.iso".into()),
            None,
        )
        .unwrap()
    }

    fn presented<'a>(namespace: &'a str) -> Presented<'a> {
        Presented {
            api_key: "ops@example.com",
            secret: "a-password",
            namespace,
        }
    }

    #[test]
    fn credentials_go_to_the_locations_own_hosts_partners_included_and_nowhere_else() {
        let b = backend();
        let account = b.account(presented("zrh,RUH")).unwrap();
        assert_eq!(account.locations(), ["ruh", "zrh"]);
        assert_eq!(
            account.client("zrh").unwrap().api_base().host_str(),
            Some("zrh.cloudsigma.com")
        );
        assert_eq!(
            account.client("ruh").unwrap().api_base().host_str(),
            Some("ruh.cld.v2.sa")
        );
        for hostile in ["evil.example", "../zrh", "zrh/../x", "zrh?x=1", "nowhere"] {
            let err = b.account(presented(hostile)).unwrap_err();
            assert!(
                matches!(err, CoreError::InvalidInput { ref pointer, .. } if pointer.as_deref() == Some("/auth/namespace")),
                "{hostile}: {err}"
            );
            assert!(!err.to_string().contains("a-password"));
        }
    }

    #[test]
    fn an_efi_image_or_none_is_refused_at_start_naming_the_setting() {
        for url in [None, Some("https://cdn.example/ipxe.efi".to_string())] {
            let err = CloudSigma::new(CloudSigmaConfig::default(), url, None)
                .err()
                .expect("refused");
            assert_eq!(err.key, "bridge.boot.ipxe_url");
        }
    }
}
