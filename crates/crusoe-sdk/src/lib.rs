//! A typed, signing client for the part of Crusoe Cloud's API (`/v1`, the generally available one;
//! `/v1alpha5` has the same paths) that provisions compute:
//! VMs, disks, VPC networks, subnets and firewall rules, external load balancers, custom images,
//! and the catalogue (locations, VM types, capacities, images). It knows nothing of Cycle.
//!
//! - Every request is signed as Crusoe's own clients sign it ([`signing`]): HMAC-SHA256 over the
//!   path, the canonical query, the method and a timestamp, with the secret never logged.
//! - Transient failures (429, 5xx, a broken connection) are retried with one [`Backoff`],
//!   honouring `Retry-After`, within a per-call deadline; a create whose answer was lost is never
//!   sent again blindly but returned as [`CrusoeError::OutcomeUnknown`], for the caller to look
//!   the resource up by its name.
//! - Calls on a project go through a [`ProjectClient`], one handle per resource family; a call that
//!   starts an asynchronous operation answers a [`Pending`] that knows its family and follows it.
//!
//! ```no_run
//! use std::time::Duration;
//! use crusoe_sdk::types::{CreateDiskRequest, Disk};
//! use crusoe_sdk::{ClientSettings, Credentials, CrusoeClient};
//! use secrecy::SecretString;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = Credentials::new("ACCESS_KEY_ID", &SecretString::from("SECRET_KEY"))?;
//! let settings = ClientSettings {
//!     user_agent: "my-tool/1.0".into(),
//!     ..ClientSettings::default()
//! };
//! let project = CrusoeClient::new(settings, credentials)?.project("PROJECT_ID");
//! let disk: Disk = project
//!     .disks()
//!     .create(&CreateDiskRequest {
//!         name: "scratch".into(),
//!         location: Some("us-east1-a".into()),
//!         size: Some("100GiB".into()),
//!         ..Default::default()
//!     })
//!     .await?
//!     .wait(Duration::from_secs(120))
//!     .await?
//!     .result_as()?;
//! println!("made disk {}", disk.id);
//! # Ok(()) }
//! ```

pub mod api;
mod backoff;
mod client;
mod error;
pub mod ids;
pub mod metric_names;
pub mod profile;
mod project;
pub mod signing;
pub mod types;

pub use api::OperationFamily;
pub use backoff::{default_operation_polling, Backoff, RetryPolicy};
pub use client::{
    endpoint_advice, ClientPool, ClientSettings, Credentials, CredentialsError, CrusoeClient,
    ACCESS_KEY_ID_VAR, DEFAULT_ENDPOINT, DEFAULT_USER_AGENT, SECRET_KEY_VAR,
};
pub use error::{is_out_of_stock, ApiError, CrusoeError};
pub use project::{Operations, Pending, ProjectClient};
