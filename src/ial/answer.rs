//! [`Answer`]: a successful answer to Cycle, its payload in the envelope the operator chose.
//! Errors are [`IalError`](super::IalError), which answers in Cycle's error shape itself.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::types::*;

/// How successful answers are shaped: Cycle's prose guide wants `{data, error}`, its OpenAPI shows
/// bare payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    Wrapped,
    Bare,
}

/// A payload the IAL answers.
pub trait AnswerPayload: Serialize {
    /// The payload's JSON text, when it is kept rendered (the catalogue, the same for every
    /// caller), so that it is copied once into a body of its size rather than serialised again.
    fn rendered(&self) -> Option<&str> {
        None
    }
}

impl AnswerPayload for bool {}
impl AnswerPayload for VerifyResponse {}
impl AnswerPayload for ConfigureLocationResponse {}
impl AnswerPayload for ProvisionResponse {}
impl AnswerPayload for ProvisionStatusResponse {}
impl AnswerPayload for AllocateIpResponse {}

impl<T> AnswerPayload for Rendered<T> {
    fn rendered(&self) -> Option<&str> {
        Some(self.as_str())
    }
}

/// A successful answer: 200, `application/json`, the payload wrapped or bare.
#[derive(Debug)]
pub struct Answer<R> {
    payload: R,
    envelope: Envelope,
}

impl<R> Answer<R> {
    pub fn new(payload: R, envelope: Envelope) -> Self {
        Self { payload, envelope }
    }
}

/// `{"data": <payload>, "error": null}`, serialised straight from the payload.
#[derive(Serialize)]
struct Wrapped<'a, T> {
    data: &'a T,
    error: Option<()>,
}

impl<R: AnswerPayload> IntoResponse for Answer<R> {
    fn into_response(self) -> Response {
        if let Some(json) = self.payload.rendered() {
            return rendered(json, self.envelope);
        }
        match self.envelope {
            Envelope::Wrapped => Json(Wrapped {
                data: &self.payload,
                error: None,
            })
            .into_response(),
            Envelope::Bare => Json(self.payload).into_response(),
        }
    }
}

fn rendered(json: &str, envelope: Envelope) -> Response {
    let body = match envelope {
        Envelope::Wrapped => {
            const HEAD: &str = "{\"data\":";
            const TAIL: &str = ",\"error\":null}";
            let mut out = String::with_capacity(HEAD.len() + json.len() + TAIL.len());
            out.push_str(HEAD);
            out.push_str(json);
            out.push_str(TAIL);
            out
        }
        Envelope::Bare => json.to_string(),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn body(response: Response) -> (String, String) {
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (kind, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn rendered_and_serialised_payloads_answer_the_same_bytes() {
        let payload = VerifyResponse { valid: true };
        let rendered = Rendered::new(&payload);
        for (envelope, want) in [
            (Envelope::Wrapped, r#"{"data":{"valid":true},"error":null}"#),
            (Envelope::Bare, r#"{"valid":true}"#),
        ] {
            let direct = body(Answer::new(payload.clone(), envelope).into_response()).await;
            let copied = body(Answer::new(rendered.clone(), envelope).into_response()).await;
            assert_eq!(direct, ("application/json".into(), want.into()));
            assert_eq!(copied, direct);
        }
    }
}
