//! `stereospot models fetch/list` and `convert --model NAME` against a local HTTP server (a
//! std::net thread on 127.0.0.1) that serves a generated ONNX model with the Depth Anything V2
//! I/O: with and without Range support, and one that drops the connection halfway.
use crate::util::{ffmpeg, onnx_from_python, stereospot, summary};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const NAME: &str = "depth-anything-v2-small";
const FILE: &str = "depth-anything-v2-small.onnx";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// 200 with the whole body, Range ignored.
    NoRanges,
    /// 206 for `Range: bytes=N-`, 200 otherwise.
    Ranges,
    /// Announces the whole length, sends half, closes.
    DropHalf,
}

/// A one-file HTTP server; records every request's Range header ("" when none).
struct Server {
    port: u16,
    ranges: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(body: Vec<u8>, mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (ranges.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let _ = serve(conn, &body, mode, &r);
            }
        });
        Server {
            port,
            ranges,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/model.onnx", self.port)
    }

    fn ranges(&self) -> Vec<String> {
        self.ranges.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    conn: TcpStream,
    body: &[u8],
    mode: Mode,
    ranges: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut range = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = v.trim().to_string();
            }
        }
    }
    ranges.lock().expect("lock").push(range.clone());
    let start = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let mut out = conn;
    let len = body.len();
    match (mode, start) {
        (Mode::Ranges, Some(n)) if n < len => {
            write!(
                out,
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {n}-{}/{len}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                len - n,
                len - 1
            )?;
            out.write_all(&body[n..])?;
        }
        (Mode::DropHalf, _) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            )?;
            out.write_all(&body[..len / 2])?;
            out.flush()?;
            out.shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
        _ => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            )?;
            out.write_all(body)?;
        }
    }
    out.flush()
}

/// A ~2 MB model with the onnx-community Depth Anything V2 signature (`pixel_values` [n,3,h,w]
/// -> `predicted_depth` [n,h,w]): brightness as relative inverse depth, plus 2 MB of random
/// weights that only pad the file (summed and multiplied by zero).
fn da_like_model(dir: &Path) -> Vec<u8> {
    let path = dir.join("generated.onnx");
    let script = r#"
import sys, onnx, numpy as np
from onnx import helper, TensorProto, numpy_helper
inp = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["n", 3, "h", "w"])
out = helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, ["n", "h", "w"])
pad = numpy_helper.from_array(np.random.default_rng(7).standard_normal(500_000).astype(np.float32), "pad")
zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
nodes = [
    helper.make_node("ReduceMean", ["pixel_values"], ["m"], axes=[1], keepdims=0),
    helper.make_node("ReduceSum", ["pad"], ["s"], keepdims=0),
    helper.make_node("Mul", ["s", "zero"], ["z"]),
    helper.make_node("Add", ["m", "z"], ["predicted_depth"]),
]
g = helper.make_graph(nodes, "da-like", [inp], [out], initializer=[pad, zero])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="stereospot-tests")
m.ir_version = 8
onnx.save(m, sys.argv[1])
"#;
    onnx_from_python(script, &path);
    let bytes = std::fs::read(&path).expect("read model");
    assert!(
        (1_000_000..3_000_000).contains(&bytes.len()),
        "{}",
        bytes.len()
    );
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("f");
    std::fs::write(&p, bytes).expect("write");
    pipeline_core::depth::download::sha256_file(&p)
        .expect("hash")
        .0
}

/// `stereospot models ARGS` with the models directory `models` and, when given, a SHA-256
/// override; bounded by the server's timeouts.
fn models_cmd(models: &Path, sha: Option<&str>, args: &[&str]) -> Output {
    let mut c = stereospot();
    c.arg("models")
        .args(args)
        .env("STEREOSPOT_MODELS", models)
        .env_remove("STEREOSPOT_MODEL_URL")
        .env_remove("STEREOSPOT_MODEL_SHA256");
    if let Some(sha) = sha {
        c.env("STEREOSPOT_MODEL_SHA256", sha);
    }
    c.output().expect("run stereospot models")
}

fn fetch(models: &Path, sha: Option<&str>, url: &str) -> Output {
    models_cmd(models, sha, &["fetch", NAME, "--url", url])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn listing(models: &Path) -> String {
    let out = models_cmd(models, None, &["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn model_line(listing: &str) -> String {
    listing
        .lines()
        .find(|l| l.starts_with(&format!("{NAME}\t")))
        .unwrap_or_else(|| panic!("no {NAME} line in {listing}"))
        .to_string()
}

fn part(models: &Path) -> PathBuf {
    models.join(format!("{FILE}.part"))
}

#[test]
fn fetch_with_the_right_hash_lands_in_the_cache_and_convert_uses_it_by_name() {
    let d = tempfile::tempdir().expect("tmp");
    let body = da_like_model(d.path());
    let sha = sha256(&body);
    let models = d.path().join("models");
    assert!(model_line(&listing(&models)).contains("\tmissing\t"));

    // Not fetched yet: convert says how to fetch it.
    let clip = d.path().join("in.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x96:rate=12:duration=1",
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        clip.to_str().expect("utf-8"),
    ]);
    let work = d.path().join("work");
    let convert = |model: &str| {
        let mut c = stereospot();
        c.arg("convert")
            .arg(&clip)
            .arg("-o")
            .arg(d.path().join("out.mp4"))
            .arg("--workdir")
            .arg(&work)
            .args(["--json", "--device", "cpu", "--model", model])
            .env("STEREOSPOT_MODELS", &models)
            .env("RUST_LOG", "pipeline_core::depth=info")
            .output()
            .expect("run convert")
    };
    let out = convert(NAME);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("run `stereospot models fetch {NAME}`")),
        "{}",
        stderr(&out)
    );

    let server = Server::start(body.clone(), Mode::NoRanges);
    let out = fetch(&models, Some(&sha), &server.url());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("downloaded, verified"),
        "{}",
        stderr(&out)
    );
    let dest = models.join(FILE);
    assert_eq!(std::fs::read(&dest).expect("cached file"), body);
    assert!(!part(&models).exists(), "no .part left");
    let line = model_line(&listing(&models));
    assert!(
        line.contains("\tcached") && line.contains(&dest.display().to_string()),
        "{line}"
    );

    // A second fetch verifies and downloads nothing.
    let out = fetch(&models, Some(&sha), &server.url());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("already present"), "{}", stderr(&out));
    assert_eq!(server.ranges().len(), 1, "one download only");

    // convert --model NAME loads the cached file with its registry profile.
    let out = convert(NAME);
    let log = stderr(&out);
    let s = summary(&out);
    assert_eq!(s["output_frames"], 12, "{s}");
    let ready = log
        .lines()
        .find(|l| l.contains("depth model ready"))
        .unwrap_or_else(|| panic!("no model log line: {log}"));
    assert!(
        ready.contains(&dest.display().to_string()) && ready.contains("profile depth-anything-v2"),
        "{ready}"
    );

    // An unknown name lists the known ones.
    let out = convert("dpt-large");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("known models: depth-anything-v2-small, midas-small"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fetch_with_a_wrong_hash_fails_and_leaves_nothing() {
    let d = tempfile::tempdir().expect("tmp");
    let body = da_like_model(d.path());
    let models = d.path().join("models");
    let server = Server::start(body.clone(), Mode::Ranges);
    // No override: the generated file cannot match the pinned SHA-256 of the real model.
    let out = fetch(&models, None, &server.url());
    assert!(!out.status.success());
    let err = stderr(&out);
    let pinned = pipeline_core::depth::catalog::lookup(NAME)
        .expect("entry")
        .sha256;
    assert!(
        err.contains("checksum mismatch")
            && err.contains(&format!("expected SHA-256 {pinned}"))
            && err.contains(&format!("got {}", sha256(&body))),
        "{err}"
    );
    assert!(!models.join(FILE).exists(), "nothing under the final name");
    assert!(!part(&models).exists(), "no .part left");
    assert!(model_line(&listing(&models)).contains("\tmissing\t"));
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let d = tempfile::tempdir().expect("tmp");
    let body = da_like_model(d.path());
    let sha = sha256(&body);
    let models = d.path().join("models");
    let dropping = Server::start(body.clone(), Mode::DropHalf);
    let out = fetch(&models, Some(&sha), &dropping.url());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert!(
        !models.join(FILE).exists(),
        "no half file under the final name"
    );
    let half = std::fs::metadata(part(&models)).expect(".part kept").len();
    assert!(half > 0 && half < body.len() as u64, "{half}");

    let ranges = Server::start(body.clone(), Mode::Ranges);
    let out = fetch(&models, Some(&sha), &ranges.url());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("download resumed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ranges.ranges(), vec![format!("bytes={half}-")]);
    assert_eq!(std::fs::read(models.join(FILE)).expect("file"), body);
    assert!(!part(&models).exists());
}

#[test]
fn an_interrupted_download_restarts_where_ranges_are_unsupported_or_the_part_is_wrong() {
    let d = tempfile::tempdir().expect("tmp");
    let body = da_like_model(d.path());
    let sha = sha256(&body);
    let models = d.path().join("models");
    let dropping = Server::start(body.clone(), Mode::DropHalf);
    let out = fetch(&models, Some(&sha), &dropping.url());
    assert!(!out.status.success());
    assert!(part(&models).exists());

    // The server ignores Range and sends the whole file (200): start over.
    let plain = Server::start(body.clone(), Mode::NoRanges);
    let out = fetch(&models, Some(&sha), &plain.url());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("downloaded, verified"),
        "{}",
        stderr(&out)
    );
    assert_eq!(plain.ranges().len(), 1);
    assert!(
        plain.ranges()[0].starts_with("bytes="),
        "a resume was asked"
    );
    assert_eq!(std::fs::read(models.join(FILE)).expect("file"), body);
    assert!(!part(&models).exists());

    // A .part that is not a prefix of the file: resumed, found wrong, downloaded again whole.
    std::fs::remove_file(models.join(FILE)).expect("rm");
    std::fs::write(part(&models), vec![0xAB; body.len() / 3]).expect("bad part");
    let ranges = Server::start(body.clone(), Mode::Ranges);
    let out = fetch(&models, Some(&sha), &ranges.url());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        ranges.ranges(),
        vec![format!("bytes={}-", body.len() / 3), String::new()],
        "one resume, then one whole download"
    );
    assert_eq!(std::fs::read(models.join(FILE)).expect("file"), body);
    assert!(!part(&models).exists());
}

#[test]
fn an_unreachable_host_says_where_to_put_the_file() {
    let d = tempfile::tempdir().expect("tmp");
    let models = d.path().join("models");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("http://127.0.0.1:{port}/model.onnx");
    let out = fetch(&models, None, &url);
    assert!(!out.status.success());
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{err}"));
    let entry = pipeline_core::depth::catalog::lookup(NAME).expect("entry");
    assert!(
        line.contains(&format!("cannot reach {url}"))
            && line.contains(&models.join(FILE).display().to_string())
            && line.contains(entry.sha256)
            && line.contains("STEREOSPOT_MODEL_URL"),
        "{line}"
    );
}
