//! The catalogue as the core sees every cloud's (locations with geography, machine types with
//! specs, price and where they are offered), the rules Cycle's side puts on it (which locations
//! the operator offers, what can run CycleOS), and Cycle's locations and server-models answers
//! rendered from it, each built once per catalogue a backend hands out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use serde_json::Map;

use super::backend::BackendInfo;
use crate::ial::types::{
    Cpu, Features, Geographic, Gpu, Location, LocationProvider, LocationsResponse, Memory, Nic,
    Pricing, Rendered, ServerModel, ServerModelProvider, ServerModelsResponse, SpecFeatures, Specs,
    Storage,
};

/// CycleOS needs x86-64 and this much memory.
pub const CYCLEOS_MIN_MEMORY_GB: i64 = 4;
const HOURS_PER_MONTH: f64 = 730.0;
/// Region filters whose answers are kept per catalogue; others are built per call. Cycle sends
/// one region per integration, so a handful covers every real caller.
const RENDERED_REGIONS: usize = 16;

/// A location's description for Cycle (a backend's table, extended by the operator's
/// `[bridge.locations.<id>]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationInfo {
    pub name: String,
    pub abbreviation: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub region: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueLocation {
    pub id: String,
    pub info: Option<LocationInfo>,
}

/// One machine type, in the units Cycle's answers use; counts as the cloud gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: String,
    pub description: String,
    /// `h100`, `c1a`: Cycle's `provider.class`.
    pub class: String,
    pub cpu_cores: i64,
    pub cpu_type: String,
    pub memory_gb: i64,
    pub memory_type: String,
    /// Its own disk; 0 when it has none.
    pub disk_gb: i64,
    pub disk_type: String,
    pub gpus: i64,
    pub gpu_type: String,
    pub gpu_vram_gb: Option<i64>,
    pub hourly_usd: Option<f64>,
    /// Where the cloud lists it at all, in stock or not.
    pub offered_in: BTreeSet<String>,
    /// Whether Cycle may run virtual machines inside it (its `hypervisor` feature); why not.
    pub hypervisor: Result<(), String>,
}

impl Model {
    /// x86-64 with enough memory.
    pub fn runs_cycleos(&self) -> bool {
        can_run_cycleos(&self.cpu_type, self.memory_gb)
    }
}

/// CycleOS's rule, for backends that judge a type before it is a [`Model`].
pub fn can_run_cycleos(cpu_type: &str, memory_gb: i64) -> bool {
    !cpu_type.to_ascii_lowercase().contains("arm") && memory_gb >= CYCLEOS_MIN_MEMORY_GB
}

/// What a cloud offers one caller at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalogue {
    pub locations: Vec<CatalogueLocation>,
    pub models: Vec<Model>,
}

impl Catalogue {
    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }
}

/// One catalogue and the answers built from it, each on first use.
struct Entry {
    catalogue: Arc<Catalogue>,
    models: OnceLock<Rendered<ServerModelsResponse>>,
    locations: Mutex<HashMap<String, Rendered<LocationsResponse>>>,
}

/// Cycle's view of the catalogue: the operator's filter and the rendered answers.
pub struct Offer {
    backend: &'static BackendInfo,
    allowed: BTreeSet<String>,
    rendered: moka::sync::Cache<[u8; 32], Arc<Entry>>,
}

impl Offer {
    pub fn new(backend: &'static BackendInfo, allowed_locations: &[String]) -> Self {
        Self {
            backend,
            allowed: allowed_locations.iter().cloned().collect(),
            rendered: moka::sync::Cache::builder().max_capacity(10_000).build(),
        }
    }

    fn entry(&self, key: [u8; 32], catalogue: Arc<Catalogue>) -> Arc<Entry> {
        match self.rendered.get(&key) {
            Some(e) if Arc::ptr_eq(&e.catalogue, &catalogue) => e,
            _ => {
                let e = Arc::new(Entry {
                    catalogue,
                    models: OnceLock::new(),
                    locations: Mutex::new(HashMap::new()),
                });
                self.rendered.insert(key, Arc::clone(&e));
                e
            }
        }
    }

    /// Cycle's server-models answer, built once per catalogue.
    pub fn models_answer(
        &self,
        key: [u8; 32],
        catalogue: Arc<Catalogue>,
    ) -> Rendered<ServerModelsResponse> {
        let entry = self.entry(key, catalogue);
        entry
            .models
            .get_or_init(|| {
                Rendered::new(&ServerModelsResponse {
                    models: self.models(&entry.catalogue),
                    extra: Map::new(),
                })
            })
            .clone()
    }

    /// Cycle's locations answer for a region filter, built once per catalogue.
    pub fn locations_answer(
        &self,
        key: [u8; 32],
        catalogue: Arc<Catalogue>,
        region: Option<&str>,
    ) -> Rendered<LocationsResponse> {
        let entry = self.entry(key, catalogue);
        let region = region.map(str::trim).unwrap_or_default();
        let mut kept = entry.locations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(answer) = kept.get(region) {
            return answer.clone();
        }
        let answer = Rendered::new(&LocationsResponse {
            locations: self.locations(&entry.catalogue, Some(region)),
            extra: Map::new(),
        });
        if kept.len() < RENDERED_REGIONS {
            kept.insert(region.to_string(), answer.clone());
        }
        answer
    }

    /// The cloud's locations the operator allows.
    pub fn offered<'a>(&'a self, c: &'a Catalogue) -> impl Iterator<Item = &'a str> + 'a {
        c.locations
            .iter()
            .map(|l| l.id.as_str())
            .filter(move |l| self.allowed.is_empty() || self.allowed.contains(*l))
    }

    pub fn is_offered(&self, c: &Catalogue, location: &str) -> bool {
        self.offered(c).any(|l| l == location)
    }

    pub fn locations(&self, c: &Catalogue, region: Option<&str>) -> Vec<Location> {
        let region = region.map(str::trim).filter(|r| !r.is_empty());
        c.locations
            .iter()
            .filter(|l| self.allowed.is_empty() || self.allowed.contains(&l.id))
            .filter(|l| region.is_none_or(|r| l.id == r || l.id.starts_with(&format!("{r}-"))))
            .map(|l| self.location(c, l))
            .collect()
    }

    fn location(&self, c: &Catalogue, l: &CatalogueLocation) -> Location {
        let info = l.info.as_ref();
        let compatible = c
            .models
            .iter()
            .any(|m| m.runs_cycleos() && m.offered_in.contains(&l.id));
        let mut annotations = BTreeMap::new();
        annotations.insert("provider".to_string(), self.backend.name.to_string());
        Location {
            name: info.map_or_else(|| l.id.clone(), |i| i.name.clone()),
            abbreviation: info.map_or_else(|| abbreviate(&l.id), |i| i.abbreviation.clone()),
            geographic: info.map(|i| Geographic {
                latitude: i.latitude,
                longitude: i.longitude,
                city: i.city.clone(),
                state: i.state.clone(),
                country: i.country.clone(),
                region: i.region.clone(),
            }),
            provider: LocationProvider {
                location_id: l.id.clone(),
                code: l.id.clone(),
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

    pub fn models(&self, c: &Catalogue) -> Vec<ServerModel> {
        c.models.iter().map(|m| self.model(c, m)).collect()
    }

    fn model(&self, c: &Catalogue, m: &Model) -> ServerModel {
        let locations: Vec<String> = self
            .offered(c)
            .filter(|l| m.offered_in.contains(*l))
            .map(str::to_string)
            .collect();
        let gpu = (m.gpus > 0).then(|| Gpu {
            count: unsigned(m.gpus),
            cores: None,
            vram_gb: m.gpu_vram_gb.map(unsigned),
            gpu_type: m.gpu_type.clone(),
            shared: Some(false),
            extra: None,
        });
        let storage = if m.disk_gb > 0 {
            vec![Storage {
                count: 1,
                size_gb: unsigned(m.disk_gb),
                storage_type: m.disk_type.clone(),
                extra: None,
            }]
        } else {
            Vec::new()
        };
        let pricing = m.hourly_usd.map(pricing);
        let mut description = m.description.clone();
        if pricing.is_none() {
            description.push_str(" (no price configured)");
        }
        ServerModel {
            name: m.id.clone(),
            description,
            drivers: None,
            specs: Specs {
                cpu: Cpu {
                    count: unsigned(m.cpu_cores),
                    cores: None,
                    threads: None,
                    cpu_type: m.cpu_type.clone(),
                    shared: Some(false),
                    extra: None,
                },
                gpu,
                memory: Memory {
                    size_gb: unsigned(m.memory_gb),
                    memory_type: m.memory_type.clone(),
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
                    hypervisor: Some(m.hypervisor.is_ok()),
                    extra: None,
                },
            },
            provider: ServerModelProvider {
                category: if m.gpus > 0 { "gpu" } else { "cpu" }.into(),
                class: Some(m.class.clone()),
                model_id: m.id.clone(),
                locations,
                availability_zones: BTreeMap::new(),
            },
            pricing: pricing.unwrap_or(Pricing {
                hourly: 0,
                monthly: 0,
            }),
            compatible: m.runs_cycleos(),
        }
    }
}

/// Dollars per hour as Cycle's mils per hour and per month.
pub fn pricing(hourly_usd: f64) -> Pricing {
    let hourly_mils = hourly_usd * 1000.0;
    Pricing {
        hourly: hourly_mils.round() as i64,
        monthly: (hourly_mils * HOURS_PER_MONTH).round() as i64,
    }
}

/// A count or size as Cycle's Go types hold it (`uint`): a negative one, which no real type has,
/// is shown as 0 rather than failing Cycle's decoding of every model.
fn unsigned<T: TryFrom<i64> + Default>(value: i64) -> T {
    T::try_from(value).unwrap_or_default()
}

/// `us-east1-a` → `USEAST1A`, for locations no table knows.
fn abbreviate(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: BackendInfo = BackendInfo {
        name: "test",
        display: "Test",
        model_noun: "test type",
        account_attribute: "test_account",
        credentials: ["a key", "a secret", "an account"],
    };

    fn model(id: &str, cpu: &str, mem: i64, gpus: i64, offered: &[&str]) -> Model {
        Model {
            id: id.into(),
            description: id.into(),
            class: id.split(['-', '.']).next().unwrap().into(),
            cpu_cores: 8,
            cpu_type: cpu.into(),
            memory_gb: mem,
            memory_type: "RAM".into(),
            disk_gb: 0,
            disk_type: "SSD".into(),
            gpus,
            gpu_type: if gpus > 0 {
                "H100".into()
            } else {
                String::new()
            },
            gpu_vram_gb: (gpus > 0).then_some(80),
            hourly_usd: None,
            offered_in: offered.iter().map(|s| s.to_string()).collect(),
            hypervisor: Err("off".into()),
        }
    }

    fn location(id: &str) -> CatalogueLocation {
        CatalogueLocation {
            id: id.into(),
            info: None,
        }
    }

    #[test]
    fn prices_are_in_mils() {
        assert_eq!(pricing(31.2).hourly, 31_200);
        assert_eq!(pricing(31.2).monthly, 31_200 * 730);
    }

    #[test]
    fn counts_and_sizes_are_unsigned_as_cycles_go_types_hold_them() {
        let offer = Offer::new(&INFO, &[]);
        let mut odd = model("c1a.4x", "amd", 16, 0, &[]);
        odd.cpu_cores = -2;
        odd.disk_gb = -1;
        let c = Catalogue {
            locations: vec![],
            models: vec![odd],
        };
        let m = serde_json::to_value(&offer.models(&c)[0]).unwrap();
        assert_eq!(m["specs"]["cpu"]["count"], 0);
        assert_eq!(m["specs"]["storage"], serde_json::json!([]));
        assert!(m["provider"]["availability_zones"].is_object());
        assert!(m["description"]
            .as_str()
            .unwrap()
            .ends_with("(no price configured)"));
    }

    #[test]
    fn arm_and_small_types_cannot_run_cycleos() {
        assert!(can_run_cycleos("amd", 16));
        assert!(!can_run_cycleos("arm", 480));
        assert!(!can_run_cycleos("amd", 2));
    }

    #[test]
    fn only_allowed_locations_are_offered_and_regions_filter_by_prefix() {
        let offer = Offer::new(&INFO, &["us-east1-a".to_string()]);
        let c = Catalogue {
            locations: vec![location("us-east1-a"), location("eu-iceland1-a")],
            models: vec![model(
                "h100-80gb-sxm-ib.8x",
                "intel",
                1440,
                8,
                &["us-east1-a", "eu-iceland1-a"],
            )],
        };
        let m = &offer.models(&c)[0];
        assert_eq!(
            (m.provider.category.as_str(), m.provider.class.as_deref()),
            ("gpu", Some("h100"))
        );
        assert_eq!(m.provider.locations, vec!["us-east1-a"]);
        let locations = offer.locations(&c, None);
        assert_eq!(locations.len(), 1);
        assert_eq!(locations[0].abbreviation, "USEAST1A");
        assert_eq!(locations[0].annotations["provider"], "test");
        assert!(offer.locations(&c, Some("eu-iceland1")).is_empty());
        assert_eq!(offer.locations(&c, Some("us-east1")).len(), 1);
    }

    #[test]
    fn answers_are_rendered_again_only_for_a_new_catalogue() {
        let offer = Offer::new(&INFO, &[]);
        let first = Arc::new(Catalogue {
            locations: vec![location("a-1")],
            models: vec![model("c1a.4x", "amd", 16, 0, &["a-1"])],
        });
        let a = offer.models_answer([1; 32], Arc::clone(&first));
        let b = offer.models_answer([1; 32], Arc::clone(&first));
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        let mut changed = (*first).clone();
        changed.models[0].id = "c1a.8x".into();
        let c = offer.models_answer([1; 32], Arc::new(changed));
        assert!(c.as_str().contains("c1a.8x"));
    }
}
