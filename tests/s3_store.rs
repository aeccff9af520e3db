//! The S3 store on its own against moto_server: listings sent ahead and objects read ahead.
//! (Its own test binary, because the AWS configuration comes from this process's environment.)

mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::repo;
use common::servers::{aws_env, Moto};
use ctverify::{Aws, ListingRequest, ObjectStore, S3Store, WHOLE_BODY_CAP};

const BUCKET: &str = "ctverify-sample-trail";
const LOGS: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";

fn listed(store: &S3Store, request: &ListingRequest) -> Vec<String> {
    let mut keys = Vec::new();
    store
        .list_keys(
            &request.prefix,
            request.start_after.as_deref(),
            &mut |key| {
                keys.push(key.to_string());
                true
            },
        )
        .expect("listing");
    keys
}

/// Waits until moto has answered `count` listings of the log folder.
fn answered(moto: &Moto, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let listings = || {
        moto.requests()
            .iter()
            .map(|l| l.replace("%2F", "/"))
            .filter(|l| l.contains("list-type=2") && l.contains(&format!("prefix={LOGS}&")))
            .count()
    };
    while listings() < count {
        assert!(
            Instant::now() < deadline,
            "moto never answered listing {count}: {:#?}",
            moto.requests()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_listing_sent_ahead_is_answered_before_it_is_asked_for_and_used_once() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    for (name, value) in aws_env(None) {
        std::env::set_var(name, value);
    }
    let aws = Arc::new(Aws::load(2).expect("AWS configuration"));
    let request = ListingRequest::keys(LOGS, Some(&format!("{LOGS}2024/02/28")));
    let store = S3Store::open(
        aws,
        BUCKET,
        Some(moto.endpoint()),
        &[ListingRequest::folders("AWSLogs/")],
        std::slice::from_ref(&request),
    )
    .expect("open");
    answered(&moto, 1);

    // A file put after moto answered is not in the page fetched ahead: the listing is the one
    // sent when the store opened.
    let planted = format!("{LOGS}2024/03/01/planted-after-the-listing.json.gz");
    moto.put(BUCKET, &planted, b"not a log");
    let first = listed(&store, &request);
    assert!(!first.is_empty());
    assert!(!first.contains(&planted), "{first:#?}");
    // Its page is handed out once: asked again, the store lists again.
    let second = listed(&store, &request);
    assert!(second.contains(&planted), "{second:#?}");

    // The same through prefetch_keys, once the store is open.
    store.prefetch_keys(&request);
    answered(&moto, 3);
    let later = format!("{LOGS}2024/03/01/planted-later.json.gz");
    moto.put(BUCKET, &later, b"not a log");
    assert!(!listed(&store, &request).contains(&later));

    // A page discarded is not used: the listing is sent again.
    store.prefetch_keys(&request);
    answered(&moto, 4);
    let last = format!("{LOGS}2024/03/01/planted-last.json.gz");
    moto.put(BUCKET, &last, b"not a log");
    store.discard_prefetched(&request);
    assert!(listed(&store, &request).contains(&last));
    answered(&moto, 5);
}

/// Waits until moto has answered `count` GETs of `key`.
fn got(moto: &Moto, key: &str, count: usize) {
    got_in(moto, BUCKET, key, count)
}

/// Waits until moto has answered `count` GETs of `key` in `bucket`.
fn got_in(moto: &Moto, bucket: &str, key: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted = format!("GET /{bucket}/{key}");
    let gets = || {
        moto.requests()
            .iter()
            .filter(|l| l.contains(&wanted))
            .count()
    };
    while gets() < count {
        assert!(
            Instant::now() < deadline,
            "moto never answered GET {count} of {key}: {:#?}",
            moto.requests()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn body(store: &S3Store, key: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    store
        .get(BUCKET, key)
        .expect("get")
        .body
        .read_to_end(&mut bytes)
        .expect("body");
    bytes
}

#[test]
fn an_object_read_ahead_is_answered_before_it_is_asked_for_used_once_and_never_decides_alone() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    for (name, value) in aws_env(None) {
        std::env::set_var(name, value);
    }
    let aws = Arc::new(Aws::load(2).expect("AWS configuration"));
    let store = S3Store::open(
        aws,
        BUCKET,
        Some(moto.endpoint()),
        &[ListingRequest::folders("AWSLogs/")],
        &[],
    )
    .expect("open");
    let key = format!("{LOGS}2024/03/01/read-ahead.json.gz");
    moto.put(BUCKET, &key, b"first");

    // Not sent without a free slot, nor into another bucket.
    assert!(!store.read_ahead(BUCKET, &key, 0));
    assert!(!store.read_ahead("another-bucket", &key, 8));
    assert!(store.read_ahead(BUCKET, &key, 8));
    got(&moto, &key, 1);

    // Changed after moto answered: the get is given the early answer, once.
    moto.put(BUCKET, &key, b"second");
    assert_eq!(body(&store, &key), b"first");
    assert_eq!(body(&store, &key), b"second");

    // A body read whole is no longer in flight: holding one leaves its slot free. A body too
    // large to be read whole streams, and holds its slot until dropped: with a bound of one,
    // nothing is read ahead meanwhile.
    let other = format!("{LOGS}2024/03/01/other.json.gz");
    let whole = store.get(BUCKET, &key).expect("get");
    let big = format!("{LOGS}2024/03/01/big.json.gz");
    moto.put(BUCKET, &big, &noise(WHOLE_BODY_CAP as usize + 1, 3));
    let streaming = store.get(BUCKET, &big).expect("get");
    assert!(!store.read_ahead(BUCKET, &other, 1));
    drop(streaming);
    assert!(store.read_ahead(BUCKET, &other, 1));
    drop(whole);
    // An answer waiting for its get does not.
    got(&moto, &other, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store.read_ahead(BUCKET, &key, 1) {
        assert!(
            Instant::now() < deadline,
            "an answered read ahead still holds its slot"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    got(&moto, &key, 4);
    store.discard_read_ahead(BUCKET, &other);
    store.discard_read_ahead(BUCKET, &key);

    // A read ahead discarded is not used.
    assert!(store.read_ahead(BUCKET, &key, 8));
    got(&moto, &key, 5);
    moto.put(BUCKET, &key, b"third");
    store.discard_read_ahead(BUCKET, &key);
    assert_eq!(body(&store, &key), b"third");

    // An early answer that failed decides nothing: absent when read ahead, present when
    // asked for, the object is found.
    let late = format!("{LOGS}2024/03/01/late.json.gz");
    assert!(store.read_ahead(BUCKET, &late, 8));
    got(&moto, &late, 1);
    moto.put(BUCKET, &late, b"late");
    assert_eq!(body(&store, &late), b"late");
}

/// Bytes that do not compress, from a seed.
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

#[test]
fn bodies_read_whole_and_bodies_streamed_are_the_objects_bytes_asked_directly_or_ahead() {
    let moto = Moto::start();
    moto.put_bucket(BUCKET);
    for (name, value) in aws_env(None) {
        std::env::set_var(name, value);
    }
    let aws = Arc::new(Aws::load(2).expect("AWS configuration"));
    let store = S3Store::open(aws, BUCKET, Some(moto.endpoint()), &[], &[]).expect("open");
    let cap = WHOLE_BODY_CAP as usize;
    for (size, seed) in [
        (0, 1),
        (5, 2),
        (cap, 3),
        (cap + 1, 4),
        (cap + (64 << 10), 5),
    ] {
        let key = format!("{LOGS}2024/03/01/{size}.json.gz");
        let bytes = noise(size, seed);
        moto.put(BUCKET, &key, &bytes);
        assert!(body(&store, &key) == bytes, "{size} bytes, asked directly");
        assert!(store.read_ahead(BUCKET, &key, 8));
        got(&moto, &key, 2);
        assert!(body(&store, &key) == bytes, "{size} bytes, read ahead");
    }
}

#[test]
fn a_streamed_answer_holds_its_slot_until_taken_and_other_buckets_are_read_ahead_once_known() {
    let moto = Moto::start();
    moto.put_bucket(BUCKET);
    let other_bucket = "ctverify-old-trail-bucket";
    moto.put_bucket(other_bucket);
    for (name, value) in aws_env(None) {
        std::env::set_var(name, value);
    }
    let aws = Arc::new(Aws::load(2).expect("AWS configuration"));
    let store = S3Store::open(aws, BUCKET, Some(moto.endpoint()), &[], &[]).expect("open");

    // An answer too large to be read whole keeps its connection, so it stays in flight until
    // its get takes it: with a bound of one, nothing more is read ahead meanwhile.
    let big = format!("{LOGS}2024/03/01/big.json.gz");
    let big_bytes = noise(WHOLE_BODY_CAP as usize + 1, 9);
    moto.put(BUCKET, &big, &big_bytes);
    let small = format!("{LOGS}2024/03/01/small.json.gz");
    moto.put(BUCKET, &small, b"small");
    assert!(store.read_ahead(BUCKET, &big, 1));
    got(&moto, &big, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!store.read_ahead(BUCKET, &small, 1));
    assert!(body(&store, &big) == big_bytes);
    assert!(store.read_ahead(BUCKET, &small, 1));
    assert_eq!(body(&store, &small), b"small");

    // Another bucket (a trail whose bucket changed) is read ahead once a get has made its
    // client, never before: making one may need a region lookup.
    let old = format!("{LOGS}2024/02/01/old.json.gz");
    moto.put(other_bucket, &old, b"old");
    assert!(!store.read_ahead(other_bucket, &old, 8));
    let mut first = Vec::new();
    store
        .get(other_bucket, &old)
        .expect("get")
        .body
        .read_to_end(&mut first)
        .expect("body");
    assert_eq!(first, b"old");
    assert!(store.read_ahead(other_bucket, &old, 8));
    got_in(&moto, other_bucket, &old, 2);
    // Changed after moto answered: the get is given the early answer, once.
    moto.put(other_bucket, &old, b"changed");
    let mut read = Vec::new();
    store
        .get(other_bucket, &old)
        .expect("get")
        .body
        .read_to_end(&mut read)
        .expect("body");
    assert_eq!(read, b"old");
    let mut again = Vec::new();
    store
        .get(other_bucket, &old)
        .expect("get")
        .body
        .read_to_end(&mut again)
        .expect("body");
    assert_eq!(again, b"changed");
}
