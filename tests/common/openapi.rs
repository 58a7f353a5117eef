//! Checks JSON values against Cycle's IAL OpenAPI 3.1 (multi-file YAML): relative `$ref`s,
//! `type` (one or a list, `null` included), `required`, `properties`, `additionalProperties`,
//! `items`, `enum`, `oneOf` (any branch). Enough to catch a missing or mistyped field.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::swagger::missing_required;

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

    /// A single-file document (the bridge's own): `path` is the file.
    pub fn single(path: &Path) -> SingleSpec {
        SingleSpec {
            file: path.to_path_buf(),
            doc: load(path),
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
        let (rel, fragment) = r.split_once('#').unwrap_or((r, ""));
        let target = if rel.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(rel)
        };
        let mut loaded = load(&target);
        for part in fragment.split('/').filter(|p| !p.is_empty()) {
            loaded = loaded[part].clone();
        }
        assert!(
            !loaded.is_null(),
            "unresolved $ref {r} in {}",
            file.display()
        );
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
        out.extend(missing_required(schema, obj, at));
        let props = schema.get("properties").and_then(Value::as_object);
        for (key, v) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => check(sub, file, v, &format!("{at}/{key}"), out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{at}/{key}: not in the schema")),
                    Some(extra) if extra.is_object() => {
                        check(extra, file, v, &format!("{at}/{key}"), out)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check(items, file, v, &format!("{at}/{i}"), out);
        }
    }
}

/// An OpenAPI document in one file, with internal `$ref`s.
pub struct SingleSpec {
    pub file: PathBuf,
    pub doc: Value,
}

impl SingleSpec {
    /// Every documented `(method, path)`.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut ops = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    ops.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        ops
    }

    /// The schema of the answer with `status` of `method path`.
    pub fn response(&self, path: &str, method: &str, status: &str) -> Value {
        let mut response =
            self.doc["paths"][path][method.to_lowercase()]["responses"][status].clone();
        while let Some(r) = response
            .get("$ref")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let mut target = self.doc.clone();
            for part in r.trim_start_matches("#/").split('/') {
                target = target[part].clone();
            }
            response = target;
        }
        let s = response["content"]["application/json"]["schema"].clone();
        assert!(!s.is_null(), "no {status} schema for {method} {path}");
        s
    }

    pub fn violations(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        check(schema, &self.file, value, "", &mut out);
        out
    }
}
