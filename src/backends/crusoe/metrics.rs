//! Crusoe's metrics: the names the client records (its `metric_names`), and the status view's
//! one, each described and its known series shown at zero from the start.

use metrics::{describe_counter, describe_histogram, Unit};

pub use crusoe_sdk::metric_names::*;
use crusoe_sdk::OperationFamily;

/// Tenants whose status reads left the `names` filter for whole-project lists.
pub const NAMES_FILTER_FALLBACKS: &str = "bridge_status_names_filter_fallbacks_total";

/// Describes Crusoe's metrics and registers their known series; given to
/// `telemetry::metrics::install` once the recorder is in place.
pub fn describe() {
    describe_counter!(
        NAMES_FILTER_FALLBACKS,
        "Tenants whose provision-status reads found Crusoe's names filter taking one name only, and now list their whole project"
    );
    describe_counter!(
        CRUSOE_CALLS,
        "Calls to Crusoe's API, by operation and outcome (ok, or the kind of failure)"
    );
    describe_histogram!(
        CRUSOE_DURATION,
        Unit::Seconds,
        "Time of a Crusoe call, its retries included, by operation"
    );
    describe_counter!(
        CRUSOE_RETRIES,
        "Attempts of a Crusoe call beyond its first, by operation"
    );
    describe_counter!(
        OPERATION_WAITS,
        "Crusoe asynchronous operations followed to their end, by family and outcome"
    );
    describe_histogram!(
        OPERATION_WAIT_DURATION,
        Unit::Seconds,
        "Time spent following a Crusoe operation, by family"
    );
    metrics::counter!(NAMES_FILTER_FALLBACKS).increment(0);
    for op in OPERATIONS {
        metrics::counter!(CRUSOE_CALLS, "operation" => *op, "outcome" => "ok").increment(0);
        metrics::counter!(CRUSOE_RETRIES, "operation" => *op).increment(0);
        let _ = metrics::histogram!(CRUSOE_DURATION, "operation" => *op);
    }
    for family in OperationFamily::ALL {
        metrics::counter!(OPERATION_WAITS, "family" => family.collection(), "outcome" => "succeeded")
            .increment(0);
        let _ = metrics::histogram!(OPERATION_WAIT_DURATION, "family" => family.collection());
    }
}
