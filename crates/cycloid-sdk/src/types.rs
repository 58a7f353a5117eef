//! Cycloid's wire types for events and inventory resources, as its API reference gives them
//! (`NewEvent`, `Tag`, `NewInventoryResource`, `InventoryResource`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An organisation's canonical: 3 to 100 characters, `^[a-z0-9]+[a-z0-9\-_]+[a-z0-9]+$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Organization(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidOrganization(String);

impl Organization {
    pub fn parse(canonical: &str) -> Result<Self, InvalidOrganization> {
        let len = canonical.chars().count();
        if !(3..=100).contains(&len) {
            return Err(InvalidOrganization(format!(
                "an organisation canonical has 3 to 100 characters, not {len}"
            )));
        }
        let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let bytes = canonical.as_bytes();
        let middle_ok = bytes[1..bytes.len() - 1]
            .iter()
            .all(|&b| edge(b) || b == b'-' || b == b'_');
        if !edge(bytes[0]) || !edge(bytes[bytes.len() - 1]) || !middle_ok {
            return Err(InvalidOrganization(
                "an organisation canonical is lower-case letters, digits, `-` and `_`, starting and ending with a letter or digit".into(),
            ));
        }
        Ok(Self(canonical.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    Cycloid,
    #[serde(rename = "AWS")]
    Aws,
    Monitoring,
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Err,
    Crit,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Err => "err",
            Severity::Crit => "crit",
        }
    }
}

/// A tag: a key of 1 to 254 characters, a value of at most 254 from `[\w\-+=.:/@ ]` (the
/// pattern of Cycloid's `Tag` model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    key: String,
    value: String,
}

const TAG_MAX: usize = 254;

fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-+=.:/@ ".contains(c)
}

impl Tag {
    /// The tag, or why Cycloid would refuse it.
    pub fn new(key: &str, value: &str) -> Result<Self, String> {
        if key.is_empty() || key.chars().count() > TAG_MAX {
            return Err(format!("a tag key has 1 to {TAG_MAX} characters"));
        }
        if value.chars().count() > TAG_MAX || !value.chars().all(tag_char) {
            return Err(format!(
                "the value of tag {key} must be at most {TAG_MAX} characters of letters, digits and _-+=.:/@ or space"
            ));
        }
        Ok(Self {
            key: key.into(),
            value: value.into(),
        })
    }

    /// The tag with every character Cycloid refuses replaced by `_`, cut to its length limit.
    pub fn lossy(key: &str, value: &str) -> Self {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if tag_char(c) { c } else { '_' })
                .take(TAG_MAX)
                .collect()
        };
        let key = clean(key);
        Self {
            key: if key.is_empty() { "_".into() } else { key },
            value: clean(value),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The body of `sendEvent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub title: String,
    pub message: String,
    pub severity: Severity,
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The body of `createInventoryResource`; sizes in cores and MB.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewInventoryResource {
    pub provider: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub label: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub custom_attributes: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<u64>,
}

/// An inventory resource as Cycloid answers it: only what the bridge reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InventoryResource {
    pub id: u32,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub custom_attributes: Option<Value>,
}

/// A left-hand-side bracket filter of `listInventoryResources`: `attribute[condition]=value`.
/// An attribute Cycloid does not know as a column is a JSON path into `custom_attributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub attribute: String,
    pub condition: &'static str,
    pub value: String,
}

impl Filter {
    pub fn eq(attribute: &str, value: &str) -> Self {
        Self {
            attribute: attribute.into(),
            condition: "eq",
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_canonicals_follow_cycloids_pattern() {
        for ok in ["acme", "a-b", "my_org-2", "abc"] {
            assert!(Organization::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "Acme",
            "a c",
            "ac/..",
            &"a".repeat(101),
        ] {
            assert!(Organization::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_follow_cycloids_pattern() {
        assert!(Tag::new("location", "us-east1-a").is_ok());
        assert!(Tag::new("", "x").is_err());
        assert!(Tag::new("k", "a,b").is_err());
        assert!(Tag::new("k", &"x".repeat(255)).is_err());
        let t = Tag::lossy("k", "h100 (8x), ok");
        assert_eq!(t.value(), "h100 _8x__ ok");
        assert!(Tag::new(t.key(), t.value()).is_ok());
    }

    #[test]
    fn an_event_serialises_as_new_event() {
        let e = NewEvent {
            kind: EventType::Custom,
            title: "t".into(),
            message: "m".into(),
            severity: Severity::Warn,
            tags: vec![Tag::new("k", "v").unwrap()],
            icon: None,
            color: None,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "Custom", "title": "t", "message": "m", "severity": "warn", "tags": [{"key": "k", "value": "v"}]})
        );
    }
}
