//! Ports: the traits the steps are written against. Adapters (local, AWS) implement them.
pub mod depth;
pub mod job_store;
pub mod object_store;
pub mod queue;

pub use depth::{DepthError, DepthEstimator, DepthEstimatorFactory, DepthMap, FrameRef};
pub use job_store::JobStore;
pub use object_store::ObjectStore;
pub use queue::{Queue, ReceivedMessage};
