//! The verification pipeline: find the chains, read their digests, walk them, check the logs.
//!
//! Work is spread over a thread pool of `concurrency` threads, which is also the bound on
//! requests in flight (apart from each folder's log listing, which a remote store may send
//! ahead): every account-and-region folder is verified in parallel, within it every
//! chain, within a chain every digest and then every log (streamed through the strict gzip
//! reader). A remote store may also read a chain's first logs ahead into slots its last
//! digests leave free ([`crate::read_ahead`]). Results flow back to the caller's thread as each
//! folder is done. Each file's failure becomes that file's status; nothing one file does stops
//! the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rayon::prelude::*;

use crate::chain::{
    self, DigestHead, FetchOutcome, FetchedDigest, LogCheck, LogKeySet, ParsedDigest,
};
use crate::digest::{is_account_id, is_organization_id, ChainId, Digest, DigestKey};
use crate::folder_gate::{FolderGate, FolderTicket};
use crate::gzip::{inflate_and_hash, GzipError, Keep, KeptBytes, DIGEST_SIZE_CAP};
use crate::hash::Sha256;
use crate::keys::KeySource;
use crate::progress::Progress;
use crate::read_ahead::LogsAhead;
use crate::report::{is_reported, ChainReport, FileEntry, LogScan, RequestedRange, TimeRange};
use crate::spill::{CheckSpill, DigestSpill, DigestSpillReader, SpilledChecks};
use crate::status::{Counts, FileKind, Status};
use crate::store::{ListingRequest, ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::unreferenced::{self, LogFolder};

/// Which chains to verify; empty lists mean all.
#[derive(Debug, Clone, Default)]
pub struct ChainFilter {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
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

#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub range: RequestedRange,
    /// The trail's S3 prefix, when known; otherwise `AWSLogs/` is searched for.
    pub prefix: Option<String>,
    pub filter: ChainFilter,
    pub verbose: bool,
    pub concurrency: usize,
    /// Memory the folders verified at once may hold together (see [`FolderGate`]); a folder
    /// larger than this runs alone.
    pub folder_budget: u64,
    /// Counters for the progress bar.
    pub progress: Arc<Progress>,
}

#[derive(Debug)]
pub enum ValidateError {
    /// A listing failed: without it we cannot tell which digests exist.
    Listing {
        prefix: String,
        error: StoreError,
    },
    NoTrail {
        searched: String,
    },
    ThreadPool(String),
    /// The temporary files that hold per-log state could not be written or read back.
    Spill(String),
}

impl std::fmt::Display for ValidateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidateError::Listing { prefix, error } => {
                write!(f, "listing {prefix:?} failed: {error}")
            }
            ValidateError::NoTrail { searched } => {
                write!(f, "no CloudTrail digests found under {searched} (is this the bucket or copy of a trail with log file validation?)")
            }
            ValidateError::ThreadPool(e) => write!(f, "cannot start worker threads: {e}"),
            ValidateError::Spill(e) => write!(
                f,
                "temporary files in {} failed: {e}",
                std::env::temp_dir().display()
            ),
        }
    }
}

impl std::error::Error for ValidateError {}

/// One chain's report and the files to show for it (every file with `verbose`, otherwise
/// those not valid), sorted by key.
#[derive(Debug)]
pub struct ChainResult {
    pub report: ChainReport,
    pub files: Vec<FileEntry>,
}

/// The outcome of a run, chain by chain.
#[derive(Debug, Default)]
pub struct Validation {
    pub chains: Vec<ChainResult>,
    /// The most account-and-region folders that were verified at once (see [`FolderGate`]).
    pub peak_folders_in_flight: usize,
}

fn listing_error(prefix: &str) -> impl FnOnce(StoreError) -> ValidateError + '_ {
    move |error| ValidateError::Listing {
        prefix: prefix.to_string(),
        error,
    }
}

/// An `AWSLogs/` folder, with its subfolders when finding it already listed them.
type AwsLogsRoot = (String, Option<Vec<String>>);

/// The `AWSLogs/` folder under a known prefix.
fn root_under(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        "AWSLogs/".to_string()
    } else {
        format!("{prefix}/AWSLogs/")
    }
}

/// The digest folders the filter names outright: each of its accounts, in each of its regions
/// (or the trail's home region), under the known prefix or the usual top-level `AWSLogs/`.
/// They are verified while the source is searched for the rest, so that a run for one trail
/// reads its digests from the first request on, as the AWS CLI does. A guess that does not
/// exist (an organization's layout, another prefix) is an empty listing and costs nothing
/// else: the search still finds every folder.
pub fn named_digest_folders(prefix: Option<&str>, filter: &ChainFilter) -> Vec<String> {
    let regions: Vec<&String> = if filter.regions.is_empty() {
        filter.home_region.iter().collect()
    } else {
        filter.regions.iter().collect()
    };
    let root = root_under(prefix.unwrap_or(""));
    let mut folders: Vec<String> = filter
        .accounts
        .iter()
        .filter(|account| is_account_id(account))
        .flat_map(|account| {
            let root = &root;
            regions
                .iter()
                .filter(|region| is_safe_segment(region))
                .map(move |region| format!("{root}{account}/CloudTrail-Digest/{region}/"))
        })
        .collect();
    folders.sort();
    folders.dedup();
    folders
}

/// A region name from the command line put in a path: one plain segment.
fn is_safe_segment(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The listings a run starts with: the digest folders the filter names and the first level of
/// the search. An S3 store sends them alongside its region lookup (`S3Store::open`), so that
/// they are not one round trip behind it.
pub fn first_listings(
    prefix: Option<&str>,
    filter: &ChainFilter,
    range: &RequestedRange,
) -> Vec<ListingRequest> {
    let root = root_under(prefix.unwrap_or(""));
    let mut listings = vec![ListingRequest::folders(&root)];
    listings.extend(
        named_digest_folders(prefix, filter)
            .into_iter()
            .map(|folder| {
                let start_after = digest_listing_start(&folder, range);
                ListingRequest::keys(&folder, start_after.as_deref())
            }),
    );
    listings
}

/// Listings a run will need after its first ones, which an S3 store sends with them without
/// waiting (`S3Store::open`): the log folder beside each named digest folder.
pub fn listings_ahead(
    prefix: Option<&str>,
    filter: &ChainFilter,
    range: &RequestedRange,
) -> Vec<ListingRequest> {
    named_digest_folders(prefix, filter)
        .iter()
        .filter_map(|folder| log_listing_ahead(folder, range))
        .collect()
}

/// The early listing of the log folder beside a `.../CloudTrail-Digest/REGION/` folder.
fn log_listing_ahead(digest_folder: &str, range: &RequestedRange) -> Option<ListingRequest> {
    let (parent, region) = digest_folder.strip_suffix('/')?.rsplit_once('/')?;
    let account_root = parent.strip_suffix("CloudTrail-Digest")?;
    unreferenced::early_listing(&unreferenced::log_folder(account_root, region), range)
}

/// Where a digest folder's listing starts: keys are `FOLDER/YYYY/MM/DD/NAME`, so the range
/// maps onto the listing order.
fn digest_listing_start(folder: &str, range: &RequestedRange) -> Option<String> {
    range.start.map(|s| format!("{folder}{}", s.date_path()))
}

/// What searching the source found: the digest folders to verify, and the folders it could not
/// list (after retries), with why. Nothing under those is known, which the report says.
#[derive(Debug, Default)]
struct Search {
    folders: Vec<String>,
    unsearched: Vec<(String, StoreError)>,
}

/// Lists `folder`'s subfolders for the search. A folder that cannot be listed is noted in
/// `unsearched` and counts as empty, so that one folder's failure (a prefix the bucket policy
/// denies, a server that keeps failing) does not hide the verdicts of the others; only a
/// failure of this machine ends the run.
fn search_listing(
    store: &dyn ObjectStore,
    folder: &str,
    unsearched: &Mutex<Vec<(String, StoreError)>>,
) -> Result<Vec<String>, ValidateError> {
    match store.list_folders(folder) {
        Ok(children) => Ok(children),
        Err(error @ StoreError::Local(_)) => Err(listing_error(folder)(error)),
        Err(error) => {
            unsearched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((folder.to_string(), error));
            Ok(Vec::new())
        }
    }
}

/// The `AWSLogs/` folders of the source: under the given prefix, or searched for a few levels
/// down when the prefix is unknown.
fn awslogs_roots(
    store: &dyn ObjectStore,
    prefix: Option<&str>,
    unsearched: &Mutex<Vec<(String, StoreError)>>,
) -> Result<Vec<AwsLogsRoot>, ValidateError> {
    if let Some(prefix) = prefix {
        return Ok(vec![(root_under(prefix), None)]);
    }
    // The usual layout first: `AWSLogs/` at the top of the bucket. The search below would
    // find it at its first level and go no deeper, so this is the same answer one listing
    // sooner.
    let failed_before = unsearched.lock().unwrap_or_else(|p| p.into_inner()).len();
    let top = search_listing(store, "AWSLogs/", unsearched)?;
    if !top.is_empty() {
        return Ok(vec![("AWSLogs/".to_string(), Some(top))]);
    }
    if unsearched.lock().unwrap_or_else(|p| p.into_inner()).len() > failed_before {
        // `AWSLogs/` may well be there: searching around it would say nothing more.
        return Ok(Vec::new());
    }
    let mut roots = Vec::new();
    let mut frontier = vec![String::new()];
    for _depth in 0..4 {
        let mut next = Vec::new();
        for folder in &frontier {
            for child in search_listing(store, folder, unsearched)? {
                if child.ends_with("/AWSLogs/") || child == "AWSLogs/" {
                    roots.push(child);
                } else if child != ".ctverify/" {
                    next.push(child);
                }
            }
        }
        if !roots.is_empty() || next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(roots.into_iter().map(|root| (root, None)).collect())
}

/// Every `.../CloudTrail-Digest/REGION/` folder the filter allows. An organization's trail
/// has a folder per member account: they are listed in parallel, so that the search takes a
/// few round trips whatever the number of accounts.
fn digest_folders(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
) -> Result<Search, ValidateError> {
    let unsearched = Mutex::new(Vec::new());
    let list = |folder: &String| search_listing(store, folder, &unsearched);
    let mut folders = Vec::new();
    for (root, listing) in awslogs_roots(store, options.prefix.as_deref(), &unsearched)? {
        let children = match listing {
            Some(children) => children,
            None => list(&root)?,
        };
        let mut account_roots = Vec::new();
        let mut organizations = Vec::new();
        for child in children {
            let name = child[root.len()..].trim_end_matches('/');
            if is_account_id(name) {
                account_roots.push((child.clone(), name.to_string()));
            } else if is_organization_id(name) {
                organizations.push(child);
            }
        }
        let members: Vec<Vec<String>> = organizations
            .par_iter()
            .map(list)
            .collect::<Result<_, _>>()?;
        for (organization, members) in organizations.iter().zip(members) {
            for member in members {
                let account = member[organization.len()..]
                    .trim_end_matches('/')
                    .to_string();
                if is_account_id(&account) {
                    account_roots.push((member, account));
                }
            }
        }
        let digest_roots: Vec<String> = account_roots
            .into_iter()
            .filter(|(_, account)| options.filter.wants_account(account))
            .map(|(account_root, _)| format!("{account_root}CloudTrail-Digest/"))
            .collect();
        let regions: Vec<Vec<String>> = digest_roots
            .par_iter()
            .map(list)
            .collect::<Result<_, _>>()?;
        for (digest_root, region_folders) in digest_roots.iter().zip(regions) {
            for region_folder in region_folders {
                let region = region_folder[digest_root.len()..].trim_end_matches('/');
                if options.filter.wants_region(region) {
                    folders.push(region_folder);
                }
            }
        }
    }
    let mut unsearched = unsearched.into_inner().unwrap_or_else(|p| p.into_inner());
    unsearched.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Search {
        folders,
        unsearched,
    })
}

/// The digest keys of one region folder within the range, grouped by chain, oldest first.
fn list_digests(
    store: &dyn ObjectStore,
    folder: &str,
    options: &ValidateOptions,
) -> Result<DigestListing, ValidateError> {
    let mut chains: BTreeMap<ChainId, Vec<(String, UtcTime)>> = BTreeMap::new();
    let mut filtered_out = false;
    let start_after = digest_listing_start(folder, &options.range);
    let last_day = options.range.end.date_path();
    store
        .list_keys(folder, start_after.as_deref(), &mut |key| {
            let date = key.get(folder.len()..folder.len() + 10).unwrap_or("");
            if date > last_day.as_str() {
                return false;
            }
            if let Some(name) = DigestKey::parse(key) {
                if !options.range.contains(name.end_time) {
                    return true;
                }
                if options.filter.wants_chain(&name.chain) {
                    let listed = (key.to_string(), name.end_time);
                    // The chain is held once, not once per digest.
                    match chains.get_mut(&name.chain) {
                        Some(keys) => keys.push(listed),
                        None => {
                            chains.insert(name.chain, vec![listed]);
                        }
                    }
                } else {
                    filtered_out = true;
                }
            }
            true
        })
        .map_err(listing_error(folder))?;
    Ok(DigestListing {
        chains,
        filtered_out,
    })
}

struct DigestListing {
    chains: BTreeMap<ChainId, Vec<(String, UtcTime)>>,
    /// Some chain of this folder was left out by `--trail`/`--trail-arn`: its digests were not
    /// read, so the logs it lists cannot be told from planted ones.
    filtered_out: bool,
}

/// One chain's verdicts and what the log-folder scan needs from it.
struct ChainWork {
    id: ChainId,
    /// Its counts are of final verdicts only, added as each file is decided.
    report: ChainReport,
    /// The final verdicts the report shows (not valid ones, unless verbose).
    files: Vec<FileEntry>,
    /// Logs still to read and hash (on disk until then).
    log_checks: Option<SpilledChecks>,
    /// Logs not found where listed: `moved` or `not_found` once the log folder is scanned.
    not_found: Vec<(LogCheck, FileEntry)>,
    verified_windows: Vec<TimeRange>,
    unverifiable_windows: Vec<(TimeRange, String)>,
    listed_logs: LogKeySet,
    /// See [`ChainOutcome::unreported_logs`].
    unreported_logs: LogKeySet,
    /// Logs of this chain read ahead (see [`LogsAhead`]); those no check took are discarded
    /// once its checks are done.
    read_ahead: Vec<String>,
}

impl ChainWork {
    fn decide(&mut self, entry: FileEntry, sink: &Sink) {
        count(&mut self.report, &entry);
        if let Some(entry) = sink.pass(entry) {
            self.files.push(entry);
        }
    }
}

fn count(report: &mut ChainReport, entry: &FileEntry) {
    match entry.kind {
        FileKind::Digest => report.digests.add(entry.status),
        FileKind::Log => report.logs.add(entry.status),
    }
}

/// What the workers hand to the caller's thread.
enum Message {
    /// A file whose verdict is final and that the report shows.
    File(FileEntry),
    /// A folder's chains, done.
    Folder(String, Vec<ChainWork>),
    Failed(ValidateError),
}

/// Where final verdicts go: files the report shows are streamed to the caller as they are
/// decided; valid files (unless verbose) are only counted, so memory does not grow with them.
struct Sink<'a> {
    sender: &'a std::sync::mpsc::Sender<Message>,
    verbose: bool,
}

impl Sink<'_> {
    /// The entry back when the report shows it (after streaming a copy).
    fn pass(&self, entry: FileEntry) -> Option<FileEntry> {
        if !is_reported(entry.status, self.verbose) {
            return None;
        }
        // A closed channel means the caller has stopped listening; the entry is still kept.
        let _ = self.sender.send(Message::File(entry.clone()));
        Some(entry)
    }
}

/// The log checks of one chain, gathered per worker thread.
#[derive(Default)]
struct LogResults {
    counts: Counts,
    kept: Vec<FileEntry>,
    not_found: Vec<(LogCheck, FileEntry)>,
    spill_error: Option<String>,
}

impl LogResults {
    fn merge(mut self, other: LogResults) -> LogResults {
        self.counts.merge(&other.counts);
        self.kept.extend(other.kept);
        self.not_found.extend(other.not_found);
        self.spill_error = self.spill_error.or(other.spill_error);
        self
    }
}

/// Reads, inflates and hashes every log the chain's authentic digests list, as the workers
/// take them from the spill file.
fn check_logs(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    work: &mut ChainWork,
    sink: &Sink,
) -> Result<(), ValidateError> {
    let backfill = work.id.backfill;
    let Some(checks) = work.log_checks.take() else {
        return Ok(());
    };
    let results = checks
        .par_bridge()
        .fold(LogResults::default, |mut acc, check| {
            let check = match check {
                Ok(check) => check,
                Err(e) => {
                    acc.spill_error.get_or_insert(e.to_string());
                    return acc;
                }
            };
            let entry = check_log(store, &check, backfill, &options.progress);
            if entry.status == Status::NotFound {
                acc.not_found.push((check, entry));
            } else {
                acc.counts.add(entry.status);
                if let Some(entry) = sink.pass(entry) {
                    acc.kept.push(entry);
                }
            }
            acc
        })
        .reduce(LogResults::default, LogResults::merge);
    for key in std::mem::take(&mut work.read_ahead) {
        store.discard_read_ahead(store.bucket(), &key);
    }
    if let Some(e) = results.spill_error {
        return Err(ValidateError::Spill(e));
    }
    work.report.logs.merge(&results.counts);
    work.files.extend(results.kept);
    work.not_found = results.not_found;
    Ok(())
}

/// Finds unreferenced and moved logs in the account and region these chains share, and
/// folds them into the chains' verdicts. The log folder is listed while the chains' logs are
/// checked: the listing needs only what the walks established.
fn check_logs_and_scan_folder(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    works: &mut [ChainWork],
    filtered_out: bool,
    sink: &Sink,
) -> Result<(), ValidateError> {
    let Some(first) = works.first() else {
        return Ok(());
    };
    let mut folder = LogFolder {
        account_root: first.id.account_root(),
        account_id: first.id.account_id.clone(),
        region: first.id.region.clone(),
        windows: works
            .iter()
            .flat_map(|w| w.verified_windows.iter().copied())
            .collect(),
        unverifiable: works
            .iter()
            .flat_map(|w| w.unverifiable_windows.iter().cloned())
            .collect(),
        listed: LogKeySet::default(),
        unreported: LogKeySet::default(),
        range_start: options.range.start,
    };
    for work in works.iter_mut() {
        folder.listed.extend(std::mem::take(&mut work.listed_logs));
        folder
            .unreported
            .extend(std::mem::take(&mut work.unreported_logs));
    }
    let log_folder = folder.log_folder();
    let (candidates, checked) = rayon::join(
        || (!filtered_out).then(|| unreferenced::list_candidates(store, &folder)),
        || {
            works
                .par_iter_mut()
                .try_for_each(|work| check_logs(store, options, work, sink))
        },
    );
    checked?;
    folder.listed = LogKeySet::default();

    let scanned = candidates.map(|candidates| {
        let not_found: Vec<LogCheck> = works
            .iter()
            .flat_map(|w| w.not_found.iter().map(|(check, _)| check.clone()))
            .collect();
        candidates
            .and_then(|candidates| unreferenced::resolve(store, &folder, candidates, &not_found))
    });
    let findings = match scanned {
        None => {
            for work in works.iter_mut() {
                work.report.unreferenced_scan = Some(LogScan::skipped(
                    "other trails write to this account and region and were left out by --trail: unreferenced logs were not looked for",
                ));
            }
            None
        }
        // This machine failed, not the source: no verdict.
        Some(Err(error @ StoreError::Local(_))) => {
            return Err(listing_error(&log_folder)(error));
        }
        // The folder could not be listed (after retries), or not safely: the logs the digests
        // list are still decided, but planted and moved ones were not looked for, so the run
        // cannot pass; and the other folders' verdicts still stand.
        Some(Err(error)) => {
            let why = format!(
                "listing {log_folder:?} failed: {error}: unreferenced and moved logs were not looked for"
            );
            for work in works.iter_mut() {
                work.report.unreferenced_scan = Some(LogScan::skipped(&why));
            }
            let entry = FileEntry::new(FileKind::Log, store.bucket(), &log_folder, Status::Error)
                .with_detail(why);
            works[0].decide(entry, sink);
            None
        }
        Some(Ok(findings)) => Some(findings),
    };
    let moved: HashMap<&str, &str> = findings
        .iter()
        .flat_map(|f| f.moved.iter())
        .map(|(from, to)| (from.as_str(), to.as_str()))
        .collect();
    for work in works.iter_mut() {
        for (_, mut file) in std::mem::take(&mut work.not_found) {
            if let Some(to) = moved.get(file.key.as_str()) {
                file.status = Status::Moved;
                file.moved_to = Some(to.to_string());
                file.detail = Some(
                    format!("found at s3://{}/{to} with the recorded hash", file.bucket).into(),
                );
            }
            work.decide(file, sink);
        }
        if let Some(findings) = &findings {
            work.report.unreferenced_scan = Some(LogScan::windows(&log_folder, &findings.windows));
        }
    }
    drop(moved);
    let Some(findings) = findings else {
        return Ok(());
    };
    for entry in findings.unreferenced.into_iter().chain(findings.unverified) {
        // Attribute each file to a chain whose verified window holds it (the first otherwise).
        let minute = unreferenced::log_delivery_minute(
            entry.key.rsplit('/').next().unwrap_or(""),
            &folder.account_id,
            &folder.region,
        );
        let owner = works
            .iter()
            .position(|w| {
                minute.is_some_and(|m| {
                    w.verified_windows
                        .iter()
                        .chain(w.unverifiable_windows.iter().map(|(win, _)| win))
                        .any(|win| m >= win.start && m <= win.end)
                })
            })
            .unwrap_or(0);
        let mut entry = entry;
        entry.backfill = works[owner].id.backfill;
        works[owner].decide(entry, sink);
    }
    Ok(())
}

/// Attempts for a read that fails for reasons other than the file's content (the SDK has
/// already retried each request; this also covers a body that breaks off midway).
const READ_ATTEMPTS: u32 = 3;

/// Runs `attempt` until it gives an answer that is not a transient read failure.
fn with_retries<T>(mut attempt: impl FnMut() -> (T, bool)) -> T {
    let mut delay = Duration::from_millis(250);
    for _ in 1..READ_ATTEMPTS {
        let (value, transient) = attempt();
        if !transient {
            return value;
        }
        std::thread::sleep(delay);
        delay *= 4;
    }
    attempt().0
}

fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Read(_))
}

/// A digest read and parsed, with its uncompressed bytes.
struct ReadDigest {
    parsed: ParsedDigest,
    /// Counted against the budget for inflated digests until spilled.
    bytes: KeptBytes,
}

/// Reads and parses one digest; the flag says whether a failure was a transient read error.
/// Fails when this machine does (see [`StoreError::Local`]).
fn fetch_digest_once(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    listed: bool,
) -> (Result<FetchOutcome<Box<ReadDigest>>, String>, bool) {
    match store.get(bucket, key) {
        Err(StoreError::Local(why)) => (Err(why), false),
        got => {
            let (outcome, transient) = read_digest(got, listed);
            (Ok(outcome), transient)
        }
    }
}

fn read_digest(
    got: Result<crate::store::Object, StoreError>,
    listed: bool,
) -> (FetchOutcome<Box<ReadDigest>>, bool) {
    let failed = |status, detail: String| FetchOutcome::Failed { status, detail };
    match got {
        Err(StoreError::NotFound) if listed => (
            failed(Status::NotFound, "listed, but not found when read".into()),
            false,
        ),
        Err(StoreError::NotFound) => (failed(Status::NotFound, "not found".into()), false),
        Err(e) => {
            let transient = is_transient(&e);
            (failed(Status::Error, e.to_string()), transient)
        }
        Ok(object) => match inflate_and_hash(
            object.body,
            Keep::Bytes {
                cap: DIGEST_SIZE_CAP,
            },
        ) {
            Err(GzipError::TrailingData) => (
                failed(Status::TrailingData, GzipError::TrailingData.to_string()),
                false,
            ),
            Err(GzipError::Read(e)) => (
                failed(
                    Status::Error,
                    format!("read failed: {}", crate::store::describe_error(&e)),
                ),
                true,
            ),
            Err(e) => (
                failed(Status::InvalidFormat, format!("invalid format: {e}")),
                false,
            ),
            Ok(inflated) => {
                let Some(bytes) = inflated.bytes else {
                    return (
                        failed(Status::Error, "inflated bytes not kept".into()),
                        false,
                    );
                };
                match Digest::parse(&bytes) {
                    Err(e) => (
                        failed(Status::InvalidFormat, format!("invalid format: {e}")),
                        false,
                    ),
                    Ok(digest) => (
                        FetchOutcome::Parsed(Box::new(ReadDigest {
                            parsed: ParsedDigest {
                                digest,
                                sha256: inflated.sha256,
                                metadata: object.metadata,
                            },
                            bytes,
                        })),
                        false,
                    ),
                }
            }
        },
    }
}

/// A digest as the walk holds it, and what the fetching still needs from the rest of it.
struct Fetched {
    digest: FetchedDigest<DigestHead>,
    /// Its predecessor, when that is in another bucket: (bucket, key, end time its key names).
    foreign_predecessor: Option<(String, String, UtcTime)>,
    /// For a backfill digest, when it was generated (the key in force then signed it).
    generated_at: Option<UtcTime>,
}

/// Reads one digest and puts it in `spill`, keeping only its head. Fails only when `spill`
/// does (local I/O).
fn fetch_digest(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    named_end: UtcTime,
    listed: bool,
    spill: &DigestSpill,
    ahead: Option<(&LogsAhead, usize)>,
) -> std::io::Result<Fetched> {
    let outcome = with_retries(|| fetch_digest_once(store, bucket, key, listed))
        .map_err(std::io::Error::other)?;
    let mut foreign_predecessor = None;
    let mut generated_at = None;
    let outcome = match outcome {
        FetchOutcome::Failed { status, detail } => FetchOutcome::Failed { status, detail },
        FetchOutcome::Parsed(read) => {
            let ReadDigest { parsed, bytes } = *read;
            let stored = spill.append(&bytes, &parsed.metadata)?;
            if let Some((ahead, rank)) = ahead {
                let own = store.bucket();
                ahead.offer(
                    rank,
                    parsed
                        .digest
                        .log_files
                        .iter()
                        .filter(|log| log.bucket == own)
                        .map(|log| log.object.as_str()),
                );
            }
            if let Some(previous) = &parsed.digest.previous {
                if previous.bucket != store.bucket() {
                    foreign_predecessor = DigestKey::parse(&previous.object).map(|name| {
                        (
                            previous.bucket.clone(),
                            previous.object.clone(),
                            name.end_time,
                        )
                    });
                }
            }
            generated_at = parsed
                .metadata
                .get("backfill-generation-timestamp")
                .and_then(|t| UtcTime::parse_user(t).ok());
            FetchOutcome::Parsed(DigestHead::of(&parsed, bucket, key, stored))
        }
    };
    Ok(Fetched {
        digest: FetchedDigest {
            bucket: bucket.to_string(),
            key: key.to_string(),
            named_end,
            outcome,
        },
        foreign_predecessor,
        generated_at,
    })
}

/// A digest put in a [`DigestSpill`], read back and parsed again.
fn load_digest(spill: &DigestSpillReader, stored: u64) -> std::io::Result<ParsedDigest> {
    let (bytes, metadata) = spill.read(stored)?;
    // It parsed when it was read: failing now means the spill file changed under us.
    let digest = Digest::parse(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("digest read back from the spill file no longer parses: {e}"),
        )
    })?;
    Ok(ParsedDigest {
        digest,
        sha256: Sha256::of(&bytes),
        metadata,
    })
}

fn check_log(
    store: &dyn ObjectStore,
    check: &LogCheck,
    backfill: bool,
    progress: &Progress,
) -> FileEntry {
    let entry = with_retries(|| check_log_once(store, check, backfill, &progress.bytes));
    Progress::add(&progress.logs_done, 1);
    entry
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

/// Reads, inflates and hashes one log; the flag says whether a failure was a transient read
/// error.
fn check_log_once(
    store: &dyn ObjectStore,
    check: &LogCheck,
    backfill: bool,
    bytes: &std::sync::atomic::AtomicU64,
) -> (FileEntry, bool) {
    let entry = |status| {
        let mut e = FileEntry::new(FileKind::Log, &check.bucket, &check.key, status);
        e.digest = Some(check.digest_key.to_string());
        e.backfill = backfill;
        e
    };
    let object = match store.get(&check.bucket, &check.key) {
        Ok(object) => object,
        Err(StoreError::NotFound) => return (entry(Status::NotFound), false),
        Err(e) => {
            let transient = is_transient(&e);
            return (entry(Status::Error).with_detail(e.to_string()), transient);
        }
    };
    match inflate_and_hash(Counting { inner: object.body, bytes }, Keep::Nothing) {
        Ok(inflated) if inflated.sha256 == check.expected => (entry(Status::Valid), false),
        Ok(inflated) => (
            entry(Status::HashMismatch).with_detail(format!(
                "hash value doesn't match: SHA-256 of the inflated file is {}, the digest records {}",
                inflated.sha256, check.expected
            )),
            false,
        ),
        Err(GzipError::TrailingData) => (entry(Status::TrailingData), false),
        Err(GzipError::Read(e)) => (entry(Status::Error).with_detail(format!("read failed: {}", crate::store::describe_error(&e))), true),
        Err(e) => (entry(Status::InvalidFormat).with_detail(e.to_string()), false),
    }
}

/// What [`validate`] reports as it goes.
pub enum Decided<'a> {
    /// A file whose verdict is final, among those the report shows (not valid ones, unless
    /// verbose); files of different chains interleave.
    File(&'a FileEntry),
    /// A chain, after all of its files.
    Chain(&'a ChainReport),
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
        .num_threads(options.concurrency.max(1))
        .build()
        .map_err(|e| ValidateError::ThreadPool(e.to_string()))?;

    // Folders the filter names are verified from the start, while the source is searched for
    // the others (one account and region each, verified in parallel, as many at once as the
    // gate lets in). Results come back over a channel so that the caller's reporting stays on
    // this thread, and are put back in folder order so that reports do not depend on timing.
    let named = named_digest_folders(options.prefix.as_deref(), &options.filter);
    let gate = FolderGate::new(
        options.folder_budget,
        MAX_FOLDERS_IN_FLIGHT,
        first_folder_estimate(&options.range).min((options.folder_budget / 8).max(1)),
    );
    let mut done: Vec<(String, Vec<ChainResult>)> = Vec::new();
    let (sender, receiver) = std::sync::mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        let named = &named;
        let pool = &pool;
        let gate = &gate;
        scope.spawn(move || {
            let (to_verify, folders) = std::sync::mpsc::channel::<String>();
            for folder in named {
                let _ = to_verify.send(folder.clone());
            }
            // The folders are handed out from this thread, not a pool worker: it is the only one
            // that waits on the gate, and the folders' own parallel work keeps every worker.
            pool.in_place_scope(|s| {
                let searching = sender.clone();
                s.spawn(move |_| match digest_folders(store, options) {
                    Err(e) => {
                        let _ = searching.send(Message::Failed(e));
                    }
                    Ok(search) if search.folders.is_empty() && search.unsearched.is_empty() => {
                        let _ = searching.send(Message::Failed(ValidateError::NoTrail {
                            searched: store.describe(),
                        }));
                    }
                    Ok(search) => {
                        let sink = Sink {
                            sender: &searching,
                            verbose: options.verbose,
                        };
                        for (folder, error) in search.unsearched {
                            let work = unsearched_folder(store, options, &folder, error, &sink);
                            let _ = searching.send(Message::Folder(folder, vec![work]));
                        }
                        for folder in search.folders.into_iter().filter(|f| !named.contains(f)) {
                            let _ = to_verify.send(folder);
                        }
                    }
                });
                for folder in folders {
                    let ticket = gate.admit();
                    let sender = sender.clone();
                    s.spawn(move |_| {
                        let sink = Sink {
                            sender: &sender,
                            verbose: options.verbose,
                        };
                        let message =
                            match verify_folder(store, keys, options, &folder, &sink, &ticket) {
                                Ok(works) => Message::Folder(folder, works),
                                Err(e) => Message::Failed(e),
                            };
                        let _ = sender.send(message);
                        // What the folder held is now the report's, or gone: let the next in.
                        drop(ticket);
                    });
                }
            });
        });
        let mut first_error: Option<ValidateError> = None;
        for message in receiver {
            match message {
                Message::File(entry) => on_decided(Decided::File(&entry)),
                Message::Failed(e) => {
                    first_error.get_or_insert(e);
                }
                Message::Folder(folder, works) => {
                    let mut results = Vec::with_capacity(works.len());
                    for work in works {
                        on_decided(Decided::Chain(&work.report));
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
            None => Ok(()),
        }
    })?;
    // Folder paths sort as the search finds them: roots, then accounts, then regions.
    done.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(Validation {
        chains: done.into_iter().flat_map(|(_, results)| results).collect(),
        peak_folders_in_flight: gate.peak(),
    })
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
) -> Result<Vec<ChainWork>, ValidateError> {
    // The log folder's listing is sent now, so that the server answers it while the digests
    // are listed and read; what it fetched is dropped if the scan does not use it.
    let ahead = log_listing_ahead(folder, &options.range);
    if let Some(request) = &ahead {
        store.prefetch_keys(request);
    }
    let result = verify_folder_chains(store, keys, options, folder, sink, ticket);
    if let Some(request) = &ahead {
        store.discard_prefetched(request);
    }
    result
}

fn verify_folder_chains(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    folder: &str,
    sink: &Sink,
    ticket: &FolderTicket,
) -> Result<Vec<ChainWork>, ValidateError> {
    let listing = match list_digests(store, folder, options) {
        Ok(listing) => listing,
        // The folder could not be listed (after retries), or not safely: nothing in it can be
        // checked, which the report says; the other folders' verdicts still stand.
        Err(ValidateError::Listing { prefix, error }) if !matches!(error, StoreError::Local(_)) => {
            let why = format!("listing {prefix:?} failed: {error}");
            return match unlisted_folder(store, options, folder, why, sink) {
                Some(work) => Ok(vec![work]),
                None => Err(ValidateError::Listing { prefix, error }),
            };
        }
        Err(e) => return Err(e),
    };
    let digests: u64 = listing.chains.values().map(|l| l.len() as u64).sum();
    ticket.holds(FolderTicket::bytes_for(digests, 0));
    Progress::add(&options.progress.chains_found, listing.chains.len() as u64);
    Progress::add(
        &options.progress.digests_found,
        listing.chains.values().map(|l| l.len() as u64).sum(),
    );
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
                .map(|(chain_id, listed)| walk_chain(store, keys, options, chain_id, listed, sink))
                .collect::<Result<Vec<ChainWork>, _>>()
        },
    );
    let mut works = works?;
    let logs: u64 = works.iter().map(|w| w.listed_logs.len() as u64).sum();
    ticket.holds(FolderTicket::bytes_for(digests, logs));
    check_logs_and_scan_folder(store, options, &mut works, listing.filtered_out, sink)?;
    for work in &mut works {
        work.files
            .sort_by(|a, b| (&a.bucket, &a.key, a.kind).cmp(&(&b.bucket, &b.key, b.kind)));
        Progress::add(&options.progress.chains_done, 1);
    }
    Ok(works)
}

/// The report of a digest folder that could not be listed: one `error` entry for the folder
/// (so the run is at best incomplete), under the chain its path names (the trail is known
/// only from `--trail-arn`/`--trail`). None when the path is not a digest folder's.
fn unlisted_folder(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    folder: &str,
    why: String,
    sink: &Sink,
) -> Option<ChainWork> {
    let mut id = ChainId::of_digest_folder(folder, the_trail(options), "")?;
    id.home_region = options
        .filter
        .home_region
        .clone()
        .unwrap_or_else(|| id.region.clone());
    Some(error_chain(
        store,
        id,
        folder,
        format!("{why}: no digest in this folder could be checked"),
        "the digest folder could not be listed: unreferenced logs were not looked for",
        sink,
    ))
}

/// The report of a folder the search could not list: one `error` entry for it, under a chain
/// labelled with what its path says (see [`ChainId::of_search_folder`]). Whatever chains it
/// holds went unchecked, so the run is at best incomplete.
fn unsearched_folder(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    folder: &str,
    error: StoreError,
    sink: &Sink,
) -> ChainWork {
    let home_region = options.filter.home_region.as_deref().unwrap_or("");
    let id = ChainId::of_search_folder(folder, the_trail(options), home_region);
    error_chain(
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

/// The trail every chain belongs to, when the filter names exactly one.
fn the_trail(options: &ValidateOptions) -> &str {
    match options.filter.trails.as_slice() {
        [one] => one.as_str(),
        _ => "",
    }
}

fn error_chain(
    store: &dyn ObjectStore,
    id: ChainId,
    folder: &str,
    detail: String,
    scan_note: &str,
    sink: &Sink,
) -> ChainWork {
    let mut work = ChainWork {
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
    };
    work.report.unreferenced_scan = Some(LogScan::skipped(scan_note));
    let entry =
        FileEntry::new(FileKind::Digest, store.bucket(), folder, Status::Error).with_detail(detail);
    work.decide(entry, sink);
    work
}

/// Reads one chain's digests (following it into other buckets) and walks it: every digest's
/// verdict, and the logs to check.
fn walk_chain(
    store: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    chain_id: ChainId,
    listed: Vec<(String, UtcTime)>,
    sink: &Sink,
) -> Result<ChainWork, ValidateError> {
    let spill = DigestSpill::new().map_err(spill_error)?;
    // Newest first, in that order (the walk's), so that the logs read ahead are those the
    // walk hands out first.
    let mut listed = listed;
    listed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let ahead = LogsAhead::new(store, options.concurrency, listed.len());
    let mut fetched: Vec<Fetched> = listed
        .into_iter()
        .enumerate()
        .par_bridge()
        .map(|(rank, (key, named_end))| {
            ahead.digest_started();
            let fetched = fetch_digest(
                store,
                store.bucket(),
                &key,
                named_end,
                true,
                &spill,
                Some((&ahead, rank)),
            );
            ahead.digest_done();
            fetched
        })
        .collect::<std::io::Result<_>>()
        .map_err(spill_error)?;
    // A trail whose bucket was changed continues its chain in the old bucket: follow it there
    // within the range.
    let mut seen = LogKeySet::default();
    for f in &fetched {
        seen.insert(&f.digest.bucket, &f.digest.key);
    }
    let mut next = 0;
    loop {
        let foreign: Vec<(String, String, UtcTime)> = fetched[next..]
            .iter()
            .filter_map(|f| f.foreign_predecessor.clone())
            .filter(|(bucket, key, end)| options.range.contains(*end) && seen.insert(bucket, key))
            .collect();
        next = fetched.len();
        if foreign.is_empty() {
            break;
        }
        let more: Vec<Fetched> = foreign
            .into_par_iter()
            .map(|(bucket, key, end)| fetch_digest(store, &bucket, &key, end, false, &spill, None))
            .collect::<std::io::Result<_>>()
            .map_err(spill_error)?;
        fetched.extend(more);
    }
    drop(seen);
    // A backfill digest is signed with the key in force when it was generated.
    let moments: Vec<UtcTime> = fetched.iter().filter_map(|f| f.generated_at).collect();
    let fetched: Vec<FetchedDigest<DigestHead>> = fetched.into_iter().map(|f| f.digest).collect();
    Progress::add(&options.progress.digests_done, fetched.len() as u64);
    let ring = keys.keys_for(&chain_id.region, &moments);
    let digests = spill.into_reader().map_err(spill_error)?;
    let mut walked = WalkOutput {
        sink,
        shown: Vec::new(),
        checks: CheckSpill::new().map_err(spill_error)?,
    };
    let outcome = chain::walk_streaming(
        &chain_id,
        store.bucket(),
        &options.range,
        fetched,
        ring.as_deref().map_err(String::as_str),
        &|stored| load_digest(&digests, stored),
        &mut walked,
    )
    .map_err(spill_error)?;
    drop(digests);
    Progress::add(&options.progress.logs_found, walked.checks.len() as u64);
    let mut report = outcome.report;
    // Digests are counted by the walk; logs are counted again as each verdict becomes final.
    report.logs = Counts::default();
    let mut work = ChainWork {
        id: chain_id,
        report,
        files: walked.shown,
        log_checks: Some(walked.checks.into_checks().map_err(spill_error)?),
        not_found: Vec::new(),
        verified_windows: outcome.verified_windows,
        unverifiable_windows: outcome.unverifiable_windows,
        listed_logs: outcome.listed_logs,
        unreported_logs: outcome.unreported_logs,
        read_ahead: ahead.into_sent(),
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
}

impl chain::WalkSink for WalkOutput<'_, '_> {
    fn digest(&mut self, entry: FileEntry) {
        if let Some(entry) = self.sink.pass(entry) {
            self.shown.push(entry);
        }
    }

    fn log_check(&mut self, check: LogCheck) -> std::io::Result<()> {
        self.checks.push(&check)
    }
}

fn spill_error(e: std::io::Error) -> ValidateError {
    ValidateError::Spill(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(accounts: &[&str], regions: &[&str], home: Option<&str>) -> ChainFilter {
        ChainFilter {
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            regions: regions.iter().map(|s| s.to_string()).collect(),
            trails: Vec::new(),
            home_region: home.map(str::to_string),
        }
    }

    #[test]
    fn named_folders_come_from_accounts_and_regions_or_the_home_region() {
        assert_eq!(
            named_digest_folders(None, &filter(&["111122223333"], &[], Some("us-east-1"))),
            ["AWSLogs/111122223333/CloudTrail-Digest/us-east-1/"]
        );
        assert_eq!(
            named_digest_folders(
                Some("/team/logs/"),
                &filter(
                    &["111122223333", "444455556666"],
                    &["eu-west-1", "eu-west-1"],
                    Some("us-east-1")
                )
            ),
            [
                "team/logs/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/",
                "team/logs/AWSLogs/444455556666/CloudTrail-Digest/eu-west-1/",
            ]
        );
        // Nothing named, nothing guessed: the search alone decides.
        assert!(named_digest_folders(None, &filter(&[], &["us-east-1"], None)).is_empty());
        assert!(named_digest_folders(None, &filter(&["111122223333"], &[], None)).is_empty());
    }

    #[test]
    fn names_that_are_not_one_path_segment_are_not_put_in_a_path() {
        let folders = named_digest_folders(
            None,
            &filter(
                &["111122223333", "../../x", "1111222233334"],
                &["us-east-1", "../eu-west-1", "a/b", ""],
                None,
            ),
        );
        assert_eq!(
            folders,
            ["AWSLogs/111122223333/CloudTrail-Digest/us-east-1/"]
        );
    }

    #[test]
    fn the_first_listings_are_the_search_root_and_each_named_folder_from_the_range_start() {
        let range = RequestedRange {
            start: Some(UtcTime::parse_user("2024-03-01T05:00:00Z").unwrap()),
            end: UtcTime::parse_user("2024-03-02T00:00:00Z").unwrap(),
        };
        let listings = first_listings(
            None,
            &filter(&["111122223333"], &[], Some("us-east-1")),
            &range,
        );
        let folder = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";
        assert_eq!(
            listings,
            [
                ListingRequest::folders("AWSLogs/"),
                ListingRequest::keys(folder, Some(&format!("{folder}2024/03/01"))),
            ]
        );
    }
}
