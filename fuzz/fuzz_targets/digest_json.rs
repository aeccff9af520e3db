//! Digest JSON from untrusted bytes: parsing never panics, and a parsed digest always yields
//! its signed message.
#![no_main]

use ctverify::digest::Digest;
use ctverify::hash::Sha256;
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
                // Signed as written, whether or not it is kept as text.
                let raw: serde_json::Value = serde_json::from_slice(data).expect("parsed, so JSON");
                let written = raw["previousDigestSignature"].as_str().expect("a string");
                assert_eq!(previous.signature_text(), written);
                assert!(message.ends_with(&format!("\n{written}")));
            }
        }
        assert!(digest.start_time <= digest.end_time);
    }
});
