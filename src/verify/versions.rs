//! Earlier versions of a file found missing or changed, in a versioned bucket: when it was
//! deleted (`deleted_at`), and which earlier version holds the bytes its authentic record
//! names (`recoverable_version`). The verdict stays what it is: the bucket was changed; this
//! says what can still be had.
//!
//! Only files whose verdict rests on a hash an authentic record gives (a log's digest, a
//! digest's signed successor) are looked up, and only when the store says the bucket keeps
//! versions, so an intact trail costs no request. A version is recoverable only when its bytes
//! pass the same strict gzip reader and SHA-256 check the file itself failed: for a digest,
//! that is exactly the check its successor's link makes. Nothing found here is a verdict, and
//! a lookup that fails is said once for the run, never per file.

use std::collections::HashSet;
use std::sync::Mutex;

use super::retry::{with_retries, Attempt};
use crate::gzip::{inflate_and_hash, GzipError, Keep, DIGEST_SIZE_CAP};
use crate::hash::Sha256;
use crate::report::FileEntry;
use crate::status::{FileKind, Status};
use crate::store::{ObjectStore, ObjectVersion, StoreError};

/// Earlier versions read per file at most: each is read whole, and a key overwritten
/// thousands of times must not make the run read thousands of objects for one file.
const MAX_VERSIONS_READ: usize = 100;

/// The lookups of one run, over one store.
pub(super) struct Versions<'a> {
    store: &'a dyn ObjectStore,
    /// Buckets whose versions could not be read: not asked again.
    given_up: Mutex<HashSet<String>>,
    /// Why versions could not be read, the first time they could not: the report says it
    /// once.
    unread: Mutex<Option<String>>,
}

impl<'a> Versions<'a> {
    pub fn new(store: &'a dyn ObjectStore) -> Versions<'a> {
        Versions {
            store,
            given_up: Mutex::new(HashSet::new()),
            unread: Mutex::new(None),
        }
    }

    /// What the report says once about versions that could not be read, if any could not.
    pub fn into_unread(self) -> Option<String> {
        self.unread.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `deleted_at` and `recoverable_version` to `entry` when it is a file not found or
    /// changed, with a recorded hash, in a bucket that keeps versions.
    pub fn annotate(&self, entry: &mut FileEntry) {
        if !matches!(entry.status, Status::NotFound | Status::HashMismatch) {
            return;
        }
        let Some(expected) = entry.expected_sha256 else {
            return;
        };
        if self.gave_up_on(&entry.bucket) {
            return;
        }
        let listed = with_retries(|| match self.store.versions(&entry.bucket, &entry.key) {
            Ok(versions) => Attempt::Final(Ok(versions)),
            Err(e @ StoreError::Read(_)) => Attempt::Transient(Err(e)),
            Err(e) => Attempt::Final(Err(e)),
        });
        let versions = match listed {
            Ok(Some(versions)) => versions,
            Ok(None) => return,
            Err(e) => return self.give_up(&entry.bucket, &entry.key, e),
        };
        if entry.status == Status::NotFound {
            entry.deleted_at = versions
                .first()
                .filter(|v| v.is_latest && v.delete_marker)
                .and_then(|v| v.last_modified);
        }
        let earlier = versions
            .iter()
            .filter(|v| !v.is_latest && !v.delete_marker)
            .take(MAX_VERSIONS_READ);
        for version in earlier {
            match self.matches(entry, version, expected) {
                Ok(true) => {
                    entry.recoverable_version = Some(version.version_id.clone());
                    return;
                }
                Ok(false) => {}
                Err(e) => return self.give_up(&entry.bucket, &entry.key, e),
            }
        }
    }

    /// Whether `version` of `entry`'s key inflates (strictly, within the cap for its kind) to
    /// bytes with SHA-256 `expected`. A version that is no gzip, or too large, or breaks off
    /// while read, is just not recoverable; a refusal is an error.
    fn matches(
        &self,
        entry: &FileEntry,
        version: &ObjectVersion,
        expected: Sha256,
    ) -> Result<bool, StoreError> {
        let keep = match entry.kind {
            FileKind::Digest => Keep::Bytes {
                cap: DIGEST_SIZE_CAP,
            },
            FileKind::Log => Keep::Nothing,
        };
        with_retries(|| {
            let object =
                match self
                    .store
                    .get_version(&entry.bucket, &entry.key, &version.version_id)
                {
                    Ok(object) => object,
                    Err(StoreError::NotFound) => return Attempt::Final(Ok(false)),
                    Err(e @ StoreError::VersionsRefused { .. }) => return Attempt::Final(Err(e)),
                    Err(e) => return Attempt::after(&e, Ok(false)),
                };
            match inflate_and_hash(object.body, keep) {
                Ok(inflated) => Attempt::Final(Ok(inflated.sha256 == expected)),
                Err(GzipError::Read(_)) => Attempt::Transient(Ok(false)),
                Err(_) => Attempt::Final(Ok(false)),
            }
        })
    }

    fn gave_up_on(&self, bucket: &str) -> bool {
        self.given_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(bucket)
    }

    /// Stops asking about `bucket`'s versions after `error` (a refusal will be refused again),
    /// and keeps the first such error for the report.
    fn give_up(&self, bucket: &str, key: &str, error: StoreError) {
        let refused = matches!(error, StoreError::VersionsRefused { .. });
        if refused {
            self.given_up
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(bucket.to_string());
        }
        let why = if refused {
            format!(
                "{error}: earlier versions of the files not found or changed were not looked \
                 for"
            )
        } else {
            format!("the versions of s3://{bucket}/{key} could not be read: {error}")
        };
        self.unread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(why);
    }
}
