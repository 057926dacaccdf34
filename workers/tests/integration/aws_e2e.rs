//! The cloud flow end to end on a local AWS-protocol server (moto): real S3 notifications, SQS
//! queues with DLQs and DynamoDB tables, the three worker binaries as separate processes (two
//! video-workers), and the smoke-test's upload / follow / verify.
use crate::aws_support::*;
use smoke_test::run::{run, RunOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A phone-style variable-frame-rate clip with two audio tracks: 3 s at 24 fps then 3 s at
/// 12 fps (108 frames, a keyframe every 12 frames), English AAC and French AC-3.
fn vfr_two_audio_clip(dir: &Path) -> PathBuf {
    let p = dir.join("e2e.mp4");
    crate::util::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=3",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=12:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=6",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:duration=6",
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1:a=0[v]",
        "-map",
        "[v]",
        "-map",
        "2:a",
        "-map",
        "3:a",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "12",
        "-keyint_min",
        "12",
        "-sc_threshold",
        "0",
        "-c:a:0",
        "aac",
        "-c:a:1",
        "ac3",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=fra",
        p.to_str().expect("utf-8 path"),
    ]);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_pipeline_converts_a_clip_with_two_video_workers() {
    let started = Instant::now();
    let cloud = cloud("e2e").await;
    // 6 s of VFR video with two audio tracks, SEGMENT_SECONDS=2: three segments.
    let input = vfr_two_audio_clip(cloud.dir.path());
    let mut procs = Procs::new(&cloud);
    let media = procs.spawn(Bin::Media, "media", &[]);
    // A relative ("learned") model: each segment after the first fetches the previous piece
    // from S3 to warm up the temporal depth window.
    let model = crate::temporal::wobbling_model(cloud.dir.path());
    let model_env = [
        ("MODEL_PATH", model.to_str().expect("utf-8")),
        ("MODEL_PROFILE", "depth-anything-v2"),
    ];
    let video_a = procs.spawn(Bin::Video, "video-a", &model_env);
    let video_b = procs.spawn(Bin::Video, "video-b", &model_env);
    let reassembler = procs.spawn(Bin::Reassembler, "reassembler", &[]);

    let kept = cloud.dir.path().join("final.mp4");
    let opts = RunOptions {
        timeout: Duration::from_secs(120),
        poll: Duration::from_millis(250),
        keep_final: Some(kept.clone()),
        ..RunOptions::default()
    };
    let mut lines: Vec<String> = Vec::new();
    let result = run(&cloud.conf, &cloud.res, &input, &opts, &mut |l: &str| {
        lines.push(l.to_string())
    })
    .await;
    let verified = result
        .unwrap_or_else(|e| panic!("smoke run: {e:#}\n{}\n{}", lines.join("\n"), procs.dump()));

    // The smoke-test's verification, and our own.
    assert_eq!(verified.output.frames, 108);
    assert_eq!(verified.output.coded, (640, 240));
    assert!(verified.output.audio);
    check_final(&input, &kept, (640, 240));
    // Every frame at its own time (within one tick), both audio tracks with their languages.
    let ((pin, tb_in), (pout, tb_out)) = (
        crate::faithful::video_pts(&input),
        crate::faithful::video_pts(&kept),
    );
    assert_eq!((pout.len(), &tb_out), (pin.len(), &tb_in));
    for (i, (a, b)) in pin.iter().zip(&pout).enumerate() {
        assert!(
            ((a - pin[0]) - (b - pout[0])).abs() <= 1,
            "frame {i}: {a} vs {b} ({tb_in})"
        );
    }
    let p = crate::util::probe(&kept);
    let langs: Vec<&str> = p["streams"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| s["codec_type"] == "audio")
                .map(|s| s["tags"]["language"].as_str().unwrap_or(""))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(langs, ["eng", "fra"], "both audio tracks");
    let warmed: Vec<String> = [video_a, video_b]
        .iter()
        .flat_map(|w| {
            procs
                .log(*w)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| l.contains("previous piece used") && l.contains("\"depth_warm_up\":true"))
        .collect();
    assert_eq!(warmed.len(), 2, "segments 1 and 2 warm up: {warmed:?}");
    assert!(
        lines.iter().any(|l| l.contains("PROCESSING"))
            && lines.iter().any(|l| l.contains("COMPLETED")),
        "progress lines: {lines:#?}"
    );

    // Exactly one job, COMPLETED, with exact counters.
    let job = the_only_job(&cloud, "COMPLETED").await;
    assert_eq!(job["job_id"], verified.job_id.to_string());
    assert_eq!(job["segments_total"], "3");
    assert_eq!(job["segments_done"], "3");
    assert_eq!(
        job.get("output_key").map(String::as_str),
        Some(format!("jobs/{}/final.mp4", verified.job_id).as_str())
    );
    assert_eq!(
        scan(&cloud, &cloud.res.segment_completions_table)
            .await
            .len(),
        3
    );

    // Every message consumed: nothing left in the queues, nothing dead-lettered.
    let drained = eventually(Duration::from_secs(15), || all_queues_empty(&cloud)).await;
    assert!(
        drained,
        "queues not drained:\n{}",
        queue_report(&cloud).await
    );

    // JSON logs: the video-workers' lines about each segment carry job_id and segment.
    let id = verified.job_id.to_string();
    let mut rendered = Vec::new();
    for w in [video_a, video_b] {
        for line in procs.json_log(w) {
            if message(&line) == "segment rendered" {
                assert_eq!(
                    field(&line, "job_id").and_then(|v| v.as_str()),
                    Some(id.as_str()),
                    "{line}"
                );
                let seg = field(&line, "segment").and_then(|v| v.as_u64());
                rendered.push(seg.unwrap_or_else(|| panic!("no segment field: {line}")));
            }
        }
    }
    rendered.sort_unstable();
    assert_eq!(rendered, [0, 1, 2], "segments rendered once each");

    // SIGTERM: every worker stops polling and exits 0.
    for i in [media, video_a, video_b, reassembler] {
        procs.sigterm(i);
    }
    for i in [media, video_a, video_b, reassembler] {
        let status = procs.wait_exit(i, Duration::from_secs(10));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{} exit: {status:?}\n{}",
            procs.list[i].name,
            procs.dump()
        );
    }
    eprintln!(
        "aws e2e: job done {:.1} s after upload, test {:.1} s",
        verified.elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
