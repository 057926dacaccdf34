//! A fixed number of model sessions shared by the requests: a semaphore bounds how many run at
//! once, each running one takes an idle estimator, and inference runs on a blocking thread.
use pipeline_core::depth::remote::wire;
use pipeline_core::ports::{DepthError, DepthEstimator, DepthEstimatorFactory, DepthMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why a request could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Every worker stayed busy for the whole queue timeout.
    #[error("all {workers} model workers stayed busy for {waited:?}; retry later")]
    Busy { workers: usize, waited: Duration },
    /// The model failed on this input.
    #[error("{0}")]
    Model(DepthError),
    /// The server itself failed (a panic in inference, a session that cannot be created).
    #[error("{0}")]
    Internal(String),
}

pub struct Pool {
    factory: Arc<dyn DepthEstimatorFactory>,
    idle: Mutex<Vec<Box<dyn DepthEstimator>>>,
    permits: Arc<Semaphore>,
    workers: usize,
    queue_timeout: Duration,
}

impl Pool {
    /// Create `workers` estimators up front (so a bad model or device fails at start-up).
    pub fn new(
        factory: Arc<dyn DepthEstimatorFactory>,
        workers: usize,
        queue_timeout: Duration,
    ) -> Result<Pool, DepthError> {
        let workers = workers.max(1);
        let idle = (0..workers)
            .map(|_| factory.create())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pool {
            factory,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(workers)),
            workers,
            queue_timeout,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    fn take(&self) -> Result<Box<dyn DepthEstimator>, RunError> {
        let spare = self
            .idle
            .lock()
            .map_err(|_| RunError::Internal("estimator pool lock poisoned".into()))?
            .pop();
        match spare {
            Some(e) => Ok(e),
            // Only after a panic lost one: replace it.
            None => self
                .factory
                .create()
                .map_err(|e| RunError::Internal(format!("creating a model session: {e}"))),
        }
    }

    fn give_back(&self, est: Box<dyn DepthEstimator>) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(est);
        }
    }

    /// Run the model on a checked frames request (`body` passed [`wire::decode_frames`]).
    /// Waits up to the queue timeout for a worker. The worker slot and the estimator are released
    /// by the blocking task itself, so a client that disconnects cannot leak either.
    pub async fn run(self: &Arc<Self>, body: bytes::Bytes) -> Result<Vec<DepthMap>, RunError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| RunError::Busy {
                workers: self.workers,
                waited: self.queue_timeout,
            })?
            .map_err(|_| RunError::Internal("the server is shutting down".into()))?;
        let mut est = self.take()?;
        let pool = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let result = match wire::decode_frames(&body) {
                Ok(view) => est.estimate(&view.frames()).map_err(RunError::Model),
                Err(e) => Err(RunError::Internal(format!("request changed under us: {e}"))),
            };
            pool.give_back(est);
            drop(permit);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(e) => Err(RunError::Internal(format!("inference task failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::ports::FrameRef;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Takes `delay` per call and answers nearness 0.5 at the input size.
    struct Slow {
        delay: Duration,
    }

    impl DepthEstimator for Slow {
        fn describe(&self) -> String {
            "slow".into()
        }
        fn max_batch(&self) -> usize {
            8
        }
        fn estimate(&mut self, frames: &[FrameRef<'_>]) -> Result<Vec<DepthMap>, DepthError> {
            std::thread::sleep(self.delay);
            Ok(frames
                .iter()
                .map(|f| DepthMap {
                    width: f.width,
                    height: f.height,
                    data: vec![0.5; (f.width * f.height) as usize],
                })
                .collect())
        }
    }

    struct SlowFactory {
        created: AtomicUsize,
        delay: Duration,
    }

    impl DepthEstimatorFactory for SlowFactory {
        fn create(&self) -> Result<Box<dyn DepthEstimator>, DepthError> {
            self.created.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Slow { delay: self.delay }))
        }
    }

    fn request(n: u32) -> bytes::Bytes {
        let mut body = Vec::new();
        wire::begin_frames(&mut body, n, 4, 2);
        body.resize(wire::frames_request_len(n as usize, 4, 2), 9);
        body.into()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extra_requests_wait_then_get_busy() {
        let factory = Arc::new(SlowFactory {
            created: AtomicUsize::new(0),
            delay: Duration::from_millis(400),
        });
        let pool =
            Arc::new(Pool::new(factory.clone(), 1, Duration::from_millis(100)).expect("pool"));
        assert_eq!(
            factory.created.load(Ordering::SeqCst),
            1,
            "created up front"
        );
        let (a, b) = tokio::join!(pool.run(request(3)), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            pool.run(request(1)).await
        });
        let maps = a.expect("first runs");
        assert_eq!(maps.len(), 3);
        assert_eq!((maps[0].width, maps[0].height), (4, 2));
        assert!(
            matches!(b, Err(RunError::Busy { workers: 1, .. })),
            "second should be refused: {b:?}"
        );
        // The worker came back: the next request runs, with the same estimator.
        assert_eq!(pool.run(request(2)).await.expect("again").len(), 2);
        assert_eq!(factory.created.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_requests_run_when_a_worker_frees_up() {
        let factory = Arc::new(SlowFactory {
            created: AtomicUsize::new(0),
            delay: Duration::from_millis(100),
        });
        let pool = Arc::new(Pool::new(factory, 1, Duration::from_secs(5)).expect("pool"));
        let started = std::time::Instant::now();
        let (a, b, c) = tokio::join!(
            pool.run(request(1)),
            pool.run(request(1)),
            pool.run(request(1))
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        // One at a time: three runs of 100 ms take at least 300 ms.
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
