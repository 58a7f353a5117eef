//! Coalesced status reads. Cycle polls every server in flight every few seconds; reading Crusoe
//! once per poll would be throttled exactly when a customer scales up. Instead each tenant keeps a
//! view of the VMs of every server it is polling:
//! - a full refresh, at most once per interval, reads every polled name with one list call per
//!   `batch` names (a few calls at once), while polls keep being answered from the previous view;
//! - a name the view does not cover yet is read on its own (names arriving together share a call);
//! - a server this bridge has just created is reported pending until the next refresh covers it,
//!   without a read of its own: it cannot have finished booting in that time.
//!
//! - a name no VM has is remembered as unknown for a short while: polls for it cost no call and
//!   it leaves the refreshes, so a storm of polls for servers that do not exist costs no more
//!   than one read per name, and never a read of every name at once.
//!
//! - a name whose one VM a read by name has found is read by that VM's id from then on
//!   (`ids=a,b,...`, as Crusoe's own autoscaler sends several at once, `crusoe_manager.go`), the
//!   name being the fallback when an id read misses it. A name's first read on a replica is always
//!   by name, not by the id in the create operation: that read is what finds a duplicate VM that
//!   racing replicas made, and removes it.
//!
//! Batches send `names=a,b,...`. Crusoe's OpenAPI says the filter takes "these names", but no
//! Crusoe client has sent more than one; were Crusoe to match only one exact name, every server
//! would look gone. So until one call has answered for two names, a name a batch misses is
//! looked for in a listing of the whole project (paged), shared by every read of the tenant for
//! one refresh interval; a tenant whose listing finds VMs a batch missed is read from then on
//! from that listing alone, with a log line and a metric. One poll therefore causes at most one
//! batch read and one shared listing, whether its name exists or not.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::error::Doing;
use super::servers::VmStatus;
use super::Tenant;
use crate::core::by_name::oldest_first;
use crate::core::error::CoreError;
use crusoe_sdk::types::VmFilter;

/// A name not polled for this long leaves the view.
const FORGET_AFTER: Duration = Duration::from_secs(120);
/// How long a name no VM has is taken as unknown without reading Crusoe again.
pub const UNKNOWN_FOR: Duration = Duration::from_secs(30);
/// Unknown names remembered per tenant at most; beyond, a name is read again (still one batch).
const MAX_UNKNOWN: usize = 100_000;
/// List calls in flight at once during a refresh.
const PARALLEL_CALLS: usize = 4;

/// VMs by name, each name's oldest first.
type ByName = HashMap<String, Vec<VmStatus>>;

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
    /// Crusoe's `names` filter answered for two names in one call: a name a batch misses is gone.
    several_names: AtomicBool,
    /// Names no VM had when last read, and when.
    unknown: Mutex<HashMap<String, Instant>>,
    /// The id of the one VM of each polled name, once a read by name has found exactly one.
    ids: Mutex<HashMap<String, String>>,
    /// The last listing of the whole project, by name, and when it was read; one at a time.
    listing: tokio::sync::Mutex<Option<(Instant, Arc<ByName>)>>,
}

impl TenantView {
    fn is_unknown(&self, name: &str) -> bool {
        self.unknown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|at| at.elapsed() < UNKNOWN_FOR)
    }

    /// Remembers the names of `read` that no VM has, and stops polling-driven reads of them.
    fn note_unknown(&self, read: &[String], found: &HashMap<String, Vec<VmStatus>>) {
        let now = Instant::now();
        let gone: Vec<&String> = read.iter().filter(|n| !found.contains_key(*n)).collect();
        if gone.is_empty() {
            return;
        }
        let mut unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        if unknown.len() + gone.len() > MAX_UNKNOWN {
            unknown.retain(|_, at| at.elapsed() < UNKNOWN_FOR);
        }
        let mut wanted = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
        for name in gone {
            wanted.remove(name);
            if unknown.len() < MAX_UNKNOWN {
                unknown.insert(name.clone(), now);
            }
        }
    }

    fn forget_unknown(&self, name: &str) {
        self.unknown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }
}

pub struct VmView {
    refresh: Duration,
    batch: usize,
    tenants: moka::sync::Cache<[u8; 32], Arc<TenantView>>,
}

/// The VMs of `names`, by name. With `by_id`, the names whose one VM the view has seen are read
/// by that VM's id (`ids=a,b,…`, as Crusoe's autoscaler sends it), the others, and any an id read
/// misses, by name; what a read by name finds teaches the view the ids for next time.
async fn read(
    t: &Tenant,
    view: &TenantView,
    names: &[String],
    batch: usize,
    refresh: Duration,
    by_id: bool,
) -> Result<HashMap<String, Vec<VmStatus>>, CoreError> {
    let (known, mut rest): (Vec<(String, String)>, Vec<String>) = if by_id {
        let ids = view.ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut known = Vec::new();
        let mut rest = Vec::new();
        for name in names {
            match ids.get(name) {
                Some(id) => known.push((name.clone(), id.clone())),
                None => rest.push(name.clone()),
            }
        }
        (known, rest)
    } else {
        (Vec::new(), names.to_vec())
    };
    let mut vms = HashMap::new();
    if !known.is_empty() {
        let (found, missed) = read_by_ids(t, &known, batch).await?;
        vms.extend(found);
        rest.extend(missed);
    }
    let by_name = read_by_names(t, view, &rest, batch, refresh).await?;
    {
        let mut ids = view.ids.lock().unwrap_or_else(|e| e.into_inner());
        for name in &rest {
            match by_name.get(name).map(Vec::as_slice) {
                Some([one]) => ids.insert(name.clone(), one.id.clone()),
                _ => ids.remove(name),
            };
        }
    }
    vms.extend(by_name);
    Ok(vms)
}

/// The VMs of `(name, id)` pairs read by id, and the names whose VM was not found so. A VM whose
/// name is not the one expected of its id is not taken: an id never speaks for another server.
async fn read_by_ids(
    t: &Tenant,
    known: &[(String, String)],
    batch: usize,
) -> Result<(HashMap<String, Vec<VmStatus>>, Vec<String>), CoreError> {
    let ids: Vec<String> = known.iter().map(|(_, id)| id.clone()).collect();
    let read = read_batches(t, None, &ids, batch, VmFilter::ids).await?;
    let mut found = HashMap::new();
    let mut missed = Vec::new();
    for (name, id) in known {
        match read
            .get(name)
            .and_then(|vms| vms.iter().find(|v| &v.id == id))
        {
            Some(vm) => {
                found.insert(name.clone(), vec![vm.clone()]);
            }
            None => missed.push(name.clone()),
        }
    }
    Ok((found, missed))
}

/// The VMs of `names`, by name, whichever meaning Crusoe gives `names`.
async fn read_by_names(
    t: &Tenant,
    view: &TenantView,
    names: &[String],
    batch: usize,
    refresh: Duration,
) -> Result<HashMap<String, Vec<VmStatus>>, CoreError> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    if view.whole_project.load(Ordering::Relaxed) {
        let all = listing(t, view, refresh).await?;
        return Ok(names
            .iter()
            .filter_map(|n| all.get(n).map(|vms| (n.clone(), vms.clone())))
            .collect());
    }
    let mut vms = read_batches(t, Some(view), names, batch, VmFilter::names).await?;
    if batch > 1 && names.len() > 1 && !view.several_names.load(Ordering::Relaxed) {
        let missed: Vec<&String> = names.iter().filter(|n| !vms.contains_key(*n)).collect();
        if !missed.is_empty() {
            // Gone, or missed by a filter that takes one name: the shared listing says which.
            let all = listing(t, view, refresh).await?;
            let found: Vec<(String, Vec<VmStatus>)> = missed
                .into_iter()
                .filter_map(|n| all.get(n).map(|v| (n.clone(), v.clone())))
                .collect();
            if !found.is_empty() && !view.whole_project.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    project = %t.account.id(),
                    missed = found.len(),
                    "Crusoe's list-VMs `names` filter matched single names only: this tenant's status reads now list its whole project"
                );
                metrics::counter!(super::metrics::NAMES_FILTER_FALLBACKS).increment(1);
            }
            vms.extend(found);
        }
    }
    Ok(vms)
}

/// Every VM of the project this bridge named (paged), by name: read at most once per `refresh`
/// for all the tenant's reads, which wait for one listing in progress rather than start their own.
async fn listing(
    t: &Tenant,
    view: &TenantView,
    refresh: Duration,
) -> Result<Arc<ByName>, CoreError> {
    let mut last = view.listing.lock().await;
    if let Some((at, all)) = last.as_ref() {
        if at.elapsed() < refresh {
            return Ok(Arc::clone(all));
        }
    }
    let started = Instant::now();
    let listed = t
        .account
        .vms()
        .list(&VmFilter::default())
        .await
        .doing(|| "listing the project's VMs".into())?;
    let mut all: HashMap<String, Vec<VmStatus>> = HashMap::new();
    for vm in listed
        .into_iter()
        .filter(|v| v.name.starts_with(crate::core::naming::PREFIX))
    {
        all.entry(vm.name.clone())
            .or_default()
            .push(VmStatus::from(vm));
    }
    for list in all.values_mut() {
        oldest_first(list);
    }
    let all = Arc::new(all);
    *last = Some((started, Arc::clone(&all)));
    Ok(all)
}

/// The VMs `filter` selects for each batch of `keys` (names or ids), by name. Given the view, a
/// call that answers for two names tells it that Crusoe's `names` filter takes several.
async fn read_batches(
    t: &Tenant,
    view: Option<&TenantView>,
    keys: &[String],
    batch: usize,
    filter: fn(Vec<String>) -> VmFilter,
) -> Result<HashMap<String, Vec<VmStatus>>, CoreError> {
    let batches: Vec<Vec<String>> = keys.chunks(batch.max(1)).map(<[String]>::to_vec).collect();
    let pages: Vec<Vec<VmStatus>> = stream::iter(batches)
        .map(|chunk: Vec<String>| async move {
            let count = chunk.len();
            t.account
                .vms()
                .list(&filter(chunk))
                .await
                .map(|page| page.into_iter().map(VmStatus::from).collect())
                .doing(|| format!("listing the VMs of {count} servers"))
        })
        .buffered(PARALLEL_CALLS)
        .try_collect()
        .await?;
    let mut vms: HashMap<String, Vec<VmStatus>> = HashMap::new();
    for page in pages {
        let first = page.first().map(|v| v.name.clone());
        if let Some(view) = view.filter(|_| page.iter().any(|v| Some(&v.name) != first.as_ref())) {
            view.several_names.store(true, Ordering::Relaxed);
        }
        for vm in page {
            vms.entry(vm.name.clone()).or_default().push(vm);
        }
    }
    // Each page is oldest first; across pages, keep that order. A pushed-to list has room for
    // four: give back what one VM per name does not use.
    for list in vms.values_mut() {
        oldest_first(list);
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
        view.forget_unknown(name);
        view.snapshot.write().await.covered.remove(name);
    }

    /// Forgets that no VM had `name` (Crusoe says it made one): the next poll reads it.
    pub async fn exists(&self, t: &Tenant, name: &str) {
        let view = self.view(t);
        view.forget_unknown(name);
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

    pub async fn vms(&self, t: &Tenant, name: &str) -> Result<Seen, CoreError> {
        let view = self.view(t);
        if view.is_unknown(name) {
            return Ok(Seen::Vms(Vec::new()));
        }
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
    async fn refresh_all(&self, t: &Tenant, view: &TenantView) -> Result<(), CoreError> {
        let names: Vec<String> = {
            let mut wanted = view.wanted.lock().unwrap_or_else(|e| e.into_inner());
            wanted.retain(|_, polled| polled.elapsed() < FORGET_AFTER);
            wanted.keys().cloned().collect()
        };
        let started = Instant::now();
        {
            let polled: HashSet<&String> = names.iter().collect();
            view.ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|n, _| polled.contains(n));
        }
        let vms = read(t, view, &names, self.batch, self.refresh, true).await?;
        let just_created: HashSet<String> = view
            .created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        // A VM this bridge has just asked for may not be listed yet: not unknown.
        let settled: Vec<String> = names
            .iter()
            .filter(|n| !just_created.contains(*n))
            .cloned()
            .collect();
        view.note_unknown(&settled, &vms);
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
    async fn fill(&self, t: &Tenant, view: &TenantView, name: &str) -> Result<Seen, CoreError> {
        let _one = view.filling.lock().await;
        {
            let snap = view.snapshot.read().await;
            if snap.covered.contains(name) {
                return Ok(Seen::Vms(snap.vms.get(name).cloned().unwrap_or_default()));
            }
        }
        // This name, and polled names waiting to be read with it: one batch, never more.
        let waiting: Vec<String> = {
            let snap = view.snapshot.read().await;
            let wanted = view.wanted.lock().unwrap_or_else(|e| e.into_inner());
            wanted
                .keys()
                .filter(|n| n.as_str() != name && !snap.covered.contains(*n))
                .take(self.batch * 4)
                .cloned()
                .collect()
        };
        let missing: Vec<String> = std::iter::once(name.to_string())
            .chain(
                waiting
                    .into_iter()
                    .filter(|n| !view.is_unknown(n))
                    .take(self.batch - 1),
            )
            .collect();
        // A name's first read is by name: it is what finds duplicates a race left.
        let found = read(t, view, &missing, self.batch, self.refresh, false).await?;
        view.note_unknown(&missing, &found);
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
