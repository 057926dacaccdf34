//! The web-ui service against a local AWS-protocol server (moto) with the real workers: uploads
//! through presigned URLs (single PUT and multipart), job ids resolved exactly as the media-worker
//! derives them, lists served from the Jobs GSIs, live events until COMPLETED, the result
//! downloaded through its presigned URL, the 4xx contract, and the pages in headless Chromium.
use crate::aws_support::*;
use crate::util;
use crate::web_support::*;
use pipeline_core::adapters::aws::S3Store;
use pipeline_core::domain::{JobId, JobRecord, JobStatus};
use pipeline_core::ports::{JobStore, ObjectStore};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A job record written straight into the Jobs table (through the real adapter).
async fn put_job(
    cloud: &Cloud,
    n: u32,
    status: JobStatus,
    created: i64,
    done: Option<i64>,
) -> JobId {
    let key = format!("input/job-{n}.mp4");
    let id = JobId::derive(&cloud.res.input_bucket, &key, &format!("etag-{n}"), "");
    let mut j = JobRecord::new(id.clone(), &cloud.res.input_bucket, &key);
    j.status = status;
    j.created_at = created;
    j.completed_at = done;
    if status == JobStatus::Failed {
        j.error = Some("not a video".into());
    }
    assert!(job_store(cloud).create_job(&j).await.expect("create job"));
    id
}

/// Every page of a list, following `next_cursor`; returns the pages' job ids.
fn pages(ui: &WebUi, list: &str, limit: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut url = ui.url(&format!("/api/jobs?status={list}&limit={limit}"));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, v) = get(&url, Some(TOKEN));
        assert_eq!(status, 200, "{url}: {v}");
        assert_eq!(v["status"], list);
        let ids: Vec<String> = v["jobs"]
            .as_array()
            .expect("jobs array")
            .iter()
            .map(|j| j["job_id"].as_str().expect("job_id").to_string())
            .collect();
        assert!(ids.len() <= limit, "{v}");
        out.push(ids);
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("{list}: pagination did not end: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_refuses_bad_requests_and_lists_jobs_from_the_gsis() {
    let cloud = cloud("web-api").await;
    let ui = WebUi::start(&cloud, "web-ui", &[("WEB_MAX_UPLOAD_BYTES", "50000000")]);
    let any_id = "0123456789abcdef";

    // Health check and pages are open; the API needs the token.
    assert_eq!(
        get(&ui.url("/healthz"), None),
        (200, json!({"status": "ok"}))
    );
    let page = get_with(&ui.url("/"), &[]);
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(page.text().contains("Convert a video to 3D"));
    assert!(page.header("content-security-policy").is_some());
    assert_eq!(get_with(&ui.url("/jobs/0123456789abcdef"), &[]).status, 200);
    let js = get_with(&ui.url("/static/job.js"), &[]);
    assert!(js.status == 200 && js.text().contains("EventSource"));

    let missing = get_with(&ui.url("/api/jobs"), &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(code(&missing.json()), "unauthorized");
    assert!(missing
        .header("www-authenticate")
        .unwrap_or("")
        .starts_with("Bearer"));
    let (s, v) = get(&ui.url("/api/jobs"), Some("wrong-token-0123456789"));
    assert_eq!((s, code(&v)), (401, "invalid_token"), "{v}");
    let cookie = format!("stereospot_token={TOKEN}");
    assert_eq!(
        get_with(&ui.url("/api/jobs"), &[("cookie", &cookie)]).status,
        200
    );
    let (s, v) = post_json(
        &ui.url("/api/jobs"),
        None,
        &json!({"filename": "a.mp4", "size": 1}),
    );
    assert_eq!(
        (s, code(&v)),
        (401, "unauthorized"),
        "POST without token: {v}"
    );

    // Ids, unknown jobs, routes.
    for path in [
        "/api/jobs/XYZ",
        "/api/jobs/0123456789ABCDEF",
        "/api/jobs/0123456789abcdef0/results",
    ] {
        let (s, v) = get(&ui.url(path), Some(TOKEN));
        assert_eq!((s, code(&v)), (400, "bad_request"), "{path}: {v}");
    }
    for path in ["", "/results", "/events"] {
        let (s, v) = get(&ui.url(&format!("/api/jobs/{any_id}{path}")), Some(TOKEN));
        assert_eq!((s, code(&v)), (404, "not_found"), "{path}: {v}");
    }
    let (s, v) = get(&ui.url("/api/nothing"), Some(TOKEN));
    assert_eq!((s, code(&v)), (404, "not_found"));

    // Upload requests: not a video, too large, not JSON, malformed.
    let post = |body: Value| post_json(&ui.url("/api/jobs"), Some(TOKEN), &body);
    for (body, status, want) in [
        (
            json!({"filename": "notes.txt", "size": 10}),
            400,
            "unsupported_file",
        ),
        (
            json!({"filename": "photo.jpg", "size": 10}),
            400,
            "unsupported_file",
        ),
        (
            json!({"filename": "clip.mp4", "size": 10, "content_type": "text/html"}),
            400,
            "unsupported_file",
        ),
        (
            json!({"filename": "clip.mp4", "size": 50_000_001u64}),
            413,
            "too_large",
        ),
        (
            json!({"filename": "clip.mp4", "size": 0}),
            400,
            "bad_request",
        ),
        (json!({"filename": "clip.mp4"}), 400, "bad_request"),
        (
            json!({"filename": "clip.mp4", "size": 10, "bucket": "other"}),
            400,
            "bad_request",
        ),
    ] {
        let (s, v) = post(body.clone());
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
    }
    let r = post_raw(
        &ui.url("/api/jobs"),
        Some(TOKEN),
        "text/plain",
        r#"{"filename":"a.mp4","size":1}"#,
    );
    assert_eq!((r.status, code(&r.json())), (415, "unsupported_media_type"));
    let r = post_raw(
        &ui.url("/api/jobs"),
        Some(TOKEN),
        "application/json",
        "{\"filename\":",
    );
    assert_eq!((r.status, code(&r.json())), (400, "bad_request"));
    let r = post_raw(
        &ui.url("/api/jobs"),
        Some(TOKEN),
        "application/json",
        &"x".repeat(100_000),
    );
    assert_eq!(r.status, 413, "body limit");

    // by-key: only upload keys, and only existing objects.
    for (key, status) in [
        ("jobs/0123456789abcdef/final.mp4", 400),
        ("input/clip.txt", 400),
        ("input/none.mp4", 404),
        ("input/none.mov", 404),
    ] {
        let (s, v) = get(&ui.url(&format!("/api/jobs/by-key?key={key}")), Some(TOKEN));
        assert_eq!(s, status, "{key}: {v}");
    }
    assert_eq!(get(&ui.url("/api/jobs/by-key"), Some(TOKEN)).0, 400);

    // Lists: records of every status, read back through the GSIs in order and in pages.
    use JobStatus::*;
    let q1 = put_job(&cloud, 1, Queued, 1_000, None).await;
    let r2 = put_job(&cloud, 2, Reassembling, 2_000, None).await;
    let p3 = put_job(&cloud, 3, Processing, 3_000, None).await;
    let p4 = put_job(&cloud, 4, Processing, 4_000, None).await;
    let c5 = put_job(&cloud, 5, Chunking, 5_000, None).await;
    let d6 = put_job(&cloud, 6, Completed, 500, Some(10_000)).await;
    let d7 = put_job(&cloud, 7, Completed, 600, Some(30_000)).await;
    let d8 = put_job(&cloud, 8, Completed, 700, Some(20_000)).await;
    let f9 = put_job(&cloud, 9, Failed, 800, Some(40_000)).await;
    let ids = |v: &[&JobId]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(
        pages(&ui, "in_progress", 2),
        vec![ids(&[&c5, &p4]), ids(&[&p3, &r2]), ids(&[&q1])]
    );
    assert_eq!(
        pages(&ui, "in_progress", 100),
        vec![ids(&[&c5, &p4, &p3, &r2, &q1])]
    );
    assert_eq!(
        pages(&ui, "completed", 2),
        vec![ids(&[&d7, &d8]), ids(&[&d6])]
    );
    assert_eq!(pages(&ui, "failed", 20), vec![ids(&[&f9])]);
    let (s, v) = get(&ui.url("/api/jobs?status=failed"), Some(TOKEN));
    assert_eq!(s, 200);
    assert_eq!(v["jobs"][0]["error"], "not a video");
    assert_eq!(v["jobs"][0]["in_progress"], false);

    // Cursors are opaque and bound to their list; parameters are checked.
    let (_, v) = get(&ui.url("/api/jobs?status=completed&limit=1"), Some(TOKEN));
    let cursor = v["next_cursor"].as_str().expect("a cursor").to_string();
    for q in [
        format!("status=in_progress&cursor={cursor}"),
        "status=completed&cursor=bm90LWEtY3Vyc29y".to_string(),
        "status=running".to_string(),
        "limit=0".to_string(),
        "limit=101".to_string(),
    ] {
        let (s, v) = get(&ui.url(&format!("/api/jobs?{q}")), Some(TOKEN));
        assert_eq!((s, code(&v)), (400, "bad_request"), "{q}: {v}");
    }

    // One job; results only once COMPLETED.
    let (s, v) = get(&ui.url(&format!("/api/jobs/{p3}")), Some(TOKEN));
    assert_eq!(s, 200);
    assert_eq!(
        (
            v["job_id"].as_str(),
            v["status"].as_str(),
            v["created_at"].as_i64(),
            v["name"].as_str()
        ),
        (
            Some(p3.as_str()),
            Some("PROCESSING"),
            Some(3_000),
            Some("job-3.mp4")
        )
    );
    let (s, v) = get(&ui.url(&format!("/api/jobs/{p3}/results")), Some(TOKEN));
    assert_eq!((s, code(&v)), (409, "conflict"), "{v}");
    let (s, v) = get(&ui.url(&format!("/api/jobs/{f9}/results")), Some(TOKEN));
    assert_eq!(s, 409);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not a video"),
        "{v}"
    );
    let (s, v) = get(&ui.url(&format!("/api/jobs/{d7}/results")), Some(TOKEN));
    assert_eq!(s, 200, "{v}");
    let url = v["final"]["url"].as_str().expect("url");
    assert!(
        url.contains(&format!("{}/jobs/{d7}/final.mp4", cloud.res.output_bucket))
            && url.contains("X-Amz-Expires=3600"),
        "{url}"
    );
    assert!(v["final"]["download_url"]
        .as_str()
        .unwrap_or("")
        .contains("attachment"));
    // A finished job's event stream: one `done` event, then the server ends it.
    let (s, events, closed) = read_events(
        &ui.url(&format!("/api/jobs/{d7}/events")),
        TOKEN,
        Duration::from_secs(10),
    );
    assert_eq!(s, 200);
    assert!(closed, "the stream of a finished job ends");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].event.as_str(), events[0].data["status"].as_str()),
        ("done", Some("COMPLETED"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_multipart_upload_gets_the_media_workers_job_id() {
    let cloud = cloud("web-mpu").await;
    const MIB: usize = 1024 * 1024;
    let ui = WebUi::start(
        &cloud,
        "web-ui",
        &[
            ("WEB_AUTH", "none"),
            ("WEB_SINGLE_PUT_MAX_BYTES", "5242880"),
            ("WEB_PART_BYTES", "5242880"),
        ],
    );
    // A real clip padded with an MP4 `free` box to 11 MiB + 1: parts of 5, 5 and 1 MiB + 1.
    let clip = clip(cloud.dir.path(), "mpu.mp4", "320x240", 4, 24, true);
    let mut bytes = std::fs::read(&clip).expect("clip");
    let pad = (11 * MIB + 1 - bytes.len()) as u32;
    pad_mp4(&mut bytes, pad);
    assert_eq!(bytes.len(), 11 * MIB + 1);
    std::fs::write(&clip, &bytes).expect("write padded clip");
    assert_eq!(
        util::decoded_frames(&util::probe(&clip)),
        96,
        "padding keeps the clip valid"
    );

    let (s, v) = post_json(
        &ui.url("/api/jobs"),
        None,
        &json!({"filename": "Holiday Film.MP4", "size": bytes.len(), "content_type": "video/mp4"}),
    );
    assert_eq!(s, 201, "{v}");
    let key = v["key"].as_str().expect("key").to_string();
    assert!(
        key.starts_with("input/") && key.ends_with("-Holiday_Film.mp4"),
        "{key}"
    );
    let up = &v["upload"];
    assert_eq!(up["kind"], "multipart");
    let parts = up["parts"].as_array().expect("parts");
    let sizes: Vec<u64> = parts
        .iter()
        .map(|p| p["size"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(sizes, [5 * MIB as u64, 5 * MIB as u64, MIB as u64 + 1]);
    let complete_url = ui.url(up["complete_url"].as_str().expect("complete_url"));

    let mut uploaded = Vec::new();
    for p in parts {
        let off = p["offset"].as_u64().unwrap_or(0) as usize;
        let len = p["size"].as_u64().unwrap_or(0) as usize;
        let r = put_presigned(
            p["url"].as_str().expect("url"),
            &up["headers"],
            &bytes[off..off + len],
        );
        assert_eq!(r.status, 200, "part {}: {}", p["part_number"], r.text());
        let etag = r.header("etag").expect("ETag of the part").to_string();
        uploaded.push(json!({"part_number": p["part_number"], "etag": etag}));
    }
    // Refused: another key, no parts, a gap, a wrong ETag. (An unknown upload id is a 404 from
    // S3's NoSuchUpload, unit-tested: moto 5.2.5 answers it with a 500.)
    let mut wrong_etag = uploaded.clone();
    wrong_etag[1]["etag"] = json!("\"0123456789abcdef0123456789abcdef\"");
    for (url, body, status) in [
        (
            &complete_url,
            json!({"key": "input/other.mp4", "parts": uploaded}),
            400,
        ),
        (&complete_url, json!({"key": key, "parts": []}), 400),
        (
            &complete_url,
            json!({"key": key, "parts": [uploaded[0], uploaded[2]]}),
            400,
        ),
        (&complete_url, json!({"key": key, "parts": wrong_etag}), 400),
    ] {
        let (s, v) = post_json(url, None, &body);
        assert_eq!(s, status, "{body}: {v}\n{}", ui.log_text());
    }

    // Parts in any order: the service sorts them.
    uploaded.reverse();
    let (s, done) = post_json(&complete_url, None, &json!({"key": key, "parts": uploaded}));
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["parts"], 3);
    let job_id = done["job_id"].as_str().expect("job_id").to_string();

    // The object is the file, byte for byte, and the id is the derivation over its ETag.
    let input = S3Store::new(&cloud.conf, &cloud.res.input_bucket);
    let head = input
        .head(&key)
        .await
        .expect("head")
        .expect("object exists");
    assert_eq!(head.size, bytes.len() as u64);
    assert_eq!(
        job_id,
        JobId::derive(&cloud.res.input_bucket, &key, &head.etag, "").to_string()
    );
    let back = cloud.dir.path().join("back.mp4");
    input.get_to_file(&key, &back).await.expect("download");
    assert!(
        std::fs::read(&back).expect("read back") == bytes,
        "uploaded bytes differ"
    );

    // The media-worker, from the S3 notification, records the job under the same id.
    let mut procs = Procs::new(&cloud);
    procs.spawn(Bin::Media, "media", &[]);
    let created = eventually(Duration::from_secs(60), || async {
        jobs(&cloud).await.iter().any(|(id, _)| *id == job_id)
    })
    .await;
    assert!(
        created,
        "media-worker jobs: {:?}\n{}",
        jobs(&cloud).await,
        procs.dump()
    );
    assert_eq!(
        jobs(&cloud).await.len(),
        1,
        "one job despite the two multipart events"
    );
    let (s, v) = get(&ui.url(&format!("/api/jobs/by-key?key={key}")), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["job_id"], job_id.as_str());
    assert_eq!(v["job"]["job_id"], job_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_upload_follow_events_and_download_the_result() {
    let started = Instant::now();
    let cloud = cloud("web-e2e").await;
    let mut procs = Procs::new(&cloud);
    procs.spawn(Bin::Media, "media", &[]);
    let video = procs.spawn(Bin::Video, "video", &[]);
    procs.spawn(Bin::Reassembler, "reassembler", &[]);
    let mut ui = WebUi::start(&cloud, "web-ui", &[("WEB_EVENTS_POLL_MS", "500")]);
    // 6 s, a keyframe every second, SEGMENT_SECONDS=2: three segments, 144 frames.
    let input = clip(cloud.dir.path(), "e2e clip.mp4", "320x240", 6, 24, true);
    let bytes = std::fs::read(&input).expect("clip");

    let (s, v) = post_json(
        &ui.url("/api/jobs"),
        Some(TOKEN),
        &json!({"filename": "e2e clip.mp4", "size": bytes.len(), "content_type": "video/mp4",
                "options": {"layout": "half-tb", "divergence": 3}}),
    );
    assert_eq!(s, 201, "{v}");
    let up = &v["upload"];
    assert_eq!(up["kind"], "single");
    assert_eq!(up["headers"]["content-type"], "video/mp4");
    // The job's options ride on the upload as signed S3 metadata.
    assert_eq!(
        up["headers"]["x-amz-meta-stereospot-layout"], "half-tb",
        "{up}"
    );
    let r = put_presigned(up["url"].as_str().expect("url"), &up["headers"], &bytes);
    assert_eq!(r.status, 200, "PUT: {}", r.text());

    // The id resolves from the key at once; the job appears when the media-worker takes it.
    let hint = ui.url(v["job_id_hint"].as_str().expect("job_id_hint"));
    let (s, resolved) = get(&hint, Some(TOKEN));
    assert_eq!(s, 200, "{resolved}");
    let key = v["key"].as_str().expect("key");
    let head = S3Store::new(&cloud.conf, &cloud.res.input_bucket)
        .head(key)
        .await
        .expect("head")
        .expect("uploaded");
    let id = JobId::derive(&cloud.res.input_bucket, key, &head.etag, "").to_string();
    assert_eq!(resolved["job_id"], id.as_str());
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&ui.url(&format!("/api/jobs/{id}")), Some(TOKEN)).0 == 404 {
        assert!(
            Instant::now() < deadline,
            "job never created\n{}",
            procs.dump()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Live events until COMPLETED; the stream then ends.
    let (s, events, closed) = read_events(
        &ui.url(&format!("/api/jobs/{id}/events")),
        TOKEN,
        Duration::from_secs(240),
    );
    assert_eq!(s, 200);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let last = events
        .last()
        .unwrap_or_else(|| panic!("no events\n{}", procs.dump()));
    assert!(
        closed && last.event == "done",
        "events {names:?}\n{}\n{}",
        ui.log_text(),
        procs.dump()
    );
    assert_eq!(last.data["status"], "COMPLETED", "{:?}", last.data);
    assert!(
        names[..names.len() - 1].iter().all(|n| *n == "progress"),
        "{names:?}"
    );
    assert!(
        names.len() >= 2,
        "at least one progress event before done: {names:?}"
    );
    let done: Vec<u64> = events
        .iter()
        .map(|e| e.data["segments_done"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        done.windows(2).all(|w| w[0] <= w[1]),
        "segments_done never goes back: {done:?}"
    );
    for w in events.windows(2) {
        assert_ne!(w[0].data, w[1].data, "an event is sent only on change");
    }
    let d = &last.data;
    assert_eq!(
        (d["segments_done"].as_u64(), d["segments_total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (d["frames_done"].as_u64(), d["frames_total"].as_u64()),
        (Some(144), Some(144))
    );
    assert!(d["completed_at"].as_i64() >= d["created_at"].as_i64());

    // The result through its presigned URL (no API credentials), checked with ffprobe.
    let (s, res) = get(&ui.url(&format!("/api/jobs/{id}/results")), Some(TOKEN));
    assert_eq!(s, 200, "{res}");
    let url = res["final"]["url"].as_str().expect("url");
    let dl = get_with(url, &[]);
    assert_eq!(dl.status, 200);
    let out = cloud.dir.path().join("downloaded.mp4");
    std::fs::write(&out, &dl.body).expect("write download");
    // half-tb (the job's option, not the workers' full-sbs): the input's own size.
    check_final(&input, &out, (320, 240));
    assert_eq!(res["final"]["filename"], "e2e_clip-3d.mp4");
    let (_, job) = get(&ui.url(&format!("/api/jobs/{id}")), Some(TOKEN));
    assert_eq!(job["options"]["layout"], "half-tb", "{job}");
    assert_eq!(job["options"]["divergence"], 3.0, "{job}");

    // Lists: completed, not in progress.
    let (_, done_list) = get(&ui.url("/api/jobs?status=completed"), Some(TOKEN));
    assert_eq!(done_list["jobs"][0]["job_id"], id.as_str(), "{done_list}");
    let (_, running) = get(&ui.url("/api/jobs?status=in_progress"), Some(TOKEN));
    assert_eq!(running["jobs"], json!([]));

    // Re-render with new settings: a new job from a copy of the upload, whose segments reuse
    // the kept depth (no inference), in the new format.
    let rr = ui.url(&format!("/api/jobs/{id}/rerender"));
    let (s, v) = post_json(&rr, Some(TOKEN), &json!({"options": {"depth_from": id}}));
    assert_eq!(s, 400, "{v}");
    let (s, v) = post_json(
        &ui.url("/api/jobs/0123456789abcdef/rerender"),
        Some(TOKEN),
        &json!({}),
    );
    assert_eq!(s, 404, "{v}");
    let (s, v) = post_json(
        &rr,
        Some(TOKEN),
        &json!({"options": {"layout": "full-sbs"}}),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["depth_from"], id.as_str());
    let again = v["job_id"].as_str().expect("job_id").to_string();
    assert_ne!(again, id);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (s, j) = get(&ui.url(&format!("/api/jobs/{again}")), Some(TOKEN));
        if s == 200 && j["status"] == "COMPLETED" {
            assert_eq!(j["options"]["layout"], "full-sbs", "{j}");
            assert_eq!(j["options"]["depth_from"], id.as_str(), "{j}");
            break;
        }
        assert!(j["status"] != "FAILED", "{j}\n{}", procs.dump());
        assert!(
            Instant::now() < deadline,
            "re-render never finished\n{}",
            procs.dump()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let reused = procs
        .log(video)
        .lines()
        .filter(|l| l.contains("depth reused; no inference"))
        .count();
    assert_eq!(
        reused,
        3,
        "every segment reuses the kept depth\n{}",
        procs.dump()
    );
    let (_, res) = get(&ui.url(&format!("/api/jobs/{again}/results")), Some(TOKEN));
    let dl = get_with(res["final"]["url"].as_str().expect("url"), &[]);
    let out2 = cloud.dir.path().join("rerendered.mp4");
    std::fs::write(&out2, &dl.body).expect("write download");
    check_final(&input, &out2, (640, 240));
    // Once the original upload is gone, a re-render says so.
    S3Store::new(&cloud.conf, &cloud.res.input_bucket)
        .delete(key)
        .await
        .expect("delete the upload");
    let (s, v) = post_json(&rr, Some(TOKEN), &json!({}));
    assert_eq!((s, code(&v)), (409, "input_gone"), "{v}");

    // SIGTERM: a clean exit.
    ui.sigterm();
    let status = ui.wait_exit(Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", ui.log_text());
    eprintln!("web e2e: {:.1} s", started.elapsed().as_secs_f64());
}

/// `POST /api/preview`: a still in, the same still in 3D out, with the chosen layout (the
/// server's real depth model and renderer); bad stills and options are refused with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_previews_a_still_with_the_chosen_settings() {
    use base64::Engine;
    let cloud = cloud("web-preview").await;
    let ui = WebUi::start(&cloud, "web-ui", &[]);
    let still = cloud.dir.path().join("still.jpg");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180",
        ])
        .args(["-frames:v", "1"])
        .arg(&still)
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&still).unwrap());
    let url = ui.url("/api/preview");
    let size_of = |body: &[u8], name: &str| {
        let p = cloud.dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let v = util::probe(&p);
        let s = util::stream(&v, "video").expect("an image").clone();
        (s["width"].as_u64(), s["height"].as_u64())
    };
    for (layout, size) in [
        ("full-sbs", (640, 180)),
        ("half-tb", (320, 180)),
        ("full-tb", (320, 360)),
    ] {
        let body = json!({"image": format!("data:image/jpeg;base64,{b64}"), "options": {"layout": layout}});
        let r = post_raw(&url, Some(TOKEN), "application/json", &body.to_string());
        assert_eq!(r.status, 200, "{layout}: {}\n{}", r.text(), ui.log_text());
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
        assert_eq!(
            size_of(&r.body, &format!("{layout}.jpg")),
            (Some(size.0), Some(size.1)),
            "{layout}"
        );
    }
    // Left and right views of full-sbs differ (depth shifted them): a 3D still, not a copy.
    let body = json!({"image": b64, "options": {"layout": "full-sbs", "divergence": 8}});
    let r = post_raw(&url, Some(TOKEN), "application/json", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let p = cloud.dir.path().join("sbs.jpg");
    std::fs::write(&p, &r.body).unwrap();
    let (w, _, frames) = util::decode_rgb(&p);
    let (l, rr) = (
        util::crop_cols(&frames[0], w, 0, w / 2),
        util::crop_cols(&frames[0], w, w / 2, w / 2),
    );
    assert!(util::mad(&l, &rr) > 1.0, "the two views differ");

    let refused = |body: Value| {
        let r = post_raw(&url, Some(TOKEN), "application/json", &body.to_string());
        (r.status, r.json())
    };
    let (s, v) = refused(json!({"image": "not base64 at all!"}));
    assert_eq!((s, code(&v)), (400, "bad_request"), "{v}");
    let text = base64::engine::general_purpose::STANDARD.encode("hello, not an image");
    let (s, v) = refused(json!({"image": text}));
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("JPEG or PNG"),
        "{v}"
    );
    let (s, v) = refused(json!({"image": b64, "options": {"layout": "sbs"}}));
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown stereo layout"),
        "{v}"
    );
    // Above the limit: refused with 413 without being read to the end, so the client may see
    // its write cut off and no answer at all; what it must never see is the still processed
    // (a 200, or a 400 about the image).
    let big = json!({"image": "A".repeat(5 << 20)}).to_string();
    let answer = raw_post(&url, &big);
    assert!(
        answer.is_empty() || (answer.starts_with("HTTP/1.1 413") && answer.contains("too_large")),
        "{}",
        &answer[..answer.len().min(300)]
    );
    let (s, _) = refused(json!({"image": text}));
    assert_eq!(s, 400, "the server carries on after an oversize request");
    let r = post_raw(
        &url,
        None,
        "application/json",
        &json!({"image": b64}).to_string(),
    );
    assert_eq!(r.status, 401, "previews need the token too");
}

/// POST `body` (JSON) to `url` over a plain socket, ignoring a write the server cuts short;
/// the raw answer (empty when the connection was reset).
fn raw_post(url: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut sock = std::net::TcpStream::connect(host).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let head = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = sock
        .write_all(head.as_bytes())
        .and_then(|()| sock.write_all(body.as_bytes()));
    let mut answer = Vec::new();
    let _ = sock.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing(root: &Path) -> Option<String> {
    let chromium = crate::tools::chromium_path();
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "{chromium} not found (make web-test-deps installs Debian's chromium)"
        ));
    }
    if !root.join("web-test/node_modules/playwright-core").exists() {
        return Some("web-test/node_modules missing (make web-test-deps runs npm ci)".into());
    }
    if Command::new("node")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        return Some("node not found".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_pages_upload_and_play_in_headless_chromium() {
    let root = util::workspace();
    // A failure under `make test` (which installs them), a skip under a plain `cargo test`.
    if crate::tools::need(
        "web_ui_pages_upload_and_play_in_headless_chromium",
        browser_missing(&root),
    )
    .is_err()
    {
        return;
    }
    let cloud = cloud("web-browser").await;
    let mut procs = Procs::new(&cloud);
    for (bin, name) in [
        (Bin::Media, "media"),
        (Bin::Video, "video"),
        (Bin::Reassembler, "reassembler"),
    ] {
        procs.spawn(bin, name, &[]);
    }
    // Two users who must not see each other's jobs (neither is an admin).
    let (alice, bob) = (
        "browser-alice-token-0123456789",
        "browser-bob-token-0123456789",
    );
    let users = format!("alice={alice},bob={bob}");
    let ui = WebUi::start(&cloud, "web-ui", &[("WEB_AUTH_USERS", users.as_str())]);
    let shot = std::env::var("WEB_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("out/web-ui.png"));
    let _ = std::fs::remove_file(&shot);
    let out = Command::new("node")
        .args([
            "--test",
            "--test-reporter=spec",
            "web-test/browser.test.mjs",
        ])
        .current_dir(&root)
        .env("WEB_URL", &ui.base)
        .env("WEB_TOKEN", alice)
        .env("WEB_TOKEN_B", bob)
        .env("WEB_SCREENSHOT", &shot)
        .env("WEB_WORKDIR", cloud.dir.path())
        .output()
        .expect("run node");
    let report = format!(
        "{}\n{}\n----- web-ui -----\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        ui.log_text(),
        procs.dump()
    );
    assert!(out.status.success(), "browser test failed:\n{report}");
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("screenshot {}: {e}\n{report}", shot.display()));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot is not a PNG of a page"
    );
    eprintln!("browser test passed; screenshot at {}", shot.display());
}
