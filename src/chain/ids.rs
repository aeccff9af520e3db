//! Compact identities for the walk: [`PairId`] for a (bucket, key) pair and [`LogKeySet`], the
//! set of logs a walk has seen listed, and with which hash an authentic digest listed each.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use sha2::Digest as _;

use crate::hash::Sha256;

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
            Entry::Vacant(slot) => {
                slot.insert(None);
                true
            }
            Entry::Occupied(_) => false,
        }
    }

    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.0.contains_key(&PairId::of(bucket, key))
    }

    /// A log an authentic digest lists with `hash`: whether the log was not yet to be checked
    /// against that hash. `other_hashes` holds the rare logs listed with a second hash.
    pub(super) fn insert_checked(
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
    pub(super) fn is_checked(&self, bucket: &str, key: &str) -> bool {
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
