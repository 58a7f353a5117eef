//! A typed client for the part of CloudSigma's API 2.0 that runs KVM servers: profile and
//! balance, locations, capabilities and pricing, servers and their power actions, drives and
//! one-shot image uploads, IPs and the subscriptions that buy them, and tags. It knows nothing
//! of Cycle.
//!
//! - One [`Client`] talks to one location (an account lives in one location, CLOUDSIGMA.md
//!   §1.3) with Basic or Bearer [`Credentials`]. [`ClientSettings::for_known_location`] knows the
//!   hosts of every documented location, white-label partners included ([`KNOWN_LOCATIONS`]).
//! - GET, PUT and DELETE are retried on transport failures, 500/502/503/504 and `concurrency`
//!   errors with one [`RetryPolicy`] (full jitter, overall deadline). POSTs are retried only
//!   when they provably never left; a create, upload or purchase whose answer was lost is
//!   [`CloudSigmaError::OutcomeUnknown`], for the caller to look the object up by name first.
//! - Errors keep the HTTP status even when the body is not CloudSigma's JSON array, and sort
//!   into [`ErrorKind`]s.
//! - Each HTTP attempt is counted and timed through the `metrics` facade ([`metric_names`]).
//!
//! ```no_run
//! use cloudsigma_sdk::types::{Filter, NewDrive};
//! use cloudsigma_sdk::{Client, ClientSettings, Credentials};
//!
//! # async fn demo() -> Result<(), cloudsigma_sdk::CloudSigmaError> {
//! let settings = ClientSettings::for_known_location("zrh")?;
//! let client = Client::new(settings, Credentials::basic("me@example.com", "password"))?;
//! let profile = client.profile().await?;
//! println!("signed in as {} ({:?})", profile.email, profile.state);
//!
//! let name = "cycle-abc-data";
//! let existing = client.drives().list(&Filter::by_name(name)).await?;
//! let drive = match existing.into_iter().next() {
//!     Some(drive) => drive,
//!     None => {
//!         client
//!             .drives()
//!             .create(&NewDrive {
//!                 name: name.into(),
//!                 size: 50 << 30,
//!                 media: "disk".into(),
//!                 ..Default::default()
//!             })
//!             .await?
//!     }
//! };
//! println!("drive {} is {}", drive.uuid, drive.status);
//! # Ok(()) }
//! ```

mod api;
mod backoff;
mod client;
mod error;
mod locations;
pub mod metric_names;
pub mod types;

pub use api::{Drives, Ips, Servers, Subscriptions, Tags};
pub use backoff::RetryPolicy;
pub use client::{
    Client, ClientSettings, Credentials, DEFAULT_API_BASE, DEFAULT_USER_AGENT, REQUEST_ID_HEADER,
};
pub use error::{ApiError, CloudSigmaError, ErrorItem, ErrorKind};
pub use locations::{known_location, KnownLocation, KNOWN_LOCATIONS};
pub use types::{Filter, Recurse, ServerAction, SubscriptionFilter};
