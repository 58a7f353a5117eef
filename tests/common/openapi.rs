//! Checks JSON values against Cycle's IAL OpenAPI 3.1 (multi-file YAML): relative `$ref`s,
//! `type` (one or a list, `null` included), `required`, `properties`, `additionalProperties`,
//! `items`, `enum`, `oneOf` (any branch). Enough to catch a missing or mistyped field.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub struct CycleSpec {
    dir: PathBuf,
}

fn yaml_to_json(y: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => format!("{other:?}"),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_to_json(
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
}

impl CycleSpec {
    pub fn load(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The schema of the 200 answer of `method path`, and the file it lives in.
    pub fn response(&self, api_path: &str, method: &str) -> (Value, PathBuf) {
        let api = load(&self.dir.join("api.yml"));
        let file = api["paths"][api_path]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{api_path} not in Cycle's OpenAPI"));
        let path = self.dir.join(file);
        let op = &load(&path)[method];
        let schema = op["responses"]["200"]["content"]["application/json"]["schema"].clone();
        assert!(!schema.is_null(), "no 200 schema for {method} {api_path}");
        (schema, path)
    }

    pub fn violations(&self, schema: &Value, file: &Path, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        check(schema, file, value, "", &mut out);
        out
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

fn check(schema: &Value, file: &Path, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let (rel, _fragment) = r.split_once('#').unwrap_or((r, ""));
        let target = file.parent().unwrap().join(rel);
        let loaded = load(&target);
        return check(&loaded, &target, value, at, out);
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = branches.iter().any(|b| {
            let mut sub = Vec::new();
            check(b, file, value, at, &mut sub);
            sub.is_empty()
        });
        if !ok {
            out.push(format!("{at}: matches no oneOf branch: {value}"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            out.push(format!("{at}: {value} not in enum"));
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        out.push(format!("{at}: expected {types:?}, got {value}"));
        return;
    }
    if let Some(obj) = value.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = req.as_str().unwrap();
            if !obj.contains_key(key) {
                out.push(format!("{at}/{key}: required but missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (key, v) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => check(sub, file, v, &format!("{at}/{key}"), out),
                None => {
                    if let Some(extra) =
                        schema.get("additionalProperties").filter(|e| e.is_object())
                    {
                        check(extra, file, v, &format!("{at}/{key}"), out);
                    }
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check(items, file, v, &format!("{at}/{i}"), out);
        }
    }
}
