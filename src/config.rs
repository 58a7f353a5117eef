//! The service's configuration: an optional TOML file, then environment variables (which win),
//! with Crusoe's own conventions honoured (`CRUSOE_*` variables and the `~/.crusoe/config`
//! profile file). Every invalid value stops start-up with one line naming the field and why.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::bridge::BridgeSettings;
use crate::ial::{Envelope, IalOptions};
use crusoe_sdk::ids::PathId;
use crusoe_sdk::{ClientSettings, Credentials, RetryPolicy, DEFAULT_ENDPOINT};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_PROFILE: &str = "default";

/// Environment variables read, and what they set.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "CRUSOE_API_ENDPOINT",
        "Crusoe API base URL, including /v1alpha5",
    ),
    (
        "CRUSOE_ACCESS_KEY_ID",
        "access key id (server-held credentials)",
    ),
    ("CRUSOE_SECRET_KEY", "secret key (server-held credentials)"),
    ("CRUSOE_DEFAULT_PROJECT", "project id"),
    ("IAL_LISTEN", "address the server listens on"),
    ("IAL_LOG_FORMAT", "text or json"),
    (
        "IAL_CRUSOE_PROFILE",
        "profile read from Crusoe's config file",
    ),
    ("IAL_CRUSOE_CONFIG", "path of Crusoe's config file"),
    (
        "IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS",
        "timeout of one Crusoe request",
    ),
    (
        "IAL_CRUSOE_CALL_DEADLINE_SECS",
        "deadline of one Crusoe call, retries included",
    ),
    (
        "IAL_CRUSOE_MAX_ATTEMPTS",
        "attempts per Crusoe call, the first included",
    ),
];

/// One invalid setting. Displays as a single line; never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {reason}")]
pub struct ConfigError {
    /// Where the value came from: an environment variable, a file key, a flag.
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A file's value for `key` if it lies in `range`; otherwise the error naming the key and range.
fn in_range<T: PartialOrd + std::fmt::Display>(
    value: T,
    range: std::ops::RangeInclusive<T>,
    key: &str,
    file_name: &str,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            format!("{key} in {file_name}"),
            format!("must be from {} to {}", range.start(), range.end()),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// How long requests in flight may finish after SIGTERM or SIGINT.
    pub shutdown_grace: Duration,
    /// Serve HTTPS with this certificate chain and key (PEM files), instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    pub crusoe: CrusoeConfig,
    pub ial: IalOptions,
    pub bridge: BridgeSettings,
}

#[derive(Debug, Clone)]
pub struct CrusoeConfig {
    pub client: ClientSettings,
    /// Server-held credentials, when configured.
    pub credentials: Option<Credentials>,
    pub project_id: Option<String>,
}

impl CrusoeConfig {
    /// A client of the configured key pair and its project, for the commands that work on one
    /// project (`gc`, `image`); the error says what to set, and why one project (`why`).
    pub fn project_client(&self, why: &str) -> Result<crusoe_sdk::ProjectClient, String> {
        let credentials = self.credentials.clone().ok_or_else(|| {
            format!("no Crusoe credentials configured: set CRUSOE_ACCESS_KEY_ID and CRUSOE_SECRET_KEY ({why})")
        })?;
        let project = self
            .project_id
            .clone()
            .ok_or("no project configured: set CRUSOE_DEFAULT_PROJECT")?;
        let client = crusoe_sdk::CrusoeClient::new(self.client.clone(), credentials)
            .map_err(|e| e.to_string())?;
        Ok(client.project(project))
    }
}

/// Our own TOML file. Unknown keys are refused, so that a typo does not silently fall back.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    log_format: Option<String>,
    /// `wrapped` (`{data, error}`) or `bare`.
    envelope: Option<String>,
    body_limit_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    max_in_flight: Option<usize>,
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
    header_read_timeout_secs: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    shutdown_grace_secs: Option<u64>,
    #[serde(default)]
    crusoe: FileCrusoe,
    #[serde(default)]
    bridge: BridgeSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCrusoe {
    api_endpoint: Option<String>,
    access_key_id: Option<String>,
    secret_key: Option<SecretString>,
    default_project: Option<String>,
    profile: Option<String>,
    config_file: Option<PathBuf>,
    attempt_timeout_secs: Option<u64>,
    call_deadline_secs: Option<u64>,
    max_attempts: Option<u32>,
}

/// One profile of Crusoe's own `~/.crusoe/config`. Other keys Crusoe's tools keep there are ignored.
#[derive(Debug, Default, Deserialize)]
struct CrusoeProfile {
    access_key_id: Option<String>,
    secret_key: Option<SecretString>,
    default_project: Option<String>,
    api_endpoint: Option<String>,
}

/// A value and the name of where it came from, for error messages.
struct Sourced<T> {
    value: T,
    source: String,
}

/// Where configuration is read from. Tests pass their own environment and home directory.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub env: HashMap<String, String>,
    pub home: Option<PathBuf>,
    /// `--listen`, which wins over everything.
    pub listen_flag: Option<String>,
    /// `--tls-cert` and `--tls-key`.
    pub tls_flags: (Option<PathBuf>, Option<PathBuf>),
}

impl Sources {
    /// The process's own environment and home directory.
    pub fn from_process(file: Option<PathBuf>, listen_flag: Option<String>) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            listen_flag,
            tls_flags: (None, None),
        }
    }

    fn env(&self, name: &str) -> Option<Sourced<String>> {
        // An empty variable is how shells and manifests say "unset".
        self.env
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| Sourced {
                value: v.clone(),
                source: name.to_string(),
            })
    }
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let (file, file_name) = match &sources.file {
            Some(path) => (read_file_config(path)?, display_path(path)),
            None => (FileConfig::default(), String::new()),
        };
        let from_file = |key: &str, value: Option<String>| {
            value.map(|value| Sourced {
                value,
                source: format!("{key} in {file_name}"),
            })
        };

        let profile_name = sources
            .env("IAL_CRUSOE_PROFILE")
            .or_else(|| from_file("crusoe.profile", file.crusoe.profile.clone()));
        let explicit_profile = profile_name.is_some();
        let profile_name = profile_name.map_or(DEFAULT_PROFILE.to_string(), |p| p.value);
        let profile_path = sources
            .env("IAL_CRUSOE_CONFIG")
            .map(|p| PathBuf::from(p.value))
            .or_else(|| file.crusoe.config_file.clone())
            .or_else(|| {
                sources
                    .home
                    .as_ref()
                    .map(|h| h.join(".crusoe").join("config"))
            });
        let profile = match &profile_path {
            Some(path) => read_crusoe_profile(path, &profile_name, explicit_profile)?,
            None => None,
        };
        let profile_src = |key: &str| {
            format!(
                "{key} in {} [{profile_name}]",
                profile_path
                    .as_deref()
                    .map(display_path)
                    .unwrap_or_default()
            )
        };
        let from_profile = |key: &str, value: Option<String>| {
            value.map(|value| Sourced {
                value,
                source: profile_src(key),
            })
        };
        let profile = profile.unwrap_or_default();

        let listen = sources
            .listen_flag
            .clone()
            .map(|value| Sourced {
                value,
                source: "--listen".into(),
            })
            .or_else(|| sources.env("IAL_LISTEN"))
            .or_else(|| from_file("listen", file.listen.clone()))
            .unwrap_or(Sourced {
                value: DEFAULT_LISTEN.into(),
                source: "listen".into(),
            });
        let listen = listen.value.trim().parse::<SocketAddr>().map_err(|_| {
            invalid(
                &listen.source,
                format!(
                    "{:?} is not a socket address like 0.0.0.0:8080",
                    listen.value
                ),
            )
        })?;

        let log_format = match sources
            .env("IAL_LOG_FORMAT")
            .or_else(|| from_file("log_format", file.log_format.clone()))
        {
            None => LogFormat::Text,
            Some(f) => match f.value.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        f.source,
                        format!("{other:?} is neither text nor json"),
                    ))
                }
            },
        };

        let endpoint = sources
            .env("CRUSOE_API_ENDPOINT")
            .or_else(|| from_file("crusoe.api_endpoint", file.crusoe.api_endpoint.clone()))
            .or_else(|| from_profile("api_endpoint", profile.api_endpoint.clone()))
            .unwrap_or(Sourced {
                value: DEFAULT_ENDPOINT.into(),
                source: "crusoe.api_endpoint".into(),
            });
        let endpoint = parse_endpoint(&endpoint)?;

        let access_key_id = sources
            .env("CRUSOE_ACCESS_KEY_ID")
            .or_else(|| from_file("crusoe.access_key_id", file.crusoe.access_key_id.clone()))
            .or_else(|| from_profile("access_key_id", profile.access_key_id.clone()));
        let secret_key: Option<Sourced<SecretString>> = sources
            .env("CRUSOE_SECRET_KEY")
            .map(|s| Sourced {
                value: SecretString::from(s.value),
                source: s.source,
            })
            .or_else(|| {
                file.crusoe.secret_key.clone().map(|value| Sourced {
                    value,
                    source: format!("crusoe.secret_key in {file_name}"),
                })
            })
            .or_else(|| {
                profile.secret_key.clone().map(|value| Sourced {
                    value,
                    source: profile_src("secret_key"),
                })
            });
        let credentials = match (access_key_id, secret_key) {
            (None, None) => None,
            (Some(id), None) => {
                return Err(invalid(
                    "CRUSOE_SECRET_KEY",
                    format!("missing, while an access key id is set ({})", id.source),
                ))
            }
            (None, Some(secret)) => {
                return Err(invalid(
                    "CRUSOE_ACCESS_KEY_ID",
                    format!("missing, while a secret key is set ({})", secret.source),
                ))
            }
            (Some(id), Some(secret)) => Some(Credentials::new(&id.value, &secret.value).map_err(
                |e| match e {
                    crusoe_sdk::CredentialsError::BadSecretKey(_) => {
                        invalid(&secret.source, e.to_string())
                    }
                    _ => invalid(&id.source, e.to_string()),
                },
            )?),
        };

        let project_id = sources
            .env("CRUSOE_DEFAULT_PROJECT")
            .or_else(|| {
                from_file(
                    "crusoe.default_project",
                    file.crusoe.default_project.clone(),
                )
            })
            .or_else(|| from_profile("default_project", profile.default_project.clone()));
        let project_id = match project_id {
            None => None,
            Some(p) => {
                let trimmed = p.value.trim().to_string();
                PathId::parse("project id", &trimmed).map_err(|e| invalid(&p.source, e.reason))?;
                Some(trimmed)
            }
        };

        let mut client = ClientSettings {
            endpoint,
            user_agent: crate::USER_AGENT.into(),
            ..ClientSettings::default()
        };
        if let Some(secs) = seconds(
            sources,
            "IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS",
            file.crusoe.attempt_timeout_secs,
            &file_name,
            "crusoe.attempt_timeout_secs",
        )? {
            client.attempt_timeout = secs;
        }
        if let Some(secs) = seconds(
            sources,
            "IAL_CRUSOE_CALL_DEADLINE_SECS",
            file.crusoe.call_deadline_secs,
            &file_name,
            "crusoe.call_deadline_secs",
        )? {
            client.call_deadline = secs;
        }
        let max_attempts = match sources.env("IAL_CRUSOE_MAX_ATTEMPTS") {
            Some(v) => Some(parse_in_range(&v, 1, 20)?),
            None => file.crusoe.max_attempts.map(u64::from),
        };
        if let Some(n) = max_attempts {
            if !(1..=20).contains(&n) {
                return Err(invalid(
                    format!("crusoe.max_attempts in {file_name}"),
                    "must be between 1 and 20",
                ));
            }
            client.retry = RetryPolicy {
                max_attempts: n as u32,
                ..client.retry
            };
        }

        let mut ial = IalOptions::default();
        if let Some(e) = sources
            .env("IAL_ENVELOPE")
            .or_else(|| from_file("envelope", file.envelope.clone()))
        {
            ial.envelope = match e.value.trim() {
                "wrapped" => Envelope::Wrapped,
                "bare" => Envelope::Bare,
                other => {
                    return Err(invalid(
                        e.source,
                        format!("{other:?} is neither wrapped nor bare"),
                    ))
                }
            };
        }
        if let Some(limit) = file.body_limit_bytes {
            ial.body_limit = in_range(
                limit,
                1024..=16 * 1024 * 1024,
                "body_limit_bytes",
                &file_name,
            )?;
        }
        if let Some(secs) = file.request_timeout_secs {
            ial.request_timeout = Duration::from_secs(in_range(
                secs,
                10..=3600,
                "request_timeout_secs",
                &file_name,
            )?);
        }
        if let Some(n) = file.max_in_flight {
            ial.max_in_flight = in_range(n, 1..=100_000, "max_in_flight", &file_name)?;
        }
        if let Some(n) = file.max_header_bytes {
            ial.max_header_bytes = in_range(n, 1024..=1024 * 1024, "max_header_bytes", &file_name)?;
        }
        if let Some(n) = file.max_headers {
            ial.max_headers = in_range(n, 8..=1000, "max_headers", &file_name)?;
        }
        if let Some(secs) = file.header_read_timeout_secs {
            ial.header_read_timeout = Duration::from_secs(in_range(
                secs,
                1..=300,
                "header_read_timeout_secs",
                &file_name,
            )?);
        }
        let shutdown_grace = match file.shutdown_grace_secs {
            None => Duration::from_secs(30),
            Some(secs) if secs <= 600 => Duration::from_secs(secs),
            Some(_) => {
                return Err(invalid(
                    format!("shutdown_grace_secs in {file_name}"),
                    "must be at most 600",
                ))
            }
        };

        let mut bridge = file.bridge;
        bridge
            .apply_env(&sources.env)
            .map_err(|(field, reason)| invalid(field, reason))?;
        bridge
            .validate()
            .map_err(|(field, reason)| invalid(field, reason))?;

        let pick = |flag: &Option<PathBuf>, env: &str, file_value: Option<PathBuf>, key: &str| {
            flag.clone()
                .map(|p| (p, format!("--{}", key.replace('_', "-"))))
                .or_else(|| sources.env(env).map(|v| (PathBuf::from(v.value), v.source)))
                .or_else(|| file_value.map(|p| (p, format!("{key} in {file_name}"))))
        };
        let cert = pick(
            &sources.tls_flags.0,
            "IAL_TLS_CERT",
            file.tls_cert.clone(),
            "tls_cert",
        );
        let key = pick(
            &sources.tls_flags.1,
            "IAL_TLS_KEY",
            file.tls_key.clone(),
            "tls_key",
        );
        let tls = match (cert, key) {
            (None, None) => None,
            (Some((cert, _)), Some((key, _))) => Some(TlsFiles { cert, key }),
            (Some((_, from)), None) => {
                return Err(invalid(from, "a TLS certificate needs its key (--tls-key)"))
            }
            (None, Some((_, from))) => {
                return Err(invalid(
                    from,
                    "a TLS key needs its certificate (--tls-cert)",
                ))
            }
        };

        Ok(Config {
            listen,
            log_format,
            shutdown_grace,
            tls,
            crusoe: CrusoeConfig {
                client,
                credentials,
                project_id,
            },
            ial,
            bridge,
        })
    }
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            "--config",
            format!("cannot read {}: {e}", display_path(path)),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        // toml's message spans lines (with a source excerpt that may hold a secret): keep the
        // first line only, which names the key and the problem.
        let first = e
            .message()
            .lines()
            .next()
            .unwrap_or("parse error")
            .to_string();
        invalid(display_path(path), first)
    })
}

/// Reads one profile of Crusoe's config file. A missing file is normal; a missing profile is an
/// error only when it was asked for by name.
fn read_crusoe_profile(
    path: &Path,
    profile: &str,
    explicit: bool,
) -> Result<Option<CrusoeProfile>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => {
            return Err(invalid(
                display_path(path),
                format!("cannot read Crusoe's config file: {e}"),
            ))
        }
    };
    let mut profiles: HashMap<String, toml::Value> = toml::from_str(&text).map_err(|e| {
        invalid(
            display_path(path),
            e.message()
                .lines()
                .next()
                .unwrap_or("parse error")
                .to_string(),
        )
    })?;
    match profiles.remove(profile) {
        Some(table) => table.try_into::<CrusoeProfile>().map(Some).map_err(|e| {
            invalid(
                format!("[{profile}] in {}", display_path(path)),
                e.message().lines().next().unwrap_or("invalid").to_string(),
            )
        }),
        None if explicit => Err(invalid(
            "IAL_CRUSOE_PROFILE",
            format!("profile [{profile}] not found in {}", display_path(path)),
        )),
        None => Ok(None),
    }
}

fn parse_endpoint(endpoint: &Sourced<String>) -> Result<Url, ConfigError> {
    let fail = |reason: &str| invalid(&endpoint.source, reason.to_string());
    let url = Url::parse(endpoint.value.trim())
        .map_err(|e| invalid(&endpoint.source, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(fail("must be an http or https URL"));
    }
    if url.host_str().is_none() {
        return Err(fail("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail("must not have a query or fragment"));
    }
    Ok(url)
}

fn parse_in_range(v: &Sourced<String>, min: u64, max: u64) -> Result<u64, ConfigError> {
    match v.value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            &v.source,
            format!("{:?} is not a whole number from {min} to {max}", v.value),
        )),
    }
}

fn seconds(
    sources: &Sources,
    env: &str,
    from_file: Option<u64>,
    file_name: &str,
    key: &str,
) -> Result<Option<Duration>, ConfigError> {
    let value = match sources.env(env) {
        Some(v) => parse_in_range(&v, 1, 3600)?,
        None => match from_file {
            None => return Ok(None),
            Some(n) if (1..=3600).contains(&n) => n,
            Some(_) => {
                return Err(invalid(
                    format!("{key} in {file_name}"),
                    "must be from 1 to 3600",
                ))
            }
        },
    };
    Ok(Some(Duration::from_secs(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn home_with_crusoe_config(text: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".crusoe")).unwrap();
        std::fs::write(home.path().join(".crusoe/config"), text).unwrap();
        home
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_without_anything() {
        let c = Config::load(&Sources::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.crusoe.client.endpoint.as_str(), DEFAULT_ENDPOINT);
        assert!(c.crusoe.credentials.is_none());
        assert!(c.crusoe.project_id.is_none());
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn environment_wins_over_file_which_wins_over_profile() {
        let home = home_with_crusoe_config(&format!(
            "[default]\naccess_key_id = \"PROFILEKEY\"\nsecret_key = \"{SECRET}\"\ndefault_project = \"profile-project\"\napi_endpoint = \"https://profile.example/v1alpha5\"\n"
        ));
        let f = file("listen = \"127.0.0.1:9000\"\n[crusoe]\ndefault_project = \"file-project\"\n");
        let sources = Sources {
            file: Some(f.path().into()),
            env: env(&[
                ("CRUSOE_API_ENDPOINT", "http://127.0.0.1:1/v1alpha5"),
                ("IAL_LISTEN", ""),
            ]),
            home: Some(home.path().into()),
            listen_flag: None,
            tls_flags: (None, None),
        };
        let c = Config::load(&sources).unwrap();
        assert_eq!(
            c.crusoe.client.endpoint.as_str(),
            "http://127.0.0.1:1/v1alpha5"
        );
        assert_eq!(c.crusoe.project_id.as_deref(), Some("file-project"));
        assert_eq!(c.crusoe.credentials.unwrap().access_key_id(), "PROFILEKEY");
        assert_eq!(c.listen.port(), 9000, "an empty IAL_LISTEN counts as unset");
    }

    #[test]
    fn listen_flag_wins_over_environment() {
        let sources = Sources {
            env: env(&[("IAL_LISTEN", "127.0.0.1:7000")]),
            listen_flag: Some("127.0.0.1:7001".into()),
            ..Default::default()
        };
        assert_eq!(Config::load(&sources).unwrap().listen.port(), 7001);
    }

    #[test]
    fn named_profile_is_read_and_a_missing_one_is_an_error() {
        let home = home_with_crusoe_config(&format!(
            "[default]\naccess_key_id = \"A\"\nsecret_key = \"{SECRET}\"\n[staging]\naccess_key_id = \"B\"\nsecret_key = \"{SECRET}\"\n"
        ));
        let mut sources = Sources {
            env: env(&[("IAL_CRUSOE_PROFILE", "staging")]),
            home: Some(home.path().into()),
            ..Default::default()
        };
        let c = Config::load(&sources).unwrap();
        assert_eq!(c.crusoe.credentials.unwrap().access_key_id(), "B");
        sources.env = env(&[("IAL_CRUSOE_PROFILE", "prod")]);
        let err = Config::load(&sources).unwrap_err();
        assert_eq!(err.field, "IAL_CRUSOE_PROFILE");
        assert!(err.reason.contains("[prod]"));
    }

    #[test]
    fn errors_name_the_field_and_never_the_secret() {
        let bad_secret = "this is not base64!";
        let err = Config::load(&Sources {
            env: env(&[
                ("CRUSOE_ACCESS_KEY_ID", "KEY"),
                ("CRUSOE_SECRET_KEY", bad_secret),
            ]),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "CRUSOE_SECRET_KEY");
        assert!(!err.to_string().contains(bad_secret));
        assert_eq!(err.to_string().lines().count(), 1);

        let err = Config::load(&Sources {
            env: env(&[("CRUSOE_SECRET_KEY", SECRET)]),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "CRUSOE_ACCESS_KEY_ID");
        assert!(!err.to_string().contains(SECRET));
    }

    #[test]
    fn invalid_values_are_refused_with_their_source() {
        for (var, value) in [
            ("IAL_LISTEN", "localhost"),
            ("CRUSOE_API_ENDPOINT", "ftp://x/v1alpha5"),
            ("CRUSOE_API_ENDPOINT", "not a url"),
            ("CRUSOE_API_ENDPOINT", "https://user:pw@x/v1alpha5"),
            ("CRUSOE_DEFAULT_PROJECT", "../other"),
            ("IAL_LOG_FORMAT", "xml"),
            ("IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS", "0"),
            ("IAL_CRUSOE_MAX_ATTEMPTS", "many"),
        ] {
            let err = Config::load(&Sources {
                env: env(&[(var, value)]),
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(err.field, var, "{value}");
        }
    }

    #[test]
    fn unknown_keys_in_our_file_are_refused_without_echoing_the_file() {
        let f = file(&format!(
            "[crusoe]\nsecret_key = \"{SECRET}\"\naccess_key = \"typo\"\n"
        ));
        let err = Config::load(&Sources {
            file: Some(f.path().into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.reason.contains("access_key"), "{err}");
        assert!(!err.to_string().contains(SECRET));
    }

    #[test]
    fn timeouts_from_file_and_environment() {
        let f =
            file("[crusoe]\nattempt_timeout_secs = 3\ncall_deadline_secs = 9\nmax_attempts = 2\n");
        let c = Config::load(&Sources {
            file: Some(f.path().into()),
            env: env(&[("IAL_CRUSOE_CALL_DEADLINE_SECS", "12")]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.crusoe.client.attempt_timeout, Duration::from_secs(3));
        assert_eq!(c.crusoe.client.call_deadline, Duration::from_secs(12));
        assert_eq!(c.crusoe.client.retry.max_attempts, 2);
    }
}
