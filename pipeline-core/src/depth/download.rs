//! Model download: stream to `<file>.part` while hashing, resume a `.part` with an HTTP Range
//! request, check the SHA-256, and only then rename to the final name. The final name therefore
//! only ever holds a complete, verified file.
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to download and how to check it.
#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    /// Final path; the download goes to [`part_path`] first.
    pub dest: PathBuf,
    /// Expected SHA-256, lowercase hex.
    pub sha256: String,
    /// Expected size, when known (a `.part` longer than this is discarded).
    pub size: Option<u64>,
    /// Download even when `dest` already holds the right file.
    pub force: bool,
}

/// How a download ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// `dest` already held the right file.
    AlreadyPresent,
    /// Downloaded from the start.
    Downloaded,
    /// An earlier `.part` was continued from this byte offset (the server answered 206).
    Resumed { from: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("cannot reach {url}: {reason}: put the file at {dest} (SHA-256 {sha256}) or set STEREOSPOT_MODEL_URL to a mirror")]
    Unreachable {
        url: String,
        reason: String,
        dest: PathBuf,
        sha256: String,
    },
    #[error("{url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("download of {url} interrupted after {done} bytes ({reason}); run the command again to resume")]
    Interrupted {
        url: String,
        done: u64,
        reason: String,
    },
    #[error("checksum mismatch for {url}: expected SHA-256 {expected}, got {got}; the partial file was deleted")]
    BadHash {
        url: String,
        expected: String,
        got: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `<dest>.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// SHA-256 of a file (lowercase hex) and its length.
pub fn sha256_file(path: &Path) -> Result<(String, u64), DownloadError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let len = hash_into(&mut file, &mut hasher).map_err(io_err(path))?;
    Ok((hex::encode(hasher.finalize()), len))
}

fn hash_into(r: &mut impl Read, hasher: &mut Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// The start offset of a `Content-Range: bytes START-END/TOTAL` header.
pub fn content_range_start(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, _total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    start.trim().parse().ok()
}

/// Download `req`; `progress(done, total)` is called as bytes arrive (`total` when known).
pub fn fetch(
    req: &Download,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Fetched, DownloadError> {
    if !req.force && req.dest.is_file() {
        let (got, _) = sha256_file(&req.dest)?;
        if got == req.sha256 {
            return Ok(Fetched::AlreadyPresent);
        }
        tracing::warn!(path = %req.dest.display(), "existing file has the wrong SHA-256: downloading it again");
    }
    if let Some(dir) = req.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let part = part_path(&req.dest);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("stereospot/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();

    let mut resumed = false;
    match attempt(&agent, req, &part, true, &mut resumed, progress) {
        // The resumed prefix did not belong to this file: start over once, without a range.
        Err(DownloadError::BadHash { .. }) if resumed => {
            tracing::warn!(url = %req.url, "the resumed download does not match: downloading from the start");
            attempt(&agent, req, &part, false, &mut resumed, progress)
        }
        other => other,
    }
}

/// Length of a `.part` worth resuming (None: none there or unusable).
fn resumable_len(req: &Download, part: &Path) -> Option<u64> {
    let len = std::fs::metadata(part).ok()?.len();
    match req.size {
        Some(size) if len >= size => None,
        _ if len == 0 => None,
        _ => Some(len),
    }
}

fn attempt(
    agent: &ureq::Agent,
    req: &Download,
    part: &Path,
    allow_resume: bool,
    resumed: &mut bool,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Fetched, DownloadError> {
    let offset = if allow_resume {
        resumable_len(req, part)
    } else {
        None
    };
    *resumed = false;
    let mut request = agent.get(&req.url);
    if let Some(off) = offset {
        request = request.header("Range", format!("bytes={off}-"));
    }
    let response = request.call().map_err(|e| DownloadError::Unreachable {
        url: req.url.clone(),
        reason: e.to_string(),
        dest: req.dest.clone(),
        sha256: req.sha256.clone(),
    })?;
    let status = response.status().as_u16();
    let resumed_from = match (offset, status) {
        (Some(off), 206) => {
            let start = response
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(content_range_start);
            if start != Some(off) {
                // A range we did not ask for: drop the part and fetch the whole file.
                remove_if_exists(part)?;
                return attempt(agent, req, part, false, resumed, progress);
            }
            Some(off)
        }
        (_, 200) => None,
        (Some(_), 416) => {
            // The part does not fit what the server has: start over.
            remove_if_exists(part)?;
            return attempt(agent, req, part, false, resumed, progress);
        }
        (_, status) => {
            return Err(DownloadError::Http {
                url: req.url.clone(),
                status,
            })
        }
    };
    let body_len = response.body().content_length();
    let total = match resumed_from {
        Some(off) => body_len.map(|n| n + off).or(req.size),
        None => body_len.or(req.size),
    };

    let mut hasher = Sha256::new();
    let mut file = match resumed_from {
        Some(off) => {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(part)
                .map_err(io_err(part))?;
            let mut prefix = (&mut f).take(off);
            let hashed = hash_into(&mut prefix, &mut hasher).map_err(io_err(part))?;
            if hashed != off {
                remove_if_exists(part)?;
                return attempt(agent, req, part, false, resumed, progress);
            }
            f.set_len(off).map_err(io_err(part))?;
            f.seek(SeekFrom::Start(off)).map_err(io_err(part))?;
            *resumed = true;
            f
        }
        None => File::create(part).map_err(io_err(part))?,
    };

    let mut done = resumed_from.unwrap_or(0);
    progress(done, total);
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = file.flush();
                return Err(DownloadError::Interrupted {
                    url: req.url.clone(),
                    done,
                    reason: e.to_string(),
                });
            }
        };
        file.write_all(&buf[..n]).map_err(io_err(part))?;
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(done, total);
    }
    file.sync_all().map_err(io_err(part))?;
    drop(file);

    let got = hex::encode(hasher.finalize());
    if got != req.sha256 {
        remove_if_exists(part)?;
        return Err(DownloadError::BadHash {
            url: req.url.clone(),
            expected: req.sha256.clone(),
            got,
        });
    }
    std::fs::rename(part, &req.dest).map_err(io_err(&req.dest))?;
    Ok(match resumed_from {
        Some(from) => Fetched::Resumed { from },
        None => Fetched::Downloaded,
    })
}

fn remove_if_exists(path: &Path) -> Result<(), DownloadError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_path_appends_a_suffix() {
        assert_eq!(
            part_path(Path::new("/m/x.onnx")),
            PathBuf::from("/m/x.onnx.part")
        );
    }

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start(" bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }

    #[test]
    fn file_hash_matches_a_known_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").expect("write");
        let (hash, len) = sha256_file(&p).expect("hash");
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(len, 3);
    }

    #[test]
    fn only_useful_parts_are_resumed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("m.onnx");
        let part = part_path(&dest);
        let req = Download {
            url: "http://127.0.0.1:1/m".into(),
            dest,
            sha256: "0".repeat(64),
            size: Some(10),
            force: false,
        };
        assert_eq!(resumable_len(&req, &part), None);
        std::fs::write(&part, b"").expect("write");
        assert_eq!(resumable_len(&req, &part), None);
        std::fs::write(&part, b"12345").expect("write");
        assert_eq!(resumable_len(&req, &part), Some(5));
        std::fs::write(&part, b"1234567890").expect("write");
        assert_eq!(resumable_len(&req, &part), None, "as long as the file");
    }

    #[test]
    fn unreachable_host_says_where_to_put_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A port nobody listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let dest = dir.path().join("m.onnx");
        let req = Download {
            url: format!("http://127.0.0.1:{port}/m.onnx"),
            dest: dest.clone(),
            sha256: "ab".repeat(32),
            size: None,
            force: false,
        };
        let err = fetch(&req, &mut |_, _| {}).expect_err("nothing listens");
        let msg = err.to_string();
        assert!(matches!(err, DownloadError::Unreachable { .. }), "{msg}");
        assert!(msg.contains(&dest.display().to_string()), "{msg}");
        assert!(msg.contains(&"ab".repeat(32)), "{msg}");
        assert!(msg.contains("STEREOSPOT_MODEL_URL"), "{msg}");
        assert!(!dest.exists() && !part_path(&dest).exists());
    }
}
