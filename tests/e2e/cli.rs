//! The binary as an operator runs it: `check` with good, wrong and unreachable settings, `serve`
//! answering health and Cycle-shaped 404s, and invalid configuration stopping start-up.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::harness::STAND_IN_IPXE_URL;
use common::{fixture, PROJECT, SECRET};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_crusoe-ial");

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with only the given environment (and an empty home, so no real
/// `~/.crusoe/config` is read, and a stand-in iPXE image), with debug logging on so that any leak
/// would show.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("IAL_IPXE_URL", STAND_IN_IPXE_URL)
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn crusoe_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CRUSOE_API_ENDPOINT", endpoint.to_string()),
        ("CRUSOE_ACCESS_KEY_ID", common::ACCESS_KEY.to_string()),
        ("CRUSOE_SECRET_KEY", SECRET.to_string()),
        ("CRUSOE_DEFAULT_PROJECT", PROJECT.to_string()),
        ("IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS", "2".to_string()),
    ]
}

async fn check_with(env: Vec<(&'static str, String)>) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(&["check"], &env).await
}

#[tokio::test]
async fn check_reports_project_locations_and_types() {
    let server = MockServer::start().await;
    for (p, f) in [
        (
            format!("/v1/organizations/projects/{PROJECT}"),
            "project.json",
        ),
        ("/v1/locations".to_string(), "locations.json"),
        (
            format!("/v1/projects/{PROJECT}/compute/vms/types"),
            "vm_types.json",
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(common::SignedCorrectly)
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(f)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let out = check_with(crusoe_env(&format!("{}/v1", server.uri()))).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("cycle-prod"), "{}", out.stdout);
    assert!(out.stdout.contains("us-east1-a"));
    assert!(out.stdout.contains("h100-80gb-sxm-ib.8x"));
    assert!(!out.all().contains(SECRET));
}

#[tokio::test]
async fn check_with_a_wrong_secret_says_so_in_one_line_and_exits_1() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("error_bad_credential.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let wrong_secret = "AAAAAAAAAAAAAAAAAAAAAA";
    let mut env = crusoe_env(&format!("{}/v1", server.uri()));
    env[2].1 = wrong_secret.to_string();
    let out = check_with(env).await;
    assert_eq!(out.code, 1, "{}", out.all());
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("check failed: Crusoe rejected the credentials"),
        "{last}"
    );
    assert!(
        !out.all().contains(wrong_secret),
        "secret leaked: {}",
        out.all()
    );
}

#[tokio::test]
async fn check_against_an_unreachable_endpoint_says_so_and_exits_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = check_with(crusoe_env(&format!("http://127.0.0.1:{port}/v1"))).await;
    assert_eq!(out.code, 1, "{}", out.all());
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("check failed: cannot reach Crusoe at http://127.0.0.1:"),
        "{last}"
    );
    assert!(!out.all().contains(SECRET));
}

#[tokio::test]
async fn check_without_access_to_the_project_names_the_project() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"code": "forbidden", "message": "permission denied"}),
        ))
        .mount(&server)
        .await;
    let out = check_with(crusoe_env(&format!("{}/v1", server.uri()))).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("cannot access project {PROJECT}")),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn check_without_credentials_explains_what_to_set() {
    let out = run(&["check"], &[]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("CRUSOE_ACCESS_KEY_ID"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn check_reads_crusoes_own_profile_file() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("error_bad_credential.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crusoe-config");
    std::fs::write(
        &file,
        format!(
            "[default]\naccess_key_id = \"{}\"\nsecret_key = \"{SECRET}\"\ndefault_project = \"{PROJECT}\"\napi_endpoint = \"{}/v1\"\n",
            common::ACCESS_KEY,
            server.uri()
        ),
    )
    .unwrap();
    let out = run(&["check"], &[("IAL_CRUSOE_CONFIG", file.to_str().unwrap())]).await;
    // The request reached the endpoint named in the profile, signed with its key.
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("rejected the credentials"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn invalid_configuration_stops_start_up_with_one_line_naming_the_field() {
    for (var, value, field) in [
        ("IAL_LISTEN", "nowhere", "IAL_LISTEN"),
        (
            "CRUSOE_SECRET_KEY",
            "not base64 at all!",
            "CRUSOE_SECRET_KEY",
        ),
        (
            "CRUSOE_API_ENDPOINT",
            "ftp://example/v1",
            "CRUSOE_API_ENDPOINT",
        ),
    ] {
        let out = run(&["serve"], &[(var, value), ("CRUSOE_ACCESS_KEY_ID", "KEY")]).await;
        assert_eq!(out.code, 1, "{var}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(field), "{}", out.stderr);
        assert!(out.stdout.is_empty());
        if var == "CRUSOE_SECRET_KEY" {
            assert!(!out.stderr.contains(value));
        }
    }
}

#[tokio::test]
async fn serve_in_the_ipxe_boot_mode_without_cycles_image_says_what_to_set() {
    let out = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("IAL_IPXE_URL", "")],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    for needed in [
        "bridge.boot.ipxe_url",
        "IAL_IPXE_URL",
        ".iso or an .efi",
        "script",
    ] {
        assert!(out.stderr.contains(needed), "{needed}: {}", out.stderr);
    }
    let bad = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("IAL_IPXE_URL", "https://cdn.example/ipxe.img")],
    )
    .await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("bridge.boot.ipxe_url"),
        "{}",
        bad.stderr
    );
    let script = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("IAL_IPXE_URL", ""), ("IAL_BOOT_MODE", "script")],
    )
    .await;
    assert_eq!(script.code, 1);
    assert!(
        script
            .stderr
            .contains("bridge.boot.startup_script_template"),
        "{}",
        script.stderr
    );
}

#[tokio::test]
async fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ial.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisen = \"typo\"\n").unwrap();
    let out = run(&["--config", file.to_str().unwrap(), "serve"], &[]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("lisen"), "{}", out.stderr);
}

/// Starts `serve` with defaults and returns the child and its base URL.
async fn start_server() -> (tokio::process::Child, String, tempfile::TempDir) {
    let (child, addr, home) = common::serve_process("").await;
    (child, format!("http://{addr}"), home)
}

#[tokio::test]
async fn serve_answers_health_and_cycle_shaped_errors_for_unknown_paths() {
    let (mut child, base, _home) = start_server().await;
    let client = reqwest::Client::new();

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let missing = client
        .post(format!("{base}/v1/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["data"], serde_json::Value::Null);
    assert_eq!(body["error"]["status"], 404);
    assert_eq!(body["error"]["code"], "404.not-found");
    assert!(body["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("/v1/nothing/here"));

    let wrong_method = client
        .delete(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error"]["code"], "405.method-not-allowed");

    child.kill().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn serve_exits_0_on_sigterm() {
    let (child, _base, _home) = start_server().await;
    let pid = child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("server did not stop on SIGTERM")
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[cfg(unix)]
#[tokio::test]
async fn on_sigterm_a_request_in_flight_finishes_before_the_exit() {
    // Crusoe answers slowly, so the verify below is still in flight when SIGTERM comes.
    let sim = common::start_sim(crusoe_sim::SimConfig {
        faults: crusoe_sim::Faults {
            latency_ms: 1200,
            ..Default::default()
        },
        ..common::quick_sim_config()
    })
    .await;
    let (child, addr, _home) =
        common::serve_process_with("", &[], &[("CRUSOE_API_ENDPOINT", &sim.endpoint())]).await;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let auth =
        serde_json::json!({"api_key": common::ACCESS_KEY, "secret": SECRET, "namespace": PROJECT});
    let in_flight = tokio::spawn({
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/v1/auth/verify"))
                .json(&serde_json::json!({"auth": auth, "request": null}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["data"]["valid"], true);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        http.get(format!("{base}/healthz")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn healthcheck_exits_0_for_a_serving_server_and_1_otherwise() {
    let (mut child, base, _home) = start_server().await;
    let addr = base.trim_start_matches("http://").to_string();
    let healthy = tokio::process::Command::new(BIN)
        .args(["healthcheck", "--listen", &addr])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = tokio::process::Command::new(BIN)
        .args(["healthcheck"])
        .env_clear()
        .env("IAL_LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).starts_with("unhealthy: http://127.0.0.1:"));
}

#[tokio::test]
async fn serve_speaks_https_with_a_given_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let (mut child, addr, _home) = common::serve_process_with(
        "",
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let port = addr.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr.parse().unwrap())
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .expect("HTTPS answered");
    assert_eq!(answer.status(), 200);
    let plain = reqwest::get(format!("http://{addr}/healthz")).await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "no plain HTTP on the TLS port"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn an_unusable_tls_key_stops_start_up_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), "SECRET-LOOKING-GARBAGE").unwrap();
    let dir_str = dir.path().to_str().unwrap().to_string();
    let out = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &format!("{dir_str}/cert.pem"),
            "--tls-key",
            &format!("{dir_str}/key.pem"),
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("tls_key"), "{}", out.stderr);
    assert!(!out.all().contains("SECRET-LOOKING-GARBAGE"));
    let only_cert = run(
        &["serve", "--tls-cert", &format!("{dir_str}/cert.pem")],
        &[],
    )
    .await;
    assert_eq!(only_cert.code, 1);
    assert!(
        only_cert.stderr.contains("needs its key"),
        "{}",
        only_cert.stderr
    );
}

#[tokio::test]
async fn an_endpoint_under_v1alpha5_keeps_working_and_serve_and_check_say_to_move_once() {
    let sim = common::start_sim(common::quick_sim_config()).await;
    assert!(sim.endpoint().ends_with("/v1"), "{}", sim.endpoint());
    let legacy = sim.endpoint().replace("/v1", "/v1alpha5");

    let out = check_with(crusoe_env(&legacy)).await;
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "{stdout}{}", out.stderr);
    assert!(
        stdout.contains("note:") && stdout.contains("https://api.cloud.crusoe.ai/v1 "),
        "{stdout}"
    );
    let current = check_with(crusoe_env(&sim.endpoint())).await;
    assert!(!current.stdout.contains("note:"), "{}", current.stdout);

    let (_child, addr, _home, lines) =
        common::serve_process_logged("", &[], &[("CRUSOE_API_ENDPOINT", &legacy)]).await;
    let advice: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("/v1alpha5 prefix"))
        .collect();
    assert_eq!(advice.len(), 1, "said once: {lines:#?}");
    assert!(advice[0].contains("\"level\":\"WARN\""), "{}", advice[0]);
    let auth =
        serde_json::json!({"api_key": common::ACCESS_KEY, "secret": SECRET, "namespace": PROJECT});
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/v1/auth/verify"))
        .json(&serde_json::json!({"auth": auth, "request": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["valid"], true, "{answer}");
    let calls = sim.sim.calls();
    assert_eq!(
        calls.get("GET /organizations/projects/{project_id}"),
        Some(&3),
        "both checks and serve's verify reached the simulator: {calls:?}"
    );
}
