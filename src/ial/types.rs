//! Cycle's IAL wire types, named as Cycle's OpenAPI and Go types name them. Requests are lenient
//! where Cycle's sources disagree (optional where any source says so); responses always carry
//! every field Cycle's schema requires.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The `auth` object: every field optional; unused ones arrive absent or null. The credentials
/// (`api_key`, `secret`, `config`) are overwritten when it is dropped; zeroize's derive writes that
/// `Drop`, so the `ZeroizeOnDrop` marker cannot be claimed without it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Auth {
    #[zeroize(skip)]
    pub client_id: Option<String>,
    #[zeroize(skip)]
    pub subscription_id: Option<String>,
    #[zeroize(skip)]
    pub namespace: Option<String>,
    #[zeroize(skip)]
    pub region: Option<String>,
    pub api_key: Option<String>,
    pub secret: Option<String>,
    /// Standard base64 of per-hub settings.
    pub config: Option<String>,
    #[zeroize(skip)]
    pub cycle: Option<AuthCycle>,
}

impl Auth {
    /// Overwrites the credentials' bytes and forgets them (what dropping it does).
    pub fn wipe(&mut self) {
        self.zeroize();
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("Auth")
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .field("api_key", &redact(&self.api_key))
            .field("secret", &redact(&self.secret))
            .field("config", &redact(&self.config))
            .field("cycle", &self.cycle)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthCycle {
    pub hub_name: Option<String>,
    pub hub_id: Option<String>,
}

/// `model_features`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpecFeatures {
    pub raid: Option<String>,
    pub hypervisor: Option<bool>,
    pub extra: Option<Map<String, Value>>,
}

/// `cycle` of server calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleServerMeta {
    pub server_id: String,
    pub model_class: Option<String>,
    pub model_category: Option<String>,
    pub model_id: Option<String>,
    pub location_id: Option<String>,
}

/// `cycle` of location configure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleLocationMeta {
    pub location_id: Option<String>,
}

/// `cycle` of IP calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleIpMeta {
    pub pool_id: Option<String>,
    pub server_id: String,
    pub server_model_class: Option<String>,
    pub server_model_category: Option<String>,
    pub location_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpKind {
    Ipv4,
    Ipv6,
}

/// 4: `ConfigureLocation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigureLocation {
    pub location_id: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub configuration_current: Option<Map<String, Value>>,
    #[serde(default)]
    pub cycle: Option<CycleLocationMeta>,
}

/// 5: `ProvisionServer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionServer {
    pub hostname: String,
    pub model_id: String,
    pub location_id: String,
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub model_features: Option<SpecFeatures>,
    #[serde(default)]
    pub provision_options: Option<Map<String, Value>>,
    #[serde(default)]
    pub location_configuration: Option<Map<String, Value>>,
    pub cycle: CycleServerMeta,
}

/// 6: provision-status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionStatus {
    pub server_id: String,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub model_features: Option<SpecFeatures>,
    #[serde(default)]
    pub provision_options: Option<Map<String, Value>>,
    #[serde(default)]
    pub location_configuration: Option<Map<String, Value>>,
    #[serde(default)]
    pub extra: Option<Map<String, Value>>,
    #[serde(default)]
    pub cycle: Option<CycleServerMeta>,
}

/// 7, 8: restart and decommission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerRef {
    pub server_id: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub model_id: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub extra: Option<Map<String, Value>>,
    #[serde(default)]
    pub cycle: Option<CycleServerMeta>,
}

/// 9: `AllocateIP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocateIp {
    pub kind: IpKind,
    pub server_id: String,
    pub location_id: String,
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub location_configuration: Option<Map<String, Value>>,
    pub cycle: CycleIpMeta,
}

/// 10: `ReleaseIP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseIp {
    pub kind: IpKind,
    pub ip_id: String,
    pub ip_assignment_id: String,
    #[serde(default)]
    pub cidr: Option<String>,
    #[serde(default)]
    pub nat_private_ip: Option<String>,
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub server_id: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub location_configuration: Option<Map<String, Value>>,
    #[serde(default)]
    pub cycle: Option<CycleIpMeta>,
}

// ---- responses ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyResponse {
    pub valid: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geographic {
    pub latitude: f64,
    pub longitude: f64,
    pub city: String,
    pub state: String,
    pub country: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationProvider {
    pub location_id: String,
    pub code: String,
    pub availability_zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub available: Vec<String>,
    pub supported: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub name: String,
    /// In Cycle's Go types, not in its OpenAPI: sent anyway.
    pub abbreviation: String,
    pub geographic: Option<Geographic>,
    pub provider: LocationProvider,
    pub features: Features,
    pub annotations: BTreeMap<String, String>,
    pub compatible: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationsResponse {
    pub locations: Vec<Location>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    pub count: u32,
    pub cores: Option<u32>,
    pub threads: Option<u32>,
    #[serde(rename = "type")]
    pub cpu_type: String,
    pub shared: Option<bool>,
    pub extra: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub count: u32,
    pub cores: Option<u32>,
    pub vram_gb: Option<u32>,
    #[serde(rename = "type")]
    pub gpu_type: String,
    pub shared: Option<bool>,
    pub extra: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub size_gb: u64,
    #[serde(rename = "type")]
    pub memory_type: String,
    pub extra: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    pub count: u32,
    pub size_gb: u64,
    #[serde(rename = "type")]
    pub storage_type: String,
    pub extra: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nic {
    pub scope: String,
    #[serde(rename = "type")]
    pub nic_type: String,
    pub throughput: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Specs {
    pub cpu: Cpu,
    pub gpu: Option<Gpu>,
    pub memory: Memory,
    pub storage: Vec<Storage>,
    pub network: Vec<Nic>,
    pub features: SpecFeatures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerModelProvider {
    pub category: String,
    pub class: Option<String>,
    pub model_id: String,
    pub locations: Vec<String>,
    /// Location id → its zones: Go's `map[string][]string`.
    pub availability_zones: BTreeMap<String, Vec<String>>,
}

/// Prices in mils: $1 = 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    pub hourly: i64,
    pub monthly: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerModel {
    pub name: String,
    pub description: String,
    pub drivers: Option<Vec<String>>,
    pub specs: Specs,
    pub provider: ServerModelProvider,
    pub pricing: Pricing,
    pub compatible: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerModelsResponse {
    pub models: Vec<ServerModel>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigureLocationResponse {
    pub configured: bool,
    pub version: Option<String>,
    pub configuration_latest: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionResponse {
    pub server_id: String,
    pub location_modified: bool,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerAuth {
    pub uuid: Option<String>,
    pub initial_ips: Option<Vec<String>>,
    pub mac_addr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionStatusResponse {
    pub server_id: String,
    pub provisioned: bool,
    pub auth: ServerAuth,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocateIpResponse {
    pub ip_id: String,
    pub ip_assignment_id: String,
    /// A CIDR: Cycle's Go type checks it with `net.ParseCIDR`.
    pub cidr: String,
    /// An IP or null (`*IP`); never `""`, which `net.ParseIP` refuses.
    pub gateway: Option<String>,
    /// Gone from Cycle's Go types (2025-04); its OpenAPI still requires it.
    pub netmask: String,
    /// A CIDR or null (`*CIDR`), not a bare address.
    pub network: Option<String>,
    pub nat_private_ip: Option<String>,
}

/// A payload serialised once and answered many times: catalogue answers change only when
/// Crusoe's do, and serialising them anew for every call was most of their cost.
pub struct Rendered<T> {
    json: Arc<RawValue>,
    payload: PhantomData<fn() -> T>,
}

impl<T: Serialize> Rendered<T> {
    pub fn new(payload: &T) -> Self {
        let json = serde_json::value::to_raw_value(payload)
            .expect("IAL payloads have string keys and finite numbers");
        Self {
            json: Arc::from(json),
            payload: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Rendered<T> {
    /// The payload back, for tests and for callers that need to look inside.
    pub fn decode(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.json.get())
    }
}

impl<T> Rendered<T> {
    pub fn as_str(&self) -> &str {
        self.json.get()
    }
}

impl<T> Clone for Rendered<T> {
    fn clone(&self) -> Self {
        Self {
            json: Arc::clone(&self.json),
            payload: PhantomData,
        }
    }
}

impl<T> Serialize for Rendered<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl<T> std::fmt::Debug for Rendered<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rendered({} bytes)", self.json.get().len())
    }
}
