//! Key names found in a bucket: whatever `DigestKey::parse` accepts, `ChainId::digest_key` must
//! rebuild exactly (the walk names missing digests with it, so a lossy parse would name wrong
//! keys); a digest folder must name the chain its digests do; and a log name, whatever bytes
//! it holds, must give a delivery minute or none, never a panic (a multi-byte character where
//! the time goes once did).
#![no_main]

use ctverify::internal::log_delivery_minute;
use ctverify::{ChainId, DigestKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(parsed) = DigestKey::parse(key) {
        let rebuilt = parsed.chain.digest_key(parsed.end_time);
        assert_eq!(
            rebuilt, key,
            "DigestKey::parse({key:?}) does not round-trip: {parsed:?}"
        );
        let chain = &parsed.chain;
        // The folder does not say whether the chain is a backfill one: only digest names do.
        let of_folder =
            ChainId::of_digest_folder(&chain.digest_folder(), &chain.trail, &chain.home_region)
                .map(|id| ChainId {
                    backfill: chain.backfill,
                    ..id
                });
        assert_eq!(of_folder.as_ref(), Some(chain), "folder of {key:?}");
    }
    let name = key.rsplit('/').next().unwrap_or(key);
    let _ = log_delivery_minute(name, "111122223333", "us-east-1");
    if let Some((account, rest)) = name.split_once("_CloudTrail_") {
        if let Some((region, _)) = rest.split_once('_') {
            let _ = log_delivery_minute(name, account, region);
        }
    }
});
