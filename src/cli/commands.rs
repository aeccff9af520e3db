//! The subcommands: `validate`, `mirror`, `keys fetch`, `verify-query`. Each resolves its
//! command line into a plan (`plan.rs`), opens what the plan names (`source.rs`), runs, and
//! writes what it found.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use crate::checkpoint::{Checkpoint, Resume};
use crate::continuity::TrailStatus;
use crate::keys::KeyRing;
use crate::report::{ChangedDay, CheckpointRun, FolderNotMoved, Summary};
use crate::report_format::{self, Format};
use crate::status::Status;
use crate::time::UtcTime;
use crate::verify::{self, Decided, ValidateOptions};

use super::args::{KeysFetchArgs, MergeArgs, MirrorArgs, QueryArgs, ValidateArgs};
use super::checkpoint_io::CheckpointPlace;
use super::error::{CliError, Failure};
use super::plan;
use super::source::{self, AwsSession, Opened};
use crate::shard::ShardRun;

pub fn run_keys_fetch(args: &KeysFetchArgs) -> Result<i32, CliError> {
    let plan = plan::resolve_keys_fetch(args)?;
    let aws = AwsSession::with_threads(2).aws()?;
    let mut ring = KeyRing::new();
    for region in &plan.regions {
        let keys = aws
            .list_public_keys(region, plan.start, plan.end)
            .map_err(|e| CliError::from_cause(Failure::Incomplete, e))?;
        ring.extend(keys);
    }
    let mut text = serde_json::to_string_pretty(&ring.to_json()).unwrap_or_default();
    text.push('\n');
    match &plan.output {
        Some(path) => std::fs::write(path, text).map_err(|e| cannot_write(path, e))?,
        None => io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| CliError::from_cause(Failure::Incomplete, e))?,
    }
    eprintln!(
        "ctverify: {} keys from {} region(s)",
        ring.keys().len(),
        plan.regions.len()
    );
    Ok(0)
}

pub fn run_mirror(args: &MirrorArgs) -> Result<i32, CliError> {
    let mut aws = AwsSession::for_concurrency(args.connection.concurrency);
    let plan = plan::resolve_mirror(args, &mut aws)?;
    let Opened { store, keys } = source::open(&plan.verify, &mut aws)?;
    let source = plan.verify.source.shown();
    let outcome = crate::mirror::mirror(
        store.as_ref(),
        keys.as_ref(),
        &plan.verify.validate_options(false),
        &plan.dest,
        source,
    )
    .map_err(|e| {
        let failure = match e {
            crate::mirror::MirrorError::ForeignDestination(_) => Failure::Usage,
            _ => Failure::Incomplete,
        };
        CliError::from_cause(failure, e)
    })?;
    let reports: Vec<_> = outcome
        .validation
        .chains
        .iter()
        .map(|c| c.report.clone())
        .collect();
    let summary =
        Summary::of(&reports).with_errors(outcome.validation.chains.iter().flat_map(|c| &c.files));
    let stats = outcome.stats;
    println!(
        "Mirrored {} into {}: {} objects fetched ({} bytes), {} already there, {} could not be read",
        source,
        plan.dest.display(),
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
        .find(|f| matches!(f.status, Status::Error | Status::Archived));
    if stats.failed > 0 || first_error.is_some() {
        if let Some(file) = first_error {
            eprintln!(
                "ctverify: {}: {}",
                file.key,
                file.detail_text().as_deref().unwrap_or("could not be read")
            );
        }
        // What stderr cannot take is lost either way; the exit status still says it.
        let _ = report_format::write_error_groups(&mut io::stderr(), &summary.errors);
        eprintln!("ctverify: the bundle is incomplete: run the same command again to finish it");
        return Ok(Failure::Incomplete.exit_code());
    }
    Ok(0)
}

pub fn run_verify_query(args: &QueryArgs) -> Result<i32, CliError> {
    let plan = plan::resolve_query(args)?;
    let mut aws = AwsSession::with_threads(4);
    let keys = source::open_keys(&plan.keys, &mut aws)?;
    let store = source::open_query_store(&plan.source, &plan.shown, &mut aws)?;
    let folder = match &plan.source {
        plan::QuerySource::S3 { folder, .. } => folder.as_str(),
        plan::QuerySource::Directory { .. } => "",
    };
    let verdict = crate::lake::verify_query(
        store.as_ref(),
        folder,
        keys.as_ref(),
        plan.region.as_deref(),
    );
    if verdict.sign_file.status == crate::status::Status::NotFound {
        return Err(CliError::usage(format!(
            "no {} in {}",
            crate::lake::SIGN_FILE,
            plan.shown
        )));
    }
    let mut out = report_output(plan.report.output.as_deref())?;
    let code = report_format::write_query(
        &mut out,
        &plan.shown,
        &verdict,
        plan.report.format,
        plan.report.verbose,
    )
    .and_then(|code| out.flush().map(|_| code))
    .map_err(writing_failed)?;
    Ok(code)
}

/// GetTrailStatus for the trail `--trail-arn` names, when the source is S3 (a copy is checked
/// offline). Only evidence: when it cannot be had, the run goes on without it and says so.
fn trail_status(plan: &plan::VerifyPlan, aws: &mut AwsSession) -> Option<TrailStatus> {
    let arn = plan.trail_arn.as_ref()?;
    if !matches!(plan.source, plan::SourcePlan::S3(_)) {
        return None;
    }
    let asked = aws.aws().map_err(|e| e.to_string()).and_then(|aws| {
        aws.trail_status(&arn.region, &arn.account_id, &arn.arn, &arn.name)
            .map_err(|e| e.to_string())
    });
    match asked {
        Ok(status) => Some(status),
        Err(e) => {
            eprintln!("ctverify: {e}: the trail's status was not used to judge where chains end");
            None
        }
    }
}

pub fn run_validate(args: &ValidateArgs) -> Result<i32, CliError> {
    let started = std::time::Instant::now();
    let mut aws = AwsSession::for_concurrency(args.connection.concurrency);
    let plan = plan::resolve_validate(args, &mut aws)?;
    let Opened { store, keys } = source::open(&plan.verify, &mut aws)?;
    let report = &plan.report;
    let checkpoint_source = plan.verify.checkpoint_source();
    let (place, previous) = match &plan.checkpoint {
        Some(location) => {
            let (place, previous) = CheckpointPlace::read(location, &checkpoint_source, &mut aws)?;
            (Some(place), previous)
        }
        None => (None, None),
    };
    if let Some(newest) = previous
        .iter()
        .flat_map(|p| &p.folders)
        .flat_map(|f| &f.chains)
        .map(|a| a.digest.end_time)
        .max()
        .filter(|newest| *newest > plan.verify.range.end)
    {
        return Err(CliError::usage(format!(
            "--end-time {} is before the checkpoint's newest digest ({newest}): a checkpointed run verifies forward from it",
            plan.verify.range.end
        )));
    }
    let options = ValidateOptions {
        require_continuous: plan.require_continuous,
        trail_status: trail_status(&plan.verify, &mut aws),
        checkpoint: place
            .as_ref()
            .map(|_| Arc::new(Resume::new(previous.clone()))),
        shard: plan.shard,
        ..plan.verify.validate_options(report.verbose)
    };
    let mut run = plan.verify.run_info();
    // Drawn on stderr only when it is a terminal; cleared before the report is written.
    let bar = crate::progress::ProgressBar::start(options.progress.clone(), plan.progress_bar);
    // A shard's report is whole or not there: the merge of a directory must not read a report
    // a killed shard left half written. It goes into a directory per run, which the first
    // shard to finish makes.
    let (mut out, pending) = match (&report.output, plan.shard) {
        (Some(path), Some(_)) => {
            let (out, pending) = PendingReport::create(path)?;
            (out, Some(pending))
        }
        _ => (report_output(report.output.as_deref())?, None),
    };

    let mut stream_error: Option<io::Error> = None;
    let mut validation =
        verify::validate(store.as_ref(), keys.as_ref(), &options, &mut |decided| {
            if report.format == Format::Jsonl && stream_error.is_none() {
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
        return Err(writing_failed(e));
    }
    run.versions_unread = validation.versions_unread.clone();
    run.shard = validation.shard.take().map(|mut part| {
        part.run = Some(shard_run(&run, &options));
        part
    });
    // The next checkpoint is decided now, so that the report can say which folders it keeps
    // back; it is written once the report is.
    let mut next = None;
    if let Some(location) = &plan.checkpoint {
        let chains: Vec<_> = validation
            .chains
            .iter()
            .map(|c| (&c.report, c.report.newest_verified_digest.as_ref()))
            .collect();
        let (checkpoint, not_moved) = crate::checkpoint::next(
            previous.as_ref(),
            &checkpoint_source,
            options.range.end,
            &validation.histories,
            &chains,
            UtcTime::now(),
        );
        let mut summary = checkpoint_run(location, previous.as_ref(), &validation);
        summary.folders_not_moved = not_moved
            .into_iter()
            .map(|(folder, why)| FolderNotMoved { folder, why })
            .collect();
        run.checkpoint = Some(summary);
        next = Some(checkpoint);
    }
    match report.format {
        Format::Text => {
            report_format::write_text(&mut out, &run, &validation.chains, report.verbose)
        }
        Format::Json => report_format::write_json(&mut out, &run, &validation.chains),
        Format::Jsonl => report_format::write_jsonl_summary(&mut out, &run, &validation.chains),
    }
    .and_then(|_| out.flush())
    .map_err(writing_failed)?;
    drop(out);
    if let Some(pending) = pending {
        pending.commit().map_err(writing_failed)?;
    }

    let reports: Vec<_> = validation.chains.iter().map(|c| c.report.clone()).collect();
    let code = run.judge(Summary::of(&reports)).exit_code();
    if let Some(path) = &plan.metrics {
        let text = crate::metrics::metrics_text(&run, &validation.chains, code, started.elapsed());
        crate::metrics::write_atomically(path, &text).map_err(|e| {
            CliError::incomplete(format!("cannot write {}: {e}", path.display())).because(e)
        })?;
    }
    if let (Some(place), Some(next)) = (&place, &next) {
        if let Err(e) = place.write(next) {
            // An integrity failure stays one: the checkpoint not being written is said too.
            if code == 1 {
                eprintln!("ctverify: {e}");
            } else {
                return Err(e);
            }
        }
    }
    if code == 1 && plan.exit_zero_on_findings {
        return Ok(0);
    }
    Ok(code)
}

/// A filter's values as a set: `--region a --region b` asks what `--region b --region a` does.
fn sorted(values: &[String]) -> Vec<String> {
    let mut values = values.to_vec();
    values.sort();
    values.dedup();
    values
}

/// How a shard's run was made, for the merge to check that its shards agree.
fn shard_run(run: &crate::report::RunInfo, options: &ValidateOptions) -> ShardRun {
    ShardRun {
        version: run.version.to_string(),
        source: run.source.clone(),
        bucket: run.bucket.clone(),
        bucket_from: run.bucket_from,
        requested: run.requested,
        trails: sorted(&options.filter.trails),
        accounts: sorted(&options.filter.accounts),
        regions: sorted(&options.filter.regions),
        home_region: options.filter.home_region.clone(),
        require_continuous: options.require_continuous,
        verbose: options.verbose,
        trail_status: options.trail_status.clone(),
        versions_unread: run.versions_unread.clone(),
    }
}

pub fn run_merge(args: &MergeArgs) -> Result<i32, CliError> {
    let plan = plan::resolve_merge(args)?;
    let mut reports = Vec::with_capacity(plan.reports.len());
    for input in &plan.reports {
        let (name, text) = match input {
            plan::MergeInput::Stdin => {
                let mut text = String::new();
                io::Read::read_to_string(&mut io::stdin().lock(), &mut text)
                    .map_err(|e| CliError::usage(format!("cannot read stdin: {e}")).because(e))?;
                ("-".to_string(), text)
            }
            plan::MergeInput::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CliError::usage(format!("cannot read {}: {e}", path.display())).because(e)
                })?;
                (path.display().to_string(), text)
            }
        };
        reports.push(
            crate::merge::read_shard_report(&name, &text)
                .map_err(|e| CliError::usage(e.to_string()))?,
        );
    }
    let merged = crate::merge::merge(reports).map_err(|e| CliError::usage(e.to_string()))?;
    let verbose = merged.run.verbose;
    let run = crate::report::RunInfo {
        tool: "ctverify",
        version: env!("CARGO_PKG_VERSION"),
        source: merged.run.source.clone(),
        bucket: merged.run.bucket.clone(),
        bucket_from: merged.run.bucket_from,
        requested: merged.run.requested,
        versions_unread: merged.run.versions_unread.clone(),
        checkpoint: None,
        shard: None,
        merged: Some(merged.merge),
    };
    let chains = merged.chains;
    let (mut out, pending) = match &plan.report.output {
        Some(path) => {
            let (out, pending) = PendingReport::create(path)?;
            (out, Some(pending))
        }
        None => (report_output(None)?, None),
    };
    match plan.report.format {
        Format::Text => report_format::write_text(&mut out, &run, &chains, verbose),
        Format::Json => report_format::write_json(&mut out, &run, &chains),
        Format::Jsonl => (|| {
            for chain in &chains {
                for file in &chain.files {
                    report_format::write_jsonl_file(&mut out, file)?;
                }
                report_format::write_jsonl_chain(&mut out, &chain.report)?;
            }
            report_format::write_jsonl_summary(&mut out, &run, &chains)
        })(),
    }
    .and_then(|_| out.flush())
    .map_err(writing_failed)?;
    drop(out);
    if let Some(pending) = pending {
        pending.commit().map_err(writing_failed)?;
    }
    let reports: Vec<_> = chains.iter().map(|c| c.report.clone()).collect();
    let summary = run.judge(Summary::of(&reports));
    if let Some(merged) = run.merged.as_ref().filter(|m| !m.is_complete()) {
        eprintln!(
            "ctverify: the merge is incomplete: {} shard(s) missing, {} given twice, {} folder(s) not verified by their shard",
            merged.missing_shards.len(),
            merged.duplicate_shards.len(),
            merged.folders_not_verified.len()
        );
    }
    Ok(summary.exit_code())
}

/// The report's `checkpoint` object.
fn checkpoint_run(
    location: &plan::CheckpointPlan,
    previous: Option<&Checkpoint>,
    validation: &crate::verify::Validation,
) -> CheckpointRun {
    let listed = &validation.histories;
    let chains_resumed = previous.map_or(0, |p| {
        p.folders
            .iter()
            .filter(|f| listed.iter().any(|h| h.digest_folder == f.digest_folder))
            .map(|f| f.chains.len())
            .sum()
    });
    CheckpointRun {
        location: location.shown(),
        resumed_from: previous.map(|p| p.written_at),
        chains_resumed,
        folders_listed: listed.iter().filter(|h| h.unlisted.is_none()).count(),
        changed_days: listed
            .iter()
            .flat_map(|h| {
                h.changes.iter().map(|c| ChangedDay {
                    folder: h.digest_folder.clone(),
                    day: c.day.to_string()[..10].to_string(),
                    objects_then: c.objects_then,
                    objects_now: c.objects_now,
                })
            })
            .collect(),
        folders_not_moved: Vec::new(),
    }
}

/// The report's destination: `--output FILE`, else stdout.
fn report_output(path: Option<&Path>) -> Result<Box<dyn Write>, CliError> {
    Ok(match path {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| cannot_write(path, e))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

/// A report written to a temporary file beside its path (`.ctverify-*.partial`, which `merge`
/// does not read from a directory), renamed to it once whole.
struct PendingReport {
    file: File,
    temporary: tempfile::TempPath,
    path: std::path::PathBuf,
}

impl PendingReport {
    /// The writer, and what renames its file into place. Makes the directory when it is not
    /// there.
    fn create(path: &Path) -> Result<(Box<dyn Write>, PendingReport), CliError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| cannot_write(path, e))?;
        }
        let temporary = tempfile::Builder::new()
            .prefix(".ctverify-")
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| cannot_write(path, e))?;
        let (file, temporary) = temporary.into_parts();
        let writer = file.try_clone().map_err(|e| cannot_write(path, e))?;
        let pending = PendingReport {
            file,
            temporary,
            path: path.to_path_buf(),
        };
        Ok((Box::new(BufWriter::new(writer)), pending))
    }

    /// Once every byte is written and flushed: to disk, then into place.
    fn commit(self) -> io::Result<()> {
        // A temporary file is private to its owner; the merge may run as someone else.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.file
                .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        self.file.sync_all()?;
        self.temporary.persist(&self.path).map_err(|e| e.error)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

fn cannot_write(path: &Path, e: io::Error) -> CliError {
    CliError::usage(format!("cannot write {}: {e}", path.display())).because(e)
}

fn writing_failed(e: io::Error) -> CliError {
    CliError::incomplete(format!("writing the report failed: {e}")).because(e)
}
