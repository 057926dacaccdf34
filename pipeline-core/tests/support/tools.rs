//! How tests find the tools they need, the way `make test` provides them, and what a missing
//! tool means. One file, included by every test target that needs it
//! (`#[path = ".../pipeline-core/tests/support/tools.rs"] mod tools;`).
//!
//! - Python: `STEREOSPOT_PYTHON` (make test: the venv with onnx, numpy and moto), else `python3`.
//! - chromium: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`.
//!
//! Under `make test` (`STEREOSPOT_REQUIRE_TOOLS=1`) a missing tool fails the test; under a plain
//! `cargo test` the test says it was skipped and why, and returns.
#![allow(dead_code)]
use std::process::Command;

/// True under `make test`: every tool must be there.
pub fn required() -> bool {
    std::env::var("STEREOSPOT_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The Python `make test` provides (`STEREOSPOT_PYTHON`), else `python3`.
pub fn python_path() -> String {
    std::env::var("STEREOSPOT_PYTHON").unwrap_or_else(|_| "python3".into())
}

pub fn python() -> Command {
    Command::new(python_path())
}

/// `Ok(())` when `test` can run; when a tool is missing (`missing` says which and why): a panic
/// under `make test`, else a SKIPPED line and `Err(())` for the test to return on.
pub fn need(test: &str, missing: Option<String>) -> Result<(), ()> {
    let Some(why) = missing else { return Ok(()) };
    if required() {
        panic!("{test}: {why} (make test provides it: run `make deps`)");
    }
    eprintln!("SKIPPED {test}: {why}");
    Err(())
}

/// Why the Python of [`python_path`] cannot import `modules`, if it cannot.
pub fn python_missing(modules: &[&str]) -> Option<String> {
    let py = python_path();
    let code = format!("import {}", modules.join(", "));
    match python().args(["-c", &code]).output() {
        Err(e) => Some(format!("{py} not runnable ({e})")),
        Ok(o) if !o.status.success() => Some(format!(
            "{py} cannot import {}: {}",
            modules.join(", "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// The chromium binary: `CHROMIUM_PATH`, else `/usr/bin/chromium`.
pub fn chromium_path() -> String {
    std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into())
}
