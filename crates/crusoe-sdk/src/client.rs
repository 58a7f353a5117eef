//! The typed, signing client: transport, retries and deadlines. The calls themselves live in
//! `api/`, one file per family.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::backoff::{default_operation_polling, Backoff, RetryPolicy};
use super::error::{ApiError, CrusoeError};
use super::signing::{self, SigningKey, TIMESTAMP_HEADER};
use crate::metric_names as names;

pub const DEFAULT_ENDPOINT: &str = "https://api.cloud.crusoe.ai/v1";

/// What to tell whoever configured `endpoint`, when it is one Crusoe has moved on from: the
/// `/v1alpha5` prefix, or the old host `api.crusoecloud.com`. Crusoe's terraform provider (1.0.0,
/// `internal/common/config.go`, `migrateEndpoint`) rewrites `https://api.crusoecloud.com/v1alpha5`
/// and `…/v1` to [`DEFAULT_ENDPOINT`]; this client keeps the endpoint it was given (where
/// credentials go is its user's choice, and Crusoe still answers there) and only says so.
pub fn endpoint_advice(endpoint: &Url) -> Option<String> {
    let old_host = endpoint.host_str() == Some("api.crusoecloud.com");
    let old_prefix = endpoint.path().trim_end_matches('/').ends_with("/v1alpha5");
    (old_host || old_prefix).then(|| {
        format!(
            "the Crusoe endpoint {endpoint} is {}; Crusoe's generally available API is {DEFAULT_ENDPOINT} (the same calls, signed the same way): move to it",
            match (old_host, old_prefix) {
                (true, true) => "on the old host and the old /v1alpha5 prefix",
                (true, false) => "on the old host api.crusoecloud.com",
                _ => "the old /v1alpha5 prefix",
            }
        )
    })
}

/// What the SDK calls itself when the caller names nothing else.
pub const DEFAULT_USER_AGENT: &str = concat!("crusoe-sdk/", env!("CARGO_PKG_VERSION"));

/// An access key pair. The secret is held decoded, zeroised on drop, and never printed.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    key: SigningKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    #[error("access key id is empty")]
    EmptyAccessKeyId,
    #[error("access key id may hold only letters, digits, `-` and `_`")]
    BadAccessKeyId,
    #[error("secret key {0}")]
    BadSecretKey(#[from] signing::KeyError),
    /// Half a key pair: `present` was given, its other half not.
    #[error("{present} is set but {missing} is not")]
    Incomplete {
        present: &'static str,
        missing: &'static str,
    },
}

/// The environment variables Crusoe's own tools read a key pair from.
pub const ACCESS_KEY_ID_VAR: &str = "CRUSOE_ACCESS_KEY_ID";
pub const SECRET_KEY_VAR: &str = "CRUSOE_SECRET_KEY";

impl Credentials {
    pub fn new(access_key_id: &str, secret_key: &SecretString) -> Result<Self, CredentialsError> {
        let access_key_id = access_key_id.trim();
        if access_key_id.is_empty() {
            return Err(CredentialsError::EmptyAccessKeyId);
        }
        // It goes into a header next to `:` separators: keep it to what Crusoe issues.
        if !access_key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CredentialsError::BadAccessKeyId);
        }
        Ok(Self {
            access_key_id: access_key_id.to_string(),
            key: SigningKey::from_secret_key(secret_key.expose_secret())?,
        })
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The key pair in `CRUSOE_ACCESS_KEY_ID` and `CRUSOE_SECRET_KEY`, as Crusoe's CLI and
    /// terraform provider read it; `None` when neither is set, an error when only one is.
    pub fn from_env() -> Result<Option<Self>, CredentialsError> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self::from_parts(
            (ACCESS_KEY_ID_VAR, var(ACCESS_KEY_ID_VAR)),
            (SECRET_KEY_VAR, var(SECRET_KEY_VAR).map(SecretString::from)),
        )
    }

    /// The key pair of a profile of `~/.crusoe/config`; `None` when it holds none.
    pub fn from_profile(
        profile: &crate::profile::Profile,
    ) -> Result<Option<Self>, CredentialsError> {
        Self::from_parts(
            ("access_key_id", profile.access_key_id.clone()),
            ("secret_key", profile.secret_key.clone()),
        )
    }

    fn from_parts(
        (id_name, id): (&'static str, Option<String>),
        (secret_name, secret): (&'static str, Option<SecretString>),
    ) -> Result<Option<Self>, CredentialsError> {
        match (id, secret) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => Self::new(&id, &secret).map(Some),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                present: id_name,
                missing: secret_name,
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                present: secret_name,
                missing: id_name,
            }),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_key", &"[REDACTED]")
            .finish()
    }
}

/// Settings shared by every client built from them.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Base URL including the API's prefix (`/v1`).
    pub endpoint: Url,
    /// Longest wait for one attempt.
    pub attempt_timeout: Duration,
    /// Longest time one call may take, retries and waits included.
    pub call_deadline: Duration,
    pub retry: RetryPolicy,
    /// Polling of asynchronous operations.
    pub wait: Backoff,
    /// Page size for list-VMs.
    pub page_size: u32,
    /// Sent as `User-Agent`, so Crusoe can tell one integration from another.
    pub user_agent: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            endpoint: Url::parse(DEFAULT_ENDPOINT).expect("default endpoint is a URL"),
            attempt_timeout: Duration::from_secs(15),
            call_deadline: Duration::from_secs(45),
            retry: RetryPolicy::default(),
            wait: default_operation_polling(),
            page_size: 100,
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }
}

struct Shared {
    http: reqwest::Client,
    /// The endpoint as text, without a trailing `/`, so paths append to it.
    base: String,
    settings: ClientSettings,
}

/// A Crusoe API client bound to one key pair. Cloning is cheap; clients made with
/// [`CrusoeClient::with_credentials`] share connections.
#[derive(Clone)]
pub struct CrusoeClient {
    shared: Arc<Shared>,
    credentials: Credentials,
}

impl std::fmt::Debug for CrusoeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrusoeClient")
            .field("endpoint", &self.shared.base)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// One call, before it is signed and sent; kept so that every attempt is signed afresh.
pub(crate) struct Call {
    pub op: &'static str,
    pub method: Method,
    /// Path below the endpoint, starting with `/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl Call {
    pub fn new(op: &'static str, method: Method, path: String) -> Self {
        Self {
            op,
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn json<B: Serialize>(mut self, body: &B) -> Result<Self, CrusoeError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| CrusoeError::InvalidRequest(format!("{}: {e}", self.op)))?;
        self.body = Some(bytes);
        Ok(self)
    }
}

struct Failure {
    error: CrusoeError,
    retry_after: Option<Duration>,
    /// The request may have reached Crusoe (it was sent, or Crusoe answered).
    sent: bool,
}

impl From<CrusoeError> for Failure {
    fn from(error: CrusoeError) -> Self {
        Failure {
            error,
            retry_after: None,
            sent: false,
        }
    }
}

/// `Retry-After` in seconds or as an HTTP date (RFC 9110 allows both); a date in the past is 0.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Connections and settings shared by the clients of many key pairs (one per tenant).
#[derive(Clone)]
pub struct ClientPool {
    shared: Arc<Shared>,
}

impl ClientPool {
    pub fn new(settings: ClientSettings) -> Result<Self, CrusoeError> {
        let http = reqwest::Client::builder()
            .user_agent(settings.user_agent.as_str())
            .connect_timeout(settings.attempt_timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CrusoeError::InvalidRequest(format!("HTTP client: {e}")))?;
        if settings.retry.max_attempts == 0 {
            return Err(CrusoeError::InvalidRequest(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        let base = settings.endpoint.as_str().trim_end_matches('/').to_string();
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                base,
                settings,
            }),
        })
    }

    /// A client signing with `credentials`.
    pub fn client(&self, credentials: Credentials) -> CrusoeClient {
        CrusoeClient {
            shared: Arc::clone(&self.shared),
            credentials,
        }
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.shared.settings
    }
}

impl CrusoeClient {
    pub fn new(settings: ClientSettings, credentials: Credentials) -> Result<Self, CrusoeError> {
        Ok(ClientPool::new(settings)?.client(credentials))
    }

    /// The same connections and settings, another key pair (one tenant's credentials per call).
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            credentials,
        }
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.shared.settings
    }

    pub fn endpoint(&self) -> &str {
        &self.shared.base
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The calls on one project's resources. Nothing is sent: the id is checked by each call.
    ///
    /// ```no_run
    /// # async fn demo(client: crusoe_sdk::CrusoeClient) -> Result<(), crusoe_sdk::CrusoeError> {
    /// use crusoe_sdk::types::VmFilter;
    /// let project = client.project("ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab");
    /// for vm in project.vms().list(&VmFilter::default()).await? {
    ///     println!("{} {}", vm.name, vm.state.wire_name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn project(&self, project_id: impl Into<String>) -> crate::ProjectClient {
        crate::ProjectClient::new(self.clone(), project_id.into())
    }

    /// Sends a call, retrying transient failures within the call deadline, and reads the answer.
    pub(crate) async fn execute<T: DeserializeOwned>(&self, call: Call) -> Result<T, CrusoeError> {
        let bytes = self.execute_raw(&call).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CrusoeError::InvalidResponse(format!("{}: {e}", call.op)))
    }

    /// An asynchronous call: Crusoe answers `{operation}`.
    pub(crate) async fn execute_operation(
        &self,
        call: Call,
    ) -> Result<super::types::Operation, CrusoeError> {
        let answer: super::types::AsyncOperationResponse = self.execute(call).await?;
        Ok(answer.operation)
    }

    /// A list call: Crusoe answers `{items: [...]}`.
    pub(crate) async fn execute_items<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Vec<T>, CrusoeError> {
        let answer: super::types::Items<T> = self.execute(call).await?;
        Ok(answer.items)
    }

    async fn execute_raw(&self, call: &Call) -> Result<Vec<u8>, CrusoeError> {
        let started = Instant::now();
        let result = self.with_retries(call, started).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        metrics::counter!(names::CRUSOE_CALLS, "operation" => call.op, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(names::CRUSOE_DURATION, "operation" => call.op)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn with_retries(&self, call: &Call, started: Instant) -> Result<Vec<u8>, CrusoeError> {
        let settings = &self.shared.settings;
        let deadline = started + settings.call_deadline;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if attempt > 1 {
                metrics::counter!(names::CRUSOE_RETRIES, "operation" => call.op).increment(1);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = settings.attempt_timeout.min(remaining);
            let failure = match self.attempt(call, timeout).await {
                Ok(bytes) => {
                    tracing::debug!(
                        op = call.op,
                        attempt,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "crusoe call succeeded"
                    );
                    return Ok(bytes);
                }
                Err(failure) => failure,
            };
            let error = failure.error;
            // Crusoe's terraform provider never retries a POST, "to reduce the likelihood of
            // creating duplicate instances": a create that may have been carried out is handed
            // back for the caller to look up by name. 429 means Crusoe refused it, and a
            // connection never made carried nothing: those are retried.
            let unsafe_to_resend = call.method == Method::POST
                && failure.sent
                && error.is_retryable()
                && !matches!(error, CrusoeError::RateLimited(_));
            if unsafe_to_resend {
                log_failure(call.op, attempt, &error);
                return Err(CrusoeError::OutcomeUnknown {
                    operation: call.op,
                    cause: Box::new(error),
                });
            }
            if !error.is_retryable() || attempt >= settings.retry.max_attempts {
                log_failure(call.op, attempt, &error);
                return Err(error);
            }
            let delay = settings.retry.delay(attempt, failure.retry_after);
            if Instant::now() + delay >= deadline {
                log_failure(call.op, attempt, &error);
                return Err(match error {
                    CrusoeError::Timeout(_) => CrusoeError::Timeout(started.elapsed()),
                    other => other,
                });
            }
            tracing::warn!(
                op = call.op,
                attempt,
                status = error.status(),
                error_id = error.error_id(),
                delay_ms = delay.as_millis() as u64,
                "crusoe call failed, retrying: {error}"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, call: &Call, timeout: Duration) -> Result<Vec<u8>, Failure> {
        if timeout.is_zero() {
            return Err(CrusoeError::Timeout(self.shared.settings.call_deadline).into());
        }
        let canonical = signing::canonical_query(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        let mut url = Url::parse(&format!("{}{}", self.shared.base, call.path))
            .map_err(|e| CrusoeError::InvalidRequest(format!("{}: bad URL: {e}", call.op)))?;
        url.set_query((!canonical.is_empty()).then_some(canonical.as_str()));

        let timestamp = signing::now_timestamp();
        let authorization = signing::authorization(
            &self.credentials.access_key_id,
            &self.credentials.key,
            url.path(),
            &canonical,
            call.method.as_str(),
            &timestamp,
        );
        let mut authorization = HeaderValue::from_str(&authorization)
            .map_err(|_| CrusoeError::InvalidRequest("authorization header".into()))?;
        authorization.set_sensitive(true);

        let mut request = self
            .shared
            .http
            .request(call.method.clone(), url)
            .timeout(timeout)
            .header(AUTHORIZATION, authorization)
            .header(TIMESTAMP_HEADER, timestamp);
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        let response = request
            .send()
            .await
            .map_err(|e| transport_error(e, timeout))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(e, timeout))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(Failure {
            error: CrusoeError::from_api(ApiError::from_body(status.as_u16(), &body)),
            retry_after,
            sent: true,
        })
    }
}

fn transport_error(e: reqwest::Error, timeout: Duration) -> Failure {
    // A connection that was never made carried no request.
    let sent = !e.is_connect();
    let error = transport_cause(e, timeout);
    Failure {
        error,
        retry_after: None,
        sent,
    }
}

fn transport_cause(e: reqwest::Error, timeout: Duration) -> CrusoeError {
    if e.is_timeout() {
        return CrusoeError::Timeout(timeout);
    }
    CrusoeError::Connect(Box::new(e))
}

fn log_failure(op: &str, attempts: u32, error: &CrusoeError) {
    tracing::info!(
        op,
        attempts,
        status = error.status(),
        error_id = error.error_id(),
        "crusoe call failed: {error}"
    );
}

/// Lists become one comma-separated value; a comma inside a value would split it.
pub(crate) fn join_filter(what: &str, values: &[String]) -> Result<Option<String>, CrusoeError> {
    if values.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = values.iter().find(|v| v.contains(',') || v.is_empty()) {
        return Err(CrusoeError::InvalidRequest(format!(
            "{what} filter value {bad:?} is empty or contains a comma"
        )));
    }
    Ok(Some(values.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";

    #[test]
    fn old_endpoints_get_advice_and_current_ones_none() {
        let advice = |u: &str| endpoint_advice(&Url::parse(u).unwrap());
        assert_eq!(advice(DEFAULT_ENDPOINT), None);
        assert_eq!(advice("http://127.0.0.1:9090/v1"), None);
        for old in [
            "https://api.cloud.crusoe.ai/v1alpha5",
            "https://api.crusoecloud.com/v1alpha5",
            "https://api.crusoecloud.com/v1",
            "http://127.0.0.1:9090/v1alpha5/",
        ] {
            let said = advice(old).unwrap_or_else(|| panic!("{old}"));
            assert!(said.contains(DEFAULT_ENDPOINT), "{said}");
        }
    }

    #[test]
    fn a_profile_gives_a_key_pair_none_or_a_clear_error_naming_the_missing_half() {
        let both = Profile {
            access_key_id: Some("KEY".into()),
            secret_key: Some(SecretString::from(SECRET)),
            ..Default::default()
        };
        let got = Credentials::from_profile(&both).unwrap().unwrap();
        assert_eq!(got.access_key_id(), "KEY");
        assert!(Credentials::from_profile(&Profile::default())
            .unwrap()
            .is_none());
        let half = Profile {
            access_key_id: Some("KEY".into()),
            ..Default::default()
        };
        let err = Credentials::from_profile(&half).unwrap_err();
        assert_eq!(
            err.to_string(),
            "access_key_id is set but secret_key is not"
        );
        let other_half = Profile {
            secret_key: Some(SecretString::from(SECRET)),
            ..Default::default()
        };
        let err = Credentials::from_profile(&other_half).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret_key is set but access_key_id is not"
        );
        assert!(!format!("{err:?}").contains(SECRET));
    }

    #[test]
    fn a_transport_failure_keeps_its_cause_as_the_source_and_says_it_once() {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = CrusoeError::Connect(Box::new(cause));
        assert_eq!(err.to_string(), "cannot reach Crusoe: refused");
        let source = std::error::Error::source(&err).expect("the cause is kept");
        assert_eq!(source.to_string(), "refused");
    }
}
