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

use crate::digest::{ChainId, Digest, DigestKey, LogFileRecord};
use crate::hash::{Sha256, Signature};
use crate::keys::KeyRing;
use crate::report::{ChainReport, FileEntry, RequestedRange, TimeRange};
use crate::spill::SpillRef;
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
    /// Where the log list went when it is not in `digest.log_files` (see [`crate::spill`]).
    pub spilled_logs: Option<SpillRef>,
}

#[derive(Debug, Clone)]
pub enum FetchOutcome {
    Parsed(Box<ParsedDigest>),
    /// Could not be read or parsed: the status (`invalid_format`, `error`, ...) and why.
    Failed {
        status: Status,
        detail: String,
    },
}

#[derive(Debug, Clone)]
pub struct FetchedDigest {
    /// Where it was read: the source's bucket, or another one the chain led into.
    pub bucket: String,
    pub key: String,
    pub name: DigestKey,
    pub outcome: FetchOutcome,
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

/// A set of (bucket, key) pairs held as the SHA-256 of the pair: 32 bytes a log however long
/// its key, so that knowing every listed log of a long range stays cheap. Collisions would need
/// a SHA-256 collision; the encoding is unambiguous because bucket names cannot hold `\n`.
#[derive(Debug, Clone, Default)]
pub struct LogKeySet(HashSet<[u8; 32]>);

impl LogKeySet {
    /// Parts joined by `\n`: unambiguous when only the first part is free of `\n` (a bucket
    /// name) and the last, if more than two, has a fixed length.
    fn fingerprint(parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = sha2::Sha256::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                hasher.update(b"\n");
            }
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    /// Whether the pair was new.
    pub fn insert(&mut self, bucket: &str, key: &str) -> bool {
        self.0
            .insert(Self::fingerprint(&[bucket.as_bytes(), key.as_bytes()]))
    }

    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.0
            .contains(&Self::fingerprint(&[bucket.as_bytes(), key.as_bytes()]))
    }

    /// A log with the hash a digest records for it: whether it was new.
    fn insert_with_hash(&mut self, bucket: &str, key: &str, hash: &Sha256) -> bool {
        self.0.insert(Self::fingerprint(&[
            bucket.as_bytes(),
            key.as_bytes(),
            &hash.0,
        ]))
    }

    pub fn extend(&mut self, other: LogKeySet) {
        if self.0.is_empty() {
            self.0 = other.0;
        } else {
            self.0.extend(other.0);
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
}

/// Digests by (bucket, key), held as the SHA-256 of the pair (see [`LogKeySet`]): a walk
/// holds one entry per digest of its chain, and the strings are already in the nodes.
#[derive(Default)]
struct NodeIndex(HashMap<[u8; 32], usize>);

impl NodeIndex {
    fn id(bucket: &str, key: &str) -> [u8; 32] {
        LogKeySet::fingerprint(&[bucket.as_bytes(), key.as_bytes()])
    }

    fn get(&self, bucket: &str, key: &str) -> Option<usize> {
        self.0.get(&Self::id(bucket, key)).copied()
    }

    fn contains(&self, bucket: &str, key: &str) -> bool {
        self.0.contains_key(&Self::id(bucket, key))
    }
}

/// How many missing digests we are willing to infer in one hole; beyond this the hole is
/// reported as one missing digest plus a detail saying how long the hole is.
const MAX_INFERRED_MISSING: i64 = 10_000;

struct Node {
    bucket: String,
    key: String,
    name: DigestKey,
    outcome: FetchOutcome,
    /// Index of the digest whose `previousDigestS3Object` names this one.
    successor: Option<usize>,
    /// The signature verified: its content is what CloudTrail wrote.
    authentic: bool,
    /// Not failed: authentic, or merely unsigned. Its pointers are followed.
    trusted: bool,
}

impl Node {
    fn parsed(&self) -> Option<&ParsedDigest> {
        match &self.outcome {
            FetchOutcome::Parsed(parsed) => Some(parsed),
            FetchOutcome::Failed { .. } => None,
        }
    }

    fn end_time(&self) -> UtcTime {
        self.parsed()
            .map_or(self.name.end_time, |p| p.digest.end_time)
    }
}

fn digest_url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// Decides every digest of one chain. `fetched` may be in any order; log lists are in the
/// digests (`spilled_logs` is `None`; a spilled one is a caller's error and panics).
/// `log_checks` comes sorted.
pub fn walk(
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    fetched: Vec<FetchedDigest>,
    keys: Result<&KeyRing, &str>,
) -> ChainOutcome {
    let mut checks = Vec::new();
    let in_memory = |_: &SpillRef| -> std::io::Result<Vec<LogFileRecord>> {
        Err(std::io::Error::other(
            "log list spilled, but no spill to read",
        ))
    };
    let walked = walk_streaming(
        chain,
        bucket,
        range,
        fetched,
        keys,
        &in_memory,
        &mut |check| {
            checks.push(check);
            Ok(())
        },
    );
    // Only a digest whose log list was spilled can make this fail: a caller's mistake.
    let mut outcome = match walked {
        Ok(outcome) => outcome,
        Err(e) => panic!("chain::walk is for log lists held in memory ({e}); use walk_streaming"),
    };
    checks.sort_unstable_by(|a, b| {
        (&a.bucket, &a.key, &a.expected).cmp(&(&b.bucket, &b.key, &b.expected))
    });
    outcome.log_checks = checks;
    outcome
}

/// [`walk`], with log lists read back through `spilled` and the log checks handed to
/// `on_check` as they are decided (newest digest first) instead of collected: the memory it
/// needs does not grow with the number of logs beyond a few bytes each. Fails only when
/// `spilled` or `on_check` does (local I/O).
pub fn walk_streaming(
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    fetched: Vec<FetchedDigest>,
    keys: Result<&KeyRing, &str>,
    spilled: &dyn Fn(&SpillRef) -> std::io::Result<Vec<LogFileRecord>>,
    on_check: &mut dyn FnMut(LogCheck) -> std::io::Result<()>,
) -> std::io::Result<ChainOutcome> {
    let mut nodes: Vec<Node> = fetched
        .into_iter()
        .map(|f| Node {
            bucket: f.bucket,
            key: f.key,
            name: f.name,
            outcome: f.outcome,
            successor: None,
            authentic: false,
            trusted: false,
        })
        .collect();
    // Newest first; the key breaks ties so that the order never depends on listing order.
    nodes.sort_by(|a, b| {
        b.name
            .end_time
            .cmp(&a.name.end_time)
            .then_with(|| b.key.cmp(&a.key))
    });

    let mut report = ChainReport::new(bucket, chain);
    let mut entries: Vec<FileEntry> = Vec::new();

    let by_key = NodeIndex(
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (NodeIndex::id(&n.bucket, &n.key), i))
            .collect(),
    );
    // A digest found away from where its own fields put it still answers for its original key.
    let mut by_claim = NodeIndex::default();
    for (i, node) in nodes.iter().enumerate() {
        if let Some(parsed) = node.parsed() {
            let d = &parsed.digest;
            let claimed_elsewhere =
                (d.bucket.as_str(), d.object.as_str()) != (node.bucket.as_str(), node.key.as_str());
            if claimed_elsewhere && !by_key.contains(&d.bucket, &d.object) {
                by_claim
                    .0
                    .entry(NodeIndex::id(&d.bucket, &d.object))
                    .or_insert(i);
            }
        }
    }

    // Links: successor -> predecessor, only ever to an older digest, so a pointer loop cannot
    // make the walk go round.
    let mut missing_links: Vec<(usize, String, String)> = Vec::new(); // (successor, bucket, key)
    let mut link_notes: HashMap<usize, String> = HashMap::new();
    for i in 0..nodes.len() {
        let Some(previous) = nodes[i].parsed().and_then(|p| p.digest.previous.clone()) else {
            continue;
        };
        let target = by_key
            .get(&previous.bucket, &previous.object)
            .or_else(|| by_claim.get(&previous.bucket, &previous.object));
        match target {
            Some(t) if nodes[t].end_time() >= nodes[i].end_time() || t == i => {
                link_notes.insert(
                    i,
                    format!(
                        "previousDigestS3Object names {} which is not older",
                        previous.object
                    ),
                );
            }
            Some(t) => {
                if nodes[t].successor.is_none() {
                    nodes[t].successor = Some(i);
                } else {
                    link_notes.insert(
                        i,
                        format!(
                            "another digest already names {} as its predecessor",
                            previous.object
                        ),
                    );
                }
            }
            None => missing_links.push((i, previous.bucket.clone(), previous.object.clone())),
        }
    }

    // Authenticity, newest to oldest: a successor is always decided before its predecessor.
    for i in 0..nodes.len() {
        let successor = nodes[i].successor.filter(|s| nodes[*s].authentic);
        let successor_link = successor.and_then(|s| {
            let prev = nodes[s].parsed()?.digest.previous.clone()?;
            Some((
                digest_url(&nodes[s].bucket, &nodes[s].key),
                prev.hash,
                prev.signature,
            ))
        });
        let node = &nodes[i];
        let mut entry = FileEntry::new(FileKind::Digest, &node.bucket, &node.key, Status::Valid);
        entry.backfill = chain.backfill;
        let (status, detail, authentic) = match &node.outcome {
            FetchOutcome::Failed { status, detail } => (*status, Some(detail.clone()), false),
            FetchOutcome::Parsed(parsed) => {
                let decision = decide(node, parsed, successor_link, chain, keys);
                if decision.authentic {
                    report.note_key(&parsed.digest.fingerprint);
                }
                // Report a moved digest under the key it belongs at, unless that key holds a
                // digest of its own.
                if let Some(moved_from) = decision
                    .moved_from
                    .as_ref()
                    .filter(|k| !by_key.contains(&node.bucket, k))
                {
                    entry.key = moved_from.clone();
                    entry.moved_to = Some(node.key.clone());
                }
                (decision.status, decision.detail, decision.authentic)
            }
        };
        let detail = match (detail, link_notes.get(&i)) {
            (Some(d), Some(note)) => Some(format!("{d}; {note}")),
            (None, Some(note)) => Some(note.clone()),
            (d, None) => d,
        };
        entry.status = status;
        entry.detail = detail;
        nodes[i].authentic = authentic;
        nodes[i].trusted = authentic || status == Status::Unsigned;
        entries.push(entry);
    }

    // Missing predecessors, named by digests we did not find failed.
    let mut hole_windows: Vec<TimeRange> = Vec::new();
    // Each missing digest is one file, however many digests name it.
    let mut reported_missing: HashSet<(String, String)> = HashSet::new();
    for (i, prev_bucket, prev_key) in missing_links {
        if !nodes[i].trusted {
            continue;
        }
        let named_time = DigestKey::parse(&prev_key).map(|k| k.end_time);
        if named_time.is_some_and(|t| !range.contains(t)) {
            continue; // the predecessor is outside the requested range: the walk ends here
        }
        if !reported_missing.insert((prev_bucket.clone(), prev_key.clone())) {
            continue;
        }
        let successor_url = digest_url(&nodes[i].bucket, &nodes[i].key);
        if prev_bucket != nodes[i].bucket && prev_bucket != bucket {
            entries.push(
                FileEntry::new(FileKind::Digest, &prev_bucket, &prev_key, Status::Error)
                    .with_detail(format!("named as predecessor by {successor_url}, in bucket {prev_bucket} which this source does not hold")),
            );
            continue;
        }
        entries.push(
            FileEntry::new(FileKind::Digest, &prev_bucket, &prev_key, Status::NotFound)
                .with_detail(format!("named as predecessor by {successor_url}")),
        );
        // Digests deleted in a row leave only the first one named. The hours between the
        // newest older digest we have and the one named are each a digest that should be
        // there. "Newest older" by content, not key name: a planted copy of an old digest
        // must not stretch the hole over digests that are present.
        let Some(start_of_named) = nodes[i].parsed().map(|p| p.digest.start_time) else {
            continue;
        };
        let older = nodes
            .iter()
            .filter(|n| n.end_time() < start_of_named)
            .max_by_key(|n| n.end_time());
        if let Some(older) = older {
            // A verified successor proves digests covered the hole: logs delivered in it
            // should be listed by them.
            if nodes[i].authentic {
                hole_windows.push(TimeRange {
                    start: older.end_time(),
                    end: start_of_named,
                });
            }
            let hole = start_of_named.unix() - older.end_time().unix();
            // Rounded to whole hours; the named digest is the last of them.
            let hours = ((hole + 1800) / 3600).min(MAX_INFERRED_MISSING);
            for h in 1..hours {
                let expected_end = older.end_time().plus_seconds(h * 3600);
                if !range.contains(expected_end) {
                    continue;
                }
                // An hour some digest answers for is not missing.
                // An hour some file answers for (by its content or by its key name) is not
                // missing: a file there is reported for what it is, not inferred away.
                let near = |t: UtcTime| (t.unix() - expected_end.unix()).abs() < 1800;
                let present = nodes
                    .iter()
                    .any(|n| near(n.end_time()) || near(n.name.end_time));
                let key = chain.digest_key(expected_end);
                if present
                    || by_key.contains(&prev_bucket, &key)
                    || !reported_missing.insert((prev_bucket.clone(), key.clone()))
                {
                    continue;
                }
                entries.push(
                    FileEntry::new(FileKind::Digest, &prev_bucket, &key, Status::NotFound).with_detail(format!(
                        "inferred: the chain from {successor_url} back to {} has no digest for the hour ending about {expected_end}; exact key unknown",
                        digest_url(&older.bucket, &older.key)
                    )),
                );
            }
        }
    }

    // Gaps: a starting digest after an older digest of the same chain.
    let mut gaps = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(parsed) = node.parsed() else {
            continue;
        };
        if parsed.digest.previous.is_some() || !node.trusted {
            continue;
        }
        if let Some(older) = nodes
            .iter()
            .skip(i + 1)
            .find(|n| n.end_time() < parsed.digest.start_time)
        {
            if older.successor.is_none() {
                gaps.push(TimeRange {
                    start: older.end_time(),
                    end: parsed.digest.start_time,
                });
            }
        }
    }
    gaps.sort_by_key(|g| g.start);
    report.gaps = gaps;

    // Found range, verified windows and empty hours; then the logs, checked against authentic
    // digests (the rest are unverified). Each digest's log list is handed over as it is read,
    // so the lists and the checks built from them are never both held whole.
    let mut verified_windows = hole_windows;
    let mut listed_logs = LogKeySet::default();
    let mut found: Option<TimeRange> = None;
    let mut log_check_count = 0usize;
    let mut to_check = LogKeySet::default();
    let mut checked = LogKeySet::default();
    let mut untrusted: BTreeMap<(String, String), (String, String, Status)> = BTreeMap::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        let authentic = node.authentic;
        let status = entries[i].status;
        let url = digest_url(&node.bucket, &node.key);
        let FetchOutcome::Parsed(parsed) = &mut node.outcome else {
            continue;
        };
        let logs = match &parsed.spilled_logs {
            None => std::mem::take(&mut parsed.digest.log_files),
            Some(at) => spilled(at)?,
        };
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
        let digest_key: Arc<str> = Arc::from(node.key.as_str());
        let mut log_bucket: Arc<str> = Arc::from(node.bucket.as_str());
        for log in logs {
            listed_logs.insert(&log.bucket, &log.object);
            if authentic {
                // The same log with the same hash is checked once, against the newest digest
                // listing it.
                if !to_check.insert_with_hash(&log.bucket, &log.object, &log.hash) {
                    continue;
                }
                checked.insert(&log.bucket, &log.object);
                if *log_bucket != *log.bucket {
                    log_bucket = Arc::from(log.bucket.as_str());
                }
                on_check(LogCheck {
                    bucket: log_bucket.clone(),
                    key: log.object,
                    expected: log.hash,
                    digest_key: digest_key.clone(),
                })?;
                log_check_count += 1;
            } else {
                untrusted.entry((log.bucket, log.object)).or_insert((
                    url.clone(),
                    node.key.clone(),
                    status,
                ));
            }
        }
    }
    report.empty_windows.sort_by_key(|w| w.start);
    report.found = found;
    drop(to_check);

    let mut unverified_logs = Vec::new();
    for ((log_bucket, log_key), (digest_url, digest_key, digest_status)) in &untrusted {
        if checked.contains(log_bucket, log_key) {
            continue;
        }
        let mut entry = FileEntry::new(FileKind::Log, log_bucket, log_key, Status::Unverified)
            .with_detail(format!(
                "listed only by {digest_url} whose status is {digest_status}"
            ));
        entry.digest = Some(digest_key.clone());
        entry.backfill = chain.backfill;
        unverified_logs.push(entry);
    }

    for entry in &entries {
        report.digests.add(entry.status);
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
        match node.parsed() {
            Some(parsed) => unverifiable_windows.push((
                TimeRange {
                    start: parsed.digest.start_time,
                    end: parsed.digest.end_time,
                },
                url,
            )),
            None => {
                // An unreadable digest's window runs from the next older digest's end to its
                // successor's start. Without a successor (the newest digest read) it ends at
                // the end time its key names; without an older one it starts an hour before
                // that (a digest covers an hour). Logs delivered then are `unverified`, not
                // left out of the report. Too wide a window cannot hide a planted file: a
                // verified window always decides first.
                let named_end = node.name.end_time;
                let end = node
                    .successor
                    .and_then(|s| nodes[s].parsed())
                    .map_or(named_end, |p| p.digest.start_time);
                let start = nodes
                    .iter()
                    .skip(i + 1)
                    .find(|n| n.parsed().is_some())
                    .map_or(named_end.plus_seconds(-3600), Node::end_time);
                if start < end {
                    unverifiable_windows.push((TimeRange { start, end }, url));
                }
            }
        }
    }
    Ok(ChainOutcome {
        report,
        digests: entries,
        log_checks: Vec::new(),
        log_check_count,
        unverified_logs,
        verified_windows,
        unverifiable_windows,
        listed_logs,
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
    successor_link: Option<(String, Sha256, Signature)>,
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
    let authentic;
    match successor_link {
        Some((successor_url, expected_hash, linked_signature)) => {
            let signature_ok = key.verify(message.as_bytes(), &linked_signature).is_ok();
            if expected_hash != parsed.sha256 {
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
            if !signature_ok {
                return fail(
                    Status::SignatureInvalid,
                    format!("signature verification failed (signature from previousDigestSignature of {successor_url})"),
                );
            }
            authentic = true;
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
                let why = if node.successor.is_some() {
                    "no signature: not in the digest metadata, and its successor could not be verified"
                } else {
                    "no signature: not in the digest metadata (newest digest of a copy without metadata)"
                };
                return Decision {
                    status: Status::Unsigned,
                    detail: Some(why.into()),
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
            if node.successor.is_some() {
                notes.push(
                    "verified by its own metadata signature; its successor could not be verified"
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
        let hash = Sha256([7; 32]);
        assert!(set.insert_with_hash("bucket", "a/b.json.gz", &hash));
        assert!(!set.insert_with_hash("bucket", "a/b.json.gz", &hash));
        assert!(set.insert_with_hash("bucket", "a/b.json.gz", &Sha256([8; 32])));
        let mut other = LogKeySet::default();
        other.insert("bucket", "c.json.gz");
        set.extend(other);
        assert!(set.contains("bucket", "c.json.gz"));
        assert_eq!(set.len(), 4);
    }
}
