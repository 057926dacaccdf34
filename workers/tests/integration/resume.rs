//! Resume: `kill -9` in the middle, run the same command again, finished segments are reused.
use crate::util::*;
use std::time::{Duration, Instant};

#[test]
fn kill_dash_nine_then_rerun_reuses_finished_segments() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=12",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=12",
        "-c:v",
        "libx264",
        "-g",
        "24",
        "-c:a",
        "aac",
        "-shortest",
        input.to_str().unwrap(),
    ]);
    let output = dir.path().join("out.mp4");
    let wd = dir.path().join("wd");
    let args = ["--segment-seconds", "2", "--jobs", "1"];
    let mut child = stereospot()
        .arg("convert")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .arg("--workdir")
        .arg(&wd)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until three stereo segments exist, then kill -9 (SIGKILL: no cleanup runs). A
    // segment's completion is recorded just after its file appears: waiting for one more file
    // than the reuse asserted below keeps a loaded machine from killing in between.
    let segs = wd.join("buckets/output/jobs");
    let deadline = Instant::now() + Duration::from_secs(120);
    let count = || {
        walk(&segs)
            .into_iter()
            .filter(|p| {
                p.extension().is_some_and(|e| e == "mp4")
                    && p.to_string_lossy().contains("/segments/")
            })
            .count()
    };
    while count() < 3 {
        assert!(Instant::now() < deadline, "no segments appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_before = count();
    assert!(done_before < 6, "killed mid-job");
    assert!(!output.exists(), "an interrupted run leaves no output");

    let s = summary(&convert(&input, &output, &wd, &args));
    assert!(s["segments_reused"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["segments"], 6);
    assert_eq!(s["output_frames"], 288);
    let p = probe(&output);
    assert_eq!(decoded_frames(&p), 288);
    assert!(stream(&p, "audio").is_some());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
