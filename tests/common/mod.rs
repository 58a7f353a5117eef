//! Helpers shared by the integration tests. The test key pair, client settings, wiremock matchers
//! and the rule for required fields are the SDK's (`crates/crusoe-sdk/tests/common`), the
//! simulator started with that key is the simulator's (`crates/crusoe-sim/tests/common/sim.rs`):
//! included from there, not copied.
// Each test binary uses some of these.
#![allow(dead_code, unused_imports)]

pub mod boot;
#[path = "../../crates/crusoe-sdk/tests/common/client.rs"]
pub mod client;
pub mod cycle_go;
pub mod harness;
pub mod logs;
#[path = "../../crates/crusoe-sdk/tests/common/matchers.rs"]
pub mod matchers;
pub mod openapi;
pub mod process;
#[path = "../../crates/crusoe-sim/tests/common/sim.rs"]
pub mod sim;
#[path = "../../crates/crusoe-sdk/tests/common/swagger.rs"]
pub mod swagger;

use std::path::PathBuf;

pub use client::*;
pub use matchers::*;
pub use process::*;
pub use sim::*;

/// One of the SDK's fixtures (`crates/crusoe-sdk/tests/fixtures`): Crusoe's answers, for a
/// wiremock standing in for Crusoe.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crates/crusoe-sdk/tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// `../shared` beside the project, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    dir.is_dir().then_some(dir)
}

/// The JSON a GET of `url` answers.
pub async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// What a POST of `body`, as JSON, to `url` answers.
pub async fn post(url: &str, body: &serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The JSON a POST of `body` to `url` answers.
pub async fn post_json(url: &str, body: &serde_json::Value) -> serde_json::Value {
    post(url, body).await.json().await.unwrap()
}
