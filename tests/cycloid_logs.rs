//! What an operator sees when Cycloid will not take the story: drops counted by cause in
//! `/metrics`, one log line per cause (not one per event), and never the Cycloid key.
//!
//! A test binary of its own, with one test: it installs the process's global tracing subscriber
//! and counts the lines every test in the process logs ("logged once" is exactly one line), so
//! the lines counted must be its own; beside other tests it would count theirs, and a second
//! global subscriber cannot be installed (`tests/lifecycle_logs.rs` has its own process too).

mod common;

use std::time::Duration;

use base64::Engine;
use common::harness::{test_settings, Harness};
use common::logs::Captured;
use common::quick_sim_config;
use cycloid_sim::{Behaviour, CycloidSim, RunningCycloid};

const ORG: &str = "acme-gpu";
const KEY: &str = "cy-key-the-right-one-0042";
const WRONG_KEY: &str = "cy-key-revoked-but-still-secret-9981";
const HUB_KEY: &str = "cy-key-a-hubs-own-revoked-7777";

fn dropped_lines(logs: &Captured, cause: &str) -> usize {
    logs.text()
        .lines()
        .filter(|l| {
            l.contains("a Cycloid delivery was dropped")
                && l.contains(&format!("\"cause\":\"{cause}\""))
        })
        .count()
}

fn metric(text: &str, cause: &str) -> f64 {
    let series = format!("ial_cycloid_dropped_total{{cause=\"{cause}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} is not in /metrics:\n{text}"))
}

async fn restarts(h: &Harness, server_id: &str, n: usize) {
    for _ in 0..n {
        Harness::data(h.server_call("restart", server_id, "us-east1-a").await);
    }
}

#[tokio::test]
async fn drops_are_counted_by_cause_logged_once_each_and_the_key_is_never_shown() {
    let logs = Captured::global_json_debug();
    let cy = RunningCycloid::start(CycloidSim::new(ORG, KEY))
        .await
        .unwrap();

    // A revoked key: every delivery is refused.
    let mut settings = test_settings();
    settings.cycloid.organization = Some(ORG.into());
    settings.cycloid.api_key = Some(WRONG_KEY.to_string().into());
    settings.cycloid.url = cy.url();
    let h = Harness::start(quick_sim_config(), settings.clone()).await;
    let ready = h.provision_ready("c1a.4x", "us-east1-a").await;
    restarts(&h, &ready.server_id, 4).await;
    // accepted, register, provisioned and four restarts.
    for _ in 0..400 {
        if cy.sim.received().iter().filter(|r| r.status == 401).count() >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, text) = h.raw("GET", "/metrics", None).await;
    let text = text.as_str().unwrap().to_string();
    assert!(metric(&text, "refused") >= 7.0, "{text}");
    assert_eq!(dropped_lines(&logs, "refused"), 1);

    // A Cycloid too slow for the queue: the queue fills and new work is dropped at once. (No
    // delivery succeeds meanwhile, which would let the next drop be logged again.)
    cy.sim
        .set_behaviour(Behaviour::Slow(Duration::from_secs(60)));
    settings.cycloid.api_key = Some(KEY.to_string().into());
    settings.cycloid.queue = 1;
    settings.cycloid.workers = 1;
    settings.cycloid.timeout_ms = 30_000;
    let h2 = Harness::start(quick_sim_config(), settings).await;
    let ready = h2.provision_ready("c1a.4x", "us-east1-a").await;
    restarts(&h2, &ready.server_id, 6).await;
    let (_, text) = h2.raw("GET", "/metrics", None).await;
    let text = text.as_str().unwrap().to_string();
    assert!(metric(&text, "queue_full") >= 5.0, "{text}");
    assert_eq!(dropped_lines(&logs, "queue_full"), 1);

    // A hub's own key, in auth.config, refused: shown nowhere either.
    let mut settings = test_settings();
    settings.cycloid.allowed_urls = vec![cy.url()];
    cy.sim.set_behaviour(Behaviour::Normal);
    let mut h3 = Harness::start(quick_sim_config(), settings).await;
    let doc = format!(
        r#"{{"cycloid": {{"organization": "{ORG}", "api_key": "{HUB_KEY}", "url": "{}"}}}}"#,
        cy.url()
    );
    h3.auth["config"] = base64::engine::general_purpose::STANDARD.encode(doc).into();
    let ready = h3.provision_ready("c1a.4x", "us-east1-a").await;
    restarts(&h3, &ready.server_id, 1).await;
    for _ in 0..400 {
        let hub_calls = cy
            .sim
            .received()
            .iter()
            .filter(|r| {
                r.authorization.as_deref() == Some(&format!("Bearer {HUB_KEY}")[..])
                    && r.status == 401
            })
            .count();
        if hub_calls >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // One line for each bridge (each its own process in production).
    assert_eq!(dropped_lines(&logs, "refused"), 2);

    let all = logs.text();
    assert!(all.contains("a Cycloid delivery was dropped"));
    for secret in [WRONG_KEY, KEY, HUB_KEY] {
        assert!(!all.contains(secret), "{secret} is in the logs");
        assert!(!text.contains(secret), "{secret} is in /metrics");
    }
}
