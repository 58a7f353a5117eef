//! What a cloud must do for the core: one method per thing Cycle needs done, in Cycle's terms.
//! The core ([`super::Core`]) owns everything that is the same on every cloud (callers, the
//! bridge token, rate limits, locks, readiness, naming, Cycle's input rules, the catalogue as
//! Cycle sees it, errors as Cycle reads them); a backend owns its cloud's calls and the state it
//! keeps there, found again by name.
//!
//! Written for Crusoe and CloudSigma at once: a server may be created stopped and started by a
//! later observation ([`Backend::observe_server`] is level-triggered and takes the next step, as a
//! Cluster API provider's reconcile does); a restart may be a stop and a start; a location's state
//! may be a network (Crusoe) or an uploaded ISO (CloudSigma); releasing an address may only
//! detach it. What a backend keeps between calls travels as opaque JSON in `extra` and
//! `configuration_latest`.

use std::future::Future;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::catalogue::Catalogue;
use super::error::CoreError;
use super::plan::ProvisionPlan;
use crate::ial::types::{
    AllocateIp, AllocateIpResponse, ConfigureLocation, ProvisionStatus, ReleaseIp, ServerAuth,
};

/// A backend's opaque state in Cycle's `extra`.
pub type Extra = Map<String, Value>;

/// How a backend names itself wherever the core or Cycloid speaks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendInfo {
    /// Lower case: Cycle's `provider` annotation, Cycloid's `resources_provider`, `IAL_BACKEND`.
    pub name: &'static str,
    /// In answers to Cycle and in Cycloid's messages: "Crusoe".
    pub display: &'static str,
    /// What one of its machine types is called: "Crusoe VM type".
    pub model_noun: &'static str,
    /// The Cycloid inventory attribute that holds the account a server lives in.
    pub account_attribute: &'static str,
    /// What Cycle's `auth.api_key`, `auth.secret` and `auth.namespace` carry in pass-through
    /// mode, for the error that says one is missing: "the Crusoe access key id".
    pub credentials: [&'static str; 3],
}

/// Who a call acts for: the backend's account handle, Cycle's hub, and a key that identifies the
/// credentials (never reversible to them), by which every per-tenant cache is keyed.
#[derive(Debug, Clone)]
pub struct Caller<A> {
    pub account: A,
    /// Cycle's hub id, or `default` when Cycle did not send one.
    pub hub: String,
    pub cache_key: [u8; 32],
}

/// The backend's handle on one account.
pub trait Account: Send + Sync + 'static {
    /// The account's id as the cloud names it (Crusoe: the project id): lock keys, messages,
    /// Cycloid's inventory.
    fn scope(&self) -> &str;
}

/// The credentials Cycle sent in `auth` (pass-through mode), for the backend to read as its
/// cloud's; which field carries what is the backend's to say.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub api_key: &'a str,
    pub secret: &'a str,
    pub namespace: &'a str,
}

/// A server's state as the backend found it, after taking the next step towards running
/// (starting a stopped server, completing its storage or address).
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// Still on its way; `extra` is what Cycle should send back at the next poll.
    Pending { extra: Extra },
    /// Running, with the identity Cycle's iPXE will present.
    Ready { auth: ServerAuth, extra: Extra },
}

/// A location's state, as `configuration_latest` carries it back to the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationState {
    pub version: String,
    pub data: Map<String, Value>,
}

/// What a cloud does for Cycle. Every method must be safe to repeat, on any replica, after any
/// crash: what exists is found by the names the core derives from Cycle's ids.
pub trait Backend: Send + Sync + 'static {
    type Account: Account;

    fn info(&self) -> &'static BackendInfo;

    /// The account behind credentials Cycle sent (pass-through). A refusal is
    /// [`CoreError::Unauthorized`] or [`CoreError::InvalidInput`] naming the field.
    fn account(&self, presented: Presented<'_>) -> Result<Self::Account, CoreError>;

    /// The operator's own account (server-held mode), when configured.
    fn operator_account(&self) -> Option<Self::Account>;

    /// Whether the cloud accepts the caller's credentials; an error when it could not tell.
    fn verify(
        &self,
        caller: &Caller<Self::Account>,
    ) -> impl Future<Output = Result<bool, CoreError>> + Send;

    /// Whether the cloud answers with the operator's account (server-held); the reason when not.
    fn readiness(&self) -> impl Future<Output = Result<(), String>> + Send;

    /// Locations and machine types as this caller sees them. The backend may cache it per
    /// `caller.cache_key`; the core keeps what it renders from it as long as the same `Arc` comes
    /// back.
    fn catalogue(
        &self,
        caller: &Caller<Self::Account>,
    ) -> impl Future<Output = Result<Arc<Catalogue>, CoreError>> + Send;

    /// Makes sure the location holds what servers there need; `current` is Cycle's copy of the
    /// last state (of whatever version: what it names may still be adopted).
    fn ensure_location(
        &self,
        caller: &Caller<Self::Account>,
        request: &ConfigureLocation,
        current: Option<LocationState>,
    ) -> impl Future<Output = Result<LocationState, CoreError>> + Send;

    /// Creates the server `plan` describes, or finds it made already; answers what Cycle keeps in
    /// `extra`.
    fn create_server(
        &self,
        caller: &Caller<Self::Account>,
        plan: &ProvisionPlan,
    ) -> impl Future<Output = Result<Extra, CoreError>> + Send;

    /// Observes the server `name` and takes the next step towards it running.
    fn observe_server(
        &self,
        caller: &Caller<Self::Account>,
        name: &str,
        request: &ProvisionStatus,
    ) -> impl Future<Output = Result<Observed, CoreError>> + Send;

    /// Restarts the server; it boots Cycle's iPXE again.
    fn restart_server(
        &self,
        caller: &Caller<Self::Account>,
        name: &str,
    ) -> impl Future<Output = Result<(), CoreError>> + Send;

    /// Deletes the server and everything made for it; done when nothing of it is left.
    fn delete_server(
        &self,
        caller: &Caller<Self::Account>,
        name: &str,
    ) -> impl Future<Output = Result<(), CoreError>> + Send;

    fn allocate_ip(
        &self,
        caller: &Caller<Self::Account>,
        name: &str,
        request: &AllocateIp,
    ) -> impl Future<Output = Result<AllocateIpResponse, CoreError>> + Send;

    fn release_ip(
        &self,
        caller: &Caller<Self::Account>,
        request: &ReleaseIp,
    ) -> impl Future<Output = Result<(), CoreError>> + Send;
}
