//! The trail-event detector over untrusted log bytes: the prefilter and the parse never panic;
//! the prefilter answers exactly whether one of the five quoted event names is there, however
//! the bytes are chunked; it never misses a log the parse finds an event in (CloudTrail never
//! `\u`-escapes the names it writes; input with a backslash is exempt); the in-memory and the
//! streaming parse agree; and what is kept is bounded, sorted, and names its event.
#![no_main]

use ctverify::internal::{
    may_hold_trail_events, trail_events_in_reader, trail_events_in_slice, TrailEventScan,
    MAX_EVENTS_PER_LOG,
};
use ctverify::TrailEventKind;
use libfuzzer_sys::fuzz_target;

const LOG: &str = "s3://bucket/AWSLogs/111122223333/CloudTrail/us-east-1/fuzz.json.gz";

fuzz_target!(|data: &[u8]| {
    let hit = may_hold_trail_events(data);
    // The prefilter searches for endings the names share; it must answer exactly whether one
    // of the five quoted names is there.
    let named = TrailEventKind::ALL.iter().any(|kind| {
        let quoted = format!("\"{}\"", kind.event_name());
        data.windows(quoted.len()).any(|w| w == quoted.as_bytes())
    });
    assert_eq!(hit, named);

    // Chunked as the streaming path feeds it, in chunks of a size the input picks (1 to 32
    // bytes, so that names straddle chunk boundaries in every way), then in uneven ones.
    let size = usize::from(data.first().copied().unwrap_or(0) % 32) + 1;
    let mut scan = TrailEventScan::new();
    for chunk in data.chunks(size) {
        scan.feed(chunk);
    }
    assert_eq!(scan.hit(), hit, "chunks of {size}");
    let mut scan = TrailEventScan::new();
    let mut rest = data;
    let mut step = 1;
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(step.min(rest.len()));
        scan.feed(chunk);
        rest = after;
        step = step * 3 % 17 + 1;
    }
    assert_eq!(scan.hit(), hit, "uneven chunks");

    let in_memory = trail_events_in_slice(data, LOG).map(|kept| kept.into_sorted());
    let streamed = trail_events_in_reader(data, LOG).map(|kept| kept.into_sorted());
    // serde_json's slice and reader parsers accept the same documents.
    assert_eq!(in_memory, streamed);

    if let Some((events, _left_out)) = in_memory {
        assert!(events.len() <= MAX_EVENTS_PER_LOG);
        assert!(events.windows(2).all(|pair| pair[0] <= pair[1]), "sorted");
        if !hit && !data.contains(&b'\\') {
            assert!(events.is_empty(), "the prefilter missed {events:?}");
        }
        for event in &events {
            assert_eq!(event.log, LOG);
            let name = format!("\"{}\"", event.kind.event_name());
            assert!(
                data.contains(&b'\\') || data.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} is in the log"
            );
            if !event.trail_name().is_empty() {
                assert!(event.names_trail(event.trail_name()));
            }
            assert!(!event.names_trail(""));
            if event.destination_changed {
                assert_eq!(event.kind, TrailEventKind::UpdateTrail);
            }
        }
    }
});
