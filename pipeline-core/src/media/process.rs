//! Running ffmpeg/ffprobe: binary lookup and error text.
use crate::{PipelineError, Result};
use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;

/// `FFMPEG` / `FFPROBE` override the binaries (default: from PATH).
pub fn ffmpeg() -> Command {
    let mut c = Command::new(std::env::var("FFMPEG").unwrap_or_else(|_| "ffmpeg".into()));
    c.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
    c
}

pub fn ffprobe() -> Command {
    let mut c = Command::new(std::env::var("FFPROBE").unwrap_or_else(|_| "ffprobe".into()));
    c.args(["-hide_banner", "-loglevel", "error"]);
    c
}

/// Run to completion, capturing output. Spawn failures name the tool.
pub fn run(tool: &'static str, cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A tool that cannot be started is this machine's problem, not the input's (worker-fatal).
    cmd.output().map_err(|e| {
        PipelineError::worker(format!(
            "cannot run {tool} ({e}); install ffmpeg (Debian: apt-get install ffmpeg)"
        ))
    })
}

/// The error of a tool that exited unsuccessfully. Killed by a signal (the OOM killer's
/// SIGKILL) or out of disk space: the machine's fault (worker-fatal); otherwise a Media error.
pub fn failure(
    tool: &'static str,
    status: std::process::ExitStatus,
    line: String,
) -> PipelineError {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        return PipelineError::worker(format!(
            "{tool} was killed by signal {sig}{} ({line})",
            if sig == 9 { " (out of memory?)" } else { "" }
        ));
    }
    if line.contains("No space left on device") || line.contains("Cannot allocate memory") {
        return PipelineError::worker(format!("{tool}: {line}"));
    }
    PipelineError::media(tool, line)
}

/// Fill `buf` from `r` as far as it goes; the bytes read (less than `buf.len()` only at the end
/// of the stream). `what` names the stream in errors.
pub fn read_full(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(PipelineError::media(
                    "ffmpeg",
                    format!("reading {what}: {e}"),
                ))
            }
        }
    }
    Ok(filled)
}

/// The most useful line of an ffmpeg stderr: the last non-empty one, trimmed and shortened.
pub fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no error output");
    let mut s: String = line.chars().take(300).collect();
    if let Some(idx) = s.find(": ") {
        // Drop a leading input path ("/tmp/x/in.mp4: Invalid data ...") — the caller names the file.
        if s[..idx].contains('/') {
            s = s[idx + 2..].to_string();
        }
    }
    s
}

/// Check a finished command; on failure return a Media error with its last stderr line.
pub fn check(tool: &'static str, out: &Output) -> Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(failure(tool, out.status, last_line(&out.stderr)))
    }
}

/// A running ffmpeg with its stderr collected on a thread (so it never blocks on a full pipe);
/// killed on drop if still running.
pub struct Running {
    pub child: Child,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    /// Spawn `cmd` (stdin/stdout as the caller configured them, stderr piped here).
    pub fn spawn(cmd: &mut Command) -> Result<Running> {
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| PipelineError::worker(format!("cannot run ffmpeg: {e}")))?;
        let stderr = child.stderr.take().map(|mut s| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf);
                buf
            })
        });
        Ok(Running { child, stderr })
    }

    /// Wait for exit; a failure reads "`what` failed: <ffmpeg's last stderr line>".
    pub fn wait(&mut self, what: &str) -> Result<()> {
        let status = self
            .child
            .wait()
            .map_err(|e| PipelineError::media("ffmpeg", e.to_string()))?;
        if status.success() {
            return Ok(());
        }
        let line = format!("{what} failed: {}", self.stderr_tail());
        Err(failure("ffmpeg", status, line))
    }

    /// The process stopped reading its stdin (`e`, a broken pipe): wait for it and report its
    /// own reason. Killed (the OOM killer) or out of space is the machine's fault, not the
    /// input's, whether it happens on the first byte or the last frame.
    pub fn died(&mut self, what: &str, e: &std::io::Error) -> PipelineError {
        let status = self.child.wait();
        let line = format!("{what}: {} ({e})", self.stderr_tail());
        match status {
            Ok(st) if !st.success() => failure("ffmpeg", st, line),
            _ => PipelineError::media("ffmpeg", line),
        }
    }

    /// The last stderr line (after the process has exited).
    pub fn stderr_tail(&mut self) -> String {
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        last_line(&stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_strips_paths_and_blank_lines() {
        assert_eq!(
            last_line(b"x\n/tmp/a/b.mp4: Invalid data found\n\n"),
            "Invalid data found"
        );
        assert_eq!(last_line(b""), "no error output");
        assert_eq!(last_line(b"Error: bad\n"), "Error: bad");
    }
}
