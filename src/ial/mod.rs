//! Cycle's side: the IAL HTTP surface, its envelope and its error shape. Knows nothing of Crusoe.

pub mod error;
pub mod router;

pub use error::IalError;
pub use router::router;
