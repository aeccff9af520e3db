//! ctverify: prove whether AWS CloudTrail logs are intact.
//!
//! The library does the work; the `ctverify` binary is a thin command line over it
//! ([`cli_main`]). Its modules are private: what a caller may rely on is the set of `pub use`
//! items below, grouped by idea. The fuzz targets and the test-trail generator (the dev-only
//! `ctverify-testgen` crate) reach a little further, through [`internal`], which is not part of
//! the API.
//!
//! Where things live (file names follow the ideas):
//! - `time`, `hash`: UTC instants and hex-carried hash values as CloudTrail writes them;
//! - `digest`: digest key names and digest JSON, parsed strictly;
//! - `keys`: CloudTrail public keys and RSA signature verification;
//! - `gzip`: strict single-member gzip inflation with SHA-256, streaming;
//! - `store`: where objects come from (a directory copy, or S3), behind one trait; `pages`:
//!   S3 paging that refuses a page it cannot follow;
//! - `chain/`: the chain walk that decides each digest and which logs to check, a phase per
//!   file;
//! - `verify/`: the pipeline: search, digest reads, the walk, log checks, the folder scan;
//! - `unreferenced`: planted and moved logs in a folder's listing;
//! - `folder_gate`: how many account-and-region folders are verified at once (memory budget);
//! - `read_ahead`: a chain's first logs read while its last digests arrive;
//! - `spill`: per-log state on disk (anonymous temporary files), so memory stays flat;
//! - `status`, `report`, `reason`, `report_format`: verdicts, the report model (with
//!   the chain walk's reasons as data), and its formats (where the reasons get their words);
//! - `progress`: counters for the progress bar;
//! - `bundle`: the `.ctverify/` folder of an evidence bundle; `mirror`: making one;
//! - `lake`: CloudTrail Lake query exports and their sign files;
//! - `trail_events`: CloudTrail's own trail management events (`StopLogging`, `UpdateTrail`, ...)
//!   found in verified logs, which explain a gap in a chain;
//!
//! The default `aws` feature adds the AWS SDK: the S3 store, ListPublicKeys and DescribeTrails
//! (`aws`), and the command line (`cli`). Without it (as the fuzz targets build) the library
//! verifies directories and bundles.

#![deny(missing_docs)]

#[cfg(feature = "aws")]
mod aws;
mod bundle;
mod chain;
mod checkpoint;
#[cfg(feature = "aws")]
mod cli;
mod continuity;
mod digest;
mod folder_gate;
mod gzip;
mod hash;
mod history;
mod keys;
mod lake;
mod merge;
mod metrics;
mod mirror;
#[cfg(feature = "aws")]
mod pages;
mod progress;
mod read_ahead;
mod reason;
mod report;
mod report_format;
mod shard;
mod spill;
mod status;
mod store;
#[cfg(test)]
mod test_signer;
mod time;
mod trail_events;
mod unreferenced;
mod verify;

// Values as CloudTrail writes them.
pub use crate::hash::{Fingerprint, HexError, Sha256, Signature};
pub use crate::time::{TimeError, UtcTime};

// The digest format: key names and the JSON document.
pub use crate::digest::{
    ChainId, Digest, DigestFormatError, DigestKey, LogFileRecord, PreviousDigest, HASH_ALGORITHM,
    SIGNATURE_ALGORITHM,
};

// Public keys and signatures.
pub use crate::keys::{
    DerError, FixedKeys, KeyError, KeyRing, KeySource, ListedKey, PublicKey, VerifyError,
    MIN_KEY_BITS,
};

// Strict gzip with SHA-256.
pub use crate::gzip::{inflate_and_hash, GzipError, Inflated, Keep, KeptBytes, DIGEST_SIZE_CAP};

// Where objects come from.
#[cfg(feature = "aws")]
pub use crate::aws::{Aws, AwsError};
#[cfg(feature = "aws")]
pub use crate::store::s3::{PutError, S3Store, WHOLE_BODY_CAP};
pub use crate::store::{
    dir::DirStore, ListingRequest, Metadata, MetadataMap, Object, ObjectStore, ObjectVersion,
    Stamp, StoreError,
};

// Verification and its report.
pub use crate::continuity::{Explanation, Gap, LogsAfter, Tail, TailEvidence, TrailStatus};
pub use crate::folder_gate::DEFAULT_BUDGET as DEFAULT_FOLDER_BUDGET;
pub use crate::metrics::{metrics_text, write_atomically};
pub use crate::progress::{Progress, ProgressBar};
pub use crate::report::{
    BucketOrigin, ChainReport, Detail, FileEntry, FolderNotVerified, MergeRun, MergedReport,
    RequestedRange, RunInfo, Summary, TimeRange, Verdict,
};
pub use crate::report_format::{
    text_line, text_verdict, write_json, write_jsonl_chain, write_jsonl_file, write_jsonl_summary,
    write_query, write_text, Format,
};
pub use crate::status::{Counts, FileKind, Outcome, Status};
pub use crate::verify::{
    validate, ChainFilter, ChainResult, Decided, ValidateError, ValidateOptions, Validation,
};

// CloudTrail's own calls about trails, found in verified logs (what explains a chain's gap).
pub use crate::trail_events::{TrailEvent, TrailEventKind};

pub use crate::merge::{merge, read_shard_report, MergeError, Merged, ShardReport};
pub use crate::shard::{
    ForMerge, Shard, ShardError, ShardFile, ShardPart, ShardRun, UnsettledChain, MAX_SHARDS,
};

// Evidence bundles, mirrors and CloudTrail Lake query exports.
pub use crate::bundle::{BundleError, BundleInfo, SignatureIndex};
pub use crate::lake::{verify_query, QueryVerdict, ResultFile, SignFile, SignFileError, SIGN_FILE};
pub use crate::mirror::{mirror, MirrorError, MirrorOutcome, MirrorStats};

/// The `ctverify` command line: parses `std::env::args`, runs the command, and returns the exit
/// status (0 valid, 1 integrity failure, 2 usage, 3 incomplete).
#[cfg(feature = "aws")]
pub use crate::cli::main as cli_main;

/// Parts that are not API, for the fuzz targets and the test-trail generator: they may change
/// at any time.
#[doc(hidden)]
pub mod internal {
    pub use crate::bundle::{
        bundle_path, BUNDLE_DIR, BUNDLE_FILE, METADATA_FILE, PUBLIC_KEYS_FILE,
    };
    pub use crate::chain::{
        walk, walk_streaming, ChainMetadata, ChainOutcome, DigestHead, FetchOutcome, FetchedDigest,
        LogCheck, ParsedDigest, WalkSink,
    };
    pub use crate::checkpoint::{Checkpoint, CheckpointError};
    pub use crate::digest::signed_message;
    pub use crate::gzip::{gzip, gzip_stored};
    pub use crate::history::compare as compare_days;
    pub use crate::spill::{CheckSpill, DigestSpill};
    pub use crate::store::dir::check_key;
    pub use crate::trail_events::{
        may_hold_trail_events, trail_events_in_reader, trail_events_in_slice, KeptTrailEvents,
        TrailEventScan, MAX_EVENTS_PER_LOG,
    };
    pub use crate::unreferenced::log_delivery_minute;
}
