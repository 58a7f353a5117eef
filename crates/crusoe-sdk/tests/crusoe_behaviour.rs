//! How the client behaves when Crusoe fails: errors sorted by kind, transient failures retried
//! within a deadline and signed afresh, permanent ones not retried, bad answers refused, bad ids
//! stopped before any request, and operations followed to their end.

mod common;

use std::time::{Duration, Instant};

use common::{client_for, fast_settings, fixture, SignedCorrectly, PROJECT, SECRET};
use crusoe_sdk::types::*;
use crusoe_sdk::{
    ClientSettings, Credentials, CrusoeClient, CrusoeError, OperationFamily, RetryPolicy,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The call most behaviours are shown on: `getInstance` of the test VM.
async fn get_vm(server: &MockServer) -> Result<Vm, CrusoeError> {
    client_for(server).project(PROJECT).vms().get(VM_ID).await
}

const VM_ID: &str = "ca39e669-47ee-456b-968d-303234fbf99f";
const OP_ID: &str = "F6EF489C-086E-458D-B812-7962964A28C9";

fn vm_path() -> String {
    format!("/v1/projects/{PROJECT}/compute/vms/instances/{VM_ID}")
}

fn op_path() -> String {
    format!("/v1/projects/{PROJECT}/compute/vms/instances/operations/{OP_ID}")
}

async fn answer_vm_with(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(vm_path()))
        .and(SignedCorrectly)
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

fn error(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(fixture(fixture_name))
}

#[tokio::test]
async fn rejected_credentials_are_bad_credentials_with_crusoes_error_id_and_not_retried() {
    let server = MockServer::start().await;
    answer_vm_with(&server, error(401, "error_bad_credential.json"), 1).await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(matches!(err, CrusoeError::BadCredentials(_)), "{err:?}");
    assert_eq!(err.error_id(), Some("c0ffee00-0000-4000-8000-000000000001"));
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn client_errors_are_sorted_by_kind_and_never_retried() {
    type IsKind = fn(&CrusoeError) -> bool;
    let cases: [(u16, &str, IsKind); 5] = [
        (404, "error_not_found.json", |e| e.is_not_found()),
        (409, "error_conflict.json", |e| {
            matches!(e, CrusoeError::Conflict(_))
        }),
        (400, "error_out_of_stock.json", |e| {
            matches!(e, CrusoeError::OutOfStock(_))
        }),
        (403, "error_not_found.json", |e| {
            matches!(e, CrusoeError::Forbidden(_))
        }),
        (422, "error_not_found.json", |e| {
            matches!(e, CrusoeError::BadRequest(_))
        }),
    ];
    for (status, body, is_expected_kind) in cases {
        let server = MockServer::start().await;
        answer_vm_with(&server, error(status, body), 1).await;
        let err = get_vm(&server).await.unwrap_err();
        assert!(is_expected_kind(&err), "{status}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_surfaced() {
    let server = MockServer::start().await;
    // fast_settings allows 3 attempts.
    answer_vm_with(&server, error(503, "error_internal.json"), 3).await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(matches!(err, CrusoeError::Server(_)), "{err:?}");
    assert_eq!(err.status(), Some(503));
}

#[tokio::test]
async fn a_transient_server_error_is_invisible_to_the_caller() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(vm_path()))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("vm.json")),
        1,
    )
    .await;
    let vm = get_vm(&server).await.unwrap();
    assert_eq!(vm.id, VM_ID);
}

#[tokio::test]
async fn not_implemented_is_not_retried() {
    let server = MockServer::start().await;
    answer_vm_with(&server, error(501, "error_internal.json"), 1).await;
    let err = get_vm(&server).await.unwrap_err();
    assert_eq!(err.status(), Some(501));
}

#[tokio::test]
async fn rate_limited_requests_are_retried_and_every_attempt_is_signed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(vm_path()))
        .and(SignedCorrectly)
        .respond_with(error(429, "error_too_many_requests.json"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("vm.json")),
        1,
    )
    .await;
    get_vm(&server).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.headers.contains_key("authorization")));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(vm_path()))
        .respond_with(error(429, "error_too_many_requests.json").insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("vm.json")),
        1,
    )
    .await;
    let started = Instant::now();
    get_vm(&server).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before Retry-After"
    );
}

#[tokio::test]
async fn persistent_rate_limiting_surfaces_as_rate_limited() {
    let server = MockServer::start().await;
    answer_vm_with(&server, error(429, "error_too_many_requests.json"), 3).await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(matches!(err, CrusoeError::RateLimited(_)), "{err:?}");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let server = MockServer::start().await;
    // Each attempt gives up after 500 ms (fast_settings); three attempts are made.
    answer_vm_with(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(fixture("vm.json"))
            .set_delay(Duration::from_secs(3)),
        3,
    )
    .await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(matches!(err, CrusoeError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn the_call_deadline_bounds_retries() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let settings = ClientSettings {
        attempt_timeout: Duration::from_millis(300),
        call_deadline: Duration::from_millis(800),
        retry: RetryPolicy {
            max_attempts: 20,
            backoff: crusoe_sdk::Backoff::jittered(
                Duration::from_millis(1),
                Duration::from_millis(2),
            ),
        },
        ..fast_settings(&format!("{}/v1", server.uri()))
    };
    let client = CrusoeClient::new(settings, common::credentials()).unwrap();
    let err = client.project(PROJECT).vms().get(VM_ID).await.unwrap_err();
    assert!(matches!(err, CrusoeError::Timeout(_)), "{err:?}");
    let attempts = server.received_requests().await.unwrap().len();
    assert!(
        (2..=4).contains(&attempts),
        "{attempts} attempts: the deadline, not max_attempts, should stop"
    );
}

#[tokio::test]
async fn no_connection_is_a_connect_error_after_retries() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = CrusoeClient::new(
        fast_settings(&format!("http://127.0.0.1:{port}/v1")),
        common::credentials(),
    )
    .unwrap();
    let err = client.list_locations().await.unwrap_err();
    assert!(matches!(err, CrusoeError::Connect(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response_and_not_retried() {
    let server = MockServer::start().await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(200).set_body_string("{\"id\": "),
        1,
    )
    .await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(matches!(err, CrusoeError::InvalidResponse(_)), "{err:?}");
    assert!(err.to_string().contains("get_vm"), "names the call: {err}");
}

#[tokio::test]
async fn an_answer_missing_a_required_field_is_an_invalid_response() {
    let server = MockServer::start().await;
    let mut vm = fixture("vm.json");
    vm.as_object_mut().unwrap().remove("state");
    answer_vm_with(&server, ResponseTemplate::new(200).set_body_json(vm), 1).await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(err.to_string().contains("state"), "{err}");
}

#[tokio::test]
async fn an_error_body_that_is_not_json_keeps_the_status_and_an_excerpt() {
    let server = MockServer::start().await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(400).set_body_string("upstream said no"),
        1,
    )
    .await;
    let err = get_vm(&server).await.unwrap_err();
    assert!(matches!(err, CrusoeError::BadRequest(_)));
    assert!(err.to_string().contains("upstream said no"));
}

#[tokio::test]
async fn ids_that_could_escape_their_path_segment_never_reach_crusoe() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let client = client_for(&server);
    for bad in [
        "../other", "a/b", "x?y=1", "x#y", "%2F", "a b", "", "a\r\nb",
    ] {
        let err = client.project(PROJECT).vms().get(bad).await.unwrap_err();
        assert!(matches!(err, CrusoeError::InvalidId(_)), "{bad:?}: {err:?}");
        let err = client.project(bad).vms().get(VM_ID).await.unwrap_err();
        assert!(matches!(err, CrusoeError::InvalidId(_)), "project {bad:?}");
        let err = client
            .project(PROJECT)
            .operations(OperationFamily::Disks)
            .get(bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err, CrusoeError::InvalidId(_)),
            "operation {bad:?}"
        );
    }
}

#[tokio::test]
async fn a_filter_value_with_a_comma_is_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .project(PROJECT)
        .vms()
        .list(&VmFilter::names(["a,b"]))
        .await
        .unwrap_err();
    assert!(matches!(err, CrusoeError::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn image_and_custom_image_together_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let request = CreateVmRequest {
        name: "x".into(),
        vm_type: "c1a.16x".into(),
        location: "us-east1-a".into(),
        ssh_public_key: "ssh-ed25519 AAAA".into(),
        image: Some("ubuntu22.04:latest".into()),
        custom_image: Some("e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b".into()),
        ..Default::default()
    };
    let err = client_for(&server)
        .project(PROJECT)
        .vms()
        .create(&request)
        .await
        .unwrap_err();
    assert!(matches!(err, CrusoeError::InvalidRequest(_)));
}

#[tokio::test]
async fn a_client_with_another_secret_is_not_accepted_by_the_signature_check() {
    let server = MockServer::start().await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("vm.json")),
        0,
    )
    .await;
    let wrong = Credentials::new(
        common::ACCESS_KEY,
        &SecretString::from("AAAAAAAAAAAAAAAAAAAAAA"),
    )
    .unwrap();
    let client = client_for(&server).with_credentials(wrong);
    // Nothing matches an unsigned or wrongly signed request: wiremock answers 404.
    assert!(client
        .project(PROJECT)
        .vms()
        .get(VM_ID)
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn pagination_stops_on_a_repeated_token() {
    let server = MockServer::start().await;
    let mut page = fixture("vms_page1.json");
    page["next_page_token"] = "same".into();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(2)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .project(PROJECT)
        .vms()
        .list(&VmFilter::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CrusoeError::InvalidResponse(_)), "{err:?}");
}

fn operation(state: &str, result: Option<serde_json::Value>) -> serde_json::Value {
    let mut op = json!({
        "operation_id": OP_ID,
        "state": state,
        "metadata": {"id": VM_ID},
        "started_at": "2024-06-01T10:00:00Z",
        "completed_at": ""
    });
    if let Some(result) = result {
        op["result"] = result;
    }
    op
}

fn in_progress() -> Operation {
    serde_json::from_value(operation("IN_PROGRESS", None)).unwrap()
}

#[tokio::test]
async fn the_waiter_polls_until_succeeded_and_returns_the_resource() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .and(SignedCorrectly)
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("IN_PROGRESS", None)))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("operation_vm_succeeded.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let done = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(in_progress())
        .wait(Duration::from_secs(5))
        .await
        .unwrap();
    let vm: Vm = done.result_as().unwrap();
    assert_eq!(vm.id, VM_ID);
    assert_eq!(vm.state, VmState::Running);
}

#[tokio::test]
async fn a_failed_operation_surfaces_crusoes_code_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("operation_failed_out_of_stock.json")),
        )
        .mount(&server)
        .await;
    let err = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(in_progress())
        .wait(Duration::from_secs(5))
        .await
        .unwrap_err();
    match &err {
        CrusoeError::OperationFailed {
            code,
            message,
            operation_id,
        } => {
            assert_eq!(code, "out_of_stock");
            assert!(message.contains("us-east1-a"));
            assert_eq!(operation_id, OP_ID);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_operation_that_never_finishes_stops_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("IN_PROGRESS", None)))
        .mount(&server)
        .await;
    let err = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(in_progress())
        .wait(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CrusoeError::OperationTimeout { .. }),
        "{err:?}"
    );
    let polls = server.received_requests().await.unwrap().len();
    // Intervals start at 5 ms and grow to 20 ms: far fewer polls than a fixed 5 ms would make.
    assert!((3..=30).contains(&polls), "{polls} polls");
}

#[tokio::test]
async fn an_unknown_operation_state_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("PAUSED", None)))
        .mount(&server)
        .await;
    let err = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(in_progress())
        .wait(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, CrusoeError::InvalidResponse(_)), "{err:?}");
}

#[tokio::test]
async fn an_expired_operation_is_forbidden() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"code": "forbidden", "message": "operation not found"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(in_progress())
        .wait(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, CrusoeError::Forbidden(_)), "{err:?}");
}

#[tokio::test]
async fn an_operation_already_finished_is_not_polled() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let done: Operation = serde_json::from_value(fixture("operation_vm_succeeded.json")).unwrap();
    client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(done)
        .wait(Duration::from_secs(5))
        .await
        .unwrap();
}

#[test]
fn no_debug_or_error_output_carries_the_secret() {
    let client = CrusoeClient::new(
        fast_settings("http://127.0.0.1:9/v1"),
        common::credentials(),
    )
    .unwrap();
    let debug = format!("{client:?} {:?}", common::credentials());
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("REDACTED"));
    let bad = Credentials::new("KEY", &SecretString::from("not*base64")).unwrap_err();
    assert!(!bad.to_string().contains("not*base64"));
}

fn vms_path() -> String {
    format!("/v1/projects/{PROJECT}/compute/vms/instances")
}

fn create_request() -> CreateVmRequest {
    CreateVmRequest {
        name: "cycle-x".into(),
        vm_type: "c1a.4x".into(),
        location: "us-east1-a".into(),
        ssh_public_key: "ssh-ed25519 AAAA".into(),
        image: Some("ubuntu22.04:latest".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_create_whose_outcome_is_unknown_is_not_sent_again() {
    // A 5xx after the request reached Crusoe, a timeout, a cut connection: it may have been done.
    for answer in [
        error(502, "error_internal.json"),
        ResponseTemplate::new(200)
            .set_body_json(fixture("operation_in_progress.json"))
            .set_delay(Duration::from_secs(2)),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(vms_path()))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        let err = client_for(&server)
            .project(PROJECT)
            .vms()
            .create(&create_request())
            .await
            .unwrap_err();
        match err {
            CrusoeError::OutcomeUnknown { operation, .. } => assert_eq!(operation, "create_vm"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_create_crusoe_refused_with_429_is_sent_again_and_reads_and_deletes_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(vms_path()))
        .respond_with(error(429, "error_too_many_requests.json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(vms_path()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("operation_in_progress.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let _pending = client
        .project(PROJECT)
        .vms()
        .create(&create_request())
        .await
        .unwrap();

    Mock::given(method("DELETE"))
        .and(path(vm_path()))
        .respond_with(error(502, "error_internal.json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(vm_path()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("operation_in_progress.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let _pending = client.project(PROJECT).vms().delete(VM_ID).await.unwrap();
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = MockServer::start().await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let date = at
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    Mock::given(method("GET"))
        .and(path(vm_path()))
        .respond_with(
            error(429, "error_too_many_requests.json").insert_header("retry-after", date.as_str()),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    answer_vm_with(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("vm.json")),
        1,
    )
    .await;
    let started = Instant::now();
    get_vm(&server).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retried before the Retry-After date ({date})"
    );
}

#[tokio::test]
async fn a_pending_operation_is_waited_on_like_one_in_progress() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("PENDING", None)))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(op_path()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(operation("SUCCEEDED", Some(fixture("vm.json")))),
        )
        .mount(&server)
        .await;
    let done = client_for(&server)
        .project(PROJECT)
        .operations(OperationFamily::Vms)
        .pending(in_progress())
        .wait(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.state, OperationState::Succeeded);
}

#[tokio::test]
async fn a_vm_without_addresses_and_an_operation_without_completed_at_do_not_fail_a_read() {
    // Optional in client-go (pointers) and the packer plugin (omitempty): one VM without them
    // must not fail the whole list, and with it gc and the status view.
    let server = MockServer::start().await;
    let mut page = fixture("vms_page1.json");
    page["next_page_token"] = json!("");
    let mut bare = page["items"][0].clone();
    bare["id"] = json!("0b7a3c1e-7a7e-4b8e-9d1c-2f4e5a6b7c8d");
    bare["name"] = json!("cycle-bare");
    bare["network_interfaces"][0]["ips"] = json!([{}]);
    page["items"].as_array_mut().unwrap().push(bare);
    Mock::given(method("GET"))
        .and(path(vms_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    let vms = client_for(&server)
        .project(PROJECT)
        .vms()
        .list(&VmFilter::default())
        .await
        .unwrap();
    assert_eq!(vms.len(), 2);
    assert!(vms[1].public_ipv4().is_none() && vms[1].private_ipv4().is_none());

    let mut op = operation("IN_PROGRESS", None);
    op.as_object_mut().unwrap().remove("completed_at");
    let op: Operation = serde_json::from_value(op).unwrap();
    assert_eq!(op.completed_at, None);
}
