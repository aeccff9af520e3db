//! `list-public-keys` JSON from untrusted bytes: never panics, and every key it accepts has
//! the properties the loader promises.
#![no_main]

use ctverify::{Fingerprint, KeyRing, MIN_KEY_BITS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ring) = KeyRing::parse_json(data, None) {
        for key in ring.keys() {
            assert!(key.bits >= MIN_KEY_BITS, "{key:?}");
            assert_eq!(key.fingerprint, Fingerprint::of_der(&key.der));
            let region = key.region.as_deref().unwrap_or("us-east-1");
            assert!(ring.find(&key.fingerprint, region).is_some());
        }
    }
});
