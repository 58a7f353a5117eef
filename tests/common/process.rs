//! The bridge's binary run as its own process: a command run to its end, `serve` started and
//! found where it listens, signals sent and the exit waited for.

use std::process::{Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{ACCESS_KEY, PROJECT, SECRET};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_crusoe-ial");

/// How a command run to its end ended: its exit code and what it printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Standard output, then standard error.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts that the command failed (exit code 1) saying `what` on standard error.
    pub fn assert_failed_saying(&self, what: &str) {
        assert_eq!(self.code, 1, "{}", self.all());
        assert!(
            self.stderr.contains(what),
            "{what:?} not in:\n{}",
            self.stderr
        );
    }
}

impl From<Output> for Ran {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The binary started with `args`, with no input, its output piped, an empty home (so that no
/// real `~/.crusoe/config` is read; returned, to keep while it runs) and nothing else in its
/// environment but `env`. It is killed if dropped.
pub fn spawn_bin(args: &[&str], env: &[(&str, &str)]) -> (tokio::process::Child, TempDir) {
    let home = tempfile::tempdir().unwrap();
    let child = tokio::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    (child, home)
}

/// [`spawn_bin`], run to its end.
pub async fn run_bin(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let (child, _home) = spawn_bin(args, env);
    child.wait_with_output().await.unwrap().into()
}

/// The environment that points a command at the Crusoe API at `endpoint`, with the test key pair
/// and project.
pub fn crusoe_env(endpoint: &str) -> [(&'static str, &str); 4] {
    [
        ("CRUSOE_API_ENDPOINT", endpoint),
        ("CRUSOE_ACCESS_KEY_ID", ACCESS_KEY),
        ("CRUSOE_SECRET_KEY", SECRET),
        ("CRUSOE_DEFAULT_PROJECT", PROJECT),
    ]
}

/// Sends `signal` (`TERM`, `INT`) to `child`, as an operator or an orchestrator would.
pub fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("the process is running").to_string();
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.clone()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// What `child` printed, once it has exited within `within`; `what` says what was expected of it
/// when it has not.
pub async fn exit_within(child: tokio::process::Child, within: Duration, what: &str) -> Output {
    tokio::time::timeout(within, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what}: still running after {within:?}"))
        .unwrap()
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
    let mut child = tokio::process::Command::new(BIN)
        .args(["--config", file.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .env("HOME", dir.path())
        .env("IAL_IPXE_URL", super::harness::STAND_IN_IPXE_URL)
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
