//! Where a chain has no digests, and what that means.
//!
//! CloudTrail delivers a digest every hour for every region of a trail while it logs, empty or
//! not. So hours without a digest are either hours logging (or validation) was off, or
//! evidence removed. A chain's *gaps* are the hours between a segment's last digest and the
//! next segment's starting digest; its *tail* is the hours from its newest digest to the end of
//! the range. Neither is tampering by itself, but neither may pass unmentioned:
//! - what says digests should be there turns hours into `not_found` digests: log files
//!   delivered in them (their names carry the minute), or the same trail's other regions
//!   delivering on ([`hours_owed`], [`other_regions_run_on`]);
//! - what says why they are not is the trail's own `StopLogging`, `StartLogging`,
//!   `DeleteTrail`, `CreateTrail` or `UpdateTrail` event in a verified log ([`explain_gap`],
//!   [`explain_tail`]);
//! - with `--require-continuous`, any gap or tail is an integrity failure, explained or not.

use serde::Serialize;

use crate::report::{ChainReport, TimeRange};
use crate::time::UtcTime;
use crate::trail_events::{TrailEvent, TrailEventKind};

/// CloudTrail delivers one digest per region per hour while the trail logs.
pub const DIGEST_INTERVAL: i64 = 3600;

/// How late a digest may arrive after its end time before its absence counts: CloudTrail
/// usually delivers within minutes, but a run on a schedule must not call a digest that is
/// merely late missing.
pub const DELIVERY_SLACK: i64 = 3600;

/// Log files delivered this soon after a segment's last digest may be the last of the logs
/// written before logging stopped, which the final digest need not list: they are reported,
/// but do not by themselves prove a digest is missing.
pub const STRAGGLER_GRACE: i64 = 900;

/// How far an event may lie from the edge of the hours it explains: a digest covers up to an
/// hour, and the event that stopped logging is in the last hour or just after it.
const EXPLAIN_WINDOW: i64 = DIGEST_INTERVAL + STRAGGLER_GRACE;

/// The trail event that explains a gap or a tail, and where it was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Explanation {
    /// The event's `eventName` (`StopLogging`, `UpdateTrail`, ...).
    pub event: TrailEventKind,
    /// Its `eventTime`.
    pub time: UtcTime,
    /// Who made it (`userIdentity.arn`), when the record says.
    pub principal: Option<String>,
    /// The verified log file that holds it (`s3://BUCKET/KEY`).
    pub log: String,
}

impl Explanation {
    fn of(event: &TrailEvent) -> Explanation {
        Explanation {
            event: event.kind,
            time: event.time,
            principal: event.principal.clone(),
            log: event.log.clone(),
        }
    }
}

/// Hours with no digest between two segments of a chain: from the end of a segment's last
/// digest to the start of the next segment's starting digest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gap {
    /// The end of the last digest before it.
    pub start: UtcTime,
    /// The start of the digest that starts the chain again.
    pub end: UtcTime,
    /// The trail event that explains it; `None` (JSON `null`) when nothing in the verified
    /// logs does.
    pub explained: Option<Explanation>,
    /// `--require-continuous` was given: the gap is an integrity failure.
    pub integrity_failure: bool,
}

impl Gap {
    /// A gap nothing explains yet.
    pub fn new(range: TimeRange) -> Gap {
        Gap {
            start: range.start,
            end: range.end,
            explained: None,
            integrity_failure: false,
        }
    }
}

/// What says digests should have followed a chain's newest digest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TailEvidence {
    /// Log files of the account and region were delivered after it.
    Logs {
        /// How many, not counting those delivered too soon after it to prove anything.
        count: usize,
        /// The latest of them (`s3://BUCKET/KEY`).
        latest: String,
    },
    /// The same trail's chain of another region of the same account delivered digests later.
    OtherRegion {
        /// That region.
        region: String,
        /// The end of its newest digest.
        through: UtcTime,
    },
    /// CloudTrail's GetTrailStatus says the trail delivered a digest later.
    TrailStatus {
        /// `LatestDigestDeliveryTime`.
        latest_digest_delivery: UtcTime,
        /// `IsLogging`, when the answer says.
        is_logging: Option<bool>,
    },
}

/// What CloudTrail's GetTrailStatus said about the trail verified (`--trail-arn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailStatus {
    /// The trail's name.
    pub trail: String,
    /// The trail's home region.
    pub home_region: String,
    /// `IsLogging`, when the answer says.
    pub is_logging: Option<bool>,
    /// `LatestDigestDeliveryTime`: when the trail last delivered a digest, in any region.
    pub latest_digest_delivery: Option<UtcTime>,
}

impl TrailStatus {
    /// Whether this is the status of `chain`'s trail.
    pub fn is_of(&self, chain: &ChainReport) -> bool {
        !chain.backfill && (&chain.trail, &chain.home_region) == (&self.trail, &self.home_region)
    }
}

/// The hours from a chain's newest digest to the end of the range, when a digest is overdue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tail {
    /// The chain's newest digest (`s3://BUCKET/KEY`).
    pub last_digest: String,
    /// Its end time: the first hour with no digest starts here.
    pub start: UtcTime,
    /// The end of the range (or the time of the run, when the range ends later).
    pub end: UtcTime,
    /// Whole hours from `start` to `end`.
    pub hours: i64,
    /// How many of those hours are reported as `not_found` digests, on `evidence`.
    pub missing_digests: i64,
    /// What says digests should have followed (empty: nothing does).
    pub evidence: Vec<TailEvidence>,
    /// The trail event that explains why the chain ends; `None` when nothing does.
    pub explained: Option<Explanation>,
    /// `--require-continuous` was given: the tail is an integrity failure.
    pub integrity_failure: bool,
}

/// The tail of a chain whose newest digest (`last_digest`) ends at `last_end`, in a range
/// ending at `range_end`: `None` when the next digest is not due yet.
pub fn tail_of(
    last_digest: String,
    last_end: UtcTime,
    range_end: UtcTime,
    now: UtcTime,
) -> Option<Tail> {
    let end = range_end.min(now);
    let seconds = end.unix() - last_end.unix();
    (seconds >= DIGEST_INTERVAL + DELIVERY_SLACK).then(|| Tail {
        last_digest,
        start: last_end,
        end,
        hours: seconds / DIGEST_INTERVAL,
        missing_digests: 0,
        evidence: Vec::new(),
        explained: None,
        integrity_failure: false,
    })
}

/// The end time CloudTrail would have given the `hour`-th digest after one ending at
/// `after` (hour 1 is the next one).
pub fn hour_end(after: UtcTime, hour: i64) -> UtcTime {
    after.plus_seconds(hour * DIGEST_INTERVAL)
}

/// How many hourly digests after `span_start` (a segment's last digest's end) the logs
/// delivered at `minutes` prove were written: each log was delivered while logging was on, so
/// the digest of its hour, and (the chain being hourly) every one before it, should be there.
/// Logs within [`STRAGGLER_GRACE`] of `span_start` prove nothing, and an hour whose digest
/// would not be due by `due_by` (when given) is not counted.
pub fn hours_owed(span_start: UtcTime, minutes: &[UtcTime], due_by: Option<UtcTime>) -> i64 {
    minutes
        .iter()
        .filter(|m| m.unix() - span_start.unix() > STRAGGLER_GRACE)
        .map(|&m| hour_of(span_start, m))
        .filter(|&hour| is_due(span_start, hour, due_by))
        .max()
        .unwrap_or(0)
}

/// Which hour after `span_start` a log delivered at `minute` belongs to (1: the next digest's).
/// The minute's last second decides: a log in the minute a digest ended may be the next one's.
pub fn hour_of(span_start: UtcTime, minute: UtcTime) -> i64 {
    let into = minute.unix() + 59 - span_start.unix();
    (into + DIGEST_INTERVAL - 1) / DIGEST_INTERVAL
}

/// Whether the `hour`-th digest after `span_start` should have arrived by `due_by` (always,
/// when there is none).
pub fn is_due(span_start: UtcTime, hour: i64, due_by: Option<UtcTime>) -> bool {
    due_by.is_none_or(|due| hour_end(span_start, hour).unix() + DELIVERY_SLACK <= due.unix())
}

/// Events that end a segment: logging stopped, the trail deleted, validation turned off, or
/// the trail no longer delivering here.
fn stops(event: &TrailEvent) -> bool {
    match event.kind {
        TrailEventKind::StopLogging | TrailEventKind::DeleteTrail => true,
        TrailEventKind::UpdateTrail => {
            event.validation == Some(false)
                || event.destination_changed
                || event.multi_region == Some(false)
        }
        TrailEventKind::StartLogging | TrailEventKind::CreateTrail => false,
    }
}

/// Events that start a segment: logging started, the trail created, validation turned on, or
/// the trail delivering somewhere new.
fn starts(event: &TrailEvent) -> bool {
    match event.kind {
        TrailEventKind::StartLogging | TrailEventKind::CreateTrail => true,
        TrailEventKind::UpdateTrail => {
            event.validation == Some(true)
                || event.destination_changed
                || event.multi_region == Some(true)
        }
        TrailEventKind::StopLogging | TrailEventKind::DeleteTrail => false,
    }
}

fn within(t: UtcTime, from: UtcTime, to: UtcTime) -> bool {
    from <= t && t <= to
}

/// The event of `chain`'s trail that explains `gap`: one that stopped it near the gap's
/// start, else one that started it again near its end. `events` sorted by time.
pub fn explain_gap(chain: &ChainReport, gap: &Gap, events: &[TrailEvent]) -> Option<Explanation> {
    let ours = || events.iter().filter(|e| concerns(e, chain));
    let stopped = ours().find(|e| {
        stops(e)
            && within(
                e.time,
                gap.start.plus_seconds(-EXPLAIN_WINDOW),
                gap.end.min(gap.start.plus_seconds(EXPLAIN_WINDOW)),
            )
    });
    let started = || {
        ours().find(|e| {
            starts(e)
                && within(
                    e.time,
                    gap.start.max(gap.end.plus_seconds(-EXPLAIN_WINDOW)),
                    gap.end.plus_seconds(EXPLAIN_WINDOW),
                )
        })
    };
    stopped.or_else(started).map(Explanation::of)
}

/// The event of `chain`'s trail that explains why it ends at `tail.start`: one that stopped it
/// within about an hour of its newest digest.
pub fn explain_tail(
    chain: &ChainReport,
    tail: &Tail,
    events: &[TrailEvent],
) -> Option<Explanation> {
    events
        .iter()
        .filter(|e| concerns(e, chain) && stops(e))
        .find(|e| {
            within(
                e.time,
                tail.start.plus_seconds(-EXPLAIN_WINDOW),
                tail.start.plus_seconds(EXPLAIN_WINDOW),
            )
        })
        .map(Explanation::of)
}

/// Whether `event` is about `chain`'s trail. A multi-region trail's events are made in its
/// home region, so they explain every region's chain; the account is not compared, since an
/// organization trail's events are its management account's.
fn concerns(event: &TrailEvent, chain: &ChainReport) -> bool {
    !chain.backfill && event.names_trail(&chain.trail)
}

/// For each chain (by index in `chains`), the latest end another region's chain of the same
/// trail and account reached, when it is later than this chain's tail starts: that region was
/// still delivering, so this one should have been too.
pub fn other_regions_run_on(chains: &[ChainReport]) -> Vec<Option<(String, UtcTime)>> {
    chains
        .iter()
        .map(|chain| {
            let tail = chain.tail.as_ref()?;
            chains
                .iter()
                .filter(|other| same_trail_elsewhere(chain, other))
                .filter_map(|other| Some((other.region.clone(), other.found?.end)))
                .filter(|(_, through)| *through > tail.start)
                .max_by_key(|(region, through)| (*through, std::cmp::Reverse(region.clone())))
        })
        .collect()
}

fn same_trail_elsewhere(chain: &ChainReport, other: &ChainReport) -> bool {
    !other.backfill
        && other.region != chain.region
        && (
            &other.bucket,
            &other.prefix,
            &other.organization_id,
            &other.account_id,
        ) == (
            &chain.bucket,
            &chain.prefix,
            &chain.organization_id,
            &chain.account_id,
        )
        && (&other.trail, &other.home_region) == (&chain.trail, &chain.home_region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> UtcTime {
        UtcTime::parse_field(text).unwrap()
    }

    #[test]
    fn a_tail_starts_when_the_next_digest_is_overdue() {
        let last = t("2024-06-01T05:05:09Z");
        let url = || "s3://b/k".to_string();
        assert_eq!(
            tail_of(
                url(),
                last,
                t("2024-06-01T06:30:00Z"),
                t("2030-01-01T00:00:00Z")
            ),
            None
        );
        let tail = tail_of(
            url(),
            last,
            t("2024-06-01T08:00:00Z"),
            t("2030-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!((tail.start, tail.hours), (last, 2));
        // A range that ends in the future ends now.
        let tail = tail_of(
            url(),
            last,
            t("2030-01-01T00:00:00Z"),
            t("2024-06-01T09:06:00Z"),
        )
        .unwrap();
        assert_eq!((tail.end, tail.hours), (t("2024-06-01T09:06:00Z"), 4));
    }

    #[test]
    fn logs_after_the_last_digest_owe_the_hours_up_to_theirs() {
        let last = t("2024-06-01T04:05:09Z");
        let late = Some(t("2030-01-01T00:00:00Z"));
        // Stragglers alone prove nothing.
        assert_eq!(hours_owed(last, &[t("2024-06-01T04:12:00Z")], late), 0);
        // Logs 20 and 40 minutes on: the next hour's digest; logs in the hour after: two.
        assert_eq!(
            hours_owed(
                last,
                &[t("2024-06-01T04:25:00Z"), t("2024-06-01T04:45:00Z")],
                late
            ),
            1
        );
        assert_eq!(
            hours_owed(
                last,
                &[t("2024-06-01T04:25:00Z"), t("2024-06-01T05:25:00Z")],
                late
            ),
            2
        );
        // A log in the minute the next digest ends may be the one after's.
        assert_eq!(hours_owed(last, &[t("2024-06-01T05:05:00Z")], late), 2);
        // Not due yet: the hour's digest may still come.
        assert_eq!(
            hours_owed(
                last,
                &[t("2024-06-01T05:25:00Z")],
                Some(t("2024-06-01T06:30:00Z"))
            ),
            0
        );
        assert_eq!(
            hours_owed(
                last,
                &[t("2024-06-01T04:25:00Z"), t("2024-06-01T05:25:00Z")],
                Some(t("2024-06-01T06:30:00Z"))
            ),
            1
        );
    }

    fn chain(region: &str, end: &str) -> ChainReport {
        let id = crate::digest::ChainId {
            prefix: String::new(),
            organization_id: None,
            account_id: "111122223333".into(),
            region: region.into(),
            trail: "audit".into(),
            home_region: "us-east-1".into(),
            backfill: false,
        };
        let mut report = ChainReport::new("bucket", &id);
        let end = t(end);
        report.found = Some(TimeRange {
            start: end.plus_seconds(-5 * DIGEST_INTERVAL),
            end,
        });
        report.tail = tail_of(
            "s3://bucket/newest".into(),
            end,
            t("2024-06-02T00:00:00Z"),
            t("2030-01-01T00:00:00Z"),
        );
        report
    }

    #[test]
    fn another_region_of_the_same_trail_and_account_delivering_later_is_evidence() {
        let east = chain("us-east-1", "2024-06-01T06:05:09Z");
        let west = chain("us-west-2", "2024-06-01T04:02:30Z");
        let mut other_trail = chain("eu-west-1", "2024-06-01T09:00:00Z");
        other_trail.trail = "another".into();
        let mut other_account = chain("eu-west-1", "2024-06-01T09:00:00Z");
        other_account.account_id = "444455556666".into();
        let mut backfill = chain("eu-west-1", "2024-06-01T09:00:00Z");
        backfill.backfill = true;
        let found = other_regions_run_on(&[east, west, other_trail, other_account, backfill]);
        assert_eq!(found[0], None);
        assert_eq!(
            found[1],
            Some(("us-east-1".into(), t("2024-06-01T06:05:09Z")))
        );
        assert_eq!(found[2], None);
        assert_eq!(found[3], None);
    }

    fn event(kind: TrailEventKind, time: &str, trail: &str) -> TrailEvent {
        TrailEvent {
            kind,
            time: t(time),
            principal: Some("arn:aws:iam::111122223333:user/alice".into()),
            trail: trail.into(),
            validation: None,
            multi_region: None,
            destination_changed: false,
            region: Some("us-east-1".into()),
            event_id: None,
            log: "s3://bucket/log.json.gz".into(),
        }
    }

    #[test]
    fn a_gap_is_explained_by_the_trails_own_stop_or_start_near_its_edges() {
        let chain = chain("us-west-2", "2024-06-01T08:00:00Z");
        let gap = Gap::new(TimeRange {
            start: t("2024-06-01T03:05:09Z"),
            end: t("2024-06-01T06:05:09Z"),
        });
        let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/audit";
        let stop = event(TrailEventKind::StopLogging, "2024-06-01T03:40:00Z", arn);
        let start = event(
            TrailEventKind::StartLogging,
            "2024-06-01T06:01:00Z",
            "audit",
        );
        assert_eq!(
            explain_gap(&chain, &gap, &[stop.clone(), start.clone()]).map(|e| e.event),
            Some(TrailEventKind::StopLogging)
        );
        let explained = explain_gap(&chain, &gap, std::slice::from_ref(&start)).unwrap();
        assert_eq!(explained.time, t("2024-06-01T06:01:00Z"));
        assert_eq!(explained.log, "s3://bucket/log.json.gz");
        // Another trail's stop, or one far from the gap, explains nothing.
        let other = event(
            TrailEventKind::StopLogging,
            "2024-06-01T03:40:00Z",
            "another",
        );
        let early = event(TrailEventKind::StopLogging, "2024-05-31T20:00:00Z", "audit");
        assert_eq!(explain_gap(&chain, &gap, &[other, early]), None);
        // UpdateTrail explains only when it changed what matters.
        let mut update = event(TrailEventKind::UpdateTrail, "2024-06-01T03:40:00Z", "audit");
        assert_eq!(
            explain_gap(&chain, &gap, std::slice::from_ref(&update)),
            None
        );
        update.validation = Some(false);
        assert!(explain_gap(&chain, &gap, &[update]).is_some());
    }

    #[test]
    fn a_tail_is_explained_only_by_a_stop_within_the_hour_of_its_start() {
        let chain = chain("us-east-1", "2024-06-01T04:05:09Z");
        let tail = chain.tail.clone().unwrap();
        let stop = event(TrailEventKind::StopLogging, "2024-06-01T04:30:00Z", "audit");
        assert!(explain_tail(&chain, &tail, std::slice::from_ref(&stop)).is_some());
        let late = event(TrailEventKind::StopLogging, "2024-06-01T09:30:00Z", "audit");
        assert_eq!(explain_tail(&chain, &tail, &[late]), None);
        let start = event(
            TrailEventKind::StartLogging,
            "2024-06-01T04:30:00Z",
            "audit",
        );
        assert_eq!(explain_tail(&chain, &tail, &[start]), None);
        let deleted = event(TrailEventKind::DeleteTrail, "2024-06-01T03:30:00Z", "audit");
        assert!(explain_tail(&chain, &tail, &[deleted]).is_some());
    }
}
