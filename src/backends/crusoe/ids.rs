//! Crusoe ids that come back from Cycle (in `location_configuration`, `extra` or a request field):
//! checked for their shape before any Crusoe call carries them, so that a forged or damaged value
//! is a 422 naming its field, with nothing created, rather than something Crusoe has to refuse
//! halfway through a provision.

use crate::core::error::CoreError;

/// A Crusoe id: a UUID in its hyphenated form (Crusoe writes operation ids in upper case).
pub fn uuid<'a>(value: &'a str, pointer: &str) -> Result<&'a str, CoreError> {
    // The hyphenated form is the only one of 36 characters; braces, `urn:` and bare hex are not
    // how Crusoe writes ids.
    if value.len() == 36 && uuid::Uuid::try_parse(value).is_ok() {
        Ok(value)
    } else {
        Err(CoreError::invalid(
            format!(
                "{pointer} must be a Crusoe id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), got {:?}",
                shown(value)
            ),
            pointer,
        ))
    }
}

fn shown(value: &str) -> String {
    value
        .chars()
        .take(48)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_pass() {
        for ok in [
            "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab",
            "F6EF489C-086E-458D-B812-7962964A28C9",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(uuid(ok, "/x").unwrap(), ok);
        }
        for bad in [
            "",
            "../../organizations/projects",
            "ab4a6b00aa5f408ea9fbac6de5eb45ab",
            "{ab4a6b00-aa5f-408e-a9fb-ac6de5eb45}",
            "urn:uuid:ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab",
            "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45a\n",
            "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ag",
        ] {
            let err = uuid(bad, "/request/extra/x").unwrap_err();
            assert!(
                matches!(&err, CoreError::InvalidInput { pointer: Some(p), .. } if p == "/request/extra/x"),
                "{bad:?}: {err}"
            );
        }
    }
}
