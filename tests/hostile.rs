//! Hostile input through the binary: bombs, malformed and adversarial digests, keys that try to
//! leave the source root, bad key files, pointer loops. Each test asserts the exact verdicts and
//! exit code cli.md asks for ("bad input gets a clear error and changes nothing", "never read
//! outside the source root", "never report a file valid that was not fully checked"), and every
//! run checks that the source directory is byte-for-byte unchanged afterwards.
//!
//! Several tests here began as bugs the fuzzers or these tests found (key validity not
//! enforced, a missing digest listed twice, missing digests inferred over present ones, digest
//! keys with a leading slash, a header CRC one gzip path checked and the other did not); all
//! are fixed and their tests run.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::test_keys;
use ctverify::internal::gzip;
use ctverify::{ChainId, DigestKey, Fingerprint, Sha256, UtcTime};
use ctverify_testgen::vectors::TestKeys;
use ctverify_testgen::{Bundle, ChainWriter, Delivered, HourOptions};
use serde_json::{json, Value};

const BUCKET: &str = "hostile-bucket";
const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const HOUR: i64 = 3600;
/// Longest any single run may take: a run that goes past it is a hang (or a blocked read).
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("time")
}

fn chain_id() -> ChainId {
    ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        trail: "hostile".into(),
        home_region: REGION.into(),
        backfill: false,
    }
}

struct Trail {
    bundle: Bundle,
    hours: Vec<Delivered>,
    keys: TestKeys,
}

/// One chain of `hours` hourly digests, `logs` log files each, signed with the us-east-1 test
/// key, which the bundle's key file lists (tagged us-east-1).
fn trail(hours: usize, logs: usize) -> Trail {
    let keys = test_keys();
    let mut bundle = Bundle::new(BUCKET, "");
    let mut writer = ChainWriter::new(chain_id());
    let first_end = t("2024-05-01T00:12:34Z");
    for h in 0..hours {
        let end = first_end.plus_seconds(h as i64 * HOUR);
        writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            logs,
            HourOptions {
                records_per_log: 2,
                wrong_previous_hash: false,
            },
        );
    }
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        REGION,
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    Trail {
        bundle,
        hours: writer.delivered,
        keys,
    }
}

impl Trail {
    fn digest(&self, h: usize) -> String {
        self.hours[h].digest_key.clone()
    }

    fn write(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        self.bundle.write_to(dir.path()).expect("write bundle");
        dir
    }

    /// Re-signs digest `h` after `edit` with the trusted key: what CloudTrail itself could sign.
    fn resign(&mut self, h: usize, edit: impl FnOnce(&mut Value)) {
        let key = self.digest(h);
        self.bundle
            .resign_digest(&key, &self.keys.us_east_1_a, edit);
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident set size of the verifier, when it could be measured.
    max_rss_kb: Option<u64>,
}

/// Runs the binary, failing the test if it runs past `RUN_TIMEOUT` (a hang, or a blocking read
/// of something it should never have opened).
fn run_bounded(args: &[String], measure_memory: bool) -> Run {
    let time = Path::new("/usr/bin/time");
    let measure = measure_memory && time.exists();
    let mut command = if measure {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("CTVERIFY_MAX_RSS_KB=%M")
            .arg(env!("CARGO_BIN_EXE_ctverify"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_ctverify"))
    };
    let mut child = command
        .args(args)
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ctverify");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ctverify {args:?} did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout")).into_owned();
    let mut stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr")).into_owned();
    let mut max_rss_kb = None;
    if measure {
        if let Some(at) = stderr.rfind("CTVERIFY_MAX_RSS_KB=") {
            max_rss_kb = stderr[at + "CTVERIFY_MAX_RSS_KB=".len()..]
                .trim()
                .parse()
                .ok();
            stderr.truncate(at);
        }
    }
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        max_rss_kb,
    }
}

/// Everything about a tree that a run must not change: paths, kinds, sizes, modification
/// times, file contents and symlink targets. FIFOs are recorded but never opened.
fn tree_state(root: &Path) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let kind = meta.file_type();
            let mtime = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let what = if kind.is_symlink() {
                format!(
                    "symlink -> {}",
                    std::fs::read_link(&path).expect("readlink").display()
                )
            } else if kind.is_dir() {
                stack.push(path.clone());
                format!("dir mtime {mtime}")
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).expect("read");
                format!(
                    "file {} bytes mtime {mtime} sha256 {}",
                    bytes.len(),
                    Sha256::of(&bytes)
                )
            } else {
                format!("special {:?} mtime {mtime}", kind)
            };
            state.insert(rel, what);
        }
    }
    state
}

/// `ctverify validate DIR --format json --verbose EXTRA...`, checking that DIR is unchanged.
fn validate(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let (run, doc) = validate_run(dir, extra, false);
    (run.code, doc)
}

fn validate_run(dir: &Path, extra: &[&str], measure_memory: bool) -> (Run, Value) {
    let before = tree_state(dir);
    let mut args: Vec<String> = vec![
        "validate".into(),
        dir.display().to_string(),
        "--format".into(),
        "json".into(),
        "--verbose".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = run_bounded(&args, measure_memory);
    assert_eq!(
        before,
        tree_state(dir),
        "the run changed the source directory"
    );
    assert!(
        !run.stderr.contains("panicked"),
        "ctverify panicked: {}",
        run.stderr
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {}\nstderr: {}",
            run.stdout, run.stderr
        )
    });
    (run, doc)
}

fn files(doc: &Value) -> &Vec<Value> {
    doc["files"].as_array().expect("files[]")
}

/// Every entry of `kind` whose key (or `moved_to`) is `key`.
fn entries<'a>(doc: &'a Value, kind: &str, key: &str) -> Vec<&'a Value> {
    files(doc)
        .iter()
        .filter(|f| f["kind"] == kind && (f["key"] == key || f["moved_to"] == key))
        .collect()
}

/// The one status of the file `key` of `kind`; fails if it is listed other than once.
fn status(doc: &Value, kind: &str, key: &str) -> String {
    let found = entries(doc, kind, key);
    assert_eq!(
        found.len(),
        1,
        "{kind} {key} listed {} times in {:#}",
        found.len(),
        doc["files"]
    );
    found[0]["status"].as_str().expect("status").to_string()
}

fn detail(doc: &Value, kind: &str, key: &str) -> String {
    entries(doc, kind, key)[0]["detail"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Every digest and log of `trail` except `except` is valid in `doc`.
fn all_valid_except(doc: &Value, trail: &Trail, except_digests: &[usize]) {
    for (h, hour) in trail.hours.iter().enumerate() {
        if except_digests.contains(&h) {
            continue;
        }
        assert_eq!(
            status(doc, "digest", &hour.digest_key),
            "valid",
            "digest {h}"
        );
        for log in &hour.log_keys {
            assert_eq!(status(doc, "log", log), "valid", "log of digest {h}");
        }
    }
}

fn never_valid(doc: &Value, key: &str) {
    for entry in entries(doc, "digest", key)
        .into_iter()
        .chain(entries(doc, "log", key))
    {
        assert_ne!(entry["status"], "valid", "{entry:#}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bombs

/// CRC-32 of 200 MiB of zero bytes
/// (`python3 -c "import zlib; print(zlib.crc32(bytes(200 << 20)))"`).
const CRC32_OF_200_MIB_OF_ZEROS: u32 = 1_397_688_417;
/// CRC-32 of 256 MiB of spaces.
const CRC32_OF_256_MIB_OF_SPACES: u32 = 100_713_527;

/// A gzip member of `len` bytes all equal to `fill`, written by hand: one fixed-Huffman deflate
/// block of a literal and then back-references of 258 bytes at distance 1 (13 bits each, so
/// about 1/160 of the size). `crc32` is the CRC-32 of the inflated bytes (computed outside the
/// test: hashing hundreds of MiB in a debug build is slow).
fn gzip_bomb(fill: u8, len: usize, crc32: u32) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `count` bits of `value`, least significant first (header fields, extra bits).
        fn lsb(&mut self, value: u32, count: u32) {
            self.acc |= u64::from(value) << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code: most significant bit first.
        fn code(&mut self, code: u32, count: u32) {
            let reversed = code.reverse_bits() >> (32 - count);
            self.lsb(reversed, count);
        }
    }
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.lsb(1, 1); // BFINAL
    bits.lsb(1, 2); // BTYPE = fixed Huffman
    let literal = |bits: &mut Bits| {
        if fill < 144 {
            bits.code(0x30 + u32::from(fill), 8);
        } else {
            bits.code(0x190 + u32::from(fill) - 144, 9);
        }
    };
    literal(&mut bits);
    let runs = (len - 1) / 258;
    for _ in 0..runs {
        bits.code(0xc5, 8); // length code 285: 258 bytes
        bits.code(0, 5); // distance code 0: distance 1
    }
    for _ in 0..(len - 1) % 258 {
        literal(&mut bits);
    }
    bits.code(0, 7); // end of block
    bits.lsb(0, 7); // pad to a byte
    let mut out = bits.out;
    out.extend(crc32.to_le_bytes());
    out.extend((len as u32).to_le_bytes());
    out
}

#[test]
fn hand_made_gzip_bombs_are_well_formed() {
    // Small enough to check through the real decoder here.
    let bomb = gzip_bomb(0, 100_000, 0xd411_957d);
    let inflated = ctverify::inflate_and_hash(&bomb[..], ctverify::Keep::Nothing)
        .expect("a valid gzip member");
    assert_eq!(inflated.inflated_len, 100_000);
    assert_eq!(inflated.sha256, Sha256::of(&[0u8; 100_000]));
}

#[test]
fn digest_gzip_bomb_is_invalid_format_and_the_run_goes_on() {
    let mut trail = trail(5, 2);
    // 256 MiB of spaces: JSON whitespace, so only the size cap can refuse it.
    let bomb = gzip_bomb(b' ', 256 << 20, CRC32_OF_256_MIB_OF_SPACES);
    assert!(bomb.len() < 2 << 20, "a small file: {} bytes", bomb.len());
    trail.bundle.objects.insert(trail.digest(2), bomb);
    let dir = trail.write();
    let (run, doc) = validate_run(dir.path(), &[], true);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(status(&doc, "digest", &trail.digest(2)), "invalid_format");
    assert!(
        detail(&doc, "digest", &trail.digest(2)).contains("inflates to more than"),
        "{}",
        detail(&doc, "digest", &trail.digest(2))
    );
    // Its neighbours verify (the older one by its own metadata signature). Its own logs are
    // listed by no readable digest: whatever is said of them, they are not valid.
    all_valid_except(&doc, &trail, &[2]);
    for log in &trail.hours[2].log_keys {
        never_valid(&doc, log);
    }
    if let Some(kb) = run.max_rss_kb {
        eprintln!("peak RSS with a 256 MiB digest bomb: {kb} KiB");
        // Bounded by the 64 MiB the verifier keeps of a digest, not by what it inflates to.
        assert!(kb < 150 * 1024, "peak RSS {kb} KiB");
    }
}

/// SHA-256 of 200 MiB of zero bytes (`head -c 209715200 /dev/zero | sha256sum`).
const SHA256_OF_200_MIB_OF_ZEROS: &str =
    "72abf2ca8f36943ebe2e49ca3a51d409ca5f0bfcffab6c9d25643c17c32889da";

#[test]
fn log_bomb_with_the_right_hash_verifies_in_bounded_memory() {
    let mut trail = trail(2, 2);
    let log = trail.hours[1].log_keys[0].clone();
    let bomb = gzip_bomb(0, 200 << 20, CRC32_OF_200_MIB_OF_ZEROS);
    assert!(bomb.len() < 2 << 20, "a small file: {} bytes", bomb.len());
    trail.bundle.objects.insert(log.clone(), bomb);
    // The newest digest records the bomb's true hash and is signed by the trusted key.
    trail.resign(1, |v| {
        v["logFiles"][0]["hashValue"] = SHA256_OF_200_MIB_OF_ZEROS.into();
    });
    let dir = trail.write();
    let (run, doc) = validate_run(dir.path(), &["--concurrency", "4"], true);
    assert_eq!(run.code, 0, "{}\n{:#}", run.stderr, doc["files"]);
    assert_eq!(status(&doc, "log", &log), "valid");
    all_valid_except(&doc, &trail, &[]);
    match run.max_rss_kb {
        Some(kb) => {
            eprintln!("peak RSS verifying a 200 MiB log bomb: {kb} KiB");
            assert!(kb < 100 * 1024, "peak RSS {kb} KiB for a 200 MiB log");
        }
        None => eprintln!("/usr/bin/time not available: peak RSS not measured"),
    }
}

/// CRC-32 (IEEE), as the gzip trailer records it.
fn crc32(data: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|mut c| {
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            c
        })
        .collect();
    !data.iter().fold(!0u32, |c, b| {
        table[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// One gzip member of stored (uncompressed) deflate blocks: its size is the size of `data`.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    gzip_stored_with_header_crc(data, None)
}

/// The same, with the FHCRC flag and a header CRC-16 that is off by `header_crc_xor` (0: right).
fn gzip_stored_with_header_crc(data: &[u8], header_crc_xor: Option<u16>) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    if let Some(xor) = header_crc_xor {
        out[3] = 0x02; // FHCRC
        let crc16 = (crc32(&out) & 0xffff) as u16 ^ xor;
        out.extend(crc16.to_le_bytes());
    }
    let blocks: Vec<&[u8]> = data.chunks(0xffff).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len())); // BFINAL, BTYPE = stored
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// Incompressible bytes (xorshift), so that the gzip file is as large as its content.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Small files are inflated in one call (libdeflate), larger ones streamed (flate2): both must
/// check the gzip trailer and refuse what follows the member. Logs on both sides of the 8 MiB
/// line whose content is intact (so a reader that ignored the trailer, or stopped at the end of
/// the member, would find the recorded hash) but whose trailer lies or that carry junk.
#[test]
fn gzip_trailers_and_trailing_bytes_are_checked_on_both_inflate_paths() {
    let mut trail = trail(1, 1);
    let folder = format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/04/30");
    let mut logs: Vec<(String, Vec<u8>, Sha256, &str)> = Vec::new();
    for (size, side) in [(8 << 20) - (64 << 10), (8 << 20) + (64 << 10)]
        .into_iter()
        .zip(["one-call", "streamed"])
    {
        let content = noise(size, size as u64);
        let hash = Sha256::of(&content);
        let gz = gzip_stored(&content);
        let n = gz.len();
        let mut junk = gz.clone();
        junk.extend(b"junk");
        let mut second = gz.clone();
        second.extend(gzip(b"second member"));
        let mut bad_crc = gz.clone();
        bad_crc[n - 8] ^= 1;
        let mut isize_small = gz.clone();
        isize_small[n - 4] = isize_small[n - 4].wrapping_sub(1);
        let mut isize_big = gz.clone();
        isize_big[n - 1] = 0x7f;
        for (what, bytes, expected) in [
            ("intact", gz, "valid"),
            ("junk", junk, "trailing_data"),
            ("second-member", second, "trailing_data"),
            ("bad-crc", bad_crc, "invalid_format"),
            ("isize-small", isize_small, "invalid_format"),
            ("isize-big", isize_big, "invalid_format"),
        ] {
            let key = format!(
                "{folder}/{ACCOUNT}_CloudTrail_{REGION}_20240430T2330Z_{side}-{what}.json.gz"
            );
            logs.push((key, bytes, hash, expected));
        }
    }
    trail.resign(0, |v| {
        let template = v["logFiles"][0].clone();
        for (key, _, hash, _) in &logs {
            let mut log = template.clone();
            log["s3Object"] = key.clone().into();
            log["hashValue"] = hash.to_hex().into();
            v["logFiles"].as_array_mut().expect("logFiles").push(log);
        }
    });
    for (key, bytes, _, _) in &logs {
        trail.bundle.objects.insert(key.clone(), bytes.clone());
    }
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    for (key, _, _, expected) in &logs {
        assert_eq!(&status(&doc, "log", key), expected, "{key}");
    }
}

/// fuzz/regressions/gzip_hash/wrong-header-crc: a gzip header with FHCRC set and a wrong header
/// CRC-16. The content, its CRC-32 and ISIZE are intact, so the recorded hash matches. libdeflate
/// (the one-call path, files up to 8 MiB compressed while the memory budget allows) skips the
/// header CRC and accepts the file; flate2 (the streaming path: larger files, or when the budget
/// is used up by other threads) checks it and refuses it. So the verdict on one and the same kind
/// of file depends on its size and on what else is being inflated at the time. Either answer
/// could be argued (the AWS CLI's Python gzip reader discards the header CRC unchecked); the two
/// paths must give the same one.
#[test]
fn a_wrong_gzip_header_crc_gets_one_verdict_whatever_the_path() {
    let mut trail = trail(1, 1);
    let folder = format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/04/30");
    let mut logs: Vec<(String, Vec<u8>, Sha256)> = Vec::new();
    for (size, side) in [(4 << 10, "one-call"), ((8 << 20) + (64 << 10), "streamed")] {
        let content = noise(size, 7 + size as u64);
        for (what, xor) in [("right", 0u16), ("wrong", 0x0101)] {
            let key = format!(
                "{folder}/{ACCOUNT}_CloudTrail_{REGION}_20240430T2330Z_{side}-{what}-fhcrc.json.gz"
            );
            let bytes = gzip_stored_with_header_crc(&content, Some(xor));
            logs.push((key, bytes, Sha256::of(&content)));
        }
    }
    trail.resign(0, |v| {
        let template = v["logFiles"][0].clone();
        for (key, _, hash) in &logs {
            let mut log = template.clone();
            log["s3Object"] = key.clone().into();
            log["hashValue"] = hash.to_hex().into();
            v["logFiles"].as_array_mut().expect("logFiles").push(log);
        }
    });
    for (key, bytes, _) in &logs {
        trail.bundle.objects.insert(key.clone(), bytes.clone());
    }
    let dir = trail.write();
    let (_, doc) = validate(dir.path(), &[]);
    let verdict = |i: usize| status(&doc, "log", &logs[i].0);
    // A right header CRC is fine either way.
    assert_eq!(verdict(0), "valid");
    assert_eq!(verdict(2), "valid");
    // A wrong one: the same verdict on both paths.
    assert_eq!(
        verdict(1),
        verdict(3),
        "one-call path says {}, streaming path says {}",
        verdict(1),
        verdict(3)
    );
}

/// Every input under fuzz/regressions/gzip_hash/, through `inflate_and_hash` and through flate2
/// (the streaming path's decoder) over the whole input: both accept it, with the same bytes, or
/// both refuse it.
#[test]
fn gzip_regressions_agree_with_the_streaming_decoder() {
    let dir = common::repo().join("fuzz/regressions/gzip_hash");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions/gzip_hash") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("read");
        let ours = ctverify::inflate_and_hash(&data[..], ctverify::Keep::Nothing);
        let mut decoder = flate2::bufread::GzDecoder::new(&data[..]);
        let mut out = Vec::new();
        let reference = match decoder.read_to_end(&mut out) {
            Ok(_) if decoder.into_inner().is_empty() => Some(Sha256::of(&out)),
            _ => None,
        };
        assert_eq!(
            ours.as_ref().ok().map(|i| i.sha256),
            reference,
            "{}: ours {ours:?}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 0);
}

// ---------------------------------------------------------------------------------------------
// Malformed digest JSON

/// Digest 2 of 5 replaced by `json` (gzipped): it is `invalid_format`, everything else valid.
fn malformed_digest_case(json: &[u8]) {
    let mut trail = trail(5, 1);
    trail.bundle.objects.insert(trail.digest(2), gzip(json));
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &trail.digest(2)), "invalid_format");
    all_valid_except(&doc, &trail, &[2]);
}

fn original_json(trail: &Trail, h: usize) -> Value {
    serde_json::from_slice(&trail.bundle.inflated(&trail.digest(h))).expect("digest JSON")
}

#[test]
fn deeply_nested_json_is_invalid_format() {
    let nested = "[".repeat(100_000);
    malformed_digest_case(nested.as_bytes());
    let closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    malformed_digest_case(closed.as_bytes());
    // The same depth where the digest has an array: past serde_json's recursion limit.
    let trail = trail(5, 1);
    let mut value = original_json(&trail, 2);
    value["logFiles"] = "LOGS".into();
    let text = serde_json::to_string(&value)
        .expect("json")
        .replace(r#""LOGS""#, &closed);
    malformed_digest_case(text.as_bytes());
}

#[test]
fn deep_nesting_in_a_field_nobody_reads_is_skipped_without_recursion() {
    // serde_json skips an unknown field's value iteratively, so 100k levels there neither
    // overflow the stack nor make the digest malformed. The bytes still changed, and the
    // successor's previousDigestHashValue says so: hash_mismatch, never valid.
    let mut trail = trail(5, 1);
    let mut text = serde_json::to_string(&original_json(&trail, 2)).expect("json");
    text.pop(); // the closing brace
    text.push_str(&format!(
        r#","padding":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    trail
        .bundle
        .objects
        .insert(trail.digest(2), gzip(text.as_bytes()));
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &trail.digest(2)), "hash_mismatch");
    for log in &trail.hours[2].log_keys {
        assert_eq!(status(&doc, "log", log), "unverified");
    }
}

#[test]
fn huge_malformed_json_is_invalid_format() {
    let trail = trail(5, 1);
    let mut value = original_json(&trail, 2);
    let one = value["logFiles"][0].clone();
    let mut logs: Vec<Value> = (0..100_000)
        .map(|i| {
            let mut log = one.clone();
            log["s3Object"] = format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/x/{i}.json.gz").into();
            log
        })
        .collect();
    let mut last = one.clone();
    last["hashValue"] = "not-a-hash".into();
    logs.push(last);
    value["logFiles"] = logs.into();
    let bytes = serde_json::to_vec(&value).expect("json");
    assert!(bytes.len() > 10 << 20);
    malformed_digest_case(&bytes);
}

#[test]
fn invalid_utf8_is_invalid_format() {
    let trail = trail(5, 1);
    let text = serde_json::to_string(&original_json(&trail, 2)).expect("json");
    let mut bytes = text.into_bytes();
    // Inside the bucket name string: `"digestS3Bucket":"hostile\xff-bucket"`.
    let at = bytes
        .windows(BUCKET.len())
        .position(|w| w == BUCKET.as_bytes())
        .expect("bucket in JSON")
        + 7;
    bytes.insert(at, 0xff);
    malformed_digest_case(&bytes);
    // A lone surrogate escape is not UTF-8 either.
    let text = serde_json::to_string(&original_json(&trail, 2))
        .expect("json")
        .replacen(BUCKET, "hostile\\ud800-bucket", 1);
    malformed_digest_case(text.as_bytes());
}

#[test]
fn duplicate_keys_are_invalid_format() {
    let trail = trail(5, 1);
    for field in ["awsAccountId", "logFiles", "previousDigestSignature"] {
        let value = original_json(&trail, 2);
        let mut text = serde_json::to_string(&value).expect("json");
        text.pop();
        text.push_str(&format!(r#","{field}":{}}}"#, value[field]));
        malformed_digest_case(text.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Log keys that try to leave the source root

#[test]
fn log_keys_that_escape_the_root_are_never_valid() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let mut trail = trail(2, 1);

    // A log with the right content and hash, outside the root: a verifier that followed any of
    // the keys below would call it valid.
    let inflated = br#"{"Records":[{"eventName":"Outside"}]}"#;
    let hash = Sha256::of(inflated).to_hex();
    let outside = outer.path().join("outside.json.gz");
    std::fs::write(&outside, gzip(inflated)).expect("outside log");
    let outside_dir = outer.path().join("elsewhere");
    std::fs::create_dir(&outside_dir).expect("outside dir");
    std::fs::write(outside_dir.join("log.json.gz"), gzip(inflated)).expect("outside log");

    let log_folder = format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/05/01");
    let escaping: Vec<(String, &str)> = vec![
        ("../outside.json.gz".into(), "error"),
        (
            format!("{log_folder}/../../../../../../../outside.json.gz"),
            "error",
        ),
        (outside.display().to_string(), "error"),
        (format!("{log_folder}/x\0/../../outside.json.gz"), "error"),
        (format!("{log_folder}\\..\\..\\outside.json.gz"), "error"),
        (format!("{log_folder}/./x.json.gz"), "error"),
        (format!("{log_folder}//x.json.gz"), "error"),
        (format!("{log_folder}/link.json.gz"), "error"),
        (format!("{log_folder}/linked-dir/log.json.gz"), "error"),
        // Percent-encoding is not decoded: this names a file literally called `%2e%2e`, which
        // is not there. S3 keys are opaque; `not_found` is right and is not valid.
        (
            format!(
                "{log_folder}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside.json.gz"
            ),
            "not_found",
        ),
    ];
    trail.resign(1, |v| {
        let template = v["logFiles"][0].clone();
        for (key, _) in &escaping {
            let mut log = template.clone();
            log["s3Object"] = key.clone().into();
            log["hashValue"] = hash.clone().into();
            v["logFiles"].as_array_mut().expect("logFiles").push(log);
        }
    });
    trail.bundle.write_to(&root).expect("write");
    let folder = root.join(&log_folder);
    std::fs::create_dir_all(&folder).expect("log folder");
    std::os::unix::fs::symlink(&outside, folder.join("link.json.gz")).expect("symlink");
    std::os::unix::fs::symlink(&outside_dir, folder.join("linked-dir")).expect("symlink");

    let (code, doc) = validate(&root, &[]);
    assert_eq!(code, 1, "not_found for the percent-encoded key");
    // The digest itself is authentic and in place.
    assert_eq!(status(&doc, "digest", &trail.digest(1)), "valid");
    for (key, expected) in &escaping {
        let got = status(&doc, "log", key);
        assert_eq!(
            &got,
            expected,
            "{key:?}: {:#}",
            entries(&doc, "log", key)[0]
        );
        if *expected == "error" {
            let why = detail(&doc, "log", key);
            assert!(why.contains("refused"), "{key:?}: detail {why:?}");
        }
    }
    all_valid_except(&doc, &trail, &[]);
}

/// The trail prefix (from bundle.json or --s3-prefix) is a key prefix too: one that climbs out
/// of the root is refused before anything is listed, though a whole valid trail waits there.
#[test]
fn a_prefix_that_leaves_the_root_is_refused() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    let trail = trail(2, 1);
    trail
        .bundle
        .write_to(outer.path())
        .expect("trail outside the root");
    trail.bundle.write_to(&root).expect("trail inside the root");
    let info = root.join(".ctverify/bundle.json");
    let mut bundle: Value =
        serde_json::from_slice(&std::fs::read(&info).expect("bundle.json")).expect("json");
    bundle["prefix"] = "..".into();
    std::fs::write(&info, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let before = tree_state(outer.path());
    for extra in [
        &[][..],
        &["--s3-prefix", "../"][..],
        &["--s3-prefix", "a/../.."][..],
    ] {
        let mut args: Vec<String> = vec!["validate".into(), root.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let run = run_bounded(&args, false);
        // The prefix is refused ("key has a '.' or '..' segment") before anything runs: it
        // can never work, so it is bad configuration (exit 2).
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{extra:?}: {}", run.stdout);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("refused"), "{}", run.stderr);
    }
    assert_eq!(before, tree_state(outer.path()));
}

/// A symlink to a FIFO outside the root: opening it would block (no writer), so a verifier that
/// reads outside the root hangs here and the run times out.
#[test]
fn a_symlink_out_of_the_root_is_not_opened() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let fifo = outer.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo not available: skipped");
        return;
    }
    let mut trail = trail(1, 1);
    let log_folder = format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/05/01");
    let key = format!("{log_folder}/fifo.json.gz");
    trail.resign(0, |v| {
        let mut log = v["logFiles"][0].clone();
        log["s3Object"] = key.clone().into();
        v["logFiles"].as_array_mut().expect("logFiles").push(log);
    });
    trail.bundle.write_to(&root).expect("write");
    std::fs::create_dir_all(root.join(&log_folder)).expect("log folder");
    std::os::unix::fs::symlink(&fifo, root.join(&key)).expect("symlink");
    let (code, doc) = validate(&root, &[]);
    assert_eq!(code, 3, "an unreadable log is incomplete, not tampered");
    assert_eq!(status(&doc, "log", &key), "error");
    assert!(detail(&doc, "log", &key).contains("outside the source root"));
}

// ---------------------------------------------------------------------------------------------
// Malformed metadata signatures

#[test]
fn malformed_metadata_signatures_are_signature_invalid() {
    let base = trail(3, 1);
    let newest = base.digest(2);
    let good = base.bundle.metadata[&newest]["signature"].clone();
    assert_eq!(good.len(), 512);
    let cases: Vec<(&str, String)> = vec![
        ("one byte short", good[..510].to_string()),
        ("one byte long", format!("{good}00")),
        ("odd length", good[..511].to_string()),
        ("empty", String::new()),
        ("not hex", format!("zz{}", &good[2..])),
        ("leading zero byte", format!("00{good}")),
        ("a 4096-bit signature", good.repeat(2)),
        ("huge", "ab".repeat(1 << 20)),
    ];
    for (what, signature) in cases {
        let mut trail = trail(3, 1);
        trail
            .bundle
            .metadata
            .get_mut(&newest)
            .expect("metadata")
            .insert("signature".into(), signature);
        let dir = trail.write();
        let (code, doc) = validate(dir.path(), &[]);
        assert_eq!(code, 1, "{what}");
        assert_eq!(
            status(&doc, "digest", &newest),
            "signature_invalid",
            "{what}"
        );
        for log in &trail.hours[2].log_keys {
            assert_eq!(status(&doc, "log", log), "unverified", "{what}");
        }
        // The older digests cannot lean on an unverified successor, but verify by their own.
        assert_eq!(status(&doc, "digest", &trail.digest(1)), "valid", "{what}");
    }
    // Hex case is not significant, and the value is trimmed: both still verify.
    for (what, signature) in [
        ("uppercase", good.to_uppercase()),
        ("whitespace", format!(" {good}\n")),
    ] {
        let mut trail = trail(3, 1);
        trail
            .bundle
            .metadata
            .get_mut(&newest)
            .expect("metadata")
            .insert("signature".into(), signature);
        let dir = trail.write();
        let (code, doc) = validate(dir.path(), &[]);
        assert_eq!(code, 0, "{what}: {:#}", doc["files"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Key files

/// DER of a PKCS#1 `RSAPublicKey` with any modulus and exponent, valid or not.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            return vec![n as u8];
        }
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
    fn integer(value: &[u8]) -> Vec<u8> {
        let mut content: Vec<u8> = value.iter().copied().skip_while(|b| *b == 0).collect();
        if content.first().is_none_or(|b| b & 0x80 != 0) {
            content.insert(0, 0);
        }
        let mut out = vec![0x02];
        out.extend(len(content.len()));
        out.extend(content);
        out
    }
    let mut body = integer(n);
    body.extend(integer(e));
    let mut out = vec![0x30];
    out.extend(len(body.len()));
    out.extend(body);
    out
}

fn key_file(der: &[u8], fingerprint: &str) -> Value {
    json!({"PublicKeyList": [{
        "Value": base64::engine::general_purpose::STANDARD.encode(der),
        "ValidityStartTime": 1_704_067_200,
        "ValidityEndTime": 1_735_689_600,
        "Fingerprint": fingerprint,
        "Region": REGION,
    }]})
}

#[test]
fn bad_key_files_exit_2_with_one_line() {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::traits::PublicKeyParts as _;

    let trail = trail(2, 1);
    let dir = trail.write();
    let real =
        rsa::RsaPublicKey::from_pkcs1_der(trail.keys.us_east_1_a.public_der()).expect("test key");
    let n = real.n().to_bytes_be();
    let e = real.e().to_bytes_be();
    let fp = |der: &[u8]| Fingerprint::of_der(der).to_hex();

    let mut short_modulus = vec![0xc5u8; 128];
    short_modulus[127] = 0x01;
    let short = rsa_public_key_der(&short_modulus, &e);
    let e1 = rsa_public_key_der(&n, &[1]);
    let e4 = rsa_public_key_der(&n, &[4]);
    let even_big = rsa_public_key_der(&n, &[1, 0, 0]);
    let real_der = trail.keys.us_east_1_a.public_der().to_vec();
    let other_fp = trail.keys.us_east_1_b.fingerprint().to_hex();

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "1024-bit key",
            key_file(&short, &fp(&short)),
            "shorter than 2048",
        ),
        ("e = 1", key_file(&e1, &fp(&e1)), "key #0"),
        ("e = 4", key_file(&e4, &fp(&e4)), "key #0"),
        ("e = 65536", key_file(&even_big, &fp(&even_big)), "key #0"),
        (
            "fingerprint of another key",
            key_file(&real_der, &other_fp),
            "is not the MD5 of its key",
        ),
        (
            "fingerprint not hex",
            key_file(&real_der, "not-a-fingerprint"),
            "is not the MD5 of its key",
        ),
        (
            "not base64",
            json!({"PublicKeyList": [{"Value": "%%%", "Fingerprint": fp(&real_der)}]}),
            "not base64",
        ),
        (
            "not DER",
            key_file(b"not a key", &fp(b"not a key")),
            "not an RSA public key",
        ),
        ("no list", json!({"Keys": []}), "PublicKeyList"),
    ];
    for (what, file, message) in cases {
        let path = dir.path().join("keys.json");
        std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
        let before = tree_state(dir.path());
        let run = run_bounded(
            &[
                "validate".into(),
                dir.path().display().to_string(),
                "--public-keys".into(),
                path.display().to_string(),
            ],
            false,
        );
        assert_eq!(before, tree_state(dir.path()));
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{what}: printed a report");
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{what}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(message) && run.stderr.contains("keys.json"),
            "{what}: {}",
            run.stderr
        );
    }
}

/// A key file says when each key was in force. A digest signed long after its key was retired
/// (a key that leaked after rotation could sign any number of them) must not verify: the AWS
/// CLI asks ListPublicKeys for the keys of the requested range only, so it reports "public key
/// not found" here.
#[test]
fn a_digest_signed_outside_its_keys_validity_is_not_valid() {
    let mut trail = trail(2, 1);
    trail.bundle.public_keys = vec![trail.keys.us_east_1_a.key_entry(
        REGION,
        t("2024-01-01T00:00:00Z"),
        t("2024-04-01T00:00:00Z"),
    )];
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    for h in 0..2 {
        assert_eq!(
            status(&doc, "digest", &trail.digest(h)),
            "key_not_found",
            "{:#}",
            doc["files"]
        );
    }
    assert_eq!(code, 1);
}

// ---------------------------------------------------------------------------------------------
// Odd digests, signed by the trusted key

#[test]
fn a_digest_listing_the_same_log_twice() {
    // Twice with the same hash: one log, checked once, valid.
    let mut trail = trail(2, 2);
    trail.resign(1, |v| {
        let first = v["logFiles"][0].clone();
        v["logFiles"].as_array_mut().expect("logFiles").push(first);
    });
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 0, "{:#}", doc["files"]);
    all_valid_except(&doc, &trail, &[]);

    // Twice with different hashes: the digest contradicts itself, and the file can match at
    // most one of them. Each record is checked: one valid, one hash_mismatch, exit 1.
    let mut trail = self::trail(2, 2);
    let log = trail.hours[1].log_keys[0].clone();
    trail.resign(1, |v| {
        let mut copy = v["logFiles"][0].clone();
        copy["hashValue"] = Sha256::of(b"something else").to_hex().into();
        v["logFiles"].as_array_mut().expect("logFiles").push(copy);
    });
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    let mut statuses: Vec<String> = entries(&doc, "log", &log)
        .iter()
        .map(|e| e["status"].as_str().unwrap_or("").to_string())
        .collect();
    statuses.sort();
    assert_eq!(statuses, vec!["hash_mismatch", "valid"]);
}

#[test]
fn a_digest_listing_itself_as_a_log() {
    let mut trail = trail(2, 1);
    let own = trail.digest(1);
    // It cannot record its own hash (that would be a fixed point of SHA-256): whatever it
    // records, the log check fails, and the digest itself stays valid.
    let recorded = Sha256::of(&trail.bundle.inflated(&own)).to_hex();
    trail.resign(1, |v| {
        let mut log = v["logFiles"][0].clone();
        log["s3Object"] = own.clone().into();
        log["hashValue"] = recorded.into();
        v["logFiles"].as_array_mut().expect("logFiles").push(log);
    });
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &own), "valid");
    assert_eq!(status(&doc, "log", &own), "hash_mismatch");
}

#[test]
fn previous_digest_pointers_that_loop_end_the_walk() {
    let mut trail = trail(5, 1);
    let keys: Vec<String> = (0..5).map(|h| trail.digest(h)).collect();
    let bucket = BUCKET.to_string();
    let point = |v: &mut Value, key: &str, hash: &str, signature: &str| {
        v["previousDigestS3Bucket"] = bucket.clone().into();
        v["previousDigestS3Object"] = key.into();
        v["previousDigestHashValue"] = hash.into();
        v["previousDigestHashAlgorithm"] = "SHA-256".into();
        v["previousDigestSignature"] = signature.into();
    };
    let hash_of = |trail: &Trail, h: usize| Sha256::of(&trail.bundle.inflated(&keys[h])).to_hex();
    let sig_of = |trail: &Trail, h: usize| trail.bundle.metadata[&keys[h]]["signature"].clone();

    // Digest 1 names itself; digest 0 (a starting digest) names digest 4, the newest; digest 3
    // names digest 1 (skipping 2) with digest 1's true hash and signature; digest 4 names
    // digest 3 as before, but 3 changed. All signed by the trusted key.
    let (h1, s1) = (hash_of(&trail, 1), sig_of(&trail, 1));
    trail.resign(1, |v| point(v, &keys[1], &h1, &s1));
    let (h4, s4) = (hash_of(&trail, 4), sig_of(&trail, 4));
    trail.resign(0, |v| point(v, &keys[4], &h4, &s4));
    let (h1, s1) = (hash_of(&trail, 1), sig_of(&trail, 1));
    trail.resign(3, |v| point(v, &keys[1], &h1, &s1));
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);

    // The walk ended, and each digest has exactly one verdict.
    for key in &keys {
        status(&doc, "digest", key);
    }
    assert!(detail(&doc, "digest", &keys[1]).contains("not older"));
    assert!(detail(&doc, "digest", &keys[0]).contains("not older"));
    // 4 -> 3 is a link whose hash no longer matches: digest 3 changed after 4 recorded it.
    assert_eq!(status(&doc, "digest", &keys[3]), "hash_mismatch");
    assert_eq!(status(&doc, "digest", &keys[4]), "valid");
    // Digest 2 still names digest 1 with the hash digest 1 had before it was rewritten, and
    // digest 2 verifies: its word decides, though digest 3 (which does not verify) names
    // digest 1 too and is newer.
    assert_eq!(status(&doc, "digest", &keys[2]), "valid");
    assert_eq!(status(&doc, "digest", &keys[1]), "hash_mismatch");
    assert_eq!(code, 1);
}

#[test]
fn a_digest_found_under_another_account_or_region_is_not_valid() {
    let trail = trail(3, 1);
    let original = trail.digest(1);
    let name = DigestKey::parse(&original).expect("digest key");
    // Copied under another account: signature fine, location wrong.
    let mut other_account = name.chain.clone();
    other_account.account_id = "999988887777".into();
    let account_copy = other_account.digest_key(name.end_time);
    // Copied under another region: us-east-1's key is not eu-west-1's.
    let mut other_region = name.chain.clone();
    other_region.region = "eu-west-1".into();
    let region_copy = other_region.digest_key(name.end_time);

    let mut bundle = trail.bundle.clone();
    for copy in [&account_copy, &region_copy] {
        let bytes = bundle.objects[&original].clone();
        bundle.objects.insert(copy.clone(), bytes);
        let meta = bundle.metadata[&original].clone();
        bundle.metadata.insert(copy.clone(), meta);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    let copies: Vec<&Value> = entries(&doc, "digest", &account_copy);
    assert_eq!(copies.len(), 1, "{:#}", doc["files"]);
    assert_eq!(copies[0]["status"], "moved");
    // A copy is reported under the key its content names, `moved_to` where it was found.
    assert_eq!(copies[0]["key"], original.as_str());
    assert_eq!(copies[0]["moved_to"], account_copy.as_str());
    // The region's keys are chosen by the region the digest was found in, so the copy's key
    // is not found there: not valid either (`moved` only when the key file does not tag keys
    // with a region).
    assert_eq!(status(&doc, "digest", &region_copy), "key_not_found");
    // The original, in its place, is still valid.
    let originals: Vec<&Value> = files(&doc)
        .iter()
        .filter(|f| f["key"] == original.as_str() && f["moved_to"].is_null())
        .collect();
    assert_eq!(originals.len(), 1);
    assert_eq!(originals[0]["status"], "valid");

    // Untagged keys stand for any region: then the region copy is `moved` as well.
    let mut entry = serde_json::to_value(&bundle.public_keys[0]).expect("key");
    entry.as_object_mut().expect("object").remove("Region");
    let keys_path = dir.path().join("untagged-keys.json");
    std::fs::write(
        &keys_path,
        serde_json::to_vec(&json!({"PublicKeyList": [entry]})).expect("json"),
    )
    .expect("write");
    let (code, doc) = validate(
        dir.path(),
        &["--public-keys", keys_path.to_str().expect("utf-8")],
    );
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &region_copy), "moved");
}

// ---------------------------------------------------------------------------------------------
// Regressions found by fuzzing (fuzz/regressions/)

/// fuzz/regressions/digest_key: `DigestKey::parse` accepted a key with a leading slash and an
/// empty prefix, and `ChainId::digest_key` rebuilt it without the slash. Now such a key is
/// either refused or round-trips.
#[test]
fn digest_key_with_leading_slash_round_trips() {
    let key = "/AWSLogs/444455556666/CloudTrail-Digest/us-east-1/2024/06/01/444455556666_CloudTrail-Digest_us-east-1_dit-trail_us_20240601T041209Z.json.gz";
    let regression = common::repo().join("fuzz/regressions/digest_key/leading-slash");
    assert_eq!(
        std::fs::read(&regression).expect("regression input"),
        key.as_bytes()
    );
    if let Some(parsed) = DigestKey::parse(key) {
        assert_eq!(parsed.chain.digest_key(parsed.end_time), key);
    }
}

/// fuzz/regressions/chain_walk/inferred-missing-names-present-digest: the hours inferred
/// missing between a missing predecessor and the next older digest were counted from a *moved
/// copy's* end time, so a digest that was there, and valid, was also reported `not_found`.
#[test]
fn inferred_missing_digest_is_not_a_present_one() {
    let mut trail = trail(4, 1);
    // Digest 2 deleted; a copy of digest 0 (with its metadata) planted at a key just before
    // digest 2's hour, so it sorts between digests 3 and 1.
    let (d0, d1, d2) = (trail.digest(0), trail.digest(1), trail.digest(2));
    trail.bundle.objects.remove(&d2);
    let planted = chain_id().digest_key(trail.hours[2].end.plus_seconds(-5 * 60));
    let bytes = trail.bundle.objects[&d0].clone();
    trail.bundle.objects.insert(planted.clone(), bytes);
    let meta = trail.bundle.metadata[&d0].clone();
    trail.bundle.metadata.insert(planted.clone(), meta);
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &d2), "not_found");
    assert_eq!(
        entries(&doc, "digest", &planted)[0]["status"],
        "moved",
        "{:#}",
        doc["files"]
    );
    // Digest 1 is there and valid: it must not also be reported missing.
    assert_eq!(status(&doc, "digest", &d1), "valid");
}

/// fuzz/regressions/chain_walk/inferred-over-a-copy: as above, but the hour inferred missing is
/// the key of a file that is there, holding a copy of an older digest (with that digest's
/// metadata, so it verifies and is `moved`). The hole is measured by content, which finds no
/// digest for that hour, and the inferred key is the copy's own: the same key is reported
/// `moved` and also `not_found` (with "exact key unknown").
#[test]
fn a_key_holding_a_copy_is_not_also_inferred_missing() {
    let mut trail = trail(4, 1);
    let (d0, d1, d2) = (trail.digest(0), trail.digest(1), trail.digest(2));
    trail.bundle.objects.remove(&d2);
    let bytes = trail.bundle.objects[&d0].clone();
    trail.bundle.objects.insert(d1.clone(), bytes);
    let meta = trail.bundle.metadata[&d0].clone();
    trail.bundle.metadata.insert(d1.clone(), meta);
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &d2), "not_found");
    assert_eq!(status(&doc, "digest", &d0), "valid");
    // One verdict for the file at d1's key: it is there, and it is not d1.
    assert_eq!(status(&doc, "digest", &d1), "moved");
}

/// Two trusted digests naming the same missing predecessor (the successor and a moved copy of
/// it): the missing digest is one file and should be reported once.
#[test]
fn a_missing_digest_named_twice_is_reported_once() {
    let mut trail = trail(4, 1);
    let (d2, d3) = (trail.digest(2), trail.digest(3));
    trail.bundle.objects.remove(&d2);
    let planted = chain_id().digest_key(trail.hours[3].end.plus_seconds(-7 * 60));
    let bytes = trail.bundle.objects[&d3].clone();
    trail.bundle.objects.insert(planted.clone(), bytes);
    let meta = trail.bundle.metadata[&d3].clone();
    trail.bundle.metadata.insert(planted.clone(), meta);
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &d3), "valid");
    assert_eq!(entries(&doc, "digest", &planted)[0]["status"], "moved");
    assert_eq!(status(&doc, "digest", &d2), "not_found");
}

// ---------------------------------------------------------------------------------------------
// The source is never changed

#[test]
fn the_source_directory_is_unchanged_by_runs_over_hostile_input() {
    // Everything at once: a bomb, junk, a symlink out, a stripped signature; every format.
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let mut trail = trail(4, 2);
    trail.bundle.objects.insert(
        trail.digest(1),
        gzip_bomb(b' ', 256 << 20, CRC32_OF_256_MIB_OF_SPACES),
    );
    trail
        .bundle
        .objects
        .insert(trail.hours[2].log_keys[0].clone(), b"junk".to_vec());
    trail.bundle.metadata.remove(&trail.digest(3));
    trail.bundle.write_to(&root).expect("write");
    std::fs::write(outer.path().join("secret"), "x").expect("secret");
    std::os::unix::fs::symlink(
        outer.path().join("secret"),
        root.join(&trail.hours[0].log_keys[0]).with_extension("lnk"),
    )
    .expect("symlink");
    let before = tree_state(&root);
    for format in ["text", "json", "jsonl"] {
        let report = outer.path().join(format!("report.{format}"));
        let run = run_bounded(
            &[
                "validate".into(),
                root.display().to_string(),
                "--format".into(),
                format.into(),
                "--verbose".into(),
                "--output".into(),
                report.display().to_string(),
            ],
            false,
        );
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        assert!(report.exists());
        assert_eq!(before, tree_state(&root), "{format}");
    }
    never_valid(&validate(&root, &[]).1, &trail.hours[2].log_keys[0]);
}

#[test]
fn the_logs_of_an_unreadable_newest_or_oldest_digest_are_unverified_not_left_out() {
    // Found by bench/soak.sh: the newest digest's body broke off on every attempt, and the
    // logs it lists vanished from the report instead of being called unverified.
    for h in [3, 0] {
        let mut trail = trail(4, 2);
        let unreadable = trail.digest(h);
        trail
            .bundle
            .objects
            .insert(unreadable.clone(), b"not gzip".to_vec());
        let dir = trail.write();
        let (code, doc) = validate(dir.path(), &[]);
        assert_eq!(code, 1, "hour {h}: {:#}", doc["files"]);
        assert_eq!(status(&doc, "digest", &unreadable), "invalid_format");
        for log in &trail.hours[h].log_keys {
            assert_eq!(status(&doc, "log", log), "unverified", "hour {h}: {log}");
            assert!(
                detail(&doc, "log", log).contains(&unreadable),
                "hour {h}: {}",
                detail(&doc, "log", log)
            );
        }
        all_valid_except(&doc, &trail, &[h]);
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile files in a directory copy: names no digest could point at, and files that are not
// regular files. Anyone who can write to the bucket (or the copy) can make them.

/// The day folder of the logs of a one-digest `trail` (delivered during 2024-04-30T23:12:34Z to
/// 2024-05-01T00:12:34Z).
fn log_folder() -> String {
    format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/04/30")
}

#[test]
fn a_planted_file_whose_name_no_key_can_reach_is_still_unreferenced() {
    use std::os::unix::ffi::OsStrExt;
    let trail = trail(1, 1);
    let dir = trail.write();
    let folder = dir.path().join(log_folder());
    let log = std::fs::read(dir.path().join(&trail.hours[0].log_keys[0])).expect("log");
    // Inside digest 0's window, so a log name there is planted.
    let backslash = format!("{ACCOUNT}_CloudTrail_{REGION}_20240430T2350Z_planted\\x.json.gz");
    std::fs::write(folder.join(&backslash), &log).expect("plant");
    let mut not_utf8 = format!("{ACCOUNT}_CloudTrail_{REGION}_20240430T2351Z_").into_bytes();
    not_utf8.extend_from_slice(b"\xff.json.gz");
    std::fs::write(folder.join(std::ffi::OsStr::from_bytes(&not_utf8)), &log).expect("plant");

    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1, "planted files are an integrity failure");
    all_valid_except(&doc, &trail, &[]);
    let backslash_key = format!("{}/{backslash}", log_folder());
    assert_eq!(status(&doc, "log", &backslash_key), "unreferenced");
    let lossy_key = format!("{}/{}", log_folder(), String::from_utf8_lossy(&not_utf8));
    assert_eq!(status(&doc, "log", &lossy_key), "unreferenced");
}

#[test]
fn a_log_name_with_a_multibyte_character_where_the_time_is_does_not_stop_the_run() {
    let trail = trail(1, 1);
    let dir = trail.write();
    // 14 bytes where the delivery time goes, the 13th inside "é".
    let name = format!("{ACCOUNT}_CloudTrail_{REGION}_202404302350\u{e9}_x.json.gz");
    std::fs::write(dir.path().join(log_folder()).join(&name), b"planted").expect("plant");
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    all_valid_except(&doc, &trail, &[]);
    let key = format!("{}/{name}", log_folder());
    assert_eq!(status(&doc, "log", &key), "unreferenced");
    assert!(detail(&doc, "log", &key).contains("not a CloudTrail log file name"));
}

#[test]
fn a_fifo_at_a_log_key_is_an_error_not_a_hang() {
    let trail = trail(2, 2);
    let dir = trail.write();
    let key = trail.hours[1].log_keys[0].clone();
    let path = dir.path().join(&key);
    std::fs::remove_file(&path).expect("remove log");
    let made = Command::new("mkfifo").arg(&path).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo not available: skipped");
        return;
    }
    // Nothing ever writes to the FIFO: opening it to read would wait for ever.
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 3, "an unreadable log is incomplete, not tampered");
    assert_eq!(status(&doc, "log", &key), "error");
    assert!(detail(&doc, "log", &key).contains("not a regular file"));
    for (h, hour) in trail.hours.iter().enumerate() {
        assert_eq!(status(&doc, "digest", &hour.digest_key), "valid");
        for log in hour.log_keys.iter().filter(|k| **k != key) {
            assert_eq!(status(&doc, "log", log), "valid", "log of digest {h}");
        }
    }
}

#[test]
fn a_file_in_place_of_a_day_folder_makes_its_logs_not_found() {
    let trail = trail(1, 2);
    let dir = trail.write();
    let day = dir.path().join(log_folder());
    std::fs::remove_dir_all(&day).expect("remove day folder");
    std::fs::write(&day, b"not a folder").expect("file in its place");
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &trail.digest(0)), "valid");
    for log in &trail.hours[0].log_keys {
        assert_eq!(status(&doc, "log", log), "not_found", "{log}");
    }
}

// ---------------------------------------------------------------------------------------------
// Copies without digest metadata: what an unverified successor's links can and cannot prove

/// `trail(hours, 1)` with no digest metadata at all (a plain `aws s3 sync`).
fn trail_without_metadata(hours: usize) -> Trail {
    let mut trail = trail(hours, 1);
    trail.bundle.metadata.clear();
    trail
}

#[test]
fn an_unsigned_successor_proves_its_predecessor_only_through_the_signature() {
    // The newest digest (unsigned) records a wrong hash of its predecessor but the right
    // signature: the signature proves the predecessor, the wrong record does not taint it.
    let mut trail = trail_without_metadata(3);
    trail.bundle.edit_digest(&trail.digest(2), |v| {
        v["previousDigestHashValue"] = Sha256::of(b"not it").to_hex().into();
    });
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 3, "{:#}", doc["files"]);
    assert_eq!(status(&doc, "digest", &trail.digest(2)), "unsigned");
    assert_eq!(status(&doc, "digest", &trail.digest(1)), "valid");
    assert!(detail(&doc, "digest", &trail.digest(1)).contains("is not its SHA-256"));
    assert_eq!(status(&doc, "digest", &trail.digest(0)), "valid");
    assert_eq!(status(&doc, "log", &trail.hours[0].log_keys[0]), "valid");

    // A wrong signature proves nothing either way: the predecessor is unsigned, not invalid.
    let mut trail = trail_without_metadata(3);
    let forged = trail.keys.us_east_1_a.sign(b"something else");
    trail.bundle.edit_digest(&trail.digest(2), |v| {
        v["previousDigestSignature"] = forged.into();
    });
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 3, "{:#}", doc["files"]);
    assert_eq!(status(&doc, "digest", &trail.digest(2)), "unsigned");
    assert_eq!(status(&doc, "digest", &trail.digest(1)), "unsigned");
    assert!(detail(&doc, "digest", &trail.digest(1)).contains("does not verify it"));
    // ... and digest 1's own link still proves digest 0.
    assert_eq!(status(&doc, "digest", &trail.digest(0)), "valid");
}

#[test]
fn unsigned_planted_digests_cannot_conjure_up_a_hole() {
    // Digests no one signed, a thousand hours apart, each naming the hour before it as its
    // predecessor: each missing predecessor is reported once, but the thousand hours between
    // are not inferred missing (an unsigned digest can be made up, and with it any hole).
    let mut trail = trail_without_metadata(2);
    let template: Value =
        serde_json::from_slice(&trail.bundle.inflated(&trail.digest(1))).expect("digest JSON");
    let chain = chain_id();
    let last_end = t("2024-05-01T01:12:34Z");
    let mut named = Vec::new();
    for n in 1..=50i64 {
        let end = last_end.plus_seconds(n * 1_000 * HOUR);
        let far_back = chain.digest_key(end.plus_seconds(-HOUR));
        let mut digest = template.clone();
        digest["digestStartTime"] = end.plus_seconds(-HOUR).to_string().into();
        digest["digestEndTime"] = end.to_string().into();
        digest["digestS3Object"] = chain.digest_key(end).into();
        digest["previousDigestS3Object"] = far_back.clone().into();
        digest["logFiles"] = json!([]);
        let body = serde_json::to_vec(&digest).expect("JSON");
        trail
            .bundle
            .objects
            .insert(chain.digest_key(end), gzip(&body));
        named.push(far_back);
    }
    let dir = trail.write();
    let started = Instant::now();
    let (code, doc) = validate(dir.path(), &[]);
    let took = started.elapsed();
    assert_eq!(code, 1, "a missing digest named by the newest is reported");
    let inferred: Vec<&Value> = files(&doc)
        .iter()
        .filter(|f| f["detail"].as_str().unwrap_or("").starts_with("inferred"))
        .collect();
    assert!(
        inferred.is_empty(),
        "{} inferred, e.g. {:#}",
        inferred.len(),
        inferred[0]
    );
    for key in &named {
        let found = entries(&doc, "digest", key);
        assert!(found.len() <= 1, "{key} reported {} times", found.len());
    }
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_log_folder_that_cannot_be_listed_safely_leaves_the_other_verdicts_standing() {
    // One chain's log folder replaced by a symlink out of the root: that folder's logs cannot
    // be read nor its folder listed (errors, so the run is incomplete), but the other chain's
    // tampering still decides the exit code.
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    let mut trail = trail(2, 2);
    let mut other = ChainWriter::new(ChainId {
        account_id: "444455556666".into(),
        ..chain_id()
    });
    for h in 0..2i64 {
        let end = t("2024-05-01T00:12:34Z").plus_seconds(h * HOUR);
        other.deliver(
            &mut trail.bundle,
            &trail.keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            HourOptions {
                records_per_log: 2,
                wrong_previous_hash: false,
            },
        );
    }
    let deleted = other.delivered[1].log_keys[0].clone();
    trail.bundle.objects.remove(&deleted);
    trail.bundle.write_to(&root).expect("write");
    let log_folder = format!("AWSLogs/{ACCOUNT}/CloudTrail");
    std::fs::rename(root.join(&log_folder), outer.path().join("elsewhere")).expect("move");
    std::os::unix::fs::symlink(outer.path().join("elsewhere"), root.join(&log_folder))
        .expect("symlink");

    let (code, doc) = validate(&root, &[]);
    assert_eq!(
        code, 1,
        "the other chain's deleted log decides: {:#}",
        doc["files"]
    );
    assert_eq!(status(&doc, "log", &deleted), "not_found");
    for log in trail.hours.iter().flat_map(|h| &h.log_keys) {
        assert_eq!(status(&doc, "log", log), "error", "{log}");
    }
    let folder = format!("{log_folder}/{REGION}/");
    assert_eq!(status(&doc, "log", &folder), "error");
    assert!(detail(&doc, "log", &folder).contains("were not looked for"));
    assert_eq!(doc["summary"]["result"], "invalid");
}

#[test]
fn an_account_folder_the_search_cannot_list_leaves_the_other_verdicts_standing() {
    // One account's `CloudTrail-Digest/` replaced by a symlink out of the root: its regions
    // cannot be found, which one `error` entry says, while the other account's deleted log
    // still decides the exit code.
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("root");
    let mut trail = trail(2, 2);
    let mut other = ChainWriter::new(ChainId {
        account_id: "444455556666".into(),
        ..chain_id()
    });
    for h in 0..2i64 {
        let end = t("2024-05-01T00:12:34Z").plus_seconds(h * HOUR);
        other.deliver(
            &mut trail.bundle,
            &trail.keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            HourOptions {
                records_per_log: 2,
                wrong_previous_hash: false,
            },
        );
    }
    let deleted = other.delivered[1].log_keys[0].clone();
    trail.bundle.objects.remove(&deleted);
    trail.bundle.write_to(&root).expect("write");
    let digest_root = format!("AWSLogs/{ACCOUNT}/CloudTrail-Digest");
    std::fs::rename(root.join(&digest_root), outer.path().join("elsewhere")).expect("move");
    std::os::unix::fs::symlink(outer.path().join("elsewhere"), root.join(&digest_root))
        .expect("symlink");

    let (code, doc) = validate(&root, &[]);
    assert_eq!(code, 1, "the other account's deleted log decides: {doc:#}");
    assert_eq!(status(&doc, "log", &deleted), "not_found");
    let folder = format!("{digest_root}/");
    assert_eq!(status(&doc, "digest", &folder), "error");
    assert!(detail(&doc, "digest", &folder).contains("none was checked"));
    let chain = doc["chains"]
        .as_array()
        .expect("chains")
        .iter()
        .find(|c| c["account_id"] == ACCOUNT)
        .expect("a chain entry for the account that could not be searched");
    assert_eq!(chain["digests"]["unverified"], 1, "{chain}");
    assert_eq!(doc["summary"]["result"], "invalid");
    // Nothing of the account that could not be searched is claimed either way.
    for file in doc["files"].as_array().expect("files") {
        let key = file["key"].as_str().expect("key");
        if key.contains(ACCOUNT) {
            assert_eq!(key, folder, "{file}");
        }
    }

    let text = std::process::Command::new(env!("CARGO_BIN_EXE_ctverify"))
        .args(["validate", root.to_str().expect("utf-8"), "--no-progress"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("account {ACCOUNT} region (unknown)")),
        "{text}"
    );
}

#[test]
fn a_planted_digest_naming_the_same_predecessor_cannot_take_the_real_successors_word() {
    // A copy with only the newest digest's metadata. Digest 1 is rewritten (one log dropped
    // from its list); digest 2, which CloudTrail signed, records digest 1's true hash. A forged
    // unsigned digest planted a minute after digest 2 also names digest 1: it must not stand
    // in for digest 2 and turn the proof of tampering (hash_mismatch, exit 1) into
    // "could not be checked" (exit 3).
    let mut trail = trail(5, 2);
    let newest = trail.digest(4);
    trail.bundle.metadata.retain(|key, _| *key == newest);
    let d1 = trail.digest(1);
    trail.bundle.edit_digest(&d1, |v| {
        v["logFiles"].as_array_mut().expect("logFiles").remove(0);
    });
    let without_forgery = trail.write();
    let (code, doc) = validate(without_forgery.path(), &[]);
    assert_eq!(status(&doc, "digest", &d1), "hash_mismatch");
    assert_eq!(code, 1);

    let d2 = trail.digest(2);
    let mut forged: Value =
        serde_json::from_slice(&trail.bundle.inflated(&d2)).expect("digest 2 JSON");
    let end = t(forged["digestEndTime"].as_str().expect("end")).plus_seconds(60);
    let forged_key = chain_id().digest_key(end);
    forged["digestEndTime"] = end.to_string().into();
    forged["digestS3Object"] = forged_key.clone().into();
    forged["logFiles"] = json!([]);
    trail.bundle.objects.insert(
        forged_key.clone(),
        gzip(&serde_json::to_vec(&forged).expect("json")),
    );
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(
        status(&doc, "digest", &d1),
        "hash_mismatch",
        "{:#}",
        doc["files"]
    );
    assert_eq!(status(&doc, "digest", &d2), "valid");
    // The copy keeps the chain's metadata (the newest digest's): a digest of the chain
    // without any lost it, or never had it from CloudTrail.
    assert_eq!(status(&doc, "digest", &forged_key), "signature_invalid");
    assert_eq!(code, 1);
}

#[test]
fn the_text_summary_counts_digests_none_of_which_could_be_read() {
    // Every digest of the chain unreadable: the json counts them invalid, and the text summary
    // must say the same (it printed "No digests found" and left the counts out).
    let mut trail = trail(2, 1);
    for h in 0..2 {
        let key = trail.digest(h);
        trail.bundle.objects.insert(key, b"not gzip".to_vec());
    }
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["summary"]["digests"]["invalid"], 2);
    let text = Command::new(env!("CARGO_BIN_EXE_ctverify"))
        .args([
            "validate",
            dir.path().to_str().expect("utf-8"),
            "--no-progress",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("0/2 digest files valid, 2/2 digest files INVALID"),
        "{text}"
    );
    assert!(!text.contains("No digests found"), "{text}");

    // Nothing in range at all: still the range requested, and no counts.
    let text = Command::new(env!("CARGO_BIN_EXE_ctverify"))
        .args([
            "validate",
            dir.path().to_str().expect("utf-8"),
            "--no-progress",
        ])
        .args(["--start-time", "2023-01-01", "--end-time", "2023-01-02"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Results requested for 2023-01-01T00:00:00Z to 2023-01-02T00:00:00Z"),
        "{text}"
    );
}

#[test]
fn a_digest_replaced_by_a_replay_still_answers_for_its_own_hour() {
    // Digest 3's key holds digest 1, signature metadata and all (a validly signed replay): it
    // is hash_mismatch, and the hours it names in its content are digest 1's. Hour 3's real
    // log and a log planted in hour 3 must still be in the report, not left out because no
    // digest's content covers their hour.
    let mut trail = trail(5, 1);
    let (d1, d3) = (trail.digest(1), trail.digest(3));
    let replay = trail.bundle.objects[&d1].clone();
    let metadata = trail.bundle.metadata[&d1].clone();
    trail.bundle.objects.insert(d3.clone(), replay);
    trail.bundle.metadata.insert(d3.clone(), metadata);
    let real = trail.hours[3].log_keys[0].clone();
    let planted =
        ChainWriter::new(chain_id()).log_key(trail.hours[3].end.plus_seconds(-600), "planted");
    trail
        .bundle
        .objects
        .insert(planted.clone(), gzip(b"{\"Records\":[]}"));
    let dir = trail.write();
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&doc, "digest", &d3), "hash_mismatch");
    assert_eq!(
        status(&doc, "log", &real),
        "unverified",
        "{:#}",
        doc["files"]
    );
    assert_eq!(status(&doc, "log", &planted), "unverified");
}

#[test]
fn bundle_files_reached_through_a_symlink_out_of_the_copy_are_refused() {
    // Keys, signatures and the bucket name come from the copy's own `.ctverify/`; a link out
    // of it would take them from anywhere.
    let outer = tempfile::tempdir().expect("tempdir");
    let elsewhere = outer.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("elsewhere");
    std::fs::write(
        elsewhere.join("bundle.json"),
        br#"{"bucket": "not-this-one"}"#,
    )
    .expect("write");
    let copy = |name: &str| {
        let root = outer.path().join(name);
        trail(2, 1).bundle.write_to(&root).expect("write");
        root
    };
    let whole_folder = copy("whole-folder");
    let bundle_dir = whole_folder.join(".ctverify");
    for file in ["bundle.json", "metadata.json", "public-keys.json"] {
        std::fs::rename(bundle_dir.join(file), elsewhere.join(file)).ok();
    }
    std::fs::remove_dir(&bundle_dir).expect("rmdir");
    std::os::unix::fs::symlink(&elsewhere, &bundle_dir).expect("symlink");
    let one_file = copy("one-file");
    let info = one_file.join(".ctverify/bundle.json");
    std::fs::remove_file(&info).ok();
    std::os::unix::fs::symlink(elsewhere.join("bundle.json"), &info).expect("symlink");

    for root in [whole_folder, one_file] {
        let args = vec!["validate".to_string(), root.display().to_string()];
        let run = run_bounded(&args, false);
        assert_eq!(
            run.code,
            2,
            "{}: {}{}",
            root.display(),
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains("leads outside the copy"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn an_unverified_digest_cannot_size_the_report_at_will() {
    // The newest digest (unsigned: no metadata) lists 12,000 logs: the first 10,000 are
    // reported unverified, and of the rest only those the log folder holds.
    let mut trail = trail_without_metadata(2);
    let newest = trail.digest(1);
    let template: Value =
        serde_json::from_slice(&trail.bundle.inflated(&newest)).expect("digest JSON");
    let log = template["logFiles"][0].clone();
    trail.bundle.edit_digest(&newest, |v| {
        // Its own log first, then 11,999 more.
        let list = v["logFiles"].as_array_mut().expect("logFiles");
        for n in 1..12_000 {
            let mut entry = log.clone();
            entry["s3Object"] = format!("{}/listed-{n:05}.json.gz", log_folder()).into();
            list.push(entry);
        }
    });
    let dir = trail.write();
    // One name far down the list is a file that is there (planted with the list): it must
    // not vanish from the report for being past the part reported one by one.
    let planted = format!("{}/listed-11000.json.gz", log_folder());
    std::fs::write(dir.path().join(&planted), b"planted").expect("plant");
    let (code, doc) = validate(dir.path(), &[]);
    assert_eq!(code, 3, "nothing tampered that could be verified");
    assert_eq!(status(&doc, "digest", &newest), "unsigned");
    assert_eq!(status(&doc, "log", &planted), "unverified");
    assert!(detail(&doc, "log", &planted).contains("past the part of its list"));
    assert!(
        detail(&doc, "digest", &newest).contains("lists 12000 logs: only the first 10000"),
        "{}",
        detail(&doc, "digest", &newest)
    );
    let reported = files(&doc)
        .iter()
        .filter(|f| f["digest"] == newest.as_str() && f["status"] == "unverified")
        .count();
    assert_eq!(reported, 10_000);
    assert_eq!(doc["summary"]["logs"]["unverified"], 10_001);
    // Not one of them is called planted: all are listed by a digest.
    assert!(files(&doc).iter().all(|f| f["status"] != "unreferenced"));
    assert_eq!(status(&doc, "digest", &trail.digest(0)), "valid");
}

#[test]
fn a_fifo_in_place_of_a_bundle_file_is_refused_not_waited_on() {
    for file in ["metadata.json", "public-keys.json", "bundle.json"] {
        let trail = trail(1, 1);
        let dir = trail.write();
        let path = dir.path().join(".ctverify").join(file);
        std::fs::remove_file(&path).expect("remove");
        let made = Command::new("mkfifo").arg(&path).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo not available: skipped");
            return;
        }
        // Nothing ever writes to the FIFO: a blocking open would wait for ever.
        let run = run_bounded(
            &["validate".into(), dir.path().display().to_string()],
            false,
        );
        assert_eq!(run.code, 2, "{file}: {}", run.stderr);
        assert!(
            run.stderr.contains("not a regular file"),
            "{file}: {}",
            run.stderr
        );
    }
}
