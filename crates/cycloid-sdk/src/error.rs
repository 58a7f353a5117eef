//! What can go wrong talking to Cycloid. No variant holds the API key or a request body: the
//! key travels only in the `Authorization` header, which no message shows.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CycloidError {
    /// 401 or 403: the key is wrong, expired, or not a member of the organisation.
    #[error("Cycloid refused the API key (HTTP {status})")]
    Refused { status: u16 },
    /// Any other 4xx: Cycloid will not take this request as it is.
    #[error("Cycloid rejected the request (HTTP {status}){}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Rejected {
        status: u16,
        message: Option<String>,
    },
    /// 429.
    #[error("Cycloid is throttling requests")]
    Throttled { retry_after: Option<Duration> },
    /// 5xx.
    #[error("Cycloid failed (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer: refused connection, reset, timeout.
    #[error("Cycloid did not answer: {0}")]
    Transport(String),
    /// A 2xx whose body is not what Cycloid's API reference describes.
    #[error("Cycloid answered with a body that is not its API's: {0}")]
    Garbage(String),
}

impl CycloidError {
    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CycloidError::Throttled { .. }
                | CycloidError::Unavailable { .. }
                | CycloidError::Transport(_)
        )
    }

    /// A short, fixed name for the kind of failure: for metric labels and log fields.
    pub fn kind(&self) -> &'static str {
        match self {
            CycloidError::Refused { .. } => "refused",
            CycloidError::Rejected { .. } => "rejected",
            CycloidError::Throttled { .. } => "throttled",
            CycloidError::Unavailable { .. } => "unavailable",
            CycloidError::Transport(_) => "unreachable",
            CycloidError::Garbage(_) => "garbage",
        }
    }
}

/// Cycloid's error body: `{"errors": [{"code", "message"}]}`.
pub(crate) fn first_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = v.get("errors")?.get(0)?.get("message")?.as_str()?;
    // Bounded: a message is for a log line, not a dump.
    Some(message.chars().take(300).collect())
}
