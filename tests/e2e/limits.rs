//! The limits that keep one caller from exhausting the bridge: header count and size (431 in
//! Cycle's shape), slow clients cut off after the header read timeout (on the real `serve`
//! process, whose HTTP server enforces it), and a per-tenant rate limit (429 with Retry-After)
//! that leaves other hubs unaffected. Body size, concurrency and request time are in
//! observability.rs and bridge_input.rs.

use crate::common;

use std::time::{Duration, Instant};

use common::harness::{test_settings, Harness};
use common::{quick_sim_config, serve_process};
use crusoe_ial::config::BridgeSettings;
use crusoe_ial::ial::IalOptions;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post_with_headers(url: &str, body: &Value, headers: &[(String, String)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/v1/infrastructure/provider/locations"))
        .json(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_a_cycle_shaped_431() {
    let options = IalOptions {
        max_headers: 16,
        max_header_bytes: 2048,
        ..Default::default()
    };
    let h = Harness::start_with(quick_sim_config(), test_settings(), options).await;
    let body = json!({"auth": h.auth, "request": null});

    let many: Vec<(String, String)> = (0..20).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let (status, answer) = post_with_headers(&h.url, &body, &many).await;
    assert_eq!(status, 431, "{answer}");
    assert_eq!(answer["error"]["code"], "431.headers-too-large");
    assert!(Harness::detail(&answer).contains("at most 16"));

    let large = vec![("x-large".to_string(), "a".repeat(3000))];
    let (status, answer) = post_with_headers(&h.url, &body, &large).await;
    assert_eq!(status, 431, "{answer}");
    assert!(Harness::detail(&answer).contains("at most 2048"));

    // Within the limits the same call is served.
    let few = vec![("x-fine".to_string(), "a".repeat(100))];
    assert_eq!(post_with_headers(&h.url, &body, &few).await.0, 200);
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after_and_other_hubs_are_served() {
    let settings = BridgeSettings {
        rate_limit: crusoe_ial::core::settings::RateLimitSettings {
            per_second: 1,
            burst: 3,
        },
        ..test_settings()
    };
    let h = Harness::start(quick_sim_config(), settings).await;
    let path = "/v1/infrastructure/provider/locations";
    for _ in 0..3 {
        assert_eq!(h.cycle(path, Value::Null).await.0, 200, "within the burst");
    }
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", h.url))
        .json(&json!({"auth": h.auth, "request": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    let retry_after: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "429.rate-limited");

    // Another hub with the same credentials has its own allowance.
    let mut other = h.auth.clone();
    other["cycle"]["hub_id"] = json!("0123456789abcdef01234567");
    assert_eq!(h.cycle_as(&other, path, Value::Null).await.0, 200);

    // The allowance refills at the configured rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.cycle(path, Value::Null).await.0, 200);
}

/// The server still answers a well-behaved client.
async fn still_serves(addr: &str) {
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_disconnected() {
    let (_child, addr, _dir) = serve_process("header_read_timeout_secs = 1\n").await;
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/auth/verify HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server closes the connection (possibly after a 408); the read ends either way.
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "still connected after 5 s");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "cut off after about the 1 s timeout: {waited:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // A client that sends promptly on another connection is still served.
    still_serves(&addr).await;
}

#[tokio::test]
async fn the_http_server_refuses_a_flood_of_headers_before_reading_a_body() {
    // Far above the router's limit: the HTTP server's own cap answers, and nothing crashes.
    let (_child, addr, _dir) = serve_process("max_headers = 8\n").await;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut request = String::from("POST /v1/auth/verify HTTP/1.1\r\nhost: x\r\n");
    for i in 0..200 {
        request.push_str(&format!("x-h{i}: v\r\n"));
    }
    request.push_str("content-length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    still_serves(&addr).await;
}

#[tokio::test]
async fn callers_that_trickle_their_bodies_are_cut_off_and_never_crowd_out_a_real_call() {
    let sim = common::start_sim(quick_sim_config()).await;
    let (_child, addr, _dir) = common::serve_process_with(
        "max_in_flight = 16\nbody_read_timeout_secs = 2\n",
        &[],
        &[("CRUSOE_API_ENDPOINT", &sim.endpoint())],
    )
    .await;
    // Far more slow callers than requests allowed in flight: each announces 100 000 bytes and
    // sends one every 400 ms.
    let started = Instant::now();
    let slow: Vec<_> = (0..100)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
                s.write_all(
                    b"POST /v1/infrastructure/server/provision-status HTTP/1.1\r\nhost: x\r\n\
                      content-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
                )
                .await
                .unwrap();
                let (mut read, mut write) = s.into_split();
                let trickle = tokio::spawn(async move {
                    while write.write_all(b" ").await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                    }
                });
                let mut answer = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut answer))
                        .await;
                trickle.abort();
                (
                    started.elapsed(),
                    String::from_utf8_lossy(&answer).to_string(),
                )
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Meanwhile Cycle's own calls are answered as usual.
    let auth = json!({"api_key": common::ACCESS_KEY, "secret": common::SECRET, "namespace": common::PROJECT,
                      "cycle": {"hub_name": "h", "hub_id": "65f1e2d3c4b5a69788796a5b"}});
    for _ in 0..3 {
        let asked = Instant::now();
        let (status, body) = post_with_headers(
            &format!("http://{addr}"),
            &json!({"auth": auth, "request": null}),
            &[],
        )
        .await;
        assert_eq!(status, 200, "a real call during the attack: {body}");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
    }

    for task in slow {
        let (when, answer) = task.await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "a trickled body gets 408: {answer:?}"
        );
        assert!(
            answer.contains("408.body-timeout"),
            "in Cycle's shape: {answer}"
        );
        assert!(
            when >= Duration::from_millis(1900) && when < Duration::from_secs(5),
            "cut off after about the 2 s body timeout: {when:?}"
        );
    }
    still_serves(&addr).await;
}
