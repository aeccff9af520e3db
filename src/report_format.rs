//! Report writers: `text` (the AWS CLI's lines and summary), `json` (one document) and `jsonl`
//! (one object per line as chains finish, the summary last), as cli.md specifies.

use std::fmt;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Value};

use crate::continuity::{Explanation, Tail, TailEvidence};
use crate::reason::{ChainReason, NoSignature};
use crate::report::{
    BucketOrigin, ChainReport, CheckpointRun, Detail, ErrorGroup, FileEntry, MergeRun,
    RequestedRange, RunInfo, Summary,
};
use crate::shard::ShardPart;
use crate::status::{Counts, FileKind, Status};
use crate::verify::ChainResult;

/// A report format (`--format`), as cli.md specifies each; [`write_text`], [`write_json`] and
/// [`write_jsonl_file`] write them. (Each value's first sentence is its `--help` line.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The AWS CLI's `validate-logs` lines, new lines of the same shape for the statuses it
    /// does not know, and its summary lines per chain and in total.
    Text,
    /// One JSON document, written when the run is over.
    Json,
    /// One JSON object per line as files and chains are decided, each with a `"type"`
    /// (`file`, `chain`, `summary`), the summary last.
    Jsonl,
}

fn url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// The words of each reason the chain walk gives.
impl fmt::Display for ChainReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainReason::KeysUnavailable { region, why } => {
                write!(f, "public keys for region {region} could not be obtained: {why}")
            }
            ChainReason::KeyNotFound { why } => f.write_str(why),
            ChainReason::MetadataSignatureMalformed { why } => {
                write!(f, "S3 metadata signature is malformed: {why}")
            }
            ChainReason::MetadataAlgorithm { algorithm } => {
                write!(f, "S3 metadata signature-algorithm is {algorithm:?}")
            }
            ChainReason::HashDiffersFromLink {
                sha256,
                recorded,
                successor_url,
            } => write!(
                f,
                "SHA-256 {sha256} differs from previousDigestHashValue {recorded} in {successor_url}"
            ),
            ChainReason::UnverifiedLinkHashWrong {
                recorded,
                successor_url,
            } => write!(
                f,
                "previousDigestHashValue {recorded} in {successor_url}, which could not be verified, is not its SHA-256"
            ),
            ChainReason::LinkedSignatureFailed { successor_url } => write!(
                f,
                "signature verification failed (signature from previousDigestSignature of {successor_url})"
            ),
            ChainReason::VerifiedByUnverifiedSuccessor { successor_url } => write!(
                f,
                "verified by the previousDigestSignature of {successor_url}, which could not itself be verified"
            ),
            ChainReason::MetadataSignatureDiffers { successor_url } => write!(
                f,
                "S3 metadata signature differs from previousDigestSignature of {successor_url}"
            ),
            ChainReason::Unsigned(NoSignature::UnprovenLink { successor_url }) => write!(
                f,
                "no signature: not in the digest metadata, and the previousDigestSignature of {successor_url}, which could not itself be verified, does not verify it"
            ),
            ChainReason::Unsigned(NoSignature::SuccessorUnreadable) => f.write_str(
                "no signature: not in the digest metadata, and its successor could not be read or parsed",
            ),
            ChainReason::Unsigned(NoSignature::NewestWithoutMetadata) => f.write_str(
                "no signature: not in the digest metadata (newest digest of a copy without metadata)",
            ),
            ChainReason::SignatureMissing(why) => {
                f.write_str(
                    "signature missing: none in its S3 metadata, which the source keeps for this \
                     chain and CloudTrail writes with every digest",
                )?;
                match why {
                    NoSignature::UnprovenLink { successor_url } => write!(
                        f,
                        "; the previousDigestSignature of {successor_url}, which could not itself be verified, does not verify it"
                    ),
                    NoSignature::SuccessorUnreadable => {
                        f.write_str("; its successor could not be read or parsed")
                    }
                    NoSignature::NewestWithoutMetadata => {
                        f.write_str("; nothing newer vouches for it")
                    }
                }
            }
            ChainReason::SignatureFailed => f.write_str("signature verification failed"),
            ChainReason::VerifiedDespiteUnprovenLink { successor_url } => write!(
                f,
                "verified by its own metadata signature; the previousDigestSignature of {successor_url}, which could not itself be verified, does not verify it"
            ),
            ChainReason::VerifiedWithoutSuccessor => f.write_str(
                "verified by its own metadata signature; its successor could not be read or parsed",
            ),
            ChainReason::Moved { original_url } => {
                write!(f, "has been moved from its original location {original_url}")
            }
            ChainReason::NotTheRecordedDigest {
                claimed_url,
                sha256,
                recorded,
                successor_url,
            } => write!(
                f,
                "claims to be {claimed_url}, but its SHA-256 {sha256} is not the previousDigestHashValue {recorded} in {successor_url}: no digest of the chain"
            ),
            ChainReason::PredecessorNotOlder { named } => {
                write!(f, "previousDigestS3Object names {named} which is not older")
            }
            ChainReason::PredecessorAlreadyNamed { named } => {
                write!(f, "another digest already names {named} as its predecessor")
            }
            ChainReason::ListCapped { listed, reported } => write!(
                f,
                "it lists {listed} logs: only the first {reported} are reported (unverified); of the other {}, those found in the log folder are",
                listed.saturating_sub(*reported)
            ),
            ChainReason::PredecessorInForeignBucket {
                successor_url,
                bucket,
            } => write!(
                f,
                "named as predecessor by {successor_url}, in bucket {bucket} which this source does not hold"
            ),
            ChainReason::NamedAsPredecessor { successor_url } => {
                write!(f, "named as predecessor by {successor_url}")
            }
            ChainReason::InferredMissing {
                successor_url,
                older_url,
                hour_end,
            } => write!(
                f,
                "inferred: the chain from {successor_url} back to {older_url} has no digest for the hour ending about {hour_end}; exact key unknown"
            ),
            ChainReason::OwedByLogs {
                last_end,
                hour_end,
                latest_log,
            } => write!(
                f,
                "inferred: no digest for the hour ending about {hour_end}, after the chain's digest ending {last_end}, though log files were delivered then or later (the latest: {latest_log}); exact key unknown"
            ),
            ChainReason::OwedByTrail {
                last_end,
                hour_end,
                evidence,
            } => write!(
                f,
                "inferred: no digest for the hour ending about {hour_end}, after the chain's digest ending {last_end}, though {}; exact key unknown",
                evidence_text(evidence)
            ),
            ChainReason::DeliveredWithoutDigest { last_end, in_gap } => write!(
                f,
                "delivered after the chain's digest ending {last_end}{}, listed by no digest: nothing vouches for it",
                if *in_gap { ", in a gap" } else { ", its newest" }
            ),
            ChainReason::ListedOnlyBy { digest_url, status } => {
                write!(f, "listed only by {digest_url} whose status is {status}")
            }
        }
    }
}

/// A file's detail as every format writes it: the chain's reasons joined with `"; "`.
impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Text(text) => f.write_str(text),
            Detail::Reasons(reasons) => {
                for (i, reason) in reasons.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{reason}")?;
                }
                Ok(())
            }
        }
    }
}

/// A missing digest the chain inferred (its key is a guess), as opposed to one a successor
/// names. A detail given as text keeps being read by its words.
fn is_inferred(detail: Option<&Detail>) -> bool {
    match detail {
        Some(Detail::Text(text)) => text.starts_with("inferred"),
        Some(reasons) => matches!(
            reasons.first_reason(),
            Some(
                ChainReason::InferredMissing { .. }
                    | ChainReason::OwedByLogs { .. }
                    | ChainReason::OwedByTrail { .. }
            )
        ),
        None => false,
    }
}

/// A signature verdict about the S3 metadata, which the text report spells out.
fn is_about_metadata_signature(detail: Option<&Detail>) -> bool {
    match detail {
        Some(Detail::Text(text)) => text.starts_with("S3 metadata"),
        Some(reasons) => matches!(
            reasons.first_reason(),
            Some(
                ChainReason::MetadataSignatureMalformed { .. }
                    | ChainReason::MetadataAlgorithm { .. }
                    | ChainReason::MetadataSignatureDiffers { .. }
            )
        ),
        None => false,
    }
}

/// The text of one file's line after the tab: the AWS CLI's wording where it has one.
pub fn text_verdict(file: &FileEntry) -> String {
    let detail = file.detail_text().unwrap_or_default();
    let with_detail = |base: &str| {
        if detail.is_empty() {
            base.to_string()
        } else {
            format!("{base} ({detail})")
        }
    };
    match (file.status, file.kind) {
        (Status::Valid, _) => "valid".into(),
        (Status::NotFound, FileKind::Digest) if is_inferred(file.detail.as_ref()) => {
            with_detail("INVALID: not found")
        }
        (Status::NotFound, _) => "INVALID: not found".into(),
        (Status::SignatureInvalid, _) => {
            if is_about_metadata_signature(file.detail.as_ref()) {
                format!("INVALID: {detail}")
            } else {
                "INVALID: signature verification failed".into()
            }
        }
        (Status::InvalidFormat, _) => "INVALID: invalid format".into(),
        (Status::TrailingData, _) => {
            "INVALID: unexpected data after end of compressed stream".into()
        }
        (Status::HashMismatch, FileKind::Log) => "INVALID: hash value doesn't match".into(),
        (Status::HashMismatch, FileKind::Digest) => {
            with_detail("INVALID: hash value doesn't match")
        }
        (Status::KeyNotFound, _) => format!("INVALID: {detail}"),
        (Status::Moved, FileKind::Digest) => {
            "INVALID: has been moved from its original location".into()
        }
        (Status::Moved, FileKind::Log) => {
            format!(
                "INVALID: moved to {}",
                url(&file.bucket, file.moved_to.as_deref().unwrap_or("?"))
            )
        }
        (Status::Unreferenced, _) => "INVALID: not referenced by any digest".into(),
        (Status::Unsigned, _) => format!("UNVERIFIED: {detail}"),
        (Status::Unverified, _) => format!("UNVERIFIED: {detail}"),
        (Status::Archived, _) => format!("UNVERIFIED: {detail}"),
        (Status::Error, _) => format!("ERROR: {detail}"),
    }
}

/// One file's line of the text report, without the newline:
/// `[(backfill) ]Digest file|Log file<TAB>s3://BUCKET/KEY<TAB>VERDICT` (see [`text_verdict`]).
/// As the AWS CLI does, a moved digest is named by the key it was found at.
pub fn text_line(file: &FileEntry) -> String {
    let kind = match file.kind {
        FileKind::Digest => "Digest file",
        FileKind::Log => "Log file",
    };
    // The AWS CLI names a moved digest by where it was found.
    let key = match (file.status, file.kind, &file.moved_to) {
        (Status::Moved, FileKind::Digest, Some(found)) => found.as_str(),
        _ => file.key.as_str(),
    };
    let backfill = if file.backfill { "(backfill) " } else { "" };
    format!(
        "{backfill}{kind}\t{}\t{}{}",
        url(&file.bucket, key),
        text_verdict(file),
        versions_note(file)
    )
}

/// What a file's earlier versions tell, after its verdict: ` (deleted at T; recoverable
/// version V)`, or nothing.
fn versions_note(file: &FileEntry) -> String {
    let mut parts = Vec::new();
    if let Some(at) = file.deleted_at {
        parts.push(format!("deleted at {at}"));
    }
    if let Some(version) = &file.recoverable_version {
        parts.push(format!("recoverable version {version}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

fn ratio_line(counts: &Counts, noun: &str) -> Option<String> {
    let total = counts.total();
    if total == 0 {
        return None;
    }
    let mut line = format!("{}/{total} {noun} files valid", counts.valid);
    if counts.invalid > 0 {
        line.push_str(&format!(
            ", {}/{total} {noun} files INVALID",
            counts.invalid
        ));
    }
    if counts.unverified > 0 {
        line.push_str(&format!(
            ", {}/{total} {noun} files UNVERIFIED",
            counts.unverified
        ));
    }
    Some(line)
}

fn requested_start(run: &RunInfo, chains: &[&ChainReport]) -> String {
    match run.requested.start {
        Some(start) => start.to_string(),
        None => chains
            .iter()
            .filter_map(|c| c.found.map(|f| f.start))
            .min()
            .map_or_else(|| "the first digest".to_string(), |t| t.to_string()),
    }
}

fn write_summary(
    out: &mut dyn Write,
    run: &RunInfo,
    chains: &[&ChainReport],
    backfill: bool,
) -> io::Result<()> {
    let mut digests = Counts::default();
    let mut logs = Counts::default();
    for chain in chains {
        digests.merge(&chain.digests);
        logs.merge(&chain.logs);
    }
    writeln!(
        out,
        "Results requested for {} to {}",
        requested_start(run, chains),
        run.requested.end
    )?;
    let found_start = chains.iter().filter_map(|c| c.found.map(|f| f.start)).min();
    let found_end = chains.iter().filter_map(|c| c.found.map(|f| f.end)).max();
    match (found_start, found_end) {
        (Some(start), Some(end)) => writeln!(out, "Results found for {start} to {end}:")?,
        // Digests were found but none could be read for the times it covers: the counts
        // still say what became of them (they used to be left out, disagreeing with json).
        _ if digests.total() > 0 || logs.total() > 0 => writeln!(
            out,
            "Results found (no digest could be read for its times):"
        )?,
        _ => {
            writeln!(out, "No digests found")?;
            return writeln!(out);
        }
    }
    writeln!(out)?;
    let (digest_noun, log_noun) = if backfill {
        ("backfill digest", "backfill log")
    } else {
        ("digest", "log")
    };
    if let Some(line) = ratio_line(&digests, digest_noun) {
        writeln!(out, "{line}")?;
    }
    if let Some(line) = ratio_line(&logs, log_noun) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)
}

fn chain_title(chain: &ChainReport) -> String {
    let org = chain
        .organization_id
        .as_ref()
        .map(|o| format!(" organization {o}"))
        .unwrap_or_default();
    // A folder that could not be listed names only what its path says.
    let known = |part: &str| {
        if part.is_empty() {
            "(unknown)".to_string()
        } else {
            part.to_string()
        }
    };
    format!(
        "Digest chain: trail {} (home region {}){org} account {} region {}{}",
        known(&chain.trail),
        known(&chain.home_region),
        known(&chain.account_id),
        known(&chain.region),
        if chain.backfill { " (backfill)" } else { "" }
    )
}

/// Writes the `--format text` report: a heading naming the source, the bucket and where its
/// name came from, and the range; for each chain, its title, the lines of its files (those in
/// `chains`, which holds only the files to show), a line per gap, with `verbose` its windows
/// with no log and the keys that verified, and its summary lines; totals when there are several
/// chains (backfill chains apart); the files that could not be checked, by cause; and
/// `Result: valid|invalid|incomplete`.
pub fn write_text(
    out: &mut dyn Write,
    run: &RunInfo,
    chains: &[ChainResult],
    verbose: bool,
) -> io::Result<()> {
    let reports: Vec<&ChainReport> = chains.iter().map(|c| &c.report).collect();
    writeln!(
        out,
        "Validating log files in {} (bucket {}, named by {}) between {} and {}",
        run.source,
        run.bucket,
        match run.bucket_from {
            crate::report::BucketOrigin::Option => "--s3-bucket",
            crate::report::BucketOrigin::Bundle => ".ctverify/bundle.json",
            crate::report::BucketOrigin::DirectoryName => "the directory's name",
            crate::report::BucketOrigin::Source => "the source",
        },
        requested_start(run, &reports),
        run.requested.end
    )?;
    writeln!(out)?;
    for chain in chains {
        let report = &chain.report;
        writeln!(out, "{}", chain_title(report))?;
        for file in &chain.files {
            writeln!(out, "{}", text_line(file))?;
        }
        for gap in &report.gaps {
            writeln!(
                out,
                "Gap\ts3://{}/{}\tno digests between {} and {}: logging or validation was off: {} {}",
                report.bucket,
                chain_folder(report),
                gap.start,
                gap.end,
                explanation_text(gap.explained.as_ref()),
                if gap.integrity_failure {
                    "INVALID: --require-continuous"
                } else {
                    "(not an integrity failure)"
                }
            )?;
        }
        if let Some(tail) = &report.tail {
            writeln!(
                out,
                "Tail\ts3://{}/{}\tno digest after {} ({}), {} hours to {}: {}",
                report.bucket,
                chain_folder(report),
                tail.start,
                tail.last_digest,
                tail.hours,
                tail.end,
                tail_text(tail)
            )?;
        }
        if verbose {
            for window in &report.empty_windows {
                writeln!(
                    out,
                    "No log files were delivered by CloudTrail between {} and {}",
                    window.start, window.end
                )?;
            }
            if !report.public_keys.is_empty() {
                writeln!(
                    out,
                    "Public keys used (fingerprints): {}",
                    report.public_keys.join(", ")
                )?;
            }
        }
        writeln!(out)?;
        write_summary(out, run, &[report], report.backfill)?;
    }
    if chains.is_empty() {
        write_summary(out, run, &[], false)?;
    }
    if chains.len() > 1 {
        writeln!(out, "Total for {} digest chains:", chains.len())?;
        let plain: Vec<&ChainReport> = reports.iter().copied().filter(|c| !c.backfill).collect();
        let backfill: Vec<&ChainReport> = reports.iter().copied().filter(|c| c.backfill).collect();
        if !plain.is_empty() {
            write_summary(out, run, &plain, false)?;
        }
        if !backfill.is_empty() {
            write_summary(out, run, &backfill, true)?;
        }
    }
    let summary = run.judge(
        Summary::of(&reports.into_iter().cloned().collect::<Vec<_>>())
            .with_errors(chains.iter().flat_map(|c| &c.files)),
    );
    write_error_groups(out, &summary.errors)?;
    if let Some(why) = &run.versions_unread {
        writeln!(out, "Earlier versions not read: {why}")?;
    }
    if let Some(checkpoint) = &run.checkpoint {
        write_checkpoint(out, checkpoint)?;
    }
    if let Some(merged) = &run.merged {
        write_merged(out, merged)?;
    }
    writeln!(
        out,
        "Result: {}",
        serde_json::to_value(summary.result)
            .unwrap_or(Value::Null)
            .as_str()
            .unwrap_or("?")
    )
}

/// The files that could not be checked, one line per cause and bucket (the files themselves
/// are listed above): `1,204 files: AccessDenied — s3:GetObject on ... is not allowed`.
pub fn write_error_groups(out: &mut dyn Write, groups: &[ErrorGroup]) -> io::Result<()> {
    if groups.is_empty() {
        return Ok(());
    }
    writeln!(out, "Could not be checked, by cause:")?;
    for group in groups {
        let files = if group.count == 1 { "file" } else { "files" };
        let cause = match &group.storage_class {
            Some(class) => format!("{} in {class}", group.cause.label()),
            None => group.cause.label().to_string(),
        };
        writeln!(
            out,
            "{} {files}: {cause} \u{2014} {} (e.g. {})",
            thousands(group.count),
            group.hint,
            url(&group.bucket, &group.example)
        )?;
    }
    writeln!(out)
}

/// `1204` as `1,204`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// What says a chain should have gone on, in words.
fn evidence_text(evidence: &TailEvidence) -> String {
    match evidence {
        TailEvidence::Logs { count, latest } => {
            format!("{count} log files were delivered after it (the latest: {latest})")
        }
        TailEvidence::OtherRegion { region, through } => {
            format!("the trail's {region} chain delivered digests through {through}")
        }
        TailEvidence::TrailStatus {
            latest_digest_delivery,
            is_logging,
        } => format!(
            "GetTrailStatus says the trail delivered a digest at {latest_digest_delivery}{}",
            match is_logging {
                Some(true) => " and is logging",
                Some(false) => " and is not logging now",
                None => "",
            }
        ),
    }
}

/// What explains a gap or tail, in words: the event, or `UNEXPLAINED`.
fn explanation_text(explained: Option<&Explanation>) -> String {
    match explained {
        Some(e) => format!(
            "explained by {} at {} by {} in {}{}",
            e.event,
            e.time,
            e.principal.as_deref().unwrap_or("an unnamed principal"),
            e.log,
            if e.log_verified {
                ""
            } else {
                " (a log no digest covers: nothing vouches for it)"
            }
        ),
        None => "UNEXPLAINED: no StopLogging, StartLogging, DeleteTrail, CreateTrail or UpdateTrail of the trail in the verified logs".into(),
    }
}

/// What the report says of a chain's tail: what says digests should have followed, what
/// explains the end, and whether it is an integrity failure.
fn tail_text(tail: &Tail) -> String {
    let mut parts: Vec<String> = tail.evidence.iter().map(evidence_text).collect();
    if tail.explained.is_some() || tail.evidence.is_empty() {
        parts.push(explanation_text(tail.explained.as_ref()));
    }
    let verdict = if tail.missing_digests > 0 {
        format!("INVALID: digests missing: {}", tail.missing_digests)
    } else if tail.integrity_failure {
        "INVALID: --require-continuous".into()
    } else {
        "(not an integrity failure)".into()
    };
    format!("{} {verdict}", parts.join("; "))
}

fn chain_folder(chain: &ChainReport) -> String {
    let id = crate::digest::ChainId {
        prefix: chain.prefix.clone(),
        organization_id: chain.organization_id.clone(),
        account_id: chain.account_id.clone(),
        region: chain.region.clone(),
        trail: chain.trail.clone(),
        home_region: chain.home_region.clone(),
        backfill: chain.backfill,
    };
    id.digest_folder()
}

fn tagged<T: Serialize>(kind: &str, value: &T) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("type".into(), Value::String(kind.into()));
    }
    v
}

/// Serializes `T` as its JSON value would: object keys sorted, as everywhere in the reports.
/// Each file becomes a value only while it is written, so the document never exists twice in
/// memory (a report of a million files would otherwise).
struct AsValue<'a, T>(&'a T);

impl<T: Serialize> Serialize for AsValue<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(self.0)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// The files of a report, sorted, written one after another.
struct SortedFiles<'a>(Vec<&'a FileEntry>);

impl Serialize for SortedFiles<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|file| AsValue(*file)))
    }
}

/// The `Checkpoint` lines of the text report: where the run resumed, and each day that changed.
fn write_checkpoint(out: &mut dyn Write, checkpoint: &CheckpointRun) -> io::Result<()> {
    match checkpoint.resumed_from {
        Some(written) => writeln!(
            out,
            "Checkpoint {}: written {written}; {} chains resumed; history of {} folders listed again: {}",
            checkpoint.location,
            checkpoint.chains_resumed,
            checkpoint.folders_listed,
            if checkpoint.changed_days.is_empty() {
                "unchanged"
            } else {
                "CHANGED"
            }
        )?,
        None => writeln!(
            out,
            "Checkpoint {}: none yet; this run starts it",
            checkpoint.location
        )?,
    }
    for kept in &checkpoint.folders_not_moved {
        writeln!(
            out,
            "Not moved\t{}\t{}",
            kept.folder,
            match kept.why {
                crate::checkpoint::NotMoved::HistoryUnlisted => "its history could not be listed",
                crate::checkpoint::NotMoved::TrailsLeftOut =>
                    "the filter left one of its trails out",
                crate::checkpoint::NotMoved::NotAllValid =>
                    "not everything in it verified: the next run starts where this one did",
                crate::checkpoint::NotMoved::NothingVerified => "no digest in it verified",
            }
        )?;
    }
    for day in &checkpoint.changed_days {
        writeln!(
            out,
            "Changed\t{}{}\t{} objects then, {} now: verified again from that day",
            day.folder,
            day.day.replace('-', "/"),
            day.objects_then,
            day.objects_now
        )?;
    }
    Ok(())
}

/// The `Merged`, `Missing shard`, `Duplicate shard` and `Not verified` lines of a merged
/// text report.
fn write_merged(out: &mut dyn Write, merged: &MergeRun) -> io::Result<()> {
    writeln!(
        out,
        "Merged {} of {} shard reports{}",
        merged.reports.len(),
        merged.shards,
        if merged.is_complete() {
            ""
        } else {
            ": INCOMPLETE"
        }
    )?;
    for index in &merged.missing_shards {
        writeln!(
            out,
            "Missing shard	{index} of {}	no report: its folders were not verified",
            merged.shards
        )?;
    }
    for duplicate in &merged.duplicate_shards {
        writeln!(
            out,
            "Duplicate shard	{} of {}	{}: a second report of the shard, left out",
            duplicate.shard, merged.shards, duplicate.report
        )?;
    }
    for lost in &merged.folders_not_verified {
        writeln!(
            out,
            "Not verified	{}	found by shard {}, not verified by shard {}, whose folder it is: run shard {} again",
            lost.folder, lost.found_by, lost.shard, lost.shard
        )?;
    }
    Ok(())
}

/// The `--format json` document; fields in the order of its keys.
#[derive(Serialize)]
struct JsonDocument<'a> {
    bucket: AsValue<'a, String>,
    bucket_from: AsValue<'a, BucketOrigin>,
    chains: Vec<AsValue<'a, ChainReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<AsValue<'a, CheckpointRun>>,
    files: SortedFiles<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merge: Option<AsValue<'a, MergeRun>>,
    requested: AsValue<'a, RequestedRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<AsValue<'a, ShardPart>>,
    source: AsValue<'a, String>,
    summary: AsValue<'a, Summary>,
    tool: AsValue<'a, &'static str>,
    version: AsValue<'a, &'static str>,
}

/// Writes the `--format json` document, pretty-printed with object keys sorted and a final
/// newline: the run's facts, every chain, the files of every chain (those in `chains`) sorted
/// by bucket, key and kind, and the summary with the unchecked files grouped by cause.
pub fn write_json(out: &mut dyn Write, run: &RunInfo, chains: &[ChainResult]) -> io::Result<()> {
    let reports: Vec<ChainReport> = chains.iter().map(|c| c.report.clone()).collect();
    let mut files: Vec<&FileEntry> = chains.iter().flat_map(|c| c.files.iter()).collect();
    files.sort_by(|a, b| (&a.bucket, &a.key, a.kind).cmp(&(&b.bucket, &b.key, b.kind)));
    let summary = run.judge(
        Summary::of(&reports)
            .with_errors(chains.iter().flat_map(|c| &c.files))
            .with_versions(run.versions_unread.clone()),
    );
    let document = JsonDocument {
        bucket: AsValue(&run.bucket),
        bucket_from: AsValue(&run.bucket_from),
        chains: reports.iter().map(AsValue).collect(),
        checkpoint: run.checkpoint.as_ref().map(AsValue),
        files: SortedFiles(files),
        merge: run.merged.as_ref().map(AsValue),
        requested: AsValue(&run.requested),
        shard: run.shard.as_ref().map(AsValue),
        source: AsValue(&run.source),
        summary: AsValue(&summary),
        tool: AsValue(&run.tool),
        version: AsValue(&run.version),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

/// One `file` line of `--format jsonl`, flushed, so that it can be written as soon as the file
/// is decided.
pub fn write_jsonl_file(out: &mut dyn Write, file: &FileEntry) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &tagged("file", file))?;
    writeln!(out)?;
    out.flush()
}

/// One `chain` line of `--format jsonl`, written after the chain's files.
pub fn write_jsonl_chain(out: &mut dyn Write, chain: &ChainReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &tagged("chain", chain))?;
    writeln!(out)?;
    out.flush()
}

/// The last line of `--format jsonl`: the summary over `chains` (with the unchecked files
/// grouped by cause) and the run's `tool`, `version`, `source` and `requested`, flushed.
pub fn write_jsonl_summary(
    out: &mut dyn Write,
    run: &RunInfo,
    chains: &[ChainResult],
) -> io::Result<()> {
    let reports: Vec<ChainReport> = chains.iter().map(|c| c.report.clone()).collect();
    let summary = run.judge(
        Summary::of(&reports)
            .with_errors(chains.iter().flat_map(|c| &c.files))
            .with_versions(run.versions_unread.clone()),
    );
    let mut line = tagged("summary", &summary);
    if let Value::Object(map) = &mut line {
        map.insert("tool".into(), json!(run.tool));
        map.insert("version".into(), json!(run.version));
        map.insert("source".into(), json!(run.source));
        map.insert("requested".into(), json!(run.requested));
        if let Some(checkpoint) = &run.checkpoint {
            map.insert("checkpoint".into(), json!(checkpoint));
        }
        if let Some(shard) = &run.shard {
            map.insert("shard".into(), json!(shard));
        }
        if let Some(merged) = &run.merged {
            map.insert("merge".into(), json!(merged));
        }
    }
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)?;
    out.flush()
}

/// The report of `verify-query`: the sign file and each result file, in any format; returns
/// the exit code (0 valid, 1 invalid, 3 incomplete).
pub fn write_query(
    out: &mut dyn Write,
    source: &str,
    verdict: &crate::lake::QueryVerdict,
    format: Format,
    verbose: bool,
) -> io::Result<i32> {
    let mut sign_files = Counts::default();
    sign_files.add(verdict.sign_file.status);
    let mut result_files = Counts::default();
    for file in &verdict.results {
        result_files.add(file.status);
    }
    let result = if sign_files.invalid + result_files.invalid > 0 {
        "invalid"
    } else if sign_files.unverified + result_files.unverified > 0 {
        "incomplete"
    } else {
        "valid"
    };
    let code = match result {
        "valid" => 0,
        "invalid" => 1,
        _ => 3,
    };
    let files: Vec<&FileEntry> = std::iter::once(&verdict.sign_file)
        .chain(verdict.results.iter())
        .filter(|f| crate::report::is_reported(f.status, verbose))
        .collect();
    let summary = json!({"sign_files": sign_files, "result_files": result_files, "result": result});
    let kind_name = |file: &FileEntry| {
        if file.kind == FileKind::Digest {
            "sign"
        } else {
            "result"
        }
    };
    let file_json = |file: &FileEntry| {
        let mut v = serde_json::to_value(file).unwrap_or(Value::Null);
        v["kind"] = Value::String(kind_name(file).into());
        v
    };
    match format {
        Format::Json => {
            let doc = json!({
                "tool": "ctverify",
                "version": env!("CARGO_PKG_VERSION"),
                "source": source,
                "query": {
                    "query_complete_time": verdict.query_complete_time,
                    "public_key": verdict.public_key.map(|f| f.to_hex()),
                },
                "files": files.iter().map(|f| file_json(f)).collect::<Vec<_>>(),
                "summary": summary,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            for file in &files {
                let mut v = file_json(file);
                v["type"] = Value::String("file".into());
                serde_json::to_writer(&mut *out, &v)?;
                writeln!(out)?;
            }
            let mut line = summary.clone();
            line["type"] = Value::String("summary".into());
            line["source"] = Value::String(source.into());
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        }
        Format::Text => {
            writeln!(out, "Verifying CloudTrail Lake query results in {source}")?;
            writeln!(out)?;
            for file in &files {
                let label = if file.kind == FileKind::Digest {
                    "Sign file"
                } else {
                    "Result file"
                };
                writeln!(
                    out,
                    "{label}\t{}\t{}",
                    url(&file.bucket, &file.key),
                    text_verdict(file)
                )?;
            }
            writeln!(out)?;
            for (counts, noun) in [(&sign_files, "sign"), (&result_files, "result")] {
                if let Some(line) = ratio_line(counts, noun) {
                    writeln!(out, "{line}")?;
                }
            }
            writeln!(out, "Result: {result}")?;
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Sha256;
    use crate::time::UtcTime;

    #[test]
    fn what_earlier_versions_tell_follows_the_verdict_and_only_when_known() {
        let mut entry = FileEntry::new(FileKind::Log, "b", "k.json.gz", Status::NotFound);
        assert_eq!(
            text_line(&entry),
            "Log file\ts3://b/k.json.gz\tINVALID: not found"
        );
        let json = serde_json::to_value(&entry).expect("json");
        assert!(json.get("deleted_at").is_none() && json.get("recoverable_version").is_none());
        entry.deleted_at = Some(UtcTime::from_unix(1_709_254_800));
        entry.recoverable_version = Some("v1".into());
        entry.expected_sha256 = Some(Sha256([3; 32]));
        assert_eq!(
            text_line(&entry),
            "Log file\ts3://b/k.json.gz\tINVALID: not found (deleted at 2024-03-01T01:00:00Z; \
             recoverable version v1)"
        );
        let json = serde_json::to_value(&entry).expect("json");
        assert_eq!(json["deleted_at"], "2024-03-01T01:00:00Z");
        assert_eq!(json["recoverable_version"], "v1");
        assert!(json.get("expected_sha256").is_none(), "{json}");
    }

    #[test]
    fn the_chain_reasons_read_as_they_always_have() {
        let url = "s3://b/d.json.gz".to_string();
        let entry = FileEntry::new(FileKind::Digest, "b", "c.json.gz", Status::HashMismatch)
            .with_detail(Detail::Reasons(vec![
                ChainReason::HashDiffersFromLink {
                    sha256: Sha256([1; 32]),
                    recorded: Sha256([2; 32]),
                    successor_url: url.clone(),
                },
                ChainReason::PredecessorNotOlder {
                    named: "a.json.gz".into(),
                },
                ChainReason::ListCapped {
                    listed: 12_000,
                    reported: 10_000,
                },
            ]));
        let expected = format!(
            "SHA-256 {} differs from previousDigestHashValue {} in {url}; \
             previousDigestS3Object names a.json.gz which is not older; \
             it lists 12000 logs: only the first 10000 are reported (unverified); of the other \
             2000, those found in the log folder are",
            "01".repeat(32),
            "02".repeat(32)
        );
        assert_eq!(entry.detail_text().as_deref(), Some(expected.as_str()));
        assert_eq!(
            text_verdict(&entry),
            format!("INVALID: hash value doesn't match ({expected})")
        );
        let json = serde_json::to_value(&entry).expect("serializable");
        assert_eq!(json["detail"], Value::String(expected));

        let inferred = FileEntry::new(FileKind::Digest, "b", "k", Status::NotFound).with_detail(
            ChainReason::InferredMissing {
                successor_url: url.clone(),
                older_url: "s3://b/a.json.gz".into(),
                hour_end: crate::time::UtcTime::from_unix(3600),
            },
        );
        assert_eq!(
            text_verdict(&inferred),
            "INVALID: not found (inferred: the chain from s3://b/d.json.gz back to \
             s3://b/a.json.gz has no digest for the hour ending about 1970-01-01T01:00:00Z; \
             exact key unknown)"
        );
        let metadata = FileEntry::new(FileKind::Digest, "b", "k", Status::SignatureInvalid)
            .with_detail(ChainReason::MetadataSignatureDiffers { successor_url: url });
        assert_eq!(
            text_verdict(&metadata),
            "INVALID: S3 metadata signature differs from previousDigestSignature of s3://b/d.json.gz"
        );
        // A text detail is written as it is.
        let text =
            FileEntry::new(FileKind::Log, "b", "l", Status::Error).with_detail("read failed");
        assert_eq!(text_verdict(&text), "ERROR: read failed");
        let archived = FileEntry::new(FileKind::Log, "b", "l", Status::Archived)
            .with_detail("archived in GLACIER: restore it first");
        assert_eq!(
            text_line(&archived),
            "Log file\ts3://b/l\tUNVERIFIED: archived in GLACIER: restore it first"
        );
        assert_eq!(
            serde_json::to_value(&text).expect("serializable")["detail"],
            "read failed"
        );
    }

    #[test]
    fn counts_are_written_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
