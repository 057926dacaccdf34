//! StereoSpot smoke test: a local AWS-protocol server for tests (`moto`), idempotent
//! provisioning of the pipeline's resources (`provision`), and the end-to-end run (`run`).
pub mod moto;
pub mod provision;
pub mod run;
