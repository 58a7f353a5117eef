//! The `[bridge]` table as the file and the environment give it, keys unchanged since before
//! there were backends, and how it splits into the core's settings and the backend's. The loader
//! depends on the modules that own each part; none of them depends on the loader.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::backends::crusoe::settings::{
    BootSettings, CrusoeSettings, IpSettings, NetworkSettings, Price, StatusSettings,
};
use crate::core::catalogue::LocationInfo;
use crate::core::settings::{CoreSettings, CredentialsMode, RateLimitSettings, TimeoutSettings};
use crate::setting_error::SettingError;

/// The `[bridge]` table of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeSettings {
    pub credentials: CredentialsMode,
    /// In server-held mode, what Cycle must present in `auth.api_key`. Environment only
    /// (`IAL_BRIDGE_TOKEN`): the loader refuses it in the file.
    pub bridge_token: Option<SecretString>,
    /// Locations offered to Cycle; empty for all of the backend's.
    pub allowed_locations: Vec<String>,
    /// How long catalogue answers are reused, per credential.
    pub catalog_ttl_secs: u64,
    pub locations: BTreeMap<String, LocationInfo>,
    /// Price overrides by VM type.
    pub prices: BTreeMap<String, Price>,
    /// Offer Cycle's `hypervisor` feature through Crusoe's nested virtualization. Off by default:
    /// Crusoe enables it per account on request, and it has not been seen on a live account here.
    pub nested_virtualization: bool,
    pub boot: BootSettings,
    pub network: NetworkSettings,
    pub ips: IpSettings,
    pub timeouts: TimeoutSettings,
    pub status: StatusSettings,
    pub rate_limit: RateLimitSettings,
    /// The top-level `[cycloid]` table (not under `[bridge]`), put here by the loader.
    #[serde(skip)]
    pub cycloid: crate::cycloid::CycloidSettings,
}

impl Default for BridgeSettings {
    fn default() -> Self {
        Self {
            credentials: CredentialsMode::PassThrough,
            bridge_token: None,
            allowed_locations: Vec::new(),
            catalog_ttl_secs: 60,
            locations: BTreeMap::new(),
            prices: BTreeMap::new(),
            nested_virtualization: false,
            boot: BootSettings::default(),
            network: NetworkSettings::default(),
            ips: IpSettings::default(),
            timeouts: TimeoutSettings::default(),
            status: StatusSettings::default(),
            rate_limit: RateLimitSettings::default(),
            cycloid: Default::default(),
        }
    }
}

impl BridgeSettings {
    /// The core's part.
    pub fn core(&self) -> CoreSettings {
        CoreSettings {
            credentials: self.credentials,
            bridge_token: self.bridge_token.clone(),
            allowed_locations: self.allowed_locations.clone(),
            rate_limit: self.rate_limit.clone(),
        }
    }

    /// Crusoe's part.
    pub fn crusoe(&self) -> CrusoeSettings {
        CrusoeSettings {
            catalog_ttl_secs: self.catalog_ttl_secs,
            locations: self.locations.clone(),
            prices: self.prices.clone(),
            nested_virtualization: self.nested_virtualization,
            boot: self.boot.clone(),
            network: self.network.clone(),
            ips: self.ips.clone(),
            timeouts: self.timeouts.clone(),
            status: self.status.clone(),
        }
    }

    /// Checks what can be checked before serving; the error names the setting by its file key.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.cycloid.validate()?;
        self.core().validate()?;
        self.crusoe().validate()
    }
}
