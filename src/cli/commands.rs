//! The subcommands: `validate`, `mirror`, `keys fetch`, `verify-query`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::{Aws, OnlineKeys};
use crate::bundle;
use crate::keys::{KeyRing, KeySource};
use crate::report::Summary;
use crate::report_format::{self, Format};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::verify::{self, Decided};

use super::source::{fixed_keys, prepare, resolve_unborn, Prepared, EARLIEST_KEYS};
use super::{
    parse_s3_url, parse_time, CliError, KeysFetchArgs, MirrorArgs, QueryArgs, ValidateArgs,
    EXIT_INCOMPLETE,
};

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
        exit_code: match e {
            crate::mirror::MirrorError::ForeignDestination(_) => super::EXIT_USAGE,
            _ => EXIT_INCOMPLETE,
        },
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
    let first_error = outcome
        .validation
        .chains
        .iter()
        .flat_map(|c| &c.files)
        .find(|f| f.status == crate::status::Status::Error);
    if stats.failed > 0 || first_error.is_some() {
        if let Some(file) = first_error {
            eprintln!(
                "ctverify: {}: {}",
                file.key,
                file.detail_text().as_deref().unwrap_or("could not be read")
            );
        }
        eprintln!("ctverify: the bundle is incomplete: run the same command again to finish it");
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}

pub fn run_verify_query(args: &QueryArgs) -> Result<i32, CliError> {
    let (store, folder, keys): (Box<dyn ObjectStore>, String, Box<dyn KeySource>) =
        if let Some((bucket, prefix)) = parse_s3_url(&args.source) {
            let aws = Aws::load(4)
                .map(Arc::new)
                .map_err(|e| CliError::usage(e.to_string()))?;
            let store = S3Store::open(aws.clone(), &bucket, args.endpoint_url.clone(), &[], &[])
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        CliError::usage(format!("bucket {bucket} does not exist"))
                    }
                    other => CliError {
                        message: format!("cannot read {}: {other}", args.source),
                        exit_code: EXIT_INCOMPLETE,
                    },
                })?;
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
            let keys = if !args.public_keys.is_empty() {
                fixed_keys(&args.public_keys)?
            } else if let Some(bundled) =
                bundle::existing_bundle_file(&root, bundle::PUBLIC_KEYS_FILE)
                    .map_err(|e| CliError::usage(e.to_string()))?
            {
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
    let validation = verify::validate(store.as_ref(), keys.as_ref(), &options, &mut |decided| {
        if args.format == Format::Jsonl && stream_error.is_none() {
            let written = match decided {
                Decided::File(file) => report_format::write_jsonl_file(&mut out, file),
                Decided::Chain(chain) => report_format::write_jsonl_chain(&mut out, chain),
            };
            if let Err(e) = written {
                stream_error = Some(e);
            }
        }
    })?;
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
