//! `validate --checkpoint`: what a run remembers for the next one, and where the next one
//! starts.
//!
//! Per account-and-region folder, a checkpoint holds each chain's newest valid digest (its
//! *anchor*: key, SHA-256, signature, end time) and the folder's history as listed when the run
//! verified it ([`crate::history`]). A later run
//! - lists the recorded days again: a day that changed is verified again, from its midnight;
//! - starts each chain at its anchor, which it reads again: the anchor must still be there,
//!   unchanged and valid, and the new digests must link to it (the walk checks the link as it
//!   checks any other);
//! - moves a folder forward only when everything in it verified: until then each run starts
//!   where the last good one did, and reports the same findings again. A checkpoint never
//!   forgets what it could not prove.
//!
//! The file is JSON, sealed with a SHA-256 of its content: a damaged, edited or foreign file
//! is refused, never silently started over.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::chain::VerifiedDigest;
use crate::digest::ChainId;
use crate::hash::Sha256;
use crate::history::{self, DayChange, DayRecord, Survey};
use crate::report::{ChainReport, Summary};
use crate::time::UtcTime;

/// What the `format` field of every checkpoint this version writes says.
pub const FORMAT: &str = "ctverify-checkpoint/1";

/// Everything a checkpoint file holds, apart from its seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// [`FORMAT`].
    pub format: String,
    /// The ctverify version that wrote it.
    pub tool_version: String,
    /// The source it is about, as the report names it (`s3://BUCKET/PREFIX`, or the directory).
    pub source: String,
    /// When it was written.
    pub written_at: UtcTime,
    /// The end of the range of the run that wrote it.
    pub range_end: UtcTime,
    /// Each account-and-region folder verified, in path order.
    pub folders: Vec<FolderCheckpoint>,
}

/// One account-and-region folder of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderCheckpoint {
    /// `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail-Digest/REGION/`.
    pub digest_folder: String,
    /// The first day its history covers (midnight UTC); `None` from the beginning.
    pub from: Option<UtcTime>,
    /// The history covers the objects named before this hour.
    pub until: UtcTime,
    /// Every day with an object, oldest first.
    pub days: Vec<DayRecord>,
    /// Each chain of the folder and its newest valid digest.
    pub chains: Vec<ChainAnchor>,
}

/// One chain of a folder, and where the next run starts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainAnchor {
    /// As the digest key names it.
    pub trail: String,
    /// Where the trail was created.
    pub home_region: String,
    /// A chain of backfill digests.
    pub backfill: bool,
    /// The newest digest of the chain that was valid.
    pub digest: VerifiedDigest,
}

/// The file: the checkpoint and the SHA-256 of its compact JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    checkpoint: Checkpoint,
    sha256: Sha256,
}

/// Why a checkpoint file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// Not a ctverify checkpoint (or one of a format this version does not read).
    Foreign(String),
    /// A ctverify checkpoint, damaged or edited since it was written.
    Corrupt(String),
    /// A checkpoint of another source.
    OtherSource {
        /// What it is about.
        found: String,
        /// What this run verifies.
        expected: String,
    },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Foreign(why) => write!(f, "not a ctverify checkpoint: {why}"),
            CheckpointError::Corrupt(why) => write!(f, "the checkpoint is damaged: {why}"),
            CheckpointError::OtherSource { found, expected } => write!(
                f,
                "the checkpoint is of {found}, not of {expected}: use another checkpoint file"
            ),
        }
    }
}

impl std::error::Error for CheckpointError {}

impl Checkpoint {
    /// Reads a checkpoint file's bytes, for a run over `source`.
    pub fn open(bytes: &[u8], source: &str) -> Result<Checkpoint, CheckpointError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| CheckpointError::Foreign(format!("not JSON ({e})")))?;
        let format = value
            .get("checkpoint")
            .and_then(|c| c.get("format"))
            .and_then(|f| f.as_str());
        if format != Some(FORMAT) {
            return Err(CheckpointError::Foreign(match format {
                Some(other) => format!("format {other:?}, where this version reads {FORMAT:?}"),
                None => format!("no checkpoint.format {FORMAT:?}"),
            }));
        }
        let sealed: Sealed =
            serde_json::from_value(value).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        if sealed.checkpoint.seal() != sealed.sha256 {
            return Err(CheckpointError::Corrupt(
                "its content does not match its sha256: edited or damaged since it was written"
                    .into(),
            ));
        }
        // Sealed, but by whoever wrote the file: what it names must be what ctverify writes.
        for folder in &sealed.checkpoint.folders {
            let well_formed = ChainId::of_digest_folder(&folder.digest_folder, "", "")
                .is_some_and(|id| id.digest_folder() == folder.digest_folder);
            if !well_formed {
                return Err(CheckpointError::Corrupt(format!(
                    "{:?} is no digest folder",
                    folder.digest_folder
                )));
            }
            if let Some(anchor) = folder
                .chains
                .iter()
                .find(|a| !a.digest.key.starts_with(&folder.digest_folder))
            {
                return Err(CheckpointError::Corrupt(format!(
                    "{:?} is not in its folder {:?}",
                    anchor.digest.key, folder.digest_folder
                )));
            }
        }
        if sealed.checkpoint.source != source {
            return Err(CheckpointError::OtherSource {
                found: sealed.checkpoint.source,
                expected: source.to_string(),
            });
        }
        Ok(sealed.checkpoint)
    }

    /// The file's bytes: the checkpoint and its seal, as pretty JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let sealed = Sealed {
            checkpoint: self.clone(),
            sha256: self.seal(),
        };
        let mut bytes = serde_json::to_vec_pretty(&sealed).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    fn seal(&self) -> Sha256 {
        Sha256::of(&serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Where a run resumes from: the checkpoint's folders, by digest folder.
#[derive(Debug, Default)]
pub struct Resume {
    folders: HashMap<String, FolderCheckpoint>,
}

impl Resume {
    /// From a checkpoint read before the run; `None` for a first run.
    pub fn new(checkpoint: Option<Checkpoint>) -> Resume {
        Resume {
            folders: checkpoint
                .into_iter()
                .flat_map(|c| c.folders)
                .map(|f| (f.digest_folder.clone(), f))
                .collect(),
        }
    }

    /// Every folder the checkpoint holds.
    pub fn folders(&self) -> impl Iterator<Item = &FolderCheckpoint> {
        self.folders.values()
    }

    /// What the checkpoint holds of `digest_folder`.
    pub fn folder(&self, digest_folder: &str) -> Option<&FolderCheckpoint> {
        self.folders.get(digest_folder)
    }
}

impl FolderCheckpoint {
    /// The anchor of `chain`, when the folder has one for it.
    pub fn anchor(&self, chain: &ChainId) -> Option<&ChainAnchor> {
        self.chains.iter().find(|a| {
            a.trail == chain.trail
                && a.home_region == chain.home_region
                && a.backfill == chain.backfill
        })
    }

    /// The chain an anchor is of.
    pub fn chain_of(&self, anchor: &ChainAnchor) -> Option<ChainId> {
        let mut id =
            ChainId::of_digest_folder(&self.digest_folder, &anchor.trail, &anchor.home_region)?;
        id.backfill = anchor.backfill;
        Some(id)
    }
}

/// What one folder's history listing found, reduced to what the end of the run needs once the
/// folder's chains are walked (the listing itself is dropped then).
#[derive(Debug)]
pub struct FolderHistory {
    /// The digest folder.
    pub digest_folder: String,
    /// The first day the listing covered (midnight); `None` from the beginning.
    pub from: Option<UtcTime>,
    /// Why the history could not be listed (the folder then cannot move forward).
    pub unlisted: Option<String>,
    /// The days recorded that differ now, oldest first.
    pub changes: Vec<DayChange>,
    /// The filter left out a chain of the folder: what the history records of its files was
    /// not verified, so the folder does not move forward.
    pub partial: bool,
    /// The history as listed, up to the hour of the folder's newest valid digest: what the
    /// next checkpoint records if the folder verified. `None` when not listed, or when no
    /// digest was valid.
    pub listed: Option<(UtcTime, Vec<DayRecord>)>,
}

impl FolderHistory {
    /// Reduces a listing to what the next checkpoint needs, given the newest valid digest of
    /// each of the folder's chains.
    pub fn of(
        digest_folder: &str,
        from: Option<UtcTime>,
        survey: Result<Survey, String>,
        changes: Vec<DayChange>,
        partial: bool,
        newest: impl Iterator<Item = UtcTime>,
    ) -> FolderHistory {
        let (unlisted, listed) = match survey {
            Err(why) => (Some(why), None),
            Ok(survey) => (
                None,
                newest.max().map(|newest| {
                    // Objects named in the newest digest's last hour may belong to the digest
                    // after it: the history stops at that hour, and the next run starts at the
                    // digest, reading it and its logs again.
                    let until = hour_of(newest);
                    (until, survey.records_until(until))
                }),
            ),
        };
        FolderHistory {
            digest_folder: digest_folder.to_string(),
            from,
            unlisted,
            changes,
            partial,
            listed,
        }
    }
}

/// Up to when the folder's history still holds: its files named before this are unchanged since
/// a run verified them, and need not be read or scanned again. The history's end, or the first
/// day that changed.
pub fn settled_before(checkpoint: &FolderCheckpoint, changes: &[DayChange]) -> UtcTime {
    changes
        .first()
        .map_or(checkpoint.until, |c| c.day.min(checkpoint.until))
}

/// A checkpointed chain's start: its anchor's end, or where the settled history ends when
/// that is earlier (the digests ending after it cover what the history does not: the anchor's
/// own hour, or a day that changed). `None` for a chain the checkpoint does not hold, or whose
/// anchor ends before `--start-time` (expired, or no longer wanted: the chain starts there).
pub fn anchored_start(
    checkpoint: &FolderCheckpoint,
    settled_before: UtcTime,
    chain: &ChainId,
    requested: Option<UtcTime>,
) -> Option<UtcTime> {
    let anchor = checkpoint
        .anchor(chain)
        .filter(|a| requested.is_none_or(|start| a.digest.end_time >= start))?;
    Some(anchor.digest.end_time.min(settled_before))
}

/// Why a folder the run verified did not move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotMoved {
    /// Its history could not be listed.
    HistoryUnlisted,
    /// The filter (`--trail`, `--trail-arn`) left one of its trails out.
    TrailsLeftOut,
    /// Something in it did not verify (its findings are reported again next run).
    NotAllValid,
    /// No digest of it verified.
    NothingVerified,
}

/// What the next checkpoint says, from the previous one and a completed run: a folder whose
/// chains all verified moves forward (its chains to their newest valid digests, its history to
/// the listing made before they were walked, up to the hour of the newest); any other keeps
/// what it had. Folders the run did not verify are kept as they were.
pub fn next(
    previous: Option<&Checkpoint>,
    source: &str,
    range_end: UtcTime,
    folders: &[FolderHistory],
    chains: &[(&ChainReport, Option<&VerifiedDigest>)],
    written_at: UtcTime,
) -> (Checkpoint, Vec<(String, NotMoved)>) {
    let mut not_moved = Vec::new();
    let mut kept: BTreeMap<String, FolderCheckpoint> = previous
        .into_iter()
        .flat_map(|c| c.folders.iter().cloned())
        .map(|f| (f.digest_folder.clone(), f))
        .collect();
    for folder in folders {
        let of_folder: Vec<_> = chains
            .iter()
            .filter(|(report, _)| report_folder(report) == folder.digest_folder)
            .collect();
        let clean = !of_folder.is_empty()
            && of_folder.iter().all(|(report, newest)| {
                newest.is_some() && Summary::of(&[(*report).clone()]).exit_code() == 0
            });
        let why = match &folder.listed {
            _ if folder.unlisted.is_some() => Some(NotMoved::HistoryUnlisted),
            _ if folder.partial => Some(NotMoved::TrailsLeftOut),
            _ if !clean => Some(NotMoved::NotAllValid),
            None => Some(NotMoved::NothingVerified),
            Some(_) => None,
        };
        let (Some((until, days)), None) = (&folder.listed, why) else {
            not_moved.extend(why.map(|why| (folder.digest_folder.clone(), why)));
            continue;
        };
        let anchors: Vec<ChainAnchor> = of_folder
            .iter()
            .filter_map(|(report, newest)| {
                Some(ChainAnchor {
                    trail: report.trail.clone(),
                    home_region: report.home_region.clone(),
                    backfill: report.backfill,
                    digest: (*newest)?.clone(),
                })
            })
            .collect();
        let mut chains_kept = anchors;
        if let Some(old) = kept.get(&folder.digest_folder) {
            // A chain this run did not find keeps its anchor (one that is gone failed the run,
            // and the folder is not here), unless it ends before the history now starts.
            let current =
                |a: &&ChainAnchor| folder.from.is_none_or(|from| a.digest.end_time >= from);
            for anchor in old.chains.iter().filter(current) {
                if !chains_kept.iter().any(|a| {
                    (&a.trail, &a.home_region, a.backfill)
                        == (&anchor.trail, &anchor.home_region, anchor.backfill)
                }) {
                    chains_kept.push(anchor.clone());
                }
            }
        }
        chains_kept.sort_by(|a, b| {
            (&a.trail, &a.home_region, a.backfill).cmp(&(&b.trail, &b.home_region, b.backfill))
        });
        kept.insert(
            folder.digest_folder.clone(),
            FolderCheckpoint {
                digest_folder: folder.digest_folder.clone(),
                from: folder.from,
                until: *until,
                days: days.clone(),
                chains: chains_kept,
            },
        );
    }
    let next = Checkpoint {
        format: FORMAT.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        source: source.to_string(),
        written_at,
        range_end,
        folders: kept.into_values().collect(),
    };
    (next, not_moved)
}

/// The digest folder a chain's report is of.
fn report_folder(report: &ChainReport) -> String {
    ChainId {
        prefix: report.prefix.clone(),
        organization_id: report.organization_id.clone(),
        account_id: report.account_id.clone(),
        region: report.region.clone(),
        trail: report.trail.clone(),
        home_region: report.home_region.clone(),
        backfill: report.backfill,
    }
    .digest_folder()
}

/// The start of the hour `t` falls in.
fn hour_of(t: UtcTime) -> UtcTime {
    UtcTime::from_unix(t.unix().div_euclid(3600) * 3600)
}

/// The first day a folder's history covers: the checkpoint's, or the requested range's day
/// when later (`--start-time` drops the days before it, as objects expire).
pub fn survey_from(
    checkpoint: Option<&FolderCheckpoint>,
    requested: Option<UtcTime>,
) -> Option<UtcTime> {
    let requested = requested.map(history::day_of);
    match checkpoint {
        Some(folder) => folder.from.max(requested),
        None => requested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> UtcTime {
        UtcTime::parse_field(text).expect("time")
    }

    fn sample() -> Checkpoint {
        Checkpoint {
            format: FORMAT.into(),
            tool_version: "0".into(),
            source: "s3://bucket".into(),
            written_at: t("2024-05-02T00:00:00Z"),
            range_end: t("2024-05-02T00:00:00Z"),
            folders: vec![FolderCheckpoint {
                digest_folder: "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/".into(),
                from: None,
                until: t("2024-05-01T23:00:00Z"),
                days: vec![DayRecord {
                    day: t("2024-05-01T00:00:00Z"),
                    objects: 3,
                    sha256: Sha256::of(b"day"),
                }],
                chains: vec![ChainAnchor {
                    trail: "trail".into(),
                    home_region: "us-east-1".into(),
                    backfill: false,
                    digest: VerifiedDigest {
                        bucket: "bucket".into(),
                        key:
                            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"
                                .into(),
                        sha256: Sha256::of(b"digest"),
                        signature: Some("ab".into()),
                        end_time: t("2024-05-01T23:30:00Z"),
                    },
                }],
            }],
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let checkpoint = sample();
        let read = Checkpoint::open(&checkpoint.to_bytes(), "s3://bucket").expect("opens");
        assert_eq!(read, checkpoint);
    }

    #[test]
    fn an_edited_damaged_foreign_or_other_sources_checkpoint_is_refused() {
        let bytes = sample().to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        let edited = text.replace("\"objects\": 3", "\"objects\": 4");
        assert_ne!(edited, text);
        assert!(matches!(
            Checkpoint::open(edited.as_bytes(), "s3://bucket"),
            Err(CheckpointError::Corrupt(_))
        ));
        assert!(matches!(
            Checkpoint::open(&bytes[..bytes.len() / 2], "s3://bucket"),
            Err(CheckpointError::Foreign(_))
        ));
        assert!(matches!(
            Checkpoint::open(b"{\"report\": 1}", "s3://bucket"),
            Err(CheckpointError::Foreign(_))
        ));
        let unknown = text.replacen("\"source\"", "\"extra\": 1, \"source\"", 1);
        assert!(matches!(
            Checkpoint::open(unknown.as_bytes(), "s3://bucket"),
            Err(CheckpointError::Corrupt(_))
        ));
        assert!(matches!(
            Checkpoint::open(&bytes, "s3://other"),
            Err(CheckpointError::OtherSource { .. })
        ));
    }

    #[test]
    fn a_chain_starts_at_its_anchor_or_where_the_settled_history_ends() {
        let checkpoint = sample();
        let folder = &checkpoint.folders[0];
        let chain = folder.chain_of(&folder.chains[0]).expect("a digest folder");
        assert_eq!(chain.digest_folder(), folder.digest_folder);
        // The history ends at 23:00, the anchor at 23:30: the anchor's hour is read again.
        let settled = settled_before(folder, &[]);
        assert_eq!(settled, t("2024-05-01T23:00:00Z"));
        assert_eq!(anchored_start(folder, settled, &chain, None), Some(settled));
        let after_it = Some(t("2024-05-02T00:00:00Z"));
        assert_eq!(anchored_start(folder, settled, &chain, after_it), None);
        let changed = [DayChange {
            day: t("2024-04-20T00:00:00Z"),
            objects_then: 1,
            objects_now: 0,
        }];
        let settled = settled_before(folder, &changed);
        assert_eq!(settled, t("2024-04-20T00:00:00Z"));
        assert_eq!(anchored_start(folder, settled, &chain, None), Some(settled));
        let mut other = chain.clone();
        other.trail = "other".into();
        assert_eq!(anchored_start(folder, settled, &other, None), None);
        // --start-time raises where the history starts, never lowers it.
        assert_eq!(
            survey_from(Some(folder), Some(t("2024-04-30T12:00:00Z"))),
            Some(t("2024-04-30T00:00:00Z"))
        );
        assert_eq!(survey_from(Some(folder), None), None);
    }
}
