//! The digests of one chain as the walk holds them: newest first, and found by where they were
//! read or, for a digest read elsewhere, by where their own fields put them.

use std::collections::HashMap;

use super::ids::PairId;
use super::{digest_url, DigestHead, FetchOutcome, FetchedDigest};
use crate::time::UtcTime;

/// One digest of the chain as fetched: its place, and its head or why it could not be read.
pub(super) struct Node {
    pub bucket: String,
    pub key: String,
    /// The end time its key names.
    pub named_end: UtcTime,
    pub outcome: FetchOutcome<DigestHead>,
}

impl Node {
    pub fn head(&self) -> Option<&DigestHead> {
        match &self.outcome {
            FetchOutcome::Parsed(head) => Some(head),
            FetchOutcome::Failed { .. } => None,
        }
    }

    /// The end time its content says, or its key's when it could not be read.
    pub fn end_time(&self) -> UtcTime {
        self.head().map_or(self.named_end, |h| h.end_time)
    }

    pub fn url(&self) -> String {
        digest_url(&self.bucket, &self.key)
    }
}

/// The chain's digests, newest first (by the time their keys name; the key breaks ties so the
/// order never depends on listing order), with lookups by place. A digest's index in
/// [`ChainIndex::nodes`] is how every later phase refers to it.
pub(super) struct ChainIndex {
    pub nodes: Vec<Node>,
    /// Where each digest was read.
    by_key: HashMap<PairId, usize>,
    /// Where a digest found away from its place says it belongs, when nothing was read there.
    by_claim: HashMap<PairId, usize>,
}

impl ChainIndex {
    pub fn of(fetched: Vec<FetchedDigest<DigestHead>>) -> ChainIndex {
        let mut nodes: Vec<Node> = fetched
            .into_iter()
            .map(|f| Node {
                bucket: f.bucket,
                key: f.key,
                named_end: f.named_end,
                outcome: f.outcome,
            })
            .collect();
        nodes.sort_by(|a, b| {
            b.named_end
                .cmp(&a.named_end)
                .then_with(|| b.key.cmp(&a.key))
        });
        let by_key: HashMap<PairId, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (PairId::of(&n.bucket, &n.key), i))
            .collect();
        // A digest found away from where its own fields put it still answers for its original
        // key.
        let mut by_claim: HashMap<PairId, usize> = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            if let Some(claimed) = node.head().and_then(|h| h.claimed_at) {
                if !by_key.contains_key(&claimed) {
                    by_claim.entry(claimed).or_insert(i);
                }
            }
        }
        ChainIndex {
            nodes,
            by_key,
            by_claim,
        }
    }

    /// The digest that answers for `place`: the one read there, else one claiming it.
    pub fn find(&self, place: &PairId) -> Option<usize> {
        self.by_key
            .get(place)
            .or_else(|| self.by_claim.get(place))
            .copied()
    }

    /// The digest whose content (or key, when unreadable) ends latest: where the chain ends.
    pub fn newest(&self) -> Option<&Node> {
        self.nodes
            .iter()
            .max_by_key(|n| n.end_time().max(n.named_end))
    }

    /// Whether a digest was read at (`bucket`, `key`).
    pub fn holds(&self, bucket: &str, key: &str) -> bool {
        self.by_key.contains_key(&PairId::of(bucket, key))
    }

    /// Whether digest `i` answers for the place its own fields name, nothing having been read
    /// there: a digest read away from its key, standing in for it.
    pub fn answers_by_claim(&self, i: usize) -> bool {
        let claimed = self.nodes.get(i).and_then(|n| n.head()?.claimed_at);
        claimed.is_some_and(|place| self.by_claim.get(&place) == Some(&i))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub const BUCKET: &str = "bucket";

    pub fn at(hour: i64) -> UtcTime {
        UtcTime::from_unix(1_709_251_200 + hour * 3600)
    }

    pub fn key(hour: i64) -> String {
        format!("digest/{hour:04}.json.gz")
    }

    /// A parsed digest for the hour ending at `hour`, read where it belongs and naming the
    /// digest of `previous` (if any) as its predecessor.
    pub fn parsed(hour: i64, previous: Option<i64>) -> FetchedDigest<DigestHead> {
        FetchedDigest {
            bucket: BUCKET.into(),
            key: key(hour),
            named_end: at(hour),
            outcome: FetchOutcome::Parsed(DigestHead {
                start_time: at(hour - 1),
                end_time: at(hour),
                claimed_at: None,
                previous_at: previous.map(|p| PairId::of(BUCKET, &key(p))),
                stored: hour as u64,
            }),
        }
    }

    /// A digest that could not be read, at the key of `hour`.
    pub fn unreadable(hour: i64) -> FetchedDigest<DigestHead> {
        FetchedDigest {
            bucket: BUCKET.into(),
            key: key(hour),
            named_end: at(hour),
            outcome: FetchOutcome::Failed {
                status: crate::status::Status::InvalidFormat,
                detail: "invalid format: test".into(),
            },
        }
    }

    #[test]
    fn newest_first_and_found_by_place_or_claim() {
        let mut moved = parsed(3, Some(2));
        moved.key = "elsewhere.json.gz".into();
        if let FetchOutcome::Parsed(head) = &mut moved.outcome {
            head.claimed_at = Some(PairId::of(BUCKET, &key(3)));
        }
        let index = ChainIndex::of(vec![parsed(1, None), moved, parsed(2, Some(1))]);
        let keys: Vec<&str> = index.nodes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["elsewhere.json.gz", &key(2), &key(1)]);
        assert_eq!(index.find(&PairId::of(BUCKET, &key(1))), Some(2));
        // Found by the place it claims, though not read there.
        assert_eq!(index.find(&PairId::of(BUCKET, &key(3))), Some(0));
        assert!(index.answers_by_claim(0));
        assert!(!index.answers_by_claim(1));
        assert!(!index.holds(BUCKET, &key(3)));
        assert!(index.holds(BUCKET, "elsewhere.json.gz"));
    }
}
