//! The logs the digests list: checked against an authentic digest ([`LogLedger::check`], which
//! takes a [`VerifiedDigest`]), or noted as listed only by digests that could not be verified,
//! and at the end reported as `unverified` ([`LogLedger::unverified_logs`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::decide::VerifiedDigest;
use super::ids::{LogKeySet, PairId};
use super::{LogCheck, WalkSink};
use crate::digest::LogFileRecord;
use crate::reason::ChainReason;
use crate::report::FileEntry;
use crate::status::{FileKind, Status};

/// How many of the logs listed by one digest that could not be verified are reported one by
/// one. Real digests list at most a few thousand logs (an hour of one region); of the rest of
/// a longer list, only the files the log folder holds are reported, so what such a digest
/// costs the report is bounded by the files present, not by what it claims.
pub(super) const MAX_UNVERIFIED_LISTED: usize = 10_000;

/// The digest that could not be verified that lists a log (the first to, newest first).
struct ListedBy {
    url: Arc<str>,
    key: Arc<str>,
    status: Status,
}

/// What the walk knows of the logs listed so far.
#[derive(Default)]
pub(super) struct LogLedger {
    /// Every log some readable digest lists, and with which hash an authentic one does.
    pub listed: LogKeySet,
    /// Listed by an unverified digest past its first [`MAX_UNVERIFIED_LISTED`].
    pub unreported: LogKeySet,
    /// How many log checks were handed over.
    pub check_count: usize,
    /// The rare logs authentic digests list with a second hash.
    other_hashes: HashSet<PairId>,
    /// Logs listed by digests that could not be verified, with the first such digest.
    untrusted: BTreeMap<(String, String), ListedBy>,
}

impl LogLedger {
    /// Hands `sink` a check of each log `digest` lists against the hash it records, read at
    /// (`bucket`, `key`). The same log with the same hash is checked once, against the newest
    /// digest listing it.
    pub fn check(
        &mut self,
        digest: VerifiedDigest,
        bucket: &str,
        key: &str,
        sink: &mut dyn WalkSink,
    ) -> std::io::Result<()> {
        // Shared by all the checks of the digest (and the bucket by most of them).
        let digest_key: Arc<str> = Arc::from(key);
        let mut log_bucket: Arc<str> = Arc::from(bucket);
        for log in digest.into_log_files() {
            if !self.listed.insert_checked(
                &log.bucket,
                &log.object,
                &log.hash,
                &mut self.other_hashes,
            ) {
                continue;
            }
            if *log_bucket != *log.bucket {
                log_bucket = Arc::from(log.bucket.as_str());
            }
            sink.log_check(LogCheck {
                bucket: log_bucket.clone(),
                key: log.object,
                expected: log.hash,
                digest_key: digest_key.clone(),
            })?;
            self.check_count += 1;
        }
        Ok(())
    }

    /// Notes the logs a digest that could not be verified lists (read at `url`, `key`, with
    /// `status`): the first [`MAX_UNVERIFIED_LISTED`] to report one by one, the rest only as
    /// names.
    pub fn list_unverified(
        &mut self,
        logs: Vec<LogFileRecord>,
        url: &str,
        key: &str,
        status: Status,
    ) {
        let url: Arc<str> = Arc::from(url);
        let digest_key: Arc<str> = Arc::from(key);
        for (nth, log) in logs.into_iter().enumerate() {
            if nth >= MAX_UNVERIFIED_LISTED {
                // Kept as compactly as a listed log; reported if the folder holds it.
                self.unreported.insert(&log.bucket, &log.object);
                continue;
            }
            self.listed.insert(&log.bucket, &log.object);
            self.untrusted
                .entry((log.bucket, log.object))
                .or_insert_with(|| ListedBy {
                    url: url.clone(),
                    key: digest_key.clone(),
                    status,
                });
        }
    }

    /// Every check has been handed over: the second hashes are not needed any more.
    pub fn end_checks(&mut self) {
        self.other_hashes = HashSet::new();
    }

    /// The logs listed only by digests that could not be verified (no authentic digest lists
    /// them), as `unverified` entries; and what is left of the ledger.
    pub fn unverified_logs(self, backfill: bool) -> (Vec<FileEntry>, LogKeySet, LogKeySet) {
        let LogLedger {
            listed,
            unreported,
            untrusted,
            ..
        } = self;
        let mut entries = Vec::new();
        for ((log_bucket, log_key), listed_by) in untrusted {
            if listed.is_checked(&log_bucket, &log_key) {
                continue;
            }
            let mut entry =
                FileEntry::new(FileKind::Log, &log_bucket, &log_key, Status::Unverified)
                    .with_detail(ChainReason::ListedOnlyBy {
                        digest_url: listed_by.url,
                        status: listed_by.status,
                    });
            entry.digest = Some(listed_by.key.to_string());
            entry.backfill = backfill;
            entries.push(entry);
        }
        (entries, listed, unreported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Sha256;

    fn record(key: &str) -> LogFileRecord {
        LogFileRecord {
            bucket: "bucket".into(),
            object: key.into(),
            hash: Sha256([3; 32]),
            newest_event_time: None,
            oldest_event_time: None,
        }
    }

    #[test]
    fn a_log_listed_only_by_unverified_digests_names_the_first_of_them() {
        let mut ledger = LogLedger::default();
        ledger.list_unverified(
            vec![record("a"), record("b")],
            "s3://bucket/new",
            "new",
            Status::Unsigned,
        );
        ledger.list_unverified(
            vec![record("a")],
            "s3://bucket/old",
            "old",
            Status::SignatureInvalid,
        );
        let (entries, listed, unreported) = ledger.unverified_logs(true);
        assert_eq!(listed.len(), 2);
        assert!(unreported.is_empty());
        let a = &entries[0];
        assert_eq!((a.key.as_str(), a.status), ("a", Status::Unverified));
        assert_eq!(a.digest.as_deref(), Some("new"));
        assert!(a.backfill);
        assert_eq!(
            a.detail,
            Some(
                ChainReason::ListedOnlyBy {
                    digest_url: Arc::from("s3://bucket/new"),
                    status: Status::Unsigned
                }
                .into()
            )
        );
    }

    #[test]
    fn past_the_cap_an_unverified_list_is_kept_only_as_names() {
        let mut ledger = LogLedger::default();
        let logs = (0..MAX_UNVERIFIED_LISTED + 2)
            .map(|n| record(&n.to_string()))
            .collect();
        ledger.list_unverified(logs, "s3://bucket/d", "d", Status::Unsigned);
        let (entries, listed, unreported) = ledger.unverified_logs(false);
        assert_eq!(entries.len(), MAX_UNVERIFIED_LISTED);
        assert_eq!(listed.len(), MAX_UNVERIFIED_LISTED);
        assert_eq!(unreported.len(), 2);
        assert!(unreported.contains("bucket", &MAX_UNVERIFIED_LISTED.to_string()));
    }
}
