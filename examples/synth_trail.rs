//! A synthetic signed trail for benchmarks, signed with the committed TEST keys
//! (`vectors/test-keys/`, never AWS's):
//!
//!     cargo run --release --example synth_trail -- --out DIR --logs N \
//!         [--log-kb K] [--logs-per-hour L] [--regions R] [--accounts A] [--bucket B] [--keys DIR]
//!
//! writes an evidence bundle (`DIR/AWSLogs/...` plus `DIR/.ctverify/` with the bucket, every
//! digest's S3 metadata and the public keys) that `ctverify validate DIR` verifies offline and
//! that can be uploaded to an S3 store as is.
//!
//! - `N` log files in all, spread over `A` accounts x `R` regions (one digest chain each), `L`
//!   log files per hourly digest (default 6), one digest per hour per chain.
//! - Log files hold CloudTrail-like records (`log_records`). Their inflated size is drawn per
//!   hour and chain, deterministically, between K/3 and 5K/3 KB (default K = 300: 100-500 KB).
//! - The output is deterministic: the same arguments give the same bytes.
//! - Chains are generated in parallel (one thread per chain, up to the number of cores).
//!
//! Prints one JSON line on stdout describing what it wrote (counts, bytes, first and last
//! digest end time), which the scripts under `bench/` read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ctverify::{ChainId, Sha256, UtcTime};
use ctverify_testgen::vectors::TestKeys;
use ctverify_testgen::{log_records, Bundle, ChainWriter, HourOptions, KeyEntry, TestSigner};

const HOUR: i64 = 3600;
const REGIONS: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "us-east-2",
    "sa-east-1",
    "ca-central-1",
    "ap-south-1",
    "eu-north-1",
    "us-west-1",
];

struct Args {
    out: PathBuf,
    logs: usize,
    log_kb: usize,
    logs_per_hour: usize,
    regions: usize,
    accounts: usize,
    bucket: String,
    keys: PathBuf,
    threads: usize,
}

fn usage(message: &str) -> ! {
    eprintln!("synth_trail: {message}");
    eprintln!(
        "usage: synth_trail --out DIR --logs N [--log-kb K] [--logs-per-hour L] [--regions R] \
         [--accounts A] [--bucket B] [--keys DIR] [--threads T]"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        out: PathBuf::new(),
        logs: 0,
        log_kb: 300,
        logs_per_hour: 6,
        regions: 1,
        accounts: 1,
        bucket: "ctverify-bench-trail".into(),
        keys: PathBuf::from("vectors/test-keys"),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let number = |v: String| -> usize {
            v.parse()
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(|| usage(&format!("{flag}: not a positive integer: {v}")))
        };
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value())),
            "--logs" => args.logs = number(value()),
            "--log-kb" => args.log_kb = number(value()),
            "--logs-per-hour" => args.logs_per_hour = number(value()),
            "--regions" => args.regions = number(value()),
            "--accounts" => args.accounts = number(value()),
            "--bucket" => args.bucket = value(),
            "--keys" => args.keys = PathBuf::from(value()),
            "--threads" => args.threads = number(value()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    args.out = out.unwrap_or_else(|| usage("--out is required"));
    if args.logs == 0 {
        usage("--logs is required");
    }
    if args.regions > REGIONS.len() {
        usage(&format!("at most {} regions", REGIONS.len()));
    }
    args
}

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("fixed time")
}

/// A deterministic number in `[0, n)` from `seed`.
fn pick(seed: &str, n: u64) -> u64 {
    let h = Sha256::of(seed.as_bytes()).0;
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]) % n.max(1)
}

struct ChainPlan {
    id: ChainId,
    /// Log files in each hour, in order.
    hours: Vec<usize>,
    /// First digest's end time.
    first_end: UtcTime,
}

#[derive(Default)]
struct ChainResult {
    metadata: BTreeMap<String, BTreeMap<String, String>>,
    logs: usize,
    digests: usize,
    inflated_bytes: u64,
    gzipped_bytes: u64,
    last_end: i64,
}

/// Writes every object of `bundle` under `dir` and forgets them (keeps memory flat).
fn flush_objects(bundle: &mut Bundle, dir: &Path) -> std::io::Result<u64> {
    let mut bytes = 0;
    for (key, data) in std::mem::take(&mut bundle.objects) {
        let path = dir.join(&key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        bytes += data.len() as u64;
        std::fs::write(path, data)?;
    }
    Ok(bytes)
}

fn main() {
    let args = parse_args();
    let keys = TestKeys::load(&args.keys).unwrap_or_else(|e| {
        eprintln!("synth_trail: {e} (run from the repository root or pass --keys)");
        exit(2)
    });
    if args.out.join(".ctverify/bundle.json").exists() {
        // A previous run's output: start again from nothing.
        for entry in ["AWSLogs", ".ctverify"] {
            let path = args.out.join(entry);
            if path.exists() {
                std::fs::remove_dir_all(&path).unwrap_or_else(|e| {
                    eprintln!("synth_trail: cannot clear {}: {e}", path.display());
                    exit(1)
                });
            }
        }
    } else if std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        eprintln!(
            "synth_trail: {} exists, is not empty and is not a bundle this tool wrote",
            args.out.display()
        );
        exit(2);
    }
    std::fs::create_dir_all(&args.out).unwrap_or_else(|e| {
        eprintln!("synth_trail: {}: {e}", args.out.display());
        exit(1)
    });

    // The signer of each region: the committed keys, reused for regions that have none.
    let signer_for = |region: &str| -> &TestSigner {
        match region {
            "us-east-1" => &keys.us_east_1_a,
            "eu-west-1" => &keys.eu_west_1_a,
            _ => &keys.us_east_1_b,
        }
    };

    // Plan: N logs split over the chains, L per hour (the last hour of a chain takes the rest).
    let chains = args.accounts * args.regions;
    let base = t("2024-05-01T00:00:00Z");
    let mut plans = Vec::new();
    for a in 0..args.accounts {
        let account = format!("{:012}", 111_122_223_333u64 + a as u64 * 1_111);
        for (r, region) in REGIONS.iter().take(args.regions).enumerate() {
            let c = a * args.regions + r;
            let quota = args.logs / chains + usize::from(c < args.logs % chains);
            let mut hours = Vec::new();
            let mut left = quota;
            while left > 0 {
                let n = left.min(args.logs_per_hour);
                hours.push(n);
                left -= n;
            }
            let id = ChainId {
                prefix: String::new(),
                organization_id: None,
                account_id: account.clone(),
                region: region.to_string(),
                trail: "bench-trail".into(),
                home_region: "us-east-1".into(),
                backfill: false,
            };
            // Each chain delivers at its own minute past the hour, as CloudTrail does.
            let minute = pick(&format!("minute/{c}"), 50) as i64 + 5;
            let first_end = base.plus_seconds(HOUR + minute * 60 + (c as i64 * 7) % 60);
            plans.push(ChainPlan {
                id,
                hours,
                first_end,
            });
        }
    }

    // Bytes per record, to turn a size target into a record count.
    let sample = log_records(
        "calibration",
        "111122223333",
        "us-east-1",
        base,
        base.plus_seconds(HOUR),
        400,
    );
    let per_record = serde_json::to_vec(&sample).expect("json").len() as u64 / 400;
    let low = (args.log_kb as u64 * 1024 / 3).max(per_record);
    let high = (args.log_kb as u64 * 1024 * 5 / 3).max(low + 1);

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done_logs = AtomicUsize::new(0);
    let results: Mutex<Vec<ChainResult>> = Mutex::new(Vec::new());
    let failed: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..args.threads.min(chains).max(1) {
            scope.spawn(|| loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                let Some(plan) = plans.get(c) else { break };
                let mut result = ChainResult::default();
                let mut bundle = Bundle::new(&args.bucket, "");
                let mut writer = ChainWriter::new(plan.id.clone());
                let signer = signer_for(&plan.id.region);
                for (h, &count) in plan.hours.iter().enumerate() {
                    let end = plan.first_end.plus_seconds(h as i64 * HOUR);
                    let target = low + pick(&format!("size/{c}/{h}"), high - low);
                    let options = HourOptions {
                        records_per_log: (target / per_record).max(1) as usize,
                        wrong_previous_hash: false,
                    };
                    let delivered = writer.deliver(
                        &mut bundle,
                        signer,
                        end.plus_seconds(-HOUR),
                        end,
                        count,
                        options,
                    );
                    for key in &delivered.log_keys {
                        // Inflated sizes, for the summary (cheap next to the gzip itself).
                        let len = bundle.objects.get(key).map_or(0, |gz| {
                            let tail = &gz[gz.len().saturating_sub(4)..];
                            u64::from(u32::from_le_bytes(tail.try_into().unwrap_or([0; 4])))
                        });
                        result.inflated_bytes += len;
                    }
                    match flush_objects(&mut bundle, &args.out) {
                        Ok(bytes) => result.gzipped_bytes += bytes,
                        Err(e) => {
                            *failed.lock().unwrap() = Some(e.to_string());
                            return;
                        }
                    }
                    result.logs += count;
                    result.digests += 1;
                    result.last_end = end.unix();
                    let total = done_logs.fetch_add(count, Ordering::Relaxed) + count;
                    if total / 1000 != (total - count) / 1000 {
                        eprintln!(
                            "synth_trail: {total}/{} logs ({:.0?})",
                            args.logs,
                            started.elapsed()
                        );
                    }
                }
                result.metadata = std::mem::take(&mut bundle.metadata);
                results.lock().unwrap().push(result);
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap() {
        eprintln!("synth_trail: writing {}: {e}", args.out.display());
        exit(1);
    }

    // The bundle files: every digest's metadata and a key for each region.
    let results = results.into_inner().unwrap();
    let mut bundle = Bundle::new(&args.bucket, "");
    let mut totals = ChainResult::default();
    let mut last_end = i64::MIN;
    for r in results {
        bundle.metadata.extend(r.metadata);
        totals.logs += r.logs;
        totals.digests += r.digests;
        totals.inflated_bytes += r.inflated_bytes;
        totals.gzipped_bytes += r.gzipped_bytes;
        last_end = last_end.max(r.last_end);
    }
    let from = t("2024-01-01T00:00:00Z");
    let to = t("2030-01-01T00:00:00Z");
    let mut public_keys: Vec<KeyEntry> = REGIONS
        .iter()
        .take(args.regions)
        .map(|region| signer_for(region).key_entry(region, from, to))
        .collect();
    public_keys.sort_by(|a, b| a.region.cmp(&b.region));
    bundle.public_keys = public_keys;
    if let Err(e) = bundle.write_to(&args.out) {
        eprintln!("synth_trail: writing {}: {e}", args.out.display());
        exit(1);
    }

    let first_end = plans.iter().map(|p| p.first_end).min().unwrap_or(base);
    let summary = serde_json::json!({
        "out": args.out.display().to_string(),
        "bucket": args.bucket,
        "chains": chains,
        "accounts": args.accounts,
        "regions": REGIONS.iter().take(args.regions).collect::<Vec<_>>(),
        "account_ids": plans.iter().map(|p| p.id.account_id.clone()).collect::<std::collections::BTreeSet<_>>(),
        "trail_name": "bench-trail",
        "home_region": "us-east-1",
        "logs": totals.logs,
        "digests": totals.digests,
        "inflated_bytes": totals.inflated_bytes,
        "gzipped_bytes": totals.gzipped_bytes,
        "log_kb_range": [low / 1024, high / 1024],
        "start_time": first_end.plus_seconds(-HOUR).to_string(),
        "first_digest_end": first_end.to_string(),
        "last_digest_end": UtcTime::from_unix(last_end).to_string(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{summary}");
}
