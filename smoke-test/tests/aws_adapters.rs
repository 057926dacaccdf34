//! The AWS adapters (S3Store, SqsQueue, DynamoJobStore) and `provision` against a real moto
//! server. One server per test binary (it exits with the process); every test provisions its
//! own namespace (`stereospot-test-<random>`), so tests run in parallel without sharing state.
use aws_config::SdkConfig;
use pipeline_core::adapters::aws::{AwsResources, DynamoJobStore, S3Store, SqsQueue};
use pipeline_core::domain::{JobId, JobRecord, JobStatus, MediaInfo};
use pipeline_core::events::{parse_s3_message, ObjectCreated, S3Message};
use pipeline_core::ports::{JobStore, ObjectStore, Queue, ReceivedMessage};
use pipeline_core::PipelineError;
use smoke_test::moto::MotoServer;
use smoke_test::provision::{
    canonical_json, dead_letter_queue_url, describe_shapes, provision, provision_with,
    write_env_file, ProvisionOptions, QueueRole, ResourceNames,
};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn server() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(|| match MotoServer::start() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the moto server: {e:#}"),
    })
}

struct Fixture {
    conf: SdkConfig,
    names: ResourceNames,
    res: AwsResources,
}

impl Fixture {
    async fn new() -> Fixture {
        Self::with(ProvisionOptions::default()).await
    }

    async fn with(opts: ProvisionOptions) -> Fixture {
        let conf = server().sdk_config().await;
        let names = ResourceNames::random();
        let res = provision_with(&conf, &names, &opts)
            .await
            .unwrap_or_else(|e| panic!("provision: {e:#}\n{}", server().log_tail()));
        Fixture { conf, names, res }
    }

    fn jobs(&self) -> DynamoJobStore {
        DynamoJobStore::new(
            &self.conf,
            &self.res.jobs_table,
            &self.res.segment_completions_table,
            &self.res.reassembly_triggered_table,
        )
    }

    fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(&self.conf, url)
    }
}

/// Receive (deleting nothing) until `want` messages arrived or `timeout` passed.
async fn receive_n(q: &dyn Queue, want: usize, timeout: Duration) -> Vec<ReceivedMessage> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(q.receive(10, Duration::from_secs(1)).await.unwrap());
    }
    got
}

/// Drain a notification queue: the decoded created objects, and how many TestEvents came.
async fn drain_events(q: &dyn Queue, want: usize) -> (Vec<ObjectCreated>, usize) {
    let mut created = Vec::new();
    let mut tests = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while created.len() < want && Instant::now() < deadline {
        for m in q.receive(10, Duration::from_secs(1)).await.unwrap() {
            match parse_s3_message(&m.body).unwrap() {
                S3Message::TestEvent => tests += 1,
                S3Message::Created(evs) => created.extend(evs),
            }
            q.delete(&m.receipt).await.unwrap();
        }
    }
    (created, tests)
}

fn media() -> MediaInfo {
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

fn job(key: &str) -> JobRecord {
    JobRecord::new(JobId::derive("in", key, "etag", ""), "in", key)
}

fn md5_hex_of(path: &std::path::Path) -> String {
    // S3's single-part ETag is the MD5 of the body; md5sum is in coreutils.
    let out = std::process::Command::new("md5sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn moto_env_points_the_sdk_at_the_server() {
    let s = server();
    let env = s.env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("AWS_ENDPOINT_URL"), Some(s.endpoint()));
    assert_eq!(s.endpoint(), format!("http://127.0.0.1:{}", s.port()));
    assert_eq!(get("AWS_REGION").as_deref(), Some("us-east-1"));
    assert_eq!(get("AWS_ACCESS_KEY_ID").as_deref(), Some("testing"));
    assert_eq!(get("AWS_SECRET_ACCESS_KEY").as_deref(), Some("testing"));
    assert_eq!(get("AWS_EC2_METADATA_DISABLED").as_deref(), Some("true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_put_head_list_get_delete_with_awkward_keys() {
    let fx = Fixture::new().await;
    let store = S3Store::new(&fx.conf, &fx.res.output_bucket).with_list_page_size(2);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, b"hello stereo").unwrap();
    let keys = [
        "work/a b+c.bin",
        "work/plain.bin",
        "work/x/y.bin",
        "work/z.bin",
        "other/q.bin",
    ];
    for k in keys {
        store
            .put_file(k, &src, &[("frames".into(), "12".into())])
            .await
            .unwrap();
    }
    let m = store.head("work/a b+c.bin").await.unwrap().unwrap();
    assert_eq!(m.size, 12);
    assert_eq!(m.get("frames"), Some("12"));
    assert_eq!(m.etag, md5_hex_of(&src), "ETag without quotes = MD5");
    // Pages of 2 keys: the listing must follow continuation tokens.
    assert_eq!(
        store.list("work/").await.unwrap(),
        vec![
            "work/a b+c.bin",
            "work/plain.bin",
            "work/x/y.bin",
            "work/z.bin"
        ]
    );
    let dst = dir.path().join("deep/down/out.bin");
    store.get_to_file("work/a b+c.bin", &dst).await.unwrap();
    assert_eq!(std::fs::read(&dst).unwrap(), b"hello stereo");
    let leftovers: Vec<_> = std::fs::read_dir(dst.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("out.bin")],
        "no temp files left"
    );

    store.delete("work/a b+c.bin").await.unwrap();
    store.delete("work/a b+c.bin").await.unwrap(); // absent is fine
    assert!(store.head("work/a b+c.bin").await.unwrap().is_none());
    let missing = store.get_to_file("work/a b+c.bin", &dst).await.unwrap_err();
    assert!(
        matches!(missing, PipelineError::State(_)) && !missing.is_transient(),
        "{missing:?}"
    );
    assert_eq!(
        std::fs::read(&dst).unwrap(),
        b"hello stereo",
        "failed get keeps the old file"
    );
    let none = S3Store::new(&fx.conf, "stereospot-no-such-bucket-x1");
    let e = none.get_to_file("k", &dst).await.unwrap_err();
    assert!(
        matches!(
            e,
            PipelineError::Backend {
                class: pipeline_core::ErrorClass::WorkerFatal,
                ..
            }
        ),
        "a missing bucket is a worker-fatal backend error (the worker's configuration): {e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_multipart_upload_round_trips() {
    let fx = Fixture::new().await;
    let store = S3Store::new(&fx.conf, &fx.res.output_bucket).with_multipart(6 << 20, 5 << 20);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    // 11 MiB + 3 bytes: parts of 5, 5 and 1 MiB + 3 bytes.
    let data: Vec<u8> = (0..(11u32 << 20) + 3).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    store
        .put_file("work/big.bin", &src, &[("k".into(), "v".into())])
        .await
        .unwrap();
    let m = store.head("work/big.bin").await.unwrap().unwrap();
    assert_eq!((m.size, m.get("k")), (data.len() as u64, Some("v")));
    assert!(
        m.etag.ends_with("-3"),
        "multipart ETag names 3 parts: {}",
        m.etag
    );
    let dst = dir.path().join("back.bin");
    store.get_to_file("work/big.bin", &dst).await.unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stereo_segments_carry_the_expiry_tag_and_final_does_not() {
    let fx = Fixture::new().await;
    let store = S3Store::new(&fx.conf, &fx.res.output_bucket);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.mp4");
    std::fs::write(&src, b"segment").unwrap();
    let seg = "jobs/0123456789abcdef/segments/00000.mp4";
    let fin = "jobs/0123456789abcdef/final.mp4";
    for key in [seg, fin] {
        store.put_file(key, &src, &[]).await.unwrap();
    }
    let tags = |key: &'static str| {
        let c = store.client().clone();
        let bucket = fx.res.output_bucket.clone();
        async move {
            let out = c
                .get_object_tagging()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            out.tag_set()
                .iter()
                .map(|t| format!("{}={}", t.key(), t.value()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(tags(seg).await, vec!["stereospot-kind=segment".to_string()]);
    assert!(tags(fin).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_notifications_reach_the_right_queues_with_decodable_keys() {
    let fx = Fixture::new().await;
    let input = S3Store::new(&fx.conf, &fx.res.input_bucket);
    let output = S3Store::new(&fx.conf, &fx.res.output_bucket);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("v.mp4");
    std::fs::write(&src, b"not really a video").unwrap();
    input.put_file("input/x.mp4", &src, &[]).await.unwrap();
    input
        .put_file("input/my film+1 é.mp4", &src, &[])
        .await
        .unwrap();
    // Every input/ key reaches the chunking queue (the media-worker probes it).
    input.put_file("input/notes.txt", &src, &[]).await.unwrap();
    input
        .put_file("segments/j/00000.ts", &src, &[])
        .await
        .unwrap();
    output
        .put_file("jobs/j/00000.mp4", &src, &[])
        .await
        .unwrap();
    output.put_file("jobs/j/list.txt", &src, &[]).await.unwrap(); // filtered by suffix
    let etag = input.head("input/x.mp4").await.unwrap().unwrap().etag;

    let chunking = fx.queue(&fx.res.chunking_queue_url);
    let (created, tests) = drain_events(&chunking, 3).await;
    assert_eq!(
        tests, 1,
        "one s3:TestEvent when the notification was configured"
    );
    let mut keys: Vec<&str> = created.iter().map(|c| c.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["input/my film+1 é.mp4", "input/notes.txt", "input/x.mp4"]
    );
    let x = created.iter().find(|c| c.key == "input/x.mp4").unwrap();
    assert_eq!(
        (x.bucket.as_str(), x.etag.as_str(), x.size),
        (fx.res.input_bucket.as_str(), etag.as_str(), 18)
    );

    let (created, _) = drain_events(&fx.queue(&fx.res.video_worker_queue_url), 1).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].key, "segments/j/00000.ts");
    let (created, _) = drain_events(&fx.queue(&fx.res.segment_output_queue_url), 1).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].key, "jobs/j/00000.mp4");
    // Nothing else arrived (the .txt objects were filtered out).
    for url in [&fx.res.chunking_queue_url, &fx.res.segment_output_queue_url] {
        assert!(fx
            .queue(url)
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_receive_counts_visibility_and_delete() {
    let fx = Fixture::new().await;
    let q = fx.queue(&fx.res.reassembly_queue_url);
    assert_eq!(q.name(), format!("{}-reassembly", fx.names.prefix));
    q.send(r#"{"job_id":"0123456789abcdef"}"#).await.unwrap();
    let first = receive_n(&q, 1, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert_eq!(first[0].body, r#"{"job_id":"0123456789abcdef"}"#);
    // In flight: invisible for the queue's 600 s visibility.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    // Release now: redelivered at once, same id, count 2.
    q.set_visibility(&first[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let second = receive_n(&q, 1, Duration::from_secs(5)).await;
    assert_eq!(
        (second[0].id.as_str(), second[0].receive_count),
        (first[0].id.as_str(), 2)
    );
    // Heartbeat to 1 s, then it comes back by itself.
    q.set_visibility(&second[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    let started = Instant::now();
    let third = receive_n(&q, 1, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(third[0].receive_count, 3);
    q.delete(&third[0].receipt).await.unwrap();
    assert!(q
        .receive(10, Duration::from_secs(1))
        .await
        .unwrap()
        .is_empty());
    // At most 10 per receive, whatever is asked.
    for i in 0..12 {
        q.send(&format!("m{i}")).await.unwrap();
    }
    let batch = q.receive(50, Duration::from_secs(1)).await.unwrap();
    assert!(!batch.is_empty() && batch.len() <= 10, "{}", batch.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_receive_visibility_overrides_the_queue_default() {
    let fx = Fixture::new().await;
    // The reassembly queue's default visibility is 600 s; the consumer asks for 1 s on receive.
    let q = SqsQueue::new(&fx.conf, &fx.res.reassembly_queue_url)
        .with_receive_visibility(Duration::from_secs(1));
    q.send("x").await.unwrap();
    let first = receive_n(&q, 1, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1);
    let started = Instant::now();
    // Never deleted nor heartbeated (a consumer killed at once): back within seconds.
    let again = receive_n(&q, 1, Duration::from_secs(6)).await;
    assert_eq!(
        again.len(),
        1,
        "message returned after the receive visibility"
    );
    assert_eq!(
        (again[0].id.as_str(), again[0].receive_count),
        (first[0].id.as_str(), 2)
    );
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_redrives_to_the_dead_letter_queue_after_four_receives() {
    let fx = Fixture::new().await;
    let q = fx.queue(&fx.res.reassembly_queue_url);
    q.send("poison").await.unwrap();
    for n in 1..=4 {
        let got = receive_n(&q, 1, Duration::from_secs(5)).await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].receive_count, n);
        q.set_visibility(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        q.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "the 5th receive moves it to the DLQ instead"
    );
    let dlq_url = dead_letter_queue_url(&fx.conf, &fx.names, QueueRole::Reassembly)
        .await
        .unwrap();
    let dead = receive_n(&fx.queue(&dlq_url), 1, Duration::from_secs(5)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_jobs_are_created_once_and_terminal_states_are_final() {
    let fx = Fixture::new().await;
    let s = fx.jobs();
    let a = job("input/a.mp4");
    assert!(s.create_job(&a).await.unwrap());
    let mut other = a.clone();
    other.input_key = "input/changed.mp4".into();
    assert!(
        !s.create_job(&other).await.unwrap(),
        "second create is a no-op"
    );
    assert_eq!(s.get_job(&a.job_id).await.unwrap().unwrap(), a);

    s.set_status(&a.job_id, JobStatus::Chunking).await.unwrap();
    s.set_chunked(&a.job_id, &media(), 3).await.unwrap();
    s.add_frame_progress(&a.job_id, 10).await.unwrap();
    s.add_frame_progress(&a.job_id, 5).await.unwrap();
    let j = s.get_job(&a.job_id).await.unwrap().unwrap();
    assert_eq!(
        (
            j.status,
            j.segments_total,
            j.media,
            j.frames_done,
            j.input_key.as_str()
        ),
        (
            JobStatus::Processing,
            Some(3),
            Some(media()),
            15,
            "input/a.mp4"
        )
    );

    s.fail_job(&a.job_id, "decoder exploded").await.unwrap();
    s.set_status(&a.job_id, JobStatus::Reassembling)
        .await
        .unwrap();
    s.set_chunked(&a.job_id, &media(), 9).await.unwrap();
    s.complete_job(&a.job_id, "jobs/a/final.mp4").await.unwrap();
    s.fail_job(&a.job_id, "second reason").await.unwrap();
    let j = s.get_job(&a.job_id).await.unwrap().unwrap();
    assert_eq!(
        (j.status, j.error.as_deref(), j.segments_total, j.output_key),
        (JobStatus::Failed, Some("decoder exploded"), Some(3), None)
    );
    assert!(j.completed_at.is_some());

    let b = job("input/b.mp4");
    assert!(s.create_job(&b).await.unwrap());
    s.complete_job(&b.job_id, "jobs/b/final.mp4").await.unwrap();
    s.fail_job(&b.job_id, "late").await.unwrap();
    s.set_status(&b.job_id, JobStatus::Processing)
        .await
        .unwrap();
    let j = s.get_job(&b.job_id).await.unwrap().unwrap();
    assert_eq!(
        (j.status, j.output_key.as_deref(), j.error),
        (JobStatus::Completed, Some("jobs/b/final.mp4"), None)
    );
    assert!(j.completed_at.unwrap() >= b.created_at);

    // Updates of an unknown job change nothing and create no phantom record.
    let ghost = job("input/ghost.mp4");
    s.set_status(&ghost.job_id, JobStatus::Processing)
        .await
        .unwrap();
    s.add_frame_progress(&ghost.job_id, 3).await.unwrap();
    s.complete_job(&ghost.job_id, "x").await.unwrap();
    assert_eq!(s.get_job(&ghost.job_id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_segment_completions_are_idempotent_under_redelivery() {
    let fx = Fixture::new().await;
    let s = fx.jobs().with_page_size(2);
    let a = job("input/seg.mp4");
    s.create_job(&a).await.unwrap();
    s.set_chunked(&a.job_id, &media(), 5).await.unwrap();
    let c = s.record_segment(&a.job_id, 3, 24).await.unwrap();
    assert_eq!(
        (c.newly_recorded, c.segments_done, c.segments_total),
        (true, 1, 5)
    );
    let dup = s.record_segment(&a.job_id, 3, 24).await.unwrap();
    assert_eq!(
        (dup.newly_recorded, dup.segments_done, dup.all_done()),
        (false, 1, false)
    );
    for i in [4, 0, 2] {
        assert!(
            s.record_segment(&a.job_id, i, 20 + i as u64)
                .await
                .unwrap()
                .newly_recorded
        );
    }
    let last = s.record_segment(&a.job_id, 1, 21).await.unwrap();
    assert!(last.newly_recorded && last.all_done());
    assert!(s.record_segment(&a.job_id, 1, 21).await.unwrap().all_done());
    // Pages of 2 items: the query must follow LastEvaluatedKey.
    assert_eq!(
        s.completed_segments(&a.job_id).await.unwrap(),
        vec![(0, 20), (1, 21), (2, 22), (3, 24), (4, 24)]
    );
    assert_eq!(
        s.get_job(&a.job_id).await.unwrap().unwrap().segments_done,
        5
    );

    let ghost = job("input/none.mp4");
    let e = s.record_segment(&ghost.job_id, 0, 1).await.unwrap_err();
    assert!(matches!(e, PipelineError::State(_)), "{e:?}");
    assert!(
        s.completed_segments(&ghost.job_id)
            .await
            .unwrap()
            .is_empty(),
        "all or nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_segment_completions_are_exact_under_concurrency() {
    let fx = Fixture::new().await;
    let s = Arc::new(fx.jobs());
    let a = job("input/race.mp4");
    s.create_job(&a).await.unwrap();
    s.set_chunked(&a.job_id, &media(), 3).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let (s, id) = (s.clone(), a.job_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut fresh = 0;
            for k in 0..3u32 {
                let index = (k + t) % 3; // different orders per task
                if s.record_segment(&id, index, 24)
                    .await
                    .unwrap()
                    .newly_recorded
                {
                    fresh += 1;
                }
            }
            fresh
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        fresh += t.await.unwrap();
    }
    assert_eq!(fresh, 3, "each segment newly recorded exactly once");
    let j = s.get_job(&a.job_id).await.unwrap().unwrap();
    assert_eq!((j.segments_done, j.segments_total), (3, Some(3)));
    assert_eq!(s.completed_segments(&a.job_id).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_reassembly_claim_has_one_winner_and_expires() {
    let fx = Fixture::new().await;
    let s = Arc::new(fx.jobs());
    let a = job("input/claim.mp4");
    s.create_job(&a).await.unwrap();
    let ttl = Duration::from_secs(600);
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (s, id) = (s.clone(), a.job_id.clone());
        tasks.push(tokio::spawn(async move {
            let token = format!("msg-{i}");
            (s.claim_reassembly(&id, &token, ttl).await.unwrap(), token)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (won, token) = t.await.unwrap();
        if won {
            winners.push(token);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claimant wins: {winners:?}");
    let winner = &winners[0];
    assert!(
        s.claim_reassembly(&a.job_id, winner, ttl).await.unwrap(),
        "same token again"
    );
    let loser = if winner == "msg-0" { "msg-1" } else { "msg-0" };
    assert!(!s.claim_reassembly(&a.job_id, loser, ttl).await.unwrap());

    // The claim item expires a day from now (DynamoDB TTL, epoch seconds).
    let item = s
        .client()
        .get_item()
        .table_name(&fx.res.reassembly_triggered_table)
        .key(
            "job_id",
            aws_sdk_dynamodb::types::AttributeValue::S(a.job_id.to_string()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let ttl_attr: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (ttl_attr - (now_s + 86_400)).abs() <= 5,
        "ttl {ttl_attr} vs now {now_s}"
    );
    assert_eq!(item["token"].as_s().unwrap(), winner);

    // A claim older than the ttl is presumed dead and taken over.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(s
        .claim_reassembly(&a.job_id, "rescuer", Duration::ZERO)
        .await
        .unwrap());
    assert!(
        !s.claim_reassembly(&a.job_id, winner, ttl).await.unwrap(),
        "old holder lost it"
    );
}

fn expected_shapes(max_receive: u64) -> serde_json::Value {
    let key = |n: &str, t: &str| serde_json::json!({"name": n, "type": t});
    let status_gsi = |name: &str, sk: &str| serde_json::json!({"name": name, "partition_key": key("status", "S"), "projection": "ALL", "sort_key": key(sk, "N")});
    let q = |v: u64| serde_json::json!({"dlq_max_receive_count": max_receive, "visibility_timeout_seconds": v});
    let rule = |p: &str, s: Option<&str>, q: &str| serde_json::json!({"event": "s3:ObjectCreated:*", "prefix": p, "suffix": s, "queue": q});
    serde_json::json!({
        "buckets": {
            "input": {"notifications": [
                rule("input/", None, "chunking"),
                rule("segments/", None, "video-worker"),
            ]},
            "output": {"notifications": [rule("jobs/", Some(".mp4"), "segment-output")]},
        },
        "queues": {"chunking": q(900), "video-worker": q(1800), "segment-output": q(300), "reassembly": q(600)},
        "tables": {
            "jobs": {
                "partition_key": key("job_id", "S"), "sort_key": null, "ttl_attribute": null,
                "gsis": [status_gsi("status-completed_at", "completed_at"), status_gsi("status-created_at", "created_at")],
            },
            "segment-completions": {
                "partition_key": key("job_id", "S"), "sort_key": key("segment_index", "N"),
                "gsis": [], "ttl_attribute": null,
            },
            "reassembly-triggered": {
                "partition_key": key("job_id", "S"), "sort_key": null, "gsis": [], "ttl_attribute": "ttl",
            },
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_is_idempotent_and_describes_the_infra_shapes() {
    let conf = server().sdk_config().await;
    let names = ResourceNames::random();
    let first = provision(&conf, &names).await.unwrap();
    let shapes = describe_shapes(&conf, &first).await.unwrap();
    assert_eq!(
        canonical_json(&shapes),
        canonical_json(&expected_shapes(4)),
        "actual:\n{}",
        canonical_json(&shapes)
    );
    let second = provision(&conf, &names).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(describe_shapes(&conf, &second).await.unwrap(), shapes);
    // Notifications were not re-put: still exactly one TestEvent on the chunking queue.
    let q = SqsQueue::new(&conf, &first.chunking_queue_url);
    let msgs = receive_n(&q, 2, Duration::from_secs(3)).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(parse_s3_message(&msgs[0].body), Ok(S3Message::TestEvent));
    // Changed options are re-applied to the existing queues.
    let opts = ProvisionOptions::default()
        .with_visibility(QueueRole::VideoWorker, Duration::from_secs(7))
        .with_max_receive_count(2);
    provision_with(&conf, &names, &opts).await.unwrap();
    let changed = describe_shapes(&conf, &first).await.unwrap();
    assert_eq!(
        changed["queues"]["video-worker"]["visibility_timeout_seconds"],
        7
    );
    assert_eq!(changed["queues"]["chunking"]["dlq_max_receive_count"], 2);

    // The env file round-trips through AwsResources::from_lookup.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stereospot.env");
    write_env_file(&path, &first, &[("LOG_FORMAT".into(), "json".into())]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let vars: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(vars.len(), 10);
    assert_eq!(vars[0].0, "INPUT_BUCKET");
    assert_eq!(vars[9], ("LOG_FORMAT".to_string(), "json".to_string()));
    let back =
        AwsResources::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
    assert_eq!(back.unwrap(), first);
}
