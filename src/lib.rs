//! ctverify: prove whether AWS CloudTrail logs are intact.
//!
//! The library does the work; the `ctverify` binary is a thin command line over [`cli`].
//! Where things live:
//! - [`time`], [`hash`]: UTC instants and hex-carried hash values as CloudTrail writes them;
//! - [`digest`]: digest key names and digest JSON, parsed strictly;
//! - [`keys`]: CloudTrail public keys and RSA signature verification;
//! - [`gzip`]: strict single-member gzip inflation with SHA-256, streaming;
//! - [`store`]: where objects come from (a directory copy, or S3), behind one trait;
//! - [`chain`]: the chain walk that decides each digest and which logs to check;
//! - [`verify`]: the pipeline: discovery, reading, the walk, log checks;
//! - [`folder_gate`]: how many account-and-region folders are verified at once (memory budget);
//! - [`spill`]: per-log state on disk (anonymous temporary files), so memory stays flat;
//! - [`status`], [`report`], [`reason`], [`report_format`]: verdicts, the report model (with
//!   the chain walk's reasons as data), and its formats (where the reasons get their words);
//! - [`bundle`]: the `.ctverify/` folder of an evidence bundle;
//!
//! The default `aws` feature adds the AWS SDK: the S3 store, ListPublicKeys and DescribeTrails
//! (`aws`), and the command line (`cli`). Without it (as the fuzz targets build) the library
//! verifies directories and bundles.

#[cfg(feature = "aws")]
pub mod aws;
pub mod bundle;
pub mod chain;
#[cfg(feature = "aws")]
pub mod cli;
pub mod digest;
pub mod folder_gate;
pub mod gzip;
pub mod hash;
pub mod keys;
pub mod lake;
pub mod mirror;
pub mod pages;
pub mod progress;
pub mod read_ahead;
pub mod reason;
pub mod report;
pub mod report_format;
pub mod spill;
pub mod status;
pub mod store;
#[cfg(test)]
mod test_signer;
pub mod time;
pub mod unreferenced;
pub mod verify;
