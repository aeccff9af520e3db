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
//!   `DeleteTrail`, `CreateTrail` or `UpdateTrail` call, in a verified log, or else in the
//!   first logs after the edge, which no digest covers ([`explain_gap`], [`explain_tail`]);
//! - with `--require-continuous`, any gap or tail is an integrity failure, explained or not.

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Explanation {
    /// The event's `eventName` (`StopLogging`, `UpdateTrail`, ...).
    pub event: TrailEventKind,
    /// Its `eventTime`.
    pub time: UtcTime,
    /// Who made it (`userIdentity.arn`), when the record says.
    pub principal: Option<String>,
    /// The log file that holds it (`s3://BUCKET/KEY`).
    pub log: String,
    /// Whether that log verified against its digest. An event is looked for in logs no digest
    /// covers only when no verified log explains the edge: delivered after a segment's last
    /// digest, the log of the call that ended it (turning validation off, say) is not digested.
    /// Such an explanation keeps those hours from being called missing digests, but nothing
    /// vouches for it: the logs stay `unverified`.
    pub log_verified: bool,
}

impl Explanation {
    fn of(event: &TrailEvent, log_verified: bool) -> Explanation {
        Explanation {
            event: event.kind,
            time: event.time,
            principal: event.principal.clone(),
            log: event.log.clone(),
            log_verified,
        }
    }
}

/// Trail events found in the run's logs: in logs that verified, and in logs delivered in a gap
/// or tail, which no digest covers.
#[derive(Debug, Default)]
pub struct FoundEvents {
    /// From logs whose hash matched a verified digest's record; sorted by time.
    pub verified: Vec<TrailEvent>,
    /// From logs no digest covers; sorted by time.
    pub unverified: Vec<TrailEvent>,
}

impl FoundEvents {
    /// The event that explains an edge, by `find` (verified logs first), and whether its log
    /// verified.
    fn explain<'a>(
        &'a self,
        find: impl Fn(&'a [TrailEvent]) -> Option<&'a TrailEvent>,
    ) -> Option<(&'a TrailEvent, bool)> {
        find(&self.verified)
            .map(|e| (e, true))
            .or_else(|| find(&self.unverified).map(|e| (e, false)))
    }
}

/// Logs delivered after a segment's last digest, with no digest to cover them: what they
/// prove depends on what explains the edge, known only once every folder is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogsAfter {
    /// Delivery minute and `s3://BUCKET/KEY` of each whose digest is due, by minute.
    pub logs: Vec<(UtcTime, String)>,
}

impl LogsAfter {
    /// What these logs prove, given what explains the edge at `start`: which hourly digests
    /// after it were written, by how many logs. In a tail (`due_by` given: the end of the
    /// range) every hour up to the latest log's ([`hours_owed`]): the chain was running. In a
    /// gap, or after the call that stopped logging, only the hours that hold a log: logging may
    /// have been off between them.
    pub fn proof(
        &self,
        start: UtcTime,
        explained_by: Option<&TrailEvent>,
        due_by: Option<UtcTime>,
    ) -> LogsProof {
        let Some(after) = proving_after(start, explained_by) else {
            return LogsProof::default();
        };
        let stopped = explained_by.is_some_and(ends_logging);
        // After a stop, a later log proves logging started again, not that the old chain ran
        // on: it proves a digest only once a new segment's first digest, covering the hour
        // from its restart, would be due.
        let restart_due = |m: UtcTime| {
            due_by.is_none_or(|due| m.unix() + DIGEST_INTERVAL + DELIVERY_SLACK <= due.unix())
        };
        let proving: Vec<&(UtcTime, String)> = self
            .logs
            .iter()
            .filter(|(m, _)| *m > after && (!stopped || restart_due(*m)))
            .collect();
        let minutes: Vec<UtcTime> = proving.iter().map(|(m, _)| *m).collect();
        let hours: Vec<i64> = if due_by.is_some() && !stopped {
            (1..=hours_owed(start, &minutes, due_by)).collect()
        } else {
            let mut hours: Vec<i64> = minutes.iter().map(|&m| hour_of(start, m)).collect();
            hours.dedup();
            hours
        };
        match proving.last() {
            Some((_, latest)) if !hours.is_empty() => LogsProof {
                hours,
                logs: proving.len(),
                latest: Some(latest.clone()),
            },
            _ => LogsProof::default(),
        }
    }
}

/// What logs delivered after a segment's end prove (see [`LogsAfter::proof`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsProof {
    /// The hours after the end (1: the next digest's) whose digests were written.
    pub hours: Vec<i64>,
    /// The logs that prove it.
    pub logs: usize,
    /// The latest of them (`s3://BUCKET/KEY`).
    pub latest: Option<String>,
}

/// After when a log delivered past a segment's end (`start`) proves logging was on: past the
/// straggler grace after the end, or after the call that stopped logging when one explains
/// it. `None` when the call explains logs going on without digests (validation turned off,
/// delivery moved elsewhere, the region dropped).
pub fn proving_after(start: UtcTime, explained_by: Option<&TrailEvent>) -> Option<UtcTime> {
    match explained_by {
        Some(event) if stops(event) && !ends_logging(event) => None,
        Some(event) if ends_logging(event) => {
            Some(event.time.max(start).plus_seconds(STRAGGLER_GRACE))
        }
        _ => Some(start.plus_seconds(STRAGGLER_GRACE)),
    }
}

/// Whether the event ends the delivery of logs too, not only of digests.
fn ends_logging(event: &TrailEvent) -> bool {
    matches!(
        event.kind,
        TrailEventKind::StopLogging | TrailEventKind::DeleteTrail
    )
}

/// Hours with no digest between two segments of a chain: from the end of a segment's last
/// digest to the start of the next segment's starting digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
    /// Logs delivered in it, until the run settles what they prove. Not reported.
    #[serde(skip)]
    pub logs_after: LogsAfter,
}

impl Gap {
    /// A gap nothing explains yet.
    pub fn new(range: TimeRange) -> Gap {
        Gap {
            start: range.start,
            end: range.end,
            explained: None,
            integrity_failure: false,
            logs_after: LogsAfter::default(),
        }
    }
}

/// What says digests should have followed a chain's newest digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrailStatus {
    /// The trail's name.
    pub trail: String,
    /// The trail's home region.
    pub home_region: String,
    /// The account that owns the trail (from its ARN).
    pub account_id: String,
    /// `IsLogging`, when the answer says.
    pub is_logging: Option<bool>,
    /// `LatestDigestDeliveryTime`: when the trail last delivered a digest, in any region.
    pub latest_digest_delivery: Option<UtcTime>,
}

impl TrailStatus {
    /// Whether this is the status of `chain`'s trail, and says something about the chain.
    /// Not for an organization trail's member chains: `LatestDigestDeliveryTime` is the newest
    /// over every account, and a member that left the organization stops legitimately.
    pub fn is_of(&self, chain: &ChainReport) -> bool {
        !chain.backfill
            && chain.organization_id.is_none()
            && (&chain.trail, &chain.home_region, &chain.account_id)
                == (&self.trail, &self.home_region, &self.account_id)
    }
}

/// The hours from a chain's newest digest to the end of the range, when a digest is overdue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
    /// Logs delivered in it, until the run settles what they prove. Not reported.
    #[serde(skip)]
    pub logs_after: LogsAfter,
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
        logs_after: LogsAfter::default(),
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
/// The caller leaves out the logs that prove nothing ([`proving_after`]); an hour whose digest
/// would not be due by `due_by` (when given) is not counted.
pub fn hours_owed(span_start: UtcTime, minutes: &[UtcTime], due_by: Option<UtcTime>) -> i64 {
    minutes
        .iter()
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

/// The event of `chain`'s trail that explains `gap`, with whether its log verified: one that
/// stopped it near the gap's start, else one that started it again near its end (verified
/// logs first).
pub fn explain_gap<'a>(
    chain: &ChainReport,
    gap: &Gap,
    events: &'a FoundEvents,
) -> Option<(&'a TrailEvent, bool)> {
    // The call that stopped it decides what the logs in the gap prove, so it is looked for
    // first, in verified logs and then in those no digest covers (where it usually is: it is
    // delivered after the final digest); the call that started it again only names the gap.
    let stopped = events.explain(|events| {
        events.iter().filter(|e| concerns(e, chain)).find(|e| {
            stops(e)
                && within(
                    e.time,
                    gap.start.plus_seconds(-EXPLAIN_WINDOW),
                    gap.end.min(gap.start.plus_seconds(EXPLAIN_WINDOW)),
                )
        })
    });
    stopped.or_else(|| {
        events.explain(|events| {
            events.iter().filter(|e| concerns(e, chain)).find(|e| {
                starts(e)
                    && within(
                        e.time,
                        gap.start.max(gap.end.plus_seconds(-EXPLAIN_WINDOW)),
                        gap.end.plus_seconds(EXPLAIN_WINDOW),
                    )
            })
        })
    })
}

/// The event of `chain`'s trail that explains why it ends at `tail.start`, with whether its
/// log verified: one that stopped it within about an hour of its newest digest.
pub fn explain_tail<'a>(
    chain: &ChainReport,
    tail: &Tail,
    events: &'a FoundEvents,
) -> Option<(&'a TrailEvent, bool)> {
    events.explain(|events| {
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
    })
}

/// The explanation of an edge, for the report.
pub fn explanation(found: Option<(&TrailEvent, bool)>) -> Option<Explanation> {
    found.map(|(event, verified)| Explanation::of(event, verified))
}

/// Whether `event` is about `chain`'s trail: the trail it names, made in the trail's home
/// region (a trail is stopped, updated or deleted only there), and, when it names the trail by
/// ARN, the ARN's region and account. A multi-region trail's calls explain every region's
/// chain; an organization trail's are its management account's, so the account is not
/// compared for a member's chain.
fn concerns(event: &TrailEvent, chain: &ChainReport) -> bool {
    if chain.backfill || !event.names_trail(&chain.trail) {
        return false;
    }
    if event
        .region
        .as_deref()
        .is_some_and(|r| r != chain.home_region)
    {
        return false;
    }
    match arn_region_and_account(&event.trail) {
        Some((region, account)) => {
            region == chain.home_region
                && (chain.organization_id.is_some() || account == chain.account_id)
        }
        None => true,
    }
}

/// The region and account of a trail ARN (`arn:PARTITION:cloudtrail:REGION:ACCOUNT:trail/NAME`).
fn arn_region_and_account(trail: &str) -> Option<(&str, &str)> {
    let mut parts = trail.splitn(6, ':');
    let (arn, _, service) = (parts.next()?, parts.next()?, parts.next()?);
    if arn != "arn" || service != "cloudtrail" {
        return None;
    }
    Some((parts.next()?, parts.next()?))
}

/// For each chain (by index in `chains`), the latest end another region's chain of the same
/// trail and account reached, when it is later than this chain's tail starts: that region was
/// still delivering, so this one should have been too.
pub fn other_regions_run_on(chains: &[&ChainReport]) -> Vec<Option<(String, UtcTime)>> {
    // The trail's chains in one account, its regions apart (backfill chains are no evidence).
    let mut trails: std::collections::HashMap<TrailOfAccount<'_>, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, chain) in chains.iter().enumerate() {
        if !chain.backfill {
            trails.entry(TrailOfAccount::of(chain)).or_default().push(i);
        }
    }
    chains
        .iter()
        .map(|chain| {
            let tail = chain.tail.as_ref()?;
            trails
                .get(&TrailOfAccount::of(chain))?
                .iter()
                .map(|&i| chains[i])
                .filter(|other| other.region != chain.region)
                .filter_map(|other| Some((other.found?.end, &other.region)))
                .filter(|(through, _)| *through > tail.start)
                .max_by(|(a, ra), (b, rb)| a.cmp(b).then_with(|| rb.cmp(ra)))
                .map(|(through, region)| (region.clone(), through))
        })
        .collect()
}

/// A trail's chains in one account of one bucket and prefix, whatever their region.
#[derive(PartialEq, Eq, Hash)]
struct TrailOfAccount<'a> {
    bucket: &'a str,
    prefix: &'a str,
    organization_id: Option<&'a str>,
    account_id: &'a str,
    trail: &'a str,
    home_region: &'a str,
}

impl TrailOfAccount<'_> {
    fn of(chain: &ChainReport) -> TrailOfAccount<'_> {
        TrailOfAccount {
            bucket: &chain.bucket,
            prefix: &chain.prefix,
            organization_id: chain.organization_id.as_deref(),
            account_id: &chain.account_id,
            trail: &chain.trail,
            home_region: &chain.home_region,
        }
    }
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
        let found = other_regions_run_on(&[&east, &west, &other_trail, &other_account, &backfill]);
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

    fn verified(events: Vec<TrailEvent>) -> FoundEvents {
        FoundEvents {
            verified: events,
            unverified: Vec::new(),
        }
    }

    #[test]
    fn a_verified_log_explains_first_and_an_unverified_one_says_it_is() {
        let chain = chain("us-east-1", "2024-06-01T04:05:09Z");
        let tail = chain.tail.clone().unwrap();
        let off = TrailEvent {
            validation: Some(false),
            ..event(TrailEventKind::UpdateTrail, "2024-06-01T04:07:00Z", "audit")
        };
        let stop = event(TrailEventKind::StopLogging, "2024-06-01T04:30:00Z", "audit");
        let both = FoundEvents {
            verified: vec![stop],
            unverified: vec![off.clone()],
        };
        let found = explanation(explain_tail(&chain, &tail, &both)).unwrap();
        assert_eq!(
            (found.event, found.log_verified),
            (TrailEventKind::StopLogging, true)
        );
        let only = FoundEvents {
            verified: Vec::new(),
            unverified: vec![off],
        };
        let found = explanation(explain_tail(&chain, &tail, &only)).unwrap();
        assert_eq!(
            (found.event, found.log_verified),
            (TrailEventKind::UpdateTrail, false)
        );
    }

    #[test]
    fn what_logs_after_an_edge_prove_depends_on_what_explains_it() {
        let last = t("2024-06-01T04:05:09Z");
        let logs = LogsAfter {
            logs: ["04:12", "04:25", "05:25", "06:40"]
                .iter()
                .map(|m| (t(&format!("2024-06-01T{m}:00Z")), format!("s3://b/{m}")))
                .collect(),
        };
        // Unexplained: every log past the straggler grace proves its hour.
        let proof = logs.proof(last, None, Some(t("2030-01-01T00:00:00Z")));
        assert_eq!((proof.hours, proof.logs), (vec![1, 2, 3], 3));
        assert_eq!(proof.latest.as_deref(), Some("s3://b/06:40"));
        // Stragglers alone prove nothing.
        let early = LogsAfter {
            logs: logs.logs[..1].to_vec(),
        };
        assert_eq!(early.proof(last, None, None), LogsProof::default());
        // Stopped at 05:10: only logs after 05:25 prove logging went on.
        let stop = event(TrailEventKind::StopLogging, "2024-06-01T05:10:00Z", "audit");
        let proof = logs.proof(last, Some(&stop), None);
        assert_eq!((proof.hours, proof.logs), (vec![3], 1));
        // In a gap, only the hours that hold a log.
        let proof = logs.proof(last, None, None);
        assert_eq!((proof.hours, proof.logs), (vec![1, 2, 3], 3));
        let sparse = LogsAfter {
            logs: vec![(t("2024-06-01T06:40:00Z"), "s3://b/late".into())],
        };
        assert_eq!(sparse.proof(last, None, None).hours, [3]);
        assert_eq!(
            sparse
                .proof(last, None, Some(t("2030-01-01T00:00:00Z")))
                .hours,
            [1, 2, 3]
        );
        // Validation turned off: logs go on without digests, proving nothing.
        let off = TrailEvent {
            validation: Some(false),
            ..event(TrailEventKind::UpdateTrail, "2024-06-01T04:07:00Z", "audit")
        };
        assert_eq!(logs.proof(last, Some(&off), None), LogsProof::default());
        // A start explains nothing about logs before it.
        let start = event(
            TrailEventKind::StartLogging,
            "2024-06-01T07:00:00Z",
            "audit",
        );
        assert_eq!(logs.proof(last, Some(&start), None).hours, [1, 2, 3]);
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
            explain_gap(&chain, &gap, &verified(vec![stop.clone(), start.clone()]))
                .map(|(e, _)| e.kind),
            Some(TrailEventKind::StopLogging)
        );
        let explained =
            explanation(explain_gap(&chain, &gap, &verified(vec![start.clone()]))).unwrap();
        assert_eq!(explained.time, t("2024-06-01T06:01:00Z"));
        assert_eq!(explained.log, "s3://bucket/log.json.gz");
        // Another trail's stop, or one far from the gap, explains nothing.
        let other = event(
            TrailEventKind::StopLogging,
            "2024-06-01T03:40:00Z",
            "another",
        );
        let early = event(TrailEventKind::StopLogging, "2024-05-31T20:00:00Z", "audit");
        assert_eq!(
            explain_gap(&chain, &gap, &verified(vec![other, early])),
            None
        );
        // UpdateTrail explains only when it changed what matters.
        let mut update = event(TrailEventKind::UpdateTrail, "2024-06-01T03:40:00Z", "audit");
        assert_eq!(
            explain_gap(&chain, &gap, &verified(vec![update.clone()])),
            None
        );
        update.validation = Some(false);
        assert!(explain_gap(&chain, &gap, &verified(vec![update])).is_some());
    }

    #[test]
    fn a_tail_is_explained_only_by_a_stop_within_the_hour_of_its_start() {
        let chain = chain("us-east-1", "2024-06-01T04:05:09Z");
        let tail = chain.tail.clone().unwrap();
        let stop = event(TrailEventKind::StopLogging, "2024-06-01T04:30:00Z", "audit");
        assert!(explain_tail(&chain, &tail, &verified(vec![stop.clone()])).is_some());
        let late = event(TrailEventKind::StopLogging, "2024-06-01T09:30:00Z", "audit");
        assert_eq!(explain_tail(&chain, &tail, &verified(vec![late])), None);
        let start = event(
            TrailEventKind::StartLogging,
            "2024-06-01T04:30:00Z",
            "audit",
        );
        assert_eq!(explain_tail(&chain, &tail, &verified(vec![start])), None);
        let deleted = event(TrailEventKind::DeleteTrail, "2024-06-01T03:30:00Z", "audit");
        assert!(explain_tail(&chain, &tail, &verified(vec![deleted])).is_some());
    }
}
