//! Opening what a plan names, one step each: the AWS session (only when a step needs it), the
//! keys, a directory's signatures, the store. Nothing here decides where to read from or
//! which keys to use: the plan has said so (`plan.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::{Aws, OnlineKeys, TrailInfo};
use crate::bundle::{BundleError, SignatureIndex};
use crate::keys::{FixedKeys, KeyRing, KeySource};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{ObjectStore, StoreError};
use crate::verify;

use super::error::{CliError, Failure};
use super::plan::{
    DirectorySource, KeyPlan, QuerySource, S3Source, SourcePlan, TrailArn, TrailLookup, VerifyPlan,
    DEFAULT_S3_CONCURRENCY,
};

/// The AWS configuration of a run, loaded the first time a step needs it: a directory with
/// its keys at hand never loads it. One per run, so every request shares one runtime.
pub struct AwsSession {
    threads: usize,
    loaded: Option<Arc<Aws>>,
}

impl AwsSession {
    /// For a run with `--concurrency` as given: the SDK's runtime gets a thread per core (up
    /// to 8), fewer when fewer requests are in flight. Requests wait on the runtime, not on
    /// its threads: more threads would only wake one another.
    pub fn for_concurrency(concurrency: Option<usize>) -> AwsSession {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        AwsSession::with_threads(concurrency.unwrap_or(DEFAULT_S3_CONCURRENCY).min(cores))
    }

    pub fn with_threads(threads: usize) -> AwsSession {
        AwsSession {
            threads,
            loaded: None,
        }
    }

    pub fn aws(&mut self) -> Result<Arc<Aws>, CliError> {
        if let Some(aws) = &self.loaded {
            return Ok(aws.clone());
        }
        let aws = Aws::load(self.threads)
            .map(Arc::new)
            .map_err(|e| CliError::from_cause(Failure::Usage, e))?;
        self.loaded = Some(aws.clone());
        Ok(aws)
    }
}

impl TrailLookup for AwsSession {
    fn describe_trail(&mut self, trail: &TrailArn) -> Result<TrailInfo, CliError> {
        self.aws()?
            .describe_trail(&trail.region, &trail.arn)
            .map_err(|e| {
                CliError::incomplete(format!("cannot find the trail's bucket: {e}")).because(e)
            })
    }
}

/// A source opened with its keys: what `validate` and `mirror` hand to the verifier.
pub struct Opened {
    pub store: Box<dyn ObjectStore>,
    pub keys: Box<dyn KeySource>,
}

/// Opens the keys, then the store (a bad key file is told before any bucket is asked for).
pub fn open(plan: &VerifyPlan, aws: &mut AwsSession) -> Result<Opened, CliError> {
    let keys = open_keys(&plan.keys, aws)?;
    let store: Box<dyn ObjectStore> = match &plan.source {
        SourcePlan::S3(s3) => Box::new(open_bucket(s3, plan, aws)?),
        SourcePlan::Directory(dir) => Box::new(open_directory(dir)?),
    };
    Ok(Opened { store, keys })
}

/// A query export's store (its keys are [`open_keys`]'s).
pub fn open_query_store(
    source: &QuerySource,
    shown: &str,
    aws: &mut AwsSession,
) -> Result<Box<dyn ObjectStore>, CliError> {
    Ok(match source {
        QuerySource::S3 {
            bucket,
            endpoint_url,
            ..
        } => Box::new(open_s3_store(
            aws.aws()?,
            bucket,
            shown,
            endpoint_url.clone(),
            &[],
            &[],
        )?),
        QuerySource::Directory { root } => Box::new(
            DirStore::open(root, "local".into(), Default::default())
                .map_err(|e| CliError::usage(format!("cannot open {shown}: {e}")).because(e))?,
        ),
    })
}

pub fn open_keys(plan: &KeyPlan, aws: &mut AwsSession) -> Result<Box<dyn KeySource>, CliError> {
    match plan {
        KeyPlan::Files(paths) => fixed_keys(paths),
        KeyPlan::Bundled(path) => {
            // The bundle is the source's: a FIFO in place of its key file must not hang the run.
            crate::store::dir::open_regular_file(path).map_err(|e| {
                CliError::usage(format!("cannot read {}: {e}", path.display())).because(e)
            })?;
            fixed_keys(std::slice::from_ref(path))
        }
        KeyPlan::Online { start, end } => Ok(Box::new(OnlineKeys::new(aws.aws()?, *start, *end))),
    }
}

fn fixed_keys(paths: &[PathBuf]) -> Result<Box<dyn KeySource>, CliError> {
    let mut ring = KeyRing::new();
    for path in paths {
        ring.extend(read_key_file(path)?);
    }
    Ok(Box::new(FixedKeys(Arc::new(ring))))
}

fn read_key_file(path: &std::path::Path) -> Result<KeyRing, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())).because(e))?;
    KeyRing::parse_json(&bytes, None)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())).because(e))
}

/// The bucket, with the first listings the run will need already asked for.
fn open_bucket(
    s3: &S3Source,
    plan: &VerifyPlan,
    aws: &mut AwsSession,
) -> Result<S3Store, CliError> {
    let prefix = s3.prefix.as_deref();
    let first_listings = verify::first_listings(prefix, &plan.filter, &plan.range);
    let ahead = verify::listings_ahead(prefix, &plan.filter, &plan.range);
    open_s3_store(
        aws.aws()?,
        &s3.bucket,
        &s3.shown,
        s3.endpoint_url.clone(),
        &first_listings,
        &ahead,
    )
}

fn open_s3_store(
    aws: Arc<Aws>,
    bucket: &str,
    shown: &str,
    endpoint_url: Option<String>,
    first_listings: &[crate::store::ListingRequest],
    ahead: &[crate::store::ListingRequest],
) -> Result<S3Store, CliError> {
    S3Store::open(aws, bucket, endpoint_url, first_listings, ahead).map_err(|e| match e {
        StoreError::NotFound => {
            CliError::usage(format!("bucket {bucket} does not exist")).because(e)
        }
        other => CliError::incomplete(format!("cannot read {shown}: {other}")).because(other),
    })
}

/// The copy, with its digests' signatures indexed.
fn open_directory(dir: &DirectorySource) -> Result<DirStore, CliError> {
    let signatures = load_signatures(dir)?;
    DirStore::open(&dir.root, dir.bucket.clone(), signatures)
        .map_err(|e| CliError::usage(format!("cannot open {}: {e}", dir.shown)).because(e))
}

/// The signatures file indexed for the copy's bucket; none: every digest unsigned.
fn load_signatures(dir: &DirectorySource) -> Result<SignatureIndex, CliError> {
    let Some(path) = &dir.signatures else {
        return Ok(SignatureIndex::default());
    };
    SignatureIndex::open(path, &dir.bucket).map_err(|e| {
        // A temporary file that fails is this machine's problem, not the command line's.
        let failure = match e {
            BundleError::Spill(_) => Failure::Incomplete,
            _ => Failure::Usage,
        };
        CliError::from_cause(failure, e)
    })
}
