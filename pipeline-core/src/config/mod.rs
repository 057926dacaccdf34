//! Configuration: environment variable names (the contract `infra/` fills), the retry policy.
pub mod env_names;
pub mod retry;
