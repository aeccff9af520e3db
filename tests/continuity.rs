//! Hours with no digest: a chain's tail and gaps, what proves digests missing in them, what
//! explains them, and `--require-continuous` (issue 19). The tamper cases themselves are
//! vector cases (`tail-*`, `gap-*` under `vectors/cases/`); these tests cover what a case's
//! expected files cannot: the report's `tail` and `gaps` fields, the range's end, the flag.

mod common;

use common::servers::{aws_env, CloudTrailAnswers, FakeCloudTrail, Moto};
use common::{ctverify, ctverify_env, repo, test_keys, validate_json};
use ctverify::internal::gzip;
use ctverify::{ChainId, UtcTime};
use ctverify_testgen::vectors::TestKeys;
use ctverify_testgen::{log_records, Bundle, ChainWriter, HourOptions};
use serde_json::Value;

const HOUR: i64 = 3600;

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("time")
}

fn chain_id(region: &str) -> ChainId {
    ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: "111122223333".into(),
        region: region.into(),
        trail: "audit".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    }
}

/// Four hourly digests ending 01:05:09 .. 04:05:09 on 2024-06-01, two logs each.
fn four_hours(keys: &TestKeys) -> (Bundle, ChainWriter) {
    let mut bundle = Bundle::new("continuity-bucket", "");
    let mut writer = ChainWriter::new(chain_id("us-east-1"));
    let first_end = t("2024-06-01T01:05:09Z");
    for h in 0..4 {
        let end = first_end.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 2,
            wrong_previous_hash: false,
        };
        writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        "us-east-1",
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    (bundle, writer)
}

/// A log file delivered at `at` that no digest lists.
fn unlisted_log(bundle: &mut Bundle, writer: &ChainWriter, at: UtcTime, seed: &str) -> String {
    let key = writer.log_key(at, seed);
    let records = log_records(
        seed,
        "111122223333",
        "us-east-1",
        at.plus_seconds(-600),
        at,
        2,
    );
    bundle.objects.insert(
        key.clone(),
        gzip(&serde_json::to_vec(&records).expect("records")),
    );
    key
}

fn statuses(report: &Value) -> Vec<(String, String, String)> {
    let mut files: Vec<(String, String, String)> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_string(),
                f["key"].as_str().unwrap_or_default().to_string(),
                f["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn logs_whose_digest_may_still_come_are_left_alone_and_older_ones_prove_it_missing() {
    let keys = test_keys();
    let (mut bundle, writer) = four_hours(&keys);
    let last_end = t("2024-06-01T04:05:09Z");
    // 20 minutes after the last digest: its digest (ending 05:05:09) is due by 06:05:09.
    let due = unlisted_log(&mut bundle, &writer, last_end.plus_seconds(20 * 60), "due");
    // 80 minutes after: its digest ends 06:05:09 and may arrive until 07:05:09.
    let pending = unlisted_log(
        &mut bundle,
        &writer,
        last_end.plus_seconds(80 * 60),
        "pending",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");

    // The range ends 2 h 10 min after the last digest: one digest overdue.
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T06:15:09Z"]);
    assert_eq!(code, 1, "{report:#}");
    let missing = writer.id.digest_key(last_end.plus_seconds(HOUR));
    assert_eq!(
        statuses(&report),
        [
            ("digest".into(), missing, "not_found".into()),
            ("log".into(), due.clone(), "unverified".into()),
        ]
    );
    assert!(!report.to_string().contains(&pending));
    let tail = &report["chains"][0]["tail"];
    assert_eq!(tail["start"], "2024-06-01T04:05:09Z");
    assert_eq!(tail["end"], "2024-06-01T06:15:09Z");
    assert_eq!(tail["hours"], 2);
    assert_eq!(tail["missing_digests"], 1);
    assert_eq!(tail["evidence"][0]["kind"], "logs");
    assert_eq!(tail["evidence"][0]["count"], 1);
    assert!(tail["evidence"][0]["latest"]
        .as_str()
        .is_some_and(|l| l.ends_with(&due)));

    // Less than two hours after the last digest, nothing is overdue: no tail, nothing reported.
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T05:55:09Z"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["chains"][0]["tail"], Value::Null);
    assert!(statuses(&report).is_empty());
}

#[test]
fn logs_just_after_a_final_digest_are_reported_but_prove_nothing() {
    let keys = test_keys();
    let (mut bundle, writer) = four_hours(&keys);
    let last_end = t("2024-06-01T04:05:09Z");
    // Ten minutes on: perhaps the last logs written before logging stopped.
    let straggler = unlisted_log(&mut bundle, &writer, last_end.plus_seconds(10 * 60), "late");
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, report) = validate_json(dir.path(), &[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(
        statuses(&report),
        [("log".into(), straggler, "unverified".into())]
    );
    assert_eq!(report["chains"][0]["tail"]["missing_digests"], 0);
}

#[test]
fn a_tail_is_reported_in_every_format() {
    let dir = repo().join("vectors/cases/tail-two-digests-deleted");
    let (_, report) = validate_json(&dir, &[]);
    let tail = &report["chains"][0]["tail"];
    assert_eq!(tail["start"], "2024-06-01T04:05:09Z");
    assert_eq!(tail["missing_digests"], 2);
    assert_eq!(tail["integrity_failure"], false);
    assert_eq!(tail["explained"], Value::Null);
    assert!(tail["last_digest"]
        .as_str()
        .is_some_and(|d| d.ends_with("20240601T040509Z.json.gz")));

    let jsonl = ctverify(["validate", dir.to_str().unwrap(), "--format", "jsonl"]);
    let chain: Value = jsonl
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "chain")
        .expect("a chain line");
    assert_eq!(chain["tail"], *tail);

    let text = ctverify(["validate", dir.to_str().unwrap()]);
    let line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("Tail\t"))
        .expect("a Tail line");
    assert!(
        line.contains("no digest after 2024-06-01T04:05:09Z"),
        "{line}"
    );
    assert!(
        line.contains("4 log files were delivered after it"),
        "{line}"
    );
    assert!(line.ends_with("INVALID: digests missing: 2"), "{line}");
}

#[test]
fn require_continuous_makes_any_gap_or_tail_an_integrity_failure() {
    let sample = repo().join("vectors/sample");
    let sample = sample.to_str().unwrap();
    // The sample's eu-west-1 chain has a gap; its chains end at 11:21:05 at the latest.
    let end = ["--end-time", "2024-03-01T12:00:00Z"];
    let plain = ctverify([&["validate", sample][..], &end].concat());
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    assert!(plain
        .stdout
        .lines()
        .any(|l| l.starts_with("Gap\t") && l.ends_with("(not an integrity failure)")));
    let strict = ctverify([&["validate", sample, "--require-continuous"][..], &end].concat());
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    assert!(strict
        .stdout
        .lines()
        .any(|l| l.starts_with("Gap\t") && l.ends_with("INVALID: --require-continuous")));
    assert!(strict.stdout.contains("Result: invalid"));

    // A chain with no gap, read to its end, is continuous; read to today it has a tail.
    let keys = test_keys();
    let (bundle, _) = four_hours(&keys);
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, report) = validate_json(
        dir.path(),
        &["--require-continuous", "--end-time", "2024-06-01T05:00:00Z"],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["chains"][0]["tail"], Value::Null);
    let (code, report) = validate_json(dir.path(), &["--require-continuous"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["chains"][0]["tail"]["integrity_failure"], true);
    assert_eq!(report["summary"]["result"], "invalid");
}

#[test]
fn another_region_ending_within_the_hour_proves_nothing() {
    // The sample's two regions end four minutes apart: neither owes a digest.
    let (code, report) = validate_json(&repo().join("vectors/sample"), &[]);
    assert_eq!(code, 0, "{report:#}");
    for chain in report["chains"].as_array().expect("chains") {
        assert_eq!(
            chain["tail"]["evidence"],
            serde_json::json!([]),
            "{chain:#}"
        );
        assert_eq!(chain["tail"]["missing_digests"], 0);
    }
}

#[test]
fn get_trail_status_proves_a_one_region_trail_was_cut_where_nothing_else_can() {
    let keys = test_keys();
    let (mut bundle, writer) = four_hours(&keys);
    // The newest digest and every log it listed deleted: nothing in the bucket is left to
    // testify.
    let newest = &writer.delivered[3];
    bundle.objects.remove(&newest.digest_key);
    bundle.metadata.remove(&newest.digest_key);
    for log in &newest.log_keys {
        bundle.objects.remove(log);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let moto = Moto::start();
    moto.upload(dir.path(), "continuity-bucket");
    let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/audit";
    let mut answers = CloudTrailAnswers::default();
    answers.trail_status.insert(
        arn.to_string(),
        serde_json::json!({
            "IsLogging": true,
            "LatestDigestDeliveryTime": t("2024-06-01T04:05:40Z").unix(),
        }),
    );
    let cloudtrail = FakeCloudTrail::start(answers);
    let mut env = aws_env(Some(&cloudtrail.endpoint()));
    env.push(("AWS_ENDPOINT_URL_S3".into(), moto.endpoint()));
    let keys_file = dir.path().join(".ctverify/public-keys.json");
    let args = |source: &str| -> Vec<String> {
        [
            "validate",
            source,
            "--trail-arn",
            arn,
            "--public-keys",
            keys_file.to_str().unwrap(),
            "--end-time",
            "2024-06-01T08:00:00Z",
            "--format",
            "json",
        ]
        .map(String::from)
        .to_vec()
    };

    // Offline, the chain simply ends: a tail with nothing to say why.
    let offline = ctverify(args(dir.path().to_str().unwrap()));
    assert_eq!(offline.code, 0, "{}{}", offline.stdout, offline.stderr);
    let report: Value = serde_json::from_str(&offline.stdout).expect("json");
    assert_eq!(
        report["chains"][0]["tail"]["evidence"],
        serde_json::json!([])
    );

    // Online, the trail's status says it delivered a digest after the chain's newest.
    let online = ctverify_env(args("s3://continuity-bucket"), &env);
    assert_eq!(online.code, 1, "{}{}", online.stdout, online.stderr);
    let report: Value = serde_json::from_str(&online.stdout).expect("json");
    assert_eq!(
        statuses(&report),
        [(
            "digest".into(),
            newest.digest_key.clone(),
            "not_found".into()
        )]
    );
    let tail = &report["chains"][0]["tail"];
    assert_eq!(tail["missing_digests"], 1);
    assert_eq!(tail["evidence"][0]["kind"], "trail_status");
    assert_eq!(tail["evidence"][0]["is_logging"], true);
    assert!(cloudtrail
        .calls()
        .iter()
        .any(|(op, region)| op == "GetTrailStatus" && region == "us-east-1"));

    // A status that cannot be had is no evidence either way: the run goes on and says so.
    let unknown = "arn:aws:cloudtrail:us-east-1:111122223333:trail/other";
    let mut other = args("s3://continuity-bucket");
    other[3] = unknown.to_string();
    let run = ctverify_env(other, &env);
    assert!(run.stderr.contains("GetTrailStatus"), "{}", run.stderr);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_gap_names_the_trail_call_that_made_it_or_says_unexplained() {
    let (code, report) = validate_json(&repo().join("vectors/cases/gap-explained"), &[]);
    assert_eq!(code, 0, "{report:#}");
    let gaps = report["chains"][0]["gaps"]
        .as_array()
        .expect("gaps")
        .clone();
    assert_eq!(gaps.len(), 1);
    let gap = &gaps[0];
    assert_eq!(gap["start"], "2024-06-01T04:05:09Z");
    assert_eq!(gap["end"], "2024-06-01T06:05:09Z");
    assert_eq!(gap["integrity_failure"], false);
    let explained = &gap["explained"];
    assert_eq!(explained["event"], "StopLogging");
    assert_eq!(explained["time"], "2024-06-01T03:20:00Z");
    assert_eq!(
        explained["principal"],
        "arn:aws:iam::444455556666:user/admin"
    );
    assert!(explained["log"]
        .as_str()
        .is_some_and(|l| l.starts_with("s3://ctverify-cases/") && l.ends_with(".json.gz")));

    let dir = repo().join("vectors/cases/gap-explained");
    let text = ctverify(["validate", dir.to_str().unwrap()]);
    assert!(text.stdout.lines().any(|l| l.starts_with("Gap\t")
        && l.contains("explained by StopLogging at 2024-06-01T03:20:00Z by arn:aws:iam::444455556666:user/admin in s3://")));

    // Explained or not, --require-continuous fails a gap.
    let (code, report) = validate_json(
        &dir,
        &["--require-continuous", "--end-time", "2024-06-01T08:30:00Z"],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["chains"][0]["gaps"][0]["integrity_failure"], true);

    // No trail call in the logs: the gap is unexplained, and says so.
    let dir = repo().join("vectors/cases/gap-digest-deleted");
    let (_, report) = validate_json(&dir, &[]);
    assert_eq!(report["chains"][0]["gaps"][0]["explained"], Value::Null);
    let text = ctverify(["validate", dir.to_str().unwrap()]);
    assert!(text
        .stdout
        .lines()
        .any(|l| l.starts_with("Gap\t") && l.contains("UNEXPLAINED")));
}

/// `four_hours`, then logs going on for three more hours with no digest; the first of them
/// holds `call` (a trail call made two minutes after the last digest).
fn logs_going_on_after(call: &str, parameters: Value) -> (tempfile::TempDir, ChainWriter) {
    let keys = test_keys();
    let (mut bundle, writer) = four_hours(&keys);
    let last_end = t("2024-06-01T04:05:09Z");
    let record = ctverify_testgen::trail_event_record(
        call,
        last_end.plus_seconds(120),
        "arn:aws:cloudtrail:us-east-1:111122223333:trail/audit",
        "arn:aws:iam::111122223333:user/ops",
        "111122223333",
        "us-east-1",
        parameters,
    );
    let first = writer.log_key(last_end.plus_seconds(300), "first-after");
    let document = serde_json::json!({ "Records": [record] });
    bundle
        .objects
        .insert(first, gzip(&serde_json::to_vec(&document).expect("json")));
    for minutes in [25, 70, 130, 170] {
        unlisted_log(
            &mut bundle,
            &writer,
            last_end.plus_seconds(minutes * 60),
            &format!("m{minutes}"),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    (dir, writer)
}

#[test]
fn validation_turned_off_explains_logs_going_on_without_digests() {
    let (dir, _) = logs_going_on_after(
        "UpdateTrail",
        serde_json::json!({"enableLogFileValidation": false}),
    );
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T12:00:00Z"]);
    // Nothing vouches for the logs (exit 3), but no digest is called missing.
    assert_eq!(code, 3, "{report:#}");
    let statuses = statuses(&report);
    assert_eq!(statuses.len(), 5, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|(kind, _, status)| kind == "log" && status == "unverified"));
    let tail = &report["chains"][0]["tail"];
    assert_eq!(tail["missing_digests"], 0);
    assert_eq!(tail["explained"]["event"], "UpdateTrail");
    assert_eq!(tail["explained"]["log_verified"], false);
    assert_eq!(
        tail["explained"]["principal"],
        "arn:aws:iam::111122223333:user/ops"
    );
}

#[test]
fn the_call_in_a_log_no_digest_covers_is_read_through_s3_as_from_the_directory() {
    let (dir, _) = logs_going_on_after(
        "UpdateTrail",
        serde_json::json!({"enableLogFileValidation": false}),
    );
    let moto = Moto::start();
    moto.upload(dir.path(), "continuity-bucket");
    let keys_file = dir.path().join(".ctverify/public-keys.json");
    let mut env = aws_env(None);
    env.push(("AWS_ENDPOINT_URL_S3".into(), moto.endpoint()));
    let args = |source: &str| -> Vec<String> {
        [
            "validate",
            source,
            "--public-keys",
            keys_file.to_str().unwrap(),
            "--end-time",
            "2024-06-01T12:00:00Z",
            "--format",
            "json",
        ]
        .map(String::from)
        .to_vec()
    };
    let from_dir = ctverify(args(dir.path().to_str().unwrap()));
    let from_s3 = ctverify_env(args("s3://continuity-bucket"), &env);
    assert_eq!(from_s3.code, 3, "{}{}", from_s3.stdout, from_s3.stderr);
    assert_eq!(from_dir.code, from_s3.code);
    let chains = |text: &str| -> Value {
        let report: Value = serde_json::from_str(text).expect("json");
        report["chains"].clone()
    };
    assert_eq!(chains(&from_s3.stdout), chains(&from_dir.stdout));
    assert_eq!(
        chains(&from_s3.stdout)[0]["tail"]["explained"]["log_verified"],
        false
    );
}

#[test]
fn a_stop_in_a_log_no_digest_covers_does_not_excuse_logs_long_after_it() {
    // Logging "stopped" two minutes after the last digest, yet logs go on for three hours:
    // the hours after the stop (and its 15 minutes of stragglers) had digests.
    let (dir, writer) = logs_going_on_after("StopLogging", serde_json::json!({}));
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T12:00:00Z"]);
    assert_eq!(code, 1, "{report:#}");
    let missing: Vec<String> = statuses(&report)
        .into_iter()
        .filter(|(kind, _, status)| kind == "digest" && status == "not_found")
        .map(|(_, key, _)| key)
        .collect();
    let last_end = t("2024-06-01T04:05:09Z");
    let expected: Vec<String> = (1..=3)
        .map(|h| writer.id.digest_key(last_end.plus_seconds(h * HOUR)))
        .collect();
    assert_eq!(missing, expected);
    assert_eq!(
        report["chains"][0]["tail"]["explained"]["event"],
        "StopLogging"
    );
}

/// A log holding one trail call, delivered at `at`, listed by no digest.
fn call_log(
    bundle: &mut Bundle,
    writer: &ChainWriter,
    at: UtcTime,
    call: &str,
    made: UtcTime,
    parameters: Value,
) {
    let record = ctverify_testgen::trail_event_record(
        call,
        made,
        "arn:aws:cloudtrail:us-east-1:111122223333:trail/audit",
        "arn:aws:iam::111122223333:user/ops",
        "111122223333",
        "us-east-1",
        parameters,
    );
    let key = writer.log_key(at, &format!("call-{call}-{}", at.unix()));
    let document = serde_json::json!({ "Records": [record] });
    bundle
        .objects
        .insert(key, gzip(&serde_json::to_vec(&document).expect("json")));
}

fn not_found_digests(report: &Value) -> usize {
    statuses(report)
        .iter()
        .filter(|(kind, _, status)| kind == "digest" && status == "not_found")
        .count()
}

#[test]
fn validation_turned_off_and_on_again_is_a_gap_not_missing_digests() {
    // The call that turned validation off is in a log no digest covers; the one that turned it
    // on again is in a verified log. The first decides what the logs between prove: nothing.
    let keys = test_keys();
    let (mut bundle, mut writer) = four_hours(&keys);
    let last_end = t("2024-06-01T04:05:09Z");
    let off = serde_json::json!({"enableLogFileValidation": false});
    call_log(
        &mut bundle,
        &writer,
        last_end.plus_seconds(300),
        "UpdateTrail",
        last_end.plus_seconds(120),
        off,
    );
    for minutes in (25..=165).step_by(20) {
        unlisted_log(
            &mut bundle,
            &writer,
            last_end.plus_seconds(minutes * 60),
            &format!("off{minutes}"),
        );
    }
    writer.stop_logging();
    let restart = t("2024-06-01T07:05:09Z");
    writer
        .pending_records
        .push(ctverify_testgen::trail_event_record(
            "UpdateTrail",
            restart.plus_seconds(30),
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/audit",
            "arn:aws:iam::111122223333:user/ops",
            "111122223333",
            "us-east-1",
            serde_json::json!({"enableLogFileValidation": true}),
        ));
    for h in 0..2 {
        let start = restart.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 2,
            wrong_previous_hash: false,
        };
        writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            start,
            start.plus_seconds(HOUR),
            2,
            options,
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T09:30:00Z"]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(not_found_digests(&report), 0, "{report:#}");
    let explained = &report["chains"][0]["gaps"][0]["explained"];
    assert_eq!(explained["event"], "UpdateTrail");
    assert_eq!(explained["log_verified"], false);
}

#[test]
fn the_call_is_found_after_many_logs_in_a_busy_region() {
    let keys = test_keys();
    let (mut bundle, writer) = four_hours(&keys);
    let last_end = t("2024-06-01T04:05:09Z");
    for i in 0..40 {
        unlisted_log(
            &mut bundle,
            &writer,
            last_end.plus_seconds(60 + i * 15),
            &format!("busy{i}"),
        );
    }
    let off = serde_json::json!({"enableLogFileValidation": false});
    call_log(
        &mut bundle,
        &writer,
        last_end.plus_seconds(15 * 60),
        "UpdateTrail",
        last_end.plus_seconds(14 * 60),
        off,
    );
    for minutes in [40, 100, 160] {
        unlisted_log(
            &mut bundle,
            &writer,
            last_end.plus_seconds(minutes * 60),
            &format!("late{minutes}"),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T12:00:00Z"]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(not_found_digests(&report), 0);
    assert_eq!(
        report["chains"][0]["tail"]["explained"]["event"],
        "UpdateTrail"
    );
}

#[test]
fn logs_after_a_stop_wait_for_a_restarted_segments_first_digest() {
    // Stopped at 04:10; started again at 09:50, whose first digest (ending 10:50) may arrive
    // until 11:50: at 11:10 its logs prove nothing yet.
    let keys = test_keys();
    let (mut bundle, writer) = four_hours(&keys);
    let last_end = t("2024-06-01T04:05:09Z");
    call_log(
        &mut bundle,
        &writer,
        last_end.plus_seconds(420),
        "StopLogging",
        last_end.plus_seconds(300),
        serde_json::json!({}),
    );
    for minutes in [350, 370] {
        unlisted_log(
            &mut bundle,
            &writer,
            last_end.plus_seconds(minutes * 60),
            &format!("restart{minutes}"),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T11:10:00Z"]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(not_found_digests(&report), 0, "{report:#}");
    // Long after, the hours that hold those logs (09:55 and 10:15, either side of the old
    // chain's 10:05:09) had digests that never came.
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T14:00:00Z"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(not_found_digests(&report), 2, "{report:#}");
}

#[test]
fn a_planted_stop_does_not_outweigh_another_region_delivering_on() {
    let keys = test_keys();
    let (mut bundle, east) = four_hours(&keys);
    let mut west = ChainWriter::new(chain_id("eu-west-1"));
    let first_end = t("2024-06-01T01:02:30Z");
    for h in 0..8 {
        let end = first_end.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 2,
            wrong_previous_hash: false,
        };
        west.deliver(
            &mut bundle,
            &keys.eu_west_1_a,
            end.plus_seconds(-HOUR),
            end,
            1,
            options,
        );
    }
    bundle.public_keys.push(keys.eu_west_1_a.key_entry(
        "eu-west-1",
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    ));
    let last_end = t("2024-06-01T04:05:09Z");
    call_log(
        &mut bundle,
        &east,
        last_end.plus_seconds(300),
        "StopLogging",
        last_end.plus_seconds(120),
        serde_json::json!({}),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write");
    let (code, report) = validate_json(dir.path(), &["--end-time", "2024-06-01T12:00:00Z"]);
    assert_eq!(code, 1, "{report:#}");
    let east_chain = report["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["region"] == "us-east-1")
        .unwrap();
    assert_eq!(east_chain["tail"]["explained"]["log_verified"], false);
    assert_eq!(east_chain["tail"]["evidence"][0]["kind"], "other_region");
    assert!(not_found_digests(&report) >= 3, "{report:#}");
}
