//! `--metrics FILE`: what a scheduled run found, as OpenMetrics text for a Prometheus textfile
//! collector or a pushgateway, so that "no verified digest for three hours" or "an integrity
//! failure" can alert without anyone reading reports.
//!
//! The file is replaced atomically (written beside itself, synced, renamed), and only once the
//! run is complete: a collector never reads half a file, nor a file that mixes two runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use crate::report::{RunInfo, Summary};
use crate::status::{FileKind, Outcome};
use crate::verify::ChainResult;

/// The OpenMetrics text of a completed run that exited with `exit_code` after `duration`.
pub fn metrics_text(
    run: &RunInfo,
    chains: &[ChainResult],
    exit_code: i32,
    duration: Duration,
) -> String {
    let mut text = String::new();
    let reports: Vec<_> = chains.iter().map(|c| c.report.clone()).collect();
    let summary = Summary::of(&reports);
    let source = escape(&run.source);

    family(
        &mut text,
        "ctverify_files",
        "gauge",
        "Files in the range, by kind and outcome (valid, invalid, unverified).",
    );
    for (kind, counts) in [("digest", summary.digests), ("log", summary.logs)] {
        for (outcome, n) in [
            ("valid", counts.valid),
            ("invalid", counts.invalid),
            ("unverified", counts.unverified),
        ] {
            let _ = writeln!(
                text,
                "ctverify_files{{source=\"{source}\",kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }

    family(
        &mut text,
        "ctverify_files_not_valid",
        "gauge",
        "Files reported one by one that are not valid, by kind and status.",
    );
    let mut by_status: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for file in chains.iter().flat_map(|c| &c.files) {
        if file.status.outcome() != Outcome::Valid {
            let kind = match file.kind {
                FileKind::Digest => "digest",
                FileKind::Log => "log",
            };
            *by_status.entry((kind, file.status.as_str())).or_default() += 1;
        }
    }
    for ((kind, status), n) in &by_status {
        let _ = writeln!(text, "ctverify_files_not_valid{{source=\"{source}\",kind=\"{kind}\",status=\"{status}\"}} {n}");
    }

    family(
        &mut text,
        "ctverify_newest_verified_digest_timestamp_seconds",
        "gauge",
        "End time of each chain's newest digest that verified valid (absent when none did).",
    );
    for chain in chains {
        let r = &chain.report;
        if let Some(newest) = r.newest_verified {
            let _ = writeln!(
                text,
                "ctverify_newest_verified_digest_timestamp_seconds{{{}}} {}",
                chain_labels(&source, r),
                newest.unix()
            );
        }
    }

    let tails: Vec<(String, i64, i64)> = chains
        .iter()
        .map(|chain| {
            let r = &chain.report;
            let (missing, hours) = r
                .tail
                .as_ref()
                .map_or((0, 0), |t| (t.missing_digests, t.hours));
            (chain_labels(&source, r), missing, hours)
        })
        .collect();
    family(
        &mut text,
        "ctverify_chain_missing_digests",
        "gauge",
        "Digests each chain's tail is proven to be missing.",
    );
    for (labels, missing, _) in &tails {
        let _ = writeln!(text, "ctverify_chain_missing_digests{{{labels}}} {missing}");
    }
    family(&mut text, "ctverify_chain_tail_hours", "gauge", "Hours from each chain's newest digest to the end of the range, when a digest is overdue (0 otherwise).");
    for (labels, _, hours) in &tails {
        let _ = writeln!(text, "ctverify_chain_tail_hours{{{labels}}} {hours}");
    }

    family(
        &mut text,
        "ctverify_run_duration_seconds",
        "gauge",
        "How long the run took.",
    );
    let _ = writeln!(
        text,
        "ctverify_run_duration_seconds{{source=\"{source}\"}} {:.3}",
        duration.as_secs_f64()
    );
    family(
        &mut text,
        "ctverify_run_exit_code",
        "gauge",
        "The run's exit status: 0 valid, 1 integrity failure, 3 incomplete.",
    );
    let _ = writeln!(
        text,
        "ctverify_run_exit_code{{source=\"{source}\"}} {exit_code}"
    );
    family(
        &mut text,
        "ctverify_run_end_timestamp_seconds",
        "gauge",
        "The end of the range the run verified.",
    );
    let _ = writeln!(
        text,
        "ctverify_run_end_timestamp_seconds{{source=\"{source}\"}} {}",
        run.requested.end.unix()
    );
    family(
        &mut text,
        "ctverify_run_timestamp_seconds",
        "gauge",
        "When the run completed: a file that stops moving means runs stopped completing.",
    );
    let _ = writeln!(
        text,
        "ctverify_run_timestamp_seconds{{source=\"{source}\"}} {}",
        crate::time::UtcTime::now().unix()
    );
    if let Some(checkpoint) = &run.checkpoint {
        family(
            &mut text,
            "ctverify_checkpoint_changed_days",
            "gauge",
            "Days of history behind the checkpoint whose objects changed since it was written (each verified again).",
        );
        let _ = writeln!(
            text,
            "ctverify_checkpoint_changed_days{{source=\"{source}\"}} {}",
            checkpoint.changed_days.len()
        );
        family(
            &mut text,
            "ctverify_checkpoint_chains_resumed",
            "gauge",
            "Chains the run started at their checkpointed digest.",
        );
        let _ = writeln!(
            text,
            "ctverify_checkpoint_chains_resumed{{source=\"{source}\"}} {}",
            checkpoint.chains_resumed
        );
    }
    text.push_str("# EOF\n");
    text
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(text.as_bytes())?;
    // A temporary file is private to its owner; a collector runs as someone else.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    // The rename is durable once the directory is.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn family(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# TYPE {name} {kind}");
    let _ = writeln!(text, "# HELP {name} {help}");
}

/// Every field of a chain's identity, so that no two chains share a series.
fn chain_labels(source: &str, r: &crate::report::ChainReport) -> String {
    format!(
        "source=\"{source}\",bucket=\"{}\",prefix=\"{}\",organization=\"{}\",account=\"{}\",region=\"{}\",trail=\"{}\",home_region=\"{}\",backfill=\"{}\"",
        escape(&r.bucket),
        escape(&r.prefix),
        escape(r.organization_id.as_deref().unwrap_or("")),
        escape(&r.account_id),
        escape(&r.region),
        escape(&r.trail),
        escape(&r.home_region),
        r.backfill
    )
}

/// A label value as OpenMetrics writes it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctverify.prom");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "new\n# EOF\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n# EOF\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
