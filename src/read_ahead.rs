//! Keeping a remote store's requests in flight ahead of the threads that verify what they
//! bring: [`ReadWindow`] sends the reads of the next objects an iterator will hand out, so that
//! a few verifying threads keep many requests in flight; [`LogsAhead`] reads a chain's first
//! logs while its last digests are still on their way.
//!
//! # The window
//!
//! Each object handed out has had its read sent, up to `width` ahead of the one handed out
//! last (and as long as the store has a free request slot). The thread that takes an object
//! then finds its answer there, usually whole, and only inflates and hashes it: a request in
//! flight costs no thread. What a read ahead brought decides nothing by itself: the `get`
//! takes it, or asks again if it failed.
//!
//! # Logs while the last digests come in
//!
//! A chain's logs are checked only once every one of its digests is read and the chain walked,
//! because trust flows from the newest digest down. Without reading ahead, the end of the
//! digests is a lull: fewer and fewer requests in flight as the last digests come back, then
//! a round trip with none while the walk runs and the first log requests travel. The digests
//! are read newest first, so by then the logs the walk will hand out first (the newest
//! digests') are known; each request slot a digest frees once all digests have been asked
//! for goes to one of them. A log read ahead is checked exactly as any other: the store only
//! keeps the early answer for the `get` that asks for it, and asks again if it failed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::store::ObjectStore;

/// One chain's reading ahead. `rank` is a digest's place in the order the walk takes them:
/// 0 is the newest.
pub struct LogsAhead<'a> {
    store: &'a dyn ObjectStore,
    /// The run's bound on requests in flight, whose free slots reads ahead fill.
    limit: usize,
    /// The most logs read ahead for one chain: twice the bound, because answers wait for the
    /// walk while their slots go to more reads ahead.
    most: usize,
    digests: usize,
    started: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Keys (in the store's bucket) of logs the newest digests read so far list, by rank: at
    /// most `most` of them, those of the lowest ranks.
    candidates: BTreeMap<usize, Vec<String>>,
    held: usize,
    /// Logs read ahead, so that those no check takes can be discarded.
    sent: Vec<String>,
}

impl<'a> LogsAhead<'a> {
    /// For a chain whose `digests` digests are about to be read.
    pub fn new(store: &'a dyn ObjectStore, limit: usize, digests: usize) -> LogsAhead<'a> {
        LogsAhead {
            store,
            limit,
            most: limit.saturating_mul(2),
            digests,
            started: AtomicUsize::new(0),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A digest's read begins.
    pub fn digest_started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// The digest of `rank` was read and lists `logs` (keys in the store's bucket).
    pub fn offer<'k>(&self, rank: usize, logs: impl Iterator<Item = &'k str>) {
        let mut guard = self.state();
        let state = &mut *guard;
        if state.held >= self.most
            && state
                .candidates
                .last_key_value()
                .is_some_and(|(&last, _)| last < rank)
        {
            return;
        }
        let keys: Vec<String> = logs.take(self.most).map(str::to_string).collect();
        if keys.is_empty() {
            return;
        }
        state.held += keys.len();
        state.candidates.entry(rank).or_default().extend(keys);
        while state.held > self.most {
            let Some(mut last) = state.candidates.last_entry() else {
                break;
            };
            if last.get_mut().pop().is_some() {
                state.held -= 1;
            }
            if last.get().is_empty() {
                last.remove();
            }
        }
    }

    /// A digest's read ended (its request slot is free again). Once every digest has been
    /// asked for, the free slots go to the candidates, newest digest first.
    pub fn digest_done(&self) {
        if self.started.load(Ordering::Relaxed) < self.digests {
            return;
        }
        let mut state = self.state();
        while state.sent.len() < self.most {
            let Some(mut first) = state.candidates.first_entry() else {
                return;
            };
            let Some(key) = first.get().first().cloned() else {
                first.remove();
                continue;
            };
            if !self.store.read_ahead(self.store.bucket(), &key, self.limit) {
                return;
            }
            first.get_mut().remove(0);
            if first.get().is_empty() {
                first.remove();
            }
            state.held -= 1;
            state.sent.push(key);
        }
    }

    /// The logs read ahead, to be discarded once the chain's checks are done.
    pub fn into_sent(self) -> Vec<String> {
        self.state
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .sent
    }
}

/// An item of a [`ReadWindow`]: the object it will read, if any, as (bucket, key); `None` for
/// the bucket means the store's own.
pub trait ReadsObject {
    /// The object a thread taking this item will `get` first.
    fn object(&self) -> Option<(Option<&str>, &str)>;
}

/// An iterator whose next `width` items have had their objects' reads sent (see the module's
/// documentation). Reads it sent and that no item handed out will take are discarded when it
/// is dropped.
pub struct ReadWindow<'a, I: Iterator>
where
    I::Item: ReadsObject,
{
    store: &'a dyn ObjectStore,
    items: I,
    /// Items taken from `items` and not yet handed out, each with whether its read was sent.
    window: VecDeque<(I::Item, bool)>,
    width: usize,
    limit: usize,
}

impl<'a, I: Iterator> ReadWindow<'a, I>
where
    I::Item: ReadsObject,
{
    /// Sends up to `width` reads ahead of what it hands out, while the store has fewer than
    /// `limit` requests in flight. A store that does not read ahead is passed through.
    pub fn new(store: &'a dyn ObjectStore, items: I, width: usize, limit: usize) -> Self {
        ReadWindow {
            store,
            items,
            window: VecDeque::new(),
            width: if store.reads_ahead() { width } else { 0 },
            limit,
        }
    }

    /// Sends what is unsent in the window, in order, until the store has no free slot.
    fn send(&mut self) {
        let own = self.store.bucket();
        for (item, sent) in self.window.iter_mut().filter(|(_, sent)| !*sent) {
            let Some((bucket, key)) = item.object() else {
                *sent = true;
                continue;
            };
            if !self
                .store
                .read_ahead(bucket.unwrap_or(own), key, self.limit)
            {
                return;
            }
            *sent = true;
        }
    }
}

impl<I: Iterator> Iterator for ReadWindow<'_, I>
where
    I::Item: ReadsObject,
{
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if self.width == 0 {
            return self.items.next();
        }
        while self.window.len() <= self.width {
            match self.items.next() {
                Some(item) => self.window.push_back((item, false)),
                None => break,
            }
        }
        self.send();
        self.window.pop_front().map(|(item, _)| item)
    }
}

impl<I: Iterator> Drop for ReadWindow<'_, I>
where
    I::Item: ReadsObject,
{
    fn drop(&mut self) {
        let own = self.store.bucket();
        for (item, sent) in &self.window {
            if let (true, Some((bucket, key))) = (*sent, item.object()) {
                self.store.discard_read_ahead(bucket.unwrap_or(own), key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Object, StoreError};

    /// Takes reads ahead while it has free slots (unlimited at first), recording them in
    /// order.
    struct Recording {
        sent: Mutex<Vec<String>>,
        free: Mutex<usize>,
        discarded: Mutex<Vec<String>>,
        /// Whether it says it reads ahead (a remote store) or not (a local one).
        remote: bool,
    }

    impl Default for Recording {
        fn default() -> Recording {
            Recording {
                sent: Mutex::default(),
                free: Mutex::new(usize::MAX),
                discarded: Mutex::default(),
                remote: true,
            }
        }
    }

    impl ObjectStore for Recording {
        fn bucket(&self) -> &str {
            "bucket"
        }
        fn describe(&self) -> String {
            "reads ahead recorded".into()
        }
        fn list_folders(&self, _prefix: &str) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
        fn list_keys(
            &self,
            _prefix: &str,
            _start_after: Option<&str>,
            _visit: &mut dyn FnMut(&str) -> bool,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        fn get(&self, _bucket: &str, _key: &str) -> Result<Object, StoreError> {
            Err(StoreError::NotFound)
        }
        fn read_ahead(&self, bucket: &str, key: &str, _limit: usize) -> bool {
            assert_eq!(bucket, "bucket");
            let mut sent = self.sent.lock().unwrap();
            let mut free = self.free.lock().unwrap();
            if *free == 0 {
                return false;
            }
            *free -= 1;
            sent.push(key.to_string());
            true
        }
        fn discard_read_ahead(&self, bucket: &str, key: &str) {
            assert_eq!(bucket, "bucket");
            self.discarded.lock().unwrap().push(key.to_string());
        }
        fn reads_ahead(&self) -> bool {
            self.remote
        }
    }

    /// An item of a window: a key, or nothing to read.
    struct Item(Option<String>);

    impl ReadsObject for Item {
        fn object(&self) -> Option<(Option<&str>, &str)> {
            self.0.as_deref().map(|key| (None, key))
        }
    }

    fn keys(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("k{i}")).collect()
    }

    fn items(count: usize) -> impl Iterator<Item = Item> {
        keys(0..count).into_iter().map(|k| Item(Some(k)))
    }

    #[test]
    fn a_window_sends_the_reads_of_the_next_items_before_handing_them_out() {
        let store = Recording::default();
        let mut window = ReadWindow::new(&store, items(10), 3, 64);
        assert_eq!(window.next().and_then(|i| i.0), Some("k0".into()));
        assert_eq!(*store.sent.lock().unwrap(), keys(0..4));
        assert_eq!(window.next().and_then(|i| i.0), Some("k1".into()));
        assert_eq!(*store.sent.lock().unwrap(), keys(0..5));
        let rest: Vec<String> = window.by_ref().filter_map(|i| i.0).collect();
        assert_eq!(rest, keys(2..10));
        // Every read sent was handed out, each once, in order.
        assert_eq!(*store.sent.lock().unwrap(), keys(0..10));
        drop(window);
        assert!(store.discarded.lock().unwrap().is_empty());
    }

    #[test]
    fn a_window_waits_for_free_slots_and_skips_items_that_read_nothing() {
        let store = Recording::default();
        *store.free.lock().unwrap() = 2;
        let with_gap = items(3)
            .chain(std::iter::once(Item(None)))
            .chain(items(6).skip(3));
        let mut window = ReadWindow::new(&store, with_gap, 4, 64);
        assert_eq!(window.next().and_then(|i| i.0), Some("k0".into()));
        assert_eq!(*store.sent.lock().unwrap(), keys(0..2));
        *store.free.lock().unwrap() = usize::MAX;
        assert_eq!(window.next().and_then(|i| i.0), Some("k1".into()));
        // k2, the item without a key, then k3 and k4: the window is four ahead again.
        assert_eq!(*store.sent.lock().unwrap(), keys(0..5));
    }

    #[test]
    fn reads_sent_and_never_handed_out_are_discarded_with_the_window() {
        let store = Recording::default();
        let mut window = ReadWindow::new(&store, items(10), 3, 64);
        window.next();
        window.next();
        drop(window);
        assert_eq!(*store.discarded.lock().unwrap(), keys(2..5));
    }

    #[test]
    fn a_local_store_reads_nothing_ahead() {
        let store = Recording {
            remote: false,
            ..Recording::default()
        };
        let handed: Vec<String> = ReadWindow::new(&store, items(5), 3, 64)
            .filter_map(|i| i.0)
            .collect();
        assert_eq!(handed, keys(0..5));
        assert!(store.sent.lock().unwrap().is_empty());
        assert!(store.discarded.lock().unwrap().is_empty());
    }

    fn logs(rank: usize, count: usize) -> Vec<String> {
        (0..count).map(|i| format!("log-{rank}-{i}")).collect()
    }

    #[test]
    fn nothing_is_read_ahead_until_every_digest_has_been_asked_for() {
        let store = Recording::default();
        let ahead = LogsAhead::new(&store, 8, 3);
        ahead.digest_started();
        ahead.digest_started();
        ahead.offer(0, logs(0, 2).iter().map(String::as_str));
        ahead.digest_done();
        assert!(store.sent.lock().unwrap().is_empty());
        ahead.digest_started();
        ahead.digest_done();
        assert_eq!(*store.sent.lock().unwrap(), logs(0, 2));
        assert_eq!(ahead.into_sent(), logs(0, 2));
    }

    #[test]
    fn the_newest_digests_logs_go_first_and_no_more_than_twice_the_bound() {
        let store = Recording::default();
        let ahead = LogsAhead::new(&store, 4, 4);
        // Read out of order: ranks 3 and 2 arrive before the newest.
        for rank in [3, 2, 1, 0] {
            ahead.digest_started();
            ahead.offer(rank, logs(rank, 3).iter().map(String::as_str));
        }
        ahead.digest_done();
        let want: Vec<String> = logs(0, 3)
            .into_iter()
            .chain(logs(1, 3))
            .chain(logs(2, 2))
            .collect();
        assert_eq!(*store.sent.lock().unwrap(), want);
        // Later slots find nothing more to send: the chain's share is spent.
        ahead.digest_done();
        assert_eq!(ahead.into_sent(), want);
    }

    #[test]
    fn a_store_without_a_free_slot_is_asked_again_when_the_next_digest_is_done() {
        let store = Recording::default();
        *store.free.lock().unwrap() = 0;
        let ahead = LogsAhead::new(&store, 4, 1);
        ahead.digest_started();
        ahead.offer(0, logs(0, 3).iter().map(String::as_str));
        ahead.digest_done();
        assert!(store.sent.lock().unwrap().is_empty());
        *store.free.lock().unwrap() = 2;
        ahead.digest_done();
        assert_eq!(*store.sent.lock().unwrap(), logs(0, 2));
        *store.free.lock().unwrap() = 1;
        ahead.digest_done();
        assert_eq!(ahead.into_sent(), logs(0, 3));
    }
}
