//! A bucket read through the AWS SDK for Rust: ListObjectsV2 and GetObject, and for a file
//! found tampered with in a versioned bucket, GetBucketVersioning, ListObjectVersions and
//! GetObject of a version.
//!
//! Each bucket is read with a client in the bucket's own region (the configured one when the
//! first listings succeed there, else found with HeadBucket or GetBucketLocation), so that
//! chains pointing into another bucket can be followed.
//!
//! A body is read whole on the async runtime as soon as its answer comes, when it is small
//! (at most [`WHOLE_BODY_CAP`]) and the bodies so held fit [`WHOLE_BODIES_BUDGET`]: the
//! verifying thread that takes it then inflates and hashes bytes already in memory, and
//! requests in flight cost no threads. A larger body is streamed instead (the SDK's byte
//! stream bridged to `std::io::Read` for the strict gzip reader), so that memory stays bounded
//! whatever the logs' sizes.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::Region;
use aws_sdk_s3::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::BucketLocationConstraint;
use tokio_util::io::SyncIoBridge;

use super::{
    ListingRequest, Metadata, Object, ObjectStore, ObjectVersion, Refusal, Stamp, StoreError,
};
use crate::aws::{describe_error, Aws};
use crate::digest::ChainId;
use crate::pages::Pages;
use crate::time::UtcTime;

/// A bucket read through the AWS SDK, as an [`ObjectStore`]: ListObjectsV2 and GetObject
/// only, with digests' signatures from their S3 metadata. Objects in other buckets (a chain may
/// point into one) are read with a client in that bucket's region. Open it with
/// [`S3Store::open`].
pub struct S3Store {
    aws: Arc<Aws>,
    bucket: String,
    endpoint_url: Option<String>,
    clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    /// First pages of listings sent ahead (as the store opened, or by `prefetch_keys`),
    /// each handed out once.
    early_pages: Mutex<HashMap<ListingRequest, EarlyPage>>,
    /// GetObject requests sent by `read_ahead`, by (bucket, key), each taken once by `get`.
    reads_ahead: Mutex<HashMap<(String, String), ReadAhead>>,
    /// Requests in flight: each listing page's while it is awaited, each `get`'s until its
    /// body is read whole or, streamed, dropped, each read ahead's until it is answered (an
    /// answer waiting for its `get` costs the server nothing; a streamed body's `get` counts
    /// again while it reads the body).
    in_flight: Arc<AtomicUsize>,
    /// Whether each bucket keeps versions (GetBucketVersioning), asked once per bucket.
    versioned: Mutex<HashMap<String, bool>>,
    /// Bytes of bodies read whole and not yet dropped (see [`WHOLE_BODIES_BUDGET`]).
    held: Arc<AtomicU64>,
}

/// The largest body read whole on the runtime; a larger one is streamed as it is verified.
/// CloudTrail's log files are mostly tens of kilobytes, rarely a few megabytes.
pub const WHOLE_BODY_CAP: u64 = 8 << 20;

/// The most bytes of bodies read whole that the store holds at once (answers waiting for
/// their `get`, and bodies being verified): beyond it, bodies are streamed. Bounds memory
/// whatever the concurrency.
pub const WHOLE_BODIES_BUDGET: u64 = 64 << 20;

/// A GetObject sent before anyone asked for it; the task gives `None` when it failed (the
/// `get` then asks again, so that only an answer to a request of its own decides anything).
struct ReadAhead {
    response: tokio::task::JoinHandle<Option<EarlyAnswer>>,
}

/// What a read ahead brought: the answer, and for a body left to stream, its request's slot.
struct EarlyAnswer {
    fetched: Fetched,
    slot: Option<Slot>,
}

/// A GetObject's answer: its body read whole, or still to be streamed.
enum Fetched {
    Whole {
        metadata: Metadata,
        body: Vec<u8>,
        held: Held,
    },
    Streaming(Box<GetObjectOutput>),
}

/// Why a GetObject failed: S3's answer (or none), or its body breaking off.
enum FetchError {
    Request(Box<aws_sdk_s3::error::SdkError<GetObjectError, HttpResponse>>),
    Body(String),
}

/// Bytes of [`S3Store::held`] a body read whole keeps until it is dropped.
struct Held {
    bytes: u64,
    held: Arc<AtomicU64>,
}

impl Held {
    /// Takes `bytes` of the budget, if they fit.
    fn take(held: &Arc<AtomicU64>, bytes: u64) -> Option<Held> {
        let before = held.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > WHOLE_BODIES_BUDGET {
            held.fetch_sub(bytes, Ordering::Relaxed);
            return None;
        }
        Some(Held {
            bytes,
            held: held.clone(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Sends a GetObject and, when its body is small enough and fits the budget, reads it whole.
async fn fetch(
    request: aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
    held: Arc<AtomicU64>,
) -> Result<Fetched, FetchError> {
    let output = request
        .send()
        .await
        .map_err(|e| FetchError::Request(Box::new(e)))?;
    let size = output
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .filter(|&n| n <= WHOLE_BODY_CAP);
    let Some(held) = size.and_then(|n| Held::take(&held, n)) else {
        return Ok(Fetched::Streaming(Box::new(output)));
    };
    let metadata = metadata_of(&output);
    // Read to its end: the SDK checks the length and the checksum as the body ends, so a body
    // cut short or corrupted on the way fails here, a read error (asked again), never a hash
    // mismatch. A body longer than its Content-Length fails too, as soon as it is: what is
    // held never passes what was taken from the budget.
    let mut stream = output.body;
    let mut body = Vec::with_capacity(held.bytes as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FetchError::Body(describe_error(&e)))?;
        if (body.len() + chunk.len()) as u64 > held.bytes {
            return Err(FetchError::Body(format!(
                "the body is longer than its Content-Length ({} bytes)",
                held.bytes
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Whole {
        metadata,
        body,
        held,
    })
}

/// An object's S3 user metadata, names lowercase.
fn metadata_of(output: &GetObjectOutput) -> Metadata {
    output
        .metadata()
        .map(|m| {
            Metadata::new(
                m.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// A body read whole, keeping its share of the budget until dropped.
struct WholeBody {
    body: std::io::Cursor<Vec<u8>>,
    _held: Held,
}

impl Read for WholeBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.body.read(buf)
    }
}

type GetObjectOutput = aws_sdk_s3::operation::get_object::GetObjectOutput;
type GetObjectError = aws_sdk_s3::operation::get_object::GetObjectError;
type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

/// The ARN of an object, in the partition of the client's region (IAM policies name it so).
fn object_arn(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    format!("{}/{key}", bucket_arn(client, bucket))
}

/// The ARN of a bucket, in the partition of the client's region.
fn bucket_arn(client: &aws_sdk_s3::Client, bucket: &str) -> String {
    let region = client.config().region().map(|r| r.as_ref().to_string());
    let partition = match region.as_deref() {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    };
    format!("arn:{partition}:s3:::{bucket}")
}

/// What a failed versions request means: a refusal names the permission it lacks (`kms:Decrypt`
/// for a version's KMS key), anything else is a read that failed.
fn versions_error<E>(
    e: &aws_sdk_s3::error::SdkError<E, HttpResponse>,
    operation: &str,
    permission: &'static str,
    resource: String,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    match Refusal::of_answer(status, e.code(), e.message()) {
        Some(refusal) => StoreError::VersionsRefused {
            permission: if refusal == Refusal::Kms {
                "kms:Decrypt"
            } else {
                permission
            },
            resource,
            code: e.code().unwrap_or("AccessDenied").to_string(),
        },
        None => StoreError::Read(format!("{operation}: {}", describe_error(e))),
    }
}

type VersionsPage = aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;

/// One of the store's requests in flight, counted until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(in_flight: &Arc<AtomicUsize>) -> Slot {
        in_flight.fetch_add(1, Ordering::Relaxed);
        Slot(in_flight.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An object's body, whose request counts as in flight until it is dropped.
struct SlotBody<R> {
    body: R,
    _slot: Slot,
}

impl<R: Read> Read for SlotBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.body.read(buf)
    }
}

/// A listing's first page, sent before anyone asked for it.
enum EarlyPage {
    Ready(Box<ListPage>),
    /// Still on its way; `None` when it failed (the listing then asks again, so that the
    /// error, if it persists, is reported where the listing is).
    Sent(tokio::task::JoinHandle<Option<ListPage>>),
}

/// Whether an endpoint other than AWS's is configured (the option or `AWS_ENDPOINT_URL_S3` /
/// `AWS_ENDPOINT_URL`): such stores want path-style addressing.
fn custom_endpoint(endpoint_url: &Option<String>) -> bool {
    endpoint_url.is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some()
}

type ListPage = aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;

impl S3Store {
    /// Opens `bucket`, finding its region. Fails (a configuration error) when the bucket
    /// cannot be reached at all. `first_listings` are sent at once with a client in the
    /// configured region: one that answers proves the bucket is there and in that region (S3
    /// refuses a request sent to the wrong region), so the run starts without a region lookup
    /// and with their first pages in hand, kept for the first `list_folders`/`list_keys` that
    /// asks. Otherwise the region is looked up (HeadBucket, else GetBucketLocation).
    /// `ahead` are sent with them but not waited for: listings the run needs later, whose
    /// answer the server can be working on meanwhile (see `prefetch_keys`).
    pub fn open(
        aws: Arc<Aws>,
        bucket: &str,
        endpoint_url: Option<String>,
        first_listings: &[ListingRequest],
        ahead: &[ListingRequest],
    ) -> Result<S3Store, StoreError> {
        let store = S3Store {
            aws,
            bucket: bucket.to_string(),
            endpoint_url,
            clients: Mutex::new(HashMap::new()),
            early_pages: Mutex::new(HashMap::new()),
            reads_ahead: Mutex::new(HashMap::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            versioned: Mutex::new(HashMap::new()),
            held: Arc::new(AtomicU64::new(0)),
        };
        let guess = store.build_client(None);
        for request in ahead {
            store.send_ahead(&guess, request);
        }
        let pages = store.aws.runtime.block_on(async {
            let sent: Vec<_> = first_listings
                .iter()
                .map(|request| {
                    let page = list_request(&guess, bucket, request, None).send();
                    (request.clone(), tokio::spawn(page))
                })
                .collect();
            let mut pages = Vec::new();
            for (request, page) in sent {
                if let Ok(Ok(page)) = page.await {
                    pages.push((request, page));
                }
            }
            pages
        });
        let client = if pages.is_empty() {
            let region = store.aws.runtime.block_on(store.bucket_region(bucket))?;
            store.build_client(region)
        } else {
            store
                .early_pages
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(
                    pages
                        .into_iter()
                        .map(|(request, page)| (request, EarlyPage::Ready(Box::new(page)))),
                );
            guess
        };
        store
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(bucket.to_string(), client);
        Ok(store)
    }

    fn build_client(&self, region: Option<String>) -> aws_sdk_s3::Client {
        // Each object already has a bounded number of attempts; a shared retry quota would
        // let a few failing objects take retries away from every later one.
        let mut builder = aws_sdk_s3::config::Builder::from(&self.aws.config).retry_partition(
            RetryPartition::custom("ctverify-s3")
                .token_bucket(TokenBucket::unlimited())
                .build(),
        );
        if let Some(url) = &self.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        if custom_endpoint(&self.endpoint_url) {
            builder = builder.force_path_style(true);
        }
        if let Some(region) = region {
            builder = builder.region(Region::new(region));
        } else if self.aws.config.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }

    /// The bucket's region: HeadBucket's `x-amz-bucket-region`, else GetBucketLocation.
    async fn bucket_region(&self, bucket: &str) -> Result<Option<String>, StoreError> {
        let probe = self.build_client(None);
        match probe.head_bucket().bucket(bucket).send().await {
            Ok(out) => {
                if let Some(region) = out.bucket_region() {
                    return Ok(Some(region.to_string()));
                }
            }
            Err(e) => {
                // A 301 from the wrong region still names the right one in its headers.
                if let Some(region) = e
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                {
                    return Ok(Some(region.to_string()));
                }
                let status = e.raw_response().map(|r| r.status().as_u16());
                if status == Some(404) {
                    return Err(StoreError::NotFound);
                }
            }
        }
        match probe.get_bucket_location().bucket(bucket).send().await {
            Ok(out) => Ok(Some(match out.location_constraint() {
                None => "us-east-1".to_string(),
                Some(BucketLocationConstraint::Eu) => "eu-west-1".to_string(),
                Some(c) if c.as_str().is_empty() => "us-east-1".to_string(),
                Some(c) => c.as_str().to_string(),
            })),
            Err(e) => Err(StoreError::Read(format!(
                "cannot find the region of bucket {bucket}: {}",
                describe_error(&e)
            ))),
        }
    }

    fn client(&self, bucket: &str) -> Result<aws_sdk_s3::Client, StoreError> {
        if let Some(client) = self.cached_client(bucket) {
            return Ok(client);
        }
        // Looked up without holding the lock: a slow lookup for one bucket must not hold up
        // every read of the others. Two threads may look the same bucket up at once; the
        // first client kept is everyone's.
        let region = self.aws.runtime.block_on(self.bucket_region(bucket))?;
        let client = self.build_client(region);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        Ok(clients.entry(bucket.to_string()).or_insert(client).clone())
    }

    /// `bucket`'s client if one was made already; never waits on a lookup.
    fn cached_client(&self, bucket: &str) -> Option<aws_sdk_s3::Client> {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients.get(bucket).cloned()
    }

    /// What a failed GetObject means for the file: not there, archived, refused (each final),
    /// or a read that failed on the way (asked again by the verifier).
    fn fetch_error(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        e: FetchError,
    ) -> StoreError {
        match e {
            FetchError::Request(e) => self.get_error(client, bucket, key, *e),
            FetchError::Body(why) => {
                StoreError::Read(format!("GetObject s3://{bucket}/{key}: body: {why}"))
            }
        }
    }

    fn get_error(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        e: aws_sdk_s3::error::SdkError<GetObjectError, HttpResponse>,
    ) -> StoreError {
        let status = e.raw_response().map(|r| r.status().as_u16());
        if let Some(GetObjectError::InvalidObjectState(state)) = e.as_service_error() {
            let storage_class = state
                .storage_class()
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(|| "an archive storage class".to_string());
            return StoreError::Archived {
                storage_class,
                restore_in_progress: self.restore_in_progress(client, bucket, key),
            };
        }
        let not_found = e.as_service_error().is_some_and(|s| s.is_no_such_key())
            || e.code() == Some("NoSuchKey")
            || status == Some(404);
        if not_found {
            return StoreError::NotFound;
        }
        if let Some(refusal) = Refusal::of_answer(status, e.code(), e.message()) {
            return StoreError::Denied {
                refusal,
                code: e.code().unwrap_or("AccessDenied").to_string(),
                message: e.message().unwrap_or("Access Denied").to_string(),
                resource: object_arn(client, bucket, key),
            };
        }
        StoreError::Read(format!("GetObject: {}", describe_error(&e)))
    }

    /// Whether a restore of the archived object `key` was asked for and is still running
    /// (HeadObject's `x-amz-restore`); `false` when HeadObject cannot tell.
    fn restore_in_progress(&self, client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
        let _slot = Slot::take(&self.in_flight);
        self.aws
            .runtime
            .block_on(client.head_object().bucket(bucket).key(key).send())
            .ok()
            .and_then(|head| {
                head.restore()
                    .map(|r| r.contains("ongoing-request=\"true\""))
            })
            .unwrap_or(false)
    }

    /// Sends `request`'s first page now, to be picked up by the listing that asks for it.
    fn send_ahead(&self, client: &aws_sdk_s3::Client, request: &ListingRequest) {
        let mut early = self.early_pages.lock().unwrap_or_else(|p| p.into_inner());
        if early.contains_key(request) {
            return;
        }
        let page = list_request(client, &self.bucket, request, None).send();
        let handle = self.aws.runtime.spawn(async move { page.await.ok() });
        early.insert(request.clone(), EarlyPage::Sent(handle));
    }

    fn list_page(
        &self,
        request: &ListingRequest,
        token: Option<String>,
    ) -> Result<ListPage, StoreError> {
        if token.is_none() {
            let early = self
                .early_pages
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(request);
            match early {
                Some(EarlyPage::Ready(page)) => return Ok(*page),
                Some(EarlyPage::Sent(handle)) => {
                    if let Ok(Some(page)) = self.aws.runtime.block_on(handle) {
                        return Ok(page);
                    }
                }
                None => {}
            }
        }
        let client = self.client(&self.bucket)?;
        let _slot = Slot::take(&self.in_flight);
        self.aws
            .runtime
            .block_on(list_request(&client, &self.bucket, request, token).send())
            .map_err(|e| {
                StoreError::Read(format!(
                    "ListObjectsV2 {:?}: {}",
                    request.prefix,
                    describe_error(&e)
                ))
            })
    }
}

/// ListObjectsV2 for `request`; the start-after applies to the first page only, the token
/// carries on from there.
fn list_request(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    request: &ListingRequest,
    token: Option<String>,
) -> aws_sdk_s3::operation::list_objects_v2::builders::ListObjectsV2FluentBuilder {
    let start_after = match token {
        None => request.start_after.clone(),
        Some(_) => None,
    };
    // URL-encoded keys: without it, S3 sends keys with characters XML 1.0 cannot carry (a
    // planted `\u{1}`, say) raw, the whole page fails to parse, and one planted object would
    // leave its folder unchecked.
    client
        .list_objects_v2()
        .bucket(bucket)
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .prefix(&request.prefix)
        .set_delimiter(request.folders_only.then(|| "/".to_string()))
        .set_start_after(start_after)
        .set_continuation_token(token)
}

/// The token of the page after `page`, or `None` at the end; a server that says more follows
/// without saying how, or repeats itself, fails the listing (see [`Pages`]).
fn next_page(
    pages: &mut Pages,
    request: &ListingRequest,
    page: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output,
) -> Result<Option<String>, StoreError> {
    pages
        .next(page.is_truncated(), page.next_continuation_token())
        .map_err(|e| StoreError::Read(format!("ListObjectsV2 {:?}: {e}", request.prefix)))
}

/// A key or folder as listed with `encoding-type=url`: `+` for a space (S3's encoding),
/// `%XX` for a byte.
fn decode_listed(encoded: &str) -> Result<String, StoreError> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let byte = encoded
                    .get(i + 1..i + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| {
                        StoreError::Read(format!("listed key {encoded:?} is not URL-encoded"))
                    })?;
                decoded.push(byte);
                i += 2;
            }
            other => decoded.push(other),
        }
        i += 1;
    }
    String::from_utf8(decoded)
        .map_err(|_| StoreError::Read(format!("listed key {encoded:?} is not UTF-8 once decoded")))
}

/// Why a checkpoint could not be written to S3.
#[derive(Debug)]
pub enum PutError {
    /// The object is not the one this run read (another run wrote it since, or created it):
    /// S3 refused the conditional write (412 Precondition Failed, or 409 Conflict).
    Conflict,
    /// Anything else, as text.
    Failed(String),
}

/// The one object ctverify writes: a `--checkpoint s3://BUCKET/KEY`, which the command line
/// never lets inside the bucket and prefix being verified. Both calls are conditional on what
/// was read, so that two runs cannot overwrite each other's checkpoint.
impl S3Store {
    /// The object at `key` of this store's bucket, whole, with its ETag; `None` when there is
    /// none.
    pub fn read_with_etag(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let client = self.client(&self.bucket)?;
        let response = self
            .aws
            .runtime
            .block_on(client.get_object().bucket(&self.bucket).key(key).send());
        let output = match response {
            Ok(output) => output,
            Err(e) => {
                return match self.get_error(&client, &self.bucket, key, e) {
                    StoreError::NotFound => Ok(None),
                    other => Err(other),
                }
            }
        };
        let etag = output.e_tag().unwrap_or_default().to_string();
        let bytes = self
            .aws
            .runtime
            .block_on(output.body.collect())
            .map_err(|e| StoreError::Read(format!("reading s3://{}/{key}: {e}", self.bucket)))?
            .into_bytes()
            .to_vec();
        Ok(Some((bytes, etag)))
    }

    /// Writes `bytes` at `key` if the object is still the one with ETag `read` (`None`: if
    /// there is still none).
    pub fn put_if(&self, key: &str, bytes: Vec<u8>, read: Option<&str>) -> Result<(), PutError> {
        let client = self
            .client(&self.bucket)
            .map_err(|e| PutError::Failed(e.to_string()))?;
        let request = client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(bytes.into());
        let request = match read {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match self.aws.runtime.block_on(request.send()) {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412) | Some(409)) {
                    Err(PutError::Conflict)
                } else {
                    Err(PutError::Failed(format!(
                        "PutObject s3://{}/{key}: {}",
                        self.bucket,
                        describe_error(&e)
                    )))
                }
            }
        }
    }
}

impl ObjectStore for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    /// S3 keeps every object's user metadata, and CloudTrail always writes a digest's.
    fn keeps_metadata_of(&self, _chain: &ChainId) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let request = ListingRequest::folders(prefix);
        let mut folders = Vec::new();
        let mut pages = Pages::default();
        let mut token = None;
        loop {
            let page = self.list_page(&request, token)?;
            for folder in page.common_prefixes().iter().filter_map(|p| p.prefix()) {
                folders.push(decode_listed(folder)?);
            }
            token = next_page(&mut pages, &request, &page)?;
            if token.is_none() {
                break;
            }
        }
        folders.sort();
        Ok(folders)
    }

    fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), StoreError> {
        let request = ListingRequest::keys(prefix, start_after);
        let mut pages = Pages::default();
        let mut token = None;
        loop {
            let page = self.list_page(&request, token)?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    if !visit(&decode_listed(key)?) {
                        return Ok(());
                    }
                }
            }
            token = next_page(&mut pages, &request, &page)?;
            if token.is_none() {
                return Ok(());
            }
        }
    }

    fn list_stamped(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str, Stamp<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let request = ListingRequest::keys(prefix, start_after);
        let mut pages = Pages::default();
        let mut token = None;
        loop {
            let page = self.list_page(&request, token)?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    let stamp = Stamp {
                        size: object.size().unwrap_or(0).max(0) as u64,
                        version: object.e_tag().unwrap_or(""),
                    };
                    if !visit(&decode_listed(key)?, stamp) {
                        return Ok(());
                    }
                }
            }
            token = next_page(&mut pages, &request, &page)?;
            if token.is_none() {
                return Ok(());
            }
        }
    }

    fn prefetch_keys(&self, request: &ListingRequest) {
        // The bucket's own client exists from `open` on, so this never waits.
        if let Ok(client) = self.client(&self.bucket) {
            self.send_ahead(&client, request);
        }
    }

    fn discard_prefetched(&self, request: &ListingRequest) {
        let early = self
            .early_pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(request);
        if let Some(EarlyPage::Sent(handle)) = early {
            handle.abort();
        }
    }

    fn read_ahead(&self, bucket: &str, key: &str, limit: usize) -> bool {
        // Only into buckets whose client exists (this store's from `open` on, another's once
        // a `get` made it): making one may need a region lookup, which would make this wait.
        let Some(client) = self.cached_client(bucket) else {
            return false;
        };
        let mut reads = self.reads_ahead.lock().unwrap_or_else(|p| p.into_inner());
        let id = (bucket.to_string(), key.to_string());
        if reads.contains_key(&id) {
            return true;
        }
        if self.in_flight.load(Ordering::Relaxed) >= limit {
            return false;
        }
        let slot = Slot::take(&self.in_flight);
        let request = fetch(
            client.get_object().bucket(bucket).key(key),
            self.held.clone(),
        );
        let response = self.aws.runtime.spawn(async move {
            let fetched = request.await.ok()?;
            // A body read whole costs the server nothing more; one left to stream still holds
            // its connection, so it stays in flight until its `get` takes it (or it is dropped).
            let slot = matches!(fetched, Fetched::Streaming(_)).then_some(slot);
            Some(EarlyAnswer { fetched, slot })
        });
        reads.insert(id, ReadAhead { response });
        true
    }

    fn reads_ahead(&self) -> bool {
        true
    }

    fn discard_read_ahead(&self, bucket: &str, key: &str) {
        let early = self
            .reads_ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(bucket.to_string(), key.to_string()));
        if let Some(early) = early {
            early.response.abort();
        }
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        let early = {
            let mut reads = self.reads_ahead.lock().unwrap_or_else(|p| p.into_inner());
            if reads.is_empty() {
                None
            } else {
                reads.remove(&(bucket.to_string(), key.to_string()))
            }
        };
        let answered_early =
            early.and_then(|early| match self.aws.runtime.block_on(early.response) {
                Ok(Some(EarlyAnswer { fetched, slot })) => {
                    Some((fetched, slot.unwrap_or_else(|| Slot::take(&self.in_flight))))
                }
                _ => None,
            });
        let (fetched, slot) = match answered_early {
            Some(answered) => answered,
            None => {
                let client = self.client(bucket)?;
                let slot = Slot::take(&self.in_flight);
                let request = client.get_object().bucket(bucket).key(key);
                match self.aws.runtime.block_on(fetch(request, self.held.clone())) {
                    Ok(fetched) => (fetched, slot),
                    Err(e) => return Err(self.fetch_error(&client, bucket, key, e)),
                }
            }
        };
        Ok(self.object_of(fetched, slot))
    }

    fn versions(&self, bucket: &str, key: &str) -> Result<Option<Vec<ObjectVersion>>, StoreError> {
        if !self.is_versioned(bucket)? {
            return Ok(None);
        }
        let client = self.client(bucket)?;
        // Each with when it was written, to the millisecond S3 gives, for the order below.
        let mut versions: Vec<(bool, i128, ObjectVersion)> = Vec::new();
        let mut pages = Pages::default();
        let mut marker: Option<(String, String)> = None;
        loop {
            let page = self.versions_page(&client, bucket, key, marker.as_ref())?;
            let listed = page
                .versions()
                .iter()
                .map(|v| {
                    (
                        v.key(),
                        v.version_id(),
                        v.is_latest(),
                        v.last_modified(),
                        false,
                    )
                })
                .chain(page.delete_markers().iter().map(|m| {
                    (
                        m.key(),
                        m.version_id(),
                        m.is_latest(),
                        m.last_modified(),
                        true,
                    )
                }));
            let mut past_key = false;
            for (listed_key, version_id, is_latest, written, delete_marker) in listed {
                if listed_key.map(decode_listed).transpose()?.as_deref() != Some(key) {
                    past_key = true;
                    continue;
                }
                let is_latest = is_latest.unwrap_or(false);
                let order = written.map_or(0, |t| {
                    i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos())
                });
                versions.push((
                    is_latest,
                    order,
                    ObjectVersion {
                        version_id: version_id.unwrap_or("null").to_string(),
                        last_modified: written.map(|t| UtcTime::from_unix(t.secs())),
                        is_latest,
                        delete_marker,
                    },
                ));
            }
            // Keys sort after their own prefix: once another key is listed, `key` is done.
            if past_key {
                break;
            }
            marker = match next_versions_page(&mut pages, key, &page)? {
                Some(next) => Some(next),
                None => break,
            };
        }
        // S3 lists versions and delete markers apart, each newest first: put them back in
        // one order, the current one first.
        versions.sort_by_key(|(is_latest, order, _)| {
            (std::cmp::Reverse(*is_latest), std::cmp::Reverse(*order))
        });
        Ok(Some(versions.into_iter().map(|(_, _, v)| v).collect()))
    }

    fn get_version(&self, bucket: &str, key: &str, version_id: &str) -> Result<Object, StoreError> {
        let client = self.client(bucket)?;
        let slot = Slot::take(&self.in_flight);
        let request = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .version_id(version_id);
        let response = self.aws.runtime.block_on(fetch(request, self.held.clone()));
        match response {
            Ok(fetched) => Ok(self.object_of(fetched, slot)),
            Err(FetchError::Body(why)) => Err(StoreError::Read(format!(
                "GetObject s3://{bucket}/{key} (version {version_id}): body: {why}"
            ))),
            Err(FetchError::Request(e)) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                if Refusal::of_answer(status, e.code(), e.message()).is_some() {
                    Err(versions_error(
                        &e,
                        "GetObject (version)",
                        "s3:GetObjectVersion",
                        object_arn(&client, bucket, key),
                    ))
                } else {
                    Err(self.get_error(&client, bucket, key, *e))
                }
            }
        }
    }
}

impl S3Store {
    /// Whether `bucket` keeps versions: versioning `Enabled`, or `Suspended` (the versions
    /// written while it was on are still there). Asked once per bucket.
    fn is_versioned(&self, bucket: &str) -> Result<bool, StoreError> {
        if let Some(known) = self
            .versioned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bucket)
        {
            return Ok(*known);
        }
        let client = self.client(bucket)?;
        let _slot = Slot::take(&self.in_flight);
        let answer = self
            .aws
            .runtime
            .block_on(client.get_bucket_versioning().bucket(bucket).send())
            .map_err(|e| {
                versions_error(
                    &e,
                    "GetBucketVersioning",
                    "s3:GetBucketVersioning",
                    bucket_arn(&client, bucket),
                )
            })?;
        let versioned = answer.status().is_some();
        self.versioned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(bucket.to_string(), versioned);
        Ok(versioned)
    }

    /// One page of `key`'s versions, from `marker` (key and version id) on.
    fn versions_page(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        marker: Option<&(String, String)>,
    ) -> Result<VersionsPage, StoreError> {
        let _slot = Slot::take(&self.in_flight);
        self.aws
            .runtime
            .block_on(
                client
                    .list_object_versions()
                    .bucket(bucket)
                    .prefix(key)
                    .encoding_type(aws_sdk_s3::types::EncodingType::Url)
                    .set_key_marker(marker.map(|(k, _)| k.clone()))
                    .set_version_id_marker(marker.map(|(_, v)| v.clone()))
                    .send(),
            )
            .map_err(|e| {
                versions_error(
                    &e,
                    "ListObjectVersions",
                    "s3:ListBucketVersions",
                    bucket_arn(client, bucket),
                )
            })
    }

    /// An object's body and metadata from GetObject's answer; a streamed body's request counts
    /// as in flight until the body is dropped (a body read whole is no longer in flight).
    fn object_of(&self, fetched: Fetched, slot: Slot) -> Object {
        let output = match fetched {
            Fetched::Whole {
                metadata,
                body,
                held,
            } => {
                return Object {
                    body: Box::new(WholeBody {
                        body: std::io::Cursor::new(body),
                        _held: held,
                    }),
                    metadata,
                }
            }
            Fetched::Streaming(output) => *output,
        };
        let metadata = metadata_of(&output);
        let reader = output.body.into_async_read();
        let body = SyncIoBridge::new_with_handle(reader, self.aws.runtime.handle().clone());
        Object {
            body: Box::new(SlotBody { body, _slot: slot }),
            metadata,
        }
    }
}

/// The key and version id markers of the page after `page`, or `None` at the end; a page that
/// says more follows without saying where, or sends the listing back where it was, fails it.
fn next_versions_page(
    pages: &mut Pages,
    key: &str,
    page: &VersionsPage,
) -> Result<Option<(String, String)>, StoreError> {
    let key_marker = page.next_key_marker().unwrap_or("");
    let version_marker = page.next_version_id_marker().unwrap_or("");
    // One token for the pair: the pair is what must not repeat.
    let token = (!key_marker.is_empty()).then(|| format!("{key_marker}\n{version_marker}"));
    let next = pages
        .next(page.is_truncated(), token.as_deref())
        .map_err(|e| StoreError::Read(format!("ListObjectVersions {key:?}: {e}")))?;
    Ok(match next {
        Some(_) => Some((decode_listed(key_marker)?, version_marker.to_string())),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versions_listing_ends_only_when_the_server_says_so() {
        let page = |truncated: bool, key: Option<&str>, version: Option<&str>| {
            VersionsPage::builder()
                .is_truncated(truncated)
                .set_next_key_marker(key.map(str::to_string))
                .set_next_version_id_marker(version.map(str::to_string))
                .build()
        };
        let mut pages = Pages::default();
        assert_eq!(
            next_versions_page(&mut pages, "k", &page(true, Some("k"), Some("v1"))).ok(),
            Some(Some(("k".to_string(), "v1".to_string())))
        );
        // The same markers again would list the same page forever.
        assert!(next_versions_page(&mut pages, "k", &page(true, Some("k"), Some("v1"))).is_err());
        // More, but no way to ask for it: not the end either.
        assert!(next_versions_page(&mut pages, "k", &page(true, None, None)).is_err());
        assert_eq!(
            next_versions_page(&mut pages, "k", &page(false, None, None)).ok(),
            Some(None)
        );
    }

    #[test]
    fn listed_keys_are_decoded_as_s3_encodes_them() {
        let decoded = |text: &str| decode_listed(text).ok();
        assert_eq!(
            decoded("AWSLogs/a%01b/c").as_deref(),
            Some("AWSLogs/a\u{1}b/c")
        );
        assert_eq!(decoded("a+b%2Bc%20d").as_deref(), Some("a b+c d"));
        assert_eq!(decoded("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(
            decoded("plain/key.json.gz").as_deref(),
            Some("plain/key.json.gz")
        );
        for bad in ["%", "%4", "%zz", "a%C3", "%FF"] {
            assert!(decode_listed(bad).is_err(), "{bad}");
        }
    }
}
