//! Helpers shared by the integration tests. The test key pair, client settings and wiremock
//! matchers are the SDK's (`crates/crusoe-sdk/tests/common`), the simulator started with that key
//! is the simulator's (`crates/crusoe-sim/tests/common/sim.rs`): included from there, not copied.
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
#[path = "../../crates/crusoe-sim/tests/common/sim.rs"]
pub mod sim;

use std::path::PathBuf;
use std::time::Duration;

pub use client::*;
pub use matchers::*;
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

/// Starts the real `serve` with `config` as its config file (empty: defaults), an empty home and
/// no environment but a stand-in iPXE image; returns the child, the `host:port` it listens on,
/// and the directory to keep.
pub async fn serve_process(config: &str) -> (tokio::process::Child, String, tempfile::TempDir) {
    serve_process_with(config, &[], &[]).await
}

/// [`serve_process`] with more arguments to `serve` and more environment. The process listens on
/// port 0, bound before it serves, and the test learns the port from its "serving" line: no port
/// is picked by the test and freed for the server to take, which another test could take first.
pub async fn serve_process_with(
    config: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (tokio::process::Child, String, tempfile::TempDir) {
    let (child, addr, dir, _) = serve_process_logged(config, args, env).await;
    (child, addr, dir)
}

/// [`serve_process_with`], and the log lines `serve` wrote before its "serving" line.
pub async fn serve_process_logged(
    config: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    tempfile::TempDir,
    Vec<String>,
) {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, config).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crusoe-ial"))
        .args(["--config", file.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .env("HOME", dir.path())
        .env("IAL_IPXE_URL", harness::STAND_IN_IPXE_URL)
        // The lines `serve::listening_on` reads.
        .env("IAL_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = crusoe_ial::serve::listening_on(&line) {
                return Some(addr);
            }
            before.push(line);
        }
        None
    })
    .await;
    let Ok(Some(addr)) = found else {
        panic!("serve did not say where it listens:\n{}", before.join("\n"));
    };
    // Keep reading: a full pipe would stop the server at its next log line.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr.to_string(), dir, before)
}
