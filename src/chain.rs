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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use sha2::Digest as _;

use crate::digest::{ChainId, Digest, DigestKey};
use crate::hash::{Sha256, Signature};
use crate::keys::KeyRing;
use crate::report::{ChainReport, FileEntry, RequestedRange, TimeRange};
use crate::status::{FileKind, Status};
use crate::store::Metadata;
use crate::time::UtcTime;

/// A digest as read and parsed, with what the store said about it.
#[derive(Debug, Clone)]
pub struct ParsedDigest {
    pub digest: Digest,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: Sha256,
    pub metadata: Metadata,
}

/// What a walk keeps of a parsed digest while it decides the chain: its times and where it
/// points. A year of hourly digests is held at once, so the rest (log list, signatures,
/// metadata) is loaded again, through the walk's loader, when the digest's turn comes.
#[derive(Debug, Clone)]
pub struct DigestHead {
    pub start_time: UtcTime,
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

#[derive(Debug, Clone)]
pub enum FetchOutcome<P = Box<ParsedDigest>> {
    Parsed(P),
    /// Could not be read or parsed: the status (`invalid_format`, `error`, ...) and why.
    Failed {
        status: Status,
        detail: String,
    },
}

/// A digest as fetched: parsed in full for [`walk`], or only its [`DigestHead`] for
/// [`walk_streaming`].
#[derive(Debug, Clone)]
pub struct FetchedDigest<P = Box<ParsedDigest>> {
    /// Where it was read: the source's bucket, or another one the chain led into.
    pub bucket: String,
    pub key: String,
    /// The end time its key names (the chain is the walk's; only the time is kept).
    pub named_end: UtcTime,
    pub outcome: FetchOutcome<P>,
}

/// A log file to inflate and hash against what an authentic digest recorded. One per log of
/// the run, so the bucket and the digest's key are shared with the other logs of the digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogCheck {
    pub bucket: Arc<str>,
    pub key: String,
    pub expected: Sha256,
    pub digest_key: Arc<str>,
}

/// A (bucket, key) pair held as the first 128 bits of the SHA-256 of the pair: 16 bytes
/// however long the key, so that knowing every digest of a chain and every listed log of a
/// long range stays cheap. The encoding is unambiguous because bucket names cannot hold `\n`.
/// 128 bits suffice: the names are CloudTrail's, so making a planted key share a listed log's
/// id is a second preimage (2^128 work), and two of a billion names sharing one by chance has
/// odds of about 10^-21.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PairId([u8; 16]);

impl PairId {
    pub fn of(bucket: &str, key: &str) -> PairId {
        Self::of_parts(&[bucket.as_bytes(), key.as_bytes()])
    }

    /// A log with the hash a digest records for it.
    fn with_hash(bucket: &str, key: &str, hash: &Sha256) -> PairId {
        Self::of_parts(&[bucket.as_bytes(), key.as_bytes(), &hash.0])
    }

    /// Parts joined by `\n`: unambiguous when only the first part is free of `\n` (a bucket
    /// name) and the last, if more than two, has a fixed length.
    fn of_parts(parts: &[&[u8]]) -> PairId {
        let mut hasher = sha2::Sha256::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                hasher.update(b"\n");
            }
            hasher.update(part);
        }
        let hash: [u8; 32] = hasher.finalize().into();
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash[..16]);
        PairId(id)
    }
}

/// The first 8 bytes of a hash a log was checked against: enough to tell the hashes of
/// authentic digests apart, since CloudTrail, not whoever planted a file, chose them.
type HashTag = [u8; 8];

/// A set of (bucket, key) pairs, each held as its [`PairId`]. For the logs of a walk, it also
/// says whether an authentic digest lists the log, and with which hash: one map where there
/// would be three sets (listed, checked, and checked with that hash), about 26 bytes a log.
#[derive(Debug, Clone, Default)]
pub struct LogKeySet(HashMap<PairId, Option<HashTag>>);

impl LogKeySet {
    /// Whether the pair was new.
    pub fn insert(&mut self, bucket: &str, key: &str) -> bool {
        match self.0.entry(PairId::of(bucket, key)) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(None);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        }
    }

    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.0.contains_key(&PairId::of(bucket, key))
    }

    /// A log an authentic digest lists with `hash`: whether the log was not yet to be checked
    /// against that hash. `other_hashes` holds the rare logs listed with a second hash.
    fn insert_checked(
        &mut self,
        bucket: &str,
        key: &str,
        hash: &Sha256,
        other_hashes: &mut HashSet<PairId>,
    ) -> bool {
        let mut tag: HashTag = [0; 8];
        tag.copy_from_slice(&hash.0[..8]);
        let seen = self.0.entry(PairId::of(bucket, key)).or_insert(None);
        match seen {
            None => {
                *seen = Some(tag);
                true
            }
            Some(first) if *first == tag => false,
            Some(_) => other_hashes.insert(PairId::with_hash(bucket, key, hash)),
        }
    }

    /// Whether an authentic digest lists the log.
    fn is_checked(&self, bucket: &str, key: &str) -> bool {
        matches!(self.0.get(&PairId::of(bucket, key)), Some(Some(_)))
    }

    pub fn extend(&mut self, other: LogKeySet) {
        if self.0.is_empty() {
            self.0 = other.0;
        } else {
            for (id, tag) in other.0 {
                let seen = self.0.entry(id).or_insert(None);
                *seen = seen.or(tag);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub struct ChainOutcome {
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
    /// Logs listed only past the first [`MAX_UNVERIFIED_LISTED`] of an unverified digest's
    /// list: not reported one by one, but the folder's listing reports those that exist.
    pub unreported_logs: LogKeySet,
}

/// Where [`walk_streaming`] hands what it decides, as it decides it.
pub trait WalkSink {
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

/// How many missing digests we are willing to infer in one hole; beyond this the hole is
/// reported as one missing digest plus a detail saying how long the hole is.
const MAX_INFERRED_MISSING: i64 = 10_000;

/// How many of the logs listed by one digest that could not be verified are reported one by
/// one. Real digests list at most a few thousand logs (an hour of one region); of the rest of
/// a longer list, only the files the log folder holds are reported, so what such a digest
/// costs the report is bounded by the files present, not by what it claims.
const MAX_UNVERIFIED_LISTED: usize = 10_000;

/// The digest that could not be verified that lists a log (the first to, newest first).
struct ListedBy {
    url: Arc<str>,
    key: Arc<str>,
    status: Status,
}

/// What a digest recorded of its predecessor (`previousDigestHashValue`,
/// `previousDigestSignature`), handed to the predecessor when the walk reaches it.
struct SuccessorLink {
    /// The successor's `s3://` URL, for details.
    url: String,
    hash: Sha256,
    signature: Signature,
    /// The successor verified: what it recorded is what CloudTrail wrote. Otherwise its claims
    /// prove something only through the signature, never through the hash.
    authentic: bool,
}

/// Why a digest's `previousDigestS3Object` is not followed.
#[derive(Clone, Copy)]
enum LinkNote {
    NotOlder,
    AlreadyNamed,
}

struct Node {
    bucket: String,
    key: String,
    named_end: UtcTime,
    outcome: FetchOutcome<DigestHead>,
    /// Index of the digest whose `previousDigestS3Object` names this one.
    successor: Option<usize>,
    /// Index of the digest this one names so.
    predecessor: Option<usize>,
    link_note: Option<LinkNote>,
    /// The signature verified: its content is what CloudTrail wrote.
    authentic: bool,
    /// Not failed: authentic, or merely unsigned. Its pointers are followed.
    trusted: bool,
}

impl Node {
    fn head(&self) -> Option<&DigestHead> {
        match &self.outcome {
            FetchOutcome::Parsed(head) => Some(head),
            FetchOutcome::Failed { .. } => None,
        }
    }

    fn end_time(&self) -> UtcTime {
        self.head().map_or(self.named_end, |h| h.end_time)
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
/// sorted.
pub fn walk(
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    fetched: Vec<FetchedDigest>,
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
    let walked = walk_streaming(chain, bucket, range, heads, keys, &load, &mut collected);
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
pub fn walk_streaming(
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    fetched: Vec<FetchedDigest<DigestHead>>,
    keys: Result<&KeyRing, &str>,
    load: &dyn Fn(u64) -> std::io::Result<ParsedDigest>,
    sink: &mut dyn WalkSink,
) -> std::io::Result<ChainOutcome> {
    let mut nodes: Vec<Node> = fetched
        .into_iter()
        .map(|f| Node {
            bucket: f.bucket,
            key: f.key,
            named_end: f.named_end,
            outcome: f.outcome,
            successor: None,
            predecessor: None,
            link_note: None,
            authentic: false,
            trusted: false,
        })
        .collect();
    // Newest first; the key breaks ties so that the order never depends on listing order.
    nodes.sort_by(|a, b| {
        b.named_end
            .cmp(&a.named_end)
            .then_with(|| b.key.cmp(&a.key))
    });
    let load_node = |node: &Node| -> std::io::Result<Option<ParsedDigest>> {
        node.head().map(|h| load(h.stored)).transpose()
    };

    let mut report = ChainReport::new(bucket, chain);

    let by_key: HashMap<PairId, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (PairId::of(&n.bucket, &n.key), i))
        .collect();
    // A digest found away from where its own fields put it still answers for its original key.
    let mut by_claim: HashMap<PairId, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if let Some(claimed) = node.head().and_then(|h| h.claimed_at) {
            if !by_key.contains_key(&claimed) {
                by_claim.entry(claimed).or_insert(i);
            }
        }
    }

    // Links: successor -> predecessor, only ever to an older digest, so a pointer loop cannot
    // make the walk go round.
    let mut missing_links: Vec<usize> = Vec::new(); // successors whose predecessor is absent
    for i in 0..nodes.len() {
        let Some(previous_at) = nodes[i].head().and_then(|h| h.previous_at) else {
            continue;
        };
        let target = by_key
            .get(&previous_at)
            .or_else(|| by_claim.get(&previous_at))
            .copied();
        match target {
            Some(t) if nodes[t].end_time() >= nodes[i].end_time() || t == i => {
                nodes[i].link_note = Some(LinkNote::NotOlder);
            }
            Some(t) => {
                // Every claimant hands down what it recorded (see `links_to`): which one is
                // authentic is known only once each is decided, and a planted digest naming
                // the same predecessor must not take the real successor's word away.
                nodes[i].predecessor = Some(t);
                if nodes[t].successor.is_none() {
                    nodes[t].successor = Some(i);
                } else {
                    nodes[i].link_note = Some(LinkNote::AlreadyNamed);
                }
            }
            None => missing_links.push(i),
        }
    }

    // Each digest, newest to oldest: a successor is always decided before its predecessor,
    // and hands it what it recorded of it. Then the digest's logs, checked against it if it
    // is authentic (unverified otherwise): each digest's log list is handed over as it is
    // loaded, so the lists and the checks built from them are never all held at once.
    // What each claimant of a predecessor recorded of it, newest claimant first.
    let mut links_to: HashMap<usize, Vec<SuccessorLink>> = HashMap::new();
    let mut verified_windows = Vec::new();
    let mut listed_logs = LogKeySet::default();
    let mut unreported_logs = LogKeySet::default();
    let mut found: Option<TimeRange> = None;
    let mut log_check_count = 0usize;
    let mut other_hashes: HashSet<PairId> = HashSet::new();
    // Logs listed only by digests that could not be verified, with the digest (its URL and key
    // shared by all its logs).
    let mut untrusted: BTreeMap<(String, String), ListedBy> = BTreeMap::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        // An authentic claimant's word decides; otherwise the newest claimant's.
        let successor_link = links_to.remove(&i).and_then(|mut links| {
            let chosen = links.iter().position(|l| l.authentic).unwrap_or(0);
            (chosen < links.len()).then(|| links.swap_remove(chosen))
        });
        let loaded = load_node(node)?;
        let mut entry = FileEntry::new(FileKind::Digest, &node.bucket, &node.key, Status::Valid);
        entry.backfill = chain.backfill;
        let (status, detail, authentic) = match (&node.outcome, &loaded) {
            (FetchOutcome::Failed { status, detail }, _) => (*status, Some(detail.clone()), false),
            (FetchOutcome::Parsed(_), None) => unreachable!("a parsed digest is loaded"),
            (FetchOutcome::Parsed(_), Some(parsed)) => {
                let decision = decide(node, parsed, successor_link, chain, keys);
                if decision.authentic {
                    report.note_key(&parsed.digest.fingerprint);
                }
                // Report a moved digest under the key it belongs at, unless that key holds a
                // digest of its own.
                if let Some(moved_from) = decision
                    .moved_from
                    .as_ref()
                    .filter(|k| !by_key.contains_key(&PairId::of(&node.bucket, k)))
                {
                    entry.key = moved_from.clone();
                    entry.moved_to = Some(node.key.clone());
                }
                (decision.status, decision.detail, decision.authentic)
            }
        };
        let note = match (node.link_note, &loaded) {
            (Some(note), Some(parsed)) => {
                let named = parsed
                    .digest
                    .previous
                    .as_ref()
                    .map_or("", |p| p.object.as_str());
                Some(match note {
                    LinkNote::NotOlder => {
                        format!("previousDigestS3Object names {named} which is not older")
                    }
                    LinkNote::AlreadyNamed => {
                        format!("another digest already names {named} as its predecessor")
                    }
                })
            }
            _ => None,
        };
        // What a digest that could not be verified lists is reported log by log only up to a
        // point: its list is the one thing in the report an attacker sizes at will.
        let listed = loaded.as_ref().map_or(0, |p| p.digest.log_files.len());
        let cap_note = (!authentic && listed > MAX_UNVERIFIED_LISTED).then(|| {
            format!(
                "it lists {listed} logs: only the first {MAX_UNVERIFIED_LISTED} are reported (unverified); of the other {}, those found in the log folder are",
                listed - MAX_UNVERIFIED_LISTED
            )
        });
        let detail = [detail, note, cap_note]
            .into_iter()
            .flatten()
            .reduce(|a, b| format!("{a}; {b}"));
        entry.status = status;
        entry.detail = detail;
        node.authentic = authentic;
        node.trusted = authentic || status == Status::Unsigned;
        emit_digest(&mut report, sink, entry);

        let Some(mut parsed) = loaded else {
            continue;
        };
        // What this digest recorded of its predecessor, for when the walk gets to it. Handed
        // down even when this digest could not be verified: a signature that verifies proves
        // the predecessor whoever passed it on, so a copy without metadata verifies all but
        // its newest digest.
        if let (Some(t), Some(previous)) = (node.predecessor, parsed.digest.previous.take()) {
            links_to.entry(t).or_default().push(SuccessorLink {
                url: digest_url(&node.bucket, &node.key),
                hash: previous.hash,
                signature: previous.signature,
                authentic,
            });
        }
        let logs = std::mem::take(&mut parsed.digest.log_files);
        let d = &parsed.digest;
        found = Some(match found {
            None => TimeRange {
                start: d.start_time,
                end: d.end_time,
            },
            Some(r) => TimeRange {
                start: r.start.min(d.start_time),
                end: r.end.max(d.end_time),
            },
        });
        if authentic {
            verified_windows.push(TimeRange {
                start: d.start_time,
                end: d.end_time,
            });
            if logs.is_empty() {
                report.empty_windows.push(TimeRange {
                    start: d.start_time,
                    end: d.end_time,
                });
            }
        }
        let url: Arc<str> = Arc::from(digest_url(&node.bucket, &node.key));
        let digest_key: Arc<str> = Arc::from(node.key.as_str());
        let mut log_bucket: Arc<str> = Arc::from(node.bucket.as_str());
        for (nth, log) in logs.into_iter().enumerate() {
            if authentic {
                // The same log with the same hash is checked once, against the newest digest
                // listing it.
                if !listed_logs.insert_checked(
                    &log.bucket,
                    &log.object,
                    &log.hash,
                    &mut other_hashes,
                ) {
                    continue;
                }
                if *log_bucket != *log.bucket {
                    log_bucket = Arc::from(log.bucket.as_str());
                }
                sink.log_check(LogCheck {
                    bucket: log_bucket.clone(),
                    key: log.object,
                    expected: log.hash,
                    digest_key: digest_key.clone(),
                })?;
                log_check_count += 1;
            } else {
                if nth >= MAX_UNVERIFIED_LISTED {
                    // Kept as compactly as a listed log; reported if the folder holds it.
                    unreported_logs.insert(&log.bucket, &log.object);
                    continue;
                }
                listed_logs.insert(&log.bucket, &log.object);
                untrusted
                    .entry((log.bucket, log.object))
                    .or_insert_with(|| ListedBy {
                        url: url.clone(),
                        key: digest_key.clone(),
                        status,
                    });
            }
        }
    }
    drop(other_hashes);
    drop(links_to);
    report.empty_windows.sort_by_key(|w| w.start);
    report.found = found;

    // Missing predecessors, named by digests we did not find failed.
    let mut hole_windows: Vec<TimeRange> = Vec::new();
    // Each missing digest is one file, however many digests name it.
    let mut reported_missing: HashSet<(String, String)> = HashSet::new();
    // The hours some file answers for (by its content or by its key name), sorted, so that
    // each hour of a long hole is looked up rather than compared with every digest.
    let mut answered_hours: Vec<i64> = nodes
        .iter()
        .flat_map(|n| [n.end_time().unix(), n.named_end.unix()])
        .collect();
    answered_hours.sort_unstable();
    let answered = |t: UtcTime| {
        let (from, to) = (t.unix() - 1800, t.unix() + 1800);
        let at = answered_hours.partition_point(|&a| a <= from);
        answered_hours.get(at).is_some_and(|&a| a < to)
    };
    for i in missing_links {
        if !nodes[i].trusted {
            continue;
        }
        let Some(parsed) = load_node(&nodes[i])? else {
            continue;
        };
        let Some(previous) = parsed.digest.previous else {
            continue;
        };
        let (prev_bucket, prev_key) = (previous.bucket, previous.object);
        let named_time = DigestKey::parse(&prev_key).map(|k| k.end_time);
        if named_time.is_some_and(|t| !range.contains(t)) {
            continue; // the predecessor is outside the requested range: the walk ends here
        }
        if !reported_missing.insert((prev_bucket.clone(), prev_key.clone())) {
            continue;
        }
        let successor_url = digest_url(&nodes[i].bucket, &nodes[i].key);
        if prev_bucket != nodes[i].bucket && prev_bucket != bucket {
            emit_digest(
                &mut report,
                sink,
                FileEntry::new(FileKind::Digest, &prev_bucket, &prev_key, Status::Error)
                    .with_detail(format!("named as predecessor by {successor_url}, in bucket {prev_bucket} which this source does not hold")),
            );
            continue;
        }
        emit_digest(
            &mut report,
            sink,
            FileEntry::new(FileKind::Digest, &prev_bucket, &prev_key, Status::NotFound)
                .with_detail(format!("named as predecessor by {successor_url}")),
        );
        // Digests deleted in a row leave only the first one named. The hours between the
        // newest older digest we have and the one named are each a digest that should be
        // there. "Newest older" by content, not key name: a planted copy of an old digest
        // must not stretch the hole over digests that are present.
        let start_of_named = parsed.digest.start_time;
        let older = nodes
            .iter()
            .filter(|n| n.end_time() < start_of_named)
            .max_by_key(|n| n.end_time());
        // Only a verified successor proves digests covered the hole (an unsigned one could
        // name any predecessor, and so conjure up any number of missing hours): then logs
        // delivered in it should be listed by them, and each hour's digest should be there.
        if let Some(older) = older.filter(|_| nodes[i].authentic) {
            hole_windows.push(TimeRange {
                start: older.end_time(),
                end: start_of_named,
            });
            let hole = start_of_named.unix() - older.end_time().unix();
            // Rounded to whole hours; the named digest is the last of them.
            let hours = ((hole + 1800) / 3600).min(MAX_INFERRED_MISSING);
            for h in 1..hours {
                let expected_end = older.end_time().plus_seconds(h * 3600);
                if !range.contains(expected_end) {
                    continue;
                }
                // An hour some file answers for is not missing: a file there is reported for
                // what it is, not inferred away.
                let key = chain.digest_key(expected_end);
                if answered(expected_end)
                    || by_key.contains_key(&PairId::of(&prev_bucket, &key))
                    || !reported_missing.insert((prev_bucket.clone(), key.clone()))
                {
                    continue;
                }
                emit_digest(
                    &mut report,
                    sink,
                    FileEntry::new(FileKind::Digest, &prev_bucket, &key, Status::NotFound).with_detail(format!(
                        "inferred: the chain from {successor_url} back to {} has no digest for the hour ending about {expected_end}; exact key unknown",
                        digest_url(&older.bucket, &older.key)
                    )),
                );
            }
        }
    }
    verified_windows.extend(hole_windows);

    // Gaps: a starting digest after an older digest of the same chain.
    let mut gaps = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(head) = node.head() else {
            continue;
        };
        if head.previous_at.is_some() || !node.trusted {
            continue;
        }
        if let Some(older) = nodes
            .iter()
            .skip(i + 1)
            .find(|n| n.end_time() < head.start_time)
        {
            if older.successor.is_none() {
                gaps.push(TimeRange {
                    start: older.end_time(),
                    end: head.start_time,
                });
            }
        }
    }
    gaps.sort_by_key(|g| g.start);
    report.gaps = gaps;

    let mut unverified_logs = Vec::new();
    for ((log_bucket, log_key), listed_by) in &untrusted {
        let ListedBy {
            url: digest_url,
            key: digest_key,
            status: digest_status,
        } = listed_by;
        if listed_logs.is_checked(log_bucket, log_key) {
            continue;
        }
        let mut entry = FileEntry::new(FileKind::Log, log_bucket, log_key, Status::Unverified)
            .with_detail(format!(
                "listed only by {digest_url} whose status is {digest_status}"
            ));
        entry.digest = Some(digest_key.to_string());
        entry.backfill = chain.backfill;
        unverified_logs.push(entry);
    }

    for entry in &unverified_logs {
        report.logs.add(entry.status);
    }
    verified_windows.sort_by_key(|w| w.start);
    let mut unverifiable_windows = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if node.authentic {
            continue;
        }
        let url = digest_url(&node.bucket, &node.key);
        // The hours its place in the chain says it covers: from the next older digest's end to
        // its successor's start. Without a successor (the newest digest read) they end at the
        // end time its key names; without an older one they start an hour before that (a
        // digest covers an hour). Logs delivered then are `unverified`, not left out of the
        // report. The times in its content are the attacker's to choose (a replayed older
        // digest names other hours), so they only ever add to this window. Too wide a window
        // cannot hide a planted file: a verified window always decides first.
        let named_end = node.named_end;
        let end = node
            .successor
            .and_then(|s| nodes[s].head())
            .map_or(named_end, |h| h.start_time);
        let start = nodes
            .iter()
            .skip(i + 1)
            .find(|n| n.head().is_some())
            .map_or(named_end.plus_seconds(-3600), Node::end_time);
        if start < end {
            unverifiable_windows.push((TimeRange { start, end }, url.clone()));
        }
        if let Some(head) = node.head() {
            unverifiable_windows.push((
                TimeRange {
                    start: head.start_time,
                    end: head.end_time,
                },
                url,
            ));
        }
    }
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

struct Decision {
    status: Status,
    detail: Option<String>,
    authentic: bool,
    /// For a digest read away from the key its own fields name: that key.
    moved_from: Option<String>,
}

fn decide(
    node: &Node,
    parsed: &ParsedDigest,
    successor_link: Option<SuccessorLink>,
    chain: &ChainId,
    keys: Result<&KeyRing, &str>,
) -> Decision {
    let bucket = node.bucket.as_str();
    let digest = &parsed.digest;
    let fail = |status, detail: String| Decision {
        status,
        detail: Some(detail),
        authentic: false,
        moved_from: None,
    };

    // Without the region's keys nothing can be said either way: not a verdict on the digest.
    let keys = match keys {
        Ok(keys) => keys,
        Err(why) => {
            return fail(
                Status::Error,
                format!(
                    "public keys for region {} could not be obtained: {why}",
                    chain.region
                ),
            )
        }
    };
    // The key must have been in force when the digest was signed: at its end time, or for a
    // backfill digest when it was generated.
    let signed_at = parsed
        .metadata
        .get("backfill-generation-timestamp")
        .and_then(|t| UtcTime::parse_user(t).ok())
        .filter(|_| chain.backfill)
        .unwrap_or(digest.end_time);
    let key = match keys.find_at(&digest.fingerprint, &chain.region, signed_at) {
        Ok(key) => key,
        Err(why) => return fail(Status::KeyNotFound, why),
    };
    let message = digest.signed_message(&parsed.sha256);

    let metadata_signature = match parsed.metadata.get("signature") {
        None => None,
        Some(text) => match Signature::parse_hex(text.trim()) {
            Ok(sig) => Some(sig),
            Err(e) => {
                return fail(
                    Status::SignatureInvalid,
                    format!("S3 metadata signature is malformed: {e}"),
                )
            }
        },
    };
    if let Some(algorithm) = parsed.metadata.get("signature-algorithm") {
        if algorithm != crate::digest::SIGNATURE_ALGORITHM {
            return fail(
                Status::SignatureInvalid,
                format!("S3 metadata signature-algorithm is {algorithm:?}"),
            );
        }
    }

    let mut notes: Vec<String> = Vec::new();
    // A link from a successor that could not be verified counts only if its signature verifies
    // this digest; otherwise this digest stands on its own metadata.
    let mut unproven_link: Option<String> = None;
    let successor_link = successor_link.filter(|link| {
        link.authentic || {
            let proves = key.verify(message.as_bytes(), &link.signature).is_ok();
            if !proves {
                unproven_link = Some(link.url.clone());
            }
            proves
        }
    });
    let authentic;
    match successor_link {
        Some(SuccessorLink {
            url: successor_url,
            hash: expected_hash,
            signature: linked_signature,
            authentic: successor_authentic,
        }) => {
            // A link from an unverified successor only got here by verifying.
            let signature_ok =
                !successor_authentic || key.verify(message.as_bytes(), &linked_signature).is_ok();
            if expected_hash != parsed.sha256 {
                if successor_authentic {
                    return Decision {
                        status: Status::HashMismatch,
                        detail: Some(format!(
                            "SHA-256 {} differs from previousDigestHashValue {} in {successor_url}",
                            parsed.sha256, expected_hash
                        )),
                        authentic: signature_ok,
                        moved_from: None,
                    };
                }
                // The signature proves this digest; the unverified successor recorded wrong.
                notes.push(format!(
                    "previousDigestHashValue {expected_hash} in {successor_url}, which could not be verified, is not its SHA-256"
                ));
            }
            if !signature_ok {
                return fail(
                    Status::SignatureInvalid,
                    format!("signature verification failed (signature from previousDigestSignature of {successor_url})"),
                );
            }
            authentic = true;
            if !successor_authentic {
                notes.push(format!(
                    "verified by the previousDigestSignature of {successor_url}, which could not itself be verified"
                ));
            }
            if let Some(metadata_signature) = metadata_signature {
                if metadata_signature != linked_signature {
                    return Decision {
                        status: Status::SignatureInvalid,
                        detail: Some(format!(
                            "S3 metadata signature differs from previousDigestSignature of {successor_url}"
                        )),
                        authentic,
                        moved_from: None,
                    };
                }
            }
        }
        None => {
            let Some(signature) = metadata_signature else {
                let why = match (&unproven_link, node.successor.is_some()) {
                    (Some(url), _) => format!(
                        "no signature: not in the digest metadata, and the previousDigestSignature of {url}, which could not itself be verified, does not verify it"
                    ),
                    (None, true) => "no signature: not in the digest metadata, and its successor could not be read or parsed".into(),
                    (None, false) => "no signature: not in the digest metadata (newest digest of a copy without metadata)".into(),
                };
                return Decision {
                    status: Status::Unsigned,
                    detail: Some(why),
                    authentic: false,
                    moved_from: None,
                };
            };
            if key.verify(message.as_bytes(), &signature).is_err() {
                return fail(
                    Status::SignatureInvalid,
                    "signature verification failed".into(),
                );
            }
            authentic = true;
            if let Some(url) = unproven_link {
                notes.push(format!(
                    "verified by its own metadata signature; the previousDigestSignature of {url}, which could not itself be verified, does not verify it"
                ));
            } else if node.successor.is_some() {
                notes.push(
                    "verified by its own metadata signature; its successor could not be read or parsed"
                        .into(),
                );
            }
        }
    }

    if digest.bucket != bucket || digest.object != node.key {
        let original = digest_url(&digest.bucket, &digest.object);
        return Decision {
            status: Status::Moved,
            detail: Some(format!(
                "has been moved from its original location {original}"
            )),
            authentic,
            moved_from: (digest.bucket == bucket).then(|| digest.object.clone()),
        };
    }
    let detail = if notes.is_empty() {
        None
    } else {
        Some(notes.join("; "))
    };
    Decision {
        status: Status::Valid,
        detail,
        authentic,
        moved_from: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_key_set_tells_pairs_apart() {
        let mut set = LogKeySet::default();
        assert!(set.insert("bucket", "a/b.json.gz"));
        assert!(!set.insert("bucket", "a/b.json.gz"));
        assert!(set.contains("bucket", "a/b.json.gz"));
        // The same bytes split differently are a different pair.
        assert!(!set.contains("bucket\na", "b.json.gz"));
        assert!(!set.contains("other", "a/b.json.gz"));
        assert!(!set.contains("bucket", "a/b.json.g"));
        let mut other = LogKeySet::default();
        other.insert("bucket", "c.json.gz");
        set.extend(other);
        assert!(set.contains("bucket", "c.json.gz"));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn a_log_is_checked_once_per_hash_it_is_listed_with() {
        let mut set = LogKeySet::default();
        let mut others = HashSet::new();
        let (first, second) = (Sha256([7; 32]), Sha256([8; 32]));
        // Listed by a digest that could not be verified: not checked.
        assert!(set.insert("bucket", "a.json.gz"));
        assert!(!set.is_checked("bucket", "a.json.gz"));
        assert!(set.insert_checked("bucket", "a.json.gz", &first, &mut others));
        assert!(set.is_checked("bucket", "a.json.gz"));
        assert!(!set.insert_checked("bucket", "a.json.gz", &first, &mut others));
        // Another authentic digest listing it with another hash: checked against that too,
        // once.
        assert!(set.insert_checked("bucket", "a.json.gz", &second, &mut others));
        assert!(!set.insert_checked("bucket", "a.json.gz", &second, &mut others));
        assert!(!set.insert_checked("bucket", "a.json.gz", &first, &mut others));
        assert!(!set.is_checked("bucket", "b.json.gz"));
        assert_eq!(set.len(), 1);
        // Merging keeps what either side checked.
        let mut unchecked = LogKeySet::default();
        unchecked.insert("bucket", "a.json.gz");
        unchecked.extend(set);
        assert!(unchecked.is_checked("bucket", "a.json.gz"));
    }
}
