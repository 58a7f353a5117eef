//! The client: one organisation, one key, one shared HTTP client (timeouts are the HTTP
//! client's, set by whoever builds it).

use std::fmt;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use reqwest::{header, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use crate::error::{first_message, CycloidError};
use crate::types::{Filter, InventoryResource, NewEvent, NewInventoryResource, Organization};

/// Cycloid's API, the CLI's default `CY_API_URL`.
pub const DEFAULT_URL: &str = "https://http-api.cycloid.io";

#[derive(Clone)]
pub struct CycloidClient {
    http: reqwest::Client,
    base: Url,
    org: Organization,
    key: SecretString,
}

impl fmt::Debug for CycloidClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycloidClient")
            .field("base", &self.base.as_str())
            .field("org", &self.org.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The `{"data": ...}` envelope of every successful answer.
#[derive(Deserialize)]
struct Data<T> {
    data: Option<T>,
}

/// What the CLI's `lhsEscapeValue` encodes in a filter value: what would end or split the
/// pair, and what is not printable ASCII.
const FILTER_VALUE: &AsciiSet = &CONTROLS.add(b'&').add(b'=').add(b'#').add(b' ').add(b'+');

impl CycloidClient {
    pub fn new(http: reqwest::Client, base: Url, org: Organization, key: SecretString) -> Self {
        Self {
            http,
            base,
            org,
            key,
        }
    }

    pub fn organization(&self) -> &Organization {
        &self.org
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `POST /organizations/{org}/events`.
    pub async fn send_event(&self, event: &NewEvent) -> Result<(), CycloidError> {
        let url = self.url(&["events"], None);
        self.call(Method::POST, url, Some(event)).await.map(drop)
    }

    pub fn inventory(&self) -> Inventory<'_> {
        Inventory { client: self }
    }

    fn url(&self, segments: &[&str], query: Option<String>) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("an http(s) base URL has a path");
            path.pop_if_empty()
                .extend(["organizations", self.org.as_str()])
                .extend(segments);
        }
        url.set_query(query.as_deref());
        url
    }

    async fn call<B: serde::Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Vec<u8>, CycloidError> {
        let mut request = self
            .http
            .request(method, url)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.key.expose_secret()),
            )
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CycloidError::Transport(describe(e)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CycloidError::Transport(describe(e)))?;
        match status {
            s if s.is_success() => Ok(bytes.to_vec()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(CycloidError::Refused {
                status: status.as_u16(),
            }),
            StatusCode::TOO_MANY_REQUESTS => Err(CycloidError::Throttled { retry_after }),
            s if s.is_server_error() => Err(CycloidError::Unavailable {
                status: status.as_u16(),
            }),
            _ => Err(CycloidError::Rejected {
                status: status.as_u16(),
                message: first_message(&bytes),
            }),
        }
    }

    async fn data<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Option<T>, CycloidError> {
        let bytes = self.call(method, url, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice::<Data<T>>(&bytes)
            .map(|d| d.data)
            .map_err(|e| CycloidError::Garbage(e.to_string()))
    }
}

fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    // `without_url`: the message says what failed, not where.
    format!("{what}: {}", e.without_url())
}

/// The organisation's inventory resources.
pub struct Inventory<'a> {
    client: &'a CycloidClient,
}

impl Inventory<'_> {
    /// `POST /organizations/{org}/inventory/resources`. Cycloid's reference does not promise
    /// the created resource in the answer (its sample shows only the error shape), so `None`
    /// means "created, find it with [`Inventory::find`]".
    pub async fn create(
        &self,
        resource: &NewInventoryResource,
    ) -> Result<Option<InventoryResource>, CycloidError> {
        let url = self.client.url(&["inventory", "resources"], None);
        match self
            .client
            .data::<serde_json::Value, _>(Method::POST, url, Some(resource))
            .await
        {
            Ok(Some(v)) => Ok(serde_json::from_value(v).ok()),
            Ok(None) => Ok(None),
            // The resource was made; only its answer is unreadable.
            Err(CycloidError::Garbage(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /organizations/{org}/inventory?attribute[condition]=value&...`, brackets literal as
    /// the CLI sends them.
    pub async fn find(&self, filters: &[Filter]) -> Result<Vec<InventoryResource>, CycloidError> {
        let query = filters
            .iter()
            .map(|f| {
                format!(
                    "{}[{}]={}",
                    utf8_percent_encode(&f.attribute, FILTER_VALUE),
                    f.condition,
                    utf8_percent_encode(&f.value, FILTER_VALUE)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let url = self
            .client
            .url(&["inventory"], (!query.is_empty()).then_some(query));
        Ok(self
            .client
            .data::<Vec<InventoryResource>, ()>(Method::GET, url, None)
            .await?
            .unwrap_or_default())
    }

    /// `DELETE /organizations/{org}/inventory/resources/{id}`; `false` when it was already gone.
    pub async fn delete(&self, id: u32) -> Result<bool, CycloidError> {
        let url = self
            .client
            .url(&["inventory", "resources", &id.to_string()], None);
        match self.client.call::<()>(Method::DELETE, url, None).await {
            Ok(_) => Ok(true),
            Err(CycloidError::Rejected { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
