//! The loader's unit tests: precedence, the naming of sources, secrets kept out of messages.

use std::collections::HashMap;
use std::io::Write;

use super::*;
use crate::backends::crusoe::config::DEFAULT_ENDPOINT;
use crate::backends::crusoe::settings::{BootMode, IpStrategy};
use crate::core::settings::CredentialsMode;

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

fn with_env(pairs: &[(&str, &str)]) -> Sources {
    Sources {
        env: env(pairs),
        ..Default::default()
    }
}

#[test]
fn defaults_without_anything() {
    let c = Config::load(&Sources::default()).unwrap();
    assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(c.crusoe.client.endpoint.as_str(), DEFAULT_ENDPOINT);
    assert!(c.crusoe.credentials.is_none());
    assert!(c.crusoe.project_id.is_none());
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.shutdown_grace, Duration::from_secs(30));
    assert!(c.tls.is_none());
    assert_eq!(c.origins.of("listen"), Origin::Default);
    // Crusoe sees the bridge by name, not the SDK's default.
    assert_eq!(c.crusoe.client.user_agent, crate::USER_AGENT);
    assert!(c.crusoe.client.user_agent.starts_with("crusoe-ial/"));
}

#[test]
fn environment_wins_over_file_which_wins_over_profile() {
    let home = home_with_crusoe_config(&format!(
        "[default]\naccess_key_id = \"PROFILEKEY\"\nsecret_key = \"{SECRET}\"\ndefault_project = \"profile-project\"\napi_endpoint = \"https://profile.example/v1\"\n"
    ));
    let f = file("listen = \"127.0.0.1:9000\"\n[crusoe]\ndefault_project = \"file-project\"\n");
    let sources = Sources {
        file: Some(f.path().into()),
        env: env(&[
            ("CRUSOE_API_ENDPOINT", "http://127.0.0.1:1/v1"),
            ("IAL_LISTEN", ""),
        ]),
        home: Some(home.path().into()),
        flags: ServeFlags::default(),
    };
    let c = Config::load(&sources).unwrap();
    assert_eq!(c.crusoe.client.endpoint.as_str(), "http://127.0.0.1:1/v1");
    assert_eq!(c.crusoe.project_id.as_deref(), Some("file-project"));
    assert_eq!(c.crusoe.credentials.unwrap().access_key_id(), "PROFILEKEY");
    assert_eq!(c.listen.port(), 9000, "an empty IAL_LISTEN counts as unset");

    // Each value is traced to the layer it came from.
    let profile = Origin::Profile {
        path: home.path().join(".crusoe/config"),
        name: "default".into(),
    };
    assert_eq!(
        c.origins.of("crusoe.api_endpoint"),
        Origin::Env("CRUSOE_API_ENDPOINT")
    );
    assert_eq!(
        c.origins.of("crusoe.default_project"),
        Origin::File(f.path().into())
    );
    assert_eq!(c.origins.of("crusoe.access_key_id"), profile);
    assert_eq!(c.origins.of("listen"), Origin::File(f.path().into()));
}

#[test]
fn listen_flag_wins_over_environment() {
    let sources = Sources {
        env: env(&[("IAL_LISTEN", "127.0.0.1:7000")]),
        flags: ServeFlags {
            listen: Some("127.0.0.1:7001".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let c = Config::load(&sources).unwrap();
    assert_eq!(c.listen.port(), 7001);
    assert_eq!(c.origins.of("listen"), Origin::Flag("--listen"));
}

#[test]
fn every_layer_in_its_place_for_one_setting() {
    // `tls_cert` can be set by all four of our layers: each one above hides those below.
    let f = file("tls_cert = \"/file.pem\"\ntls_key = \"/key.pem\"\n");
    let mut sources = Sources {
        file: Some(f.path().into()),
        ..Default::default()
    };
    let cert = |s: &Sources| Config::load(s).unwrap().tls.unwrap().cert;
    assert_eq!(cert(&sources), PathBuf::from("/file.pem"));
    sources.env = env(&[("IAL_TLS_CERT", "/env.pem")]);
    assert_eq!(cert(&sources), PathBuf::from("/env.pem"));
    sources.flags.tls_cert = Some("/flag.pem".into());
    assert_eq!(cert(&sources), PathBuf::from("/flag.pem"));
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
    assert_eq!(err.origin, Origin::Env("IAL_CRUSOE_PROFILE"));
    assert!(err.reason.contains("[prod]"));

    // Named in our file, the file's key is named.
    let f = file("[crusoe]\nprofile = \"prod\"\n");
    sources.env.clear();
    sources.file = Some(f.path().into());
    let err = Config::load(&sources).unwrap_err();
    assert_eq!(err.origin, Origin::File(f.path().into()));
    assert!(err.to_string().contains("crusoe.profile in "), "{err}");
}

#[test]
fn a_profile_value_that_is_not_text_is_named_in_the_profile() {
    let home = home_with_crusoe_config("[default]\nsecret_key = 12345678\n");
    let err = Config::load(&Sources {
        home: Some(home.path().into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("secret_key in ") && err.to_string().contains("[default]"),
        "{err}"
    );
    assert!(!err.to_string().contains("12345678"));
}

#[test]
fn errors_name_the_field_and_never_the_secret() {
    let bad_secret = "this is not base64!";
    let err = Config::load(&with_env(&[
        ("CRUSOE_ACCESS_KEY_ID", "KEY"),
        ("CRUSOE_SECRET_KEY", bad_secret),
    ]))
    .unwrap_err();
    assert_eq!(err.origin, Origin::Env("CRUSOE_SECRET_KEY"));
    assert!(!err.to_string().contains(bad_secret));
    assert_eq!(err.to_string().lines().count(), 1);

    let err = Config::load(&with_env(&[("CRUSOE_SECRET_KEY", SECRET)])).unwrap_err();
    assert_eq!(err.key, "crusoe.access_key_id");
    assert!(err.to_string().contains("CRUSOE_ACCESS_KEY_ID"), "{err}");
    assert!(!err.to_string().contains(SECRET));

    // A secret of the wrong type in the file is not echoed either.
    let f = file("[crusoe]\naccess_key_id = \"KEY\"\nsecret_key = 98765432123\n");
    let err = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "crusoe.secret_key");
    assert!(!err.to_string().contains("98765432123"), "{err}");
}

#[test]
fn invalid_values_are_refused_with_their_source() {
    for (var, value) in [
        ("IAL_LISTEN", "localhost"),
        ("CRUSOE_API_ENDPOINT", "ftp://x/v1"),
        ("CRUSOE_API_ENDPOINT", "not a url"),
        ("CRUSOE_API_ENDPOINT", "https://user:pw@x/v1"),
        ("CRUSOE_DEFAULT_PROJECT", "../other"),
        ("IAL_LOG_FORMAT", "xml"),
        ("IAL_ENVELOPE", "naked"),
        ("IAL_CRUSOE_ATTEMPT_TIMEOUT_SECS", "0"),
        ("IAL_CRUSOE_MAX_ATTEMPTS", "many"),
        ("IAL_CRUSOE_MAX_ATTEMPTS", "21"),
        ("IAL_CREDENTIALS", "mine"),
        ("IAL_IP_STRATEGY", "dhcp"),
        ("IAL_BOOT_MODE", "pxe"),
        ("IAL_STATUS_READS", "sometimes"),
        ("IAL_BRIDGE_TOKEN", "short"),
    ] {
        let err = Config::load(&with_env(&[(var, value)])).unwrap_err();
        assert_eq!(err.origin, Origin::Env(var), "{value}: {err}");
        assert!(err.to_string().contains(var), "{err}");
        assert_eq!(err.to_string().lines().count(), 1);
    }
}

#[test]
fn range_errors_in_the_file_name_the_key_and_the_file() {
    for (text, key) in [
        ("max_headers = 2\n", "max_headers"),
        ("shutdown_grace_secs = 601\n", "shutdown_grace_secs"),
        ("[crusoe]\nmax_attempts = 0\n", "crusoe.max_attempts"),
        (
            "[crusoe]\ncall_deadline_secs = 4000\n",
            "crusoe.call_deadline_secs",
        ),
        ("[bridge.status]\nbatch = 501\n", "bridge.status.batch"),
        (
            "[bridge]\ncatalog_ttl_secs = 3601\n",
            "bridge.catalog_ttl_secs",
        ),
    ] {
        let f = file(text);
        let err = Config::load(&Sources {
            file: Some(f.path().into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.key, key);
        assert_eq!(err.origin, Origin::File(f.path().into()));
        assert!(err.reason.starts_with("must be from "), "{err}");
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
    assert_eq!(err.key, "crusoe.access_key");
    assert!(!err.to_string().contains(SECRET));
}

#[test]
fn a_broken_file_is_named_by_its_line_without_echoing_it() {
    let f = file(&format!(
        "listen = \"127.0.0.1:1\"\n[crusoe]\nsecret_key = \"{SECRET}\n"
    ));
    let err = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.reason.starts_with("line 3"), "{err}");
    assert!(!err.to_string().contains(SECRET));
    assert_eq!(err.to_string().lines().count(), 1);
}

#[test]
fn the_bridge_token_is_read_from_the_environment_only() {
    let token = "a-token-of-sixteen-or-more";
    let f = file(&format!("[bridge]\nbridge_token = \"{token}\"\n"));
    let err = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("IAL_BRIDGE_TOKEN"), "{err}");
    assert!(!err.to_string().contains(token));

    let c = Config::load(&with_env(&[
        ("IAL_BRIDGE_TOKEN", token),
        ("IAL_CREDENTIALS", "server-held"),
    ]))
    .unwrap();
    assert_eq!(c.bridge.credentials, CredentialsMode::ServerHeld);
    assert!(c.bridge.bridge_token.is_some());

    let err = Config::load(&with_env(&[("IAL_CREDENTIALS", "server-held")])).unwrap_err();
    assert!(err.to_string().contains("IAL_BRIDGE_TOKEN"), "{err}");
}

#[test]
fn cycloid_takes_its_key_from_the_environment_only_and_wants_both_halves() {
    let key = "cy-key-in-a-file-is-refused";
    let f = file(&format!(
        "[cycloid]\norganization = \"acme\"\napi_key = \"{key}\"\n"
    ));
    let err = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("CY_API_KEY"), "{err}");
    assert!(!err.to_string().contains(key), "{err}");

    let c = Config::load(&with_env(&[("CY_ORG", "acme"), ("CY_API_KEY", key)])).unwrap();
    assert_eq!(c.bridge.cycloid.organization.as_deref(), Some("acme"));
    assert!(c.bridge.cycloid.api_key.is_some());
    assert_eq!(c.bridge.cycloid.url, cycloid_sdk::DEFAULT_URL);

    let err = Config::load(&with_env(&[("CY_ORG", "acme")])).unwrap_err();
    assert!(err.to_string().contains("CY_API_KEY"), "{err}");
    let err = Config::load(&with_env(&[("CY_API_KEY", key)])).unwrap_err();
    assert!(err.to_string().contains("cycloid.organization"), "{err}");
    assert!(!err.to_string().contains(key), "{err}");
    let err = Config::load(&with_env(&[
        ("CY_ORG", "Not Canonical"),
        ("CY_API_KEY", key),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("CY_ORG"), "{err}");
    let err = Config::load(&with_env(&[("CY_API_URL", "ftp://cycloid.example")])).unwrap_err();
    assert!(err.to_string().contains("CY_API_URL"), "{err}");
}

#[test]
fn timeouts_from_file_and_environment() {
    let f = file("[crusoe]\nattempt_timeout_secs = 3\ncall_deadline_secs = 9\nmax_attempts = 2\n");
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

#[test]
fn a_tls_half_is_refused_naming_where_it_was_set() {
    let err = Config::load(&with_env(&[("IAL_TLS_KEY", "/key.pem")])).unwrap_err();
    assert_eq!(err.origin, Origin::Env("IAL_TLS_KEY"));
    assert!(err.reason.contains("needs its certificate"));
}

/// A valid value for each variable, so that reading each can be checked.
fn sample(var: &EnvVar) -> &'static str {
    match var.name {
        "IAL_LISTEN" => "127.0.0.1:7777",
        "IAL_LOG_FORMAT" => "json",
        "IAL_ENVELOPE" => "bare",
        "CRUSOE_API_ENDPOINT" => "https://api.example/v1",
        "CRUSOE_ACCESS_KEY_ID" => "KEY",
        "CRUSOE_SECRET_KEY" => SECRET,
        "CRUSOE_DEFAULT_PROJECT" => "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab",
        // Set, these name a profile that must exist: left to the profile tests.
        "IAL_CRUSOE_PROFILE" | "IAL_CRUSOE_CONFIG" => "",
        "IAL_CREDENTIALS" => "server-held",
        "IAL_BRIDGE_TOKEN" => "sixteen-characters-at-least",
        "IAL_IP_STRATEGY" => "vm-public-ip",
        "IAL_BOOT_MODE" => "ipxe-image",
        "IAL_IPXE_SHA256" => "ab",
        "IAL_STATUS_READS" => "per-poll",
        "IAL_NESTED_VIRTUALIZATION" => "on",
        "IAL_ALLOWED_LOCATIONS" => "us-east1-a, eu-iceland1-a,",
        _ if var.form == Form::Number => "7",
        _ => "some-text",
    }
}

#[test]
fn every_variable_of_the_table_sets_its_setting() {
    let pairs: Vec<(&str, &str)> = ENV_VARS.iter().map(|v| (v.name, sample(v))).collect();
    let sources = with_env(&pairs);
    let layered = sources::Layered::read(&sources).unwrap();
    let origins = layered.origins();
    for var in ENV_VARS.iter().filter(|v| !sample(v).is_empty()) {
        assert_eq!(origins.of(var.key), Origin::Env(var.name), "{}", var.key);
    }
    let raw = layered.extract().unwrap();
    assert_eq!(raw.listen.as_deref(), Some("127.0.0.1:7777"));
    assert_eq!(raw.envelope.as_deref(), Some("bare"));
    assert_eq!(raw.tls_cert, Some(PathBuf::from("some-text")));
    assert_eq!(raw.crusoe.max_attempts, Some(7));
    let bridge = &raw.bridge;
    assert_eq!(bridge.credentials, CredentialsMode::ServerHeld);
    assert_eq!(bridge.ips.strategy, IpStrategy::VmPublicIp);
    assert_eq!(bridge.boot.mode, BootMode::IpxeImage);
    assert_eq!(bridge.allowed_locations, ["us-east1-a", "eu-iceland1-a"]);
    assert!(!bridge.status.coalesce);
    assert!(bridge.nested_virtualization);
    assert_eq!(bridge.boot.ipxe_sha256.as_deref(), Some("ab"));
    assert_eq!(bridge.boot.image, "some-text");
}

#[test]
fn the_secret_is_not_in_the_sources_debug() {
    let sources = with_env(&[("CRUSOE_SECRET_KEY", SECRET)]);
    assert!(!format!("{sources:?}").contains(SECRET));
}

#[test]
fn the_backend_is_crusoe_unless_set_and_an_unknown_one_is_refused_by_name() {
    let c = Config::load(&Sources::default()).unwrap();
    assert_eq!(c.backend, crate::backends::BackendName::Crusoe);
    let f = file("backend = \"crusoe\"\n");
    let c = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.backend, crate::backends::BackendName::Crusoe);
    let f = file("backend = \"CloudSigma\"\n");
    let c = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.backend, crate::backends::BackendName::CloudSigma);
    let f = file("backend = \"aws\"\n");
    let err = Config::load(&Sources {
        file: Some(f.path().into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "backend");
    assert!(
        err.reason.contains("not one of crusoe, cloudsigma"),
        "{err}"
    );
}

#[test]
fn cloudsigmas_operator_credentials_come_from_its_terraform_providers_variables() {
    let mut sources = Sources {
        env: [
            ("IAL_BACKEND", "cloudsigma"),
            ("CLOUDSIGMA_USERNAME", "ops@example.com"),
            ("CLOUDSIGMA_PASSWORD", SECRET),
            ("CLOUDSIGMA_LOCATION", "FRA"),
            (
                "CLOUDSIGMA_API_ENDPOINT",
                "http://127.0.0.1:1/{location}/api/2.0/",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    };
    let c = Config::load(&sources).unwrap();
    let operator = c.cloudsigma.operator.clone().expect("server-held account");
    assert_eq!(operator.location, "fra");
    assert!(matches!(
        operator.credentials,
        crate::backends::cloudsigma::config::Credentials::Basic { ref username, .. } if username == "ops@example.com"
    ));
    assert!(!format!("{c:?}").contains(SECRET));
    sources.env.remove("CLOUDSIGMA_PASSWORD");
    let err = Config::load(&sources).unwrap_err();
    assert_eq!(err.key, "cloudsigma.password");
}
