//! The verification pipeline, as a driver: find the chains, read their digests, walk them,
//! check the logs, scan each log folder. This file drives the steps and holds the run's
//! public types; each step lives in a file of its own beside it:
//! - `search.rs`: finding the `AWSLogs/` roots, the digest folders and their digest listings
//!   (and the listings a run can send before it starts);
//! - `fetch.rs`: reading, parsing and spilling a chain's digests, following the chain into
//!   another bucket;
//! - `logs.rs`: checking each log against the hash its digest recorded;
//! - `scan.rs`: the log-folder scan for unreferenced and moved logs;
//! - `digest_scan.rs`: the digest folder's other objects: moved digests, planted files;
//! - `verdicts.rs`: where a chain's verdicts collect, and how they stream to the caller;
//! - `retry.rs`: trying a read again when it broke off;
//! - `error.rs`: how a run fails as a whole ([`ValidateError`]).
//!
//! Work is spread over a thread pool of `concurrency` threads, which is also the bound on
//! requests in flight (apart from each folder's log listing, which a remote store may send
//! ahead): every account-and-region folder is verified in parallel, within it every
//! chain, within a chain every digest and then every log (streamed through the strict gzip
//! reader). A remote store sends the reads of the next digests and logs ahead of the threads
//! that check them ([`crate::read_ahead::ReadWindow`]), so that its requests in flight wait on
//! its async runtime, not on threads: a chain's logs are then checked by one thread per core,
//! which find their bodies already read. It also reads a chain's first logs ahead into slots
//! its last digests leave free ([`crate::read_ahead::LogsAhead`]). Results flow back to the
//! caller's thread as each folder is done. Each file's failure becomes that file's status;
//! nothing one file does stops the others.

mod continuity;
mod digest_scan;
mod error;
mod fetch;
mod logs;
mod resume;
mod retry;
mod scan;
mod search;
mod verdicts;
mod versions;

use std::sync::Arc;

use rayon::prelude::*;

use crate::chain::{self, LogCheck, VerifiedDigest};
use crate::checkpoint::{FolderHistory, Resume};
use crate::continuity::{FoundEvents, TrailStatus};
use crate::digest::ChainId;
use crate::folder_gate::{FolderGate, FolderTicket};
use crate::keys::KeySource;
use crate::progress::Progress;
use crate::report::{ChainReport, FileEntry, RequestedRange};
use crate::shard::{Shard, ShardPart};
use crate::spill::{CheckSpill, DigestSpill};
use crate::status::{Counts, Status};
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::trail_events::{KeptTrailEvents, TrailEvent, MAX_EVENTS_PER_RUN};

pub(crate) use continuity::settle;
pub use error::ValidateError;
pub use search::named_digest_folders;
#[cfg(feature = "aws")]
pub use search::{first_listings, listings_ahead};

use fetch::{fetch_chain_digests, load_digest};
use scan::FolderScan;
use search::{list_digests, log_listing_ahead};
use verdicts::{ChainWork, Sink};
use versions::Versions;

/// Which chains to verify; empty lists mean all.
#[derive(Debug, Clone, Default)]
pub struct ChainFilter {
    /// `--account-id`: the 12-digit accounts whose chains to verify (members, for an organization
    /// trail).
    pub accounts: Vec<String>,
    /// `--region`: the regions digests were delivered from.
    pub regions: Vec<String>,
    /// `--trail`: trail names, as digest keys name them.
    pub trails: Vec<String>,
    /// From `--trail-arn`: the trail's home region.
    pub home_region: Option<String>,
}

impl ChainFilter {
    fn wants_account(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }

    fn wants_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    fn wants_chain(&self, chain: &ChainId) -> bool {
        (self.trails.is_empty() || self.trails.iter().any(|t| t == &chain.trail))
            && self
                .home_region
                .as_ref()
                .is_none_or(|h| h == &chain.home_region)
    }
}

/// What [`validate`] verifies, and how.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Which digests: those whose end time falls in the range (both ends inclusive).
    pub range: RequestedRange,
    /// The trail's S3 prefix, when known; otherwise `AWSLogs/` is searched for.
    pub prefix: Option<String>,
    /// Which chains.
    pub filter: ChainFilter,
    /// Report every file, valid ones included; otherwise only those not valid.
    pub verbose: bool,
    /// Worker threads; also the bound on requests in flight, and on a remote store's reads
    /// sent ahead of the checks (0 counts as 1).
    pub concurrency: usize,
    /// Memory, in bytes, the account-and-region folders verified at once may hold together
    /// (estimated per digest and per listed log): the next folder starts only while it fits, and
    /// a folder larger than this runs alone. The command line uses
    /// [`DEFAULT_FOLDER_BUDGET`](crate::DEFAULT_FOLDER_BUDGET).
    pub folder_budget: u64,
    /// Counters for the progress bar.
    pub progress: Arc<Progress>,
    /// `--require-continuous`: any gap or tail in the range is an integrity failure (see
    /// [`crate::continuity`]).
    pub require_continuous: bool,
    /// What GetTrailStatus said of the trail, when asked (`--trail-arn` on an S3 source): a
    /// digest it delivered after a chain's newest proves the hours between had digests.
    pub trail_status: Option<TrailStatus>,
    /// `--checkpoint`: where each folder and chain resumes, what its history was. `None`
    /// without one; an empty [`Resume`] for the first run with one.
    pub checkpoint: Option<Arc<Resume>>,
    /// `--shard`: verify only this shard's account-and-region folders, and keep what
    /// `ctverify merge` needs to settle them with the other shards' (see
    /// [`Validation::shard`]).
    pub shard: Option<Shard>,
}

/// One chain's report and the files to show for it (every file with `verbose`, otherwise
/// those not valid), sorted by key.
#[derive(Debug)]
pub struct ChainResult {
    /// The chain's identity, counts, range found and gaps.
    pub report: ChainReport,
    /// The files shown for the chain (see above), digests and logs together.
    pub files: Vec<FileEntry>,
}

/// The outcome of a run, chain by chain.
#[derive(Debug, Default)]
pub struct Validation {
    /// Every chain verified, folder by folder in the order folder paths sort (roots, then
    /// accounts, then regions).
    pub chains: Vec<ChainResult>,
    /// The most account-and-region folders that were verified at once (as many as
    /// [`ValidateOptions::folder_budget`] let in, up to a fixed maximum).
    pub peak_folders_in_flight: usize,
    /// Why the earlier versions of files found missing or changed could not be read (the
    /// first refusal or failure, naming the permission a refusal lacks), when they could not:
    /// the report says it once. `None` when every lookup went through, or none was needed.
    pub versions_unread: Option<String>,
    /// CloudTrail's own trail management calls found in the run's valid logs, over all
    /// chains: sorted by time, each call once, at most a few thousand (the ones that start or
    /// stop a chain first).
    pub trail_events: Vec<TrailEvent>,
    /// How many more were found and not kept (an upper bound).
    pub trail_events_left_out: u64,
    /// With `--checkpoint`: each folder's history listing and how it compared, in folder order.
    pub histories: Vec<FolderHistory>,
    /// With `--shard`: what the shard covered, and its chains as they were before the run
    /// settled their gaps and tails with its own evidence only.
    pub shard: Option<ShardPart>,
}

/// What the workers hand to the caller's thread.
enum Message {
    /// A file whose verdict is final and that the report shows.
    File(FileEntry),
    /// A folder's chains, done, and its history listing (with `--checkpoint`).
    Folder(String, Vec<ChainWork>, Option<FolderHistory>),
    /// Every digest folder the search found (whichever shard they are in), and the prefixes
    /// it could not list.
    Found(Vec<String>, Vec<String>),
    Failed(ValidateError),
}

/// What [`validate`] reports as it goes.
pub enum Decided<'a> {
    /// A file whose verdict is final, among those the report shows (not valid ones, unless
    /// verbose); files of different chains interleave.
    File(&'a FileEntry),
    /// A chain, after all of its files.
    Chain(&'a ChainReport),
}

/// The pool's size: `concurrency` threads, or for a store that reads ahead (whose requests
/// in flight are bounded by `concurrency` still) at most four per core and at least 16. Its
/// digests' and logs' requests wait on its runtime, so threads are needed only for listings
/// (one each while it is answered) and for checking. More would cost more than they give:
/// idle workers look for work in every other worker's queue, and at 256 threads on one core
/// that search alone took a quarter of the CPU (bench/s3_cpu_profile.sh).
fn worker_threads(store: &dyn ObjectStore, concurrency: usize) -> usize {
    let threads = if store.reads_ahead() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        concurrency.min((4 * cores).max(16))
    } else {
        concurrency
    };
    threads.max(1)
}

/// Verifies every chain `store` holds within the options' range. `on_decided` sees each file
/// as soon as its verdict is final, and each chain when it is done (for streaming reports).
pub fn validate(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    on_decided: &mut dyn FnMut(Decided<'_>),
) -> Result<Validation, ValidateError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(worker_threads(store, options.concurrency))
        .build()
        .map_err(ValidateError::ThreadPool)?;

    // Folders the filter names are verified from the start, while the source is searched for
    // the others (one account and region each, verified in parallel, as many at once as the
    // gate lets in). Results come back over a channel so that the caller's reporting stays on
    // this thread, and are put back in folder order so that reports do not depend on timing.
    // The folders a checkpoint holds are verified whether or not the search finds them: one
    // that is gone is evidence gone.
    let checkpointed = resume::checkpointed_folders(options);
    let mut named = named_digest_folders(options.prefix.as_deref(), &options.filter);
    named.extend(checkpointed.iter().cloned());
    named.sort();
    named.dedup();
    // A shard verifies only its own folders; the search still lists every one, so that the
    // report can say what the others should cover.
    let mine: Vec<String> = named
        .iter()
        .filter(|f| options.shard.is_none_or(|shard| shard.holds(f)))
        .cloned()
        .collect();
    let gate = FolderGate::new(
        options.folder_budget,
        MAX_FOLDERS_IN_FLIGHT,
        first_folder_estimate(&options.range).min((options.folder_budget / 8).max(1)),
    );
    let (sender, receiver) = std::sync::mpsc::channel::<Message>();
    let versions = Versions::new(store);
    let (mut done, [trail_events, unverified_events], mut histories, (mut found, unsearched)) =
        std::thread::scope(|scope| {
            let (named, mine) = (&named, &mine);
            let pool = &pool;
            let gate = &gate;
            let versions = &versions;
            scope.spawn(move || {
                let (to_verify, folders) = std::sync::mpsc::channel::<String>();
                for folder in mine {
                    let _ = to_verify.send(folder.clone());
                }
                // The folders are handed out from this thread, not a pool worker: it is the only one
                // that waits on the gate, and the folders' own parallel work keeps every worker.
                pool.in_place_scope(|s| {
                    let searching = sender.clone();
                    let checkpointed = !checkpointed.is_empty();
                    s.spawn(move |_| {
                        let named = (named.as_slice(), checkpointed);
                        search_the_others(store, options, named, to_verify, &searching, versions)
                    });
                    for folder in folders {
                        let ticket = gate.admit();
                        let sender = sender.clone();
                        s.spawn(move |_| {
                            let sink = Sink {
                                sender: &sender,
                                verbose: options.verbose,
                                versions,
                            };
                            verify_folder_and_send(store, keys, options, folder, &ticket, &sink);
                            // What the folder held is now the report's, or gone: let the next in.
                            drop(ticket);
                        });
                    }
                });
            });
            receive(receiver, on_decided)
        })?;
    // Folder paths sort as the search finds them: roots, then accounts, then regions.
    done.sort_by(|(a, _), (b, _)| a.cmp(b));
    found.extend(named);
    found.sort();
    found.dedup();
    histories.sort_by(|a, b| a.digest_folder.cmp(&b.digest_folder));
    let (trail_events, trail_events_left_out) = trail_events.into_sorted();
    let mut events = FoundEvents {
        verified: trail_events,
        unverified: unverified_events.into_sorted().0,
    };
    let shard = options.shard.map(|shard| {
        ShardPart::before_settling(
            shard,
            found,
            &unsearched,
            &done,
            &events,
            trail_events_left_out,
        )
    });
    let mut chains: Vec<ChainResult> = done.into_iter().flat_map(|(_, results)| results).collect();
    // Each chain is final only once what the other folders found is known.
    continuity::settle(
        &mut chains,
        &events,
        options.trail_status.as_ref(),
        options.require_continuous,
        options.verbose,
        on_decided,
    );
    for chain in &chains {
        on_decided(Decided::Chain(&chain.report));
    }
    Ok(Validation {
        chains,
        peak_folders_in_flight: gate.peak(),
        versions_unread: versions.into_unread(),
        trail_events: std::mem::take(&mut events.verified),
        trail_events_left_out,
        histories,
        shard,
    })
}

/// Searches the source for digest folders and sends those not `named` (already on their way)
/// to `to_verify`; a folder the search could not list is reported as it is. Finding none fails
/// the run, unless some of the named are a checkpoint's.
fn search_the_others(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    (named, checkpointed): (&[String], bool),
    to_verify: std::sync::mpsc::Sender<String>,
    sender: &std::sync::mpsc::Sender<Message>,
    versions: &Versions,
) {
    match search::digest_folders(store, options) {
        Err(e) => {
            let _ = sender.send(Message::Failed(e));
        }
        // With a checkpoint's folders to verify, a source found empty is their evidence gone,
        // which their verification reports.
        Ok(search)
            if search.folders.is_empty() && search.unsearched.is_empty() && !checkpointed =>
        {
            let _ = sender.send(Message::Failed(ValidateError::NoTrail {
                searched: store.describe(),
            }));
        }
        Ok(search) => {
            let unsearched = search.unsearched.iter().map(|(f, _)| f.clone()).collect();
            let _ = sender.send(Message::Found(search.folders.clone(), unsearched));
            let sink = Sink {
                sender,
                verbose: options.verbose,
                versions,
            };
            for (folder, error) in search.unsearched {
                let work = ChainWork::unsearched_folder(store, options, &folder, error, &sink);
                let _ = sender.send(Message::Folder(folder, vec![work], None));
            }
            // A folder the search could not list is reported by every shard: what it holds is
            // unknown, so any shard may have lost folders there.
            let theirs = |f: &String| options.shard.is_some_and(|shard| !shard.holds(f));
            for folder in search.folders.into_iter() {
                if !named.contains(&folder) && !theirs(&folder) {
                    let _ = to_verify.send(folder);
                }
            }
        }
    }
}

/// Verifies one digest folder and sends its chains (or the failure) to the caller's thread.
fn verify_folder_and_send(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    folder: String,
    ticket: &FolderTicket,
    sink: &Sink,
) {
    let message = match verify_folder(store, keys, options, &folder, sink, ticket) {
        Ok((works, history)) => Message::Folder(folder, works, history),
        Err(e) => Message::Failed(e),
    };
    let _ = sink.sender.send(message);
}

/// A folder's path and the results of its chains.
type FolderResults = (String, Vec<ChainResult>);

/// What [`receive`] collects: the folders' results (in the order they finished), the trail
/// events of all their chains (verified, and not), and the folders' history listings.
type Received = (
    Vec<FolderResults>,
    [KeptTrailEvents; 2],
    Vec<FolderHistory>,
    (Vec<String>, Vec<String>),
);

/// Hands each file to `on_decided` as it comes, until every worker is done, and returns what
/// the folders found, or the first failure.
fn receive(
    receiver: std::sync::mpsc::Receiver<Message>,
    on_decided: &mut dyn FnMut(Decided<'_>),
) -> Result<Received, ValidateError> {
    let mut done = Vec::new();
    let mut histories = Vec::new();
    let mut trail_events = KeptTrailEvents::with_cap(MAX_EVENTS_PER_RUN);
    let mut unverified_events = KeptTrailEvents::with_cap(MAX_EVENTS_PER_RUN);
    let mut first_error: Option<ValidateError> = None;
    let mut found = (Vec::new(), Vec::new());
    for message in receiver {
        match message {
            Message::Found(folders, unsearched) => found = (folders, unsearched),
            Message::File(entry) => on_decided(Decided::File(&entry)),
            Message::Failed(e) => {
                first_error.get_or_insert(e);
            }
            Message::Folder(folder, works, history) => {
                histories.extend(history);
                let mut results = Vec::with_capacity(works.len());
                for mut work in works {
                    trail_events.absorb_parts(
                        std::mem::take(&mut work.trail_events),
                        work.trail_events_left_out,
                    );
                    unverified_events
                        .absorb_parts(std::mem::take(&mut work.unverified_trail_events), 0);
                    results.push(ChainResult {
                        report: work.report,
                        files: work.files,
                    });
                }
                done.push((folder, results));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok((done, [trail_events, unverified_events], histories, found)),
    }
}

/// Folders verified at once at most, however little they hold: enough to keep the workers busy
/// with folders of a few digests each, few enough that their temporary files (a few per chain)
/// stay well under the usual limit of 1,024 open files.
const MAX_FOLDERS_IN_FLIGHT: usize = 128;

/// What a folder is expected to hold before any folder's listing has said: one chain with a
/// digest every hour of the range and a log every five minutes (a busy region). The caller caps
/// it so that a range of years still starts a few folders at once.
fn first_folder_estimate(range: &RequestedRange) -> u64 {
    let start = range
        .start
        .unwrap_or(UtcTime::from_unix(crate::digest::EARLIEST_DIGEST_TIME));
    let hours = (range.end.unix() - start.unix()).max(0) as u64 / 3600 + 1;
    FolderTicket::bytes_for(hours, hours.saturating_mul(12))
}

/// Every chain of one `CloudTrail-Digest/REGION/` folder, and the scan of its log folder.
fn verify_folder(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    folder: &str,
    sink: &Sink,
    ticket: &FolderTicket,
) -> Result<(Vec<ChainWork>, Option<FolderHistory>), ValidateError> {
    // With a checkpoint, the folder's history is listed first: where it changed decides where
    // the folder starts.
    let plan = resume::FolderPlan::of(store, options, folder);
    let folder_options = plan.folder_options(options);
    let options = folder_options.as_ref();
    // The log folder's listing is sent now, so that the server answers it while the digests
    // are listed and read; what it fetched is dropped if the scan does not use it.
    let ahead = log_listing_ahead(folder, &options.range);
    if let Some(request) = &ahead {
        store.prefetch_keys(request);
    }
    let result = verify_folder_chains(store, keys, options, folder, sink, ticket, &plan);
    if let Some(request) = &ahead {
        store.discard_prefetched(request);
    }
    let works = result?;
    let history = plan.into_history(&works);
    Ok((works, history))
}

/// [`verify_folder`] once its log folder's listing is on its way: lists the folder's digests,
/// walks its chains, then checks their logs and scans their log folder.
fn verify_folder_chains(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    folder: &str,
    sink: &Sink,
    ticket: &FolderTicket,
    plan: &resume::FolderPlan,
) -> Result<Vec<ChainWork>, ValidateError> {
    let mut listing = match list_digests(store, folder, options) {
        Ok(listing) => listing,
        // The folder could not be listed (after retries), or not safely: nothing in it can be
        // checked, which the report says; the other folders' verdicts still stand.
        Err(ValidateError::Listing { prefix, error }) if !matches!(error, StoreError::Local(_)) => {
            let why = format!("listing {prefix:?} failed: {error}");
            return match ChainWork::unlisted_digest_folder(store, options, folder, why, sink) {
                Some(work) => Ok(vec![work]),
                None => Err(ValidateError::Listing { prefix, error }),
            };
        }
        Err(e) => return Err(e),
    };
    let strays =
        digest_scan::sort_strays(store, &options.filter, &options.range, folder, &mut listing)?;
    let digests: u64 = listing.chains.values().map(|l| l.len() as u64).sum();
    ticket.holds(FolderTicket::bytes_for(digests, 0));
    Progress::add(&options.progress.chains_found, listing.chains.len() as u64);
    Progress::add(&options.progress.digests_found, digests);
    // The chains' public keys (ListPublicKeys, once per region) are fetched while their
    // digests are read, not after: each walk needs them as soon as its last digest is in.
    let mut regions: Vec<String> = listing.chains.keys().map(|c| c.region.clone()).collect();
    regions.sort();
    regions.dedup();
    let (_, works) = rayon::join(
        || {
            regions
                .par_iter()
                .for_each(|region| drop(keys.keys_for(region, &[])))
        },
        || {
            listing
                .chains
                .into_par_iter()
                .map(|(chain_id, listed)| {
                    walk_chain(store, keys, options, chain_id, listed, sink, plan)
                })
                .collect::<Result<Vec<ChainWork>, _>>()
        },
    );
    let mut works = works?;
    plan.check_anchors(store, options, &mut works, sink);
    strays.report(store, options, folder, &mut works, sink);
    let logs: u64 = works.iter().map(|w| w.listed_logs.len() as u64).sum();
    ticket.holds(FolderTicket::bytes_for(digests, logs));
    let settled = plan.settled();
    check_logs_and_scan_folder(
        store,
        options,
        &mut works,
        listing.filtered_out,
        settled,
        sink,
    )?;
    for work in &mut works {
        work.files
            .sort_by(|a, b| (&a.bucket, &a.key, a.kind).cmp(&(&b.bucket, &b.key, b.kind)));
        Progress::add(&options.progress.chains_done, 1);
    }
    Ok(works)
}

/// Checks the logs of one folder's chains, then scans their log folder for unreferenced and
/// moved logs. The log folder is listed while the logs are checked: the listing needs only
/// what the walks established, and a log missing at its key is looked for only once every
/// check is done.
fn check_logs_and_scan_folder(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    works: &mut [ChainWork],
    other_trails_left_out: bool,
    settled: Option<crate::history::Settled>,
    sink: &Sink,
) -> Result<(), ValidateError> {
    let Some(scan) = FolderScan::of(works, options, other_trails_left_out, settled) else {
        return Ok(());
    };
    let (listing, checked) = rayon::join(
        || scan.list(store),
        || logs::check_logs(store, options, works, sink),
    );
    checked?;
    scan.finish(store, listing, works, sink)
}

/// Reads one chain's digests (following it into other buckets) and walks it: every digest's
/// verdict, and the logs to check.
fn walk_chain(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    chain_id: ChainId,
    mut listed: Vec<(String, UtcTime)>,
    sink: &Sink,
    plan: &resume::FolderPlan,
) -> Result<ChainWork, ValidateError> {
    // A chain resumed from a checkpoint starts at its anchor, which may be later than the
    // folder's start.
    let range = plan.chain_range(&chain_id, &options.range);
    let chain_options;
    let options = if range.start == options.range.start {
        options
    } else {
        listed.retain(|(_, end)| range.contains(*end));
        chain_options = ValidateOptions {
            range,
            ..options.clone()
        };
        &chain_options
    };
    let spill = DigestSpill::new().map_err(ValidateError::Spill)?;
    let digests = fetch_chain_digests(store, options, &chain_id, listed, &spill)
        .map_err(ValidateError::Spill)?;
    // A backfill digest is signed with the key in force when it was generated.
    let ring = keys.keys_for(&chain_id.region, &digests.backfill_generated);
    let spilled = spill.into_reader().map_err(ValidateError::Spill)?;
    let mut walked = WalkOutput {
        sink,
        shown: Vec::new(),
        checks: CheckSpill::new().map_err(ValidateError::Spill)?,
        anchor_key: plan.anchor_key(&chain_id),
        anchor_seen: resume::AnchorSeen::default(),
        newest: None,
    };
    let outcome = chain::walk_streaming(
        &chain_id,
        store.bucket(),
        &options.range,
        digests.heads,
        chain::ChainMetadata::kept_if(store.keeps_metadata_of(&chain_id)),
        ring.as_deref().map_err(String::as_str),
        &|stored| load_digest(&spilled, stored),
        &mut walked,
    )
    .map_err(ValidateError::Spill)?;
    drop(spilled);
    Progress::add(&options.progress.logs_found, walked.checks.len() as u64);
    let mut report = outcome.report;
    // Digests are counted by the walk; logs are counted again as each verdict becomes final.
    report.logs = Counts::default();
    report.newest_verified_digest = walked.newest;
    let mut work = ChainWork {
        id: chain_id,
        report,
        files: walked.shown,
        log_checks: Some(walked.checks.into_checks().map_err(ValidateError::Spill)?),
        not_found: Vec::new(),
        verified_windows: outcome.verified_windows,
        unverifiable_windows: outcome.unverifiable_windows,
        listed_logs: outcome.listed_logs,
        unreported_logs: outcome.unreported_logs,
        read_ahead: digests.read_ahead,
        trail_events: Vec::new(),
        trail_events_left_out: 0,
        unverified_trail_events: Vec::new(),
        anchor_seen: walked.anchor_seen,
    };
    for entry in outcome.unverified_logs {
        work.decide(entry, sink);
    }
    Ok(work)
}

/// Where a chain's walk puts its verdicts: digests straight to the report's sink (only those
/// it shows are kept), log checks to a spill file.
struct WalkOutput<'a, 'b> {
    sink: &'a Sink<'b>,
    shown: Vec<FileEntry>,
    checks: CheckSpill,
    /// The key of the chain's checkpointed anchor, whose verdict is watched.
    anchor_key: Option<&'a str>,
    anchor_seen: resume::AnchorSeen,
    /// The newest valid digest, for the next checkpoint.
    newest: Option<VerifiedDigest>,
}

impl chain::WalkSink for WalkOutput<'_, '_> {
    fn verified_digest(&mut self, digest: VerifiedDigest) {
        if self.anchor_key == Some(digest.key.as_str()) {
            self.anchor_seen.sha256 = Some(digest.sha256);
        }
        if self
            .newest
            .as_ref()
            .is_none_or(|newest| digest.end_time > newest.end_time)
        {
            self.newest = Some(digest);
        }
    }

    fn digest(&mut self, entry: FileEntry) {
        if self.anchor_key == Some(entry.key.as_str()) {
            // The worst verdict given at the key counts.
            if self.anchor_seen.status.is_none_or(|s| s == Status::Valid) {
                self.anchor_seen.status = Some(entry.status);
            }
        }
        if let Some(entry) = self.sink.pass(entry) {
            self.shown.push(entry);
        }
    }

    fn log_check(&mut self, check: LogCheck) -> std::io::Result<()> {
        self.checks.push(&check)
    }
}
