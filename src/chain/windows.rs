//! The windows of digests that could not be verified: logs delivered then can be neither
//! vouched for nor called planted, so they are reported `unverified` rather than left out.

use super::decide::Trust;
use super::index::{ChainIndex, Node};
use super::link::Links;
use crate::report::TimeRange;

/// Each digest that is not authentic, with the windows it answers for (and its URL).
pub(super) fn unverifiable_windows(
    index: &ChainIndex,
    links: &Links,
    trust: &[Trust],
) -> Vec<(TimeRange, String)> {
    let nodes = &index.nodes;
    let mut windows = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if trust[i].is_authentic() {
            continue;
        }
        let url = node.url();
        // The hours its place in the chain says it covers: from the next older digest's end to
        // its successor's start. Without a successor (the newest digest read) they end at the
        // end time its key names; without an older one they start an hour before that (a
        // digest covers an hour). Logs delivered then are `unverified`, not left out of the
        // report. The times in its content are the attacker's to choose (a replayed older
        // digest names other hours), so they only ever add to this window. Too wide a window
        // cannot hide a planted file: a verified window always decides first.
        let named_end = node.named_end;
        let end = links.of[i]
            .successor
            .and_then(|s| nodes[s].head())
            .map_or(named_end, |h| h.start_time);
        let start = nodes
            .iter()
            .skip(i + 1)
            .find(|n| n.head().is_some())
            .map_or(named_end.plus_seconds(-3600), Node::end_time);
        if start < end {
            windows.push((TimeRange { start, end }, url.clone()));
        }
        if let Some(head) = node.head() {
            windows.push((
                TimeRange {
                    start: head.start_time,
                    end: head.end_time,
                },
                url,
            ));
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::super::index::tests::{at, parsed, unreadable};
    use super::super::link::link;
    use super::*;

    #[test]
    fn a_digest_not_verified_answers_for_its_place_in_the_chain() {
        // 4 -> 3 -> 2 (unreadable) -> 1; only 3 and 2 are not authentic.
        let index = ChainIndex::of(vec![
            parsed(4, Some(3)),
            parsed(3, Some(2)),
            unreadable(2),
            parsed(1, None),
        ]);
        let links = link(&index);
        let trust = [
            Trust::Authentic,
            Trust::Unsigned,
            Trust::Failed,
            Trust::Authentic,
        ];
        let windows = unverifiable_windows(&index, &links, &trust);
        let range = |start, end| TimeRange {
            start: at(start),
            end: at(end),
        };
        let url = |hour: usize| index.nodes[4 - hour].url();
        assert_eq!(
            windows,
            [
                // 3: from 1's end (2 has no head) to 4's start, then its own hour.
                (range(1, 3), url(3)),
                (range(2, 3), url(3)),
                // 2: from 1's end to 3's start.
                (range(1, 2), url(2)),
            ]
        );
        // The newest digest, unreadable and alone: the hour its key names.
        let alone = ChainIndex::of(vec![unreadable(7)]);
        let windows = unverifiable_windows(&alone, &link(&alone), &[Trust::Failed]);
        assert_eq!(windows, [(range(6, 7), alone.nodes[0].url())]);
    }
}
