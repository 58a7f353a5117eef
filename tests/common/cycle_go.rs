//! What Cycle's platform does with an answer: it decodes it into its Go types
//! (cycleplatform/integrations, `types/*.go`, 2025-04-09) and validates their `CIDR` and `IP`
//! fields with `net.ParseCIDR` and `net.ParseIP`. Where those types and Cycle's OpenAPI differ,
//! the Go types win (the reference in `../shared/reference/cycle-ial/IAL.md` says so). Each
//! function lists what Cycle's decoding or validation would refuse in one answer payload.

use std::net::IpAddr;

use serde_json::Value;

/// Go's `net.ParseIP`: a bare address, no prefix, no zone.
fn is_ip(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok())
}

/// Go's `net.ParseCIDR`: an address and a prefix length that fits it.
fn is_cidr(v: &Value) -> bool {
    let Some((ip, len)) = v.as_str().and_then(|s| s.split_once('/')) else {
        return false;
    };
    match (ip.parse::<IpAddr>(), len.parse::<u8>()) {
        (Ok(IpAddr::V4(_)), Ok(n)) => n <= 32 && !len.starts_with('+'),
        (Ok(IpAddr::V6(_)), Ok(n)) => n <= 128 && !len.starts_with('+'),
        _ => false,
    }
}

/// A Go `uint`: a JSON integer, not negative, not fractional.
fn is_uint(v: &Value) -> bool {
    v.as_u64().is_some()
}

fn is_nullable(v: &Value, ok: fn(&Value) -> bool) -> bool {
    v.is_null() || ok(v)
}

/// A Go `map[string]string`: null (decoded as nil) or an object of strings.
fn is_string_map(v: &Value) -> bool {
    v.is_null()
        || v.as_object()
            .is_some_and(|m| m.values().all(Value::is_string))
}

fn check(found: &mut Vec<String>, ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        found.push(what());
    }
}

/// `AllocateIPResponse {ip_id string, ip_assignment_id string, cidr CIDR, gateway *IP,
/// network *CIDR, nat_private_ip *IP}`.
pub fn allocate_ip_response(v: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for key in ["ip_id", "ip_assignment_id"] {
        check(&mut found, v[key].is_string(), || {
            format!("{key} is not a string: {}", v[key])
        });
    }
    check(&mut found, is_cidr(&v["cidr"]), || {
        format!("cidr {} fails net.ParseCIDR", v["cidr"])
    });
    check(&mut found, is_nullable(&v["gateway"], is_ip), || {
        format!("gateway {} is neither null nor an IP", v["gateway"])
    });
    check(&mut found, is_nullable(&v["network"], is_cidr), || {
        format!("network {} is neither null nor a CIDR", v["network"])
    });
    check(&mut found, is_nullable(&v["nat_private_ip"], is_ip), || {
        format!(
            "nat_private_ip {} is neither null nor an IP",
            v["nat_private_ip"]
        )
    });
    found
}

/// `ServerModel`: counts and sizes are `uint`, prices `int`, `compatible` `*bool`, the specs'
/// `extra` maps `map[string]string`, `provider.availability_zones` `map[string][]string`.
pub fn server_models_response(v: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (i, m) in v["models"].as_array().into_iter().flatten().enumerate() {
        let at = |k: &str| format!("models[{i}].{k}");
        let specs = &m["specs"];
        check(&mut found, is_uint(&specs["cpu"]["count"]), || {
            at("specs.cpu.count")
        });
        for k in ["cores", "threads"] {
            check(&mut found, is_nullable(&specs["cpu"][k], is_uint), || {
                at(&format!("specs.cpu.{k}"))
            });
        }
        if !specs["gpu"].is_null() {
            check(&mut found, is_uint(&specs["gpu"]["count"]), || {
                at("specs.gpu.count")
            });
            for k in ["cores", "vram_gb"] {
                check(&mut found, is_nullable(&specs["gpu"][k], is_uint), || {
                    at(&format!("specs.gpu.{k}"))
                });
            }
            check(&mut found, is_string_map(&specs["gpu"]["extra"]), || {
                at("specs.gpu.extra")
            });
        }
        check(&mut found, is_uint(&specs["memory"]["size_gb"]), || {
            at("specs.memory.size_gb")
        });
        for (j, s) in specs["storage"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for k in ["count", "size_gb"] {
                check(&mut found, is_uint(&s[k]), || {
                    at(&format!("specs.storage[{j}].{k}"))
                });
            }
        }
        for part in ["cpu", "memory"] {
            check(&mut found, is_string_map(&specs[part]["extra"]), || {
                at(&format!("specs.{part}.extra"))
            });
        }
        for k in ["hourly", "monthly"] {
            check(&mut found, m["pricing"][k].as_i64().is_some(), || {
                at(&format!("pricing.{k}"))
            });
        }
        check(
            &mut found,
            is_nullable(&m["compatible"], Value::is_boolean),
            || at("compatible"),
        );
        let zones = &m["provider"]["availability_zones"];
        check(
            &mut found,
            zones.is_null()
                || zones.as_object().is_some_and(|z| {
                    z.values()
                        .all(|l| l.as_array().is_some_and(|l| l.iter().all(Value::is_string)))
                }),
            || at("provider.availability_zones"),
        );
    }
    found
}

/// `Location`: `compatible` `*bool`, `geographic` floats, `annotations` `map[string]string`.
pub fn locations_response(v: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (i, l) in v["locations"].as_array().into_iter().flatten().enumerate() {
        let at = |k: &str| format!("locations[{i}].{k}");
        check(&mut found, l["name"].is_string(), || at("name"));
        check(&mut found, l["abbreviation"].is_string(), || {
            at("abbreviation")
        });
        check(
            &mut found,
            is_nullable(&l["compatible"], Value::is_boolean),
            || at("compatible"),
        );
        check(&mut found, is_string_map(&l["annotations"]), || {
            at("annotations")
        });
        if !l["geographic"].is_null() {
            for k in ["latitude", "longitude"] {
                check(&mut found, l["geographic"][k].is_number(), || {
                    at(&format!("geographic.{k}"))
                });
            }
        }
    }
    found
}

/// `ProvisionServerStatusResponse`: `auth {uuid *string, initial_ips []string, mac_addr *string}`.
pub fn provision_status_response(v: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let auth = &v["auth"];
    check(&mut found, v["provisioned"].is_boolean(), || {
        "provisioned".into()
    });
    check(
        &mut found,
        is_nullable(&auth["uuid"], Value::is_string),
        || "auth.uuid".into(),
    );
    check(
        &mut found,
        is_nullable(&auth["mac_addr"], Value::is_string),
        || "auth.mac_addr".into(),
    );
    check(
        &mut found,
        auth["initial_ips"].is_null()
            || auth["initial_ips"]
                .as_array()
                .is_some_and(|ips| ips.iter().all(is_ip)),
        || format!("auth.initial_ips {} are not addresses", auth["initial_ips"]),
    );
    found
}

/// The payload of one answer, by route.
pub fn violations(path: &str, v: &Value) -> Vec<String> {
    match path {
        "/v1/infrastructure/ip/allocate" => allocate_ip_response(v),
        "/v1/infrastructure/provider/server-models" => server_models_response(v),
        "/v1/infrastructure/provider/locations" => locations_response(v),
        "/v1/infrastructure/server/provision-status" => provision_status_response(v),
        _ => Vec::new(),
    }
}
