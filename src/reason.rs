//! Why the chain walk gave a file its verdict, as data: which successor, which hashes, which
//! hour. The words of each reason are written in `report_format` (its `Display`), so what a
//! reason says is decided in one place and the walk never builds report text.

use std::sync::Arc;

use crate::continuity::TailEvidence;
use crate::hash::Sha256;
use crate::status::Status;
use crate::time::UtcTime;

/// One reason behind a digest's (or a log's) verdict from the chain walk. A file may have
/// several (a verdict, a link note, the cap on its list), reported in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReason {
    /// The region's public keys could not be had: no verdict on the digest either way.
    KeysUnavailable { region: String, why: String },
    /// No key fits the digest's fingerprint, region and signing time (the key ring says why).
    KeyNotFound { why: String },
    /// The `signature` S3 metadata is not hex (the parser says why).
    MetadataSignatureMalformed { why: String },
    /// The `signature-algorithm` S3 metadata names another algorithm.
    MetadataAlgorithm { algorithm: String },
    /// An authentic successor's `previousDigestHashValue` is not the digest's SHA-256.
    HashDiffersFromLink {
        sha256: Sha256,
        recorded: Sha256,
        successor_url: String,
    },
    /// A successor that could not be verified recorded a wrong hash; the signature it passed
    /// on verified the digest all the same.
    UnverifiedLinkHashWrong {
        recorded: Sha256,
        successor_url: String,
    },
    /// An authentic successor's `previousDigestSignature` does not verify the digest.
    LinkedSignatureFailed { successor_url: String },
    /// The digest verified only through the signature a successor that could not be verified
    /// passed on.
    VerifiedByUnverifiedSuccessor { successor_url: String },
    /// The S3 metadata signature is not the one the (authentic) successor recorded.
    MetadataSignatureDiffers { successor_url: String },
    /// No signature verifies or could verify the digest.
    Unsigned(NoSignature),
    /// No signature verifies or could verify the digest, and the source keeps the chain's S3
    /// metadata (S3 itself, or a copy holding the chain's other signatures): the digest's own
    /// signature was removed.
    SignatureMissing(NoSignature),
    /// The S3 metadata signature does not verify.
    SignatureFailed,
    /// Verified by its own metadata signature; the signature an unverified successor passed
    /// on does not verify it.
    VerifiedDespiteUnprovenLink { successor_url: String },
    /// Verified by its own metadata signature; its successor could not be read.
    VerifiedWithoutSuccessor,
    /// Authentic, but read away from the place its own fields name.
    Moved { original_url: String },
    /// Read away from the place its own fields name (`claimed_url`), which holds nothing, but
    /// not the bytes an authentic successor recorded for that place: no digest of the chain.
    NotTheRecordedDigest {
        claimed_url: String,
        sha256: Sha256,
        recorded: Sha256,
        successor_url: String,
    },
    /// Its `previousDigestS3Object` (`named`) is not older, so is not followed.
    PredecessorNotOlder { named: String },
    /// Another digest already names its predecessor (`named`) as such.
    PredecessorAlreadyNamed { named: String },
    /// A digest that could not be verified lists more logs than are reported one by one.
    ListCapped { listed: usize, reported: usize },
    /// A missing digest a trusted successor names, in a bucket the source does not hold.
    PredecessorInForeignBucket {
        successor_url: String,
        bucket: String,
    },
    /// A missing digest a trusted successor names.
    NamedAsPredecessor { successor_url: String },
    /// A digest that should be in a hole an authentic successor proves was covered.
    InferredMissing {
        successor_url: String,
        older_url: String,
        hour_end: UtcTime,
    },
    /// A digest for an hour after a segment's last digest (ending `last_end`), which log files
    /// delivered then (the latest: `latest_log`) prove was written.
    OwedByLogs {
        last_end: UtcTime,
        hour_end: UtcTime,
        latest_log: String,
    },
    /// A digest for an hour after a chain's newest digest (ending `last_end`), which what
    /// else the trail delivered (`evidence`: another region's chain, GetTrailStatus) proves
    /// was written.
    OwedByTrail {
        last_end: UtcTime,
        hour_end: UtcTime,
        evidence: TailEvidence,
    },
    /// A log file delivered after a segment's last digest (ending `last_end`), in the chain's
    /// tail or in a gap, that no digest covers.
    DeliveredWithoutDigest { last_end: UtcTime, in_gap: bool },
    /// A log listed only by a digest that could not be verified.
    ListedOnlyBy {
        digest_url: Arc<str>,
        status: Status,
    },
}

/// Why a digest is `unsigned`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSignature {
    /// The signature an unverified successor passed on does not verify it.
    UnprovenLink { successor_url: String },
    /// Its successor could not be read or parsed.
    SuccessorUnreadable,
    /// Nothing newer names it: the newest digest of a copy without metadata.
    NewestWithoutMetadata,
}
