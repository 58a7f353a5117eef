//! The simulator's check of Crusoe's v1.0 request signature, written from the specification in
//! Crusoe's documentation and deliberately sharing no code with the client's signer, so that a
//! mistake on one side shows up as a 401 from the other.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Why a request was refused. The text goes into the 401 body's `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

/// What the signature check needs of a request.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received (percent-encoded as on the wire).
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub timestamp: Option<&'a str>,
}

/// Checks a request and returns the access key id it was signed with.
/// `secret_for` looks up the secret key of an access key id.
pub fn verify<'a>(
    req: &SignedRequest<'a>,
    now: OffsetDateTime,
    max_skew_secs: i64,
    secret_for: impl Fn(&str) -> Option<String>,
) -> Result<&'a str, Refusal> {
    let header = req
        .authorization
        .ok_or(Refusal("missing Authorization header"))?;
    let rest = header
        .strip_prefix("Bearer ")
        .ok_or(Refusal("Authorization is not a Bearer token"))?;
    let mut parts = rest.splitn(3, ':');
    let (version, key_id, signature) = match (parts.next(), parts.next(), parts.next()) {
        (Some(v), Some(k), Some(s)) => (v, k, s),
        _ => return Err(Refusal("Authorization is not 1.0:<key>:<signature>")),
    };
    if version != "1.0" {
        return Err(Refusal("unsupported signature version"));
    }

    let ts_text = req
        .timestamp
        .ok_or(Refusal("missing X-Crusoe-Timestamp header"))?;
    let ts = OffsetDateTime::parse(ts_text, &Rfc3339)
        .map_err(|_| Refusal("X-Crusoe-Timestamp is not RFC 3339"))?;
    if (now - ts).whole_seconds().abs() > max_skew_secs {
        return Err(Refusal(
            "X-Crusoe-Timestamp is too far from the server's clock",
        ));
    }

    let secret = secret_for(key_id).ok_or(Refusal("unknown access key"))?;
    let key = URL_SAFE_NO_PAD
        .decode(secret.trim_end_matches('='))
        .map_err(|_| Refusal("secret key is not decodable"))?;
    let given = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Refusal("signature is not URL-safe base64"))?;

    let raw_query = req.raw_query.unwrap_or("");
    let canonical = canonical_form(raw_query);
    if canonical != raw_query {
        return Err(Refusal(
            "query parameters are not in canonical order and encoding",
        ));
    }
    let path = decode_percent(req.raw_path.as_bytes());
    let mut message = Vec::with_capacity(path.len() + canonical.len() + 64);
    message.extend_from_slice(&path);
    message.push(b'\n');
    message.extend_from_slice(canonical.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(req.method.to_ascii_uppercase().as_bytes());
    message.push(b'\n');
    message.extend_from_slice(ts_text.as_bytes());
    message.push(b'\n');

    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| Refusal("bad key"))?;
    mac.update(&message);
    // Constant-time comparison.
    mac.verify_slice(&given)
        .map_err(|_| Refusal("signature does not match"))?;
    Ok(key_id)
}

/// The canonical query: pairs split on `&` and the first `=`, decoded (`+` is a space), keys in
/// byte order with each key's values in arrival order, re-encoded as Go's `url.QueryEscape`.
pub fn canonical_form(raw: &str) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = raw
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.find('=') {
            Some(i) => (form_decode(&piece[..i]), form_decode(&piece[i + 1..])),
            None => (form_decode(piece), Vec::new()),
        })
        .collect();
    // A stable sort keeps the values of one key in the order they came.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", go_query_escape(k), go_query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn form_decode(s: &str) -> Vec<u8> {
    let spaced: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    decode_percent(&spaced)
}

fn decode_percent(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn go_query_escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "R7p5XctCQMuGlpVBmVdqzA";
    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";
    const TS: &str = "2024-01-02T03:04:05Z";

    fn at() -> OffsetDateTime {
        OffsetDateTime::parse(TS, &Rfc3339).unwrap()
    }

    fn check(
        path: &str,
        query: Option<&str>,
        auth: &str,
        ts: &str,
        now: OffsetDateTime,
    ) -> Result<String, Refusal> {
        let req = SignedRequest {
            method: "GET",
            raw_path: path,
            raw_query: query,
            authorization: Some(auth),
            timestamp: Some(ts),
        };
        verify(&req, now, 300, |k| (k == KEY).then(|| SECRET.to_string())).map(str::to_string)
    }

    const P: &str = "/v1alpha5/projects/ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab/compute/vms/instances";

    #[test]
    fn accepts_the_published_vectors() {
        let op = "/v1alpha5/projects/ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab/compute/vms/instances/operations/F6EF489C-086E-458D-B812-7962964A28C9";
        assert_eq!(
            check(
                op,
                None,
                "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:DDfzqorPeKFFN_Z3j0U4SiM7zwFCaj8xZXW3fM4Yu20",
                TS,
                at()
            ),
            Ok(KEY.to_string())
        );
        assert!(check(
            P,
            Some("limit=20&sort=created_at&states=STATE_RUNNING"),
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:kj8biDdQU8w7gbtvMDBniAQj8loDyTejGb3r8snweXw",
            TS,
            at()
        )
        .is_ok());
        assert!(check(
            P,
            Some("names=my+vm~1%2Ax%2By"),
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:N9lh7Wlo0OxuoUEBNSvSbHZ60BwVegVdfQ6FYO-QTr8",
            TS,
            at()
        )
        .is_ok());
    }

    /// A `/v1` path is signed as sent: the same signature checked under the other prefix fails.
    #[test]
    fn a_v1_path_is_checked_as_sent() {
        let v1 = "/v1/projects/ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab/compute/vms/instances/operations/F6EF489C-086E-458D-B812-7962964A28C9";
        let signed =
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:kV8DBBHqUSWF7v0D3gRKs2rDznNpyDGY1_PmPO3auD0";
        assert_eq!(check(v1, None, signed, TS, at()), Ok(KEY.to_string()));
        let elsewhere = v1.replace("/v1/", "/v1alpha5/");
        assert!(check(&elsewhere, None, signed, TS, at()).is_err());
    }

    #[test]
    fn refuses_a_query_sent_out_of_canonical_order() {
        let err = check(
            P,
            Some("sort=created_at&limit=20&states=STATE_RUNNING"),
            "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:kj8biDdQU8w7gbtvMDBniAQj8loDyTejGb3r8snweXw",
            TS,
            at(),
        )
        .unwrap_err();
        assert!(err.0.contains("canonical"));
    }

    #[test]
    fn refuses_tampering_unknown_keys_and_skew() {
        let good = "Bearer 1.0:R7p5XctCQMuGlpVBmVdqzA:DDfzqorPeKFFN_Z3j0U4SiM7zwFCaj8xZXW3fM4Yu20";
        let op = "/v1alpha5/projects/ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab/compute/vms/instances/operations/F6EF489C-086E-458D-B812-7962964A28C9";
        assert!(check(&op.replace("F6EF", "A6EF"), None, good, TS, at()).is_err());
        assert_eq!(
            check(op, None, &good.replace("R7p5", "X7p5"), TS, at())
                .unwrap_err()
                .0,
            "unknown access key"
        );
        let late = at() + time::Duration::seconds(301);
        assert!(check(op, None, good, TS, late)
            .unwrap_err()
            .0
            .contains("clock"));
        assert!(check(op, None, good, TS, at() + time::Duration::seconds(299)).is_ok());
        assert!(check(op, None, "Bearer 2.0:a:b", TS, at()).is_err());
        assert!(check(op, None, good, "yesterday", at()).is_err());
    }

    #[test]
    fn canonical_form_sorts_and_escapes() {
        assert_eq!(canonical_form("b=2&a=z&b=1"), "a=z&b=2&b=1");
        assert_eq!(
            canonical_form("names=my%20vm~1*x%2By"),
            "names=my+vm~1%2Ax%2By"
        );
        assert_eq!(canonical_form("x"), "x=");
    }
}
