//! Cycle's side: the IAL HTTP surface, its wire types, the request wrapper and its extractor, the
//! response envelope, the error shape, and the layers around the routes. Knows nothing of Crusoe.

pub mod answer;
pub mod error;
pub mod extract;
pub mod layers;
pub mod request;
pub mod router;
pub mod types;

pub use answer::{Answer, Envelope};
pub use error::IalError;
pub use router::{router, IalOptions, Provider};
