//! What a crash or a bug left behind in a CloudSigma account, found by the bridge's names and
//! `meta`, and what the pool's idle addresses cost: `crusoe-ial gc --backend cloudsigma`.

use serde_json::{json, Value};

use super::error::Doing;
use super::{ips, servers, Sigma, MANAGED_BY, META_MANAGED_BY};
use crate::core::error::CoreError;
use crate::core::naming;
use cloudsigma_sdk::Filter;

/// The account's leftovers per location: data drives whose server is gone, the bridge's servers
/// that are stopped, and idle pooled addresses with their price. With `apply`, the orphan data
/// drives are deleted (what a crash between a server's deletion and its drive's left); stopped
/// servers and addresses are only listed.
pub async fn report(account: &Sigma, apply: bool) -> Result<Value, CoreError> {
    let mut locations = Vec::new();
    for l in account.locations() {
        let client = account.client(&l)?;
        let servers = client
            .servers()
            .list(&Filter::default())
            .await
            .doing(|| format!("listing servers in {l}"))?;
        let ours = |meta: &std::collections::BTreeMap<String, String>| {
            meta.get(META_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
        };
        let names: std::collections::BTreeSet<String> = servers
            .iter()
            .filter(|s| ours(&s.meta))
            .map(|s| s.name.clone())
            .collect();
        let drives = client
            .drives()
            .list(&Filter::default())
            .await
            .doing(|| format!("listing drives in {l}"))?;
        // A drive whose server is not made yet is a provision in progress, not an orphan: only
        // one marked for deletion, or made more than an hour ago, is.
        let cutoff = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let orphans: Vec<Value> = drives
            .iter()
            .filter(|d| ours(&d.meta) && d.media == "disk" && d.mounted_on.is_empty())
            .filter(|d| {
                d.meta.contains_key(servers::META_DELETING)
                    || d.meta
                        .get(servers::META_CREATED)
                        .is_none_or(|c| c.as_str() < cutoff.as_str())
            })
            .filter(|d| {
                d.name
                    .strip_suffix("-data")
                    .is_some_and(|server| !names.contains(server))
            })
            .map(|d| json!({"uuid": d.uuid, "name": d.name, "size": d.size}))
            .collect();
        let mut deleted = Vec::new();
        if apply {
            for d in drives
                .iter()
                .filter(|d| orphans.iter().any(|o| o["uuid"] == d.uuid.as_str()))
            {
                match client.drives().delete(&d.uuid).await {
                    Ok(()) => deleted.push(d.uuid.clone()),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e).doing(|| format!("deleting drive {}", d.uuid)),
                }
            }
        }
        let stopped: Vec<Value> = servers
            .iter()
            .filter(|s| ours(&s.meta) && s.status == "stopped")
            .filter(|s| s.name.starts_with(naming::PREFIX))
            .map(|s| json!({"uuid": s.uuid, "name": s.name}))
            .collect();
        let (idle, outside) = ips::idle(client).await?;
        locations.push(json!({
            "location": l,
            "orphan_data_drives": orphans,
            "deleted_drives": deleted,
            "stopped_servers": stopped,
            "idle_ips": idle,
            "addresses_outside_the_pool": outside,
        }));
    }
    Ok(json!({"scope": account.scope_key(), "locations": locations}))
}
