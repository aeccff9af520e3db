//! The run's side of [`crate::continuity`], once every folder is done: gaps and tails get the
//! trail event that explains them, tails the digests the trail's other regions prove missing,
//! and, with `--require-continuous`, every gap and tail becomes an integrity failure. Runs
//! after the folders because the evidence crosses them: a trail's events are logged in its
//! home region, and its regions' chains are separate folders.

use super::{ChainResult, Decided};
use crate::continuity::{self, DELIVERY_SLACK};
use crate::digest::ChainId;
use crate::reason::ChainReason;
use crate::report::{is_reported, ChainReport, FileEntry};
use crate::status::{FileKind, Status};
use crate::trail_events::TrailEvent;

/// Applies what the whole run knows to every chain's gaps and tail (see the module's
/// documentation). New verdicts (digests proven missing) are handed to `on_decided` and kept
/// with their chain when the report shows them. `events` sorted by time.
pub(super) fn settle(
    chains: &mut [ChainResult],
    events: &[TrailEvent],
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
        let Some((region, through)) = other else {
            continue;
        };
        let Some(tail) = chain.report.tail.as_ref() else {
            continue;
        };
        if tail.explained.is_some() {
            continue;
        }
        let id = chain_id(&chain.report);
        let (start, end, already) = (tail.start, tail.end, tail.missing_digests);
        // Every hour the other region delivered through, whose digest is due.
        let owed = (1..)
            .map(|h| (h, continuity::hour_end(start, h)))
            .take_while(|(_, hour_end)| {
                *hour_end <= through && hour_end.unix() + DELIVERY_SLACK <= end.unix()
            })
            .last()
            .map_or(0, |(h, _)| h);
        if owed <= already {
            continue; // the other region ended within the hour: it proves nothing here
        }
        let mut added = 0;
        for h in already + 1..=owed {
            let hour_end = continuity::hour_end(start, h);
            let entry = FileEntry::new(
                FileKind::Digest,
                &chain.report.bucket,
                &id.digest_key(hour_end),
                Status::NotFound,
            )
            .with_detail(ChainReason::OwedByOtherRegion {
                last_end: start,
                hour_end,
                region: region.clone(),
                through,
            });
            chain.report.digests.add(entry.status);
            added += 1;
            if is_reported(entry.status, verbose) {
                on_decided(Decided::File(&entry));
                chain.files.push(entry);
            }
        }
        if let Some(tail) = chain.report.tail.as_mut() {
            tail.missing_digests += added;
            tail.evidence
                .push(continuity::TailEvidence::OtherRegion { region, through });
        }
        chain
            .files
            .sort_by(|a, b| (&a.bucket, &a.key, a.kind).cmp(&(&b.bucket, &b.key, b.kind)));
    }
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
