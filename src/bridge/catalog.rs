//! Locations and server models for Cycle, from Crusoe's locations, VM types and stock, with
//! geography and prices from the shipped table (operator-extendable). Crusoe's answers are cached
//! per credential for a short time, and concurrent misses for one credential share one fetch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use moka::future::Cache;
use serde::Deserialize;
use serde_json::Map;

use super::error::{BridgeError, Doing};
use super::settings::{BridgeSettings, LocationInfo, Price};
use super::tenant::Tenant;
use crate::ial::types::{
    Cpu, Features, Geographic, Gpu, Location, LocationProvider, LocationsResponse, Memory, Nic,
    Pricing, Rendered, ServerModel, ServerModelProvider, ServerModelsResponse, SpecFeatures, Specs,
    Storage,
};
use crusoe_sdk::types::{Capacity, VmType};

/// Region filters whose answers are kept per snapshot; others are built per call. Cycle sends one
/// region per integration, so a handful covers every real caller.
const RENDERED_REGIONS: usize = 16;

/// CycleOS needs x86-64 and this much memory.
pub const CYCLEOS_MIN_MEMORY_GB: i64 = 4;
const HOURS_PER_MONTH: f64 = 730.0;

#[derive(Debug, Deserialize)]
struct CatalogData {
    locations: BTreeMap<String, LocationInfo>,
    prices: BTreeMap<String, Price>,
    gpu_vram_gb: BTreeMap<String, i64>,
}

static BUILT_IN: LazyLock<CatalogData> = LazyLock::new(|| {
    toml::from_str(include_str!("catalog.toml")).expect("the shipped catalogue table is valid")
});

/// What Crusoe said, for one credential, at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub locations: Vec<String>,
    pub types: Vec<VmType>,
    pub capacities: Vec<Capacity>,
}

impl Snapshot {
    pub fn vm_type(&self, name: &str) -> Option<&VmType> {
        self.types.iter().find(|t| t.product_name == name)
    }

    /// Whether Crusoe lists the type in the location at all (in stock or not).
    pub fn offers(&self, vm_type: &str, location: &str) -> bool {
        self.capacities
            .iter()
            .any(|c| c.location == location && c.product_name.as_deref() == Some(vm_type))
    }
}

/// A snapshot and the answers built from it, each built on first use and kept as long as the
/// snapshot: the catalogue endpoints then cost a lookup and a copy.
struct Entry {
    snapshot: Arc<Snapshot>,
    models: OnceLock<Rendered<ServerModelsResponse>>,
    locations: Mutex<HashMap<String, Rendered<LocationsResponse>>>,
}

pub struct Catalog {
    locations: BTreeMap<String, LocationInfo>,
    prices: BTreeMap<String, Price>,
    vram: BTreeMap<String, i64>,
    allowed: BTreeSet<String>,
    nested_virtualization: bool,
    cache: Cache<[u8; 32], Arc<Entry>>,
}

/// A VM type can run CycleOS when it is x86-64 with enough memory.
pub fn is_compatible(t: &VmType) -> bool {
    !t.cpu_type.to_ascii_lowercase().contains("arm") && t.memory_gb >= CYCLEOS_MIN_MEMORY_GB
}

impl Catalog {
    /// Why Cycle may not run VMs inside a server of this type (its `hypervisor` feature), or
    /// `None` when it may: Crusoe's nested virtualization, when the operator has turned it on, on a
    /// type that can run CycleOS and that Crusoe does not advise against (its support FAQ,
    /// "Nested Virtualization on Crusoe Cloud": not on H100-SXM or A100-SXM types; every SXM type
    /// is left out, none being listed as fine).
    pub fn no_hypervisor(&self, t: &VmType) -> Option<String> {
        if !self.nested_virtualization {
            Some("this bridge does not offer nested virtualization (bridge.nested_virtualization is off)".into())
        } else if !is_compatible(t) {
            Some(format!("{} cannot run CycleOS", t.product_name))
        } else if t.product_name.to_ascii_lowercase().contains("sxm") {
            Some(format!(
                "Crusoe advises against nested virtualization on SXM types such as {}",
                t.product_name
            ))
        } else {
            None
        }
    }

    pub fn new(settings: &BridgeSettings) -> Self {
        let mut locations = BUILT_IN.locations.clone();
        locations.extend(settings.locations.clone());
        let mut prices = BUILT_IN.prices.clone();
        prices.extend(settings.prices.clone());
        Self {
            locations,
            prices,
            vram: BUILT_IN
                .gpu_vram_gb
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), *v))
                .collect(),
            allowed: settings.allowed_locations.iter().cloned().collect(),
            nested_virtualization: settings.nested_virtualization,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(settings.catalog_ttl_secs))
                .build(),
        }
    }

    /// Crusoe's catalogue as this tenant sees it, cached.
    pub async fn snapshot(&self, tenant: &Tenant) -> Result<Arc<Snapshot>, BridgeError> {
        Ok(Arc::clone(&self.entry(tenant).await?.snapshot))
    }

    /// Cycle's server-models answer for this tenant, built once per snapshot.
    pub async fn models_answer(
        &self,
        tenant: &Tenant,
    ) -> Result<Rendered<ServerModelsResponse>, BridgeError> {
        let entry = self.entry(tenant).await?;
        Ok(entry
            .models
            .get_or_init(|| {
                Rendered::new(&ServerModelsResponse {
                    models: self.models(&entry.snapshot),
                    extra: Map::new(),
                })
            })
            .clone())
    }

    /// Cycle's locations answer for this tenant and region filter, built once per snapshot.
    pub async fn locations_answer(
        &self,
        tenant: &Tenant,
        region: Option<&str>,
    ) -> Result<Rendered<LocationsResponse>, BridgeError> {
        let entry = self.entry(tenant).await?;
        let key = region.map(str::trim).unwrap_or_default();
        let mut kept = entry.locations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(answer) = kept.get(key) {
            return Ok(answer.clone());
        }
        let answer = Rendered::new(&LocationsResponse {
            locations: self.locations(&entry.snapshot, Some(key)),
            extra: Map::new(),
        });
        if kept.len() < RENDERED_REGIONS {
            kept.insert(key.to_string(), answer.clone());
        }
        Ok(answer)
    }

    async fn entry(&self, tenant: &Tenant) -> Result<Arc<Entry>, BridgeError> {
        if let Some(entry) = self.cache.get(&tenant.cache_key).await {
            return Ok(entry);
        }
        // Boxed: the fetch's future (three Crusoe calls) is large, and inline it made every
        // cached answer's future large too, copied at each await up the stack.
        Box::pin(self.fetch(tenant)).await
    }

    async fn fetch(&self, tenant: &Tenant) -> Result<Arc<Entry>, BridgeError> {
        self.cache
            .try_get_with(tenant.cache_key, async {
                let c = &tenant.project.client();
                let (locations, types, capacities) = tokio::try_join!(
                    async {
                        c.list_locations()
                            .await
                            .doing(|| "listing Crusoe's locations".into())
                    },
                    async {
                        tenant.project.vm_types().await.doing(|| {
                            format!("listing VM types of project {}", tenant.project.id())
                        })
                    },
                    async {
                        c.list_capacities(&[], &[])
                            .await
                            .doing(|| "listing Crusoe's stock".into())
                    },
                )?;
                Ok(Arc::new(Entry {
                    snapshot: Arc::new(Snapshot {
                        locations,
                        types,
                        capacities,
                    }),
                    models: OnceLock::new(),
                    locations: Mutex::new(HashMap::new()),
                }))
            })
            .await
            .map_err(BridgeError::Shared)
    }

    /// Crusoe's locations the operator allows.
    pub fn offered<'a>(&'a self, snap: &'a Snapshot) -> impl Iterator<Item = &'a String> + 'a {
        snap.locations
            .iter()
            .filter(move |l| self.allowed.is_empty() || self.allowed.contains(*l))
    }

    pub fn is_offered(&self, snap: &Snapshot, location: &str) -> bool {
        self.offered(snap).any(|l| l == location)
    }

    pub fn locations(&self, snap: &Snapshot, region: Option<&str>) -> Vec<Location> {
        let region = region.map(str::trim).filter(|r| !r.is_empty());
        self.offered(snap)
            .filter(|l| region.is_none_or(|r| l.as_str() == r || l.starts_with(&format!("{r}-"))))
            .map(|l| self.location(snap, l))
            .collect()
    }

    fn location(&self, snap: &Snapshot, id: &str) -> Location {
        let info = self.locations.get(id);
        let compatible = snap
            .types
            .iter()
            .any(|t| is_compatible(t) && snap.offers(&t.product_name, id));
        let mut annotations = BTreeMap::new();
        annotations.insert("provider".to_string(), "crusoe".to_string());
        Location {
            name: info.map_or_else(|| id.to_string(), |i| i.name.clone()),
            abbreviation: info.map_or_else(|| abbreviate(id), |i| i.abbreviation.clone()),
            geographic: info.map(|i| Geographic {
                latitude: i.latitude,
                longitude: i.longitude,
                city: i.city.clone(),
                state: i.state.clone(),
                country: i.country.clone(),
                region: i.region.clone(),
            }),
            provider: LocationProvider {
                location_id: id.to_string(),
                code: id.to_string(),
                availability_zones: Vec::new(),
            },
            features: Features {
                available: Vec::new(),
                supported: Vec::new(),
            },
            annotations,
            compatible,
        }
    }

    pub fn price(&self, vm_type: &str) -> Option<Pricing> {
        self.prices.get(vm_type).map(|p| {
            let hourly_mils = p.hourly_usd * 1000.0;
            Pricing {
                hourly: hourly_mils.round() as i64,
                monthly: (hourly_mils * HOURS_PER_MONTH).round() as i64,
            }
        })
    }

    pub fn models(&self, snap: &Snapshot) -> Vec<ServerModel> {
        snap.types.iter().map(|t| self.model(snap, t)).collect()
    }

    fn model(&self, snap: &Snapshot, t: &VmType) -> ServerModel {
        let locations: Vec<String> = self
            .offered(snap)
            .filter(|l| snap.offers(&t.product_name, l))
            .cloned()
            .collect();
        let gpu = (t.num_gpu > 0).then(|| Gpu {
            count: unsigned(t.num_gpu),
            cores: None,
            vram_gb: self
                .vram
                .get(&t.gpu_type.to_ascii_lowercase())
                .map(|v| unsigned(*v)),
            gpu_type: t.gpu_type.clone(),
            shared: Some(false),
            extra: None,
        });
        let storage = if t.disk_gb > 0 {
            vec![Storage {
                count: 1,
                size_gb: unsigned(t.disk_gb),
                storage_type: t.disk_type.clone(),
                extra: None,
            }]
        } else {
            Vec::new()
        };
        let (pricing, priced) = match self.price(&t.product_name) {
            Some(p) => (p, true),
            None => (
                Pricing {
                    hourly: 0,
                    monthly: 0,
                },
                false,
            ),
        };
        let mut description = t.description.clone();
        if !priced {
            description.push_str(" (no price configured)");
        }
        ServerModel {
            name: t.product_name.clone(),
            description,
            drivers: None,
            specs: Specs {
                cpu: Cpu {
                    count: unsigned(t.cpu_cores),
                    cores: None,
                    threads: None,
                    cpu_type: t.cpu_type.clone(),
                    shared: Some(false),
                    extra: None,
                },
                gpu,
                memory: Memory {
                    size_gb: unsigned(t.memory_gb),
                    memory_type: t.memory_type.clone(),
                    extra: None,
                },
                storage,
                network: vec![Nic {
                    scope: "public".into(),
                    nic_type: "ethernet".into(),
                    throughput: "unspecified".into(),
                }],
                features: SpecFeatures {
                    raid: None,
                    hypervisor: Some(self.no_hypervisor(t).is_none()),
                    extra: None,
                },
            },
            provider: ServerModelProvider {
                category: if t.num_gpu > 0 { "gpu" } else { "cpu" }.into(),
                class: Some(class_of(&t.product_name)),
                model_id: t.product_name.clone(),
                locations,
                availability_zones: BTreeMap::new(),
            },
            pricing,
            compatible: is_compatible(t),
        }
    }
}

/// A count or size from Crusoe as Cycle's Go types hold it (`uint`): a negative one, which no real
/// type has, is shown as 0 rather than failing Cycle's decoding of every model.
fn unsigned<T: TryFrom<i64> + Default>(value: i64) -> T {
    T::try_from(value).unwrap_or_default()
}

/// `h100-80gb-sxm-ib.8x` → `h100`; `c1a.16x` → `c1a`.
fn class_of(product: &str) -> String {
    product
        .split(['-', '.'])
        .next()
        .unwrap_or(product)
        .to_ascii_lowercase()
}

/// `us-east1-a` → `USEAST1A`, for locations the table does not know.
fn abbreviate(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm_type(name: &str, cpu: &str, mem: i64, gpus: i64, gpu: &str) -> VmType {
        VmType {
            product_name: name.into(),
            description: name.into(),
            cpu_cores: 8,
            cpu_type: cpu.into(),
            memory_gb: mem,
            memory_type: "RAM".into(),
            disk_gb: 0,
            disk_type: "SSD".into(),
            num_gpu: gpus,
            gpu_type: gpu.into(),
        }
    }

    #[test]
    fn the_shipped_table_parses_and_prices_are_in_mils() {
        let c = Catalog::new(&BridgeSettings::default());
        let p = c.price("h100-80gb-sxm-ib.8x").unwrap();
        assert_eq!(p.hourly, 31_200);
        assert_eq!(p.monthly, 31_200 * 730);
        assert!(c.price("unknown.1x").is_none());
    }

    #[test]
    fn counts_and_sizes_are_unsigned_as_cycles_go_types_hold_them() {
        let c = Catalog::new(&BridgeSettings::default());
        let mut odd = vm_type("c1a.4x", "amd", 16, 0, "");
        odd.cpu_cores = -2;
        odd.disk_gb = -1;
        let snap = Snapshot {
            locations: vec![],
            types: vec![odd],
            capacities: vec![],
        };
        let model = serde_json::to_value(&c.models(&snap)[0]).unwrap();
        assert_eq!(model["specs"]["cpu"]["count"], 0);
        assert_eq!(model["specs"]["storage"], serde_json::json!([]));
        assert!(model["provider"]["availability_zones"].is_object());
    }

    #[test]
    fn the_hypervisor_feature_is_offered_only_when_turned_on_and_not_on_sxm_types() {
        let off = Catalog::new(&BridgeSettings::default());
        let on = Catalog::new(&BridgeSettings {
            nested_virtualization: true,
            ..Default::default()
        });
        let cpu = vm_type("c1a.4x", "amd", 16, 0, "");
        let l40s = vm_type("l40s-48gb.10x", "amd", 147, 10, "L40S");
        let sxm = vm_type("h100-80gb-sxm-ib.8x", "intel", 1440, 8, "H100");
        let arm = vm_type("gh200.1x", "arm", 480, 1, "GH200");
        assert!(off
            .no_hypervisor(&cpu)
            .unwrap()
            .contains("nested_virtualization"));
        assert_eq!(on.no_hypervisor(&cpu), None);
        assert_eq!(on.no_hypervisor(&l40s), None);
        assert!(on.no_hypervisor(&sxm).unwrap().contains("SXM"));
        assert!(on.no_hypervisor(&arm).is_some());
    }

    #[test]
    fn arm_and_small_types_are_not_compatible() {
        assert!(is_compatible(&vm_type("c1a.4x", "amd", 16, 0, "")));
        assert!(!is_compatible(&vm_type("gh200.1x", "arm", 480, 1, "GH200")));
        assert!(!is_compatible(&vm_type("c1a.1x", "amd", 2, 0, "")));
    }

    #[test]
    fn models_carry_class_category_vram_and_offered_locations() {
        let settings = BridgeSettings {
            allowed_locations: vec!["us-east1-a".into()],
            ..Default::default()
        };
        let c = Catalog::new(&settings);
        let snap = Snapshot {
            locations: vec!["us-east1-a".into(), "eu-iceland1-a".into()],
            types: vec![vm_type(
                "h100-80gb-sxm-ib.8x",
                "intel",
                1440,
                8,
                "H100-80GB-SXM",
            )],
            capacities: vec![
                Capacity {
                    location: "us-east1-a".into(),
                    quantity: 0,
                    product_name: Some("h100-80gb-sxm-ib.8x".into()),
                    num_slices: None,
                    quota_type: None,
                },
                Capacity {
                    location: "eu-iceland1-a".into(),
                    quantity: 5,
                    product_name: Some("h100-80gb-sxm-ib.8x".into()),
                    num_slices: None,
                    quota_type: None,
                },
            ],
        };
        let m = &c.models(&snap)[0];
        assert_eq!(
            (m.provider.category.as_str(), m.provider.class.as_deref()),
            ("gpu", Some("h100"))
        );
        assert_eq!(m.specs.gpu.as_ref().unwrap().vram_gb, Some(80));
        assert_eq!(
            m.provider.locations,
            vec!["us-east1-a"],
            "only allowed locations"
        );
        let locations = c.locations(&snap, None);
        assert_eq!(locations.len(), 1);
        assert_eq!(locations[0].provider.location_id, "us-east1-a");
        assert_eq!(locations[0].abbreviation, "USE1A");
        assert!(c.locations(&snap, Some("eu-iceland1")).is_empty());
        assert_eq!(c.locations(&snap, Some("us-east1")).len(), 1);
    }
}
