//! Configuration: environment variable names (the contract `infra/` fills) and parsing.
pub mod env_names;
