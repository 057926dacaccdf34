//! Benchmark (ignored by default): per-segment coordination overhead of the cloud flow — S3
//! transfers, DynamoDB records, SQS receive/delete — as a fraction of the segment's compute, for
//! 10 s segments of 640x360 24 fps video, against moto on this machine.
//!
//! ```text
//! cargo test -p stereospot-workers --test integration coordination_bench -- --ignored --nocapture
//! ```
//!
//! One cycle per segment is exactly what a video-worker and the reassembler do for it: receive
//! the segment notification, run the stereo step (download, job lookup, render, upload, frame
//! progress), delete; receive the output notification, run the completion step (head, idempotent
//! record, claim on the last one), delete. Compute is the render's own wall time inside that
//! cycle (`render_segment`); overhead is the rest of the cycle.
use crate::aws_support::*;
use crate::util;
use pipeline_core::adapters::aws::{S3Store, SqsQueue};
use pipeline_core::depth::factory_from_args;
use pipeline_core::domain::{JobId, MediaInfo};
use pipeline_core::events::{parse_s3_message, S3Message};
use pipeline_core::ports::{ObjectStore, Queue, ReceivedMessage};
use pipeline_core::steps::{render_segment, Context, Progress, SegmentStats, Settings};
use pipeline_core::worker::{handle_message, Role};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stereospot_workers::aws_worker::context;

const SEGMENT_SECONDS: u32 = 10;
const SEGMENTS: u32 = 3;

/// Records the render statistics of each segment.
#[derive(Default)]
struct Tap(Mutex<Vec<(u32, SegmentStats)>>);

impl Progress for Tap {
    fn segment_rendered(&self, _job: &JobId, segment: u32, stats: &SegmentStats) {
        if let Ok(mut v) = self.0.lock() {
            v.push((segment, *stats));
        }
    }
}

/// The next message of `q` that is not an s3:TestEvent (those are deleted).
async fn next_event(q: &SqsQueue) -> ReceivedMessage {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no message on {}", q.name());
        for m in q.receive(1, Duration::from_secs(1)).await.expect("receive") {
            if parse_s3_message(&m.body) == Ok(S3Message::TestEvent) {
                q.delete(&m.receipt).await.expect("delete");
            } else {
                return m;
            }
        }
    }
}

async fn handle(ctx: &Context, q: &SqsQueue, role: Role) {
    let m = next_event(q).await;
    handle_message(ctx, role, &m).await.expect("step");
    q.delete(&m.receipt).await.expect("delete");
}

/// 30 s of 640x360 24 fps with a keyframe every 10 s: three 240-frame segments. Real footage
/// (the shared Big Buck Bunny clip) when present, a lavfi test pattern otherwise.
fn bench_input(dir: &Path) -> (std::path::PathBuf, &'static str) {
    let out = dir.join("bench.mp4");
    let shared = util::workspace().join("../shared/media/big_buck_bunny_360p_24fps_60s.mp4");
    let secs = (SEGMENT_SECONDS * SEGMENTS).to_string();
    let keys = format!("expr:gte(t,n_forced*{SEGMENT_SECONDS})");
    let o = out.to_str().expect("utf-8");
    if shared.exists() {
        let s = shared.to_str().expect("utf-8");
        util::ffmpeg(&[
            "-i",
            s,
            "-t",
            &secs,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-force_key_frames",
            &keys,
            "-c:a",
            "copy",
            o,
        ]);
        (out, "Big Buck Bunny 640x360 24 fps (first 30 s)")
    } else {
        let src = format!("testsrc2=size=640x360:rate=24:duration={secs}");
        util::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-force_key_frames",
            &keys,
            o,
        ]);
        (out, "lavfi testsrc2 640x360 24 fps")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn coordination_bench() {
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        std::env::set_var("ORT_DYLIB_PATH", util::ort_lib());
    }
    let cloud = cloud("bench").await;
    let res = cloud.res.clone();
    let (input, what) = bench_input(cloud.dir.path());
    let tap = Arc::new(Tap::default());
    let depth = Arc::new(factory_from_args(None, None, "cpu", 4).expect("embedded model"));
    let mut ctx = context(
        &cloud.conf,
        &res,
        Settings {
            segment_seconds: SEGMENT_SECONDS as f64,
            ..Settings::default()
        },
        depth.clone(),
        &cloud.dir.path().join("scratch"),
    );
    ctx.progress = tap.clone();
    let chunk_q = SqsQueue::new(&cloud.conf, &res.chunking_queue_url);
    let video_q = SqsQueue::new(&cloud.conf, &res.video_worker_queue_url);
    let output_q = SqsQueue::new(&cloud.conf, &res.segment_output_queue_url);
    let reassembly_q = SqsQueue::new(&cloud.conf, &res.reassembly_queue_url);

    let t = Instant::now();
    S3Store::new(&cloud.conf, &res.input_bucket)
        .put_file("input/bench.mp4", &input, &[])
        .await
        .expect("upload");
    let upload_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    handle(&ctx, &chunk_q, Role::Chunk).await;
    let chunk_s = t.elapsed().as_secs_f64();

    let mut cycles = Vec::new();
    for _ in 0..SEGMENTS {
        let t = Instant::now();
        handle(&ctx, &video_q, Role::Stereo).await;
        handle(&ctx, &output_q, Role::Complete).await;
        cycles.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let m = reassembly_q
        .receive(1, Duration::from_secs(5))
        .await
        .expect("receive")
        .pop()
        .expect("reassembly request");
    handle_message(&ctx, Role::Reassemble, &m)
        .await
        .expect("join");
    reassembly_q.delete(&m.receipt).await.expect("delete");
    let join_s = t.elapsed().as_secs_f64();

    let stats = tap.0.lock().expect("stats").clone();
    assert_eq!(stats.len(), SEGMENTS as usize);

    // Reference: the same segments rendered from local files, no cloud at all.
    let jobs_list = jobs(&cloud).await;
    let job = JobId::parse(&jobs_list[0].0).expect("job id");
    let record = ctx.jobs.get_job(&job).await.expect("get").expect("job");
    assert_eq!(record.status.as_str(), "COMPLETED");
    let media: MediaInfo = record.media.clone().expect("media");
    let seg_keys = ctx
        .input
        .list(&pipeline_core::domain::keys::source_segments_prefix(&job))
        .await
        .expect("list");
    let mut local = Vec::new();
    for (i, key) in seg_keys.iter().enumerate() {
        let src = cloud.dir.path().join(format!("src-{i}.ts"));
        ctx.input.get_to_file(key, &src).await.expect("get");
        let out = cloud.dir.path().join(format!("local-{i}.mp4"));
        let (media, settings) = (media.clone(), ctx.settings.stereo.clone());
        let depth = depth.clone();
        let s = tokio::task::spawn_blocking(move || {
            use pipeline_core::ports::DepthEstimatorFactory;
            let mut est = depth.create().expect("estimator");
            render_segment(&src, &media, &out, &settings, est.as_mut(), &|_| true)
        })
        .await
        .expect("task")
        .expect("render");
        local.push(s.wall_s);
    }

    println!("\ncoordination overhead per segment ({what}; moto 5.2.5 on 127.0.0.1)");
    println!("segment  frames  cycle_s  render_s  overhead_s  overhead/render  local_render_s");
    let (mut sum_over, mut sum_render) = (0.0, 0.0);
    // Cycles ran in queue order; match them to the render that happened inside each.
    for (k, (cycle, (_, s))) in cycles.iter().zip(stats.iter()).enumerate() {
        let over = cycle - s.wall_s;
        sum_over += over;
        sum_render += s.wall_s;
        println!(
            "{:>7}  {:>6}  {:>7.3}  {:>8.3}  {:>10.3}  {:>14.2}%  {:>14.3}",
            stats[k].0,
            s.frames,
            cycle,
            s.wall_s,
            over,
            100.0 * over / s.wall_s,
            local.get(stats[k].0 as usize).copied().unwrap_or(f64::NAN)
        );
    }
    println!(
        "mean overhead {:.3} s per segment = {:.2}% of render (target < 5%)",
        sum_over / SEGMENTS as f64,
        100.0 * sum_over / sum_render
    );
    println!(
        "per job: upload {upload_s:.3} s, chunk {chunk_s:.3} s (probe + split + {SEGMENTS} uploads), \
         reassemble {join_s:.3} s"
    );
    assert!(sum_over > 0.0 && sum_render > 0.0);
}
