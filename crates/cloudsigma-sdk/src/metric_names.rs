//! Names of the metrics the client records through the `metrics` facade; whoever embeds the
//! client installs the recorder.
//!
//! Both are recorded once per HTTP attempt (a retried call counts each attempt). Labels:
//! `method` (`GET`, `POST`, ...), `route` (the path below the API base with object ids replaced,
//! e.g. `servers/{uuid}/action/?do=start`), and for the counter `status` (the HTTP status, or
//! `transport` when no answer came).

/// Counter of HTTP attempts, by `method`, `route` and `status`.
pub const REQUESTS_TOTAL: &str = "cloudsigma_requests_total";
/// Histogram of the duration of one HTTP attempt in seconds, by `method` and `route`.
pub const REQUEST_DURATION_SECONDS: &str = "cloudsigma_request_duration_seconds";

/// The `status` label of an attempt that got no HTTP answer.
pub const STATUS_TRANSPORT: &str = "transport";
