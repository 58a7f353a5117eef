//! A hub's own Cycloid organisation, from Cycle's `auth.config`: base64 of a JSON or TOML
//! document `cycloid = {organization, api_key, url?}`. Every message names the field at fault
//! and never shows a value: the document holds a key.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use secrecy::SecretString;
use serde_json::{Map, Value};
use url::Url;

use super::settings::api_url;
use cycloid_sdk::Organization;

/// What a hub's config says about Cycloid.
#[derive(Debug)]
pub struct HubCycloid {
    pub organization: Organization,
    pub api_key: SecretString,
    pub url: Option<Url>,
}

/// Why a config is not one the bridge reads, naming the field (`cycloid.organization`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadConfig {
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for BadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/auth/config: {} {}", self.field, self.reason)
    }
}

fn bad(field: &str, reason: impl Into<String>) -> BadConfig {
    BadConfig {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The hub's Cycloid settings, `None` when its config has none (or there is no config).
pub fn parse(config: Option<&str>) -> Result<Option<HubCycloid>, BadConfig> {
    let Some(encoded) = config.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded.trim_end_matches('=')))
        .map_err(|_| {
            bad(
                "(the whole value)",
                "is not standard base64, as Cycle sends it",
            )
        })?;
    let doc = String::from_utf8(bytes)
        .map_err(|_| bad("(the whole value)", "does not decode to UTF-8 text"))?;
    let root: Value = if doc.trim_start().starts_with('{') {
        // serde_json's messages quote no values, only positions.
        serde_json::from_str(&doc).map_err(|e| {
            bad(
                "(the document)",
                format!(
                    "is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?
    } else {
        let table: toml::Table = toml::from_str(&doc).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" (at byte {})", s.start))
                .unwrap_or_default();
            bad(
                "(the document)",
                format!("is neither a JSON object nor valid TOML{at}"),
            )
        })?;
        serde_json::to_value(table).map_err(|_| bad("(the document)", "cannot be read"))?
    };
    let Value::Object(root) = root else {
        return Err(bad(
            "(the document)",
            "must be a JSON object or a TOML table",
        ));
    };
    if let Some(unknown) = root.keys().find(|k| k.as_str() != "cycloid") {
        return Err(bad(
            &field_name(unknown),
            "is not a setting the bridge reads (it reads only `cycloid`)",
        ));
    }
    let Some(cycloid) = root.get("cycloid") else {
        return Ok(None);
    };
    let Value::Object(cycloid) = cycloid else {
        return Err(bad(
            "cycloid",
            "must be a table {organization, api_key, url?}",
        ));
    };
    if let Some(unknown) = cycloid
        .keys()
        .find(|k| !["organization", "api_key", "url"].contains(&k.as_str()))
    {
        return Err(bad(
            &format!("cycloid.{}", field_name(unknown)),
            "is not a setting the bridge reads (organization, api_key, url)",
        ));
    }
    let organization = text(cycloid, "organization")?;
    let organization = Organization::parse(organization).map_err(|e| {
        bad(
            "cycloid.organization",
            format!("is not an organisation canonical: {e}"),
        )
    })?;
    let api_key = SecretString::from(text(cycloid, "api_key")?.to_string());
    let url = match cycloid.get("url") {
        None => None,
        Some(_) => Some(api_url("cycloid.url", text(cycloid, "url")?).map_err(|e| {
            bad(
                "cycloid.url",
                e.trim_start_matches("cycloid.url ").to_string(),
            )
        })?),
    };
    Ok(Some(HubCycloid {
        organization,
        api_key,
        url,
    }))
}

fn text<'a>(table: &'a Map<String, Value>, field: &str) -> Result<&'a str, BadConfig> {
    let name = format!("cycloid.{field}");
    match table.get(field) {
        None => Err(bad(&name, "is missing")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        Some(Value::String(_)) => Err(bad(&name, "is empty")),
        Some(_) => Err(bad(&name, "must be a string")),
    }
}

/// A key as a message may show it: a key chosen by a typo is not a secret, but keep it short
/// and printable.
fn field_name(key: &str) -> String {
    key.chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn json_and_toml_documents_are_read() {
        let json = b64(r#"{"cycloid": {"organization": "acme", "api_key": "k-123"}}"#);
        let c = parse(Some(&json)).unwrap().unwrap();
        assert_eq!(c.organization.as_str(), "acme");
        assert_eq!(c.api_key.expose_secret(), "k-123");
        let toml = b64("[cycloid]\norganization = \"acme\"\napi_key = \"k-123\"\nurl = \"https://cy.example.com\"\n");
        let c = parse(Some(&toml)).unwrap().unwrap();
        assert_eq!(c.url.unwrap().host_str(), Some("cy.example.com"));
        assert!(parse(None).unwrap().is_none());
        assert!(parse(Some(&b64("{}"))).unwrap().is_none());
    }

    #[test]
    fn each_mistake_names_its_field_and_no_value() {
        let key = "very-secret-cycloid-key";
        let cases = [
            ("not base64 at all!".to_string(), "(the whole value)"),
            (b64("cycloid = ["), "(the document)"),
            (
                b64(&format!(r#"{{"cycloid": {{"api_key": "{key}"}}}}"#)),
                "cycloid.organization",
            ),
            (
                b64(&format!(
                    r#"{{"cycloid": {{"organization": "A B", "api_key": "{key}"}}}}"#
                )),
                "cycloid.organization",
            ),
            (
                b64(r#"{"cycloid": {"organization": "acme"}}"#),
                "cycloid.api_key",
            ),
            (
                b64(r#"{"cycloid": {"organization": "acme", "api_key": 5}}"#),
                "cycloid.api_key",
            ),
            (
                b64(&format!(
                    r#"{{"cycloid": {{"organization": "acme", "api_key": "{key}", "url": "ftp://x"}}}}"#
                )),
                "cycloid.url",
            ),
            (
                b64(&format!(
                    r#"{{"cycloid": {{"organization": "acme", "api_key": "{key}", "org": "x"}}}}"#
                )),
                "cycloid.org",
            ),
            (
                b64(&format!(r#"{{"cycliod": {{"api_key": "{key}"}}}}"#)),
                "cycliod",
            ),
            (b64(r#"{"cycloid": "acme"}"#), "cycloid"),
        ];
        for (config, field) in cases {
            let e = parse(Some(&config)).unwrap_err();
            assert_eq!(e.field, field, "{config}: {e}");
            assert!(!e.to_string().contains(key), "{e}");
        }
    }
}
