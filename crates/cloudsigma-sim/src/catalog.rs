//! Static data: locations, capabilities and prices, as the simulator's own JSON modelled on
//! CloudSigma's dumps (D:dumps/response_locations, response_capabilities, response_pricing_list).

use serde_json::{json, Value};

/// Smallest drive (capabilities `drives.dssd.size.min`, D:dumps/response_capabilities).
pub const DRIVE_MIN: u64 = 536_870_912;
/// Largest dssd drive (same dump).
pub const DRIVE_MAX: u64 = 15_492_389_427_364;
pub const MEM_MIN: u64 = 268_435_456;
pub const MEM_MAX: u64 = 558_345_748_480;
pub const CPU_MIN: u64 = 250;
pub const CPU_MAX: u64 = 96_000;
pub const SMP_MAX: u64 = 32;

/// `cpu_per_smp` range of a `cpu_type` (capabilities `hosts`): AMD 1000..2893, Intel 1000..3000.
pub fn cpu_per_smp(cpu_type: &str) -> Option<(u64, u64)> {
    match cpu_type {
        "amd" => Some((1000, 2893)),
        "intel" => Some((1000, 3000)),
        _ => None,
    }
}

/// Display name and country of the locations of CLOUDSIGMA.md §1.2; others get their id.
pub fn location_info(id: &str) -> (String, &'static str) {
    let (name, cc) = match id {
        "zrh" => ("Zurich, Switzerland", "CH"),
        "gva" => ("Geneva, Switzerland", "CH"),
        "fra" => ("Frankfurt, Germany", "DE"),
        "dus" => ("Dusseldorf, Germany", "DE"),
        "lon" => ("London, United Kingdom", "GB"),
        "cwl" => ("Cardiff, United Kingdom", "GB"),
        "dub" => ("Dublin, Ireland", "IE"),
        "per" => ("Perth, Australia", "AU"),
        "tyo" => ("Tokyo, Japan", "JP"),
        "crk" => ("Clark, Philippines", "PH"),
        "mnl" => ("Manila, Philippines", "PH"),
        "mnl2" => ("Manila-2, Philippines", "PH"),
        "ruh" => ("Riyadh, Saudi Arabia", "SA"),
        "adb" => ("Izmir, Turkey", "TR"),
        "hnl" => ("Honolulu, USA", "US"),
        "wdc" => ("Washington DC, USA", "US"),
        "lla" => ("Boden, Sweden", "SE"),
        "mty" => ("Monterrey, Mexico", "MX"),
        _ => return (id.to_ascii_uppercase(), ""),
    };
    (name.to_string(), cc)
}

/// One `/locations/` object, its URLs built on the simulator's own origin.
pub fn location_object(id: &str, origin: &str) -> Value {
    let (display, cc) = location_info(id);
    let api = format!("{origin}/{id}/api/2.0/");
    let ui = format!("{origin}/{id}/ui/");
    let ws = format!(
        "{}/{id}/websocket",
        origin
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    );
    json!({
        "alternative_frontend_url": ui,
        "api_endpoint": api,
        "country_code": cc,
        "default_frontend_signup_url": ui,
        "default_frontend_url": ui,
        "display_name": display,
        "documentation_url": "https://docs.cloudsigma.com",
        "id": id.to_ascii_uppercase(),
        "upload_url": format!("{origin}/{id}/direct/api/2.0/"),
        "websocket_url": ws,
    })
}

fn range(min: u64, max: u64) -> Value {
    json!({"min": min, "max": max})
}

/// `GET /capabilities/`: the example values of D:dumps/response_capabilities, for every location
/// and account alike. The simulator enforces exactly these limits.
pub fn capabilities() -> Value {
    let host = |per_smp_max: u64| {
        json!({
            "cpu": range(CPU_MIN, CPU_MAX),
            "cpu_per_smp": range(1000, per_smp_max),
            "mem": range(MEM_MIN, MEM_MAX),
            "smp": range(1, SMP_MAX),
        })
    };
    let currencies: Vec<Value> = ["CHF", "USD", "EUR"]
        .iter()
        .map(|c| json!({"id": c, "name": c.to_ascii_lowercase()}))
        .collect();
    let mut servers = host(3000);
    servers["default_start_method"] = json!("regular");
    servers["start_methods"] = json!(["eager", "lazy", "regular"]);
    json!({
        "backfilling": false,
        "currencies": currencies,
        "default_inactive_period": 45,
        "default_storage_type": "dssd",
        "drives": {
            "dssd": {
                "iops": {"base": 30000, "max": 60000, "min": 1},
                "max_size": DRIVE_MAX,
                "min_size": DRIVE_MIN,
                "size": range(DRIVE_MIN, DRIVE_MAX),
            }
        },
        "hosts": {"amd": host(2893), "intel": host(3000)},
        "hypervisors": {"kvm": ["intel", "amd"]},
        "servers": servers,
        "snapshots": {"current": 0, "max": 700, "max_per_drive": 90},
    })
}

/// Currencies priced: an account's currency must be one of them.
pub const CURRENCIES: [&str; 3] = ["USD", "EUR", "CHF"];

/// The burst level in force per resource (`current`/`next` of `/pricing/`), as in the worked
/// example of CLOUDSIGMA.md §8.2 (cpu 5, mem 7, dssd 1); ip at 1 is a choice.
pub const CURRENT_LEVELS: [(&str, u32); 4] = [("cpu", 5), ("mem", 7), ("dssd", 1), ("ip", 1)];

/// `(resource, unit, multiplier)` per CLOUDSIGMA.md §8.1.
pub const UNITS: [(&str, &str, u64); 4] = [
    ("cpu", "GHz/hour", 3_600_000),
    ("mem", "GB/hour", 3_865_470_566_400),
    ("dssd", "GB/month", 2_783_138_807_808_000),
    ("ip", "IP", 2_592_000),
];

/// USD price of one unit at a level: CLOUDSIGMA.md §8.2 (L's fixture: level 0 cpu 0.0164,
/// mem 0.0184, dssd 0.18; burst cpu 0.009265 at 5, mem 0.01392 at 7, dssd 0.28 at 1). The ip
/// prices 4.50 (level 0) and 5.00 (level 1) span §8.2's "4.50-5.00 USD per IP per 30 days"; which
/// is which is a choice.
fn usd_price(resource: &str, level: u32) -> Option<f64> {
    Some(match (resource, level) {
        ("cpu", 0) => 0.0164,
        ("cpu", 5) => 0.009265,
        ("mem", 0) => 0.0184,
        ("mem", 7) => 0.01392,
        ("dssd", 0) => 0.18,
        ("dssd", 1) => 0.28,
        ("ip", 0) => 4.5,
        ("ip", 1) => 5.0,
        _ => return None,
    })
}

/// EUR and CHF are USD times the ratios of D:dumps/response_pricing_list's dssd level-1 rows
/// (EUR 0.21, CHF 0.266 for USD 0.28): an extrapolation to the other resources.
fn currency_factor(currency: &str) -> Option<f64> {
    match currency {
        "USD" => Some(1.0),
        "EUR" => Some(0.75),
        "CHF" => Some(0.95),
        _ => None,
    }
}

pub fn price(currency: &str, resource: &str, level: u32) -> Option<f64> {
    Some(usd_price(resource, level)? * currency_factor(currency)?)
}

pub fn current_level(resource: &str) -> u32 {
    CURRENT_LEVELS
        .iter()
        .find(|(r, _)| *r == resource)
        .map(|(_, l)| *l)
        .unwrap_or(0)
}

pub fn multiplier(resource: &str) -> Option<u64> {
    UNITS.iter().find(|(r, _, _)| *r == resource).map(|u| u.2)
}

/// A decimal string with 20 places, as the dumps render prices.
pub fn decimal(v: f64) -> String {
    format!("{v:.20}")
}

/// Every pricing row: USD, EUR, CHF × cpu, mem, dssd, ip × level 0 and the current level.
pub fn pricing_rows() -> Vec<Value> {
    let mut rows = Vec::new();
    let mut id = 100;
    for (resource, unit, mult) in UNITS {
        for level in [0, current_level(resource)] {
            for currency in CURRENCIES {
                id += 1;
                if let Some(p) = price(currency, resource, level) {
                    rows.push(json!({
                        "currency": currency,
                        "id": id.to_string(),
                        "level": level,
                        "multiplier": mult,
                        "price": decimal(p),
                        "resource": resource,
                        "unit": unit,
                    }));
                }
            }
        }
    }
    rows
}

pub fn levels() -> Value {
    let map: serde_json::Map<String, Value> = CURRENT_LEVELS
        .iter()
        .map(|(r, l)| (r.to_string(), json!(l)))
        .collect();
    Value::Object(map)
}

/// Burst cost per hour of a server with these resources (CLOUDSIGMA.md §8.2), in `currency`.
pub fn burst_per_hour(currency: &str, cpu_mhz: u64, mem: u64, disk_bytes: u64) -> f64 {
    let p = |r: &str| price(currency, r, current_level(r)).unwrap_or(0.0);
    let gib = (1u64 << 30) as f64;
    cpu_mhz as f64 / 1000.0 * p("cpu")
        + mem as f64 / gib * p("mem")
        + disk_bytes as f64 / gib * p("dssd") / 720.0
}
