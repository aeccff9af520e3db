//! Where verdicts collect: [`ChainWork`], one chain's verdicts so far and what its log checks
//! and folder scan still need, and [`Sink`], which streams each final verdict the report
//! shows to the caller. Also the chains that stand for a folder that could not be listed, so
//! that the report says what went unchecked.

use super::versions::Versions;
use super::{Message, ValidateOptions};
use crate::chain::{LogCheck, LogKeySet};
use crate::digest::ChainId;
use crate::report::{is_reported, ChainReport, FileEntry, LogScan, TimeRange};
use crate::spill::SpilledChecks;
use crate::status::{FileKind, Status};
use crate::store::{ObjectStore, StoreError};
use crate::trail_events::{KeptTrailEvents, TrailEvent, MAX_EVENTS_PER_CHAIN};

/// One chain's verdicts and what the log checks and the log-folder scan need from it.
pub(super) struct ChainWork {
    pub id: ChainId,
    /// Its counts are of final verdicts only, added as each file is decided.
    pub report: ChainReport,
    /// The final verdicts the report shows (not valid ones, unless verbose).
    pub files: Vec<FileEntry>,
    /// Logs still to read and hash (on disk until then).
    pub log_checks: Option<SpilledChecks>,
    /// Logs not found where listed: `moved` or `not_found` once the log folder is scanned.
    pub not_found: Vec<(LogCheck, FileEntry)>,
    pub verified_windows: Vec<TimeRange>,
    pub unverifiable_windows: Vec<(TimeRange, String)>,
    pub listed_logs: LogKeySet,
    /// See [`crate::chain::ChainOutcome::unreported_logs`].
    pub unreported_logs: LogKeySet,
    /// Logs of this chain read ahead (see [`crate::read_ahead::LogsAhead`]); those no check
    /// took are discarded once its checks are done.
    pub read_ahead: Vec<String>,
    /// CloudTrail's own trail management calls (`StopLogging`, `UpdateTrail`, ...) found in
    /// this chain's valid logs, about the trails of its folder (see
    /// [`TrailEvent::names_trail`]): sorted by
    /// time, each call once, at most [`MAX_EVENTS_PER_CHAIN`] (see
    /// [`KeptTrailEvents`] for which are kept).
    pub trail_events: Vec<TrailEvent>,
    /// How many more were found and not kept (an upper bound: a call delivered twice may be
    /// counted twice).
    pub trail_events_left_out: u64,
    /// Trail calls found in logs delivered in this chain's gaps or tail, which no digest covers
    /// (see [`crate::continuity::Explanation::log_verified`]).
    pub unverified_trail_events: Vec<TrailEvent>,
    /// What the walk saw of the chain's checkpointed anchor (see [`super::resume`]).
    pub anchor_seen: super::resume::AnchorSeen,
}

impl ChainWork {
    /// Adds trail events found in this chain's logs to those it holds.
    pub fn add_trail_events(&mut self, found: KeptTrailEvents) {
        let mut kept = KeptTrailEvents::with_cap(MAX_EVENTS_PER_CHAIN);
        kept.absorb_parts(
            std::mem::take(&mut self.trail_events),
            self.trail_events_left_out,
        );
        kept.absorb(found);
        (self.trail_events, self.trail_events_left_out) = kept.into_sorted();
    }

    /// Counts `entry`'s final verdict, and keeps it when the report shows it.
    pub fn decide(&mut self, entry: FileEntry, sink: &Sink) {
        match entry.kind {
            FileKind::Digest => self.report.digests.add(entry.status),
            FileKind::Log => self.report.logs.add(entry.status),
        }
        if let Some(entry) = sink.pass(entry) {
            self.files.push(entry);
        }
    }

    /// The report of a digest folder that could not be listed: one `error` entry for the
    /// folder (so the run is at best incomplete), under the chain its path names (the trail
    /// is known only from `--trail-arn`/`--trail`). None when the path is not a digest
    /// folder's.
    pub fn unlisted_digest_folder(
        store: &dyn ObjectStore,
        options: &ValidateOptions,
        folder: &str,
        why: String,
        sink: &Sink,
    ) -> Option<ChainWork> {
        let id = folder_chain(options, folder)?;
        Some(ChainWork::unchecked_folder(
            store,
            id,
            folder,
            format!("{why}: no digest in this folder could be checked"),
            "the digest folder could not be listed: unreferenced logs were not looked for",
            sink,
        ))
    }

    /// A chain with no verdict yet, labelled with what the digest folder's path says (as
    /// [`ChainWork::unlisted_digest_folder`]'s), for the files of a folder in which no chain
    /// was found. None when the path is not a digest folder's.
    pub fn labelled_by_folder(
        store: &dyn ObjectStore,
        options: &ValidateOptions,
        folder: &str,
    ) -> Option<ChainWork> {
        let id = folder_chain(options, folder)?;
        Some(ChainWork::empty(store, id))
    }

    /// A chain with no verdict yet.
    pub fn empty(store: &dyn ObjectStore, id: ChainId) -> ChainWork {
        ChainWork {
            report: ChainReport::new(store.bucket(), &id),
            id,
            files: Vec::new(),
            log_checks: None,
            not_found: Vec::new(),
            verified_windows: Vec::new(),
            unverifiable_windows: Vec::new(),
            listed_logs: LogKeySet::default(),
            unreported_logs: LogKeySet::default(),
            read_ahead: Vec::new(),
            trail_events: Vec::new(),
            trail_events_left_out: 0,
            unverified_trail_events: Vec::new(),
            anchor_seen: super::resume::AnchorSeen::default(),
        }
    }

    /// The report of a folder the search could not list: one `error` entry for it, under a
    /// chain labelled with what its path says (see [`ChainId::of_search_folder`]). Whatever
    /// chains it holds went unchecked, so the run is at best incomplete.
    pub fn unsearched_folder(
        store: &dyn ObjectStore,
        options: &ValidateOptions,
        folder: &str,
        error: StoreError,
        sink: &Sink,
    ) -> ChainWork {
        let home_region = options.filter.home_region.as_deref().unwrap_or("");
        let id = ChainId::of_search_folder(folder, the_trail(options), home_region);
        ChainWork::unchecked_folder(
            store,
            id,
            folder,
            format!(
                "listing {folder:?} failed: {error}: the digest chains under this folder could \
                 not be found, so none was checked"
            ),
            "the folder could not be searched: unreferenced logs were not looked for",
            sink,
        )
    }

    /// A chain whose only verdict is an `error` for `folder`, and whose log folder was not
    /// scanned (`scan_note` says why).
    fn unchecked_folder(
        store: &dyn ObjectStore,
        id: ChainId,
        folder: &str,
        detail: String,
        scan_note: &str,
        sink: &Sink,
    ) -> ChainWork {
        let mut work = ChainWork::empty(store, id);
        work.report.unreferenced_scan = Some(LogScan::skipped(scan_note));
        let entry = FileEntry::new(FileKind::Digest, store.bucket(), folder, Status::Error)
            .with_detail(detail);
        work.decide(entry, sink);
        work
    }
}

/// The chain a digest folder's path names, with the trail and home region the filter gives
/// (the folder's region otherwise).
fn folder_chain(options: &ValidateOptions, folder: &str) -> Option<ChainId> {
    let mut id = ChainId::of_digest_folder(folder, the_trail(options), "")?;
    id.home_region = options
        .filter
        .home_region
        .clone()
        .unwrap_or_else(|| id.region.clone());
    Some(id)
}

/// The trail every chain belongs to, when the filter names exactly one.
fn the_trail(options: &ValidateOptions) -> &str {
    match options.filter.trails.as_slice() {
        [one] => one.as_str(),
        _ => "",
    }
}

/// Where final verdicts go: files the report shows are streamed to the caller as they are
/// decided; valid files (unless verbose) are only counted, so memory does not grow with them.
/// A file missing or changed gets what its earlier versions tell (see [`Versions`]) on its
/// way, on the worker that decided it.
pub(super) struct Sink<'a> {
    pub sender: &'a std::sync::mpsc::Sender<Message>,
    pub verbose: bool,
    pub versions: &'a Versions<'a>,
}

impl Sink<'_> {
    /// The entry back when the report shows it (after streaming a copy).
    pub fn pass(&self, mut entry: FileEntry) -> Option<FileEntry> {
        self.versions.annotate(&mut entry);
        if !is_reported(entry.status, self.verbose) {
            return None;
        }
        // A closed channel means the caller has stopped listening; the entry is still kept.
        let _ = self.sender.send(Message::File(entry.clone()));
        Some(entry)
    }
}
