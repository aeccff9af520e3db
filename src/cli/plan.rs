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
use crate::shard::Shard;
use crate::time::UtcTime;
use crate::verify::{ChainFilter, ValidateOptions};

use super::args::{
    ChainArgs, ConnectionArgs, KeysFetchArgs, MergeArgs, MirrorArgs, QueryArgs, RangeArgs,
    ReportArgs, SourceFlags, ValidateArgs,
};
use super::error::{CliError, Failure};

/// Requests in flight against S3 by default: S3 serves many parallel GETs per prefix, and
/// each request spends most of its time waiting on the network. Requests wait on the async
/// runtime, not on threads, so more cost little CPU; 128 is what measured best over a slow
/// server and a fast one (bench/s3_vs_awscli.sh against moto_server, whose own ceiling is at
/// 128 connections and which slows at 256; bench/s3_fast_server.sh against SeaweedFS 50 ms
/// away: 0.87 of its ceiling at 128, 0.94 at 256, 0.76 at 64).
pub const DEFAULT_S3_CONCURRENCY: usize = 128;

/// The earliest time keys are asked for when no start time is given: before log file
/// integrity validation existed.
pub(super) const EARLIEST_KEYS: i64 = crate::digest::EARLIEST_DIGEST_TIME;

/// What `--trail-arn` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailArn {
    /// The ARN as given: what DescribeTrails is asked about.
    pub arn: String,
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
            arn: arn.to_string(),
            region: region.to_string(),
            account_id: account.to_string(),
            name: name.to_string(),
        })
    }
}

/// Where a trail writes, asked of CloudTrail (DescribeTrails): the one lookup resolving may
/// need. Tests answer it themselves.
pub trait TrailLookup {
    /// Asked in the ARN's region, where the trail lives.
    fn describe_trail(&mut self, trail: &TrailArn) -> Result<TrailInfo, CliError>;
}

/// `validate`: what to verify and how to report it.
#[derive(Debug)]
pub struct ValidatePlan {
    pub verify: VerifyPlan,
    pub report: ReportPlan,
    /// A progress bar on stderr (drawn only when stderr is a terminal).
    pub progress_bar: bool,
    /// `--require-continuous`: any gap or tail is an integrity failure.
    pub require_continuous: bool,
    /// `--metrics FILE`.
    pub metrics: Option<PathBuf>,
    /// `--checkpoint FILE|s3://BUCKET/KEY`.
    pub checkpoint: Option<CheckpointPlan>,
    /// `--shard I/N`, or `--shard-count N` with the engine's index.
    pub shard: Option<Shard>,
    /// `--exit-zero-on-findings`.
    pub exit_zero_on_findings: bool,
}

/// Where `--checkpoint` is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointPlan {
    File(PathBuf),
    S3 {
        bucket: String,
        key: String,
        /// The source's `--endpoint-url`, which the checkpoint's bucket is reached through too.
        endpoint_url: Option<String>,
    },
}

impl CheckpointPlan {
    /// As the report and messages name it.
    pub fn shown(&self) -> String {
        match self {
            CheckpointPlan::File(path) => path.display().to_string(),
            CheckpointPlan::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }
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
    /// `--trail-arn`: for an S3 source, GetTrailStatus is asked what the trail delivered.
    pub trail_arn: Option<TrailArn>,
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
            require_continuous: false,
            trail_status: None,
            checkpoint: None,
            shard: None,
        }
    }

    /// What a checkpoint is of: the bucket and prefix for S3; for a directory, the directory
    /// (its full path) and what it stands for. A checkpoint of anything else is refused.
    pub fn checkpoint_source(&self) -> String {
        match &self.source {
            SourcePlan::S3(s3) => {
                format!("s3://{}/{}", s3.bucket, s3.prefix.as_deref().unwrap_or(""))
            }
            SourcePlan::Directory(dir) => format!(
                "directory {} standing for s3://{}/{}",
                dir.root
                    .canonicalize()
                    .unwrap_or_else(|_| dir.root.clone())
                    .display(),
                dir.bucket,
                dir.prefix.as_deref().unwrap_or("")
            ),
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
            versions_unread: None,
            checkpoint: None,
            shard: None,
            merged: None,
        }
    }
}

pub fn resolve_validate(
    args: &ValidateArgs,
    trails: &mut dyn TrailLookup,
) -> Result<ValidatePlan, CliError> {
    let verify = resolve_verify(args.source_flags(), trails)?;
    if let Some(metrics) = &args.metrics {
        refuse_inside_source(&verify.source, metrics, "--metrics")?;
    }
    let checkpoint = args
        .checkpoint
        .as_deref()
        .map(|location| checkpoint_plan(&verify.source, location))
        .transpose()?;
    let shard = shard_of(args, &|name| std::env::var(name).ok())?;
    let mut report = report_plan(&args.report);
    if let Some(output) = &report.output {
        report.output = Some(output_of_shard(output, shard)?);
    }
    let metrics = args
        .metrics
        .as_deref()
        .map(|path| output_of_shard(path, shard))
        .transpose()?;
    if shard.is_some() {
        if args.range.end_time.is_none() {
            return Err(CliError::usage(
                "a shard needs --end-time, the same for every shard of the run: each would otherwise verify up to when it ran, and the merge would refuse them",
            ));
        }
        if verify.range.end > UtcTime::now() {
            return Err(CliError::usage(format!(
                "a shard's --end-time must not be in the future ({}): each shard would end its chains' tails at the time it ran, and shards run at different times",
                verify.range.end
            )));
        }
        if report.format == Format::Text {
            return Err(CliError::usage(
                "a shard's report is for `ctverify merge`, which reads --format json or jsonl",
            ));
        }
        if checkpoint.is_some() {
            return Err(CliError::usage(
                "--checkpoint cannot be used with --shard or --shard-count: a checkpoint is for one run over the whole source",
            ));
        }
    }
    Ok(ValidatePlan {
        verify,
        report,
        progress_bar: !args.no_progress,
        require_continuous: args.require_continuous,
        metrics,
        checkpoint,
        shard,
        exit_zero_on_findings: args.exit_zero_on_findings,
    })
}

/// The environment variables array-job engines give each job its index in: AWS Batch's, then
/// Kubernetes Indexed Jobs'.
pub const SHARD_INDEX_VARIABLES: [&str; 2] = ["AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"];

/// `--shard I/N`, or `--shard-count N` with the index from the engine's variable (`env`).
fn shard_of(
    args: &ValidateArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, CliError> {
    if let Some(text) = &args.shard {
        return Shard::parse(text)
            .map(Some)
            .map_err(|e| CliError::usage(format!("--shard: {e}")));
    }
    let Some(count) = args.shard_count else {
        return Ok(None);
    };
    let given: Vec<(&str, String)> = SHARD_INDEX_VARIABLES
        .iter()
        .filter_map(|name| env(name).map(|value| (*name, value)))
        .collect();
    let (name, value) = match given.as_slice() {
        [] => {
            return Err(CliError::usage(format!(
                "--shard-count {count}: the shard's index comes from {} or {}, and neither is set: give --shard I/{count}",
                SHARD_INDEX_VARIABLES[0], SHARD_INDEX_VARIABLES[1]
            )))
        }
        [(name, value)] => (*name, value),
        [(a, x), (b, y), ..] if x != y => {
            return Err(CliError::usage(format!(
                "--shard-count {count}: {a}={x} and {b}={y} disagree: which shard this is is unclear"
            )))
        }
        [(name, value), ..] => (*name, value),
    };
    let index = value
        .trim()
        .parse::<u64>()
        .map_err(|_| CliError::usage(format!("{name}={value:?} is not a shard index")))?;
    Shard::new(index, count)
        .map(Some)
        .map_err(|e| CliError::usage(format!("--shard-count with {name}: {e}")))
}

/// `--output` (or `--metrics`) with `{shard}` replaced by the shard's index; refused without a
/// shard.
fn output_of_shard(output: &Path, shard: Option<Shard>) -> Result<PathBuf, CliError> {
    let Some(text) = output.to_str().filter(|t| t.contains("{shard}")) else {
        return Ok(output.to_path_buf());
    };
    match shard {
        Some(shard) => Ok(PathBuf::from(
            text.replace("{shard}", &shard.index.to_string()),
        )),
        None => Err(CliError::usage(format!(
            "{text}: {{shard}} is the shard's index, and this run is not sharded (--shard, --shard-count)"
        ))),
    }
}

/// `merge`: the reports to read and the report to write.
#[derive(Debug)]
pub struct MergePlan {
    /// Each report: a file, or `-` for stdin. Directories are expanded here.
    pub reports: Vec<MergeInput>,
    pub report: ReportPlan,
}

/// One report for `merge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeInput {
    Stdin,
    File(PathBuf),
}

/// Resolves `merge`: a directory stands for the `*.json` and `*.jsonl` files directly in it,
/// in name order; stdin may be given once.
pub fn resolve_merge(args: &MergeArgs) -> Result<MergePlan, CliError> {
    let mut reports = Vec::new();
    for given in &args.reports {
        if given == "-" {
            if reports.contains(&MergeInput::Stdin) {
                return Err(CliError::usage("merge: - (stdin) given twice"));
            }
            reports.push(MergeInput::Stdin);
            continue;
        }
        let path = PathBuf::from(given);
        if !path.is_dir() {
            reports.push(MergeInput::File(path));
            continue;
        }
        let entries = std::fs::read_dir(&path)
            .map_err(|e| CliError::usage(format!("cannot read the directory {given}: {e}")))?;
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry
                .map_err(|e| CliError::usage(format!("cannot read the directory {given}: {e}")))?;
            let file = entry.path();
            let is_report = matches!(
                file.extension().and_then(|e| e.to_str()),
                Some("json" | "jsonl")
            );
            if is_report && file.is_file() {
                found.push(file);
            }
        }
        if found.is_empty() {
            return Err(CliError::usage(format!(
                "merge: {given} holds no *.json or *.jsonl report"
            )));
        }
        found.sort();
        reports.extend(found.into_iter().map(MergeInput::File));
    }
    Ok(MergePlan {
        reports,
        report: ReportPlan {
            format: args.format,
            output: args.output.clone(),
            verbose: false,
        },
    })
}

/// `--checkpoint`'s location: a file outside a directory source, or an S3 object outside the
/// bucket and prefix being verified.
fn checkpoint_plan(source: &SourcePlan, location: &str) -> Result<CheckpointPlan, CliError> {
    if !location.starts_with("s3://") {
        let path = PathBuf::from(location);
        refuse_inside_source(source, &path, "--checkpoint")?;
        // Found now, not after an hour's run that could not write it.
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(CliError::usage(format!(
                "--checkpoint {location}: {} is not a directory",
                parent.display()
            )));
        }
        return Ok(CheckpointPlan::File(path));
    }
    let (bucket, key) = location
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty() && !key.ends_with('/'))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--checkpoint {location:?}: an S3 checkpoint is s3://BUCKET/KEY, KEY an object's name"
            ))
        })?;
    let endpoint_url = match source {
        SourcePlan::S3(s3) => {
            let prefix = s3
                .prefix
                .as_deref()
                .map(|p| format!("{p}/"))
                .unwrap_or_default();
            if s3.bucket == bucket && key.starts_with(&prefix) {
                return Err(CliError::usage(format!(
                    "--checkpoint {location} is inside the source s3://{}/{prefix}: ctverify never writes there",
                    s3.bucket
                )));
            }
            s3.endpoint_url.clone()
        }
        SourcePlan::Directory(_) => None,
    };
    Ok(CheckpointPlan::S3 {
        bucket: bucket.to_string(),
        key: key.to_string(),
        endpoint_url,
    })
}

/// ctverify only reads its source: a file it writes (`flag`'s) must not land inside a
/// directory source.
fn refuse_inside_source(source: &SourcePlan, path: &Path, flag: &str) -> Result<(), CliError> {
    let SourcePlan::Directory(dir) = source else {
        return Ok(());
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let inside = match (parent.canonicalize(), dir.root.canonicalize()) {
        (Ok(parent), Ok(root)) => parent.starts_with(root),
        _ => false,
    };
    if inside {
        return Err(CliError::usage(format!(
            "{flag} {} is inside the source directory {}: ctverify never writes there",
            path.display(),
            dir.root.display()
        )));
    }
    Ok(())
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
        trail_arn,
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
fn chain_filter(args: &ChainArgs) -> Result<(ChainFilter, Option<TrailArn>), CliError> {
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
    Ok((filter, trail_arn))
}

/// SOURCE when given (`s3://` or a directory), else `--s3-bucket`, else the bucket
/// DescribeTrails names for `--trail-arn`.
fn locate_source(
    flags: SourceFlags<'_>,
    trail_arn: Option<&TrailArn>,
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
            let Some(arn) = trail_arn else {
                return Err(CliError::usage(
                    "give a SOURCE (a directory or s3://BUCKET), --s3-bucket, or --trail-arn",
                ));
            };
            let trail = trails.describe_trail(arn)?;
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
    let bundle_info: Option<BundleInfo> =
        bundle::read_bundle_info(&root).map_err(|e| CliError::from_cause(Failure::Usage, e))?;
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
    bundle::existing_bundle_file(root, file).map_err(|e| CliError::from_cause(Failure::Usage, e))
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

#[cfg(test)]
mod tests {
    use std::fs;

    use clap::Parser;

    use super::*;
    use crate::cli::error::{EXIT_INCOMPLETE, EXIT_USAGE};
    use crate::cli::{Cli, Command, KeysCommand};

    const ARN: &str = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/management";

    /// DescribeTrails answered from memory; remembers what it was asked.
    #[derive(Default)]
    struct KnownTrail {
        asked: Vec<(String, String)>,
        answer: Option<TrailInfo>,
    }

    impl TrailLookup for KnownTrail {
        fn describe_trail(&mut self, trail: &TrailArn) -> Result<TrailInfo, CliError> {
            self.asked.push((trail.region.clone(), trail.arn.clone()));
            self.answer
                .clone()
                .ok_or_else(|| CliError::incomplete("cannot find the trail's bucket: offline"))
        }
    }

    fn parse(line: &[&str]) -> Command {
        let argv = std::iter::once("ctverify").chain(line.iter().copied());
        Cli::try_parse_from(argv).expect("parses").command
    }

    fn validate(line: &[&str]) -> Result<ValidatePlan, CliError> {
        validate_with(line, &mut KnownTrail::default())
    }

    fn validate_with(line: &[&str], trails: &mut KnownTrail) -> Result<ValidatePlan, CliError> {
        let mut full = vec!["validate"];
        full.extend_from_slice(line);
        match parse(&full) {
            Command::Validate(args) => resolve_validate(&args, trails),
            other => panic!("not validate: {other:?}"),
        }
    }

    fn usage_error<T: std::fmt::Debug>(result: Result<T, CliError>) -> String {
        let error = result.expect_err("a usage error");
        assert_eq!(error.exit_code(), EXIT_USAGE, "{error}");
        error.to_string()
    }

    fn mirror(line: &[&str]) -> Result<MirrorPlan, CliError> {
        let mut full = vec!["mirror"];
        full.extend_from_slice(line);
        match parse(&full) {
            Command::Mirror(args) => resolve_mirror(&args, &mut KnownTrail::default()),
            other => panic!("not mirror: {other:?}"),
        }
    }

    fn query(line: &[&str]) -> Result<QueryPlan, CliError> {
        let mut full = vec!["verify-query"];
        full.extend_from_slice(line);
        match parse(&full) {
            Command::VerifyQuery(args) => resolve_query(&args),
            other => panic!("not verify-query: {other:?}"),
        }
    }

    fn keys_fetch(line: &[&str]) -> Result<KeysFetchPlan, CliError> {
        let mut full = vec!["keys", "fetch"];
        full.extend_from_slice(line);
        match parse(&full) {
            Command::Keys(KeysCommand::Fetch(args)) => resolve_keys_fetch(&args),
            other => panic!("not keys fetch: {other:?}"),
        }
    }

    /// A copy of a bucket named `name` (a folder with `AWSLogs/`), in a fresh temporary folder.
    fn copy_named(name: &str) -> (tempfile::TempDir, PathBuf) {
        let parent = tempfile::tempdir().expect("temporary folder");
        let root = parent.path().join(name);
        fs::create_dir_all(root.join("AWSLogs")).expect("copy folder");
        (parent, root)
    }

    /// A copy with `.ctverify/`: bundle.json, public-keys.json, metadata.json.
    fn bundle() -> (tempfile::TempDir, PathBuf) {
        let (parent, root) = copy_named("copy");
        let dir = root.join(bundle::BUNDLE_DIR);
        fs::create_dir_all(&dir).expect("bundle folder");
        fs::write(
            dir.join(bundle::BUNDLE_FILE),
            r#"{"bucket": "trail-bucket", "prefix": "org"}"#,
        )
        .expect("bundle.json");
        fs::write(dir.join(bundle::PUBLIC_KEYS_FILE), "{}").expect("keys");
        fs::write(dir.join(bundle::METADATA_FILE), "{}").expect("metadata");
        (parent, root)
    }

    fn text(path: &Path) -> &str {
        path.to_str().expect("a UTF-8 temporary path")
    }

    fn s3(plan: &VerifyPlan) -> &S3Source {
        match &plan.source {
            SourcePlan::S3(s3) => s3,
            other => panic!("not S3: {other:?}"),
        }
    }

    fn directory(plan: &VerifyPlan) -> &DirectorySource {
        match &plan.source {
            SourcePlan::Directory(dir) => dir,
            other => panic!("not a directory: {other:?}"),
        }
    }

    #[test]
    fn trail_arn() {
        let arn =
            TrailArn::parse("arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events")
                .unwrap();
        assert_eq!(arn.region, "us-east-1");
        assert_eq!(arn.account_id, "111122223333");
        assert_eq!(arn.name, "management-events");
        assert!(TrailArn::parse("arn:aws:s3:::bucket").is_none());
        assert!(TrailArn::parse("arn:aws:cloudtrail:us-east-1:1111:trail/x").is_none());
    }

    #[test]
    fn an_s3_url_names_bucket_and_prefix() {
        let plan = validate(&["s3://logs/org/", "--s3-prefix", "ignored"]).unwrap();
        let verify = &plan.verify;
        assert_eq!(
            s3(verify),
            &S3Source {
                shown: "s3://logs/org/".into(),
                bucket: "logs".into(),
                prefix: Some("org".into()),
                bucket_from: BucketOrigin::Source,
                endpoint_url: None,
            }
        );
        assert_eq!(verify.concurrency, DEFAULT_S3_CONCURRENCY);
        assert_eq!(
            verify.keys,
            KeyPlan::Online {
                start: UtcTime::from_unix(EARLIEST_KEYS),
                end: verify.range.end
            }
        );
        assert_eq!(plan.report.format, Format::Text);
        assert!(plan.progress_bar);

        let plan = validate(&[
            "s3://logs",
            "--s3-prefix",
            "given",
            "--endpoint-url",
            "http://x",
        ])
        .unwrap();
        assert_eq!(s3(&plan.verify).prefix.as_deref(), Some("given"));
        assert_eq!(s3(&plan.verify).endpoint_url.as_deref(), Some("http://x"));
    }

    #[test]
    fn s3_bucket_stands_in_for_source() {
        let plan = validate(&[
            "--s3-bucket",
            "logs",
            "--s3-prefix",
            "org",
            "--concurrency",
            "7",
        ])
        .unwrap();
        let source = s3(&plan.verify);
        assert_eq!(source.shown, "s3://logs");
        assert_eq!(source.bucket_from, BucketOrigin::Option);
        assert_eq!(source.prefix.as_deref(), Some("org"));
        assert_eq!(plan.verify.concurrency, 7);
        let run = plan.verify.run_info();
        assert_eq!(
            (run.source.as_str(), run.bucket.as_str()),
            ("s3://logs", "logs")
        );
        assert_eq!(
            plan.verify.validate_options(false).prefix.as_deref(),
            Some("org")
        );
    }

    #[test]
    fn trail_arn_alone_asks_where_the_trail_writes() {
        let mut trails = KnownTrail {
            answer: Some(TrailInfo {
                bucket: "trail-bucket".into(),
                prefix: String::new(),
                organization_trail: false,
            }),
            ..Default::default()
        };
        let plan = validate_with(&["--trail-arn", ARN], &mut trails).unwrap();
        assert_eq!(
            trails.asked,
            vec![("eu-west-1".to_string(), ARN.to_string())]
        );
        let source = s3(&plan.verify);
        assert_eq!(source.shown, "s3://trail-bucket");
        assert_eq!(source.bucket_from, BucketOrigin::Source);
        // Known to be empty: not searched for.
        assert_eq!(source.prefix.as_deref(), Some(""));
        let filter = &plan.verify.filter;
        assert_eq!(filter.trails, vec!["management".to_string()]);
        assert_eq!(filter.home_region.as_deref(), Some("eu-west-1"));
        assert_eq!(filter.accounts, vec!["111122223333".to_string()]);

        let plan = validate_with(
            &[
                "--trail-arn",
                ARN,
                "--s3-prefix",
                "mine",
                "--account-id",
                "444455556666",
            ],
            &mut trails,
        )
        .unwrap();
        assert_eq!(s3(&plan.verify).prefix.as_deref(), Some("mine"));
        assert_eq!(
            plan.verify.filter.accounts,
            vec!["444455556666".to_string()]
        );
    }

    #[test]
    fn a_failed_trail_lookup_is_incomplete() {
        let error = validate(&["--trail-arn", ARN]).unwrap_err();
        assert_eq!(error.exit_code(), EXIT_INCOMPLETE);
    }

    #[test]
    fn a_trail_arn_beside_a_source_only_filters() {
        let mut trails = KnownTrail::default();
        let plan = validate_with(&["s3://logs", "--trail-arn", ARN], &mut trails).unwrap();
        assert!(trails.asked.is_empty());
        assert_eq!(s3(&plan.verify).bucket, "logs");
        assert_eq!(plan.verify.filter.trails, vec!["management".to_string()]);
    }

    #[test]
    fn a_plain_copy_stands_for_the_bucket_of_its_name() {
        let (_parent, root) = copy_named("my-bucket");
        let plan = validate(&[text(&root), "--format", "json", "--no-progress"]).unwrap();
        let dir = directory(&plan.verify);
        assert_eq!(dir.bucket, "my-bucket");
        assert_eq!(dir.bucket_from, BucketOrigin::DirectoryName);
        assert_eq!(dir.prefix, None);
        assert_eq!(dir.signatures, None);
        assert!(matches!(plan.verify.keys, KeyPlan::Online { .. }));
        assert!(plan.verify.concurrency >= 4);
        assert_eq!(plan.report.format, Format::Json);
        assert!(!plan.progress_bar);

        let plan = validate(&[
            text(&root),
            "--s3-bucket",
            "other",
            "--public-keys",
            "k.json",
        ])
        .unwrap();
        let dir = directory(&plan.verify);
        assert_eq!(
            (dir.bucket.as_str(), dir.bucket_from),
            ("other", BucketOrigin::Option)
        );
        assert_eq!(plan.verify.keys, KeyPlan::Files(vec!["k.json".into()]));
    }

    #[test]
    fn a_bundle_brings_bucket_prefix_keys_and_signatures() {
        let (_parent, root) = bundle();
        let plan = validate(&[text(&root)]).unwrap();
        let dir = directory(&plan.verify);
        assert_eq!(dir.bucket, "trail-bucket");
        assert_eq!(dir.bucket_from, BucketOrigin::Bundle);
        assert_eq!(dir.prefix.as_deref(), Some("org"));
        let own = |file| bundle::bundle_path(&root, file);
        assert_eq!(dir.signatures, Some(own(bundle::METADATA_FILE)));
        assert_eq!(
            plan.verify.keys,
            KeyPlan::Bundled(own(bundle::PUBLIC_KEYS_FILE))
        );

        // The command line wins over the bundle.
        let plan = validate(&[
            text(&root),
            "--signatures",
            "sigs.json",
            "--public-keys",
            "k.json",
            "--s3-prefix",
            "other",
        ])
        .unwrap();
        let dir = directory(&plan.verify);
        assert_eq!(dir.signatures, Some(PathBuf::from("sigs.json")));
        assert_eq!(dir.prefix.as_deref(), Some("other"));
        assert_eq!(plan.verify.keys, KeyPlan::Files(vec!["k.json".into()]));
    }

    #[test]
    fn usage_errors() {
        let (_parent, root) = copy_named("my-bucket");
        let copy = text(&root);
        let cases: &[(&[&str], &str)] = &[
            (
                &[],
                "give a SOURCE (a directory or s3://BUCKET), --s3-bucket, or --trail-arn",
            ),
            (&["/nonexistent/copy"], "/nonexistent/copy is not a directory"),
            (
                &[copy, "--start-time", "nope"],
                "--start-time \"nope\" is not a time (use RFC 3339, e.g. 2024-03-01T10:00:00Z, or a date)",
            ),
            (
                &[copy, "--start-time", "2021-01-01", "--end-time", "2020-01-01"],
                "--start-time is after --end-time",
            ),
            (
                &[copy, "--trail-arn", "bad"],
                "--trail-arn \"bad\" is not a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)",
            ),
            (
                &[copy, "--account-id", "12"],
                "--account-id \"12\" is not a 12-digit account id",
            ),
            (&[copy, "--concurrency", "0"], "--concurrency must be at least 1"),
            (&["s3://"], "\"s3://\" is not s3://BUCKET[/PREFIX]"),
            (
                &["s3://b", "--signatures", "s.json"],
                "--signatures is for a directory SOURCE; S3 keeps each digest's signature",
            ),
            (
                &["--s3-bucket", "b", "--signatures", "s.json"],
                "--signatures is for a directory SOURCE; S3 keeps each digest's signature",
            ),
            (
                &[copy, "--s3-bucket", "a/b"],
                "bucket name \"a/b\" (from --s3-bucket) is not an S3 bucket name",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(usage_error(validate(line)), *expected, "{line:?}");
        }
        let refused = usage_error(validate(&[copy, "--s3-prefix", "../x"]));
        assert!(
            refused.starts_with(&format!("prefix \"../x\" cannot be read under {copy}: ")),
            "{refused}"
        );
    }

    #[test]
    fn a_bundle_naming_no_bucket_is_refused() {
        let (_parent, root) = bundle();
        fs::write(
            bundle::bundle_path(&root, bundle::BUNDLE_FILE),
            r#"{"bucket": ""}"#,
        )
        .unwrap();
        assert_eq!(
            usage_error(validate(&[text(&root)])),
            "bucket name \"\" (from .ctverify/bundle.json) is not an S3 bucket name"
        );
    }

    #[test]
    fn mirror_resolves_as_validate_and_keeps_dest_apart() {
        let (parent, root) = copy_named("my-bucket");
        let dest = parent.path().join("evidence");
        let plan = mirror(&[text(&root), text(&dest), "--trail", "t"]).unwrap();
        assert_eq!(plan.dest, dest);
        assert_eq!(directory(&plan.verify).bucket, "my-bucket");
        assert_eq!(plan.verify.filter.trails, vec!["t".to_string()]);

        let inside = root.join("evidence");
        assert_eq!(
            usage_error(mirror(&[text(&root), text(&inside)])),
            "DEST must not be inside SOURCE (nor SOURCE inside DEST)"
        );
        let around = usage_error(mirror(&[text(&root), text(parent.path())]));
        assert_eq!(
            around,
            "DEST must not be inside SOURCE (nor SOURCE inside DEST)"
        );
        // A bucket is never written to: no check.
        let plan = mirror(&["s3://logs", text(&inside)]).unwrap();
        assert_eq!(s3(&plan.verify).bucket, "logs");
    }

    #[test]
    fn query_sources_and_keys() {
        let plan = query(&["s3://exports/lake/q1/", "--region", "us-east-1"]).unwrap();
        assert_eq!(
            plan.source,
            QuerySource::S3 {
                bucket: "exports".into(),
                folder: "lake/q1/".into(),
                endpoint_url: None,
            }
        );
        assert!(matches!(plan.keys, KeyPlan::Online { .. }));
        assert_eq!(plan.region.as_deref(), Some("us-east-1"));

        let (_parent, root) = copy_named("export");
        assert_eq!(
            usage_error(query(&[text(&root)])),
            "no public keys: pass --public-keys FILE (from `aws cloudtrail list-public-keys`)"
        );
        let plan = query(&[text(&root), "--public-keys", "k.json", "-o", "out"]).unwrap();
        assert_eq!(plan.keys, KeyPlan::Files(vec!["k.json".into()]));
        assert_eq!(plan.report.output, Some(PathBuf::from("out")));

        let (_parent, root) = bundle();
        let plan = query(&[text(&root)]).unwrap();
        assert_eq!(
            plan.keys,
            KeyPlan::Bundled(bundle::bundle_path(&root, bundle::PUBLIC_KEYS_FILE))
        );
        assert_eq!(
            usage_error(query(&["/nonexistent/export"])),
            "/nonexistent/export is not a directory"
        );
    }

    #[test]
    fn keys_fetch_range_and_regions() {
        let plan = keys_fetch(&["--region", "us-east-1", "--region", "eu-west-1"]).unwrap();
        assert_eq!(plan.regions, vec!["us-east-1", "eu-west-1"]);
        assert_eq!(plan.start, UtcTime::from_unix(EARLIEST_KEYS));
        assert_eq!(
            usage_error(keys_fetch(&[
                "--region",
                "us-east-1",
                "--start-time",
                "2022-01-01",
                "--end-time",
                "2021-01-01"
            ])),
            "--start-time is after --end-time"
        );
        assert_eq!(
            usage_error(keys_fetch(&["--region", "us east 1"])),
            "--region \"us east 1\" is not a region name"
        );
    }

    #[test]
    fn clap_refuses_what_it_can_tell() {
        let argv = ["ctverify", "validate", "d", "--concurrency", "x"];
        let error = Cli::try_parse_from(argv).unwrap_err();
        assert!(error.use_stderr());
        let error = Cli::try_parse_from(["ctverify", "mirror", "only-source"]).unwrap_err();
        assert!(error.use_stderr());
    }

    #[test]
    fn s3_urls() {
        assert_eq!(parse_s3_url("s3://b"), Some(("b".into(), None)));
        assert_eq!(
            parse_s3_url("s3://b//p/q/"),
            Some(("b".into(), Some("p/q".into())))
        );
        assert_eq!(parse_s3_url("s3:///p"), None);
        assert_eq!(parse_s3_url("/local"), None);
    }
}
