//! The client half shared by the remote backends: resize frames to the model input (the same
//! [`Resampler`] the ONNX Runtime path uses), pack them as u8, split batches to the payload
//! limit, call the transport with retries, decode the nearness maps.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::BlockingRetryable;

use super::wire::{self, MAX_REQUEST_BYTES};
use crate::depth::preprocess::Resampler;
use crate::depth::profile::{Normalization, Profile};
use crate::ports::depth::{DepthError, DepthEstimator, DepthEstimatorFactory, DepthMap, FrameRef};

/// Resize without normalising: values stay in 0..=255.
const RAW: Normalization = Normalization {
    scale: 1.0,
    mean: [0.0; 3],
    std: [1.0; 3],
};

/// Settings of a remote estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSettings {
    /// The profile the server runs: it decides the model input size, chosen here.
    pub profile: Profile,
    /// Largest batch `estimate` accepts (and most frames per request).
    pub batch: usize,
    /// Limit of one call (connect + send + inference + receive).
    pub timeout: Duration,
    /// Attempts per request on transient errors (1 = no retry).
    pub max_attempts: u32,
    /// Largest request body; batches are split below it.
    pub max_request_bytes: usize,
}

impl RemoteSettings {
    pub fn new(profile: Profile) -> RemoteSettings {
        RemoteSettings {
            profile,
            batch: 4,
            timeout: Duration::from_secs(60),
            max_attempts: crate::config::retry::ATTEMPTS as u32,
            max_request_bytes: MAX_REQUEST_BYTES,
        }
    }
}

/// One request/response exchange with an inference endpoint (a single attempt).
pub trait Transport: Send + Sync + Clone + 'static {
    /// Where requests go, for messages.
    fn describe(&self) -> String;
    /// Send a frames request; the depth response body on success. Errors are classified:
    /// [`DepthError::Transient`] is retried, anything else fails at once.
    fn invoke(&self, body: &[u8]) -> Result<Vec<u8>, DepthError>;
}

/// Resizes frames to the model input and writes them as a wire request.
#[derive(Debug, Default)]
pub struct FramePacker {
    resampler: Resampler,
    planar: Vec<f32>,
}

impl FramePacker {
    pub fn new() -> FramePacker {
        FramePacker::default()
    }

    /// Write a frames request for `frames` resized to `width` x `height` into `buf`.
    pub fn pack(
        &mut self,
        frames: &[FrameRef<'_>],
        width: u32,
        height: u32,
        buf: &mut Vec<u8>,
    ) -> Result<(), DepthError> {
        let count = u32::try_from(frames.len())
            .map_err(|_| DepthError::Inference("too many frames in one request".into()))?;
        let plane = width as usize * height as usize;
        wire::begin_frames(buf, count, width, height);
        self.planar.resize(3 * plane, 0.0);
        for (i, frame) in frames.iter().enumerate() {
            self.resampler
                .resize_normalize(frame, width, height, &RAW, &mut self.planar)
                .map_err(|e| DepthError::Inference(format!("frame {i}: {e}")))?;
            let (r, rest) = self.planar.split_at(plane);
            let (g, b) = rest.split_at(plane);
            let start = buf.len();
            buf.resize(start + 3 * plane, 0);
            for (((px, r), g), b) in buf[start..].chunks_exact_mut(3).zip(r).zip(g).zip(b) {
                px[0] = to_u8(*r);
                px[1] = to_u8(*g);
                px[2] = to_u8(*b);
            }
        }
        Ok(())
    }
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// A [`DepthEstimator`] that runs the model behind a [`Transport`].
pub struct RemoteEstimator<T: Transport> {
    transport: T,
    settings: Arc<RemoteSettings>,
    packer: FramePacker,
    /// Request body, reused between calls.
    body: Vec<u8>,
}

impl<T: Transport> RemoteEstimator<T> {
    pub fn new(transport: T, settings: Arc<RemoteSettings>) -> RemoteEstimator<T> {
        RemoteEstimator {
            transport,
            settings,
            packer: FramePacker::new(),
            body: Vec::new(),
        }
    }

    fn invoke_with_retry(&self) -> Result<Vec<u8>, DepthError> {
        let attempts = self.settings.max_attempts.max(1);
        // The one retry policy of every remote call (config::retry).
        let backoff = crate::config::retry::backoff(attempts as usize);
        let transport = &self.transport;
        let body = &self.body;
        (|| transport.invoke(body))
            .retry(backoff)
            .sleep(std::thread::sleep)
            .when(DepthError::is_transient)
            .notify(|e, wait| {
                tracing::warn!(endpoint = %transport.describe(), error = %e, retry_in = ?wait, "inference call failed; retrying");
            })
            .call()
            .map_err(|e| match e {
                DepthError::Transient(m) if attempts > 1 => {
                    DepthError::Transient(format!("{m} (gave up after {attempts} attempts)"))
                }
                other => other,
            })
    }
}

impl<T: Transport> DepthEstimator for RemoteEstimator<T> {
    fn describe(&self) -> String {
        describe(&self.transport, &self.settings)
    }

    fn max_batch(&self) -> usize {
        self.settings.batch.max(1)
    }

    fn relative(&self) -> bool {
        self.settings.profile.output != crate::depth::OutputMeaning::Nearness01
    }

    fn estimate(&mut self, frames: &[FrameRef<'_>]) -> Result<Vec<DepthMap>, DepthError> {
        let Some(first) = frames.first() else {
            return Ok(Vec::new());
        };
        let (fw, fh) = (first.width, first.height);
        if let Some((i, f)) = frames
            .iter()
            .enumerate()
            .find(|(_, f)| (f.width, f.height) != (fw, fh))
        {
            return Err(DepthError::Inference(format!(
                "frame {i} is {}x{}, frame 0 is {fw}x{fh}: a batch shares one size",
                f.width, f.height
            )));
        }
        let (iw, ih) = self.settings.profile.resize.input_size(fw, fh);
        let fit = wire::frames_per_request(iw, ih, self.settings.max_request_bytes);
        if fit == 0 {
            return Err(DepthError::Inference(format!(
                "one frame at the model input size {iw}x{ih} takes {} bytes, over the {}-byte \
                 request limit",
                wire::frames_request_len(1, iw, ih),
                self.settings.max_request_bytes
            )));
        }
        let per_request = fit.min(self.max_batch());
        let mut maps = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(per_request) {
            let mut body = std::mem::take(&mut self.body);
            let packed = self.packer.pack(chunk, iw, ih, &mut body);
            self.body = body;
            packed?;
            let response = self.invoke_with_retry()?;
            let got = wire::decode_depth(&response, Some(chunk.len())).map_err(|e| {
                DepthError::Inference(format!(
                    "{} answered with an unusable depth response: {e}",
                    self.transport.describe()
                ))
            })?;
            maps.extend(got);
        }
        Ok(maps)
    }
}

fn describe<T: Transport>(transport: &T, s: &RemoteSettings) -> String {
    format!(
        "{} | profile {} | input {} | batch {} | timeout {:.0?} | {} attempt(s)",
        transport.describe(),
        s.profile.name,
        s.profile.resize,
        s.batch.max(1),
        s.timeout,
        s.max_attempts.max(1)
    )
}

/// Builds [`RemoteEstimator`]s sharing one transport (connection pool, SDK client).
pub struct RemoteFactory<T: Transport> {
    transport: T,
    settings: Arc<RemoteSettings>,
}

impl<T: Transport> RemoteFactory<T> {
    pub fn new(transport: T, settings: RemoteSettings) -> RemoteFactory<T> {
        let factory = RemoteFactory {
            transport,
            settings: Arc::new(settings),
        };
        tracing::info!(depth = %factory.describe(), "remote depth backend ready");
        factory
    }

    pub fn describe(&self) -> String {
        describe(&self.transport, &self.settings)
    }

    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }
}

impl<T: Transport> fmt::Debug for RemoteFactory<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<T: Transport> DepthEstimatorFactory for RemoteFactory<T> {
    fn create(&self) -> Result<Box<dyn DepthEstimator>, DepthError> {
        Ok(Box::new(RemoteEstimator::new(
            self.transport.clone(),
            self.settings.clone(),
        )))
    }
}

/// The readable part of an error response body: the `error`/`message`/`Message` string of a
/// JSON object, else the text itself (shortened).
pub fn error_message_from_body(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["error", "message", "Message", "OriginalMessage"] {
            if let Some(serde_json::Value::String(s)) = map.get(key) {
                // A SageMaker ModelError carries the container's own JSON body as a string.
                let inner = error_message_from_body(s.as_bytes());
                return if inner.is_empty() { s.clone() } else { inner };
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(500) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A transport that answers like a server running a "nearness = red channel" model and
    /// records what it was sent; it can fail the first `fail_first` calls.
    #[derive(Clone)]
    struct Echo {
        calls: Arc<AtomicUsize>,
        sizes: Arc<Mutex<Vec<(u32, u32, u32)>>>,
        fail_first: usize,
        failure: fn() -> DepthError,
    }

    impl Echo {
        fn new(fail_first: usize, failure: fn() -> DepthError) -> Echo {
            Echo {
                calls: Arc::new(AtomicUsize::new(0)),
                sizes: Arc::new(Mutex::new(Vec::new())),
                fail_first,
                failure,
            }
        }
    }

    impl Transport for Echo {
        fn describe(&self) -> String {
            "echo".into()
        }
        fn invoke(&self, body: &[u8]) -> Result<Vec<u8>, DepthError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call < self.fail_first {
                return Err((self.failure)());
            }
            let view =
                wire::decode_frames(body).map_err(|e| DepthError::Inference(e.to_string()))?;
            let h = view.header;
            self.sizes
                .lock()
                .map_err(|_| DepthError::Inference("lock".into()))?
                .push((h.count, h.width, h.height));
            let maps: Vec<DepthMap> = view
                .frames()
                .iter()
                .map(|f| DepthMap {
                    width: f.width,
                    height: f.height,
                    data: f
                        .rgb
                        .chunks_exact(3)
                        .map(|p| f32::from(p[0]) / 255.0)
                        .collect(),
                })
                .collect();
            let mut out = Vec::new();
            wire::encode_depth(&mut out, &maps)
                .map_err(|e| DepthError::Inference(e.to_string()))?;
            Ok(out)
        }
    }

    fn settings(batch: usize, max_request_bytes: usize) -> RemoteSettings {
        RemoteSettings {
            batch,
            max_attempts: 3,
            max_request_bytes,
            ..RemoteSettings::new(Profile::stereospot_cues())
        }
    }

    fn gradient(w: u32, h: u32) -> Vec<u8> {
        (0..h)
            .flat_map(|_| (0..w).flat_map(move |x| [(x * 255 / (w - 1)) as u8, 7, 200]))
            .collect()
    }

    #[test]
    fn frames_travel_at_model_size_and_maps_come_back_in_order() {
        let echo = Echo::new(0, || DepthError::Transient("x".into()));
        let factory = RemoteFactory::new(echo.clone(), settings(4, MAX_REQUEST_BYTES));
        let mut est = factory.create().expect("create");
        assert_eq!(est.max_batch(), 4);
        let rgb = gradient(640, 360);
        let frames = vec![
            FrameRef {
                width: 640,
                height: 360,
                rgb: &rgb,
            };
            6
        ];
        let maps = est.estimate(&frames).expect("estimate");
        assert_eq!(maps.len(), 6);
        // stereospot-cues: 640x360 -> 344x192, split 4 + 2 by the batch size.
        assert_eq!(
            *echo.sizes.lock().expect("lock"),
            vec![(4, 344, 192), (2, 344, 192)]
        );
        for m in &maps {
            assert_eq!((m.width, m.height), (344, 192));
            // Left edge dark, right edge bright: the horizontal gradient survived the resize.
            assert!(
                m.data[0] < 0.01 && m.data[343] > 0.99,
                "{} {}",
                m.data[0],
                m.data[343]
            );
            assert!(m.data[..344].windows(2).all(|w| w[0] <= w[1]));
        }
        assert!(est.describe().contains("profile stereospot-cues"));
    }

    #[test]
    fn packed_pixels_are_the_rounded_local_resize() {
        let rgb: Vec<u8> = (0..64 * 36 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let frame = FrameRef {
            width: 64,
            height: 36,
            rgb: &rgb,
        };
        let mut buf = Vec::new();
        FramePacker::new()
            .pack(&[frame], 40, 24, &mut buf)
            .expect("pack");
        let mut planar = vec![0.0; 3 * 40 * 24];
        Resampler::new()
            .resize_normalize(&frame, 40, 24, &RAW, &mut planar)
            .expect("resize");
        let view = wire::decode_frames(&buf).expect("decode");
        let sent = view.frame(0).expect("frame 0").rgb;
        for (p, px) in sent.chunks_exact(3).enumerate() {
            for c in 0..3 {
                let exact = planar[c * 960 + p];
                assert!(
                    (f32::from(px[c]) - exact).abs() <= 0.5 + 1e-3,
                    "{exact} vs {}",
                    px[c]
                );
            }
        }
        // Packing a frame already at the model size is lossless.
        let mut again = Vec::new();
        FramePacker::new()
            .pack(
                &[FrameRef {
                    width: 40,
                    height: 24,
                    rgb: sent,
                }],
                40,
                24,
                &mut again,
            )
            .expect("pack");
        assert_eq!(again, buf);
    }

    #[test]
    fn batches_split_to_the_payload_limit() {
        let echo = Echo::new(0, || DepthError::Transient("x".into()));
        // Room for 2 frames of 344x192 (198,144 bytes each) per request.
        let limit = wire::frames_request_len(2, 344, 192) + 10;
        let mut est = RemoteEstimator::new(echo.clone(), Arc::new(settings(16, limit)));
        let rgb = gradient(344, 192);
        let frames = vec![
            FrameRef {
                width: 344,
                height: 192,
                rgb: &rgb,
            };
            5
        ];
        assert_eq!(est.estimate(&frames).expect("estimate").len(), 5);
        let sizes: Vec<u32> = echo
            .sizes
            .lock()
            .expect("lock")
            .iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        // Not even one frame fits: a permanent error naming the limit.
        let mut tiny = RemoteEstimator::new(echo, Arc::new(settings(16, 1000)));
        let err = tiny.estimate(&frames[..1]).expect_err("too big");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("1000-byte request limit"), "{err}");
    }

    #[test]
    fn transient_errors_are_retried_permanent_ones_are_not() {
        let rgb = gradient(344, 192);
        let frames = [FrameRef {
            width: 344,
            height: 192,
            rgb: &rgb,
        }];
        let flaky = Echo::new(2, || DepthError::Transient("503 busy".into()));
        let mut est = RemoteEstimator::new(flaky.clone(), Arc::new(settings(4, MAX_REQUEST_BYTES)));
        assert_eq!(est.estimate(&frames).expect("third attempt works").len(), 1);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);

        let down = Echo::new(usize::MAX, || DepthError::Transient("503 busy".into()));
        let mut est = RemoteEstimator::new(down.clone(), Arc::new(settings(4, MAX_REQUEST_BYTES)));
        let err = est.estimate(&frames).expect_err("always busy");
        assert!(err.is_transient());
        assert!(
            err.to_string().contains("gave up after 3 attempts"),
            "{err}"
        );
        assert_eq!(down.calls.load(Ordering::SeqCst), 3);

        let broken = Echo::new(usize::MAX, || DepthError::Inference("model error".into()));
        let mut est =
            RemoteEstimator::new(broken.clone(), Arc::new(settings(4, MAX_REQUEST_BYTES)));
        let err = est.estimate(&frames).expect_err("model error");
        assert!(!err.is_transient());
        assert_eq!(broken.calls.load(Ordering::SeqCst), 1, "no retry");
    }

    #[test]
    fn mixed_sizes_and_empty_batches() {
        let echo = Echo::new(0, || DepthError::Transient("x".into()));
        let mut est = RemoteEstimator::new(echo.clone(), Arc::new(settings(4, MAX_REQUEST_BYTES)));
        assert!(est.estimate(&[]).expect("empty").is_empty());
        let a = gradient(8, 8);
        let b = gradient(16, 8);
        let err = est
            .estimate(&[
                FrameRef {
                    width: 8,
                    height: 8,
                    rgb: &a,
                },
                FrameRef {
                    width: 16,
                    height: 8,
                    rgb: &b,
                },
            ])
            .expect_err("mixed");
        assert!(err.to_string().contains("frame 1 is 16x8"), "{err}");
        assert_eq!(echo.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn error_bodies_are_made_readable() {
        assert_eq!(
            error_message_from_body(br#"{"error":"bad magic"}"#),
            "bad magic"
        );
        assert_eq!(
            error_message_from_body(
                br#"{"Message":"Received server error","OriginalMessage":"{\"error\":\"x\"}"}"#
            ),
            "Received server error"
        );
        assert_eq!(
            error_message_from_body(br#"{"OriginalMessage":"{\"error\":\"gather failed\"}"}"#),
            "gather failed"
        );
        assert_eq!(error_message_from_body(b"  plain text \n"), "plain text");
        let long = "x".repeat(2000);
        assert_eq!(error_message_from_body(long.as_bytes()).len(), 503);
    }
}
