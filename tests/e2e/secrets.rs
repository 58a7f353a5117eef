//! Where a secret could slip out besides the logs (covered in observability.rs): `Debug` output of
//! Cycle's `auth`, a panic that formats a request, error answers to Cycle and the metrics text.

use crate::common;

use common::harness::{test_settings, Harness};
use common::{quick_sim_config, SECRET};
use crusoe_ial::ial::request::{decode, Wrapping};
use crusoe_ial::ial::types::{Auth, ProvisionServer};
use serde_json::{json, Value};

const CYCLE_SECRET: &str = "cycle-sent-secret-0123456789";
const CYCLE_KEY: &str = "cycle-sent-api-key-abcdef";

#[test]
fn debug_output_of_a_decoded_call_redacts_its_credentials() {
    let body = json!({
        "auth": {"api_key": CYCLE_KEY, "secret": CYCLE_SECRET, "config": "c2VjcmV0LWNvbmZpZw==", "namespace": "p"},
        "request": {"hostname": "h", "model_id": "m", "location_id": "l", "cycle": {"server_id": "s"}}
    });
    let call =
        decode::<ProvisionServer>(&serde_json::to_vec(&body).unwrap(), Wrapping::Required).unwrap();
    let shown = format!("{call:?} {:#?}", call.auth);
    for secret in [CYCLE_KEY, CYCLE_SECRET, "c2VjcmV0LWNvbmZpZw=="] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("REDACTED"));
    // Fields that are not secret stay visible for debugging.
    assert!(shown.contains("\"p\""), "{shown}");
}

#[test]
fn a_panic_that_formats_the_auth_shows_no_secret() {
    let mut auth = Auth::default();
    auth.secret = Some(CYCLE_SECRET.into());
    auth.api_key = Some(CYCLE_KEY.into());
    let message = std::panic::catch_unwind(|| panic!("handler failed for {auth:?}"))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(
        !message.contains(CYCLE_SECRET) && !message.contains(CYCLE_KEY),
        "{message}"
    );
}

fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop + ?Sized>() {}

#[test]
fn every_type_holding_a_secret_wipes_it_when_dropped() {
    // Compile-time: each of these overwrites its secret bytes in Drop. For Auth the marker comes
    // from zeroize's derive, which writes that Drop: a hand-written marker no longer compiles
    // beside it, and removing the derive fails here.
    zeroized_on_drop::<Auth>();
    zeroized_on_drop::<secrecy::SecretString>();
    zeroized_on_drop::<secrecy::SecretSlice<u8>>();
    // What Auth's Drop runs: the credentials are overwritten and gone, the rest kept.
    let mut auth = Auth::default();
    auth.secret = Some(CYCLE_SECRET.into());
    auth.api_key = Some(CYCLE_KEY.into());
    auth.config = Some("c2VjcmV0".into());
    auth.namespace = Some("project".into());
    auth.wipe();
    assert_eq!(
        (
            auth.secret.as_deref(),
            auth.api_key.as_deref(),
            auth.config.as_deref()
        ),
        (None, None, None)
    );
    assert_eq!(auth.namespace.as_deref(), Some("project"));
}

#[tokio::test]
async fn error_answers_and_metrics_never_echo_the_secret() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    // Wrong secret, malformed secret, secret in a field of the wrong type, and a failing call.
    let mut wrong = h.auth.clone();
    wrong["secret"] = json!(CYCLE_SECRET);
    let mut malformed = h.auth.clone();
    malformed["secret"] = json!(format!("{CYCLE_SECRET}!!not base64"));
    let mut typed = h.auth.clone();
    typed["namespace"] = json!({"nested": SECRET});
    let mut answers: Vec<Value> = Vec::new();
    for auth in [&wrong, &malformed, &typed, &h.auth] {
        for path in [
            "/v1/infrastructure/provider/server-models",
            "/v1/infrastructure/server/provision",
        ] {
            let request = if path.ends_with("provision") {
                json!({"hostname": SECRET, "model_id": "x", "location_id": "y", "cycle": {"server_id": "s"}})
            } else {
                Value::Null
            };
            answers.push(h.cycle_as(auth, path, request).await.1);
        }
    }
    let text = format!(
        "{} {}",
        serde_json::to_string(&answers).unwrap(),
        reqwest::get(format!("{}/metrics", h.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    );
    assert!(
        answers.iter().any(|a| !a["error"].is_null()),
        "errors were answered"
    );
    for secret in [SECRET, CYCLE_SECRET] {
        assert!(!text.contains(secret), "{secret} echoed: {text}");
    }
}
