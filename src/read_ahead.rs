//! Reading a chain's first logs while its last digests are still on their way.
//!
//! A chain's logs are checked only once every one of its digests is read and the chain walked,
//! because trust flows from the newest digest down. Without reading ahead, the end of the
//! digests is a lull: fewer and fewer requests in flight as the last digests come back, then
//! a round trip with none while the walk runs and the first log requests travel. The digests
//! are read newest first, so by then the logs the walk will hand out first (the newest
//! digests') are known; each request slot a digest frees once all digests have been asked
//! for goes to one of them. A log read ahead is checked exactly as any other: the store only
//! keeps the early answer for the `get` that asks for it, and asks again if it failed.

use std::collections::BTreeMap;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Object, StoreError};

    /// Takes reads ahead while it has free slots (unlimited at first), recording them in
    /// order.
    struct Recording {
        sent: Mutex<Vec<String>>,
        free: Mutex<usize>,
    }

    impl Default for Recording {
        fn default() -> Recording {
            Recording {
                sent: Mutex::default(),
                free: Mutex::new(usize::MAX),
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
