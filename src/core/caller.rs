//! Who a call acts for: the backend's account of the hub that sent it, from Cycle's `auth`
//! (pass-through, the default) or the operator's own account once Cycle has presented the bridge
//! token (server-held). Nothing in `auth` can change where credentials are sent: the backend
//! reads only the three credential fields.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::backend::{Account, Backend, Caller, Presented};
use super::error::CoreError;
use super::naming;
use super::settings::CredentialsMode;
use crate::ial::types::Auth;

fn cache_key(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// Cycle's hub id, checked, or `default` when Cycle sent none.
pub fn hub(auth: Option<&Auth>) -> Result<String, CoreError> {
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
) -> Result<&'a str, CoreError> {
    value
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            CoreError::Unauthorized(format!(
                "{pointer} is missing: set {what} in Cycle's integration settings"
            ))
        })
}

pub fn resolve<B: Backend>(
    mode: CredentialsMode,
    backend: &B,
    token: Option<&SecretString>,
    auth: Option<&Auth>,
) -> Result<Caller<B::Account>, CoreError> {
    let hub = hub(auth)?;
    match mode {
        CredentialsMode::ServerHeld => {
            let Some(account) = backend.operator_account() else {
                return Err(CoreError::Unauthorized(format!(
                    "the bridge is in server-held mode but has no {} credentials configured",
                    backend.info().display
                )));
            };
            let presented = required(
                auth.and_then(|a| a.api_key.as_ref()),
                "/auth/api_key",
                "the bridge token as API Key",
            )?;
            let expected = token
                .map(|t| t.expose_secret().as_bytes())
                .unwrap_or_default();
            let matches: bool = presented.as_bytes().ct_eq(expected).into();
            if !matches || expected.is_empty() {
                return Err(CoreError::Unauthorized(
                    "/auth/api_key is not this bridge's token: set the token the operator gave you as API Key".into(),
                ));
            }
            let cache_key = cache_key(&[b"server-held", account.scope().as_bytes()]);
            Ok(Caller {
                account,
                hub,
                cache_key,
            })
        }
        CredentialsMode::PassThrough => {
            let [key_is, secret_is, namespace_is] = backend.info().credentials;
            let api_key = required(
                auth.and_then(|a| a.api_key.as_ref()),
                "/auth/api_key",
                &format!("{key_is} as API Key"),
            )?;
            let secret = required(
                auth.and_then(|a| a.secret.as_ref()),
                "/auth/secret",
                &format!("{secret_is} as Secret"),
            )?;
            let namespace = required(
                auth.and_then(|a| a.namespace.as_ref()),
                "/auth/namespace",
                &format!("{namespace_is} as Namespace"),
            )?
            .trim();
            let account = backend.account(Presented {
                api_key,
                secret,
                namespace,
            })?;
            Ok(Caller {
                account,
                hub,
                cache_key: cache_key(&[
                    b"pass-through",
                    api_key.as_bytes(),
                    secret.as_bytes(),
                    namespace.as_bytes(),
                ]),
            })
        }
    }
}
