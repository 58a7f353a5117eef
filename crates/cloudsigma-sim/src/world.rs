//! The simulated cloud's whole state, behind one lock. Time moves lazily: every access first
//! completes the transitions whose time has come, in order, so no background task is needed and
//! a seeded run is repeatable.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::catalog;
use super::http::ApiError;
use super::{Faults, SimConfig};

pub const API: &str = "/api/2.0";

/// What happens to one request before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    ServerError(u16),
    ConnectionReset,
    LostAnswer,
}

pub struct AccountState {
    pub username: String,
    pub password: String,
    pub location: String,
    pub owner_uuid: String,
    /// In `currency`. Decimal strings on the wire (D:dumps/response_balance_list).
    pub balance: f64,
    pub currency: String,
    pub signup_time: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStatus {
    Stopped,
    Starting,
    Running,
    Stopping,
}

impl ServerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
        }
    }

    /// The internal name CloudSigma's state errors use: `started` for running
    /// (L:libcloud/test/compute/fixtures/cloudsigma_2_0/start_already_started.json).
    fn internal(self) -> &'static str {
        match self {
            Self::Running => "started",
            s => s.as_str(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DriveAttach {
    pub drive: String,
    pub device: String,
    pub dev_channel: String,
    pub boot_order: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct IpConf {
    pub conf: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Nic {
    pub mac: String,
    pub model: String,
    pub ip_v4: Option<IpConf>,
    pub ip_v6: Option<IpConf>,
    pub vlan: Option<String>,
    pub boot_order: Option<u64>,
    /// The address this NIC has while the server runs.
    pub runtime_ip: Option<String>,
}

pub struct Server {
    pub uuid: String,
    pub owner: usize,
    pub def: ServerDef,
    pub status: ServerStatus,
    pub active_since: Option<String>,
    pub starts: u64,
    pub deleting: bool,
}

/// Everything a client sets on a server.
#[derive(Clone)]
pub struct ServerDef {
    pub name: String,
    pub cpu: u64,
    pub smp: u64,
    pub mem: u64,
    pub vnc_password: String,
    pub cpu_type: String,
    pub hypervisor: String,
    pub cpu_model: Option<String>,
    pub flags: [(&'static str, bool); 6],
    pub meta: Map<String, Value>,
    pub drives: Vec<DriveAttach>,
    pub nics: Vec<Nic>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveState {
    Creating,
    Uploading,
    Resizing,
    Ready,
}

pub struct Drive {
    pub uuid: String,
    pub owner: usize,
    pub name: String,
    pub size: u64,
    pub media: String,
    pub storage_type: String,
    pub state: DriveState,
    pub meta: Map<String, Value>,
    pub allow_multimount: bool,
    pub affinities: Vec<Value>,
    pub content: Option<Arc<Vec<u8>>>,
    pub deleting: bool,
}

pub struct Ip {
    pub address: String,
    pub owner: usize,
    pub gateway: String,
    pub nameservers: Vec<String>,
    pub meta: Map<String, Value>,
    /// The subscription that bought it; none for a DHCP address of a running server.
    pub subscription: Option<u64>,
    /// The running server a DHCP address belongs to.
    pub dynamic_for: Option<String>,
}

pub struct Subscription {
    pub id: u64,
    pub uuid: String,
    pub owner: usize,
    pub resource: String,
    pub amount: String,
    pub period: String,
    pub start_time: String,
    pub end_time: String,
    pub auto_renew: bool,
    pub subscribed_object: Option<String>,
    pub price: String,
}

pub struct Tag {
    pub uuid: String,
    pub owner: usize,
    pub name: String,
    pub meta: Map<String, Value>,
    pub resources: Vec<String>,
}

enum Event {
    DriveReady(String),
    StartDone { server: String, fail: bool },
    StopDone(String),
    ServerGone(String),
    DriveGone(String),
}

struct Pending {
    at: Instant,
    seq: u64,
    event: Event,
}

/// Public-looking addresses of one location: a seeded /16 handing out /24s.
struct Pool {
    first: u8,
    second: u8,
    third: u8,
    free: Vec<u8>,
}

pub struct World {
    rng: StdRng,
    fault_rng: StdRng,
    pub transition: Duration,
    pub faults: Faults,
    pub upper_case_macs: bool,
    pub locations: Vec<String>,
    /// Starts that can still succeed per location; absent = unlimited.
    pub capacity: HashMap<String, u32>,
    pub accounts: Vec<AccountState>,
    pub servers: Vec<Server>,
    pub drives: Vec<Drive>,
    pub ips: Vec<Ip>,
    pub subscriptions: Vec<Subscription>,
    pub tags: Vec<Tag>,
    pending: Vec<Pending>,
    seq: u64,
    pools: HashMap<String, Pool>,
    next_subscription: u64,
    uploads: u64,
}

/// `2015-03-19T13:52:51+00:00`, the dumps' time format.
pub fn now_iso() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    iso(secs)
}

fn iso(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn uri(kind: &str, id: &str) -> String {
    format!("{API}/{kind}/{id}/")
}

pub fn reference(kind: &str, id: &str) -> Value {
    json!({"resource_uri": uri(kind, id), "uuid": id})
}

// ---- request-body field helpers ------------------------------------------------------------

pub fn opt_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::validation(Some(key), "Expected a string")),
    }
}

/// A required string: missing, null or empty is "This field is required" (D:errors.rst).
pub fn req_str(obj: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match opt_str(obj, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::required(key)),
    }
}

/// A name: any Unicode but `\0` (D:general.rst).
pub fn req_name(obj: &Map<String, Value>) -> Result<String, ApiError> {
    let name = req_str(obj, "name")?;
    if name.contains('\0') {
        return Err(ApiError::validation(
            Some("name"),
            "Names may not contain the null character",
        ));
    }
    Ok(name)
}

/// An integer; since Fluorine all numbers are JSON numbers (CLOUDSIGMA.md §3), so a string is
/// refused.
pub fn opt_uint(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Ok(Some(v)),
            None => match n.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(Some(f as u64)),
                _ => Err(ApiError::validation(
                    Some(key),
                    "Expected a non-negative integer",
                )),
            },
        },
        Some(_) => Err(ApiError::validation(Some(key), "Expected an integer")),
    }
}

pub fn req_uint(obj: &Map<String, Value>, key: &str) -> Result<u64, ApiError> {
    opt_uint(obj, key)?.ok_or_else(|| ApiError::required(key))
}

pub fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::validation(Some(key), "Expected true or false")),
    }
}

/// `meta`: string keys of at most 32 characters to string values (D:meta.rst).
pub fn opt_meta(obj: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match obj.get("meta") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if k.chars().count() > 32 {
                    return Err(ApiError::validation(
                        Some("meta"),
                        format!("Meta key {k:?} is longer than 32 characters"),
                    ));
                }
                if !v.is_string() {
                    return Err(ApiError::validation(
                        Some("meta"),
                        format!("The value of meta key {k:?} must be a string"),
                    ));
                }
            }
            Ok(Some(m.clone()))
        }
        Some(_) => Err(ApiError::validation(Some("meta"), "Expected an object")),
    }
}

/// A reference given as the id string or as `{"uuid": ...}` (D:dumps: `drive`, `ip`, `vlan`,
/// `tags`).
pub fn reference_id(v: &Value, point: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Object(o) => match o.get("uuid") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ApiError::validation(
                Some(point),
                "A reference needs a uuid",
            )),
        },
        _ => Err(ApiError::validation(
            Some(point),
            "Expected a uuid or an object with a uuid",
        )),
    }
}

pub fn opt_list<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(ApiError::validation(Some(key), "Expected a list")),
    }
}

fn parse_dev_channel(device: &str, channel: &str) -> Result<(), ApiError> {
    let bad = || {
        ApiError::validation(
            Some("drives"),
            format!("Invalid dev_channel {channel:?} for device {device}"),
        )
    };
    let (c, u) = channel.split_once(':').ok_or_else(bad)?;
    let c: u32 = c.parse().map_err(|_| bad())?;
    let u: u32 = u.parse().map_err(|_| bad())?;
    // D:servers_kvm.rst: ide 0:0, 0:1, 1:0, 1:1; virtio up to 6 units (0-5) per controller and
    // 1024 drives in all (controllers 0-170 here). scsi's limits are not documented: the
    // simulator takes ide's, the strictest reading.
    let ok = match device {
        "ide" | "scsi" => c <= 1 && u <= 1,
        "virtio" => c <= 170 && u <= 5,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

impl World {
    pub fn new(config: &SimConfig) -> Result<Self, String> {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let fault_rng = StdRng::seed_from_u64(config.seed ^ 0x5eed_fa01_7000_0001);
        let locations: Vec<String> = config
            .locations
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        if locations.is_empty() {
            return Err("no location configured".into());
        }
        let mut pools = HashMap::new();
        let firsts = [185u8, 94, 31, 178, 213, 46, 89, 176];
        for l in &locations {
            let first = firsts[rng.random_range(0..firsts.len())];
            let second = rng.random_range(1..=254);
            let third = rng.random_range(1..=200);
            let mut pool = Pool {
                first,
                second,
                third,
                free: Vec::new(),
            };
            pool.refill(&mut rng);
            pools.insert(l.clone(), pool);
        }
        let mut world = Self {
            rng,
            fault_rng,
            transition: config.transition,
            faults: config.faults.clone(),
            upper_case_macs: config.upper_case_macs,
            locations,
            capacity: HashMap::new(),
            accounts: Vec::new(),
            servers: Vec::new(),
            drives: Vec::new(),
            ips: Vec::new(),
            subscriptions: Vec::new(),
            tags: Vec::new(),
            pending: Vec::new(),
            seq: 0,
            pools,
            next_subscription: 7001,
            uploads: 0,
        };
        config.faults.validate()?;
        for a in &config.accounts {
            let location = a.location.to_ascii_lowercase();
            if !world.locations.contains(&location) {
                return Err(format!(
                    "account {} is in location {location:?}, which is not served",
                    a.username
                ));
            }
            if world
                .accounts
                .iter()
                .any(|b| b.location == location && b.username == a.username)
            {
                return Err(format!(
                    "account {} is given twice in {location}",
                    a.username
                ));
            }
            let owner_uuid = world.new_uuid();
            world.accounts.push(AccountState {
                username: a.username.clone(),
                password: a.password.clone(),
                location,
                owner_uuid,
                balance: 10_000.0,
                currency: "USD".into(),
                signup_time: now_iso(),
            });
        }
        Ok(world)
    }

    pub fn new_uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    /// `22:xx:xx:xx:xx:xx`: the dumps' MACs all start with 22 (locally administered).
    fn new_mac(&mut self) -> String {
        loop {
            let b: [u8; 5] = self.rng.random();
            let mac = format!(
                "22:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                b[0], b[1], b[2], b[3], b[4]
            );
            let mac = if self.upper_case_macs {
                mac.to_ascii_uppercase()
            } else {
                mac
            };
            let taken = self
                .servers
                .iter()
                .any(|s| s.def.nics.iter().any(|n| n.mac.eq_ignore_ascii_case(&mac)));
            if !taken {
                return mac;
            }
        }
    }

    fn allocate_address(&mut self, location: &str) -> (String, String, Vec<String>) {
        let pool = self
            .pools
            .get_mut(location)
            .expect("every served location has a pool");
        if pool.free.is_empty() {
            pool.third = pool.third.wrapping_add(1).max(1);
            pool.refill(&mut self.rng);
        }
        let host = pool.free.pop().unwrap_or(250);
        let net = format!("{}.{}.{}", pool.first, pool.second, pool.third);
        (
            format!("{net}.{host}"),
            format!("{net}.1"),
            vec![
                format!("{}.{}.0.2", pool.first, pool.second),
                format!("{}.{}.0.3", pool.first, pool.second),
            ],
        )
    }

    pub fn draw_request_fault(&mut self) -> Option<RequestFault> {
        let f = self.faults.clone();
        if f.connection_reset_rate > 0.0 && self.fault_rng.random::<f64>() < f.connection_reset_rate
        {
            return Some(RequestFault::ConnectionReset);
        }
        if f.lost_answer_rate > 0.0 && self.fault_rng.random::<f64>() < f.lost_answer_rate {
            return Some(RequestFault::LostAnswer);
        }
        if f.server_error_rate > 0.0 && self.fault_rng.random::<f64>() < f.server_error_rate {
            let status = [500, 502, 503][self.fault_rng.random_range(0..3)];
            return Some(RequestFault::ServerError(status));
        }
        None
    }

    fn schedule(&mut self, event: Event) {
        self.seq += 1;
        self.pending.push(Pending {
            at: Instant::now() + self.transition,
            seq: self.seq,
            event,
        });
    }

    pub fn transitions_in_progress(&self) -> usize {
        self.pending.len()
    }

    /// Completes every transition whose time has come, oldest first.
    pub fn advance(&mut self) {
        let now = Instant::now();
        self.pending.sort_by_key(|p| (p.at, p.seq));
        while self.pending.first().is_some_and(|p| p.at <= now) {
            let p = self.pending.remove(0);
            self.complete(p.event);
        }
    }

    fn complete(&mut self, event: Event) {
        match event {
            Event::DriveReady(uuid) => {
                if let Some(d) = self.drives.iter_mut().find(|d| d.uuid == uuid) {
                    d.state = DriveState::Ready;
                }
            }
            Event::StartDone { server, fail } => {
                let Some(i) = self.servers.iter().position(|s| s.uuid == server) else {
                    return;
                };
                if self.servers[i].status != ServerStatus::Starting {
                    return;
                }
                if fail {
                    self.servers[i].status = ServerStatus::Stopped;
                    return;
                }
                let location = self.accounts[self.servers[i].owner].location.clone();
                let owner = self.servers[i].owner;
                for n in 0..self.servers[i].def.nics.len() {
                    let nic = self.servers[i].def.nics[n].clone();
                    let ip = match nic.ip_v4.as_ref().map(|c| c.conf.as_str()) {
                        Some("dhcp") if nic.vlan.is_none() => {
                            let (address, gateway, nameservers) = self.allocate_address(&location);
                            self.ips.push(Ip {
                                address: address.clone(),
                                owner,
                                gateway,
                                nameservers,
                                meta: Map::new(),
                                subscription: None,
                                dynamic_for: Some(server.clone()),
                            });
                            Some(address)
                        }
                        Some("static") => nic.ip_v4.as_ref().and_then(|c| c.ip.clone()),
                        _ => None,
                    };
                    self.servers[i].def.nics[n].runtime_ip = ip;
                }
                self.servers[i].status = ServerStatus::Running;
                self.servers[i].active_since = Some(now_iso());
            }
            Event::StopDone(uuid) => {
                if let Some(s) = self.servers.iter_mut().find(|s| s.uuid == uuid) {
                    s.status = ServerStatus::Stopped;
                    s.active_since = None;
                    for n in &mut s.def.nics {
                        n.runtime_ip = None;
                    }
                }
                self.drop_dynamic_ips(&uuid);
            }
            Event::ServerGone(uuid) => {
                self.servers.retain(|s| s.uuid != uuid);
                self.drop_dynamic_ips(&uuid);
                for t in &mut self.tags {
                    t.resources.retain(|r| *r != uuid);
                }
            }
            Event::DriveGone(uuid) => {
                self.drives.retain(|d| d.uuid != uuid);
                for s in &mut self.servers {
                    s.def.drives.retain(|a| a.drive != uuid);
                }
                for t in &mut self.tags {
                    t.resources.retain(|r| *r != uuid);
                }
            }
        }
    }

    fn drop_dynamic_ips(&mut self, server: &str) {
        let gone: Vec<String> = self
            .ips
            .iter()
            .filter(|ip| ip.dynamic_for.as_deref() == Some(server))
            .map(|ip| ip.address.clone())
            .collect();
        self.ips
            .retain(|ip| ip.dynamic_for.as_deref() != Some(server));
        for t in &mut self.tags {
            t.resources.retain(|r| !gone.contains(r));
        }
    }

    // ---- lookups ------------------------------------------------------------------------

    /// An object of `account`: found = its index; another account's in the same location = 403
    /// (K: a server owned by another user answers 403, CLOUDSIGMA.md §2); otherwise 404.
    fn locate(
        &self,
        account: usize,
        owners: impl Iterator<Item = usize>,
        what: &str,
        id: &str,
    ) -> Result<usize, ApiError> {
        let mut foreign = false;
        for (i, owner) in owners.enumerate() {
            if owner == account {
                return Ok(i);
            }
            if self.accounts[owner].location == self.accounts[account].location {
                foreign = true;
            }
        }
        if foreign {
            Err(ApiError::permission(format!(
                "You do not have permission to access {what} {id}"
            )))
        } else {
            Err(ApiError::notexist(format!("{what} {id} does not exist")))
        }
    }

    pub fn server_index(&self, account: usize, uuid: &str) -> Result<usize, ApiError> {
        let found: Vec<usize> = (0..self.servers.len())
            .filter(|&i| self.servers[i].uuid == uuid)
            .collect();
        let i = self.locate(
            account,
            found.iter().map(|&i| self.servers[i].owner),
            "Server",
            uuid,
        )?;
        Ok(found[i])
    }

    pub fn drive_index(&self, account: usize, uuid: &str) -> Result<usize, ApiError> {
        let found: Vec<usize> = (0..self.drives.len())
            .filter(|&i| self.drives[i].uuid == uuid)
            .collect();
        let i = self.locate(
            account,
            found.iter().map(|&i| self.drives[i].owner),
            "Drive",
            uuid,
        )?;
        Ok(found[i])
    }

    pub fn ip_index(&self, account: usize, address: &str) -> Result<usize, ApiError> {
        let found: Vec<usize> = (0..self.ips.len())
            .filter(|&i| self.ips[i].address == address)
            .collect();
        let i = self.locate(
            account,
            found.iter().map(|&i| self.ips[i].owner),
            "IP",
            address,
        )?;
        Ok(found[i])
    }

    pub fn tag_index(&self, account: usize, uuid: &str) -> Result<usize, ApiError> {
        let found: Vec<usize> = (0..self.tags.len())
            .filter(|&i| self.tags[i].uuid == uuid)
            .collect();
        let i = self.locate(
            account,
            found.iter().map(|&i| self.tags[i].owner),
            "Tag",
            uuid,
        )?;
        Ok(found[i])
    }

    pub fn subscription_index(&self, account: usize, id: &str) -> Result<usize, ApiError> {
        let found: Vec<usize> = (0..self.subscriptions.len())
            .filter(|&i| self.subscriptions[i].id.to_string() == id)
            .collect();
        let i = self.locate(
            account,
            found.iter().map(|&i| self.subscriptions[i].owner),
            "Subscription",
            id,
        )?;
        Ok(found[i])
    }

    fn owner_ref(&self, owner: usize) -> Value {
        json!({
            "resource_uri": uri("user", &self.accounts[owner].owner_uuid),
            "uuid": self.accounts[owner].owner_uuid,
        })
    }

    fn tag_refs(&self, owner: usize, uuid: &str) -> Vec<Value> {
        self.tags
            .iter()
            .filter(|t| t.owner == owner && t.resources.iter().any(|r| r == uuid))
            .map(|t| reference("tags", &t.uuid))
            .collect()
    }

    /// Makes `uuid` a member of exactly the tags in `tags` among `owner`'s.
    fn set_tags(&mut self, owner: usize, uuid: &str, tags: &[String]) {
        for t in self.tags.iter_mut().filter(|t| t.owner == owner) {
            let wanted = tags.contains(&t.uuid);
            let has = t.resources.iter().any(|r| r == uuid);
            if wanted && !has {
                t.resources.push(uuid.to_string());
            } else if !wanted && has {
                t.resources.retain(|r| r != uuid);
            }
        }
    }

    /// A `tags` field: tag uuids (or `{uuid}`) of the caller's tags.
    fn parse_tags(
        &self,
        account: usize,
        obj: &Map<String, Value>,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let Some(list) = opt_list(obj, "tags")? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for v in list {
            let id = reference_id(v, "tags")?;
            if !self.tags.iter().any(|t| t.owner == account && t.uuid == id) {
                return Err(ApiError::validation(
                    Some("tags"),
                    format!("Tag {id} does not exist"),
                ));
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(Some(out))
    }

    // ---- rendering ----------------------------------------------------------------------

    pub fn drive_status(&self, d: &Drive) -> &'static str {
        match d.state {
            DriveState::Creating => "creating",
            DriveState::Uploading => "uploading",
            DriveState::Resizing => "resizing",
            DriveState::Ready => {
                if self.servers.iter().any(|s| {
                    s.status != ServerStatus::Stopped
                        && s.def.drives.iter().any(|a| a.drive == d.uuid)
                }) {
                    "mounted"
                } else {
                    "unmounted"
                }
            }
        }
    }

    fn nic_runtime(&self, s: &Server, n: &Nic) -> Value {
        if s.status != ServerStatus::Running && s.status != ServerStatus::Stopping {
            return Value::Null;
        }
        json!({
            "interface_type": if n.vlan.is_some() { "private" } else { "public" },
            "io": {"bytes_recv": 0, "bytes_sent": 0, "packets_recv": 0, "packets_sent": 0},
            "ip_v4": n.runtime_ip.as_ref().map(|ip| reference("ips", ip)),
            "ip_v6": null,
        })
    }

    fn render_conf(c: &Option<IpConf>) -> Value {
        match c {
            None => Value::Null,
            Some(c) => json!({
                "conf": c.conf,
                "ip": c.ip.as_ref().map(|ip| reference("ips", ip)),
            }),
        }
    }

    /// A full server object (D:dumps/response_server_create_full, response_server_get_running).
    pub fn render_server(&self, s: &Server) -> Value {
        let running = matches!(s.status, ServerStatus::Running | ServerStatus::Stopping);
        let drives: Vec<Value> = s
            .def
            .drives
            .iter()
            .map(|a| {
                json!({
                    "boot_order": a.boot_order,
                    "dev_channel": a.dev_channel,
                    "device": a.device,
                    "drive": reference("drives", &a.drive),
                    "runtime": if running {
                        json!({"io": {
                            "bytes_read": 0, "bytes_written": 0, "count_flush": 0,
                            "count_read": 0, "count_written": 0, "total_time_ns_flush": 0,
                            "total_time_ns_read": 0, "total_time_ns_write": 0}})
                    } else {
                        Value::Null
                    },
                })
            })
            .collect();
        let nics: Vec<Value> = s
            .def
            .nics
            .iter()
            .map(|n| {
                json!({
                    "boot_order": n.boot_order,
                    "ip_v4_conf": Self::render_conf(&n.ip_v4),
                    "ip_v6_conf": Self::render_conf(&n.ip_v6),
                    "mac": n.mac,
                    "model": n.model,
                    "runtime": self.nic_runtime(s, n),
                    "vlan": n.vlan.as_ref().map(|v| reference("vlans", v)),
                })
            })
            .collect();
        let mut obj = json!({
            "cpu": s.def.cpu,
            "cpu_model": s.def.cpu_model,
            "cpu_type": s.def.cpu_type,
            "drives": drives,
            "grantees": [],
            "hypervisor": s.def.hypervisor,
            "jobs": [],
            "mem": s.def.mem,
            "meta": s.def.meta,
            "name": s.def.name,
            "nics": nics,
            "owner": self.owner_ref(s.owner),
            "permissions": [],
            "pubkeys": [],
            "requirements": [],
            "resource_uri": uri("servers", &s.uuid),
            "runtime": self.server_runtime(s),
            "smp": s.def.smp,
            "status": s.status.as_str(),
            "tags": self.tag_refs(s.owner, &s.uuid),
            "uuid": s.uuid,
            "vnc_password": s.def.vnc_password,
        });
        for (k, v) in s.def.flags {
            obj[k] = json!(v);
        }
        obj
    }

    fn server_runtime(&self, s: &Server) -> Value {
        let Some(since) = &s.active_since else {
            return Value::Null;
        };
        let nics: Vec<Value> = s
            .def
            .nics
            .iter()
            .map(|n| {
                let mut r = self.nic_runtime(s, n);
                r["mac"] = json!(n.mac);
                r
            })
            .collect();
        json!({"active_since": since, "nics": nics})
    }

    /// The plain list's server (D:dumps/response_server_list).
    pub fn server_summary(&self, s: &Server) -> Value {
        json!({
            "name": s.def.name,
            "owner": self.owner_ref(s.owner),
            "resource_uri": uri("servers", &s.uuid),
            "runtime": self.server_runtime(s),
            "status": s.status.as_str(),
            "uuid": s.uuid,
        })
    }

    /// A full drive object (D:dumps/response_drive_get_unmounted).
    pub fn render_drive(&self, d: &Drive) -> Value {
        let mounted_on: Vec<Value> = self
            .servers
            .iter()
            .filter(|s| s.def.drives.iter().any(|a| a.drive == d.uuid))
            .map(|s| reference("servers", &s.uuid))
            .collect();
        json!({
            "affinities": d.affinities,
            "allow_multimount": d.allow_multimount,
            "grantees": [],
            "jobs": [],
            "licenses": [],
            "media": d.media,
            "meta": d.meta,
            "mounted_on": mounted_on,
            "name": d.name,
            "owner": self.owner_ref(d.owner),
            "permissions": [],
            "resource_uri": uri("drives", &d.uuid),
            "runtime": {
                "is_snapshotable": d.state == DriveState::Ready,
                "snapshots_allocated_size": 0,
                "storage_type": d.storage_type,
            },
            "size": d.size,
            "snapshots": [],
            "status": self.drive_status(d),
            "storage_type": d.storage_type,
            "tags": self.tag_refs(d.owner, &d.uuid),
            "uuid": d.uuid,
        })
    }

    /// The plain list's drive (D:dumps/response_drive_list: no name).
    pub fn drive_summary(&self, d: &Drive) -> Value {
        json!({
            "owner": self.owner_ref(d.owner),
            "resource_uri": uri("drives", &d.uuid),
            "status": self.drive_status(d),
            "uuid": d.uuid,
        })
    }

    /// The server holding an IP: statically (stopped or not), or as its running DHCP address.
    fn ip_server(&self, ip: &Ip) -> Value {
        if let Some(s) = &ip.dynamic_for {
            return reference("servers", s);
        }
        self.servers
            .iter()
            .find(|s| {
                s.owner == ip.owner
                    && s.def.nics.iter().any(|n| {
                        n.ip_v4
                            .as_ref()
                            .is_some_and(|c| c.ip.as_deref() == Some(&ip.address))
                    })
            })
            .map(|s| reference("servers", &s.uuid))
            .unwrap_or(Value::Null)
    }

    /// A full IP object (D:dumps/response_ip_get).
    pub fn render_ip(&self, ip: &Ip) -> Value {
        json!({
            "gateway": ip.gateway,
            "grantees": [],
            "meta": ip.meta,
            "nameservers": ip.nameservers,
            "netmask": 24,
            "owner": self.owner_ref(ip.owner),
            "permissions": [],
            "resource_uri": uri("ips", &ip.address),
            "server": self.ip_server(ip),
            "subscription": ip.subscription.map(|id| json!({
                "id": id,
                "resource_uri": uri("subscriptions", &id.to_string()),
            })),
            "tags": self.tag_refs(ip.owner, &ip.address),
            "uuid": ip.address,
        })
    }

    /// The plain list's IP (D:dumps/response_ip_list).
    pub fn ip_summary(&self, ip: &Ip) -> Value {
        json!({
            "owner": self.owner_ref(ip.owner),
            "resource_uri": uri("ips", &ip.address),
            "server": self.ip_server(ip),
            "uuid": ip.address,
        })
    }

    /// D:dumps/response_subscription_list (id a string of digits, amounts and prices decimal
    /// strings).
    pub fn render_subscription(&self, s: &Subscription) -> Value {
        json!({
            "amount": s.amount,
            "auto_renew": s.auto_renew,
            "descendants": [],
            "discount_amount": null,
            "discount_percent": null,
            "discounts": null,
            "end_time": s.end_time,
            "free_tier": false,
            "id": s.id.to_string(),
            "period": s.period,
            "price": s.price,
            "remaining": s.amount,
            "resource": s.resource,
            "resource_uri": uri("subscriptions", &s.id.to_string()),
            "start_time": s.start_time,
            "status": "active",
            "subscribed_object": s.subscribed_object,
            "uuid": s.uuid,
            "was_billed": true,
        })
    }

    /// What kind of resource a tagged id is (`res_type` of D:dumps/response_tags_get).
    fn res_type(&self, owner: usize, id: &str) -> Option<&'static str> {
        if self
            .servers
            .iter()
            .any(|s| s.owner == owner && s.uuid == id)
        {
            Some("servers")
        } else if self.drives.iter().any(|d| d.owner == owner && d.uuid == id) {
            Some("drives")
        } else if self.ips.iter().any(|i| i.owner == owner && i.address == id) {
            Some("ips")
        } else {
            None
        }
    }

    pub fn render_tag(&self, t: &Tag) -> Value {
        let resources: Vec<Value> = t
            .resources
            .iter()
            .filter_map(|r| {
                let kind = self.res_type(t.owner, r)?;
                Some(json!({
                    "owner": self.owner_ref(t.owner),
                    "res_type": kind,
                    "resource_uri": uri(kind, r),
                    "uuid": r,
                }))
            })
            .collect();
        json!({
            "meta": t.meta,
            "name": t.name,
            "owner": self.owner_ref(t.owner),
            "resource_uri": uri("tags", &t.uuid),
            "resources": resources,
            "uuid": t.uuid,
        })
    }

    pub fn inventory(&self) -> Value {
        let accounts: Vec<Value> = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let servers: Vec<Value> = self
                    .servers
                    .iter()
                    .filter(|s| s.owner == i)
                    .map(|s| {
                        let mut v = self.render_server(s);
                        v["starts"] = json!(s.starts);
                        v
                    })
                    .collect();
                let drives: Vec<Value> = self
                    .drives
                    .iter()
                    .filter(|d| d.owner == i)
                    .map(|d| {
                        let mut v = self.render_drive(d);
                        if let Some(c) = &d.content {
                            v["content_len"] = json!(c.len());
                            v["content_sha256"] = json!(hex(&Sha256::digest(c.as_slice())));
                        }
                        v
                    })
                    .collect();
                json!({
                    "username": a.username,
                    "location": a.location,
                    "owner_uuid": a.owner_uuid,
                    "balance": balance_string(a.balance),
                    "currency": a.currency,
                    "servers": servers,
                    "drives": drives,
                    "subscriptions": self.subscriptions.iter().filter(|s| s.owner == i)
                        .map(|s| self.render_subscription(s)).collect::<Vec<_>>(),
                    "ips": self.ips.iter().filter(|ip| ip.owner == i)
                        .map(|ip| self.render_ip(ip)).collect::<Vec<_>>(),
                    "tags": self.tags.iter().filter(|t| t.owner == i)
                        .map(|t| self.render_tag(t)).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "accounts": accounts,
            "transitions_in_progress": self.transitions_in_progress(),
        })
    }

    // ---- servers ------------------------------------------------------------------------

    /// Reads a server definition (create, or PUT of a stopped server). `existing` is the
    /// server being edited; `claimed_*` are disks and IPs taken by earlier objects of the same
    /// bulk create.
    fn parse_server(
        &self,
        account: usize,
        obj: &Map<String, Value>,
        existing: Option<usize>,
        claimed_drives: &mut HashSet<String>,
        claimed_ips: &mut HashSet<String>,
    ) -> Result<ServerDef, ApiError> {
        let old = existing.map(|i| &self.servers[i]);
        let name = req_name(obj)?;
        let cpu = req_uint(obj, "cpu")?;
        let mem = req_uint(obj, "mem")?;
        let vnc_password = req_str(obj, "vnc_password")?;
        // smp defaults to 1 (D:dumps/response_server_create_minimal) and is then held to
        // cpu_per_smp like any other value: CloudSigma does not document deriving it from cpu.
        // On PUT an omitted scalar keeps its value.
        let smp = opt_uint(obj, "smp")?.unwrap_or(old.map(|s| s.def.smp).unwrap_or(1));
        let cpu_type = opt_str(obj, "cpu_type")?
            .unwrap_or_else(|| old.map(|s| s.def.cpu_type.clone()).unwrap_or("amd".into()));
        let hypervisor = opt_str(obj, "hypervisor")?.unwrap_or_else(|| "kvm".into());
        if hypervisor != "kvm" {
            return Err(ApiError::validation(
                Some("hypervisor"),
                format!("Hypervisor {hypervisor:?} is not available (capabilities: kvm)"),
            ));
        }
        // The combination must match capabilities `hypervisors` (D:servers.rst): kvm: intel, amd.
        let Some((per_min, per_max)) = catalog::cpu_per_smp(&cpu_type) else {
            return Err(ApiError::validation(
                Some("cpu_type"),
                format!("cpu_type {cpu_type:?} is not available with hypervisor kvm"),
            ));
        };
        let cpu_model = match obj.get("cpu_model") {
            None => old.and_then(|s| s.def.cpu_model.clone()),
            Some(Value::Null) => None,
            Some(Value::String(m)) if m == "kvm64" => Some(m.clone()),
            Some(_) => {
                return Err(ApiError::validation(
                    Some("cpu_model"),
                    "cpu_model must be \"kvm64\" or null",
                ))
            }
        };
        if !(catalog::CPU_MIN..=catalog::CPU_MAX).contains(&cpu) {
            return Err(ApiError::validation(
                Some("cpu"),
                format!(
                    "cpu must be between {} and {} MHz",
                    catalog::CPU_MIN,
                    catalog::CPU_MAX
                ),
            ));
        }
        if !(1..=catalog::SMP_MAX).contains(&smp) {
            return Err(ApiError::validation(
                Some("smp"),
                format!("smp must be between 1 and {}", catalog::SMP_MAX),
            ));
        }
        let per_core = cpu / smp;
        if per_core < per_min || per_core > per_max || (cpu % smp != 0 && per_core >= per_max) {
            return Err(ApiError::validation(
                Some("cpu"),
                format!(
                    "cpu/smp must be between {per_min} and {per_max} MHz for cpu_type {cpu_type}"
                ),
            ));
        }
        if !(catalog::MEM_MIN..=catalog::MEM_MAX).contains(&mem) {
            return Err(ApiError::validation(
                Some("mem"),
                format!(
                    "mem must be between {} and {} bytes",
                    catalog::MEM_MIN,
                    catalog::MEM_MAX
                ),
            ));
        }
        let default_flags = [
            ("context", true),
            ("cpus_instead_of_cores", false),
            ("enable_numa", false),
            ("hv_relaxed", false),
            ("hv_tsc", false),
            ("auto_start", false),
        ];
        let mut flags = old.map(|s| s.def.flags).unwrap_or(default_flags);
        for (k, v) in &mut flags {
            if let Some(b) = opt_bool(obj, k)? {
                *v = b;
            }
        }
        // An omitted meta is kept on PUT (P:testing/acceptance/test_servers.py test_server_edit,
        // CLOUDSIGMA.md §5.4).
        let meta = match opt_meta(obj)? {
            Some(m) => m,
            None => old.map(|s| s.def.meta.clone()).unwrap_or_default(),
        };
        // Omitted lists (drives, nics, tags) are replaced by empty ones: PUT is a full
        // definition (D:servers.rst, T had to fix "tags overriding when attaching drives",
        // CLOUDSIGMA.md §5.4). Keeping them would be the lenient reading.
        let tags = self.parse_tags(account, obj)?.unwrap_or_default();
        let self_uuid = old.map(|s| s.uuid.as_str());

        let mut boot_orders = HashSet::new();
        let mut check_boot = |v: Option<&Value>, point: &str| -> Result<Option<u64>, ApiError> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) if n.as_u64().is_some_and(|b| b >= 1) => {
                    let b = n.as_u64().unwrap_or(1);
                    // Boot orders start at 1 (T commit 57ddcb7, CLOUDSIGMA.md §5.2). Two devices
                    // with one boot order: not established; refused.
                    if !boot_orders.insert(b) {
                        return Err(ApiError::validation(
                            Some(point),
                            format!("boot_order {b} is given twice"),
                        ));
                    }
                    Ok(Some(b))
                }
                Some(_) => Err(ApiError::validation(
                    Some(point),
                    "boot_order must be an integer of at least 1, or null",
                )),
            }
        };

        let mut drives = Vec::new();
        let mut channels = HashSet::new();
        for entry in opt_list(obj, "drives")?.into_iter().flatten() {
            let e = entry.as_object().ok_or_else(|| {
                ApiError::validation(Some("drives"), "Each drive must be an object")
            })?;
            let drive = reference_id(
                e.get("drive").ok_or_else(|| ApiError::required("drive"))?,
                "drive",
            )?;
            let device = req_str(e, "device")?;
            if !matches!(device.as_str(), "ide" | "virtio" | "scsi") {
                return Err(ApiError::validation(
                    Some("device"),
                    format!("Device {device:?} is not one of ide, virtio, scsi"),
                ));
            }
            let dev_channel = req_str(e, "dev_channel")?;
            parse_dev_channel(&device, &dev_channel)?;
            if !channels.insert((device.clone(), dev_channel.clone())) {
                return Err(ApiError::validation(
                    Some("dev_channel"),
                    format!("{device} {dev_channel} is used twice"),
                ));
            }
            let boot_order = check_boot(e.get("boot_order"), "boot_order")?;
            if drives.iter().any(|d: &DriveAttach| d.drive == drive) {
                return Err(ApiError::validation(
                    Some("drives"),
                    format!("Drive {drive} is attached twice"),
                ));
            }
            let di = match self.drive_index(account, &drive) {
                Ok(i) => i,
                Err(e) if e.kind == "notexist" => {
                    return Err(ApiError::validation(
                        Some("drives"),
                        format!("Drive {drive} does not exist"),
                    ))
                }
                Err(e) => return Err(e),
            };
            let d = &self.drives[di];
            let already = old.is_some_and(|s| s.def.drives.iter().any(|a| a.drive == drive));
            if d.deleting {
                return Err(ApiError::validation(
                    Some("drives"),
                    format!("Drive {drive} does not exist"),
                ));
            }
            if d.state != DriveState::Ready && !already {
                return Err(ApiError::permission(format!(
                    "Drive {drive} is {} and cannot be attached",
                    self.drive_status(d)
                )));
            }
            // A disk goes on one server unless allow_multimount; CD-ROMs on many (schema:
            // allow_multimount "not taken into account when drive is cdrom").
            if d.media == "disk" && !d.allow_multimount {
                let elsewhere = self.servers.iter().any(|s| {
                    Some(s.uuid.as_str()) != self_uuid
                        && s.def.drives.iter().any(|a| a.drive == drive)
                });
                if elsewhere || claimed_drives.contains(&drive) {
                    return Err(ApiError::permission(format!(
                        "Drive {drive} is already attached to another server and does not \
                         allow multimount"
                    )));
                }
                claimed_drives.insert(drive.clone());
            }
            drives.push(DriveAttach {
                drive,
                device,
                dev_channel,
                boot_order,
            });
        }

        let mut nics = Vec::new();
        let mut macs = HashSet::new();
        let mut statics = HashSet::new();
        for entry in opt_list(obj, "nics")?.into_iter().flatten() {
            let e = entry
                .as_object()
                .ok_or_else(|| ApiError::validation(Some("nics"), "Each NIC must be an object"))?;
            // A NIC with a MAC updates that NIC; a MAC the server did not have is an error; no
            // MAC makes a new NIC (D:network_interfaces.rst). MACs are compared as rendered.
            let mac = opt_str(e, "mac")?;
            if let Some(m) = &mac {
                let known = old.is_some_and(|s| s.def.nics.iter().any(|n| &n.mac == m));
                if !known {
                    return Err(ApiError::validation(
                        Some("mac"),
                        format!("MAC {m} is not a NIC of this server"),
                    ));
                }
                if !macs.insert(m.clone()) {
                    return Err(ApiError::validation(
                        Some("mac"),
                        format!("MAC {m} is given twice"),
                    ));
                }
            }
            let model = opt_str(e, "model")?.unwrap_or_else(|| "virtio".into());
            if !matches!(model.as_str(), "virtio" | "e1000" | "rtl8139") {
                return Err(ApiError::validation(
                    Some("model"),
                    format!("NIC model {model:?} is not one of rtl8139, e1000, virtio"),
                ));
            }
            let vlan = match e.get("vlan") {
                None | Some(Value::Null) => None,
                Some(v) => Some(reference_id(v, "vlan")?),
            };
            let conf = |key: &str| -> Result<Option<IpConf>, ApiError> {
                let c = match e.get(key) {
                    None | Some(Value::Null) => return Ok(None),
                    Some(Value::Object(c)) => c,
                    Some(_) => {
                        return Err(ApiError::validation(Some(key), "Expected an object"));
                    }
                };
                // `conf` is required (schema) though it shows a default.
                let kind = req_str(c, "conf")?;
                if !matches!(kind.as_str(), "dhcp" | "static" | "manual") {
                    return Err(ApiError::validation(
                        Some("conf"),
                        format!("conf {kind:?} is not one of dhcp, static, manual"),
                    ));
                }
                let ip = match c.get("ip") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(reference_id(v, "ip")?),
                };
                Ok(Some(IpConf { conf: kind, ip }))
            };
            let ip_v4 = conf("ip_v4_conf")?;
            let ip_v6 = conf("ip_v6_conf")?;
            if vlan.is_some() && (ip_v4.is_some() || ip_v6.is_some()) {
                return Err(ApiError::validation(
                    Some("nics"),
                    "Cannot assign both private and public configuration on a NIC",
                ));
            }
            if let Some(v) = &vlan {
                // The simulator sells no VLANs, so none can be referenced.
                return Err(ApiError::validation(
                    Some("vlan"),
                    format!("VLAN {v} does not exist"),
                ));
            }
            if let Some(c) = &ip_v6 {
                if c.ip.is_some() || c.conf == "static" {
                    return Err(ApiError::validation(
                        Some("ip_v6_conf"),
                        "No IPv6 address is owned",
                    ));
                }
            }
            if let Some(c) = &ip_v4 {
                match (c.conf.as_str(), &c.ip) {
                    ("dhcp", Some(_)) => {
                        return Err(ApiError::validation(
                            Some("ip"),
                            "An IP cannot be given with conf dhcp",
                        ))
                    }
                    // manual: "there is no address specified for the NIC"
                    // (D:network_interfaces.rst); an address given anyway is refused.
                    ("manual", Some(_)) => {
                        return Err(ApiError::validation(
                            Some("ip"),
                            "An IP cannot be given with conf manual",
                        ))
                    }
                    ("static", None) => return Err(ApiError::required("ip")),
                    ("static", Some(ip)) => {
                        let owned = self.ips.iter().find(|i| {
                            i.owner == account && i.address == *ip && i.subscription.is_some()
                        });
                        if owned.is_none() {
                            return Err(ApiError::validation(
                                Some("ip"),
                                format!("IP {ip} is not an address you own"),
                            ));
                        }
                        let used_elsewhere = self.servers.iter().any(|s| {
                            Some(s.uuid.as_str()) != self_uuid
                                && s.def.nics.iter().any(|n| {
                                    n.ip_v4.as_ref().is_some_and(|c| c.ip.as_ref() == Some(ip))
                                })
                        });
                        if used_elsewhere || claimed_ips.contains(ip) || !statics.insert(ip.clone())
                        {
                            return Err(ApiError::validation(
                                Some("ip"),
                                format!("IP {ip} is already in use by another NIC"),
                            ));
                        }
                        claimed_ips.insert(ip.clone());
                    }
                    _ => {}
                }
            }
            let boot_order = check_boot(e.get("boot_order"), "boot_order")?;
            let runtime_ip = mac.as_ref().and_then(|m| {
                old.and_then(|s| s.def.nics.iter().find(|n| &n.mac == m))
                    .and_then(|n| n.runtime_ip.clone())
            });
            nics.push(Nic {
                mac: mac.unwrap_or_default(),
                model,
                ip_v4,
                ip_v6,
                vlan,
                boot_order,
                runtime_ip,
            });
        }
        Ok(ServerDef {
            name,
            cpu,
            smp,
            mem,
            vnc_password,
            cpu_type,
            hypervisor,
            cpu_model,
            flags,
            meta,
            drives,
            nics,
            tags,
        })
    }

    /// `POST /servers/`: every object is checked before any is made.
    pub fn create_servers(
        &mut self,
        account: usize,
        objects: &[Map<String, Value>],
    ) -> Result<Vec<Value>, ApiError> {
        let mut claimed_drives = HashSet::new();
        let mut claimed_ips = HashSet::new();
        let mut defs = Vec::new();
        for o in objects {
            defs.push(self.parse_server(
                account,
                o,
                None,
                &mut claimed_drives,
                &mut claimed_ips,
            )?);
        }
        let mut out = Vec::new();
        for mut def in defs {
            let uuid = self.new_uuid();
            for n in &mut def.nics {
                n.mac = self.new_mac();
            }
            let tags = def.tags.clone();
            self.servers.push(Server {
                uuid: uuid.clone(),
                owner: account,
                def,
                // Created stopped, runtime null (D:dumps/response_server_create_full).
                status: ServerStatus::Stopped,
                active_since: None,
                starts: 0,
                deleting: false,
            });
            self.set_tags(account, &uuid, &tags);
            let s = self.servers.last().expect("just pushed");
            out.push(self.render_server(s));
        }
        Ok(out)
    }

    /// `PUT /servers/{uuid}/`.
    pub fn update_server(
        &mut self,
        account: usize,
        uuid: &str,
        obj: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let i = self.server_index(account, uuid)?;
        if self.servers[i].deleting {
            return Err(ApiError::permission(format!(
                "Server {uuid} is being deleted"
            )));
        }
        // cpu, mem, name and vnc_password are required whatever the state
        // (D:dumps/request_server_edit_minimal).
        let name = req_name(obj)?;
        req_uint(obj, "cpu")?;
        req_uint(obj, "mem")?;
        req_str(obj, "vnc_password")?;
        let meta = opt_meta(obj)?;
        let tags = self.parse_tags(account, obj)?.unwrap_or_default();
        if self.servers[i].status != ServerStatus::Stopped {
            // A running server changes only name, meta and tags; everything else is ignored with
            // 200 (D:servers.rst "Editing").
            let s = &mut self.servers[i];
            s.def.name = name;
            if let Some(m) = meta {
                s.def.meta = m;
            }
            s.def.tags = tags.clone();
            self.set_tags(account, uuid, &tags);
            return Ok(self.render_server(&self.servers[i]));
        }
        let mut def = self.parse_server(
            account,
            obj,
            Some(i),
            &mut HashSet::new(),
            &mut HashSet::new(),
        )?;
        for n in &mut def.nics {
            if n.mac.is_empty() {
                n.mac = self.new_mac();
            }
        }
        let tags = def.tags.clone();
        self.servers[i].def = def;
        self.set_tags(account, uuid, &tags);
        Ok(self.render_server(&self.servers[i]))
    }

    fn state_error(action: &str, s: &Server, wanted: &str) -> ApiError {
        ApiError::permission(format!(
            "Cannot {action} guest in state \"{}\". Guest should be in state \"{wanted}\"",
            s.status.internal()
        ))
    }

    /// `POST /servers/{uuid}/action/?do=...` (D:servers.rst "Server Actions").
    pub fn server_action(
        &mut self,
        account: usize,
        uuid: &str,
        action: &str,
    ) -> Result<Value, ApiError> {
        let i = self.server_index(account, uuid)?;
        if self.servers[i].deleting {
            return Err(ApiError::permission(format!(
                "Server {uuid} is being deleted"
            )));
        }
        match action {
            "start" => self.start(account, i)?,
            // Hard stop, and ACPI shutdown: both only from running (the stop fixture of L wants
            // "['started', 'running_legacy']"). The simulated guest obeys ACPI, so shutdown ends
            // stopped after one transition (D:servers.rst "ACPI Shutdown").
            "stop" | "shutdown" => {
                let s = &self.servers[i];
                if s.status != ServerStatus::Running {
                    return Err(Self::state_error(
                        action,
                        s,
                        "['started', 'running_legacy']",
                    ));
                }
                self.servers[i].status = ServerStatus::Stopping;
                self.schedule(Event::StopDone(uuid.to_string()));
            }
            _ => {
                return Err(ApiError::validation(
                    Some("do"),
                    format!("Unknown or unsupported action {action:?}"),
                ))
            }
        }
        Ok(json!({"action": action, "result": "success", "uuid": uuid}))
    }

    fn start(&mut self, account: usize, i: usize) -> Result<(), ApiError> {
        let s = &self.servers[i];
        if s.status != ServerStatus::Stopped {
            return Err(Self::state_error("start", s, "stopped"));
        }
        let mut disk_bytes = 0;
        for a in &s.def.drives {
            let Some(d) = self.drives.iter().find(|d| d.uuid == a.drive) else {
                continue;
            };
            if d.state != DriveState::Ready || d.deleting {
                return Err(ApiError::permission(format!(
                    "Cannot start: drive {} is {}",
                    d.uuid,
                    if d.deleting {
                        "being deleted"
                    } else {
                        self.drive_status(d)
                    }
                )));
            }
            if d.media == "disk" {
                disk_bytes += d.size;
            }
        }
        // 402 when the account cannot pay 5 days of burst for the server (D:general.rst "402").
        let a = &self.accounts[account];
        let five_days =
            catalog::burst_per_hour(&a.currency, s.def.cpu, s.def.mem, disk_bytes) * 24.0 * 5.0;
        if a.balance <= 0.0 || a.balance < five_days {
            return Err(ApiError::funds(format!(
                "Not enough funds to start the server: 5 days of burst cost {five_days:.2} {}, \
                 the balance is {}",
                a.currency,
                balance_string(a.balance)
            )));
        }
        // Capacity is checked at start, not create (CLOUDSIGMA.md §4); 503 with no dedicated
        // error type: `backend` is a choice.
        let location = a.location.clone();
        if let Some(n) = self.capacity.get_mut(&location) {
            if *n == 0 {
                return Err(ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "backend",
                    "We currently cannot provide enough resources to start the server",
                ));
            }
            *n -= 1;
        }
        let fail = self.faults.start_failure_rate > 0.0
            && self.fault_rng.random::<f64>() < self.faults.start_failure_rate;
        if fail {
            // The failed start does not use up capacity.
            if let Some(n) = self.capacity.get_mut(&location) {
                *n += 1;
            }
        }
        let s = &mut self.servers[i];
        s.status = ServerStatus::Starting;
        s.starts += 1;
        let server = s.uuid.clone();
        self.schedule(Event::StartDone { server, fail });
        Ok(())
    }

    /// `DELETE /servers/{uuid}/?recurse=...` (D:servers.rst "Deleting").
    pub fn delete_server(
        &mut self,
        account: usize,
        uuid: &str,
        recurse: Option<&str>,
    ) -> Result<(), ApiError> {
        let i = self.server_index(account, uuid)?;
        let media: &[&str] = match recurse {
            None => &[],
            Some("all_drives") => &["disk", "cdrom"],
            Some("disks") => &["disk"],
            Some("cdroms") => &["cdrom"],
            Some(other) => {
                return Err(ApiError::validation(
                    Some("recurse"),
                    format!("recurse {other:?} is not one of all_drives, disks, cdroms"),
                ))
            }
        };
        if self.servers[i].deleting {
            // Deletion already started: nothing more to do.
            return Ok(());
        }
        let s = &self.servers[i];
        // Deleting a server that is not stopped is not documented (CLOUDSIGMA.md §5.5, §11):
        // refused, the strict reading; T and P stop first.
        if s.status != ServerStatus::Stopped {
            return Err(Self::state_error("delete", s, "stopped"));
        }
        let doomed: Vec<String> = s
            .def
            .drives
            .iter()
            .filter_map(|a| self.drives.iter().find(|d| d.uuid == a.drive))
            .filter(|d| media.contains(&d.media.as_str()) && !d.deleting)
            .map(|d| d.uuid.clone())
            .collect();
        // A drive going with the server may not be in use by another server that is not stopped
        // (a shared CD-ROM on a running server): the whole delete is refused.
        for d in &doomed {
            if let Some(other) = self.servers.iter().find(|o| {
                o.uuid != uuid
                    && o.status != ServerStatus::Stopped
                    && o.def.drives.iter().any(|a| &a.drive == d)
            }) {
                return Err(ApiError::permission(format!(
                    "Drive {d} is in use by server {}, which is {}",
                    other.uuid,
                    other.status.as_str()
                )));
            }
        }
        self.servers[i].deleting = true;
        self.schedule(Event::ServerGone(uuid.to_string()));
        for d in doomed {
            self.begin_drive_deletion(&d, Some(uuid));
        }
        Ok(())
    }

    fn begin_drive_deletion(&mut self, uuid: &str, keep_on: Option<&str>) {
        if let Some(d) = self.drives.iter_mut().find(|d| d.uuid == uuid) {
            d.deleting = true;
        }
        // Detached from (stopped) servers right away; the server being deleted keeps showing it.
        for s in &mut self.servers {
            if Some(s.uuid.as_str()) != keep_on {
                s.def.drives.retain(|a| a.drive != uuid);
            }
        }
        self.schedule(Event::DriveGone(uuid.to_string()));
    }

    // ---- drives -------------------------------------------------------------------------

    fn parse_size(obj: &Map<String, Value>) -> Result<u64, ApiError> {
        let size = req_uint(obj, "size")?;
        if !(catalog::DRIVE_MIN..=catalog::DRIVE_MAX).contains(&size) {
            return Err(ApiError::validation(
                Some("size"),
                format!(
                    "size must be between {} and {} bytes for dssd",
                    catalog::DRIVE_MIN,
                    catalog::DRIVE_MAX
                ),
            ));
        }
        // Sizes are rounded to about 64 KiB (P:testing/acceptance/test_drives.py
        // ALLOWED_SIZE_ROUNDING): up to the next multiple of 65536 here.
        Ok(size.div_ceil(65_536) * 65_536)
    }

    fn parse_media(obj: &Map<String, Value>) -> Result<String, ApiError> {
        let media = req_str(obj, "media")?;
        if media != "disk" && media != "cdrom" {
            return Err(ApiError::validation(
                Some("media"),
                format!("media {media:?} is not one of cdrom, disk"),
            ));
        }
        Ok(media)
    }

    fn parse_affinities(obj: &Map<String, Value>) -> Result<Option<Vec<Value>>, ApiError> {
        let Some(list) = opt_list(obj, "affinities")? else {
            return Ok(None);
        };
        for a in list {
            if a.as_str() != Some("ssd") {
                return Err(ApiError::validation(
                    Some("affinities"),
                    "affinities may only contain \"ssd\"",
                ));
            }
        }
        Ok(Some(list.clone()))
    }

    /// `POST /drives/` (D:drives.rst "Creating"): `creating`, then `unmounted`.
    pub fn create_drives(
        &mut self,
        account: usize,
        objects: &[Map<String, Value>],
    ) -> Result<Vec<Value>, ApiError> {
        struct New {
            name: String,
            size: u64,
            media: String,
            meta: Map<String, Value>,
            allow_multimount: bool,
            affinities: Vec<Value>,
            tags: Vec<String>,
        }
        let mut news = Vec::new();
        for o in objects {
            let name = req_name(o)?;
            let size = Self::parse_size(o)?;
            let media = Self::parse_media(o)?;
            // Only dssd is in this simulator's capabilities (the default storage type,
            // D:drives.rst "Storage Types").
            if let Some(st) = opt_str(o, "storage_type")? {
                if st != "dssd" {
                    return Err(ApiError::validation(
                        Some("storage_type"),
                        format!("storage_type {st:?} is not available in this location"),
                    ));
                }
            }
            news.push(New {
                name,
                size,
                media,
                meta: opt_meta(o)?.unwrap_or_default(),
                allow_multimount: opt_bool(o, "allow_multimount")?.unwrap_or(false),
                affinities: Self::parse_affinities(o)?.unwrap_or_default(),
                tags: self.parse_tags(account, o)?.unwrap_or_default(),
            });
        }
        let mut out = Vec::new();
        for n in news {
            let uuid = self.new_uuid();
            self.drives.push(Drive {
                uuid: uuid.clone(),
                owner: account,
                name: n.name,
                size: n.size,
                media: n.media,
                storage_type: "dssd".into(),
                state: DriveState::Creating,
                meta: n.meta,
                allow_multimount: n.allow_multimount,
                affinities: n.affinities,
                content: None,
                deleting: false,
            });
            self.set_tags(account, &uuid, &n.tags);
            self.schedule(Event::DriveReady(uuid));
            out.push(self.render_drive(self.drives.last().expect("just pushed")));
        }
        Ok(out)
    }

    /// `PUT /drives/{uuid}/`: a full definition (name, size, media required). On a drive mounted
    /// on a running server only name, meta, tags and allow_multimount change; the rest is
    /// ignored (D:drives.rst "Editing").
    pub fn update_drive(
        &mut self,
        account: usize,
        uuid: &str,
        obj: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let i = self.drive_index(account, uuid)?;
        let name = req_name(obj)?;
        let size = Self::parse_size(obj)?;
        let media = Self::parse_media(obj)?;
        let meta = opt_meta(obj)?;
        let tags = self.parse_tags(account, obj)?.unwrap_or_default();
        let allow_multimount = opt_bool(obj, "allow_multimount")?;
        let affinities = Self::parse_affinities(obj)?;
        if let Some(st) = opt_str(obj, "storage_type")? {
            if st != self.drives[i].storage_type {
                return Err(ApiError::validation(
                    Some("storage_type"),
                    "storage_type cannot be changed after creation",
                ));
            }
        }
        let d = &self.drives[i];
        if d.deleting {
            return Err(ApiError::permission(format!(
                "Drive {uuid} is being deleted"
            )));
        }
        if d.state != DriveState::Ready {
            return Err(ApiError::permission(format!(
                "Drive {uuid} is {} and cannot be edited",
                self.drive_status(d)
            )));
        }
        let mounted = self.drive_status(d) == "mounted";
        let attached_to = self
            .servers
            .iter()
            .filter(|s| s.def.drives.iter().any(|a| a.drive == uuid))
            .count();
        let d = &mut self.drives[i];
        d.name = name;
        if let Some(m) = meta {
            d.meta = m;
        }
        if let Some(a) = allow_multimount {
            d.allow_multimount = a;
        }
        if !mounted {
            if size < d.size {
                // Shrinking is not documented (resize is grow only in T's CustomizeDiff):
                // refused.
                return Err(ApiError::validation(
                    Some("size"),
                    "A drive cannot be shrunk",
                ));
            }
            if media == "disk" && attached_to > 1 && !d.allow_multimount {
                return Err(ApiError::permission(
                    "A disk attached to several servers must allow multimount",
                ));
            }
            d.media = media;
            if let Some(a) = affinities {
                d.affinities = a;
            }
            if size != d.size {
                d.size = size;
                d.state = DriveState::Resizing;
                let uuid = d.uuid.clone();
                self.schedule(Event::DriveReady(uuid));
            }
        }
        self.set_tags(account, uuid, &tags);
        Ok(self.render_drive(&self.drives[i]))
    }

    /// `DELETE /drives/{uuid}/`: refused while a server that is not stopped holds the drive;
    /// detached from stopped servers ("drives attached to stopped servers can now be deleted",
    /// Carbon, D:release_notes.rst). A drive still being created, uploaded or resized is refused
    /// too (not established; strict).
    pub fn delete_drives(&mut self, account: usize, uuids: &[String]) -> Result<(), ApiError> {
        let mut todo = Vec::new();
        for uuid in uuids {
            let i = self.drive_index(account, uuid)?;
            let d = &self.drives[i];
            if d.deleting {
                continue;
            }
            if let Some(s) = self.servers.iter().find(|s| {
                s.status != ServerStatus::Stopped && s.def.drives.iter().any(|a| &a.drive == uuid)
            }) {
                return Err(ApiError::permission(format!(
                    "Drive {uuid} is mounted on server {}, which is {}",
                    s.uuid,
                    s.status.as_str()
                )));
            }
            if d.state != DriveState::Ready {
                return Err(ApiError::permission(format!(
                    "Drive {uuid} is {} and cannot be deleted yet",
                    self.drive_status(d)
                )));
            }
            todo.push(uuid.clone());
        }
        for uuid in todo {
            self.begin_drive_deletion(&uuid, None);
        }
        Ok(())
    }

    /// The one-shot upload (D:upload_download.rst): a `disk` drive (media not documented,
    /// CLOUDSIGMA.md §6.3) of the image's size, at least the minimum drive size, `uploading` then
    /// `unmounted`. Its name is not documented: "Upload N" here.
    pub fn upload(&mut self, account: usize, bytes: Vec<u8>) -> String {
        self.uploads += 1;
        let uuid = self.new_uuid();
        let size = (bytes.len() as u64).max(catalog::DRIVE_MIN);
        self.drives.push(Drive {
            uuid: uuid.clone(),
            owner: account,
            name: format!("Upload {}", self.uploads),
            size,
            media: "disk".into(),
            storage_type: "dssd".into(),
            state: DriveState::Uploading,
            meta: Map::new(),
            allow_multimount: false,
            affinities: Vec::new(),
            content: Some(Arc::new(bytes)),
            deleting: false,
        });
        self.schedule(Event::DriveReady(uuid.clone()));
        uuid
    }

    // ---- IPs, subscriptions, tags ---------------------------------------------------------

    /// `PUT /ips/{address}/`: only meta and tags can be edited (CLOUDSIGMA.md §7.1); other fields
    /// are ignored.
    pub fn update_ip(
        &mut self,
        account: usize,
        address: &str,
        obj: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let i = self.ip_index(account, address)?;
        if self.ips[i].subscription.is_none() {
            // A DHCP address of a running server belongs to no subscription: not editable here.
            return Err(ApiError::permission(format!(
                "IP {address} is a dynamic address and cannot be edited"
            )));
        }
        let meta = opt_meta(obj)?;
        let tags = self.parse_tags(account, obj)?.unwrap_or_default();
        if let Some(m) = meta {
            self.ips[i].meta = m;
        }
        self.set_tags(account, address, &tags);
        Ok(self.render_ip(&self.ips[i]))
    }

    /// `POST /subscriptions/` (D:subscriptions.rst).
    pub fn create_subscriptions(
        &mut self,
        account: usize,
        objects: &[Map<String, Value>],
    ) -> Result<(Vec<Value>, f64), ApiError> {
        if objects.len() > 500 {
            return Err(ApiError::validation(
                None,
                "At most 500 subscriptions can be bought in one request",
            ));
        }
        struct New {
            resource: String,
            amount: u64,
            period: String,
            secs: u64,
            auto_renew: bool,
            price: f64,
        }
        let currency = self.accounts[account].currency.clone();
        let mut news = Vec::new();
        let mut total = 0.0;
        for o in objects {
            let resource = req_str(o, "resource")?;
            let resource = if resource == "hdd" {
                "dssd".to_string()
            } else {
                resource
            };
            if !matches!(resource.as_str(), "ip" | "cpu" | "mem" | "dssd") {
                return Err(ApiError::validation(
                    Some("resource"),
                    format!(
                        "resource {resource:?} cannot be bought in this simulator (ip, cpu, \
                         mem, dssd)"
                    ),
                ));
            }
            // amount: a number or a decimal string (amounts are strings on output).
            let amount = match o.get("amount") {
                None | Some(Value::Null) => return Err(ApiError::required("amount")),
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                Some(_) => None,
            }
            .filter(|a| *a > 0)
            .ok_or_else(|| {
                ApiError::validation(Some("amount"), "amount must be a positive integer")
            })?;
            let start = opt_str(o, "start_time")?;
            let end = opt_str(o, "end_time")?;
            let period = opt_str(o, "period")?;
            // The duration table of D:subscriptions.rst; the simulator takes `period` alone
            // (start now), which is what the bridge sends.
            let period = match (start, end, period) {
                (Some(_), Some(_), Some(_)) => {
                    return Err(ApiError::validation(
                        Some("period"),
                        "start_time, end_time and period together are ambiguous",
                    ))
                }
                (_, _, None) => {
                    return Err(ApiError::validation(
                        Some("period"),
                        "Not specific enough: give a period",
                    ))
                }
                (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                    return Err(ApiError::validation(
                        Some("start_time"),
                        "The simulator takes only a period starting now",
                    ))
                }
                (None, None, Some(p)) => p,
            };
            let secs = parse_period(&period).ok_or_else(|| {
                ApiError::validation(
                    Some("period"),
                    format!("Cannot understand the period {period:?}"),
                )
            })?;
            let auto_renew = opt_bool(o, "auto_renew")?.unwrap_or(true);
            let level0 = catalog::price(&currency, &resource, 0).unwrap_or(0.0);
            let mult = catalog::multiplier(&resource).unwrap_or(1) as f64;
            let price = amount as f64 * secs as f64 * level0 / mult;
            total += price;
            news.push(New {
                resource,
                amount,
                period,
                secs,
                auto_renew,
                price,
            });
        }
        // 402 when funds are short (D:general.rst "402").
        let balance = self.accounts[account].balance;
        if balance <= 0.0 || balance < total {
            return Err(ApiError::funds(format!(
                "Not enough funds: the subscriptions cost {total:.2} {currency}, the balance is {}",
                balance_string(balance)
            )));
        }
        self.accounts[account].balance -= total;
        let location = self.accounts[account].location.clone();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut out = Vec::new();
        for n in news {
            // An ip subscription of amount N makes N subscriptions of one IP each.
            let (count, each) = if n.resource == "ip" {
                (n.amount, 1)
            } else {
                (1, n.amount)
            };
            for _ in 0..count {
                let id = self.next_subscription;
                self.next_subscription += 1;
                let uuid = self.new_uuid();
                let subscribed_object = if n.resource == "ip" {
                    let (address, gateway, nameservers) = self.allocate_address(&location);
                    self.ips.push(Ip {
                        address: address.clone(),
                        owner: account,
                        gateway,
                        nameservers,
                        meta: Map::new(),
                        subscription: Some(id),
                        dynamic_for: None,
                    });
                    Some(address)
                } else {
                    None
                };
                // End times round up to the next noon UTC (D:subscriptions.rst).
                let end = (now + n.secs).div_ceil(86_400) * 86_400 - 43_200;
                let end = if end < now + n.secs {
                    end + 86_400
                } else {
                    end
                };
                self.subscriptions.push(Subscription {
                    id,
                    uuid,
                    owner: account,
                    resource: n.resource.clone(),
                    amount: each.to_string(),
                    period: n.period.clone(),
                    start_time: iso(now),
                    end_time: iso(end),
                    auto_renew: n.auto_renew,
                    subscribed_object,
                    price: catalog::decimal(n.price / count as f64),
                });
                out.push(self.render_subscription(self.subscriptions.last().expect("pushed")));
            }
        }
        Ok((out, total))
    }

    /// `POST /subscriptions/{id}/action/?do=auto_renew`: toggles, or sets `{"auto_renew": b}`
    /// when given (the body format is not documented, CLOUDSIGMA.md §7.2).
    pub fn auto_renew(
        &mut self,
        account: usize,
        id: &str,
        set: Option<bool>,
    ) -> Result<Value, ApiError> {
        let i = self.subscription_index(account, id)?;
        let s = &mut self.subscriptions[i];
        s.auto_renew = set.unwrap_or(!s.auto_renew);
        Ok(self.render_subscription(&self.subscriptions[i]))
    }

    fn parse_tag_resources(
        &self,
        account: usize,
        obj: &Map<String, Value>,
    ) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        for v in opt_list(obj, "resources")?.into_iter().flatten() {
            let id = reference_id(v, "resources")?;
            if self.res_type(account, &id).is_none() {
                return Err(ApiError::validation(
                    Some("resources"),
                    format!("Resource {id} does not exist"),
                ));
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// `POST /tags/` (D:tags.rst).
    pub fn create_tags(
        &mut self,
        account: usize,
        objects: &[Map<String, Value>],
    ) -> Result<Vec<Value>, ApiError> {
        let mut news = Vec::new();
        for o in objects {
            news.push((
                req_name(o)?,
                opt_meta(o)?.unwrap_or_default(),
                self.parse_tag_resources(account, o)?,
            ));
        }
        let mut out = Vec::new();
        for (name, meta, resources) in news {
            let uuid = self.new_uuid();
            self.tags.push(Tag {
                uuid,
                owner: account,
                name,
                meta,
                resources,
            });
            out.push(self.render_tag(self.tags.last().expect("pushed")));
        }
        Ok(out)
    }

    /// `PUT /tags/{uuid}/`: name required, `resources` replaced as a whole (CLOUDSIGMA.md §9),
    /// meta kept when omitted.
    pub fn update_tag(
        &mut self,
        account: usize,
        uuid: &str,
        obj: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let i = self.tag_index(account, uuid)?;
        let name = req_name(obj)?;
        let meta = opt_meta(obj)?;
        let resources = self.parse_tag_resources(account, obj)?;
        let t = &mut self.tags[i];
        t.name = name;
        if let Some(m) = meta {
            t.meta = m;
        }
        t.resources = resources;
        Ok(self.render_tag(&self.tags[i]))
    }

    pub fn delete_tag(&mut self, account: usize, uuid: &str) -> Result<(), ApiError> {
        let i = self.tag_index(account, uuid)?;
        self.tags.remove(i);
        Ok(())
    }
}

impl Pool {
    fn refill(&mut self, rng: &mut StdRng) {
        self.free = (10..=254).collect();
        self.free.shuffle(rng);
    }
}

/// Parses a free-text period such as "1 month", "2 weeks", "1 month 1 week", "30 days"
/// (D:subscriptions.rst) into seconds; a month is 30 days (CLOUDSIGMA.md §8.2).
pub fn parse_period(text: &str) -> Option<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let mut secs = 0u64;
    for pair in words.chunks(2) {
        let n: u64 = pair[0].parse().ok()?;
        let unit = pair[1].trim_end_matches(',').to_ascii_lowercase();
        let per = match unit.trim_end_matches('s') {
            "hour" => 3_600,
            "day" => 86_400,
            "week" => 7 * 86_400,
            "month" => 30 * 86_400,
            "year" => 365 * 86_400,
            _ => return None,
        };
        secs = secs.checked_add(n.checked_mul(per)?)?;
    }
    (secs > 0).then_some(secs)
}

pub fn balance_string(v: f64) -> String {
    format!("{v:.8}")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso(1_426_773_171), "2015-03-19T13:52:51+00:00");
    }

    #[test]
    fn periods() {
        assert_eq!(parse_period("1 month"), Some(30 * 86_400));
        assert_eq!(parse_period("1 month 1 week"), Some(37 * 86_400));
        assert_eq!(parse_period("2 weeks"), Some(14 * 86_400));
        assert_eq!(parse_period("month"), None);
        assert_eq!(parse_period("0 days"), None);
    }
}
