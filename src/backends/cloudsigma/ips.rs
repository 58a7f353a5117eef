//! Cycle's extra addresses, for CloudSigma. An IPv4 address there is an IP subscription, which
//! cannot be cancelled or deleted (CLOUDSIGMA.md §7.2): the bridge keeps a pool of the account's
//! addresses it owns, marked in their `meta`. Allocating takes a free one (or buys one, when the
//! operator allows it); releasing returns it to the pool.
//!
//! How an address reaches the server: every server has a second NIC whose IPv4 is `manual`,
//! through which CloudSigma passes traffic of any address the account owns (§7.3). CycleOS
//! must configure the address on that interface; CloudSigma does nothing more.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::json;

use super::error::{failed, Doing};
use super::{CloudSigma, Sigma, MANAGED_BY, META_MANAGED_BY};
use crate::core::backend::Caller;
use crate::core::error::CoreError;
use crate::ial::types::{AllocateIp, AllocateIpResponse, IpKind, ReleaseIp};
use cloudsigma_sdk::types::{Ip, IpUpdate, NewSubscription};
use cloudsigma_sdk::{Client, ErrorKind, SubscriptionFilter};

/// Whom a pooled address is lent to: `<server name>/<Cycle's pool id>`; absent when free.
const META_FOR: &str = "cycle_ip_for";

fn holder(name: &str, req: &AllocateIp) -> String {
    format!("{name}/{}", req.cycle.pool_id.as_deref().unwrap_or("-"))
}

fn pooled(ip: &Ip) -> bool {
    ip.subscription.is_some()
        && ip.meta.get(META_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
}

fn is_free(ip: &Ip) -> bool {
    pooled(ip) && ip.server.is_none() && ip.meta.get(META_FOR).is_none_or(|f| f.is_empty())
}

async fn list(client: &Client) -> Result<Vec<Ip>, CoreError> {
    client
        .ips()
        .list()
        .await
        .doing(|| "listing IPs".to_string())
}

pub async fn allocate(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    name: &str,
    req: &AllocateIp,
) -> Result<AllocateIpResponse, CoreError> {
    if req.kind != IpKind::Ipv4 {
        return Err(CoreError::invalid(
            "the CloudSigma backend allocates IPv4 addresses only",
            "/request/kind",
        ));
    }
    let location = req.location_id.trim().to_ascii_lowercase();
    let client = caller.account.client(&location)?;
    let _held = backend
        .locks
        .lock(&format!("ips/{}/{location}", caller.account.scope_key()))
        .await;
    let want = holder(name, req);
    let ips = list(client).await?;
    if let Some(ip) = ips
        .iter()
        .find(|ip| pooled(ip) && ip.meta.get(META_FOR) == Some(&want))
    {
        return Ok(answer(ip, name));
    }
    let ip = match ips.iter().filter(|ip| is_free(ip)).min_by(|a, b| a.uuid.cmp(&b.uuid)) {
        Some(free) => free.clone(),
        None if backend.settings.ips.buy => buy(backend, client, &ips).await?,
        None => {
            return Err(CoreError::Conflict(format!(
                "no free address in the bridge's pool in {location}, and buying is off: buy IP subscriptions in CloudSigma and tag them for the bridge (see docs/cloudsigma.md), or set cloudsigma.ips.buy = true"
            )))
        }
    };
    let mut meta = ip.meta.clone();
    meta.insert(META_MANAGED_BY.into(), MANAGED_BY.into());
    meta.insert(META_FOR.into(), want);
    let lent = client
        .ips()
        .update(
            &ip.uuid,
            &IpUpdate {
                meta,
                tags: ip.tags.iter().map(|t| t.uuid.clone()).collect(),
            },
        )
        .await
        .doing(|| format!("lending address {} to {name}", ip.uuid))?;
    Ok(answer(&lent, name))
}

/// Buys one address; a purchase whose answer was lost is found as the one address with a
/// subscription that was not there before.
async fn buy(backend: &CloudSigma, client: &Client, before: &[Ip]) -> Result<Ip, CoreError> {
    let known: BTreeSet<&str> = before.iter().map(|ip| ip.uuid.as_str()).collect();
    let order = NewSubscription {
        resource: "ip".into(),
        amount: 1,
        period: backend.settings.ips.period.clone(),
        auto_renew: true,
    };
    let bought = client
        .subscriptions()
        .create(std::slice::from_ref(&order))
        .await;
    let address = match bought {
        Ok(subs) => subs.into_iter().find_map(|s| s.subscribed_object),
        Err(e) if e.kind() == ErrorKind::OutcomeUnknown => None,
        Err(e) => return Err(e).doing(|| "buying an IP subscription".to_string()),
    };
    let now = list(client).await?;
    let new = now.into_iter().find(|ip| match &address {
        Some(a) => &ip.uuid == a,
        None => {
            ip.subscription.is_some() && !known.contains(ip.uuid.as_str()) && ip.meta.is_empty()
        }
    });
    new.ok_or_else(|| failed("bought an IP subscription but its address is not listed yet; retry"))
}

/// Cycle's answer for a pooled address: the address itself, in its network.
fn answer(ip: &Ip, name: &str) -> AllocateIpResponse {
    let prefix = ip.netmask.unwrap_or(32).min(32);
    let network = ip.uuid.parse::<Ipv4Addr>().ok().map(|a| {
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        };
        format!("{}/{prefix}", Ipv4Addr::from(u32::from(a) & mask))
    });
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    AllocateIpResponse {
        ip_id: ip.uuid.clone(),
        ip_assignment_id: name.to_string(),
        cidr: format!("{}/{prefix}", ip.uuid),
        gateway: ip.gateway.clone().filter(|g| g.parse::<Ipv4Addr>().is_ok()),
        netmask: Ipv4Addr::from(mask).to_string(),
        network,
        nat_private_ip: None,
    }
}

/// Returns an address to the pool; a released address stays the account's until its
/// subscription ends.
pub async fn release(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    req: &ReleaseIp,
) -> Result<(), CoreError> {
    let locations = match req.location_id.as_deref() {
        Some(l) if caller.account.has(&l.to_ascii_lowercase()) => vec![l.to_ascii_lowercase()],
        _ => caller.account.locations(),
    };
    for l in locations {
        let client = caller.account.client(&l)?;
        let ip = match client.ips().get(&req.ip_id).await {
            Ok(ip) => ip,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e).doing(|| format!("reading address {}", req.ip_id)),
        };
        if pooled(&ip) {
            give_back(backend, client, ip).await?;
        }
        return Ok(());
    }
    Ok(())
}

async fn give_back(backend: &CloudSigma, client: &Client, ip: Ip) -> Result<(), CoreError> {
    if ip.meta.contains_key(META_FOR) {
        let mut meta = ip.meta.clone();
        meta.remove(META_FOR);
        client
            .ips()
            .update(
                &ip.uuid,
                &IpUpdate {
                    meta,
                    tags: ip.tags.iter().map(|t| t.uuid.clone()).collect(),
                },
            )
            .await
            .doing(|| format!("returning address {} to the pool", ip.uuid))?;
    }
    if backend.settings.ips.stop_renewal_on_release {
        if let Some(sub) = &ip.subscription {
            client
                .subscriptions()
                .set_auto_renew(&sub.id, false)
                .await
                .doing(|| format!("stopping the renewal of subscription {}", sub.id))?;
        }
    }
    Ok(())
}

/// Returns every address lent to server `name` (at its decommission).
pub async fn release_all(
    backend: &CloudSigma,
    client: &Client,
    name: &str,
) -> Result<(), CoreError> {
    let prefix = format!("{name}/");
    for ip in list(client).await? {
        if pooled(&ip)
            && ip
                .meta
                .get(META_FOR)
                .is_some_and(|f| f.starts_with(&prefix))
        {
            give_back(backend, client, ip).await?;
        }
    }
    Ok(())
}

/// The pool's idle addresses and what they cost, for `gc`.
pub async fn idle(client: &Client) -> Result<Vec<serde_json::Value>, CoreError> {
    let subs = client
        .subscriptions()
        .list(&SubscriptionFilter {
            resource: Some("ip".into()),
            status: None,
        })
        .await
        .doing(|| "listing IP subscriptions".to_string())?;
    Ok(list(client)
        .await?
        .into_iter()
        .filter(is_free)
        .map(|ip| {
            let sub = ip
                .subscription
                .as_ref()
                .and_then(|r| subs.iter().find(|s| s.id == r.id));
            json!({
                "address": ip.uuid,
                "subscription": ip.subscription.as_ref().map(|s| s.id.clone()),
                "price": sub.and_then(|s| s.price.clone()),
                "end_time": sub.and_then(|s| s.end_time.clone()),
                "auto_renew": sub.map(|s| s.auto_renew),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_gets_the_address_its_network_and_gateway_as_its_go_types_parse_them() {
        let ip: Ip = serde_json::from_value(serde_json::json!({
            "uuid": "185.12.6.183", "gateway": "185.12.6.1", "netmask": 24, "nameservers": [],
            "meta": {}, "tags": []
        }))
        .unwrap();
        let a = answer(&ip, "cycle-x");
        assert_eq!(a.cidr, "185.12.6.183/24");
        assert_eq!(a.network.as_deref(), Some("185.12.6.0/24"));
        assert_eq!(a.netmask, "255.255.255.0");
        assert_eq!(a.gateway.as_deref(), Some("185.12.6.1"));
        let bare: Ip =
            serde_json::from_value(serde_json::json!({"uuid": "10.1.2.3", "gateway": ""})).unwrap();
        let a = answer(&bare, "cycle-x");
        assert_eq!((a.cidr.as_str(), a.gateway), ("10.1.2.3/32", None));
    }
}
