//! `validate --checkpoint` (issue 21): a later run starts each chain at its checkpointed digest,
//! lists the history behind it again and verifies again what changed, calls a chain cut back
//! below its checkpoint invalid, never moves past what did not verify, and refuses a damaged,
//! foreign or misplaced checkpoint. On disk and through moto.

mod common;

use std::path::Path;

use common::servers::{aws_env, Moto};
use common::{ctverify, ctverify_env, test_keys};
use ctverify::{ChainId, UtcTime};
use ctverify_testgen::vectors::TestKeys;
use ctverify_testgen::{Bundle, ChainWriter, HourOptions};
use serde_json::Value;

const HOUR: i64 = 3600;

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("time")
}

/// The end of the first digest; one an hour after it.
const FIRST_END: &str = "2024-06-01T01:05:09Z";
/// A first run's range end: 26 digests, over two days.
const FIRST_RUN_END: &str = "2024-06-02T02:30:00Z";
/// A later run's: 4 more.
const LATER_RUN_END: &str = "2024-06-02T06:30:00Z";

struct Trail {
    bundle: Bundle,
    /// Each digest's key and its logs' keys, oldest first.
    hours: Vec<(String, Vec<String>)>,
}

/// 30 hourly digests of one chain from [`FIRST_END`] on, two logs each.
fn trail(keys: &TestKeys, prefix: &str) -> Trail {
    let mut bundle = Bundle::new("checkpoint-trail", prefix);
    let mut writer = ChainWriter::new(ChainId {
        prefix: prefix.into(),
        organization_id: None,
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        trail: "audit".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    });
    let mut hours = Vec::new();
    for h in 0..30 {
        let end = t(FIRST_END).plus_seconds(h * HOUR);
        let delivered = writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            HourOptions {
                records_per_log: 2,
                wrong_previous_hash: false,
            },
        );
        hours.push((delivered.digest_key, delivered.log_keys));
    }
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        "us-east-1",
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    Trail { bundle, hours }
}

struct Run {
    code: i32,
    report: Value,
    stderr: String,
}

fn validate(
    source: &str,
    checkpoint: &str,
    end: &str,
    keys: &Path,
    env: &[(String, String)],
) -> Run {
    let run = ctverify_env(
        [
            "validate",
            source,
            "--checkpoint",
            checkpoint,
            "--end-time",
            end,
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
            "--no-progress",
        ],
        env,
    );
    let report = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    Run {
        code: run.code,
        report,
        stderr: run.stderr,
    }
}

fn digests_valid(report: &Value) -> u64 {
    report["chains"]
        .as_array()
        .expect("chains")
        .iter()
        .map(|c| c["digests"]["valid"].as_u64().unwrap_or(0))
        .sum()
}

fn logs_valid(report: &Value) -> u64 {
    report["chains"]
        .as_array()
        .expect("chains")
        .iter()
        .map(|c| c["logs"]["valid"].as_u64().unwrap_or(0))
        .sum()
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap_or_default().to_string(),
                f["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    files.sort();
    files
}

fn anchor_key(checkpoint: &[u8]) -> String {
    let value: Value = serde_json::from_slice(checkpoint).expect("checkpoint JSON");
    value["checkpoint"]["folders"][0]["chains"][0]["digest"]["key"]
        .as_str()
        .expect("anchor")
        .to_string()
}

/// What a checkpoint holds of each folder (not when it was written).
fn folders(checkpoint: &[u8]) -> Value {
    let value: Value = serde_json::from_slice(checkpoint).expect("checkpoint JSON");
    value["checkpoint"]["folders"].clone()
}

fn changed_days(report: &Value) -> Vec<String> {
    report["checkpoint"]["changed_days"]
        .as_array()
        .expect("changed_days")
        .iter()
        .map(|d| d["day"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A trail on disk, a checkpoint file beside it (never inside), and the public keys.
struct OnDisk {
    _dir: tempfile::TempDir,
    source: std::path::PathBuf,
    checkpoint: std::path::PathBuf,
    keys: std::path::PathBuf,
    trail: Trail,
}

impl OnDisk {
    fn new() -> OnDisk {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("copy");
        let trail = trail(&test_keys(), "");
        trail.bundle.write_to(&source).expect("write");
        OnDisk {
            checkpoint: dir.path().join("checkpoint.json"),
            keys: source.join(".ctverify/public-keys.json"),
            source,
            _dir: dir,
            trail,
        }
    }

    fn run(&self, end: &str) -> Run {
        validate(
            self.source.to_str().unwrap(),
            self.checkpoint.to_str().unwrap(),
            end,
            &self.keys,
            &[],
        )
    }

    fn path(&self, key: &str) -> std::path::PathBuf {
        self.source.join(key)
    }
}

#[test]
fn a_later_run_starts_at_the_checkpointed_digest_and_verifies_only_what_is_new() {
    let disk = OnDisk::new();
    let first = disk.run(FIRST_RUN_END);
    assert_eq!(first.code, 0, "{:#}{}", first.report, first.stderr);
    assert_eq!(digests_valid(&first.report), 26);
    assert!(first.report["checkpoint"]["resumed_from"].is_null());
    let written = std::fs::read(&disk.checkpoint).expect("the first run writes the checkpoint");
    assert_eq!(anchor_key(&written), disk.trail.hours[25].0);

    // Four new hours: the checkpointed digest is read again (with its logs), then the four.
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 0, "{:#}{}", later.report, later.stderr);
    assert_eq!(digests_valid(&later.report), 5);
    assert_eq!(logs_valid(&later.report), 10);
    assert_eq!(later.report["checkpoint"]["chains_resumed"], 1);
    assert!(changed_days(&later.report).is_empty());
    let moved = std::fs::read(&disk.checkpoint).expect("checkpoint");
    assert_eq!(anchor_key(&moved), disk.trail.hours[29].0);

    // Nothing new: only the checkpointed digest, and the run is valid.
    let again = disk.run(LATER_RUN_END);
    assert_eq!(again.code, 0, "{:#}{}", again.report, again.stderr);
    assert_eq!(digests_valid(&again.report), 1);
    assert_eq!(
        anchor_key(&std::fs::read(&disk.checkpoint).unwrap()),
        disk.trail.hours[29].0
    );
}

#[test]
fn what_changed_behind_the_checkpoint_is_found_by_listing_and_verified_again() {
    type Tamper = fn(&OnDisk) -> (String, &'static str);
    let cases: [(&str, Tamper); 3] = [
        ("log deleted", |disk| {
            let key = disk.trail.hours[2].1[0].clone();
            std::fs::remove_file(disk.path(&key)).unwrap();
            (key, "not_found")
        }),
        ("log rewritten", |disk| {
            let key = disk.trail.hours[3].1[1].clone();
            let mut bytes = std::fs::read(disk.path(&key)).unwrap();
            // Another log's bytes: still gzip, not what the digest recorded.
            bytes.clone_from(&std::fs::read(disk.path(&disk.trail.hours[4].1[0])).unwrap());
            std::fs::write(disk.path(&key), bytes).unwrap();
            (key, "hash_mismatch")
        }),
        ("log planted", |disk| {
            let listed = &disk.trail.hours[5].1[0];
            let key = listed.replace(".json.gz", "X.json.gz");
            std::fs::copy(disk.path(listed), disk.path(&key)).unwrap();
            (key, "unreferenced")
        }),
    ];
    for (name, tamper) in cases {
        let disk = OnDisk::new();
        let first = disk.run(FIRST_RUN_END);
        assert_eq!(first.code, 0, "{name}: {:#}", first.report);
        let checkpoint = folders(&std::fs::read(&disk.checkpoint).unwrap());
        let (key, status) = tamper(&disk);

        let later = disk.run(LATER_RUN_END);
        assert_eq!(later.code, 1, "{name}: {:#}{}", later.report, later.stderr);
        assert_eq!(changed_days(&later.report), ["2024-06-01"], "{name}");
        assert!(
            statuses(&later.report).contains(&(key.clone(), status.to_string())),
            "{name}: {:?}",
            statuses(&later.report)
        );
        // The folder does not move past what did not verify, and the next run says it again.
        assert!(
            folders(&std::fs::read(&disk.checkpoint).unwrap()) == checkpoint,
            "{name}: the checkpoint moved"
        );
        let again = disk.run(LATER_RUN_END);
        assert_eq!(again.code, 1, "{name}");
        assert!(
            statuses(&again.report).contains(&(key, status.to_string())),
            "{name}"
        );
    }
}

#[test]
fn a_chain_cut_back_below_its_checkpoint_is_invalid() {
    // The checkpointed digest deleted with every log it lists: nothing else would tell.
    let disk = OnDisk::new();
    assert_eq!(disk.run(LATER_RUN_END).code, 0);
    let (anchor, logs) = disk.trail.hours[29].clone();
    for key in logs.iter().chain([&anchor]) {
        std::fs::remove_file(disk.path(key)).unwrap();
    }
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert_eq!(
        statuses(&later.report),
        [(anchor.clone(), "not_found".to_string())]
    );
    let detail = later.report["files"][0]["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(detail.contains("cut back"), "{detail}");

    // The newest two digests gone, the one before them left: the chain ends before the
    // checkpoint.
    let disk = OnDisk::new();
    assert_eq!(disk.run(LATER_RUN_END).code, 0);
    for h in [28, 29] {
        std::fs::remove_file(disk.path(&disk.trail.hours[h].0)).unwrap();
    }
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert!(statuses(&later.report).contains(&(disk.trail.hours[29].0.clone(), "not_found".into())));
}

#[test]
fn a_checkpointed_digest_changed_in_place_is_invalid() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    let anchor = disk.trail.hours[25].0.clone();
    // Another digest of the chain written over it.
    std::fs::copy(disk.path(&disk.trail.hours[24].0), disk.path(&anchor)).unwrap();
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert!(
        statuses(&later.report)
            .iter()
            .any(|(key, status)| key == &anchor && status != "valid"),
        "{:?}",
        statuses(&later.report)
    );
}

#[test]
fn a_damaged_foreign_or_misplaced_checkpoint_is_refused_and_left_as_it_is() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    let good = std::fs::read_to_string(&disk.checkpoint).unwrap();
    let damaged = good.replacen("\"objects\": ", "\"objects\": 1", 1);
    for (name, text) in [
        ("edited", damaged),
        ("cut short", good[..good.len() / 2].to_string()),
        ("not a checkpoint", "{\"tool\": \"ctverify\"}".to_string()),
    ] {
        std::fs::write(&disk.checkpoint, &text).unwrap();
        let run = disk.run(LATER_RUN_END);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("--checkpoint"),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read_to_string(&disk.checkpoint).unwrap(),
            text,
            "{name}"
        );
    }

    // Another source's checkpoint.
    std::fs::write(&disk.checkpoint, &good).unwrap();
    let other = tempfile::tempdir().unwrap();
    disk.trail.bundle.write_to(other.path()).unwrap();
    let run = validate(
        other.path().to_str().unwrap(),
        disk.checkpoint.to_str().unwrap(),
        LATER_RUN_END,
        &disk.keys,
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not of directory"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&disk.checkpoint).unwrap(), good);

    // A range ending before the checkpoint's newest digest.
    let run = disk.run("2024-06-01T12:00:00Z");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("before the checkpoint"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&disk.checkpoint).unwrap(), good);

    // Inside the source.
    let inside = disk.source.join("checkpoint.json");
    let run = ctverify([
        "validate",
        disk.source.to_str().unwrap(),
        "--checkpoint",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!inside.exists());
}

#[test]
fn through_s3_the_checkpoint_lives_in_s3_outside_the_trail_and_finds_what_changed() {
    let keys = test_keys();
    let trail = trail(&keys, "trail");
    let dir = tempfile::tempdir().expect("tempdir");
    trail.bundle.write_to(dir.path()).expect("write");
    let moto = Moto::start();
    moto.upload(dir.path(), "checkpoint-trail");
    let mut env = aws_env(None);
    env.push(("AWS_ENDPOINT_URL_S3".into(), moto.endpoint()));
    let keys_file = dir.path().join(".ctverify/public-keys.json");
    let source = "s3://checkpoint-trail/trail";
    let checkpoint = "s3://checkpoint-trail/audit/checkpoint.json";

    let first = validate(source, checkpoint, FIRST_RUN_END, &keys_file, &env);
    assert_eq!(first.code, 0, "{:#}{}", first.report, first.stderr);
    assert_eq!(digests_valid(&first.report), 26);

    let later = validate(source, checkpoint, LATER_RUN_END, &keys_file, &env);
    assert_eq!(later.code, 0, "{:#}{}", later.report, later.stderr);
    assert_eq!(digests_valid(&later.report), 5);
    assert_eq!(later.report["checkpoint"]["chains_resumed"], 1);

    // A log of the first day rewritten in S3: its ETag changes, the day is verified again.
    let key = &trail.hours[1].1[0];
    moto.put("checkpoint-trail", key, b"not the log");
    let changed = validate(source, checkpoint, LATER_RUN_END, &keys_file, &env);
    assert_eq!(changed.code, 1, "{:#}{}", changed.report, changed.stderr);
    assert_eq!(changed_days(&changed.report), ["2024-06-01"]);
    assert!(statuses(&changed.report)
        .iter()
        .any(|(k, status)| k == key && status != "valid"));

    // Inside the trail's prefix: refused, nothing written.
    let inside = validate(
        source,
        "s3://checkpoint-trail/trail/checkpoint.json",
        LATER_RUN_END,
        &keys_file,
        &env,
    );
    assert_eq!(inside.code, 2, "{}", inside.stderr);
    assert!(
        inside.stderr.contains("inside the source"),
        "{}",
        inside.stderr
    );
}

#[test]
fn the_metrics_say_how_many_days_changed_and_chains_resumed() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    std::fs::remove_file(disk.path(&disk.trail.hours[3].1[0])).unwrap();
    let metrics = disk.checkpoint.with_file_name("ctverify.prom");
    let run = ctverify([
        "validate",
        disk.source.to_str().unwrap(),
        "--checkpoint",
        disk.checkpoint.to_str().unwrap(),
        "--end-time",
        LATER_RUN_END,
        "--public-keys",
        disk.keys.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Changed\t"), "{}", run.stdout);
    let text = std::fs::read_to_string(&metrics).expect("metrics");
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(
        value("ctverify_checkpoint_changed_days{").as_deref(),
        Some("1"),
        "{text}"
    );
    assert_eq!(
        value("ctverify_checkpoint_chains_resumed{").as_deref(),
        Some("1"),
        "{text}"
    );
}

#[test]
fn a_trail_deleted_whole_is_invalid_not_merely_empty() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    std::fs::remove_dir_all(disk.source.join("AWSLogs")).unwrap();
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 1, "{:#}{}", later.report, later.stderr);
    assert_eq!(
        statuses(&later.report),
        [(disk.trail.hours[25].0.clone(), "not_found".to_string())]
    );
    assert_eq!(changed_days(&later.report), ["2024-06-01", "2024-06-02"]);
    // Without the checkpoint the same copy is no trail at all (exit 2).
    let run = ctverify(["validate", disk.source.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

/// Two trails writing to one account and region: `alpha` for 30 hours from [`FIRST_END`],
/// `beta` for `beta_hours` (its last hour short when `beta_short_last`), two logs an hour each
/// except `busy_hour` of alpha (12 logs, so that one is named in the next hour's first minutes).
struct Shared {
    _dir: tempfile::TempDir,
    source: std::path::PathBuf,
    checkpoint: std::path::PathBuf,
    keys: std::path::PathBuf,
    alpha: Vec<(String, Vec<String>)>,
    beta: Vec<(String, Vec<String>)>,
}

fn chain(trail: &str) -> ChainWriter {
    ChainWriter::new(ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        trail: trail.into(),
        home_region: "us-east-1".into(),
        backfill: false,
    })
}

impl Shared {
    fn new(beta_hours: i64, alpha_short_last_at: Option<i64>) -> Shared {
        let keys = test_keys();
        let mut bundle = Bundle::new("checkpoint-trail", "");
        let options = HourOptions {
            records_per_log: 2,
            wrong_previous_hash: false,
        };
        // beta runs 7 minutes behind alpha, so that their logs have names of their own.
        let mut deliver =
            |writer: &mut ChainWriter, hours: i64, short_at: Option<i64>, late: i64| {
                let mut delivered = Vec::new();
                let mut end = t(FIRST_END).plus_seconds(late - HOUR);
                for h in 0..hours {
                    let start = end;
                    // The hour before a short one has a log named in the short one's first minutes.
                    let logs = if Some(h + 1) == short_at { 12 } else { 2 };
                    end = if Some(h) == short_at {
                        start.plus_seconds(35 * 60)
                    } else {
                        start.plus_seconds(HOUR)
                    };
                    let d =
                        writer.deliver(&mut bundle, &keys.us_east_1_a, start, end, logs, options);
                    delivered.push((d.digest_key, d.log_keys));
                    if Some(h) == short_at {
                        break;
                    }
                }
                delivered
            };
        let alpha = deliver(&mut chain("alpha"), 30, alpha_short_last_at, 0);
        let beta = deliver(&mut chain("beta"), beta_hours, None, 7 * 60);
        bundle.public_keys = vec![keys.us_east_1_a.key_entry(
            "us-east-1",
            t("2024-01-01T00:00:00Z"),
            t("2025-01-01T00:00:00Z"),
        )];
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("copy");
        bundle.write_to(&source).expect("write");
        Shared {
            checkpoint: dir.path().join("checkpoint.json"),
            keys: source.join(".ctverify/public-keys.json"),
            source,
            _dir: dir,
            alpha,
            beta,
        }
    }

    fn run(&self, end: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "validate",
            self.source.to_str().unwrap(),
            "--checkpoint",
            self.checkpoint.to_str().unwrap(),
            "--end-time",
            end,
            "--public-keys",
            self.keys.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend(extra);
        let run = ctverify(&args);
        Run {
            code: run.code,
            report: serde_json::from_str(&run.stdout).unwrap_or(Value::Null),
            stderr: run.stderr,
        }
    }

    fn path(&self, key: &str) -> std::path::PathBuf {
        self.source.join(key)
    }
}

#[test]
fn chains_of_one_folder_that_end_at_different_times_raise_no_false_alarm() {
    // beta stopped after 10 hours; alpha runs on. Its anchor stays where beta ended.
    let shared = Shared::new(10, None);
    let first = shared.run(FIRST_RUN_END, &[]);
    assert_eq!(first.code, 0, "{:#}{}", first.report, first.stderr);
    for end in [LATER_RUN_END, LATER_RUN_END] {
        let later = shared.run(end, &[]);
        assert_eq!(later.code, 0, "{:#}{}", later.report, later.stderr);
        assert!(changed_days(&later.report).is_empty());
        assert_eq!(later.report["checkpoint"]["chains_resumed"], 2);
    }
    // And a log of beta's, behind its old anchor, is still watched.
    std::fs::remove_file(shared.path(&shared.beta[4].1[0])).unwrap();
    let later = shared.run(LATER_RUN_END, &[]);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert!(statuses(&later.report).contains(&(shared.beta[4].1[0].clone(), "not_found".into())));
}

#[test]
fn a_run_that_leaves_a_trail_out_does_not_move_the_folder() {
    let shared = Shared::new(30, None);
    assert_eq!(shared.run(FIRST_RUN_END, &[]).code, 0);
    let before = folders(&std::fs::read(&shared.checkpoint).unwrap());
    // beta's log rewritten with another's bytes; a run of alpha alone cannot see it.
    let key = shared.beta[3].1[1].clone();
    std::fs::copy(shared.path(&shared.beta[4].1[0]), shared.path(&key)).unwrap();
    let alpha_only = shared.run(LATER_RUN_END, &["--trail", "alpha"]);
    assert_eq!(alpha_only.code, 0, "{:#}", alpha_only.report);
    assert_eq!(changed_days(&alpha_only.report), ["2024-06-01"]);
    assert!(folders(&std::fs::read(&shared.checkpoint).unwrap()) == before);
    let all = shared.run(LATER_RUN_END, &[]);
    assert_eq!(all.code, 1, "{:#}", all.report);
    assert!(statuses(&all.report).contains(&(key, "hash_mismatch".into())));
}

#[test]
fn a_trail_left_out_of_the_first_run_is_verified_from_its_beginning_later() {
    let shared = Shared::new(30, None);
    let key = shared.beta[3].1[1].clone();
    std::fs::copy(shared.path(&shared.beta[4].1[0]), shared.path(&key)).unwrap();
    assert_eq!(shared.run(FIRST_RUN_END, &["--trail", "alpha"]).code, 0);
    let all = shared.run(LATER_RUN_END, &[]);
    assert_eq!(all.code, 1, "{:#}", all.report);
    assert!(statuses(&all.report).contains(&(key, "hash_mismatch".into())));
}

#[test]
fn files_planted_behind_the_checkpoint_under_names_of_another_time_are_found() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    let folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/02";
    let listed = disk.path(&disk.trail.hours[24].1[0]);
    for planted in [
        format!("{folder}/111122223333_CloudTrail_us-east-1_20240601T0030Z_x.json.gz"),
        format!(
            "{folder}/20240602T2300/111122223333_CloudTrail_us-east-1_20240602T0030Z_x.json.gz"
        ),
    ] {
        let path = disk.path(&planted);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(&listed, &path).unwrap();
    }
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert_eq!(changed_days(&later.report), ["2024-06-02"]);
    let unreferenced: Vec<String> = statuses(&later.report)
        .into_iter()
        .filter(|(_, status)| status == "unreferenced")
        .map(|(key, _)| key)
        .collect();
    assert_eq!(unreferenced.len(), 2, "{:#}", later.report);
}

#[test]
fn a_short_last_digest_leaves_no_hour_unwatched() {
    // alpha's digest of hour 25 covers only 35 minutes; the log of hour 24 named in hour 25's
    // first minutes is neither in the history (it stops at 25's hour) nor in the last digest.
    let shared = Shared::new(0, Some(25));
    let first = shared.run(LATER_RUN_END, &[]);
    assert_eq!(first.code, 0, "{:#}{}", first.report, first.stderr);
    let (_, logs) = &shared.alpha[24];
    let last = logs.last().unwrap().clone();
    assert!(last.contains("T0100Z"), "{last}");
    std::fs::copy(shared.path(&logs[0]), shared.path(&last)).unwrap();
    let later = shared.run(LATER_RUN_END, &[]);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert!(statuses(&later.report).contains(&(last, "hash_mismatch".into())));
}

#[test]
fn start_time_drops_days_that_expired_from_the_history() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    // A lifecycle rule expired the first day.
    std::fs::remove_dir_all(
        disk.source
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01"),
    )
    .unwrap();
    std::fs::remove_dir_all(
        disk.source
            .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/06/01"),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "validate",
            disk.source.to_str().unwrap(),
            "--checkpoint",
            disk.checkpoint.to_str().unwrap(),
            "--end-time",
            LATER_RUN_END,
            "--public-keys",
            disk.keys.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend(extra);
        let run = ctverify(&args);
        (
            run.code,
            serde_json::from_str::<Value>(&run.stdout).unwrap_or(Value::Null),
        )
    };
    let (code, report) = run(&["--start-time", "2024-06-02"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(changed_days(&report).is_empty());
    let written: Value = serde_json::from_slice(&std::fs::read(&disk.checkpoint).unwrap()).unwrap();
    assert_eq!(
        written["checkpoint"]["folders"][0]["from"],
        "2024-06-02T00:00:00Z"
    );
    // The checkpoint now starts there: no --start-time is needed again.
    let (code, report) = run(&[]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn an_anchor_before_start_time_is_not_asked_for_once_its_objects_expired() {
    // beta stopped on the first day; a lifecycle rule then expired that day.
    let shared = Shared::new(10, None);
    assert_eq!(shared.run(FIRST_RUN_END, &[]).code, 0);
    for folder in ["CloudTrail", "CloudTrail-Digest"] {
        let day = format!("AWSLogs/111122223333/{folder}/us-east-1/2024/06/01");
        std::fs::remove_dir_all(shared.path(&day)).unwrap();
    }
    let expired = shared.run(LATER_RUN_END, &["--start-time", "2024-06-02"]);
    assert_eq!(expired.code, 0, "{:#}{}", expired.report, expired.stderr);
    let written: Value =
        serde_json::from_slice(&std::fs::read(&shared.checkpoint).unwrap()).unwrap();
    let trails: Vec<&str> = written["checkpoint"]["folders"][0]["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["trail"].as_str().unwrap())
        .collect();
    assert_eq!(trails, ["alpha"], "beta's expired anchor is dropped");
    let again = shared.run(LATER_RUN_END, &[]);
    assert_eq!(again.code, 0, "{:#}", again.report);
}

#[test]
fn a_chain_new_to_a_checkpointed_folder_is_verified_from_its_beginning() {
    // beta stopped at 10:05 on the first day, before the first run's --start-time.
    let shared = Shared::new(10, None);
    let key = shared.beta[3].1[1].clone();
    std::fs::copy(shared.path(&shared.beta[4].1[0]), shared.path(&key)).unwrap();
    let first = shared.run(FIRST_RUN_END, &["--start-time", "2024-06-01T12:00:00Z"]);
    assert_eq!(first.code, 0, "{:#}", first.report);
    let later = shared.run(LATER_RUN_END, &[]);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert!(statuses(&later.report).contains(&(key, "hash_mismatch".into())));
}

#[test]
fn a_folder_a_filtered_run_cannot_move_is_named_in_the_report() {
    let shared = Shared::new(30, None);
    let run = shared.run(FIRST_RUN_END, &["--trail", "alpha"]);
    assert_eq!(run.code, 0, "{:#}", run.report);
    let kept = &run.report["checkpoint"]["folders_not_moved"];
    assert_eq!(kept[0]["why"], "trails_left_out", "{kept:#}");
    assert_eq!(
        kept[0]["folder"],
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/"
    );
}

#[test]
fn keys_that_only_start_with_a_date_are_not_taken_for_the_history() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    let listed = disk.path(&disk.trail.hours[3].1[0]);
    let folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01";
    for planted in [
        format!("{folder}x/111122223333_CloudTrail_us-east-1_20240601T0330Z_x.json.gz"),
        format!("{folder}.json.gz"),
    ] {
        let path = disk.path(&planted);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(&listed, &path).unwrap();
    }
    let later = disk.run(LATER_RUN_END);
    let unreferenced = statuses(&later.report)
        .into_iter()
        .filter(|(_, status)| status == "unreferenced")
        .count();
    assert_eq!(unreferenced, 2, "{:#}", later.report);
    assert_eq!(later.code, 1);
}

#[test]
fn a_rewrite_whose_modification_time_was_put_back_is_still_a_change() {
    let disk = OnDisk::new();
    assert_eq!(disk.run(FIRST_RUN_END).code, 0);
    let key = &disk.trail.hours[2].1[0];
    let path = disk.path(key);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    // Other bytes of the same size, and the old modification time.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let later = disk.run(LATER_RUN_END);
    assert_eq!(later.code, 1, "{:#}", later.report);
    assert_eq!(changed_days(&later.report), ["2024-06-01"]);
}

#[test]
fn a_checkpoint_in_a_directory_that_does_not_exist_is_refused_before_the_run() {
    let disk = OnDisk::new();
    let missing = disk.checkpoint.with_file_name("no-such-dir").join("c.json");
    let run = ctverify([
        "validate",
        disk.source.to_str().unwrap(),
        "--checkpoint",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing verified: {}", run.stdout);
}

#[test]
fn another_trails_logs_not_yet_in_a_digest_are_not_unreferenced() {
    // alpha's digests end at :05, beta's at :50, each with a log every 5 minutes: at 10:55,
    // alpha's logs of 10:10-10:50 fall in beta's window, and alpha's next digest is not due.
    let keys = test_keys();
    let mut bundle = Bundle::new("checkpoint-trail", "");
    let options = HourOptions {
        records_per_log: 1,
        wrong_previous_hash: false,
    };
    for (trail, first_end) in [
        ("alpha", "2024-06-01T01:05:09Z"),
        ("beta", "2024-06-01T01:50:09Z"),
    ] {
        let mut writer = chain(trail);
        for h in 0..10 {
            let end = t(first_end).plus_seconds(h * HOUR);
            writer.deliver(
                &mut bundle,
                &keys.us_east_1_a,
                end.plus_seconds(-HOUR),
                end,
                11,
                options,
            );
        }
        // The logs of the hour after alpha's last digest, which its next digest will list.
        if trail == "alpha" {
            let end = t(first_end).plus_seconds(10 * HOUR);
            let mut pending = Bundle::new("checkpoint-trail", "");
            writer.deliver(
                &mut pending,
                &keys.us_east_1_a,
                end.plus_seconds(-HOUR),
                end,
                11,
                options,
            );
            let digest = writer.id.digest_key(end);
            bundle.objects.extend(
                pending
                    .objects
                    .into_iter()
                    .filter(|(key, _)| *key != digest && key.as_str() < "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01/111122223333_CloudTrail_us-east-1_20240601T1050Z"),
            );
        }
    }
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        "us-east-1",
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("copy");
    bundle.write_to(&source).expect("write");
    let checkpoint = dir.path().join("c.json");
    let keys_file = source.join(".ctverify/public-keys.json");
    let run = validate(
        source.to_str().unwrap(),
        checkpoint.to_str().unwrap(),
        "2024-06-01T10:55:00Z",
        &keys_file,
        &[],
    );
    assert_eq!(run.code, 0, "{:#}{}", run.report, run.stderr);
    assert!(run.report["checkpoint"]["folders_not_moved"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_checkpoint_that_cannot_be_written_leaves_exit_1_as_1_and_makes_0_incomplete() {
    let disk = OnDisk::new();
    // The lock beside the checkpoint cannot be taken: a directory stands where it goes.
    std::fs::create_dir(disk.checkpoint.with_extension("json.lock")).unwrap();
    let clean = disk.run(FIRST_RUN_END);
    assert_eq!(clean.code, 3, "{}", clean.stderr);
    assert!(clean.stderr.contains(".lock"), "{}", clean.stderr);
    assert_eq!(clean.report["summary"]["result"], "valid");
    std::fs::remove_file(disk.path(&disk.trail.hours[2].1[0])).unwrap();
    let tampered = disk.run(FIRST_RUN_END);
    assert_eq!(tampered.code, 1, "{}", tampered.stderr);
    assert!(tampered.stderr.contains(".lock"), "{}", tampered.stderr);
    assert!(!disk.checkpoint.exists());
}
