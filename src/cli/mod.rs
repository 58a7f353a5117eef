//! The commands beside `serve`: each a module with its arguments and its `run`.

pub mod bench;
pub mod check;
pub mod demo;
mod demo_cloudsigma;
pub mod gc;
pub mod healthcheck;
pub mod image;
pub mod simulate;
