//! The scan of an account and region's log folder, after its chains are walked: the logs no
//! digest lists (`unreferenced`), and listed logs missing at their key but found elsewhere
//! with the recorded hash (`moved`), folded into the verdicts of the chains that share the
//! folder. What counts as either is [`crate::unreferenced`]'s to say; this is the pipeline's
//! side: what the chains hand over, when the folder is listed, and whose verdict each finding
//! becomes.

use std::collections::HashMap;

use super::verdicts::{ChainWork, Sink};
use super::{ValidateError, ValidateOptions};
use crate::chain::{LogCheck, LogKeySet};
use crate::continuity::{self, LogsAfter};
use crate::gzip::InflatingReader;
use crate::reason::ChainReason;
use crate::report::{FileEntry, LogScan};
use crate::status::{FileKind, Status};
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::trail_events::{trail_events_in_reader, TrailEvent};
use crate::unreferenced::{self, Candidates, Findings, LogFolder, OpenSpan, Stray};
use rayon::prelude::*;

/// One log folder to scan, and what its chains established about it.
pub(super) struct FolderScan {
    folder: LogFolder,
    /// Some chain writing to this folder was left out by `--trail`/`--trail-arn`: the logs it
    /// lists cannot be told from planted ones, so the folder is not scanned.
    other_trails_left_out: bool,
}

/// The log folder's listing, before moved logs are told from unreferenced ones.
pub(super) enum LogListing {
    /// Not listed: see [`FolderScan::other_trails_left_out`].
    NotLookedFor,
    Listed(Result<Candidates, StoreError>),
}

impl FolderScan {
    /// The scan of the log folder `works`' chains share (they are one digest folder's), taking
    /// the logs their digests list from them. None when there is no chain.
    pub fn of(
        works: &mut [ChainWork],
        options: &ValidateOptions,
        other_trails_left_out: bool,
        settled: Option<crate::history::Settled>,
    ) -> Option<FolderScan> {
        let first = works.first()?;
        let mut folder = LogFolder {
            account_root: first.id.account_root(),
            account_id: first.id.account_id.clone(),
            region: first.id.region.clone(),
            windows: works
                .iter()
                .flat_map(|w| w.verified_windows.iter().copied())
                .collect(),
            unverifiable: works
                .iter()
                .flat_map(|w| w.unverifiable_windows.iter().cloned())
                .collect(),
            listed: LogKeySet::default(),
            unreported: LogKeySet::default(),
            range_start: options.range.start,
            settled,
            pending_after: pending_after(works),
            spans: open_spans(works),
        };
        for work in works.iter_mut() {
            folder.listed.extend(std::mem::take(&mut work.listed_logs));
            folder
                .unreported
                .extend(std::mem::take(&mut work.unreported_logs));
        }
        Some(FolderScan {
            folder,
            other_trails_left_out,
        })
    }

    /// Lists the log folder over the chains' windows. Needs only what the walks established,
    /// so it can run while the chains' logs are checked.
    pub fn list(&self, store: &dyn ObjectStore) -> LogListing {
        if self.other_trails_left_out {
            LogListing::NotLookedFor
        } else {
            LogListing::Listed(unreferenced::list_candidates(store, &self.folder))
        }
    }

    /// Decides the logs `works`' checks did not find (moved, or not found) and adds the
    /// folder's unreferenced logs to the chains' verdicts. Runs once every log is checked:
    /// a log missing at its key is looked for among the files no digest lists.
    pub fn finish(
        mut self,
        store: &dyn ObjectStore,
        listing: LogListing,
        works: &mut [ChainWork],
        sink: &Sink,
    ) -> Result<(), ValidateError> {
        // Every check is done: the listed logs are no longer needed.
        self.folder.listed = LogKeySet::default();
        let folder = &self.folder;
        let log_folder = folder.log_folder();
        let findings = match listing {
            LogListing::NotLookedFor => {
                for work in works.iter_mut() {
                    work.report.unreferenced_scan = Some(LogScan::skipped(
                        "other trails write to this account and region and were left out by --trail: unreferenced logs were not looked for",
                    ));
                }
                None
            }
            LogListing::Listed(candidates) => {
                let not_found: Vec<LogCheck> = works
                    .iter()
                    .flat_map(|w| w.not_found.iter().map(|(check, _)| check.clone()))
                    .collect();
                match candidates.and_then(|candidates| {
                    unreferenced::resolve(store, folder, candidates, &not_found)
                }) {
                    // This machine failed, not the source: no verdict.
                    Err(error @ StoreError::Local(_)) => {
                        return Err(ValidateError::listing(&log_folder)(error));
                    }
                    // The folder could not be listed (after retries), or not safely: the logs
                    // the digests list are still decided, but planted and moved ones were not
                    // looked for, so the run cannot pass; and the other folders' verdicts still
                    // stand.
                    Err(error) => {
                        let why = format!(
                            "listing {log_folder:?} failed: {error}: unreferenced and moved logs were not looked for"
                        );
                        for work in works.iter_mut() {
                            work.report.unreferenced_scan = Some(LogScan::skipped(&why));
                        }
                        let entry = FileEntry::new(
                            FileKind::Log,
                            store.bucket(),
                            &log_folder,
                            Status::Error,
                        )
                        .with_detail(why);
                        works[0].decide(entry, sink);
                        None
                    }
                    Ok(findings) => Some(findings),
                }
            }
        };
        decide_missing_logs(works, findings.as_ref(), &log_folder, sink);
        if let Some(mut findings) = findings {
            let strays = std::mem::take(&mut findings.strays);
            attribute_unlisted_logs(folder, findings, works, sink);
            decide_strays(store, &folder.spans, strays, works, sink);
        }
        Ok(())
    }
}

/// The earliest newest-digest end among the folder's hourly chains whose next digest is not due
/// yet (no tail): logs after it may be listed by that chain's next digest, whichever other
/// chain's window they fall in. A folder of one trail is never affected: its own windows end at
/// its newest digest.
fn pending_after(works: &[ChainWork]) -> Option<UtcTime> {
    works
        .iter()
        .filter(|w| !w.id.backfill && w.report.tail.is_none())
        .filter_map(|w| w.report.found.map(|found| found.end))
        .min()
}

/// The hours after each segment of the folder's hourly chains (not backfill) that have no
/// digest: its gaps and its tail. Span owners are indexes into `works`.
fn open_spans(works: &[ChainWork]) -> Vec<OpenSpan> {
    let mut spans = Vec::new();
    for (owner, work) in works.iter().enumerate() {
        if work.id.backfill {
            continue;
        }
        for gap in &work.report.gaps {
            spans.push(OpenSpan {
                owner,
                start: gap.start,
                end: gap.end,
            });
        }
        if let Some(tail) = &work.report.tail {
            spans.push(OpenSpan {
                owner,
                start: tail.start,
                end: tail.end,
            });
        }
    }
    spans
}

/// Reports the logs delivered after a segment's last digest, with no digest to cover them
/// (`unverified`), and hands them to the chain's gap or tail: what they prove (digests
/// missing, hour by hour) depends on what explains the edge, which is settled once every folder
/// is done ([`crate::continuity::LogsAfter`]). Logs whose digest may still come are not
/// digested yet, and left alone. In the trail's home region the first of them are read for the
/// call that made the edge (validation turned off, say), which no digest covers.
fn decide_strays(
    store: &dyn ObjectStore,
    spans: &[OpenSpan],
    strays: Vec<Stray>,
    works: &mut [ChainWork],
    sink: &Sink,
) {
    let bucket = store.bucket();
    let mut by_span: Vec<Vec<Stray>> = vec![Vec::new(); spans.len()];
    for stray in strays {
        if let Some(list) = by_span.get_mut(stray.span) {
            list.push(stray);
        }
    }
    for (span, mut strays) in spans.iter().zip(by_span) {
        let work = &mut works[span.owner];
        let is_tail = work
            .report
            .tail
            .as_ref()
            .is_some_and(|t| t.start == span.start);
        // A tail's digests are due by the end of the range; a gap's, once the chain started
        // again, are all past due.
        let due_by = is_tail.then_some(span.end);
        strays.retain(|s| {
            continuity::is_due(
                span.start,
                continuity::hour_of(span.start, s.minute),
                due_by,
            )
        });
        if strays.is_empty() {
            continue;
        }
        strays.sort_by(|a, b| (a.minute, &a.key).cmp(&(b.minute, &b.key)));
        if work.id.region == work.id.home_region {
            let trail = &work.id.trail;
            let found = trail_calls_after_the_edge(store, span.start, &strays)
                .into_iter()
                .filter(|e| e.names_trail(trail));
            work.unverified_trail_events.extend(found);
            // Only the calls near an edge matter, and a planted log may hold many.
            work.unverified_trail_events
                .truncate(MAX_EDGE_CALLS_PER_CHAIN);
        }
        let logs_after = LogsAfter {
            logs: strays
                .iter()
                .map(|s| (s.minute, format!("s3://{bucket}/{}", s.key)))
                .collect(),
        };
        if is_tail {
            if let Some(tail) = work.report.tail.as_mut() {
                tail.logs_after = logs_after;
            }
        } else if let Some(gap) = work.report.gaps.iter_mut().find(|g| g.start == span.start) {
            gap.logs_after = logs_after;
        }
        for stray in strays {
            let entry = FileEntry::new(FileKind::Log, bucket, &stray.key, Status::Unverified)
                .with_detail(ChainReason::DeliveredWithoutDigest {
                    last_end: span.start,
                    in_gap: !is_tail,
                });
            work.decide(entry, sink);
        }
    }
}

/// The most trail calls found in uncovered logs kept for one chain.
const MAX_EDGE_CALLS_PER_CHAIN: usize = 256;

/// The most logs read after one edge for the call that made it: a busy region delivers many
/// files in the hour the call is looked for in; most are passed over by the name prefilter.
const EDGE_LOGS_READ: usize = 2_000;

/// The trail calls in the logs delivered within about an hour after `edge` (at most
/// [`EDGE_LOGS_READ`]), where the call that made the edge is. A log that cannot be read or
/// parsed holds none: it explains nothing, and its verdict (`unverified`) does not depend on
/// it.
fn trail_calls_after_the_edge(
    store: &dyn ObjectStore,
    edge: UtcTime,
    strays: &[Stray],
) -> Vec<TrailEvent> {
    let until = edge.plus_seconds(continuity::DIGEST_INTERVAL + continuity::STRAGGLER_GRACE);
    strays
        .iter()
        .take_while(|s| s.minute <= until)
        .take(EDGE_LOGS_READ)
        .collect::<Vec<_>>()
        .par_iter()
        .filter_map(|stray| {
            let object = store.get(store.bucket(), &stray.key).ok()?;
            let url = format!("s3://{}/{}", store.bucket(), stray.key);
            trail_events_in_reader(InflatingReader::new(object.body), &url)
        })
        .flat_map_iter(|found| found.into_sorted().0)
        .collect()
}

/// Decides each log not found at its key: `moved` when the scan found it elsewhere, otherwise
/// `not_found`. Records the windows the scan used in each chain's report.
fn decide_missing_logs(
    works: &mut [ChainWork],
    findings: Option<&Findings>,
    log_folder: &str,
    sink: &Sink,
) {
    let moved: HashMap<&str, &str> = findings
        .iter()
        .flat_map(|f| f.moved.iter())
        .map(|(from, to)| (from.as_str(), to.as_str()))
        .collect();
    for work in works.iter_mut() {
        for (_, mut file) in std::mem::take(&mut work.not_found) {
            if let Some(to) = moved.get(file.key.as_str()) {
                file.status = Status::Moved;
                file.moved_to = Some(to.to_string());
                file.detail = Some(
                    format!("found at s3://{}/{to} with the recorded hash", file.bucket).into(),
                );
            }
            work.decide(file, sink);
        }
        if let Some(findings) = findings {
            work.report.unreferenced_scan = Some(LogScan::windows(log_folder, &findings.windows));
        }
    }
}

/// Adds the files no digest lists to the chains' verdicts, each to a chain whose window holds
/// its delivery minute (the first chain otherwise).
fn attribute_unlisted_logs(
    folder: &LogFolder,
    findings: Findings,
    works: &mut [ChainWork],
    sink: &Sink,
) {
    for entry in findings.unreferenced.into_iter().chain(findings.unverified) {
        let minute = unreferenced::log_delivery_minute(
            entry.key.rsplit('/').next().unwrap_or(""),
            &folder.account_id,
            &folder.region,
        );
        let owner = works
            .iter()
            .position(|w| {
                minute.is_some_and(|m| {
                    w.verified_windows
                        .iter()
                        .chain(w.unverifiable_windows.iter().map(|(win, _)| win))
                        .any(|win| m >= win.start && m <= win.end)
                })
            })
            .unwrap_or(0);
        let mut entry = entry;
        entry.backfill = works[owner].id.backfill;
        works[owner].decide(entry, sink);
    }
}
