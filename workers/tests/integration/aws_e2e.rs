//! The cloud flow end to end on a local AWS-protocol server (moto): real S3 notifications, SQS
//! queues with DLQs and DynamoDB tables, the three worker binaries as separate processes (two
//! video-workers), and the smoke-test's upload / follow / verify.
use crate::aws_support::*;
use smoke_test::run::{run, RunOptions};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_pipeline_converts_a_clip_with_two_video_workers() {
    let started = Instant::now();
    let cloud = cloud("e2e").await;
    // 6 s, a keyframe every second, SEGMENT_SECONDS=2: three segments.
    let input = clip(cloud.dir.path(), "e2e.mp4", "320x240", 6, 24, true);
    let mut procs = Procs::new(&cloud);
    let media = procs.spawn(Bin::Media, "media", &[]);
    let video_a = procs.spawn(Bin::Video, "video-a", &[]);
    let video_b = procs.spawn(Bin::Video, "video-b", &[]);
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
    assert_eq!(verified.output.frames, 144);
    assert_eq!(verified.output.coded, (640, 240));
    assert!(verified.output.audio);
    check_final(&input, &kept, (640, 240));
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
