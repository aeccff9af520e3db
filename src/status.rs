//! The verdicts a file can get, as cli.md defines them.

use serde::{Deserialize, Serialize};

/// The verdict on one digest or log file, as the report writes it (`snake_case`: `not_found`,
/// `signature_invalid`, ...; see [`Status::as_str`]). What it counts as is [`Status::outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A digest whose signature, location and chain links all check; a log whose hash matches
    /// a valid digest's record.
    Valid,
    /// A digest the chain or the listing says should be there, or a log a digest references,
    /// that is not there.
    NotFound,
    /// Found at another key: a digest's own fields name its original key; a log with the same
    /// hash was found elsewhere (the entry's `moved_to` says where).
    Moved,
    /// A digest whose RSA signature does not verify, or disagrees with its successor's
    /// `previousDigestSignature`.
    SignatureInvalid,
    /// A digest whose bytes disagree with its successor's `previousDigestHashValue`; a log whose
    /// inflated bytes' SHA-256 differs from its digest's record.
    HashMismatch,
    /// A digest signed with a key fingerprint for which no public key of its region is known.
    KeyNotFound,
    /// A digest that is not gzip, not JSON, or lacks or malforms required fields; a log that is
    /// not gzip.
    InvalidFormat,
    /// Bytes after the gzip member (digest or log).
    TrailingData,
    /// An object in a digest folder that is no digest of a chain, or a log file inside a
    /// verified window that no digest lists.
    Unreferenced,
    /// A digest with no signature to check it with: the newest digest of a copy with no
    /// metadata for its chain at all. (A digest that lacks one in S3, or in a copy holding its
    /// chain's other signatures, is [`Status::SignatureInvalid`].)
    Unsigned,
    /// A log listed only by digests that failed or are unsigned.
    Unverified,
    /// In an archive storage class (GLACIER, DEEP_ARCHIVE): S3 will not hand it over until it
    /// is restored, so it could not be checked.
    Archived,
    /// Could not be read, after retries; the entry's detail names the cause. Never tampering.
    Error,
}

/// How a status counts in summaries and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified intact.
    Valid,
    /// Evidence of tampering or loss: exit 1.
    Invalid,
    /// Could not be checked, which proves nothing either way: exit 3.
    Unverified,
}

impl Status {
    /// What the status counts as: [`Outcome::Invalid`] for evidence of tampering or loss,
    /// [`Outcome::Unverified`] for `unsigned`, `unverified`, `archived` and `error`.
    pub fn outcome(self) -> Outcome {
        match self {
            Status::Valid => Outcome::Valid,
            Status::Unsigned | Status::Unverified | Status::Archived | Status::Error => {
                Outcome::Unverified
            }
            Status::NotFound
            | Status::Moved
            | Status::SignatureInvalid
            | Status::HashMismatch
            | Status::KeyNotFound
            | Status::InvalidFormat
            | Status::TrailingData
            | Status::Unreferenced => Outcome::Invalid,
        }
    }

    /// The name the reports use (`valid`, `not_found`, ...); the same as its JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::NotFound => "not_found",
            Status::Moved => "moved",
            Status::SignatureInvalid => "signature_invalid",
            Status::HashMismatch => "hash_mismatch",
            Status::KeyNotFound => "key_not_found",
            Status::InvalidFormat => "invalid_format",
            Status::TrailingData => "trailing_data",
            Status::Unreferenced => "unreferenced",
            Status::Unsigned => "unsigned",
            Status::Unverified => "unverified",
            Status::Archived => "archived",
            Status::Error => "error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of CloudTrail file an entry is (the report's `kind`: `digest` or `log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A signed file: a trail's hourly digest (`.../CloudTrail-Digest/REGION/...json.gz`), or a
    /// CloudTrail Lake query export's sign file.
    Digest,
    /// A file whose hash a signed file records: a trail's log file (`.../CloudTrail/REGION/...`),
    /// or a Lake query's result file.
    Log,
}

/// Valid / invalid / unverified tallies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Files whose status counts as [`Outcome::Valid`].
    pub valid: u64,
    /// Files whose status counts as [`Outcome::Invalid`].
    pub invalid: u64,
    /// Files whose status counts as [`Outcome::Unverified`].
    pub unverified: u64,
}

impl Counts {
    /// Counts one file with this status under its [`Status::outcome`].
    pub fn add(&mut self, status: Status) {
        match status.outcome() {
            Outcome::Valid => self.valid += 1,
            Outcome::Invalid => self.invalid += 1,
            Outcome::Unverified => self.unverified += 1,
        }
    }

    /// Adds another tally to this one (chains into a summary, shards into one run).
    pub fn merge(&mut self, other: &Counts) {
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.unverified += other.unverified;
    }

    /// Every file counted, whatever its outcome.
    pub fn total(&self) -> u64 {
        self.valid + self.invalid + self.unverified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archived_file_counts_as_unverified_never_as_tampering() {
        assert_eq!(Status::Archived.outcome(), Outcome::Unverified);
        assert_eq!(Status::Archived.as_str(), "archived");
        assert_eq!(
            serde_json::to_value(Status::Archived).ok(),
            Some(serde_json::Value::from("archived"))
        );
        let mut counts = Counts::default();
        counts.add(Status::Archived);
        assert_eq!((counts.valid, counts.invalid, counts.unverified), (0, 0, 1));
    }
}
