//! A simulator in the test's own process, and the SDK's client on it. The bridge's tests
//! (`tests/`) include this file too; the module that includes it provides the test key pair and
//! the client settings (`crates/crusoe-sdk/tests/common/client.rs`).

use std::time::Duration;

use crusoe_sdk::CrusoeClient;
use crusoe_sim::{KeyPair, RunningSim, SimConfig};

use super::{credentials, fast_settings, ACCESS_KEY, PROJECT, SECRET};

/// A simulator in this process, owning `PROJECT` through the test key pair, with short operations.
pub async fn start_sim(config: SimConfig) -> RunningSim {
    let config = SimConfig {
        keys: vec![KeyPair {
            access_key_id: ACCESS_KEY.into(),
            secret_key: SECRET.into(),
            project_id: PROJECT.into(),
        }],
        ..config
    };
    RunningSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn quick_sim_config() -> SimConfig {
    SimConfig {
        op_delay: Duration::from_millis(20),
        ..Default::default()
    }
}

pub fn sim_client(sim: &RunningSim) -> CrusoeClient {
    CrusoeClient::new(fast_settings(&sim.endpoint()), credentials()).unwrap()
}
