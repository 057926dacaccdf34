//! Ports: the traits the steps are written against. Adapters (local, AWS) implement them.
pub mod depth;
pub mod job_store;
pub mod object_store;
pub mod queue;

pub use depth::{DepthError, DepthEstimator, DepthEstimatorFactory, DepthMap, FrameRef};
pub use job_store::{JobCursor, JobOrder, JobPage, JobStore};
pub use object_store::{CompleteUploadError, ObjectStore, Presigned, UploadedPart};
pub use queue::{Queue, ReceivedMessage};
