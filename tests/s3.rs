//! Verification straight from S3, against a real S3 server (moto_server on loopback) and a
//! loopback stand-in for CloudTrail's key and trail APIs: the same verdicts as the directory
//! copy for every vector, only read requests, keys fetched online, AWS CLI command lines.

mod common;

use std::path::{Path, PathBuf};

use common::servers::{aws_env, CloudTrailAnswers, FakeCloudTrail, Moto};
use common::{ctverify_env, repo, Run};
use serde_json::Value;

fn vector_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![repo().join("vectors/sample")];
    let mut cases: Vec<PathBuf> = std::fs::read_dir(repo().join("vectors/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    dirs.extend(cases);
    dirs
}

fn bundle_bucket(dir: &Path) -> String {
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".ctverify/bundle.json")).unwrap()).unwrap();
    info["bucket"].as_str().unwrap().to_string()
}

fn keys_file(dir: &Path) -> String {
    dir.join(".ctverify/public-keys.json").display().to_string()
}

fn run(args: &[&str], env: &[(String, String)]) -> Run {
    ctverify_env(args, env)
}

/// The report without what names the source (which differs between the two runs), nor the
/// time each run started, where a range without `--end-time` ends (a chain's tail ends there).
fn comparable_json(text: &str) -> Value {
    let mut doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let map = doc.as_object_mut().unwrap();
    map.remove("source");
    map.remove("bucket_from");
    if let Some(chains) = map.get_mut("chains").and_then(Value::as_array_mut) {
        chains.iter_mut().for_each(without_run_time);
    }
    doc
}

/// A chain without the end of its tail (the run's start, unless `--end-time` was given).
fn without_run_time(chain: &mut Value) {
    if let Some(tail) = chain.get_mut("tail").and_then(Value::as_object_mut) {
        tail.remove("end");
        tail.remove("hours");
    }
}

fn comparable_text(text: &str) -> String {
    text.lines().skip(1).collect::<Vec<_>>().join("\n")
}

fn comparable_jsonl(text: &str) -> Vec<Value> {
    // Lines stream as chains are decided, so their order depends on timing: compare them
    // sorted, with the summary (always last) checked in place.
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("source");
            without_run_time(&mut v);
            v
        })
        .collect();
    let summary = lines.pop();
    assert_eq!(
        summary.as_ref().map(|s| s["type"].clone()),
        Some(Value::from("summary"))
    );
    lines.sort_by_key(|v| v.to_string());
    lines.extend(summary);
    lines
}

/// Every file under `dir`, by its path relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// S3 keeps every object's user metadata, and CloudTrail writes a signature with every digest:
/// through S3, a digest that needs its own signature (nothing newer vouches for it) and has
/// none was stripped of it, and is `signature_invalid`. A directory copy that kept no metadata
/// for the chain (a plain `aws s3 sync`) cannot tell that from a signature never copied, and
/// says `unsigned`. So a vector kept without metadata (`no-metadata`, ...), uploaded as it is,
/// does not give the directory's verdicts through S3: it gives those of the same copy holding
/// its chains' other signatures. This makes that copy: `dir` with a `metadata.json` entry for
/// every digest a digest names as its predecessor (its signature taken from the successor's
/// `previousDigestSignature`). None when `dir` holds metadata already, or no digest names
/// another.
fn with_the_chains_other_signatures(dir: &Path) -> Option<tempfile::TempDir> {
    let metadata_file = dir.join(".ctverify/metadata.json");
    let metadata: Value = serde_json::from_slice(&std::fs::read(&metadata_file).ok()?).ok()?;
    if metadata.as_object().is_some_and(|m| !m.is_empty()) {
        return None;
    }
    let mut signatures = serde_json::Map::new();
    for path in files_under(dir) {
        let key = path.to_string_lossy();
        if !key.contains("/CloudTrail-Digest/") {
            continue;
        }
        let bytes = std::fs::read(dir.join(&path)).unwrap();
        let keep = ctverify::Keep::Bytes {
            cap: ctverify::DIGEST_SIZE_CAP,
        };
        let Some(inflated) = ctverify::inflate_and_hash(&bytes[..], keep)
            .ok()
            .and_then(|i| i.bytes)
        else {
            continue;
        };
        let Ok(digest) = serde_json::from_slice::<Value>(&inflated) else {
            continue;
        };
        let (Some(bucket), Some(key), Some(signature)) = (
            digest["previousDigestS3Bucket"].as_str(),
            digest["previousDigestS3Object"].as_str(),
            digest["previousDigestSignature"].as_str(),
        ) else {
            continue;
        };
        signatures.insert(
            format!("{bucket}/{key}"),
            serde_json::json!({"signature": signature, "signature-algorithm": "SHA256withRSA"}),
        );
    }
    if signatures.is_empty() {
        return None;
    }
    let copy = tempfile::tempdir().unwrap();
    for path in files_under(dir) {
        let to = copy.path().join(&path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(dir.join(&path), &to).unwrap();
    }
    std::fs::write(
        copy.path().join(".ctverify/metadata.json"),
        serde_json::to_vec_pretty(&Value::Object(signatures)).unwrap(),
    )
    .unwrap();
    Some(copy)
}

/// The statuses (kind, key, status) of a JSON report's files.
fn statuses(report: &Value) -> Vec<(String, String, String)> {
    let field = |file: &Value, name: &str| file[name].as_str().unwrap_or("").to_string();
    report["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| (field(f, "kind"), field(f, "key"), field(f, "status")))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_vector_gives_the_same_verdicts_through_s3_as_from_the_directory() {
    let moto = Moto::start();
    let env = aws_env(None);
    let endpoint = moto.endpoint();
    let dirs = vector_dirs();
    assert!(dirs.len() > 10);
    let mut kept_without_metadata = 0;
    for dir in dirs {
        moto.reset();
        let bucket = bundle_bucket(&dir);
        moto.upload(&dir, &bucket);
        let url = format!("s3://{bucket}");
        let keys = keys_file(&dir);
        // See `with_the_chains_other_signatures`: the difference, stated.
        let signed_copy = with_the_chains_other_signatures(&dir);
        if signed_copy.is_some() {
            kept_without_metadata += 1;
            let end = ["--end-time", "2025-01-01T00:00:00Z"];
            let (from_dir, from_s3) = both_reports(&dir, &url, &endpoint, &end, &env);
            let unsigned: Vec<_> = statuses(&from_dir.1)
                .into_iter()
                .filter(|(kind, _, status)| kind == "digest" && status == "unsigned")
                .collect();
            assert!(!unsigned.is_empty(), "{}", dir.display());
            for (kind, key, _) in unsigned {
                assert!(
                    statuses(&from_s3.1).contains(&(kind, key.clone(), "signature_invalid".into())),
                    "{}: {key} is unsigned in the copy, and should be signature_invalid through S3:\n{}",
                    dir.display(),
                    report_differences(&from_dir, &from_s3)
                );
            }
        }
        let dir = signed_copy
            .as_ref()
            .map_or(dir.clone(), |copy| copy.path().to_path_buf());
        let dir_arg = dir.display().to_string();
        for format in ["json", "jsonl", "text"] {
            // A fixed end: "now" would differ between the two runs.
            let end = "2025-01-01T00:00:00Z";
            let from_dir = run(
                &[
                    "validate",
                    &dir_arg,
                    "--end-time",
                    end,
                    "--format",
                    format,
                    "--verbose",
                ],
                &env,
            );
            let from_s3 = run(
                &[
                    "validate",
                    &url,
                    "--endpoint-url",
                    &endpoint,
                    "--public-keys",
                    &keys,
                    "--end-time",
                    end,
                    "--format",
                    format,
                    "--verbose",
                ],
                &env,
            );
            assert_eq!(
                from_s3.code,
                from_dir.code,
                "{} {format}: {}",
                dir.display(),
                from_s3.stderr
            );
            match format {
                "json" => assert_eq!(
                    comparable_json(&from_s3.stdout),
                    comparable_json(&from_dir.stdout),
                    "{}",
                    dir.display()
                ),
                "jsonl" => assert_eq!(
                    comparable_jsonl(&from_s3.stdout),
                    comparable_jsonl(&from_dir.stdout),
                    "{}",
                    dir.display()
                ),
                _ => assert_eq!(
                    comparable_text(&from_s3.stdout),
                    comparable_text(&from_dir.stdout),
                    "{}",
                    dir.display()
                ),
            }
        }
    }
    assert!(
        kept_without_metadata >= 2,
        "the no-metadata vectors were seen"
    );
}

#[test]
fn only_read_requests_reach_the_server() {
    let moto = Moto::start();
    let dir = repo().join("vectors/sample");
    let bucket = bundle_bucket(&dir);
    moto.upload(&dir, &bucket);
    let before = moto.requests().len();
    let result = run(
        &[
            "validate",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            &keys_file(&dir),
        ],
        &aws_env(None),
    );
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    // moto's access log records each request's method; the upload's PUTs come before `before`.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let requests = moto.requests();
    let run_requests = &requests[before..];
    assert!(
        run_requests.len() > 50,
        "the run's requests are recorded: {}",
        run_requests.len()
    );
    // Logs read ahead while the last digests arrive are taken by the checks, not asked for
    // again: each log is requested once.
    let mut log_gets: Vec<&str> = run_requests
        .iter()
        .filter_map(|l| l.split('"').nth(1))
        .filter(|r| r.starts_with("GET ") && r.contains("/CloudTrail/") && !r.contains("list-type"))
        .collect();
    let count = log_gets.len();
    log_gets.sort();
    log_gets.dedup();
    assert!(count > 20, "{run_requests:#?}");
    assert_eq!(
        log_gets.len(),
        count,
        "a log requested twice: {run_requests:#?}"
    );
    for line in run_requests {
        let method = line
            .split('"')
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("");
        assert!(
            method == "GET" || method == "HEAD",
            "a non-read request reached the server: {line}"
        );
    }
}

fn sample_key_answers() -> CloudTrailAnswers {
    let keys: Value = serde_json::from_slice(
        &std::fs::read(repo().join("vectors/sample/.ctverify/public-keys.json")).unwrap(),
    )
    .unwrap();
    let mut answers = CloudTrailAnswers::default();
    for key in keys["PublicKeyList"].as_array().unwrap() {
        let region = key["Region"].as_str().unwrap().to_string();
        answers.keys.entry(region).or_default().push(key.clone());
    }
    answers.trails = vec![serde_json::json!({
        "Name": "management-events",
        "S3BucketName": "ctverify-sample-trail",
        "TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events",
        "HomeRegion": "us-east-1",
        "IsMultiRegionTrail": true,
        "IsOrganizationTrail": false,
        "LogFileValidationEnabled": true
    })];
    answers
}

#[test]
fn public_keys_are_fetched_once_per_region_when_not_given() {
    let moto = Moto::start();
    let dir = repo().join("vectors/sample");
    moto.upload(&dir, "ctverify-sample-trail");
    let cloudtrail = FakeCloudTrail::start(sample_key_answers());
    let result = run(
        &[
            "validate",
            "s3://ctverify-sample-trail",
            "--endpoint-url",
            &moto.endpoint(),
            "--format",
            "json",
        ],
        &aws_env(Some(&cloudtrail.endpoint())),
    );
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    let mut calls = cloudtrail.calls();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            ("ListPublicKeys".to_string(), "eu-west-1".to_string()),
            ("ListPublicKeys".to_string(), "us-east-1".to_string())
        ]
    );
}

#[test]
fn keys_that_cannot_be_fetched_are_an_error_never_tampering() {
    let moto = Moto::start();
    let dir = repo().join("vectors/sample");
    moto.upload(&dir, "ctverify-sample-trail");
    let cloudtrail = FakeCloudTrail::start(CloudTrailAnswers {
        fail: true,
        ..Default::default()
    });
    let result = run(
        &[
            "validate",
            "s3://ctverify-sample-trail",
            "--endpoint-url",
            &moto.endpoint(),
            "--format",
            "json",
        ],
        &aws_env(Some(&cloudtrail.endpoint())),
    );
    assert_eq!(result.code, 3, "{}{}", result.stdout, result.stderr);
    let doc: Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(doc["summary"]["result"], "incomplete");
    assert_eq!(doc["summary"]["digests"]["invalid"], 0);
    assert_eq!(doc["summary"]["logs"]["invalid"], 0);
    assert_eq!(doc["summary"]["digests"]["valid"], 0);
    for file in doc["files"].as_array().unwrap() {
        assert!(
            file["status"] == "error" || file["status"] == "unverified",
            "{file}"
        );
    }
    assert!(cloudtrail.calls().len() >= 2, "the SDK retried");
}

#[test]
fn keys_fetch_writes_a_file_for_offline_runs() {
    let cloudtrail = FakeCloudTrail::start(sample_key_answers());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("keys.json");
    let result = run(
        &[
            "keys",
            "fetch",
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "-o",
            out.to_str().unwrap(),
        ],
        &aws_env(Some(&cloudtrail.endpoint())),
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let list = written["PublicKeyList"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list
        .iter()
        .all(|k| k["Region"].is_string() && k["Fingerprint"].is_string()));
    // the fetched file verifies the sample offline, in place of its own keys
    let sample = repo().join("vectors/sample");
    let offline = run(
        &[
            "validate",
            sample.to_str().unwrap(),
            "--public-keys",
            out.to_str().unwrap(),
        ],
        &aws_env(None),
    );
    assert_eq!(offline.code, 0, "{}{}", offline.stdout, offline.stderr);
}

#[test]
fn aws_cli_command_lines_work_with_ctverify_validate_in_front() {
    let moto = Moto::start();
    let dir = repo().join("vectors/sample");
    moto.upload(&dir, "ctverify-sample-trail");
    let cloudtrail = FakeCloudTrail::start(sample_key_answers());
    let mut env = aws_env(Some(&cloudtrail.endpoint()));
    env.push(("AWS_ENDPOINT_URL_S3".into(), moto.endpoint()));
    let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events";

    let by_arn = run(
        &[
            "validate",
            "--trail-arn",
            arn,
            "--start-time",
            "2024-03-01T00:00:00Z",
            "--end-time",
            "2024-03-01T12:00:00Z",
        ],
        &env,
    );
    assert_eq!(by_arn.code, 0, "{}{}", by_arn.stdout, by_arn.stderr);
    assert!(by_arn
        .stdout
        .contains("Results requested for 2024-03-01T00:00:00Z to 2024-03-01T12:00:00Z"));
    assert!(cloudtrail
        .calls()
        .iter()
        .any(|(op, region)| op == "DescribeTrails" && region == "us-east-1"));

    let by_bucket = run(
        &[
            "validate",
            "--trail-arn",
            arn,
            "--start-time",
            "2024-03-01T00:00:00Z",
            "--s3-bucket",
            "ctverify-sample-trail",
            "--s3-prefix",
            "",
            "--account-id",
            "111122223333",
            "--verbose",
        ],
        &env,
    );
    assert_eq!(
        by_bucket.code, 0,
        "{}{}",
        by_bucket.stdout, by_bucket.stderr
    );
    assert!(
        by_bucket.stdout.contains("\tvalid"),
        "--verbose lists valid files"
    );
}

#[test]
fn a_chain_is_followed_into_the_bucket_it_came_from() {
    use ctverify::{ChainId, UtcTime};
    use ctverify_testgen::{Bundle, ChainWriter, HourOptions};

    let keys = common::test_keys();
    let mut old = Bundle::new("ctverify-old-bucket", "");
    let mut new = Bundle::new("ctverify-new-bucket", "");
    let mut writer = ChainWriter::new(ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: "777788889999".into(),
        region: "us-east-1".into(),
        trail: "moved-trail".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    });
    let first = UtcTime::parse_field("2024-07-01T01:00:00Z").unwrap();
    for h in 0..6 {
        let end = first.plus_seconds(h * 3600);
        let bundle = if h < 3 { &mut old } else { &mut new };
        writer.deliver(
            bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-3600),
            end,
            1,
            HourOptions::default(),
        );
    }
    let key_entry = keys.us_east_1_a.key_entry(
        "us-east-1",
        UtcTime::parse_field("2024-01-01T00:00:00Z").unwrap(),
        UtcTime::parse_field("2025-01-01T00:00:00Z").unwrap(),
    );
    old.public_keys = vec![key_entry.clone()];
    new.public_keys = vec![key_entry];
    let tmp = tempfile::tempdir().unwrap();
    old.write_to(&tmp.path().join("old")).unwrap();
    new.write_to(&tmp.path().join("new")).unwrap();

    let moto = Moto::start();
    moto.upload(&tmp.path().join("old"), "ctverify-old-bucket");
    moto.upload(&tmp.path().join("new"), "ctverify-new-bucket");
    let keys_path = tmp.path().join("new/.ctverify/public-keys.json");
    let result = run(
        &[
            "validate",
            "s3://ctverify-new-bucket",
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            keys_path.to_str().unwrap(),
            "--format",
            "json",
            "--verbose",
        ],
        &aws_env(None),
    );
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    let doc: Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(
        doc["summary"]["digests"]["valid"], 6,
        "three digests in each bucket"
    );
    assert_eq!(doc["summary"]["logs"]["valid"], 6);
    let old_files = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["bucket"] == "ctverify-old-bucket")
        .count();
    assert_eq!(old_files, 6, "the old bucket's digests and logs were read");

    // From the directory copy of the new bucket alone, the old bucket cannot be read: error.
    let offline = run(
        &[
            "validate",
            tmp.path().join("new").to_str().unwrap(),
            "--format",
            "json",
        ],
        &aws_env(None),
    );
    assert_eq!(offline.code, 3, "{}", offline.stdout);
}

#[test]
fn a_missing_bucket_is_a_configuration_error() {
    let moto = Moto::start();
    let result = run(
        &[
            "validate",
            "s3://no-such-bucket",
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            &keys_file(&repo().join("vectors/sample")),
        ],
        &aws_env(None),
    );
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result.stderr.contains("no-such-bucket"),
        "{}",
        result.stderr
    );
}

#[test]
fn backfill_digests_get_the_key_in_force_when_they_were_generated() {
    let moto = Moto::start();
    let dir = repo().join("vectors/cases/backfill");
    moto.upload(&dir, "ctverify-cases");
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".ctverify/public-keys.json")).unwrap())
            .unwrap();
    let mut answers = CloudTrailAnswers::default();
    answers.keys.insert(
        "us-east-1".into(),
        keys["PublicKeyList"].as_array().unwrap().clone(),
    );
    let cloudtrail = FakeCloudTrail::start(answers);
    let result = run(
        &[
            "validate",
            "s3://ctverify-cases",
            "--endpoint-url",
            &moto.endpoint(),
            "--start-time",
            "2024-05-31T00:00:00Z",
            "--end-time",
            "2024-05-31T06:00:00Z",
            "--format",
            "json",
        ],
        &aws_env(Some(&cloudtrail.endpoint())),
    );
    // only the backfill chain is in this range, and its one modified log is caught
    let doc: Value =
        serde_json::from_str(&result.stdout).unwrap_or_else(|e| panic!("{e}: {}", result.stderr));
    assert_eq!(result.code, 1, "{}", result.stderr);
    assert_eq!(doc["summary"]["digests"]["valid"], 3);
    // the generation time (2024-06-03T10:00:00Z) lies outside the range: keys were asked around it
    let generated = 1_717_408_800.0; // 2024-06-03T10:00:00Z
    let bodies = cloudtrail.bodies.lock().unwrap().clone();
    assert!(
        bodies.iter().any(|b| {
            b["StartTime"].as_f64().is_some_and(|s| s <= generated)
                && b["EndTime"].as_f64().is_some_and(|e| e >= generated)
        }),
        "{bodies:?}"
    );
}

/// The listing requests in moto's access log from `from` on: `GET /BUCKET?list-type=2...`.
fn listings_since(moto: &Moto, from: usize) -> Vec<String> {
    moto.requests()[from..]
        .iter()
        .filter_map(|line| line.split('"').nth(1))
        .filter(|request| request.contains("list-type=2"))
        .map(|request| request.replace("%2F", "/"))
        .collect()
}

#[test]
fn a_named_trail_is_read_from_its_digest_folder_while_the_bucket_is_searched() {
    let moto = Moto::start();
    let dir = repo().join("vectors/sample");
    moto.upload(&dir, "ctverify-sample-trail");
    let cloudtrail = FakeCloudTrail::start(sample_key_answers());
    let mut env = aws_env(Some(&cloudtrail.endpoint()));
    env.push(("AWS_ENDPOINT_URL_S3".into(), moto.endpoint()));
    let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events";
    let range = [
        "--start-time",
        "2024-03-01T00:00:00Z",
        "--end-time",
        "2024-03-02T00:00:00Z",
    ];

    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = moto.requests().len();
    let mut args = vec!["validate", "--trail-arn", arn, "--format", "json"];
    args.extend(range);
    let named = run(&args, &env);
    assert_eq!(named.code, 0, "{}{}", named.stdout, named.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let listings = listings_since(&moto, before);

    // The home region's digest folder (the ARN names account and region) is listed, and
    // listings sent early, alongside the bucket's region lookup, are used, not sent again.
    let home_folder = "prefix=AWSLogs/111122223333/CloudTrail-Digest/us-east-1/&";
    assert_eq!(
        listings.iter().filter(|l| l.contains(home_folder)).count(),
        1,
        "{listings:#?}"
    );
    // ...before the search has even found the account's regions.
    let position = |needle: &str| {
        listings
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no listing of {needle}: {listings:#?}"))
    };
    assert!(
        position(home_folder) < position("prefix=AWSLogs/111122223333/CloudTrail-Digest/ "),
        "{listings:#?}"
    );
    let mut distinct = listings.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        listings.len(),
        "a listing sent twice: {listings:#?}"
    );
    // The home region's log folder, scanned for unreferenced logs after the walk, is listed
    // once: the page sent ahead with the first listings is the one the scan uses (that it is
    // sent ahead, tests/s3_store.rs shows).
    let home_logs = "prefix=AWSLogs/111122223333/CloudTrail/us-east-1/&";
    assert_eq!(
        listings.iter().filter(|l| l.contains(home_logs)).count(),
        1,
        "{listings:#?}"
    );

    // The search still finds the trail's other region, and the verdicts are those of a run
    // that names nothing but the trail.
    let mut args = vec![
        "validate",
        "s3://ctverify-sample-trail",
        "--trail",
        "management-events",
        "--format",
        "json",
    ];
    args.extend(range);
    let searched = run(&args, &env);
    assert_eq!(searched.code, 0, "{}{}", searched.stdout, searched.stderr);
    let named_doc = comparable_json(&named.stdout);
    assert_eq!(named_doc, comparable_json(&searched.stdout));
    let regions: Vec<&str> = named_doc["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
}

#[test]
fn a_named_account_inside_an_organization_folder_is_still_found() {
    let moto = Moto::start();
    let dir = repo().join("vectors/cases/organization");
    let bucket = bundle_bucket(&dir);
    moto.upload(&dir, &bucket);
    let keys = keys_file(&dir);
    let source = format!("s3://{bucket}");
    let base = [
        "validate",
        source.as_str(),
        "--endpoint-url",
        &moto.endpoint(),
        "--public-keys",
        &keys,
        "--format",
        "json",
    ];
    let everything = run(&base, &aws_env(None));
    // `AWSLogs/222222222222/...`, the folder the options name, does not exist: the member's
    // chain lives under `AWSLogs/o-a1b2c3d4e5/222222222222/`.
    let mut args = base.to_vec();
    args.extend(["--account-id", "222222222222", "--region", "us-east-1"]);
    let named = run(&args, &aws_env(None));
    assert_eq!(named.code, everything.code, "{}", named.stderr);
    let everything = comparable_json(&everything.stdout);
    let named = comparable_json(&named.stdout);
    let member_chains: Vec<&Value> = everything["chains"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["account_id"] == "222222222222")
        .collect();
    assert_eq!(member_chains.len(), 1);
    assert_eq!(
        named["chains"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        member_chains
    );
    assert_eq!(named["chains"][0]["organization_id"], "o-a1b2c3d4e5");
}

#[test]
fn keys_with_control_characters_spaces_or_plus_signs_are_listed_as_they_are() {
    // Without URL-encoded listings a key holding a character XML 1.0 cannot carry breaks the
    // whole page: one planted object in a digest folder or at the top of `AWSLogs/` left the
    // folder unchecked, or the run without a report. Here they are planted in each folder the
    // run lists, and a log with such a name in the log folder must be found as planted.
    let sample = repo().join("vectors/sample");
    let bucket = bundle_bucket(&sample);
    let moto = Moto::start();
    moto.upload(&sample, &bucket);
    let digest_folder = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";
    let log_folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/";
    let planted_log =
        format!("{log_folder}111122223333_CloudTrail_us-east-1_20240301T0105Z_a\u{1}b c+d.json.gz");
    for key in [
        format!("{digest_folder}2024/03/01/x\u{1}y.json.gz"),
        "AWSLogs/\u{1}/x".to_string(),
        "AWSLogs/a b+c/x".to_string(),
        planted_log.clone(),
    ] {
        moto.put(&bucket, &key, b"planted");
    }
    let result = run(
        &[
            "validate",
            &format!("s3://{bucket}"),
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            &keys_file(&sample),
            "--format",
            "json",
        ],
        &aws_env(None),
    );
    let doc: Value = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", result.stdout, result.stderr));
    let files = doc["files"].as_array().unwrap();
    assert!(
        files.iter().all(|f| f["status"] != "error"),
        "every folder was listed: {files:#?}"
    );
    let planted: Vec<&Value> = files.iter().filter(|f| f["key"] == planted_log).collect();
    assert_eq!(planted.len(), 1, "{files:#?}");
    assert_eq!(planted[0]["status"], "unreferenced");
    assert_eq!(
        doc["summary"]["digests"]["valid"], 22,
        "{:#}",
        doc["summary"]
    );
    assert_eq!(result.code, 1, "{}", result.stderr);
}

// SeaweedFS: a production S3-compatible store whose listings are its own code. Every verdict
// must be the one the directory copy gives, with or without a range: a listing that skipped
// part of the trail would turn an intact trail into a tampered one.
use common::servers::Seaweed;

/// The end time the key names of the oldest digest under `dir`.
fn oldest_digest_end(dir: &Path) -> ctverify::UtcTime {
    fn walk(dir: &Path, out: &mut Vec<ctverify::UtcTime>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                let stem = name.trim_end_matches("_backfill.json.gz");
                let stem = stem.trim_end_matches(".json.gz");
                // Files planted under a digest-like name carry no time: not digests.
                if name.contains("_CloudTrail-Digest_") {
                    let time = stem.rsplit('_').next().unwrap();
                    out.extend(ctverify::UtcTime::parse_compact(time).ok());
                }
            }
        }
    }
    let mut ends = Vec::new();
    walk(dir, &mut ends);
    ends.into_iter().min().expect("a digest")
}

/// The JSON reports of `dir` and of its upload at `url` for the same range: (exit code,
/// comparable report) each.
fn both_reports(
    dir: &Path,
    url: &str,
    endpoint: &str,
    range: &[&str],
    env: &[(String, String)],
) -> ((i32, Value), (i32, Value)) {
    let dir_arg = dir.display().to_string();
    let keys = keys_file(dir);
    let mut from_dir: Vec<&str> = vec!["validate", &dir_arg, "--format", "json", "--verbose"];
    from_dir.extend(range);
    let mut from_s3: Vec<&str> = vec![
        "validate",
        url,
        "--endpoint-url",
        endpoint,
        "--public-keys",
        &keys,
        "--format",
        "json",
        "--verbose",
    ];
    from_s3.extend(range);
    let from_dir = run(&from_dir, env);
    let from_s3 = run(&from_s3, env);
    (
        (from_dir.code, comparable_json(&from_dir.stdout)),
        (from_s3.code, comparable_json(&from_s3.stdout)),
    )
}

/// What differs between two (exit code, report) pairs, briefly: the exit codes, the summaries
/// and each file entry found in one report only.
fn report_differences(from_dir: &(i32, Value), from_s3: &(i32, Value)) -> String {
    let entries = |report: &Value| -> Vec<String> {
        report["files"]
            .as_array()
            .map(|files| files.iter().map(Value::to_string).collect())
            .unwrap_or_default()
    };
    let (dir_entries, s3_entries) = (entries(&from_dir.1), entries(&from_s3.1));
    let mut text = format!(
        "exit {} from the directory, {} from S3\ndirectory summary {}\nS3 summary {}\n",
        from_dir.0, from_s3.0, from_dir.1["summary"], from_s3.1["summary"]
    );
    for entry in dir_entries.iter().filter(|e| !s3_entries.contains(e)) {
        text.push_str(&format!("directory only: {entry}\n"));
    }
    for entry in s3_entries.iter().filter(|e| !dir_entries.contains(e)) {
        text.push_str(&format!("S3 only: {entry}\n"));
    }
    if dir_entries == s3_entries {
        text.push_str("(the file entries agree; something else differs)\n");
    }
    text
}

#[test]
fn every_vector_gives_the_same_verdicts_through_seaweedfs_as_from_the_directory() {
    let seaweed = Seaweed::start();
    let env = aws_env(None);
    let endpoint = seaweed.endpoint();
    let dirs = vector_dirs();
    assert!(dirs.len() > 10);
    for dir in dirs {
        seaweed.reset();
        let bucket = bundle_bucket(&dir);
        seaweed.upload(&dir, &bucket);
        let url = format!("s3://{bucket}");
        // A vector kept without metadata gives through S3 the verdicts of the copy holding its
        // chains' other signatures (see `with_the_chains_other_signatures`; the moto test
        // checks the difference itself).
        let signed_copy = with_the_chains_other_signatures(&dir);
        let dir = signed_copy
            .as_ref()
            .map_or(dir.clone(), |copy| copy.path().to_path_buf());
        let oldest = oldest_digest_end(&dir);
        // The whole trail; from the first day of the trail (listed from its own date folder);
        // from an hour and a half into it (a start inside the day folder).
        let day = oldest.date_path().replace('/', "-");
        let inside = oldest.plus_seconds(5400).to_string();
        let end = "2025-01-01T00:00:00Z";
        let ranges: [Vec<&str>; 3] = [
            vec!["--end-time", end],
            vec!["--start-time", &day, "--end-time", end],
            vec!["--start-time", &inside, "--end-time", end],
        ];
        for range in &ranges {
            let (from_dir, from_s3) = both_reports(&dir, &url, &endpoint, range, &env);
            assert!(
                from_s3 == from_dir,
                "{} {range:?}: SeaweedFS gave a different verdict:\n{}",
                dir.display(),
                report_differences(&from_dir, &from_s3)
            );
        }
    }
}

#[test]
fn a_trail_over_several_days_verifies_through_seaweedfs_from_a_start_in_the_middle() {
    use ctverify::{ChainId, UtcTime};
    use ctverify_testgen::{Bundle, ChainWriter, HourOptions};

    let keys = common::test_keys();
    let bucket = "ctverify-long-trail";
    let mut bundle = Bundle::new(bucket, "");
    let mut writer = ChainWriter::new(ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        trail: "long".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    });
    // Four days of hourly digests, each with one log: several date folders on either side of
    // the range's start.
    let first = UtcTime::parse_field("2024-05-01T00:30:00Z").unwrap();
    for h in 0..96 {
        let end = first.plus_seconds(h * 3600);
        writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-3600),
            end,
            1,
            HourOptions::default(),
        );
    }
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        "us-east-1",
        UtcTime::parse_field("2024-01-01T00:00:00Z").unwrap(),
        UtcTime::parse_field("2025-01-01T00:00:00Z").unwrap(),
    )];
    let tmp = tempfile::tempdir().unwrap();
    bundle.write_to(tmp.path()).unwrap();

    let seaweed = Seaweed::start();
    seaweed.upload(tmp.path(), bucket);
    let env = aws_env(None);
    let url = format!("s3://{bucket}");
    for (start, digests) in [
        ("2024-05-02", 72),
        ("2024-05-02T12:00:00Z", 60),
        ("2024-05-03T00:00:00Z", 48),
    ] {
        let range = ["--start-time", start, "--end-time", "2024-05-05T00:00:00Z"];
        let (from_dir, from_s3) = both_reports(tmp.path(), &url, &seaweed.endpoint(), &range, &env);
        assert_eq!(from_dir.0, 0, "{start}: {}", from_dir.1);
        assert_eq!(
            from_dir.1["summary"]["digests"]["valid"], digests,
            "{start}: {}",
            from_dir.1["summary"]
        );
        assert!(
            from_s3 == from_dir,
            "{start}: SeaweedFS gave another verdict:\n{}",
            report_differences(&from_dir, &from_s3)
        );
    }
}
