//! `crusoe-ial gc`: lists (and with `--apply` deletes) what the bridge made whose owner is gone,
//! in the project of the configured credentials.

use std::time::Duration;

use crate::backends::crusoe::gc;
use crate::config::Config;

/// Runs the collection; the lines to print, or one line saying why it could not.
pub async fn run(config: &Config, apply: bool) -> Result<Vec<String>, String> {
    if config.backend == crate::backends::BackendName::CloudSigma {
        return cloudsigma(config, apply).await;
    }
    let project = config
        .crusoe
        .project_client("gc works on one project at a time")?;
    let orphans = gc::find(&project)
        .await
        .map_err(|e| format!("listing the project's resources: {e}"))?;
    let mut lines: Vec<String> = orphans.iter().map(|o| format!("  {o}")).collect();
    let cycloid = crate::cycloid::operator_client(&config.bridge.cycloid)
        .map_err(|e| config.invalid(e).to_string())?;
    let mut inventory = Vec::new();
    if let Some(cycloid) = &cycloid {
        inventory = gc::find_inventory(&project, cycloid).await?;
        lines.extend(inventory.iter().map(|o| format!("  {o}")));
        if apply {
            for o in &inventory {
                cycloid
                    .inventory()
                    .delete(o.id)
                    .await
                    .map_err(|e| format!("deleting Cycloid inventory resource {}: {e}", o.id))?;
            }
            if !inventory.is_empty() {
                lines.push(format!(
                    "deleted {} Cycloid inventory resources of organisation {}",
                    inventory.len(),
                    cycloid.organization()
                ));
            }
        }
    }
    if orphans.is_empty() {
        if inventory.is_empty() || apply {
            lines.push(format!("nothing to collect in project {}", project.id()));
        } else {
            lines.push(format!(
                "{} Cycloid inventory resources to collect; nothing deleted (dry run): run `crusoe-ial gc --apply` to delete them",
                inventory.len()
            ));
        }
        return Ok(lines);
    }
    if apply {
        let deleted = gc::delete(&project, &orphans, Duration::from_secs(120))
            .await
            .map_err(|e| format!("deleting: {e}"))?;
        lines.push(format!(
            "deleted {deleted} of {} orphans in project {}",
            orphans.len(),
            project.id()
        ));
    } else {
        lines.push(format!(
            "{} orphans in project {}; nothing deleted (dry run): run `crusoe-ial gc --apply` to delete them",
            orphans.len(),
            project.id()
        ));
    }
    Ok(lines)
}

/// CloudSigma's leftovers, as JSON: `gc` reports them, `gc --apply` deletes the orphan data
/// drives (an idle address cannot be given back: its subscription runs to its end).
async fn cloudsigma(config: &Config, apply: bool) -> Result<Vec<String>, String> {
    let backend = super::check::cloudsigma(config)?;
    let account = crate::core::Backend::operator_account(&backend).ok_or(
        "no CloudSigma credentials configured: set CLOUDSIGMA_USERNAME and CLOUDSIGMA_PASSWORD (or CLOUDSIGMA_TOKEN)",
    )?;
    let report = crate::backends::cloudsigma::gc::report(&account, apply)
        .await
        .map_err(|e| e.to_string())?;
    Ok(vec![
        serde_json::to_string_pretty(&report).unwrap_or_default()
    ])
}
