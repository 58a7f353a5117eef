//! crusoe-ial: Cycle's Infrastructure Abstraction Layer (IAL) served on Crusoe Cloud.
//!
//! The layers (ARCHITECTURE.md draws them and follows one provision through them):
//! - [`ial`]: Cycle's side, the ten webhook endpoints, their wire types and Cycle's error shape;
//!   it knows no cloud.
//! - [`core`]: the backend-neutral core, one [`ial::Provider`] for any [`core::Backend`]: callers
//!   and credential modes, Cycle's input rules, the catalogue as Cycle sees it, errors as Cycle
//!   reads them.
//! - [`backends`]: the clouds, each in a folder of its own; Crusoe (`backends::crusoe`) is the
//!   only code that speaks to Crusoe, through the `crusoe-sdk` crate (Crusoe's side, which knows
//!   nothing of Cycle).
//! - [`cycloid`]: each server's story told to Cycloid, as a wrapper around the core.
//! - `crusoe-sim` (a crate of its own): the Crusoe simulator the tests, the demo and the bench
//!   run against.
//!
//! Around them: [`config`] (settings and where each came from), [`telemetry`] (logs, metrics),
//! [`serve`] (what `crusoe-ial serve` runs), and [`cli`], the other commands.

pub mod backends;
pub mod cli;
pub mod config;
pub mod core;
pub mod cycloid;
pub mod ial;
pub mod serve;
pub mod setting_error;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

/// What the bridge calls itself to Crusoe, so Crusoe can tell its calls from other clients'.
pub const USER_AGENT: &str = concat!("crusoe-ial/", env!("CARGO_PKG_VERSION"));
