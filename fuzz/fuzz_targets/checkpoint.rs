//! A `--checkpoint` file from untrusted bytes: never panics; what opens writes back to the same
//! checkpoint; it opens only for the source it names, and its history compares equal to itself.
#![no_main]

use ctverify::internal::{compare_days, Checkpoint, CheckpointError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The source the file names, so that inputs get past the source check.
    let source = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["checkpoint"]["source"].as_str().map(str::to_string))
        .unwrap_or_default();
    let Ok(checkpoint) = Checkpoint::open(data, &source) else {
        return;
    };
    let reopened = Checkpoint::open(&checkpoint.to_bytes(), &source).expect("what opened reopens");
    assert_eq!(reopened, checkpoint);
    assert!(matches!(
        Checkpoint::open(data, &format!("{source}/other")),
        Err(CheckpointError::OtherSource { .. })
    ));
    for folder in &checkpoint.folders {
        assert!(compare_days(&folder.days, &folder.days).is_empty());
    }
});
