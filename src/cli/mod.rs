//! The command line (cli.md): argument parsing, choosing the source, keys and signatures,
//! running the verifier and writing the report. Exit codes: 0 valid, 1 integrity failure,
//! 2 bad usage or configuration, 3 incomplete.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::keys::KeyRing;
use crate::report_format::Format;
use crate::time::UtcTime;
use crate::verify::ValidateError;

mod commands;
mod source;

pub use commands::{run_keys_fetch, run_mirror, run_validate, run_verify_query};
pub use source::{parse_s3_url, DEFAULT_S3_CONCURRENCY};

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
            ValidateError::Listing { .. }
            | ValidateError::ThreadPool(_)
            | ValidateError::Spill(_) => EXIT_INCOMPLETE,
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
