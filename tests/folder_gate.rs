//! Folders verified a few at a time (the memory budget of `folder_gate`) give the same report
//! as all at once, through the library's pipeline: the scheduling changes memory and nothing
//! else, whatever the budget, the concurrency, and the errors one folder meets.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::test_keys;
use ctverify::internal::{bundle_path, METADATA_FILE, PUBLIC_KEYS_FILE};
use ctverify::{
    validate, ChainFilter, ChainId, DirStore, FixedKeys, KeyRing, RequestedRange, SignatureIndex,
    UtcTime, ValidateOptions,
};
use ctverify_testgen::{Bundle, ChainWriter, HourOptions};
use serde_json::Value;

const BUCKET: &str = "gate-bucket";
const REGION: &str = "us-east-1";
const ACCOUNTS: [&str; 6] = [
    "111122223333",
    "111122224444",
    "111122225555",
    "111122226666",
    "111122227777",
    "111122228888",
];

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).expect("time")
}

/// Six folders (one account each), four hourly digests of two logs each. In the second
/// folder a log is deleted, in the fourth one is rewritten, in the sixth a digest is deleted.
fn org_trail() -> tempfile::TempDir {
    let keys = test_keys();
    let mut bundle = Bundle::new(BUCKET, "");
    let mut tamper = Vec::new();
    for (n, account) in ACCOUNTS.iter().enumerate() {
        let mut writer = ChainWriter::new(ChainId {
            prefix: String::new(),
            organization_id: None,
            account_id: account.to_string(),
            region: REGION.into(),
            trail: "org".into(),
            home_region: REGION.into(),
            backfill: false,
        });
        let first_end = t("2024-05-01T00:12:34Z").plus_seconds(n as i64 * 60);
        for h in 0..4 {
            let end = first_end.plus_seconds(h * 3600);
            writer.deliver(
                &mut bundle,
                &keys.us_east_1_a,
                end.plus_seconds(-3600),
                end,
                2,
                HourOptions {
                    records_per_log: 2,
                    wrong_previous_hash: false,
                },
            );
        }
        tamper.push(writer.delivered);
    }
    bundle.objects.remove(&tamper[1][1].log_keys[0]);
    let rewritten = tamper[3][2].log_keys[1].clone();
    bundle
        .objects
        .insert(rewritten, ctverify::internal::gzip(b"{\"Records\":[]}"));
    bundle.objects.remove(&tamper[5][1].digest_key);
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        REGION,
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    let dir = tempfile::tempdir().expect("tempdir");
    bundle.write_to(dir.path()).expect("write bundle");
    dir
}

/// The whole report, as JSON values (chains in order, each with its files), the number of
/// chains the progress counters saw done, and the most folders verified at once.
fn run(root: &Path, budget: u64, concurrency: usize) -> (Vec<Value>, u64, usize) {
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
        concurrency,
        folder_budget: budget,
        progress: Default::default(),
        require_continuous: false,
        trail_status: None,
        checkpoint: None,
        shard: None,
    };
    let validation = validate(&store, &FixedKeys(Arc::new(ring)), &options, &mut |_| {})
        .expect("validation runs");
    let chains = validation
        .chains
        .iter()
        .map(|c| {
            serde_json::json!({
                "report": serde_json::to_value(&c.report).expect("report"),
                "files": serde_json::to_value(&c.files).expect("files"),
            })
        })
        .collect();
    let done = options
        .progress
        .chains_done
        .load(std::sync::atomic::Ordering::Relaxed);
    (chains, done, validation.peak_folders_in_flight)
}

fn statuses(chains: &[Value]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for chain in chains {
        for file in chain["files"].as_array().expect("files") {
            let status = file["status"].as_str().expect("status");
            if status != "valid" {
                found.push((
                    file["key"].as_str().expect("key").to_string(),
                    status.to_string(),
                ));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_budget_smaller_than_one_folder_verifies_them_one_at_a_time_with_the_same_report() {
    let dir = org_trail();
    let (everything_at_once, done, _) = run(dir.path(), u64::MAX, 8);
    assert_eq!(
        everything_at_once.len(),
        ACCOUNTS.len(),
        "one chain per folder"
    );
    assert_eq!(done, ACCOUNTS.len() as u64);
    // The tampering is found: without it, equal reports would prove little.
    let bad = statuses(&everything_at_once);
    let kinds: Vec<&str> = bad.iter().map(|(_, s)| s.as_str()).collect();
    assert!(kinds.contains(&"not_found"), "{bad:?}");
    assert!(kinds.contains(&"hash_mismatch"), "{bad:?}");
    for (budget, concurrency) in [(1, 8), (1, 1), (1 << 20, 2), (u64::MAX, 1)] {
        let (gated, done, peak) = run(dir.path(), budget, concurrency);
        assert_eq!(done, ACCOUNTS.len() as u64);
        if budget == 1 {
            assert_eq!(peak, 1, "a budget of one byte lets one folder in at a time");
        } else {
            assert!((1..=ACCOUNTS.len()).contains(&peak), "peak {peak}");
        }
        assert_eq!(
            gated, everything_at_once,
            "budget {budget}, concurrency {concurrency}: a different report"
        );
    }
}
