//! Start-up checks of a worker, run before it takes any message: a worker that cannot work must
//! fail here (exit non-zero, one clear line) instead of failing users' jobs. The queue-access
//! check lives with the SQS adapter (`SqsQueue::settings`).
use crate::media::process::{ffmpeg, ffprobe};
use std::path::Path;
use std::process::{Command, Stdio};

/// ffmpeg and ffprobe start (`-version`), from `FFMPEG` / `FFPROBE` or PATH.
pub fn check_tools() -> Result<(), String> {
    for (name, mut cmd) in [("ffmpeg", ffmpeg()), ("ffprobe", ffprobe())] {
        check_tool(name, &mut cmd)?;
    }
    Ok(())
}

fn check_tool(name: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {name} ({e}): install ffmpeg or set PATH"))?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("{name} -version failed ({out})"))
    }
}

/// Bytes available to us on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Result<u64, String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: path contains a NUL byte", path.display()))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!(
            "{}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // u32 or u64 depending on the platform
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// The scratch directory can be created and written, and has at least `min_free` bytes free.
/// Returns the free bytes.
pub fn check_scratch(dir: &Path, min_free: u64) -> Result<u64, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("scratch directory {}: {e}", dir.display()))?;
    let probe = dir.join(".write-check");
    std::fs::write(&probe, b"ok")
        .map_err(|e| format!("scratch directory {} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    let free = free_bytes(dir)?;
    if free < min_free {
        return Err(format!(
            "scratch directory {}: {} MiB free, {} MiB needed (SCRATCH_MIN_FREE_MB)",
            dir.display(),
            free / (1 << 20),
            min_free.div_ceil(1 << 20)
        ));
    }
    Ok(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_and_scratch() {
        check_tools().expect("ffmpeg and ffprobe on PATH (make deps)");
        let mut missing = Command::new("/nonexistent/ffmpeg");
        let e = check_tool("ffmpeg", &mut missing).unwrap_err();
        assert!(e.starts_with("cannot run ffmpeg"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("scratch");
        let free = check_scratch(&scratch, 1).expect("scratch");
        assert!(free > 0 && scratch.is_dir());
        let e = check_scratch(&scratch, u64::MAX).unwrap_err();
        assert!(
            e.contains("MiB free") && e.contains("SCRATCH_MIN_FREE_MB"),
            "{e}"
        );
    }
}
