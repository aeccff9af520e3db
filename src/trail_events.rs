//! CloudTrail's own management events about trails, found in the log files it delivers:
//! `StopLogging`, `StartLogging`, `DeleteTrail`, `CreateTrail` and `UpdateTrail`. A gap in a
//! digest chain is expected when one of them (in a verified log) says logging or validation was
//! stopped, or the trail was moved, deleted or re-created.
//!
//! The log check hands every inflated log here, so the common case (a log that holds none of
//! these events: nearly all of them) must cost next to nothing: [`TrailEventScan`] looks for
//! the five event names, quoted as JSON writes them, and only a log where one appears is
//! parsed ([`trail_events_in_slice`], [`trail_events_in_reader`]). The parse walks the
//! `Records` array one record at a time, so a huge log never sits in memory as a JSON tree.
//! Logs are written by CloudTrail and verified by their digest's hash before anything found
//! in them counts, so the names appear as CloudTrail writes them (never `\u`-escaped).
//!
//! What is kept is bounded ([`KeptTrailEvents`]): a log, a chain or a run full of `UpdateTrail`
//! calls (automation applying the same configuration every few minutes) keeps the events that
//! matter most and counts the others.

use std::fmt;
use std::io::Read;
use std::sync::LazyLock;

use memchr::memmem;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::UtcTime;

/// The `eventSource` of CloudTrail's own API calls.
const CLOUDTRAIL_EVENT_SOURCE: &str = "cloudtrail.amazonaws.com";

/// Events kept from one log file.
pub const MAX_EVENTS_PER_LOG: usize = 32;
/// Events kept for one chain (over all its logs).
pub(crate) const MAX_EVENTS_PER_CHAIN: usize = 256;
/// Events kept for a whole run (over all its chains).
pub(crate) const MAX_EVENTS_PER_RUN: usize = 4096;

/// Which of CloudTrail's trail management calls an event records.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub enum TrailEventKind {
    /// `StopLogging`: the trail stops delivering logs (and digests).
    StopLogging,
    /// `StartLogging`: the trail delivers again; a new digest chain starts.
    StartLogging,
    /// `DeleteTrail`: the trail is gone, and so are its deliveries.
    DeleteTrail,
    /// `CreateTrail`: a trail (perhaps of a name used before) is made.
    CreateTrail,
    /// `UpdateTrail` that turns log-file validation on or off, or changes where or from which
    /// regions the trail delivers (other updates are not kept).
    UpdateTrail,
}

impl TrailEventKind {
    /// Every kind, in declaration order.
    pub const ALL: [TrailEventKind; 5] = [
        TrailEventKind::StopLogging,
        TrailEventKind::StartLogging,
        TrailEventKind::DeleteTrail,
        TrailEventKind::CreateTrail,
        TrailEventKind::UpdateTrail,
    ];

    /// The `eventName` CloudTrail writes for it.
    pub fn event_name(self) -> &'static str {
        match self {
            TrailEventKind::StopLogging => "StopLogging",
            TrailEventKind::StartLogging => "StartLogging",
            TrailEventKind::DeleteTrail => "DeleteTrail",
            TrailEventKind::CreateTrail => "CreateTrail",
            TrailEventKind::UpdateTrail => "UpdateTrail",
        }
    }

    /// The kind whose `eventName` is exactly `name`.
    pub fn from_event_name(name: &str) -> Option<TrailEventKind> {
        TrailEventKind::ALL
            .into_iter()
            .find(|kind| kind.event_name() == name)
    }
}

impl fmt::Display for TrailEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event_name())
    }
}

/// One successful trail management call, as recorded in a verified log file.
///
/// Ordered by time first (then kind, trail, and the rest), so a sorted list reads as a
/// timeline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct TrailEvent {
    /// `eventTime`: when the call was made.
    pub time: UtcTime,
    /// `eventName`.
    pub kind: TrailEventKind,
    /// `requestParameters.name` as the caller wrote it: a trail name or a trail ARN (see
    /// [`TrailEvent::names_trail`]).
    pub trail: String,
    /// `userIdentity.arn`: who made the call, when the record says.
    pub principal: Option<String>,
    /// `requestParameters.enableLogFileValidation` of a `CreateTrail` or `UpdateTrail`, when
    /// the call set it.
    pub validation: Option<bool>,
    /// `requestParameters.isMultiRegionTrail` of a `CreateTrail` or `UpdateTrail`, when the call
    /// set it.
    pub multi_region: Option<bool>,
    /// An `UpdateTrail` that sets `s3BucketName` or `s3KeyPrefix`: logs and digests go
    /// elsewhere from then on.
    pub destination_changed: bool,
    /// `awsRegion`: the region the call was made in.
    pub region: Option<String>,
    /// `eventID`: CloudTrail's identifier of the event (the same event delivered twice has the
    /// same one).
    pub event_id: Option<String>,
    /// The log file holding it, `s3://BUCKET/KEY`.
    pub log: String,
}

impl TrailEvent {
    /// Whether the call was about the trail called `name`: `trail` is that name, or an ARN
    /// whose resource is `trail/NAME` (`arn:PARTITION:cloudtrail:REGION:ACCOUNT:trail/NAME`).
    pub fn names_trail(&self, name: &str) -> bool {
        !name.is_empty() && self.trail_name() == name
    }

    /// The trail's name: `trail` itself, or the name in a trail ARN.
    pub fn trail_name(&self) -> &str {
        trail_name_of(&self.trail)
    }

    /// Events the cap keeps before others: those that stop or start a chain (and an update that
    /// turns validation off) outrank other updates.
    fn rank(&self) -> u8 {
        match self.kind {
            // Turning validation off or on stops or starts a chain; moving the delivery or
            // dropping regions matters less often.
            TrailEventKind::UpdateTrail if self.validation.is_none() => 1,
            _ => 0,
        }
    }

    /// Whether `self` and `other` record the same call (delivered in two logs, or seen by two
    /// chains).
    fn same_call(&self, other: &TrailEvent) -> bool {
        match (&self.event_id, &other.event_id) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }
}

/// The trail name in `trail`: an ARN's `trail/NAME` resource, or `trail` as it is.
fn trail_name_of(trail: &str) -> &str {
    let mut parts = trail.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_partition), Some("cloudtrail"), Some(_), Some(_), Some(resource)) => {
            resource.strip_prefix("trail/").unwrap_or(trail)
        }
        _ => trail,
    }
}

// --- The prefilter ----------------------------------------------------------------------------

/// The five event names as JSON writes them, quotes included (so that `"PutBucketLogging"` or
/// `"StopLoggingX"` do not match). Searched for as two endings that they share, each pass with
/// memchr's SIMD search, then checked backwards at each match: two passes over a log instead of
/// five (five cost about 15% of inflating and hashing it, two about 6%).
const ENDINGS: [(&[u8], &[&[u8]]); 2] = [
    (b"Logging\"", &[b"\"Stop", b"\"Start"]),
    (b"eTrail\"", &[b"\"Delet", b"\"Creat", b"\"Updat"]),
];

static ENDING_FINDERS: LazyLock<[memmem::Finder<'static>; 2]> =
    LazyLock::new(|| ENDINGS.map(|(ending, _)| memmem::Finder::new(ending)));

/// The longest quoted name, in bytes (`"StartLogging"`).
const LONGEST_NEEDLE: usize = 14;

/// Whether `bytes` may hold a trail event: one of the five event names appears, quoted. A
/// `false` is certain; a `true` needs the parse to say.
pub fn may_hold_trail_events(bytes: &[u8]) -> bool {
    ENDINGS
        .iter()
        .zip(ENDING_FINDERS.iter())
        .any(|((_, starts), finder)| {
            finder.find_iter(bytes).any(|at| {
                let before = &bytes[..at];
                starts.iter().any(|start| before.ends_with(start))
            })
        })
}

/// [`may_hold_trail_events`] over bytes that arrive in chunks: a name split between two
/// chunks is found too.
#[derive(Debug, Default)]
pub struct TrailEventScan {
    /// The last bytes of what was fed (fewer than the longest needle), where a name may begin.
    tail: Vec<u8>,
    hit: bool,
}

impl TrailEventScan {
    /// A scan that has seen nothing.
    pub fn new() -> TrailEventScan {
        TrailEventScan::default()
    }

    /// Looks at the next bytes. Once a name was found, the rest is not looked at.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.hit || chunk.is_empty() {
            return;
        }
        // What may be the start of a name: fewer bytes than the longest one.
        let keep = LONGEST_NEEDLE - 1;
        if !self.tail.is_empty() {
            // Only the names that start in the tail and end in this chunk are new here.
            let mut seam = std::mem::take(&mut self.tail);
            seam.extend_from_slice(&chunk[..chunk.len().min(keep)]);
            if may_hold_trail_events(&seam) {
                self.hit = true;
                return;
            }
            if chunk.len() <= keep {
                // The whole chunk was in the seam: its end is the new tail.
                seam.drain(..seam.len().saturating_sub(keep));
                self.tail = seam;
                return;
            }
        }
        if may_hold_trail_events(chunk) {
            self.hit = true;
            return;
        }
        self.tail
            .extend_from_slice(&chunk[chunk.len().saturating_sub(keep)..]);
    }

    /// Whether a name appeared in what was fed.
    pub fn hit(&self) -> bool {
        self.hit
    }
}

// --- The parse --------------------------------------------------------------------------------

/// The events of one log (or of a chain, or a run), at most a cap of them: when there are more,
/// those that start or stop a chain are kept before other updates, and earlier ones before
/// later ones, whatever order they arrive in; the others are counted.
#[derive(Debug, Clone)]
pub struct KeptTrailEvents {
    events: Vec<TrailEvent>,
    left_out: u64,
    cap: usize,
}

impl KeptTrailEvents {
    /// An empty collection keeping at most `cap` events.
    pub fn with_cap(cap: usize) -> KeptTrailEvents {
        KeptTrailEvents {
            events: Vec::new(),
            left_out: 0,
            cap,
        }
    }

    /// Adds one event.
    pub fn push(&mut self, event: TrailEvent) {
        self.events.push(event);
        self.compact_when_full();
    }

    /// Adds what `other` kept and counts what it left out.
    pub fn absorb(&mut self, other: KeptTrailEvents) {
        self.absorb_parts(other.events, other.left_out);
    }

    /// Adds `events`, and `left_out` events already left out.
    pub fn absorb_parts(&mut self, events: Vec<TrailEvent>, left_out: u64) {
        self.left_out += left_out;
        for event in events {
            self.push(event);
        }
    }

    /// Whether nothing was found (kept or left out).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.left_out == 0
    }

    /// The kept events sorted by time, each call once, and how many were left out (an upper
    /// bound: a call delivered twice may be counted twice).
    pub fn into_sorted(mut self) -> (Vec<TrailEvent>, u64) {
        self.compact();
        self.events.sort();
        (self.events, self.left_out)
    }

    /// Amortized: the cap is enforced once the list holds twice as many.
    fn compact_when_full(&mut self) {
        if self.events.len() >= self.cap.saturating_mul(2).max(1) {
            self.compact();
        }
    }

    /// Drops repeated calls (keeping the copy in the log whose address sorts first), then
    /// everything past the cap.
    fn compact(&mut self) {
        // Copies of one call are adjacent in this order, the log that sorts first leading.
        self.events
            .sort_by(|a, b| (&a.event_id, a).cmp(&(&b.event_id, b)));
        self.events
            .dedup_by(|later, earlier| later.same_call(earlier));
        if self.events.len() > self.cap {
            self.events
                .sort_by(|a, b| (a.rank(), a).cmp(&(b.rank(), b)));
            self.left_out += (self.events.len() - self.cap) as u64;
            self.events.truncate(self.cap);
        }
    }
}

/// The trail events in an inflated log file held in memory (`log` is its `s3://BUCKET/KEY`).
/// `None` when the file is not a CloudTrail log document (`{"Records":[...]}`): it then holds
/// no event that can be trusted, and that is no error of the log's (its hash decides its
/// verdict).
pub fn trail_events_in_slice(inflated: &[u8], log: &str) -> Option<KeptTrailEvents> {
    let mut deserializer = serde_json::Deserializer::from_slice(inflated);
    parse_log_document(&mut deserializer, log)
}

/// [`trail_events_in_slice`] over a reader of inflated bytes, one record at a time: memory
/// holds one record, whatever the size of the log. Reading stops at the end of the document
/// or at the first error (a buffer's worth past it, at most); the caller drains the rest.
pub fn trail_events_in_reader<R: Read>(inflated: R, log: &str) -> Option<KeptTrailEvents> {
    // serde_json reads a byte at a time: buffered, or the parse would crawl.
    let buffered = std::io::BufReader::with_capacity(64 * 1024, inflated);
    let mut deserializer = serde_json::Deserializer::from_reader(buffered);
    parse_log_document(&mut deserializer, log)
}

fn parse_log_document<'de, R: serde_json::de::Read<'de>>(
    deserializer: &mut serde_json::Deserializer<R>,
    log: &str,
) -> Option<KeptTrailEvents> {
    let mut found = KeptTrailEvents::with_cap(MAX_EVENTS_PER_LOG);
    LogDocument {
        log,
        found: &mut found,
    }
    .deserialize(&mut *deserializer)
    .ok()?;
    // Only white space may follow the document.
    deserializer.end().ok()?;
    Some(found)
}

/// The log document `{"Records":[...]}`, visited without building it.
struct LogDocument<'a> {
    log: &'a str,
    found: &'a mut KeptTrailEvents,
}

impl<'de> DeserializeSeed<'de> for LogDocument<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogDocument<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log document {\"Records\":[...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                map.next_value_seed(Records {
                    log: self.log,
                    found: &mut *self.found,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `Records` array, one record at a time.
struct Records<'a> {
    log: &'a str,
    found: &'a mut KeptTrailEvents,
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut records: A) -> Result<(), A::Error> {
        while let Some(record) = records.next_element::<RecordFields>()? {
            if let Some(event) = record.trail_event(self.log) {
                self.found.push(event);
            }
        }
        Ok(())
    }
}

/// The fields of a record a trail event needs; the others are skipped unparsed. Each is a
/// `Value` so that a field of an unexpected type makes that record no event, rather than the
/// whole log unreadable.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordFields {
    event_source: Option<Value>,
    event_name: Option<Value>,
    event_time: Option<Value>,
    error_code: Option<Value>,
    user_identity: Option<Value>,
    request_parameters: Option<Value>,
    aws_region: Option<Value>,
    #[serde(rename = "eventID")]
    event_id: Option<Value>,
}

impl RecordFields {
    /// The trail event this record is, if it is one: a call to CloudTrail that succeeded (a
    /// failed `StopLogging` stopped nothing), at a time CloudTrail's form gives, naming a trail.
    fn trail_event(self, log: &str) -> Option<TrailEvent> {
        if self.event_source.as_ref()?.as_str()? != CLOUDTRAIL_EVENT_SOURCE {
            return None;
        }
        if self.error_code.is_some() {
            return None;
        }
        let kind = TrailEventKind::from_event_name(self.event_name.as_ref()?.as_str()?)?;
        let time = UtcTime::parse_field(self.event_time.as_ref()?.as_str()?).ok()?;
        let parameters = self.request_parameters.as_ref()?;
        let trail = parameters.get("name")?.as_str()?.to_string();
        let configures = matches!(
            kind,
            TrailEventKind::CreateTrail | TrailEventKind::UpdateTrail
        );
        let flag = |name: &str| {
            configures
                .then(|| parameters.get(name).and_then(Value::as_bool))
                .flatten()
        };
        let sets = |name: &str| parameters.get(name).is_some_and(|v| !v.is_null());
        let event = TrailEvent {
            time,
            kind,
            trail,
            principal: self
                .user_identity
                .as_ref()
                .and_then(|identity| identity.get("arn"))
                .and_then(Value::as_str)
                .map(str::to_string),
            validation: flag("enableLogFileValidation"),
            multi_region: flag("isMultiRegionTrail"),
            destination_changed: kind == TrailEventKind::UpdateTrail
                && (sets("s3BucketName") || sets("s3KeyPrefix")),
            region: self
                .aws_region
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_string),
            event_id: self
                .event_id
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_string),
            log: log.to_string(),
        };
        // An update that changes none of validation, regions or destination cannot explain a
        // gap (e.g. a new CloudWatch Logs group): not kept.
        let explains_a_gap = kind != TrailEventKind::UpdateTrail
            || event.validation.is_some()
            || event.multi_region.is_some()
            || event.destination_changed;
        explains_a_gap.then_some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOG: &str = "s3://bucket/AWSLogs/111122223333/CloudTrail/us-east-1/log.json.gz";

    fn record(source: &str, name: &str, parameters: Value) -> Value {
        json!({
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": "arn:aws:iam::111122223333:user/alice",
                "accountId": "111122223333"
            },
            "eventTime": "2024-05-01T10:20:30Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "requestParameters": parameters,
            "responseElements": null,
            "eventID": format!("id-{name}"),
            "readOnly": false
        })
    }

    fn log_of(records: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({ "Records": records })).expect("JSON")
    }

    fn events(bytes: &[u8]) -> Vec<TrailEvent> {
        trail_events_in_slice(bytes, LOG)
            .expect("a log document")
            .into_sorted()
            .0
    }

    #[test]
    fn finds_a_stop_logging_call() {
        let bytes = log_of(&[
            record("s3.amazonaws.com", "GetObject", json!({"bucketName": "b"})),
            record(
                "cloudtrail.amazonaws.com",
                "StopLogging",
                json!({"name": "my-trail"}),
            ),
        ]);
        assert!(may_hold_trail_events(&bytes));
        let found = events(&bytes);
        assert_eq!(
            found,
            vec![TrailEvent {
                time: UtcTime::parse_field("2024-05-01T10:20:30Z").expect("time"),
                kind: TrailEventKind::StopLogging,
                trail: "my-trail".into(),
                principal: Some("arn:aws:iam::111122223333:user/alice".into()),
                validation: None,
                multi_region: None,
                destination_changed: false,
                region: Some("us-east-1".into()),
                event_id: Some("id-StopLogging".into()),
                log: LOG.into(),
            }]
        );
        // The streaming parse agrees.
        let streamed = trail_events_in_reader(&bytes[..], LOG)
            .expect("a log document")
            .into_sorted()
            .0;
        assert_eq!(streamed, found);
    }

    #[test]
    fn the_prefilter_finds_each_quoted_name_and_nothing_near_it() {
        for kind in TrailEventKind::ALL {
            let quoted = format!("\"{}\"", kind.event_name());
            assert!(quoted.len() <= LONGEST_NEEDLE);
            assert!(may_hold_trail_events(quoted.as_bytes()), "{quoted}");
            assert!(may_hold_trail_events(format!("x{quoted}x").as_bytes()));
            // Not quoted on either side, or a longer name: no.
            let name = kind.event_name();
            for near in [
                format!("\"{name}"),
                format!("{name}\""),
                format!("\"{name}s\""),
                format!("\"Get{name}\""),
            ] {
                assert!(!may_hold_trail_events(near.as_bytes()), "{near}");
            }
        }
        for other in [
            &b"\"GetBucketLogging\""[..],
            b"\"PutBucketLogging\"",
            b"\"GetTrail\"",
            b"\"eTrail\"",
            b"Logging\"",
        ] {
            assert!(!may_hold_trail_events(other));
        }
    }

    #[test]
    fn a_log_without_trail_calls_is_a_miss_of_the_prefilter() {
        let bytes = log_of(&[
            record("s3.amazonaws.com", "GetObject", json!({"bucketName": "b"})),
            record(
                "cloudtrail.amazonaws.com",
                "DescribeTrails",
                json!({"trailNameList": []}),
            ),
        ]);
        assert!(!may_hold_trail_events(&bytes));
        assert!(events(&bytes).is_empty());
    }

    #[test]
    fn a_name_split_between_chunks_is_found() {
        let bytes = log_of(&[record(
            "cloudtrail.amazonaws.com",
            "StartLogging",
            json!({"name": "t"}),
        )]);
        let at = bytes
            .windows(14)
            .position(|w| w == b"\"StartLogging\"")
            .expect("the name is there");
        for split in at..at + 15 {
            let mut scan = TrailEventScan::new();
            scan.feed(&bytes[..split]);
            scan.feed(&bytes[split..]);
            assert!(scan.hit(), "split at {split}");
        }
        // Byte by byte, the tail carries a name over many tiny chunks.
        let mut scan = TrailEventScan::new();
        for byte in &bytes {
            scan.feed(std::slice::from_ref(byte));
        }
        assert!(scan.hit());
        // And a miss stays a miss, whatever the chunks.
        let miss = log_of(&[record("s3.amazonaws.com", "GetObject", json!({}))]);
        let mut scan = TrailEventScan::new();
        for chunk in miss.chunks(5) {
            scan.feed(chunk);
        }
        assert!(!scan.hit());
    }

    #[test]
    fn a_failed_call_is_no_event() {
        let mut failed = record(
            "cloudtrail.amazonaws.com",
            "StopLogging",
            json!({"name": "my-trail"}),
        );
        failed["errorCode"] = json!("AccessDenied");
        failed["errorMessage"] = json!("User is not authorized to perform StopLogging");
        let bytes = log_of(&[failed]);
        assert!(may_hold_trail_events(&bytes));
        assert!(events(&bytes).is_empty());
    }

    #[test]
    fn another_services_calls_of_similar_names_are_no_events() {
        let bytes = log_of(&[
            record(
                "s3.amazonaws.com",
                "PutBucketLogging",
                json!({"bucketName": "b"}),
            ),
            // The exact name, from another service: not CloudTrail's call.
            record(
                "lightsail.amazonaws.com",
                "StopLogging",
                json!({"name": "x"}),
            ),
        ]);
        assert!(!may_hold_trail_events(&log_of(&[record(
            "s3.amazonaws.com",
            "PutBucketLogging",
            json!({})
        )])));
        assert!(events(&bytes).is_empty());
    }

    #[test]
    fn names_a_trail_by_name_or_by_arn() {
        let bytes = log_of(&[
            record(
                "cloudtrail.amazonaws.com",
                "DeleteTrail",
                json!({"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/prod"}),
            ),
            record(
                "cloudtrail.amazonaws.com",
                "StopLogging",
                json!({"name": "prod"}),
            ),
        ]);
        let found = events(&bytes);
        assert_eq!(found.len(), 2);
        for event in &found {
            assert!(event.names_trail("prod"), "{event:?}");
            assert!(!event.names_trail("pro"), "{event:?}");
            assert!(!event.names_trail("prod2"), "{event:?}");
            assert!(!event.names_trail(""), "{event:?}");
            assert_eq!(event.trail_name(), "prod");
        }
        // Same time: in kind order, so the stop comes first.
        assert_eq!(found[1].kind, TrailEventKind::DeleteTrail);
        assert_eq!(
            found[1].trail,
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/prod"
        );
        // An ARN of another service, or another resource type, is not a trail's.
        let other = TrailEvent {
            trail: "arn:aws:s3:us-east-1:111122223333:trail/prod".into(),
            ..found[0].clone()
        };
        assert!(!other.names_trail("prod"));
        let eventdatastore = TrailEvent {
            trail: "arn:aws-cn:cloudtrail:cn-north-1:111122223333:eventdatastore/prod".into(),
            ..found[0].clone()
        };
        assert!(!eventdatastore.names_trail("prod"));
    }

    #[test]
    fn malformed_json_yields_no_event_and_no_error() {
        let good = log_of(&[record(
            "cloudtrail.amazonaws.com",
            "StopLogging",
            json!({"name": "t"}),
        )]);
        let cut = &good[..good.len() - 3];
        assert!(may_hold_trail_events(cut));
        assert!(trail_events_in_slice(cut, LOG).is_none());
        assert!(trail_events_in_reader(cut, LOG).is_none());
        let mut trailing = good.clone();
        trailing.extend_from_slice(b" {}");
        assert!(trail_events_in_slice(&trailing, LOG).is_none());
        for not_a_log in [
            &b"[\"StopLogging\"]"[..],
            b"{\"Records\": \"StopLogging\"}",
            b"{\"Records\": [\"StopLogging\"]}",
            b"\"StopLogging\"",
        ] {
            assert!(trail_events_in_slice(not_a_log, LOG).is_none());
        }
        // A field of an unexpected type makes that record no event, not the log unreadable.
        let odd = log_of(&[
            record(
                "cloudtrail.amazonaws.com",
                "StopLogging",
                json!({"name": 7}),
            ),
            record(
                "cloudtrail.amazonaws.com",
                "StartLogging",
                json!({"name": "t"}),
            ),
        ]);
        let found = events(&odd);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, TrailEventKind::StartLogging);
    }

    #[test]
    fn updates_keep_what_they_change_and_others_are_dropped() {
        let bytes = log_of(&[
            record(
                "cloudtrail.amazonaws.com",
                "UpdateTrail",
                json!({"name": "t", "enableLogFileValidation": false}),
            ),
            record(
                "cloudtrail.amazonaws.com",
                "UpdateTrail",
                json!({"name": "t", "s3KeyPrefix": ""}),
            ),
            record(
                "cloudtrail.amazonaws.com",
                "UpdateTrail",
                json!({"name": "t", "cloudWatchLogsLogGroupArn": "arn:aws:logs:..."}),
            ),
            record(
                "cloudtrail.amazonaws.com",
                "CreateTrail",
                json!({"name": "t", "s3BucketName": "b", "isMultiRegionTrail": true,
                       "enableLogFileValidation": true}),
            ),
        ]);
        // Distinct ids, so that the three updates are three calls.
        let mut document: Value = serde_json::from_slice(&bytes).expect("JSON");
        for (i, record) in document["Records"]
            .as_array_mut()
            .expect("records")
            .iter_mut()
            .enumerate()
        {
            record["eventID"] = json!(format!("id-{i}"));
        }
        let found = events(&serde_json::to_vec(&document).expect("JSON"));
        let mut summary: Vec<_> = found
            .iter()
            .map(|e| (e.kind, e.validation, e.multi_region, e.destination_changed))
            .collect();
        summary.sort();
        let mut expected = vec![
            (TrailEventKind::UpdateTrail, Some(false), None, false),
            (TrailEventKind::UpdateTrail, None, None, true),
            // CreateTrail's bucket is where it starts, not a change.
            (TrailEventKind::CreateTrail, Some(true), Some(true), false),
        ];
        expected.sort();
        assert_eq!(summary, expected);
    }

    #[test]
    fn the_cap_keeps_stops_and_starts_before_updates_and_counts_the_rest() {
        let at = UtcTime::parse_field("2024-05-01T00:00:00Z").expect("time");
        let event = |i: i64, kind| TrailEvent {
            time: at.plus_seconds(i),
            kind,
            trail: "t".into(),
            principal: None,
            validation: None,
            multi_region: None,
            destination_changed: true,
            region: None,
            event_id: Some(format!("id-{i}")),
            log: LOG.into(),
        };
        let mut kept = KeptTrailEvents::with_cap(4);
        for i in 0..100 {
            kept.push(event(i, TrailEventKind::UpdateTrail));
        }
        kept.push(event(1000, TrailEventKind::StopLogging));
        // The same call again, from another log: once.
        kept.push(TrailEvent {
            log: "s3://bucket/other".into(),
            ..event(1000, TrailEventKind::StopLogging)
        });
        let (events, left_out) = kept.into_sorted();
        let times: Vec<i64> = events.iter().map(|e| e.time.unix() - at.unix()).collect();
        assert_eq!(times, vec![0, 1, 2, 1000]);
        assert_eq!(events[3].kind, TrailEventKind::StopLogging);
        assert_eq!(events[3].log, LOG, "the copy in the log that sorts first");
        assert_eq!(left_out, 97);
    }

    #[test]
    fn a_log_of_many_updates_keeps_the_per_log_cap() {
        let records: Vec<Value> = (0..1000)
            .map(|i| {
                let mut r = record(
                    "cloudtrail.amazonaws.com",
                    "UpdateTrail",
                    json!({"name": "t", "enableLogFileValidation": true}),
                );
                r["eventID"] = json!(format!("id-{i}"));
                r
            })
            .collect();
        let (events, left_out) = trail_events_in_slice(&log_of(&records), LOG)
            .expect("a log")
            .into_sorted();
        assert_eq!(events.len(), MAX_EVENTS_PER_LOG);
        assert_eq!(left_out, (1000 - MAX_EVENTS_PER_LOG) as u64);
    }
}
