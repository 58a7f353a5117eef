//! VPC networks and subnets (created synchronously, RFC 1918 only), firewall rules and external
//! load balancers (asynchronous).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use crate::catalog;
use crate::http::{
    in_project, object, optional_str, required_array, required_str, Caller, SimError, SimResult,
};
use crate::resources::{parse_private_cidr, Network};
use crate::world::{Action, Family, Fate};
use crate::Sim;

pub async fn list_networks(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        Ok(Json(
            json!({"items": p.networks.values().map(|n| p.network_json(n)).collect::<Vec<_>>()}),
        ))
    })
}

pub async fn get_network(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        p.networks
            .get(&id)
            .map(|n| Json(p.network_json(n)))
            .ok_or_else(|| SimError::not_found("VPC network"))
    })
}

fn private_cidr(field: &str, cidr: &str) -> Result<(u32, u8), SimError> {
    parse_private_cidr(cidr).map_err(|why| SimError::bad_request(format!("{field} {cidr:?} {why}")))
}

pub async fn create_network(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> SimResult {
    let body = object(&body)?;
    let name = required_str(&body, "name")?;
    let cidr = required_str(&body, "cidr")?;
    private_cidr("cidr", &cidr)?;
    in_project(&sim, &caller, &project_id, |w| {
        let network = Network {
            id: w.new_id(),
            name,
            cidr,
            gateway: w.new_id(),
        };
        let p = w.projects.get_mut(&project_id).expect("owned");
        let rendered = p.network_json(&network);
        p.networks.insert(network.id.clone(), network);
        Ok(Json(json!({"network": rendered})))
    })
}

pub async fn delete_network(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        if !p.networks.contains_key(&id) {
            return Err(SimError::not_found("VPC network"));
        }
        if p.subnets.values().any(|s| s.network_id == id) {
            return Err(SimError::conflict("VPC network still has subnets"));
        }
        let op = w.start_op(
            &project_id,
            Family::Networks,
            &id,
            Action::DeleteNetwork,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn list_subnets(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        Ok(Json(
            json!({"items": p.subnets.values().map(|s| p.subnet_json(s)).collect::<Vec<_>>()}),
        ))
    })
}

pub async fn get_subnet(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        p.subnets
            .get(&id)
            .map(|s| Json(p.subnet_json(s)))
            .ok_or_else(|| SimError::not_found("VPC subnet"))
    })
}

pub async fn create_subnet(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> SimResult {
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
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        let network = p
            .networks
            .get(&network_id)
            .ok_or_else(|| SimError::bad_request(format!("VPC network {network_id} not found")))?;
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
        let p = w.projects.get_mut(&project_id).expect("owned");
        let rendered = p.subnet_json(&subnet);
        p.subnets.insert(subnet.id.clone(), subnet);
        Ok(Json(json!({"subnet": rendered})))
    })
}

pub async fn delete_subnet(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let p = &w.projects[&project_id];
        if !p.subnets.contains_key(&id) {
            return Err(SimError::not_found("VPC subnet"));
        }
        if p.vms.values().any(|v| v.subnet_id == id) {
            return Err(SimError::conflict("VPC subnet is in use by instances"));
        }
        let op = w.start_op(
            &project_id,
            Family::Subnets,
            &id,
            Action::DeleteSubnet,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn list_firewall_rules(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        Ok(Json(
            json!({"items": w.projects[&project_id].firewall_rules.values().collect::<Vec<_>>()}),
        ))
    })
}

pub async fn get_firewall_rule(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        w.projects[&project_id]
            .firewall_rules
            .get(&id)
            .map(|r| Json(r.clone()))
            .ok_or_else(|| SimError::not_found("VPC firewall rule"))
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
    required_array(body, key)?
        .iter()
        .map(|o| {
            let o = o
                .as_object()
                .ok_or_else(|| SimError::bad_request(format!("{key} entries must be objects")))?;
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

pub async fn create_firewall_rule(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> SimResult {
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
    in_project(&sim, &caller, &project_id, |w| {
        if !w.projects[&project_id].networks.contains_key(&network_id) {
            return Err(SimError::bad_request(format!(
                "VPC network {network_id} not found"
            )));
        }
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
        w.projects
            .get_mut(&project_id)
            .expect("owned")
            .firewall_rules
            .insert(id.clone(), rule);
        let op = w.start_op(
            &project_id,
            Family::FirewallRules,
            &id,
            Action::CreateFirewallRule,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn delete_firewall_rule(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        if !w.projects[&project_id].firewall_rules.contains_key(&id) {
            return Err(SimError::not_found("VPC firewall rule"));
        }
        let op = w.start_op(
            &project_id,
            Family::FirewallRules,
            &id,
            Action::DeleteFirewallRule,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn list_load_balancers(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        let matches = |lb: &&Value, key: &str, field: &str| {
            q.get(key).is_none_or(|v| lb[field].as_str() == Some(v))
        };
        let items: Vec<&Value> = w.projects[&project_id]
            .load_balancers
            .values()
            .filter(|lb| matches(lb, "name", "name"))
            .filter(|lb| matches(lb, "location", "location"))
            .filter(|lb| matches(lb, "vpc_network_id", "vpc_id"))
            .collect();
        Ok(Json(json!({"items": items})))
    })
}

pub async fn get_load_balancer(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        w.projects[&project_id]
            .load_balancers
            .get(&id)
            .map(|lb| Json(lb.clone()))
            .ok_or_else(|| SimError::not_found("load balancer"))
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
    let rendered = list
        .iter()
        .map(|l| {
            let l = l.as_object().ok_or_else(|| {
                SimError::bad_request("listen_ports_and_backends entries must be objects")
            })?;
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

pub async fn create_load_balancer(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> SimResult {
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
    in_project(&sim, &caller, &project_id, |w| {
        if !w.projects[&project_id].networks.contains_key(&vpc_id) {
            return Err(SimError::bad_request(format!(
                "VPC network {vpc_id} not found"
            )));
        }
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
            "project_id": project_id,
            "protocol": protocol,
            "vip": "",
            "vpc_id": vpc_id,
            "health_check_options": health,
            "listen_ports_and_backends": listeners,
        });
        w.projects
            .get_mut(&project_id)
            .expect("owned")
            .load_balancers
            .insert(id.clone(), lb);
        let op = w.start_op(
            &project_id,
            Family::LoadBalancers,
            &id,
            Action::CreateLoadBalancer(vip),
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn update_load_balancer(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
    body: Bytes,
) -> SimResult {
    let body = object(&body)?;
    let listeners = listeners(&body)?;
    in_project(&sim, &caller, &project_id, |w| {
        if !w.projects[&project_id].load_balancers.contains_key(&id) {
            return Err(SimError::not_found("load balancer"));
        }
        let op = w.start_op(
            &project_id,
            Family::LoadBalancers,
            &id,
            Action::UpdateLoadBalancer(listeners),
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}

pub async fn delete_load_balancer(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((project_id, id)): Path<(String, String)>,
) -> SimResult {
    in_project(&sim, &caller, &project_id, |w| {
        if !w.projects[&project_id].load_balancers.contains_key(&id) {
            return Err(SimError::not_found("load balancer"));
        }
        let op = w.start_op(
            &project_id,
            Family::LoadBalancers,
            &id,
            Action::DeleteLoadBalancer,
            Fate::Succeed,
        );
        Ok(Json(json!({"operation": op})))
    })
}
