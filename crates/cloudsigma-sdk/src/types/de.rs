//! Tolerant readers for CloudSigma's answers: `null` where a list or map is expected, numbers
//! written as strings or as floats (`"min_size": 1073741824.0` in D:dumps/response_capabilities),
//! ids that are numbers in one answer and strings in another (`subscription.id`,
//! D:dumps/response_ip_list_detail vs response_subscription_list).

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;

/// `null` (or a missing field, with `#[serde(default)]`) reads as the type's default.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn value_to_string(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A string, a number or a bool as text; `null` as empty.
pub(crate) fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(value_to_string(Value::deserialize(d)?).unwrap_or_default())
}

/// Like [`string_lenient`], `null` as `None`.
pub(crate) fn opt_string_lenient<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(value_to_string(Value::deserialize(d)?))
}

fn value_to_u64(v: &Value) -> Result<Option<u64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if let Some(f) = n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0) {
                Ok(Some(f as u64))
            } else {
                Err(format!("expected a non-negative whole number, got {n}"))
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(u) = s.parse::<u64>() {
                return Ok(Some(u));
            }
            match s.parse::<f64>() {
                Ok(f) if f >= 0.0 && f.fract() == 0.0 && f.is_finite() => Ok(Some(f as u64)),
                _ => Err(format!("expected a whole number, got {s:?}")),
            }
        }
        other => Err(format!("expected a number, got {other}")),
    }
}

/// A whole number written as an integer, a float with no fraction, or a string; `null` as 0.
pub(crate) fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(value_to_u64(&v).map_err(D::Error::custom)?.unwrap_or(0))
}

pub(crate) fn opt_u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Value::deserialize(d)?;
    match value_to_u64(&v).map_err(D::Error::custom)? {
        None => Ok(None),
        Some(u) => u32::try_from(u).map(Some).map_err(D::Error::custom),
    }
}

pub(crate) fn opt_u8_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let v = Value::deserialize(d)?;
    match value_to_u64(&v).map_err(D::Error::custom)? {
        None => Ok(None),
        Some(u) => u8::try_from(u).map(Some).map_err(D::Error::custom),
    }
}

pub(crate) fn i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| D::Error::custom(format!("expected an integer, got {n}"))),
        Value::String(s) => s.trim().parse().map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

/// A `meta` map: string values as they are, any other value as its JSON text, `null` as empty
/// (D:meta.rst documents string values only).
pub(crate) fn meta_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, value_to_string(v).unwrap_or_default()))
        .collect())
}

/// Writes a secret as plain text: only for request bodies.
pub(crate) fn expose_secret<S: Serializer>(
    secret: &secrecy::SecretString,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}
