//! The command line (cli.md): argument parsing, choosing the source, keys and signatures,
//! running the verifier and writing the report. Exit codes: 0 valid, 1 integrity failure,
//! 2 bad usage or configuration, 3 incomplete.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use crate::aws::{Aws, OnlineKeys};
use crate::bundle::{self, BundleInfo};
use crate::keys::{FixedKeys, KeyRing, KeySource};
use crate::report::{BucketOrigin, RequestedRange, RunInfo, Summary};
use crate::report_format::{self, Format};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::verify::{self, ChainFilter, ValidateError, ValidateOptions};

pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INCOMPLETE: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "ctverify",
    version,
    about = "Prove whether AWS CloudTrail logs are intact"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify every digest chain in SOURCE and every log file the digests reference.
    Validate(Box<ValidateArgs>),
    /// CloudTrail public keys, kept for offline runs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Copy digests (with their S3 metadata), the logs they list and the public keys into an
    /// evidence bundle that `ctverify validate DEST` verifies offline. Resumable.
    Mirror(Box<MirrorArgs>),
    /// Verify a CloudTrail Lake query export: `result_sign.json` and the result files.
    VerifyQuery(QueryArgs),
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// s3://BUCKET/PREFIX/QUERY-ID/ or a directory holding the export.
    pub source: String,
    /// The region the query ran in (when the sign file does not say).
    #[arg(long)]
    pub region: Option<String>,
    /// Public keys as printed by `aws cloudtrail list-public-keys` (repeatable).
    #[arg(long)]
    pub public_keys: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// List valid files too.
    #[arg(long)]
    pub verbose: bool,
    /// S3 endpoint (S3-compatible stores, tests).
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// s3://BUCKET[/PREFIX], or a directory holding a copy of the bucket.
    pub source: String,
    /// The bundle directory to create or complete.
    pub dest: PathBuf,
    /// Start of the range of digests to copy (RFC 3339 or a date, UTC).
    #[arg(long)]
    pub start_time: Option<String>,
    /// End of the range (default: now).
    #[arg(long)]
    pub end_time: Option<String>,
    /// Only this trail (name, home region and account from the ARN).
    #[arg(long)]
    pub trail_arn: Option<String>,
    /// Only chains of this trail name (repeatable).
    #[arg(long)]
    pub trail: Vec<String>,
    /// Only this account (repeatable).
    #[arg(long = "account-id")]
    pub account_id: Vec<String>,
    /// Only this region (repeatable).
    #[arg(long)]
    pub region: Vec<String>,
    /// The bucket a directory source stands for.
    #[arg(long)]
    pub s3_bucket: Option<String>,
    /// The trail's S3 key prefix.
    #[arg(long)]
    pub s3_prefix: Option<String>,
    /// Public keys (repeatable); default: ListPublicKeys, or the source bundle's keys.
    #[arg(long)]
    pub public_keys: Vec<PathBuf>,
    /// Digest metadata for a directory source.
    #[arg(long)]
    pub signatures: Option<PathBuf>,
    /// S3 endpoint (S3-compatible stores, tests).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Requests or files in flight.
    #[arg(long)]
    pub concurrency: Option<usize>,
}

impl MirrorArgs {
    /// The same source, range and filters as `validate` takes them.
    fn as_validate(&self) -> ValidateArgs {
        ValidateArgs {
            source: Some(self.source.clone()),
            trail_arn: self.trail_arn.clone(),
            trail: self.trail.clone(),
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            start_time: self.start_time.clone(),
            end_time: self.end_time.clone(),
            s3_bucket: self.s3_bucket.clone(),
            s3_prefix: self.s3_prefix.clone(),
            public_keys: self.public_keys.clone(),
            signatures: self.signatures.clone(),
            format: Format::Text,
            output: None,
            verbose: false,
            endpoint_url: self.endpoint_url.clone(),
            concurrency: self.concurrency,
            no_progress: true,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Call ListPublicKeys in each region and write the keys (tagged with their region) in the
    /// JSON shape `--public-keys` reads.
    Fetch(KeysFetchArgs),
}

#[derive(Args, Debug)]
pub struct KeysFetchArgs {
    /// Region to fetch keys for (repeatable).
    #[arg(long, required = true)]
    pub region: Vec<String>,
    /// Start of the validity range (default: 2015-01-01).
    #[arg(long)]
    pub start_time: Option<String>,
    /// End of the validity range (default: now).
    #[arg(long)]
    pub end_time: Option<String>,
    /// Write the keys to FILE instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// A directory holding a copy of the bucket (`DIR/[PREFIX/]AWSLogs/...`), or s3://BUCKET[/PREFIX].
    pub source: Option<String>,
    /// Only this trail (name, home region and account from the ARN).
    #[arg(long)]
    pub trail_arn: Option<String>,
    /// Only chains of this trail name (repeatable).
    #[arg(long)]
    pub trail: Vec<String>,
    /// Only this account (repeatable).
    #[arg(long = "account-id")]
    pub account_id: Vec<String>,
    /// Only this region (repeatable).
    #[arg(long)]
    pub region: Vec<String>,
    /// Start of the range of digests to check (RFC 3339 or a date, UTC).
    #[arg(long)]
    pub start_time: Option<String>,
    /// End of the range (default: now).
    #[arg(long)]
    pub end_time: Option<String>,
    /// The bucket the source stands for (for a directory), or the bucket to read.
    #[arg(long)]
    pub s3_bucket: Option<String>,
    /// The trail's S3 key prefix.
    #[arg(long)]
    pub s3_prefix: Option<String>,
    /// Public keys as printed by `aws cloudtrail list-public-keys` (repeatable).
    #[arg(long)]
    pub public_keys: Vec<PathBuf>,
    /// Digest metadata for a directory source: {"BUCKET/KEY": {"signature": HEX, ...}}.
    #[arg(long)]
    pub signatures: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// List valid files too.
    #[arg(long)]
    pub verbose: bool,
    /// S3 endpoint (S3-compatible stores, tests).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Requests or files in flight.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// A failure before anything was verified: one line, exit 2 (or 3 when reading failed).
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit_code: i32,
}

impl CliError {
    fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: EXIT_USAGE,
        }
    }
}

impl From<ValidateError> for CliError {
    fn from(e: ValidateError) -> CliError {
        let exit_code = match e {
            ValidateError::NoTrail { .. } => EXIT_USAGE,
            ValidateError::Listing { .. } | ValidateError::ThreadPool(_) => EXIT_INCOMPLETE,
        };
        CliError {
            message: e.to_string(),
            exit_code,
        }
    }
}

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

fn parse_time(option: &str, text: &str) -> Result<UtcTime, CliError> {
    UtcTime::parse_user(text).map_err(|_| {
        CliError::usage(format!(
            "{option} {text:?} is not a time (use RFC 3339, e.g. 2024-03-01T10:00:00Z, or a date)"
        ))
    })
}

fn read_key_file(path: &Path) -> Result<KeyRing, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    KeyRing::parse_json(&bytes, None)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Validate(args) => run_validate(&args),
        Command::Keys(KeysCommand::Fetch(args)) => run_keys_fetch(&args),
        Command::Mirror(args) => run_mirror(&args),
        Command::VerifyQuery(args) => run_verify_query(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ctverify: {}", e.message);
            e.exit_code
        }
    }
}

pub fn run_keys_fetch(args: &KeysFetchArgs) -> Result<i32, CliError> {
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
    for region in &args.region {
        if !crate::digest::is_region(region) {
            return Err(CliError::usage(format!(
                "--region {region:?} is not a region name"
            )));
        }
    }
    let aws = Aws::load(2).map_err(|e| CliError::usage(e.to_string()))?;
    let mut ring = KeyRing::new();
    for region in &args.region {
        let keys = aws
            .list_public_keys(region, start, end)
            .map_err(|e| CliError {
                message: e.to_string(),
                exit_code: EXIT_INCOMPLETE,
            })?;
        ring.extend(keys);
    }
    let mut text = serde_json::to_string_pretty(&ring.to_json()).unwrap_or_default();
    text.push('\n');
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?,
        None => io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| CliError {
                message: e.to_string(),
                exit_code: EXIT_INCOMPLETE,
            })?,
    }
    eprintln!(
        "ctverify: {} keys from {} region(s)",
        ring.keys().len(),
        args.region.len()
    );
    Ok(0)
}

pub fn run_mirror(args: &MirrorArgs) -> Result<i32, CliError> {
    let validate_args = args.as_validate();
    let prepared = prepare(&validate_args)?;
    if !args.source.starts_with("s3://") {
        // Never write into the source.
        let source = std::fs::canonicalize(&args.source).ok();
        let dest = resolve_unborn(&args.dest);
        if let (Some(source), Some(dest)) = (source, dest) {
            if dest.starts_with(&source) || source.starts_with(&dest) {
                return Err(CliError::usage(
                    "DEST must not be inside SOURCE (nor SOURCE inside DEST)",
                ));
            }
        }
    }
    let outcome = crate::mirror::mirror(
        prepared.store.as_ref(),
        prepared.keys.as_ref(),
        &prepared.options,
        &args.dest,
        &prepared.run.source,
    )
    .map_err(|e| CliError {
        message: e.to_string(),
        exit_code: EXIT_INCOMPLETE,
    })?;
    let reports: Vec<_> = outcome
        .validation
        .chains
        .iter()
        .map(|c| c.report.clone())
        .collect();
    let summary = Summary::of(&reports);
    let stats = outcome.stats;
    println!(
        "Mirrored {} into {}: {} objects fetched ({} bytes), {} already there, {} could not be read",
        prepared.run.source,
        args.dest.display(),
        stats.fetched,
        stats.fetched_bytes,
        stats.reused,
        stats.failed
    );
    println!(
        "Verification while copying: {} digests and {} logs checked; result {}",
        summary.digests.total(),
        summary.logs.total(),
        serde_json::to_value(summary.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    let incomplete = stats.failed > 0
        || outcome.validation.chains.iter().any(|c| {
            c.files
                .iter()
                .any(|f| f.status == crate::status::Status::Error)
        });
    if incomplete {
        eprintln!("ctverify: the bundle is incomplete: run the same command again to finish it");
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}

/// The real path `path` has or will have: its nearest existing ancestor canonicalized, with
/// the rest appended (so that symlinks cannot hide that DEST lies inside SOURCE).
fn resolve_unborn(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
    let mut real = std::fs::canonicalize(existing).ok()?;
    for part in rest.into_iter().rev() {
        real.push(part);
    }
    Some(real)
}

pub fn run_verify_query(args: &QueryArgs) -> Result<i32, CliError> {
    let (store, folder, keys): (Box<dyn ObjectStore>, String, Box<dyn KeySource>) =
        if let Some((bucket, prefix)) = parse_s3_url(&args.source) {
            let aws = Aws::load(4)
                .map(Arc::new)
                .map_err(|e| CliError::usage(e.to_string()))?;
            let store = S3Store::open(aws.clone(), &bucket, args.endpoint_url.clone()).map_err(
                |e| match e {
                    StoreError::NotFound => {
                        CliError::usage(format!("bucket {bucket} does not exist"))
                    }
                    other => CliError {
                        message: format!("cannot read {}: {other}", args.source),
                        exit_code: EXIT_INCOMPLETE,
                    },
                },
            )?;
            let keys: Box<dyn KeySource> = if args.public_keys.is_empty() {
                let now = UtcTime::now();
                Box::new(OnlineKeys::new(aws, now, now))
            } else {
                fixed_keys(&args.public_keys)?
            };
            let folder = prefix.map(|p| format!("{p}/")).unwrap_or_default();
            (Box::new(store), folder, keys)
        } else {
            let root = PathBuf::from(&args.source);
            if !root.is_dir() {
                return Err(CliError::usage(format!(
                    "{} is not a directory",
                    args.source
                )));
            }
            let bundled = bundle::bundle_path(&root, bundle::PUBLIC_KEYS_FILE);
            let keys = if !args.public_keys.is_empty() {
                fixed_keys(&args.public_keys)?
            } else if bundled.exists() {
                fixed_keys(&[bundled])?
            } else {
                return Err(CliError::usage(
                "no public keys: pass --public-keys FILE (from `aws cloudtrail list-public-keys`)",
            ));
            };
            let store = DirStore::open(&root, "local".into(), Default::default())
                .map_err(|e| CliError::usage(format!("cannot open {}: {e}", args.source)))?;
            (Box::new(store), String::new(), keys)
        };
    let verdict = crate::lake::verify_query(
        store.as_ref(),
        &folder,
        keys.as_ref(),
        args.region.as_deref(),
    );
    if verdict.sign_file.status == crate::status::Status::NotFound {
        return Err(CliError::usage(format!(
            "no {} in {}",
            crate::lake::SIGN_FILE,
            args.source
        )));
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|e| {
            CliError::usage(format!("cannot write {}: {e}", path.display()))
        })?)),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let code =
        report_format::write_query(&mut out, &args.source, &verdict, args.format, args.verbose)
            .and_then(|code| out.flush().map(|_| code))
            .map_err(|e| CliError {
                message: format!("writing the report failed: {e}"),
                exit_code: EXIT_INCOMPLETE,
            })?;
    Ok(code)
}

/// A source opened and the options decided: what `validate` and `mirror` share.
struct Prepared {
    store: Box<dyn ObjectStore>,
    keys: Box<dyn KeySource>,
    options: ValidateOptions,
    run: RunInfo,
}

fn prepare(args: &ValidateArgs) -> Result<Prepared, CliError> {
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

    let opened = open_source(args, trail_arn.as_ref(), range)?;
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

pub fn run_validate(args: &ValidateArgs) -> Result<i32, CliError> {
    let Prepared {
        store,
        keys,
        options,
        run,
    } = prepare(args)?;
    // Drawn on stderr only when it is a terminal; cleared before the report is written.
    let bar = crate::progress::ProgressBar::start(options.progress.clone(), !args.no_progress);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|e| {
            CliError::usage(format!("cannot write {}: {e}", path.display()))
        })?)),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let write_failed = |e: io::Error| CliError {
        message: format!("writing the report failed: {e}"),
        exit_code: EXIT_INCOMPLETE,
    };

    let mut stream_error: Option<io::Error> = None;
    let validation = verify::validate(
        store.as_ref(),
        keys.as_ref(),
        &options,
        &mut |chain, files| {
            if args.format == Format::Jsonl && stream_error.is_none() {
                if let Err(e) =
                    report_format::write_jsonl_chain(&mut out, chain, files, args.verbose)
                {
                    stream_error = Some(e);
                }
            }
        },
    )?;
    drop(bar);
    if let Some(e) = stream_error {
        return Err(write_failed(e));
    }
    match args.format {
        Format::Text => report_format::write_text(&mut out, &run, &validation.chains, args.verbose),
        Format::Json => report_format::write_json(&mut out, &run, &validation.chains),
        Format::Jsonl => report_format::write_jsonl_summary(&mut out, &run, &validation.chains),
    }
    .and_then(|_| out.flush())
    .map_err(write_failed)?;

    let reports: Vec<_> = validation.chains.iter().map(|c| c.report.clone()).collect();
    Ok(Summary::of(&reports).exit_code())
}

/// Requests in flight against S3 by default: S3 serves many parallel GETs per prefix, and
/// each request spends most of its time waiting on the network.
pub const DEFAULT_S3_CONCURRENCY: usize = 64;

/// The earliest time keys are asked for when no start time is given: before log file
/// integrity validation existed.
const EARLIEST_KEYS: i64 = 1_420_070_400; // 2015-01-01T00:00:00Z

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

fn fixed_keys(paths: &[PathBuf]) -> Result<Box<dyn KeySource>, CliError> {
    let mut ring = KeyRing::new();
    for path in paths {
        ring.extend(read_key_file(path)?);
    }
    Ok(Box::new(FixedKeys(Arc::new(ring))))
}

fn open_source(
    args: &ValidateArgs,
    trail_arn: Option<&TrailArn>,
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
        return open_s3(args, aws, source, bucket, prefix, bucket_from, range);
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
        let source = format!("s3://{}", trail.bucket);
        return open_s3(
            args,
            aws,
            source,
            trail.bucket,
            prefix,
            BucketOrigin::Source,
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
    let prefix = args.s3_prefix.clone().or_else(|| {
        bundle_info
            .as_ref()
            .map(|b| b.prefix.clone())
            .filter(|p| !p.is_empty())
    });

    let keys = if args.public_keys.is_empty() {
        let bundled = bundle::bundle_path(&root, bundle::PUBLIC_KEYS_FILE);
        if !bundled.exists() {
            return Err(CliError::usage(format!(
                "no public keys: pass --public-keys FILE (from `aws cloudtrail list-public-keys`), or use a bundle with {}",
                bundled.display()
            )));
        }
        fixed_keys(&[bundled])?
    } else {
        fixed_keys(&args.public_keys)?
    };

    let signatures_path = args
        .signatures
        .clone()
        .or_else(|| Some(bundle::bundle_path(&root, bundle::METADATA_FILE)).filter(|p| p.exists()));
    let metadata = match &signatures_path {
        Some(path) => {
            bundle::read_signatures(path, &bucket).map_err(|e| CliError::usage(e.to_string()))?
        }
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

fn open_s3(
    args: &ValidateArgs,
    aws: Arc<Aws>,
    source: String,
    bucket: String,
    prefix: Option<String>,
    bucket_from: BucketOrigin,
    range: RequestedRange,
) -> Result<OpenedSource, CliError> {
    let store =
        S3Store::open(aws.clone(), &bucket, args.endpoint_url.clone()).map_err(|e| match e {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
