//! Cycle's side: the IAL HTTP surface, its wire types, the request wrapper, the response envelope
//! and the error shape. Knows nothing of Crusoe.

pub mod error;
pub mod request;
pub mod router;
pub mod types;

pub use error::IalError;
pub use router::{router, Envelope, IalOptions, Provider};
