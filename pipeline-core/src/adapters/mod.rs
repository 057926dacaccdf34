//! Adapters implementing the ports.
#[cfg(feature = "aws")]
pub mod aws;
pub mod local;
