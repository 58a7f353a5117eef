//! How the client behaves when things go wrong: error bodies of every shape keep their status and
//! sort into kinds; idempotent calls are retried on transient failures, POSTs are not repeated
//! once sent; a lost create is an unknown outcome; a DELETE whose first answer was lost accepts a
//! later 404; secrets never reach Debug or Display; each attempt is measured.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cloudsigma_sdk::types::*;
use cloudsigma_sdk::{Client, CloudSigmaError, Credentials, ErrorKind};
use common::*;
use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn server_path() -> String {
    api(&format!("servers/{SERVER_UUID}/"))
}

#[tokio::test]
async fn the_documented_error_array_is_read_with_its_point_and_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("subscriptions/")))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("X-REQUEST-ID", "req-42")
                .set_body_json(json!([{"error_type": "validation",
                    "error_message": "This field is required", "error_point": "resource"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .subscriptions()
        .create(&[NewSubscription::default()])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.request_id(), Some("req-42"));
    assert_eq!(err.message(), "This field is required");
    let api = err.api().unwrap();
    assert_eq!(api.errors[0].error_point.as_deref(), Some("resource"));
    assert!(err.to_string().contains("(at resource)"), "{err}");
}

#[tokio::test]
async fn a_401_without_json_keeps_its_status_and_is_unauthorized_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("profile/")))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", "Digest realm=\"users\"")
                .set_body_string("<html><body>Authorization Required</body></html>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server).profile().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.message().contains("Authorization Required"), "{err}");
    assert!(!err.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn a_402_is_insufficient_funds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api(&format!("servers/{SERVER_UUID}/action/"))))
        .respond_with(
            ResponseTemplate::new(402).set_body_json(json!([{"error_type": "billing",
            "error_message": "Not enough funds", "error_point": null}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .servers()
        .action(SERVER_UUID, ServerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientFunds);
}

#[tokio::test]
async fn a_404_is_not_found_and_a_403_on_an_action_is_forbidden() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(server_path()))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!([{"error_type": "notexist",
            "error_message": "Object does not exist", "error_point": null}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api(&format!("servers/{SERVER_UUID}/action/"))))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!([{"error_type": "permission",
            "error_message": "Cannot start guest in state \"started\"", "error_point": null}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let err = client.servers().get(SERVER_UUID).await.unwrap_err();
    assert!(err.is_not_found());
    let err = client
        .servers()
        .action(SERVER_UUID, ServerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}

#[tokio::test]
async fn a_503_on_a_get_is_retried_until_it_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(server_path()))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!([{"error_type": "backend",
            "error_message": "temporarily unavailable", "error_point": null}])),
        )
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(server_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("server_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    let s = client_for(&server)
        .servers()
        .get(SERVER_UUID)
        .await
        .unwrap();
    assert_eq!(s.status, "running");
}

#[tokio::test]
async fn a_concurrency_error_on_a_put_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(server_path()))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(json!([{"error_type": "concurrency",
            "error_message": "conflicting operation", "error_point": null}])),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(server_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("server_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .servers()
        .update(SERVER_UUID, &fixture("server_running.json"))
        .await
        .unwrap();
}

#[tokio::test]
async fn retries_stop_after_max_attempts_with_the_last_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(server_path()))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!([{"error_type": "backend",
            "error_message": "unknown error", "error_point": null}])),
        )
        .expect(3)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .servers()
        .get(SERVER_UUID)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.message(), "unknown error");
}

#[tokio::test]
async fn a_503_on_an_action_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api(&format!("servers/{SERVER_UUID}/action/"))))
        .and(query_param("do", "start"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!([{"error_type": "backend",
            "error_message": "no capacity", "error_point": null}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .servers()
        .action(SERVER_UUID, ServerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(seen(&server).await.len(), 1);
}

#[tokio::test]
async fn a_create_answered_by_a_gateway_error_is_an_unknown_outcome_sent_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("drives/")))
        .respond_with(ResponseTemplate::new(504).set_body_string("<html>Gateway Time-out</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .drives()
        .create(&NewDrive {
            name: "cycle-s1-data".into(),
            size: 1 << 30,
            media: "disk".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert!(err.to_string().contains("cycle-s1-data"), "{err}");
}

/// A server that reads one whole HTTP request per connection, counts it, and hangs up without
/// answering: the request was sent and its answer lost.
async fn hang_up_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            counted.fetch_add(1, Ordering::SeqCst);
                            let _ = socket.shutdown().await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn a_create_whose_connection_is_cut_after_sending_is_an_unknown_outcome_sent_once() {
    let (base, count) = hang_up_server().await;
    let client = Client::new(fast_settings(&base), basic()).unwrap();
    let server = NewServer {
        name: "cycle-s9".into(),
        cpu: 2000,
        mem: 1 << 30,
        smp: 1,
        vnc_password: SecretString::from("vnc-fixture-secret"),
        ..Default::default()
    };
    let err = client.servers().create(&server).await.unwrap_err();
    assert!(
        matches!(err, CloudSigmaError::OutcomeUnknown { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cycle-s9"), "{err}");
    assert!(!err.to_string().contains("vnc-fixture-secret"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the create is never sent twice"
    );

    // The same loss on a GET is retried, up to max_attempts.
    let err = client.servers().get(SERVER_UUID).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count.load(Ordering::SeqCst), 1 + 3);
}

#[tokio::test]
async fn an_action_whose_connection_is_cut_is_a_transport_error_sent_once() {
    let (base, count) = hang_up_server().await;
    let client = Client::new(fast_settings(&base), basic()).unwrap();
    let err = client
        .servers()
        .action(SERVER_UUID, ServerAction::Stop)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_create_that_cannot_connect_is_retried_and_is_a_transport_error() {
    // Nothing listens on a port just freed: the request never left, so retrying it is safe
    // and the outcome is known (nothing was made).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(fast_settings(&format!("http://{addr}")), basic()).unwrap();
    let err = client.tags().create("cycle-ial", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
}

#[tokio::test]
async fn a_delete_answered_404_after_a_retried_5xx_is_done() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("drives/{DRIVE_UUID}/"))))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("drives/{DRIVE_UUID}/"))))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!([{"error_type": "notexist",
            "error_message": "Object does not exist", "error_point": null}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .drives()
        .delete(DRIVE_UUID)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_delete_answered_404_at_once_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(server_path()))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .servers()
        .delete(SERVER_UUID, Recurse::None)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn a_non_json_success_body_is_a_decode_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("profile/")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server).profile().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
}

#[test]
fn debug_of_credentials_new_server_and_server_shows_no_secret() {
    let creds = basic();
    let shown = format!("{creds:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains(USER));
    let shown = format!("{:?}", token());
    assert!(!shown.contains(TOKEN), "{shown}");
    let shown = format!(
        "{:?}",
        Credentials::basic("u", SecretString::from("hunter2"))
    );
    assert!(!shown.contains("hunter2"));

    let new = NewServer {
        name: "n".into(),
        vnc_password: SecretString::from("vnc-fixture-secret"),
        ..Default::default()
    };
    assert!(!format!("{new:?}").contains("vnc-fixture-secret"));
    // The request body must carry it all the same.
    assert_eq!(
        serde_json::to_value(&new).unwrap()["vnc_password"],
        "vnc-fixture-secret"
    );

    let server: Server = serde_json::from_value(fixture("server_running.json")).unwrap();
    let shown = format!("{server:?}");
    assert!(!shown.contains("fixture-vnc-secret"), "{shown}");
    assert!(shown.contains("cpu_type"), "other fields are shown");
}

mod metrics_capture {
    //! A recorder that keeps the keys of what was recorded, installed for one thread.
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    #[derive(Clone, Default)]
    pub struct Keys(pub Arc<Mutex<Vec<String>>>);

    impl Keys {
        fn push(&self, kind: &str, key: &Key) {
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            self.0
                .lock()
                .unwrap()
                .push(format!("{kind} {} {}", key.name(), labels.join(",")));
        }
    }

    impl Recorder for Keys {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.push("counter", key);
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.push("gauge", key);
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            self.push("histogram", key);
            Histogram::noop()
        }
    }
}

#[test]
fn each_attempt_is_counted_and_timed_with_ids_out_of_the_route() {
    let keys = metrics_capture::Keys::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&keys, || {
        runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path(api(&format!("servers/{SERVER_UUID}/action/"))))
                .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
                .mount(&server)
                .await;
            client_for(&server)
                .servers()
                .action(SERVER_UUID, ServerAction::Start)
                .await
                .unwrap();
        })
    });
    let got = keys.0.lock().unwrap().clone();
    let route = "route=servers/{uuid}/action/?do=start";
    assert!(
        got.iter().any(|k| k
            == &format!(
                "counter {} method=POST,{route},status=202",
                cloudsigma_sdk::metric_names::REQUESTS_TOTAL
            )),
        "{got:?}"
    );
    assert!(
        got.iter().any(|k| k
            == &format!(
                "histogram {} method=POST,{route}",
                cloudsigma_sdk::metric_names::REQUEST_DURATION_SECONDS
            )),
        "{got:?}"
    );
    assert!(!got.iter().any(|k| k.contains(SERVER_UUID)));
}
