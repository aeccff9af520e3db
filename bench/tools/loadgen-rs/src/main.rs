//! A small wrk stand-in: GETs the paths listed in a file over C keep-alive HTTP/1.1 connections
//! for D seconds, on one thread (pin it with taskset), and prints
//! `LOADGEN_RESULT requests=N seconds=S non200=K errors=E bytes=B rate=R`
//! (the same line as bench/tools/loadgen.py, which costs several times the CPU per request).
//!
//!     loadgen --url http://127.0.0.1:PORT --paths FILE [-c 256] [-d 10]
//!
//! Each connection walks the list from its own offset. Requests are shaped like the AWS SDK's
//! GetObject (`?x-id=GetObject`, a SigV4-shaped Authorization header, checksum mode), as in
//! bench/tools/get_paths.lua, so the server does the work it does for ctverify's GETs. Bodies
//! are read by Content-Length and dropped; a `Connection: close` answer makes the connection
//! dial again. Only requests answered before the deadline count.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADERS: &str = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240501/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000\r\n\
x-amz-date: 20240501T000000Z\r\n\
x-amz-checksum-mode: ENABLED\r\n\
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n\
User-Agent: bench-loadgen (bench/tools/loadgen-rs)\r\n";

#[derive(Default)]
struct Counts {
    requests: Cell<u64>,
    non200: Cell<u64>,
    errors: Cell<u64>,
    bytes: Cell<u64>,
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Status, Content-Length, and whether the server closes after this response.
fn parse_head(head: &[u8]) -> Result<(u16, u64, bool), String> {
    let text = std::str::from_utf8(head).map_err(|e| e.to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().ok_or("empty head")?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<u64>().map_err(|e| e.to_string())?);
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked bodies are not supported".into());
        }
    }
    Ok((status, length.unwrap_or(0), close))
}

async fn one_request(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
    scratch: &mut [u8],
) -> Result<(u16, u64, bool), String> {
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    buf.clear();
    let head_end = loop {
        if let Some(end) = find_head_end(buf) {
            break end;
        }
        let n = stream.read(scratch).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the response head".into());
        }
        buf.extend_from_slice(&scratch[..n]);
    };
    let (status, length, close) = parse_head(&buf[..head_end])?;
    let mut left = length.saturating_sub((buf.len() - head_end) as u64);
    while left > 0 {
        let want = left.min(scratch.len() as u64) as usize;
        let n = stream.read(&mut scratch[..want]).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed mid-body".into());
        }
        left -= n as u64;
    }
    Ok((status, length, close))
}

async fn worker(addr: String, host: String, paths: Rc<Vec<String>>, offset: usize, deadline: Instant, counts: Rc<Counts>) {
    let mut i = offset;
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut scratch = vec![0u8; 256 * 1024];
    while Instant::now() < deadline {
        if conn.is_none() {
            match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(s);
                }
                Err(_) => {
                    counts.errors.set(counts.errors.get() + 1);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let path = &paths[i % paths.len()];
        i += 1;
        let request = format!("GET {path}?x-id=GetObject HTTP/1.1\r\nHost: {host}\r\n{HEADERS}\r\n");
        let stream = conn.as_mut().unwrap();
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, one_request(stream, request.as_bytes(), &mut buf, &mut scratch)).await {
            Err(_) => break, // the deadline passed mid-request: not counted
            Ok(Ok((status, length, close))) => {
                counts.requests.set(counts.requests.get() + 1);
                counts.bytes.set(counts.bytes.get() + length);
                if status != 200 {
                    counts.non200.set(counts.non200.get() + 1);
                }
                if close {
                    conn = None;
                }
            }
            Ok(Err(_)) => {
                counts.errors.set(counts.errors.get() + 1);
                conn = None;
            }
        }
    }
}

fn main() {
    let mut url = None;
    let mut paths_file = None;
    let mut conns = 64usize;
    let mut seconds = 10f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{a} needs a value")));
        match a.as_str() {
            "--url" => url = Some(value()),
            "--paths" => paths_file = Some(value()),
            "-c" => conns = value().parse().unwrap_or_else(|_| usage("-c: a number")),
            "-d" => seconds = value().parse().unwrap_or_else(|_| usage("-d: seconds")),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let url = url.unwrap_or_else(|| usage("--url is required"));
    let host = url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("--url: http://HOST:PORT"))
        .trim_end_matches('/')
        .to_string();
    let paths_file = paths_file.unwrap_or_else(|| usage("--paths is required"));
    let paths: Vec<String> = std::fs::read_to_string(&paths_file)
        .unwrap_or_else(|e| usage(&format!("{paths_file}: {e}")))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if paths.is_empty() {
        usage("no paths");
    }
    let paths = Rc::new(paths);
    let counts = Rc::new(Counts::default());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let handles: Vec<_> = (0..conns)
            .map(|k| {
                tokio::task::spawn_local(worker(host.clone(), host.clone(), paths.clone(), k * 7919, deadline, counts.clone()))
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "LOADGEN_RESULT requests={} seconds={:.3} non200={} errors={} bytes={} rate={:.1}",
        counts.requests.get(),
        elapsed,
        counts.non200.get(),
        counts.errors.get(),
        counts.bytes.get(),
        counts.requests.get() as f64 / elapsed
    );
}

fn usage(msg: &str) -> ! {
    eprintln!("loadgen: {msg}\nusage: loadgen --url http://HOST:PORT --paths FILE [-c CONNS] [-d SECONDS]");
    std::process::exit(2)
}
