//! The binary as an operator runs it: `check` with good, wrong and unreachable settings, `serve`
//! answering health and Cycle-shaped 404s, and invalid configuration stopping start-up.

use crate::common;

use std::time::Duration;

use common::harness::{Harness, STAND_IN_IPXE_URL};
use common::{
    crusoe_env, exit_within, fixture, run_bin, send_signal, Ran, ACCESS_KEY, PROJECT, SECRET,
};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs the binary with only the given environment (and an empty home, so no real
/// `~/.crusoe/config` is read, and a stand-in iPXE image), with debug logging on so that any leak
/// would show.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let defaults = [("IAL_IPXE_URL", STAND_IN_IPXE_URL), ("RUST_LOG", "debug")];
    run_bin(args, &[&defaults[..], env].concat()).await
}

/// `check` against the Crusoe API at `endpoint` with the test key pair, `env` over that.
async fn check(endpoint: &str, env: &[(&str, &str)]) -> Ran {
    let quick = [("IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS", "2")];
    run(
        &["check"],
        &[&crusoe_env(endpoint)[..], &quick, env].concat(),
    )
    .await
}

/// A Crusoe that refuses the credentials of the one call it expects.
async fn crusoe_refusing_the_key() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("error_bad_credential.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    server
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
    let out = check(&format!("{}/v1", server.uri()), &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("cycle-prod"), "{}", out.stdout);
    assert!(out.stdout.contains("us-east1-a"));
    assert!(out.stdout.contains("h100-80gb-sxm-ib.8x"));
    assert!(!out.all().contains(SECRET));
}

#[tokio::test]
async fn check_with_a_wrong_secret_says_so_in_one_line_and_exits_1() {
    let server = crusoe_refusing_the_key().await;
    let wrong_secret = "AAAAAAAAAAAAAAAAAAAAAA";
    let wrong = [("CRUSOE_SECRET_KEY", wrong_secret)];
    let out = check(&format!("{}/v1", server.uri()), &wrong).await;
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
    let out = check(&format!("http://127.0.0.1:{port}/v1"), &[]).await;
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
    let out = check(&format!("{}/v1", server.uri()), &[]).await;
    out.assert_failed_saying(&format!("cannot access project {PROJECT}"));
}

#[tokio::test]
async fn check_without_credentials_explains_what_to_set() {
    let out = run(&["check"], &[]).await;
    out.assert_failed_saying("CRUSOE_ACCESS_KEY_ID");
}

#[tokio::test]
async fn check_reads_crusoes_own_profile_file() {
    let server = crusoe_refusing_the_key().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crusoe-config");
    std::fs::write(
        &file,
        format!(
            "[default]\naccess_key_id = \"{}\"\nsecret_key = \"{SECRET}\"\ndefault_project = \"{PROJECT}\"\napi_endpoint = \"{}/v1\"\n",
            ACCESS_KEY,
            server.uri()
        ),
    )
    .unwrap();
    let out = run(&["check"], &[("IAL_CRUSOE_CONFIG", file.to_str().unwrap())]).await;
    // The request reached the endpoint named in the profile, signed with its key.
    out.assert_failed_saying("rejected the credentials");
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
    bad.assert_failed_saying("bridge.boot.ipxe_url");
    let script = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("IAL_IPXE_URL", ""), ("IAL_BOOT_MODE", "script")],
    )
    .await;
    script.assert_failed_saying("bridge.boot.startup_script_template");
}

#[tokio::test]
async fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ial.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisen = \"typo\"\n").unwrap();
    let out = run(&["--config", file.to_str().unwrap(), "serve"], &[]).await;
    out.assert_failed_saying("lisen");
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
    assert!(Harness::detail(&body).contains("/v1/nothing/here"));

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
    send_signal(&child, "TERM");
    let out = exit_within(child, Duration::from_secs(10), "serve stops on SIGTERM").await;
    assert_eq!(out.status.code(), Some(0));
}

#[cfg(unix)]
#[tokio::test]
async fn on_sigterm_a_request_in_flight_finishes_before_the_exit() {
    // Crusoe answers slowly, so the verify below is still in flight when SIGTERM comes.
    let sim = common::start_sim(common::slow_sim_config(1200)).await;
    let (child, addr, _home) =
        common::serve_process_with("", &[], &[("CRUSOE_API_ENDPOINT", &sim.endpoint())]).await;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let auth = serde_json::json!({"api_key": ACCESS_KEY, "secret": SECRET, "namespace": PROJECT});
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
    send_signal(&child, "TERM");
    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["data"]["valid"], true);
    let out = exit_within(child, Duration::from_secs(10), "serve stops on SIGTERM").await;
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
    let healthy = run_bin(&["healthcheck", "--listen", &addr], &[]).await;
    assert_eq!(healthy.code, 0, "{}", healthy.stderr);
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("0.0.0.0:{port}");
    let down = run_bin(&["healthcheck"], &[("IAL_LISTEN", &listen)]).await;
    assert_eq!(down.code, 1);
    assert!(down.stderr.starts_with("unhealthy: http://127.0.0.1:"));
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
    only_cert.assert_failed_saying("needs its key");
}

#[tokio::test]
async fn an_endpoint_under_v1alpha5_keeps_working_and_serve_and_check_say_to_move_once() {
    let sim = common::start_sim(common::quick_sim_config()).await;
    assert!(sim.endpoint().ends_with("/v1"), "{}", sim.endpoint());
    let legacy = sim.endpoint().replace("/v1", "/v1alpha5");

    let out = check(&legacy, &[]).await;
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "{stdout}{}", out.stderr);
    assert!(
        stdout.contains("note:") && stdout.contains("https://api.cloud.crusoe.ai/v1 "),
        "{stdout}"
    );
    let current = check(&sim.endpoint(), &[]).await;
    assert!(!current.stdout.contains("note:"), "{}", current.stdout);

    let (_child, addr, _home, lines) =
        common::serve_process_logged("", &[], &[("CRUSOE_API_ENDPOINT", &legacy)]).await;
    let advice: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("/v1alpha5 prefix"))
        .collect();
    assert_eq!(advice.len(), 1, "said once: {lines:#?}");
    assert!(advice[0].contains("\"level\":\"WARN\""), "{}", advice[0]);
    let auth = serde_json::json!({"api_key": ACCESS_KEY, "secret": SECRET, "namespace": PROJECT});
    let verify = serde_json::json!({"auth": auth, "request": null});
    let answer = common::post_json(&format!("http://{addr}/v1/auth/verify"), &verify).await;
    assert_eq!(answer["data"]["valid"], true, "{answer}");
    let calls = sim.sim.calls();
    assert_eq!(
        calls.get("GET /organizations/projects/{project_id}"),
        Some(&3),
        "both checks and serve's verify reached the simulator: {calls:?}"
    );
}
