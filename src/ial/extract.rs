//! [`Call`] as an axum extractor: the body read within the size limit, decoded as the endpoint's
//! payload, and who the call is for recorded on the request's span. Every way a body can be wrong
//! is rejected with Cycle's error shape.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use tracing::Span;

use super::request::{decode, decode_auth_only, Call, Wrapping};
use super::types::*;
use super::IalError;

/// What Cycle sends in a call's `request`: how it is read from the body, and the server it is
/// about (for logs).
pub trait Payload: Sized {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError>;

    fn server(&self) -> Option<&str> {
        None
    }
}

/// The payload of verify and the two listing calls: Cycle sends null (or nothing, on GET), and
/// whatever is there is ignored; only the credentials matter.
#[derive(Debug, Clone, Copy)]
pub struct NoPayload;

impl Payload for NoPayload {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        Ok(Call {
            auth: decode_auth_only(body)?,
            request: NoPayload,
        })
    }
}

impl Payload for ConfigureLocation {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        decode(body, Wrapping::Required)
    }
}

impl Payload for ProvisionServer {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        decode(body, Wrapping::Required)
    }

    fn server(&self) -> Option<&str> {
        Some(&self.cycle.server_id)
    }
}

impl Payload for ProvisionStatus {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        decode(body, Wrapping::Required)
    }

    fn server(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

impl Payload for ServerRef {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        decode(body, Wrapping::Required)
    }

    fn server(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

impl Payload for AllocateIp {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        decode(body, Wrapping::Required)
    }

    fn server(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

/// Cycle's OpenAPI shows the release call unwrapped; every other source wraps it.
impl Payload for ReleaseIp {
    fn decode(body: &[u8]) -> Result<Call<Self>, IalError> {
        decode(body, Wrapping::Optional)
    }

    fn server(&self) -> Option<&str> {
        self.server_id.as_deref()
    }
}

impl<S: Send + Sync, T: Payload> FromRequest<S> for Call<T> {
    type Rejection = IalError;

    async fn from_request(request: Request, state: &S) -> Result<Self, IalError> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(unreadable)?;
        let call = T::decode(&body)?;
        record_ids(call.auth.as_ref(), call.request.server());
        Ok(call)
    }
}

/// A body that could not be read: too large for `DefaultBodyLimit`, or cut short.
fn unreadable(rejection: BytesRejection) -> IalError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        IalError::new(
            status,
            "payload-too-large",
            "Payload too large",
            "the request body is larger than this server accepts",
        )
    } else {
        IalError::new(
            status,
            "invalid-body",
            "Invalid body",
            rejection.body_text(),
        )
    }
}

/// Records who a call is for on the request's span, so every later line of the request carries
/// them (the span is made in `layers::request_span`).
fn record_ids(auth: Option<&Auth>, server: Option<&str>) {
    let span = Span::current();
    if let Some(hub) = auth
        .and_then(|a| a.cycle.as_ref())
        .and_then(|c| c.hub_id.as_deref())
    {
        span.record("hub_id", loggable(hub));
    }
    if let Some(server) = server {
        span.record("server_id", loggable(server));
    }
}

/// Ids from outside, made safe to log: bounded, and only the characters ids are made of.
fn loggable(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '?'
            }
        })
        .collect()
}
