//! Helpers shared by the SDK's contract tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use cloudsigma_sdk::{Client, ClientSettings, Credentials, RetryPolicy};
use secrecy::SecretString;
use wiremock::MockServer;

pub const USER: &str = "ops@example.com";
pub const PASSWORD: &str = "pa55-w0rd-fixture";
pub const TOKEN: &str = "tok-fixture-0123456789";
pub const BASE_PATH: &str = "/api/2.0";
pub const SERVER_UUID: &str = "0b6b3c7e-2f0a-4b7e-9d55-5f7b1d2a9c01";
pub const DRIVE_UUID: &str = "7d0e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6";

pub fn basic() -> Credentials {
    Credentials::Basic {
        username: USER.into(),
        password: SecretString::from(PASSWORD),
    }
}

pub fn token() -> Credentials {
    Credentials::Token(SecretString::from(TOKEN))
}

/// Settings that keep tests fast: three attempts, millisecond waits.
pub fn fast_settings(base: &str) -> ClientSettings {
    ClientSettings {
        api_base: url::Url::parse(&format!("{base}{BASE_PATH}/")).unwrap(),
        upload_base: None,
        user_agent: "cloudsigma-sdk-tests".into(),
        timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 3,
            initial: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            deadline: Duration::from_secs(5),
        },
    }
}

pub fn client_for(server: &MockServer) -> Client {
    Client::new(fast_settings(&server.uri()), basic()).unwrap()
}

pub fn client_with(server: &MockServer, credentials: Credentials) -> Client {
    Client::new(fast_settings(&server.uri()), credentials).unwrap()
}

pub fn api(path: &str) -> String {
    format!("{BASE_PATH}/{path}")
}

pub fn fixture(name: &str) -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// The requests a mock server received, as (method, path, query).
pub async fn seen(server: &MockServer) -> Vec<(String, String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                r.url.query().unwrap_or("").to_string(),
            )
        })
        .collect()
}
