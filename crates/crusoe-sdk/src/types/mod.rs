//! Crusoe's wire types, named as in its OpenAPI (v1; v1alpha5's are the same with another suffix). Required fields are plain fields,
//! optional ones `Option`; unknown fields are ignored so that additions on Crusoe's side do not
//! break the bridge.

mod catalog;
mod disk;
mod load_balancer;
mod network;
mod operation;
mod project;
mod vm;

pub use catalog::*;
pub use disk::*;
pub use load_balancer::*;
pub use network::*;
pub use operation::*;
pub use project::*;
pub use vm::*;

use serde::{Deserialize, Deserializer};

/// Crusoe's server is written in Go, where an empty slice can be encoded as `null`; a required
/// array that arrives as `null` is read as empty rather than failing the whole answer.
pub(crate) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The `{items: [...]}` envelope of Crusoe's list answers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Items<T> {
    #[serde(
        deserialize_with = "null_as_empty",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub items: Vec<T>,
}
