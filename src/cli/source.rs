//! Opening a source (a directory, a bucket, or the bucket a trail ARN names) with its keys
//! and signatures, and turning the command line into verification options.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::{Aws, OnlineKeys};
use crate::bundle::{self, BundleInfo};
use crate::keys::{FixedKeys, KeyRing, KeySource};
use crate::report::{BucketOrigin, RequestedRange, RunInfo};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::verify::{self, ChainFilter, ValidateOptions};

use super::{parse_time, read_key_file, CliError, TrailArn, ValidateArgs, EXIT_INCOMPLETE};

/// The real path `path` has or will have: each part that exists resolved as the system would
/// (symlinks followed), the rest appended, `..` in the rest taken lexically (a folder not
/// made yet is no symlink), so that neither a symlink nor `nope/..` can hide that DEST lies
/// inside SOURCE.
pub(super) fn resolve_unborn(path: &Path) -> Option<PathBuf> {
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

/// A source opened and the options decided: what `validate` and `mirror` share.
pub(super) struct Prepared {
    pub(super) store: Box<dyn ObjectStore>,
    pub(super) keys: Box<dyn KeySource>,
    pub(super) options: ValidateOptions,
    pub(super) run: RunInfo,
}

pub(super) fn prepare(args: &ValidateArgs) -> Result<Prepared, CliError> {
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
    let range = RequestedRange { start, end };

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
    for account in &filter.accounts {
        if !crate::digest::is_account_id(account) {
            return Err(CliError::usage(format!(
                "--account-id {account:?} is not a 12-digit account id"
            )));
        }
    }

    let opened = open_source(args, trail_arn.as_ref(), &filter, range)?;
    let (source, bucket, bucket_from, prefix) = (
        opened.source,
        opened.bucket,
        opened.bucket_from,
        opened.prefix,
    );
    let opened_is_s3 = opened.is_s3;
    let store = opened.store;
    let keys = opened.keys;

    let concurrency = match args.concurrency {
        Some(0) => return Err(CliError::usage("--concurrency must be at least 1")),
        Some(n) => n,
        None if opened_is_s3 => DEFAULT_S3_CONCURRENCY,
        None => std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .max(4),
    };
    let options = ValidateOptions {
        progress: Default::default(),
        range,
        prefix,
        filter,
        verbose: args.verbose,
        concurrency,
        folder_budget: crate::folder_gate::DEFAULT_BUDGET,
    };
    let run = RunInfo {
        tool: "ctverify",
        version: env!("CARGO_PKG_VERSION"),
        source,
        bucket,
        bucket_from,
        requested: range,
    };
    Ok(Prepared {
        store,
        keys,
        options,
        run,
    })
}

/// Requests in flight against S3 by default: S3 serves many parallel GETs per prefix, and
/// each request spends most of its time waiting on the network.
pub const DEFAULT_S3_CONCURRENCY: usize = 64;

/// The earliest time keys are asked for when no start time is given: before log file
/// integrity validation existed.
pub(super) const EARLIEST_KEYS: i64 = crate::digest::EARLIEST_DIGEST_TIME;

struct OpenedSource {
    source: String,
    bucket: String,
    bucket_from: BucketOrigin,
    prefix: Option<String>,
    is_s3: bool,
    store: Box<dyn ObjectStore>,
    keys: Box<dyn KeySource>,
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

fn load_aws(args: &ValidateArgs) -> Result<Arc<Aws>, CliError> {
    Aws::load(args.concurrency.unwrap_or(DEFAULT_S3_CONCURRENCY).min(8))
        .map(Arc::new)
        .map_err(|e| CliError::usage(e.to_string()))
}

pub(super) fn fixed_keys(paths: &[PathBuf]) -> Result<Box<dyn KeySource>, CliError> {
    let mut ring = KeyRing::new();
    for path in paths {
        ring.extend(read_key_file(path)?);
    }
    Ok(Box::new(FixedKeys(Arc::new(ring))))
}

fn open_source(
    args: &ValidateArgs,
    trail_arn: Option<&TrailArn>,
    filter: &ChainFilter,
    range: RequestedRange,
) -> Result<OpenedSource, CliError> {
    let s3_target = match (&args.source, &args.s3_bucket) {
        (Some(source), _) if source.starts_with("s3://") => {
            let (bucket, prefix) = parse_s3_url(source).ok_or_else(|| {
                CliError::usage(format!("{source:?} is not s3://BUCKET[/PREFIX]"))
            })?;
            Some((
                source.clone(),
                bucket,
                prefix.or_else(|| args.s3_prefix.clone()),
                BucketOrigin::Source,
            ))
        }
        (Some(_), _) => None,
        (None, Some(bucket)) => Some((
            format!("s3://{bucket}"),
            bucket.clone(),
            args.s3_prefix.clone(),
            BucketOrigin::Option,
        )),
        (None, None) => None,
    };

    if let Some((source, bucket, prefix, bucket_from)) = s3_target {
        if args.signatures.is_some() {
            return Err(CliError::usage(
                "--signatures is for a directory SOURCE; S3 keeps each digest's signature",
            ));
        }
        let aws = load_aws(args)?;
        return open_s3(
            args,
            aws,
            S3Target {
                source,
                bucket,
                prefix,
                bucket_from,
            },
            filter,
            range,
        );
    }

    let Some(source) = args.source.clone() else {
        // `--trail-arn` alone: CloudTrail says where the trail writes, as for the AWS CLI.
        let Some(arn) = trail_arn else {
            return Err(CliError::usage(
                "give a SOURCE (a directory or s3://BUCKET), --s3-bucket, or --trail-arn",
            ));
        };
        let aws = load_aws(args)?;
        let arn_text = args.trail_arn.clone().unwrap_or_default();
        let trail = aws
            .describe_trail(&arn.region, &arn_text)
            .map_err(|e| CliError {
                message: format!("cannot find the trail's bucket: {e}"),
                exit_code: EXIT_INCOMPLETE,
            })?;
        let prefix = args.s3_prefix.clone().or(Some(trail.prefix.clone()));
        return open_s3(
            args,
            aws,
            S3Target {
                source: format!("s3://{}", trail.bucket),
                bucket: trail.bucket,
                prefix,
                bucket_from: BucketOrigin::Source,
            },
            filter,
            range,
        );
    };

    let root = PathBuf::from(&source);
    if !root.is_dir() {
        return Err(CliError::usage(format!("{source} is not a directory")));
    }
    let bundle_info: Option<BundleInfo> =
        bundle::read_bundle_info(&root).map_err(|e| CliError::usage(e.to_string()))?;
    let (bucket, bucket_from) = if let Some(bucket) = &args.s3_bucket {
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
    let prefix = args.s3_prefix.clone().or_else(|| {
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
            )));
        }
    }

    let keys: Box<dyn KeySource> = if !args.public_keys.is_empty() {
        fixed_keys(&args.public_keys)?
    } else if let Some(bundled) = bundle::existing_bundle_file(&root, bundle::PUBLIC_KEYS_FILE)
        .map_err(|e| CliError::usage(e.to_string()))?
    {
        // The bundle is the source's: a FIFO in place of its key file must not hang the run.
        crate::store::dir::open_regular_file(&bundled)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", bundled.display())))?;
        fixed_keys(&[bundled])?
    } else {
        // No key file: ListPublicKeys per region, as for S3 (a run with no network then says
        // so for each region, and `--public-keys` or `ctverify keys fetch` makes it offline).
        let start = range.start.unwrap_or(UtcTime::from_unix(EARLIEST_KEYS));
        Box::new(OnlineKeys::new(load_aws(args)?, start, range.end))
    };

    let signatures_path = args
        .signatures
        .clone()
        .map(Ok)
        .or_else(|| bundle::existing_bundle_file(&root, bundle::METADATA_FILE).transpose())
        .transpose()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let metadata = match &signatures_path {
        Some(path) => bundle::SignatureIndex::open(path, &bucket).map_err(|e| {
            // A temporary file that fails is this machine's problem, not the command line's.
            let exit_code = match e {
                bundle::BundleError::Spill(_) => EXIT_INCOMPLETE,
                _ => super::EXIT_USAGE,
            };
            CliError {
                message: e.to_string(),
                exit_code,
            }
        })?,
        None => Default::default(),
    };
    let store = DirStore::open(&root, bucket.clone(), metadata)
        .map_err(|e| CliError::usage(format!("cannot open {source}: {e}")))?;
    Ok(OpenedSource {
        source,
        bucket,
        bucket_from,
        prefix,
        is_s3: false,
        store: Box::new(store),
        keys,
    })
}

/// An S3 source: as given, the bucket and prefix it names, and where the bucket came from.
struct S3Target {
    source: String,
    bucket: String,
    prefix: Option<String>,
    bucket_from: BucketOrigin,
}

fn open_s3(
    args: &ValidateArgs,
    aws: Arc<Aws>,
    target: S3Target,
    filter: &ChainFilter,
    range: RequestedRange,
) -> Result<OpenedSource, CliError> {
    let S3Target {
        source,
        bucket,
        prefix,
        bucket_from,
    } = target;
    let first_listings = verify::first_listings(prefix.as_deref(), filter, &range);
    let ahead = verify::listings_ahead(prefix.as_deref(), filter, &range);
    let store = S3Store::open(
        aws.clone(),
        &bucket,
        args.endpoint_url.clone(),
        &first_listings,
        &ahead,
    )
    .map_err(|e| match e {
        StoreError::NotFound => CliError::usage(format!("bucket {bucket} does not exist")),
        other => CliError {
            message: format!("cannot read {source}: {other}"),
            exit_code: EXIT_INCOMPLETE,
        },
    })?;
    let keys: Box<dyn KeySource> = if args.public_keys.is_empty() {
        let start = range.start.unwrap_or(UtcTime::from_unix(EARLIEST_KEYS));
        Box::new(OnlineKeys::new(aws, start, range.end))
    } else {
        fixed_keys(&args.public_keys)?
    };
    Ok(OpenedSource {
        source,
        bucket,
        bucket_from,
        prefix,
        is_s3: true,
        store: Box::new(store),
        keys,
    })
}
