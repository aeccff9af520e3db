//! Digest JSON from untrusted bytes: parsing never panics, and a parsed digest always yields
//! its signed message.
#![no_main]

use ctverify::{Digest, Sha256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(digest) = Digest::parse(data) {
        let own = Sha256::of(data);
        let message = digest.signed_message(&own);
        // The message is the four signed fields, newline separated, in CloudTrail's order.
        let end = digest.end_time.to_string();
        assert!(message.starts_with(&format!("{end}\n")));
        assert!(message.contains(&format!("\n{}\n", own.to_hex())));
        match &digest.previous {
            None => assert!(message.ends_with("\nnull")),
            Some(previous) => {
                let text = previous.signature_text();
                assert!(message.ends_with(&format!("\n{text}")));
                // Signed as written, whether or not it is kept as text. (serde_json's `Value`
                // refuses some input the digest parser accepts, such as a lone surrogate
                // escape in a field it skips: then there is nothing to compare with.)
                if let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) {
                    let written = raw["previousDigestSignature"].as_str().expect("a string");
                    assert_eq!(text, written);
                }
            }
        }
        assert!(digest.start_time <= digest.end_time);
    }
});
