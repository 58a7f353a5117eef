//! Reading Cycle's requests: the `{auth, request}` wrapper, bodies that may be empty (GET listing
//! calls), the release call that may come unwrapped, and errors that point at the bad field.

use axum::http::StatusCode;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::types::Auth;
use super::IalError;

/// One call from Cycle: its credentials and its payload.
#[derive(Debug, Clone)]
pub struct Call<T> {
    pub auth: Option<Auth>,
    pub request: T,
}

/// Whether a body without a `request` key is itself the payload (Cycle's OpenAPI shows the
/// release call that way; every other source wraps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    Required,
    Optional,
}

fn invalid_json(e: serde_json::Error) -> IalError {
    IalError::new(
        StatusCode::BAD_REQUEST,
        "invalid-json",
        "Invalid JSON",
        format!("the request body is not valid JSON: {e}"),
    )
}

fn invalid_input(detail: String, pointer: String) -> IalError {
    IalError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
        "Invalid input",
        detail,
    )
    .with_source(pointer)
}

/// Reads `json` as `T`, naming the offending field as a JSON pointer below `base`.
fn read<T: DeserializeOwned>(json: &str, base: &str) -> Result<T, IalError> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut pointer = base.to_string();
        for segment in e.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => {
                    pointer.push_str(&format!("/{}", key.replace('~', "~0").replace('/', "~1")))
                }
                Segment::Enum { variant } => pointer.push_str(&format!("/{variant}")),
                Segment::Unknown => {}
            }
        }
        let shown = if pointer.is_empty() {
            "/".to_string()
        } else {
            pointer.clone()
        };
        invalid_input(format!("{shown}: {}", e.inner()), shown)
    })
}

/// The credentials, the payload's JSON text when present, and its pointer within the body.
type Parts = (Option<Auth>, Option<Box<RawValue>>, &'static str);

fn is_null(json: &RawValue) -> bool {
    json.get().trim() == "null"
}

/// The credentials, the payload (as its JSON text), and the JSON pointer of the payload within
/// the body. The body's top level is split without building a tree: each part is read straight
/// into its type.
fn split(body: &[u8], wrapping: Wrapping) -> Result<Parts, IalError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None, "/request"));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        IalError::new(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            "Invalid JSON",
            format!("the request body is not valid UTF-8: {e}"),
        )
    })?;
    let mut object: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(text).map_err(|e| match e.classify() {
            // Well-formed JSON of another type than an object.
            serde_json::error::Category::Data => {
                invalid_input("the request body must be a JSON object".into(), "/".into())
            }
            _ => invalid_json(e),
        })?;
    let auth = match object.remove("auth") {
        Some(auth) if !is_null(&auth) => Some(read::<Auth>(auth.get(), "/auth")?),
        _ => None,
    };
    Ok(match (object.remove("request"), wrapping) {
        (Some(request), _) => (auth, Some(request).filter(|r| !is_null(r)), "/request"),
        (None, Wrapping::Optional) if !object.is_empty() => {
            let rest = serde_json::value::to_raw_value(&object).map_err(invalid_json)?;
            (auth, Some(rest), "")
        }
        (None, _) => (auth, None, "/request"),
    })
}

/// A call whose payload is required.
pub fn decode<T: DeserializeOwned>(body: &[u8], wrapping: Wrapping) -> Result<Call<T>, IalError> {
    let (auth, payload, base) = split(body, wrapping)?;
    let Some(payload) = payload else {
        return Err(invalid_input(
            "the request payload is missing".into(),
            "/request".into(),
        ));
    };
    Ok(Call {
        auth,
        request: read(payload.get(), base)?,
    })
}

/// A call whose payload is null (verify and the listing calls): only its credentials matter.
pub fn decode_auth_only(body: &[u8]) -> Result<Option<Auth>, IalError> {
    split(body, Wrapping::Required).map(|(auth, _, _)| auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ial::types::{ProvisionServer, ReleaseIp};

    #[test]
    fn empty_and_whitespace_bodies_carry_no_auth() {
        assert_eq!(decode_auth_only(b"").unwrap(), None);
        assert_eq!(decode_auth_only(b" \n").unwrap(), None);
        let auth =
            decode_auth_only(br#"{"auth":{"api_key":"k","cycle":{"hub_id":"h"}},"request":null}"#)
                .unwrap()
                .unwrap();
        assert_eq!(auth.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn malformed_json_is_400_and_non_objects_are_422() {
        assert_eq!(
            decode_auth_only(b"{").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            decode_auth_only(b"[1]").unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn a_wrong_type_points_at_the_field() {
        let body = br#"{"request":{"hostname":"h","model_id":7,"location_id":"l","cycle":{"server_id":"s"}}}"#;
        let err = decode::<ProvisionServer>(body, Wrapping::Required).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.pointer.as_deref(), Some("/request/model_id"));
        let body = br#"{"request":{"hostname":"h","model_id":"m","location_id":"l","cycle":{}}}"#;
        let err = decode::<ProvisionServer>(body, Wrapping::Required).unwrap_err();
        assert!(err.detail.contains("server_id"), "{}", err.detail);
        assert_eq!(err.pointer.as_deref(), Some("/request/cycle"));
    }

    #[test]
    fn invalid_utf8_is_400_and_a_null_auth_is_no_auth() {
        let err = decode_auth_only(b"{\"auth\":\"\xff\"}").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            decode_auth_only(br#"{"auth":null,"request":null}"#).unwrap(),
            None
        );
        let err = decode_auth_only(br#"{"auth":{"api_key":7}}"#).unwrap_err();
        assert_eq!(err.pointer.as_deref(), Some("/auth/api_key"));
    }

    #[test]
    fn a_missing_payload_is_422() {
        let err = decode::<ProvisionServer>(br#"{"auth":null,"request":null}"#, Wrapping::Required)
            .unwrap_err();
        assert_eq!(err.pointer.as_deref(), Some("/request"));
    }

    #[test]
    fn release_is_accepted_wrapped_or_not() {
        let bare = br#"{"kind":"ipv4","ip_id":"i","ip_assignment_id":"a","cidr":"1.2.3.4/32"}"#;
        let call = decode::<ReleaseIp>(bare, Wrapping::Optional).unwrap();
        assert_eq!(call.request.ip_id, "i");
        assert!(call.auth.is_none());
        let wrapped = br#"{"auth":{"api_key":"k"},"request":{"kind":"ipv4","ip_id":"i","ip_assignment_id":"a"}}"#;
        let call = decode::<ReleaseIp>(wrapped, Wrapping::Optional).unwrap();
        assert_eq!(call.auth.unwrap().api_key.as_deref(), Some("k"));
        assert!(decode::<ReleaseIp>(bare, Wrapping::Required).is_err());
    }
}
