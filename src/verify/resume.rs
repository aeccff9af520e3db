//! A run with `--checkpoint`: each folder's history listed and compared before its chains are
//! walked, each chain started at its anchor, and each anchor checked once the walk is done (see
//! [`crate::checkpoint`] for what a checkpoint holds and promises).

use std::borrow::Cow;

use super::verdicts::{ChainWork, Sink};
use super::ValidateOptions;
use crate::checkpoint::{self, ChainAnchor, FolderCheckpoint, FolderHistory};
use crate::digest::ChainId;
use crate::hash::Sha256;
use crate::history;
use crate::history::{DayChange, Settled, Survey};
use crate::report::{FileEntry, RequestedRange};
use crate::status::{FileKind, Status};
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;

/// The digest folders of the checkpoint that the options' filter wants.
pub(super) fn checkpointed_folders(options: &ValidateOptions) -> Vec<String> {
    let Some(resume) = &options.checkpoint else {
        return Vec::new();
    };
    resume
        .folders()
        .filter(|folder| {
            ChainId::of_digest_folder(&folder.digest_folder, "", "").is_some_and(|id| {
                options.filter.wants_account(&id.account_id)
                    && options.filter.wants_region(&id.region)
            })
        })
        .map(|folder| folder.digest_folder.clone())
        .collect()
}

/// Where one folder's verification starts, and what its history listing found.
pub(super) struct FolderPlan<'a> {
    checkpoint: Option<&'a FolderCheckpoint>,
    /// `None` without `--checkpoint`.
    history: Option<Listed>,
    /// The folder's range start (the earliest of its chains').
    start: Option<UtcTime>,
    /// See [`checkpoint::settled_before`]; `None` for a folder the checkpoint does not hold.
    settled_before: Option<UtcTime>,
    /// Where a chain the checkpoint does not hold starts: `--start-time`, or its beginning.
    unanchored_start: Option<UtcTime>,
}

/// The folder's history listing, while its chains are walked.
struct Listed {
    digest_folder: String,
    from: Option<UtcTime>,
    survey: Result<Survey, String>,
    changes: Vec<DayChange>,
    partial: bool,
}

/// What a chain's walk saw of its anchor: the worst verdict given at its key, and the SHA-256
/// of the bytes when they were valid.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct AnchorSeen {
    pub status: Option<Status>,
    pub sha256: Option<Sha256>,
}

impl<'a> FolderPlan<'a> {
    /// Lists the folder's history (with `--checkpoint`) and compares it with what the
    /// checkpoint recorded; without one, the folder starts where the options' range does.
    pub fn of(store: &dyn ObjectStore, options: &'a ValidateOptions, folder: &str) -> Self {
        let requested = options.range.start;
        let Some(resume) = &options.checkpoint else {
            return FolderPlan {
                checkpoint: None,
                history: None,
                start: requested,
                settled_before: None,
                unanchored_start: requested,
            };
        };
        let checkpoint = resume.folder(folder);
        let from = checkpoint::survey_from(checkpoint, requested);
        let survey = history::survey(store, folder, from, options.range.end)
            .map_err(|e| format!("listing its history for the checkpoint failed: {e}"));
        let changes = match (checkpoint, &survey) {
            (Some(recorded), Ok(now)) => {
                let kept: Vec<_> = recorded
                    .days
                    .iter()
                    .filter(|d| from.is_none_or(|from| d.day >= from))
                    .copied()
                    .collect();
                history::compare(&kept, &now.records_until(recorded.until))
            }
            _ => Vec::new(),
        };
        let settled_before = checkpoint.map(|c| checkpoint::settled_before(c, &changes));
        let found: Vec<&ChainId> = survey.iter().flat_map(|s| s.chains.keys()).collect();
        let partial = found.iter().any(|chain| !options.filter.wants_chain(chain));
        // The folder starts with its earliest chain: the checkpoint's from where the settled
        // history ends (or their anchors, when older), one new to the folder from its beginning.
        let anchored = |chain: &ChainId| {
            checkpoint
                .zip(settled_before)
                .and_then(|(c, settled)| checkpoint::anchored_start(c, settled, chain, requested))
        };
        let starts = checkpoint
            .into_iter()
            .flat_map(|c| c.chains.iter().filter_map(|a| c.chain_of(a)))
            .chain(found.iter().map(|c| (*c).clone()))
            .filter(|chain| options.filter.wants_chain(chain))
            .map(|chain| anchored(&chain).or(requested));
        let start = match checkpoint {
            Some(_) => starts.fold(settled_before, |a, b| match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            }),
            None => requested,
        };
        FolderPlan {
            checkpoint,
            history: Some(Listed {
                digest_folder: folder.to_string(),
                from,
                survey,
                changes,
                partial,
            }),
            start,
            settled_before,
            unanchored_start: requested,
        }
    }

    /// What the folder's history covers, unchanged (see [`checkpoint::settled_before`]): what
    /// the log scan need not look at.
    pub fn settled(&self) -> Option<Settled> {
        let from = self.history.as_ref().and_then(|h| h.from);
        self.settled_before.map(|before| Settled { from, before })
    }

    /// The options for the folder: the range starting where the folder does.
    pub fn folder_options<'o>(&self, options: &'o ValidateOptions) -> Cow<'o, ValidateOptions> {
        if self.start == options.range.start {
            return Cow::Borrowed(options);
        }
        Cow::Owned(ValidateOptions {
            range: RequestedRange {
                start: self.start,
                end: options.range.end,
            },
            ..options.clone()
        })
    }

    /// The range of one chain: from its anchor (or where the settled history ends, when
    /// earlier); a chain the checkpoint does not hold from `--start-time` or its beginning.
    pub fn chain_range(&self, chain: &ChainId, range: &RequestedRange) -> RequestedRange {
        let anchored = self
            .checkpoint
            .zip(self.settled_before)
            .and_then(|(c, settled)| {
                checkpoint::anchored_start(c, settled, chain, self.unanchored_start)
            });
        RequestedRange {
            start: anchored.or(self.unanchored_start),
            end: range.end,
        }
    }

    /// What the end of the run needs of the folder's history, once its chains are walked.
    pub fn into_history(self, works: &[ChainWork]) -> Option<FolderHistory> {
        let listed = self.history?;
        Some(FolderHistory::of(
            &listed.digest_folder,
            listed.from,
            listed.survey,
            listed.changes,
            listed.partial,
            works
                .iter()
                .filter_map(|w| w.report.newest_verified_digest.as_ref())
                .map(|d| d.end_time),
        ))
    }

    /// The key of `chain`'s anchor, for its walk to watch.
    pub fn anchor_key(&self, chain: &ChainId) -> Option<&str> {
        Some(self.checkpoint?.anchor(chain)?.digest.key.as_str())
    }

    /// Checks every anchor of the folder the filter wants against what the walks saw (a chain
    /// the walks did not find joins `works`), and reports a history that could not be listed.
    pub fn check_anchors(
        &self,
        store: &dyn ObjectStore,
        options: &ValidateOptions,
        works: &mut Vec<ChainWork>,
        sink: &Sink,
    ) {
        let recorded = self.checkpoint.into_iter();
        for (recorded, anchor) in recorded.flat_map(|c| c.chains.iter().map(move |a| (c, a))) {
            let Some(chain) = recorded.chain_of(anchor) else {
                continue;
            };
            // An anchor before --start-time is not asked for (its objects may have expired).
            let before_start = self
                .unanchored_start
                .is_some_and(|start| anchor.digest.end_time < start);
            if before_start
                || !options.filter.wants_account(&chain.account_id)
                || !options.filter.wants_region(&chain.region)
                || !options.filter.wants_chain(&chain)
            {
                continue;
            }
            let at = match works.iter().position(|w| w.id == chain) {
                Some(at) => at,
                None => {
                    works.push(ChainWork::empty(store, chain));
                    works.len() - 1
                }
            };
            let work = &mut works[at];
            if let Some(entry) = anchor_finding(store, anchor, work.anchor_seen) {
                work.decide(entry, sink);
            }
        }
        // Reported once the chains of the folder are all there, found or not.
        if let Some(Err(why)) = self.history.as_ref().map(|h| &h.survey) {
            if let (Some(work), Some(history)) = (works.first_mut(), &self.history) {
                let entry = FileEntry::new(
                    FileKind::Digest,
                    store.bucket(),
                    &history.digest_folder,
                    Status::Error,
                )
                .with_detail(format!(
                    "{why}: the checkpoint keeps this folder where it was"
                ));
                work.decide(entry, sink);
            }
        }
    }
}

/// What is wrong with an anchor, when anything is that the walk did not already report.
fn anchor_finding(
    store: &dyn ObjectStore,
    anchor: &ChainAnchor,
    seen: AnchorSeen,
) -> Option<FileEntry> {
    let digest = &anchor.digest;
    let entry = |status: Status, detail: String| {
        let mut entry = FileEntry::new(FileKind::Digest, &digest.bucket, &digest.key, status)
            .with_detail(detail);
        entry.backfill = anchor.backfill;
        entry.expected_sha256 = Some(digest.sha256);
        entry
    };
    match seen {
        AnchorSeen {
            status: Some(Status::Valid),
            sha256: Some(sha256),
        } if sha256 == digest.sha256 => None,
        AnchorSeen {
            status: Some(Status::Valid),
            sha256: Some(sha256),
        } => Some(entry(
            Status::HashMismatch,
            format!(
                "the checkpoint recorded this digest with SHA-256 {}; it is now {sha256}",
                digest.sha256
            ),
        )),
        // The walk gave the anchor a verdict of its own, which the report already shows.
        AnchorSeen {
            status: Some(_), ..
        } => None,
        AnchorSeen { status: None, .. } => Some(match store.get(&digest.bucket, &digest.key) {
            Err(StoreError::NotFound) => entry(
                Status::NotFound,
                format!(
                    "the checkpoint's newest valid digest of this chain (ending {}) is gone, and no digest after it names it: the chain was cut back since the checkpoint was written",
                    digest.end_time
                ),
            ),
            Err(e) => entry(
                e.status(),
                format!("the checkpoint's newest valid digest could not be read: {e}"),
            ),
            Ok(_) => entry(
                Status::Error,
                "the checkpoint's newest valid digest is there, but the run did not reach it"
                    .into(),
            ),
        }),
    }
}
