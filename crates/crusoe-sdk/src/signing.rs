//! Crusoe request signing, version 1.0.
//!
//! message = path + "\n" + canonical_query + "\n" + METHOD + "\n" + timestamp + "\n"
//! signature = URL-safe base64 (no padding) of HMAC-SHA256(key, message), where key is the
//! secret key decoded as URL-safe base64 without padding.
//! Header: `Authorization: Bearer 1.0:<access_key_id>:<signature>`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const SIGNATURE_VERSION: &str = "1.0";
pub const TIMESTAMP_HEADER: &str = "X-Crusoe-Timestamp";

/// Why a secret key cannot be used. Never carries the key itself.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("is empty")]
    Empty,
    #[error("is not URL-safe base64 (as Crusoe issues secret keys)")]
    NotBase64,
}

/// The HMAC key: the secret key, decoded. Zeroised on drop, never printed.
#[derive(Clone)]
pub struct SigningKey(SecretSlice<u8>);

impl SigningKey {
    /// Decodes a Crusoe secret key. Trailing `=` padding is tolerated because people paste keys
    /// through tools that add it; anything else that is not URL-safe base64 is refused.
    pub fn from_secret_key(secret_key: &str) -> Result<Self, KeyError> {
        let trimmed = secret_key.trim().trim_end_matches('=');
        if trimmed.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(trimmed)
            .map_err(|_| KeyError::NotBase64)?;
        Ok(Self(bytes.into()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.0.expose_secret()).expect("HMAC accepts any key length")
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

/// Formats a timestamp as Crusoe expects: RFC 3339, whole seconds, literal `Z`.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .expect("zero nanoseconds is valid");
    at.format(&Rfc3339).expect("UTC timestamps always format")
}

/// The string that is signed.
pub fn message(path: &str, canonical_query: &str, method: &str, timestamp: &str) -> String {
    let path = percent_decode(path.as_bytes()).decode_utf8_lossy();
    format!(
        "{path}\n{canonical_query}\n{}\n{timestamp}\n",
        method.to_ascii_uppercase()
    )
}

/// The value of the `Authorization` header for one request.
pub fn authorization(
    access_key_id: &str,
    key: &SigningKey,
    path: &str,
    canonical_query: &str,
    method: &str,
    timestamp: &str,
) -> String {
    let mut mac = key.mac();
    mac.update(message(path, canonical_query, method, timestamp).as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("Bearer {SIGNATURE_VERSION}:{access_key_id}:{signature}")
}

/// Escapes like Go's `url.QueryEscape`: unreserved bytes stay, space becomes `+`, the rest `%XX`.
pub fn query_escape(input: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
        }
    }
    out
}

fn query_unescape(input: &str) -> Vec<u8> {
    let plus_as_space = input.replace('+', " ");
    percent_decode(plus_as_space.as_bytes()).collect()
}

/// Canonical form of a set of decoded query parameters: keys sorted bytewise, values kept in the
/// order given under their key, each escaped as Go's `QueryEscape` does.
pub fn canonical_query<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut by_key: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for (k, v) in pairs {
        by_key
            .entry(k.as_ref().to_vec())
            .or_default()
            .push(v.as_ref().to_vec());
    }
    let mut out = String::new();
    for (key, values) in &by_key {
        let key = query_escape(key);
        for value in values {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&key);
            out.push('=');
            out.push_str(&query_escape(value));
        }
    }
    out
}

/// Canonical form of a raw query string as sent (without the leading `?`).
pub fn canonicalize_raw_query(raw: &str) -> String {
    canonical_query(raw.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        (query_unescape(k), query_unescape(v))
    }))
}

/// Now, formatted for the timestamp header.
pub fn now_timestamp() -> String {
    format_timestamp(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS_KEY: &str = "R7p5XctCQMuGlpVBmVdqzA";
    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";
    const TS: &str = "2024-01-02T03:04:05Z";
    const P: &str = "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab";

    fn sign_as_sent(path_and_query: &str) -> String {
        let key = SigningKey::from_secret_key(SECRET).unwrap();
        let (path, raw_query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        authorization(
            ACCESS_KEY,
            &key,
            path,
            &canonicalize_raw_query(raw_query),
            "GET",
            TS,
        )
    }

    #[test]
    fn published_vector_1_operation_without_query() {
        let got = sign_as_sent(&format!(
            "/v1alpha5/projects/{P}/compute/vms/instances/operations/F6EF489C-086E-458D-B812-7962964A28C9"
        ));
        assert_eq!(
            got,
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:DDfzqorPeKFFN_Z3j0U4SiM7zwFCaj8xZXW3fM4Yu20"
        );
    }

    /// The GA API's prefix is signed as sent, like any path. The expected value was computed
    /// with Python's `hmac` from CRUSOE.md's recipe (which gives vector 1 above from the same code).
    #[test]
    fn a_v1_path_is_signed_as_sent() {
        let got = sign_as_sent(&format!(
            "/v1/projects/{P}/compute/vms/instances/operations/F6EF489C-086E-458D-B812-7962964A28C9"
        ));
        assert_eq!(
            got,
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:kV8DBBHqUSWF7v0D3gRKs2rDznNpyDGY1_PmPO3auD0"
        );
        let got = sign_as_sent(&format!(
            "/v1/projects/{P}/compute/vms/instances?sort=created_at&limit=20&ids=a%2Cb"
        ));
        assert_eq!(
            got,
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:GzU-PKrmNz0RGneuK0ekI9Tn2mAHfMXE6jRw869ssU0"
        );
    }

    #[test]
    fn published_vector_2_query_is_sorted_before_signing() {
        let raw = "sort=created_at&limit=20&states=STATE_RUNNING";
        assert_eq!(
            canonicalize_raw_query(raw),
            "limit=20&sort=created_at&states=STATE_RUNNING"
        );
        let got = sign_as_sent(&format!(
            "/v1alpha5/projects/{P}/compute/vms/instances?{raw}"
        ));
        assert_eq!(
            got,
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:kj8biDdQU8w7gbtvMDBniAQj8loDyTejGb3r8snweXw"
        );
    }

    #[test]
    fn published_vector_3_escaping_follows_go_query_escape() {
        let raw = "names=my%20vm~1*x%2By";
        assert_eq!(canonicalize_raw_query(raw), "names=my+vm~1%2Ax%2By");
        let got = sign_as_sent(&format!(
            "/v1alpha5/projects/{P}/compute/vms/instances?{raw}"
        ));
        assert_eq!(
            got,
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:N9lh7Wlo0OxuoUEBNSvSbHZ60BwVegVdfQ6FYO-QTr8"
        );
    }

    #[test]
    fn message_layout_is_path_query_method_timestamp_each_line_terminated() {
        assert_eq!(
            message("/v1alpha5/locations", "", "get", TS),
            "/v1alpha5/locations\n\nGET\n2024-01-02T03:04:05Z\n"
        );
    }

    #[test]
    fn repeated_keys_keep_value_order_and_sort_after_other_keys() {
        assert_eq!(canonicalize_raw_query("b=2&a=z&b=1&a=y"), "a=z&a=y&b=2&b=1");
    }

    #[test]
    fn plus_in_raw_query_is_a_space_and_encoded_plus_stays_plus() {
        assert_eq!(canonicalize_raw_query("q=a+b&r=a%2Bb"), "q=a+b&r=a%2Bb");
        assert_eq!(
            canonical_query([("q", "a b"), ("r", "a+b")]),
            "q=a+b&r=a%2Bb"
        );
    }

    #[test]
    fn tilde_is_kept_star_and_comma_are_escaped() {
        assert_eq!(canonical_query([("names", "x~y*z,w")]), "names=x~y%2Az%2Cw");
    }

    #[test]
    fn empty_pieces_and_valueless_keys() {
        assert_eq!(canonicalize_raw_query(""), "");
        assert_eq!(canonicalize_raw_query("&&a=1&&"), "a=1");
        assert_eq!(canonicalize_raw_query("flag"), "flag=");
        // Only the first `=` splits.
        assert_eq!(canonicalize_raw_query("k=a=b"), "k=a%3Db");
    }

    #[test]
    fn keys_sort_bytewise_not_case_insensitively() {
        assert_eq!(canonicalize_raw_query("b=1&B=2&a=3"), "B=2&a=3&b=1");
    }

    #[test]
    fn non_ascii_is_percent_encoded_as_utf8_bytes_in_upper_case_hex() {
        assert_eq!(
            canonical_query([("n", "é/?#&=")]),
            "n=%C3%A9%2F%3F%23%26%3D"
        );
    }

    #[test]
    fn timestamp_has_whole_seconds_and_z() {
        let at = time::macros::datetime!(2024-01-02 03:04:05.987 +02:00);
        assert_eq!(format_timestamp(at), "2024-01-02T01:04:05Z");
    }

    #[test]
    fn secret_key_decoding() {
        assert!(SigningKey::from_secret_key(SECRET).is_ok());
        assert!(SigningKey::from_secret_key("HrbZ3VTUb2YNAq53Md1EsA==").is_ok());
        assert_eq!(
            SigningKey::from_secret_key("not base64 !").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            SigningKey::from_secret_key("  ").unwrap_err(),
            KeyError::Empty
        );
        let dbg = format!("{:?}", SigningKey::from_secret_key(SECRET).unwrap());
        assert!(!dbg.contains(SECRET));
    }
}
