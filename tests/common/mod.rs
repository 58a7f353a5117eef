//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod boot;
pub mod cycle_go;
pub mod harness;
pub mod openapi;
pub mod swagger;

use std::path::PathBuf;
use std::time::Duration;

use crusoe_sdk::signing;
use crusoe_sdk::{Backoff, ClientSettings, Credentials, CrusoeClient, RetryPolicy};
use secrecy::SecretString;
use wiremock::{Match, MockServer, Request};

pub const ACCESS_KEY: &str = "R7p5XctCQMuGlpVBmVdqzA";
pub const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";
pub const PROJECT: &str = "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab";
pub const BASE_PATH: &str = "/v1";

pub fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/crusoe")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// `../shared` beside the project, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    dir.is_dir().then_some(dir)
}

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

pub fn client_for(server: &MockServer) -> CrusoeClient {
    CrusoeClient::new(
        fast_settings(&format!("{}{BASE_PATH}", server.uri())),
        credentials(),
    )
    .unwrap()
}

/// Matches only a request that is signed as Crusoe checks it: a well-formed timestamp header,
/// the query sent already in canonical order, and an Authorization header that is the HMAC of
/// exactly what was sent.
pub struct SignedCorrectly;

impl Match for SignedCorrectly {
    fn matches(&self, request: &Request) -> bool {
        let Some(ts) = request
            .headers
            .get("x-crusoe-timestamp")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let well_formed = ts.len() == 20
            && ts.ends_with('Z')
            && time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
                .is_ok();
        if !well_formed {
            return false;
        }
        let raw_query = request.url.query().unwrap_or("");
        let canonical = signing::canonicalize_raw_query(raw_query);
        if canonical != raw_query {
            return false;
        }
        let key = signing::SigningKey::from_secret_key(SECRET).unwrap();
        let expected = signing::authorization(
            ACCESS_KEY,
            &key,
            request.url.path(),
            &canonical,
            request.method.as_str(),
            ts,
        );
        request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(expected.as_str())
    }
}

/// Matches a request whose query string is exactly `expected` (or has none when empty).
pub struct ExactQuery(pub &'static str);

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query().unwrap_or("") == self.0
    }
}

/// A simulator in this process, owning `PROJECT` through the test key pair, with short operations.
pub async fn start_sim(config: crusoe_sim::SimConfig) -> crusoe_sim::RunningSim {
    let config = crusoe_sim::SimConfig {
        keys: vec![crusoe_sim::KeyPair {
            access_key_id: ACCESS_KEY.into(),
            secret_key: SECRET.into(),
            project_id: PROJECT.into(),
        }],
        ..config
    };
    crusoe_sim::RunningSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn quick_sim_config() -> crusoe_sim::SimConfig {
    crusoe_sim::SimConfig {
        op_delay: Duration::from_millis(20),
        ..Default::default()
    }
}

pub fn sim_client(sim: &crusoe_sim::RunningSim) -> CrusoeClient {
    CrusoeClient::new(fast_settings(&sim.endpoint()), credentials()).unwrap()
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
