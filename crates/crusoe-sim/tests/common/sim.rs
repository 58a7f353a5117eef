//! A simulator in the test's own process, and the SDK's client on it. The bridge's tests
//! (`tests/`) include this file too; the module that includes it provides the test key pair and
//! the client settings (`crates/crusoe-sdk/tests/common/client.rs`).

use std::time::Duration;

use crusoe_sdk::types::Vm;
use crusoe_sdk::CrusoeClient;
use crusoe_sim::{Faults, KeyPair, RunningSim, SimConfig};

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

/// [`quick_sim_config`] with every answer `latency_ms` late.
pub fn slow_sim_config(latency_ms: u64) -> SimConfig {
    SimConfig {
        faults: Faults {
            latency_ms,
            ..Default::default()
        },
        ..quick_sim_config()
    }
}

pub fn sim_client(sim: &RunningSim) -> CrusoeClient {
    CrusoeClient::new(fast_settings(&sim.endpoint()), credentials()).unwrap()
}

/// One project as the simulator's inspection endpoint shows it.
pub fn project_inventory(sim: &RunningSim, id: &str) -> serde_json::Value {
    sim.sim.inventory()["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no project {id} in the simulator"))
}

/// The id of `vm`'s disk attached as `attachment_type` (`os`, `data`).
pub fn attached_disk(vm: &Vm, attachment_type: &str) -> String {
    vm.disks
        .iter()
        .find(|d| d.attachment_type == attachment_type)
        .unwrap_or_else(|| panic!("no {attachment_type} disk on {}", vm.name))
        .id
        .clone()
}
