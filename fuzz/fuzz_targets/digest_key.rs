//! Digest key names: whatever `DigestKey::parse` accepts, `ChainId::digest_key` must rebuild
//! exactly (the walk names missing digests with it, so a lossy parse would name wrong keys).
#![no_main]

use ctverify::digest::DigestKey;
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
    }
});
