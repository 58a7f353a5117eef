//! Coalesced provision-status reads, as Cycle sees them: a poll is never answered from a view
//! older than twice `bridge.status.refresh_ms`, and when Crusoe fails the refresh every poll that
//! waited on it gets the failure, with Crusoe asked once.

mod common;

use std::time::Duration;

use common::harness::{test_settings, Harness, CLIENT_ATTEMPTS, CYCLE_SERVER};
use crusoe_ial::sim::{Faults, SimConfig};
use serde_json::Value;

const REFRESH_MS: u64 = 100;
const LOCATION: &str = "us-east1-a";
const STATUS: &str = "/v1/infrastructure/server/provision-status";

/// A bridge reading coalesced every `REFRESH_MS`, and one server whose VM the view has read while
/// it was still being created and which has been running since.
async fn running_behind_an_old_view() -> (Harness, Value) {
    let mut settings = test_settings();
    settings.status.coalesce = true;
    settings.status.refresh_ms = REFRESH_MS;
    let sim = SimConfig {
        op_delay: Duration::from_millis(400),
        ..Default::default()
    };
    let h = Harness::start(sim, settings).await;
    let config = h.configure(LOCATION).await["configuration_latest"].clone();
    let provisioned = Harness::data(
        h.cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.4x", LOCATION, &config),
        )
        .await,
    );
    let status = Harness::status_request(
        provisioned["server_id"].as_str().unwrap(),
        LOCATION,
        &config,
        &provisioned["extra"],
    );
    let first = Harness::data(h.cycle(STATUS, status.clone()).await);
    assert_eq!(first["provisioned"], false, "{first}");
    assert_eq!(
        first["extra"]["vm_state"], "PROVISIONING",
        "read, not running yet: {first}"
    );
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if h.project()["vms"][0]["state"] == "STATE_RUNNING" {
            return (h, status);
        }
    }
    panic!("the VM never ran: {}", h.project());
}

#[tokio::test]
async fn a_poll_waits_for_the_refresh_in_flight_rather_than_answer_from_a_view_twice_the_interval_old(
) {
    let (h, status) = running_behind_an_old_view().await;
    // Crusoe turns slow: the next refresh takes a while, and a poll arrives during it.
    h.sim
        .sim
        .set_faults(Faults {
            latency_ms: 400,
            ..Default::default()
        })
        .unwrap();
    let (refreshing, during) = tokio::join!(h.cycle(STATUS, status.clone()), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        h.cycle(STATUS, status.clone()).await
    });
    for answer in [Harness::data(refreshing), Harness::data(during)] {
        assert_eq!(
            answer["provisioned"], true,
            "the view was read before the VM ran, long ago: {answer}"
        );
    }
}

#[tokio::test]
async fn when_the_refresh_fails_the_polls_that_waited_get_its_error_and_crusoe_is_asked_once() {
    let (h, status) = running_behind_an_old_view().await;
    h.sim
        .sim
        .set_faults(Faults {
            server_error_rate: 1.0,
            latency_ms: 200,
            ..Default::default()
        })
        .unwrap();
    h.sim.sim.reset_calls();
    let body = |status: &Value| {
        serde_json::to_vec(&serde_json::json!({"auth": h.auth, "request": status})).unwrap()
    };
    let (first, second) = tokio::join!(h.raw("POST", STATUS, Some(body(&status))), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.raw("POST", STATUS, Some(body(&status))).await
    });
    for (code, answer) in [first, second] {
        assert!(code >= 500, "an error, not an old answer: {code} {answer}");
        let detail = answer["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("listing the VMs"), "{detail}");
    }
    let calls: u64 = h.sim.sim.calls().values().sum();
    let attempts = u64::from(CLIENT_ATTEMPTS);
    assert!(
        calls <= attempts,
        "one refresh's attempts ({attempts}), not one per poll: {:?}",
        h.sim.sim.calls()
    );

    h.sim.sim.set_faults(Faults::default()).unwrap();
    let recovered = Harness::data(h.cycle(STATUS, status).await);
    assert_eq!(recovered["provisioned"], true, "{recovered}");
}
