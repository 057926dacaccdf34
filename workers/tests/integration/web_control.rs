//! The job API's users and job control against moto: each user sees only their own jobs (the
//! admin all), another user's job answers 404 everywhere, and cancel / retry / delete / the
//! thumbnail work — first on records written through the real adapters, then with the real
//! workers converting.
use crate::aws_support::*;
use crate::util;
use crate::web_support::*;
use pipeline_core::adapters::aws::S3Store;
use pipeline_core::domain::{keys, JobId, JobRecord, JobStatus};
use pipeline_core::ports::{JobStore, ObjectStore};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";
const USERS: &str = "alice=alice-token-0123456789,bob=bob-token-0123456789";

fn input(cloud: &Cloud) -> S3Store {
    S3Store::new(&cloud.conf, &cloud.res.input_bucket)
}

fn output(cloud: &Cloud) -> S3Store {
    S3Store::new(&cloud.conf, &cloud.res.output_bucket)
}

/// A job record of `owner` written through the real adapter.
async fn put_job(
    cloud: &Cloud,
    n: u32,
    owner: Option<&str>,
    status: JobStatus,
    created: i64,
) -> JobId {
    let key = format!("input/owned-{n}.mp4");
    let id = JobId::derive(&cloud.res.input_bucket, &key, &format!("etag-{n}"), "");
    let mut j = JobRecord::new(id.clone(), &cloud.res.input_bucket, &key);
    j.status = status;
    j.created_at = created;
    j.owner = owner.map(str::to_string);
    if status.is_terminal() {
        j.completed_at = Some(created + 10);
    }
    assert!(job_store(cloud).create_job(&j).await.expect("create job"));
    id
}

fn ids(v: &Value) -> Vec<String> {
    v["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("no jobs array: {v}"))
        .iter()
        .map(|j| j["job_id"].as_str().unwrap_or("").to_string())
        .collect()
}

fn list(ui: &WebUi, token: &str, status: &str) -> Vec<String> {
    let (s, v) = get(&ui.url(&format!("/api/jobs?status={status}")), Some(token));
    assert_eq!(s, 200, "{v}");
    ids(&v)
}

/// A small file at `key` of `store` (with user metadata).
async fn put_object(store: &S3Store, dir: &std::path::Path, key: &str, meta: &[(&str, &str)]) {
    let p = dir.join("object.bin");
    std::fs::write(&p, b"partial output").expect("write");
    let meta: Vec<(String, String)> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    store.put_file(key, &p, &meta).await.expect("put object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_users_see_and_control_only_their_own_jobs() {
    let cloud = cloud("web-owners").await;
    let ui = WebUi::start(&cloud, "web-ui", &[("WEB_AUTH_USERS", USERS)]);

    // Who is signed in; a wrong token is told apart from none.
    let (s, me) = get(&ui.url("/api/me"), Some(ALICE));
    assert_eq!(
        (s, me),
        (
            200,
            json!({"user": "alice", "admin": false, "auth": "bearer"})
        )
    );
    let (_, me) = get(&ui.url("/api/me"), Some(TOKEN));
    assert_eq!(
        (me["user"].as_str(), me["admin"].as_bool()),
        (Some("admin"), Some(true))
    );
    let (s, v) = get(&ui.url("/api/me"), Some("alice-token-0123456780"));
    assert_eq!((s, code(&v)), (401, "invalid_token"), "{v}");
    let (s, v) = get(&ui.url("/api/me"), None);
    assert_eq!((s, code(&v)), (401, "unauthorized"), "{v}");

    use JobStatus::*;
    let n0 = put_job(&cloud, 0, None, Queued, 200).await;
    let b1 = put_job(&cloud, 1, Some("bob"), Queued, 500).await;
    let a1 = put_job(&cloud, 2, Some("alice"), Processing, 1000).await;
    let a2 = put_job(&cloud, 3, Some("alice"), Failed, 1100).await;
    let b2 = put_job(&cloud, 4, Some("bob"), Completed, 1200).await;
    for n in 10..16 {
        put_job(&cloud, n, Some("bob"), Processing, 2000 + n as i64).await;
    }

    // Lists: one's own jobs; the admin's: all (unowned ones too).
    assert_eq!(list(&ui, ALICE, "in_progress"), [a1.to_string()]);
    assert_eq!(list(&ui, ALICE, "failed"), [a2.to_string()]);
    assert!(list(&ui, ALICE, "completed").is_empty());
    assert_eq!(list(&ui, BOB, "completed"), [b2.to_string()]);
    let bobs = list(&ui, BOB, "in_progress");
    assert!(
        bobs.len() == 7 && bobs.contains(&b1.to_string()),
        "{bobs:?}"
    );
    let all = list(&ui, TOKEN, "in_progress");
    assert_eq!(all.len(), 9, "{all:?}");
    assert!(all.contains(&n0.to_string()) && all.contains(&a1.to_string()));
    // Other users' jobs are skipped across store pages: alice's one job still comes on page 1.
    let (s, v) = get(&ui.url("/api/jobs?status=in_progress&limit=2"), Some(ALICE));
    assert_eq!((s, ids(&v)), (200, vec![a1.to_string()]), "{v}");

    // One job: the owner's, with its place in line (b1 and n0 are older and unfinished).
    let (s, v) = get(&ui.url(&format!("/api/jobs/{a1}")), Some(ALICE));
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["owner"].as_str(), v["queue_position"].as_u64()),
        (Some("alice"), Some(2))
    );
    assert_eq!(get(&ui.url(&format!("/api/jobs/{a1}")), Some(TOKEN)).0, 200);
    // Another user's job: 404 on every path, as if it did not exist.
    for (method, path) in [
        ("GET", ""),
        ("GET", "/results"),
        ("GET", "/events"),
        ("GET", "/thumbnail"),
        ("POST", "/cancel"),
        ("POST", "/retry"),
        ("POST", "/rerender"),
        ("DELETE", ""),
    ] {
        let url = ui.url(&format!("/api/jobs/{a1}{path}"));
        let r = if method == "POST" {
            post_raw(&url, Some(BOB), "application/json", "{}")
        } else {
            request(method, &url, Some(BOB))
        };
        assert_eq!(
            (r.status, code(&r.json())),
            (404, "not_found"),
            "{method} {path}"
        );
    }
    assert_eq!(
        get(&ui.url(&format!("/api/jobs/{a1}")), Some(ALICE)).0,
        200,
        "still there"
    );

    // Cancel: CANCELLED, partial outputs gone, the thumbnail and upload kept; once only.
    let dir = cloud.dir.path();
    let (inp, out) = (input(&cloud), output(&cloud));
    let partial = [
        (&inp, keys::source_segment_key(&a1, 0)),
        (&out, keys::output_segment_key(&a1, 0)),
        (&out, keys::output_depth_key(&a1, 0)),
    ];
    for (s, k) in &partial {
        put_object(s, dir, k, &[]).await;
    }
    let thumb = format!("jobs/{a1}/thumbnail.jpg");
    let jpg = dir.join("thumb.jpg");
    util::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90",
        "-frames:v",
        "1",
        jpg.to_str().expect("utf-8"),
    ]);
    out.put_file(&thumb, &jpg, &[]).await.expect("thumbnail");
    let upload_key = "input/owned-2.mp4".to_string();
    put_object(
        &inp,
        dir,
        &upload_key,
        &[
            ("stereospot-owner", "alice"),
            ("stereospot-layout", "half-sbs"),
        ],
    )
    .await;

    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{a1}/cancel")),
        Some(ALICE),
        &json!({}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["in_progress"].as_bool()),
        (Some("CANCELLED"), Some(false))
    );
    assert!(v["completed_at"].as_i64().is_some(), "{v}");
    for (s, k) in &partial {
        assert!(
            s.head(k).await.expect("head").is_none(),
            "{k} survived the cancel"
        );
    }
    assert!(
        out.head(&thumb).await.expect("head").is_some(),
        "the thumbnail stays"
    );
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{a1}/cancel")),
        Some(ALICE),
        &json!({}),
    );
    assert_eq!((s, code(&v)), (409, "not_running"), "{v}");
    assert_eq!(
        list(&ui, ALICE, "failed"),
        [a1.to_string(), a2.to_string()],
        "cancelled jobs list with the failed"
    );
    assert!(list(&ui, ALICE, "in_progress").is_empty());

    // The thumbnail: a redirect to the image.
    let r = request(
        "GET",
        &ui.url(&format!("/api/jobs/{a1}/thumbnail")),
        Some(ALICE),
    );
    assert_eq!(r.status, 302);
    let location = r.header("location").expect("location").to_string();
    assert!(location.contains("thumbnail.jpg"), "{location}");
    let img = get_with(&location, &[]);
    assert_eq!(
        (img.status, img.body.as_slice()),
        (200, std::fs::read(&jpg).expect("jpg").as_slice())
    );
    let r = request(
        "GET",
        &ui.url(&format!("/api/jobs/{a2}/thumbnail")),
        Some(ALICE),
    );
    assert_eq!((r.status, code(&r.json())), (404, "not_found"));

    // Retry: a finished job is refused; a cancelled one becomes a new job from a copy of its
    // upload, same owner and settings unless new ones are given.
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{b2}/retry")),
        Some(BOB),
        &json!({}),
    );
    assert_eq!((s, code(&v)), (409, "not_retryable"), "{v}");
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{a2}/retry")),
        Some(ALICE),
        &json!({}),
    );
    assert_eq!((s, code(&v)), (409, "input_gone"), "{v}");
    let r = post_raw(
        &ui.url(&format!("/api/jobs/{a1}/retry")),
        Some(ALICE),
        "application/json",
        "",
    );
    assert_eq!(
        r.status,
        201,
        "an empty body is the same settings: {}",
        r.text()
    );
    let v = r.json();
    let copy = v["key"].as_str().expect("key");
    assert_ne!(v["job_id"], a1.as_str());
    let head = inp.head(copy).await.expect("head").expect("copied upload");
    assert_eq!(head.get("stereospot-owner"), Some("alice"));
    assert_eq!(head.get("stereospot-layout"), Some("half-sbs"));
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{a1}/retry")),
        Some(TOKEN),
        &json!({"options": {"layout": "anaglyph"}}),
    );
    assert_eq!(s, 201, "{v}");
    let head = inp
        .head(v["key"].as_str().expect("key"))
        .await
        .expect("head")
        .expect("copy");
    assert_eq!(
        head.get("stereospot-owner"),
        Some("alice"),
        "an admin's retry keeps the owner"
    );
    assert_eq!(head.get("stereospot-layout"), Some("anaglyph"));
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{a1}/retry")),
        Some(ALICE),
        &json!({"options": {"divergence": 99}}),
    );
    assert_eq!((s, code(&v)), (400, "bad_request"), "{v}");

    // Delete: the record, its completions and every object of the job.
    let jobs = job_store(&cloud);
    jobs.record_segment(&a1, 0, 24).await.expect("a completion");
    let r = request("DELETE", &ui.url(&format!("/api/jobs/{a1}")), Some(ALICE));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get(&ui.url(&format!("/api/jobs/{a1}")), Some(ALICE)).0, 404);
    assert!(jobs.get_job(&a1).await.expect("get").is_none());
    assert!(jobs
        .completed_segments(&a1)
        .await
        .expect("completions")
        .is_empty());
    assert!(out
        .list(&format!("jobs/{a1}/"))
        .await
        .expect("list")
        .is_empty());
    assert!(
        inp.head(&upload_key).await.expect("head").is_none(),
        "the upload is deleted"
    );
    let r = request("DELETE", &ui.url(&format!("/api/jobs/{a1}")), Some(ALICE));
    assert_eq!(r.status, 404);

    // Uploads: every video container, stored with its type and the uploader as owner; another
    // user cannot look the upload up.
    let (s, v) = post_json(
        &ui.url("/api/jobs"),
        Some(ALICE),
        &json!({"filename": "Trip.MOV", "size": 14, "content_type": "video/quicktime"}),
    );
    assert_eq!(s, 201, "{v}");
    let h = &v["upload"]["headers"];
    assert_eq!(
        (
            h["content-type"].as_str(),
            h["x-amz-meta-stereospot-owner"].as_str()
        ),
        (Some("video/quicktime"), Some("alice")),
        "{h}"
    );
    let key = v["key"].as_str().expect("key").to_string();
    assert!(key.ends_with("-Trip.mov"), "{key}");
    let r = put_presigned(
        v["upload"]["url"].as_str().expect("url"),
        h,
        b"partial output",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let by_key = |t: &str| get(&ui.url(&format!("/api/jobs/by-key?key={key}")), Some(t)).0;
    assert_eq!((by_key(ALICE), by_key(BOB), by_key(TOKEN)), (200, 404, 200));
}

/// Poll the job until `pred` holds on its view (or panic with the workers' logs).
fn wait_job(
    ui: &WebUi,
    procs: &Procs,
    id: &str,
    what: &str,
    secs: u64,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, v) = get(&ui.url(&format!("/api/jobs/{id}")), Some(ALICE));
        if s == 200 && pred(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last {s} {v}\n{}",
            procs.dump()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Upload `path` as alice under `name`; returns the job id the upload gets.
async fn upload(cloud: &Cloud, ui: &WebUi, path: &std::path::Path, name: &str) -> String {
    let bytes = std::fs::read(path).expect("clip");
    let (s, v) = post_json(
        &ui.url("/api/jobs"),
        Some(ALICE),
        &json!({"filename": name, "size": bytes.len()}),
    );
    assert_eq!(s, 201, "{v}");
    let up = &v["upload"];
    let r = put_presigned(up["url"].as_str().expect("url"), &up["headers"], &bytes);
    assert_eq!(r.status, 200, "PUT: {}", r.text());
    let key = v["key"].as_str().expect("key");
    let head = input(cloud)
        .head(key)
        .await
        .expect("head")
        .expect("uploaded");
    JobId::derive(&cloud.res.input_bucket, key, &head.etag, "").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_cancel_stops_the_workers_and_retry_and_delete_finish_the_story() {
    let started = Instant::now();
    let cloud = cloud("web-control").await;
    let mut procs = Procs::new(&cloud);
    // One segment a film: the cancel must land inside a segment, between frames.
    procs.spawn(Bin::Media, "media", &[("SEGMENT_SECONDS", "60")]);
    let video = procs.spawn(Bin::Video, "video", &[]);
    procs.spawn(Bin::Reassembler, "reassembler", &[]);
    let ui = WebUi::start(&cloud, "web-ui", &[("WEB_AUTH_USERS", USERS)]);
    let dir = cloud.dir.path();

    // A film long enough to be cancelled mid-way (864 frames of 720p, several seconds), in
    // Matroska (any container reaches the pipeline).
    let long = clip(dir, "long.mkv", "1280x720", 36, 24, true);
    let id = upload(&cloud, &ui, &long, "long film.mkv").await;
    // Frames count while the segment renders (the worker reports every 2 s), not at its end.
    let v = wait_job(
        &ui,
        &procs,
        &id,
        "progress inside the first segment",
        120,
        |v| v["frames_done"].as_u64().unwrap_or(0) > 0,
    );
    assert_eq!(v["owner"], "alice");
    assert_eq!(
        (v["segments_total"].as_u64(), v["segments_done"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert!(v["frames_done"].as_u64() < Some(864), "{v}");
    let id_parsed = JobId::parse(&id).expect("id");
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{id}/cancel")),
        Some(ALICE),
        &json!({}),
    );
    assert_eq!(s, 200, "{v}\n{}", procs.dump());
    assert_eq!(v["status"], "CANCELLED");

    // A second film converts while the first stays cancelled: the workers carry on.
    let short = clip(dir, "short.mp4", "320x240", 4, 24, true);
    let next = upload(&cloud, &ui, &short, "short.mp4").await;
    let done = wait_job(&ui, &procs, &next, "the next job completes", 180, |v| {
        v["status"] == "COMPLETED"
    });
    assert_eq!(done["frames_done"], 96, "{done}");
    assert!(
        procs.alive(video),
        "the video-worker keeps running\n{}",
        procs.dump()
    );
    // The input's thumbnail: a JPEG of the display size, 320 px wide.
    let r = request(
        "GET",
        &ui.url(&format!("/api/jobs/{next}/thumbnail")),
        Some(ALICE),
    );
    assert_eq!(r.status, 302, "{}\n{}", r.text(), procs.dump());
    let img = get_with(r.header("location").expect("location"), &[]);
    assert!(
        img.status == 200 && img.body.starts_with(&[0xff, 0xd8]),
        "not a JPEG"
    );
    let jpg = dir.join("thumb.jpg");
    std::fs::write(&jpg, &img.body).expect("write");
    let p = util::probe(&jpg);
    let s = &p["streams"][0];
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(320), Some(240)),
        "{p}"
    );
    let (_, v) = get(&ui.url(&format!("/api/jobs/{id}")), Some(ALICE));
    assert_eq!(v["status"], "CANCELLED", "{v}");
    let (s, v) = get(&ui.url(&format!("/api/jobs/{id}/results")), Some(ALICE));
    assert_eq!(s, 409, "{v}");
    let (inp, out) = (input(&cloud), output(&cloud));
    assert!(
        out.head(&keys::final_key(&id_parsed))
            .await
            .expect("head")
            .is_none(),
        "no final.mp4"
    );
    let leftovers = || async {
        let mut k = inp
            .list(&keys::source_segments_prefix(&id_parsed))
            .await
            .expect("list");
        k.extend(
            out.list(&keys::output_segments_prefix(&id_parsed))
                .await
                .expect("list"),
        );
        k.extend(out.list(&format!("jobs/{id}/depth/")).await.expect("list"));
        k
    };
    // The video-worker stopped mid-segment, between frames.
    assert!(
        procs
            .log(video)
            .contains("render stopped: the job was cancelled"),
        "the video-worker did not stop between frames\n{}",
        procs.dump()
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            leftovers().await.is_empty()
        })
        .await,
        "partial outputs of the cancelled job remain: {:?}\n{}",
        leftovers().await,
        procs.dump()
    );

    // Retry the cancelled film: a new job that completes.
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{id}/retry")),
        Some(ALICE),
        &json!({}),
    );
    assert_eq!(s, 201, "{v}");
    let again = v["job_id"].as_str().expect("job_id").to_string();
    let v = wait_job(&ui, &procs, &again, "the retried job completes", 300, |v| {
        v["status"] == "COMPLETED"
    });
    assert_eq!(v["frames_done"], 864, "{v}");

    // A file that is not a video fails with a reason; its retry is a new job that fails too.
    let junk = dir.join("junk.mp4");
    std::fs::write(&junk, vec![7u8; 4096]).expect("junk");
    let bad = upload(&cloud, &ui, &junk, "holiday.mp4").await;
    let v = wait_job(&ui, &procs, &bad, "the junk job fails", 90, |v| {
        v["status"] == "FAILED"
    });
    assert!(
        v["error"].as_str().unwrap_or("").contains("not a video"),
        "{v}"
    );
    let (s, v) = post_json(
        &ui.url(&format!("/api/jobs/{bad}/retry")),
        Some(ALICE),
        &json!({}),
    );
    assert_eq!(s, 201, "{v}");
    let bad2 = v["job_id"].as_str().expect("job_id").to_string();
    wait_job(&ui, &procs, &bad2, "the retried junk fails", 90, |v| {
        v["status"] == "FAILED"
    });

    // Not a video, put in the bucket directly (any key under input/ starts a job): FAILED once
    // with a reason, seen by the admin.
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "shopping list").expect("notes");
    inp.put_file("input/notes.txt", &notes, &[])
        .await
        .expect("put notes");
    let head = inp
        .head("input/notes.txt")
        .await
        .expect("head")
        .expect("notes");
    let notes_id = JobId::derive(&cloud.res.input_bucket, "input/notes.txt", &head.etag, "");
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let (s, v) = get(&ui.url(&format!("/api/jobs/{notes_id}")), Some(TOKEN));
        if s == 200 && v["status"] == "FAILED" {
            break v;
        }
        assert!(Instant::now() < deadline, "{s} {v}\n{}", procs.dump());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        failed["error"].as_str().unwrap_or("").contains("notes.txt"),
        "{failed}"
    );
    assert_eq!(
        get(&ui.url(&format!("/api/jobs/{notes_id}")), Some(ALICE)).0,
        404,
        "not alice's"
    );

    // Delete the finished retry: record, result and upload gone.
    let again_id = JobId::parse(&again).expect("id");
    let r = request(
        "DELETE",
        &ui.url(&format!("/api/jobs/{again}")),
        Some(ALICE),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        get(&ui.url(&format!("/api/jobs/{again}")), Some(ALICE)).0,
        404
    );
    assert!(out
        .list(&format!("jobs/{again_id}/"))
        .await
        .expect("list")
        .is_empty());
    assert!(inp
        .list(&keys::source_segments_prefix(&again_id))
        .await
        .expect("list")
        .is_empty());
    eprintln!("web control: {:.1} s", started.elapsed().as_secs_f64());
}
