//! Prometheus metrics. Labels are bounded sets (endpoints, Crusoe operations, outcomes, status
//! codes): never a credential, a host name, an id or anything else a caller chooses. Every metric
//! is described (`# HELP`) and shown from the start: the series whose labels are known ahead are
//! registered at zero when the recorder is installed.

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// IAL requests, by `endpoint` (the route) and `status`.
pub const IAL_REQUESTS: &str = "ial_requests_total";
/// IAL request latency, by `endpoint`.
pub const IAL_DURATION: &str = "ial_request_duration_seconds";
/// Servers Cycle is polling that are not provisioned yet.
pub const SERVERS_IN_FLIGHT: &str = "bridge_servers_in_flight";
/// Always 1, labelled with the `version` and `git_commit` being run.
pub const BUILD_INFO: &str = "crusoe_ial_build_info";

/// Deliveries to Cycloid made, by `work` (event, register, unregister).
pub const CYCLOID_DELIVERED: &str = "ial_cycloid_delivered_total";
/// Deliveries to Cycloid given up, by `cause`.
pub const CYCLOID_DROPPED: &str = "ial_cycloid_dropped_total";
/// Attempts of a Cycloid delivery beyond its first.
pub const CYCLOID_RETRIES: &str = "ial_cycloid_retries_total";
/// Every `cause` of [`CYCLOID_DROPPED`].
pub const CYCLOID_DROP_CAUSES: &[&str] = &[
    "queue_full",
    "refused",
    "rejected",
    "throttled",
    "unavailable",
    "unreachable",
    "garbage",
    "shutdown",
];

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

fn describe() {
    describe_counter!(
        IAL_REQUESTS,
        "Requests Cycle made to the IAL API, by route and HTTP status"
    );
    describe_histogram!(
        IAL_DURATION,
        Unit::Seconds,
        "Time to answer an IAL request, by route"
    );
    describe_gauge!(
        SERVERS_IN_FLIGHT,
        "Servers Cycle polls that are not provisioned yet (forgotten after 15 min unpolled)"
    );
    describe_counter!(
        CYCLOID_DELIVERED,
        "Events and inventory changes delivered to Cycloid, by work (event, register, unregister)"
    );
    describe_counter!(
        CYCLOID_DROPPED,
        "Events and inventory changes given up, by cause (queue_full, refused, rejected, throttled, unavailable, unreachable, garbage, shutdown)"
    );
    describe_counter!(
        CYCLOID_RETRIES,
        "Attempts of a Cycloid delivery beyond its first"
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1: the version and git commit of the running bridge"
    );
}

/// The series whose labels are known ahead, at zero.
fn register_known_series() {
    metrics::gauge!(SERVERS_IN_FLIGHT).set(0.0);
    for work in ["event", "register", "unregister"] {
        metrics::counter!(CYCLOID_DELIVERED, "work" => work).increment(0);
    }
    for cause in CYCLOID_DROP_CAUSES {
        metrics::counter!(CYCLOID_DROPPED, "cause" => *cause).increment(0);
    }
    metrics::counter!(CYCLOID_RETRIES).increment(0);
    metrics::gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "git_commit" => env!("CRUSOE_IAL_GIT_COMMIT")
    )
    .set(1.0);
}

/// The process's recorder, installed by [`install`]: what `/metrics` renders and what the IAL
/// router registers its routes' series with. Holding one is the proof that the recorder exists,
/// so nothing can register series into the void before it does.
#[derive(Clone, Copy)]
pub struct Metrics(&'static Exporter);

/// Installs the Prometheus recorder, once per process, with the metrics each of `backends`
/// describes and registers (a function each); later calls (tests that serve several bridges in
/// one process) get the same one.
pub fn install(backends: &[fn()]) -> Metrics {
    Metrics(EXPORTER.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the bucket list is not empty");
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder owns the process (an embedding program): render what we can.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        };
        describe();
        register_known_series();
        for describe_backend in backends {
            describe_backend();
        }
        let process = metrics_process::Collector::default();
        process.describe();
        process.collect();
        Exporter { handle, process }
    }))
}

impl Metrics {
    /// Registers each IAL route's series at zero, so that `/metrics` shows them before any request.
    pub fn register_endpoints(&self, endpoints: &[&str]) {
        for endpoint in endpoints {
            metrics::counter!(IAL_REQUESTS, "endpoint" => endpoint.to_string(), "status" => "200")
                .increment(0);
            let _ = metrics::histogram!(IAL_DURATION, "endpoint" => endpoint.to_string());
        }
    }

    /// The text exposition of every metric, the process's own read afresh.
    pub fn render(&self) -> String {
        self.0.process.collect();
        self.0.handle.render()
    }

    /// Drains histogram samples every few seconds, for as long as it is polled. Samples are kept
    /// raw until drained, by a scrape or by this: without it, a bridge nobody scrapes grows by
    /// every request it serves.
    pub async fn upkeep(self) -> std::convert::Infallible {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.0.handle.run_upkeep();
        }
    }
}

/// What the installed recorder holds, for tests that read metrics in their own process; empty
/// before [`install`].
pub fn render() -> String {
    EXPORTER
        .get()
        .map(|e| Metrics(e).render())
        .unwrap_or_default()
}
