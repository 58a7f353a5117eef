//! Ids that go into a Crusoe URL path are checked first, so that no value, whatever its origin,
//! can address another endpoint (`/`, `..`, `?`, `#`, `%`, whitespace...).

use std::fmt;

/// Longest id accepted. Crusoe's ids are UUIDs (36 characters); the margin is for safety, not use.
pub const MAX_ID_LEN: usize = 128;

/// A string that is safe as one path segment of a Crusoe URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathId<'a>(&'a str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {shown:?} is not a valid Crusoe id: {reason}")]
pub struct InvalidId {
    pub what: &'static str,
    /// The id, cut short and with control characters replaced, so that it is safe to log.
    pub shown: String,
    pub reason: &'static str,
}

impl<'a> PathId<'a> {
    pub fn parse(what: &'static str, id: &'a str) -> Result<Self, InvalidId> {
        let fail = |reason| InvalidId {
            what,
            shown: shown(id),
            reason,
        };
        if id.is_empty() {
            return Err(fail("it is empty"));
        }
        if id.len() > MAX_ID_LEN {
            return Err(fail("it is too long"));
        }
        if id.contains("..") {
            return Err(fail("it contains `..`"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(fail("only letters, digits, `-`, `_` and `.` are allowed"));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for PathId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn shown(id: &str) -> String {
    id.chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_operation_ids_pass() {
        for id in [
            "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab",
            "F6EF489C-086E-458D-B812-7962964A28C9",
            "cycle-5f1e2d3c4b5a69788796a5b4-data",
        ] {
            assert_eq!(PathId::parse("vm_id", id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn anything_that_could_leave_the_segment_is_refused() {
        for id in [
            "", "a/b", "..", "a..b", "x?y=1", "x#frag", "%2F", "a b", "a\r\nb", "é", "a\\b",
        ] {
            assert!(PathId::parse("vm_id", id).is_err(), "{id:?} accepted");
        }
        assert!(PathId::parse("vm_id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn the_error_names_the_field_and_shows_a_safe_excerpt() {
        let err = PathId::parse("disk_id", "a\nb/c").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("disk_id"));
        assert!(!text.contains('\n'));
    }
}
