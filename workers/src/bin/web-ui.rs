//! `web-ui`: the JSON job API (upload, status, results, live events) and the pages, over the
//! pipeline's buckets and tables. Configuration from the environment (see `docs/web-api.md`);
//! SIGTERM stops it gracefully.
fn main() -> std::process::ExitCode {
    stereospot_workers::web::main()
}
