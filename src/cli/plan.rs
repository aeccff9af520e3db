//! Resolving a command line, once, into a plan: where the source is and what bucket it stands
//! for, which chains over which range, where the keys and signatures come from, how many
//! requests in flight, and what report to write. Every usage error (exit 2) that needs no
//! store is found here, before anything is opened.
//!
//! Resolving reads only the command line and the source directory's own `.ctverify/` files,
//! with one exception: `--trail-arn` with no SOURCE asks CloudTrail where the trail writes,
//! through [`TrailLookup`]. Opening what a plan names is `source.rs`'s work.

use std::path::{Path, PathBuf};

use crate::aws::TrailInfo;
use crate::bundle::{self, BundleInfo};
use crate::report::{BucketOrigin, RequestedRange, RunInfo};
use crate::report_format::Format;
use crate::time::UtcTime;
use crate::verify::{ChainFilter, ValidateOptions};

use super::args::{
    ChainArgs, ConnectionArgs, KeysFetchArgs, MirrorArgs, QueryArgs, RangeArgs, ReportArgs,
    SourceFlags, ValidateArgs,
};
use super::error::CliError;

/// Requests in flight against S3 by default: S3 serves many parallel GETs per prefix, and
/// each request spends most of its time waiting on the network.
pub const DEFAULT_S3_CONCURRENCY: usize = 64;

/// The earliest time keys are asked for when no start time is given: before log file
/// integrity validation existed.
pub(super) const EARLIEST_KEYS: i64 = crate::digest::EARLIEST_DIGEST_TIME;

/// What `--trail-arn` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailArn {
    pub region: String,
    pub account_id: String,
    pub name: String,
}

impl TrailArn {
    /// `arn:PARTITION:cloudtrail:REGION:ACCOUNT:trail/NAME`
    pub fn parse(arn: &str) -> Option<TrailArn> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, _partition, service, region, account, resource] = parts.as_slice() else {
            return None;
        };
        let name = resource.strip_prefix("trail/")?;
        if *prefix != "arn"
            || *service != "cloudtrail"
            || name.is_empty()
            || !crate::digest::is_account_id(account)
        {
            return None;
        }
        Some(TrailArn {
            region: region.to_string(),
            account_id: account.to_string(),
            name: name.to_string(),
        })
    }
}

/// Where a trail writes, asked of CloudTrail (DescribeTrails): the one lookup resolving may
/// need. Tests answer it themselves.
pub trait TrailLookup {
    /// `arn` as the user gave it; `region` the ARN's, where the trail lives.
    fn describe_trail(&mut self, region: &str, arn: &str) -> Result<TrailInfo, CliError>;
}

/// `validate`: what to verify and how to report it.
#[derive(Debug)]
pub struct ValidatePlan {
    pub verify: VerifyPlan,
    pub report: ReportPlan,
    /// A progress bar on stderr (drawn only when stderr is a terminal).
    pub progress_bar: bool,
}

/// `mirror`: what to copy (verifying it as it goes), and where to.
#[derive(Debug)]
pub struct MirrorPlan {
    pub verify: VerifyPlan,
    pub dest: PathBuf,
}

/// What `validate` and `mirror` share: a source, its keys, the chains and range wanted.
#[derive(Debug)]
pub struct VerifyPlan {
    pub source: SourcePlan,
    pub keys: KeyPlan,
    pub filter: ChainFilter,
    pub range: RequestedRange,
    pub concurrency: usize,
}

/// Where the digests and logs are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourcePlan {
    S3(S3Source),
    Directory(DirectorySource),
}

/// A bucket read through the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Source {
    /// The source as the report names it: SOURCE as given, else `s3://BUCKET`.
    pub shown: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub bucket_from: BucketOrigin,
    pub endpoint_url: Option<String>,
}

/// A directory holding a copy of a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySource {
    /// SOURCE as given, as the report names it.
    pub shown: String,
    pub root: PathBuf,
    /// The bucket the copy stands for.
    pub bucket: String,
    pub bucket_from: BucketOrigin,
    pub prefix: Option<String>,
    /// The digests' S3 metadata: `--signatures`, else the bundle's `metadata.json`; none
    /// when neither is there (every digest then has no signature to check).
    pub signatures: Option<PathBuf>,
}

/// Where the public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlan {
    /// `--public-keys` files.
    Files(Vec<PathBuf>),
    /// The source bundle's own `public-keys.json`: the source's file, so it must be a regular
    /// file (a FIFO in its place must not hang the run).
    Bundled(PathBuf),
    /// ListPublicKeys per region, over this range (widened by the rotation margin).
    Online { start: UtcTime, end: UtcTime },
}

/// `--format`, `--output`, `--verbose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPlan {
    pub format: Format,
    pub output: Option<PathBuf>,
    pub verbose: bool,
}

/// `verify-query`: a CloudTrail Lake export, its keys and the report.
#[derive(Debug)]
pub struct QueryPlan {
    pub source: QuerySource,
    /// SOURCE as given, as the report names it.
    pub shown: String,
    pub keys: KeyPlan,
    pub region: Option<String>,
    pub report: ReportPlan,
}

/// Where a query export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuerySource {
    S3 {
        bucket: String,
        /// The export's folder: the URL's prefix with a trailing `/`, or empty.
        folder: String,
        endpoint_url: Option<String>,
    },
    Directory {
        root: PathBuf,
    },
}

/// `keys fetch`: the regions and validity range to ask for, and where to write.
#[derive(Debug)]
pub struct KeysFetchPlan {
    pub regions: Vec<String>,
    pub start: UtcTime,
    pub end: UtcTime,
    pub output: Option<PathBuf>,
}

impl SourcePlan {
    /// The source as the report names it.
    pub fn shown(&self) -> &str {
        match self {
            SourcePlan::S3(s3) => &s3.shown,
            SourcePlan::Directory(dir) => &dir.shown,
        }
    }

    pub fn bucket(&self) -> &str {
        match self {
            SourcePlan::S3(s3) => &s3.bucket,
            SourcePlan::Directory(dir) => &dir.bucket,
        }
    }

    pub fn prefix(&self) -> Option<&str> {
        match self {
            SourcePlan::S3(s3) => s3.prefix.as_deref(),
            SourcePlan::Directory(dir) => dir.prefix.as_deref(),
        }
    }

    fn bucket_from(&self) -> BucketOrigin {
        match self {
            SourcePlan::S3(s3) => s3.bucket_from,
            SourcePlan::Directory(dir) => dir.bucket_from,
        }
    }
}

impl VerifyPlan {
    /// The verifier's options (its progress counters fresh).
    pub fn validate_options(&self, verbose: bool) -> ValidateOptions {
        ValidateOptions {
            progress: Default::default(),
            range: self.range,
            prefix: self.source.prefix().map(str::to_string),
            filter: self.filter.clone(),
            verbose,
            concurrency: self.concurrency,
            folder_budget: crate::folder_gate::DEFAULT_BUDGET,
        }
    }

    /// What the report says about the run.
    pub fn run_info(&self) -> RunInfo {
        RunInfo {
            tool: "ctverify",
            version: env!("CARGO_PKG_VERSION"),
            source: self.source.shown().to_string(),
            bucket: self.source.bucket().to_string(),
            bucket_from: self.source.bucket_from(),
            requested: self.range,
        }
    }
}

pub fn resolve_validate(
    args: &ValidateArgs,
    trails: &mut dyn TrailLookup,
) -> Result<ValidatePlan, CliError> {
    Ok(ValidatePlan {
        verify: resolve_verify(args.source_flags(), trails)?,
        report: report_plan(&args.report),
        progress_bar: !args.no_progress,
    })
}

pub fn resolve_mirror(
    args: &MirrorArgs,
    trails: &mut dyn TrailLookup,
) -> Result<MirrorPlan, CliError> {
    let verify = resolve_verify(args.source_flags(), trails)?;
    if let SourcePlan::Directory(dir) = &verify.source {
        check_dest_apart(&dir.root, &args.dest)?;
    }
    Ok(MirrorPlan {
        verify,
        dest: args.dest.clone(),
    })
}

pub fn resolve_query(args: &QueryArgs) -> Result<QueryPlan, CliError> {
    let given_keys =
        (!args.keys.public_keys.is_empty()).then(|| KeyPlan::Files(args.keys.public_keys.clone()));
    let (source, keys) = if let Some((bucket, prefix)) = parse_s3_url(&args.source) {
        // The keys in force now: a query export is signed when it is written.
        let now = UtcTime::now();
        let keys = given_keys.unwrap_or(KeyPlan::Online {
            start: now,
            end: now,
        });
        let source = QuerySource::S3 {
            bucket,
            folder: prefix.map(|p| format!("{p}/")).unwrap_or_default(),
            endpoint_url: args.endpoint.endpoint_url.clone(),
        };
        (source, keys)
    } else {
        let root = PathBuf::from(&args.source);
        if !root.is_dir() {
            return Err(CliError::usage(format!(
                "{} is not a directory",
                args.source
            )));
        }
        let keys = match given_keys {
            Some(keys) => keys,
            None => match bundled_file(&root, bundle::PUBLIC_KEYS_FILE)? {
                Some(bundled) => KeyPlan::Bundled(bundled),
                None => {
                    return Err(CliError::usage(
                "no public keys: pass --public-keys FILE (from `aws cloudtrail list-public-keys`)",
            ))
                }
            },
        };
        (QuerySource::Directory { root }, keys)
    };
    Ok(QueryPlan {
        source,
        shown: args.source.clone(),
        keys,
        region: args.region.clone(),
        report: report_plan(&args.report),
    })
}

pub fn resolve_keys_fetch(args: &KeysFetchArgs) -> Result<KeysFetchPlan, CliError> {
    let end = match &args.end_time {
        Some(text) => parse_time("--end-time", text)?,
        None => UtcTime::now(),
    };
    let start = match &args.start_time {
        Some(text) => parse_time("--start-time", text)?,
        None => UtcTime::from_unix(EARLIEST_KEYS),
    };
    if start > end {
        return Err(CliError::usage("--start-time is after --end-time"));
    }
    if let Some(region) = args.region.iter().find(|r| !crate::digest::is_region(r)) {
        return Err(CliError::usage(format!(
            "--region {region:?} is not a region name"
        )));
    }
    Ok(KeysFetchPlan {
        regions: args.region.clone(),
        start,
        end,
        output: args.output.clone(),
    })
}

fn report_plan(args: &ReportArgs) -> ReportPlan {
    ReportPlan {
        format: args.format,
        output: args.output.clone(),
        verbose: args.verbose,
    }
}

/// The steps in order: the range, the chains, where the source is, its keys, the concurrency.
fn resolve_verify(
    flags: SourceFlags<'_>,
    trails: &mut dyn TrailLookup,
) -> Result<VerifyPlan, CliError> {
    let range = requested_range(flags.range)?;
    let (filter, trail_arn) = chain_filter(flags.chains)?;
    let source = locate_source(flags, trail_arn.as_ref(), trails)?;
    let keys = choose_keys(&source, flags.location.keys.public_keys.as_slice(), &range)?;
    let concurrency = concurrency(flags.connection, &source)?;
    Ok(VerifyPlan {
        source,
        keys,
        filter,
        range,
        concurrency,
    })
}

fn requested_range(args: &RangeArgs) -> Result<RequestedRange, CliError> {
    let end = match &args.end_time {
        Some(text) => parse_time("--end-time", text)?,
        None => UtcTime::now(),
    };
    let start = args
        .start_time
        .as_deref()
        .map(|t| parse_time("--start-time", t))
        .transpose()?;
    if start.is_some_and(|s| s > end) {
        return Err(CliError::usage("--start-time is after --end-time"));
    }
    Ok(RequestedRange { start, end })
}

/// The chains wanted; a trail ARN narrows them to its trail, home region and (unless
/// accounts are named) account.
fn chain_filter(args: &ChainArgs) -> Result<(ChainFilter, Option<(TrailArn, String)>), CliError> {
    let mut filter = ChainFilter {
        accounts: args.account_id.clone(),
        regions: args.region.clone(),
        trails: args.trail.clone(),
        home_region: None,
    };
    let trail_arn = match &args.trail_arn {
        None => None,
        Some(text) => Some(TrailArn::parse(text).ok_or_else(|| {
            CliError::usage(format!(
                "--trail-arn {text:?} is not a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)"
            ))
        })?),
    };
    if let Some(arn) = &trail_arn {
        filter.trails = vec![arn.name.clone()];
        filter.home_region = Some(arn.region.clone());
        if filter.accounts.is_empty() {
            filter.accounts = vec![arn.account_id.clone()];
        }
    }
    if let Some(account) = filter
        .accounts
        .iter()
        .find(|a| !crate::digest::is_account_id(a))
    {
        return Err(CliError::usage(format!(
            "--account-id {account:?} is not a 12-digit account id"
        )));
    }
    let with_text = trail_arn.zip(args.trail_arn.clone());
    Ok((filter, with_text))
}

/// SOURCE when given (`s3://` or a directory), else `--s3-bucket`, else the bucket
/// DescribeTrails names for `--trail-arn`.
fn locate_source(
    flags: SourceFlags<'_>,
    trail_arn: Option<&(TrailArn, String)>,
    trails: &mut dyn TrailLookup,
) -> Result<SourcePlan, CliError> {
    let location = flags.location;
    let endpoint_url = flags.connection.endpoint.endpoint_url.clone();
    let s3 = |shown: String, bucket: String, prefix, bucket_from| {
        // S3 keeps each digest's signature in its metadata: a file of them has no place.
        if location.signatures.is_some() {
            return Err(CliError::usage(
                "--signatures is for a directory SOURCE; S3 keeps each digest's signature",
            ));
        }
        Ok(SourcePlan::S3(S3Source {
            shown,
            bucket,
            prefix,
            bucket_from,
            endpoint_url: endpoint_url.clone(),
        }))
    };
    match (flags.source, &location.s3_bucket) {
        (Some(source), _) if source.starts_with("s3://") => {
            let (bucket, prefix) = parse_s3_url(source).ok_or_else(|| {
                CliError::usage(format!("{source:?} is not s3://BUCKET[/PREFIX]"))
            })?;
            let prefix = prefix.or_else(|| location.s3_prefix.clone());
            s3(source.to_string(), bucket, prefix, BucketOrigin::Source)
        }
        (Some(source), _) => locate_directory(source, flags).map(SourcePlan::Directory),
        (None, Some(bucket)) => s3(
            format!("s3://{bucket}"),
            bucket.clone(),
            location.s3_prefix.clone(),
            BucketOrigin::Option,
        ),
        (None, None) => {
            // `--trail-arn` alone: CloudTrail says where the trail writes, as for the AWS CLI.
            let Some((arn, arn_text)) = trail_arn else {
                return Err(CliError::usage(
                    "give a SOURCE (a directory or s3://BUCKET), --s3-bucket, or --trail-arn",
                ));
            };
            let trail = trails.describe_trail(&arn.region, arn_text)?;
            // The trail's prefix even when empty: it is known, not to be searched for.
            let prefix = location.s3_prefix.clone().or(Some(trail.prefix));
            // As before `--signatures` is not refused here: the trail's bucket is read as is.
            Ok(SourcePlan::S3(S3Source {
                shown: format!("s3://{}", trail.bucket),
                bucket: trail.bucket,
                prefix,
                bucket_from: BucketOrigin::Source,
                endpoint_url,
            }))
        }
    }
}

/// A directory copy: the bucket it stands for, its prefix, its signatures file.
fn locate_directory(source: &str, flags: SourceFlags<'_>) -> Result<DirectorySource, CliError> {
    let location = flags.location;
    let root = PathBuf::from(source);
    if !root.is_dir() {
        return Err(CliError::usage(format!("{source} is not a directory")));
    }
    let bundle_info: Option<BundleInfo> = bundle::read_bundle_info(&root)
        .map_err(|e| CliError::from_cause(super::error::Failure::Usage, e))?;
    let (bucket, bucket_from) = if let Some(bucket) = &location.s3_bucket {
        (bucket.clone(), BucketOrigin::Option)
    } else if let Some(info) = &bundle_info {
        (info.bucket.clone(), BucketOrigin::Bundle)
    } else {
        let name = std::fs::canonicalize(&root)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "cannot tell the bucket name of {source}: pass --s3-bucket"
                ))
            })?;
        (name, BucketOrigin::DirectoryName)
    };
    if bucket.is_empty() || bucket.contains('/') {
        return Err(CliError::usage(format!(
            "bucket name {bucket:?} (from {}) is not an S3 bucket name",
            match bucket_from {
                BucketOrigin::Bundle => ".ctverify/bundle.json",
                _ => "--s3-bucket",
            }
        )));
    }
    let prefix = location.s3_prefix.clone().or_else(|| {
        bundle_info
            .as_ref()
            .map(|b| b.prefix.clone())
            .filter(|p| !p.is_empty())
    });
    // A prefix that names no folder under the root can never be listed: say so before anything
    // runs (the search would only report its `AWSLogs/` folder as unlistable).
    if let Some(prefix) = &prefix {
        let root_folder = format!("{}/AWSLogs", prefix.trim_matches('/'));
        if let Err(why) = crate::store::dir::check_folder_key(root_folder.trim_start_matches('/')) {
            return Err(CliError::usage(format!(
                "prefix {prefix:?} cannot be read under {source}: {why}"
            ))
            .because(why));
        }
    }
    let signatures = match &location.signatures {
        Some(path) => Some(path.clone()),
        None => bundled_file(&root, bundle::METADATA_FILE)?,
    };
    Ok(DirectorySource {
        shown: source.to_string(),
        root,
        bucket,
        bucket_from,
        prefix,
        signatures,
    })
}

/// `--public-keys` when given; else a directory bundle's own keys; else ListPublicKeys per
/// region (a directory with no key file too: a run with no network then says so for each
/// region, and `--public-keys` or `ctverify keys fetch` makes it offline).
fn choose_keys(
    source: &SourcePlan,
    given: &[PathBuf],
    range: &RequestedRange,
) -> Result<KeyPlan, CliError> {
    if !given.is_empty() {
        return Ok(KeyPlan::Files(given.to_vec()));
    }
    if let SourcePlan::Directory(dir) = source {
        if let Some(bundled) = bundled_file(&dir.root, bundle::PUBLIC_KEYS_FILE)? {
            return Ok(KeyPlan::Bundled(bundled));
        }
    }
    Ok(KeyPlan::Online {
        start: range.start.unwrap_or(UtcTime::from_unix(EARLIEST_KEYS)),
        end: range.end,
    })
}

fn concurrency(args: &ConnectionArgs, source: &SourcePlan) -> Result<usize, CliError> {
    Ok(match (args.concurrency, source) {
        (Some(0), _) => return Err(CliError::usage("--concurrency must be at least 1")),
        (Some(n), _) => n,
        (None, SourcePlan::S3(_)) => DEFAULT_S3_CONCURRENCY,
        // Files in flight: reading a copy waits on the disk and the CPU, not on a network.
        (None, SourcePlan::Directory(_)) => std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .max(4),
    })
}

/// `root`'s bundle file `file`, when it has one inside the copy.
fn bundled_file(root: &Path, file: &str) -> Result<Option<PathBuf>, CliError> {
    bundle::existing_bundle_file(root, file)
        .map_err(|e| CliError::from_cause(super::error::Failure::Usage, e))
}

/// DEST must not lie inside SOURCE, nor SOURCE inside DEST: a mirror never writes into what it
/// reads.
fn check_dest_apart(source: &Path, dest: &Path) -> Result<(), CliError> {
    let source = std::fs::canonicalize(source).ok();
    let dest = resolve_unborn(dest);
    let (Some(source), Some(dest)) = (source, dest) else {
        return Err(CliError::usage(
            "cannot tell where DEST lies against SOURCE: give paths that can be resolved",
        ));
    };
    if dest.starts_with(&source) || source.starts_with(&dest) {
        return Err(CliError::usage(
            "DEST must not be inside SOURCE (nor SOURCE inside DEST)",
        ));
    }
    Ok(())
}

/// The real path `path` has or will have: each part that exists resolved as the system would
/// (symlinks followed), the rest appended, `..` in the rest taken lexically (a folder not
/// made yet is no symlink), so that neither a symlink nor `nope/..` can hide that DEST lies
/// inside SOURCE.
fn resolve_unborn(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let absolute = std::path::absolute(path).ok()?;
    let mut real = PathBuf::new();
    let mut unborn = false;
    for component in absolute.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => real.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                // `real` has no symlink in it, so its parent is the parent.
                real.pop();
            }
            Component::Normal(name) => {
                real.push(name);
                if !unborn {
                    match std::fs::symlink_metadata(&real) {
                        Ok(_) => real = std::fs::canonicalize(&real).ok()?,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => unborn = true,
                        Err(_) => return None,
                    }
                }
            }
        }
    }
    Some(real)
}

/// `s3://BUCKET[/PREFIX]` split in two.
pub fn parse_s3_url(url: &str) -> Option<(String, Option<String>)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = match rest.split_once('/') {
        Some((bucket, prefix)) => (
            bucket,
            Some(prefix.trim_matches('/').to_string()).filter(|p| !p.is_empty()),
        ),
        None => (rest, None),
    };
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_string(), prefix))
}

fn parse_time(option: &str, text: &str) -> Result<UtcTime, CliError> {
    UtcTime::parse_user(text).map_err(|e| {
        CliError::usage(format!(
            "{option} {text:?} is not a time (use RFC 3339, e.g. 2024-03-01T10:00:00Z, or a date)"
        ))
        .because(e)
    })
}
