//! Batched provision-status reads work whether Crusoe's list-VMs `names` filter takes several names
//! or one, and only the second costs a fallback to whole-project listings, which is counted.
//!
//! A test binary of its own: the test reads the process-wide metrics recorder and asserts that the
//! fallback counter did not move while one bridge ran. Any bridge in the same process whose
//! batched reads miss a VM bumps that counter (`tests/e2e/bridge_status_reads.rs` runs such
//! bridges on purpose, against a simulator whose filter takes one name), so no other test may
//! run beside it.

mod common;

use std::time::Duration;

use common::harness::Harness;

const LOCATION: &str = "us-east1-a";
const STATUS: &str = "/v1/infrastructure/server/provision-status";

fn names_filter_fallbacks() -> f64 {
    crusoe_ial::telemetry::metrics::render()
        .lines()
        .find_map(|l| l.strip_prefix("bridge_status_names_filter_fallbacks_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Three servers polled together until provisioned, against a simulator that reads `names` as
/// a list (as Crusoe's OpenAPI says) or as one exact name (which no Crusoe client rules out).
async fn three_servers_provisioned(names_match_one: bool) {
    let h = Harness::start_coalescing(50, names_match_one).await;
    let config = h.configure(LOCATION).await["configuration_latest"].clone();
    let mut polls = Vec::new();
    for cycle_server in [
        "5f1e2d3c4b5a69788796a5c1",
        "5f1e2d3c4b5a69788796a5c2",
        "5f1e2d3c4b5a69788796a5c3",
    ] {
        let p = Harness::data(
            h.cycle(
                "/v1/infrastructure/server/provision",
                Harness::provision_request(cycle_server, "c1a.4x", LOCATION, &config),
            )
            .await,
        );
        polls.push(Harness::status_request(
            p["server_id"].as_str().unwrap(),
            LOCATION,
            &config,
            &p["extra"],
        ));
    }
    let mut done = [false; 3];
    for _ in 0..200 {
        for (i, poll) in polls.iter().enumerate() {
            let (status, answer) = h.cycle(STATUS, poll.clone()).await;
            assert_eq!(status, 200, "never reported gone: {answer}");
            done[i] |= answer["data"]["provisioned"] == true;
        }
        if done.iter().all(|d| *d) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not all provisioned: {done:?}");
}

#[tokio::test]
async fn batched_reads_work_whether_crusoe_takes_several_names_or_one() {
    let before = names_filter_fallbacks();
    three_servers_provisioned(false).await;
    assert_eq!(
        names_filter_fallbacks(),
        before,
        "a names filter that takes several needs no fallback"
    );
    three_servers_provisioned(true).await;
    assert!(
        names_filter_fallbacks() > before,
        "a names filter that takes one name is noticed and counted"
    );
}
