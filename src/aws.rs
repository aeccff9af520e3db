//! Talking to AWS: the SDK configuration, CloudTrail's ListPublicKeys and DescribeTrails.
//!
//! The verifier's pipeline is synchronous (rayon threads); the SDK is async. One tokio runtime
//! per run carries every request, and the synchronous side blocks on it. Only read calls are
//! made: ListPublicKeys, DescribeTrails here, and GET/HEAD/LIST in `store::s3`, apart from the
//! one object ctverify writes, a `--checkpoint s3://...` outside the source.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudtrail::primitives::DateTime;

use crate::continuity::TrailStatus;
use crate::keys::{KeyRing, KeySource, ListedKey};
use crate::time::UtcTime;

/// Attempts per request, with the SDK's exponential backoff between them.
pub const MAX_ATTEMPTS: u32 = 6;

/// The runtime and configuration every AWS call of a run shares.
pub struct Aws {
    /// The tokio runtime (1 to 8 worker threads) the synchronous side blocks on for every request.
    pub runtime: tokio::runtime::Runtime,
    /// aws-config's shared configuration: credentials, default region, the standard retry (6
    /// attempts) and timeouts (connect 10 s, read 60 s).
    pub config: SdkConfig,
}

/// A failed AWS call. Its `Display` is the whole line (the SDK's error with each cause in its
/// chain spelled out after `: `); [`Error::source`](std::error::Error::source) is the SDK's or
/// the key check's own error, when there is one.
#[derive(Debug)]
pub struct AwsError {
    message: String,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AwsError {
    fn new(message: String) -> AwsError {
        AwsError {
            message,
            cause: None,
        }
    }

    fn because(
        message: String,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> AwsError {
        AwsError {
            message,
            cause: Some(cause.into()),
        }
    }

    /// The whole message, as `Display` shows it (for a failed call: the call, and the SDK's error
    /// chain spelled out).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}
pub use crate::store::describe_error;

impl Aws {
    /// Loads aws-config's default chain (environment, profiles, SSO, instance roles).
    pub fn load(threads: usize) -> Result<Aws, AwsError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.clamp(1, 8))
            .enable_all()
            .build()
            .map_err(|e| AwsError::because(format!("cannot start the async runtime: {e}"), e))?;
        let config = runtime.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(10))
                        .read_timeout(Duration::from_secs(60))
                        .build(),
                )
                .load(),
        );
        Ok(Aws { runtime, config })
    }

    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        let conf = aws_sdk_cloudtrail::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_cloudtrail::Client::from_conf(conf)
    }

    /// ListPublicKeys in `region` over `[start, end]`, every page.
    pub fn list_public_keys(
        &self,
        region: &str,
        start: UtcTime,
        end: UtcTime,
    ) -> Result<KeyRing, AwsError> {
        let client = self.cloudtrail(region);
        self.runtime.block_on(async {
            let mut ring = KeyRing::new();
            let mut token: Option<String> = None;
            let mut pages = crate::pages::Pages::default();
            let mut index = 0;
            loop {
                let page = client
                    .list_public_keys()
                    .start_time(DateTime::from_secs(start.unix()))
                    .end_time(DateTime::from_secs(end.unix()))
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::because(
                            format!("ListPublicKeys in {region}: {}", describe_error(&e)),
                            e,
                        )
                    })?;
                for key in page.public_key_list() {
                    let Some(value) = key.value() else { continue };
                    let listed = ListedKey {
                        der: value.as_ref().to_vec(),
                        fingerprint: key.fingerprint().map(str::to_string),
                        region: Some(region.to_string()),
                        validity_start: key
                            .validity_start_time()
                            .map(|t| UtcTime::from_unix(t.secs())),
                        validity_end: key
                            .validity_end_time()
                            .map(|t| UtcTime::from_unix(t.secs())),
                    };
                    let checked = listed.check(index).map_err(|e| {
                        AwsError::because(
                            format!("ListPublicKeys in {region} returned a bad key: {e}"),
                            e,
                        )
                    })?;
                    ring.add(checked);
                    index += 1;
                }
                // A paging fault (a repeated token) is no error type of its own: its words say it.
                token = pages
                    .next(None, page.next_token())
                    .map_err(|e| AwsError::new(format!("ListPublicKeys in {region}: {e}")))?;
                if token.is_none() {
                    break;
                }
            }
            Ok(ring)
        })
    }

    /// DescribeTrails for one trail ARN, in the ARN's region.
    pub fn describe_trail(&self, region: &str, arn: &str) -> Result<TrailInfo, AwsError> {
        let client = self.cloudtrail(region);
        self.runtime.block_on(async {
            let out = client
                .describe_trails()
                .trail_name_list(arn)
                .send()
                .await
                .map_err(|e| {
                    AwsError::because(
                        format!("DescribeTrails in {region}: {}", describe_error(&e)),
                        e,
                    )
                })?;
            let trail = out
                .trail_list()
                .iter()
                .find(|t| t.trail_arn() == Some(arn))
                .or_else(|| out.trail_list().first())
                .ok_or_else(|| {
                    AwsError::new(format!("DescribeTrails in {region} knows no trail {arn}"))
                })?;
            let bucket = trail
                .s3_bucket_name()
                .ok_or_else(|| AwsError::new(format!("trail {arn} has no S3 bucket")))?
                .to_string();
            Ok(TrailInfo {
                bucket,
                prefix: trail.s3_key_prefix().unwrap_or_default().to_string(),
                organization_trail: trail.is_organization_trail().unwrap_or(false),
            })
        })
    }
}

impl Aws {
    /// GetTrailStatus for one trail ARN, in its home region: whether it logs, and when it last
    /// delivered a digest.
    pub fn trail_status(
        &self,
        region: &str,
        account_id: &str,
        arn: &str,
        name: &str,
    ) -> Result<TrailStatus, AwsError> {
        let client = self.cloudtrail(region);
        self.runtime.block_on(async {
            let out = client
                .get_trail_status()
                .name(arn)
                .send()
                .await
                .map_err(|e| {
                    AwsError::because(
                        format!("GetTrailStatus in {region}: {}", describe_error(&e)),
                        e,
                    )
                })?;
            let time = |t: Option<&aws_sdk_cloudtrail::primitives::DateTime>| {
                t.map(|t| UtcTime::from_unix(t.secs()))
            };
            Ok(TrailStatus {
                trail: name.to_string(),
                home_region: region.to_string(),
                account_id: account_id.to_string(),
                is_logging: out.is_logging(),
                latest_digest_delivery: time(out.latest_digest_delivery_time()),
            })
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailInfo {
    pub bucket: String,
    pub prefix: String,
    pub organization_trail: bool,
}

/// How far past the requested range keys are asked for: a digest ending just after a
/// rotation is signed with the new key (the AWS CLI does the same).
pub const KEY_RANGE_MARGIN_SECONDS: i64 = 2 * 3600;

/// ListPublicKeys on demand, once per region, cached for the run.
pub struct OnlineKeys {
    aws: Arc<Aws>,
    start: UtcTime,
    end: UtcTime,
    cache: Mutex<HashMap<String, Result<Arc<KeyRing>, String>>>,
}

impl OnlineKeys {
    pub fn new(aws: Arc<Aws>, start: UtcTime, end: UtcTime) -> OnlineKeys {
        OnlineKeys {
            aws,
            start: start.plus_seconds(-KEY_RANGE_MARGIN_SECONDS),
            end: end.plus_seconds(KEY_RANGE_MARGIN_SECONDS),
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl KeySource for OnlineKeys {
    fn keys_for(&self, region: &str, moments: &[UtcTime]) -> Result<Arc<KeyRing>, String> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut fetch = |name: String, start: UtcTime, end: UtcTime| {
            cache
                .entry(name)
                .or_insert_with(|| {
                    self.aws
                        .list_public_keys(region, start, end)
                        .map(Arc::new)
                        .map_err(|e| e.message)
                })
                .clone()
        };
        let base = fetch(region.to_string(), self.start, self.end)?;
        if moments.iter().all(|m| *m >= self.start && *m <= self.end) {
            return Ok(base);
        }
        let mut ring = (*base).clone();
        for moment in moments
            .iter()
            .filter(|m| **m < self.start || **m > self.end)
        {
            // One request per hour of generation times, cached.
            let hour = UtcTime::from_unix(moment.unix() - moment.unix().rem_euclid(3600));
            let around = fetch(
                format!("{region}@{}", hour.unix()),
                hour.plus_seconds(-KEY_RANGE_MARGIN_SECONDS),
                hour.plus_seconds(3600 + KEY_RANGE_MARGIN_SECONDS),
            )?;
            ring.extend((*around).clone());
        }
        Ok(Arc::new(ring))
    }

    fn known_keys(&self) -> KeyRing {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut ring = KeyRing::new();
        for keys in cache.values().flatten() {
            ring.extend((**keys).clone());
        }
        ring
    }
}
