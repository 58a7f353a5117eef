//! CloudSigma's wire types (API 2.0), as this client reads and writes them.
//!
//! Answers are read tolerantly: missing fields and `null` lists take their default, numbers may
//! come as strings or floats, and references to other objects may be a bare uuid or an expanded
//! object (CLOUDSIGMA.md §5.1). Fields this client does not model are kept in `other` where a
//! whole object must be sent back (servers: `PUT` replaces the whole definition, §5.4).

pub(crate) mod de;

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use de::{
    i64_lenient, meta_map, null_default, opt_string_lenient, opt_u32_lenient, opt_u8_lenient,
    string_lenient, u64_lenient,
};

// ---------------------------------------------------------------------------------------------
// Requests' helpers (not wire types)

/// The filters of a list call (D:general.rst "Filtering"; servers, drives, IPs take `name`,
/// `uuid` and `tag`, CLOUDSIGMA.md §3). Separate filters AND; the uuids OR (`uuid=a,b`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact name. A `,` in it is escaped as `\,` so that it does not split the value.
    pub name: Option<String>,
    /// Any of these uuids.
    pub uuids: Vec<String>,
    /// Has the tag with this uuid.
    pub tag: Option<String>,
}

impl Filter {
    pub fn by_name(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    pub fn by_uuids<I: IntoIterator<Item = S>, S: Into<String>>(uuids: I) -> Self {
        Self {
            uuids: uuids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn by_tag(tag_uuid: impl Into<String>) -> Self {
        Self {
            tag: Some(tag_uuid.into()),
            ..Self::default()
        }
    }
}

/// The filters of `GET /subscriptions/` (CLOUDSIGMA.md §3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// `ip`, `vlan`, `dssd`, ...; a comma list ORs.
    pub resource: Option<String>,
    /// `active`, `inactive`, `expired`, `all` (the server's default), `notexpired`.
    pub status: Option<String>,
}

/// Which attached drives a server deletion takes along (D:servers.rst, CLOUDSIGMA.md §5.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Recurse {
    /// The server only.
    #[default]
    None,
    /// Attached drives of media `disk` (keeps CD-ROMs such as a shared ISO).
    Disks,
    /// Attached CD-ROMs only.
    Cdroms,
    /// Every attached drive, CD-ROMs included.
    AllDrives,
}

impl Recurse {
    /// The `recurse=` value, `None` for [`Recurse::None`].
    pub fn query_value(self) -> Option<&'static str> {
        match self {
            Recurse::None => None,
            Recurse::Disks => Some("disks"),
            Recurse::Cdroms => Some("cdroms"),
            Recurse::AllDrives => Some("all_drives"),
        }
    }
}

/// A server power action (D:servers.rst, CLOUDSIGMA.md §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerAction {
    Start,
    /// Hard power-off.
    Stop,
    /// ACPI power button for up to a minute; the guest may ignore it.
    Shutdown,
}

impl ServerAction {
    /// The `do=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerAction::Start => "start",
            ServerAction::Stop => "stop",
            ServerAction::Shutdown => "shutdown",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// References

/// A reference to another object. Requests may give a bare uuid; answers expand it to
/// `{uuid, resource_uri}` (CLOUDSIGMA.md §5.1). Both forms read; it is written as an object,
/// the form answers use (and `PUT` accepts, `{"uuid": ...}` in D:network_interfaces.rst).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectRef {
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_uri: Option<String>,
}

impl ObjectRef {
    pub fn new(uuid: impl Into<String>) -> Self {
        Self {
            uuid: uuid.into(),
            resource_uri: None,
        }
    }
}

impl From<&str> for ObjectRef {
    fn from(uuid: &str) -> Self {
        Self::new(uuid)
    }
}

impl From<String> for ObjectRef {
    fn from(uuid: String) -> Self {
        Self::new(uuid)
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(uuid) => Ok(ObjectRef::new(uuid)),
            Value::Number(n) => Ok(ObjectRef::new(n.to_string())),
            Value::Object(mut map) => {
                let uuid = map
                    .remove("uuid")
                    .or_else(|| map.remove("id"))
                    .and_then(|v| match v {
                        Value::String(s) => Some(s),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .ok_or_else(|| D::Error::custom("a reference object without `uuid`"))?;
                let resource_uri = match map.remove("resource_uri") {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                Ok(ObjectRef { uuid, resource_uri })
            }
            other => Err(D::Error::custom(format!(
                "expected a uuid or a reference object, got {other}"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A server as CloudSigma describes it (D:dumps/response_server_get_running). Fields not
/// modelled here (`vnc_password`, `cpu_type`, `context`, `hv_*`, `owner`, `resource_uri`, ...)
/// are kept in [`Server::other`], so that serializing a `Server` gives back the whole object
/// for a `PUT` (read-modify-write, CLOUDSIGMA.md §5.4). `Debug` does not print `vnc_password`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Server {
    #[serde(default, deserialize_with = "string_lenient")]
    pub uuid: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub name: String,
    /// `stopped`, `starting`, `running`, `stopping`, `paused`, `unavailable` (CLOUDSIGMA.md §5.7).
    #[serde(default, deserialize_with = "string_lenient")]
    pub status: String,
    /// Total CPU in MHz.
    #[serde(default, deserialize_with = "u64_lenient")]
    pub cpu: u64,
    /// Memory in bytes.
    #[serde(default, deserialize_with = "u64_lenient")]
    pub mem: u64,
    #[serde(
        default,
        deserialize_with = "opt_u32_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub smp: Option<u32>,
    #[serde(default, deserialize_with = "null_default")]
    pub drives: Vec<ServerDrive>,
    #[serde(default, deserialize_with = "null_default")]
    pub nics: Vec<Nic>,
    #[serde(default, deserialize_with = "meta_map")]
    pub meta: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<ObjectRef>,
    /// Present while running (CLOUDSIGMA.md §5.8); `null` when stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<ServerRuntime>,
    /// Every other field of the answer, kept as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("cpu", &self.cpu)
            .field("mem", &self.mem)
            .field("smp", &self.smp)
            .field("drives", &self.drives)
            .field("nics", &self.nics)
            .field("meta", &self.meta)
            .field("tags", &self.tags)
            .field("runtime", &self.runtime)
            .field("other", &RedactedMap(&self.other))
            .finish()
    }
}

/// Prints a map with its secret-bearing keys redacted.
struct RedactedMap<'a>(&'a Map<String, Value>);

const SECRET_KEYS: &[&str] = &["vnc_password", "password"];

impl std::fmt::Debug for RedactedMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.0 {
            if SECRET_KEYS.contains(&k.as_str()) {
                m.entry(k, &"[REDACTED]");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Server {
    /// The MAC of the first NIC, lower-cased (CLOUDSIGMA.md §7.3).
    pub fn first_mac(&self) -> Option<String> {
        self.nics
            .first()
            .and_then(|n| n.mac.as_deref())
            .map(str::to_ascii_lowercase)
    }

    /// The IPv4 addresses the server holds: static ones from the NIC configuration, then those
    /// of the runtime (DHCP ones are known only while running, CLOUDSIGMA.md §7.3).
    pub fn ipv4_addresses(&self) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut push = |ip: &str| {
            if !ip.is_empty() && !found.iter().any(|f| f == ip) {
                found.push(ip.to_string());
            }
        };
        for nic in &self.nics {
            if let Some(ip) = nic.ip_v4_conf.as_ref().and_then(|c| c.ip.as_ref()) {
                push(&ip.uuid);
            }
        }
        for nic in &self.nics {
            if let Some(ip) = nic.runtime.as_ref().and_then(|r| r.ip_v4.as_ref()) {
                push(&ip.uuid);
            }
        }
        if let Some(rt) = &self.runtime {
            for nic in &rt.nics {
                if let Some(ip) = &nic.ip_v4 {
                    push(&ip.uuid);
                }
            }
        }
        found
    }
}

/// A drive attached to a server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerDrive {
    /// 1 = first boot device; `null` = not bootable (CLOUDSIGMA.md §5.2).
    #[serde(default, deserialize_with = "opt_u32_lenient")]
    pub boot_order: Option<u32>,
    /// `controller:unit`, e.g. `0:0`.
    #[serde(default, deserialize_with = "string_lenient")]
    pub dev_channel: String,
    /// `ide`, `virtio` or `scsi`.
    #[serde(default, deserialize_with = "string_lenient")]
    pub device: String,
    pub drive: ObjectRef,
}

/// A network interface of a server (D:network_interfaces.rst).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_v4_conf: Option<IpConf>,
    /// `virtio`, `e1000` or `rtl8139`.
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub model: Option<String>,
    /// Assigned by CloudSigma at create; NICs are matched by it on `PUT`.
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<String>,
    /// A private network instead of an IP configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<NicRuntime>,
}

/// How a NIC gets its IPv4 address (CLOUDSIGMA.md §7.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConf {
    /// `dhcp`, `static` or `manual`.
    #[serde(default, deserialize_with = "string_lenient")]
    pub conf: String,
    /// The owned address, for `static`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<ObjectRef>,
}

/// A running NIC (CLOUDSIGMA.md §5.8). An IP object's `uuid` is the address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicRuntime {
    /// `public` or `private`.
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub interface_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_v4: Option<ObjectRef>,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac: Option<String>,
}

/// A running server's runtime.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerRuntime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since: Option<Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub nics: Vec<NicRuntime>,
}

/// The definition of a server to create (`POST /servers/`, CLOUDSIGMA.md §5.2). `Debug` does not
/// print `vnc_password`; the request body does, as CloudSigma requires it.
#[derive(Clone, Default, Serialize)]
pub struct NewServer {
    pub name: String,
    /// Total CPU in MHz; `cpu / smp` must lie in capabilities' `cpu_per_smp`.
    pub cpu: u64,
    /// Memory in bytes.
    pub mem: u64,
    pub smp: u32,
    /// Guards VNC and the serial console; generate one per server.
    #[serde(serialize_with = "de::expose_secret")]
    pub vnc_password: SecretString,
    pub drives: Vec<NewServerDrive>,
    pub nics: Vec<NewNic>,
    pub meta: BTreeMap<String, String>,
    /// Tag uuids.
    pub tags: Vec<String>,
}

impl std::fmt::Debug for NewServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewServer")
            .field("name", &self.name)
            .field("cpu", &self.cpu)
            .field("mem", &self.mem)
            .field("smp", &self.smp)
            .field("vnc_password", &"[REDACTED]")
            .field("drives", &self.drives)
            .field("nics", &self.nics)
            .field("meta", &self.meta)
            .field("tags", &self.tags)
            .finish()
    }
}

/// A drive to attach at create.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewServerDrive {
    /// Starts at 1 (CLOUDSIGMA.md §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<u32>,
    pub dev_channel: String,
    pub device: String,
    /// The drive's uuid.
    pub drive: String,
}

/// A NIC to create.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewNic {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v4_conf: Option<NewIpConf>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewIpConf {
    /// `dhcp`, `static` or `manual`.
    pub conf: String,
    /// The owned address, for `static` only (giving one with `dhcp` is an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Drives

/// A drive (D:dumps/response_drive_list_detail).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drive {
    #[serde(default, deserialize_with = "string_lenient")]
    pub uuid: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub name: String,
    /// Bytes.
    #[serde(default, deserialize_with = "u64_lenient")]
    pub size: u64,
    /// `disk` or `cdrom`.
    #[serde(default, deserialize_with = "string_lenient")]
    pub media: String,
    /// `creating`, `unmounted`, `mounted`, `uploading`, ... (CLOUDSIGMA.md §6.2).
    #[serde(default, deserialize_with = "string_lenient")]
    pub status: String,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage_type: Option<String>,
    /// Servers the drive is attached to.
    #[serde(default, deserialize_with = "null_default")]
    pub mounted_on: Vec<ObjectRef>,
    #[serde(default, deserialize_with = "meta_map")]
    pub meta: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<ObjectRef>,
    /// `None` marks a library drive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ObjectRef>,
}

impl Drive {
    /// `unmounted` or `mounted`: usable (CLOUDSIGMA.md §6.2).
    pub fn is_ready(&self) -> bool {
        matches!(self.status.as_str(), "unmounted" | "mounted")
    }
}

/// A drive to create (`POST /drives/`, CLOUDSIGMA.md §6.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewDrive {
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// `disk` or `cdrom`.
    pub media: String,
    /// `dssd`, `nvme`, `zadara`, ...; the location's default when `None`. Immutable later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    pub meta: BTreeMap<String, String>,
    /// Tag uuids.
    pub tags: Vec<String>,
}

/// The whole editable definition of a drive (`PUT /drives/{uuid}/`); on a drive mounted on a
/// running server only name, meta and tags change (CLOUDSIGMA.md §6.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DriveUpdate {
    pub name: String,
    pub size: u64,
    pub media: String,
    pub meta: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// IPs and subscriptions

/// An IP address (D:dumps/response_ip_list_detail): owned ones carry `subscription`, DHCP ones
/// on running servers do not. Free for `static` use when `server` is `None` (CLOUDSIGMA.md §7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ip {
    /// The address itself.
    #[serde(default, deserialize_with = "string_lenient")]
    pub uuid: String,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway: Option<String>,
    /// CIDR prefix length.
    #[serde(
        default,
        deserialize_with = "opt_u8_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub netmask: Option<u8>,
    #[serde(default, deserialize_with = "null_default")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionRef>,
    #[serde(default, deserialize_with = "meta_map")]
    pub meta: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<ObjectRef>,
}

/// The subscription an IP belongs to; its `id` is a number here and a string in
/// `/subscriptions/` (both read as text).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRef {
    #[serde(default, deserialize_with = "string_lenient")]
    pub id: String,
}

/// What may change on an IP: meta and tags, both replaced as a whole (CLOUDSIGMA.md §7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IpUpdate {
    pub meta: BTreeMap<String, String>,
    /// Tag uuids.
    pub tags: Vec<String>,
}

/// A subscription (D:dumps/response_subscription_list). Amounts and prices are decimal strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    #[serde(default, deserialize_with = "string_lenient")]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "string_lenient")]
    pub resource: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub amount: String,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub period: Option<String>,
    /// `active`, `inactive` or `expired`.
    #[serde(default, deserialize_with = "string_lenient")]
    pub status: String,
    #[serde(default, deserialize_with = "null_default")]
    pub auto_renew: bool,
    /// For an IP: the address; for a VLAN: its uuid.
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribed_object: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<String>,
}

/// A subscription to buy (`POST /subscriptions/`, CLOUDSIGMA.md §7.2), e.g. one IP for
/// `"1 month"`. CloudSigma's default for `auto_renew` is true; this type always sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewSubscription {
    pub resource: String,
    pub amount: u32,
    /// Free text: `"1 month"`, `"2 weeks"`.
    pub period: String,
    pub auto_renew: bool,
}

// ---------------------------------------------------------------------------------------------
// Tags

/// A tag (D:dumps/response_tags_get).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default, deserialize_with = "string_lenient")]
    pub uuid: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub resources: Vec<TagResource>,
    #[serde(default, deserialize_with = "meta_map")]
    pub meta: BTreeMap<String, String>,
}

/// An object carrying a tag: a bare uuid or `{uuid, res_type, ...}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TagResource {
    pub uuid: String,
    /// `servers`, `drives`, `ips` or `vlans`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub res_type: Option<String>,
}

impl<'de> Deserialize<'de> for TagResource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(uuid) => Ok(TagResource {
                uuid,
                res_type: None,
            }),
            Value::Object(map) => {
                let text = |k: &str| match map.get(k) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                Ok(TagResource {
                    uuid: text("uuid")
                        .ok_or_else(|| D::Error::custom("a tag resource without `uuid`"))?,
                    res_type: text("res_type"),
                })
            }
            other => Err(D::Error::custom(format!(
                "expected a uuid or a tag resource, got {other}"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Account, locations, capabilities, pricing

/// The account's profile (D:dumps/response_profile); the rest of it in `other`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, deserialize_with = "string_lenient")]
    pub uuid: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub email: String,
    /// `REGULAR`, `TRIAL`, `GUEST`, `NEW`, ... (CLOUDSIGMA.md §7.6).
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub state: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_restrictions: Option<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `GET /balance/` (D:dumps/response_balance_list).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// A decimal string (a number is read as its text).
    #[serde(default, deserialize_with = "string_lenient")]
    pub balance: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub currency: String,
}

/// One entry of `GET /locations/` (D:dumps/response_locations).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationInfo {
    #[serde(default, deserialize_with = "string_lenient")]
    pub id: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub display_name: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub country_code: String,
    /// A full base URL ending `/api/2.0/`.
    #[serde(default, deserialize_with = "string_lenient")]
    pub api_endpoint: String,
    /// The upload base URL (`direct.` host) ending `/api/2.0/`.
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub upload_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub websocket_url: Option<String>,
}

/// `GET /capabilities/` (D:dumps/response_capabilities): limits per location and account;
/// absent keys mean unsupported. When `hosts` is absent, the deprecated `servers` block (a copy
/// of the AMD limits, CLOUDSIGMA.md §8.3) is read as `hosts["amd"]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "CapabilitiesWire")]
pub struct Capabilities {
    /// By CPU type (`amd`, `intel`).
    pub hosts: BTreeMap<String, HostCaps>,
    /// By hypervisor (`kvm`): the CPU types it runs.
    pub hypervisors: BTreeMap<String, Vec<String>>,
    /// By storage type (`dssd`, `nvme`, `zadara`, ...).
    pub drives: BTreeMap<String, DriveCaps>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_storage_type: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Deserialize)]
struct CapabilitiesWire {
    #[serde(default, deserialize_with = "null_default")]
    hosts: BTreeMap<String, HostCaps>,
    #[serde(default, deserialize_with = "null_default")]
    hypervisors: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_default")]
    drives: BTreeMap<String, DriveCaps>,
    #[serde(default, deserialize_with = "opt_string_lenient")]
    default_storage_type: Option<String>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

impl From<CapabilitiesWire> for Capabilities {
    fn from(w: CapabilitiesWire) -> Self {
        let mut hosts = w.hosts;
        if hosts.is_empty() {
            if let Some(servers) = w.other.get("servers") {
                if let Ok(caps) = serde_json::from_value::<HostCaps>(servers.clone()) {
                    hosts.insert("amd".to_string(), caps);
                }
            }
        }
        Capabilities {
            hosts,
            hypervisors: w.hypervisors,
            drives: w.drives,
            default_storage_type: w.default_storage_type,
            other: w.other,
        }
    }
}

/// Limits of servers on one CPU type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCaps {
    /// Total MHz.
    #[serde(default, deserialize_with = "null_default")]
    pub cpu: Range,
    /// MHz per core.
    #[serde(default, deserialize_with = "null_default")]
    pub cpu_per_smp: Range,
    /// Bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub mem: Range,
    /// Cores.
    #[serde(default, deserialize_with = "null_default")]
    pub smp: Range,
}

/// Limits of drives of one storage type. The deprecated `min_size`/`max_size` are read when
/// `size` is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "DriveCapsWire")]
pub struct DriveCaps {
    /// Bytes.
    pub size: Range,
}

#[derive(Deserialize)]
struct DriveCapsWire {
    #[serde(default)]
    size: Option<Range>,
    #[serde(default, deserialize_with = "u64_lenient")]
    min_size: u64,
    #[serde(default, deserialize_with = "u64_lenient")]
    max_size: u64,
}

impl From<DriveCapsWire> for DriveCaps {
    fn from(w: DriveCapsWire) -> Self {
        DriveCaps {
            size: w.size.unwrap_or(Range {
                min: w.min_size,
                max: w.max_size,
            }),
        }
    }
}

/// An inclusive range; bounds written as floats (`1073741824.0`) are read as whole numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(default, deserialize_with = "u64_lenient")]
    pub min: u64,
    #[serde(default, deserialize_with = "u64_lenient")]
    pub max: u64,
}

impl Range {
    pub fn contains(&self, value: u64) -> bool {
        self.min <= value && value <= self.max
    }
}

/// `GET /pricing/?limit=0` (D:dumps/response_pricing_list, CLOUDSIGMA.md §8.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// The burst level in force, by resource.
    #[serde(default, deserialize_with = "null_default")]
    pub current: BTreeMap<String, Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub objects: Vec<Price>,
}

impl Pricing {
    /// The current burst level of `resource`, when given as a number.
    pub fn current_level(&self, resource: &str) -> Option<i64> {
        match self.current.get(resource)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The row of `resource` in `currency` at `level` (0 = subscription price).
    pub fn find(&self, resource: &str, currency: &str, level: i64) -> Option<&Price> {
        self.objects.iter().find(|p| {
            p.resource == resource && p.currency.eq_ignore_ascii_case(currency) && p.level == level
        })
    }
}

/// One price row. `price` is a decimal string per `unit`; `multiplier` converts it to a price
/// per base unit per second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Price {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    #[serde(default, deserialize_with = "string_lenient")]
    pub resource: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub currency: String,
    #[serde(default, deserialize_with = "i64_lenient")]
    pub level: i64,
    #[serde(default, deserialize_with = "string_lenient")]
    pub price: String,
    #[serde(default, deserialize_with = "string_lenient")]
    pub unit: String,
    #[serde(default, deserialize_with = "u64_lenient")]
    pub multiplier: u64,
}

impl Price {
    /// Price of one base unit (MHz, byte, IP) per second: `price / multiplier` (CLOUDSIGMA.md
    /// §8.1). `None` when the price is not a number or the multiplier is 0.
    pub fn per_unit_per_second(&self) -> Option<f64> {
        let price: f64 = self.price.trim().parse().ok()?;
        (self.multiplier != 0 && price.is_finite()).then(|| price / self.multiplier as f64)
    }
}
