//! A faithful Crusoe simulator: the same paths, JSON shapes, error body and signature check as
//! Crusoe's API (`/v1`, and the same under `/v1alpha5`), with asynchronous operations, stock, and injectable faults. It is a
//! second, independent reading of Crusoe's OpenAPI: it shares no wire types and no signing code
//! with the `crusoe-sdk` crate (the crate graph keeps it so), so each side catches the other's mistakes.

mod admin;
pub mod auth;
pub mod catalog;
mod guest;
mod handlers;
mod http;
mod resources;
mod routes;
mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use routes::router;
pub use world::Faults;
use world::{Timing, World};

/// A key pair and the project it owns.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret_key: String,
    pub project_id: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("access_key_id", &self.access_key_id)
            .field("secret_key", &"[REDACTED]")
            .field("project_id", &self.project_id)
            .finish()
    }
}

impl KeyPair {
    /// `ACCESS_KEY_ID:SECRET_KEY:PROJECT_ID`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(a), Some(s), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("expected ACCESS_KEY_ID:SECRET_KEY:PROJECT_ID".into());
        };
        if a.is_empty() || s.is_empty() || p.is_empty() {
            return Err("expected ACCESS_KEY_ID:SECRET_KEY:PROJECT_ID, none of them empty".into());
        }
        if URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).is_err() {
            return Err("the secret key must be URL-safe base64, as Crusoe issues them".into());
        }
        if !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("the project id may hold only letters, digits and `-`".into());
        }
        Ok(Self {
            access_key_id: a.into(),
            secret_key: s.into(),
            project_id: p.into(),
        })
    }

    /// A fresh random key pair and project, shaped like Crusoe's.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let access: [u8; 16] = rng.random();
        let secret: [u8; 16] = rng.random();
        Self {
            access_key_id: URL_SAFE_NO_PAD.encode(access),
            secret_key: URL_SAFE_NO_PAD.encode(secret),
            project_id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Path prefix of the API the simulator advertises: `/v1`, Crusoe's GA API.
    pub base_path: String,
    /// Further prefixes it serves the same API under: `/v1alpha5`, which Crusoe still serves and
    /// older configurations name.
    pub legacy_base_paths: Vec<String>,
    pub keys: Vec<KeyPair>,
    /// Seeds ids, addresses and fault draws.
    pub seed: u64,
    /// How long each asynchronous operation takes.
    pub op_delay: Duration,
    /// How long a finished operation stays readable.
    pub op_ttl: Duration,
    /// Largest accepted difference between a request's timestamp and the simulator's clock.
    pub max_skew_secs: i64,
    pub faults: Faults,
    /// MAC addresses in upper case. Crusoe's case is not documented; the bridge must report
    /// iPXE's lower case whatever it gets.
    pub upper_case_macs: bool,
    /// Read list-VMs' `names` as one exact name, commas and all. Crusoe's OpenAPI says "these
    /// names"; no Crusoe client has sent more than one, so either meaning may be Crusoe's.
    pub names_match_one: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            base_path: "/v1".into(),
            legacy_base_paths: vec!["/v1alpha5".into()],
            keys: Vec::new(),
            seed: 0,
            op_delay: Duration::from_millis(500),
            op_ttl: Duration::from_secs(3600),
            max_skew_secs: 300,
            faults: Faults::default(),
            upper_case_macs: false,
            names_match_one: false,
        }
    }
}

/// The shared state behind the simulator's routes.
pub struct Sim {
    world: Mutex<World>,
    calls: Mutex<BTreeMap<String, u64>>,
    pub base_path: String,
    /// Every prefix the API is served under, the advertised one first.
    pub base_paths: Vec<String>,
    pub max_skew_secs: i64,
    pub names_match_one: bool,
    /// List-VMs calls by the filter they used: `ids`, `names`, or neither (`unfiltered`).
    vm_lists: Mutex<BTreeMap<&'static str, u64>>,
}

impl Sim {
    pub fn new(config: &SimConfig) -> Arc<Self> {
        let mut world = World::new(
            config.seed,
            Timing {
                op_delay: config.op_delay,
                op_ttl: config.op_ttl,
            },
            config.faults.clone(),
        );
        world.upper_case_macs = config.upper_case_macs;
        for k in &config.keys {
            world.add_key(&k.access_key_id, &k.secret_key, &k.project_id);
        }
        Arc::new(Self {
            world: Mutex::new(world),
            calls: Mutex::new(BTreeMap::new()),
            base_path: config.base_path.trim_end_matches('/').to_string(),
            base_paths: std::iter::once(&config.base_path)
                .chain(&config.legacy_base_paths)
                .map(|p| p.trim_end_matches('/').to_string())
                .fold(Vec::new(), |mut all, p| {
                    if !all.contains(&p) {
                        all.push(p);
                    }
                    all
                }),
            max_skew_secs: config.max_skew_secs,
            names_match_one: config.names_match_one,
            vm_lists: Mutex::new(BTreeMap::new()),
        })
    }

    /// List-VMs calls so far, by the filter they used (`ids`, `names`, `unfiltered`).
    pub fn vm_lists(&self) -> BTreeMap<&'static str, u64> {
        self.vm_lists
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn count_vm_list(&self, filter: &'static str) {
        *self
            .vm_lists
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(filter)
            .or_default() += 1;
    }

    /// The world, even if a handler panicked while holding it: the simulator keeps serving.
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, key: String) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    }

    /// Calls received, by `METHOD /route` (route below the base path, with its parameters named).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn reset_calls(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Every resource of every project, as Crusoe would render it.
    pub fn inventory(&self) -> Value {
        let mut world = self.world();
        world.advance();
        let projects: Vec<Value> = world.projects.values().map(|p| p.inventory()).collect();
        serde_json::json!({
            "projects": projects,
            "operations_in_progress": world.pending_operations(),
        })
    }

    pub fn faults(&self) -> Faults {
        self.world().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        self.world().faults = faults;
        Ok(())
    }

    pub fn set_capacity(&self, location: &str, vm_type: &str, quantity: u32) -> Result<(), String> {
        if !catalog::LOCATIONS.contains(&location) {
            return Err(format!("unknown location {location:?}"));
        }
        if catalog::vm_type(vm_type).is_none() {
            return Err(format!("unknown VM type {vm_type:?}"));
        }
        self.world()
            .capacity
            .insert((location.to_string(), vm_type.to_string()), quantity);
        Ok(())
    }

    pub fn add_key(&self, key: &KeyPair) {
        self.world()
            .add_key(&key.access_key_id, &key.secret_key, &key.project_id);
    }
}

/// A simulator serving on a local port, for tests, the demo and benchmarks.
pub struct RunningSim {
    pub addr: SocketAddr,
    pub sim: Arc<Sim>,
    pub keys: Vec<KeyPair>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSim {
    /// Starts on `listen` (port 0 picks a free one). With no keys configured, one is generated.
    pub async fn start(mut config: SimConfig, listen: SocketAddr) -> std::io::Result<Self> {
        if config.keys.is_empty() {
            config.keys.push(KeyPair::generate());
        }
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let sim = Sim::new(&config);
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
            keys: config.keys,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The API base URL, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{}", self.addr, self.sim.base_path)
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

    /// Waits until the server stops (it only does when `stop` is called elsewhere or it fails).
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
