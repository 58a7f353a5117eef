//! Cycloid as an optional destination for each server's story (issue 16): events in the
//! organisation's timeline and a resource per server in its inventory, never in Cycle's way
//! (design decision 12 in ARCHITECTURE.md).
//!
//! - [`settings`]: the operator's `[cycloid]` table
//! - `hub_config`: a hub's own organisation, from Cycle's `auth.config` (pass-through)
//! - `story`: what each call tells Cycloid
//! - `delivery`: the bounded queue, the workers, retries and drop counting

mod delivery;
pub mod hub_config;
pub mod settings;
pub mod story;
mod told;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use url::Url;

use crate::setting_error::SettingError;
use cycloid_sdk::{CycloidClient, NewEvent, NewInventoryResource, Organization};
use delivery::{Delivery, Job, Retry, Work};
pub use hub_config::BadConfig;
use hub_config::HubCycloid;
pub use settings::CycloidSettings;
pub use story::Server;
pub use told::Told;

pub struct Sink {
    delivery: Delivery,
    http: reqwest::Client,
    /// The operator's organisation, for every tenant whose hub names none.
    default: Option<CycloidClient>,
    /// Where a hub's key may be sent: the operator's URL and `allowed_urls`.
    allowed: Vec<Url>,
    default_url: Url,
    /// Events sent once per process per server (provisioned, failed): Cycle polls again.
    announced: moka::sync::Cache<String, ()>,
    /// What provision said of each server, for the calls that say less (on this replica).
    facts: moka::sync::Cache<String, Server>,
    /// The server of each address allocated (release may not name it), on this replica.
    ip_owners: moka::sync::Cache<String, String>,
    bad_config_warned: AtomicBool,
}

/// Where one call's story goes.
#[derive(Debug, Clone)]
pub struct Teller {
    client: CycloidClient,
}

/// The HTTP client every Cycloid call shares.
fn http_client(settings: &CycloidSettings) -> Result<reqwest::Client, SettingError> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(settings.timeout_ms))
        .connect_timeout(Duration::from_millis(settings.timeout_ms.min(3000)))
        // A redirect could carry the key to a host nobody allowed.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(crate::USER_AGENT)
        .build()
        .map_err(|e| SettingError::new("cycloid.url", format!("cannot build an HTTP client: {e}")))
}

/// A client of the operator's organisation, when `[cycloid]` configures one (for `gc`).
pub fn operator_client(settings: &CycloidSettings) -> Result<Option<CycloidClient>, SettingError> {
    Ok(Sink::new(settings)?.default)
}

impl Sink {
    pub fn new(settings: &CycloidSettings) -> Result<Self, SettingError> {
        settings.validate()?;
        let http = http_client(settings)?;
        let url =
            |key: &str, u: &str| settings::api_url(key, u).map_err(|e| SettingError::new(key, e));
        let default_url = url("cycloid.url", &settings.url)?;
        let mut allowed = vec![default_url.clone()];
        for u in &settings.allowed_urls {
            allowed.push(url("cycloid.allowed_urls", u)?);
        }
        let default = match (&settings.organization, &settings.api_key) {
            (Some(org), Some(key)) => Some(CycloidClient::new(
                http.clone(),
                default_url.clone(),
                Organization::parse(org.trim())
                    .map_err(|e| SettingError::new("cycloid.organization", e.to_string()))?,
                key.clone(),
            )),
            _ => None,
        };
        Ok(Self {
            delivery: Delivery::new(
                settings.queue,
                settings.workers,
                Retry {
                    max_attempts: settings.max_attempts,
                    first: Duration::from_millis(200),
                    max: Duration::from_secs(5),
                },
            ),
            http,
            default,
            allowed,
            default_url,
            announced: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            facts: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
            ip_owners: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
            bad_config_warned: AtomicBool::new(false),
        })
    }

    /// Where the story of a call goes: the hub's own organisation if its `config` names one
    /// (read only when `hub_config` is allowed, in pass-through mode), else the operator's, else
    /// nowhere.
    pub fn teller(
        &self,
        config: Option<&str>,
        read_hub_config: bool,
    ) -> Result<Option<Teller>, BadConfig> {
        let hub = if read_hub_config {
            hub_config::parse(config)?
        } else {
            None
        };
        let client = match hub {
            Some(hub) => Some(self.hub_client(hub)?),
            None => self.default.clone(),
        };
        Ok(client.map(|client| Teller { client }))
    }

    /// [`Sink::teller`] for a call that must not fail because of its config: a bad one is
    /// logged (once per process, without its content) and the operator's organisation used.
    pub fn teller_lenient(&self, config: Option<&str>, read_hub_config: bool) -> Option<Teller> {
        match self.teller(config, read_hub_config) {
            Ok(t) => t,
            Err(e) => {
                if !self.bad_config_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "a hub's auth.config is not one the bridge reads ({e}); its story goes to the operator's Cycloid organisation, if any. verify refuses such a config"
                    );
                }
                self.default.clone().map(|client| Teller { client })
            }
        }
    }

    fn hub_client(&self, hub: HubCycloid) -> Result<CycloidClient, BadConfig> {
        let url = match hub.url {
            None => self.default_url.clone(),
            Some(u) if self.allowed.iter().any(|a| settings::same_api(a, &u)) => u,
            Some(_) => {
                return Err(BadConfig {
                    field: "cycloid.url".into(),
                    reason: format!(
                        "is not a Cycloid API this bridge sends keys to; leave it out for {}, or ask the operator to add it to cycloid.allowed_urls",
                        self.default_url
                    ),
                })
            }
        };
        Ok(CycloidClient::new(
            self.http.clone(),
            url,
            hub.organization,
            hub.api_key,
        ))
    }

    fn send(&self, teller: &Teller, server: &Server, work: Work) {
        self.delivery.send(Job {
            client: teller.client.clone(),
            order_key: format!("{}/{}", server.hub, server.server_id),
            work,
        });
    }

    pub fn event(&self, teller: &Teller, server: &Server, event: NewEvent) {
        self.send(teller, server, Work::Event(event));
    }

    /// An event sent at most once per process for this server and `what`.
    pub fn event_once(&self, teller: &Teller, server: &Server, what: &str, event: NewEvent) {
        let key = format!("{what}/{}/{}", server.hub, server.server_id);
        let mut first = false;
        self.announced.get_with(key, || first = true);
        if first {
            self.event(teller, server, event);
        }
    }

    pub fn register(&self, teller: &Teller, server: &Server, resource: NewInventoryResource) {
        self.send(
            teller,
            server,
            Work::Register {
                resource,
                find: server.find(),
            },
        );
    }

    pub fn unregister(&self, teller: &Teller, server: &Server) {
        self.send(
            teller,
            server,
            Work::Unregister {
                find: server.find(),
            },
        );
    }

    pub fn remember(&self, server: &Server) {
        self.facts.insert(
            format!("{}/{}", server.hub, server.server_id),
            server.clone(),
        );
    }

    pub fn remember_ip(&self, hub: &str, ip_id: &str, server_id: &str) {
        self.ip_owners
            .insert(format!("{hub}/{ip_id}"), server_id.to_string());
    }

    /// The server an address was allocated to, if this replica allocated it.
    pub fn ip_owner(&self, hub: &str, ip_id: &str) -> Option<String> {
        self.ip_owners.get(&format!("{hub}/{ip_id}"))
    }

    /// `server` completed with what provision said of it, where this replica heard it.
    pub fn recall(&self, mut server: Server) -> Server {
        if let Some(known) = self
            .facts
            .get(&format!("{}/{}", server.hub, server.server_id))
        {
            server.cycle_server_id = server.cycle_server_id.or(known.cycle_server_id);
            server.cycle_location_id = server.cycle_location_id.or(known.cycle_location_id);
            server.location = server.location.or(known.location);
            server.model = server.model.or(known.model);
            server.hostname = server.hostname.or(known.hostname);
        }
        server
    }

    /// At shutdown: lets the queue empty until `deadline`, then says what was left.
    pub async fn drain(&self, deadline: tokio::time::Instant) {
        let left = self.delivery.drain(deadline).await;
        if left > 0 {
            tracing::warn!(
                left,
                "stopping with Cycloid deliveries still queued: they are dropped (ial_cycloid_dropped_total{{cause=\"shutdown\"}}); `crusoe-ial gc` finds inventory they leave"
            );
        }
    }

    /// Forgets what was announced of a server, so that its next life is told again.
    pub fn forget(&self, server: &Server) {
        for what in ["provisioned", "failed"] {
            self.announced
                .invalidate(&format!("{what}/{}/{}", server.hub, server.server_id));
        }
    }
}
