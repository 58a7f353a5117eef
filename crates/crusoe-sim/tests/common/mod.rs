//! Helpers shared by the simulator's integration tests: the SDK's test key pair and client
//! settings, its checker of Crusoe's Swagger document, and the simulator started with that key.
// Each test binary uses some of these.
#![allow(dead_code, unused_imports)]

#[path = "../../../crusoe-sdk/tests/common/client.rs"]
pub mod client;
pub mod sim;
#[path = "../../../crusoe-sdk/tests/common/swagger.rs"]
pub mod swagger;

use std::path::PathBuf;

use crusoe_sdk::signing;

pub use client::*;
pub use sim::*;

/// `shared` beside the workspace (this crate is two levels below it), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.is_dir().then_some(dir)
}

/// A request signed with the test key at the given time, for checks the typed client cannot make
/// (raw answers, odd timestamps). Returns the status and the JSON answer.
pub async fn signed_raw(
    base: &str,
    method: &str,
    path_and_query: &str,
    body: Option<serde_json::Value>,
    at: time::OffsetDateTime,
) -> (u16, serde_json::Value) {
    let url = url::Url::parse(&format!("{base}{path_and_query}")).unwrap();
    let ts = signing::format_timestamp(at);
    let key = signing::SigningKey::from_secret_key(SECRET).unwrap();
    let auth = signing::authorization(
        ACCESS_KEY,
        &key,
        url.path(),
        url.query().unwrap_or(""),
        method,
        &ts,
    );
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("authorization", auth)
        .header("x-crusoe-timestamp", ts);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
