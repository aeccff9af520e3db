//! Measures the strict gzip + SHA-256 reader on one file, to compare inflate backends and
//! hash implementations built into this binary:
//!
//!     cargo run --release --example inflate_speed -- FILE.gz [ROUNDS]
//!
//! prints MB/s of inflated data for the full pass, for inflating alone, and for SHA-256 alone.

use std::io::Read;
use std::time::Instant;

use sha2::Digest as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: inflate_speed FILE.gz [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let compressed = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });

    let best = |f: &mut dyn FnMut() -> u64| {
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                let bytes = f();
                (bytes, start.elapsed().as_secs_f64())
            })
            .fold(
                (0, f64::MAX),
                |acc, (b, t)| if t < acc.1 { (b, t) } else { acc },
            )
    };

    let (bytes, t) = best(&mut || {
        ctverify::inflate_and_hash(&compressed[..], ctverify::Keep::Nothing)
            .map(|i| i.inflated_len)
            .unwrap_or(0)
    });
    println!(
        "inflate+sha256  {:8.1} MB/s ({} MB inflated)",
        bytes as f64 / t / 1e6,
        bytes / 1_000_000
    );

    let mut inflated = Vec::new();
    let (bytes, t) = best(&mut || {
        inflated.clear();
        let mut d = flate2::read::GzDecoder::new(&compressed[..]);
        d.read_to_end(&mut inflated).map(|n| n as u64).unwrap_or(0)
    });
    println!("inflate only    {:8.1} MB/s", bytes as f64 / t / 1e6);

    let (bytes, t) = best(&mut || {
        let digest = sha2::Sha256::digest(&inflated);
        std::hint::black_box(digest);
        inflated.len() as u64
    });
    println!("sha256 only     {:8.1} MB/s", bytes as f64 / t / 1e6);
}
