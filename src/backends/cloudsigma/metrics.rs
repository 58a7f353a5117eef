//! CloudSigma's metrics: the names the client records (its `metric_names`), each described.

use metrics::{describe_counter, describe_histogram, Unit};

pub use cloudsigma_sdk::metric_names::*;

/// Describes CloudSigma's metrics; given to `telemetry::metrics::install` once the recorder is
/// in place.
pub fn describe() {
    describe_counter!(
        REQUESTS_TOTAL,
        "HTTP requests to CloudSigma's API, by method, route and status"
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time of one HTTP request to CloudSigma's API, by method and route"
    );
}
