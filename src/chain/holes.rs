//! Missing digests: the predecessors trusted digests name that were not found, and, behind an
//! authentic one, a digest for every hour of the hole between it and the next older digest
//! present (digests deleted in a row leave only the newest of them named).

use std::collections::HashSet;

use super::decide::Trust;
use super::index::{ChainIndex, Node};
use super::link::Links;
use super::{digest_url, emit_digest, ParsedDigest, WalkSink};
use crate::digest::{ChainId, DigestKey};
use crate::reason::ChainReason;
use crate::report::{ChainReport, FileEntry, RequestedRange, TimeRange};
use crate::status::{FileKind, Status};
use crate::time::UtcTime;

/// How many missing digests we are willing to infer in one hole: the hours of a longer hole
/// past this many are not inferred one by one (the digest its successor names is still
/// reported, and the hole still counts as covered).
const MAX_INFERRED_MISSING: i64 = 10_000;

/// The hours some file answers for (by its content or by its key name), sorted, so that each
/// hour of a long hole is looked up rather than compared with every digest.
struct AnsweredHours(Vec<i64>);

impl AnsweredHours {
    fn of(nodes: &[Node]) -> AnsweredHours {
        let mut hours: Vec<i64> = nodes
            .iter()
            .flat_map(|n| [n.end_time().unix(), n.named_end.unix()])
            .collect();
        hours.sort_unstable();
        AnsweredHours(hours)
    }

    /// Whether a file answers for the hour ending about `t` (within half an hour).
    fn contains(&self, t: UtcTime) -> bool {
        let (from, to) = (t.unix() - 1800, t.unix() + 1800);
        let at = self.0.partition_point(|&a| a <= from);
        self.0.get(at).is_some_and(|&a| a < to)
    }
}

/// Reports the missing digests (to `sink`, counted in `report`) and returns the holes an
/// authentic successor proves were covered by digests: logs delivered in them should be
/// listed, so they are verified windows for the unreferenced-log scan.
#[allow(clippy::too_many_arguments)]
pub(super) fn report_missing(
    index: &ChainIndex,
    links: &Links,
    trust: &[Trust],
    chain: &ChainId,
    bucket: &str,
    range: &RequestedRange,
    load: &dyn Fn(&Node) -> std::io::Result<Option<ParsedDigest>>,
    report: &mut ChainReport,
    sink: &mut dyn WalkSink,
) -> std::io::Result<Vec<TimeRange>> {
    let nodes = &index.nodes;
    let mut hole_windows: Vec<TimeRange> = Vec::new();
    // Each missing digest is one file, however many digests name it.
    let mut reported_missing: HashSet<(String, String)> = HashSet::new();
    let answered = AnsweredHours::of(nodes);
    for &i in &links.missing {
        if !trust[i].is_trusted() {
            continue;
        }
        let successor = &nodes[i];
        let Some(parsed) = load(successor)? else {
            continue;
        };
        let Some(previous) = parsed.digest.previous else {
            continue;
        };
        let (prev_bucket, prev_key) = (previous.bucket, previous.object);
        // What an authentic successor recorded is what the missing digest's bytes hashed to:
        // an earlier version of it that matches is the digest CloudTrail wrote.
        let recorded = trust[i].is_authentic().then_some(previous.hash);
        let named_time = DigestKey::parse(&prev_key).map(|k| k.end_time);
        if named_time.is_some_and(|t| !range.contains(t)) {
            continue; // the predecessor is outside the requested range: the walk ends here
        }
        if !reported_missing.insert((prev_bucket.clone(), prev_key.clone())) {
            continue;
        }
        let successor_url = successor.url();
        if prev_bucket != successor.bucket && prev_bucket != bucket {
            emit_digest(
                report,
                sink,
                FileEntry::new(FileKind::Digest, &prev_bucket, &prev_key, Status::Error)
                    .with_detail(ChainReason::PredecessorInForeignBucket {
                        successor_url,
                        bucket: prev_bucket.clone(),
                    }),
            );
            continue;
        }
        let mut named = FileEntry::new(FileKind::Digest, &prev_bucket, &prev_key, Status::NotFound)
            .with_detail(ChainReason::NamedAsPredecessor {
                successor_url: successor_url.clone(),
            });
        named.expected_sha256 = recorded;
        emit_digest(report, sink, named);
        // The hours between the newest older digest we have and the one named are each a
        // digest that should be there. "Newest older" by content, not key name: a planted copy
        // of an old digest must not stretch the hole over digests that are present.
        let start_of_named = parsed.digest.start_time;
        let older = nodes
            .iter()
            .filter(|n| n.end_time() < start_of_named)
            .max_by_key(|n| n.end_time());
        // Only a verified successor proves digests covered the hole (an unsigned one could
        // name any predecessor, and so conjure up any number of missing hours): then logs
        // delivered in it should be listed by them, and each hour's digest should be there.
        let Some(older) = older.filter(|_| trust[i].is_authentic()) else {
            continue;
        };
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
            // An hour some file answers for is not missing: a file there is reported for what
            // it is, not inferred away.
            let key = chain.digest_key(expected_end);
            if answered.contains(expected_end)
                || index.holds(&prev_bucket, &key)
                || !reported_missing.insert((prev_bucket.clone(), key.clone()))
            {
                continue;
            }
            emit_digest(
                report,
                sink,
                FileEntry::new(FileKind::Digest, &prev_bucket, &key, Status::NotFound).with_detail(
                    ChainReason::InferredMissing {
                        successor_url: successor_url.clone(),
                        older_url: digest_url(&older.bucket, &older.key),
                        hour_end: expected_end,
                    },
                ),
            );
        }
    }
    Ok(hole_windows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::index::tests::{at, key, parsed, BUCKET};
    use super::super::link::link;
    use super::super::FetchedDigest;
    use super::*;
    use crate::digest::Digest;
    use crate::hash::Sha256;

    /// Collects what is reported.
    #[derive(Default)]
    struct Entries(Vec<FileEntry>);

    impl WalkSink for Entries {
        fn digest(&mut self, entry: FileEntry) {
            self.0.push(entry);
        }

        fn log_check(&mut self, _: super::super::LogCheck) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn chain() -> ChainId {
        ChainId {
            prefix: String::new(),
            organization_id: None,
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            trail: "trail".into(),
            home_region: "us-east-1".into(),
            backfill: false,
        }
    }

    /// The digest of `hour` as the loader gives it, naming `previous` (the hash and
    /// signature do not matter here).
    fn loaded(hour: i64, previous: Option<i64>) -> ParsedDigest {
        let previous = previous.map_or_else(String::new, |p| {
            format!(
                r#""previousDigestS3Bucket": "{BUCKET}", "previousDigestS3Object": "{}",
                "previousDigestHashValue": "{}", "previousDigestHashAlgorithm": "SHA-256",
                "previousDigestSignature": "abcd","#,
                key(p),
                "00".repeat(32)
            )
        });
        let json = format!(
            r#"{{"awsAccountId": "111122223333", "digestStartTime": "{}", "digestEndTime": "{}",
            "digestS3Bucket": "{BUCKET}", "digestS3Object": "{}",
            "digestPublicKeyFingerprint": "{}", "digestSignatureAlgorithm": "SHA256withRSA",
            {previous} "logFiles": []}}"#,
            at(hour - 1),
            at(hour),
            key(hour),
            "00".repeat(16)
        );
        ParsedDigest {
            digest: Digest::parse(json.as_bytes()).expect("a well-formed digest"),
            sha256: Sha256([0; 32]),
            metadata: Arc::default(),
        }
    }

    /// Digest 6 names 5, which is missing; 2 is the next older digest present.
    fn run(trust_of_6: Trust) -> (Vec<FileEntry>, Vec<TimeRange>) {
        let fetched: Vec<FetchedDigest<_>> = vec![parsed(6, Some(5)), parsed(2, None)];
        let index = ChainIndex::of(fetched);
        let links = link(&index);
        assert_eq!(links.missing, [0]);
        let load = |node: &Node| -> std::io::Result<Option<ParsedDigest>> {
            Ok(node.head().map(|h| {
                let hour = h.stored as i64;
                loaded(hour, (hour == 6).then_some(5))
            }))
        };
        let range = RequestedRange {
            start: None,
            end: at(100),
        };
        let mut report = ChainReport::new(BUCKET, &chain());
        let mut sink = Entries::default();
        let holes = report_missing(
            &index,
            &links,
            &[trust_of_6, Trust::Authentic],
            &chain(),
            BUCKET,
            &range,
            &load,
            &mut report,
            &mut sink,
        )
        .expect("nothing to fail");
        assert_eq!(report.digests.total(), sink.0.len() as u64);
        (sink.0, holes)
    }

    #[test]
    fn an_authentic_successor_proves_each_hour_of_the_hole() {
        let (entries, holes) = run(Trust::Authentic);
        let successor_url = format!("s3://{BUCKET}/{}", key(6));
        let named = &entries[0];
        assert_eq!(
            (named.key.as_str(), named.status),
            (key(5).as_str(), Status::NotFound)
        );
        assert_eq!(
            named.detail,
            Some(
                ChainReason::NamedAsPredecessor {
                    successor_url: successor_url.clone()
                }
                .into()
            )
        );
        let inferred: Vec<_> = entries[1..].iter().map(|e| e.key.clone()).collect();
        assert_eq!(
            inferred,
            [chain().digest_key(at(3)), chain().digest_key(at(4))]
        );
        assert_eq!(
            entries[1].detail,
            Some(
                ChainReason::InferredMissing {
                    successor_url,
                    older_url: format!("s3://{BUCKET}/{}", key(2)),
                    hour_end: at(3),
                }
                .into()
            )
        );
        assert_eq!(
            holes,
            [TimeRange {
                start: at(2),
                end: at(5)
            }]
        );
    }

    #[test]
    fn an_unsigned_successor_names_its_predecessor_but_proves_no_hole() {
        let (entries, holes) = run(Trust::Unsigned);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].key, key(5));
        assert!(holes.is_empty());
        let (entries, holes) = run(Trust::Failed);
        assert!(entries.is_empty() && holes.is_empty());
    }
}
