//! The command line as clap parses it: one struct per subcommand, and the flags several
//! subcommands share written once, as groups each subcommand flattens in.
//!
//! A group's flags appear in `--help` where the group is flattened, in the group's order, so
//! the groups follow the order the help has always shown (`mirror` lists the range before the
//! chains, `validate` after them). Where `mirror` words a shared flag for copying, its struct
//! says so with `mut_arg`; everything else reads the same in every subcommand.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::report_format::Format;

/// Which chains to verify: `--trail-arn`, `--trail`, `--account-id`, `--region`.
#[derive(Args, Debug, Clone, Default)]
pub struct ChainArgs {
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
}

/// The range of digests: `--start-time`, `--end-time`.
#[derive(Args, Debug, Clone, Default)]
pub struct RangeArgs {
    /// Start of the range of digests to check (RFC 3339 or a date, UTC).
    #[arg(long)]
    pub start_time: Option<String>,
    /// End of the range (default: now).
    #[arg(long)]
    pub end_time: Option<String>,
}

/// What the source is a copy of and what proves it: `--s3-bucket`, `--s3-prefix`,
/// `--public-keys`, `--signatures`.
#[derive(Args, Debug, Clone, Default)]
pub struct LocationArgs {
    /// The bucket the source stands for (for a directory), or the bucket to read.
    #[arg(long)]
    pub s3_bucket: Option<String>,
    /// The trail's S3 key prefix.
    #[arg(long)]
    pub s3_prefix: Option<String>,
    #[command(flatten)]
    pub keys: PublicKeysArgs,
    /// Digest metadata for a directory source: {"BUCKET/KEY": {"signature": HEX, ...}}.
    #[arg(long)]
    pub signatures: Option<PathBuf>,
}

/// `--public-keys`, read by every subcommand that checks signatures.
#[derive(Args, Debug, Clone, Default)]
pub struct PublicKeysArgs {
    /// Public keys as printed by `aws cloudtrail list-public-keys` (repeatable).
    #[arg(long)]
    pub public_keys: Vec<PathBuf>,
}

/// How the source is reached: `--endpoint-url`, `--concurrency`.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Requests or files in flight [default: 128 for S3, twice the cores for a directory].
    #[arg(long)]
    pub concurrency: Option<usize>,
}

/// `--endpoint-url`, for every subcommand that may read S3.
#[derive(Args, Debug, Clone, Default)]
pub struct EndpointArgs {
    /// S3 endpoint (S3-compatible stores, tests).
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// The report: `--format`, `--output`, `--verbose`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// List valid files too.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// A directory holding a copy of the bucket (`DIR/[PREFIX/]AWSLogs/...`), or s3://BUCKET[/PREFIX].
    pub source: Option<String>,
    #[command(flatten)]
    pub chains: ChainArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub location: LocationArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Any gap or tail (hours with no digest) in the range is an integrity failure.
    #[arg(long)]
    pub require_continuous: bool,
    /// Write OpenMetrics text (for a Prometheus textfile collector or pushgateway) to FILE once
    /// the run is complete, atomically.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Resume from the checkpoint at FILE or s3://BUCKET/KEY (never inside the source), and
    /// write it back once the run is complete: each chain starts at its newest valid digest, and
    /// the history behind it is listed again to find what changed. Created by the first run.
    #[arg(long, value_name = "FILE|s3://BUCKET/KEY")]
    pub checkpoint: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Verify only shard I of N (0-based) of the account-and-region folders; `ctverify merge`
    /// joins the shards' JSON or JSONL reports into the run's. Needs --end-time.
    #[arg(long, value_name = "I/N", conflicts_with = "shard_count")]
    pub shard: Option<String>,
    /// Split the run into N shards, this one's index taken from AWS_BATCH_JOB_ARRAY_INDEX or
    /// JOB_COMPLETION_INDEX (array jobs). A `{shard}` in --output becomes the index.
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u64>,
    /// Exit 0, not 1, when the report is written and names integrity failures (shards of an
    /// array job, whose merge gives the verdict). Exit 3 stays 3, so that an engine retries it.
    #[arg(long)]
    pub exit_zero_on_findings: bool,
}

/// `ctverify merge`: shard reports in, one run's report out.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard reports (`validate --shard ... --format json|jsonl`): files, `-` for stdin, or
    /// directories (every *.json and *.jsonl file directly in them).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(
    mut_arg("start_time", |arg| arg.help("Start of the range of digests to copy (RFC 3339 or a date, UTC)")),
    mut_arg("s3_bucket", |arg| arg.help("The bucket a directory source stands for")),
    mut_arg("public_keys", |arg| arg.help("Public keys (repeatable); default: ListPublicKeys, or the source bundle's keys")),
    mut_arg("signatures", |arg| arg.help("Digest metadata for a directory source")),
)]
pub struct MirrorArgs {
    /// s3://BUCKET[/PREFIX], or a directory holding a copy of the bucket.
    pub source: String,
    /// The bundle directory to create or complete.
    pub dest: PathBuf,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub chains: ChainArgs,
    #[command(flatten)]
    pub location: LocationArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// s3://BUCKET/PREFIX/QUERY-ID/ or a directory holding the export.
    pub source: String,
    /// The region the query ran in (when the sign file does not say).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub keys: PublicKeysArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
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

/// The flags `validate` and `mirror` resolve the same way, borrowed from either.
#[derive(Debug, Clone, Copy)]
pub struct SourceFlags<'a> {
    pub source: Option<&'a str>,
    pub chains: &'a ChainArgs,
    pub range: &'a RangeArgs,
    pub location: &'a LocationArgs,
    pub connection: &'a ConnectionArgs,
}

impl ValidateArgs {
    pub fn source_flags(&self) -> SourceFlags<'_> {
        SourceFlags {
            source: self.source.as_deref(),
            chains: &self.chains,
            range: &self.range,
            location: &self.location,
            connection: &self.connection,
        }
    }
}

impl MirrorArgs {
    pub fn source_flags(&self) -> SourceFlags<'_> {
        SourceFlags {
            source: Some(&self.source),
            chains: &self.chains,
            range: &self.range,
            location: &self.location,
            connection: &self.connection,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::cli::Cli;

    fn help(subcommand: &str) -> String {
        let mut cli = Cli::command();
        cli.find_subcommand_mut(subcommand)
            .expect("subcommand")
            .render_help()
            .to_string()
    }

    #[test]
    fn shared_flags_keep_each_subcommands_wording_and_order() {
        let validate = help("validate");
        let mirror = help("mirror");
        assert!(validate.contains("Start of the range of digests to check"));
        assert!(mirror.contains("Start of the range of digests to copy"));
        assert!(mirror.contains("The bucket a directory source stands for"));
        assert!(!mirror.contains("or the bucket to read"));
        let at = |text: &str, flag: &str| text.find(flag).expect(flag);
        assert!(at(&mirror, "--start-time") < at(&mirror, "--trail-arn"));
        assert!(at(&validate, "--trail-arn") < at(&validate, "--start-time"));
        assert!(at(&validate, "--verbose") < at(&validate, "--endpoint-url"));
    }
}
