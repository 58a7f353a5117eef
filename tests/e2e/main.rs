//! The bridge end to end, its commands, and the files it ships, in one test binary: a module per
//! subject, the helpers in `tests/common`. One binary links once and its tests share the runner's
//! threads, where a binary per file linked the bridge and its dependencies 24 times.
//!
//! The tests that need a process of their own are apart: those that read what every test in the
//! process logs or counts (`tests/cycloid_logs.rs`, `tests/lifecycle_logs.rs`,
//! `tests/names_filter_fallbacks.rs`), and the QEMU boots (`tests/boot`), which would take the
//! cores from the timing these tests check.

#[path = "../common/mod.rs"]
mod common;

mod bench;
mod bridge_faults;
mod bridge_idempotency;
mod bridge_input;
mod bridge_lifecycle;
mod bridge_lost_answers;
mod bridge_modes;
mod bridge_status_reads;
mod bridge_tenancy;
mod cli;
mod cloudsigma;
mod cloudsigma_commands;
mod cycle_requests;
mod cycloid;
mod demo;
mod deploy;
mod gc;
mod image_build;
mod layering;
mod limits;
mod observability;
mod openapi_drift;
mod properties;
mod readme;
mod schema_fuzz;
mod secrets;
mod sim_process;
