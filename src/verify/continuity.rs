//! The run's side of [`crate::continuity`], once every folder is done: gaps and tails get the
//! trail event that explains them, tails the digests the trail's other regions (or
//! GetTrailStatus) prove missing,
//! and, with `--require-continuous`, every gap and tail becomes an integrity failure. Runs
//! after the folders because the evidence crosses them: a trail's events are logged in its
//! home region, and its regions' chains are separate folders.

use super::{ChainResult, Decided};
use crate::continuity::{self, Tail, TailEvidence, TrailStatus};
use crate::digest::ChainId;
use crate::reason::ChainReason;
use crate::report::{is_reported, ChainReport, FileEntry};
use crate::status::{FileKind, Status};
use crate::time::UtcTime;
use crate::trail_events::TrailEvent;

/// Applies what the whole run knows to every chain's gaps and tail (see the module's
/// documentation). New verdicts (digests proven missing) are handed to `on_decided` and kept
/// with their chain when the report shows them. `events` sorted by time.
pub(super) fn settle(
    chains: &mut [ChainResult],
    events: &[TrailEvent],
    trail_status: Option<&TrailStatus>,
    require_continuous: bool,
    verbose: bool,
    on_decided: &mut dyn FnMut(Decided<'_>),
) {
    for chain in chains.iter_mut() {
        let report = &mut chain.report;
        let explained: Vec<_> = report
            .gaps
            .iter()
            .map(|gap| continuity::explain_gap(report, gap, events))
            .collect();
        for (gap, explained) in report.gaps.iter_mut().zip(explained) {
            gap.explained = explained;
            gap.integrity_failure = require_continuous;
        }
        let explained = report
            .tail
            .as_ref()
            .and_then(|tail| continuity::explain_tail(report, tail, events));
        if let Some(tail) = report.tail.as_mut() {
            tail.explained = explained;
            tail.integrity_failure = require_continuous;
        }
    }
    let reports: Vec<ChainReport> = chains.iter().map(|c| c.report.clone()).collect();
    let running_on = continuity::other_regions_run_on(&reports);
    for (chain, other) in chains.iter_mut().zip(running_on) {
        let Some(tail) = chain.report.tail.as_ref().filter(|t| t.explained.is_none()) else {
            continue;
        };
        // What says the trail delivered after this chain's newest digest, each with how many
        // of the hours since it proves had digests.
        let mut evidence: Vec<(TailEvidence, i64)> = Vec::new();
        if let Some((region, through)) = other {
            let owed = hours_through(tail, through);
            evidence.push((TailEvidence::OtherRegion { region, through }, owed));
        }
        if let Some(status) = trail_status.filter(|s| s.is_of(&chain.report)) {
            if let Some(latest) = status.latest_digest_delivery {
                let owed = hours_through(tail, latest);
                let found = TailEvidence::TrailStatus {
                    latest_digest_delivery: latest,
                    is_logging: status.is_logging,
                };
                evidence.push((found, owed));
            }
        }
        evidence.retain(|(_, owed)| *owed > tail.missing_digests);
        let Some(owed) = evidence.iter().map(|(_, owed)| *owed).max() else {
            continue;
        };
        let (start, already) = (tail.start, tail.missing_digests);
        let id = chain_id(&chain.report);
        for h in already + 1..=owed {
            let hour_end = continuity::hour_end(start, h);
            let entry = FileEntry::new(
                FileKind::Digest,
                &chain.report.bucket,
                &id.digest_key(hour_end),
                Status::NotFound,
            )
            .with_detail(ChainReason::OwedByTrail {
                last_end: start,
                hour_end,
                evidence: evidence[0].0.clone(),
            });
            chain.report.digests.add(entry.status);
            if is_reported(entry.status, verbose) {
                on_decided(Decided::File(&entry));
                chain.files.push(entry);
            }
        }
        if let Some(tail) = chain.report.tail.as_mut() {
            tail.missing_digests = owed;
            tail.evidence.extend(evidence.into_iter().map(|(e, _)| e));
        }
        chain
            .files
            .sort_by(|a, b| (&a.bucket, &a.key, a.kind).cmp(&(&b.bucket, &b.key, b.kind)));
    }
}

/// How many hourly digests after `tail.start` should have been delivered, given the trail
/// delivered a digest at `through`: those ending by then, and due by the end of the range.
fn hours_through(tail: &Tail, through: UtcTime) -> i64 {
    (1..)
        .take_while(|&h| {
            let hour_end = continuity::hour_end(tail.start, h);
            hour_end <= through && continuity::is_due(tail.start, h, Some(tail.end))
        })
        .last()
        .unwrap_or(0)
}

fn chain_id(report: &ChainReport) -> ChainId {
    ChainId {
        prefix: report.prefix.clone(),
        organization_id: report.organization_id.clone(),
        account_id: report.account_id.clone(),
        region: report.region.clone(),
        trail: report.trail.clone(),
        home_region: report.home_region.clone(),
        backfill: report.backfill,
    }
}
