//! How a run fails as a whole, as opposed to a file's verdict: [`ValidateError`]. Everything
//! the source does wrong becomes some file's status; these are the failures no verdict can
//! stand for (this machine's, or a source with nothing to verify).

use crate::store::StoreError;

/// How [`validate`](crate::validate) fails as a whole: failures no file's verdict can stand for.
#[derive(Debug)]
pub enum ValidateError {
    /// A listing failed: without it we cannot tell which digests exist.
    Listing {
        /// The key prefix whose listing failed (`AWSLogs/`, a digest folder, ...).
        prefix: String,
        /// Why the store could not list it.
        error: StoreError,
    },
    /// The source holds no digest folder at all.
    NoTrail {
        /// The source, as its store describes it (a directory path, or `s3://BUCKET`).
        searched: String,
    },
    /// The worker threads could not be started.
    ThreadPool(rayon::ThreadPoolBuildError),
    /// The temporary files that hold per-log state could not be written or read back.
    Spill(std::io::Error),
}

impl ValidateError {
    /// The failure of listing `prefix`, for `map_err`.
    pub(super) fn listing(prefix: &str) -> impl FnOnce(StoreError) -> ValidateError + '_ {
        move |error| ValidateError::Listing {
            prefix: prefix.to_string(),
            error,
        }
    }
}

impl std::fmt::Display for ValidateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidateError::Listing { prefix, error } => {
                write!(f, "listing {prefix:?} failed: {error}")
            }
            ValidateError::NoTrail { searched } => {
                write!(f, "no CloudTrail digests found under {searched} (is this the bucket or copy of a trail with log file validation?)")
            }
            ValidateError::ThreadPool(e) => write!(f, "cannot start worker threads: {e}"),
            ValidateError::Spill(e) => write!(
                f,
                "temporary files in {} failed: {e}",
                std::env::temp_dir().display()
            ),
        }
    }
}

impl std::error::Error for ValidateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ValidateError::Listing { error, .. } => Some(error),
            ValidateError::NoTrail { .. } => None,
            ValidateError::ThreadPool(e) => Some(e),
            ValidateError::Spill(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_failed_listing_names_the_prefix_and_keeps_the_store_error_as_its_source() {
        let e = ValidateError::listing("AWSLogs/")(StoreError::Read("timed out".into()));
        assert_eq!(
            e.to_string(),
            "listing \"AWSLogs/\" failed: could not be read: timed out"
        );
        let source = e.source().map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("could not be read: timed out"));
    }

    #[test]
    fn a_spill_failure_says_where_and_why() {
        let e = ValidateError::Spill(std::io::Error::other("disk full"));
        assert!(e.to_string().starts_with("temporary files in "));
        assert!(e.to_string().ends_with(" failed: disk full"));
        assert!(e.source().is_some());
    }
}
