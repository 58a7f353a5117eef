//! A server, for CloudSigma: a KVM server named from Cycle's id that boots Cycle's iPXE ISO from
//! an IDE CD-ROM on every boot, with a data drive on virtio and a virtio NIC that iPXE configures
//! by DHCP. CloudSigma creates servers stopped (CLOUDSIGMA.md §5.2) and checks capacity and funds
//! only when one starts.
//!
//! Level-triggered, as a Cluster API provider's reconcile: [`advance`] looks at what exists and
//! takes the next step (the data drive, the boot address, the server, its start), from provision
//! and from every provision-status poll, so no call waits long and any of them can be repeated on
//! any replica. What a poll needs to continue travels in `extra` ([`Spec`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{capacity_failure, failed, failure, Doing};
use super::location::{self, LocationConfig};
use super::settings::PublicIp;
use super::{ips, CloudSigma, Sigma, MANAGED_BY, META_MANAGED_BY};
use crate::core::backend::{Caller, Extra, Observed};
use crate::core::by_name::{self, Named};
use crate::core::error::CoreError;
use crate::core::naming;
use crate::core::plan::{ProvisionPlan, CYCLEOS_MIN_DISK_GB};
use crate::ial::types::{ProvisionStatus, ServerAuth};
use cloudsigma_sdk::types::{
    Drive, DriveUpdate, NewDrive, NewIpConf, NewNic, NewServer, NewServerDrive, Server,
};
use cloudsigma_sdk::{Client, CloudSigmaError, ErrorKind, Filter, Recurse, ServerAction};

pub const EXTRA_SERVER: &str = "cloudsigma_server_uuid";
pub const EXTRA_LOCATION: &str = "cloudsigma_location";
const EXTRA_SPEC: &str = "cloudsigma_spec";
/// The Cycle server a resource was made for, in its `meta`.
pub const META_CYCLE_SERVER: &str = "cycle_server_id";
/// When the bridge made it (RFC 3339, UTC): CloudSigma documents no creation time on servers or
/// drives (CLOUDSIGMA.md §9), and the one rule for duplicates keeps the oldest.
pub const META_CREATED: &str = "created_at";
/// Set on a data drive before it is deleted: a drive so marked is never attached again, even
/// while CloudSigma still lists it.
pub const META_DELETING: &str = "deleting";
/// Starts made while provisioning, on the server itself: Cycle sends back provision's `extra`,
/// not the last poll's, so a count there would never grow.
const META_STARTS: &str = "provision_starts";
const GIB: u64 = 1 << 30;
/// The longest a provision or a poll waits for a new data drive before answering; the next
/// poll continues.
const DRIVE_GRACE: Duration = Duration::from_secs(5);
const DRIVE_STEP: Duration = Duration::from_millis(250);

impl Named for Server {
    fn id(&self) -> &str {
        &self.uuid
    }
    fn created_at(&self) -> &str {
        self.meta.get(META_CREATED).map_or("", String::as_str)
    }
}

impl Named for Drive {
    fn id(&self) -> &str {
        &self.uuid
    }
    fn created_at(&self) -> &str {
        self.meta.get(META_CREATED).map_or("", String::as_str)
    }
}

pub fn ours(meta: &BTreeMap<String, String>) -> bool {
    meta.get(META_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a server is to be made of, from provision's plan, kept in `extra` for the polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Spec {
    size: String,
    disk_gib: u64,
    hub: String,
    cycle_server_id: String,
}

impl Spec {
    fn of(plan: &ProvisionPlan, size_disk_gib: u32) -> Self {
        Self {
            size: plan.model_id.clone(),
            disk_gib: plan
                .storage_gb
                .unwrap_or(0)
                .max(u64::from(size_disk_gib))
                .max(u64::from(CYCLEOS_MIN_DISK_GB)),
            hub: plan.hub.clone(),
            cycle_server_id: plan.cycle_server_id.clone(),
        }
    }

    fn meta(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (META_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (META_CYCLE_SERVER.to_string(), self.cycle_server_id.clone()),
            ("cycle_hub".to_string(), self.hub.clone()),
            (META_CREATED.to_string(), now()),
        ])
    }
}

/// The bridge's servers called `name` in one location that are not being deleted, the one to
/// keep first.
pub async fn find(client: &Client, name: &str) -> Result<Vec<Server>, CloudSigmaError> {
    Ok(find_all(client, name)
        .await?
        .into_iter()
        .filter(|s| !s.meta.contains_key(META_DELETING))
        .collect())
}

/// Every one of the bridge's servers called `name` in one location, those being deleted too.
async fn find_all(client: &Client, name: &str) -> Result<Vec<Server>, CloudSigmaError> {
    let mut found: Vec<Server> = client
        .servers()
        .list(&Filter {
            name: Some(name.to_string()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|s| s.name == name && ours(&s.meta))
        .collect();
    by_name::oldest_first(&mut found);
    Ok(found)
}

/// The bridge's data drives of server `name`, deleting or not, the one to keep first.
async fn all_data_drives(client: &Client, name: &str) -> Result<Vec<Drive>, CoreError> {
    let drive_name = naming::data_disk_name(name);
    let mut found: Vec<Drive> = client
        .drives()
        .list(&Filter {
            name: Some(drive_name.clone()),
            ..Default::default()
        })
        .await
        .doing(|| format!("looking for drive {drive_name}"))?
        .into_iter()
        .filter(|d| d.name == drive_name && ours(&d.meta))
        .collect();
    by_name::oldest_first(&mut found);
    Ok(found)
}

/// Provision: the first steps of [`advance`], and what the polls need to continue.
pub async fn create(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    plan: &ProvisionPlan,
) -> Result<Extra, CoreError> {
    let size = backend.size(&plan.model_id).ok_or_else(|| {
        CoreError::invalid(
            format!(
                "model {:?} is not one of this bridge's CloudSigma sizes",
                plan.model_id
            ),
            "/request/model_id",
        )
    })?;
    let spec = Spec::of(plan, size.disk_gib);
    let client = caller.account.client(&plan.location)?;
    let mut extra = Extra::new();
    extra.insert(EXTRA_LOCATION.into(), json!(plan.location));
    extra.insert(EXTRA_SPEC.into(), json!(spec));
    let current = plan.location_configuration.as_ref();
    if let Some(server) = advance(
        backend,
        caller,
        client,
        &plan.name,
        &plan.location,
        &spec,
        current,
    )
    .await?
    {
        extra.insert(EXTRA_SERVER.into(), json!(server.uuid));
    }
    Ok(extra)
}

/// Takes the next step towards server `name` existing and started: its data drive (made, then
/// waited for a little), its boot address, the server (looked for again right before it is made:
/// another replica may have made it meanwhile), its start. `None` while the drive is not ready.
async fn advance(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    client: &Client,
    name: &str,
    location: &str,
    spec: &Spec,
    current: Option<&serde_json::Map<String, Value>>,
) -> Result<Option<Server>, CoreError> {
    let _held = backend
        .locks
        .lock(&format!("server/{}/{name}", caller.account.scope_key()))
        .await;
    let doing = || format!("looking for server {name}");
    let all = find_all(client, name).await.doing(doing)?;
    if let Some(server) = all.iter().find(|s| !s.meta.contains_key(META_DELETING)) {
        return Ok(Some(server.clone()));
    }
    // A decommission of the same server that has not finished (CloudSigma deletes in the
    // background, or the decommission was cut off): the new one waits until the old is gone,
    // whose address and drive it would otherwise meet; its deletion is carried on meanwhile.
    if !all.is_empty() {
        for dying in &all {
            carry_on_deleting(client, dying).await?;
        }
        return Ok(None);
    }
    let size = backend.size(&spec.size).ok_or_else(|| {
        failed(format!(
            "size {:?} of server {name} is no longer among this bridge's CloudSigma sizes",
            spec.size
        ))
    })?;
    let place = location::ensure(backend, caller, location, current).await?;
    let Some(drive) = data_drive(backend, client, name, spec, &place).await? else {
        return Ok(None);
    };
    let boot_ip = match backend.settings.public_ip {
        PublicIp::Static => Some(
            ips::lend(backend, caller, client, location, &ips::boot_holder(name))
                .await?
                .uuid,
        ),
        PublicIp::Dhcp => None,
    };
    // Last look: a server made by another replica since the first.
    if let Some(server) = find(client, name).await.doing(doing)?.into_iter().next() {
        return Ok(Some(server));
    }
    let server = match make_server(client, name, spec, &place, &drive, &size, boot_ip).await {
        Ok(server) => server,
        Err(e) => {
            // Refused as wrong (not lost, not busy): give back what was made for it, so that a
            // refused provision leaves nothing billable.
            if matches!(
                e.backend().map(|f| f.kind),
                Some(crate::core::FailureKind::Rejected)
            ) {
                let deadline = Instant::now() + backend.wait();
                mark_data_drives(client, name).await?;
                delete_data_drives(client, name, deadline).await?;
                ips::release_all(backend, client, name).await?;
            }
            return Err(e);
        }
    };
    start(client, &server).await?;
    Ok(Some(server))
}

/// The server's data drive: found by name (never one being deleted, never one mounted on some
/// other server), or made; `None` until it is ready.
async fn data_drive(
    backend: &CloudSigma,
    client: &Client,
    name: &str,
    spec: &Spec,
    place: &LocationConfig,
) -> Result<Option<Drive>, CoreError> {
    let drive_name = naming::data_disk_name(name);
    let usable = |d: &Drive| !d.meta.contains_key(META_DELETING) && d.mounted_on.is_empty();
    let found = all_data_drives(client, name).await?;
    let drive = match found.into_iter().find(usable) {
        Some(d) => d,
        None => {
            let new = NewDrive {
                name: drive_name.clone(),
                size: spec.disk_gib * GIB,
                media: "disk".into(),
                storage_type: Some(backend.settings.storage_type.clone()),
                meta: spec.meta(),
                tags: vec![place.tag.clone()],
            };
            match client.drives().create(&new).await {
                Ok(d) => d,
                Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                    match all_data_drives(client, name)
                        .await?
                        .into_iter()
                        .find(usable)
                    {
                        Some(d) => d,
                        None => return Err(failure(format!("creating drive {drive_name}"), e)),
                    }
                }
                Err(e) => return Err(capacity_failure(format!("creating drive {drive_name}"), e)),
            }
        }
    };
    // A short, even step: a new drive is usually ready within seconds, and a growing step would
    // overshoot it by as much again.
    let deadline = Instant::now() + DRIVE_GRACE;
    let mut drive = drive;
    loop {
        if location::is_ready(&drive) {
            return Ok(Some(drive));
        }
        if Instant::now() + DRIVE_STEP > deadline {
            return Ok(None);
        }
        tokio::time::sleep(DRIVE_STEP).await;
        drive = client
            .drives()
            .get(&drive.uuid)
            .await
            .doing(|| format!("reading drive {}", drive.uuid))?;
    }
}

async fn make_server(
    client: &Client,
    name: &str,
    spec: &Spec,
    place: &LocationConfig,
    drive: &Drive,
    size: &super::settings::Size,
    boot_ip: Option<String>,
) -> Result<Server, CoreError> {
    let boot_nic = match boot_ip {
        // Served by DHCP all the same (§7.3): iPXE configures it as it would any address.
        Some(ip) => NewIpConf {
            conf: "static".into(),
            ip: Some(ip),
        },
        None => NewIpConf {
            conf: "dhcp".into(),
            ip: None,
        },
    };
    let new = NewServer {
        name: name.to_string(),
        cpu: u64::from(size.cores) * u64::from(size.mhz_per_core),
        mem: u64::from(size.memory_gib) * GIB,
        smp: size.cores,
        // Guards VNC and the serial console; nobody needs it, so nobody is told it.
        vnc_password: SecretString::from(Alphanumeric.sample_string(&mut rand::rng(), 24)),
        drives: vec![
            // CD-ROMs on IDE (libcloud: "Need to use IDE for installation CDs", §5.2).
            NewServerDrive {
                boot_order: Some(1),
                dev_channel: "0:0".into(),
                device: "ide".into(),
                drive: place.iso_drive.clone(),
            },
            NewServerDrive {
                boot_order: Some(2),
                dev_channel: "0:0".into(),
                device: "virtio".into(),
                drive: drive.uuid.clone(),
            },
        ],
        nics: vec![
            NewNic {
                model: "virtio".into(),
                ip_v4_conf: Some(boot_nic),
            },
            // Where CycleOS can configure the addresses Cycle allocates without a restart: a
            // `manual` NIC lets through any IP the account owns (§7.3).
            NewNic {
                model: "virtio".into(),
                ip_v4_conf: Some(NewIpConf {
                    conf: "manual".into(),
                    ip: None,
                }),
            },
        ],
        meta: spec.meta(),
        tags: vec![place.tag.clone()],
    };
    match client.servers().create(&new).await {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == ErrorKind::OutcomeUnknown => match find(client, name).await {
            Ok(found) if !found.is_empty() => Ok(found.into_iter().next().expect("not empty")),
            _ => Err(failure(format!("creating server {name}"), e)),
        },
        Err(e) => Err(e).doing(|| format!("creating server {name}")),
    }
}

/// Starts a stopped server, counting the start on it first. A 403 is read as CloudSigma saying
/// the server is not stopped any more; if it still is, the refusal was for another reason and
/// is Cycle's to see (CLOUDSIGMA.md §4: re-read the state and decide).
async fn start(client: &Client, server: &Server) -> Result<(), CoreError> {
    let starts = started(server) + 1;
    match client.servers().get_value(&server.uuid).await {
        Ok(mut whole) => {
            if let Some(meta) = whole.get_mut("meta").and_then(Value::as_object_mut) {
                meta.insert(META_STARTS.into(), json!(starts.to_string()));
            }
            client
                .servers()
                .update(&server.uuid, &whole)
                .await
                .doing(|| format!("counting the starts of server {}", server.name))?;
        }
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e).doing(|| format!("reading server {}", server.name)),
    }
    match client
        .servers()
        .action(&server.uuid, ServerAction::Start)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.status() == Some(403) => match client.servers().get(&server.uuid).await {
            Ok(now) if now.status == "stopped" => {
                Err(failure(format!("starting server {}", server.name), e))
            }
            _ => Ok(()),
        },
        Err(e) => Err(capacity_failure(
            format!("starting server {}", server.name),
            e,
        )),
    }
}

fn started(server: &Server) -> u64 {
    server
        .meta
        .get(META_STARTS)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The locations to look in: the one `extra` or Cycle names, else every one of the account's.
fn locations_of(caller: &Caller<Sigma>, extra: Option<&Extra>, named: Option<&str>) -> Vec<String> {
    let named = extra
        .and_then(|e| e.get(EXTRA_LOCATION))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| named.map(str::to_ascii_lowercase));
    match named {
        Some(l) if caller.account.has(&l) => vec![l],
        _ => caller.account.locations(),
    }
}

/// Whether a failure only says these credentials are no account in that location (a namespace
/// may name several; an account lives in one, §1.3).
fn elsewhere(e: &CloudSigmaError) -> bool {
    matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden)
}

/// Every server `name` of the account, by location, the one to keep first in each.
async fn locate(
    caller: &Caller<Sigma>,
    locations: Vec<String>,
    name: &str,
) -> Result<Vec<(String, Vec<Server>)>, CoreError> {
    let mut found = Vec::new();
    let mut refused = None;
    for l in locations {
        let client = caller.account.client(&l)?;
        match find(client, name).await {
            Ok(servers) => found.push((l, servers)),
            Err(e) if elsewhere(&e) => refused = Some((l, e)),
            Err(e) => return Err(e).doing(|| format!("looking for server {name}")),
        }
    }
    match (found.is_empty(), refused) {
        (true, Some((l, e))) => Err(e).doing(|| format!("looking for server {name} in {l}")),
        _ => Ok(found),
    }
}

/// Observes the server and takes the next step: made when it is not yet, started when stopped
/// (again, when a start fell back, up to `start_attempts`), ready once running with its address.
/// Duplicates of it are removed.
pub async fn observe(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
    request: &ProvisionStatus,
) -> Result<Observed, CoreError> {
    let extra_in = request.extra.as_ref();
    let locations = locations_of(caller, extra_in, request.location_id.as_deref());
    let found = locate(caller, locations, name).await?;
    let mut extra = request.extra.clone().unwrap_or_default();
    let Some((l, servers)) = found.into_iter().find(|(_, s)| !s.is_empty()) else {
        return continue_making(backend, caller, name, request, extra).await;
    };
    let client = caller.account.client(&l)?;
    let mut servers = servers.into_iter();
    let server = servers.next().expect("not empty");
    let duplicates: Vec<Server> = servers.collect();
    if !duplicates.is_empty() {
        remove_duplicates(backend, client, &server, duplicates).await?;
    }
    extra.insert(EXTRA_SERVER.into(), json!(server.uuid));
    extra.insert(EXTRA_LOCATION.into(), json!(l));
    if !server.drives.iter().any(|d| d.device != "ide") {
        return Err(failed(format!(
            "server {name} holds no data drive; decommission it and provision again"
        )));
    }
    match server.status.as_str() {
        "running" => match ready(&server) {
            Some(auth) => Ok(Observed::Ready { auth, extra }),
            None => Ok(Observed::Pending { extra }),
        },
        "stopped" => {
            let starts = started(&server);
            if starts >= u64::from(backend.settings.start_attempts) {
                return Err(CoreError::OutOfStock(format!(
                    "server {name} was started {starts} times and went back to stopped each time: CloudSigma most likely lacks capacity for it in {l}; decommission it and choose another size or location, or retry later"
                )));
            }
            start(client, &server).await?;
            Ok(Observed::Pending { extra })
        }
        "paused" => Err(failed(format!(
            "server {name} is paused (CloudSigma: \"essentially dead\"); decommission it"
        ))),
        _ => Ok(Observed::Pending { extra }),
    }
}

/// A poll for a server not made yet: provision left it to the polls (its drive was not ready),
/// or it was lost. The spec provision left in `extra` says what to make.
async fn continue_making(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
    request: &ProvisionStatus,
    mut extra: Extra,
) -> Result<Observed, CoreError> {
    let spec = extra
        .get(EXTRA_SPEC)
        .cloned()
        .and_then(|v| serde_json::from_value::<Spec>(v).ok());
    let location = extra
        .get(EXTRA_LOCATION)
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| request.location_id.clone());
    let (Some(spec), Some(location)) = (spec, location) else {
        return Err(CoreError::NotFound(format!(
            "server {name} does not exist in this CloudSigma account; provision it again"
        )));
    };
    let client = caller.account.client(&location)?;
    let current = request.location_configuration.as_ref();
    if let Some(server) = advance(backend, caller, client, name, &location, &spec, current).await? {
        extra.insert(EXTRA_SERVER.into(), json!(server.uuid));
    }
    Ok(Observed::Pending { extra })
}

/// Removes copies of a server that racing replicas made: stopped, deleted without their drives
/// (a copy may have been given the kept server's), then the data drives the kept server does
/// not hold.
async fn remove_duplicates(
    backend: &CloudSigma,
    client: &Client,
    kept: &Server,
    duplicates: Vec<Server>,
) -> Result<(), CoreError> {
    let deadline = Instant::now() + backend.wait();
    for copy in duplicates {
        tracing::warn!(server = %kept.name, kept = %kept.uuid, removed = %copy.uuid, "removing a duplicate server");
        stop(client, &copy, deadline).await?;
        match client.servers().delete(&copy.uuid, Recurse::None).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e).doing(|| format!("deleting duplicate server {}", copy.uuid)),
        }
    }
    let held: Vec<&str> = kept.drives.iter().map(|d| d.drive.uuid.as_str()).collect();
    for drive in all_data_drives(client, &kept.name).await? {
        if !held.contains(&drive.uuid.as_str())
            && drive.mounted_on.iter().all(|m| m.uuid != kept.uuid)
        {
            mark(client, &drive).await?;
            match client.drives().delete(&drive.uuid).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                // Still attached to the copy being deleted: the next look takes it.
                Err(e) if e.status() == Some(403) => {}
                Err(e) => {
                    return Err(e).doing(|| format!("deleting duplicate drive {}", drive.uuid))
                }
            }
        }
    }
    Ok(())
}

/// The identity Cycle's iPXE will present: the server's uuid and its first NIC's MAC, both lower
/// case as iPXE writes them, and the address DHCP gave it.
fn ready(server: &Server) -> Option<ServerAuth> {
    let nic = server.nics.first()?;
    let mac = nic.mac.as_deref()?.to_ascii_lowercase();
    let ip = nic
        .runtime
        .as_ref()
        .and_then(|r| r.ip_v4.as_ref())
        .map(|ip| ip.uuid.clone())
        .or_else(|| {
            server.runtime.as_ref().and_then(|r| {
                r.nics
                    .iter()
                    .find(|n| n.interface_type.as_deref() == Some("public") && n.ip_v4.is_some())
                    .and_then(|n| n.ip_v4.as_ref().map(|ip| ip.uuid.clone()))
            })
        })?;
    Some(ServerAuth {
        uuid: Some(server.uuid.to_ascii_lowercase()),
        initial_ips: Some(vec![ip]),
        mac_addr: Some(mac),
    })
}

/// Powers a server off and waits for it to be stopped. A server still starting cannot be stopped
/// (CloudSigma wants it running, as libcloud's fixtures show): it is waited for first. A paused or
/// unavailable one is asked to stop once and left to the deletion that follows.
async fn stop(client: &Client, server: &Server, deadline: Instant) -> Result<(), CoreError> {
    let mut current = server.clone();
    let mut round = 0;
    loop {
        match current.status.as_str() {
            "stopped" => return Ok(()),
            "running" | "paused" | "unavailable" => {
                match client
                    .servers()
                    .action(&current.uuid, ServerAction::Stop)
                    .await
                {
                    Ok(()) => {}
                    // Its state moved on: the next read says to what.
                    Err(e) if e.status() == Some(403) => {
                        if current.status != "running" {
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(e).doing(|| format!("stopping server {}", current.name)),
                }
            }
            _ => {}
        }
        if !by_name::pause(round, deadline).await {
            return Err(CoreError::Timeout(format!(
                "server {} is still {} waiting to be stopped; retry and the bridge continues",
                current.name, current.status
            )));
        }
        round += 1;
        current = match client.servers().get(&current.uuid).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e).doing(|| format!("reading server {}", current.name)),
        };
    }
}

/// CloudSigma has no documented reboot (§5.6): stop, wait, start, as libcloud does. A server
/// still starting is left to it: it is booting Cycle's iPXE already.
pub async fn restart(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
) -> Result<(), CoreError> {
    let found = locate(caller, caller.account.locations(), name).await?;
    let Some((l, servers)) = found.into_iter().find(|(_, s)| !s.is_empty()) else {
        return Err(CoreError::NotFound(format!(
            "server {name} does not exist in this CloudSigma account"
        )));
    };
    let client = caller.account.client(&l)?;
    let server = servers.into_iter().next().expect("not empty");
    let deadline = Instant::now() + backend.wait();
    if server.status == "starting" {
        return Ok(());
    }
    stop(client, &server, deadline).await?;
    match client
        .servers()
        .action(&server.uuid, ServerAction::Start)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.status() == Some(403) => Ok(()),
        Err(e) => Err(failure(format!("starting server {name} again"), e)),
    }
}

/// Deletes the server and its data drive (never the shared ISO: `recurse=disks` keeps CD-ROMs,
/// §5.5), and returns the addresses it held to the pool. Done when nothing of it is left.
pub async fn delete(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
) -> Result<(), CoreError> {
    let deadline = Instant::now() + backend.wait();
    for l in caller.account.locations() {
        let client = caller.account.client(&l)?;
        let _held = backend
            .locks
            .lock(&format!("server/{}/{name}", caller.account.scope_key()))
            .await;
        // First, so that no provision of the same name adopts the drive while it goes.
        match mark_data_drives(client, name).await {
            Ok(()) => {}
            // Not an account in this location of the namespace.
            Err(e)
                if e.backend()
                    .is_some_and(|f| matches!(f.status, Some(401 | 403))) =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
        let servers_gone = by_name::delete_until_gone(
            || async {
                find_all(client, name)
                    .await
                    .doing(|| format!("looking for server {name}"))
            },
            |server| async move {
                mark_server(client, &server).await?;
                stop(client, &server, deadline).await?;
                match client.servers().delete(&server.uuid, Recurse::Disks).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e).doing(|| format!("deleting server {name}")),
                }
                wait_gone(client, &server, deadline).await
            },
            deadline,
        )
        .await?;
        if !servers_gone {
            return Err(CoreError::Timeout(format!(
                "server {name} is still being deleted; retry"
            )));
        }
        mark_data_drives(client, name).await?;
        delete_data_drives(client, name, deadline).await?;
        ips::release_all(backend, client, name).await?;
    }
    Ok(())
}

/// Marks a server as being deleted in its `meta` (which CloudSigma lets change on a running
/// server, §5.4), so that no provision of the same name adopts it meanwhile.
async fn mark_server(client: &Client, server: &Server) -> Result<(), CoreError> {
    if server.meta.contains_key(META_DELETING) {
        return Ok(());
    }
    let mut whole = match client.servers().get_value(&server.uuid).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e).doing(|| format!("reading server {}", server.name)),
    };
    if let Some(meta) = whole.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert(META_DELETING.into(), json!("yes"));
    }
    match client.servers().update(&server.uuid, &whole).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        // Already being deleted (CloudSigma refuses edits then).
        Err(e) if e.status() == Some(403) => Ok(()),
        Err(e) => Err(e).doing(|| format!("marking server {} for deletion", server.name)),
    }
}

/// One step of a marked server's deletion, without waiting: stopped, it is deleted; running, it
/// is stopped.
async fn carry_on_deleting(client: &Client, server: &Server) -> Result<(), CoreError> {
    let outcome = match server.status.as_str() {
        "stopped" => client.servers().delete(&server.uuid, Recurse::Disks).await,
        "running" | "paused" | "unavailable" => {
            client
                .servers()
                .action(&server.uuid, ServerAction::Stop)
                .await
        }
        _ => Ok(()),
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() || e.status() == Some(403) => Ok(()),
        Err(e) => Err(e).doing(|| format!("deleting server {}", server.name)),
    }
}

async fn wait_gone(client: &Client, server: &Server, deadline: Instant) -> Result<(), CoreError> {
    let mut round = 0;
    loop {
        match client.servers().get(&server.uuid).await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e).doing(|| format!("reading server {}", server.name)),
            Ok(_) => {}
        }
        if !by_name::pause(round, deadline).await {
            return Err(CoreError::Timeout(format!(
                "server {} is still being deleted; retry",
                server.name
            )));
        }
        round += 1;
    }
}

/// Marks a drive as being deleted (its `meta`, which CloudSigma lets change even on a running
/// server's drive, §6.4).
async fn mark(client: &Client, drive: &Drive) -> Result<(), CoreError> {
    if drive.meta.contains_key(META_DELETING) {
        return Ok(());
    }
    let mut meta = drive.meta.clone();
    meta.insert(META_DELETING.into(), "yes".into());
    let update = DriveUpdate {
        name: drive.name.clone(),
        size: drive.size,
        media: drive.media.clone(),
        meta,
        tags: drive.tags.iter().map(|t| t.uuid.clone()).collect(),
    };
    match client.drives().update(&drive.uuid, &update).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e).doing(|| format!("marking drive {} for deletion", drive.uuid)),
    }
}

async fn mark_data_drives(client: &Client, name: &str) -> Result<(), CoreError> {
    for drive in all_data_drives(client, name).await? {
        mark(client, &drive).await?;
    }
    Ok(())
}

/// Deletes the server's data drives that `recurse=disks` left (a drive never attached, or one a
/// crash left behind).
async fn delete_data_drives(
    client: &Client,
    name: &str,
    deadline: Instant,
) -> Result<(), CoreError> {
    let gone = by_name::delete_until_gone(
        || all_data_drives(client, name),
        |drive| async move {
            match client.drives().delete(&drive.uuid).await {
                Ok(()) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) => Err(e).doing(|| format!("deleting drive {}", drive.uuid)),
            }
        },
        deadline,
    )
    .await?;
    if !gone {
        return Err(CoreError::Timeout(format!(
            "drive {} is still being deleted; retry",
            naming::data_disk_name(name)
        )));
    }
    Ok(())
}
