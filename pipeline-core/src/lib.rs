//! StereoSpot pipeline core: the domain, the three steps (chunk, stereo, reassemble) as plain
//! async functions over ports, and the adapters that implement those ports (local and AWS).
pub mod adapters;
pub mod config;
pub mod convert;
pub mod convert_depth;
pub mod depth;
pub mod domain;
pub mod error;
pub mod events;
pub mod media;
pub mod photo;
pub mod ports;
pub mod steps;
pub mod stereo;
pub mod worker;

pub use error::{ErrorClass, PipelineError, Result};
