//! The pass over the digests, newest to oldest: each digest's verdict (see `decide`), what it
//! recorded of its predecessor handed down, and its logs, checked against it if it is
//! authentic and noted as unverified otherwise.
//!
//! A successor is always decided before its predecessor. Each digest's log list is handed over
//! as it is loaded, so the lists and the checks built from them are never all held at once.

use std::collections::HashMap;

use super::decide::{decide, ChainMetadata, Checked, ReadAt, SuccessorLink, Trust};
use super::index::{ChainIndex, Node};
use super::link::Links;
use super::logs::{LogLedger, MAX_UNVERIFIED_LISTED};
use super::{emit_digest, FetchOutcome, ParsedDigest, VerifiedDigest, WalkSink};
use crate::digest::ChainId;
use crate::keys::KeyRing;
use crate::reason::ChainReason;
use crate::report::{ChainReport, Detail, FileEntry, TimeRange};
use crate::status::{FileKind, Status};

/// What the pass leaves for the phases after it.
pub(super) struct Decided {
    /// By index into [`ChainIndex::nodes`].
    pub trust: Vec<Trust>,
    /// The windows of authentic digests, newest first.
    pub verified_windows: Vec<TimeRange>,
    pub logs: LogLedger,
}

/// Decides every digest of `index`, handing verdicts and log checks to `sink` and counting
/// them in `report` (with the keys that verified, the range found and the empty windows).
#[allow(clippy::too_many_arguments)]
pub(super) fn decide_all(
    index: &ChainIndex,
    links: &Links,
    chain: &ChainId,
    metadata: ChainMetadata,
    keys: Result<&KeyRing, &str>,
    load: &dyn Fn(&Node) -> std::io::Result<Option<ParsedDigest>>,
    report: &mut ChainReport,
    sink: &mut dyn WalkSink,
) -> std::io::Result<Decided> {
    // What each claimant of a predecessor recorded of it, newest claimant first.
    let mut links_to: HashMap<usize, Vec<SuccessorLink>> = HashMap::new();
    let mut trust = Vec::with_capacity(index.nodes.len());
    let mut verified_windows = Vec::new();
    let mut logs = LogLedger::default();
    let mut found: Option<TimeRange> = None;
    for (i, node) in index.nodes.iter().enumerate() {
        let successor_link = links_to.remove(&i).and_then(SuccessorLink::choose);
        let mut entry = FileEntry::new(FileKind::Digest, &node.bucket, &node.key, Status::Valid);
        entry.backfill = chain.backfill;
        let parsed = match (&node.outcome, load(node)?) {
            (FetchOutcome::Failed { status, detail }, _) => {
                entry.status = *status;
                entry.detail = Some(Detail::Text(detail.clone()));
                trust.push(Trust::of_unread(*status));
                emit_digest(report, sink, entry);
                continue;
            }
            (FetchOutcome::Parsed(_), None) => unreachable!("a parsed digest is loaded"),
            (FetchOutcome::Parsed(_), Some(parsed)) => parsed,
        };
        let at = ReadAt {
            bucket: &node.bucket,
            key: &node.key,
            has_successor: links.of[i].successor.is_some(),
        };
        // What an authentic successor recorded of this digest: a `hash_mismatch` against it
        // is the only one there is, and an earlier version that matches it is recoverable.
        let recorded = successor_link
            .as_ref()
            .filter(|link| link.successor.is_authentic())
            .map(|link| link.hash);
        // A digest read away from its key and standing in for it must be what its successor
        // recorded there to be taken for it (and called `moved`): otherwise it is no digest of
        // the chain, and the one it claims to be is missing.
        if index.answers_by_claim(i) {
            let other_bytes = successor_link
                .as_ref()
                .filter(|link| link.successor.is_authentic() && link.hash != parsed.sha256);
            if let Some(link) = other_bytes {
                let claimed = &parsed.digest;
                let mut missing = FileEntry::new(
                    FileKind::Digest,
                    &claimed.bucket,
                    &claimed.object,
                    Status::NotFound,
                )
                .with_detail(ChainReason::NamedAsPredecessor {
                    successor_url: link.url.clone(),
                });
                missing.backfill = chain.backfill;
                missing.expected_sha256 = Some(link.hash);
                emit_digest(report, sink, missing);
                entry.status = Status::Unreferenced;
                entry.detail = Some(Detail::from(ChainReason::NotTheRecordedDigest {
                    claimed_url: super::digest_url(&claimed.bucket, &claimed.object),
                    sha256: parsed.sha256,
                    recorded: link.hash,
                    successor_url: link.url.clone(),
                }));
                emit_digest(report, sink, entry);
                trust.push(Trust::Failed);
                logs.list_unverified(
                    parsed.digest.log_files,
                    &node.url(),
                    &node.key,
                    Status::Unreferenced,
                );
                continue;
            }
        }
        let verified = VerifiedDigest {
            bucket: node.bucket.clone(),
            key: node.key.clone(),
            sha256: parsed.sha256,
            signature: parsed.metadata.get("signature").cloned(),
            end_time: parsed.digest.end_time,
        };
        let decision = decide(at, parsed, successor_link, chain, metadata, keys);
        let mut checked = decision.checked;
        let digest = checked.digest();
        if checked.trust().is_authentic() {
            report.note_key(&digest.fingerprint);
        }
        // Report a moved digest under the key it belongs at, unless that key holds a digest of
        // its own.
        if let Some(moved_from) = decision
            .moved_from
            .filter(|k| !index.holds(&node.bucket, k))
        {
            entry.key = moved_from;
            entry.moved_to = Some(node.key.clone());
        }
        let mut reasons = decision.reasons;
        if let Some(note) = links.of[i].note {
            let named = digest.previous.as_ref().map_or("", |p| p.object.as_str());
            reasons.push(note.reason(named));
        }
        // What a digest that could not be verified lists is reported log by log only up to a
        // point: its list is the one thing in the report an attacker sizes at will.
        let listed = digest.log_files.len();
        if !checked.trust().is_authentic() && listed > MAX_UNVERIFIED_LISTED {
            reasons.push(ChainReason::ListCapped {
                listed,
                reported: MAX_UNVERIFIED_LISTED,
            });
        }
        entry.status = decision.status;
        entry.detail = Detail::from_reasons(reasons);
        if entry.status == Status::HashMismatch {
            entry.expected_sha256 = recorded;
        }
        if entry.status == Status::Valid {
            report.newest_verified = report.newest_verified.max(Some(digest.end_time));
            sink.verified_digest(verified);
        }
        emit_digest(report, sink, entry);
        trust.push(checked.trust());

        let window = TimeRange {
            start: digest.start_time,
            end: digest.end_time,
        };
        found = Some(match found {
            None => window,
            Some(r) => TimeRange {
                start: r.start.min(window.start),
                end: r.end.max(window.end),
            },
        });
        // What this digest recorded of its predecessor, for when the walk gets to it. Handed
        // down even when this digest could not be verified: a signature that verifies proves
        // the predecessor whoever passed it on, so a copy without metadata verifies all but
        // its newest digest.
        if let (Some(t), Some(previous)) = (links.of[i].predecessor, checked.take_previous()) {
            links_to.entry(t).or_default().push(SuccessorLink {
                url: node.url(),
                hash: previous.hash,
                signature: previous.signature,
                successor: checked.trust(),
            });
        }
        match checked {
            Checked::Authentic(verified) => {
                verified_windows.push(window);
                if verified.digest().log_files.is_empty() {
                    report.empty_windows.push(window);
                }
                logs.check(verified, &node.bucket, &node.key, sink)?;
            }
            Checked::Unsigned(digest) | Checked::Failed(digest) => {
                logs.list_unverified(digest.log_files, &node.url(), &node.key, decision.status);
            }
        }
    }
    logs.end_checks();
    report.empty_windows.sort_by_key(|w| w.start);
    report.found = found;
    Ok(Decided {
        trust,
        verified_windows,
        logs,
    })
}
