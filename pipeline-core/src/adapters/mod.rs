//! Adapters implementing the ports.
pub mod local;
#[cfg(feature = "aws")]
pub mod aws;
