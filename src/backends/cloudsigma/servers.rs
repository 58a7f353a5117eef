//! A server, for CloudSigma: a KVM server named from Cycle's id that boots Cycle's iPXE ISO from
//! an IDE CD-ROM on every boot, with a data disk on virtio and a virtio NIC that iPXE configures
//! by DHCP. CloudSigma creates servers stopped (CLOUDSIGMA.md §5.2) and checks capacity and funds
//! only when one starts, so a provision creates, then starts; every poll takes the next step.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;
use serde_json::{json, Value};

use super::error::{failed, failure, start_failure, Doing};
use super::location::{self, LocationConfig};
use super::{CloudSigma, Sigma, MANAGED_BY, META_MANAGED_BY};
use crate::core::backend::{Caller, Extra, Observed};
use crate::core::by_name::{self, Named};
use crate::core::error::CoreError;
use crate::core::naming;
use crate::core::plan::{ProvisionPlan, CYCLEOS_MIN_DISK_GB};
use crate::ial::types::{ProvisionStatus, ServerAuth};
use cloudsigma_sdk::types::{
    Drive, NewDrive, NewIpConf, NewNic, NewServer, NewServerDrive, Server,
};
use cloudsigma_sdk::{Client, ErrorKind, Filter, Recurse, ServerAction};

pub const EXTRA_SERVER: &str = "cloudsigma_server_uuid";
pub const EXTRA_LOCATION: &str = "cloudsigma_location";
const EXTRA_STARTS: &str = "cloudsigma_starts";
/// The Cycle server a resource was made for, in its `meta`.
pub const META_CYCLE_SERVER: &str = "cycle_server_id";
/// Set on a data drive before it is deleted: a drive so marked is never attached again, even
/// while CloudSigma still lists it.
const META_DELETING: &str = "deleting";
const GIB: u64 = 1 << 30;

impl Named for Server {
    fn id(&self) -> &str {
        &self.uuid
    }
}

fn ours(meta: &BTreeMap<String, String>) -> bool {
    meta.get(META_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
}

/// The bridge's servers called `name` in one location, the one to keep first.
pub async fn find(client: &Client, name: &str) -> Result<Vec<Server>, CoreError> {
    let mut found: Vec<Server> = client
        .servers()
        .list(&Filter {
            name: Some(name.to_string()),
            ..Default::default()
        })
        .await
        .doing(|| format!("looking for server {name}"))?
        .into_iter()
        .filter(|s| s.name == name && ours(&s.meta))
        .collect();
    by_name::oldest_first(&mut found);
    Ok(found)
}

/// The bridge's data drives called `name` that are not being deleted, the one to keep first.
async fn data_drives(client: &Client, name: &str) -> Result<Vec<Drive>, CoreError> {
    let mut found: Vec<Drive> = client
        .drives()
        .list(&Filter {
            name: Some(name.to_string()),
            ..Default::default()
        })
        .await
        .doing(|| format!("looking for drive {name}"))?
        .into_iter()
        .filter(|d| d.name == name && ours(&d.meta) && !d.meta.contains_key(META_DELETING))
        .collect();
    by_name::oldest_first(&mut found);
    Ok(found)
}

fn meta(plan: &ProvisionPlan) -> BTreeMap<String, String> {
    BTreeMap::from([
        (META_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (META_CYCLE_SERVER.to_string(), plan.cycle_server_id.clone()),
        ("cycle_hub".to_string(), plan.hub.clone()),
    ])
}

/// Creates the server `plan` describes, or finds it made; starts it.
pub async fn create(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    plan: &ProvisionPlan,
) -> Result<Extra, CoreError> {
    let client = caller.account.client(&plan.location)?;
    let size = backend.size(&plan.model_id).ok_or_else(|| {
        CoreError::invalid(
            format!(
                "model {:?} is not one of this bridge's CloudSigma sizes",
                plan.model_id
            ),
            "/request/model_id",
        )
    })?;
    let _held = backend
        .locks
        .lock(&format!(
            "server/{}/{}",
            caller.account.scope_key(),
            plan.name
        ))
        .await;
    let deadline = Instant::now() + backend.wait();
    let server = match find(client, &plan.name).await?.into_iter().next() {
        Some(server) => server,
        None => {
            let current = plan.location_configuration.as_ref();
            let place = location::ensure(backend, caller, &plan.location, current).await?;
            let disk_gib = plan
                .storage_gb
                .unwrap_or(0)
                .max(u64::from(size.disk_gib))
                .max(u64::from(CYCLEOS_MIN_DISK_GB));
            let drive = data_drive(backend, client, plan, &place, disk_gib, deadline).await?;
            make_server(client, plan, &place, &drive, &size).await?
        }
    };
    let mut extra = Extra::new();
    extra.insert(EXTRA_SERVER.into(), json!(server.uuid));
    extra.insert(EXTRA_LOCATION.into(), json!(plan.location));
    if server.status == "stopped" {
        start(client, &server).await?;
        extra.insert(EXTRA_STARTS.into(), json!(1));
    }
    Ok(extra)
}

/// The server's data drive: found by name, or made and waited for (a server can only be given
/// a drive that is ready).
async fn data_drive(
    backend: &CloudSigma,
    client: &Client,
    plan: &ProvisionPlan,
    place: &LocationConfig,
    gib: u64,
    deadline: Instant,
) -> Result<Drive, CoreError> {
    let name = naming::data_disk_name(&plan.name);
    let drive = match data_drives(client, &name).await?.into_iter().next() {
        Some(d) => d,
        None => {
            let new = NewDrive {
                name: name.clone(),
                size: gib * GIB,
                media: "disk".into(),
                storage_type: Some(backend.settings.storage_type.clone()),
                meta: meta(plan),
                tags: vec![place.tag.clone()],
            };
            match client.drives().create(&new).await {
                Ok(d) => d,
                Err(e) if e.kind() == ErrorKind::OutcomeUnknown => data_drives(client, &name)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| failure(format!("creating drive {name}"), e))?,
                Err(e) => return Err(e).doing(|| format!("creating drive {name}")),
            }
        }
    };
    if location::is_ready(&drive) {
        return Ok(drive);
    }
    location::wait_ready(client, &drive.uuid, deadline).await
}

async fn make_server(
    client: &Client,
    plan: &ProvisionPlan,
    place: &LocationConfig,
    drive: &Drive,
    size: &super::settings::Size,
) -> Result<Server, CoreError> {
    let new = NewServer {
        name: plan.name.clone(),
        cpu: u64::from(size.cores) * u64::from(size.mhz_per_core),
        mem: u64::from(size.memory_gib) * GIB,
        smp: size.cores,
        // Guards VNC and the serial console; nobody needs it, so nobody is told it.
        vnc_password: SecretString::from(Alphanumeric.sample_string(&mut rand::rng(), 24)),
        drives: vec![
            // CD-ROMs on IDE (libcloud: "Need to use IDE for installation CDs", CLOUDSIGMA.md §5.2).
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
            // iPXE asks DHCP for the address; the server's `runtime` tells it (§7.3, §5.8).
            NewNic {
                model: "virtio".into(),
                ip_v4_conf: Some(NewIpConf {
                    conf: "dhcp".into(),
                    ip: None,
                }),
            },
            // Where CycleOS can configure the account's addresses Cycle allocates without a
            // restart: a `manual` NIC lets through any IP the account owns (§7.3).
            NewNic {
                model: "virtio".into(),
                ip_v4_conf: Some(NewIpConf {
                    conf: "manual".into(),
                    ip: None,
                }),
            },
        ],
        meta: meta(plan),
        tags: vec![place.tag.clone()],
    };
    match client.servers().create(&new).await {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == ErrorKind::OutcomeUnknown => find(client, &plan.name)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| failure(format!("creating server {}", plan.name), e)),
        Err(e) => Err(e).doing(|| format!("creating server {}", plan.name)),
    }
}

/// Starts a stopped server; a server already starting is left to it.
async fn start(client: &Client, server: &Server) -> Result<(), CoreError> {
    match client
        .servers()
        .action(&server.uuid, ServerAction::Start)
        .await
    {
        Ok(()) => Ok(()),
        // Not stopped any more (another replica started it): read again at the next look.
        Err(e) if e.kind() == ErrorKind::Forbidden && e.status() == Some(403) => Ok(()),
        Err(e) => Err(start_failure(format!("starting server {}", server.name), e)),
    }
}

/// The location a call is about: Cycle's, the one `extra` names, or every one of the account's.
fn locations_of(caller: &Caller<Sigma>, request: &ProvisionStatus) -> Vec<String> {
    let named = request
        .extra
        .as_ref()
        .and_then(|e| e.get(EXTRA_LOCATION))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| request.location_id.clone());
    match named {
        Some(l) if caller.account.has(&l) => vec![l],
        _ => caller.account.locations(),
    }
}

/// The server `name` and its location, wherever the account has it.
async fn locate(
    caller: &Caller<Sigma>,
    locations: Vec<String>,
    name: &str,
) -> Result<Option<(String, Server)>, CoreError> {
    for l in locations {
        let client = caller.account.client(&l)?;
        if let Some(s) = find(client, name).await?.into_iter().next() {
            return Ok(Some((l, s)));
        }
    }
    Ok(None)
}

/// Observes the server and takes the next step: a stopped server is started (again, when a start
/// fell back, up to `start_attempts`); a running one is ready once it has its address.
pub async fn observe(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
    request: &ProvisionStatus,
) -> Result<Observed, CoreError> {
    let Some((l, server)) = locate(caller, locations_of(caller, request), name).await? else {
        return Err(CoreError::NotFound(format!(
            "server {name} does not exist in this CloudSigma account; provision it again"
        )));
    };
    let client = caller.account.client(&l)?;
    let mut extra = request.extra.clone().unwrap_or_default();
    extra.insert(EXTRA_SERVER.into(), json!(server.uuid));
    extra.insert(EXTRA_LOCATION.into(), json!(l));
    if !server.drives.iter().any(|d| d.device != "ide") {
        return Err(failed(format!(
            "server {name} holds no data disk; decommission it and provision again"
        )));
    }
    match server.status.as_str() {
        "running" => match ready(&server) {
            Some(auth) => Ok(Observed::Ready { auth, extra }),
            None => Ok(Observed::Pending { extra }),
        },
        "stopped" => {
            let starts = extra.get(EXTRA_STARTS).and_then(Value::as_u64).unwrap_or(0);
            if starts >= u64::from(backend.settings.start_attempts) {
                return Err(failed(format!(
                    "server {name} was started {starts} times and went back to stopped each time; CloudSigma may lack capacity for it: decommission it, or retry later"
                )));
            }
            start(client, &server).await?;
            extra.insert(EXTRA_STARTS.into(), json!(starts + 1));
            Ok(Observed::Pending { extra })
        }
        "paused" => Err(failed(format!(
            "server {name} is paused (CloudSigma: \"essentially dead\"); decommission it"
        ))),
        _ => Ok(Observed::Pending { extra }),
    }
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

/// Reads the server until `done` says so, or the deadline.
async fn wait_until(
    client: &Client,
    uuid: &str,
    what: &str,
    deadline: Instant,
    done: impl Fn(&Server) -> bool,
) -> Result<Option<Server>, CoreError> {
    let mut round = 0;
    loop {
        let server = match client.servers().get(uuid).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e).doing(|| format!("reading server {uuid}")),
        };
        if done(&server) {
            return Ok(Some(server));
        }
        if !by_name::pause(round, deadline).await {
            return Err(CoreError::Timeout(format!(
                "server {} is still {} waiting to be {what}; retry and the bridge continues",
                server.name, server.status
            )));
        }
        round += 1;
    }
}

/// Powers a server off and waits for it to be stopped. A server still starting cannot be stopped
/// (CloudSigma wants it running, as libcloud's fixtures show): it is waited for first.
async fn stop(client: &Client, server: &Server, deadline: Instant) -> Result<(), CoreError> {
    let mut current = server.clone();
    let mut round = 0;
    loop {
        match current.status.as_str() {
            "stopped" => return Ok(()),
            "running" | "paused" => {
                match client
                    .servers()
                    .action(&current.uuid, ServerAction::Stop)
                    .await
                {
                    Ok(()) => {}
                    // Its state moved on: the next read says to what.
                    Err(e) if e.status() == Some(403) => {}
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

/// CloudSigma has no documented reboot (§5.6): stop, wait, start, as libcloud does.
pub async fn restart(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
) -> Result<(), CoreError> {
    let Some((l, server)) = locate(caller, caller.account.locations(), name).await? else {
        return Err(CoreError::NotFound(format!(
            "server {name} does not exist in this CloudSigma account"
        )));
    };
    let client = caller.account.client(&l)?;
    let deadline = Instant::now() + backend.wait();
    if server.status == "starting" {
        return Ok(());
    }
    stop(client, &server, deadline).await?;
    start(client, &server).await
}

/// Deletes the server and its data drive (never the shared ISO: `recurse=disks` keeps CD-ROMs,
/// §5.5), and returns the addresses it held to the pool.
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
        mark_data_drives(client, name).await?;
        let servers_gone = by_name::delete_until_gone(
            || find(client, name),
            |server| async move {
                stop(client, &server, deadline).await?;
                match client.servers().delete(&server.uuid, Recurse::Disks).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e).doing(|| format!("deleting server {name}")),
                }
                wait_until(client, &server.uuid, "deleted", deadline, |_| false).await?;
                Ok(())
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
        super::ips::release_all(backend, client, name).await?;
    }
    Ok(())
}

/// The bridge's data drives of server `name`, deleting or not.
async fn all_data_drives(client: &Client, name: &str) -> Result<Vec<Drive>, CoreError> {
    let drive_name = naming::data_disk_name(name);
    Ok(client
        .drives()
        .list(&Filter {
            name: Some(drive_name.clone()),
            ..Default::default()
        })
        .await
        .doing(|| format!("looking for drive {drive_name}"))?
        .into_iter()
        .filter(|d| d.name == drive_name && ours(&d.meta))
        .collect())
}

/// Marks the server's data drives as being deleted (their `meta`, which CloudSigma lets change
/// even on a running server's drive, §6.4).
async fn mark_data_drives(client: &Client, name: &str) -> Result<(), CoreError> {
    for drive in all_data_drives(client, name).await? {
        if drive.meta.contains_key(META_DELETING) {
            continue;
        }
        let mut meta = drive.meta.clone();
        meta.insert(META_DELETING.into(), "yes".into());
        let update = cloudsigma_sdk::types::DriveUpdate {
            name: drive.name.clone(),
            size: drive.size,
            media: drive.media.clone(),
            meta,
            tags: drive.tags.iter().map(|t| t.uuid.clone()).collect(),
        };
        match client.drives().update(&drive.uuid, &update).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e).doing(|| format!("marking drive {} for deletion", drive.uuid)),
        }
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
