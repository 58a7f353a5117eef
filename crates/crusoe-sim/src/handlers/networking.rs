//! VPC networks and subnets (created synchronously, RFC 1918 only), firewall rules and external
//! load balancers (asynchronous).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use axum::body::Bytes;
use axum::extract::Query;
use serde_json::{json, Map, Value};

use super::kinds::{FIREWALL_RULES, LOAD_BALANCERS, NETWORKS, SUBNETS};
use super::project_call::{ProjectCall, ResourceCall};
use crate::catalog;
use crate::http::{
    object, object_entries, optional_str, required_array, required_str, SimError, SimResult,
};
use crate::resources::{parse_private_cidr, Network, Project};
use crate::world::Action;

/// A network a request body names: one the project lacks makes the request bad, not a 404.
fn named_network<'p>(p: &'p Project, id: &str) -> Result<&'p Network, SimError> {
    p.networks
        .get(id)
        .ok_or_else(|| SimError::bad_request(format!("VPC network {id} not found")))
}

fn private_cidr(field: &str, cidr: &str) -> Result<(u32, u8), SimError> {
    parse_private_cidr(cidr).map_err(|why| SimError::bad_request(format!("{field} {cidr:?} {why}")))
}

pub async fn create_network(call: ProjectCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    let cidr = required_str(&body, "cidr")?;
    private_cidr("cidr", &cidr)?;
    call.run(|w| {
        let network = Network {
            id: w.new_id(),
            name,
            cidr,
            gateway: w.new_id(),
        };
        let id = network.id.clone();
        NETWORKS.insert_answered(w, &call.project_id, "network", id, network)
    })
}

pub async fn delete_network(call: ResourceCall) -> SimResult {
    call.start(&NETWORKS, |p, _| {
        if p.subnets.values().any(|s| s.network_id == call.id) {
            return Err(SimError::conflict("VPC network still has subnets"));
        }
        Ok(Action::DeleteNetwork)
    })
}

pub async fn create_subnet(call: ProjectCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    let cidr = required_str(&body, "cidr")?;
    let location = required_str(&body, "location")?;
    let network_id = required_str(&body, "vpc_network_id")?;
    match body.get("nat_gateway_enabled") {
        Some(Value::Bool(_)) => {}
        None | Some(Value::Null) => {
            return Err(SimError::bad_request(
                "missing required field: nat_gateway_enabled",
            ))
        }
        Some(_) => {
            return Err(SimError::bad_request(
                "nat_gateway_enabled must be a boolean",
            ))
        }
    }
    let (base, len) = private_cidr("cidr", &cidr)?;
    if !catalog::LOCATIONS.contains(&location.as_str()) {
        return Err(SimError::bad_request(format!(
            "unknown location {location:?}"
        )));
    }
    call.run(|w| {
        let p = &w.projects[&call.project_id];
        let network = named_network(p, &network_id)?;
        let (net_base, net_len) = private_cidr("network cidr", &network.cidr)?;
        let net_mask = u32::MAX << (32 - net_len);
        if len < net_len || base & net_mask != net_base {
            return Err(SimError::bad_request(format!(
                "cidr {cidr} is not inside the network's {}",
                network.cidr
            )));
        }
        let mask = u32::MAX << (32 - len);
        let overlaps = p
            .subnets
            .values()
            .filter(|s| s.network_id == network_id)
            .any(|s| {
                // Two ranges overlap when they agree on the shorter of their two prefixes.
                let common = mask & (u32::MAX << s.size.trailing_zeros());
                (s.base & common) == (base & common)
            });
        if overlaps {
            return Err(SimError::conflict(format!(
                "cidr {cidr} overlaps another subnet of the network"
            )));
        }
        let subnet = w.new_subnet(&name, &cidr, &location, &network_id);
        let id = subnet.id.clone();
        SUBNETS.insert_answered(w, &call.project_id, "subnet", id, subnet)
    })
}

pub async fn delete_subnet(call: ResourceCall) -> SimResult {
    call.start(&SUBNETS, |p, _| {
        if p.vms.values().any(|v| v.subnet_id == call.id) {
            return Err(SimError::conflict("VPC subnet is in use by instances"));
        }
        Ok(Action::DeleteSubnet)
    })
}

fn string_list(
    body: &Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<Vec<String>, SimError> {
    let list = match body.get(key) {
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        _ => required_array(body, key)?,
    };
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| SimError::bad_request(format!("{key} must hold strings")))
        })
        .collect()
}

fn rule_objects(body: &Map<String, Value>, key: &str) -> Result<Vec<Value>, SimError> {
    object_entries(required_array(body, key)?, key)
        .map(|o| {
            let o = o?;
            let cidr = optional_str(o, "cidr")?;
            let resource = optional_str(o, "resource_id")?;
            match (cidr, resource) {
                (Some(c), None) => Ok(json!({"cidr": c})),
                (None, Some(r)) => Ok(json!({"resource_id": r})),
                _ => Err(SimError::bad_request(format!(
                    "each {key} entry needs cidr or resource_id, not both"
                ))),
            }
        })
        .collect()
}

pub async fn create_firewall_rule(call: ProjectCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    let network_id = required_str(&body, "vpc_network_id")?;
    // Crusoe's OpenAPI lists lower case; its own load-balancer controller sends "ALLOW" and
    // "INGRESS" (internal/controller/util.go): both are taken, and listed in lower case.
    let action = required_str(&body, "action")?.to_ascii_lowercase();
    let direction = required_str(&body, "direction")?.to_ascii_lowercase();
    if !matches!(action.as_str(), "allow" | "deny") {
        return Err(SimError::bad_request("action must be allow or deny"));
    }
    if !matches!(direction.as_str(), "ingress" | "egress") {
        return Err(SimError::bad_request("direction must be ingress or egress"));
    }
    let protocols = string_list(&body, "protocols", true)?;
    let destination_ports = string_list(&body, "destination_ports", false)?;
    let source_ports = string_list(&body, "source_ports", false)?;
    let sources = rule_objects(&body, "sources")?;
    let destinations = rule_objects(&body, "destinations")?;
    call.run(|w| {
        named_network(&w.projects[&call.project_id], &network_id)?;
        let id = w.new_id();
        let rule = json!({
            "id": id,
            "name": name,
            "vpc_network_id": network_id,
            "action": action,
            "direction": direction,
            "protocols": protocols,
            "destination_ports": destination_ports,
            "source_ports": source_ports,
            "sources": sources,
            "destinations": destinations,
            "state": "active",
        });
        FIREWALL_RULES.insert(w, &call.project_id, id.clone(), rule);
        FIREWALL_RULES.start_op(w, &call.project_id, &id, Action::CreateFirewallRule)
    })
}

pub async fn delete_firewall_rule(call: ResourceCall) -> SimResult {
    call.start(&FIREWALL_RULES, |_, _| Ok(Action::DeleteFirewallRule))
}

pub async fn list_load_balancers(
    call: ProjectCall,
    Query(q): Query<HashMap<String, String>>,
) -> SimResult {
    let matches = |lb: &Value, key: &str, field: &str| {
        q.get(key).is_none_or(|v| lb[field].as_str() == Some(v))
    };
    call.list_where(&LOAD_BALANCERS, |lb| {
        matches(lb, "name", "name")
            && matches(lb, "location", "location")
            && matches(lb, "vpc_network_id", "vpc_id")
    })
}

/// Listen ports and backends, checked and rendered with each backend ONLINE.
fn listeners(body: &Map<String, Value>) -> Result<Value, SimError> {
    let list = required_array(body, "listen_ports_and_backends")?;
    if list.is_empty() {
        return Err(SimError::bad_request(
            "at least one listen port is required",
        ));
    }
    let port = |v: Option<&Value>, what: &str| {
        v.and_then(Value::as_i64)
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| SimError::bad_request(format!("{what} must be a port number")))
    };
    let rendered = object_entries(list, "listen_ports_and_backends")
        .map(|l| {
            let l = l?;
            let listen_port = port(l.get("listen_port"), "listen_port")?;
            let backends = required_array(l, "backends")?
                .iter()
                .map(|b| {
                    let b = b
                        .as_object()
                        .ok_or_else(|| SimError::bad_request("backends must be objects"))?;
                    let ip = required_str(b, "ip")?;
                    ip.parse::<Ipv4Addr>().map_err(|_| {
                        SimError::bad_request(format!("backend ip {ip:?} is not IPv4"))
                    })?;
                    let backend_port = port(b.get("port"), "backend port")?;
                    Ok(json!({"ip": ip, "port": backend_port, "status": "ONLINE"}))
                })
                .collect::<Result<Vec<_>, SimError>>()?;
            Ok(json!({"listen_port": listen_port, "backends": backends}))
        })
        .collect::<Result<Vec<_>, SimError>>()?;
    Ok(Value::Array(rendered))
}

pub async fn create_load_balancer(call: ProjectCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    let location = required_str(&body, "location")?;
    let vpc_id = required_str(&body, "vpc_id")?;
    let protocol = required_str(&body, "protocol")?;
    let listeners = listeners(&body)?;
    let health = body
        .get("health_check_options")
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or_else(
            || json!({"failure_count": 3, "interval": 10, "success_count": 2, "timeout": 5}),
        );
    if !catalog::LOCATIONS.contains(&location.as_str()) {
        return Err(SimError::bad_request(format!(
            "unknown location {location:?}"
        )));
    }
    call.run(|w| {
        named_network(&w.projects[&call.project_id], &vpc_id)?;
        let vip = w.allocate_public().ok_or_else(|| {
            SimError::new(
                axum::http::StatusCode::CONFLICT,
                "out_of_stock",
                "no public address left",
            )
        })?;
        let id = w.new_id();
        let lb = json!({
            "id": id,
            "name": name,
            "location": location,
            "project_id": call.project_id,
            "protocol": protocol,
            "vip": "",
            "vpc_id": vpc_id,
            "health_check_options": health,
            "listen_ports_and_backends": listeners,
        });
        LOAD_BALANCERS.insert(w, &call.project_id, id.clone(), lb);
        LOAD_BALANCERS.start_op(w, &call.project_id, &id, Action::CreateLoadBalancer(vip))
    })
}

pub async fn update_load_balancer(call: ResourceCall, body: Bytes) -> SimResult {
    let body = object(&body)?;
    let listeners = listeners(&body)?;
    call.start(&LOAD_BALANCERS, |_, _| {
        Ok(Action::UpdateLoadBalancer(listeners))
    })
}

pub async fn delete_load_balancer(call: ResourceCall) -> SimResult {
    call.start(&LOAD_BALANCERS, |_, _| Ok(Action::DeleteLoadBalancer))
}
