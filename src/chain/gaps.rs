//! Gaps: a trusted digest that starts a chain (names no predecessor) after an older digest of
//! the same chain that nothing names as predecessor: logging stopped in between.

use super::decide::Trust;
use super::index::ChainIndex;
use super::link::Links;
use crate::report::TimeRange;

/// The gaps of the chain, oldest first.
pub(super) fn gaps(index: &ChainIndex, links: &Links, trust: &[Trust]) -> Vec<TimeRange> {
    let nodes = &index.nodes;
    let mut gaps = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(head) = node.head() else {
            continue;
        };
        if head.previous_at.is_some() || !trust[i].is_trusted() {
            continue;
        }
        let older = nodes
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, n)| n.end_time() < head.start_time);
        if let Some((o, older)) = older {
            if links.of[o].successor.is_none() {
                gaps.push(TimeRange {
                    start: older.end_time(),
                    end: head.start_time,
                });
            }
        }
    }
    gaps.sort_by_key(|g| g.start);
    gaps
}

#[cfg(test)]
mod tests {
    use super::super::index::tests::{at, parsed};
    use super::super::link::link;
    use super::*;

    #[test]
    fn a_new_start_after_an_unnamed_older_digest_is_a_gap() {
        // 1 <- 2, then logging stopped; 5 starts anew, 6 follows it.
        let index = ChainIndex::of(vec![
            parsed(6, Some(5)),
            parsed(5, None),
            parsed(2, Some(1)),
            parsed(1, None),
        ]);
        let links = link(&index);
        let trusted = vec![Trust::Unsigned; 4];
        assert_eq!(
            gaps(&index, &links, &trusted),
            [TimeRange {
                start: at(2),
                end: at(4)
            }]
        );
        // A start that failed its checks is not followed.
        let failed = vec![
            Trust::Authentic,
            Trust::Failed,
            Trust::Authentic,
            Trust::Authentic,
        ];
        assert!(gaps(&index, &links, &failed).is_empty());
    }
}
