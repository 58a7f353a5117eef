//! What an operator can set about the bridge: credentials mode, catalogue, boot, network, IPs,
//! timeouts. Every setting has a default that works, so `serve` runs with none of them. The
//! configuration loader fills these from the file and the environment (`crate::config`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::core::catalogue::LocationInfo;
use crate::core::settings::TimeoutSettings;
use crate::setting_error::{in_range, SettingError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpStrategy {
    /// An external load balancer per allocation; its VIP is the address.
    LoadBalancer,
    /// The VM's own public address, made static; one per server.
    VmPublicIp,
}

/// A price in dollars per hour; Cycle gets it in mils.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub hourly_usd: f64,
}

/// How a server reaches CycleOS (design decision 7 in ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootMode {
    /// The first boot of the public image turns the boot disk into an iPXE-only disk holding
    /// Cycle's iPXE image (`ipxe_url`) and reboots into it; every later boot is iPXE.
    Ipxe,
    /// Servers are created from the project's iPXE boot image for their location (made once by
    /// `crusoe-ial image build`, found by name from `ipxe_sha256`) and boot iPXE at once.
    IpxeImage,
    /// The operator's own startup-script template.
    Script,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootSettings {
    pub mode: BootMode,
    /// Where Cycle's iPXE image is downloaded from, an `.iso` or an `.efi` (mode `ipxe`; the
    /// default of `image build`).
    pub ipxe_url: Option<String>,
    /// The image's SHA-256 in hex; when set, a server refuses any other image. Mode `ipxe-image`
    /// finds its boot images by it.
    pub ipxe_sha256: Option<String>,
    /// Public image, `name:tag`.
    pub image: String,
    /// Refused: one custom image id cannot serve every project (mode `ipxe-image` replaces it).
    pub custom_image: Option<String>,
    /// The SSH key Crusoe requires; a generated one (private half discarded) when unset.
    pub ssh_public_key: Option<String>,
    /// Path of the startup-script template (mode `script`).
    pub startup_script_template: Option<std::path::PathBuf>,
    /// Size of the data disk added when a model's own disk is too small for CycleOS, in GiB.
    pub data_disk_gib: u32,
}

impl Default for BootSettings {
    fn default() -> Self {
        Self {
            mode: BootMode::Ipxe,
            ipxe_url: None,
            ipxe_sha256: None,
            image: "ubuntu22.04:latest".into(),
            custom_image: None,
            ssh_public_key: None,
            startup_script_template: None,
            data_disk_gib: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// Address range of each hub's VPC network.
    pub cidr: String,
    /// Prefix length of the subnet made in each location.
    pub subnet_prefix: u8,
    pub ingress_tcp_ports: Vec<String>,
    pub ingress_udp_ports: Vec<String>,
    pub ingress_sources: Vec<String>,
    /// Use this existing VPC network instead of making one per hub.
    pub existing_vpc_network_id: Option<String>,
    /// With `existing_vpc_network_id`: the subnet to use in each location.
    pub existing_subnets: BTreeMap<String, String>,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            cidr: "172.27.0.0/16".into(),
            subnet_prefix: 20,
            ingress_tcp_ports: vec!["80".into(), "443".into()],
            ingress_udp_ports: Vec::new(),
            ingress_sources: vec!["0.0.0.0/0".into()],
            existing_vpc_network_id: None,
            existing_subnets: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpSettings {
    pub strategy: IpStrategy,
    /// Ports a load-balancer address forwards to the server.
    pub load_balancer_ports: Vec<u16>,
}

impl Default for IpSettings {
    fn default() -> Self {
        Self {
            strategy: IpStrategy::LoadBalancer,
            load_balancer_ports: vec![80, 443],
        }
    }
}

/// How provision-status reads Crusoe.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusSettings {
    /// One batched read per tenant and interval serves every poll (true), or one read per poll.
    pub coalesce: bool,
    /// How old the view may get (milliseconds) before the next poll reads Crusoe for everyone;
    /// polls meanwhile answer from the view, so an answer is at most this old plus one read (and
    /// while reads fail, the view keeps answering and each reading poll gets the error).
    pub refresh_ms: u64,
    /// Names per list call.
    pub batch: usize,
}

impl Default for StatusSettings {
    fn default() -> Self {
        Self {
            coalesce: true,
            // Crusoe calls per poll = 5 s / (batch x refresh) at Cycle's 5 s interval: 0.025.
            refresh_ms: 2000,
            batch: 100,
        }
    }
}

/// Crusoe's part of the `[bridge]` table (and its sub-tables), the keys unchanged.
#[derive(Debug, Clone)]
pub struct CrusoeSettings {
    /// How long Crusoe's catalogue answers are reused, per credential.
    pub catalog_ttl_secs: u64,
    pub locations: BTreeMap<String, LocationInfo>,
    /// Price overrides by VM type.
    pub prices: BTreeMap<String, Price>,
    /// Offer Cycle's `hypervisor` feature through Crusoe's nested virtualization. Off by default:
    /// Crusoe enables it per account on request, and it has not been seen on a live account here.
    pub nested_virtualization: bool,
    pub boot: BootSettings,
    pub network: NetworkSettings,
    pub ips: IpSettings,
    pub timeouts: TimeoutSettings,
    pub status: StatusSettings,
}

impl Default for CrusoeSettings {
    fn default() -> Self {
        Self {
            catalog_ttl_secs: 60,
            locations: BTreeMap::new(),
            prices: BTreeMap::new(),
            nested_virtualization: false,
            boot: BootSettings::default(),
            network: NetworkSettings::default(),
            ips: IpSettings::default(),
            timeouts: TimeoutSettings::default(),
            status: StatusSettings::default(),
        }
    }
}

impl CrusoeSettings {
    /// Checks what can be checked before serving; the error names the setting by its file key.
    pub fn validate(&self) -> Result<(), SettingError> {
        let fail = |key: &str, reason: String| Err(SettingError::new(key, reason));
        in_range(
            "bridge.status.refresh_ms",
            self.status.refresh_ms,
            50..=60_000,
        )?;
        in_range("bridge.status.batch", self.status.batch, 1..=500)?;
        in_range("bridge.catalog_ttl_secs", self.catalog_ttl_secs, 0..=3600)?;
        in_range(
            "bridge.network.subnet_prefix",
            self.network.subnet_prefix,
            16..=28,
        )?;
        if let Err(why) = super::network::parse_cidr(&self.network.cidr) {
            return fail("bridge.network.cidr", why);
        }
        for (key, ports) in [
            (
                "bridge.network.ingress_tcp_ports",
                &self.network.ingress_tcp_ports,
            ),
            (
                "bridge.network.ingress_udp_ports",
                &self.network.ingress_udp_ports,
            ),
        ] {
            if let Some(port) = ports.iter().find(|p| !valid_port_range(p)) {
                return fail(
                    key,
                    format!("{port:?} is not a port or a range like 3000-8080"),
                );
            }
        }
        if self.network.existing_vpc_network_id.is_none()
            && !self.network.existing_subnets.is_empty()
        {
            return fail(
                "bridge.network.existing_subnets",
                "needs existing_vpc_network_id".into(),
            );
        }
        if self.ips.load_balancer_ports.is_empty() || self.ips.load_balancer_ports.contains(&0) {
            return fail(
                "bridge.ips.load_balancer_ports",
                "needs at least one port, none of them 0".into(),
            );
        }
        for (t, p) in &self.prices {
            if !(p.hourly_usd.is_finite() && p.hourly_usd >= 0.0) {
                return fail(
                    &format!("bridge.prices.{t}"),
                    "hourly_usd must be a non-negative number".into(),
                );
            }
        }
        if self.boot.data_disk_gib < crate::core::plan::CYCLEOS_MIN_DISK_GB {
            return fail(
                "bridge.boot.data_disk_gib",
                format!(
                    "must be at least {} (CycleOS needs it)",
                    crate::core::plan::CYCLEOS_MIN_DISK_GB
                ),
            );
        }
        Ok(())
    }
}

fn valid_port_range(p: &str) -> bool {
    let port = |s: &str| s.parse::<u16>().is_ok_and(|n| n > 0);
    match p.split_once('-') {
        Some((a, b)) => port(a) && port(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        None => port(p),
    }
}
