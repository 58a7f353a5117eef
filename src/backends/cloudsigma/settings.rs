//! What the operator sets for the CloudSigma backend: the `[cloudsigma]` table, apart from where
//! CloudSigma is and whose account (`config`). CloudSigma sells any combination of CPU, memory and
//! disk (CLOUDSIGMA.md §8), so the server models Cycle sees are a table of sizes here, bounded by
//! each location's `capabilities` and priced from its `pricing`.

use serde::Deserialize;

use crate::core::plan::CYCLEOS_MIN_DISK_GB;
use crate::setting_error::{in_range, SettingError};

/// One size Cycle may order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    /// Cycle's `model_id`.
    pub id: String,
    pub cores: u32,
    /// Per core; CloudSigma's `cpu` is the total, `cores × mhz_per_core`.
    pub mhz_per_core: u32,
    pub memory_gib: u32,
    /// The data disk made for each server, unless Cycle asks for more.
    pub disk_gib: u32,
}

fn size(id: &str, cores: u32, memory_gib: u32, disk_gib: u32) -> Size {
    Size {
        id: id.into(),
        cores,
        mhz_per_core: 2000,
        memory_gib,
        disk_gib,
    }
}

/// The default sizes: 2 to 16 cores of 2 GHz (libcloud's `create_node` also gives 2000 MHz per
/// core; CLOUDSIGMA.md §10) with 2 or 4 GiB per core, each with a 50 GiB data disk (CycleOS needs
/// 45 GB).
pub fn default_sizes() -> Vec<Size> {
    vec![
        size("cs-2c-4g", 2, 4, 50),
        size("cs-2c-8g", 2, 8, 50),
        size("cs-4c-8g", 4, 8, 50),
        size("cs-4c-16g", 4, 16, 100),
        size("cs-8c-16g", 8, 16, 100),
        size("cs-8c-32g", 8, 32, 200),
        size("cs-16c-32g", 16, 32, 200),
        size("cs-16c-64g", 16, 64, 400),
    ]
}

/// Where a server's public address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicIp {
    /// An address of the bridge's pool, `static` on the boot NIC: DHCP still hands it out (iPXE
    /// needs nothing else), and it stays the server's across every stop and start (CLOUDSIGMA.md
    /// §7.3), so a restart through the bridge keeps the address Cycle was told.
    #[default]
    Static,
    /// An address CloudSigma picks at each start: no subscription, but it may change at every
    /// restart (a stop and a start here), under Cycle's feet.
    Dhcp,
}

/// How the pool of addresses (the boot NICs' and Cycle's `ip/allocate`) is filled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpPoolSettings {
    /// Buy an IP subscription when the pool has no free address. Off by default: a subscription
    /// cannot be cancelled (CLOUDSIGMA.md §7.2), so each one bought costs its whole period.
    pub buy: bool,
    /// The period of a bought subscription, in CloudSigma's words ("1 month").
    pub period: String,
    /// When an address goes back to the pool, turn its subscription's auto-renew off, so it lapses
    /// at the end of its period instead of being paid for again.
    pub stop_renewal_on_release: bool,
}

impl Default for IpPoolSettings {
    fn default() -> Self {
        Self {
            buy: false,
            period: "1 month".into(),
            stop_renewal_on_release: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudSigmaSettings {
    /// Locations (lower-case ids, `zrh`) tried with credentials that name none.
    pub locations: Vec<String>,
    pub sizes: Vec<Size>,
    /// `dssd` unless set; `local_nvme` is refused: its data is lost when the server stops
    /// (CLOUDSIGMA.md §6.1), and a restart here is a stop and a start.
    pub storage_type: String,
    /// Prices shown to Cycle are in this currency's rows of `pricing` (Cycle reads mils of a
    /// dollar; another currency is shown as is, and the docs say so).
    pub currency: String,
    pub catalog_ttl_secs: u64,
    /// How long a call waits for a drive or a server to reach the state it needs.
    pub wait_secs: u64,
    /// Starts that fall back to `stopped` before the server is reported failed.
    pub start_attempts: u32,
    pub ips: IpPoolSettings,
    pub public_ip: PublicIp,
    /// Largest iPXE image downloaded, in MiB.
    pub max_image_mib: u64,
}

impl Default for CloudSigmaSettings {
    fn default() -> Self {
        Self {
            locations: vec!["zrh".into()],
            sizes: default_sizes(),
            storage_type: "dssd".into(),
            currency: "USD".into(),
            catalog_ttl_secs: 300,
            wait_secs: 60,
            start_attempts: 3,
            ips: IpPoolSettings::default(),
            public_ip: PublicIp::Static,
            max_image_mib: 64,
        }
    }
}

impl CloudSigmaSettings {
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.locations.is_empty() {
            return Err(SettingError::new(
                "cloudsigma.locations",
                "name at least one location (zrh, fra, ...)",
            ));
        }
        for l in &self.locations {
            if l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(SettingError::new(
                    "cloudsigma.locations",
                    format!("{l:?} is not a location id like zrh"),
                ));
            }
        }
        if self.sizes.is_empty() {
            return Err(SettingError::new(
                "cloudsigma.sizes",
                "at least one size is needed",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.sizes {
            let key = format!("cloudsigma.sizes.{}", s.id);
            if s.id.is_empty() || !seen.insert(s.id.clone()) {
                return Err(SettingError::new(
                    "cloudsigma.sizes",
                    format!("size ids must be unique and not empty ({:?})", s.id),
                ));
            }
            in_range(&format!("{key}.cores"), s.cores, 1..=128)?;
            in_range(&format!("{key}.mhz_per_core"), s.mhz_per_core, 250..=5000)?;
            in_range(&format!("{key}.memory_gib"), s.memory_gib, 1..=4096)?;
            in_range(
                &format!("{key}.disk_gib"),
                s.disk_gib,
                CYCLEOS_MIN_DISK_GB..=64 * 1024,
            )?;
        }
        match self.storage_type.as_str() {
            "local_nvme" => return Err(SettingError::new(
                "cloudsigma.storage_type",
                "local_nvme loses its data when the server stops; a restart is a stop and a start",
            )),
            "" => return Err(SettingError::new("cloudsigma.storage_type", "empty")),
            _ => {}
        }
        in_range(
            "cloudsigma.catalog_ttl_secs",
            self.catalog_ttl_secs,
            1..=86_400,
        )?;
        in_range("cloudsigma.wait_secs", self.wait_secs, 1..=3600)?;
        in_range("cloudsigma.start_attempts", self.start_attempts, 1..=20)?;
        in_range("cloudsigma.max_image_mib", self.max_image_mib, 1..=1024)?;
        if self.ips.period.trim().is_empty() {
            return Err(SettingError::new("cloudsigma.ips.period", "empty"));
        }
        Ok(())
    }
}
