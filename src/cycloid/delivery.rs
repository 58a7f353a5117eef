//! Delivery to Cycloid, off the IAL path (design decision 12 in ARCHITECTURE.md): a call only
//! puts work in a bounded queue (`try_send`, never waiting); workers make the requests, with
//! retries and backoff. One server's work always goes to the same worker, so its story arrives
//! in order. What cannot be delivered is dropped, counted by cause, and logged once per cause
//! until a delivery succeeds again.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;

use crate::telemetry::metrics::{CYCLOID_DELIVERED, CYCLOID_DROPPED, CYCLOID_RETRIES};
use cycloid_sdk::{CycloidClient, CycloidError, Filter, NewEvent, NewInventoryResource};

/// One thing to tell Cycloid.
#[derive(Debug, Clone)]
pub enum Work {
    Event(NewEvent),
    /// Create the resource unless `find` finds it already (Cycle retried, another replica).
    Register {
        resource: NewInventoryResource,
        find: Vec<Filter>,
    },
    /// Delete every resource `find` finds.
    Unregister {
        find: Vec<Filter>,
    },
}

impl Work {
    fn name(&self) -> &'static str {
        match self {
            Work::Event(_) => "event",
            Work::Register { .. } => "register",
            Work::Unregister { .. } => "unregister",
        }
    }
}

#[derive(Debug)]
pub struct Job {
    pub client: CycloidClient,
    /// Work with the same key is delivered in order.
    pub order_key: String,
    pub work: Work,
}

#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

pub struct Delivery {
    shards: OnceLock<Vec<mpsc::Sender<Job>>>,
    workers: usize,
    per_shard: usize,
    retry: Retry,
    warned: Arc<Mutex<HashSet<&'static str>>>,
    /// Work queued or being delivered, and a wake-up each time some finishes: for the drain at
    /// shutdown.
    pending: Arc<Pending>,
}

#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    finished: tokio::sync::Notify,
}

impl Pending {
    fn done(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        self.finished.notify_waiters();
    }
}

impl Delivery {
    pub fn new(queue: usize, workers: usize, retry: Retry) -> Self {
        let workers = workers.max(1);
        Self {
            shards: OnceLock::new(),
            workers,
            per_shard: queue.div_ceil(workers).max(1),
            retry,
            warned: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// Waits until everything queued is delivered or given up, or until `deadline`; what is
    /// left then is dropped (cause `shutdown`). Returns how much was left.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        loop {
            let finished = self.pending.finished.notified();
            let left = self.pending.count.load(Ordering::Acquire);
            if left == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                let left = self.pending.count.load(Ordering::Acquire);
                if left > 0 {
                    metrics::counter!(CYCLOID_DROPPED, "cause" => "shutdown")
                        .increment(left as u64);
                }
                return left;
            }
        }
    }

    /// Queues `job`, or drops it when its worker's queue is full. Never waits.
    pub fn send(&self, job: Job) {
        let Some(shards) = self.shards() else {
            dropped(
                &self.warned,
                "unavailable",
                "no async runtime to deliver on",
            );
            return;
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        job.order_key.hash(&mut h);
        let shard = &shards[(h.finish() as usize) % shards.len()];
        self.pending.count.fetch_add(1, Ordering::AcqRel);
        if shard.try_send(job).is_err() {
            self.pending.done();
            dropped(
                &self.warned,
                "queue_full",
                "the delivery queue is full (Cycloid is slow or down)",
            );
        }
    }

    /// The workers, started on first use (on the runtime of the call that first sends).
    fn shards(&self) -> Option<&Vec<mpsc::Sender<Job>>> {
        if let Some(s) = self.shards.get() {
            return Some(s);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(self.shards.get_or_init(|| {
            (0..self.workers)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(self.per_shard);
                    runtime.spawn(work(
                        rx,
                        self.retry,
                        self.warned.clone(),
                        self.pending.clone(),
                    ));
                    tx
                })
                .collect()
        }))
    }
}

async fn work(
    mut rx: mpsc::Receiver<Job>,
    retry: Retry,
    warned: Arc<Mutex<HashSet<&'static str>>>,
    pending: Arc<Pending>,
) {
    while let Some(job) = rx.recv().await {
        deliver(&job, retry, &warned).await;
        pending.done();
    }
}

async fn deliver(job: &Job, retry: Retry, warned: &Mutex<HashSet<&'static str>>) {
    let mut attempt = 1;
    loop {
        match once(&job.client, &job.work).await {
            Ok(()) => {
                metrics::counter!(CYCLOID_DELIVERED, "work" => job.work.name()).increment(1);
                let mut w = warned.lock().unwrap_or_else(|e| e.into_inner());
                if !w.is_empty() {
                    tracing::info!("Cycloid deliveries succeed again");
                    w.clear();
                }
                return;
            }
            Err(e) if e.is_transient() && attempt < retry.max_attempts => {
                metrics::counter!(CYCLOID_RETRIES).increment(1);
                tokio::time::sleep(pause(retry, attempt, &e)).await;
                attempt += 1;
            }
            Err(e) => {
                dropped(warned, e.kind(), &e.to_string());
                return;
            }
        }
    }
}

/// Exponential backoff with jitter, or what Cycloid's `Retry-After` asks (within reason).
fn pause(retry: Retry, attempt: u32, e: &CycloidError) -> Duration {
    if let CycloidError::Throttled {
        retry_after: Some(after),
    } = e
    {
        return (*after).min(Duration::from_secs(30));
    }
    let full = retry
        .first
        .saturating_mul(2u32.saturating_pow(attempt - 1))
        .min(retry.max);
    full.mul_f64(rand::rng().random_range(0.5..=1.0))
}

async fn once(client: &CycloidClient, work: &Work) -> Result<(), CycloidError> {
    match work {
        Work::Event(event) => client.send_event(event).await,
        Work::Register { resource, find } => {
            if client.inventory().find(find).await?.is_empty() {
                client.inventory().create(resource).await?;
            }
            Ok(())
        }
        Work::Unregister { find } => {
            for r in client.inventory().find(find).await? {
                client.inventory().delete(r.id).await?;
            }
            Ok(())
        }
    }
}

/// Counts a drop; logs it only if its cause has not been logged since the last success.
fn dropped(warned: &Mutex<HashSet<&'static str>>, cause: &'static str, why: &str) {
    metrics::counter!(CYCLOID_DROPPED, "cause" => cause).increment(1);
    let first = warned
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(cause);
    if first {
        tracing::warn!(
            cause,
            "a Cycloid delivery was dropped: {why}; Cycle's calls are not affected. Further drops for this cause are counted in {CYCLOID_DROPPED}, not logged, until a delivery succeeds"
        );
    }
}
