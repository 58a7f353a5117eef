//! Crusoe's catalogue: its locations, VM types and stock, with geography and prices from the
//! shipped table (operator-extendable), in the core's terms. Crusoe's answers are cached per
//! credential for a short time, and concurrent misses for one credential share one fetch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use moka::future::Cache;
use serde::Deserialize;

use super::error::Doing;
use super::settings::{CrusoeSettings, Price};
use super::Tenant;
use crate::core::catalogue::{can_run_cycleos, Catalogue, CatalogueLocation, LocationInfo, Model};
use crate::core::error::CoreError;
use crusoe_sdk::types::{Capacity, VmType};

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
struct Snapshot {
    locations: Vec<String>,
    types: Vec<VmType>,
    capacities: Vec<Capacity>,
}

pub struct Catalog {
    locations: BTreeMap<String, LocationInfo>,
    prices: BTreeMap<String, Price>,
    vram: BTreeMap<String, i64>,
    nested_virtualization: bool,
    cache: Cache<[u8; 32], Arc<Catalogue>>,
}

/// A VM type can run CycleOS when it is x86-64 with enough memory.
pub fn is_compatible(t: &VmType) -> bool {
    can_run_cycleos(&t.cpu_type, t.memory_gb)
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

    pub fn new(settings: &CrusoeSettings) -> Self {
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
            nested_virtualization: settings.nested_virtualization,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(settings.catalog_ttl_secs))
                .build(),
        }
    }

    /// Crusoe's catalogue as this tenant sees it, in the core's terms, cached.
    pub async fn catalogue(&self, tenant: &Tenant) -> Result<Arc<Catalogue>, CoreError> {
        if let Some(entry) = self.cache.get(&tenant.cache_key).await {
            return Ok(entry);
        }
        // Boxed: the fetch's future (three Crusoe calls) is large, and inline it made every
        // cached answer's future large too, copied at each await up the stack.
        Box::pin(self.fetch(tenant)).await
    }

    async fn fetch(&self, tenant: &Tenant) -> Result<Arc<Catalogue>, CoreError> {
        self.cache
            .try_get_with(tenant.cache_key, async {
                let c = &tenant.account.client();
                let (locations, types, capacities) = tokio::try_join!(
                    async {
                        c.list_locations()
                            .await
                            .doing(|| "listing Crusoe's locations".into())
                    },
                    async {
                        tenant.account.vm_types().await.doing(|| {
                            format!("listing VM types of project {}", tenant.account.id())
                        })
                    },
                    async {
                        c.list_capacities(&[], &[])
                            .await
                            .doing(|| "listing Crusoe's stock".into())
                    },
                )?;
                let snapshot = Snapshot {
                    locations,
                    types,
                    capacities,
                };
                Ok(Arc::new(self.neutral(&snapshot)))
            })
            .await
            .map_err(CoreError::Shared)
    }

    fn neutral(&self, snap: &Snapshot) -> Catalogue {
        Catalogue {
            locations: snap
                .locations
                .iter()
                .map(|id| CatalogueLocation {
                    id: id.clone(),
                    info: self.locations.get(id).cloned(),
                })
                .collect(),
            models: snap.types.iter().map(|t| self.model(snap, t)).collect(),
        }
    }

    fn model(&self, snap: &Snapshot, t: &VmType) -> Model {
        Model {
            id: t.product_name.clone(),
            description: t.description.clone(),
            class: class_of(&t.product_name),
            cpu_cores: t.cpu_cores,
            cpu_type: t.cpu_type.clone(),
            memory_gb: t.memory_gb,
            memory_type: t.memory_type.clone(),
            disk_gb: t.disk_gb,
            disk_type: t.disk_type.clone(),
            gpus: t.num_gpu,
            gpu_type: t.gpu_type.clone(),
            gpu_vram_gb: self.vram.get(&t.gpu_type.to_ascii_lowercase()).copied(),
            hourly_usd: self.price(&t.product_name),
            // Listed in a location at all, in stock or not.
            offered_in: snap
                .capacities
                .iter()
                .filter(|c| c.product_name.as_deref() == Some(t.product_name.as_str()))
                .map(|c| c.location.clone())
                .collect::<BTreeSet<_>>(),
            hypervisor: match self.no_hypervisor(t) {
                None => Ok(()),
                Some(why) => Err(why),
            },
        }
    }

    /// The price of a VM type in dollars per hour, when the table has one.
    pub fn price(&self, vm_type: &str) -> Option<f64> {
        self.prices.get(vm_type).map(|p| p.hourly_usd)
    }
}

/// `h100-80gb-sxm-ib.8x` → `h100`; `c1a.16x` → `c1a`.
fn class_of(product: &str) -> String {
    product
        .split(['-', '.'])
        .next()
        .unwrap_or(product)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VM type as Crusoe lists it.
    fn vm_type(name: &str, cpu: &str, mem: i64, gpus: i64, gpu: &str) -> VmType {
        serde_json::from_value(serde_json::json!({
            "product_name": name, "description": name, "cpu_cores": 8, "cpu_type": cpu,
            "memory_gb": mem, "memory_type": "RAM", "disk_gb": 0, "disk_type": "SSD",
            "num_gpu": gpus, "gpu_type": gpu,
        }))
        .expect("a VM type as Crusoe's OpenAPI describes it")
    }

    #[test]
    fn the_shipped_table_parses_and_has_prices() {
        let c = Catalog::new(&CrusoeSettings::default());
        assert_eq!(c.price("h100-80gb-sxm-ib.8x"), Some(31.2));
        assert!(c.price("unknown.1x").is_none());
    }

    #[test]
    fn the_hypervisor_feature_is_offered_only_when_turned_on_and_not_on_sxm_types() {
        let off = Catalog::new(&CrusoeSettings::default());
        let on = Catalog::new(&CrusoeSettings {
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
    fn models_carry_class_vram_price_and_every_location_crusoe_lists_them_in() {
        let c = Catalog::new(&CrusoeSettings::default());
        let stock = |location: &str, quantity| Capacity {
            location: location.into(),
            quantity,
            product_name: Some("h100-80gb-sxm-ib.8x".into()),
            num_slices: None,
            quota_type: None,
        };
        let snap = Snapshot {
            locations: vec!["us-east1-a".into(), "eu-iceland1-a".into()],
            types: vec![vm_type(
                "h100-80gb-sxm-ib.8x",
                "intel",
                1440,
                8,
                "H100-80GB-SXM",
            )],
            capacities: vec![stock("us-east1-a", 0), stock("eu-iceland1-a", 5)],
        };
        let catalogue = c.neutral(&snap);
        let m = &catalogue.models[0];
        assert_eq!(m.class, "h100");
        assert_eq!(m.gpu_vram_gb, Some(80));
        assert_eq!(m.hourly_usd, Some(31.2));
        assert_eq!(m.offered_in.len(), 2, "out of stock is still offered");
        assert_eq!(
            catalogue.locations[0].info.as_ref().unwrap().abbreviation,
            "USE1A"
        );
    }
}
