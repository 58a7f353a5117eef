//! Helpers shared by the SDK's integration tests.
// Each test binary uses some of these.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod matchers;
pub mod swagger;

use std::path::PathBuf;

use crusoe_sdk::CrusoeClient;
use wiremock::MockServer;

pub use client::*;
pub use matchers::*;

pub fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// `shared` beside the workspace (this crate is two levels below it), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.is_dir().then_some(dir)
}

pub fn client_for(server: &MockServer) -> CrusoeClient {
    CrusoeClient::new(
        fast_settings(&format!("{}{BASE_PATH}", server.uri())),
        credentials(),
    )
    .unwrap()
}
