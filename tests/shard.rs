//! Shards and their merge (issue 22): `validate --shard I/N` verifies one shard's account-and-region
//! folders, and `ctverify merge` of every shard's report gives the report and exit status of one
//! unsharded run, file by file, with gaps and tails settled over every shard's evidence.

mod common;

use std::path::Path;

use common::servers::{aws_env, Moto};
use common::{ctverify, ctverify_env, test_keys, Run};
use ctverify::internal::gzip;
use ctverify::{ChainId, Shard, UtcTime};
use ctverify_testgen::vectors::TestKeys;
use ctverify_testgen::{log_records, trail_event_record, Bundle, ChainWriter, HourOptions};
use serde_json::Value;

const HOUR: i64 = 3600;
const END: &str = "2024-06-01T09:00:00Z";
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("time")
}

fn chain_id(account: &str, region: &str) -> ChainId {
    ChainId {
        prefix: String::new(),
        organization_id: Some("o-shardtest1".into()),
        account_id: account.into(),
        region: region.into(),
        trail: "org-audit".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    }
}

fn folder(account: &str, region: &str) -> String {
    chain_id(account, region).digest_folder()
}

/// Delivers hourly digests for `hours` (0-based hour numbers after the first), one log each
/// plus what `writer.pending_records` holds.
fn deliver_hours(
    bundle: &mut Bundle,
    writer: &mut ChainWriter,
    keys: &TestKeys,
    hours: impl IntoIterator<Item = i64>,
) -> Vec<ctverify_testgen::Delivered> {
    let signer = if writer.id.region == "us-east-1" {
        &keys.us_east_1_a
    } else {
        &keys.eu_west_1_a
    };
    // Each region delivers at its own minute, so that the regions' log keys differ.
    let first_end = if writer.id.region == "us-east-1" {
        t("2024-06-01T01:05:09Z")
    } else {
        t("2024-06-01T01:02:30Z")
    };
    hours
        .into_iter()
        .map(|h| {
            let end = first_end.plus_seconds(h * HOUR);
            let options = HourOptions {
                records_per_log: 2,
                wrong_previous_hash: false,
            };
            writer.deliver(bundle, signer, end.plus_seconds(-HOUR), end, 1, options)
        })
        .collect()
}

/// An organization trail over three accounts and two regions (six folders), eight hours,
/// with evidence that crosses folders and tampering in every account:
/// - 1111: eu-west-1 stops for two hours; the StopLogging call that explains the gap is in a
///   verified log of us-east-1 (another folder, another shard);
/// - 2222: a us-east-1 log rewritten; eu-west-1 ends after four hours while us-east-1
///   delivers on (the other region proves digests missing), and a log planted in eu-west-1;
/// - 3333: a us-east-1 digest deleted; an eu-west-1 log deleted.
fn organization_trail(keys: &TestKeys) -> Bundle {
    let mut bundle = Bundle::new("shard-trail", "");
    for region in REGIONS {
        let signer = if region == "us-east-1" {
            &keys.us_east_1_a
        } else {
            &keys.eu_west_1_a
        };
        bundle.public_keys.push(signer.key_entry(
            region,
            t("2024-01-01T00:00:00Z"),
            t("2025-01-01T00:00:00Z"),
        ));
    }

    // 1111: the stop is called in the home region at 03:10, logged in its 04:05 hour.
    let mut east = ChainWriter::new(chain_id(ACCOUNTS[0], "us-east-1"));
    deliver_hours(&mut bundle, &mut east, keys, 0..3);
    east.pending_records.push(trail_event_record(
        "StopLogging",
        t("2024-06-01T03:10:00Z"),
        "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-audit",
        "arn:aws:iam::111111111111:user/admin",
        ACCOUNTS[0],
        "us-east-1",
        serde_json::json!({}),
    ));
    deliver_hours(&mut bundle, &mut east, keys, 3..8);
    let mut west = ChainWriter::new(chain_id(ACCOUNTS[0], "eu-west-1"));
    deliver_hours(&mut bundle, &mut west, keys, 0..3);
    west.stop_logging();
    deliver_hours(&mut bundle, &mut west, keys, 5..8);

    // 2222
    let mut east = ChainWriter::new(chain_id(ACCOUNTS[1], "us-east-1"));
    let delivered = deliver_hours(&mut bundle, &mut east, keys, 0..8);
    let rewritten = delivered[2].log_keys[0].clone();
    bundle.objects.insert(
        rewritten,
        gzip(br#"{"Records":[{"eventName":"Rewritten"}]}"#),
    );
    let mut west = ChainWriter::new(chain_id(ACCOUNTS[1], "eu-west-1"));
    deliver_hours(&mut bundle, &mut west, keys, 0..5);
    let planted_at = t("2024-06-01T02:40:00Z");
    let planted = west.log_key(planted_at, "planted");
    let records = log_records(
        "planted",
        ACCOUNTS[1],
        "eu-west-1",
        planted_at.plus_seconds(-600),
        planted_at,
        2,
    );
    bundle.objects.insert(
        planted,
        gzip(&serde_json::to_vec(&records).expect("records")),
    );

    // 3333
    let mut east = ChainWriter::new(chain_id(ACCOUNTS[2], "us-east-1"));
    let delivered = deliver_hours(&mut bundle, &mut east, keys, 0..8);
    bundle.objects.remove(&delivered[4].digest_key);
    bundle.metadata.remove(&delivered[4].digest_key);
    let mut west = ChainWriter::new(chain_id(ACCOUNTS[2], "eu-west-1"));
    let delivered = deliver_hours(&mut bundle, &mut west, keys, 0..8);
    bundle.objects.remove(&delivered[5].log_keys[0]);
    bundle
}

/// The same six folders with nothing wrong, every chain running the eight hours.
fn clean_trail(keys: &TestKeys) -> Bundle {
    let mut bundle = Bundle::new("shard-clean", "");
    for region in REGIONS {
        let signer = if region == "us-east-1" {
            &keys.us_east_1_a
        } else {
            &keys.eu_west_1_a
        };
        bundle.public_keys.push(signer.key_entry(
            region,
            t("2024-01-01T00:00:00Z"),
            t("2025-01-01T00:00:00Z"),
        ));
    }
    for account in ACCOUNTS {
        for region in REGIONS {
            let mut writer = ChainWriter::new(chain_id(account, region));
            deliver_hours(&mut bundle, &mut writer, keys, 0..8);
        }
    }
    bundle
}

fn written(bundle: &Bundle) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    dir
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

/// The report without what only a merged report has.
fn without_merge(mut report: Value) -> Value {
    if let Value::Object(map) = &mut report {
        map.remove("merge");
    }
    report
}

/// Every file's kind, key, status and detail.
fn files(report: &Value) -> Vec<(String, String, String, String)> {
    report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("key"), s("status"), s("detail"))
        })
        .collect()
}

fn chain<'a>(report: &'a Value, account: &str, region: &str) -> &'a Value {
    report["chains"]
        .as_array()
        .expect("chains")
        .iter()
        .find(|c| c["account_id"] == account && c["region"] == region)
        .unwrap_or_else(|| panic!("no chain {account} {region}: {report:#}"))
}

fn not_found_digests(report: &Value, account: &str, region: &str) -> usize {
    let folder = folder(account, region);
    files(report)
        .iter()
        .filter(|(kind, key, status, _)| {
            kind == "digest" && status == "not_found" && key.starts_with(&folder)
        })
        .count()
}

#[test]
fn the_test_trail_splits_the_evidence_across_shards() {
    // What the merge test proves rests on this: the folders whose evidence crosses are in
    // different shards of three.
    for account in &ACCOUNTS[..2] {
        assert_ne!(
            Shard::owner_of(&folder(account, "us-east-1"), 3),
            Shard::owner_of(&folder(account, "eu-west-1"), 3),
            "{account}"
        );
    }
    let owners: std::collections::BTreeSet<u32> = ACCOUNTS
        .iter()
        .flat_map(|a| {
            REGIONS
                .iter()
                .map(move |r| Shard::owner_of(&folder(a, r), 3))
        })
        .collect();
    assert_eq!(owners.len(), 3, "every shard of three holds a folder");
}

#[test]
fn three_shards_through_moto_merge_into_the_single_runs_report_file_by_file() {
    let keys = test_keys();
    let dir = written(&organization_trail(&keys));
    let moto = Moto::start();
    moto.upload(dir.path(), "shard-trail");
    let mut env = aws_env(None);
    env.push(("AWS_ENDPOINT_URL_S3".into(), moto.endpoint()));
    let keys_file = dir.path().join(".ctverify/public-keys.json");
    let base = |format: &str| -> Vec<String> {
        [
            "validate",
            "s3://shard-trail",
            "--public-keys",
            keys_file.to_str().unwrap(),
            "--end-time",
            END,
            "--no-progress",
            "--format",
            format,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    let single = ctverify_env(base("json"), &env);
    assert_eq!(single.code, 1, "{}", single.stderr);
    let single_report = json(&single);
    let single_text = ctverify_env(base("text"), &env);
    assert_eq!(single_text.code, 1);

    // The tampering and the cross-folder evidence are all in the single run's report.
    let statuses: Vec<String> = files(&single_report)
        .iter()
        .map(|(kind, _, status, _)| format!("{kind} {status}"))
        .collect();
    for expected in [
        "log hash_mismatch",
        "log unreferenced",
        "log not_found",
        "digest not_found",
    ] {
        assert!(
            statuses.iter().any(|s| s == expected),
            "{expected}: {statuses:?}"
        );
    }
    let gap = &chain(&single_report, ACCOUNTS[0], "eu-west-1")["gaps"][0];
    assert_eq!(
        gap["explained"]["event"], "StopLogging",
        "{single_report:#}"
    );
    let owed_by_other_region = not_found_digests(&single_report, ACCOUNTS[1], "eu-west-1");
    assert!(owed_by_other_region >= 2, "{single_report:#}");

    // Three shard processes: JSON reports, and a JSONL one (for a shard that holds neither
    // eu-west-1 folder read below); one takes its index from the engine's variable and its
    // file name from `{shard}`.
    let eu1 = Shard::owner_of(&folder(ACCOUNTS[0], "eu-west-1"), 3);
    let eu2 = Shard::owner_of(&folder(ACCOUNTS[1], "eu-west-1"), 3);
    let jsonl_index = (0..3u32)
        .find(|i| *i != eu1 && *i != eu2)
        .expect("a third shard");
    let reports = tempfile::tempdir().expect("tempdir");
    let name = |i: u32| {
        let extension = if i == jsonl_index { "jsonl" } else { "json" };
        reports
            .path()
            .join(format!("s{i}.{extension}"))
            .display()
            .to_string()
    };
    for index in 0..3u32 {
        let format = if index == jsonl_index {
            "jsonl"
        } else {
            "json"
        };
        let mut args = base(format);
        let mut env = env.clone();
        if index == (jsonl_index + 1) % 3 {
            let pattern = reports.path().join("s{shard}.json");
            args.extend([
                "--shard-count".into(),
                "3".into(),
                "-o".into(),
                pattern.display().to_string(),
            ]);
            env.push(("JOB_COMPLETION_INDEX".into(), index.to_string()));
        } else {
            args.extend([
                "--shard".into(),
                format!("{index}/3"),
                "-o".into(),
                name(index),
            ]);
        }
        let run = ctverify_env(&args, &env);
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        assert!(Path::new(&name(index)).exists());
    }

    // Each shard alone settles with its own evidence only: the gap's explanation and the
    // other region's testimony are in another shard.
    let alone = read_json(Path::new(&name(eu1)));
    assert_eq!(alone["shard"]["index"], eu1);
    assert_eq!(alone["shard"]["count"], 3);
    assert_eq!(
        chain(&alone, ACCOUNTS[0], "eu-west-1")["gaps"][0]["explained"],
        Value::Null
    );
    let alone = read_json(Path::new(&name(eu2)));
    assert!(not_found_digests(&alone, ACCOUNTS[1], "eu-west-1") < owed_by_other_region);

    let merge = |args: &[&str]| {
        let mut all = vec!["merge".to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        ctverify(all)
    };
    let (s0, s1, s2) = (name(0), name(1), name(2));
    let merged = merge(&[&s0, &s1, &s2, "--format", "json"]);
    assert_eq!(merged.code, single.code, "{}", merged.stderr);
    let merged_report = json(&merged);
    assert_eq!(
        merged_report["merge"]["missing_shards"],
        serde_json::json!([])
    );
    assert_eq!(files(&merged_report), files(&single_report));
    assert_eq!(without_merge(merged_report.clone()), single_report);

    // In any order, and from a directory.
    let reversed = merge(&[&s2, &s1, &s0, "--format", "json"]);
    assert_eq!(without_merge(json(&reversed)), single_report);
    let merged_file = reports.path().join("merged/report.json");
    let from_dir = merge(&[
        reports.path().to_str().unwrap(),
        "--format",
        "json",
        "-o",
        merged_file.to_str().unwrap(),
    ]);
    assert_eq!(from_dir.code, 1, "{}", from_dir.stderr);
    assert_eq!(without_merge(read_json(&merged_file)), single_report);
    // The merged report in a directory below is not read as a shard's.
    let again = merge(&[reports.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(without_merge(json(&again)), single_report);

    // Text: the single run's lines, and the merge's own.
    let text = merge(&[&s0, &s1, &s2]);
    assert_eq!(text.code, 1);
    let merged_lines: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| !l.starts_with("Merged "))
        .collect();
    assert_eq!(merged_lines, single_text.stdout.lines().collect::<Vec<_>>());
    assert!(text.stdout.contains("Merged 3 of 3 shard reports\n"));

    // JSONL out: the same files and summary.
    let lines = merge(&[&s0, &s1, &s2, "--format", "jsonl"]);
    let parsed: Vec<Value> = lines
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let summary = parsed.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["result"], single_report["summary"]["result"]);
    assert_eq!(summary["digests"], single_report["summary"]["digests"]);
    assert_eq!(
        parsed.iter().filter(|l| l["type"] == "file").count(),
        single_report["files"].as_array().unwrap().len()
    );
}

/// The organization trail (or the clean one) on disk, with its shard reports of `count`.
fn shard_reports(bundle: &Bundle, count: u32) -> (tempfile::TempDir, tempfile::TempDir, Value) {
    let dir = written(bundle);
    let source = dir.path().to_str().unwrap().to_string();
    let single = ctverify(["validate", &source, "--end-time", END, "--format", "json"]);
    let reports = tempfile::tempdir().expect("tempdir");
    for index in 0..count {
        let out = reports.path().join(format!("s{index}.json"));
        let run = ctverify([
            "validate",
            &source,
            "--end-time",
            END,
            "--format",
            "json",
            "--shard",
            &format!("{index}/{count}"),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!([0, 1].contains(&run.code), "{}", run.stderr);
    }
    (dir, reports, json(&single))
}

fn merge_files(reports: &Path, indexes: &[u32], extra: &[&str]) -> Run {
    let mut args = vec!["merge".to_string()];
    args.extend(
        indexes
            .iter()
            .map(|i| reports.join(format!("s{i}.json")).display().to_string()),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    ctverify(args)
}

#[test]
fn a_missing_or_duplicated_shard_is_named_and_never_complete() {
    let keys = test_keys();
    let (_dir, reports, single) = shard_reports(&clean_trail(&keys), 3);
    assert_eq!(single["summary"]["result"], "valid", "{single:#}");
    let all = merge_files(reports.path(), &[0, 1, 2], &["--format", "json"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(without_merge(json(&all)), single);

    // A clean trail with a shard missing is incomplete, not valid.
    let missing = merge_files(reports.path(), &[0, 2], &["--format", "json"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let report = json(&missing);
    assert_eq!(report["summary"]["result"], "incomplete");
    assert_eq!(report["merge"]["missing_shards"], serde_json::json!([1]));
    assert!(missing.stderr.contains("1 shard(s) missing"));
    let text = merge_files(reports.path(), &[2, 0], &[]);
    assert_eq!(text.code, 3);
    assert!(
        text.stdout.contains("Missing shard\t1 of 3\t"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.ends_with("Result: incomplete\n"));

    // Twice the same shard: named, left out, incomplete.
    let twice = merge_files(reports.path(), &[0, 1, 2, 1], &["--format", "json"]);
    assert_eq!(twice.code, 3);
    let report = json(&twice);
    assert_eq!(report["merge"]["duplicate_shards"][0]["shard"], 1);
    assert_eq!(report["summary"]["digests"], single["summary"]["digests"]);

    // Integrity failures found in the shards that are there still make it 1.
    let (_dir, reports, single) = shard_reports(&organization_trail(&keys), 3);
    assert_eq!(single["summary"]["result"], "invalid");
    let missing = merge_files(reports.path(), &[0, 1], &["--format", "json"]);
    assert_eq!(missing.code, 1);
    assert_eq!(
        json(&missing)["merge"]["missing_shards"],
        serde_json::json!([2])
    );
}

#[test]
fn a_folder_found_by_one_shard_and_not_verified_by_its_own_is_named() {
    let keys = test_keys();
    let (_dir, reports, _) = shard_reports(&clean_trail(&keys), 3);
    // As if shard 0 had run before a folder of shard 1 existed: it found one more than shard 1
    // verified.
    let path = reports.path().join("s0.json");
    let mut report = read_json(&path);
    let late = "AWSLogs/o-shardtest1/444444444444/CloudTrail-Digest/us-east-1/";
    let owner = Shard::owner_of(late, 3);
    report["shard"]["folders_found"]
        .as_array_mut()
        .unwrap()
        .push(Value::String(late.into()));
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let run = merge_files(reports.path(), &[0, 1, 2], &["--format", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let merged = json(&run);
    assert_eq!(merged["merge"]["folders_not_verified"][0]["folder"], late);
    assert_eq!(merged["merge"]["folders_not_verified"][0]["shard"], owner);
    assert_eq!(merged["summary"]["result"], "incomplete");
}

#[test]
fn reports_of_another_run_or_no_shard_report_are_refused() {
    let keys = test_keys();
    let (dir, reports, _) = shard_reports(&clean_trail(&keys), 3);
    let source = dir.path().to_str().unwrap();
    let other = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, args: &[&str]| {
        let out = other.path().join(name);
        let mut all = vec!["validate", source, "-o", out.to_str().unwrap()];
        if !args.contains(&"--format") {
            all.extend(["--format", "json"]);
        }
        all.extend(args);
        let run = ctverify(&all);
        assert!([0, 1].contains(&run.code), "{}", run.stderr);
        out.display().to_string()
    };
    let s0 = reports.path().join("s0.json").display().to_string();
    let s1 = reports.path().join("s1.json").display().to_string();
    let later = write(
        "later.json",
        &["--shard", "2/3", "--end-time", "2024-06-01T10:00:00Z"],
    );
    let of_four = write("four.json", &["--shard", "2/4", "--end-time", END]);
    let strict = write(
        "strict.json",
        &["--shard", "2/3", "--end-time", END, "--require-continuous"],
    );
    let unsharded = write("all.json", &["--end-time", END]);
    for (report, says) in [
        (&later, "the range"),
        (&of_four, "the shard count"),
        (&strict, "--require-continuous"),
        (&unsharded, "no `shard` object"),
    ] {
        let run = ctverify(["merge", &s0, &s1, report]);
        assert_eq!(run.code, 2, "{report}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }

    // A JSONL report cut off before its summary line, an empty file, not JSON.
    let jsonl = write(
        "cut.jsonl",
        &["--shard", "2/3", "--end-time", END, "--format", "jsonl"],
    );
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(&jsonl, cut[..cut.len() - 1].join("\n")).unwrap();
    let run = ctverify(["merge", &s0, &s1, &jsonl]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cut off"), "{}", run.stderr);
    let empty = other.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let run = ctverify(["merge", &s0, empty.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    let garbage = other.path().join("garbage.json");
    std::fs::write(&garbage, "{\"tool\": \"ctverify\", ").unwrap();
    assert_eq!(ctverify(["merge", garbage.to_str().unwrap()]).code, 2);

    // A shard that says it verified another shard's folder was not sharded by ctverify.
    let mut report = read_json(Path::new(&s0));
    let foreign = report["shard"]["folders_found"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| Shard::owner_of(f.as_str().unwrap(), 3) != 0)
        .cloned()
        .expect("a folder of another shard");
    report["shard"]["folders"]
        .as_array_mut()
        .unwrap()
        .push(foreign);
    let edited = other.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_vec(&report).unwrap()).unwrap();
    let run = ctverify(["merge", edited.to_str().unwrap(), &s1]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("which is shard"), "{}", run.stderr);
}

#[test]
fn shard_options_are_checked_before_anything_is_read() {
    let keys = test_keys();
    let dir = written(&clean_trail(&keys));
    let source = dir.path().to_str().unwrap();
    let out = tempfile::tempdir().expect("tempdir");
    let checkpoint = out.path().join("cp.json");
    // The arguments, the environment, and what the refusal says.
    type Case<'a> = (Vec<&'a str>, Vec<(String, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--shard", "0/3"], vec![], "--end-time"),
        (vec!["--shard", "3/3", "--end-time", END], vec![], "0-based"),
        (vec!["--shard", "1-3", "--end-time", END], vec![], "I/N"),
        (
            vec!["--shard", "0/0", "--end-time", END],
            vec![],
            "at least 1",
        ),
        (
            vec!["--shard-count", "3", "--end-time", END],
            vec![],
            "neither is set",
        ),
        (
            vec!["--shard-count", "3", "--end-time", END],
            vec![
                ("AWS_BATCH_JOB_ARRAY_INDEX".into(), "1".into()),
                ("JOB_COMPLETION_INDEX".into(), "2".into()),
            ],
            "disagree",
        ),
        (
            vec!["--shard-count", "3", "--end-time", END],
            vec![("JOB_COMPLETION_INDEX".into(), "x".into())],
            "not a shard index",
        ),
        (
            vec![
                "--shard",
                "0/3",
                "--end-time",
                END,
                "--checkpoint",
                checkpoint.to_str().unwrap(),
                "--format",
                "json",
            ],
            vec![],
            "--checkpoint",
        ),
        (
            vec!["--end-time", END, "-o", "/tmp/report-{shard}.json"],
            vec![],
            "not sharded",
        ),
        (
            vec!["--shard", "0/3", "--end-time", "2999-01-01T00:00:00Z"],
            vec![],
            "in the future",
        ),
        (
            vec!["--shard", "0/3", "--end-time", END, "--format", "text"],
            vec![],
            "json or jsonl",
        ),
    ];
    for (args, env, says) in cases {
        let mut all = vec!["validate", source];
        all.extend(args.iter().copied());
        let run = ctverify_env(&all, &env);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    assert!(!checkpoint.exists());

    // AWS Batch's variable names the shard, and `{shard}` the file, in a directory for the
    // run that the first shard makes.
    let report = out.path().join("run-1/shard-{shard}.json");
    let run = ctverify_env(
        [
            "validate",
            source,
            "--end-time",
            END,
            "--shard-count",
            "3",
            "--format",
            "json",
            "-o",
            report.to_str().unwrap(),
        ],
        &[("AWS_BATCH_JOB_ARRAY_INDEX".into(), "2".into())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = read_json(&out.path().join("run-1/shard-2.json"));
    assert_eq!(written["shard"]["index"], 2);
    assert_eq!(written["shard"]["count"], 3);
}

#[test]
fn an_empty_shard_is_valid_and_the_findings_exit_can_be_zero() {
    let keys = test_keys();
    let bundle = organization_trail(&keys);
    let (dir, reports, single) = shard_reports(&bundle, 4);
    let source = dir.path().to_str().unwrap();
    let owners: Vec<u32> = ACCOUNTS
        .iter()
        .flat_map(|a| {
            REGIONS
                .iter()
                .map(move |r| Shard::owner_of(&folder(a, r), 4))
        })
        .collect();
    let empty = (0..4)
        .find(|i| !owners.contains(i))
        .expect("an empty shard of four");
    let run = ctverify([
        "validate",
        source,
        "--end-time",
        END,
        "--format",
        "json",
        "--shard",
        &format!("{empty}/4"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["shard"]["folders"], serde_json::json!([]));
    assert_eq!(
        report["shard"]["folders_found"].as_array().unwrap().len(),
        6
    );
    assert_eq!(report["summary"]["result"], "valid");

    let merged = merge_files(reports.path(), &[0, 1, 2, 3], &["--format", "json"]);
    assert_eq!(merged.code, 1);
    assert_eq!(without_merge(json(&merged)), single);

    // A shard with findings: 1, or 0 with --exit-zero-on-findings (the report is the same).
    let tampered = owners[2]; // 2222 us-east-1: a log rewritten
    let args = |extra: &[&str]| {
        let mut all = vec![
            "validate".to_string(),
            source.to_string(),
            "--end-time".into(),
            END.into(),
            "--format".into(),
            "json".into(),
            "--shard".into(),
            format!("{tampered}/4"),
        ];
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };
    let strict = ctverify(args(&[]));
    assert_eq!(strict.code, 1);
    let lenient = ctverify(args(&["--exit-zero-on-findings"]));
    assert_eq!(lenient.code, 0, "{}", lenient.stderr);
    assert_eq!(json(&lenient)["summary"]["result"], "invalid");
}

#[test]
fn merge_reads_stdin() {
    let keys = test_keys();
    let (_dir, reports, single) = shard_reports(&clean_trail(&keys), 2);
    let report = std::fs::read(reports.path().join("s1.json")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ctverify"))
        .args(["merge", "--format", "json", "-"])
        .arg(reports.path().join("s0.json"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&report).unwrap();
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0));
    let merged: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(merged["merge"]["reports"][1]["report"], "-");
    assert_eq!(without_merge(merged), single);
}

#[test]
fn a_shard_whose_folders_hold_no_digest_in_the_range_is_valid_not_incomplete() {
    // 2222's eu-west-1 chain ends at 05:02: from 06:00 its shard has nothing in range, while
    // the run as a whole does.
    let keys = test_keys();
    let dir = written(&organization_trail(&keys));
    let source = dir.path().to_str().unwrap();
    let range = ["--start-time", "2024-06-01T06:00:00Z", "--end-time", END];
    let owner = Shard::owner_of(&folder(ACCOUNTS[1], "eu-west-1"), 6);
    let mut args = vec!["validate", source, "--format", "json"];
    args.extend(range);
    let shard = format!("{owner}/6");
    args.extend(["--shard", &shard]);
    // Only if the folder is alone in its shard of six does the shard hold no digest.
    let others: Vec<String> = ACCOUNTS
        .iter()
        .flat_map(|a| REGIONS.iter().map(move |r| folder(a, r)))
        .filter(|f| *f != folder(ACCOUNTS[1], "eu-west-1"))
        .collect();
    assert!(others.iter().all(|f| Shard::owner_of(f, 6) != owner));
    let run = ctverify(&args);
    let report = json(&run);
    assert_eq!(report["summary"]["digests"]["valid"], 0, "{report:#}");
    assert_eq!(report["shard"]["folders"].as_array().unwrap().len(), 1);
    assert_eq!(run.code, 0, "{report:#}");
}

#[test]
fn a_shard_that_fails_leaves_no_report_behind() {
    let empty = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(empty.path().join("AWSLogs")).unwrap();
    let out = tempfile::tempdir().expect("tempdir");
    let report = out.path().join("run/shard-0.json");
    let run = ctverify([
        "validate",
        empty.path().to_str().unwrap(),
        "--end-time",
        END,
        "--shard",
        "0/2",
        "--format",
        "json",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(!report.exists());
    let left: Vec<_> = std::fs::read_dir(out.path().join("run"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn forged_or_hostile_shard_reports_are_refused() {
    let keys = test_keys();
    let (_dir, reports, _) = shard_reports(&organization_trail(&keys), 3);
    let forged = tempfile::tempdir().expect("tempdir");
    let refused = |name: &str, edit: &dyn Fn(&mut Value), says: &str| {
        let mut report = read_json(&reports.path().join("s0.json"));
        edit(&mut report);
        let path = forged.path().join(name);
        std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
        let mut args = vec![
            "merge".to_string(),
            path.display().to_string(),
            reports.path().join("s1.json").display().to_string(),
            reports.path().join("s2.json").display().to_string(),
        ];
        args.extend(["--format".into(), "json".into()]);
        let run = ctverify(&args);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{name}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{name}");
    };
    // Its chains dropped from what the merge settles, the report left as it was.
    refused(
        "dropped.json",
        &|r| r["shard"]["for_merge"]["chains"] = serde_json::json!([]),
        "not the chains it reports",
    );
    // A chain of a folder it did not verify.
    refused(
        "moved.json",
        &|r| {
            let chains = r["shard"]["for_merge"]["chains"].as_array_mut().unwrap();
            chains[0]["folder"] = Value::String(folder("999999999999", "us-east-1"));
        },
        "a folder it did not verify",
    );
    // A folder it verified that its search did not find.
    refused(
        "unfound.json",
        &|r| {
            let first = r["shard"]["folders"][0].clone();
            let found = r["shard"]["folders_found"].as_array_mut().unwrap();
            found.retain(|f| *f != first);
        },
        "its search did not find",
    );
    // A shard count that would have the merge list billions of missing shards.
    refused(
        "count.json",
        &|r| r["shard"]["count"] = serde_json::json!(4_294_967_295u32),
        "at most",
    );
    // A range that ends in the future, and a log time far past its range.
    refused(
        "future.json",
        &|r| r["shard"]["run"]["requested"]["end"] = Value::String("9999-12-31T00:00:00Z".into()),
        "ends in the future",
    );
    refused(
        "late-log.json",
        &|r| {
            let chains = r["shard"]["for_merge"]["chains"].as_array_mut().unwrap();
            let with_tail = chains
                .iter_mut()
                .find(|c| !c["report"]["tail"].is_null())
                .expect("a shard-0 chain with a tail");
            with_tail["tail_logs_after"] =
                serde_json::json!([["9990-01-01T00:00:00Z", "s3://b/k"]]);
        },
        "outside its range",
    );
}

#[test]
fn repeated_filters_in_another_order_are_the_same_run() {
    let keys = test_keys();
    let dir = written(&clean_trail(&keys));
    let source = dir.path().to_str().unwrap();
    let out = tempfile::tempdir().expect("tempdir");
    let run = |index: u32, regions: &[&str]| {
        let path = out.path().join(format!("s{index}.json"));
        let shard = format!("{index}/2");
        let mut args = vec![
            "validate",
            source,
            "--end-time",
            END,
            "--format",
            "json",
            "--shard",
            &shard,
            "-o",
            path.to_str().unwrap(),
        ];
        for region in regions {
            args.extend(["--region", region]);
        }
        assert_eq!(ctverify(&args).code, 0);
        path.display().to_string()
    };
    let a = run(0, &["us-east-1", "eu-west-1"]);
    let b = run(1, &["eu-west-1", "us-east-1", "eu-west-1"]);
    let merged = ctverify(["merge", &a, &b]);
    assert_eq!(merged.code, 0, "{}", merged.stderr);
}
