//! IP allocate and release. Crusoe has no standalone public IP, so an address comes either from an
//! external load balancer per allocation (its VIP forwards the operator's ports to the server's
//! private address) or from the server's own public address, made static (design decision 8 in ARCHITECTURE.md).
//! The assignment id says which: `lb-<load balancer id>` or `vm-<VM id>`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::create::{create_once, Created};
use super::error::{failed, Doing};
use super::ids;
use super::lookup::{load_balancers_named, vms_named};
use super::network::LocationConfig;
use super::settings::IpStrategy;
use super::Crusoe;
use super::Tenant;
use crate::core::error::CoreError;
use crate::core::naming;
use crate::ial::types::{AllocateIp, AllocateIpResponse, IpKind, ReleaseIp};
use crusoe_sdk::types::{
    Backend, CreateLoadBalancerRequest, HealthCheckOptions, ListenPortAndBackend, LoadBalancer,
    UpdateVmRequest, Vm, VmState,
};
use crusoe_sdk::CrusoeError;

const LB_PREFIX: &str = "lb-";
const VM_PREFIX: &str = "vm-";

fn refuse_ipv6(kind: IpKind) -> Result<(), CoreError> {
    match kind {
        IpKind::Ipv4 => Ok(()),
        IpKind::Ipv6 => Err(CoreError::invalid(
            "IPv6 is not available: Crusoe Cloud offers IPv4 addresses only",
            "/request/kind",
        )),
    }
}

async fn server_vm(t: &Tenant, name: &str) -> Result<Vm, CoreError> {
    vms_named(&t.account, name)
        .await
        .doing(|| format!("looking up VM {name}"))?
        .into_iter()
        .find(|v| !v.state.is_terminal())
        .ok_or_else(|| CoreError::NotFound(format!("no server {name} to give an address to")))
}

/// A /32 for Cycle. The host holds the private address the public one maps to (`nat_private_ip`),
/// reached through its subnet's gateway.
fn answer(
    ip_id: String,
    assignment: String,
    public: &str,
    private: &str,
    gateway: Option<Ipv4Addr>,
) -> AllocateIpResponse {
    AllocateIpResponse {
        ip_id,
        ip_assignment_id: assignment,
        cidr: format!("{public}/32"),
        gateway: gateway.map(|g| g.to_string()),
        netmask: "255.255.255.255".into(),
        network: Some(format!("{public}/32")),
        nat_private_ip: Some(private.to_string()),
    }
}

pub async fn allocate(
    b: &Crusoe,
    t: &Tenant,
    name: &str,
    req: &AllocateIp,
) -> Result<AllocateIpResponse, CoreError> {
    refuse_ipv6(req.kind)?;
    let pool = match req.cycle.pool_id.as_deref() {
        None | Some("") => "default",
        Some(p) => naming::cycle_id(p, "/request/cycle/pool_id")?,
    };
    let location = req.location_id.trim();
    let network = LocationConfig::of_request(req.location_configuration.as_ref(), location)?;
    let vm = server_vm(t, name).await?;
    let private = vm
        .private_ipv4()
        .ok_or_else(|| {
            CoreError::Conflict(format!(
                "server {name} has no private address yet; retry once it is provisioned"
            ))
        })?
        .to_string();
    // The address's id, its assignment as release will name it, and the address.
    let (ip_id, assignment, public) = match b.settings.ips.strategy {
        IpStrategy::LoadBalancer => {
            let lb = load_balancer_of(b, t, &vm, name, pool, &private).await?;
            let lb = remove_duplicates(t, lb).await;
            (lb.id.clone(), format!("{LB_PREFIX}{}", lb.id), lb.vip)
        }
        IpStrategy::VmPublicIp => {
            let public = vm.public_ipv4().cloned().ok_or_else(|| {
                CoreError::Conflict(format!(
                    "server {name} has no public address yet; retry once it is provisioned"
                ))
            })?;
            if public.ip_type != "static" {
                // Crusoe changes a NIC's address type on a running VM only (CRUSOE.md).
                if vm.state != VmState::Running {
                    return Err(CoreError::Conflict(format!(
                        "server {name} is {}: its address can be made static only while it runs; retry once it does",
                        vm.state.wire_name()
                    )));
                }
                let op = t
                    .account
                    .vms()
                    .update(&vm.id, &UpdateVmRequest::make_public_ip_static(&public.id))
                    .await
                    .doing(|| format!("making the address of {name} static"))?;
                op.wait(b.settings.timeouts.allocate())
                    .await
                    .doing(|| format!("making the address of {name} static"))?;
            }
            (public.id, format!("{VM_PREFIX}{}", vm.id), public.address)
        }
    };
    Ok(answer(
        ip_id,
        assignment,
        &public,
        &private,
        network.gateway(),
    ))
}

/// A create resent after a lost answer, or replicas that raced, can leave two load balancers of
/// one name: all keep the one `core::by_name` says wins (the lowest id), the others are deleted.
async fn remove_duplicates(t: &Tenant, lb: LoadBalancer) -> LoadBalancer {
    if let Ok(all) = load_balancers_named(&t.account, &lb.name).await {
        for other in all.iter().filter(|o| o.id != lb.id) {
            tracing::warn!(lb = %other.name, id = %other.id, "deleting a duplicate load balancer; the lowest id is kept");
            if let Err(e) = t.account.load_balancers().delete(&other.id).await {
                tracing::warn!(lb = %other.name, "duplicate not deleted yet: {e}");
            }
        }
    }
    lb
}

/// The server's load balancer for this pool, by name; made and waited for when missing.
async fn load_balancer_of(
    b: &Crusoe,
    t: &Tenant,
    vm: &Vm,
    name: &str,
    pool: &str,
    private: &str,
) -> Result<LoadBalancer, CoreError> {
    let lb_name = naming::ip_load_balancer_name(name, pool);
    let _guard = b
        .locks
        .lock(&format!("ip/{}/{lb_name}", t.account.id()))
        .await;
    let find = || async {
        let all = load_balancers_named(&t.account, &lb_name).await?;
        Ok(all.into_iter().next())
    };
    let deadline = Instant::now() + b.settings.timeouts.allocate();
    // One of this name exists: with an empty `vip` it is still being made, not missing.
    if let Some(lb) = find()
        .await
        .doing(|| format!("looking up load balancer {lb_name}"))?
    {
        return with_vip(lb, &find, deadline).await;
    }
    let vpc_id = vm
        .network_interfaces
        .first()
        .map(|n| n.network.clone())
        .ok_or_else(|| {
            CoreError::Conflict(format!("server {name} has no network interface yet"))
        })?;
    let listeners = b
        .settings
        .ips
        .load_balancer_ports
        .iter()
        .map(|port| ListenPortAndBackend {
            listen_port: i64::from(*port),
            backends: vec![Backend {
                ip: private.to_string(),
                port: i64::from(*port),
                status: String::new(),
            }],
        })
        .collect();
    let request = CreateLoadBalancerRequest {
        name: lb_name.clone(),
        location: vm.location.clone(),
        vpc_id,
        protocol: "LOAD_BALANCER_PROTOCOL_TCP".into(),
        listen_ports_and_backends: listeners,
        health_check_options: Some(HealthCheckOptions::default()),
    };
    let created = create_once(|| t.account.load_balancers().create(&request), find)
        .await
        .doing(|| format!("creating load balancer {lb_name}"))?;
    let op = match created {
        Created::Accepted(op) => op,
        Created::Found(lb) => return with_vip(lb, &find, deadline).await,
    };
    let done = op
        .wait(b.settings.timeouts.allocate())
        .await
        .doing(|| format!("creating load balancer {lb_name}"))?;
    // The address from the finished operation, as Crusoe's load-balancer controller takes it.
    match done.result_as::<LoadBalancer>() {
        Ok(lb) if !lb.vip.is_empty() && lb.name == lb_name => Ok(lb),
        _ => match find()
            .await
            .doing(|| format!("looking up load balancer {lb_name}"))?
        {
            Some(lb) => with_vip(lb, &find, deadline).await,
            None => Err(failed(format!(
                "Crusoe finished creating load balancer {lb_name} but lists no such load balancer"
            ))),
        },
    }
}

/// A load balancer once it has its address: one still being made is waited for (never made
/// again), within the allocation's deadline.
async fn with_vip<F, Fut>(
    mut lb: LoadBalancer,
    find: &F,
    deadline: Instant,
) -> Result<LoadBalancer, CoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<LoadBalancer>, CrusoeError>>,
{
    let mut pause = Duration::from_millis(250);
    while lb.vip.is_empty() {
        if Instant::now() + pause >= deadline {
            return Err(CoreError::Timeout(format!(
                "load balancer {} is still being made (no address yet); Cycle's retry continues from there",
                lb.name
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
        let name = lb.name.clone();
        lb = find()
            .await
            .doing(|| format!("looking up load balancer {name}"))?
            .ok_or_else(|| {
                CoreError::NotFound(format!("load balancer {name} was deleted while being made"))
            })?;
    }
    Ok(lb)
}

pub async fn release(b: &Crusoe, t: &Tenant, req: &ReleaseIp) -> Result<(), CoreError> {
    refuse_ipv6(req.kind)?;
    let assignment = req.ip_assignment_id.trim();
    if assignment.starts_with(VM_PREFIX) {
        // The server's own address goes with the server.
        return Ok(());
    }
    let Some(lb_id) = assignment.strip_prefix(LB_PREFIX) else {
        return Err(CoreError::invalid(
            format!(
                "/request/ip_assignment_id {assignment:?} is not an assignment this bridge made"
            ),
            "/request/ip_assignment_id",
        ));
    };
    ids::uuid(lb_id, "/request/ip_assignment_id").map_err(|_| {
        CoreError::invalid(
            "/request/ip_assignment_id must be lb-<Crusoe load balancer id> or vm-<Crusoe VM id>, as allocate answered",
            "/request/ip_assignment_id",
        )
    })?;
    let lb = match t.account.load_balancers().get(lb_id).await {
        Ok(lb) => lb,
        Err(CrusoeError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e).doing(|| format!("looking up load balancer {lb_id}")),
    };
    // Allocate of the same name waits until the deletion is done, and never finds it half-gone.
    let _guard = b
        .locks
        .lock(&format!("ip/{}/{}", t.account.id(), lb.name))
        .await;
    // Only what this bridge made is ever deleted.
    if !lb.name.starts_with(naming::PREFIX) {
        return Err(CoreError::invalid(
            format!("load balancer {lb_id} was not made by this bridge; it is left alone"),
            "/request/ip_assignment_id",
        ));
    }
    match t.account.load_balancers().delete(lb_id).await {
        Ok(op) => {
            op.wait(b.settings.timeouts.release())
                .await
                .doing(|| format!("deleting load balancer {}", lb.name))?;
            Ok(())
        }
        Err(CrusoeError::NotFound(_)) => Ok(()),
        Err(e) => Err(e).doing(|| format!("deleting load balancer {}", lb.name)),
    }
}
