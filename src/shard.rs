//! Shards: one run split over many machines by account-and-region folder.
//!
//! The unit is the digest folder (`[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail-Digest/REGION/`):
//! all of its trails and backfill chains share the log folder's scan for unreferenced logs, so
//! they are verified together. Which shard a folder belongs to is a function of its path alone
//! ([`Shard::owner_of`]): the first 8 bytes of the path's SHA-256, big-endian, modulo the
//! shard count. It does not depend on what else the source holds, on the machine, or on the
//! version of ctverify, so every folder is in exactly one shard whoever runs it, and a shard
//! run again verifies the same folders.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 0 to `count - 1`.
    pub index: u32,
    /// How many shards the run is split into.
    pub count: u32,
}

/// Why a shard could not be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardError {
    /// `--shard` is not `I/N` with numbers.
    Malformed(String),
    /// The count is 0, or the index is not below it.
    OutOfRange {
        /// The index given.
        index: u64,
        /// The count given.
        count: u64,
    },
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardError::Malformed(text) => write!(
                f,
                "{text:?} is not a shard: expected I/N, the 0-based index and the count (0/4 .. 3/4)"
            ),
            ShardError::OutOfRange { index, count } if *count == 0 => {
                write!(f, "shard {index}/{count}: the count must be at least 1")
            }
            ShardError::OutOfRange { index, count } if *count > MAX_SHARDS => {
                write!(f, "shard {index}/{count}: at most {MAX_SHARDS} shards")
            }
            ShardError::OutOfRange { index, count } => write!(
                f,
                "shard {index}/{count}: the index is 0-based and must be below the count ({})",
                count - 1
            ),
        }
    }
}

impl std::error::Error for ShardError {}

/// The most shards a run may be split into: far more than there are folders to share.
pub const MAX_SHARDS: u64 = 100_000;

impl Shard {
    /// Shard `index` of `count`, when `index < count <= MAX_SHARDS`.
    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count == 0 || index >= count || count > MAX_SHARDS {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard {
            index: index as u32,
            count: count as u32,
        })
    }

    /// From `I/N`, as `--shard` takes it.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let malformed = || ShardError::Malformed(text.to_string());
        let (index, count) = text.trim().split_once('/').ok_or_else(malformed)?;
        let number = |s: &str| {
            // Digits only: no sign, no spaces, no `0x`.
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            s.parse::<u64>().map_err(|_| malformed())
        };
        Shard::new(number(index)?, number(count)?)
    }

    /// The shard, of `count`, that the folder at `folder` belongs to.
    pub fn owner_of(folder: &str, count: u32) -> u32 {
        let hash = sha2::Sha256::digest(folder.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
    }

    /// Whether the folder at `folder` is this shard's.
    pub fn holds(&self, folder: &str) -> bool {
        Shard::owner_of(folder, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_index_over_count() {
        assert_eq!(Shard::parse("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(Shard::parse("3/4"), Ok(Shard { index: 3, count: 4 }));
        for bad in [
            "", "1", "/4", "1/", "a/4", "1/b", "-1/4", "+1/4", "1/4/5", " 1 /4",
        ] {
            assert!(
                matches!(Shard::parse(bad), Err(ShardError::Malformed(_))),
                "{bad:?}"
            );
        }
        for (text, index, count) in [("4/4", 4, 4), ("0/0", 0, 0), ("0/100001", 0, 100_001)] {
            assert_eq!(
                Shard::parse(text),
                Err(ShardError::OutOfRange { index, count }),
                "{text}"
            );
        }
    }

    #[test]
    fn every_folder_is_in_exactly_one_shard() {
        let folders: Vec<String> = (0..200)
            .map(|i| format!("AWSLogs/{:012}/CloudTrail-Digest/us-east-1/", i))
            .collect();
        for count in [1u32, 2, 3, 7, 16] {
            let mut per_shard = vec![0usize; count as usize];
            for folder in &folders {
                let owners: Vec<u32> = (0..count)
                    .filter(|&index| Shard { index, count }.holds(folder))
                    .collect();
                assert_eq!(owners, vec![Shard::owner_of(folder, count)]);
                per_shard[owners[0] as usize] += 1;
            }
            // A hash spreads them: no shard is left with nothing out of 200 folders.
            assert!(per_shard.iter().all(|&n| n > 0), "{count}: {per_shard:?}");
        }
    }

    #[test]
    fn the_owner_is_a_fixed_function_of_the_path() {
        // Computed apart from this code (Python: int.from_bytes(sha256(path)[:8], "big") % N).
        // A change here moves folders between the shards of runs already made, which a merge
        // of old and new reports then refuses.
        let folder = "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/";
        for (count, owner) in [(1, 0), (2, 1), (5, 0), (1000, 5)] {
            assert_eq!(Shard::owner_of(folder, count), owner, "of {count}");
        }
    }
}

/// What a shard's report carries beyond its own verdicts, for `ctverify merge`: what the shard
/// covered, and its chains as they were before their gaps and tails were settled. Settling
/// takes evidence from other folders (the trail's calls, logged in its home region; the same
/// trail's other regions), which other shards hold, so the merge settles again over all of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardPart {
    /// Which shard.
    #[serde(flatten)]
    pub shard: Shard,
    /// The account-and-region folders this shard verified, in order: those of the folders
    /// found that are its own.
    pub folders: Vec<String>,
    /// Every digest folder the shard's search found, its own and the other shards': the merge
    /// checks that each was verified by the shard it belongs to.
    pub folders_found: Vec<String>,
    /// Prefixes the shard's search could not list: every shard that meets one reports it (its
    /// folders are unknown), and the merge reports it once.
    pub unsearched: Vec<String>,
    /// How the run was made: what every shard of one run must share. Filled in by the command
    /// line, which knows the source as given.
    pub run: Option<ShardRun>,
    /// The chains before settling, and the evidence settling uses.
    pub for_merge: ForMerge,
}

/// How a shard's run was made: shards of one run agree on all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRun {
    /// The version of ctverify: reports of another version may settle differently.
    pub version: String,
    /// SOURCE as given.
    pub source: String,
    /// The bucket verified, and where its name came from.
    pub bucket: String,
    /// Where `bucket` came from.
    pub bucket_from: crate::report::BucketOrigin,
    /// The range asked for.
    pub requested: crate::report::RequestedRange,
    /// `--trail`.
    pub trails: Vec<String>,
    /// `--account-id`.
    pub accounts: Vec<String>,
    /// `--region`.
    pub regions: Vec<String>,
    /// The home region `--trail-arn` names.
    pub home_region: Option<String>,
    /// `--require-continuous`.
    pub require_continuous: bool,
    /// `--verbose`: which files the report lists.
    pub verbose: bool,
    /// What GetTrailStatus said, when the shard asked (`--trail-arn` on an S3 source). Not
    /// compared: shards ask at different times.
    pub trail_status: Option<crate::continuity::TrailStatus>,
    /// Why earlier versions could not be read, when the shard said. Not compared.
    pub versions_unread: Option<String>,
}

impl ShardRun {
    /// Whether `other` is a shard of the same run: everything but what each shard asked on
    /// its own (GetTrailStatus, earlier versions).
    pub fn same_run_as(&self, other: &ShardRun) -> bool {
        let shared = |r: &ShardRun| ShardRun {
            trail_status: None,
            versions_unread: None,
            ..r.clone()
        };
        shared(self) == shared(other)
    }
}

/// What settling a run's chains needs, from one shard.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ForMerge {
    /// The shard's chains before settling, in the order of the shard's report.
    pub chains: Vec<UnsettledChain>,
    /// The trail's calls found in logs that verified.
    pub trail_events: Vec<crate::trail_events::TrailEvent>,
    /// The trail's calls found in logs no digest covers.
    pub unverified_trail_events: Vec<crate::trail_events::TrailEvent>,
    /// How many more were found and not kept.
    pub trail_events_left_out: u64,
}

/// One chain of a shard before its gaps and tail were settled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnsettledChain {
    /// The digest folder it was verified in (or the prefix the search could not list).
    pub folder: String,
    /// Its report: counts, gaps and tail as the walk left them.
    pub report: crate::report::ChainReport,
    /// The logs delivered in each of its gaps, in the order of `report.gaps`.
    pub gaps_logs_after: Vec<crate::continuity::LogsAfter>,
    /// The logs delivered in its tail.
    pub tail_logs_after: Option<crate::continuity::LogsAfter>,
    /// Its windows with no log (the text report lists them, verbose).
    pub empty_windows: Vec<crate::report::TimeRange>,
    /// The files the report shows for it.
    pub files: Vec<ShardFile>,
}

/// A file of a shard's chain, with what the report does not write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardFile {
    /// The file's entry.
    #[serde(flatten)]
    pub entry: crate::report::FileEntry,
    /// Whether the text report marks it `(backfill)`.
    pub backfill: bool,
}

impl ShardPart {
    /// Keeps what the merge needs of a shard's folders (`done`, with their chains before
    /// settling) and the evidence the run found.
    pub(crate) fn before_settling(
        shard: Shard,
        folders_found: Vec<String>,
        unsearched: &[String],
        done: &[(String, Vec<crate::verify::ChainResult>)],
        events: &crate::continuity::FoundEvents,
        trail_events_left_out: u64,
    ) -> ShardPart {
        let chains = done
            .iter()
            .flat_map(|(folder, results)| {
                results.iter().map(move |result| {
                    let mut report = result.report.clone();
                    let gaps_logs_after = report
                        .gaps
                        .iter_mut()
                        .map(|g| std::mem::take(&mut g.logs_after))
                        .collect();
                    let tail_logs_after = report
                        .tail
                        .as_mut()
                        .map(|t| std::mem::take(&mut t.logs_after));
                    UnsettledChain {
                        folder: folder.clone(),
                        empty_windows: std::mem::take(&mut report.empty_windows),
                        gaps_logs_after,
                        tail_logs_after,
                        report,
                        files: result
                            .files
                            .iter()
                            .map(|entry| ShardFile {
                                backfill: entry.backfill,
                                entry: entry.clone(),
                            })
                            .collect(),
                    }
                })
            })
            .collect();
        ShardPart {
            shard,
            folders: done
                .iter()
                .map(|(folder, _)| folder.clone())
                .filter(|folder| !unsearched.contains(folder))
                .collect(),
            folders_found,
            unsearched: unsearched.to_vec(),
            run: None,
            for_merge: ForMerge {
                chains,
                trail_events: events.verified.clone(),
                unverified_trail_events: events.unverified.clone(),
                trail_events_left_out,
            },
        }
    }
}
