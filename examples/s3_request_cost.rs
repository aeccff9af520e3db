//! The CPU one GetObject costs the client, by layer: the AWS SDK as ctverify builds it, the
//! SDK with its optional per-request layers off, and a bare HTTP/1 GET through hyper (no
//! signing, no SDK) against the same server, so that what ctverify's S3 path adds per object
//! can be set against what the SDK and HTTP themselves cost (issue 23):
//!
//!     cargo run --release --features aws --example s3_request_cost -- \
//!         ENDPOINT BUCKET KEYS_FILE MODE [CONCURRENCY] [ROUNDS] [THREADS]
//!
//! MODE is `sdk`, `sdk-lean` or `http`. KEYS_FILE has one key per line; each round GETs every
//! key, CONCURRENCY at a time (default 64), reading each body whole. `http` sends unsigned
//! requests: the server must allow anonymous reads (SeaweedFS without an S3 config does).
//! Prints requests, seconds, and the process's CPU (user + system) per request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::config::{ResponseChecksumValidation, StalledStreamProtectionConfig};
use http_body_util::BodyExt as _;

/// One GET of a key, giving the body's length.
type Get = Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>>
        + Send
        + Sync,
>;

/// User + system CPU of this process so far, in seconds (from /proc/self/stat, in ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15; after the ')' they are the 12th and 13th.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: s3_request_cost ENDPOINT BUCKET KEYS_FILE sdk|sdk-lean|http [CONCURRENCY] [ROUNDS] [THREADS]");
        std::process::exit(2);
    }
    let (endpoint, bucket, mode) = (args[0].clone(), args[1].clone(), args[3].clone());
    let keys: Vec<String> = std::fs::read_to_string(&args[2])
        .unwrap_or_else(|e| {
            eprintln!("{}: {e}", args[2]);
            std::process::exit(2)
        })
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let concurrency: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(64);
    let rounds: usize = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads: usize = args.get(6).and_then(|a| a.parse().ok()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    let keys = Arc::new(keys);
    runtime.block_on(async move {
        let get: Get =
            match mode.as_str() {
                "sdk" | "sdk-lean" => {
                    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .load()
                        .await;
                    let mut builder = aws_sdk_s3::config::Builder::from(&config)
                        .endpoint_url(&endpoint)
                        .force_path_style(true);
                    if mode == "sdk-lean" {
                        builder = builder
                            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
                            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
                    }
                    let client = aws_sdk_s3::Client::from_conf(builder.build());
                    let bucket = bucket.clone();
                    Arc::new(move |key: String| {
                        let request = client.get_object().bucket(&bucket).key(key).send();
                        Box::pin(async move {
                            let output = request.await.expect("GetObject");
                            output.body.collect().await.expect("body").into_bytes().len()
                        })
                    })
                }
                "http" => {
                    let client = hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
                    let base = format!("{}/{}", endpoint.trim_end_matches('/'), bucket);
                    Arc::new(move |key: String| {
                        let uri: hyper::Uri = format!("{base}/{key}").parse().expect("uri");
                        let request = client.get(uri);
                        Box::pin(async move {
                            let response = request.await.expect("GET");
                            assert!(response.status().is_success(), "{}", response.status());
                            response.into_body().collect().await.expect("body").to_bytes().len()
                        })
                    })
                }
                other => {
                    eprintln!("unknown mode {other}");
                    std::process::exit(2)
                }
            };
        for round in 0..rounds {
            let next = Arc::new(AtomicUsize::new(0));
            let cpu = cpu_seconds();
            let start = Instant::now();
            let mut workers = Vec::new();
            for _ in 0..concurrency {
                let (next, keys, get) = (next.clone(), keys.clone(), get.clone());
                workers.push(tokio::spawn(async move {
                    let mut bytes = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(key) = keys.get(i) else { break };
                        bytes += get(key.clone()).await;
                    }
                    bytes
                }));
            }
            let mut bytes = 0;
            for worker in workers {
                bytes += worker.await.expect("worker");
            }
            let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
            println!(
                "{mode} round {round}: {} requests, {bytes} bytes, {wall:.2} s, {:.0}/s, CPU {cpu:.2} s: {:.3} ms per request",
                keys.len(),
                keys.len() as f64 / wall,
                cpu * 1000.0 / keys.len() as f64
            );
        }
    });
}
