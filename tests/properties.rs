//! Properties over arbitrary input: the signed query matches a plain reading of Go's
//! `url.QueryEscape` (what Crusoe's server recomputes), canonicalising what was sent gives back
//! what was signed, and every IAL wire type survives a trip through JSON unchanged.

use crusoe_ial::ial::types::*;
use crusoe_sdk::signing::{canonical_query, canonicalize_raw_query, query_escape};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Go's `shouldEscape(c, encodeQueryComponent)` read straight off net/url: unreserved
/// characters (RFC 3986 §2.3) stay, space becomes '+', every other byte is `%XX` in upper case.
fn go_query_escape(input: &[u8]) -> String {
    const UNRESERVED: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    input
        .iter()
        .map(|&b| {
            if UNRESERVED.as_bytes().contains(&b) {
                (b as char).to_string()
            } else if b == b' ' {
                "+".to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Go's `url.Values.Encode`: keys sorted, values in the order given under each key.
fn go_values_encode(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    let mut keys: Vec<&Vec<u8>> = pairs.iter().map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let mut parts = Vec::new();
    for key in keys {
        for (k, v) in pairs {
            if k == key {
                parts.push(format!("{}={}", go_query_escape(k), go_query_escape(v)));
            }
        }
    }
    parts.join("&")
}

proptest! {
    #[test]
    fn escaping_matches_go_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(query_escape(&bytes), go_query_escape(&bytes));
    }

    #[test]
    fn escaping_matches_go_on_any_text(text in any::<String>()) {
        prop_assert_eq!(query_escape(text.as_bytes()), go_query_escape(text.as_bytes()));
    }

    #[test]
    fn canonical_query_matches_go_and_survives_being_sent(
        pairs in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..12), proptest::collection::vec(any::<u8>(), 0..12)),
            0..8,
        )
    ) {
        let canonical = canonical_query(pairs.iter().map(|(k, v)| (k, v)));
        prop_assert_eq!(&canonical, &go_values_encode(&pairs));
        // What the server reads back from the query as sent canonicalises to what was signed.
        prop_assert_eq!(canonicalize_raw_query(&canonical), canonical);
    }
}

/// Every string leaf of `template` replaced in turn by the next arbitrary string; `{}` objects
/// under keys in `MAPS` become arbitrary JSON objects.
fn fill(
    template: &Value,
    strings: &mut std::slice::Iter<'_, String>,
    map: &Map<String, Value>,
) -> Value {
    match template {
        Value::String(s) if s == "*" => Value::String(strings.next().cloned().unwrap_or_default()),
        Value::String(s) if s == "{}" => Value::Object(map.clone()),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, strings, map)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), fill(v, strings, map)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    template: &Value,
    strings: &[String],
    map: &Map<String, Value>,
) -> Result<(), TestCaseError> {
    let value = fill(template, &mut strings.iter(), map);
    let decoded: T = serde_json::from_value(value.clone())
        .map_err(|e| TestCaseError::fail(format!("{e}: {value}")))?;
    let text = serde_json::to_string(&decoded).unwrap();
    let again: T = serde_json::from_str(&text).unwrap();
    prop_assert_eq!(again, decoded);
    Ok(())
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn json_map() -> impl Strategy<Value = Map<String, Value>> {
    let value = json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    proptest::collection::btree_map(any::<String>(), value, 0..4)
        .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_ial_wire_type_round_trips(
        strings in proptest::collection::vec(any::<String>(), 24),
        map in json_map(),
    ) {
        let meta = json!({"server_id": "*", "model_class": "*", "model_category": "*", "model_id": "*", "location_id": "*"});
        let ip_meta = json!({"pool_id": "*", "server_id": "*", "server_model_class": "*", "server_model_category": "*", "location_id": "*"});
        let features = json!({"raid": "*", "hypervisor": true, "extra": "{}"});
        round_trips::<Auth>(&json!({"client_id": "*", "subscription_id": "*", "namespace": "*", "region": "*", "api_key": "*", "secret": "*", "config": "*", "cycle": {"hub_name": "*", "hub_id": "*"}}), &strings, &map)?;
        round_trips::<ConfigureLocation>(&json!({"location_id": "*", "version": "*", "configuration_current": "{}", "cycle": {"location_id": "*"}}), &strings, &map)?;
        round_trips::<ProvisionServer>(&json!({"hostname": "*", "model_id": "*", "location_id": "*", "zone_id": "*", "model_features": features, "provision_options": "{}", "location_configuration": "{}", "cycle": meta}), &strings, &map)?;
        round_trips::<ProvisionStatus>(&json!({"server_id": "*", "location_id": "*", "zone_id": "*", "model_features": features, "provision_options": "{}", "location_configuration": "{}", "extra": "{}", "cycle": meta}), &strings, &map)?;
        round_trips::<ServerRef>(&json!({"server_id": "*", "hostname": "*", "model_id": "*", "location_id": "*", "zone_id": "*", "extra": "{}", "cycle": meta}), &strings, &map)?;
        round_trips::<AllocateIp>(&json!({"kind": "ipv4", "server_id": "*", "location_id": "*", "zone_id": "*", "location_configuration": "{}", "cycle": ip_meta}), &strings, &map)?;
        round_trips::<ReleaseIp>(&json!({"kind": "ipv6", "ip_id": "*", "ip_assignment_id": "*", "cidr": "*", "nat_private_ip": "*", "zone_id": "*", "server_id": "*", "location_id": "*", "location_configuration": "{}", "cycle": ip_meta}), &strings, &map)?;
        round_trips::<VerifyResponse>(&json!({"valid": false}), &strings, &map)?;
        round_trips::<LocationsResponse>(&json!({"locations": [{"name": "*", "abbreviation": "*", "geographic": {"latitude": -33.5, "longitude": 151.25, "city": "*", "state": "*", "country": "*", "region": "*"}, "provider": {"location_id": "*", "code": "*", "availability_zones": ["*"]}, "features": {"available": ["*"], "supported": []}, "annotations": {"provider": "*"}, "compatible": true}], "extra": "{}"}), &strings, &map)?;
        round_trips::<ServerModelsResponse>(&json!({"models": [{"name": "*", "description": "*", "drivers": ["*"], "specs": {"cpu": {"count": 8, "cores": 4, "threads": null, "type": "*", "shared": false, "extra": {"k": "*"}}, "gpu": {"count": 8, "cores": null, "vram_gb": 80, "type": "*", "shared": false, "extra": null}, "memory": {"size_gb": 64, "type": "*", "extra": null}, "storage": [{"count": 1, "size_gb": 100, "type": "*", "extra": null}], "network": [{"scope": "*", "type": "*", "throughput": "*"}], "features": features}, "provider": {"category": "*", "class": "*", "model_id": "*", "locations": ["*"], "availability_zones": {"*": ["*"]}}, "pricing": {"hourly": 1, "monthly": 730}, "compatible": true}], "extra": "{}"}), &strings, &map)?;
        round_trips::<ConfigureLocationResponse>(&json!({"configured": true, "version": "*", "configuration_latest": "{}"}), &strings, &map)?;
        round_trips::<ProvisionResponse>(&json!({"server_id": "*", "location_modified": false, "extra": "{}"}), &strings, &map)?;
        round_trips::<ProvisionStatusResponse>(&json!({"server_id": "*", "provisioned": true, "auth": {"uuid": "*", "initial_ips": ["*"], "mac_addr": "*"}, "extra": "{}"}), &strings, &map)?;
        round_trips::<AllocateIpResponse>(&json!({"ip_id": "*", "ip_assignment_id": "*", "cidr": "*", "gateway": "*", "netmask": "*", "network": "*", "nat_private_ip": "*"}), &strings, &map)?;
    }
}
