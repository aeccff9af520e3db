//! Checking logs against their digests: every log an authentic digest lists is read (tried
//! again when the read breaks off), inflated through the strict gzip reader and its SHA-256
//! compared with the one recorded. A log not found where listed waits for the log-folder scan
//! ([`super::scan`]), which may find it moved.
//!
//! On their way to the hash, the inflated bytes of each log are also looked at for CloudTrail's
//! own trail management calls ([`crate::trail_events`]): a log that matched its record and holds
//! one adds it to its chain's `trail_events`.

use rayon::prelude::*;

use super::retry::{with_retries, Attempt};
use super::verdicts::{ChainWork, Sink};
use super::{ValidateError, ValidateOptions};
use crate::chain::LogCheck;
use crate::gzip::{inflate_and_hash_watched, GzipError, InflatedWatcher, InflatingReader, Keep};
use crate::hash::Sha256;
use crate::progress::Progress;
use crate::read_ahead::{ReadWindow, ReadsObject};
use crate::report::FileEntry;
use crate::status::{Counts, FileKind, Status};
use crate::store::{ObjectStore, StoreError};
use crate::trail_events::{
    may_hold_trail_events, trail_events_in_reader, trail_events_in_slice, KeptTrailEvents,
    TrailEventScan, MAX_EVENTS_PER_CHAIN,
};

/// Checks the logs of every chain in `works` (see [`check_chain_logs`]).
pub(super) fn check_logs(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    works: &mut [ChainWork],
    sink: &Sink,
) -> Result<(), ValidateError> {
    // Calls about the folder's own trails are what can explain its chains' edges; a busy
    // account's calls about other trails must not crowd them out of the kept few.
    let mut trails: Vec<String> = works.iter().map(|w| w.id.trail.clone()).collect();
    trails.sort();
    trails.dedup();
    works
        .par_iter_mut()
        .try_for_each(|work| check_chain_logs(store, options, &trails, work, sink))
}

/// The log checks of one chain, gathered per worker thread.
struct LogResults {
    counts: Counts,
    kept: Vec<FileEntry>,
    not_found: Vec<(LogCheck, FileEntry)>,
    trail_events: KeptTrailEvents,
    spill_error: Option<std::io::Error>,
}

impl Default for LogResults {
    fn default() -> LogResults {
        LogResults {
            counts: Counts::default(),
            kept: Vec::new(),
            not_found: Vec::new(),
            trail_events: KeptTrailEvents::with_cap(MAX_EVENTS_PER_CHAIN),
            spill_error: None,
        }
    }
}

impl LogResults {
    fn merge(mut self, other: LogResults) -> LogResults {
        self.counts.merge(&other.counts);
        self.kept.extend(other.kept);
        self.not_found.extend(other.not_found);
        self.trail_events.absorb(other.trail_events);
        self.spill_error = self.spill_error.or(other.spill_error);
        self
    }
}

/// Reads, inflates and hashes every log the chain's authentic digests list, as the workers
/// take them from the spill file. Logs not found are left in `work.not_found`, undecided.
fn check_chain_logs(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    trails: &[String],
    work: &mut ChainWork,
    sink: &Sink,
) -> Result<(), ValidateError> {
    let backfill = work.id.backfill;
    // A trail is stopped, started, updated or deleted only in its home region (CloudTrail
    // refuses those calls elsewhere), so only there do its logs hold such events: the other
    // regions' logs are not looked at, which keeps the look nearly free for a trail of many.
    let watch_events = work.id.region == work.id.home_region;
    let Some(checks) = work.log_checks.take() else {
        return Ok(());
    };
    // The next logs' reads are sent ahead of the threads that check them: a remote store's
    // requests in flight then wait on its runtime, not on threads, and as many threads as the
    // machine has cores inflate and hash what they brought (more would only take turns, and
    // wake one another). A local store's reads are the threads' own: every worker checks.
    let checkers = if store.reads_ahead() {
        verifying_threads().min(rayon::current_num_threads())
    } else {
        rayon::current_num_threads()
    };
    let queue = std::sync::Mutex::new(ReadWindow::new(
        store,
        checks,
        options.concurrency,
        options.concurrency,
    ));
    let next = || queue.lock().unwrap_or_else(|p| p.into_inner()).next();
    let checker = LogChecker {
        store,
        options,
        trails,
        backfill,
        watch_events,
        sink,
    };
    let results = std::sync::Mutex::new(LogResults::default());
    rayon::scope(|scope| {
        for _ in 0..checkers {
            scope.spawn(|_| {
                let mut acc = LogResults::default();
                while let Some(check) = next() {
                    checker.check_into(&mut acc, check);
                }
                let mut all = results.lock().unwrap_or_else(|p| p.into_inner());
                *all = std::mem::take(&mut *all).merge(acc);
            });
        }
    });
    drop(queue);
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    for key in std::mem::take(&mut work.read_ahead) {
        store.discard_read_ahead(store.bucket(), &key);
    }
    if let Some(e) = results.spill_error {
        return Err(ValidateError::Spill(e));
    }
    work.report.logs.merge(&results.counts);
    work.files.extend(results.kept);
    work.not_found = results.not_found;
    work.add_trail_events(results.trail_events);
    Ok(())
}

impl ReadsObject for std::io::Result<LogCheck> {
    fn object(&self) -> Option<(Option<&str>, &str)> {
        let check = self.as_ref().ok()?;
        Some((Some(&check.bucket), &check.key))
    }
}

/// Threads that verify what reads ahead brought: one per core this process may run on.
fn verifying_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// What checking one of a chain's logs needs.
struct LogChecker<'a> {
    store: &'a dyn ObjectStore,
    options: &'a ValidateOptions,
    /// The folder's trails, whose management calls are kept.
    trails: &'a [String],
    backfill: bool,
    /// Whether the chain's logs are looked at for trail events (home region only).
    watch_events: bool,
    sink: &'a Sink<'a>,
}

impl LogChecker<'_> {
    /// Checks one log (or takes the spill file's failure) into `acc`.
    fn check_into(&self, acc: &mut LogResults, check: std::io::Result<LogCheck>) {
        let check = match check {
            Ok(check) => check,
            Err(e) => {
                acc.spill_error.get_or_insert(e);
                return;
            }
        };
        let (entry, trail_events) = check_log(
            self.store,
            &check,
            self.backfill,
            self.watch_events,
            &self.options.progress,
        );
        if let Some(found) = trail_events {
            let (events, left_out) = found.into_sorted();
            let ours = events
                .into_iter()
                .filter(|e| self.trails.iter().any(|t| e.names_trail(t)));
            acc.trail_events.absorb_parts(ours.collect(), left_out);
        }
        if entry.status == Status::NotFound {
            acc.not_found.push((check, entry));
        } else {
            acc.counts.add(entry.status);
            if let Some(entry) = self.sink.pass(entry) {
                acc.kept.push(entry);
            }
        }
    }
}

/// A log's verdict, and the trail events it holds when it is valid and holds any.
fn check_log(
    store: &dyn ObjectStore,
    check: &LogCheck,
    backfill: bool,
    watch_events: bool,
    progress: &Progress,
) -> (FileEntry, Option<KeptTrailEvents>) {
    let checked =
        with_retries(|| check_log_once(store, check, backfill, watch_events, &progress.bytes));
    Progress::add(&progress.logs_done, 1);
    checked
}

/// Looks for trail events in a log while it is inflated and hashed: in the whole file at once
/// when it was inflated in memory (parsed there, and only when it hashes as recorded), or
/// chunk by chunk through the prefilter when it streams.
struct TrailEventWatch<'a> {
    check: &'a LogCheck,
    /// Off: the bytes are not looked at.
    watching: bool,
    scan: TrailEventScan,
    found: Option<KeptTrailEvents>,
}

impl InflatedWatcher for TrailEventWatch<'_> {
    fn whole(&mut self, inflated: &[u8], sha256: &Sha256) {
        if self.watching && *sha256 == self.check.expected && may_hold_trail_events(inflated) {
            self.found = trail_events_in_slice(inflated, &log_address(self.check));
        }
    }

    fn chunk(&mut self, inflated: &[u8]) {
        if self.watching {
            self.scan.feed(inflated);
        }
    }
}

/// `s3://BUCKET/KEY`: where a trail event was found.
fn log_address(check: &LogCheck) -> String {
    format!("s3://{}/{}", check.bucket, check.key)
}

/// The trail events of a log that streamed (too large to inflate in memory) and whose bytes
/// named a trail call: it is read once more and parsed record by record as it inflates, so
/// that memory stays flat, and what it holds counts only if this read too hashes as recorded.
/// Such logs are rare, so the second read costs little overall; a read that fails finds
/// nothing (the verdict stands on the first read).
fn trail_events_on_second_read(
    store: &dyn ObjectStore,
    check: &LogCheck,
) -> Option<KeptTrailEvents> {
    let object = store.get(&check.bucket, &check.key).ok()?;
    let mut inflating = InflatingReader::new(object.body);
    let found = trail_events_in_reader(&mut inflating, &log_address(check))?;
    (inflating.finish().ok()? == check.expected).then_some(found)
}

/// Counts the bytes read through it (for the progress bar's rate).
struct Counting<'a, R> {
    inner: R,
    bytes: &'a std::sync::atomic::AtomicU64,
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        Progress::add(self.bytes, n as u64);
        Ok(n)
    }
}

/// One attempt at reading, inflating and hashing a log (and looking for trail events in it).
fn check_log_once(
    store: &dyn ObjectStore,
    check: &LogCheck,
    backfill: bool,
    watch_events: bool,
    bytes: &std::sync::atomic::AtomicU64,
) -> Attempt<(FileEntry, Option<KeptTrailEvents>)> {
    let mut watch = TrailEventWatch {
        check,
        watching: watch_events,
        scan: TrailEventScan::new(),
        found: None,
    };
    let entry = hash_log_once(store, check, backfill, bytes, &mut watch);
    entry.map(|entry| {
        if entry.status != Status::Valid {
            return (entry, None);
        }
        let found = if watch.scan.hit() {
            trail_events_on_second_read(store, check)
        } else {
            watch.found
        };
        (entry, found.filter(|found| !found.is_empty()))
    })
}

/// One attempt at reading, inflating and hashing a log, `watch` seeing the inflated bytes.
fn hash_log_once(
    store: &dyn ObjectStore,
    check: &LogCheck,
    backfill: bool,
    bytes: &std::sync::atomic::AtomicU64,
    watch: &mut TrailEventWatch,
) -> Attempt<FileEntry> {
    let entry = |status| {
        let mut e = FileEntry::new(FileKind::Log, &check.bucket, &check.key, status);
        e.digest = Some(check.digest_key.to_string());
        e.backfill = backfill;
        e.expected_sha256 = Some(check.expected);
        e
    };
    let object = match store.get(&check.bucket, &check.key) {
        Ok(object) => object,
        Err(StoreError::NotFound) => return Attempt::Final(entry(Status::NotFound)),
        Err(e) => return Attempt::after(&e, entry(e.status()).with_detail(e.to_string())),
    };
    match inflate_and_hash_watched(
        Counting {
            inner: object.body,
            bytes,
        },
        Keep::Nothing,
        watch,
    ) {
        Ok(inflated) if inflated.sha256 == check.expected => Attempt::Final(entry(Status::Valid)),
        Ok(inflated) => Attempt::Final(entry(Status::HashMismatch).with_detail(format!(
            "hash value doesn't match: SHA-256 of the inflated file is {}, the digest records {}",
            inflated.sha256, check.expected
        ))),
        Err(GzipError::TrailingData) => Attempt::Final(entry(Status::TrailingData)),
        Err(GzipError::Read(e)) => Attempt::Transient(
            entry(Status::Error)
                .with_detail(format!("read failed: {}", crate::store::describe_error(&e))),
        ),
        Err(e) => Attempt::Final(entry(Status::InvalidFormat).with_detail(e.to_string())),
    }
}
