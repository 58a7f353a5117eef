//! Names of the metrics the client records through the `metrics` facade; whoever embeds the
//! client chooses the recorder.

/// Crusoe calls, by `operation` and `outcome`.
pub const CRUSOE_CALLS: &str = "crusoe_calls_total";
/// Crusoe call latency (retries included), by `operation`.
pub const CRUSOE_DURATION: &str = "crusoe_call_duration_seconds";
/// Attempts beyond the first, by `operation`.
pub const CRUSOE_RETRIES: &str = "crusoe_retries_total";
/// Operations waited on, by `family` and `outcome`.
pub const OPERATION_WAITS: &str = "crusoe_operation_waits_total";
/// Time spent waiting on operations, by `family`.
pub const OPERATION_WAIT_DURATION: &str = "crusoe_operation_wait_seconds";
