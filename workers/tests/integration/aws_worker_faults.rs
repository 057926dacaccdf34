//! Worker faults against the cloud flow on moto, with the worker binaries as processes: a
//! vanished output segment, ffmpeg missing, a full scratch disk, a queue that does not exist, a
//! panic in a step. Operator faults never fail a user's job: the broken worker stops (non-zero)
//! and releases its message, a healthy one completes the job; bad data fails the job once with
//! its reason; nothing is dead-lettered.
use crate::aws_support::*;
use pipeline_core::adapters::aws::S3Store;
use pipeline_core::domain::keys;
use pipeline_core::ports::ObjectStore;
use smoke_test::run::{follow, upload, RunOptions};
use std::time::Duration;

fn opts() -> RunOptions {
    RunOptions {
        timeout: Duration::from_secs(150),
        poll: Duration::from_millis(250),
        ..RunOptions::default()
    }
}

fn quiet() -> impl FnMut(&str) + Send {
    |_: &str| {}
}

/// Every queue and dead-letter queue empty (waits for in-flight deletes).
async fn assert_drained(cloud: &Cloud, procs: &Procs) {
    let drained = eventually(Duration::from_secs(30), || all_queues_empty(cloud)).await;
    assert!(
        drained,
        "queues:\n{}\n{}",
        queue_report(cloud).await,
        procs.dump()
    );
}

/// Lines of process `i`'s JSON log whose message contains `text`.
fn lines_with(procs: &Procs, i: usize, text: &str) -> Vec<serde_json::Value> {
    procs
        .json_log(i)
        .into_iter()
        .filter(|l| message(l).contains(text))
        .collect()
}

/// Upload a 4 s clip (two 2 s segments) with a media-worker and a reassembler running, and wait
/// until both source segments are queued for the video-workers.
async fn chunked_job(cloud: &Cloud, procs: &mut Procs, name: &str) -> smoke_test::run::Upload {
    let input = clip(cloud.dir.path(), name, "320x240", 4, 24, true);
    procs.spawn(Bin::Media, "media", &[]);
    procs.spawn(Bin::Reassembler, "reassembler", &[]);
    let up = upload(&cloud.conf, &cloud.res, &input)
        .await
        .expect("upload");
    let queued = eventually(Duration::from_secs(60), || async {
        // Two segments plus the queue's s3:TestEvent.
        queue_counts(cloud, &cloud.res.video_worker_queue_url)
            .await
            .0
            >= 3
    })
    .await;
    assert!(
        queued,
        "chunking:\n{}\n{}",
        queue_report(cloud).await,
        procs.dump()
    );
    up
}

/// A stereo segment deleted before its completion is recorded: the job ends FAILED with a
/// reason naming the segment (never stuck in PROCESSING), every message is consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_vanished_output_segment_fails_the_job_with_a_reason() {
    let cloud = cloud("vanish").await;
    let res = cloud.res.clone();
    let input = clip(cloud.dir.path(), "vanish.mp4", "320x240", 4, 24, false);
    let mut procs = Procs::new(&cloud);
    procs.spawn(Bin::Media, "media", &[]);
    procs.spawn(Bin::Video, "video", &[]);
    let up = upload(&cloud.conf, &res, &input).await.expect("upload");
    let out = S3Store::new(&cloud.conf, &res.output_bucket);
    let prefix = keys::output_segments_prefix(&up.job_id);
    let rendered = eventually(Duration::from_secs(90), || async {
        out.list(&prefix).await.map(|k| k.len()).unwrap_or(0) == 2
            && queue_counts(&cloud, &res.segment_output_queue_url).await.0 >= 3
    })
    .await;
    assert!(rendered, "{}", procs.dump());
    let lost = keys::output_segment_key(&up.job_id, 1);
    out.delete(&lost).await.expect("delete segment");

    let reassembler = procs.spawn(Bin::Reassembler, "reassembler", &[]);
    let err = follow(&cloud.conf, &res, &up.job_id, &opts(), &mut quiet())
        .await
        .expect_err("a job with a lost segment cannot complete");
    let err = format!("{err:#}");
    assert!(
        err.contains("FAILED") && err.contains(&lost) && err.contains("vanished"),
        "{err}\n{}",
        procs.dump()
    );
    assert_drained(&cloud, &procs).await;
    let j = the_only_job(&cloud, "FAILED").await;
    assert!(j["error"].contains("vanished"), "{j:?}");
    assert_eq!(
        lines_with(&procs, reassembler, "job failed").len(),
        1,
        "failed once:\n{}",
        procs.dump()
    );
    assert!(procs.alive(reassembler), "bad data does not stop a worker");
}

/// A video-worker with no ffmpeg on PATH stops at start-up (exit 2, one line naming ffmpeg)
/// without touching a message; a healthy one then completes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_video_worker_without_ffmpeg_exits_at_startup() {
    let cloud = cloud("noffmpeg").await;
    let mut procs = Procs::new(&cloud);
    let up = chunked_job(&cloud, &mut procs, "noffmpeg.mp4").await;
    let empty = cloud.dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).expect("dir");
    let broken = procs.spawn(
        Bin::Video,
        "video-broken",
        &[("PATH", empty.to_str().expect("utf-8"))],
    );
    assert_eq!(procs.exit_code(broken, Duration::from_secs(20)), Some(2));
    let failed = lines_with(&procs, broken, "start-up check failed");
    assert_eq!(failed.len(), 1, "{}", procs.dump());
    assert!(
        message(&failed[0]).contains("cannot run ffmpeg"),
        "{failed:?}"
    );
    assert_eq!(
        queue_counts(&cloud, &cloud.res.video_worker_queue_url)
            .await
            .1,
        0,
        "no message taken"
    );

    procs.spawn(Bin::Video, "video", &[]);
    follow(&cloud.conf, &cloud.res, &up.job_id, &opts(), &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    the_only_job(&cloud, "COMPLETED").await;
    assert_drained(&cloud, &procs).await;
}

/// A video-worker whose scratch directory is on a full file system (a 16 KiB tmpfs in its own
/// mount namespace): the download fails with ENOSPC, which is this worker's fault: the message
/// is released at once, the worker exits 3, the job is untouched and a healthy worker
/// completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_full_scratch_disk_releases_the_message_to_a_healthy_worker() {
    let cloud = cloud("enospc").await;
    let mut procs = Procs::new(&cloud);
    let up = chunked_job(&cloud, &mut procs, "enospc.mp4").await;
    let tiny = cloud.dir.path().join("tiny");
    std::fs::create_dir_all(&tiny).expect("dir");
    let tiny_s = tiny.to_str().expect("utf-8");
    let mount = format!("mount -t tmpfs -o size=16k tmpfs {tiny_s} && exec \"$0\" \"$@\"");
    let full = procs.spawn_wrapped(
        Bin::Video,
        "video-full",
        &[("TMPDIR", tiny_s), ("SCRATCH_MIN_FREE_MB", "0")],
        &["unshare", "--mount", "sh", "-c", &mount],
    );
    // (A private tmpfs needs CAP_SYS_ADMIN, as root has on the build machine: `unshare` or
    // `mount` failing shows in the log below.)
    let code = procs.exit_code(full, Duration::from_secs(60));
    assert_eq!(code, Some(3), "worker-fatal exit:\n{}", procs.dump());
    let fatal = lines_with(&procs, full, "message released for another worker");
    assert_eq!(fatal.len(), 1, "{}", procs.dump());
    let e = field(&fatal[0], "error")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    assert!(e.contains("No space left on device"), "{e}");
    assert!(
        !lines_with(&procs, full, "worker unhealthy").is_empty(),
        "{}",
        procs.dump()
    );
    let j = the_only_job(&cloud, "PROCESSING").await;
    assert!(!j.contains_key("error"), "job untouched: {j:?}");

    procs.spawn(Bin::Video, "video", &[]);
    follow(&cloud.conf, &cloud.res, &up.job_id, &opts(), &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    the_only_job(&cloud, "COMPLETED").await;
    assert_drained(&cloud, &procs).await;
}

/// A worker whose queue URL names no queue: exit 2 at start-up with one line naming the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_worker_with_a_missing_queue_exits_with_a_clear_message() {
    let cloud = cloud("noqueue").await;
    let mut procs = Procs::new(&cloud);
    let url = format!("{}/123456789012/no-such-queue", cloud.moto.endpoint());
    let w = procs.spawn(Bin::Media, "media", &[("CHUNKING_QUEUE_URL", &url)]);
    assert_eq!(procs.exit_code(w, Duration::from_secs(30)), Some(2));
    let failed = lines_with(&procs, w, "start-up check failed");
    assert_eq!(failed.len(), 1, "{}", procs.dump());
    let m = message(&failed[0]);
    assert!(
        m.contains(&url) && (m.contains("NonExistentQueue") || m.contains("QueueDoesNotExist")),
        "{m}\n{}",
        procs.dump()
    );
}

/// A panic inside a step: logged (as a JSON line with its location), the message released at
/// once, the worker exits 3; a healthy worker completes the job, nothing is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_panic_in_a_step_is_logged_and_the_job_completes_elsewhere() {
    let cloud = cloud("panic").await;
    let mut procs = Procs::new(&cloud);
    let up = chunked_job(&cloud, &mut procs, "panic.mp4").await;
    let bad = procs.spawn(
        Bin::Video,
        "video-panics",
        &[("STEREOSPOT_TEST_PANIC", "stereo")],
    );
    assert_eq!(procs.exit_code(bad, Duration::from_secs(60)), Some(3));
    let panics = lines_with(&procs, bad, "panic");
    let hook = panics
        .iter()
        .find(|l| message(l) == "panic")
        .unwrap_or_else(|| panic!("panic not logged:\n{}", procs.dump()));
    let text = field(hook, "panic").and_then(|v| v.as_str()).unwrap_or("");
    assert!(
        text.contains("injected panic") && text.contains("dispatch.rs"),
        "{text}"
    );
    let fatal = lines_with(&procs, bad, "message released for another worker");
    assert_eq!(fatal.len(), 1, "{}", procs.dump());
    assert!(
        field(&fatal[0], "error")
            .and_then(|v| v.as_str())
            .is_some_and(|e| e.contains("panicked")),
        "{fatal:?}"
    );
    // Released, not waiting out a visibility timeout: visible again at once.
    let (visible, in_flight) = queue_counts(&cloud, &cloud.res.video_worker_queue_url).await;
    assert!(
        in_flight == 0 && visible >= 2,
        "{visible} visible, {in_flight} in flight\n{}",
        procs.dump()
    );
    the_only_job(&cloud, "PROCESSING").await;

    procs.spawn(Bin::Video, "video", &[]);
    follow(&cloud.conf, &cloud.res, &up.job_id, &opts(), &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    the_only_job(&cloud, "COMPLETED").await;
    assert_drained(&cloud, &procs).await;
}

/// The last segment's completion message is lost (deleted before any reassembler sees it):
/// the job would stay PROCESSING forever. Two reassemblers sweep (every second, stuck after 3 s
/// without progress per outstanding segment): the one whose conditional write wins records the
/// lost completion from the output segment, the join follows once, and the job completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sweeper_finishes_a_job_whose_last_completion_message_was_lost() {
    use pipeline_core::adapters::aws::{DynamoJobStore, SqsQueue};
    use pipeline_core::domain::{JobId, JobRecord};
    use pipeline_core::events::{parse_s3_message, S3Message};
    use pipeline_core::ports::{JobStore, Queue};
    let cloud = cloud("sweep").await;
    let res = cloud.res.clone();
    let input = clip(cloud.dir.path(), "sweep.mp4", "320x240", 4, 24, true);
    let mut procs = Procs::new(&cloud);
    procs.spawn(Bin::Media, "media", &[]);
    procs.spawn(Bin::Video, "video", &[]);
    let up = upload(&cloud.conf, &res, &input).await.expect("upload");
    let out = S3Store::new(&cloud.conf, &res.output_bucket);
    let prefix = keys::output_segments_prefix(&up.job_id);
    let rendered = eventually(Duration::from_secs(90), || async {
        out.list(&prefix).await.map(|k| k.len()).unwrap_or(0) == 2
            && queue_counts(&cloud, &res.segment_output_queue_url).await.0 >= 3
    })
    .await;
    assert!(rendered, "{}", procs.dump());
    // Lose the notification of segment 1; put the others back.
    let q = SqsQueue::new(&cloud.conf, &res.segment_output_queue_url);
    let lost = keys::output_segment_key(&up.job_id, 1);
    let mut dropped = 0;
    for _ in 0..5 {
        for m in q.receive(10, Duration::ZERO).await.expect("receive") {
            let is_lost = matches!(parse_s3_message(&m.body), Ok(S3Message::Created(evs)) if evs[0].key == lost);
            if is_lost {
                q.delete(&m.receipt).await.expect("delete");
                dropped += 1;
            } else {
                q.set_visibility(&m.receipt, Duration::ZERO)
                    .await
                    .expect("release");
            }
        }
        if dropped > 0 {
            break;
        }
    }
    assert_eq!(dropped, 1, "{}", queue_report(&cloud).await);

    let sweep = [
        ("SWEEP_INTERVAL_SECONDS", "1"),
        ("SWEEP_STALL_SECONDS", "3"),
    ];
    let r1 = procs.spawn(Bin::Reassembler, "reassembler-1", &sweep);
    // Two sweepers, their ticks half an interval apart. Plain moto applies conditional writes
    // without a lock (see `SerialMoto`), so two sweeps in the same millisecond can both pass
    // the guard here, which DynamoDB never allows; the guard's one-winner property is checked
    // directly at the end of this test.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r2 = procs.spawn(Bin::Reassembler, "reassembler-2", &sweep);
    follow(&cloud.conf, &res, &up.job_id, &opts(), &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    let j = the_only_job(&cloud, "COMPLETED").await;
    assert_eq!(j["segments_done"], "2");
    assert_eq!(scan(&cloud, &res.segment_completions_table).await.len(), 2);
    assert_eq!(scan(&cloud, &res.reassembly_triggered_table).await.len(), 1);
    let count =
        |text: &str| lines_with(&procs, r1, text).len() + lines_with(&procs, r2, text).len();
    assert!(
        count("sweep: lost completion recorded") >= 1,
        "{}",
        procs.dump()
    );
    assert_eq!(count("job completed"), 1, "one join:\n{}", procs.dump());
    assert_drained(&cloud, &procs).await;

    // The sweepers' conditional write: of two that read the same record, one wins.
    let store = DynamoJobStore::new(
        &cloud.conf,
        &res.jobs_table,
        &res.segment_completions_table,
        &res.reassembly_triggered_table,
    );
    let id = JobId::derive(&res.input_bucket, "input/other.mp4", "e", "");
    store
        .create_job(&JobRecord::new(
            id.clone(),
            &res.input_bucket,
            "input/other.mp4",
        ))
        .await
        .expect("create");
    let seen = store
        .get_job(&id)
        .await
        .expect("get")
        .expect("job")
        .updated_at;
    assert!(store.mark_swept(&id, seen).await.expect("mark"));
    assert!(!store.mark_swept(&id, seen).await.expect("mark"));
    let swept = store.get_job(&id).await.expect("get").expect("job");
    assert_eq!(swept.sweeps, 1);
    assert!(swept.updated_at > seen);
    // A finished job is never swept.
    let done = store.get_job(&up.job_id).await.expect("get").expect("job");
    assert!(!store
        .mark_swept(&up.job_id, done.updated_at)
        .await
        .expect("mark"));
}

/// ffmpeg killed by a signal while decoding a segment (SIGKILL, as the OOM killer sends; here
/// a wrapper that kills itself): the worker's fault, not the input's. The message is released,
/// the worker exits 3, the job is untouched, and a healthy worker completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ffmpeg_killed_by_a_signal_does_not_fail_the_job() {
    let cloud = cloud("sigkill").await;
    let mut procs = Procs::new(&cloud);
    let up = chunked_job(&cloud, &mut procs, "sigkill.mp4").await;
    let wrapper = cloud.dir.path().join("ffmpeg-killed");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\n\
         # -version (the start-up check) works; any real work is killed at once.\n\
         for a in \"$@\"; do [ \"$a\" = -version ] && exec ffmpeg \"$@\"; done\n\
         kill -9 $$\n",
    )
    .expect("write wrapper");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .expect("chmod");
    let killed = procs.spawn(
        Bin::Video,
        "video-oom",
        &[("FFMPEG", wrapper.to_str().expect("utf-8"))],
    );
    assert_eq!(procs.exit_code(killed, Duration::from_secs(60)), Some(3));
    let fatal = lines_with(&procs, killed, "message released for another worker");
    assert_eq!(fatal.len(), 1, "{}", procs.dump());
    let e = field(&fatal[0], "error")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    assert!(e.contains("killed by signal 9"), "{e}");
    let j = the_only_job(&cloud, "PROCESSING").await;
    assert!(!j.contains_key("error"), "job untouched: {j:?}");

    procs.spawn(Bin::Video, "video", &[]);
    follow(&cloud.conf, &cloud.res, &up.job_id, &opts(), &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    the_only_job(&cloud, "COMPLETED").await;
    assert_drained(&cloud, &procs).await;
}

/// The queue is deleted under a running worker: its receive fails with an error no retry can
/// fix, so the worker stops (exit 3, a line naming the queue) instead of polling forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_receive_error_that_cannot_heal_stops_the_worker() {
    let cloud = cloud("qgone").await;
    let mut procs = Procs::new(&cloud);
    let w = procs.spawn(Bin::Media, "media", &[]);
    let started = eventually(Duration::from_secs(30), || {
        let up = procs.log(w).contains("consumer started");
        async move { up }
    })
    .await;
    assert!(started, "{}", procs.dump());
    sqs(&cloud)
        .delete_queue()
        .queue_url(&cloud.res.chunking_queue_url)
        .send()
        .await
        .expect("delete queue");
    assert_eq!(procs.exit_code(w, Duration::from_secs(30)), Some(3));
    let stopped = lines_with(&procs, w, "worker unhealthy");
    assert_eq!(stopped.len(), 1, "{}", procs.dump());
    let reason = field(&stopped[0], "reason")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    assert!(
        reason.contains("cannot receive from") && reason.contains("chunking"),
        "{reason}"
    );
}
