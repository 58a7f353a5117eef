//! Who a call acts for: the Crusoe client and project of the hub that sent it, from Cycle's `auth`
//! (pass-through, the default) or from the operator's own key pair once Cycle has presented the
//! bridge token (server-held). Nothing in `auth` can change where credentials are sent.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::BridgeError;
use super::naming;
use super::settings::CredentialsMode;
use crate::ial::types::Auth;
use crusoe_sdk::ids::PathId;
use crusoe_sdk::{ClientPool, Credentials, CrusoeClient};

/// The operator's key pair, for server-held mode.
pub struct ServerHeld {
    pub credentials: Credentials,
    pub project_id: String,
    pub token: SecretString,
}

#[derive(Debug)]
pub struct Tenant {
    pub client: CrusoeClient,
    pub project_id: String,
    /// Cycle's hub id, or `default` when Cycle did not send one.
    pub hub: String,
    /// Identifies the credentials (never reversible to them): caches are keyed by it, so one
    /// tenant's answers never serve another, nor a caller with a wrong secret.
    pub cache_key: [u8; 32],
}

fn cache_key(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn hub(auth: Option<&Auth>) -> Result<String, BridgeError> {
    match auth
        .and_then(|a| a.cycle.as_ref())
        .and_then(|c| c.hub_id.as_deref())
    {
        None | Some("") => Ok("default".into()),
        Some(id) => naming::cycle_id(id, "/auth/cycle/hub_id").map(str::to_string),
    }
}

fn required<'a>(
    value: Option<&'a String>,
    pointer: &str,
    what: &str,
) -> Result<&'a str, BridgeError> {
    value
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            BridgeError::Unauthorized(format!(
                "{pointer} is missing: set {what} in Cycle's integration settings"
            ))
        })
}

pub fn resolve(
    mode: CredentialsMode,
    pool: &ClientPool,
    server_held: Option<&ServerHeld>,
    auth: Option<&Auth>,
) -> Result<Tenant, BridgeError> {
    let hub = hub(auth)?;
    match (mode, server_held) {
        (CredentialsMode::ServerHeld, Some(held)) => {
            let presented = required(
                auth.and_then(|a| a.api_key.as_ref()),
                "/auth/api_key",
                "the bridge token as API Key",
            )?;
            let matches: bool = presented
                .as_bytes()
                .ct_eq(held.token.expose_secret().as_bytes())
                .into();
            if !matches {
                return Err(BridgeError::Unauthorized(
                    "/auth/api_key is not this bridge's token: set the token the operator gave you as API Key".into(),
                ));
            }
            Ok(Tenant {
                client: pool.client(held.credentials.clone()),
                project_id: held.project_id.clone(),
                hub,
                cache_key: cache_key(&[b"server-held", held.project_id.as_bytes()]),
            })
        }
        (CredentialsMode::ServerHeld, None) => Err(BridgeError::Unauthorized(
            "the bridge is in server-held mode but has no Crusoe credentials configured".into(),
        )),
        (CredentialsMode::PassThrough, _) => {
            let key_id = required(
                auth.and_then(|a| a.api_key.as_ref()),
                "/auth/api_key",
                "the Crusoe access key id as API Key",
            )?;
            let secret = required(
                auth.and_then(|a| a.secret.as_ref()),
                "/auth/secret",
                "the Crusoe secret key as Secret",
            )?;
            let project = required(
                auth.and_then(|a| a.namespace.as_ref()),
                "/auth/namespace",
                "the Crusoe project id as Namespace",
            )?
            .trim();
            PathId::parse("project id", project).map_err(|e| {
                BridgeError::invalid(
                    format!("/auth/namespace is not a Crusoe project id: {}", e.reason),
                    "/auth/namespace",
                )
            })?;
            let credentials = Credentials::new(key_id, &SecretString::from(secret.to_string()))
                .map_err(|e| {
                    BridgeError::Unauthorized(format!(
                        "the credentials in auth cannot be used: {e}"
                    ))
                })?;
            Ok(Tenant {
                client: pool.client(credentials),
                project_id: project.to_string(),
                hub,
                cache_key: cache_key(&[
                    b"pass-through",
                    key_id.as_bytes(),
                    secret.as_bytes(),
                    project.as_bytes(),
                ]),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ial::types::AuthCycle;
    use crusoe_sdk::ClientSettings;

    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";

    fn pool() -> ClientPool {
        ClientPool::new(ClientSettings::default()).unwrap()
    }

    fn auth(key: &str, secret: &str, project: &str) -> Auth {
        let mut auth = Auth::default();
        auth.api_key = Some(key.into());
        auth.secret = Some(secret.into());
        auth.namespace = Some(project.into());
        auth.cycle = Some(AuthCycle {
            hub_name: Some("hub".into()),
            hub_id: Some("65f1e2d3c4b5a69788796a5b".into()),
        });
        auth
    }

    #[test]
    fn pass_through_uses_the_callers_key_and_project() {
        let t = resolve(
            CredentialsMode::PassThrough,
            &pool(),
            None,
            Some(&auth("KEY", SECRET, "proj-1")),
        )
        .unwrap();
        assert_eq!(t.client.credentials().access_key_id(), "KEY");
        assert_eq!(t.project_id, "proj-1");
        assert_eq!(t.hub, "65f1e2d3c4b5a69788796a5b");
    }

    #[test]
    fn nothing_in_auth_changes_where_credentials_are_sent() {
        let mut hostile = auth("KEY", SECRET, "proj-1");
        hostile.region = Some("https://evil.example/v1alpha5".into());
        hostile.client_id = Some("https://evil.example".into());
        hostile.subscription_id = Some("evil.example:443".into());
        // `config` would be base64 of per-hub settings: an endpoint in it is not read.
        hostile.config = Some("eyJhcGlfZW5kcG9pbnQiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9".into());
        let p = pool();
        let t = resolve(CredentialsMode::PassThrough, &p, None, Some(&hostile)).unwrap();
        assert_eq!(
            t.client.endpoint(),
            ClientSettings::default().endpoint.as_str()
        );
        assert!(!t.client.endpoint().contains("evil"));
    }

    #[test]
    fn the_cache_key_differs_by_secret_and_project() {
        let p = pool();
        let a = resolve(
            CredentialsMode::PassThrough,
            &p,
            None,
            Some(&auth("KEY", SECRET, "p1")),
        )
        .unwrap();
        let b = resolve(
            CredentialsMode::PassThrough,
            &p,
            None,
            Some(&auth("KEY", "AAAAAAAAAAAAAAAAAAAAAA", "p1")),
        )
        .unwrap();
        let c = resolve(
            CredentialsMode::PassThrough,
            &p,
            None,
            Some(&auth("KEY", SECRET, "p2")),
        )
        .unwrap();
        assert_ne!(a.cache_key, b.cache_key);
        assert_ne!(a.cache_key, c.cache_key);
    }

    #[test]
    fn missing_or_bad_credentials_say_which_field() {
        let err = resolve(CredentialsMode::PassThrough, &pool(), None, None).unwrap_err();
        assert!(matches!(err, BridgeError::Unauthorized(ref d) if d.contains("/auth/api_key")));
        let mut a = auth("KEY", SECRET, "p");
        a.secret = None;
        let err = resolve(CredentialsMode::PassThrough, &pool(), None, Some(&a)).unwrap_err();
        assert!(err.to_string().contains("/auth/secret"));
        let err = resolve(
            CredentialsMode::PassThrough,
            &pool(),
            None,
            Some(&auth("KEY", SECRET, "../other")),
        )
        .unwrap_err();
        assert!(matches!(err, BridgeError::InvalidInput { .. }));
        let err = resolve(
            CredentialsMode::PassThrough,
            &pool(),
            None,
            Some(&auth("KEY", "not*base64", "p")),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("not*base64"));
    }

    #[test]
    fn server_held_mode_wants_the_token_and_ignores_callers_keys() {
        let held = ServerHeld {
            credentials: Credentials::new("OPERATOR", &SecretString::from(SECRET)).unwrap(),
            project_id: "operator-project".into(),
            token: SecretString::from("a-long-bridge-token-123"),
        };
        let mut a = auth("a-long-bridge-token-123", "ignored", "ignored");
        let t = resolve(CredentialsMode::ServerHeld, &pool(), Some(&held), Some(&a)).unwrap();
        assert_eq!(t.client.credentials().access_key_id(), "OPERATOR");
        assert_eq!(t.project_id, "operator-project");
        a.api_key = Some("a-long-bridge-token-124".into());
        let err = resolve(CredentialsMode::ServerHeld, &pool(), Some(&held), Some(&a)).unwrap_err();
        assert!(matches!(err, BridgeError::Unauthorized(_)));
        assert!(!err.to_string().contains("a-long-bridge-token-123"));
    }

    #[test]
    fn a_hostile_hub_id_is_refused() {
        let mut a = auth("KEY", SECRET, "p");
        a.cycle.as_mut().unwrap().hub_id = Some("../../x".into());
        assert!(resolve(CredentialsMode::PassThrough, &pool(), None, Some(&a)).is_err());
    }
}
