//! Any query string: canonicalisation never panics, is idempotent (what the client signs is what
//! a server recomputes from the query as sent), and signing it never panics.
#![no_main]

use crusoe_sdk::signing::{authorization, canonicalize_raw_query, message, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let canonical = canonicalize_raw_query(&raw);
    assert_eq!(canonicalize_raw_query(&canonical), canonical);
    assert!(canonical.bytes().all(|b| b.is_ascii_graphic()));
    let _ = message(&raw, &canonical, "GET", "2026-01-01T00:00:00Z");
    let key = SigningKey::from_secret_key("HrbZ3VTUb2YNAq53Md1EsA").expect("a valid key");
    let header = authorization("AK", &key, "/v1alpha5/projects", &canonical, "GET", "2026-01-01T00:00:00Z");
    assert!(header.starts_with("Bearer 1.0:AK:"));
    let _ = SigningKey::from_secret_key(&raw);
});
