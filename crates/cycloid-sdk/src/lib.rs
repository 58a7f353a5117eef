//! A typed client for the calls the bridge makes to Cycloid: send an event, create, find and
//! delete inventory resources. Paths, the bearer header, the `{"data": ...}` envelope and the
//! left-hand-side bracket filters are those of Cycloid's CLI (cycloidio/cycloid-cli,
//! `cmd/apiclient`); fields and enums those of Cycloid's API reference.
//!
//! Each method makes one attempt: retrying, and deciding what is worth retrying
//! ([`CycloidError::is_transient`]), is the caller's.

mod client;
mod error;
mod types;

pub use client::{CycloidClient, Inventory, DEFAULT_URL};
pub use error::CycloidError;
pub use types::{
    EventType, Filter, InvalidOrganization, InventoryResource, NewEvent, NewInventoryResource,
    Organization, Severity, Tag,
};
