//! Coalesced status reads. Cycle polls every server in flight every few seconds; reading Crusoe
//! once per poll would be throttled exactly when a customer scales up. Instead each tenant has a
//! view of the VMs of every server it is polling, refreshed at most once per interval by one
//! batched list call per `batch` names, shared by all polls (and by concurrent refreshes: one
//! fetches, the others wait for it).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::{BridgeError, Doing};
use super::tenant::Tenant;
use crate::crusoe::types::{Vm, VmFilter};

/// A name not polled for this long leaves the view.
const FORGET_AFTER: Duration = Duration::from_secs(120);

#[derive(Default)]
struct Snapshot {
    at: Option<Instant>,
    /// Names the last refresh asked for: absent from `vms` means Crusoe has no VM of that name.
    covered: HashSet<String>,
    vms: HashMap<String, Vec<Vm>>,
}

#[derive(Default)]
struct TenantView {
    /// Names being polled, and when each was last polled.
    wanted: Mutex<HashMap<String, Instant>>,
    snapshot: tokio::sync::RwLock<Snapshot>,
    refreshing: tokio::sync::Mutex<()>,
}

pub struct VmView {
    refresh: Duration,
    batch: usize,
    tenants: moka::sync::Cache<[u8; 32], Arc<TenantView>>,
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

    fn fresh(&self, snap: &Snapshot, name: &str) -> Option<Vec<Vm>> {
        let young = snap.at.is_some_and(|at| at.elapsed() < self.refresh);
        (young && snap.covered.contains(name))
            .then(|| snap.vms.get(name).cloned().unwrap_or_default())
    }

    /// The VMs named `name`, oldest first, as of at most one refresh interval ago.
    pub async fn vms(&self, t: &Tenant, name: &str) -> Result<Vec<Vm>, BridgeError> {
        let view = self
            .tenants
            .get_with(t.cache_key, || Arc::new(TenantView::default()));
        view.wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), Instant::now());
        if let Some(vms) = self.fresh(&*view.snapshot.read().await, name) {
            return Ok(vms);
        }
        let _one_fetch = view.refreshing.lock().await;
        // Whoever held the lock may have refreshed for us.
        if let Some(vms) = self.fresh(&*view.snapshot.read().await, name) {
            return Ok(vms);
        }
        let names: Vec<String> = {
            let mut wanted = view.wanted.lock().unwrap_or_else(|e| e.into_inner());
            wanted.retain(|_, polled| polled.elapsed() < FORGET_AFTER);
            wanted.keys().cloned().collect()
        };
        let started = Instant::now();
        let mut vms: HashMap<String, Vec<Vm>> = HashMap::new();
        for chunk in names.chunks(self.batch) {
            let found = t
                .client
                .list_vms(&t.project_id, &VmFilter::names(chunk.iter().cloned()))
                .await
                .doing(|| format!("listing the VMs of {} servers", chunk.len()))?;
            for vm in found {
                vms.entry(vm.name.clone()).or_default().push(vm);
            }
        }
        let answer = vms.get(name).cloned().unwrap_or_default();
        *view.snapshot.write().await = Snapshot {
            at: Some(started),
            covered: names.into_iter().collect(),
            vms,
        };
        Ok(answer)
    }

    /// Forgets what the view knows of a server the bridge just changed, so the next poll reads it.
    pub async fn invalidate(&self, t: &Tenant, name: &str) {
        if let Some(view) = self.tenants.get(&t.cache_key) {
            view.snapshot.write().await.covered.remove(name);
        }
    }
}
