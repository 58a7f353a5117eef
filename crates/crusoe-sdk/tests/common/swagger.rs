//! A small checker of JSON values against Crusoe's Swagger 2.0 document: `$ref`, `type`,
//! `required`, `properties`, `items`, `enum`. Enough to catch a missing required field or a
//! wrong type in a fixture or a simulator answer. The simulator's tests include this file too, and
//! the bridge's use [`missing_required`] in their reading of Cycle's OpenAPI 3.

use serde_json::Value;

pub struct Swagger {
    doc: Value,
}

impl Swagger {
    /// Crusoe's document in `shared` (beside the workspace), or `None`, said on stderr so that the
    /// test calling it passes as skipped, when `shared` is absent.
    pub fn from_shared(shared: Option<std::path::PathBuf>) -> Option<Self> {
        let Some(shared) = shared else {
            eprintln!("skipped: ../shared is absent, so Crusoe's OpenAPI cannot be read");
            return None;
        };
        Some(Self::load(
            &shared.join("reference/crusoe/crusoe-v1-swagger.json"),
        ))
    }

    pub fn load(path: &std::path::Path) -> Self {
        let text = std::fs::read_to_string(path).expect("read swagger");
        Self {
            doc: serde_json::from_str(&text).expect("parse swagger"),
        }
    }

    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        while let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let mut target = &self.doc;
            for part in r.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            node = target;
        }
        node
    }

    /// The schema of the 200 answer of the operation with this `operationId`.
    pub fn response_schema(&self, operation_id: &str) -> &Value {
        for (_, item) in self.doc["paths"].as_object().unwrap() {
            for (_, op) in item.as_object().unwrap() {
                if op.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    let response = self.resolve(&op["responses"]["200"]);
                    return self.resolve(&response["schema"]);
                }
            }
        }
        panic!("operationId {operation_id} not in the swagger document");
    }

    /// Every place where `value` breaks `schema`, as JSON-pointer-ish paths.
    pub fn violations(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.check(schema, value, "", &mut out);
        out
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                out.push(format!("{at}: {value} not in enum"));
            }
        }
        let declared = schema.get("type").and_then(Value::as_str);
        let is_object = declared == Some("object") || schema.get("properties").is_some();
        match declared {
            Some("string") if !value.is_string() => out.push(format!("{at}: expected string")),
            Some("integer") if !(value.is_i64() || value.is_u64()) => {
                out.push(format!("{at}: expected integer"))
            }
            Some("number") if !value.is_number() => out.push(format!("{at}: expected number")),
            Some("boolean") if !value.is_boolean() => out.push(format!("{at}: expected boolean")),
            Some("array") => match value.as_array() {
                None => out.push(format!("{at}: expected array")),
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.check(item_schema, item, &format!("{at}/{i}"), out);
                        }
                    }
                }
            },
            _ => {}
        }
        if is_object {
            let Some(obj) = value.as_object() else {
                out.push(format!("{at}: expected object"));
                return;
            };
            out.extend(missing_required(schema, obj, at));
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    if let Some(v) = obj.get(key) {
                        // Swagger 2.0 has no `nullable`; `x-nullable` marks the exceptions.
                        if v.is_null()
                            && sub.get("x-nullable").and_then(Value::as_bool) == Some(true)
                        {
                            continue;
                        }
                        self.check(sub, v, &format!("{at}/{key}"), out);
                    }
                }
            }
        }
    }
}

/// `{at}/{key}: required but missing` for each key `schema` requires and `obj` lacks: the same rule
/// in Swagger 2.0 and in OpenAPI 3.
pub fn missing_required(
    schema: &Value,
    obj: &serde_json::Map<String, Value>,
    at: &str,
) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|key| key.as_str().expect("a required key is a string"))
        .filter(|key| !obj.contains_key(*key))
        .map(|key| format!("{at}/{key}: required but missing"))
        .collect()
}

/// Asserts that each of `expected` is part of one of the violations `found`: for the tests of a
/// checker itself.
pub fn assert_all_found(found: &[String], expected: &[&str]) {
    for e in expected {
        assert!(found.iter().any(|v| v.contains(e)), "{e}: {found:?}");
    }
}
