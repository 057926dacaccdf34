//! One retry layer, bounded: every S3, SQS and DynamoDB call of the adapters, pointed at an HTTP
//! server that answers every request with the same failure, reaches that server exactly
//! `config::retry::ATTEMPTS` times when the failure is transient (503) and exactly once when it
//! is worker-fatal (403): the SDK's own retries never multiply ours.
use pipeline_core::adapters::aws::{DynamoJobStore, S3Store, SqsQueue};
use pipeline_core::config::retry::ATTEMPTS;
use pipeline_core::domain::{JobId, JobRecord};
use pipeline_core::ports::{JobStore, ObjectStore, Queue};
use pipeline_core::{ErrorClass, PipelineError};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A server that reads each request whole and answers `status` with an empty body, counting
/// the requests. Runs until the test process ends.
struct Failing {
    url: String,
    count: Arc<AtomicUsize>,
}

fn read_request(stream: &std::net::TcpStream) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if l.starts_with("transfer-encoding:") && l.contains("chunked") {
            chunked = true;
        }
        if line == "\r\n" {
            break;
        }
    }
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0u8; length];
        r.read_exact(&mut body)?;
    }
    Ok(())
}

impl Failing {
    fn start(status: &'static str) -> Failing {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for mut s in listener.incoming().map_while(Result::ok) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                if read_request(&s).is_ok() {
                    c.fetch_add(1, Ordering::SeqCst);
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                }
            }
        });
        Failing { url, count }
    }

    async fn conf(&self) -> aws_config::SdkConfig {
        let creds = aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "t");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(creds)
            .load()
            .await
    }

    /// Requests the server has answered since the last call.
    fn take(&self) -> usize {
        self.count.swap(0, Ordering::SeqCst)
    }
}

/// Run every adapter call once against `server`; (call, requests it made, error class).
async fn calls(server: &Failing) -> Vec<(&'static str, usize, ErrorClass)> {
    let conf = server.conf().await;
    let s3 = S3Store::new(&conf, "bucket");
    let sqs = SqsQueue::new(&conf, &format!("{}/123456789012/q", server.url));
    let db = DynamoJobStore::new(&conf, "jobs", "completions", "triggered");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("f.bin");
    std::fs::write(&file, b"segment bytes").expect("write");
    let job = JobId::derive("bucket", "input/a.mp4", "e", "");
    let mut out = Vec::new();
    let mut note = |name, r: Result<(), PipelineError>| {
        let e = r.expect_err("the server fails every request");
        out.push((name, server.take(), e.class()));
    };
    server.take();
    note("s3 head", s3.head("k").await.map(|_| ()));
    note("s3 put", s3.put_file("k", &file, &[]).await);
    note("s3 get", s3.get_to_file("k", &dir.path().join("g")).await);
    note("sqs send", sqs.send("{}").await);
    note(
        "sqs receive",
        sqs.receive(1, Duration::ZERO).await.map(|_| ()),
    );
    note("sqs settings", sqs.settings().await.map(|_| ()));
    note("dynamodb get", db.get_job(&job).await.map(|_| ()));
    note(
        "dynamodb create",
        db.create_job(&JobRecord::new(job.clone(), "bucket", "input/a.mp4"))
            .await
            .map(|_| ()),
    );
    note(
        "dynamodb record segment",
        db.record_segment(&job, 0, 24).await.map(|_| ()),
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_each_failing_call_is_tried_a_bounded_number_of_times_by_one_layer() {
    let busy = Failing::start("503 Service Unavailable");
    for (call, requests, class) in calls(&busy).await {
        assert_eq!(
            (requests, class),
            (ATTEMPTS, ErrorClass::Transient),
            "{call}: a transient failure is tried {ATTEMPTS} times in all"
        );
    }
    let denied = Failing::start("403 Forbidden");
    for (call, requests, class) in calls(&denied).await {
        assert_eq!(
            (requests, class),
            (1, ErrorClass::WorkerFatal),
            "{call}: access denied is tried once and stops the worker"
        );
    }
}
