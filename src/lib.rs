//! crusoe-ial: Cycle's Infrastructure Abstraction Layer (IAL) served on Crusoe Cloud.
//!
//! Layers (see DESIGN.md): `ial` is Cycle's side, `crusoe` is Crusoe's side, the bridge between
//! them comes next; `config`, `telemetry` and the CLI commands sit around them.

pub mod bench;
pub mod bridge;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod gc;
pub mod healthcheck;
pub mod ial;
pub mod image;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

/// What the bridge calls itself to Crusoe, so Crusoe can tell its calls from other clients'.
pub const USER_AGENT: &str = concat!("crusoe-ial/", env!("CARGO_PKG_VERSION"));
