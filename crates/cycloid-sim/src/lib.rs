//! A Cycloid for tests and the demo: the events and inventory calls of Cycloid's API, checked
//! as strictly as Cycloid's API reference and CLI show them (`../shared/reference/cycloid/`),
//! with its own reading of the wire: it shares no type with `cycloid-sdk`.
//!
//! It checks the bearer key, the organisation canonical's pattern, the paths and methods, the
//! JSON content type, the required fields, the enums, the tags' shape and the filters' literal
//! brackets; records every request; and on demand fails, throttles, slows down or answers
//! garbage ([`Behaviour`]).

mod check;
mod handle;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

/// How the simulator answers, from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// As Cycloid does.
    Normal,
    /// Every request answered with this status and Cycloid's error body.
    Fail(u16),
    /// Every request answered 429 with `Retry-After: 1`.
    Throttle,
    /// Every request answered as normal, after this long.
    Slow(Duration),
    /// Every request answered 200 with a body that is not JSON.
    Garbage,
}

/// One request as it arrived, and the status it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// 0 while unanswered (or if the caller gave up first).
    pub status: u16,
    /// The `Authorization` header, as sent: a test may check no other secret was.
    pub authorization: Option<String>,
}

#[derive(Debug)]
struct State {
    organization: String,
    api_key: String,
    behaviour: Behaviour,
    events: Vec<Value>,
    resources: Vec<Value>,
    next_id: u32,
    received: Vec<Received>,
}

/// The shared state behind the routes; cheap to clone.
#[derive(Debug, Clone)]
pub struct CycloidSim {
    state: Arc<Mutex<State>>,
}

impl CycloidSim {
    /// A Cycloid with one organisation, reached with one API key.
    pub fn new(organization: &str, api_key: &str) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                organization: organization.into(),
                api_key: api_key.into(),
                behaviour: Behaviour::Normal,
                events: Vec::new(),
                resources: Vec::new(),
                next_id: 1,
                received: Vec::new(),
            })),
        }
    }

    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handle::any)
            .with_state(self.clone())
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.lock().behaviour = behaviour;
    }

    /// The events accepted, in the order they arrived, as sent.
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    /// The inventory resources that exist now, with their ids.
    pub fn resources(&self) -> Vec<Value> {
        self.lock().resources.clone()
    }

    /// Every request, accepted or not.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Puts a resource in the inventory as if someone had created it (a crash's leftover).
    pub fn insert_resource(&self, mut resource: Value) -> u32 {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        resource["id"] = id.into();
        state.resources.push(resource);
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulator served on loopback until dropped.
pub struct RunningCycloid {
    pub sim: CycloidSim,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningCycloid {
    pub async fn start(sim: CycloidSim) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = sim.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { sim, addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningCycloid {
    fn drop(&mut self) {
        self.task.abort();
    }
}
