//! Where the objects come from: one small trait, so that the verifier does not care whether it
//! reads a bucket or a copy of one on disk.

pub mod dir;
#[cfg(feature = "aws")]
pub mod s3;

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use crate::digest::ChainId;
use crate::status::Status;
use crate::time::UtcTime;

/// S3 user metadata of an object (`signature`, `signature-algorithm`,
/// `backfill-generation-timestamp` for digests), keys lowercase. Shared: a bundle holds every
/// digest's metadata, and each digest read keeps its own until its chain is walked.
pub type Metadata = Arc<MetadataMap>;

/// Metadata names and values, sorted by name. A handful of entries: a sorted vector, because
/// one `BTreeMap` node is about a kilobyte, which thousands of digests held at once feel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataMap(Vec<(String, String)>);

impl MetadataMap {
    /// The value of `name` (lowercase, as S3 gives user metadata names), if the object has it.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|at| &self.0[at].1)
    }

    /// Sets `name` (replacing its value if present).
    pub fn insert(&mut self, name: String, value: String) {
        match self.0.binary_search_by(|(n, _)| n.cmp(&name)) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (name, value)),
        }
    }

    /// Every name and value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(n, v)| (n, v))
    }
}

impl FromIterator<(String, String)> for MetadataMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(entries: I) -> Self {
        let mut map = MetadataMap::default();
        for (name, value) in entries {
            map.insert(name, value);
        }
        map.0.shrink_to_fit();
        map
    }
}

impl serde::Serialize for MetadataMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// An object's body as a stream, so that a log of any size is never held whole in memory.
pub struct Object {
    /// The object's bytes as stored (for digests and logs: gzip, not yet inflated or checked).
    pub body: Box<dyn Read + Send>,
    /// Its S3 user metadata; for a directory copy, what its signature index holds for the key
    /// (empty when nothing).
    pub metadata: Metadata,
}

/// Why an object could not be listed or read. Only [`StoreError::NotFound`] is evidence about
/// the object (it is `not_found`); the rest mean it could not be checked (see
/// [`StoreError::status`]).
#[derive(Debug)]
pub enum StoreError {
    /// The object is not there (S3 NoSuchKey, or no such file).
    NotFound,
    /// The key cannot be read safely from this store (for a directory: it would leave the root).
    UnsafeKey(String),
    /// The object lives in a bucket this store does not hold.
    OtherBucket(String),
    /// Anything else: I/O failures, network errors after retries. Never evidence of tampering.
    /// The cause is kept as text, its whole chain rendered (each cause after `: `): the mirror
    /// builds this variant too, and the verifier matches on its shape.
    Read(String),
    /// This machine failed, not the source: a temporary file the store keeps could not be
    /// read back. Fails the run rather than deciding any file. Text, as `Read`: the verifier
    /// hands it on as its own error.
    Local(String),
    /// In an archive storage class (GLACIER, DEEP_ARCHIVE): S3 answers `InvalidObjectState`
    /// until it is restored. Not worth asking again within the run, and no evidence of
    /// anything: the file is `archived`.
    Archived {
        /// S3's storage class for the object (`GLACIER`, `DEEP_ARCHIVE`, ...).
        storage_class: String,
        /// A restore was requested and has not finished (`x-amz-restore: ongoing-request="true"`).
        restore_in_progress: bool,
    },
    /// S3 refused a request about an object's earlier versions (see
    /// [`ObjectStore::versions`]): the caller lacks `permission` on `resource`. Never a
    /// file's verdict: the report names it once.
    VersionsRefused {
        /// The IAM action that is not allowed (`s3:ListBucketVersions`, ...).
        permission: &'static str,
        /// The ARN of the bucket or object it is about.
        resource: String,
        /// S3's error code, as it gave it.
        code: String,
    },
    /// S3 refused to hand the object over, for a reason asking again will not change.
    Denied {
        /// What is missing, as far as S3's answer tells; the summary groups files by it.
        refusal: Refusal,
        /// S3's error code (`AccessDenied`, `KMS.DisabledException`, ...), as it gave it.
        code: String,
        /// S3's error message, as it gave it.
        message: String,
        /// The ARN of the object, which the missing permission is about.
        resource: String,
    },
}

impl StoreError {
    /// The status of a file this error kept from being read (`not_found`, `archived`, else
    /// `error`).
    pub fn status(&self) -> Status {
        match self {
            StoreError::NotFound => Status::NotFound,
            StoreError::Archived { .. } => Status::Archived,
            _ => Status::Error,
        }
    }
}

/// Why S3 would not hand over an object it holds, as far as its answer tells. Each is one
/// missing permission or option, which the report names once for all the files it affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// `AccessDenied`: no IAM or bucket policy lets the caller `s3:GetObject` it.
    AccessDenied,
    /// SSE-KMS: the object's KMS key may not be used to decrypt it (`kms:Decrypt` not
    /// allowed, or the key disabled or deleted).
    Kms,
    /// A Requester Pays bucket, asked without `x-amz-request-payer` (only when S3 says so: it
    /// often answers a plain `AccessDenied`).
    RequesterPays,
}

impl Refusal {
    /// How a file's detail starts for each refusal. The report groups files by it: a digest's
    /// read error reaches the report as text, through the chain walk.
    const PREFIXES: [(Refusal, &'static str); 3] = [
        (Refusal::Kms, "access denied by KMS ("),
        (Refusal::RequesterPays, "access denied, requester pays ("),
        (Refusal::AccessDenied, "access denied ("),
    ];

    fn prefix(self) -> &'static str {
        Refusal::PREFIXES
            .iter()
            .find(|(refusal, _)| *refusal == self)
            .map_or("access denied (", |(_, prefix)| prefix)
    }

    /// The refusal a file's detail names, if it is one [`StoreError::Denied`] wrote.
    pub fn of_detail(detail: &str) -> Option<Refusal> {
        Refusal::PREFIXES
            .iter()
            .find(|(_, prefix)| detail.starts_with(prefix))
            .map(|(refusal, _)| *refusal)
    }

    /// What S3's answer says, from its HTTP status, error code and message; `None` when it
    /// is no refusal of access. Only a 403 (or a 400 naming a KMS key's state) refuses: a
    /// throttled, unavailable or failing KMS or S3 answers otherwise, and must stay a read
    /// error that is retried, not be named a missing permission.
    pub fn of_answer(
        status: Option<u16>,
        code: Option<&str>,
        message: Option<&str>,
    ) -> Option<Refusal> {
        let code = code.unwrap_or("");
        let message = message.unwrap_or("").to_ascii_lowercase();
        let passing = ["Throttl", "Internal", "Unavailable", "Timeout", "SlowDown"]
            .iter()
            .any(|word| code.contains(word));
        if passing || status.is_some_and(|s| s >= 500) {
            return None;
        }
        let forbidden = matches!(status, Some(403) | None);
        if (code.starts_with("KMS.") && matches!(status, Some(400) | Some(403) | None))
            || (code == "AccessDenied"
                && forbidden
                && (message.contains("kms") || message.contains("customer master key")))
        {
            return Some(Refusal::Kms);
        }
        if forbidden
            && (code.contains("RequesterPays")
                || message.contains("requester pays")
                || message.contains("request-payer"))
        {
            return Some(Refusal::RequesterPays);
        }
        if (code == "AccessDenied" && forbidden) || (code.is_empty() && status == Some(403)) {
            return Some(Refusal::AccessDenied);
        }
        None
    }

    /// Its name in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::AccessDenied => "access_denied",
            Refusal::Kms => "kms",
            Refusal::RequesterPays => "requester_pays",
        }
    }

    /// What is missing, for `resource` (an object's ARN, or a pattern of them): each file's
    /// detail says it.
    pub fn missing(self, resource: &str) -> String {
        match self {
            Refusal::AccessDenied => format!("s3:GetObject on {resource} is not allowed"),
            Refusal::Kms => format!(
                "kms:Decrypt on the KMS key of {resource} is not allowed, or the key is \
                 disabled or deleted"
            ),
            Refusal::RequesterPays => format!(
                "{resource} is in a Requester Pays bucket, and ctverify does not send \
                 x-amz-request-payer"
            ),
        }
    }

    /// What is missing and what to do about it, once for every file it affects.
    pub fn hint(self, resource: &str) -> String {
        let missing = self.missing(resource);
        match self {
            Refusal::AccessDenied => format!(
                "{missing} (an IAM or bucket policy denies it, or none allows it; a Requester \
                 Pays bucket answers so too)"
            ),
            Refusal::Kms => {
                format!("{missing}: allow kms:Decrypt in the key policy or the caller's IAM policy")
            }
            Refusal::RequesterPays => {
                format!("{missing}: verify a copy (aws s3 sync --request-payer requester)")
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a file's detail starts when it is archived (see [`StoreError::Archived`]); the report
/// reads the storage class back from it.
pub const ARCHIVED_PREFIX: &str = "archived in ";

/// What an archived file's detail says when its restore has not finished.
pub const RESTORING: &str = "a restore is in progress";

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("not found"),
            StoreError::UnsafeKey(why) => write!(f, "key refused: {why}"),
            StoreError::OtherBucket(bucket) => {
                write!(f, "in bucket {bucket}, which this source does not hold")
            }
            StoreError::Read(why) => write!(f, "could not be read: {why}"),
            StoreError::Local(why) => write!(f, "local failure: {why}"),
            StoreError::Archived {
                storage_class,
                restore_in_progress: false,
            } => write!(f, "{ARCHIVED_PREFIX}{storage_class}: restore it first"),
            StoreError::Archived {
                storage_class,
                restore_in_progress: true,
            } => write!(
                f,
                "{ARCHIVED_PREFIX}{storage_class}: {RESTORING}: run again once it completes"
            ),
            StoreError::VersionsRefused {
                permission,
                resource,
                code,
            } => write!(f, "{permission} is not allowed on {resource} ({code})"),
            StoreError::Denied {
                refusal,
                code,
                message,
                resource,
            } => write!(
                f,
                "{}{code}: {message}): {}",
                refusal.prefix(),
                refusal.missing(resource)
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// One listing, named ahead of time so that a store can send it early (see
/// [`ObjectStore::prefetch_keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListingRequest {
    /// The key prefix listed; for folders, one ending in `/`, or empty for the bucket's root.
    pub prefix: String,
    /// `/` ([`ObjectStore::list_folders`]) or none ([`ObjectStore::list_keys`]).
    pub folders_only: bool,
    /// Only keys that sort after this one (S3's `StartAfter`); `None` lists from the start,
    /// and always for folders.
    pub start_after: Option<String>,
}

impl ListingRequest {
    /// The listing [`ObjectStore::list_folders`] makes of `prefix`.
    pub fn folders(prefix: &str) -> ListingRequest {
        ListingRequest {
            prefix: prefix.to_string(),
            folders_only: true,
            start_after: None,
        }
    }

    /// The listing [`ObjectStore::list_keys`] makes of `prefix` after `start_after`.
    pub fn keys(prefix: &str, start_after: Option<&str>) -> ListingRequest {
        ListingRequest {
            prefix: prefix.to_string(),
            folders_only: false,
            start_after: start_after.map(str::to_string),
        }
    }
}

/// One version of an object in a versioned bucket, or a delete marker, as
/// [`ObjectStore::versions`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// S3's version id (`null` for an object written before versioning was turned on).
    pub version_id: String,
    /// When this version was written (for a delete marker: when the object was deleted).
    pub last_modified: Option<UtcTime>,
    /// Whether it is the current version (the object as a plain GetObject sees it).
    pub is_latest: bool,
    /// A delete marker, not a version with bytes.
    pub delete_marker: bool,
}

/// What a listing says an object is now, without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp<'a> {
    /// Its size in bytes (for S3, as stored).
    pub size: u64,
    /// What changes when it is written again: S3's ETag; a directory's modification time, in
    /// nanoseconds since 1970.
    pub version: &'a str,
}

/// A read-only view of one bucket. Keys are S3 keys; listings are in S3's order (bytewise).
pub trait ObjectStore: Send + Sync {
    /// The bucket this store stands for.
    fn bucket(&self) -> &str;

    /// Human description of the source, for reports.
    fn describe(&self) -> String;

    /// The immediate "folders" under `prefix` (which ends in `/` or is empty): S3's common
    /// prefixes with delimiter `/`, each returned in full and ending in `/`, sorted.
    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Every key under `prefix` that sorts after `start_after`, in order, handed to `visit`
    /// until it returns `false`. Folders are walked lazily, so memory does not grow with the
    /// number of keys.
    fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), StoreError>;

    /// Opens an object for reading, with its user metadata.
    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError>;

    /// As [`ObjectStore::list_keys`], with what each object is now: its size and what changes
    /// when it is written again ([`Stamp`]). A checkpoint's history is a hash over these, so
    /// that a later run can tell by listing alone whether what it proved is still there. A
    /// store that cannot say fails the listing.
    fn list_stamped(
        &self,
        prefix: &str,
        _start_after: Option<&str>,
        _visit: &mut dyn FnMut(&str, Stamp<'_>) -> bool,
    ) -> Result<(), StoreError> {
        Err(StoreError::Read(format!(
            "{}: cannot list {prefix:?} with sizes",
            self.describe()
        )))
    }

    /// Whether this store holds the S3 user metadata of `chain`'s digests. CloudTrail writes a
    /// signature with every digest, so where the metadata is kept a digest without one was
    /// stripped of it (`signature_invalid`); a copy that kept none for the chain (a plain
    /// `aws s3 sync`) simply never had it (`unsigned`). S3 keeps every object's; a directory
    /// copy only what its signatures file holds, so it answers for the chains that file
    /// covers. A store that cannot tell says no: the lesser verdict.
    fn keeps_metadata_of(&self, _chain: &ChainId) -> bool {
        false
    }

    /// Says that a `list_keys` with `request`'s prefix and start will follow. A remote store
    /// may send its first page's request now, so that the server answers it while the caller
    /// waits on other requests; the listing then uses that page (or, should it have failed,
    /// asks again). Local stores ignore it.
    fn prefetch_keys(&self, _request: &ListingRequest) {}

    /// Drops what [`ObjectStore::prefetch_keys`] fetched for `request` when no listing used it.
    fn discard_prefetched(&self, _request: &ListingRequest) {}

    /// Says that `get(bucket, key)` will follow soon. A remote store may send the request now,
    /// unless `limit` of its requests are already in flight (a request read ahead counts until
    /// it is answered, or, with a body left to stream, until its `get` takes it); the `get`
    /// then takes the answer, or asks again if the early request failed, so that a read ahead
    /// never decides anything. Returns whether it was sent. Local stores ignore it.
    fn read_ahead(&self, _bucket: &str, _key: &str, _limit: usize) -> bool {
        false
    }

    /// Drops a request [`ObjectStore::read_ahead`] sent when no `get` took it.
    fn discard_read_ahead(&self, _bucket: &str, _key: &str) {}

    /// Whether [`ObjectStore::read_ahead`] sends requests that complete on their own (a remote
    /// store's, on its async runtime): then requests in flight need no threads, and a few
    /// verifying threads fed by reads ahead ([`crate::read_ahead::ReadWindow`]) keep many
    /// requests in flight. A local store says no: its reads are the verifying threads' own.
    fn reads_ahead(&self) -> bool {
        false
    }

    /// Every version and delete marker of exactly `key` (not of keys it is a prefix of),
    /// newest first, or `None` when `bucket` does not keep versions (never had versioning
    /// turned on). A store that holds no history (a directory) answers `None`.
    fn versions(
        &self,
        _bucket: &str,
        _key: &str,
    ) -> Result<Option<Vec<ObjectVersion>>, StoreError> {
        Ok(None)
    }

    /// Opens version `version_id` of `key`, as [`ObjectStore::get`] opens the current one.
    fn get_version(
        &self,
        _bucket: &str,
        _key: &str,
        _version_id: &str,
    ) -> Result<Object, StoreError> {
        Err(StoreError::NotFound)
    }
}

/// Renders an error with its cause chain (the AWS SDK's own Display leaves the causes out).
pub fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_refusals_are_told_apart_by_code_and_message() {
        let of =
            |status, code, message| Refusal::of_answer(Some(status), Some(code), Some(message));
        assert_eq!(
            of(403, "AccessDenied", "Access Denied"),
            Some(Refusal::AccessDenied)
        );
        assert_eq!(
            of(
                403,
                "AccessDenied",
                "The ciphertext refers to a customer master key that does not exist, does not \
                 exist in this region, or you are not allowed to access."
            ),
            Some(Refusal::Kms)
        );
        assert_eq!(
            of(
                403,
                "AccessDenied",
                "User: u is not authorized to perform: kms:Decrypt"
            ),
            Some(Refusal::Kms)
        );
        assert_eq!(
            of(400, "KMS.DisabledException", "disabled"),
            Some(Refusal::Kms)
        );
        assert_eq!(
            of(403, "AccessDenied", "Bucket is a Requester Pays bucket"),
            Some(Refusal::RequesterPays)
        );
        assert_eq!(
            Refusal::of_answer(Some(403), None, None),
            Some(Refusal::AccessDenied)
        );
        // Not refusals: asked again, or decided elsewhere.
        assert_eq!(
            of(500, "InternalError", "We encountered an internal error"),
            None
        );
        assert_eq!(of(403, "SignatureDoesNotMatch", "signature"), None);
        // A KMS or S3 that is throttled, unavailable or failing refuses nothing: its answer
        // stays a read error, which is retried.
        assert_eq!(of(400, "KMS.ThrottlingException", "Rate exceeded"), None);
        assert_eq!(of(500, "KMS.KMSInternalException", "internal"), None);
        assert_eq!(of(503, "KMS.DisabledException", "disabled"), None);
        assert_eq!(of(503, "SlowDown", "Please reduce your request rate"), None);
        assert_eq!(of(500, "AccessDenied", "kms"), None);
        assert_eq!(of(400, "InvalidRequest", "requester pays"), None);
    }

    #[test]
    fn each_refusal_and_archive_is_read_back_from_the_detail_it_writes() {
        for refusal in [Refusal::AccessDenied, Refusal::Kms, Refusal::RequesterPays] {
            let error = StoreError::Denied {
                refusal,
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
                resource: "arn:aws:s3:::b/k".into(),
            };
            assert_eq!(error.status(), Status::Error);
            let detail = error.to_string();
            assert_eq!(Refusal::of_detail(&detail), Some(refusal), "{detail}");
            assert!(
                detail.contains(&refusal.missing("arn:aws:s3:::b/k")),
                "{detail}"
            );
        }
        assert_eq!(
            StoreError::Denied {
                refusal: Refusal::AccessDenied,
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
                resource: "arn:aws:s3:::b/k".into(),
            }
            .to_string(),
            "access denied (AccessDenied: Access Denied): s3:GetObject on arn:aws:s3:::b/k is \
             not allowed"
        );
        let archived = StoreError::Archived {
            storage_class: "GLACIER".into(),
            restore_in_progress: false,
        };
        assert_eq!(archived.status(), Status::Archived);
        assert_eq!(
            archived.to_string(),
            "archived in GLACIER: restore it first"
        );
        assert_eq!(Refusal::of_detail(&archived.to_string()), None);
        assert_eq!(
            StoreError::Archived {
                storage_class: "DEEP_ARCHIVE".into(),
                restore_in_progress: true,
            }
            .to_string(),
            "archived in DEEP_ARCHIVE: a restore is in progress: run again once it completes"
        );
        assert_eq!(Refusal::of_detail("could not be read: timed out"), None);
        assert_eq!(StoreError::Read("x".into()).status(), Status::Error);
    }

    #[test]
    fn metadata_maps_find_replace_and_serialize_as_a_sorted_object() {
        let mut map: MetadataMap = [
            (
                "signature-algorithm".to_string(),
                "SHA256withRSA".to_string(),
            ),
            ("signature".to_string(), "ab".to_string()),
            ("backfill-generation-timestamp".to_string(), "t".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(map.get("signature").map(String::as_str), Some("ab"));
        assert_eq!(map.get("signatur"), None);
        map.insert("signature".into(), "cd".into());
        assert_eq!(map.get("signature").map(String::as_str), Some("cd"));
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"backfill-generation-timestamp":"t","signature":"cd","signature-algorithm":"SHA256withRSA"}"#
        );
    }
}
