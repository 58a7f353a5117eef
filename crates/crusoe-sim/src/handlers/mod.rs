//! The simulated endpoints, one file per family, each mirroring Crusoe's paths and shapes.

pub mod catalog;
pub mod compute;
pub mod custom_images;
pub mod kinds;
pub mod networking;
pub mod operations;
pub mod project_call;
pub mod storage;
