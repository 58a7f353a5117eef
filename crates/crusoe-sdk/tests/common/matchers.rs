//! wiremock matchers for requests as Crusoe reads them. The bridge's tests (`tests/`) include this
//! file too.

use crusoe_sdk::signing;
use wiremock::{Match, Request};

use super::{ACCESS_KEY, SECRET};

/// Matches only a request that is signed as Crusoe checks it: a well-formed timestamp header,
/// the query sent already in canonical order, and an Authorization header that is the HMAC of
/// exactly what was sent.
pub struct SignedCorrectly;

impl Match for SignedCorrectly {
    fn matches(&self, request: &Request) -> bool {
        let Some(ts) = request
            .headers
            .get("x-crusoe-timestamp")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let well_formed = ts.len() == 20
            && ts.ends_with('Z')
            && time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
                .is_ok();
        if !well_formed {
            return false;
        }
        let raw_query = request.url.query().unwrap_or("");
        let canonical = signing::canonicalize_raw_query(raw_query);
        if canonical != raw_query {
            return false;
        }
        let key = signing::SigningKey::from_secret_key(SECRET).unwrap();
        let expected = signing::authorization(
            ACCESS_KEY,
            &key,
            request.url.path(),
            &canonical,
            request.method.as_str(),
            ts,
        );
        request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(expected.as_str())
    }
}

/// Matches a request whose query string is exactly `expected` (or has none when empty).
pub struct ExactQuery(pub &'static str);

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query().unwrap_or("") == self.0
    }
}
