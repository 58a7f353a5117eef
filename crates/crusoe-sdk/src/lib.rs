//! Crusoe's side: a small SDK for the part of Crusoe Cloud's v1alpha5 API the bridge uses.
//! It knows nothing of Cycle.

mod api;
mod client;
mod error;
pub mod ids;
pub mod metric_names;
pub mod profile;
mod retry;
pub mod signing;
pub mod types;

pub use api::OperationFamily;
pub use client::{
    ClientPool, ClientSettings, Credentials, CredentialsError, CrusoeClient, DEFAULT_ENDPOINT,
};
pub use error::{is_out_of_stock_code, ApiError, CrusoeError};
pub use retry::{RetryPolicy, WaitPolicy};
