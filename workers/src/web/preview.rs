//! `POST /api/preview`: one still rendered with the chosen 3D settings before a whole film is
//! uploaded. The page grabs a frame of the chosen file in the browser (a `<video>` drawn on a
//! canvas, JPEG), sends it with the options, and shows the answer (a JPEG of the 3D still).
//!
//! The still goes through the converter's own photo path (`pipeline_core::photo`): the same
//! depth model the video-workers use (`MODEL_*` / `INFERENCE_*`, loaded on the first preview),
//! the same renderer and layouts. One preview renders at a time; others wait their turn.
use super::error::{ApiError, ApiResult};
use super::state::AppState;
use super::uploads::require_json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use pipeline_core::domain::JobOptions;
use pipeline_core::photo::{convert_photo, PhotoOptions};
use pipeline_core::ports::DepthEstimatorFactory;
use pipeline_core::steps::StereoSettings;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};

/// Largest preview request (a 1280-px JPEG frame is ~0.3 MB; base64 adds a third).
pub const MAX_PREVIEW_BYTES: usize = 4 << 20;
/// Largest still accepted, per side.
pub const MAX_SIDE: u32 = 2048;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    /// The still: a JPEG or PNG, base64 (a `data:` URL prefix is accepted).
    image: String,
    #[serde(default)]
    options: JobOptions,
}

/// The preview's model (loaded once) and its one-at-a-time gate.
#[derive(Default)]
pub struct Previewer {
    factory: OnceCell<Result<Arc<dyn DepthEstimatorFactory>, String>>,
    gate: Mutex<()>,
}

impl Previewer {
    async fn factory(&self) -> ApiResult<Arc<dyn DepthEstimatorFactory>> {
        let f = self
            .factory
            .get_or_init(|| async {
                tokio::task::spawn_blocking(|| {
                    pipeline_core::depth::remote::factory_from_env().map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            })
            .await;
        f.clone().map_err(|e| {
            tracing::error!(error = %e, "preview: the depth model cannot be loaded");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "previews are not available on this server (its depth model cannot be loaded)",
            )
        })
    }
}

pub async fn preview(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    require_json(&headers)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "a preview still must be under {} MB",
                MAX_PREVIEW_BYTES >> 20
            ))
        } else {
            ApiError::bad_request(e.body_text())
        }
    })?;
    let req: PreviewRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    req.options
        .validate()
        .map_err(|e| ApiError::bad_request(format!("options: {e}")))?;
    let data = req
        .image
        .split_once(";base64,")
        .map_or(req.image.as_str(), |(_, d)| d);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::bad_request(format!("image is not base64: {e}")))?;
    let ext = match bytes.get(..4) {
        Some([0xFF, 0xD8, 0xFF, _]) => "jpg",
        Some([0x89, b'P', b'N', b'G']) => "png",
        _ => return Err(ApiError::bad_request("image must be a JPEG or PNG still")),
    };
    let factory = st.preview.factory().await?;
    let settings = req.options.apply(&StereoSettings::default());
    let _turn = st.preview.gate.lock().await;
    // Scratch files and the render on a blocking thread: the server's threads never wait on disk.
    let rendered = tokio::task::spawn_blocking(move || {
        let io = |e: std::io::Error| {
            pipeline_core::PipelineError::worker(format!("preview scratch: {e}"))
        };
        let dir = tempfile::tempdir().map_err(io)?;
        let opts = PhotoOptions {
            input: dir.path().join(format!("still.{ext}")),
            output: dir.path().join("preview.jpg"),
            layout: settings.layout,
            params: settings.params,
            layout_options: settings.layout_options,
            depth: factory,
            jpeg_q: 4,
        };
        std::fs::write(&opts.input, &bytes).map_err(io)?;
        let info = pipeline_core::media::image::probe_image(&opts.input)?;
        let (w, h) = info.upright_size();
        if w > MAX_SIDE || h > MAX_SIDE {
            return Err(pipeline_core::PipelineError::bad_input(
                "still",
                format!("{w}x{h} is larger than {MAX_SIDE}x{MAX_SIDE}"),
            ));
        }
        convert_photo(&opts)?;
        std::fs::read(&opts.output).map_err(|e| pipeline_core::PipelineError::io(&opts.output, e))
    })
    .await
    .map_err(|e| ApiError::internal("preview task", e))?
    .map_err(|e| match e {
        pipeline_core::PipelineError::BadInput { reason, .. } => {
            ApiError::bad_request(format!("the still cannot be read: {reason}"))
        }
        other => ApiError::internal("preview", other),
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        rendered,
    )
        .into_response())
}
