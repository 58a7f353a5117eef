//! Properties over arbitrary input: every IAL wire type survives a trip through JSON unchanged.
//! (The signed query's properties are the SDK's: `crates/crusoe-sdk/tests/signing_properties.rs`.)

use crusoe_ial::ial::types::*;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

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
