//! Faults against the cloud flow on moto: duplicated notifications, a video-worker killed
//! mid-segment, racing completions, a reassembler dying after its claim, bad input, malformed
//! messages, SIGTERM, missing configuration. Each case ends with exactly one job in the state it
//! must be in, and (unless it is a failure case) one verified final.mp4.
use crate::aws_support::*;
use pipeline_core::adapters::aws::{S3Store, SqsQueue};
use pipeline_core::domain::keys::{self, KeyKind};
use pipeline_core::domain::{JobId, JobRecord, MediaInfo};
use pipeline_core::events::{parse_s3_message, ObjectCreated, ReassemblyRequest, S3Message};
use pipeline_core::ports::{ObjectStore, Queue};
use pipeline_core::steps::{record_completion, CompletionOutcome, Settings};
use pipeline_core::worker::{handle_message, Role};
use smoke_test::provision::{provision, ResourceNames};
use smoke_test::run::{download_and_verify, follow, upload, upload_as, MediaFacts, RunOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stereospot_workers::aws_worker::{context, NoDepth};

fn opts(cloud: &Cloud) -> RunOptions {
    RunOptions {
        timeout: Duration::from_secs(120),
        poll: Duration::from_millis(250),
        keep_final: Some(cloud.dir.path().join("final.mp4")),
        ..RunOptions::default()
    }
}

fn quiet() -> impl FnMut(&str) + Send {
    |_: &str| {}
}

/// Output segments of a job present in the output bucket.
async fn output_segments(cloud: &Cloud, job: &JobId) -> usize {
    S3Store::new(&cloud.conf, &cloud.res.output_bucket)
        .list(&keys::output_segments_prefix(job))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

async fn job_field(cloud: &Cloud, job: &JobId, name: &str) -> Option<String> {
    scan(cloud, &cloud.res.jobs_table)
        .await
        .into_iter()
        .find(|j| j.get("job_id").map(String::as_str) == Some(job.as_str()))
        .and_then(|j| j.get(name).cloned())
}

/// Every notification delivered twice, at every stage, and the reassembly request twice (once
/// racing the original, once after completion): still one job, each segment counted once, one
/// join, one valid final.mp4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_every_message_delivered_twice_still_one_job() {
    let cloud = cloud("dup").await;
    let res = cloud.res.clone();
    let input = clip(cloud.dir.path(), "dup.mp4", "320x240", 4, 24, true);
    let up = upload(&cloud.conf, &res, &input).await.expect("upload");
    let job = up.job_id.clone();
    let mut procs = Procs::new(&cloud);

    // Stage 1: the upload's notification (and the queue's s3:TestEvent) twice.
    let bodies = multiply_messages(&cloud, &res.chunking_queue_url, 2).await;
    assert!(
        bodies.iter().any(|b| b.contains("ObjectCreated")),
        "{bodies:?}"
    );
    let media = procs.spawn(Bin::Media, "media", &[]);
    // Both copies consumed, two segments announced (+ the video queue's TestEvent).
    let chunked = eventually(Duration::from_secs(60), || async {
        queue_counts(&cloud, &res.chunking_queue_url).await == (0, 0)
            && queue_counts(&cloud, &res.video_worker_queue_url).await.0 >= 3
    })
    .await;
    assert!(
        chunked,
        "chunking stage:\n{}\n{}",
        queue_report(&cloud).await,
        procs.dump()
    );
    assert_eq!(
        job_field(&cloud, &job, "segments_total").await.as_deref(),
        Some("2")
    );
    let duplicate_seen = procs
        .json_log(media)
        .iter()
        .any(|l| message(l).contains("duplicate event ignored"));
    assert!(
        duplicate_seen,
        "second chunk event not recognised:\n{}",
        procs.dump()
    );

    // Stage 2: every segment notification twice, two video-workers.
    let bodies = multiply_messages(&cloud, &res.video_worker_queue_url, 2).await;
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    procs.spawn(Bin::Video, "video-a", &[]);
    procs.spawn(Bin::Video, "video-b", &[]);
    let rendered = eventually(Duration::from_secs(90), || async {
        queue_counts(&cloud, &res.video_worker_queue_url).await == (0, 0)
            && output_segments(&cloud, &job).await == 2
            && queue_counts(&cloud, &res.segment_output_queue_url).await.0 >= 3
    })
    .await;
    assert!(
        rendered,
        "stereo stage:\n{}\n{}",
        queue_report(&cloud).await,
        procs.dump()
    );

    // Stage 3: every segment-output notification twice; the reassembly request twice too.
    multiply_messages(&cloud, &res.segment_output_queue_url, 2).await;
    let reassembler = procs.spawn(Bin::Reassembler, "reassembler", &[]);
    let recorded = eventually(Duration::from_secs(60), || async {
        job_field(&cloud, &job, "segments_done").await.as_deref() == Some("2")
    })
    .await;
    assert!(recorded, "completions:\n{}", procs.dump());
    let request = ReassemblyRequest {
        job_id: job.clone(),
    }
    .to_body();
    send_raw(&cloud, &res.reassembly_queue_url, &request).await;

    let o = opts(&cloud);
    let finished = follow(&cloud.conf, &res, &job, &o, &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    download_and_verify(&cloud.conf, &res, &up, &finished, &o)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    check_final(&input, &cloud.dir.path().join("final.mp4"), (640, 240));

    // A late duplicate of the request, after completion: nothing is redone.
    send_raw(&cloud, &res.reassembly_queue_url, &request).await;
    let drained = eventually(Duration::from_secs(30), || all_queues_empty(&cloud)).await;
    assert!(
        drained,
        "queues:\n{}\n{}",
        queue_report(&cloud).await,
        procs.dump()
    );

    let j = the_only_job(&cloud, "COMPLETED").await;
    assert_eq!(
        (j["segments_total"].as_str(), j["segments_done"].as_str()),
        ("2", "2")
    );
    assert_eq!(scan(&cloud, &res.segment_completions_table).await.len(), 2);
    assert_eq!(scan(&cloud, &res.reassembly_triggered_table).await.len(), 1);
    let log = procs.json_log(reassembler);
    let joins = log.iter().filter(|l| message(l) == "job completed").count();
    let triggers = log
        .iter()
        .filter(|l| message(l) == "reassembly triggered")
        .count();
    assert_eq!(
        (joins, triggers),
        (1, 1),
        "one join, one trigger:\n{}",
        procs.dump()
    );
}

/// A video-worker is SIGKILLed while it holds a segment: the message becomes visible again when
/// its (heartbeat-shortened) visibility runs out and another worker finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_video_worker_killed_mid_segment() {
    let cloud = cloud("kill").await;
    let res = cloud.res.clone();
    // Two 4-second segments at 640x360: each takes seconds to render.
    let input = clip(cloud.dir.path(), "kill.mp4", "640x360", 8, 48, false);
    // The queue's s3:TestEvent would look like an in-flight segment: drop it first.
    let q = SqsQueue::new(&cloud.conf, &res.video_worker_queue_url);
    for m in q
        .receive(10, Duration::from_secs(1))
        .await
        .expect("receive")
    {
        assert_eq!(parse_s3_message(&m.body), Ok(S3Message::TestEvent));
        q.delete(&m.receipt).await.expect("delete");
    }
    let mut procs = Procs::new(&cloud);
    let short = [
        ("SEGMENT_SECONDS", "4"),
        ("VISIBILITY_TIMEOUT_SECONDS", "4"),
        ("HEARTBEAT_SECONDS", "1"),
    ];
    procs.spawn(Bin::Media, "media", &short);
    procs.spawn(Bin::Reassembler, "reassembler", &short);
    let a = procs.spawn(Bin::Video, "video-a", &short);
    let up = upload(&cloud.conf, &res, &input).await.expect("upload");

    let holding = eventually(Duration::from_secs(60), || async {
        queue_counts(&cloud, &res.video_worker_queue_url).await.1 >= 1
    })
    .await;
    assert!(holding, "video-a never took a segment:\n{}", procs.dump());
    // Past the first heartbeat (the visibility is now 4 s), still rendering.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let in_flight = queue_counts(&cloud, &res.video_worker_queue_url).await.1;
    assert!(
        in_flight >= 1,
        "segment finished before the kill: machine too fast for this clip"
    );
    procs.kill9(a);

    // The segment it held comes back to the queue: nothing in flight, and every segment without
    // an output visible again (nobody else consumes this queue yet).
    let done = output_segments(&cloud, &up.job_id).await as u64;
    assert!(done < 2, "all segments were done before the kill");
    let back = eventually(Duration::from_secs(15), || async {
        let (visible, in_flight) = queue_counts(&cloud, &res.video_worker_queue_url).await;
        in_flight == 0 && visible >= 2 - done
    })
    .await;
    assert!(
        back,
        "the killed worker's message did not return:\n{}",
        queue_report(&cloud).await
    );

    procs.spawn(Bin::Video, "video-b", &short);
    let o = opts(&cloud);
    let finished = follow(&cloud.conf, &res, &up.job_id, &o, &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    download_and_verify(&cloud.conf, &res, &up, &finished, &o)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    check_final(&input, &cloud.dir.path().join("final.mp4"), (1280, 360));
    the_only_job(&cloud, "COMPLETED").await;
}

fn tiny_media() -> MediaInfo {
    MediaInfo {
        coded_width: 64,
        coded_height: 48,
        sar: (1, 1),
        rotation: 0,
        frame_rate: (24, 1),
        time_base: (1, 12288),
        duration: 2.0,
        frames: 48,
        video_codec: "h264".into(),
        video_start: 0.0,
        audio: None,
        ..Default::default()
    }
}

/// The last two segments of a job complete at the same instant (two reassembler instances), in
/// 20 rounds against the real DynamoDB protocol: exactly one of each pair triggers reassembly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_last_two_segments_completing_concurrently_trigger_once() {
    const ROUNDS: usize = 20;
    // Requests still race on the client side (both are in flight at once); the server applies
    // them one at a time, as DynamoDB does for one item. See `SerialMoto` for why.
    let moto = SerialMoto::start();
    let conf = moto.sdk_config().await;
    let res = provision(
        &conf,
        &ResourceNames {
            prefix: "race".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("provision: {e:#}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let scratch = dir.path().join("scratch");
    let ctx = context(
        &conf,
        &res,
        Settings::default(),
        Arc::new(NoDepth("test")),
        &scratch,
    );
    let piece = dir.path().join("piece.mp4");
    std::fs::write(&piece, b"stereo segment stand-in").expect("write");
    let frames = [("frames".to_string(), "24".to_string())];
    let mut jobs = Vec::new();
    for round in 0..ROUNDS {
        let key = format!("input/race-{round}.mp4");
        let job = JobId::derive(&res.input_bucket, &key, "etag", "");
        ctx.jobs
            .create_job(&JobRecord::new(job.clone(), &res.input_bucket, &key))
            .await
            .expect("create");
        ctx.jobs
            .set_chunked(&job, &tiny_media(), 2)
            .await
            .expect("chunked");
        let mut events = Vec::new();
        for i in 0..2 {
            let k = keys::output_segment_key(&job, i);
            ctx.output.put_file(&k, &piece, &frames).await.expect("put");
            events.push(ObjectCreated {
                bucket: res.output_bucket.clone(),
                key: k,
                etag: String::new(),
                size: 0,
            });
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = events
            .into_iter()
            .enumerate()
            .map(|(i, ev)| {
                let (ctx, barrier) = (ctx.clone(), barrier.clone());
                let token = format!("message-{round}-{i}");
                tokio::spawn(async move {
                    barrier.wait().await;
                    record_completion(&ctx, &ev, &token).await
                })
            })
            .collect();
        let mut triggered = 0;
        for t in tasks {
            match t.await.expect("task").expect("record_completion") {
                CompletionOutcome::Triggered { job_id } => {
                    assert_eq!(job_id, job);
                    triggered += 1;
                }
                CompletionOutcome::Recorded { total, .. } => assert_eq!(total, 2),
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(triggered, 1, "round {round}: {triggered} triggers");
        let rec = ctx.jobs.get_job(&job).await.expect("get").expect("job");
        assert_eq!(rec.segments_done, 2, "round {round}");
        jobs.push(job);
    }

    // Exactly one reassembly request per job reached the queue.
    let q = SqsQueue::new(&conf, &res.reassembly_queue_url);
    let mut requested = Vec::new();
    loop {
        let msgs = q.receive(10, Duration::ZERO).await.expect("receive");
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            requested.push(ReassemblyRequest::parse(&m.body).expect("request").job_id);
            q.delete(&m.receipt).await.expect("delete");
        }
    }
    let round0 = jobs[0].clone();
    requested.sort();
    jobs.sort();
    assert_eq!(requested, jobs);

    // A claim is exclusive while fresh, re-grantable to its holder, and taken over once stale.
    let j = &round0;
    let fresh = Duration::from_secs(900);
    let claim = |t: &'static str, ttl| {
        let (ctx, j) = (ctx.clone(), j.clone());
        async move { ctx.jobs.claim_reassembly(&j, t, ttl).await.expect("claim") }
    };
    let holder = aws_sdk_dynamodb::Client::new(&conf)
        .get_item()
        .table_name(&res.reassembly_triggered_table)
        .key(
            "job_id",
            aws_sdk_dynamodb::types::AttributeValue::S(j.to_string()),
        )
        .send()
        .await
        .expect("get claim")
        .item()
        .and_then(|i| i.get("token"))
        .and_then(|t| t.as_s().ok())
        .cloned()
        .expect("claim item");
    assert!(holder.starts_with("message-0-"), "{holder}");
    assert!(!claim("intruder", fresh).await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        claim("successor", Duration::from_secs(1)).await,
        "stale claim not taken over"
    );
    assert!(claim("successor", fresh).await, "holder re-granted");
}

/// A reassembler records the last segment, wins the claim, and dies before queueing the join:
/// its message comes back, a new reassembler holds the same token, and the job completes. A
/// different claimant (a duplicate message) cannot take the fresh claim meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_reassembler_dying_after_its_claim_still_completes() {
    let cloud = cloud("claim").await;
    let res = cloud.res.clone();
    let input = clip(cloud.dir.path(), "claim.mp4", "320x240", 4, 24, true);
    let mut procs = Procs::new(&cloud);
    procs.spawn(Bin::Media, "media", &[]);
    procs.spawn(Bin::Video, "video", &[]);
    let up = upload(&cloud.conf, &res, &input).await.expect("upload");
    let job = up.job_id.clone();
    let ready = eventually(Duration::from_secs(90), || async {
        output_segments(&cloud, &job).await == 2
            && queue_counts(&cloud, &res.segment_output_queue_url).await.0 >= 3
    })
    .await;
    assert!(
        ready,
        "segments:\n{}\n{}",
        queue_report(&cloud).await,
        procs.dump()
    );

    // The doomed reassembler, in this process: the same step code over the same adapters.
    let ctx = context(
        &cloud.conf,
        &res,
        Settings::default(),
        Arc::new(NoDepth("reassembler")),
        &cloud.dir.path().join("scratch"),
    );
    let q = SqsQueue::new(&cloud.conf, &res.segment_output_queue_url);
    let mut segment_msgs = Vec::new();
    while segment_msgs.len() < 2 {
        let msgs = q
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        assert!(!msgs.is_empty(), "segment-output messages missing");
        for m in msgs {
            match parse_s3_message(&m.body).expect("S3 event") {
                S3Message::TestEvent => q.delete(&m.receipt).await.expect("delete"),
                S3Message::Created(evs) => {
                    let KeyKind::OutputSegment { index, .. } = keys::classify(&evs[0].key) else {
                        panic!("unexpected {:?}", evs[0].key)
                    };
                    segment_msgs.push((index, evs[0].key.clone(), m));
                }
            }
        }
    }
    segment_msgs.sort_by_key(|(i, _, _)| *i);
    let (_, _, first) = &segment_msgs[0];
    handle_message(&ctx, Role::Complete, first)
        .await
        .expect("first segment");
    q.delete(&first.receipt).await.expect("delete");
    let (last_index, last_key, last) = &segment_msgs[1];
    let frames: u64 = ctx
        .output
        .head(last_key)
        .await
        .expect("head")
        .and_then(|m| m.get("frames").and_then(|f| f.parse().ok()))
        .expect("frames metadata");
    let c = ctx
        .jobs
        .record_segment(&job, *last_index, frames)
        .await
        .expect("record");
    assert!(c.all_done());
    let ttl = Settings::default().claim_ttl;
    assert!(ctx
        .jobs
        .claim_reassembly(&job, &last.id, ttl)
        .await
        .expect("claim"));
    // ... and it dies: no request sent, message not deleted; it returns in 2 s.
    q.set_visibility(&last.receipt, Duration::from_secs(2))
        .await
        .expect("visibility");
    assert!(
        !ctx.jobs
            .claim_reassembly(&job, "a-duplicate-message", ttl)
            .await
            .expect("claim"),
        "a fresh claim must exclude other messages"
    );
    assert_eq!(
        queue_counts(&cloud, &res.reassembly_queue_url).await,
        (0, 0)
    );

    let reassembler = procs.spawn(Bin::Reassembler, "reassembler", &[]);
    let o = opts(&cloud);
    let finished = follow(&cloud.conf, &res, &job, &o, &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    download_and_verify(&cloud.conf, &res, &up, &finished, &o)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    the_only_job(&cloud, "COMPLETED").await;
    let triggers = procs
        .json_log(reassembler)
        .iter()
        .filter(|l| message(l) == "reassembly triggered")
        .count();
    assert_eq!(triggers, 1, "{}", procs.dump());
}

/// A text file uploaded as .mp4: the job is FAILED with a reason naming the file and the
/// problem, the message is deleted on its first receive (no retry loop), nothing dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_not_a_video_fails_once_without_retries() {
    let cloud = cloud("bad").await;
    let res = cloud.res.clone();
    let mut procs = Procs::new(&cloud);
    let media = procs.spawn(
        Bin::Media,
        "media",
        &[
            ("VISIBILITY_TIMEOUT_SECONDS", "3"),
            ("HEARTBEAT_SECONDS", "1"),
        ],
    );
    let notes = cloud.dir.path().join("notes.mp4");
    std::fs::write(&notes, "this is a text file, not a video\n".repeat(50)).expect("write");
    let facts = MediaFacts {
        frames: 0,
        duration: 0.0,
        fps: 0.0,
        coded: (0, 0),
        display: (0, 0),
        audio: false,
    };
    let up = upload_as(&cloud.conf, &res, &notes, "input/notes.mp4", facts)
        .await
        .expect("upload");
    let err = follow(&cloud.conf, &res, &up.job_id, &opts(&cloud), &mut quiet())
        .await
        .expect_err("a text file cannot complete");
    let err = format!("{err:#}");
    assert!(
        err.contains("FAILED") && err.contains("notes.mp4") && err.contains("not a video"),
        "{err}"
    );
    // Longer than the visibility: a message that was not deleted would be back by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut empty = queue_counts(&cloud, &res.chunking_queue_url).await == (0, 0);
    for url in main_queues(&cloud) {
        empty &= queue_counts(&cloud, &dlq_url(&cloud, &url).await).await == (0, 0);
    }
    assert!(empty, "{}", queue_report(&cloud).await);
    let j = the_only_job(&cloud, "FAILED").await;
    assert!(
        j.get("error").is_some_and(|e| e.contains("not a video")),
        "{j:?}"
    );
    let log = procs.json_log(media);
    let handled: Vec<u64> = log
        .iter()
        .filter(|l| message(l).contains("permanent failure"))
        .map(|l| field(l, "receive").and_then(|v| v.as_u64()).unwrap_or(0))
        .collect();
    assert_eq!(
        handled,
        [1],
        "handled once, on its first receive:\n{}",
        procs.dump()
    );
    assert!(procs.alive(media));
}

/// An upload whose job options (S3 metadata) are unreadable: the job is FAILED once with the
/// option and the reason, not rendered with something the user did not ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_bad_job_options_fail_the_job_with_the_reason() {
    let cloud = cloud("badopt").await;
    let mut procs = Procs::new(&cloud);
    let media = procs.spawn(Bin::Media, "media", &[]);
    let input = clip(cloud.dir.path(), "opts.mp4", "160x120", 2, 24, false);
    let store = S3Store::new(&cloud.conf, &cloud.res.input_bucket);
    let meta = [("stereospot-layout".to_string(), "sbs".to_string())];
    store
        .put_file("input/opts.mp4", &input, &meta)
        .await
        .expect("upload");
    let failed = eventually(Duration::from_secs(60), || async {
        scan(&cloud, &cloud.res.jobs_table)
            .await
            .iter()
            .any(|j| j.get("status").map(String::as_str) == Some("FAILED"))
    })
    .await;
    assert!(failed, "{}", procs.dump());
    let j = the_only_job(&cloud, "FAILED").await;
    let e = j.get("error").cloned().unwrap_or_default();
    assert!(
        e.contains("opts.mp4") && e.contains("job options") && e.contains("unknown stereo layout"),
        "{e}"
    );
    assert!(procs.alive(media));
}

/// Garbage in every queue: each message is dropped (deleted, nothing dead-lettered), every
/// worker keeps running, and a following good upload converts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_malformed_messages_are_dropped_and_workers_carry_on() {
    let cloud = cloud("junk").await;
    let res = cloud.res.clone();
    let mut procs = Procs::new(&cloud);
    let workers = [
        procs.spawn(Bin::Media, "media", &[]),
        procs.spawn(Bin::Video, "video", &[]),
        procs.spawn(Bin::Reassembler, "reassembler", &[]),
    ];
    for url in main_queues(&cloud) {
        for body in [
            "}{ not json",
            r#"{"Records": 5}"#,
            r#"{"job_id": "../../etc"}"#,
        ] {
            send_raw(&cloud, &url, body).await;
        }
    }
    let drained = eventually(Duration::from_secs(30), || all_queues_empty(&cloud)).await;
    assert!(drained, "{}\n{}", queue_report(&cloud).await, procs.dump());
    for w in workers {
        assert!(
            procs.alive(w),
            "{} died:\n{}",
            procs.list[w].name,
            procs.dump()
        );
        let dropped = procs
            .json_log(w)
            .iter()
            .filter(|l| {
                message(l).contains("permanent failure")
                    && field(l, "error")
                        .and_then(|e| e.as_str())
                        .is_some_and(|e| e.contains("malformed message"))
            })
            .count();
        let expected = if w == workers[2] { 6 } else { 3 };
        assert_eq!(
            dropped,
            expected,
            "{}:\n{}",
            procs.list[w].name,
            procs.dump()
        );
    }

    let input = clip(cloud.dir.path(), "good.mp4", "320x240", 2, 24, true);
    let mut o = opts(&cloud);
    o.keep_final = None;
    smoke_test::run::run(&cloud.conf, &res, &input, &o, &mut quiet())
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", procs.dump()));
    the_only_job(&cloud, "COMPLETED").await;
}

/// CPU seconds (user + system) process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0
}

/// Idle workers long-poll (~0 CPU); SIGTERM during the 20 s poll stops them in well under a
/// poll, exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sigterm_while_idle_exits_zero_promptly() {
    let cloud = cloud("term").await;
    let mut procs = Procs::new(&cloud);
    let all: Vec<usize> = Bin::ALL
        .iter()
        .map(|b| procs.spawn(*b, b.name(), &[("POLL_WAIT_SECONDS", "20")]))
        .collect();
    let up = eventually(Duration::from_secs(30), || {
        let ok = all
            .iter()
            .all(|i| procs.log(*i).contains("consumer started"));
        async move { ok }
    })
    .await;
    assert!(up, "{}", procs.dump());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before: Vec<f64> = all.iter().map(|i| cpu_seconds(procs.pid(*i))).collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (k, i) in all.iter().enumerate() {
        let used = cpu_seconds(procs.pid(*i)) - before[k];
        assert!(
            used <= 0.1,
            "{} used {used} s CPU in 3 s idle",
            procs.list[*i].name
        );
    }
    for i in &all {
        procs.sigterm(*i);
    }
    let t = Instant::now();
    for i in &all {
        let status = procs.wait_exit(*i, Duration::from_secs(5));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{}: {status:?}\n{}",
            procs.list[*i].name,
            procs.dump()
        );
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    for i in &all {
        let log = procs.log(*i);
        assert!(
            log.contains("SIGTERM received") && log.contains("stopped"),
            "{log}"
        );
    }
}

/// Configuration errors stop a worker before it does anything: exit 2, one line naming the
/// variable (no AWS endpoint is even configured here).
#[test]
fn aws_missing_or_invalid_configuration_exits_2() {
    use pipeline_core::config::env_names::RESOURCE_VARS;
    let full: Vec<(String, String)> = RESOURCE_VARS
        .iter()
        .map(|v| (v.to_string(), format!("test-{}", v.to_ascii_lowercase())))
        .collect();
    let run = |bin: Bin, env: &[(String, String)]| {
        let t = Instant::now();
        let out = worker_command(bin, env).output().expect("run worker");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    for bin in Bin::ALL {
        for missing in RESOURCE_VARS {
            let env: Vec<_> = full.iter().filter(|(k, _)| k != missing).cloned().collect();
            let (code, stderr) = run(bin, &env);
            assert_eq!(code, Some(2), "{} without {missing}: {stderr}", bin.name());
            assert_eq!(
                stderr.trim(),
                format!("error: missing environment variable {missing}"),
                "{}",
                bin.name()
            );
        }
        let mut env = full.clone();
        env.push(("DIVERGENCE".into(), "lots".into()));
        let (code, stderr) = run(bin, &env);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.starts_with("error: invalid environment variable DIVERGENCE"),
            "{stderr}"
        );
    }
    let mut env = full.clone();
    env.push(("MODEL_PATH".into(), "/nonexistent/midas_small.onnx".into()));
    let (code, stderr) = run(Bin::Video, &env);
    assert_eq!(code, Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: depth model") && last.contains("/nonexistent/midas_small.onnx"),
        "{stderr}"
    );
}
