//! Links: which digest each digest names as its predecessor (`previousDigestS3Bucket`/
//! `previousDigestS3Object`), and which names could not be followed.

use super::index::ChainIndex;
use crate::reason::ChainReason;

/// Why a digest's `previousDigestS3Object` is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkNote {
    NotOlder,
    AlreadyNamed,
}

impl LinkNote {
    /// The note for a digest naming `named` as its predecessor.
    pub fn reason(self, named: &str) -> ChainReason {
        let named = named.to_string();
        match self {
            LinkNote::NotOlder => ChainReason::PredecessorNotOlder { named },
            LinkNote::AlreadyNamed => ChainReason::PredecessorAlreadyNamed { named },
        }
    }
}

/// One digest's place in the chain, by index into [`ChainIndex::nodes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct NodeLinks {
    /// The digest whose `previousDigestS3Object` names this one (the first to, newest first).
    pub successor: Option<usize>,
    /// The digest this one names so.
    pub predecessor: Option<usize>,
    pub note: Option<LinkNote>,
}

pub(super) struct Links {
    /// By index into [`ChainIndex::nodes`].
    pub of: Vec<NodeLinks>,
    /// Digests whose named predecessor was not read (nor claimed by one read elsewhere).
    pub missing: Vec<usize>,
}

/// Links successor -> predecessor, only ever to an older digest, so a pointer loop cannot make
/// the walk go round.
pub(super) fn link(index: &ChainIndex) -> Links {
    let nodes = &index.nodes;
    let mut of = vec![NodeLinks::default(); nodes.len()];
    let mut missing = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(previous_at) = node.head().and_then(|h| h.previous_at) else {
            continue;
        };
        match index.find(&previous_at) {
            Some(t) if nodes[t].end_time() >= node.end_time() || t == i => {
                of[i].note = Some(LinkNote::NotOlder);
            }
            Some(t) => {
                // Every claimant hands down what it recorded (see `digests`): which one is
                // authentic is known only once each is decided, and a planted digest naming
                // the same predecessor must not take the real successor's word away.
                of[i].predecessor = Some(t);
                if of[t].successor.is_none() {
                    of[t].successor = Some(i);
                } else {
                    of[i].note = Some(LinkNote::AlreadyNamed);
                }
            }
            None => missing.push(i),
        }
    }
    Links { of, missing }
}

#[cfg(test)]
mod tests {
    use super::super::index::tests::{parsed, unreadable};
    use super::*;

    #[test]
    fn each_digest_links_to_the_older_one_it_names() {
        // Newest first: 4 -> 3 -> (2 unreadable) ; 1 names the absent 0.
        let index = ChainIndex::of(vec![
            parsed(4, Some(3)),
            parsed(3, Some(2)),
            unreadable(2),
            parsed(1, Some(0)),
        ]);
        let links = link(&index);
        assert_eq!(links.of[0].predecessor, Some(1));
        assert_eq!(links.of[1].successor, Some(0));
        assert_eq!(links.of[1].predecessor, Some(2));
        assert_eq!(links.of[2].successor, Some(1));
        assert_eq!(links.of[3].predecessor, None);
        assert_eq!(links.missing, [3]);
        assert!(links.of.iter().all(|l| l.note.is_none()));
    }

    #[test]
    fn a_name_that_is_not_older_or_already_named_is_noted() {
        // 3 names 5 (newer); 2 and a planted 2b both name 1.
        let mut planted = parsed(2, Some(1));
        planted.key = "digest/0002b.json.gz".into();
        let index = ChainIndex::of(vec![
            parsed(5, None),
            parsed(3, Some(5)),
            planted,
            parsed(2, Some(1)),
            parsed(1, None),
        ]);
        let links = link(&index);
        let by_key = |key: &str| index.nodes.iter().position(|n| n.key == key).unwrap();
        let (three, two, two_b, one) = (
            by_key("digest/0003.json.gz"),
            by_key("digest/0002.json.gz"),
            by_key("digest/0002b.json.gz"),
            by_key("digest/0001.json.gz"),
        );
        assert_eq!(links.of[three].note, Some(LinkNote::NotOlder));
        assert_eq!(links.of[three].predecessor, None);
        // The first claimant (newest first: the planted key sorts after) is the successor;
        // both hand down what they recorded.
        assert_eq!(links.of[one].successor, Some(two_b));
        assert_eq!(links.of[two].note, Some(LinkNote::AlreadyNamed));
        assert_eq!(links.of[two].predecessor, Some(one));
        assert_eq!(links.of[two_b].predecessor, Some(one));
    }
}
