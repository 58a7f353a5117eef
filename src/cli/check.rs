//! `crusoe-ial check`: proves the configured credentials work against the configured endpoint,
//! with a short report or one line saying why not.

use std::time::Duration;

use crate::config::Config;
use crusoe_sdk::{CrusoeClient, CrusoeError, RetryPolicy};

/// A failed check, as one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

/// Runs the check and returns the report's lines.
pub async fn run(config: &Config) -> Result<Vec<String>, CheckFailed> {
    if config.backend == crate::backends::BackendName::CloudSigma {
        let backend = cloudsigma(config).map_err(CheckFailed)?;
        return crate::backends::cloudsigma::check::run(&backend)
            .await
            .map_err(CheckFailed);
    }
    let crusoe = &config.crusoe;
    let credentials = crusoe.credentials.clone().ok_or_else(|| {
        CheckFailed(
            "no Crusoe credentials configured: set CRUSOE_ACCESS_KEY_ID and CRUSOE_SECRET_KEY, \
             or a profile in ~/.crusoe/config"
                .into(),
        )
    })?;
    let project_id = crusoe.project_id.clone().ok_or_else(|| {
        CheckFailed("no Crusoe project configured: set CRUSOE_DEFAULT_PROJECT".into())
    })?;

    // An operator at a terminal wants an answer in seconds, not the server's patient retries.
    let mut settings = crusoe.client.clone();
    settings.retry = RetryPolicy {
        max_attempts: settings.retry.max_attempts.min(3),
        ..settings.retry
    };
    settings.call_deadline = settings.call_deadline.min(Duration::from_secs(20));
    let endpoint = settings.endpoint.to_string();
    let client = CrusoeClient::new(settings, credentials)
        .map_err(|e| CheckFailed(format!("cannot build the HTTP client: {e}")))?;

    let explain = |step: &str, e: CrusoeError| -> CheckFailed {
        CheckFailed(match e {
            CrusoeError::Connect(cause) => format!("cannot reach Crusoe at {endpoint}: {cause}"),
            CrusoeError::Timeout(after) => {
                format!(
                    "Crusoe at {endpoint} did not answer within {}s",
                    after.as_secs()
                )
            }
            CrusoeError::BadCredentials(api) => format!(
                "Crusoe rejected the credentials (access key id {}): {api}",
                client.credentials().access_key_id()
            ),
            CrusoeError::Forbidden(api) | CrusoeError::NotFound(api) if step == "project" => {
                format!("these credentials cannot access project {project_id}: {api}")
            }
            other => format!("{step}: {other}"),
        })
    };

    let scoped = client.project(&project_id);
    let project = scoped.get().await.map_err(|e| explain("project", e))?;
    let locations = client
        .list_locations()
        .await
        .map_err(|e| explain("locations", e))?;
    let types = scoped
        .vm_types()
        .await
        .map_err(|e| explain("VM types", e))?;

    let mut type_names: Vec<&str> = types.iter().map(|t| t.product_name.as_str()).collect();
    type_names.sort_unstable();
    let mut lines = vec![format!("endpoint:  {endpoint}")];
    if let Some(advice) = crusoe_sdk::endpoint_advice(&crusoe.client.endpoint) {
        lines.push(format!("note:      {advice}"));
    }
    lines.extend([
        format!("project:   {} ({}) found", project.name, project.id),
        format!("locations: {} ({})", locations.len(), locations.join(", ")),
        format!("VM types:  {} ({})", types.len(), type_names.join(", ")),
        "check passed".into(),
    ]);
    Ok(lines)
}

/// The CloudSigma backend as configured, for the commands that work on the operator's account.
pub fn cloudsigma(config: &Config) -> Result<crate::backends::cloudsigma::CloudSigma, String> {
    crate::backends::cloudsigma::CloudSigma::new(
        config.cloudsigma.clone(),
        config.bridge.boot.ipxe_url.clone(),
        config.bridge.boot.ipxe_sha256.clone(),
    )
    .map_err(|e| config.invalid(e).to_string())
}
