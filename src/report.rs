//! The report model: what was found, chain by chain and file by file.
//!
//! Writers for the three formats live in `report_format`; this module holds only data.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::continuity::{Gap, Tail};
use crate::digest::ChainId;
use crate::hash::{Fingerprint, Sha256};
use crate::reason::ChainReason;
use crate::status::{Counts, FileKind, Outcome, Status};
use crate::store::{Refusal, ARCHIVED_PREFIX, RESTORING};
use crate::time::UtcTime;

/// One file's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// A digest (or a Lake query's sign file), or a log (or a Lake result file).
    pub kind: FileKind,
    /// The bucket the file is in, or should be in when it is `not_found`.
    pub bucket: String,
    /// For a moved file, the key it belongs at; `moved_to` says where it was found.
    pub key: String,
    /// The verdict.
    pub status: Status,
    /// Why the file got its verdict; `None` when there is nothing to add to the status (as
    /// for most valid files). Written `null` in JSON.
    pub detail: Option<Detail>,
    /// For a `moved` file: the key in the same bucket where it was found. `None` otherwise,
    /// and then left out of JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// For a log: the digest that lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// For a `not_found` file in a versioned bucket: when it was deleted (the time of the
    /// delete marker that is its current version). Left out of JSON when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<UtcTime>,
    /// For a `not_found` or `hash_mismatch` file in a versioned bucket: the id of the newest
    /// earlier version whose bytes have the SHA-256 the digest records (for a digest: the one
    /// its authentic successor records). Left out of JSON when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recoverable_version: Option<String>,
    /// The SHA-256 an authentic record says the file's inflated bytes have (a log's digest, a
    /// digest's successor), when its verdict rests on one: what an earlier version must
    /// match to be recoverable. Not reported.
    #[serde(skip)]
    pub expected_sha256: Option<Sha256>,
    /// For text lines: backfill digests and their logs are marked `(backfill)`.
    #[serde(skip)]
    pub backfill: bool,
}

impl FileEntry {
    /// An entry with no detail, not moved, listed by no digest and not backfill.
    pub fn new(kind: FileKind, bucket: &str, key: &str, status: Status) -> FileEntry {
        FileEntry {
            kind,
            bucket: bucket.to_string(),
            key: key.to_string(),
            status,
            detail: None,
            moved_to: None,
            digest: None,
            deleted_at: None,
            recoverable_version: None,
            expected_sha256: None,
            backfill: false,
        }
    }

    /// This entry with `detail` as its detail, replacing any it had.
    pub fn with_detail(mut self, detail: impl Into<Detail>) -> FileEntry {
        self.detail = Some(detail.into());
        self
    }

    /// The detail as the reports write it.
    pub fn detail_text(&self) -> Option<String> {
        self.detail.as_ref().map(Detail::to_string)
    }
}

/// Why a file got its verdict: the chain walk's reasons as data, or a text from elsewhere (a
/// read error, a parser's message). Written as one string in every format (`report_format`
/// holds the words); the chain's reasons are joined with `"; "`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// One or more reasons, in the order they are written. Never empty: see
    /// [`Detail::from_reasons`].
    Reasons(Vec<ChainReason>),
    /// Words from outside the chain walk, written as they are: a read error (a `StoreError`'s
    /// text, which the summary groups by cause), a parser's message.
    Text(String),
}

impl Detail {
    /// `None` when there is no reason to give.
    pub fn from_reasons(reasons: Vec<ChainReason>) -> Option<Detail> {
        (!reasons.is_empty()).then_some(Detail::Reasons(reasons))
    }

    /// The reason written first, when the detail is the chain's.
    pub fn first_reason(&self) -> Option<&ChainReason> {
        match self {
            Detail::Reasons(reasons) => reasons.first(),
            Detail::Text(_) => None,
        }
    }
}

impl From<ChainReason> for Detail {
    fn from(reason: ChainReason) -> Detail {
        Detail::Reasons(vec![reason])
    }
}

impl From<String> for Detail {
    fn from(text: String) -> Detail {
        Detail::Text(text)
    }
}

impl From<&str> for Detail {
    fn from(text: &str) -> Detail {
        Detail::Text(text.to_string())
    }
}

impl From<&String> for Detail {
    fn from(text: &String) -> Detail {
        Detail::Text(text.clone())
    }
}

/// The same string the text report writes.
impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A detail read back from a report (`ctverify merge`) is its words: the text report reads a
/// [`Detail::Text`] by them, so it writes the same line.
impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Detail::Text)
    }
}

/// A span of UTC time with `start` no later than `end`, written `{"start": ..., "end": ...}`
/// with times as `YYYY-MM-DDTHH:MM:SSZ`. In a chain's report its ends are digests'
/// `digestStartTime` and `digestEndTime`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimeRange {
    /// The earlier end.
    pub start: UtcTime,
    /// The later end.
    pub end: UtcTime,
}

/// Requested range: the start is open when the user gave none (all digests found).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestedRange {
    /// `--start-time`; `None` (JSON `null`) when not given.
    pub start: Option<UtcTime>,
    /// `--end-time`, else the time the run started.
    pub end: UtcTime,
}

impl RequestedRange {
    /// Whether `t` is in the range, both ends included. Digests are selected by their end time.
    pub fn contains(&self, t: UtcTime) -> bool {
        self.start.is_none_or(|s| t >= s) && t <= self.end
    }
}

/// One digest chain's identity (as [`ChainId`] gives it), what was found of it and how it
/// counted: the `chains` entries of the JSON report, and a chain's summary lines in the text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainReport {
    /// The bucket the chain's digests are in.
    pub bucket: String,
    /// The trail's S3 key prefix, without the trailing slash; empty when none.
    pub prefix: String,
    /// The organization (`o-...`) of an organization trail; `None` for an account's own trail.
    pub organization_id: Option<String>,
    /// The 12-digit account the digests are delivered for (a member account, for an
    /// organization trail).
    pub account_id: String,
    /// The region the digests were delivered from.
    pub region: String,
    /// The trail's name, as the digest keys give it.
    pub trail: String,
    /// The region the trail was created in.
    pub home_region: String,
    /// A chain of backfill digests, reported apart from the hourly chain of the same trail and
    /// region.
    pub backfill: bool,
    /// From the earliest `digestStartTime` to the latest `digestEndTime` of the chain's digests
    /// in range; `None` when none was found.
    pub found: Option<TimeRange>,
    /// The end time of the chain's newest digest that verified valid; `None` when none did.
    /// What a monitor alerts on: no verified digest for hours.
    pub newest_verified: Option<UtcTime>,
    /// That digest, as the next checkpoint remembers it. Not reported.
    #[serde(skip)]
    pub newest_verified_digest: Option<crate::chain::VerifiedDigest>,
    /// The chain's digests, by outcome.
    pub digests: Counts,
    /// The logs its digests list, and the unlisted logs of its account and region attributed
    /// to it, by outcome.
    pub logs: Counts,
    /// Where logging stopped, oldest first: from the end of a digest no later digest names as
    /// predecessor to the start of the next trusted digest, which starts a chain anew.
    pub gaps: Vec<Gap>,
    /// The hours from the chain's newest digest to the end of the range, when its next digest
    /// is overdue; `None` (JSON `null`) otherwise, and for backfill chains.
    pub tail: Option<Tail>,
    /// Fingerprints of the keys whose signatures verified, so a reader can check them with AWS.
    pub public_keys: Vec<String>,
    /// How unreferenced logs were looked for in this chain's account and region.
    pub unreferenced_scan: Option<LogScan>,
    /// Windows whose digest lists no log file (text report, verbose).
    #[serde(skip)]
    pub empty_windows: Vec<TimeRange>,
}

impl ChainReport {
    /// The report of chain `id` in `bucket` before anything is decided: nothing found, every
    /// count zero.
    pub fn new(bucket: &str, id: &ChainId) -> ChainReport {
        ChainReport {
            bucket: bucket.to_string(),
            prefix: id.prefix.clone(),
            organization_id: id.organization_id.clone(),
            account_id: id.account_id.clone(),
            region: id.region.clone(),
            trail: id.trail.clone(),
            home_region: id.home_region.clone(),
            backfill: id.backfill,
            found: None,
            newest_verified: None,
            newest_verified_digest: None,
            digests: Counts::default(),
            logs: Counts::default(),
            gaps: Vec::new(),
            tail: None,
            public_keys: Vec::new(),
            unreferenced_scan: None,
            empty_windows: Vec::new(),
        }
    }

    /// Whether a gap or the tail is an integrity failure (`--require-continuous`).
    pub fn breaks_required_continuity(&self) -> bool {
        self.gaps.iter().any(|g| g.integrity_failure)
            || self.tail.as_ref().is_some_and(|t| t.integrity_failure)
    }

    /// Records that a signature by the key with `fingerprint` verified. [`Self::public_keys`]
    /// stays sorted, lowercase hex, without duplicates.
    pub fn note_key(&mut self, fingerprint: &Fingerprint) {
        let hex = fingerprint.to_hex();
        if !self.public_keys.contains(&hex) {
            self.public_keys.push(hex);
            self.public_keys.sort();
        }
    }
}

/// Where and over which windows log files not listed by any digest were looked for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogScan {
    /// The log folder listed (`.../CloudTrail/REGION/`); `None` when no scan was made.
    pub folder: Option<String>,
    /// The windows a log's delivery minute must lie wholly inside to be judged, in order; empty
    /// when no scan was made.
    pub windows: Vec<TimeRange>,
    /// In words: what counts as unreferenced, or why logs were not looked for.
    pub method: String,
}

impl LogScan {
    pub fn windows(folder: &str, windows: &[TimeRange]) -> LogScan {
        LogScan {
            folder: Some(folder.to_string()),
            windows: windows.to_vec(),
            method: "a log file whose delivery minute lies wholly inside these windows (the windows of the \
                     account and region's verified digests, and the holes their chains prove were covered, \
                     merged) and that no digest lists is unreferenced; files delivered in a gap or after the \
                     newest digest are unverified and may prove digests missing (see the chain's gaps and tail)"
                .into(),
        }
    }

    pub fn skipped(why: &str) -> LogScan {
        LogScan {
            folder: None,
            windows: Vec::new(),
            method: why.to_string(),
        }
    }
}

/// The run's result, the summary's `result` (`valid`, `invalid`, `incomplete`), and its exit
/// status (see [`Summary::exit_code`]).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every file in range was verified valid: exit 0.
    Valid,
    /// At least one integrity failure (a file whose status counts as invalid): exit 1.
    Invalid,
    /// No integrity failure, but something could not be checked, or no digest was found to
    /// check at all: exit 3.
    Incomplete,
}

/// The totals over every chain of a run, and its result.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Every chain's digests, by outcome.
    pub digests: Counts,
    /// Every chain's logs, by outcome.
    pub logs: Counts,
    /// What the counts add up to (see [`Summary::of`]).
    pub result: Verdict,
    /// The files that could not be checked (`error`, `archived`), grouped by cause: one
    /// missing permission is one group, however many files it kept from being read.
    pub errors: Vec<ErrorGroup>,
    /// Why earlier versions of the files found missing or changed could not be read, when
    /// they could not (see [`crate::Validation::versions_unread`]). Left out of JSON when
    /// `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
}

/// What kept a file from being checked, as far as the report can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCause {
    /// In an archive storage class: restore it first.
    Archived,
    /// S3 answered `AccessDenied`: no policy lets the caller `s3:GetObject` the files.
    AccessDenied,
    /// SSE-KMS: the caller may not `kms:Decrypt` with the files' key, or the key is disabled
    /// or deleted.
    Kms,
    /// A Requester Pays bucket: ctverify does not send `x-amz-request-payer`.
    RequesterPays,
    /// Anything else: reads that failed after retries, listings, keys that could not be had.
    Other,
}

impl ErrorCause {
    /// The cause of `file`'s verdict, for a file that could not be checked. Read from the
    /// detail's words ([`Refusal::of_detail`]): a digest's read error reaches the report as
    /// text, through the chain walk.
    pub fn of(file: &FileEntry) -> Option<ErrorCause> {
        match file.status {
            Status::Archived => Some(ErrorCause::Archived),
            Status::Error => Some(
                match file.detail_text().as_deref().and_then(Refusal::of_detail) {
                    Some(Refusal::AccessDenied) => ErrorCause::AccessDenied,
                    Some(Refusal::Kms) => ErrorCause::Kms,
                    Some(Refusal::RequesterPays) => ErrorCause::RequesterPays,
                    None => ErrorCause::Other,
                },
            ),
            _ => None,
        }
    }

    /// How the text report names it.
    pub fn label(self) -> &'static str {
        match self {
            ErrorCause::Archived => "archived",
            ErrorCause::AccessDenied => "AccessDenied",
            ErrorCause::Kms => "KMS",
            ErrorCause::RequesterPays => "Requester Pays",
            ErrorCause::Other => "could not be read",
        }
    }
}

/// Files of one bucket that could not be checked for one cause.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorGroup {
    /// What kept them from being checked.
    pub cause: ErrorCause,
    /// The bucket they are in.
    pub bucket: String,
    /// For archived files: their storage class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// For archived files: a restore was asked for and has not finished.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restore_in_progress: bool,
    /// How many files.
    pub count: u64,
    /// The key of one of them (the first in key order).
    pub example: String,
    /// What is missing and what to do, once for all of them.
    pub hint: String,
}

/// What the files of one [`ErrorGroup`] share.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    cause: ErrorCause,
    bucket: String,
    storage_class: Option<String>,
    restore_in_progress: bool,
}

/// An [`ErrorGroup`] being gathered: the keys' longest common prefix says which objects a
/// missing permission is about.
struct Gathering {
    count: u64,
    example: String,
    common_prefix: String,
    /// `arn:PARTITION:s3:::`, as the first refusal's detail names it.
    arn_start: String,
}

impl Summary {
    /// This summary with the files that could not be checked among `files` grouped by cause
    /// (see [`Summary::errors`]).
    pub fn with_errors<'a>(mut self, files: impl IntoIterator<Item = &'a FileEntry>) -> Summary {
        let mut groups: BTreeMap<GroupKey, Gathering> = BTreeMap::new();
        for file in files {
            let Some(cause) = ErrorCause::of(file) else {
                continue;
            };
            let detail = file.detail_text().unwrap_or_default();
            let archived = cause == ErrorCause::Archived;
            let key = GroupKey {
                cause,
                bucket: file.bucket.clone(),
                storage_class: archived.then(|| storage_class_of(&detail)),
                restore_in_progress: archived && detail.contains(RESTORING),
            };
            let gathering = groups.entry(key).or_insert_with(|| Gathering {
                count: 0,
                example: file.key.clone(),
                common_prefix: file.key.clone(),
                arn_start: arn_start_of(&detail),
            });
            gathering.count += 1;
            if file.key < gathering.example {
                gathering.example = file.key.clone();
            }
            let shared = common_prefix_len(&gathering.common_prefix, &file.key);
            gathering.common_prefix.truncate(shared);
        }
        self.errors = groups
            .into_iter()
            .map(|(key, g)| ErrorGroup {
                hint: group_hint(&key, &g),
                cause: key.cause,
                bucket: key.bucket,
                storage_class: key.storage_class,
                restore_in_progress: key.restore_in_progress,
                count: g.count,
                example: g.example,
            })
            .collect();
        self
    }
}

/// The storage class an archived file's detail names.
fn storage_class_of(detail: &str) -> String {
    detail
        .strip_prefix(ARCHIVED_PREFIX)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("an archive storage class")
        .to_string()
}

/// `arn:PARTITION:s3:::` as the detail names it (S3 ARNs differ by partition), else AWS's.
fn arn_start_of(detail: &str) -> String {
    detail
        .find("arn:")
        .and_then(|at| {
            let rest = &detail[at..];
            rest.find(":s3:::")
                .map(|end| rest[..end + ":s3:::".len()].to_string())
        })
        .unwrap_or_else(|| "arn:aws:s3:::".to_string())
}

/// The length of the longest common prefix of `a` and `b`, on a character boundary.
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((at, _), _)| at)
}

fn group_hint(key: &GroupKey, g: &Gathering) -> String {
    let (cause, bucket) = (key.cause, &key.bucket);
    // The objects a policy would name: the one file, or the keys' common prefix and `*`.
    let resource = if g.count == 1 {
        format!("{}{bucket}/{}", g.arn_start, g.example)
    } else {
        format!("{}{bucket}/{}*", g.arn_start, g.common_prefix)
    };
    let restore = "aws s3api restore-object --bucket";
    let request = "--restore-request 'Days=1,GlacierJobParameters={Tier=Standard}'";
    match cause {
        ErrorCause::Archived if key.restore_in_progress => {
            "a restore is in progress: run again once it completes (hours; \
             aws s3api head-object shows x-amz-restore: ongoing-request=\"false\" then)"
                .to_string()
        }
        ErrorCause::Archived if g.count == 1 => format!(
            "restore it, then run again (a restore takes hours; ctverify only reads, it restores \
             nothing): {restore} {bucket} --key {} {request}",
            g.example
        ),
        ErrorCause::Archived => format!(
            "restore them, then run again (a restore takes hours; ctverify only reads, it \
             restores nothing): for each file listed, {restore} {bucket} --key KEY {request}; \
             for many, one S3 Batch Operations job (operation S3InitiateRestoreObject) over a \
             manifest of their keys"
        ),
        ErrorCause::AccessDenied => Refusal::AccessDenied.hint(&resource),
        ErrorCause::Kms => Refusal::Kms.hint(&resource),
        ErrorCause::RequesterPays => Refusal::RequesterPays.hint(&resource),
        ErrorCause::Other => "each file's detail says why; run again".to_string(),
    }
}

impl Summary {
    /// The totals over `chains` and their result: invalid when any file counts as invalid,
    /// or a chain has a gap or tail `--require-continuous` forbids; else incomplete when any counts as unverified or no digest was counted; else valid.
    /// [`Summary::errors`] is left empty: see [`Summary::with_errors`].
    pub fn of(chains: &[ChainReport]) -> Summary {
        let mut digests = Counts::default();
        let mut logs = Counts::default();
        for chain in chains {
            digests.merge(&chain.digests);
            logs.merge(&chain.logs);
        }
        let discontinuous = chains.iter().any(|c| c.breaks_required_continuity());
        let result = if digests.invalid + logs.invalid > 0 || discontinuous {
            Verdict::Invalid
        } else if digests.unverified + logs.unverified > 0 || digests.total() == 0 {
            // Nothing checked proves nothing: an empty range is not a clean bill of health.
            Verdict::Incomplete
        } else {
            Verdict::Valid
        };
        Summary {
            digests,
            logs,
            result,
            errors: Vec::new(),
            versions: None,
        }
    }

    /// This summary saying why earlier versions could not be read (see
    /// [`Summary::versions`]).
    pub fn with_versions(mut self, versions_unread: Option<String>) -> Summary {
        self.versions = versions_unread;
        self
    }

    /// 0 valid, 1 integrity failure, 3 incomplete (cli.md).
    pub fn exit_code(&self) -> i32 {
        match self.result {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Incomplete => 3,
        }
    }
}

/// Where the bucket name of a directory source came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BucketOrigin {
    /// `--s3-bucket`
    Option,
    /// `.ctverify/bundle.json`
    Bundle,
    /// The directory's own name.
    DirectoryName,
    /// An `s3://` source names it.
    Source,
}

/// Facts about the run that every format prints at the top.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// `"ctverify"`.
    pub tool: &'static str,
    /// The version of ctverify that wrote the report (`X.Y.Z`).
    pub version: &'static str,
    /// SOURCE as given (an `s3://` URL or a directory), else `s3://BUCKET`.
    pub source: String,
    /// The bucket verified; for a directory, the bucket the copy stands for.
    pub bucket: String,
    /// Where [`RunInfo::bucket`] came from.
    pub bucket_from: BucketOrigin,
    /// The range of digests asked for.
    pub requested: RequestedRange,
    /// Why earlier versions of the files found missing or changed could not be read, once
    /// the run has said (see [`crate::Validation::versions_unread`]): the summary says it.
    #[serde(skip)]
    pub versions_unread: Option<String>,
    /// With `--checkpoint`: what it resumed from and what its history listing found (the
    /// report's `checkpoint` object).
    #[serde(skip)]
    pub checkpoint: Option<CheckpointRun>,
    /// With `--shard`: what the shard covered and what `ctverify merge` needs (the report's
    /// `shard` object).
    #[serde(skip)]
    pub shard: Option<crate::shard::ShardPart>,
    /// For `ctverify merge`: the shards merged, and those missing (the report's `merge`
    /// object).
    #[serde(skip)]
    pub merged: Option<MergeRun>,
}

impl RunInfo {
    /// The result of the run given the totals over its chains: a merge with a shard missing
    /// is never complete. A shard whose folders hold no digest in the range (or that holds
    /// none of the folders found) has nothing to verify, which is not a failure to verify: one
    /// run over the whole source is judged on all of it, and so is the merge.
    pub fn judge(&self, summary: Summary) -> Summary {
        let mut summary = summary;
        if self.merged.as_ref().is_some_and(|m| !m.is_complete())
            && summary.result == Verdict::Valid
        {
            summary.result = Verdict::Incomplete;
        }
        let nothing_here = summary.result == Verdict::Incomplete
            && summary.digests.total() == 0
            && summary.logs.unverified == 0
            && summary.errors.is_empty();
        if self.shard.is_some() && nothing_here {
            summary.result = Verdict::Valid;
        }
        summary
    }
}

/// The `merge` object of a merged report: which shard reports it was made of, and what they
/// left uncovered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeRun {
    /// How many shards the run was split into.
    pub shards: u32,
    /// The reports merged, by shard index.
    pub reports: Vec<MergedReport>,
    /// Shards no report was given for: their folders were not verified.
    pub missing_shards: Vec<u32>,
    /// Reports of a shard already given; each left out.
    pub duplicate_shards: Vec<MergedReport>,
    /// Folders a shard's search found that the shard they belong to did not verify (found
    /// between the two shards' runs, or lost by it).
    pub folders_not_verified: Vec<FolderNotVerified>,
}

impl MergeRun {
    /// Whether every shard is there once and every folder found was verified.
    pub fn is_complete(&self) -> bool {
        self.missing_shards.is_empty()
            && self.duplicate_shards.is_empty()
            && self.folders_not_verified.is_empty()
    }
}

/// One shard's report, as `ctverify merge` was given it.
#[derive(Debug, Clone, Serialize)]
pub struct MergedReport {
    /// The shard's index.
    pub shard: u32,
    /// The report: a file name, or `-` for stdin.
    pub report: String,
}

/// A folder found and not verified by its shard.
#[derive(Debug, Clone, Serialize)]
pub struct FolderNotVerified {
    /// The digest folder.
    pub folder: String,
    /// The shard it belongs to.
    pub shard: u32,
    /// The shard whose search found it.
    pub found_by: u32,
}

/// The `checkpoint` object of a report: where the run resumed from and what changed since.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointRun {
    /// FILE or `s3://BUCKET/KEY`, as given.
    pub location: String,
    /// When the checkpoint the run resumed from was written; `null` for a first run.
    pub resumed_from: Option<UtcTime>,
    /// Chains started at their checkpointed digest.
    pub chains_resumed: usize,
    /// Account-and-region folders whose history was listed.
    pub folders_listed: usize,
    /// Days whose objects are not what the checkpoint recorded (gone, rewritten or added):
    /// each is verified again, from its midnight on.
    pub changed_days: Vec<ChangedDay>,
    /// Folders the run verified that the checkpoint does not move forward, and why.
    pub folders_not_moved: Vec<FolderNotMoved>,
}

/// A folder the checkpoint keeps where it was.
#[derive(Debug, Clone, Serialize)]
pub struct FolderNotMoved {
    /// The digest folder.
    pub folder: String,
    /// `history_unlisted`, `trails_left_out`, `not_all_valid` or `nothing_verified`.
    pub why: crate::checkpoint::NotMoved,
}

/// A day of a folder that changed since the checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedDay {
    /// The digest folder (`[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail-Digest/REGION/`).
    pub folder: String,
    /// Its date, `YYYY-MM-DD`.
    pub day: String,
    /// Objects in the day's digest and log folders, as recorded.
    pub objects_then: u64,
    /// Objects listed now.
    pub objects_now: u64,
}

/// Marks whether a status would be shown without `--verbose`.
pub fn is_reported(status: Status, verbose: bool) -> bool {
    verbose || status.outcome() != Outcome::Valid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn unreadable(key: &str, error: StoreError) -> FileEntry {
        FileEntry::new(FileKind::Log, "b", key, error.status()).with_detail(error.to_string())
    }

    fn denied(key: &str, refusal: Refusal) -> FileEntry {
        unreadable(
            key,
            StoreError::Denied {
                refusal,
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
                resource: format!("arn:aws-cn:s3:::b/{key}"),
            },
        )
    }

    fn archived(key: &str, storage_class: &str, restore_in_progress: bool) -> FileEntry {
        unreadable(
            key,
            StoreError::Archived {
                storage_class: storage_class.into(),
                restore_in_progress,
            },
        )
    }

    fn empty_summary() -> Summary {
        Summary::of(&[])
    }

    #[test]
    fn one_missing_permission_is_one_group_naming_the_objects_it_is_about() {
        let files = [
            denied(
                "AWSLogs/1/CloudTrail/us-east-1/2024/03/02/b.json.gz",
                Refusal::AccessDenied,
            ),
            denied(
                "AWSLogs/1/CloudTrail/us-east-1/2024/03/01/a.json.gz",
                Refusal::AccessDenied,
            ),
            denied(
                "AWSLogs/1/CloudTrail/eu-west-1/2024/03/01/c.json.gz",
                Refusal::AccessDenied,
            ),
            denied("AWSLogs/1/CloudTrail/eu-west-1/k.json.gz", Refusal::Kms),
            FileEntry::new(FileKind::Log, "b", "fine", Status::Valid),
            FileEntry::new(FileKind::Log, "b", "gone", Status::NotFound),
            FileEntry::new(FileKind::Log, "b", "flaky", Status::Error)
                .with_detail("could not be read: GetObject: timed out"),
        ];
        let summary = empty_summary().with_errors(&files);
        let causes: Vec<(ErrorCause, u64)> =
            summary.errors.iter().map(|g| (g.cause, g.count)).collect();
        assert_eq!(
            causes,
            [
                (ErrorCause::AccessDenied, 3),
                (ErrorCause::Kms, 1),
                (ErrorCause::Other, 1)
            ]
        );
        let access = &summary.errors[0];
        assert_eq!(
            access.example,
            "AWSLogs/1/CloudTrail/eu-west-1/2024/03/01/c.json.gz"
        );
        // The keys' common prefix, in the partition the refusals named.
        assert!(
            access.hint.starts_with(
                "s3:GetObject on arn:aws-cn:s3:::b/AWSLogs/1/CloudTrail/* is not allowed"
            ),
            "{}",
            access.hint
        );
        // A single file is named exactly.
        assert!(
            summary.errors[1]
                .hint
                .contains("arn:aws-cn:s3:::b/AWSLogs/1/CloudTrail/eu-west-1/k.json.gz "),
            "{}",
            summary.errors[1].hint
        );
        let json = serde_json::to_value(&summary).expect("serializable");
        assert_eq!(json["errors"][0]["cause"], "access_denied");
        assert_eq!(json["errors"][1]["cause"], "kms");
        assert_eq!(json["errors"][2]["cause"], "other");
        assert!(json["errors"][0].get("storage_class").is_none());
    }

    #[test]
    fn archived_files_are_grouped_by_storage_class_and_restore_state() {
        let files = [
            archived("a", "GLACIER", false),
            archived("b", "GLACIER", false),
            archived("c", "DEEP_ARCHIVE", false),
            archived("d", "GLACIER", true),
        ];
        let summary = empty_summary().with_errors(&files);
        let groups: Vec<(Option<&str>, bool, u64)> = summary
            .errors
            .iter()
            .map(|g| (g.storage_class.as_deref(), g.restore_in_progress, g.count))
            .collect();
        assert_eq!(
            groups,
            [
                (Some("DEEP_ARCHIVE"), false, 1),
                (Some("GLACIER"), false, 2),
                (Some("GLACIER"), true, 1)
            ]
        );
        assert!(summary.errors[0].hint.contains(
            "aws s3api restore-object --bucket b --key c --restore-request \
             'Days=1,GlacierJobParameters={Tier=Standard}'"
        ));
        assert!(summary.errors[1].hint.contains("--key KEY"));
        assert!(summary.errors[1].hint.contains("S3 Batch Operations"));
        assert!(summary.errors[2]
            .hint
            .starts_with("a restore is in progress"));
        assert!(empty_summary().with_errors(&[]).errors.is_empty());
    }

    #[test]
    fn common_prefixes_stop_at_a_character_boundary() {
        assert_eq!(common_prefix_len("caf\u{e9}/a", "caf\u{e8}/a"), 3);
        assert_eq!(common_prefix_len("abc", "abcd"), 3);
        assert_eq!(common_prefix_len("", "x"), 0);
    }
}
