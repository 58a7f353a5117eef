//! Coalesced status reads. Cycle polls every server in flight every few seconds; reading Crusoe
//! once per poll would be throttled exactly when a customer scales up. Instead each tenant keeps a
//! view of the VMs of every server it is polling:
//! - a full refresh, at most once per interval, reads every polled name with one list call per
//!   `batch` names (a few calls at once), while polls keep being answered from the previous view;
//! - a name the view does not cover yet is read on its own (names arriving together share a call);
//! - a server this bridge has just created is reported pending until the next refresh covers it,
//!   without a read of its own: it cannot have finished booting in that time.
//!
//! Batches send `names=a,b,...`. Crusoe's OpenAPI says the filter takes "these names", but no
//! Crusoe client has sent more than one; were Crusoe to match only one exact name, every server
//! would look gone. So a name a batch misses is read on its own before it is reported gone, and a
//! tenant for which that finds VMs a batch missed is read from then on by listing its whole
//! project (paged), with a log line and a metric.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::error::{BridgeError, Doing};
use super::servers::VmStatus;
use super::tenant::Tenant;
use crusoe_sdk::types::VmFilter;

/// A name not polled for this long leaves the view.
const FORGET_AFTER: Duration = Duration::from_secs(120);
/// List calls in flight at once during a refresh.
const PARALLEL_CALLS: usize = 4;

/// What the view knows of a server.
pub enum Seen {
    /// The VMs of its name, oldest first (none: Crusoe has no VM of that name).
    Vms(Vec<VmStatus>),
    /// Created by this bridge a moment ago, not read since: still being created.
    JustCreated,
}

#[derive(Default)]
struct Snapshot {
    at: Option<Instant>,
    /// Names read: absent from `vms` means Crusoe has no VM of that name.
    covered: HashSet<String>,
    vms: HashMap<String, Vec<VmStatus>>,
}

#[derive(Default)]
struct TenantView {
    /// Names being polled, and when each was last polled.
    wanted: Mutex<HashMap<String, Instant>>,
    /// Names this bridge created, and when.
    created: Mutex<HashMap<String, Instant>>,
    snapshot: tokio::sync::RwLock<Snapshot>,
    /// One full refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// One read of uncovered names at a time.
    filling: tokio::sync::Mutex<()>,
    /// Crusoe's `names` filter proved to take one name only: read the whole project instead.
    whole_project: AtomicBool,
}

pub struct VmView {
    refresh: Duration,
    batch: usize,
    tenants: moka::sync::Cache<[u8; 32], Arc<TenantView>>,
}

/// The VMs of `names`, by name, whichever meaning Crusoe gives `names`.
async fn read(
    t: &Tenant,
    view: &TenantView,
    names: &[String],
    batch: usize,
) -> Result<HashMap<String, Vec<VmStatus>>, BridgeError> {
    if view.whole_project.load(Ordering::Relaxed) {
        return read_whole_project(t, names).await;
    }
    let mut vms = read_batches(t, names, batch).await?;
    if batch > 1 && names.len() > 1 {
        let missed: Vec<String> = names
            .iter()
            .filter(|n| !vms.contains_key(*n))
            .cloned()
            .collect();
        if !missed.is_empty() {
            // Gone, or missed by a filter that takes one name: each is read on its own first.
            let found = read_batches(t, &missed, 1).await?;
            if !found.is_empty() && !view.whole_project.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    project = %t.project.id(),
                    missed = found.len(),
                    "Crusoe's list-VMs `names` filter matched single names only: this tenant's status reads now list its whole project"
                );
                metrics::counter!(crate::telemetry::metrics::NAMES_FILTER_FALLBACKS).increment(1);
            }
            vms.extend(found);
        }
    }
    Ok(vms)
}

/// Every VM of the project (paged), kept for `names`.
async fn read_whole_project(
    t: &Tenant,
    names: &[String],
) -> Result<HashMap<String, Vec<VmStatus>>, BridgeError> {
    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
    let all = t
        .project
        .vms()
        .list(&VmFilter::default())
        .await
        .doing(|| "listing the project's VMs".into())?;
    let mut vms: HashMap<String, Vec<VmStatus>> = HashMap::new();
    for vm in all.into_iter().filter(|v| wanted.contains(v.name.as_str())) {
        vms.entry(vm.name.clone())
            .or_default()
            .push(VmStatus::from(vm));
    }
    for list in vms.values_mut() {
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    }
    Ok(vms)
}

async fn read_batches(
    t: &Tenant,
    names: &[String],
    batch: usize,
) -> Result<HashMap<String, Vec<VmStatus>>, BridgeError> {
    let batches: Vec<Vec<String>> = names.chunks(batch.max(1)).map(<[String]>::to_vec).collect();
    let pages: Vec<Vec<VmStatus>> = stream::iter(batches)
        .map(|chunk: Vec<String>| async move {
            let count = chunk.len();
            t.project
                .vms()
                .list(&VmFilter::names(chunk))
                .await
                .map(|page| page.into_iter().map(VmStatus::from).collect())
                .doing(|| format!("listing the VMs of {count} servers"))
        })
        .buffered(PARALLEL_CALLS)
        .try_collect()
        .await?;
    let mut vms: HashMap<String, Vec<VmStatus>> = HashMap::new();
    for vm in pages.into_iter().flatten() {
        vms.entry(vm.name.clone()).or_default().push(vm);
    }
    // Each page is oldest first; across pages, keep that order. A pushed-to list has room for
    // four: give back what one VM per name does not use.
    for list in vms.values_mut() {
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        list.shrink_to_fit();
    }
    Ok(vms)
}

impl VmView {
    pub fn new(refresh: Duration, batch: usize) -> Self {
        Self {
            refresh,
            batch: batch.max(1),
            tenants: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(FORGET_AFTER)
                .build(),
        }
    }

    fn view(&self, t: &Tenant) -> Arc<TenantView> {
        self.tenants
            .get_with(t.cache_key, || Arc::new(TenantView::default()))
    }

    /// Records that this bridge just created `name`'s VM: the next refresh reads it.
    pub async fn created(&self, t: &Tenant, name: &str) {
        let view = self.view(t);
        let now = Instant::now();
        view.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), now);
        view.wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), now);
        view.snapshot.write().await.covered.remove(name);
    }

    /// Forgets what the view knows of a server the bridge just changed, so the next poll reads it.
    pub async fn invalidate(&self, t: &Tenant, name: &str) {
        let view = self.view(t);
        view.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        view.snapshot.write().await.covered.remove(name);
    }

    pub async fn vms(&self, t: &Tenant, name: &str) -> Result<Seen, BridgeError> {
        let view = self.view(t);
        view.wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), Instant::now());
        let stale = view
            .snapshot
            .read()
            .await
            .at
            .is_none_or(|at| at.elapsed() >= self.refresh);
        if stale {
            // One poll refreshes for everyone; the others answer from the view meanwhile.
            if let Ok(_one) = view.refreshing.try_lock() {
                self.refresh_all(t, &view).await?;
            }
        }
        {
            let snap = view.snapshot.read().await;
            if snap.covered.contains(name) {
                return Ok(Seen::Vms(snap.vms.get(name).cloned().unwrap_or_default()));
            }
        }
        // Created here and not read since: the next refresh covers it.
        if view
            .created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
        {
            return Ok(Seen::JustCreated);
        }
        self.fill(t, &view, name).await
    }

    /// Reads every polled name and replaces the view.
    async fn refresh_all(&self, t: &Tenant, view: &TenantView) -> Result<(), BridgeError> {
        let names: Vec<String> = {
            let mut wanted = view.wanted.lock().unwrap_or_else(|e| e.into_inner());
            wanted.retain(|_, polled| polled.elapsed() < FORGET_AFTER);
            wanted.keys().cloned().collect()
        };
        let started = Instant::now();
        let vms = read(t, view, &names, self.batch).await?;
        let covered: HashSet<String> = names.into_iter().collect();
        // Covered now: no longer just created. (A name created during the read stays.)
        view.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|n, at| *at >= started || !covered.contains(n));
        *view.snapshot.write().await = Snapshot {
            at: Some(started),
            covered,
            vms,
        };
        Ok(())
    }

    /// Reads the polled names the view does not cover yet (this one among them) and adds them.
    async fn fill(&self, t: &Tenant, view: &TenantView, name: &str) -> Result<Seen, BridgeError> {
        let _one = view.filling.lock().await;
        {
            let snap = view.snapshot.read().await;
            if snap.covered.contains(name) {
                return Ok(Seen::Vms(snap.vms.get(name).cloned().unwrap_or_default()));
            }
        }
        let missing: Vec<String> = {
            let snap = view.snapshot.read().await;
            let wanted = view.wanted.lock().unwrap_or_else(|e| e.into_inner());
            wanted
                .keys()
                .filter(|n| !snap.covered.contains(*n))
                .cloned()
                .collect()
        };
        let found = read(t, view, &missing, self.batch).await?;
        let mut snap = view.snapshot.write().await;
        let answer = found.get(name).cloned().unwrap_or_default();
        for n in missing {
            snap.vms.remove(&n);
            snap.covered.insert(n);
        }
        snap.vms.extend(found);
        Ok(Seen::Vms(answer))
    }
}
