//! What Cycloid's API reference requires of a request, read on its own (not from cycloid-sdk).

use serde_json::{Map, Value};

/// `organization_canonical`: 3 to 100 characters, `^[a-z0-9]+[a-z0-9\-_]+[a-z0-9]+$`.
pub fn organization(canonical: &str) -> Result<(), String> {
    let b = canonical.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=100).contains(&b.len())
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter().all(|c| alnum(c) || *c == b'-' || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "organization_canonical {canonical:?} does not match ^[a-z0-9]+[a-z0-9\\-_]+[a-z0-9]+$ (3 to 100 characters)"
        ))
    }
}

fn string<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match body.get(field) {
        None | Some(Value::Null) => Err(format!("{field} is required")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

fn one_of(body: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<(), String> {
    let v = string(body, field)?;
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(format!("{field} should be one of {allowed:?}, not {v:?}"))
    }
}

fn tag(t: &Value, i: usize) -> Result<(), String> {
    let t = t.as_object().ok_or(format!("tags.{i} must be an object"))?;
    let key = string(t, "key").map_err(|e| format!("tags.{i}.{e}"))?;
    let value = string(t, "value").map_err(|e| format!("tags.{i}.{e}"))?;
    if key.is_empty() || key.chars().count() > 254 {
        return Err(format!("tags.{i}.key must have 1 to 254 characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-+=.:/@ ".contains(c);
    if value.chars().count() > 254 || !value.chars().all(allowed) {
        return Err(format!(
            "tags.{i}.value {value:?} does not match ^(?:[\\w\\-+=.:/@ ]*)$ (at most 254 characters)"
        ));
    }
    Ok(())
}

/// `NewEvent`.
pub fn event(body: &Value) -> Result<(), String> {
    let body = body.as_object().ok_or("the body must be a JSON object")?;
    one_of(body, "type", &["Cycloid", "AWS", "Monitoring", "Custom"])?;
    for field in ["title", "message"] {
        if string(body, field)?.is_empty() {
            return Err(format!("{field} must not be empty"));
        }
    }
    one_of(body, "severity", &["info", "warn", "err", "crit"])?;
    match body.get("tags") {
        Some(Value::Array(tags)) => {
            for (i, t) in tags.iter().enumerate() {
                tag(t, i)?;
            }
        }
        None | Some(Value::Null) => return Err("tags is required".into()),
        Some(_) => return Err("tags must be an array of {key, value}".into()),
    }
    if body.contains_key("icon") && string(body, "icon")?.chars().count() < 3 {
        return Err("icon must have at least 3 characters".into());
    }
    if body.contains_key("color") {
        let c = string(body, "color")?;
        if !(3..=20).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err("color must be a CSS 2 colour keyword ([a-z]+, 3 to 20 characters)".into());
        }
    }
    Ok(())
}

/// `NewInventoryResource`.
pub fn resource(body: &Value) -> Result<(), String> {
    let body = body.as_object().ok_or("the body must be a JSON object")?;
    for field in ["provider", "type", "name", "label"] {
        string(body, field)?;
    }
    match body.get("custom_attributes") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err("custom_attributes must be an object".into()),
    }
    for field in ["cpu", "memory", "storage"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some() => {}
            Some(_) => return Err(format!("{field} must be an integer >= 0")),
        }
    }
    Ok(())
}

/// A filter `attribute[condition]=value` as it arrives, brackets literal.
pub struct Filter {
    pub attribute: String,
    pub value: String,
}

pub fn filters(query: &str) -> Result<Vec<Filter>, String> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some((attribute, rest)) = key.split_once('[') else {
            return Err(format!("{key:?} is not a filter attribute[condition]"));
        };
        let Some(condition) = rest.strip_suffix(']') else {
            return Err(format!("{key:?} is not a filter attribute[condition]"));
        };
        if attribute.is_empty()
            || !attribute
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(format!("{attribute:?} is not a filter attribute"));
        }
        // Cycloid has more conditions; the bridge needs only equality.
        if condition != "eq" {
            return Err(format!("the simulator knows only [eq], not [{condition}]"));
        }
        out.push(Filter {
            attribute: attribute.into(),
            value: decode(value)?,
        });
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(format!("{s:?} has a bad percent escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8"))
}

/// Whether `resource` matches `filter`: a column of the resource, or a JSON path into its
/// `custom_attributes`.
pub fn matches(resource: &Value, filter: &Filter) -> bool {
    let column = match filter.attribute.as_str() {
        "resources_provider" => Some("provider"),
        "resources_type" => Some("type"),
        "resources_name" => Some("name"),
        "resources_label" => Some("label"),
        _ => None,
    };
    let found = match column {
        Some(c) => resource.get(c),
        None => filter
            .attribute
            .split('.')
            .try_fold(&resource["custom_attributes"], |v, k| v.get(k)),
    };
    match found {
        Some(Value::String(s)) => *s == filter.value,
        Some(Value::Number(n)) => filter.value.parse::<f64>().ok() == n.as_f64(),
        Some(Value::Bool(b)) => filter.value == if *b { "true" } else { "false" },
        _ => false,
    }
}
