//! The run's side of [`crate::continuity`], once every folder is done: gaps and tails get the
//! trail event that explains them; the logs delivered in them, and the trail's other regions
//! (or GetTrailStatus), prove what digests are missing; and, with `--require-continuous`,
//! every gap and tail becomes an integrity failure. Runs after the folders because the
//! evidence crosses them: a trail's calls are logged in its home region, and its regions'
//! chains are separate folders.

use super::{ChainResult, Decided};
use crate::continuity::{self, FoundEvents, LogsAfter, LogsProof, Tail, TailEvidence, TrailStatus};
use crate::digest::ChainId;
use crate::reason::ChainReason;
use crate::report::{is_reported, ChainReport, FileEntry};
use crate::status::{FileKind, Status};
use crate::time::UtcTime;

/// Applies what the whole run knows to every chain's gaps and tail (see the module's
/// documentation). New verdicts (digests proven missing) are handed to `on_decided` and kept
/// with their chain when the report shows them.
pub(crate) fn settle(
    chains: &mut [ChainResult],
    events: &FoundEvents,
    trail_status: Option<&TrailStatus>,
    require_continuous: bool,
    verbose: bool,
    on_decided: &mut dyn FnMut(Decided<'_>),
) {
    for chain in chains.iter_mut() {
        let mut missing = MissingDigests::of(&chain.report);
        let mut gaps = std::mem::take(&mut chain.report.gaps);
        for gap in &mut gaps {
            let found = continuity::explain_gap(&chain.report, gap, events);
            let logs = std::mem::take(&mut gap.logs_after);
            let proof = logs.proof(gap.start, found.map(|(e, _)| e), None);
            missing.owed_by_logs(gap.start, &proof);
            gap.explained = continuity::explanation(found);
            gap.integrity_failure = require_continuous;
        }
        chain.report.gaps = gaps;
        if let Some(mut tail) = chain.report.tail.take() {
            let found = continuity::explain_tail(&chain.report, &tail, events);
            let logs: LogsAfter = std::mem::take(&mut tail.logs_after);
            let proof = logs.proof(tail.start, found.map(|(e, _)| e), Some(tail.end));
            missing.owed_by_logs(tail.start, &proof);
            if let Some(latest) = proof.latest {
                tail.evidence.push(TailEvidence::Logs {
                    count: proof.logs,
                    latest,
                });
            }
            tail.missing_digests = proof.hours.len() as i64;
            tail.explained = continuity::explanation(found);
            tail.integrity_failure = require_continuous;
            chain.report.tail = Some(tail);
        }
        missing.report(chain, verbose, on_decided);
    }
    let reports: Vec<&ChainReport> = chains.iter().map(|c| &c.report).collect();
    let running_on = continuity::other_regions_run_on(&reports);
    for (chain, other) in chains.iter_mut().zip(running_on) {
        // Only a call in a verified log outweighs the other regions: one in a log no digest
        // covers is anyone's to plant.
        let explained = |t: &&Tail| t.explained.as_ref().is_some_and(|e| e.log_verified);
        let Some(tail) = chain.report.tail.as_ref().filter(|t| !explained(t)) else {
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
        let mut missing = MissingDigests::of(&chain.report);
        // A region that stopped years ago would owe thousands: the tail counts them all, the
        // report lists the first ones.
        let listed = owed.min(tail.missing_digests + MAX_LISTED_MISSING);
        for h in tail.missing_digests + 1..=listed {
            let hour_end = continuity::hour_end(tail.start, h);
            missing.add(
                hour_end,
                ChainReason::OwedByTrail {
                    last_end: tail.start,
                    hour_end,
                    evidence: evidence[0].0.clone(),
                },
            );
        }
        if let Some(tail) = chain.report.tail.as_mut() {
            tail.missing_digests = owed;
            tail.evidence.extend(evidence.into_iter().map(|(e, _)| e));
        }
        missing.report(chain, verbose, on_decided);
    }
}

/// The most digests one piece of evidence reports missing one by one.
const MAX_LISTED_MISSING: i64 = 10_000;

/// Digests of one chain found missing once the run is settled: `not_found`, at the key
/// CloudTrail would have given them (their exact key is unknown).
struct MissingDigests {
    id: ChainId,
    bucket: String,
    entries: Vec<FileEntry>,
}

impl MissingDigests {
    fn of(report: &ChainReport) -> MissingDigests {
        MissingDigests {
            id: chain_id(report),
            bucket: report.bucket.clone(),
            entries: Vec::new(),
        }
    }

    fn add(&mut self, hour_end: UtcTime, why: ChainReason) {
        let key = self.id.digest_key(hour_end);
        self.entries.push(
            FileEntry::new(FileKind::Digest, &self.bucket, &key, Status::NotFound).with_detail(why),
        );
    }

    /// The hours after `start` (a segment's end) that logs prove had digests.
    fn owed_by_logs(&mut self, start: UtcTime, proof: &LogsProof) {
        let Some(latest) = &proof.latest else {
            return;
        };
        // Logs years after a chain's end (validation turned off with no call found) would owe
        // thousands: the tail counts them all, the report lists the first ones.
        for &h in proof.hours.iter().take(MAX_LISTED_MISSING as usize) {
            let hour_end = continuity::hour_end(start, h);
            self.add(
                hour_end,
                ChainReason::OwedByLogs {
                    last_end: start,
                    hour_end,
                    latest_log: latest.clone(),
                },
            );
        }
    }

    /// Counts each in `chain`'s report, hands those the report shows to `on_decided` and
    /// keeps them with the chain's files.
    fn report(
        self,
        chain: &mut ChainResult,
        verbose: bool,
        on_decided: &mut dyn FnMut(Decided<'_>),
    ) {
        if self.entries.is_empty() {
            return;
        }
        for entry in self.entries {
            chain.report.digests.add(entry.status);
            if is_reported(entry.status, verbose) {
                on_decided(Decided::File(&entry));
                chain.files.push(entry);
            }
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
