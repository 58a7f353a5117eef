//! The catalogue, for CloudSigma: the locations where the caller's credentials work (an account
//! lives in one location, CLOUDSIGMA.md §1.3), and the operator's sizes that each location's
//! `capabilities` allow, priced from its `pricing`. Kept per caller for `catalog_ttl_secs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::error::Doing;
use super::settings::Size;
use super::{CloudSigma, Sigma};
use crate::core::backend::Caller;
use crate::core::catalogue::{Catalogue, CatalogueLocation, LocationInfo, Model};
use crate::core::error::CoreError;
use cloudsigma_sdk::types::{Capabilities, Pricing};
use cloudsigma_sdk::{Client, ErrorKind};

const GIB: f64 = (1u64 << 30) as f64;

pub struct Catalog {
    cache: moka::future::Cache<[u8; 32], Arc<Catalogue>>,
}

impl Catalog {
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub async fn catalogue(
        &self,
        backend: &CloudSigma,
        caller: &Caller<Sigma>,
    ) -> Result<Arc<Catalogue>, CoreError> {
        self.cache
            .try_get_with(caller.cache_key, build(backend, caller))
            .await
            .map_err(CoreError::Shared)
    }
}

/// One location as the caller's credentials see it; `None` where they are refused.
struct Seen {
    id: String,
    capabilities: Capabilities,
    pricing: Pricing,
}

async fn see(client: &Client, id: &str) -> Result<Option<Seen>, CoreError> {
    match client.profile().await {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::Unauthorized => return Ok(None),
        Err(e) => return Err(e).doing(|| format!("reading the profile in {id}")),
    }
    let capabilities = client
        .capabilities()
        .await
        .doing(|| format!("reading the capabilities of {id}"))?;
    let pricing = client
        .pricing()
        .await
        .doing(|| format!("reading the prices of {id}"))?;
    Ok(Some(Seen {
        id: id.to_string(),
        capabilities,
        pricing,
    }))
}

async fn build(backend: &CloudSigma, caller: &Caller<Sigma>) -> Result<Arc<Catalogue>, CoreError> {
    let mut seen = Vec::new();
    for id in caller.account.locations() {
        if let Some(s) = see(caller.account.client(&id)?, &id).await? {
            seen.push(s);
        }
    }
    let locations = seen
        .iter()
        .map(|s| CatalogueLocation {
            id: s.id.clone(),
            info: geography(&s.id),
        })
        .collect();
    let models = backend
        .settings
        .sizes
        .iter()
        .map(|size| model(size, &seen, &backend.settings))
        .collect();
    Ok(Arc::new(Catalogue { locations, models }))
}

/// Whether a location's capabilities allow the size: its total and per-core CPU, its cores and
/// its memory within the host limits, and its disk within the storage type's.
fn fits(size: &Size, caps: &Capabilities, storage_type: &str) -> bool {
    let cpu = u64::from(size.cores) * u64::from(size.mhz_per_core);
    let mem = u64::from(size.memory_gib) << 30;
    let disk = u64::from(size.disk_gib) << 30;
    let host = caps.hosts.values().any(|h| {
        (h.cpu.min..=h.cpu.max).contains(&cpu)
            && (h.cpu_per_smp.min..=h.cpu_per_smp.max).contains(&u64::from(size.mhz_per_core))
            && (h.smp.min..=h.smp.max).contains(&u64::from(size.cores))
            && (h.mem.min..=h.mem.max).contains(&mem)
    });
    let drive = caps
        .drives
        .get(storage_type)
        .is_none_or(|d| (d.size.min..=d.size.max).contains(&disk));
    host && drive
}

fn model(size: &Size, seen: &[Seen], settings: &super::settings::CloudSigmaSettings) -> Model {
    let offered_in: BTreeSet<String> = seen
        .iter()
        .filter(|s| fits(size, &s.capabilities, &settings.storage_type))
        .map(|s| s.id.clone())
        .collect();
    let hourly = seen
        .iter()
        .find(|s| offered_in.contains(&s.id))
        .and_then(|s| hourly(size, &s.pricing, &settings.currency));
    Model {
        id: size.id.clone(),
        description: format!(
            "{} cores of {} MHz, {} GiB memory, {} GiB SSD",
            size.cores, size.mhz_per_core, size.memory_gib, size.disk_gib
        ),
        class: "cloudsigma".into(),
        cpu_cores: i64::from(size.cores),
        cpu_type: "amd64".into(),
        memory_gb: i64::from(size.memory_gib),
        memory_type: "RAM".into(),
        disk_gb: i64::from(size.disk_gib),
        disk_type: "SSD".into(),
        gpus: 0,
        gpu_type: String::new(),
        gpu_vram_gb: None,
        hourly_usd: hourly,
        offered_in,
        hypervisor: Err("nested virtualisation on CloudSigma is not established".into()),
    }
}

/// The price of one hour of the size, at the current burst level of each resource (what a server
/// without subscriptions pays, §8.2), in `currency`: `Σ amount × price / multiplier × 3600` with
/// CPU in MHz and memory and disk in bytes.
pub fn hourly(size: &Size, pricing: &Pricing, currency: &str) -> Option<f64> {
    let per_second = |resource: &str| -> Option<f64> {
        let level = pricing
            .current
            .get(resource)
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        let row = pricing
            .objects
            .iter()
            .filter(|p| p.resource == resource && p.currency.eq_ignore_ascii_case(currency))
            .find(|p| p.level == level)
            .or_else(|| {
                pricing.objects.iter().find(|p| {
                    p.resource == resource
                        && p.currency.eq_ignore_ascii_case(currency)
                        && p.level == 0
                })
            })?;
        row.per_unit_per_second()
    };
    let cpu = f64::from(size.cores) * f64::from(size.mhz_per_core) * per_second("cpu")?;
    let mem = f64::from(size.memory_gib) * GIB * per_second("mem")?;
    let disk = f64::from(size.disk_gib) * GIB * per_second("dssd")?;
    let hourly = (cpu + mem + disk) * 3600.0;
    Some(hourly)
}

/// Where each of CloudSigma's locations is, for Cycle's map (CloudSigma's `/locations/` gives no
/// coordinates, §1.3). City coordinates, rounded.
fn geography(id: &str) -> Option<LocationInfo> {
    let (name, city, state, country, region, lat, long) = match id {
        "zrh" => ("Zurich", "Zurich", "ZH", "CH", "europe", 47.38, 8.54),
        "gva" => ("Geneva", "Geneva", "GE", "CH", "europe", 46.20, 6.14),
        "fra" => ("Frankfurt", "Frankfurt", "HE", "DE", "europe", 50.11, 8.68),
        "dus" => (
            "Dusseldorf",
            "Dusseldorf",
            "NW",
            "DE",
            "europe",
            51.23,
            6.77,
        ),
        "lon" => ("London", "London", "England", "GB", "europe", 51.51, -0.13),
        "cwl" => ("Cardiff", "Newport", "Wales", "GB", "europe", 51.58, -3.00),
        "dub" => ("Dublin", "Dublin", "Leinster", "IE", "europe", 53.35, -6.26),
        "per" => ("Perth", "Perth", "WA", "AU", "asia-pacific", -31.95, 115.86),
        "tyo" => (
            "Tokyo",
            "Tokyo",
            "Tokyo",
            "JP",
            "asia-pacific",
            35.68,
            139.69,
        ),
        "crk" => (
            "Clark",
            "Clark",
            "Pampanga",
            "PH",
            "asia-pacific",
            15.19,
            120.55,
        ),
        "mnl" => (
            "Manila",
            "Manila",
            "NCR",
            "PH",
            "asia-pacific",
            14.60,
            120.98,
        ),
        "mnl2" => (
            "Manila 2",
            "Manila",
            "NCR",
            "PH",
            "asia-pacific",
            14.60,
            120.98,
        ),
        "ruh" => (
            "Riyadh",
            "Riyadh",
            "Riyadh",
            "SA",
            "middle-east",
            24.71,
            46.68,
        ),
        "adb" => ("Izmir", "Izmir", "Izmir", "TR", "europe", 38.42, 27.14),
        "hnl" => (
            "Honolulu",
            "Honolulu",
            "HI",
            "US",
            "north-america",
            21.31,
            -157.86,
        ),
        "wdc" => (
            "Washington DC",
            "Washington",
            "DC",
            "US",
            "north-america",
            38.91,
            -77.04,
        ),
        "lla" => ("Boden", "Boden", "Norrbotten", "SE", "europe", 65.83, 21.69),
        "mty" => (
            "Monterrey",
            "Monterrey",
            "NL",
            "MX",
            "north-america",
            25.69,
            -100.32,
        ),
        _ => return None,
    };
    Some(LocationInfo {
        name: format!("CloudSigma {name}"),
        abbreviation: id.to_ascii_uppercase(),
        city: city.into(),
        state: state.into(),
        country: country.into(),
        region: region.into(),
        latitude: lat,
        longitude: long,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudsigma_sdk::types::Price;

    fn row(resource: &str, level: i64, price: &str, multiplier: u64) -> Price {
        serde_json::from_value(serde_json::json!({
            "resource": resource, "currency": "USD", "level": level, "price": price,
            "unit": "", "multiplier": multiplier
        }))
        .unwrap()
    }

    /// libcloud's fixture as CLOUDSIGMA.md §8.2 works it: 2000 MHz, 4 GiB and 50 GiB of dssd.
    fn pricing(current: serde_json::Value) -> Pricing {
        let mut p: Pricing =
            serde_json::from_value(serde_json::json!({"current": current, "objects": []})).unwrap();
        p.objects = vec![
            row("cpu", 0, "0.0164", 3_600_000),
            row("cpu", 5, "0.009265", 3_600_000),
            row("mem", 0, "0.0184", 3_865_470_566_400),
            row("mem", 7, "0.01392", 3_865_470_566_400),
            row("dssd", 0, "0.18", 2_783_138_807_808_000),
            row("dssd", 1, "0.28", 2_783_138_807_808_000),
        ];
        p
    }

    fn size() -> Size {
        Size {
            id: "x".into(),
            cores: 1,
            mhz_per_core: 2000,
            memory_gib: 4,
            disk_gib: 50,
        }
    }

    #[test]
    fn an_hour_costs_what_cloudsigmas_multipliers_say_at_the_burst_level_in_force() {
        let burst = hourly(
            &size(),
            &pricing(serde_json::json!({"cpu": 5, "mem": 7, "dssd": 1})),
            "USD",
        )
        .unwrap();
        assert_eq!((burst * 1000.0).round(), 94.0, "{burst}");
        let subscription = hourly(&size(), &pricing(serde_json::json!({})), "USD").unwrap();
        assert_eq!((subscription * 1000.0).round(), 119.0, "{subscription}");
        assert_eq!(
            hourly(&size(), &pricing(serde_json::json!({})), "CHF"),
            None
        );
    }

    #[test]
    fn a_size_is_offered_only_where_the_capabilities_allow_it() {
        let caps: Capabilities = serde_json::from_value(serde_json::json!({
            "hosts": {"amd": {"cpu": {"min": 250, "max": 96000}, "cpu_per_smp": {"min": 1000, "max": 2893},
                              "mem": {"min": 268435456u64, "max": 137438953472u64}, "smp": {"min": 1, "max": 32}}},
            "drives": {"dssd": {"size": {"min": 536870912u64, "max": 15492389427364u64}}}
        }))
        .unwrap();
        assert!(fits(&size(), &caps, "dssd"));
        let too_fast = Size {
            mhz_per_core: 3000,
            ..size()
        };
        assert!(!fits(&too_fast, &caps, "dssd"));
        let too_big = Size {
            memory_gib: 256,
            ..size()
        };
        assert!(!fits(&too_big, &caps, "dssd"));
        let many = Size {
            cores: 64,
            ..size()
        };
        assert!(!fits(&many, &caps, "dssd"));
    }
}
