//! The test key pair and project, and a client configured to keep tests fast. The simulator's
//! tests (`crates/crusoe-sim/tests`) and the bridge's (`tests/`) include this file too, so it
//! reads nothing relative to the package being tested.

use std::time::Duration;

use crusoe_sdk::types::CreateVmRequest;
use crusoe_sdk::{Backoff, ClientSettings, Credentials, RetryPolicy};
use secrecy::SecretString;

pub const ACCESS_KEY: &str = "R7p5XctCQMuGlpVBmVdqzA";
pub const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";
pub const PROJECT: &str = "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab";
pub const BASE_PATH: &str = "/v1";

pub fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, &SecretString::from(SECRET)).unwrap()
}

/// Settings that keep tests fast: short waits, few attempts, small pages.
pub fn fast_settings(endpoint: &str) -> ClientSettings {
    ClientSettings {
        endpoint: url::Url::parse(endpoint).unwrap(),
        attempt_timeout: Duration::from_millis(500),
        call_deadline: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::jittered(Duration::from_millis(5), Duration::from_millis(20)),
        },
        wait: Backoff::growing(Duration::from_millis(5), Duration::from_millis(20), 2.0),
        page_size: 2,
        ..ClientSettings::default()
    }
}

/// A VM of `vm_type` in us-east1-a on Crusoe's Ubuntu image, with a stand-in SSH key: what a test
/// needs of a VM request when it is not the request itself under test.
pub fn vm_request(name: &str, vm_type: &str) -> CreateVmRequest {
    CreateVmRequest {
        name: name.into(),
        vm_type: vm_type.into(),
        location: "us-east1-a".into(),
        ssh_public_key: "ssh-ed25519 AAAA test".into(),
        image: Some("ubuntu22.04:latest".into()),
        ..Default::default()
    }
}
