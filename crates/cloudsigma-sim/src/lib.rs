//! A CloudSigma API 2.0 simulator: the same paths, JSON shapes, error arrays, states and
//! transitions as CloudSigma's manual describes, with seeded randomness and injectable faults.
//!
//! It is a second, independent reading of CloudSigma's manual (`D:` = the cloudsigma-docs pages
//! and `dumps/`, digested in `CLOUDSIGMA.md`): it shares no wire types and no client code with
//! `cloudsigma-sdk`, so each side catches the other's mistakes. Where the evidence is silent it
//! picks the stricter plausible behaviour and says so where it does.
//!
//! URL layout: the API of location `L` is served at `/{L}/api/2.0/...` (every path ends with
//! `/`), its upload host at `/{L}/direct/api/2.0/drives/upload/`, and the admin interface
//! (inventory, calls, faults, capacity, balance) at `/_sim`.
//!
//! # Choices where CloudSigma's evidence is silent (the stricter plausible reading)
//! - A path without its final `/` is 404 (clients always send it, CLOUDSIGMA.md §1.1).
//! - 401 carries a Digest `WWW-Authenticate` challenge (D:general.rst) and a plain-text body; the
//!   simulator does not accept Digest answers. `Bearer <token>` works on the API host, the token
//!   being the account's password (token issuance is undocumented, §2); the upload host takes
//!   Basic only (D:upload_download.rst). Accounts live in one location (§1.3).
//! - A request body needs `Content-Type: application/json` (D:general.rst says it is required);
//!   an `Accept` naming neither JSON nor `*/*` gets 406 (the simulator speaks no XML).
//! - Create bodies: `{"objects": [...]}` or a bare list, not a bare object; all objects are
//!   checked before any is made.
//! - `smp` defaults to 1 and cpu/smp must lie in `cpu_per_smp` (not derived from cpu).
//! - PUT of a server: omitted `drives`, `nics`, `tags` become empty (PUT is a full definition);
//!   omitted `meta` and scalar fields are kept (P's test keeps meta). NICs are matched by the
//!   exact MAC string as rendered. Boot orders are >= 1 and unique across drives and NICs.
//! - scsi `dev_channel` limits are undocumented: ide's (0:0..1:1) are applied.
//! - Drives: sizes round up to a multiple of 64 KiB (P's ALLOWED_SIZE_ROUNDING), shrinking is
//!   refused, only `dssd` is offered; attaching, editing or deleting a drive that is `creating`,
//!   `uploading` or `resizing` is refused (403); deleting a drive held by a server that is not
//!   stopped is 403, held by stopped servers it is detached (Carbon).
//! - Deleting a server that is not `stopped` is 403 (undocumented, §11); a second DELETE during
//!   the deletion window is a 204 no-op; `recurse` that would delete a drive in use by another
//!   non-stopped server refuses the whole delete.
//! - Start: 402 unless the balance covers 5 days of burst (D:general.rst) and is positive; 503
//!   `backend` when the location's start capacity is exhausted; a failed start (fault) goes
//!   `starting` then back to `stopped` (§11). Shutdown: the guest always obeys.
//! - Objects of another account in the same location answer 403, elsewhere 404 (§2, K).
//! - Uploads: media `disk` (§6.3), name `Upload N`, answer 201 with the uuid as text/plain,
//!   `Content-Length` required (411), empty images refused, at most 64 MiB (413).
//! - Subscriptions: `ip`, `cpu`, `mem`, `dssd` only, `period` only (start now), a month = 30 days,
//!   price at level 0, paid from the balance at once (402 when short); the `auto_renew` action
//!   takes an optional `{"auto_renew": bool}` and answers 200 with the subscription.
//! - No VLANs, library drives, clones, VNC, resize, jobs, Digest or cookie auth, OPTIONS, XML.

mod admin;
mod api;
mod catalog;
mod http;
mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use http::router;
use world::World;

/// One CloudSigma account: an e-mail (the Basic user name), its password, and the one location
/// it lives in (accounts are per location, CLOUDSIGMA.md §1.3).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub password: String,
    /// Lower case, e.g. `zrh`.
    pub location: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("location", &self.location)
            .finish()
    }
}

fn valid_location_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Account {
    /// `USER:PASSWORD` or `USER:PASSWORD@LOCATION`. The user name is split off at the first `:`
    /// (Basic auth cannot carry a `:` in it); a final `@LOCATION` is taken as the location when it
    /// is a plain location id (letters and digits), so a password may contain `@` as long as what
    /// follows its last `@` is not such an id.
    pub fn parse(text: &str, default_location: &str) -> Result<Self, String> {
        let (user, rest) = text
            .split_once(':')
            .ok_or("expected USER:PASSWORD or USER:PASSWORD@LOCATION")?;
        let (password, location) = match rest.rsplit_once('@') {
            Some((p, l)) if valid_location_id(l) => (p, l.to_ascii_lowercase()),
            _ => (rest, default_location.to_ascii_lowercase()),
        };
        if user.is_empty() || password.is_empty() {
            return Err("neither the user nor the password may be empty".into());
        }
        if !valid_location_id(&location) {
            return Err(format!("{location:?} is not a location id"));
        }
        Ok(Self {
            username: user.to_string(),
            password: password.to_string(),
            location,
        })
    }

    /// A fresh random account in `location`.
    pub fn generate(location: &str) -> Self {
        let mut rng = rand::rng();
        let user: u64 = rng.random();
        let pass: [u8; 18] = rng.random();
        use base64::Engine;
        Self {
            username: format!("sim-{user:016x}@example.com"),
            password: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pass),
            location: location.to_ascii_lowercase(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Lower-case ids of the locations served.
    pub locations: Vec<String>,
    /// Each account lives in one location: its credentials get 401 anywhere else.
    pub accounts: Vec<Account>,
    /// Seeds uuids, MACs, addresses and fault draws.
    pub seed: u64,
    /// How long each transition takes (drive creating/uploading/resizing, start, stop,
    /// deletions).
    pub transition: Duration,
    pub faults: Faults,
    /// MAC addresses in upper case (CloudSigma's dumps show lower case).
    pub upper_case_macs: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            locations: vec!["zrh".into(), "fra".into(), "mnl".into()],
            accounts: Vec::new(),
            seed: 0,
            transition: Duration::from_millis(300),
            faults: Faults::default(),
            upper_case_macs: false,
        }
    }
}

/// Faults to inject on the API routes (not the admin ones), as shares of requests (0.0 to 1.0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Answered 500, 502 or 503 with a `backend` error array; nothing is done.
    pub server_error_rate: f64,
    /// The connection is cut before anything is done.
    pub connection_reset_rate: f64,
    /// The work is done, then the connection is cut without an answer.
    pub lost_answer_rate: f64,
    /// Added to every API request, in milliseconds.
    pub latency_ms: u64,
    /// Starts accepted (202) that fall back to `stopped` without reaching `running`
    /// (CLOUDSIGMA.md §11: what a failed start looks like is not established; this is the
    /// reading it recommends to treat as a failure).
    pub start_failure_rate: f64,
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("server_error_rate", self.server_error_rate),
            ("connection_reset_rate", self.connection_reset_rate),
            ("lost_answer_rate", self.lost_answer_rate),
            ("start_failure_rate", self.start_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// The shared state behind the simulator's routes.
pub struct Sim {
    world: Mutex<World>,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl Sim {
    /// A simulator for `config`. Fails on an account whose location is not served, or a user
    /// name given twice in one location.
    pub fn new(config: &SimConfig) -> Result<Arc<Self>, String> {
        let world = World::new(config)?;
        Ok(Arc::new(Self {
            world: Mutex::new(world),
            calls: Mutex::new(BTreeMap::new()),
        }))
    }

    /// The world, even if a handler panicked while holding it: the simulator keeps serving.
    fn world(&self) -> MutexGuard<'_, World> {
        let mut w = self.world.lock().unwrap_or_else(|e| e.into_inner());
        w.advance();
        w
    }

    fn count(&self, key: String) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    }

    /// API calls received, by `METHOD /route/` (below `/api/2.0`, uuids as `{uuid}`).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn reset_calls(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Every account with its resources as CloudSigma would render them, plus simulator extras
    /// (`starts` per server, `content_len`/`content_sha256` per uploaded drive).
    pub fn inventory(&self) -> Value {
        self.world().inventory()
    }

    pub fn faults(&self) -> Faults {
        self.world().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        self.world().faults = faults;
        Ok(())
    }

    /// How many more starts can succeed in `location`; `None` = unlimited (the default).
    pub fn set_capacity(&self, location: &str, servers: Option<u32>) {
        let location = location.to_ascii_lowercase();
        let mut w = self.world();
        match servers {
            Some(n) => {
                w.capacity.insert(location, n);
            }
            None => {
                w.capacity.remove(&location);
            }
        }
    }

    /// Whether `location` is served.
    pub fn has_location(&self, location: &str) -> bool {
        self.world()
            .locations
            .iter()
            .any(|l| l.eq_ignore_ascii_case(location))
    }

    /// Sets an account's balance (a decimal string, in the account's currency). Every account of
    /// that user name (one per location) gets it.
    pub fn set_balance(&self, username: &str, balance: &str) -> Result<(), String> {
        let value: f64 = balance
            .trim()
            .parse()
            .map_err(|_| format!("{balance:?} is not a decimal number"))?;
        if !value.is_finite() {
            return Err(format!("{balance:?} is not a decimal number"));
        }
        let mut w = self.world();
        let mut found = false;
        for a in w.accounts.iter_mut().filter(|a| a.username == username) {
            a.balance = value;
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(format!("no account {username:?}"))
        }
    }

    /// The bytes uploaded into a drive, if it was made by an upload.
    pub fn drive_content(&self, uuid: &str) -> Option<Vec<u8>> {
        self.world()
            .drives
            .iter()
            .find(|d| d.uuid == uuid)
            .and_then(|d| d.content.as_ref().map(|c| c.to_vec()))
    }
}

/// A simulator serving on a local port, for tests, the demo and the CLI.
pub struct RunningSim {
    pub addr: SocketAddr,
    pub sim: Arc<Sim>,
    pub accounts: Vec<Account>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSim {
    /// Starts on `listen` (port 0 picks a free one). With no accounts configured, one is
    /// generated in the first location.
    pub async fn start(mut config: SimConfig, listen: SocketAddr) -> std::io::Result<Self> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        for l in &mut config.locations {
            *l = l.to_ascii_lowercase();
        }
        if config.accounts.is_empty() {
            let first = config
                .locations
                .first()
                .cloned()
                .ok_or_else(|| invalid("no location configured".into()))?;
            config.accounts.push(Account::generate(&first));
        }
        let sim = Sim::new(&config).map_err(invalid)?;
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = router(Arc::clone(&sim));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            addr,
            sim,
            accounts: config.accounts,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://ADDR/{location}/api/2.0/`, with `{location}` left for the caller to fill in.
    pub fn endpoint_template(&self) -> String {
        format!("http://{}/{{location}}/api/2.0/", self.addr)
    }

    /// The API base URL of one location, e.g. `http://127.0.0.1:PORT/zrh/api/2.0/`.
    pub fn endpoint(&self, location: &str) -> String {
        format!(
            "http://{}/{}/api/2.0/",
            self.addr,
            location.to_ascii_lowercase()
        )
    }

    /// The upload base URL of one location (what `/locations/` calls `upload_url`).
    pub fn upload_endpoint(&self, location: &str) -> String {
        format!(
            "http://{}/{}/direct/api/2.0/",
            self.addr,
            location.to_ascii_lowercase()
        )
    }

    /// The admin base URL, e.g. `http://127.0.0.1:PORT/_sim`.
    pub fn admin(&self) -> String {
        format!("http://{}{}", self.addr, admin::PREFIX)
    }

    /// Stops accepting and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server stops (it only does when it fails, or is stopped elsewhere).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
