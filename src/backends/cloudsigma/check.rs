//! `crusoe-ial check` for a CloudSigma account: the credentials, the funds, the location's API
//! host, Cycle's ISO there, and what is not established about CloudSigma with how to verify it on
//! this account.

use super::error::Doing;
use super::{location, CloudSigma};

/// The report's lines, or one line saying why the check failed.
pub async fn run(backend: &CloudSigma) -> Result<Vec<String>, String> {
    let account = backend.operator.clone().ok_or(
        "no CloudSigma credentials configured: set CLOUDSIGMA_USERNAME and CLOUDSIGMA_PASSWORD (or CLOUDSIGMA_TOKEN) and CLOUDSIGMA_LOCATION",
    )?;
    let mut lines = Vec::new();
    for l in account.locations() {
        let client = account.client(&l).map_err(|e| e.to_string())?;
        lines.push(format!("location:  {l} at {}", client.api_base()));
        let profile = client.profile().await.map_err(|e| match e.kind() {
            cloudsigma_sdk::ErrorKind::Unauthorized => format!(
                "CloudSigma rejected the credentials of {} in {l}: an account lives in one location; is CLOUDSIGMA_LOCATION the account's?",
                account.scope_key()
            ),
            _ => format!("cannot read the profile in {l}: {e}"),
        })?;
        let state = profile.state.clone().unwrap_or_else(|| "unknown".into());
        lines.push(format!("account:   {} (state {state})", profile.email));
        if !state.eq_ignore_ascii_case("regular") {
            lines.push(format!(
                "warning:   the account's state is {state}: CloudSigma restricts such accounts' outgoing traffic (trial: ports 22, 25 and others; guest: only DNS, DHCP, ICMP and TCP 80/443)"
            ));
        }
        let balance = client
            .balance()
            .await
            .doing(|| format!("reading the balance in {l}"))
            .map_err(|e| e.to_string())?;
        lines.push(format!(
            "funds:     {} {}",
            balance.balance, balance.currency
        ));
        if balance
            .balance
            .trim()
            .parse::<f64>()
            .is_ok_and(|b| b <= 0.0)
        {
            lines.push(
                "warning:   no funds: CloudSigma refuses to start a server without funds for five days of use (HTTP 402)".into(),
            );
        }
        let image = backend.image().await.map_err(|e| e.to_string())?;
        let name = location::iso_name(&image.sha256);
        let drives = client
            .drives()
            .list(&cloudsigma_sdk::Filter {
                name: Some(name.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("listing drives in {l}: {e}"))?;
        match drives.iter().find(|d| d.media == "cdrom") {
            Some(d) => lines.push(format!("ISO:       {name} is CD-ROM {} ({} bytes)", d.uuid, d.size)),
            None => lines.push(format!(
                "ISO:       {name} not uploaded yet; the first configure-location call uploads it ({} bytes)",
                image.bytes.len()
            )),
        }
    }
    lines.extend([
        "not established (verified only against the simulator; check once on this account):".to_string(),
        "  - iPXE's ${uuid} (the VM's SMBIOS UUID) equals the server's API uuid, before and after a stop and start:".to_string(),
        "    provision one server, read /sys/class/dmi/id/product_uuid or iPXE's ${uuid} on its console (VNC),".to_string(),
        "    compare with the uuid provision-status reports, stop and start it from CloudSigma's panel, compare again".to_string(),
        "  - a start that fails for capacity after its 202 (the bridge reports it after cloudsigma.start_attempts starts)".to_string(),
        "  - the body of ?do=auto_renew (used only with cloudsigma.ips.stop_renewal_on_release)".to_string(),
        "check passed".to_string(),
    ]);
    Ok(lines)
}
