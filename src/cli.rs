//! The command line (cli.md): argument parsing, choosing the source, keys and signatures,
//! running the verifier and writing the report. Exit codes: 0 valid, 1 integrity failure,
//! 2 bad usage or configuration, 3 incomplete.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::bundle::{self, BundleInfo};
use crate::keys::KeyRing;
use crate::report::{BucketOrigin, RequestedRange, RunInfo, Summary};
use crate::report_format::{self, Format};
use crate::store::dir::DirStore;
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
    Validate(ValidateArgs),
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ctverify: {}", e.message);
            e.exit_code
        }
    }
}

pub fn run_validate(args: &ValidateArgs) -> Result<i32, CliError> {
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
    if let Some(arn) = &args.trail_arn {
        let arn = TrailArn::parse(arn).ok_or_else(|| {
            CliError::usage(format!("--trail-arn {arn:?} is not a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)"))
        })?;
        filter.trails = vec![arn.name];
        filter.home_region = Some(arn.region);
        if filter.accounts.is_empty() {
            filter.accounts = vec![arn.account_id];
        }
    }
    for account in &filter.accounts {
        if !crate::digest::is_account_id(account) {
            return Err(CliError::usage(format!(
                "--account-id {account:?} is not a 12-digit account id"
            )));
        }
    }

    let source = match (&args.source, &args.s3_bucket) {
        (Some(source), _) => source.clone(),
        (None, Some(bucket)) => format!("s3://{bucket}"),
        (None, None) => {
            return Err(CliError::usage(
                "give a SOURCE (a directory or s3://BUCKET) or --s3-bucket",
            ));
        }
    };
    if source.starts_with("s3://") {
        return Err(CliError::usage(format!(
            "{source}: reading straight from S3 is not available in this build; copy the bucket with `aws s3 sync` and give the directory"
        )));
    }
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

    let mut keys = KeyRing::new();
    if args.public_keys.is_empty() {
        let bundled = bundle::bundle_path(&root, bundle::PUBLIC_KEYS_FILE);
        if !bundled.exists() {
            return Err(CliError::usage(format!(
                "no public keys: pass --public-keys FILE (from `aws cloudtrail list-public-keys`), or use a bundle with {}",
                bundled.display()
            )));
        }
        keys.extend(read_key_file(&bundled)?);
    } else {
        for path in &args.public_keys {
            keys.extend(read_key_file(path)?);
        }
    }

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

    let concurrency = args.concurrency.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .max(4)
    });
    if concurrency == 0 {
        return Err(CliError::usage("--concurrency must be at least 1"));
    }
    let options = ValidateOptions {
        range,
        prefix,
        filter,
        verbose: args.verbose,
        concurrency,
    };
    let run = RunInfo {
        tool: "ctverify",
        version: env!("CARGO_PKG_VERSION"),
        source: source.clone(),
        bucket,
        bucket_from,
        requested: range,
    };

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
    let validation = verify::validate(&store, &keys, &options, &mut |chain, files| {
        if args.format == Format::Jsonl && stream_error.is_none() {
            if let Err(e) = report_format::write_jsonl_chain(&mut out, chain, files, args.verbose) {
                stream_error = Some(e);
            }
        }
    })?;
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
