//! One segment through decode -> depth -> render -> encode, each stage on its own thread with
//! bounded queues between them: memory stays flat however long the segment is, and the stages
//! overlap so the slowest one sets the pace.
use super::StereoSettings;
use crate::depth::Stabiliser;
use crate::domain::MediaInfo;
use crate::media::depth_video::DepthWriter;
use crate::media::{frame_times, output_format, Decoder, Encoder};
use crate::ports::{DepthEstimator, DepthMap, FrameRef};
use crate::stereo::{rgb48_to_rgb24, Renderer, SampleFormat};
use crate::{PipelineError, Result};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

/// Frames in flight between two stages.
const QUEUE_DEPTH: usize = 8;

/// Busy time per stage (time blocked on a queue is not counted) and frame count.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct SegmentStats {
    pub frames: u64,
    pub decode_s: f64,
    pub depth_s: f64,
    pub render_s: f64,
    pub encode_s: f64,
    pub wall_s: f64,
}

impl SegmentStats {
    pub fn add(&mut self, o: &SegmentStats) {
        self.frames += o.frames;
        self.decode_s += o.decode_s;
        self.depth_s += o.depth_s;
        self.render_s += o.render_s;
        self.encode_s += o.encode_s;
        self.wall_s += o.wall_s;
    }
}

struct Pair {
    frame: Vec<u8>,
    depth: DepthMap,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Decode `src`, estimate depth, render the stereo layout and encode to `out` (MP4).
/// `on_frames` is called with the number of frames encoded since its last call (every 8
/// frames) and answers whether to go on: `false` stops the render between frames with
/// [`PipelineError::JobCancelled`].
pub fn render_segment(
    src: &Path,
    media: &MediaInfo,
    out: &Path,
    settings: &StereoSettings,
    depth: &mut dyn DepthEstimator,
    on_frames: &(dyn Fn(u64) -> bool + Sync),
) -> Result<SegmentStats> {
    render_segment_after(src, None, media, out, settings, depth, on_frames)
}

/// The piece before the one to render, and what it is needed for.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    pub path: &'a Path,
    /// The source has an open GOP and the pieces are MPEG-TS: the piece's leading pictures
    /// reference this one, so it is decoded first (the two append byte-wise into one stream).
    /// Without it they would be lost.
    pub open_gop: bool,
}

/// [`render_segment`] for a piece after the first. `previous` serves two purposes; only the
/// piece's own frames are rendered:
/// - open GOP ([`Previous::open_gop`]): decoded first so the leading pictures decode;
/// - temporal depth ([`crate::depth::temporal`], relative models with `depth_window > 1`): its
///   last `depth_window - 1` frames go through the model and the stabiliser first, so the
///   piece's first frame gets the depth a continuous run gives it.
pub fn render_segment_after(
    src: &Path,
    previous: Option<Previous<'_>>,
    media: &MediaInfo,
    out: &Path,
    settings: &StereoSettings,
    depth: &mut dyn DepthEstimator,
    on_frames: &(dyn Fn(u64) -> bool + Sync),
) -> Result<SegmentStats> {
    let started = Instant::now();
    let format = output_format::choose(
        media,
        settings.layout,
        settings.encode.codec,
        settings.encode.pix_fmt,
    );
    // Each frame keeps its own presentation time (VFR sources included), relative to the
    // segment's first frame; the join places the segment at its start.
    let piece = frame_times(src)?;
    let frame_ns = (1e9 / media.fps().max(0.001)).round() as u64;
    let joined = out.with_file_name("preroll-and-piece.ts");
    let (times, decoder) = match previous {
        Some(prev) if prev.open_gop => {
            append_files(&[prev.path, src], &joined)?;
            let start = piece.pts.first().copied();
            let dec = Decoder::open_from(&joined, media, format.sixteen_bit, start)?;
            (piece.all_relative_ns(), dec)
        }
        _ => (
            piece.relative_ns(),
            Decoder::open(src, media, format.sixteen_bit)?,
        ),
    };
    let stabiliser = (depth.relative() && settings.depth_window > 1)
        .then(|| Stabiliser::new(settings.depth_window));
    // The previous piece's last frames, decoded on their own (its end never depends on the
    // piece after it), to warm the stabiliser up.
    let warmup = match (previous, &stabiliser) {
        (Some(prev), Some(st)) => Some(warmup_decoder(prev.path, media, &format, st)?),
        _ => None,
    };
    let mut decoders: Vec<(Decoder, bool)> = warmup.into_iter().map(|d| (d, true)).collect();
    decoders.push((decoder, false));
    let (w, h) = (decoders[0].0.width, decoders[0].0.height);
    let sample = if format.sixteen_bit {
        SampleFormat::Rgb48
    } else {
        SampleFormat::Rgb24
    };
    let mut renderer = Renderer::with_format(w, h, settings.layout, settings.params, sample)
        .with_options(settings.layout_options);
    let (ow, oh) = renderer.output_size();
    let encoder = Encoder::start(out, ow, oh, &format, &settings.encode, frame_ns)?;
    let batch = depth.max_batch().max(1);
    let listed = times.len();
    let clock = FrameClock { times, frame_ns };

    let (frame_tx, frame_rx) = sync_channel::<Decoded>(QUEUE_DEPTH);
    let (pair_tx, pair_rx) = sync_channel::<Pair>(QUEUE_DEPTH);
    let (out_tx, out_rx) = sync_channel::<Vec<u8>>(QUEUE_DEPTH);
    // Buffers flow back upstream for reuse: no allocation per frame in the steady state.
    let (free_in_tx, free_in_rx) = sync_channel::<Vec<u8>>(QUEUE_DEPTH * 3);
    let (free_out_tx, free_out_rx) = sync_channel::<Vec<u8>>(QUEUE_DEPTH * 2);

    let mut stats = SegmentStats::default();
    std::thread::scope(|s| {
        let dec = s.spawn(move || decode_stage(&mut decoders, frame_tx, free_in_rx));
        let ren =
            s.spawn(move || render_stage(&mut renderer, pair_rx, out_tx, free_in_tx, free_out_rx));
        let enc = s.spawn(move || encode_stage(encoder, &clock, out_rx, free_out_tx, on_frames));
        let model = DepthStage {
            est: depth,
            batch,
            stabiliser,
            depth_out: settings.keep_depth.then(|| depth_video_path(out)),
            writer: None,
            width: w,
            height: h,
            sample,
        };
        let dep = model.run(frame_rx, pair_tx);
        let (dec, ren, enc) = (stage(dec.join()), stage(ren.join()), stage(enc.join()));
        // Report the most upstream failure: a downstream stage only stops because of it.
        let ((decoded, warmed), t_dec) = dec?;
        let ((depthed, warmed_depth), t_dep) = dep?;
        let (rendered, t_ren) = ren?;
        let (encoded, t_enc) = enc?;
        if decoded == 0 {
            return Err(PipelineError::media(
                "ffmpeg",
                "segment decoded to zero frames",
            ));
        }
        if !(decoded == depthed && depthed == rendered && rendered == encoded)
            || warmed != warmed_depth
        {
            return Err(PipelineError::State(format!(
                "frame count mismatch: decoded {decoded} (+{warmed} pre-roll), depth {depthed} (+{warmed_depth}), rendered {rendered}, encoded {encoded}"
            )));
        }
        if decoded as usize != listed {
            tracing::warn!(
                decoded,
                listed,
                "decoder frame count differs from the container's packets; later frames keep the nominal rate"
            );
        }
        stats = SegmentStats {
            frames: encoded,
            decode_s: secs(t_dec),
            depth_s: secs(t_dep),
            render_s: secs(t_ren),
            encode_s: secs(t_enc),
            wall_s: 0.0,
        };
        Ok(())
    })?;
    stats.wall_s = secs(started.elapsed());
    Ok(stats)
}

/// A stage thread's result; a panic becomes an error.
fn stage<T>(r: std::thread::Result<Result<T>>) -> Result<T> {
    r.unwrap_or_else(|_| Err(PipelineError::State("pipeline stage panicked".into())))
}

/// `out` = the concatenation of `parts` (MPEG-TS pieces join byte-wise into one stream).
fn append_files(parts: &[&Path], out: &Path) -> Result<()> {
    let mut w = std::fs::File::create(out).map_err(|e| PipelineError::io(out, e))?;
    for p in parts {
        let mut r = std::fs::File::open(p).map_err(|e| PipelineError::io(*p, e))?;
        std::io::copy(&mut r, &mut w).map_err(|e| PipelineError::io(out, e))?;
    }
    Ok(())
}

/// A decoder for the last `preroll_frames()` frames of `prev` (all of it if shorter).
fn warmup_decoder(
    prev: &Path,
    media: &MediaInfo,
    format: &output_format::OutputFormat,
    st: &Stabiliser,
) -> Result<Decoder> {
    let times = frame_times(prev)?;
    let want = st.preroll_frames();
    let start = times.pts.len().checked_sub(want).map(|i| times.pts[i]);
    Decoder::open_from(prev, media, format.sixteen_bit, start)
}

/// A decoded frame; `warmup` frames only feed the depth stabiliser.
struct Decoded {
    frame: Vec<u8>,
    warmup: bool,
}

/// Decode every decoder in turn; returns (frames to render, warm-up frames).
fn decode_stage(
    decoders: &mut [(Decoder, bool)],
    tx: SyncSender<Decoded>,
    free: Receiver<Vec<u8>>,
) -> Result<((u64, u64), Duration)> {
    let (mut n, mut warm, mut busy) = (0u64, 0u64, Duration::ZERO);
    for (dec, warmup) in decoders.iter_mut() {
        loop {
            let mut buf = free.try_recv().unwrap_or_default();
            let t = Instant::now();
            let more = dec.read_frame(&mut buf)?;
            busy += t.elapsed();
            if !more {
                break;
            }
            let warmup = *warmup;
            if tx.send(Decoded { frame: buf, warmup }).is_err() {
                return Ok(((n, warm), busy)); // downstream failed; it reports why
            }
            if warmup {
                warm += 1;
            } else {
                n += 1;
            }
        }
    }
    Ok(((n, warm), busy))
}

/// Where [`render_segment_after`] writes the segment's depth maps when
/// [`StereoSettings::keep_depth`] is set: next to `out`.
pub fn depth_video_path(out: &Path) -> std::path::PathBuf {
    out.with_file_name("depth.mkv")
}

struct DepthStage<'a> {
    est: &'a mut dyn DepthEstimator,
    batch: usize,
    stabiliser: Option<Stabiliser>,
    /// Keep the maps rendered (not the warm-up's) in this depth video.
    depth_out: Option<std::path::PathBuf>,
    writer: Option<DepthWriter>,
    width: u32,
    height: u32,
    sample: SampleFormat,
}

impl DepthStage<'_> {
    /// Batches of decoded frames through the model (and the stabiliser, in presentation
    /// order); returns (frames passed on, warm-up frames consumed).
    fn run(
        mut self,
        rx: Receiver<Decoded>,
        tx: SyncSender<Pair>,
    ) -> Result<((u64, u64), Duration)> {
        let (mut n, mut warm, mut busy) = (0u64, 0u64, Duration::ZERO);
        let mut items: Vec<Decoded> = Vec::with_capacity(self.batch);
        // Depth models take 8-bit RGB: 16-bit frames are narrowed into these reused buffers.
        let mut narrow: Vec<Vec<u8>> = Vec::new();
        while let Ok(first) = rx.recv() {
            items.push(first);
            // Fill the batch with what is already decoded; never wait for more.
            while items.len() < self.batch {
                match rx.try_recv() {
                    Ok(f) => items.push(f),
                    Err(_) => break,
                }
            }
            let t = Instant::now();
            if self.sample == SampleFormat::Rgb48 {
                narrow.resize_with(items.len(), Vec::new);
                for (src, dst) in items.iter().zip(narrow.iter_mut()) {
                    rgb48_to_rgb24(&src.frame, dst);
                }
            }
            let (w, h) = (self.width, self.height);
            let refs: Vec<FrameRef<'_>> = (0..items.len())
                .map(|i| FrameRef {
                    width: w,
                    height: h,
                    rgb: match self.sample {
                        SampleFormat::Rgb24 => &items[i].frame,
                        SampleFormat::Rgb48 => &narrow[i],
                    },
                })
                .collect();
            let mut depths = self.est.estimate(&refs)?;
            if depths.len() != items.len() {
                return Err(PipelineError::State(format!(
                    "depth model returned {} maps for {} frames",
                    depths.len(),
                    items.len()
                )));
            }
            if let Some(st) = &mut self.stabiliser {
                for (f, d) in refs.iter().zip(depths.iter_mut()) {
                    st.push(f, d);
                }
            }
            drop(refs);
            busy += t.elapsed();
            for (item, depth) in items.drain(..).zip(depths) {
                if item.warmup {
                    warm += 1;
                    continue;
                }
                self.keep(&depth)?;
                if tx
                    .send(Pair {
                        frame: item.frame,
                        depth,
                    })
                    .is_err()
                {
                    return Ok(((n, warm), busy));
                }
                n += 1;
            }
        }
        if let Some(w) = self.writer.take() {
            let kept = w.finish()?;
            if kept != n {
                return Err(PipelineError::State(format!(
                    "depth video has {kept} maps for {n} frames"
                )));
            }
        }
        Ok(((n, warm), busy))
    }

    fn keep(&mut self, map: &DepthMap) -> Result<()> {
        let Some(path) = &self.depth_out else {
            return Ok(());
        };
        if self.writer.is_none() {
            self.writer = Some(DepthWriter::start(path, map.width, map.height)?);
        }
        match &mut self.writer {
            Some(w) => w.write(map),
            None => Ok(()),
        }
    }
}

fn render_stage(
    r: &mut Renderer,
    rx: Receiver<Pair>,
    tx: SyncSender<Vec<u8>>,
    free_in: SyncSender<Vec<u8>>,
    free_out: Receiver<Vec<u8>>,
) -> Result<(u64, Duration)> {
    let (mut n, mut busy) = (0u64, Duration::ZERO);
    while let Ok(p) = rx.recv() {
        let mut out = free_out.try_recv().unwrap_or_default();
        let t = Instant::now();
        r.render(
            &p.frame,
            &p.depth.data,
            p.depth.width,
            p.depth.height,
            &mut out,
        )
        .map_err(|e| PipelineError::State(format!("render: {e}")))?;
        busy += t.elapsed();
        let _ = free_in.try_send(p.frame);
        if tx.send(out).is_err() {
            return Ok((n, busy));
        }
        n += 1;
    }
    Ok((n, busy))
}

/// Presentation times of a segment's frames (ns from its first); frames past the probed list
/// (a decoder that yields more frames than the container lists packets) continue at the
/// nominal rate.
struct FrameClock {
    times: Vec<u64>,
    frame_ns: u64,
}

impl FrameClock {
    fn pts_ns(&self, n: usize) -> u64 {
        match (self.times.get(n), self.times.last()) {
            (Some(t), _) => *t,
            (None, Some(last)) => last + self.frame_ns * (n + 1 - self.times.len()) as u64,
            (None, None) => self.frame_ns * n as u64,
        }
    }
}

fn encode_stage(
    mut enc: Encoder,
    clock: &FrameClock,
    rx: Receiver<Vec<u8>>,
    free: SyncSender<Vec<u8>>,
    on_frames: &(dyn Fn(u64) -> bool + Sync),
) -> Result<(u64, Duration)> {
    let (mut n, mut busy) = (0u64, Duration::ZERO);
    let mut unreported = 0u64;
    while let Ok(frame) = rx.recv() {
        let t = Instant::now();
        enc.write_frame(&frame, clock.pts_ns(n as usize))?;
        busy += t.elapsed();
        let _ = free.try_send(frame);
        n += 1;
        unreported += 1;
        if unreported >= 8 {
            let go_on = on_frames(unreported);
            unreported = 0;
            if !go_on {
                // Dropping the encoder ends ffmpeg; the stages upstream stop when their
                // channel closes.
                return Err(PipelineError::JobCancelled);
            }
        }
    }
    let t = Instant::now();
    let written = enc.finish()?;
    busy += t.elapsed();
    if unreported > 0 {
        on_frames(unreported);
    }
    Ok((written.min(n), busy))
}
