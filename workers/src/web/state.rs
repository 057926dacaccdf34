//! What every handler shares: configuration, the two buckets, the job store, shutdown. Handlers
//! see only the ports (`ObjectStore`, `JobStore`): the S3 and DynamoDB layout stays in the AWS
//! adapters.
use super::config::WebConfig;
use pipeline_core::adapters::aws::{AwsResources, DynamoJobStore, S3Store};
use pipeline_core::ports::{JobStore, ObjectStore};
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<WebConfig>,
    pub res: Arc<AwsResources>,
    /// Uploads go here (`input/`, presigned); HeadObject resolves job ids.
    pub input: Arc<dyn ObjectStore>,
    /// Results are presigned from here (`jobs/<id>/final.mp4`).
    pub output: Arc<dyn ObjectStore>,
    pub jobs: Arc<dyn JobStore>,
    /// Turns true on SIGTERM: open event streams end so the server can stop.
    pub shutdown: watch::Receiver<bool>,
    /// Still previews (the depth model is loaded on the first one).
    pub preview: Arc<super::preview::Previewer>,
}

impl AppState {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        res: AwsResources,
        cfg: WebConfig,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        AppState {
            input: Arc::new(S3Store::new(sdk, &res.input_bucket)),
            output: Arc::new(S3Store::new(sdk, &res.output_bucket)),
            jobs: Arc::new(DynamoJobStore::new(
                sdk,
                &res.jobs_table,
                &res.segment_completions_table,
                &res.reassembly_triggered_table,
            )),
            cfg: Arc::new(cfg),
            res: Arc::new(res),
            shutdown,
            preview: Arc::default(),
        }
    }
}
