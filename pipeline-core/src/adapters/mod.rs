//! Adapters implementing the ports.
pub mod local;
