//! The client: settings, credentials, and the one place where requests are sent, retried,
//! measured and their answers sorted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::backoff::RetryPolicy;
use crate::error::{ApiError, CloudSigmaError};
use crate::metric_names as names;

/// What the client calls itself unless told otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("cloudsigma-sdk-rs/", env!("CARGO_PKG_VERSION"));

/// The API base of the default location (Zurich).
pub const DEFAULT_API_BASE: &str = "https://zrh.cloudsigma.com/api/2.0/";

/// The header CloudSigma identifies an answer with (G:client.go `headerRequestID`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How the client authenticates. `Debug` prints neither the password nor the token.
#[derive(Clone)]
pub enum Credentials {
    /// `Authorization: Basic base64(email:password)` (D:general.rst). The only kind drive uploads
    /// accept (D:upload_download.rst).
    Basic {
        username: String,
        password: SecretString,
    },
    /// `Authorization: Bearer <token>`: not in the API docs, used by CloudSigma's Go SDK
    /// (G:credentials.go `TokenCredentialsProvider`); where a token comes from is undocumented.
    Token(SecretString),
}

impl Credentials {
    pub fn basic(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn token(token: impl Into<SecretString>) -> Self {
        Credentials::Token(token.into())
    }

    /// The `Authorization` header, marked sensitive so that HTTP logging hides it.
    fn header(&self) -> Result<HeaderValue, CloudSigmaError> {
        let text = match self {
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose_secret());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            Credentials::Token(token) => format!("Bearer {}", token.expose_secret().trim()),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            CloudSigmaError::Config(
                "the credentials hold characters not allowed in a header".into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Credentials::Token(_) => f.debug_tuple("Token").field(&"[REDACTED]").finish(),
        }
    }
}

/// Where and how the client talks to one location. An account lives in one location, and a
/// location is chosen only by the host called (CLOUDSIGMA.md §1.3).
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Full base ending in `/api/2.0/`, e.g. `https://zrh.cloudsigma.com/api/2.0/`.
    pub api_base: Url,
    /// The location's upload base (`direct.` host) ending `/api/2.0/`. `None`: the API base with
    /// `direct.` put before its host (D:upload_download.rst), or the API base itself when its
    /// host is an IP address or `localhost` (a local simulator).
    pub upload_base: Option<Url>,
    pub user_agent: String,
    /// Longest wait for one HTTP attempt (uploads get one more second per MiB).
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self::new(Url::parse(DEFAULT_API_BASE).expect("the default base is a URL"))
    }
}

impl ClientSettings {
    /// Settings for `api_base`, with a trailing `/` added when missing and defaults otherwise.
    pub fn new(api_base: Url) -> Self {
        Self {
            api_base: with_trailing_slash(api_base),
            upload_base: None,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }

    /// `template` is a full URL that may contain `{location}` (replaced by the lower-case
    /// location id), e.g. `"https://{location}.cloudsigma.com/api/2.0/"` or
    /// `"http://127.0.0.1:4000/{location}/api/2.0/"`. The upload base is derived
    /// (see [`ClientSettings::upload_base`]). Note that `https://{location}.cloudsigma.com`
    /// cannot reach the white-label locations (CLOUDSIGMA.md §1.3): prefer
    /// [`ClientSettings::for_known_location`] for those.
    pub fn from_template(template: &str, location: &str) -> Result<Self, CloudSigmaError> {
        let location = location.trim().to_ascii_lowercase();
        if location.is_empty()
            || !location
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(CloudSigmaError::Config(format!(
                "location id {location:?} must be letters, digits or `-`"
            )));
        }
        let text = template.trim().replace("{location}", &location);
        let url = Url::parse(&text).map_err(|e| {
            CloudSigmaError::Config(format!(
                "API base template {template:?} gives {text:?}: {e}"
            ))
        })?;
        check_base(&url, "API base")?;
        Ok(Self::new(url))
    }

    /// The known hosts of a location id (case-insensitive), partners' domains included
    /// ([`crate::KNOWN_LOCATIONS`]).
    pub fn for_known_location(location: &str) -> Result<Self, CloudSigmaError> {
        let known = crate::known_location(location).ok_or_else(|| {
            let ids: Vec<_> = crate::KNOWN_LOCATIONS.iter().map(|l| l.id).collect();
            CloudSigmaError::Config(format!(
                "unknown CloudSigma location {location:?}; known: {}",
                ids.join(", ")
            ))
        })?;
        let parse = |host: &str| {
            Url::parse(&format!("https://{host}/api/2.0/"))
                .map_err(|e| CloudSigmaError::Config(format!("location host {host}: {e}")))
        };
        let mut settings = Self::new(parse(known.api_host)?);
        settings.upload_base = known.upload_host.map(parse).transpose()?;
        Ok(settings)
    }

    /// The upload base in effect: [`ClientSettings::upload_base`] or the one derived from the
    /// API base.
    pub fn effective_upload_base(&self) -> Result<Url, CloudSigmaError> {
        if let Some(u) = &self.upload_base {
            return Ok(with_trailing_slash(u.clone()));
        }
        let base = with_trailing_slash(self.api_base.clone());
        let host = match base.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            // An IP address cannot take a `direct.` prefix: a local stand-in serves both.
            Some(_) => return Ok(base),
            None => {
                return Err(CloudSigmaError::Config(format!(
                    "API base {base} has no host"
                )))
            }
        };
        if host == "localhost" || host.starts_with("direct.") {
            return Ok(base);
        }
        let mut upload = base;
        upload
            .set_host(Some(&format!("direct.{host}")))
            .map_err(|e| CloudSigmaError::Config(format!("upload host direct.{host}: {e}")))?;
        Ok(upload)
    }
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn check_base(url: &Url, what: &str) -> Result<(), CloudSigmaError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CloudSigmaError::Config(format!(
            "{what} must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(CloudSigmaError::Config(format!("{what} has no host")));
    }
    // Credentials go in the Authorization header only, never in a URL that ends up in errors.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CloudSigmaError::Config(format!(
            "{what} must not carry credentials; pass them as Credentials"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CloudSigmaError::Config(format!(
            "{what} must not have a query or fragment"
        )));
    }
    Ok(())
}

struct Inner {
    http: reqwest::Client,
    api_base: Url,
    upload_base: Url,
    settings: ClientSettings,
    credentials: Credentials,
}

/// A client of one location with one set of credentials. Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_base", &self.inner.api_base.as_str())
            .field("upload_base", &self.inner.upload_base.as_str())
            .field("credentials", &self.inner.credentials)
            .finish()
    }
}

/// Which base a path is below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    Api,
    Upload,
}

/// How a call may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Safety {
    /// GET, PUT, DELETE: retried on transient failures.
    Idempotent,
    /// A POST that makes something (a create, an upload, a purchase): retried only when it
    /// never left; a lost answer is [`CloudSigmaError::OutcomeUnknown`].
    Create,
    /// A POST action: retried only when it never left; otherwise the error as it is.
    Action,
}

pub(crate) enum Payload {
    None,
    Json(Vec<u8>),
    Octets(Vec<u8>),
}

/// One call before it is sent; kept whole so that each attempt is built afresh.
pub(crate) struct Call {
    pub method: Method,
    pub base: Base,
    /// Below the base, ending with `/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub payload: Payload,
    pub safety: Safety,
    /// What the call does, in words, for errors and logs.
    pub what: String,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>, what: impl Into<String>) -> Self {
        let safety = if method == Method::POST {
            Safety::Create
        } else {
            Safety::Idempotent
        };
        Self {
            method,
            base: Base::Api,
            path: path.into(),
            query: Vec::new(),
            payload: Payload::None,
            safety,
            what: what.into(),
        }
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, CloudSigmaError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            CloudSigmaError::Config(format!("cannot encode the body of {}: {e}", self.what))
        })?;
        self.payload = Payload::Json(bytes);
        Ok(self)
    }

    pub fn safety(mut self, safety: Safety) -> Self {
        self.safety = safety;
        self
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why one attempt failed.
enum Failure {
    /// Nothing left this machine (no connection was made).
    NotSent(CloudSigmaError),
    /// The request was (or may have been) sent and no answer came.
    Lost(CloudSigmaError),
    /// CloudSigma answered with an error status.
    Answered(ApiError),
}

impl Client {
    pub fn new(
        settings: ClientSettings,
        credentials: Credentials,
    ) -> Result<Self, CloudSigmaError> {
        let api_base = with_trailing_slash(settings.api_base.clone());
        check_base(&api_base, "API base")?;
        let upload_base = settings.effective_upload_base()?;
        check_base(&upload_base, "upload base")?;
        if settings.retry.max_attempts == 0 {
            return Err(CloudSigmaError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        if settings.timeout.is_zero() {
            return Err(CloudSigmaError::Config("timeout must not be zero".into()));
        }
        // Checked now, so that a bad secret fails at construction rather than on first use.
        credentials.header()?;
        let http = reqwest::Client::builder()
            .user_agent(settings.user_agent.as_str())
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CloudSigmaError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api_base,
                upload_base,
                settings,
                credentials,
            }),
        })
    }

    pub fn api_base(&self) -> &Url {
        &self.inner.api_base
    }

    /// The base drive uploads go to.
    pub fn upload_base(&self) -> &Url {
        &self.inner.upload_base
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// Sends a call with its retries; the answer is a 2xx.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer, CloudSigmaError> {
        let policy = &self.inner.settings.retry;
        let started = Instant::now();
        let deadline = started + policy.deadline;
        let url = self.url(call)?;
        let route = route_label(&call.path, &call.query);
        // Set once an attempt may have been carried out: a DELETE that then answers 404 did
        // its work on that attempt.
        let mut maybe_done = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut timeout = self.attempt_timeout(call).min(remaining);
            if timeout.is_zero() {
                timeout = Duration::from_millis(1);
            }
            let error = match self.attempt(call, &url, &route, timeout).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::NotSent(e)) => e,
                Err(Failure::Lost(e)) => match call.safety {
                    Safety::Create => {
                        tracing::warn!(what = %call.what, "answer lost after sending: {e}");
                        return Err(CloudSigmaError::OutcomeUnknown {
                            what: format!("{} (the answer was lost: {})", call.what, e.message()),
                        });
                    }
                    Safety::Action => return Err(e),
                    Safety::Idempotent => {
                        maybe_done = true;
                        e
                    }
                },
                Err(Failure::Answered(api)) => {
                    if call.method == Method::DELETE && api.status == 404 && maybe_done {
                        // An earlier attempt reached CloudSigma and its answer was lost (or
                        // was a 5xx from a proxy in front of it): the object is gone, which is
                        // what was asked for.
                        tracing::debug!(what = %call.what, "404 after a lost DELETE: taken as done");
                        return Ok(Answer {
                            status: 204,
                            body: Vec::new(),
                        });
                    }
                    match call.safety {
                        Safety::Create if is_gateway_loss(&api) => {
                            return Err(CloudSigmaError::OutcomeUnknown {
                                what: format!(
                                    "{} (a gateway answered HTTP {} instead of CloudSigma)",
                                    call.what, api.status
                                ),
                            })
                        }
                        Safety::Create | Safety::Action => return Err(CloudSigmaError::Api(api)),
                        Safety::Idempotent if api.is_transient() => {
                            if api.status >= 500 {
                                maybe_done = true;
                            }
                            CloudSigmaError::Api(api)
                        }
                        Safety::Idempotent => return Err(CloudSigmaError::Api(api)),
                    }
                }
            };
            if attempt >= policy.max_attempts {
                tracing::info!(what = %call.what, attempt, "giving up: {error}");
                return Err(error);
            }
            let delay = policy.delay(attempt);
            if Instant::now() + delay >= deadline {
                tracing::info!(what = %call.what, attempt, "deadline reached: {error}");
                return Err(error);
            }
            tracing::warn!(
                what = %call.what,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "CloudSigma call failed, retrying: {error}"
            );
            tokio::time::sleep(delay).await;
        }
    }

    fn attempt_timeout(&self, call: &Call) -> Duration {
        let base = self.inner.settings.timeout;
        match &call.payload {
            Payload::Octets(bytes) => base + Duration::from_secs((bytes.len() as u64) >> 20),
            _ => base,
        }
    }

    fn url(&self, call: &Call) -> Result<Url, CloudSigmaError> {
        let base = match call.base {
            Base::Api => &self.inner.api_base,
            Base::Upload => &self.inner.upload_base,
        };
        let mut url = base.join(&call.path).map_err(|e| {
            CloudSigmaError::Config(format!("bad path {:?} for {}: {e}", call.path, call.what))
        })?;
        let query = encode_query(&call.query);
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        Ok(url)
    }

    async fn attempt(
        &self,
        call: &Call,
        url: &Url,
        route: &str,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        let authorization = self.inner.credentials.header().map_err(Failure::NotSent)?;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url.clone())
            .timeout(timeout)
            .header(AUTHORIZATION, authorization);
        request = match &call.payload {
            Payload::None => request.header(ACCEPT, "application/json"),
            Payload::Json(body) => request
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone()),
            // The documented upload is curl's (D:upload_download.rst): its answer is the uuid
            // as text, so no JSON is demanded.
            Payload::Octets(body) => request
                .header(ACCEPT, "*/*")
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body.clone()),
        };
        let method = call.method.as_str().to_string();
        let started = Instant::now();
        let record = |status: String| {
            metrics::counter!(names::REQUESTS_TOTAL,
                "method" => method.clone(), "route" => route.to_string(), "status" => status)
            .increment(1);
            metrics::histogram!(names::REQUEST_DURATION_SECONDS,
                "method" => method.clone(), "route" => route.to_string())
            .record(started.elapsed().as_secs_f64());
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                record(names::STATUS_TRANSPORT.to_string());
                let error = transport(&call.what, &e);
                return Err(if e.is_connect() {
                    Failure::NotSent(error)
                } else {
                    Failure::Lost(error)
                });
            }
        };
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        tracing::debug!(
            what = %call.what,
            method = %call.method,
            route,
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            "CloudSigma answered"
        );
        let body = response.bytes().await;
        record(status.to_string());
        let body = match body {
            Ok(b) => b.to_vec(),
            Err(e) => return Err(Failure::Lost(transport(&call.what, &e))),
        };
        if (200..300).contains(&status) {
            return Ok(Answer { status, body });
        }
        Err(Failure::Answered(ApiError::from_response(
            status, &body, request_id,
        )))
    }

    // ----- typed helpers used by the handles -----

    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, CloudSigmaError> {
        let answer = self.send(&call).await?;
        decode(&call.what, &answer.body)
    }

    /// Every object of a list, following `offset` while `meta.total_count` says there are more
    /// (CLOUDSIGMA.md §3: `limit=0` returns everything; paging guards against a server cap).
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: Vec<(&'static str, String)>,
        what: &str,
    ) -> Result<Vec<T>, CloudSigmaError> {
        const MAX_PAGES: usize = 10_000;
        let mut all: Vec<T> = Vec::new();
        // A host that ignored `offset`, or miscounted (the `/locations/` dump's `total_count` is
        // one short), would hand the same page again: a page that adds no new uuid ends the list.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let mut call = Call::new(Method::GET, path, what).query("limit", "0");
            if !all.is_empty() {
                call = call.query("offset", all.len().to_string());
            }
            call.query.extend(filters.iter().cloned());
            let answer = self.send(&call).await?;
            let value: Value = decode(what, &answer.body)?;
            let (objects, total) = split_list(value)
                .ok_or_else(|| decode_error(what, "expected {\"objects\": [...]} or a list"))?;
            let got = objects.len();
            let mut new = 0;
            for object in objects {
                let id = object
                    .get("uuid")
                    .or_else(|| object.get("id"))
                    .map(Value::to_string);
                if let Some(id) = id {
                    if !seen.insert(id) {
                        continue;
                    }
                }
                new += 1;
                all.push(serde_json::from_value(object).map_err(|e| decode_error(what, e))?);
            }
            if got > 0 && new == 0 {
                return Ok(all);
            }
            match total {
                Some(total) if got > 0 && (all.len() as u64) < total => continue,
                _ => return Ok(all),
            }
        }
        Ok(all)
    }

    /// A create: the body wrapped as `{"objects": [...]}` (D:drives.rst, CLOUDSIGMA.md §3), the
    /// answer's `objects` returned.
    pub(crate) async fn create_many<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        objects: &[B],
        what: &str,
    ) -> Result<Vec<T>, CloudSigmaError> {
        let call = Call::new(Method::POST, path, what)
            .safety(Safety::Create)
            .json(&serde_json::json!({ "objects": objects }))?;
        let answer = self.send(&call).await?;
        let value: Value = decode(what, &answer.body)?;
        let objects = match value {
            Value::Object(ref map) if !map.contains_key("objects") => vec![value],
            other => {
                split_list(other)
                    .ok_or_else(|| decode_error(what, "expected {\"objects\": [...]}"))?
                    .0
            }
        };
        objects
            .into_iter()
            .map(|o| serde_json::from_value(o).map_err(|e| decode_error(what, e)))
            .collect()
    }

    pub(crate) async fn create_one<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        object: &B,
        what: &str,
    ) -> Result<T, CloudSigmaError> {
        let mut made: Vec<T> = self
            .create_many(path, std::slice::from_ref(object), what)
            .await?;
        if made.is_empty() {
            // The create was carried out as far as anyone knows, but its result is not here.
            return Err(CloudSigmaError::OutcomeUnknown {
                what: format!("{what} (the answer listed no object)"),
            });
        }
        Ok(made.swap_remove(0))
    }
}

/// A 502 or 504 answered to a create comes from a gateway that lost CloudSigma's answer, not
/// from CloudSigma; so does a 5xx whose body is not CloudSigma's error array.
fn is_gateway_loss(api: &ApiError) -> bool {
    matches!(api.status, 502 | 504) || (api.status >= 500 && api.errors.is_empty())
}

fn transport(what: &str, e: &reqwest::Error) -> CloudSigmaError {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    CloudSigmaError::Transport {
        during: what.to_string(),
        source_text: text,
    }
}

pub(crate) fn decode_error(what: &str, detail: impl std::fmt::Display) -> CloudSigmaError {
    CloudSigmaError::Decode {
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, CloudSigmaError> {
    serde_json::from_slice(body).map_err(|e| decode_error(what, e))
}

/// `{"objects": [...], "meta": {"total_count": n}}` or a bare list.
fn split_list(value: Value) -> Option<(Vec<Value>, Option<u64>)> {
    match value {
        Value::Array(items) => Some((items, None)),
        Value::Object(mut map) => {
            let total = map
                .get("meta")
                .and_then(|m| m.get("total_count"))
                .and_then(|t| t.as_u64().or_else(|| t.as_str()?.parse().ok()));
            match map.remove("objects") {
                Some(Value::Array(items)) => Some((items, total)),
                Some(Value::Null) => Some((Vec::new(), total)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Query text: unreserved characters and `,` as they are (the filters' OR separator, D:general.rst),
/// everything else percent-encoded.
pub(crate) fn encode_query(pairs: &[(&'static str, String)]) -> String {
    fn enc(out: &mut String, s: &str) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(&mut out, k);
        out.push('=');
        enc(&mut out, v);
    }
    out
}

/// The metrics' `route`: the path with object ids (uuids, IP addresses, numeric ids) replaced
/// by `{uuid}` or `{id}`, plus the action's `do=` when there is one.
pub(crate) fn route_label(path: &str, query: &[(&'static str, String)]) -> String {
    let mut route: String = path
        .split('/')
        .map(|seg| {
            if is_uuid(seg) || seg.parse::<std::net::IpAddr>().is_ok() {
                "{uuid}"
            } else if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    if let Some((_, action)) = query.iter().find(|(k, _)| *k == "do") {
        route.push_str("?do=");
        route.push_str(action);
    }
    route
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A path segment from an id given by the caller: refused when it could change the path.
pub(crate) fn segment(kind: &str, id: &str) -> Result<String, CloudSigmaError> {
    let id = id.trim();
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(id.to_string())
    } else {
        Err(CloudSigmaError::Config(format!(
            "{kind} {id:?} is not a valid id"
        )))
    }
}

/// Refuses anything but Basic credentials (for uploads).
pub(crate) fn require_basic(credentials: &Credentials, what: &str) -> Result<(), CloudSigmaError> {
    match credentials {
        Credentials::Basic { .. } => Ok(()),
        Credentials::Token(_) => Err(CloudSigmaError::Config(format!(
            "{what}: drive uploads accept only Basic authentication (D:upload_download.rst); \
             these credentials are a token"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_hide_ids() {
        assert_eq!(
            route_label(
                "servers/4e31777b-92b5-4633-9f31-c28443a63cfd/action/",
                &[("do", "start".into())]
            ),
            "servers/{uuid}/action/?do=start"
        );
        assert_eq!(route_label("ips/185.12.6.183/", &[]), "ips/{uuid}/");
        assert_eq!(
            route_label("subscriptions/7273/action/", &[]),
            "subscriptions/{id}/action/"
        );
        assert_eq!(
            route_label("servers/detail/", &[("limit", "0".into())]),
            "servers/detail/"
        );
    }

    #[test]
    fn query_keeps_commas_and_escapes_the_rest() {
        let q = encode_query(&[("uuid", "a,b".into()), ("name", "x y\\,z&".into())]);
        assert_eq!(q, "uuid=a,b&name=x%20y%5C,z%26");
    }

    #[test]
    fn settings_from_template_and_known_locations() {
        let s = ClientSettings::from_template("http://127.0.0.1:4000/{location}/api/2.0", "ZRH")
            .unwrap();
        assert_eq!(s.api_base.as_str(), "http://127.0.0.1:4000/zrh/api/2.0/");
        assert_eq!(
            s.effective_upload_base().unwrap().as_str(),
            "http://127.0.0.1:4000/zrh/api/2.0/"
        );
        let s = ClientSettings::from_template("https://{location}.cloudsigma.com/api/2.0/", "fra")
            .unwrap();
        assert_eq!(
            s.effective_upload_base().unwrap().as_str(),
            "https://direct.fra.cloudsigma.com/api/2.0/"
        );
        let s = ClientSettings::for_known_location("dub").unwrap();
        assert_eq!(s.api_base.as_str(), "https://ec.servecentric.com/api/2.0/");
        assert_eq!(
            s.effective_upload_base().unwrap().as_str(),
            "https://direct.ec.servecentric.com/api/2.0/"
        );
        assert!(ClientSettings::for_known_location("nowhere").is_err());
        assert!(ClientSettings::from_template("https://{location}.x/", "a/b").is_err());
        let d = ClientSettings::default();
        assert_eq!(d.api_base.as_str(), DEFAULT_API_BASE);
        assert_eq!(d.timeout, Duration::from_secs(30));
    }

    #[test]
    fn base_urls_with_credentials_are_refused() {
        let s = ClientSettings {
            api_base: Url::parse("https://me:pw@zrh.cloudsigma.com/api/2.0/").unwrap(),
            ..ClientSettings::default()
        };
        let err = Client::new(s, Credentials::token("t")).unwrap_err();
        assert!(!err.to_string().contains("pw"));
    }

    #[test]
    fn segments_refuse_path_tricks() {
        assert!(segment("uuid", "../profile").is_err());
        assert!(segment("uuid", "a/b").is_err());
        assert!(segment("uuid", "").is_err());
        assert_eq!(segment("ip", "2a00::1").unwrap(), "2a00::1");
    }
}
