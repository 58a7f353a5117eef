//! Addresses, for CloudSigma. An IPv4 address there is an IP subscription, which cannot be
//! cancelled or deleted (CLOUDSIGMA.md §7.2): the bridge keeps a pool of the account's addresses,
//! marked in their `meta`, and lends them: one to each server for its boot NIC (a `static` address
//! that DHCP hands out and that survives every stop and start, §7.3), and Cycle's extra addresses
//! (`ip/allocate`). An address goes back to the pool when released or when its server is
//! decommissioned; the bridge buys one only when the operator allows it.
//!
//! How an extra address reaches the server: every server has a second NIC whose IPv4 is `manual`,
//! through which CloudSigma passes traffic of any address the account owns (§7.3). CycleOS must
//! configure the address on that interface; CloudSigma does nothing more.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::Doing;
use super::{CloudSigma, Sigma, MANAGED_BY, META_MANAGED_BY};
use crate::core::backend::Caller;
use crate::core::error::CoreError;
use crate::ial::types::{AllocateIp, AllocateIpResponse, IpKind, ReleaseIp};
use cloudsigma_sdk::types::{Ip, IpUpdate, NewSubscription, Subscription};
use cloudsigma_sdk::{Client, ErrorKind, SubscriptionFilter};

/// Whom a pooled address is lent to: `<server name>/<what for>`; absent when free.
const META_FOR: &str = "cycle_ip_for";
/// How long a lender waits before reading its claim back: another replica's claim of the same
/// address made meanwhile has then landed, and one of the two sees it is not theirs.
const SETTLE: Duration = Duration::from_millis(300);
const CLAIMS: usize = 8;

/// The holder of a server's boot address.
pub fn boot_holder(server: &str) -> String {
    format!("{server}/boot")
}

fn allocation_holder(name: &str, req: &AllocateIp) -> String {
    format!("{name}/{}", req.cycle.pool_id.as_deref().unwrap_or("-"))
}

fn pooled(ip: &Ip) -> bool {
    ip.subscription.is_some()
        && ip.meta.get(META_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
}

fn holder_of(ip: &Ip) -> Option<&str> {
    ip.meta
        .get(META_FOR)
        .map(String::as_str)
        .filter(|f| !f.is_empty())
}

fn is_free(ip: &Ip) -> bool {
    pooled(ip) && ip.server.is_none() && holder_of(ip).is_none()
}

async fn list(client: &Client) -> Result<Vec<Ip>, CoreError> {
    client
        .ips()
        .list()
        .await
        .doing(|| "listing IPs".to_string())
}

async fn subscriptions(client: &Client) -> Result<Vec<Subscription>, CoreError> {
    client
        .subscriptions()
        .list(&SubscriptionFilter {
            resource: Some("ip".into()),
            status: None,
        })
        .await
        .doing(|| "listing IP subscriptions".to_string())
}

/// Cycle's `ip/allocate`: an address of the pool lent to the server.
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
    let ip = lend(
        backend,
        caller,
        client,
        &location,
        &allocation_holder(name, req),
    )
    .await?;
    Ok(answer(&ip, name))
}

/// Lends an address of the pool to `holder` (the one it holds already, when it does). Lenders
/// at once, on any replica, are told apart by reading each claim back: the address goes to the
/// last writer, and the other takes the next. Each holder tries the free addresses in an order
/// of its own, so that two rarely reach for the same one.
pub async fn lend(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    client: &Client,
    location: &str,
    holder: &str,
) -> Result<Ip, CoreError> {
    // No lock: lenders on this replica are told apart as those on others are, by reading their
    // claims back, and a lock here would make every provision of a fleet wait in one line.
    let _ = (caller, location);
    for _ in 0..CLAIMS {
        let ips = list(client).await?;
        if let Some(ip) = ips
            .iter()
            .find(|ip| pooled(ip) && holder_of(ip) == Some(holder))
        {
            return Ok(ip.clone());
        }
        let free = ips
            .iter()
            .filter(|ip| is_free(ip))
            .min_by_key(|ip| Sha256::digest(format!("{holder}\n{}", ip.uuid)));
        let ip = match free {
            Some(free) => free.clone(),
            None if backend.settings.ips.buy => {
                // On a task of its own, so that a request cut off by its time limit (or Cycle
                // hanging up) cannot stop between the purchase and its marking, leaving an
                // address paid for that the pool does not know.
                let (client, period, before, holder) = (
                    client.clone(),
                    backend.settings.ips.period.clone(),
                    ips.clone(),
                    holder.to_string(),
                );
                let bought = tokio::spawn(async move { buy(&client, period, &before, &holder).await })
                    .await
                    .map_err(|e| super::error::unavailable("buying an IP subscription", &e.to_string()))??;
                match bought {
                    // Bought for this holder and marked so: read back below like any claim.
                    Some(ip) => ip,
                    // A purchase whose answer was lost: what appeared went into the pool, free,
                    // and the next round lends from it like any other.
                    None => continue,
                }
            }
            None => {
                return Err(CoreError::Conflict(format!(
                    "no free address in the bridge's pool in {location}, and buying is off: buy IP subscriptions in CloudSigma and set `managed_by: {MANAGED_BY}` in their meta (see docs/cloudsigma.md), or set cloudsigma.ips.buy = true"
                )))
            }
        };
        if holder_of(&ip) != Some(holder) {
            renew(client, &ip).await?;
            mark(client, &ip, Some(holder)).await?;
        }
        tokio::time::sleep(SETTLE).await;
        let now = client
            .ips()
            .get(&ip.uuid)
            .await
            .doing(|| format!("reading address {} back", ip.uuid))?;
        if holder_of(&now) == Some(holder) {
            return Ok(now);
        }
    }
    Err(CoreError::Conflict(format!(
        "the addresses of the pool in {location} were taken by other lenders {CLAIMS} times over; retry"
    )))
}

/// Writes who holds `ip` (nobody: `None`) into its `meta`, keeping the rest.
async fn mark(client: &Client, ip: &Ip, holder: Option<&str>) -> Result<Ip, CoreError> {
    let mut meta = ip.meta.clone();
    meta.insert(META_MANAGED_BY.into(), MANAGED_BY.into());
    match holder {
        Some(h) => meta.insert(META_FOR.into(), h.to_string()),
        None => meta.remove(META_FOR),
    };
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
        .doing(|| format!("marking address {}", ip.uuid))
}

/// An address lent out is renewed with its subscription: one whose renewal was stopped at its
/// release would lapse under its new holder.
async fn renew(client: &Client, ip: &Ip) -> Result<(), CoreError> {
    let Some(sub) = &ip.subscription else {
        return Ok(());
    };
    let subs = subscriptions(client).await?;
    if subs.iter().any(|s| s.id == sub.id && !s.auto_renew) {
        client
            .subscriptions()
            .set_auto_renew(&sub.id, true)
            .await
            .doing(|| format!("renewing subscription {}", sub.id))?;
    }
    Ok(())
}

/// Buys one address and puts it into the pool at once: with the purchase's answer, lent to
/// `holder` (the answer); without it (a lost answer, a 5xx after the work), every new address no
/// one has marked, found by comparing the account's addresses before and after, joins the pool
/// free (another lender's purchase among them, a moment early). An address bought and not marked
/// would be bought again at Cycle's next try, and could never be given back.
async fn buy(
    client: &Client,
    period: String,
    before: &[Ip],
    holder: &str,
) -> Result<Option<Ip>, CoreError> {
    let known: BTreeSet<&str> = before.iter().map(|ip| ip.uuid.as_str()).collect();
    let order = NewSubscription {
        resource: "ip".into(),
        amount: 1,
        period,
        auto_renew: true,
    };
    let bought = client
        .subscriptions()
        .create(std::slice::from_ref(&order))
        .await;
    let address = match bought {
        Ok(subs) => subs.into_iter().find_map(|s| s.subscribed_object),
        // Refused before anything was bought (no funds, bad request): nothing to look for.
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => {
            return Err(e).doing(|| "buying an IP subscription".to_string())
        }
        Err(_) => None,
    };
    // Marked however long CloudSigma takes to answer: a failure here is the one that would leave
    // an address paid for and unknown.
    let mut last = None;
    for round in 0..10u32 {
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(round))).await;
        }
        if let Some(a) = &address {
            // Ours alone, new, with nothing in its `meta`: lent to the holder as it joins the
            // pool, without reading it first.
            let mut meta = std::collections::BTreeMap::new();
            meta.insert(META_MANAGED_BY.to_string(), MANAGED_BY.to_string());
            meta.insert(META_FOR.to_string(), holder.to_string());
            match client
                .ips()
                .update(
                    a,
                    &IpUpdate {
                        meta,
                        tags: Vec::new(),
                    },
                )
                .await
            {
                Ok(ip) => return Ok(Some(ip)),
                Err(e) => last = Some(e.to_string()),
            }
            continue;
        }
        let now = match list(client).await {
            Ok(now) => now,
            Err(e) => {
                last = Some(e.to_string());
                continue;
            }
        };
        let new: Vec<Ip> = now
            .into_iter()
            .filter(|ip| {
                ip.subscription.is_some()
                    && !known.contains(ip.uuid.as_str())
                    && ip.meta.is_empty()
                    && ip.server.is_none()
            })
            .collect();
        if !new.is_empty() {
            for ip in &new {
                mark(client, ip, None).await?;
            }
            return Ok(None);
        }
        if round >= 3 {
            break;
        }
    }
    Err(super::error::unavailable(
        "buying an IP subscription",
        &format!(
            "no new address could be marked after the purchase (perhaps nothing was bought{}); retry, and `crusoe-ial gc` lists addresses outside the pool",
            last.map(|l| format!("; last: {l}")).unwrap_or_default()
        ),
    ))
}

/// Cycle's answer for a lent address: the address itself, in its network.
fn answer(ip: &Ip, name: &str) -> AllocateIpResponse {
    let prefix = ip.netmask.unwrap_or(32).min(32);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    let network = ip
        .uuid
        .parse::<Ipv4Addr>()
        .ok()
        .map(|a| format!("{}/{prefix}", Ipv4Addr::from(u32::from(a) & mask)));
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

/// Cycle's `ip/release`: the address back to the pool, if it is still lent to the server the
/// release names (a late release must not take it from its next holder). It stays the
/// account's until its subscription ends.
pub async fn release(
    backend: &CloudSigma,
    caller: &Caller<Sigma>,
    req: &ReleaseIp,
) -> Result<(), CoreError> {
    let server = req
        .server_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(&req.ip_assignment_id);
    let prefix = format!("{server}/");
    let named = req.location_id.as_deref().map(str::to_ascii_lowercase);
    let locations = match named {
        Some(l) if caller.account.has(&l) => vec![l],
        _ => caller.account.locations(),
    };
    for l in locations {
        let client = caller.account.client(&l)?;
        let ip = match client.ips().get(&req.ip_id).await {
            Ok(ip) => ip,
            Err(e) if e.is_not_found() => continue,
            // Another location of the namespace, where these credentials are not an account.
            Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {
                continue
            }
            Err(e) => return Err(e).doing(|| format!("reading address {}", req.ip_id)),
        };
        if pooled(&ip) && holder_of(&ip).is_some_and(|h| h.starts_with(&prefix)) {
            give_back(backend, client, ip).await?;
        }
        return Ok(());
    }
    Ok(())
}

async fn give_back(backend: &CloudSigma, client: &Client, ip: Ip) -> Result<(), CoreError> {
    mark(client, &ip, None).await?;
    if backend.settings.ips.stop_renewal_on_release {
        if let Some(sub) = &ip.subscription {
            // `do=auto_renew` may toggle (its body is not established, CLOUDSIGMA.md §7.2):
            // switched only when renewal is on, so a repeated release cannot turn it back on.
            let subs = subscriptions(client).await?;
            if subs.iter().any(|s| s.id == sub.id && s.auto_renew) {
                client
                    .subscriptions()
                    .set_auto_renew(&sub.id, false)
                    .await
                    .doing(|| format!("stopping the renewal of subscription {}", sub.id))?;
            }
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
        if pooled(&ip) && holder_of(&ip).is_some_and(|f| f.starts_with(&prefix)) {
            give_back(backend, client, ip).await?;
        }
    }
    Ok(())
}

/// The pool's idle addresses and what they cost, and the account's addresses outside the pool
/// that no server holds (one bought by a purchase whose answer was lost is among them), for `gc`.
pub async fn idle(
    client: &Client,
) -> Result<(Vec<serde_json::Value>, Vec<serde_json::Value>), CoreError> {
    let subs = subscriptions(client).await?;
    let describe = |ip: &Ip| {
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
    };
    let ips = list(client).await?;
    let pool = ips.iter().filter(|ip| is_free(ip)).map(describe).collect();
    let outside = ips
        .iter()
        .filter(|ip| ip.subscription.is_some() && !pooled(ip) && ip.server.is_none())
        .map(describe)
        .collect();
    Ok((pool, outside))
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
