//! The `[cloudsigma]` table: where CloudSigma is, whose account the bridge holds itself
//! (server-held mode, `gc`, `check`), and the backend's settings. The names of the environment
//! variables are those CloudSigma's own terraform provider reads (`CLOUDSIGMA_USERNAME`,
//! `CLOUDSIGMA_PASSWORD`, `CLOUDSIGMA_TOKEN`, `CLOUDSIGMA_LOCATION`).

use secrecy::SecretString;
use serde::Deserialize;

use super::settings::{CloudSigmaSettings, IpPoolSettings, PublicIp, Size};
use crate::setting_error::SettingError;
pub use cloudsigma_sdk::Credentials;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloudSigma {
    /// A full URL where `{location}` stands for the location's id; unset: each location's own
    /// host, partners' domains included.
    pub api_endpoint: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub token: Option<SecretString>,
    /// The operator's account's location.
    pub location: Option<String>,
    pub locations: Option<Vec<String>>,
    pub sizes: Option<Vec<Size>>,
    pub storage_type: Option<String>,
    pub currency: Option<String>,
    pub catalog_ttl_secs: Option<u64>,
    pub wait_secs: Option<u64>,
    pub start_attempts: Option<u32>,
    pub max_image_mib: Option<u64>,
    pub ips: Option<IpPoolSettings>,
    pub public_ip: Option<PublicIp>,
}

/// The operator's own account: its credentials and the one location it lives in.
#[derive(Debug, Clone)]
pub struct Operator {
    pub credentials: Credentials,
    pub location: String,
}

#[derive(Debug, Clone, Default)]
pub struct CloudSigmaConfig {
    pub endpoint: Option<String>,
    pub operator: Option<Operator>,
    pub settings: CloudSigmaSettings,
}

/// A location id as the bridge writes it: lower case, letters and digits (`zrh`, `mnl2`).
pub fn location_id(value: &str) -> Option<String> {
    let id = value.trim().to_ascii_lowercase();
    (!id.is_empty() && id.len() <= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
}

pub fn cloudsigma_config(raw: RawCloudSigma) -> Result<CloudSigmaConfig, SettingError> {
    let defaults = CloudSigmaSettings::default();
    let mut settings = CloudSigmaSettings {
        locations: raw.locations.unwrap_or(defaults.locations),
        sizes: raw.sizes.unwrap_or(defaults.sizes),
        storage_type: raw.storage_type.unwrap_or(defaults.storage_type),
        currency: raw.currency.unwrap_or(defaults.currency),
        catalog_ttl_secs: raw.catalog_ttl_secs.unwrap_or(defaults.catalog_ttl_secs),
        wait_secs: raw.wait_secs.unwrap_or(defaults.wait_secs),
        start_attempts: raw.start_attempts.unwrap_or(defaults.start_attempts),
        max_image_mib: raw.max_image_mib.unwrap_or(defaults.max_image_mib),
        ips: raw.ips.unwrap_or(defaults.ips),
        public_ip: raw.public_ip.unwrap_or(defaults.public_ip),
    };
    settings.locations = settings
        .locations
        .iter()
        .map(|l| {
            location_id(l).ok_or_else(|| {
                SettingError::new(
                    "cloudsigma.locations",
                    format!("{l:?} is not a location id like zrh"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    settings.validate()?;
    let endpoint = match raw.api_endpoint {
        None => None,
        Some(e) => Some(endpoint(&e)?),
    };
    let credentials = match (raw.username, raw.password, raw.token) {
        (None, None, None) => None,
        (Some(_), Some(_), Some(_)) => {
            return Err(SettingError::new(
                "cloudsigma.token",
                "give a token or a username and password, not both (as CloudSigma's terraform provider)",
            ))
        }
        (Some(username), Some(password), None) => Some(Credentials::Basic {
            username: username.trim().to_string(),
            password,
        }),
        (None, None, Some(token)) => Some(Credentials::Token(token)),
        (Some(_), None, _) => {
            return Err(SettingError::new(
                "cloudsigma.password",
                "missing while cloudsigma.username is set (CLOUDSIGMA_PASSWORD)",
            ))
        }
        (None, Some(_), _) => {
            return Err(SettingError::new(
                "cloudsigma.username",
                "missing while cloudsigma.password is set (CLOUDSIGMA_USERNAME)",
            ))
        }
    };
    let location = match raw.location {
        None => settings.locations[0].clone(),
        Some(l) => location_id(&l).ok_or_else(|| {
            SettingError::new(
                "cloudsigma.location",
                format!("{l:?} is not a location id like zrh"),
            )
        })?,
    };
    Ok(CloudSigmaConfig {
        endpoint,
        operator: credentials.map(|credentials| Operator {
            credentials,
            location,
        }),
        settings,
    })
}

/// A checked endpoint template: a usable API endpoint once `{location}` is filled in.
fn endpoint(value: &str) -> Result<String, SettingError> {
    let value = value.trim();
    crate::setting_error::api_endpoint(
        "cloudsigma.api_endpoint",
        &value.replace("{location}", "zrh"),
    )?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_needs_its_password_and_a_token_excludes_both() {
        let raw = RawCloudSigma {
            username: Some("ops@example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            cloudsigma_config(raw).unwrap_err().key,
            "cloudsigma.password"
        );
        let raw = RawCloudSigma {
            username: Some("ops@example.com".into()),
            password: Some("pw".into()),
            token: Some("t".into()),
            ..Default::default()
        };
        assert_eq!(cloudsigma_config(raw).unwrap_err().key, "cloudsigma.token");
    }

    #[test]
    fn the_operators_location_defaults_to_the_first_offered_and_is_lower_case() {
        let raw = RawCloudSigma {
            token: Some("t".into()),
            locations: Some(vec!["FRA".into(), "zrh".into()]),
            ..Default::default()
        };
        let c = cloudsigma_config(raw).unwrap();
        assert_eq!(c.operator.unwrap().location, "fra");
        assert_eq!(c.settings.locations, ["fra", "zrh"]);
        let raw = RawCloudSigma {
            locations: Some(vec!["../x".into()]),
            ..Default::default()
        };
        assert_eq!(
            cloudsigma_config(raw).unwrap_err().key,
            "cloudsigma.locations"
        );
    }

    #[test]
    fn an_endpoint_with_credentials_or_no_scheme_is_refused() {
        for bad in [
            "https://u:p@{location}.example/api/2.0/",
            "ftp://x/api/2.0/",
            "nonsense",
        ] {
            let raw = RawCloudSigma {
                api_endpoint: Some(bad.into()),
                ..Default::default()
            };
            assert_eq!(
                cloudsigma_config(raw).unwrap_err().key,
                "cloudsigma.api_endpoint",
                "{bad}"
            );
        }
    }
}
