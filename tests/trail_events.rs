//! CloudTrail's own trail management calls found in a trail's logs reach the run's result
//! through the library's pipeline: only from logs that hash as their digest records, whether
//! the log was inflated in memory or streamed, and each call once.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::test_keys;
use ctverify::internal::{bundle_path, gzip, METADATA_FILE, PUBLIC_KEYS_FILE};
use ctverify::{
    validate, ChainFilter, ChainId, DirStore, FixedKeys, KeyRing, RequestedRange, SignatureIndex,
    Status, TrailEvent, TrailEventKind, UtcTime, ValidateOptions, Validation,
};
use ctverify_testgen::{trail_event_record, Bundle, ChainWriter, HourOptions};
use serde_json::json;

const BUCKET: &str = "events-bucket";
const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const TRAIL_ARN: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/prod";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:sts::111122223333:assumed-role/Admin/bob";

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("time")
}

/// The trail: two hours, logging stopped (the second hour's first log holds the StopLogging),
/// two hours of gap, two hours again (the first of them holds the StartLogging and an update
/// turning validation on). `tamper` then edits the bundle.
fn trail(tamper: impl FnOnce(&mut Bundle, &[ctverify_testgen::Delivered])) -> tempfile::TempDir {
    let keys = test_keys();
    let mut bundle = Bundle::new(BUCKET, "");
    let mut writer = ChainWriter::new(ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        trail: "prod".into(),
        home_region: REGION.into(),
        backfill: false,
    });
    let hour = |h: i64| t("2024-05-01T00:00:00Z").plus_seconds(h * 3600);
    let options = HourOptions {
        records_per_log: 3,
        wrong_previous_hash: false,
    };
    for h in 1..=4 {
        if h == 2 {
            writer.pending_records.push(trail_event_record(
                "StopLogging",
                hour(1).plus_seconds(600),
                TRAIL_ARN,
                ALICE,
                ACCOUNT,
                REGION,
                json!({}),
            ));
            // A StopLogging that failed stopped nothing.
            let mut failed = trail_event_record(
                "StopLogging",
                hour(1).plus_seconds(500),
                TRAIL_ARN,
                BOB,
                ACCOUNT,
                REGION,
                json!({}),
            );
            failed["errorCode"] = json!("AccessDenied");
            writer.pending_records.push(failed);
        }
        if h == 3 {
            // Two hours without a delivery, then a new chain segment.
            writer.stop_logging();
            writer.pending_records.push(trail_event_record(
                "StartLogging",
                hour(4).plus_seconds(900),
                "prod",
                BOB,
                ACCOUNT,
                REGION,
                json!({}),
            ));
            writer.pending_records.push(trail_event_record(
                "UpdateTrail",
                hour(4).plus_seconds(950),
                TRAIL_ARN,
                BOB,
                ACCOUNT,
                REGION,
                json!({"enableLogFileValidation": true}),
            ));
        }
        let end = if h >= 3 { hour(h + 2) } else { hour(h) };
        writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-3600),
            end,
            2,
            options,
        );
    }
    tamper(&mut bundle, &writer.delivered);
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        REGION,
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write bundle");
    dir
}

fn run(root: &Path) -> Validation {
    let ring = KeyRing::parse_json(
        &std::fs::read(bundle_path(root, PUBLIC_KEYS_FILE)).expect("keys"),
        None,
    )
    .expect("key file");
    let metadata =
        SignatureIndex::open(&bundle_path(root, METADATA_FILE), BUCKET).expect("metadata");
    let store = DirStore::open(root, BUCKET.into(), metadata).expect("store");
    let options = ValidateOptions {
        range: RequestedRange {
            start: None,
            end: t("2024-06-01T00:00:00Z"),
        },
        prefix: None,
        filter: ChainFilter::default(),
        verbose: true,
        concurrency: 2,
        folder_budget: ctverify::DEFAULT_FOLDER_BUDGET,
        progress: Default::default(),
        require_continuous: false,
        trail_status: None,
        checkpoint: None,
        shard: None,
    };
    validate(&store, &FixedKeys(Arc::new(ring)), &options, &mut |_| {}).expect("validation runs")
}

fn log_status(validation: &Validation, key: &str) -> Status {
    validation
        .chains
        .iter()
        .flat_map(|c| &c.files)
        .find(|f| f.key == key)
        .map(|f| f.status)
        .unwrap_or_else(|| panic!("{key} is reported"))
}

fn summary(events: &[TrailEvent]) -> Vec<(TrailEventKind, String, Option<&str>, Option<bool>)> {
    events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.time.to_string(),
                e.principal.as_deref(),
                e.validation,
            )
        })
        .collect()
}

#[test]
fn a_stop_logging_call_in_a_valid_log_reaches_the_result() {
    let mut stop_log = String::new();
    let mut start_log = String::new();
    let dir = trail(|_, delivered| {
        stop_log = delivered[1].log_keys[0].clone();
        start_log = delivered[2].log_keys[0].clone();
    });
    let validation = run(dir.path());
    assert_eq!(log_status(&validation, &stop_log), Status::Valid);
    assert_eq!(
        summary(&validation.trail_events),
        vec![
            (
                TrailEventKind::StopLogging,
                "2024-05-01T01:10:00Z".to_string(),
                Some(ALICE),
                None
            ),
            (
                TrailEventKind::StartLogging,
                "2024-05-01T04:15:00Z".to_string(),
                Some(BOB),
                None
            ),
            (
                TrailEventKind::UpdateTrail,
                "2024-05-01T04:15:50Z".to_string(),
                Some(BOB),
                Some(true)
            ),
        ]
    );
    let stop = &validation.trail_events[0];
    assert_eq!(stop.log, format!("s3://{BUCKET}/{stop_log}"));
    assert_eq!(stop.trail, TRAIL_ARN);
    assert!(stop.names_trail("prod"));
    assert_eq!(stop.region.as_deref(), Some(REGION));
    let start = &validation.trail_events[1];
    assert_eq!(start.log, format!("s3://{BUCKET}/{start_log}"));
    assert_eq!(start.trail, "prod");
    assert!(start.names_trail("prod"));
    assert_eq!(validation.trail_events_left_out, 0);
}

#[test]
fn a_log_that_does_not_match_its_digest_contributes_nothing() {
    let mut stop_log = String::new();
    let dir = trail(|bundle, delivered| {
        // The StopLogging log with another record rewritten: it still holds the StopLogging,
        // but its hash no longer matches, so nothing in it can be trusted.
        stop_log = delivered[1].log_keys[0].clone();
        let mut inflated: serde_json::Value =
            serde_json::from_slice(&bundle.inflated(&stop_log)).expect("a log");
        inflated["Records"][0]["eventName"] = json!("PutObject");
        bundle.objects.insert(
            stop_log.clone(),
            gzip(&serde_json::to_vec(&inflated).expect("JSON")),
        );
    });
    let validation = run(dir.path());
    assert_eq!(log_status(&validation, &stop_log), Status::HashMismatch);
    let kinds: Vec<TrailEventKind> = validation.trail_events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![TrailEventKind::StartLogging, TrailEventKind::UpdateTrail]
    );
}

/// `data` gzipped with a header CRC (FHCRC): a valid member that the one-call inflater leaves
/// to the streaming reader, so the log takes the streaming path (prefilter, then a second
/// read to parse it).
fn gzip_with_header_crc(data: &[u8]) -> Vec<u8> {
    let mut bytes = gzip(data);
    bytes[3] |= 0x02;
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[..10]);
    let crc16 = (crc.sum() & 0xffff) as u16;
    bytes.splice(10..10, crc16.to_le_bytes());
    bytes
}

#[test]
fn a_streamed_log_is_read_again_for_its_events() {
    let mut stop_log = String::new();
    let dir = trail(|bundle, delivered| {
        stop_log = delivered[1].log_keys[0].clone();
        let inflated = bundle.inflated(&stop_log);
        bundle
            .objects
            .insert(stop_log.clone(), gzip_with_header_crc(&inflated));
    });
    let validation = run(dir.path());
    assert_eq!(log_status(&validation, &stop_log), Status::Valid);
    let stop = validation
        .trail_events
        .iter()
        .find(|e| e.kind == TrailEventKind::StopLogging)
        .expect("the StopLogging of the streamed log");
    assert_eq!(stop.log, format!("s3://{BUCKET}/{stop_log}"));
    assert_eq!(validation.trail_events.len(), 3);
}
