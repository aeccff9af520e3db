//! A shard report for `ctverify merge` from untrusted bytes: never panics; one that reads
//! merges alone (as shard I of N, the others missing, so never complete) and, given twice, names
//! the second as a duplicate.
#![no_main]

use ctverify::{merge, read_shard_report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(report) = read_shard_report("fuzz", text) else {
        return;
    };
    let count = report.part.shard.count;
    let Ok(merged) = merge(vec![report.clone()]) else {
        return;
    };
    assert_eq!(merged.merge.shards, count);
    assert_eq!(merged.merge.missing_shards.len() as u32, count - 1);
    let twice = merge(vec![report.clone(), report]).expect("the same report merges with itself");
    assert_eq!(twice.merge.duplicate_shards.len(), 1);
    assert!(!twice.merge.is_complete());
});
