//! `ctverify merge`: the reports of a run's shards into the report one unsharded run gives.
//!
//! Each shard report carries its chains as they were before their gaps and tails were settled,
//! and the evidence settling uses (see [`crate::shard::ShardPart`]). The merge checks that the
//! reports are of one run, puts the chains back in the order one run verifies folders in, and
//! settles them again over every shard's evidence, as one run does once all its folders are
//! done. What it cannot vouch for (a shard missing or given twice, a folder found that its
//! shard did not verify) is named, and keeps the result from being complete.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::continuity::FoundEvents;
use crate::report::{FolderNotVerified, MergeRun, MergedReport};
use crate::shard::{Shard, ShardPart, ShardRun, UnsettledChain};
use crate::trail_events::{KeptTrailEvents, MAX_EVENTS_PER_RUN};
use crate::verify::ChainResult;

/// Why shard reports could not be merged: nothing is written, exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// No report was given.
    NoReports,
    /// An input is not a shard's JSON or JSONL report (or was cut off).
    NotAShardReport {
        /// The input, as given.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// A report written by another version of ctverify.
    OtherVersion {
        /// The input.
        name: String,
        /// The version that wrote it.
        version: String,
    },
    /// A report of another run: another source, range, shard count or option.
    OtherRun {
        /// The input.
        name: String,
        /// The first input, which the others must match.
        first: String,
        /// What differs.
        what: String,
    },
    /// A report whose shard verified a folder that is not its own: not sharded as ctverify
    /// shards.
    FolderOfAnotherShard {
        /// The input.
        name: String,
        /// The folder.
        folder: String,
        /// The shard the report says it is.
        shard: u32,
        /// The shard the folder belongs to.
        owner: u32,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoReports => write!(f, "no shard report to merge"),
            MergeError::NotAShardReport { name, why } => write!(
                f,
                "{name}: not a shard report ({why}): merge takes the JSON or JSONL reports of `validate --shard`"
            ),
            MergeError::OtherVersion { name, version } => write!(
                f,
                "{name} was written by ctverify {version}, this is {}: merge the reports of one version",
                env!("CARGO_PKG_VERSION")
            ),
            MergeError::OtherRun { name, first, what } => write!(
                f,
                "{name} is not a shard of the same run as {first}: {what} differs"
            ),
            MergeError::FolderOfAnotherShard {
                name,
                folder,
                shard,
                owner,
            } => write!(
                f,
                "{name}: shard {shard} verified {folder}, which is shard {owner}'s: not a shard of this run"
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// A shard report as read: where from, and what it carries.
#[derive(Debug, Clone)]
pub struct ShardReport {
    /// The input, as given (a file name, or `-`).
    pub name: String,
    /// How its run was made.
    pub run: ShardRun,
    /// Its `shard` object.
    pub part: ShardPart,
}

/// Reads the `shard` object of a report, JSON (one document) or JSONL (the last line, the
/// summary, carries it).
pub fn read_shard_report(name: &str, text: &str) -> Result<ShardReport, MergeError> {
    let not_shard = |why: &str| MergeError::NotAShardReport {
        name: name.to_string(),
        why: why.to_string(),
    };
    let trimmed = text.trim_end();
    if trimmed.is_empty() {
        return Err(not_shard("it is empty"));
    }
    // JSONL: the summary is the last line, written only once the run is done.
    let last_line = trimmed.rsplit('\n').next().unwrap_or(trimmed);
    let jsonl_summary = serde_json::from_str::<Value>(last_line)
        .ok()
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("summary"));
    // A JSONL report's chains are its `chain` lines.
    let jsonl_summary_chains = jsonl_summary.as_ref().map(|_| {
        Value::Array(
            trimmed
                .lines()
                .filter(|line| line.contains("\"type\":\"chain\""))
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|v| v.get("type").and_then(Value::as_str) == Some("chain"))
                .collect(),
        )
    });
    let mut document = match jsonl_summary {
        Some(summary) => summary,
        None => match serde_json::from_str::<Value>(trimmed) {
            Ok(document) if document.get("type").is_none() => document,
            Ok(_) => return Err(not_shard("a JSONL report with no summary line: cut off?")),
            Err(e) if trimmed.starts_with('{') && trimmed.contains("\n{\"") => {
                return Err(not_shard(&format!(
                    "a JSONL report with no summary line: cut off? ({e})"
                )))
            }
            Err(e) => return Err(not_shard(&format!("not JSON: {e}"))),
        },
    };
    if document.get("tool").and_then(Value::as_str) != Some("ctverify") {
        return Err(not_shard("not a ctverify report"));
    }
    let version = document
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    if version != env!("CARGO_PKG_VERSION") {
        return Err(MergeError::OtherVersion {
            name: name.to_string(),
            version,
        });
    }
    let Some(shard) = document.get_mut("shard").map(Value::take) else {
        return Err(not_shard("no `shard` object: a run without --shard"));
    };
    let part: ShardPart = serde_json::from_value(shard)
        .map_err(|e| not_shard(&format!("its `shard` object is malformed: {e}")))?;
    let Some(run) = part.run.clone() else {
        return Err(not_shard(
            "its `shard` object does not say how the run was made",
        ));
    };
    Shard::new(part.shard.index.into(), part.shard.count.into())
        .map_err(|e| not_shard(&e.to_string()))?;
    let reported = match jsonl_summary_chains {
        Some(chains) => chains,
        None => document
            .get_mut("chains")
            .map(Value::take)
            .unwrap_or(Value::Null),
    };
    check_consistent(&part, &run, reported).map_err(|why| not_shard(&why))?;
    Ok(ShardReport {
        name: name.to_string(),
        run,
        part,
    })
}

/// How much later than its range a time in a shard's chains may be: logs are delivered minutes
/// after their hour, and a listing may show the next day's.
const SLACK: i64 = 2 * 86_400;

/// What a shard report must hold together: its chains are in its own folders (or the prefixes
/// its search could not list), each folder it verified is one its search found, every time is
/// within its range, and the chains it carries for the merge are the ones its report shows
/// (settling only adds missing digests, so the counts agree but for those). A report edited to
/// drop or move chains is refused; one edited with care in both places is not detected: the
/// merge trusts the shard reports as much as the shards that wrote them.
fn check_consistent(part: &ShardPart, run: &ShardRun, reported: Value) -> Result<(), String> {
    let found: BTreeSet<&str> = part.folders_found.iter().map(String::as_str).collect();
    if let Some(folder) = part.folders.iter().find(|f| !found.contains(f.as_str())) {
        return Err(format!(
            "it verified {folder}, which its search did not find"
        ));
    }
    let now = crate::time::UtcTime::now().unix();
    if run.requested.end.unix() > now + SLACK {
        return Err(format!(
            "its range ends in the future ({})",
            run.requested.end
        ));
    }
    let earliest = crate::digest::EARLIEST_DIGEST_TIME - SLACK;
    let latest = run.requested.end.unix() + SLACK;
    let in_range = |t: crate::time::UtcTime| (earliest..=latest).contains(&t.unix());
    for chain in &part.for_merge.chains {
        let named = |f: &String| f == &chain.folder;
        if !part.folders.iter().any(named) && !part.unsearched.iter().any(named) {
            return Err(format!(
                "it carries a chain of {}, a folder it did not verify",
                chain.folder
            ));
        }
        let report = &chain.report;
        if chain.gaps_logs_after.len() != report.gaps.len()
            || chain.tail_logs_after.is_some() != report.tail.is_some()
        {
            return Err(format!(
                "the gaps and tail of a chain of {} do not match their logs",
                chain.folder
            ));
        }
        let times = report
            .gaps
            .iter()
            .flat_map(|g| [g.start, g.end])
            .chain(report.tail.iter().flat_map(|t| [t.start, t.end]))
            .chain(
                chain
                    .gaps_logs_after
                    .iter()
                    .chain(chain.tail_logs_after.iter())
                    .flat_map(|l| l.logs.iter().map(|(t, _)| *t)),
            );
        for time in times {
            if !in_range(time) {
                return Err(format!(
                    "a chain of {} has a gap, tail or log at {time}, outside its range",
                    chain.folder
                ));
            }
        }
    }
    let reported: Vec<crate::report::ChainReport> =
        serde_json::from_value(reported).map_err(|e| format!("its chains are malformed: {e}"))?;
    let carried = &part.for_merge.chains;
    let identity = |r: &crate::report::ChainReport| {
        (
            r.bucket.clone(),
            r.prefix.clone(),
            r.organization_id.clone(),
            r.account_id.clone(),
            r.region.clone(),
            r.trail.clone(),
            r.home_region.clone(),
            r.backfill,
        )
    };
    let agree = reported.len() == carried.len()
        && reported.iter().zip(carried).all(|(shown, kept)| {
            let kept = &kept.report;
            identity(shown) == identity(kept)
                && shown.logs == kept.logs
                && shown.digests.valid == kept.digests.valid
                && shown.digests.unverified == kept.digests.unverified
                && shown.digests.invalid >= kept.digests.invalid
        });
    if !agree {
        return Err("the chains it carries for the merge are not the chains it reports".into());
    }
    Ok(())
}

/// One unsharded run's chains, made of its shards' reports.
#[derive(Debug)]
pub struct Merged {
    /// How the run was made (the first report's; every other agrees).
    pub run: ShardRun,
    /// The reports merged and what they left uncovered.
    pub merge: MergeRun,
    /// Every chain, settled, in the order one run reports them.
    pub chains: Vec<ChainResult>,
}

/// Merges shard reports (see the module's documentation). Reports of different runs are
/// refused; a shard missing or given twice, or a folder its shard did not verify, is named in
/// [`Merged::merge`].
pub fn merge(reports: Vec<ShardReport>) -> Result<Merged, MergeError> {
    let Some(first) = reports.first() else {
        return Err(MergeError::NoReports);
    };
    let first_name = first.name.clone();
    let first_run = first.run.clone();
    let count = first.part.shard.count;
    let mut kept: BTreeMap<u32, ShardReport> = BTreeMap::new();
    let mut merge = MergeRun {
        shards: count,
        ..MergeRun::default()
    };
    for report in reports {
        check_same_run(&report, &first_name, &first_run, count)?;
        let index = report.part.shard.index;
        if kept.contains_key(&index) {
            merge.duplicate_shards.push(MergedReport {
                shard: index,
                report: report.name,
            });
            continue;
        }
        merge.reports.push(MergedReport {
            shard: index,
            report: report.name.clone(),
        });
        kept.insert(index, report);
    }
    merge.reports.sort_by_key(|r| r.shard);
    merge.missing_shards = (0..count).filter(|i| !kept.contains_key(i)).collect();
    merge.folders_not_verified = folders_not_verified(&kept, count);

    let mut events = FoundEvents::default();
    let mut verified = KeptTrailEvents::with_cap(MAX_EVENTS_PER_RUN);
    let mut unverified = KeptTrailEvents::with_cap(MAX_EVENTS_PER_RUN);
    let mut trail_status: Option<crate::continuity::TrailStatus> = None;
    let mut versions_unread = None;
    let mut unsettled: Vec<UnsettledChain> = Vec::new();
    let mut unsearched: BTreeSet<String> = BTreeSet::new();
    for report in kept.into_values() {
        let (run, part) = (report.run, report.part);
        verified.absorb_parts(
            part.for_merge.trail_events,
            part.for_merge.trail_events_left_out,
        );
        unverified.absorb_parts(part.for_merge.unverified_trail_events, 0);
        // Shards ask GetTrailStatus at different times: the latest delivery any saw is what
        // the trail did.
        if run.trail_status.as_ref().is_some_and(|s| {
            trail_status
                .as_ref()
                .is_none_or(|t| s.latest_digest_delivery > t.latest_digest_delivery)
        }) {
            trail_status = run.trail_status;
        }
        versions_unread = versions_unread.or(run.versions_unread);
        unsearched.extend(part.unsearched);
        unsettled.extend(part.for_merge.chains);
    }
    events.verified = verified.into_sorted().0;
    events.unverified = unverified.into_sorted().0;
    // One run sorts its folders by path; a folder's chains stay in the order it verified them.
    unsettled.sort_by(|a, b| a.folder.cmp(&b.folder));
    // A prefix the search could not list is reported by every shard that met it; one run
    // reports it once.
    let mut seen = BTreeSet::new();
    unsettled.retain(|c| !unsearched.contains(&c.folder) || seen.insert(chain_identity(c)));
    let mut chains: Vec<ChainResult> = unsettled.into_iter().map(unsettle).collect();
    crate::verify::settle(
        &mut chains,
        &events,
        trail_status.as_ref(),
        first_run.require_continuous,
        first_run.verbose,
        &mut |_| {},
    );
    let run = ShardRun {
        trail_status,
        versions_unread,
        ..first_run
    };
    Ok(Merged { run, merge, chains })
}

/// Refuses a report of another run than the first's: what differs is named.
fn check_same_run(
    report: &ShardReport,
    first_name: &str,
    first: &ShardRun,
    count: u32,
) -> Result<(), MergeError> {
    let run = &report.run;
    let differs = |what: &str| MergeError::OtherRun {
        name: report.name.clone(),
        first: first_name.to_string(),
        what: what.to_string(),
    };
    if report.part.shard.count != count {
        return Err(differs(&format!(
            "the shard count ({} against {count})",
            report.part.shard.count
        )));
    }
    if !run.same_run_as(first) {
        let what = if run.source != first.source || run.bucket != first.bucket {
            format!("the source ({} against {})", run.source, first.source)
        } else if run.requested != first.requested {
            format!(
                "the range ({} to {} against {} to {})",
                shown(run.requested.start),
                run.requested.end,
                shown(first.requested.start),
                first.requested.end
            )
        } else if run.require_continuous != first.require_continuous {
            "--require-continuous".to_string()
        } else if run.verbose != first.verbose {
            "--verbose".to_string()
        } else {
            "the chains asked for (--trail, --account-id, --region, --trail-arn)".to_string()
        };
        return Err(differs(&what));
    }
    for folder in &report.part.folders {
        let owner = Shard::owner_of(folder, count);
        if owner != report.part.shard.index {
            return Err(MergeError::FolderOfAnotherShard {
                name: report.name.clone(),
                folder: folder.clone(),
                shard: report.part.shard.index,
                owner,
            });
        }
    }
    Ok(())
}

fn shown(start: Option<crate::time::UtcTime>) -> String {
    start.map_or_else(|| "the first digest".to_string(), |t| t.to_string())
}

/// Folders some shard's search found that the shard they belong to, whose report is here,
/// did not verify. (A missing shard's folders are its own line.)
fn folders_not_verified(kept: &BTreeMap<u32, ShardReport>, count: u32) -> Vec<FolderNotVerified> {
    let verified: BTreeSet<&str> = kept
        .values()
        .flat_map(|r| r.part.folders.iter().map(String::as_str))
        .collect();
    let mut lost: BTreeMap<&str, FolderNotVerified> = BTreeMap::new();
    for (&found_by, report) in kept {
        for folder in &report.part.folders_found {
            let owner = Shard::owner_of(folder, count);
            if kept.contains_key(&owner) && !verified.contains(folder.as_str()) {
                lost.entry(folder).or_insert_with(|| FolderNotVerified {
                    folder: folder.clone(),
                    shard: owner,
                    found_by,
                });
            }
        }
    }
    lost.into_values().collect()
}

/// What tells one chain of one folder from another.
fn chain_identity(chain: &UnsettledChain) -> String {
    let r = &chain.report;
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        chain.folder,
        r.bucket,
        r.prefix,
        r.account_id,
        r.organization_id,
        r.region,
        r.trail,
        r.home_region,
        r.backfill
    )
}

/// A shard's chain as the run held it before settling.
fn unsettle(chain: UnsettledChain) -> ChainResult {
    let mut report = chain.report;
    for (gap, logs) in report.gaps.iter_mut().zip(chain.gaps_logs_after) {
        gap.logs_after = logs;
    }
    if let (Some(tail), Some(logs)) = (report.tail.as_mut(), chain.tail_logs_after) {
        tail.logs_after = logs;
    }
    report.empty_windows = chain.empty_windows;
    let files = chain
        .files
        .into_iter()
        .map(|file| {
            let mut entry = file.entry;
            entry.backfill = file.backfill;
            entry
        })
        .collect();
    ChainResult { report, files }
}
