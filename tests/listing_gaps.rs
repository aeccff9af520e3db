//! A listing is never the only proof that a digest is gone: a store whose listings leave out
//! some keys (as SeaweedFS did with a start-after naming a date folder) must not turn an intact
//! trail into a tampered one. A digest named as predecessor that no listing showed is read at
//! its key; only when it is not there is it `not_found`, and a read that fails is `error`.
//! Runs the library against the sample bundle through a store that hides keys from listings.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use ctverify::internal::{bundle_path, METADATA_FILE, PUBLIC_KEYS_FILE};
use ctverify::{
    validate, ChainFilter, DirStore, FixedKeys, KeyRing, Object, ObjectStore, RequestedRange,
    SignatureIndex, StoreError, UtcTime, ValidateOptions,
};
use serde_json::Value;

const BUCKET: &str = "ctverify-sample-trail";

/// The sample bundle on disk, with some keys left out of every listing and some reads failing.
struct PatchyStore {
    inner: DirStore,
    unlisted: HashSet<String>,
    unreadable: HashSet<String>,
}

impl ObjectStore for PatchyStore {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_folders(prefix)
    }
    fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.list_keys(prefix, start_after, &mut |key| {
            self.unlisted.contains(key) || visit(key)
        })
    }
    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        if self.unreadable.contains(key) {
            return Err(StoreError::Read("connection reset (injected)".into()));
        }
        self.inner.get(bucket, key)
    }
}

fn sample_digests() -> Vec<String> {
    let mut keys = Vec::new();
    let root = common::repo().join("vectors/sample");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let key = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if key.contains("/CloudTrail-Digest/") {
                    keys.push(key);
                }
            }
        }
    }
    keys.sort();
    keys
}

/// Every file's (key, status) of a run over the sample, with `start` as the range's start.
fn statuses(unlisted: &[&str], unreadable: &[&str], start: Option<&str>) -> Vec<(String, String)> {
    let root = common::repo().join("vectors/sample");
    let ring = KeyRing::parse_json(
        &std::fs::read(bundle_path(&root, PUBLIC_KEYS_FILE)).unwrap(),
        None,
    )
    .unwrap();
    let metadata = SignatureIndex::open(&bundle_path(&root, METADATA_FILE), BUCKET).unwrap();
    let store = PatchyStore {
        inner: DirStore::open(&root, BUCKET.into(), metadata).unwrap(),
        unlisted: unlisted.iter().map(|k| k.to_string()).collect(),
        unreadable: unreadable.iter().map(|k| k.to_string()).collect(),
    };
    let options = ValidateOptions {
        range: RequestedRange {
            start: start.map(|s| UtcTime::parse_user(s).unwrap()),
            end: UtcTime::parse_user("2025-01-01T00:00:00Z").unwrap(),
        },
        prefix: None,
        filter: ChainFilter::default(),
        verbose: true,
        concurrency: 4,
        folder_budget: u64::MAX,
        progress: Default::default(),
        require_continuous: false,
        trail_status: None,
        checkpoint: None,
        shard: None,
    };
    let validation = validate(&store, &FixedKeys(Arc::new(ring)), &options, &mut |_| {})
        .expect("validation runs");
    let mut found: Vec<(String, String)> = validation
        .chains
        .iter()
        .flat_map(|c| {
            serde_json::to_value(&c.files)
                .unwrap()
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|f: Value| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_digest_the_listing_left_out_is_read_at_the_key_its_successor_names() {
    let digests = sample_digests();
    let us_east: Vec<&str> = digests
        .iter()
        .filter(|k| k.contains("/us-east-1/"))
        .map(String::as_str)
        .collect();
    assert!(us_east.len() >= 6);
    let intact = statuses(&[], &[], None);
    assert!(intact.iter().all(|(_, s)| s == "valid"), "{intact:?}");
    // Several in a row, in the middle of the chain, and the oldest: each is named by the one
    // after it (once that one has been read), so the whole run comes back.
    let unlisted = [us_east[0], us_east[2], us_east[3], us_east[4]];
    for start in [None, Some("2024-03-01"), Some("2024-03-01T00:00:00Z")] {
        assert_eq!(
            statuses(&unlisted, &[], start),
            statuses(&[], &[], start),
            "start {start:?}: a digest left out of the listing was not read"
        );
    }
}

#[test]
fn a_digest_the_listing_left_out_that_cannot_be_read_is_an_error_not_missing() {
    let digests = sample_digests();
    let hidden = digests
        .iter()
        .find(|k| k.contains("/us-east-1/") && k.contains("T031742Z"))
        .expect("a digest of 03:17");
    let found = statuses(&[hidden], &[hidden], None);
    let status = found
        .iter()
        .find(|(key, _)| key == hidden)
        .map(|(_, s)| s.as_str());
    assert_eq!(status, Some("error"), "{found:?}");
    assert!(
        found
            .iter()
            .all(|(_, s)| s != "not_found" && s != "invalid"),
        "a failed read is no evidence of tampering: {found:?}"
    );
}
