//! `stereospot convert --export-depth FILE`: after a conversion, the segments' depth videos
//! (kept next to the stereo segments, `keys::output_depth_key`) are joined into FILE and its
//! sidecar is written beside it. Both appear under temporary names and are renamed when complete.
use crate::depth::depth_file::{fingerprint, sidecar_path, DepthSidecar, FORMAT, VERSION};
use crate::domain::{keys, JobId};
use crate::media::depth_video::{join_depth, map_size};
use crate::ports::ObjectStore;
use crate::{PipelineError, Result};
use std::path::Path;

/// What the sidecar says about the run.
pub struct DepthExport<'a> {
    pub to: &'a Path,
    pub input: &'a Path,
    pub model: &'a str,
    pub depth_window: usize,
    /// The delivered 3D film: its frame count and timestamps are the depth file's.
    pub film: &'a Path,
}

pub(crate) async fn export_depth(
    output: &dyn ObjectStore,
    job: &JobId,
    segments: u32,
    scratch: &Path,
    e: &DepthExport<'_>,
) -> Result<()> {
    let mut pieces = Vec::new();
    for i in 0..segments {
        let key = keys::output_depth_key(job, i);
        let path = output.local_path(&key).ok_or_else(|| {
            PipelineError::State(format!(
                "{key} missing: the segment was rendered without keeping its depth (run again)"
            ))
        })?;
        if !path.is_file() {
            return Err(PipelineError::State(format!(
                "{key} missing: the segment was rendered without keeping its depth"
            )));
        }
        pieces.push(path);
    }
    let dir = match e.to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".stereospot-depth-")
        .suffix(".mkv")
        .tempfile_in(&dir)
        .map_err(|err| PipelineError::io(&dir, err))?;
    let (to, input, film) = (
        e.to.to_path_buf(),
        e.input.to_path_buf(),
        e.film.to_path_buf(),
    );
    let (model, window) = (e.model.to_string(), e.depth_window);
    let list = scratch.join(format!("depth-{job}.ffconcat"));
    let tmp_path = tmp.path().to_path_buf();
    let sidecar = tokio::task::spawn_blocking(move || -> Result<DepthSidecar> {
        std::fs::create_dir_all(list.parent().unwrap_or(Path::new(".")))
            .map_err(|err| PipelineError::io(&list, err))?;
        join_depth(&pieces, &list, &tmp_path)?;
        let _ = std::fs::remove_file(&list);
        let (map_width, map_height) = map_size(&tmp_path)?;
        let times = crate::media::frame_times(&film)?.relative_ns();
        Ok(DepthSidecar {
            format: FORMAT.into(),
            version: VERSION,
            model,
            depth_window: window,
            input: fingerprint(&input)?,
            frames: times.len() as u64,
            map_width,
            map_height,
            timestamps_ns: times,
        })
    })
    .await
    .map_err(|err| PipelineError::from_join("depth export", err))??;
    let side = sidecar_path(&to);
    let side_tmp = dir.join(format!(".stereospot-depth-{job}.json"));
    sidecar.write(&side_tmp)?;
    tmp.persist(&to)
        .map_err(|err| PipelineError::io(&to, err.error))?;
    std::fs::rename(&side_tmp, &side).map_err(|err| PipelineError::io(&side, err))?;
    Ok(())
}
