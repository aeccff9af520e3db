//! The chain walk: given the digests of one chain in the range, decide each digest's status,
//! which logs can be checked against which digest, where digests are missing and where the
//! chain has gaps.
//!
//! Trust flows from newest to oldest. A digest is *authentic* when an RSA signature verifies
//! over its signed message with the key its fingerprint names. The signature may come from the
//! digest's S3 metadata or from its successor's `previousDigestSignature`; either way a
//! verifying signature proves the bytes are what CloudTrail signed. The successor's
//! `previousDigestHashValue` and `previousDigestSignature` are then checked as links, which is
//! what lets a copy without S3 metadata be verified from its newest digest alone.
//!
//! This module holds the walk's public types and [`walk_streaming`], which runs the phases in
//! order, each in its own module with its inputs and outputs explicit:
//! - `index`: the digests newest first, found by where they were read or claim to belong;
//! - `link`: which digest names which as predecessor, and names not followed;
//! - `digests`: each digest decided in turn (`decide`: keys, signatures, the successor's
//!   link, moves), its logs checked or noted as unverified (`logs`);
//! - `holes`: missing predecessors and the hours missing behind them;
//! - `gaps`: where the chain starts again after logging stopped;
//! - the tail: from the newest digest to the end of the range, when a digest is overdue
//!   ([`crate::continuity`] says what gaps and tails mean, once the run is done);
//! - `logs`: the logs listed only by digests that could not be verified;
//! - `windows`: the windows of digests that could not be verified.
//!
//! [`PairId`] and [`LogKeySet`] (in `ids`) keep the names of a long range small.

mod decide;
mod digests;
mod gaps;
mod holes;
mod ids;
mod index;
mod link;
mod logs;
mod windows;

use std::sync::Arc;

pub use self::decide::ChainMetadata;
pub use self::ids::{LogKeySet, PairId};
use self::index::{ChainIndex, Node};
use crate::continuity::{self, Gap};
use crate::digest::{ChainId, Digest};
use crate::hash::Sha256;
use crate::keys::KeyRing;
use crate::report::{ChainReport, FileEntry, RequestedRange, TimeRange};
use crate::status::Status;
use crate::store::Metadata;
use crate::time::UtcTime;

/// A digest as read and parsed, with what the store said about it.
#[derive(Debug, Clone)]
pub struct ParsedDigest {
    /// The digest's content.
    pub digest: Digest,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: Sha256,
    /// The object's S3 user metadata (`signature`, `signature-algorithm`, ...); empty for a copy
    /// that kept none, in which case only a successor's `previousDigestSignature` can vouch for it.
    pub metadata: Metadata,
}

/// What a walk keeps of a parsed digest while it decides the chain: its times and where it
/// points. A year of hourly digests is held at once, so the rest (log list, signatures,
/// metadata) is loaded again, through the walk's loader, when the digest's turn comes.
#[derive(Debug, Clone)]
pub struct DigestHead {
    /// `digestStartTime`.
    pub start_time: UtcTime,
    /// `digestEndTime`.
    pub end_time: UtcTime,
    /// Where its own fields say it belongs, when that is not where it was read.
    claimed_at: Option<PairId>,
    /// Where `previousDigestS3Bucket`/`previousDigestS3Object` point.
    previous_at: Option<PairId>,
    /// What the loader is given to load the whole digest again.
    pub stored: u64,
}

impl DigestHead {
    /// The head of `parsed`, read at (`bucket`, `key`).
    pub fn of(parsed: &ParsedDigest, bucket: &str, key: &str, stored: u64) -> DigestHead {
        let d = &parsed.digest;
        let claimed_elsewhere = (d.bucket.as_str(), d.object.as_str()) != (bucket, key);
        DigestHead {
            start_time: d.start_time,
            end_time: d.end_time,
            claimed_at: claimed_elsewhere.then(|| PairId::of(&d.bucket, &d.object)),
            previous_at: d
                .previous
                .as_ref()
                .map(|p| PairId::of(&p.bucket, &p.object)),
            stored,
        }
    }
}

/// What reading one digest gave: the digest (`P`: parsed in full, or its [`DigestHead`]), or why
/// there is none.
#[derive(Debug, Clone)]
pub enum FetchOutcome<P = Box<ParsedDigest>> {
    /// Read, inflated and parsed.
    Parsed(P),
    /// Could not be read or parsed: the status (`invalid_format`, `error`, ...) and why.
    Failed {
        /// The digest's verdict.
        status: Status,
        /// Why, in words, for the report.
        detail: String,
    },
}

/// A digest as fetched: parsed in full for [`walk`], or only its [`DigestHead`] for
/// [`walk_streaming`].
#[derive(Debug, Clone)]
pub struct FetchedDigest<P = Box<ParsedDigest>> {
    /// Where it was read: the source's bucket, or another one the chain led into.
    pub bucket: String,
    /// The digest's key where it was read.
    pub key: String,
    /// The end time its key names (the chain is the walk's; only the time is kept).
    pub named_end: UtcTime,
    /// The digest, or why it could not be read.
    pub outcome: FetchOutcome<P>,
}

/// A log file to inflate and hash against what an authentic digest recorded. One per log of
/// the run, so the bucket and the digest's key are shared with the other logs of the digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogCheck {
    /// `logFiles[].s3Bucket`: where the log is.
    pub bucket: Arc<str>,
    /// `logFiles[].s3Object`: the log's key.
    pub key: String,
    /// `logFiles[].hashValue`: the SHA-256 its inflated bytes must have.
    pub expected: Sha256,
    /// The key of the authentic digest that lists it, for the report.
    pub digest_key: Arc<str>,
}

/// Everything the walk decided about one chain.
pub struct ChainOutcome {
    /// The chain's report: its digest counts, range found and gaps. Its log counts hold only
    /// the unverified logs: whoever runs the log checks counts them.
    pub report: ChainReport,
    /// Every digest's verdict (valid ones included), plus digests found missing.
    pub digests: Vec<FileEntry>,
    /// The logs to check ([`walk`]; empty from [`walk_streaming`], which hands them over).
    pub log_checks: Vec<LogCheck>,
    /// How many logs are to be checked.
    pub log_check_count: usize,
    /// Logs listed only by digests that could not be trusted.
    pub unverified_logs: Vec<FileEntry>,
    /// The windows `[start, end]` of digests whose signature verified: CloudTrail vouches for
    /// every log delivered inside them.
    pub verified_windows: Vec<TimeRange>,
    /// Windows of digests that could not be verified (unreadable, failed or unsigned), with
    /// the digest's URL: logs delivered then can be neither vouched for nor called planted.
    pub unverifiable_windows: Vec<(TimeRange, String)>,
    /// Every log (bucket, key) some readable digest lists, verified or not.
    pub listed_logs: LogKeySet,
    /// Logs listed only past the first 10,000 (`logs::MAX_UNVERIFIED_LISTED`) of an
    /// unverified digest's list: not reported one by one, but the folder's listing reports
    /// those that exist.
    pub unreported_logs: LogKeySet,
}

/// A digest the walk found valid, as a checkpoint remembers it: where it was read, what its
/// bytes hash to, the signature its metadata held and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedDigest {
    /// The bucket it was read from.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// SHA-256 of its uncompressed bytes.
    pub sha256: Sha256,
    /// Its `signature` metadata, hex, when it had one (otherwise a successor vouched for it).
    pub signature: Option<String>,
    /// `digestEndTime`.
    pub end_time: UtcTime,
}

/// Where [`walk_streaming`] hands what it decides, as it decides it.
pub trait WalkSink {
    /// A digest found valid (its verdict also comes through [`WalkSink::digest`]).
    fn verified_digest(&mut self, _digest: VerifiedDigest) {}

    /// A digest's verdict (valid ones included), or a digest found missing. Final.
    fn digest(&mut self, entry: FileEntry);
    /// A log to read and hash against an authentic digest.
    fn log_check(&mut self, check: LogCheck) -> std::io::Result<()>;
}

/// What [`walk`] collects.
#[derive(Default)]
struct Collected {
    digests: Vec<FileEntry>,
    checks: Vec<LogCheck>,
}

impl WalkSink for Collected {
    fn digest(&mut self, entry: FileEntry) {
        self.digests.push(entry);
    }

    fn log_check(&mut self, check: LogCheck) -> std::io::Result<()> {
        self.checks.push(check);
        Ok(())
    }
}

/// A digest's verdict, counted and handed over.
fn emit_digest(report: &mut ChainReport, sink: &mut dyn WalkSink, entry: FileEntry) {
    report.digests.add(entry.status);
    sink.digest(entry);
}

fn digest_url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// Decides every digest of one chain. `fetched` may be in any order. `log_checks` comes
/// sorted. `metadata` says whether the source keeps the chain's S3 metadata (what a digest
/// without a signature then is).
pub fn walk(
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    fetched: Vec<FetchedDigest>,
    metadata: ChainMetadata,
    keys: Result<&KeyRing, &str>,
) -> ChainOutcome {
    let mut parsed: Vec<ParsedDigest> = Vec::new();
    let heads: Vec<FetchedDigest<DigestHead>> = fetched
        .into_iter()
        .map(|f| FetchedDigest {
            outcome: match f.outcome {
                FetchOutcome::Parsed(p) => {
                    let head = DigestHead::of(&p, &f.bucket, &f.key, parsed.len() as u64);
                    parsed.push(*p);
                    FetchOutcome::Parsed(head)
                }
                FetchOutcome::Failed { status, detail } => FetchOutcome::Failed { status, detail },
            },
            bucket: f.bucket,
            key: f.key,
            named_end: f.named_end,
        })
        .collect();
    let load = |stored: u64| -> std::io::Result<ParsedDigest> {
        parsed
            .get(stored as usize)
            .cloned()
            .ok_or_else(|| std::io::Error::other("no such digest"))
    };
    let mut collected = Collected::default();
    let walked = walk_streaming(
        chain,
        bucket,
        range,
        heads,
        metadata,
        keys,
        &load,
        &mut collected,
    );
    // Only the loader or `on_check` can fail, and neither does here.
    let mut outcome = match walked {
        Ok(outcome) => outcome,
        Err(e) => panic!("chain::walk cannot fail to load a digest it holds: {e}"),
    };
    let mut checks = collected.checks;
    checks.sort_unstable_by(|a, b| {
        (&a.bucket, &a.key, &a.expected).cmp(&(&b.bucket, &b.key, &b.expected))
    });
    outcome.log_checks = checks;
    outcome.digests = collected.digests;
    outcome
}

/// [`walk`], holding only each digest's [`DigestHead`]: the whole digest is loaded through
/// `load` (given [`DigestHead::stored`]) when it is decided, and its verdict and log checks
/// are handed to `sink` then (newest digest first) instead of collected. The outcome's
/// `digests` and `log_checks` are empty. Fails only when `load` or the sink does (local I/O).
#[allow(clippy::too_many_arguments)]
pub fn walk_streaming(
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    fetched: Vec<FetchedDigest<DigestHead>>,
    metadata: ChainMetadata,
    keys: Result<&KeyRing, &str>,
    load: &dyn Fn(u64) -> std::io::Result<ParsedDigest>,
    sink: &mut dyn WalkSink,
) -> std::io::Result<ChainOutcome> {
    let load_node = |node: &Node| -> std::io::Result<Option<ParsedDigest>> {
        node.head().map(|h| load(h.stored)).transpose()
    };
    let mut report = ChainReport::new(bucket, chain);

    let index = ChainIndex::of(fetched);
    let links = link::link(&index);
    let decided = digests::decide_all(
        &index,
        &links,
        chain,
        metadata,
        keys,
        &load_node,
        &mut report,
        sink,
    )?;
    let hole_windows = holes::report_missing(
        &index,
        &links,
        &decided.trust,
        chain,
        bucket,
        range,
        &load_node,
        &mut report,
        sink,
    )?;
    report.gaps = gaps::gaps(&index, &links, &decided.trust)
        .into_iter()
        .map(Gap::new)
        .collect();
    if !chain.backfill {
        report.tail = index.newest().and_then(|newest| {
            continuity::tail_of(newest.url(), newest.end_time(), range.end, UtcTime::now())
        });
    }
    let log_check_count = decided.logs.check_count;
    let (unverified_logs, listed_logs, unreported_logs) =
        decided.logs.unverified_logs(chain.backfill);
    for entry in &unverified_logs {
        report.logs.add(entry.status);
    }
    let mut verified_windows = decided.verified_windows;
    verified_windows.extend(hole_windows);
    verified_windows.sort_by_key(|w| w.start);
    let unverifiable_windows = windows::unverifiable_windows(&index, &links, &decided.trust);

    Ok(ChainOutcome {
        report,
        digests: Vec::new(),
        log_checks: Vec::new(),
        log_check_count,
        unverified_logs,
        verified_windows,
        unverifiable_windows,
        listed_logs,
        unreported_logs,
    })
}
