//! Coalesced provision-status reads, as Cycle sees them: stale while revalidate. The poll that
//! finds the view `bridge.status.refresh_ms` old reads Crusoe for everyone and answers from that
//! read (or with its error); polls arriving meanwhile answer from the previous view at once, so a
//! slow or failing Crusoe never holds Cycle's polls. (Holding them instead, to bound the view's
//! age, piled up thousands of waiting polls at 10 000 servers, where one refresh takes longer
//! than the interval: see BENCHMARKS.md.) That batched reads work whichever way Crusoe reads its
//! `names` filter is checked in a process of its own: `tests/names_filter_fallbacks.rs`.

use crate::common;

use std::time::Duration;

use common::harness::{test_settings, Harness, CLIENT_ATTEMPTS, CYCLE_SERVER};
use crusoe_sim::{Faults, SimConfig};
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
async fn during_a_slow_refresh_polls_answer_from_the_previous_view_and_the_reading_poll_gets_the_news(
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
    let (reading, during) = tokio::join!(h.cycle(STATUS, status.clone()), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        h.cycle(STATUS, status.clone()).await
    });
    // Whichever poll found the view stale first read Crusoe; the other did not wait for it.
    let mut answers = [Harness::data(reading), Harness::data(during)];
    answers.sort_by_key(|a| a["provisioned"] == true);
    assert_eq!(
        (&answers[0]["provisioned"], &answers[1]["provisioned"]),
        (&Value::Bool(false), &Value::Bool(true)),
        "one poll read Crusoe, the other answered from the previous view meanwhile: {answers:?}"
    );
    let next = Harness::data(h.cycle(STATUS, status).await);
    assert_eq!(
        next["provisioned"], true,
        "the read replaced the view: {next}"
    );
}

#[tokio::test]
async fn a_failed_refresh_is_the_reading_polls_error_and_crusoe_is_asked_once_not_per_poll() {
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
    // Whichever poll found the view stale first made the read and gets its failure; the other
    // answered from the previous view.
    let mut answers = [first, second];
    answers.sort_by_key(|(code, _)| *code);
    let [(ok, during), (code, reading)] = answers;
    assert!(
        code >= 500,
        "the reading poll gets Crusoe's failure: {code} {reading}"
    );
    let detail = reading["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("listing the VMs"), "{detail}");
    assert_eq!(
        (ok, &during["data"]["provisioned"]),
        (200, &Value::Bool(false)),
        "{during}"
    );
    let calls: u64 = h.sim.sim.calls().values().sum();
    let attempts = u64::from(CLIENT_ATTEMPTS);
    assert!(
        calls <= attempts,
        "one refresh's attempts ({attempts}), not one read per poll: {:?}",
        h.sim.sim.calls()
    );

    h.sim.sim.set_faults(Faults::default()).unwrap();
    let recovered = Harness::data(h.cycle(STATUS, status).await);
    assert_eq!(recovered["provisioned"], true, "{recovered}");
}

/// Polls for `names` (servers that do not exist), `at_once` at a time; each answered 404.
async fn poll_unknown(h: &Harness, config: &Value, names: &[String], at_once: usize) {
    for chunk in names.chunks(at_once) {
        let answers = futures::future::join_all(chunk.iter().map(|name| {
            h.cycle(
                STATUS,
                Harness::status_request(name, LOCATION, config, &serde_json::json!({})),
            )
        }))
        .await;
        for (status, answer) in answers {
            assert_eq!(status, 404, "{answer}");
        }
    }
}

fn crusoe_calls(h: &Harness) -> u64 {
    h.sim.sim.calls().values().sum()
}

async fn unknown_names_cost_little(names_match_one: bool) {
    let h = Harness::start_coalescing(REFRESH_MS, names_match_one).await;
    let real = h.provision_ready("c1a.4x", LOCATION).await;
    let real_poll = Harness::status_request(
        &real.server_id,
        LOCATION,
        &real.config,
        &real.provisioned["extra"],
    );
    let unknown = |from: usize, n: usize| -> Vec<String> {
        (from..from + n)
            .map(|i| format!("cycle-{i:0>24x}"))
            .collect()
    };
    // A hub that has polled hundreds of servers that do not exist.
    poll_unknown(&h, &real.config, &unknown(0, 300), 50).await;

    // One more, once the view is due for a refresh: a few calls, not one per name seen before.
    tokio::time::sleep(Duration::from_millis(REFRESH_MS + 20)).await;
    let before = crusoe_calls(&h);
    poll_unknown(&h, &real.config, &unknown(1000, 1), 1).await;
    let one = crusoe_calls(&h) - before;
    assert!(
        one <= 3,
        "one poll of an unknown name cost {one} Crusoe calls: {:?}",
        h.sim.sim.calls()
    );

    // The same names again, at once: remembered as unknown, they cost no read of their own.
    let before = crusoe_calls(&h);
    poll_unknown(&h, &real.config, &unknown(0, 300), 100).await;
    let again = crusoe_calls(&h) - before;
    assert!(
        again <= 3,
        "300 polls of known-unknown names cost {again} calls"
    );

    // A hundred new ones at once: a batch read per twenty names at most, plus shared listings.
    let before = crusoe_calls(&h);
    poll_unknown(&h, &real.config, &unknown(2000, 100), 100).await;
    let storm = crusoe_calls(&h) - before;
    assert!(storm <= 10, "100 new unknown names cost {storm} calls");

    // And the real server is still reported, from the same view.
    let answer = Harness::data(h.cycle(STATUS, real_poll).await);
    assert_eq!(answer["provisioned"], true, "{answer}");
}

#[tokio::test]
async fn polls_for_servers_that_do_not_exist_cost_a_few_crusoe_calls_however_many_came_before() {
    unknown_names_cost_little(false).await;
    unknown_names_cost_little(true).await;
}

/// Once a server's one VM has been read by name, the view reads it by its id, which Crusoe's own
/// autoscaler sends several at a time: a Crusoe whose `names` filter takes one name only no longer
/// costs a listing of the whole project at every refresh.
#[tokio::test]
async fn polled_servers_are_read_by_id_once_their_vm_is_known() {
    for names_match_one in [false, true] {
        let h = Harness::start_coalescing(50, names_match_one).await;
        let config = h.configure(LOCATION).await["configuration_latest"].clone();
        let mut polls = Vec::new();
        for cycle_server in ["5f1e2d3c4b5a69788796a5d1", "5f1e2d3c4b5a69788796a5d2"] {
            let p = Harness::data(
                h.cycle(
                    "/v1/infrastructure/server/provision",
                    Harness::provision_request(cycle_server, "c1a.4x", LOCATION, &config),
                )
                .await,
            );
            let id = p["server_id"].as_str().unwrap().to_string();
            h.wait_provisioned(&id, LOCATION, &config, &p["extra"])
                .await;
            polls.push(Harness::status_request(&id, LOCATION, &config, &p["extra"]));
        }
        // Steady polling, as Cycle does until it stops: a refresh every 50 ms.
        let before = h.sim.sim.vm_lists();
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            for poll in &polls {
                let answer = Harness::data(h.cycle(STATUS, poll.clone()).await);
                assert_eq!(answer["provisioned"], true, "{answer}");
            }
        }
        let after = h.sim.sim.vm_lists();
        let grew = |k: &str| after.get(k).unwrap_or(&0) - before.get(k).unwrap_or(&0);
        assert!(
            grew("ids") >= 5,
            "names_match_one {names_match_one}: {after:?}"
        );
        assert_eq!(
            (grew("names"), grew("unfiltered")),
            (0, 0),
            "names_match_one {names_match_one}: refreshes read by id only: {before:?} → {after:?}"
        );
    }
}
