//! The verdicts a file can get, as cli.md defines them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Valid,
    NotFound,
    Moved,
    SignatureInvalid,
    HashMismatch,
    KeyNotFound,
    InvalidFormat,
    TrailingData,
    Unreferenced,
    Unsigned,
    Unverified,
    /// In an archive storage class (GLACIER, DEEP_ARCHIVE): S3 will not hand it over until it
    /// is restored, so it could not be checked.
    Archived,
    Error,
}

/// How a status counts in summaries and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Valid,
    /// Evidence of tampering or loss: exit 1.
    Invalid,
    /// Could not be checked, which proves nothing either way: exit 3.
    Unverified,
}

impl Status {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Digest,
    Log,
}

/// Valid / invalid / unverified tallies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub valid: u64,
    pub invalid: u64,
    pub unverified: u64,
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        match status.outcome() {
            Outcome::Valid => self.valid += 1,
            Outcome::Invalid => self.invalid += 1,
            Outcome::Unverified => self.unverified += 1,
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.unverified += other.unverified;
    }

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
