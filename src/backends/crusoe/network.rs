//! Location configure: the network a Cycle server needs in a location. By default a VPC network per
//! hub, a subnet per hub and location, and firewall rules for the operator's allowed ingress, each
//! found by its deterministic name before anything is created; or the operator's existing network
//! and subnets. The answer, `configuration_latest`, comes back in every later server and IP call.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::create::{create_once, Created};
use super::error::{failed, Doing};
use super::ids;
use super::{Crusoe, Tenant};
use crate::core::backend::LocationState;
use crate::core::by_name::winner;
use crate::core::error::CoreError;
use crate::core::naming;
use crate::ial::types::ConfigureLocation;
use crusoe_sdk::types::{
    CreateFirewallRuleRequest, CreateVpcNetworkRequest, CreateVpcSubnetRequest, FirewallRule,
    FirewallRuleObject, VpcNetwork, VpcSubnet,
};
use crusoe_sdk::CrusoeError;

/// The schema version of `configuration_latest`. A request carrying another one is migrated.
pub const CONFIG_VERSION: &str = "1";

/// What `configuration_latest` holds (version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationConfig {
    pub location: String,
    pub vpc_network_id: String,
    pub subnet_id: String,
    pub subnet_cidr: String,
    #[serde(default)]
    pub firewall_rule_ids: Vec<String>,
}

impl LocationConfig {
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// Reads the `location_configuration` of a request, for the given location.
    pub fn of_request(map: Option<&Map<String, Value>>, location: &str) -> Result<Self, CoreError> {
        Self::from_request(map, location, "/request/location_configuration")
    }

    /// Reads a `location_configuration` Cycle sends back, for the given location.
    pub fn from_request(
        map: Option<&Map<String, Value>>,
        location: &str,
        pointer: &str,
    ) -> Result<Self, CoreError> {
        let config: LocationConfig = map
            .and_then(|m| serde_json::from_value(Value::Object(m.clone())).ok())
            .ok_or_else(|| {
                CoreError::invalid(
                    format!("{pointer} does not hold this bridge's network configuration: run location configure for {location} first"),
                    pointer,
                )
            })?;
        if config.location != location {
            return Err(CoreError::invalid(
                format!(
                    "{pointer} is for location {}, not {location}",
                    config.location
                ),
                pointer,
            ));
        }
        config.check_ids(pointer)?;
        Ok(config)
    }

    /// Every id is a Crusoe id before any call carries one (422 naming the first that is not).
    fn check_ids(&self, pointer: &str) -> Result<(), CoreError> {
        ids::uuid(&self.vpc_network_id, &format!("{pointer}/vpc_network_id"))?;
        ids::uuid(&self.subnet_id, &format!("{pointer}/subnet_id"))?;
        for (i, rule) in self.firewall_rule_ids.iter().enumerate() {
            ids::uuid(rule, &format!("{pointer}/firewall_rule_ids/{i}"))?;
        }
        Ok(())
    }

    /// The subnet's gateway: its first host address.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        parse_cidr(&self.subnet_cidr)
            .ok()
            .map(|(base, _)| Ipv4Addr::from(base + 1))
    }
}

/// `a.b.c.d/n` with a private (RFC 1918) network address, as Crusoe requires.
pub fn parse_cidr(cidr: &str) -> Result<(u32, u8), String> {
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| format!("{cidr:?} is not in CIDR notation"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{cidr:?} has no IPv4 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("{cidr:?} has no prefix length"))?;
    if !(8..=28).contains(&len) {
        return Err(format!(
            "{cidr:?}: the prefix length must be between 8 and 28"
        ));
    }
    let base = u32::from(addr);
    if base & !(u32::MAX << (32 - len)) != 0 {
        return Err(format!("{cidr:?} has host bits set"));
    }
    let inside = |net: [u8; 4], bits: u8| {
        len >= bits && base & (u32::MAX << (32 - bits)) == u32::from(Ipv4Addr::from(net))
    };
    if !(inside([10, 0, 0, 0], 8) || inside([172, 16, 0, 0], 12) || inside([192, 168, 0, 0], 16)) {
        return Err(format!(
            "{cidr:?} is not a private (RFC 1918) range, which Crusoe requires"
        ));
    }
    Ok((base, len))
}

fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    let mask = (u32::MAX << (32 - a.1)) & (u32::MAX << (32 - b.1));
    a.0 & mask == b.0 & mask
}

/// The first `prefix`-long range inside `network` that no existing subnet overlaps.
fn free_range(network: &str, prefix: u8, taken: &[&str]) -> Option<String> {
    let (base, len) = parse_cidr(network).ok()?;
    if prefix < len {
        return None;
    }
    let taken: Vec<(u32, u8)> = taken.iter().filter_map(|c| parse_cidr(c).ok()).collect();
    let size = 1u64 << (32 - prefix);
    let count = 1u64 << (prefix - len);
    (0..count)
        .map(|i| (base as u64 + i * size) as u32)
        .find(|candidate| taken.iter().all(|t| !overlaps(*t, (*candidate, prefix))))
        .map(|b| format!("{}/{prefix}", Ipv4Addr::from(b)))
}

pub async fn configure(
    bridge: &Crusoe,
    tenant: &Tenant,
    request: &ConfigureLocation,
    current: Option<LocationState>,
) -> Result<LocationState, CoreError> {
    let location = request.location_id.trim().to_string();
    let _guard = bridge
        .locks
        .lock(&format!("network/{}/{}", tenant.account.id(), tenant.hub))
        .await;

    let version = current.as_ref().map(|c| c.version.clone());
    let current: Option<LocationConfig> = current
        .and_then(|c| serde_json::from_value(Value::Object(c.data)).ok())
        .filter(|c: &LocationConfig| c.location == location);
    if let Some(c) = &current {
        c.check_ids("/request/configuration_current")?;
    }
    let config = match current {
        Some(c)
            if version.as_deref() == Some(CONFIG_VERSION) && still_exists(tenant, &c).await? =>
        {
            c
        }
        previous => ensure(bridge, tenant, &location, previous).await?,
    };
    Ok(LocationState {
        version: CONFIG_VERSION.into(),
        data: config.to_map(),
    })
}

async fn still_exists(tenant: &Tenant, config: &LocationConfig) -> Result<bool, CoreError> {
    let subnet = match tenant.account.vpc_subnets().get(&config.subnet_id).await {
        Ok(s) => s,
        Err(CrusoeError::NotFound(_)) | Err(CrusoeError::InvalidId(_)) => return Ok(false),
        Err(e) => return Err(e).doing(|| "checking the configured subnet".into()),
    };
    if subnet.vpc_network_id != config.vpc_network_id || subnet.location != config.location {
        return Ok(false);
    }
    let rules = tenant
        .account
        .firewall_rules()
        .list()
        .await
        .doing(|| "listing firewall rules".into())?;
    Ok(config
        .firewall_rule_ids
        .iter()
        .all(|id| rules.iter().any(|r| &r.id == id)))
}

/// Makes sure everything exists, adopting what a previous configuration named when it still does.
async fn ensure(
    bridge: &Crusoe,
    tenant: &Tenant,
    location: &str,
    previous: Option<LocationConfig>,
) -> Result<LocationConfig, CoreError> {
    let settings = &bridge.settings.network;
    let networks = tenant
        .account
        .vpc_networks()
        .list()
        .await
        .doing(|| "listing VPC networks".into())?;
    let subnets = tenant
        .account
        .vpc_subnets()
        .list()
        .await
        .doing(|| "listing VPC subnets".into())?;

    let adopted = previous.as_ref().and_then(|prev| {
        let subnet = subnets
            .iter()
            .find(|s| s.id == prev.subnet_id && s.location == location)?;
        let network = networks.iter().find(|n| n.id == subnet.vpc_network_id)?;
        Some((network.clone(), subnet.clone()))
    });
    let (network, subnet) = match (adopted, &settings.existing_vpc_network_id) {
        (Some(pair), _) => pair,
        (None, Some(existing)) => {
            existing_network(&networks, &subnets, existing, settings, location)?
        }
        (None, None) => {
            let network = hub_network(bridge, tenant, &networks).await?;
            let subnet = hub_subnet(bridge, tenant, &network, location, subnets).await?;
            (network, subnet)
        }
    };
    let firewall_rule_ids = firewall_rules(bridge, tenant, &network).await?;
    Ok(LocationConfig {
        location: location.to_string(),
        vpc_network_id: network.id,
        subnet_id: subnet.id,
        subnet_cidr: subnet.cidr,
        firewall_rule_ids,
    })
}

fn existing_network(
    networks: &[VpcNetwork],
    subnets: &[VpcSubnet],
    network_id: &str,
    settings: &super::settings::NetworkSettings,
    location: &str,
) -> Result<(VpcNetwork, VpcSubnet), CoreError> {
    let network = networks.iter().find(|n| n.id == network_id).ok_or_else(|| {
        CoreError::Conflict(format!(
            "the configured VPC network {network_id} does not exist in this project: correct bridge.network.existing_vpc_network_id"
        ))
    })?;
    let subnet_id = settings.existing_subnets.get(location).ok_or_else(|| {
        CoreError::Conflict(format!(
            "no existing subnet is configured for {location}: add it to bridge.network.existing_subnets"
        ))
    })?;
    let subnet = subnets
        .iter()
        .find(|s| &s.id == subnet_id && s.vpc_network_id == network.id && s.location == location)
        .ok_or_else(|| {
            CoreError::Conflict(format!(
                "the configured subnet {subnet_id} is not a subnet of {network_id} in {location}"
            ))
        })?;
    Ok((network.clone(), subnet.clone()))
}

/// The hub's network by name; made when missing. If replicas raced and made two, the one with the
/// smallest id wins and the others are left for `gc` (they may already hold subnets).
async fn hub_network(
    bridge: &Crusoe,
    tenant: &Tenant,
    networks: &[VpcNetwork],
) -> Result<VpcNetwork, CoreError> {
    let name = naming::network_name(&tenant.hub);
    let pick = |all: &[VpcNetwork]| winner(all.iter().filter(|n| n.name == name)).cloned();
    if let Some(n) = pick(networks) {
        return Ok(n);
    }
    let request = CreateVpcNetworkRequest {
        name: name.clone(),
        cidr: bridge.settings.network.cidr.clone(),
    };
    create_once(
        || tenant.account.vpc_networks().create(&request),
        || async { Ok(pick(&tenant.account.vpc_networks().list().await?)) },
    )
    .await
    .doing(|| format!("creating VPC network {name}"))?;
    let again = tenant
        .account
        .vpc_networks()
        .list()
        .await
        .doing(|| "listing VPC networks".into())?;
    pick(&again).ok_or_else(|| failed(format!("VPC network {name} vanished after its creation")))
}

async fn hub_subnet(
    bridge: &Crusoe,
    tenant: &Tenant,
    network: &VpcNetwork,
    location: &str,
    mut subnets: Vec<VpcSubnet>,
) -> Result<VpcSubnet, CoreError> {
    let name = naming::subnet_name(&tenant.hub, location);
    // A replica may take the range we chose at the same moment: then pick again, once.
    for _ in 0..2 {
        if let Some(s) =
            winner(subnets.iter().filter(|s| {
                s.name == name && s.vpc_network_id == network.id && s.location == location
            }))
        {
            return Ok(s.clone());
        }
        let taken: Vec<&str> = subnets
            .iter()
            .filter(|s| s.vpc_network_id == network.id)
            .map(|s| s.cidr.as_str())
            .collect();
        let cidr = free_range(&network.cidr, bridge.settings.network.subnet_prefix, &taken)
            .ok_or_else(|| {
                CoreError::Conflict(format!(
                    "VPC network {} ({}) has no free /{} range left for {location}",
                    network.name, network.cidr, bridge.settings.network.subnet_prefix
                ))
            })?;
        let request = CreateVpcSubnetRequest {
            name: name.clone(),
            cidr,
            location: location.to_string(),
            vpc_network_id: network.id.clone(),
            nat_gateway_enabled: false,
        };
        let created = create_once(
            || tenant.account.vpc_subnets().create(&request),
            || async {
                let all = tenant.account.vpc_subnets().list().await?;
                Ok(all.into_iter().find(|s| {
                    s.name == name && s.vpc_network_id == network.id && s.location == location
                }))
            },
        )
        .await;
        match created {
            Ok(Created::Accepted(s) | Created::Found(s)) => return Ok(s),
            Err(CrusoeError::Conflict(_)) => {
                subnets = tenant
                    .account
                    .vpc_subnets()
                    .list()
                    .await
                    .doing(|| "listing VPC subnets".into())?;
            }
            Err(e) => return Err(e).doing(|| format!("creating subnet {name}")),
        }
    }
    Err(CoreError::Conflict(format!(
        "could not claim a range for subnet {name}; retry"
    )))
}

/// One rule per protocol with allowed ports, from the operator's sources to the hub's network.
async fn firewall_rules(
    bridge: &Crusoe,
    tenant: &Tenant,
    network: &VpcNetwork,
) -> Result<Vec<String>, CoreError> {
    let settings = &bridge.settings.network;
    let wanted: Vec<(&str, &Vec<String>)> = [
        ("tcp", &settings.ingress_tcp_ports),
        ("udp", &settings.ingress_udp_ports),
    ]
    .into_iter()
    .filter(|(_, ports)| !ports.is_empty())
    .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let existing = tenant
        .account
        .firewall_rules()
        .list()
        .await
        .doing(|| "listing firewall rules".into())?;
    let mut ids = Vec::new();
    for (protocol, ports) in wanted {
        let name = naming::firewall_rule_name(&tenant.hub, protocol);
        if let Some(rule) = existing
            .iter()
            .find(|r| r.name == name && r.vpc_network_id == network.id)
        {
            ids.push(rule.id.clone());
            continue;
        }
        let request = CreateFirewallRuleRequest {
            name: name.clone(),
            vpc_network_id: network.id.clone(),
            action: "allow".into(),
            direction: "ingress".into(),
            protocols: vec![protocol.to_string()],
            sources: settings
                .ingress_sources
                .iter()
                .map(FirewallRuleObject::cidr)
                .collect(),
            destinations: vec![FirewallRuleObject::resource(&network.id)],
            destination_ports: Some(ports.clone()),
            source_ports: None,
        };
        let find = || async {
            let all = tenant.account.firewall_rules().list().await?;
            Ok(all
                .into_iter()
                .find(|r| r.name == name && r.vpc_network_id == network.id))
        };
        let created = create_once(|| tenant.account.firewall_rules().create(&request), find)
            .await
            .doing(|| format!("creating firewall rule {name}"))?;
        let op = match created {
            Created::Accepted(op) => op,
            Created::Found(rule) => {
                ids.push(rule.id);
                continue;
            }
        };
        let done = op
            .wait(bridge.settings.timeouts.configure())
            .await
            .doing(|| format!("creating firewall rule {name}"))?;
        // The rule's id from the finished operation, as Crusoe's clients read it; else by name.
        let id = match done.result_as::<FirewallRule>() {
            Ok(rule) if !rule.id.is_empty() => rule.id,
            _ => find()
                .await
                .doing(|| format!("looking up firewall rule {name}"))?
                .map(|r| r.id)
                .ok_or_else(|| {
                    failed(format!(
                        "Crusoe finished creating firewall rule {name} but lists no such rule"
                    ))
                })?,
        };
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_must_be_private_network_addresses() {
        assert!(parse_cidr("172.27.0.0/16").is_ok());
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("8.8.0.0/16").is_err());
        assert!(parse_cidr("172.27.0.1/16").is_err());
        assert!(parse_cidr("172.27.0.0").is_err());
    }

    #[test]
    fn the_first_free_range_skips_taken_ones() {
        assert_eq!(
            free_range("172.27.0.0/16", 20, &[]).as_deref(),
            Some("172.27.0.0/20")
        );
        assert_eq!(
            free_range("172.27.0.0/16", 20, &["172.27.0.0/20", "172.27.32.0/24"]).as_deref(),
            Some("172.27.16.0/20")
        );
        assert_eq!(free_range("172.27.0.0/20", 20, &["172.27.0.0/16"]), None);
    }

    #[test]
    fn a_configuration_is_read_back_only_for_its_location() {
        let config = LocationConfig {
            location: "us-east1-a".into(),
            vpc_network_id: "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab".into(),
            subnet_id: "123e4567-e89b-12d3-a456-426614174000".into(),
            subnet_cidr: "172.27.16.0/20".into(),
            firewall_rule_ids: vec!["F6EF489C-086E-458D-B812-7962964A28C9".into()],
        };
        let map = config.to_map();
        assert_eq!(
            LocationConfig::from_request(Some(&map), "us-east1-a", "/p").unwrap(),
            config
        );
        assert!(LocationConfig::from_request(Some(&map), "eu-iceland1-a", "/p").is_err());
        assert!(LocationConfig::from_request(None, "us-east1-a", "/p").is_err());
        let mut forged = config.clone();
        forged.subnet_id = "../../organizations/projects".into();
        let err =
            LocationConfig::from_request(Some(&forged.to_map()), "us-east1-a", "/p").unwrap_err();
        assert!(
            matches!(&err, CoreError::InvalidInput { pointer: Some(p), .. } if p == "/p/subnet_id"),
            "{err}"
        );
        assert_eq!(config.gateway().unwrap().to_string(), "172.27.16.1");
    }
}
