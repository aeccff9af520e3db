//! The command line (cli.md). Each subcommand goes the same way down and never back up:
//! - `args`: the flags as clap parses them, the ones subcommands share written once;
//! - `plan`: the command line resolved once into a plan (source, keys, signatures, chains,
//!   range, report), with every usage error that needs no file or network found there (a
//!   key or signatures file that cannot be read is found when `source` opens it);
//! - `source`: opening what a plan names (the store, the keys, a copy's signatures);
//! - `commands`: running each subcommand on its plan and writing what it found;
//! - `error`: the one-line error a command stops with, its exit status and its cause.
//!
//! Exit codes: 0 valid, 1 integrity failure, 2 bad usage or configuration, 3 incomplete.

use clap::{Parser, Subcommand};

mod args;
mod checkpoint_io;
mod commands;
mod error;
mod plan;
mod source;

use args::{KeysCommand, MergeArgs, MirrorArgs, QueryArgs, ValidateArgs};
use commands::{run_keys_fetch, run_merge, run_mirror, run_validate, run_verify_query};
use error::EXIT_USAGE;

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
    /// Merge the JSON or JSONL reports of `validate --shard` into the report, and the exit
    /// status, of one unsharded run. A shard missing or given twice is named, and the result
    /// is then never complete.
    Merge(MergeArgs),
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
        Command::Merge(args) => run_merge(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ctverify: {e}");
            e.exit_code()
        }
    }
}
