//! Prometheus metrics. Labels are bounded sets (endpoints, Crusoe operations, outcomes, status
//! codes): never a credential, a host name, an id or anything else a caller chooses.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// IAL requests, by `endpoint` (the route) and `status`.
pub const IAL_REQUESTS: &str = "ial_requests_total";
/// IAL request latency, by `endpoint`.
pub const IAL_DURATION: &str = "ial_request_duration_seconds";
pub use crate::crusoe::metric_names::*;
/// Servers Cycle is polling that are not provisioned yet.
pub const SERVERS_IN_FLIGHT: &str = "bridge_servers_in_flight";

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the bucket list is not empty");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder owns the process (an embedding program): render what we can.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The text exposition of every metric.
pub fn render() -> String {
    handle().render()
}

/// Histogram samples are kept raw until drained, by a scrape or by upkeep: without this, a bridge
/// nobody scrapes grows by every request it serves.
pub fn spawn_upkeep() {
    let handle = handle();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}
