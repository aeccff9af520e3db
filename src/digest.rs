//! The CloudTrail digest file: its key name and its JSON content, parsed strictly.
//!
//! Everything here comes from untrusted bytes. Parsing either yields a digest in which every
//! field has the shape the format promises, or an error saying which field is wrong; it never
//! guesses.

use std::fmt;

use serde::Deserialize;

use crate::hash::{Fingerprint, Sha256, Signature};
use crate::time::UtcTime;

/// `digestSignatureAlgorithm` (and the `signature-algorithm` metadata): RSA PKCS#1 v1.5 over
/// SHA-256, the only algorithm CloudTrail signs with. A digest naming another is refused.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// `previousDigestHashAlgorithm` and `logFiles[].hashAlgorithm`: the only value accepted.
pub const HASH_ALGORITHM: &str = "SHA-256";
/// 2015-01-01T00:00:00Z: before CloudTrail log file integrity validation existed, so no digest
/// is older. Where a range has no start, it starts here.
pub const EARLIEST_DIGEST_TIME: i64 = 1_420_070_400;

/// One digest chain: CloudTrail delivers one digest per hour for each of these.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId {
    /// The trail's S3 key prefix, without the trailing slash; empty when none.
    pub prefix: String,
    /// The organization (`o-` + 10–32 lowercase alphanumerics) of an organization trail, whose
    /// folders are `AWSLogs/ORG-ID/ACCOUNT/`; `None` for an account's own trail.
    pub organization_id: Option<String>,
    /// The 12-digit account the digests are delivered for (for an organization trail, the member
    /// account).
    pub account_id: String,
    /// Where the digests were delivered from.
    pub region: String,
    /// The trail's name, as the digest key names it (between REGION and HOMEREGION); it may hold
    /// underscores.
    pub trail: String,
    /// Where the trail was created.
    pub home_region: String,
    /// A chain of backfill digests (`..._backfill.json.gz`): these form chains of their own, apart
    /// from the hourly chain of the same trail and region.
    pub backfill: bool,
}

impl ChainId {
    /// `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/`
    pub fn account_root(&self) -> String {
        let mut root = String::new();
        if !self.prefix.is_empty() {
            root.push_str(&self.prefix);
            root.push('/');
        }
        root.push_str("AWSLogs/");
        if let Some(org) = &self.organization_id {
            root.push_str(org);
            root.push('/');
        }
        root.push_str(&self.account_id);
        root.push('/');
        root
    }

    /// The chains a digest folder `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail-Digest/REGION/`
    /// holds, as far as its path says: the trail (which only digest names give) is `trail`.
    pub fn of_digest_folder(folder: &str, trail: &str, home_region: &str) -> Option<ChainId> {
        // From the end: a prefix may itself hold "AWSLogs/".
        let mut parts = folder.strip_suffix('/')?.rsplit('/');
        let region = parts.next()?;
        if parts.next()? != "CloudTrail-Digest" {
            return None;
        }
        let account_id = parts.next()?;
        let organization_id = match parts.next()? {
            "AWSLogs" => None,
            org => {
                if parts.next()? != "AWSLogs" {
                    return None;
                }
                Some(org.to_string())
            }
        };
        let prefix: Vec<&str> = parts.collect();
        let prefix = prefix.into_iter().rev().collect::<Vec<_>>().join("/");
        let id = ChainId {
            prefix,
            organization_id,
            account_id: account_id.to_string(),
            region: region.to_string(),
            trail: trail.to_string(),
            home_region: home_region.to_string(),
            backfill: false,
        };
        // Only a folder this chain would name as its own.
        (id.digest_folder() == folder).then_some(id)
    }

    /// What a folder met while searching for digest folders says of the chains under it:
    /// `[PREFIX/]AWSLogs/[ORG/][ACCOUNT/[CloudTrail-Digest/]]`. The parts it does not reach
    /// (the region, and the account of an organization's folder) are left empty. Used to
    /// label a folder that could not be listed; a folder with no `AWSLogs/` in it is all prefix.
    pub fn of_search_folder(folder: &str, trail: &str, home_region: &str) -> ChainId {
        let parts: Vec<&str> = folder.trim_end_matches('/').split('/').collect();
        let mut id = ChainId {
            prefix: String::new(),
            organization_id: None,
            account_id: String::new(),
            region: String::new(),
            trail: trail.to_string(),
            home_region: home_region.to_string(),
            backfill: false,
        };
        // The last `AWSLogs` is the one CloudTrail made: a prefix may hold the word too.
        let Some(at) = parts.iter().rposition(|p| *p == "AWSLogs") else {
            id.prefix = parts.join("/");
            return id;
        };
        id.prefix = parts[..at].join("/");
        let mut rest = parts[at + 1..].iter();
        let mut next = rest.next();
        if let Some(org) = next.filter(|p| is_organization_id(p)) {
            id.organization_id = Some(org.to_string());
            next = rest.next();
        }
        if let Some(account) = next.filter(|p| is_account_id(p)) {
            id.account_id = account.to_string();
        }
        id
    }

    /// The folder holding this chain's digests: `.../CloudTrail-Digest/REGION/`.
    pub fn digest_folder(&self) -> String {
        format!("{}CloudTrail-Digest/{}/", self.account_root(), self.region)
    }

    /// The key CloudTrail would give this chain's digest ending at `end_time`.
    pub fn digest_key(&self, end_time: UtcTime) -> String {
        format!(
            "{}{}/{}_CloudTrail-Digest_{}_{}_{}_{}{}",
            self.digest_folder(),
            end_time.date_path(),
            self.account_id,
            self.region,
            self.trail,
            self.home_region,
            end_time.compact(),
            if self.backfill {
                "_backfill.json.gz"
            } else {
                ".json.gz"
            }
        )
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "trail {} (home {}) account {} region {}{}",
            self.trail,
            self.home_region,
            self.account_id,
            self.region,
            if self.backfill { " (backfill)" } else { "" }
        )
    }
}

/// What a digest's key name says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestKey {
    /// The chain the digest belongs to.
    pub chain: ChainId,
    /// `digestEndTime`, from the `YYYYMMDDTHHMMSSZ` stamp in the name (the `YYYY/MM/DD` folders
    /// agree with it).
    pub end_time: UtcTime,
}

pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_organization_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("o-") else {
        return false;
    };
    (10..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Region names: lowercase letters, digits and dashes (`us-east-1`, `us-gov-west-1`).
pub fn is_region(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_trail_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl DigestKey {
    /// Parses `[PREFIX/]AWSLogs/[ORG/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/NAME` and checks
    /// that the folders agree with the name. `None` when the key is not a digest's.
    pub fn parse(key: &str) -> Option<DigestKey> {
        let (prefix, rest) = if let Some(rest) = key.strip_prefix("AWSLogs/") {
            ("", rest)
        } else {
            let at = key.rfind("/AWSLogs/")?;
            (&key[..at], &key[at + "/AWSLogs/".len()..])
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (organization_id, parts) = match parts.len() {
            8 if is_organization_id(parts[0]) => (Some(parts[0].to_string()), &parts[1..]),
            7 => (None, &parts[..]),
            _ => return None,
        };
        let [account, kind, region, yyyy, mm, dd, name] = parts else {
            return None;
        };
        if !is_account_id(account) || *kind != "CloudTrail-Digest" || !is_region(region) {
            return None;
        }
        let (stem, backfill) = if let Some(stem) = name.strip_suffix("_backfill.json.gz") {
            (stem, true)
        } else {
            (name.strip_suffix(".json.gz")?, false)
        };
        let after_account = stem
            .strip_prefix(account)?
            .strip_prefix("_CloudTrail-Digest_")?;
        let after_region = after_account.strip_prefix(region)?.strip_prefix('_')?;
        // TRAIL may itself contain underscores; HOMEREGION and the time never do.
        let (rest, time) = after_region.rsplit_once('_')?;
        let (trail, home_region) = rest.rsplit_once('_')?;
        if !is_trail_name(trail) || !is_region(home_region) {
            return None;
        }
        let end_time = UtcTime::parse_compact(time).ok()?;
        if end_time.date_path() != format!("{yyyy}/{mm}/{dd}") {
            return None;
        }
        let parsed = DigestKey {
            chain: ChainId {
                prefix: prefix.to_string(),
                organization_id,
                account_id: account.to_string(),
                region: region.to_string(),
                trail: trail.to_string(),
                home_region: home_region.to_string(),
                backfill,
            },
            end_time,
        };
        // Only a key CloudTrail could have written: it must be exactly what the parts make
        // (this also refuses a leading `/` or other unusual spellings of the same parts).
        (parsed.chain.digest_key(parsed.end_time) == key).then_some(parsed)
    }
}

/// Why a digest's content was refused.
#[derive(Debug)]
pub enum DigestFormatError {
    /// Not JSON, or not the shape of a digest (a field missing or of the wrong type).
    Json(serde_json::Error),
    /// A field parsed but its value is not allowed: bad hex or length, a time not in the
    /// `YYYY-MM-DDTHH:MM:SSZ` form, an empty bucket or key, an algorithm other than
    /// [`SIGNATURE_ALGORITHM`]/[`HASH_ALGORITHM`], `digestStartTime` after `digestEndTime`, or the
    /// five `previousDigest*` fields only partly null.
    Field {
        /// The CloudTrail field name (`digestEndTime`, `logFiles[].hashValue`; `previousDigest*`
        /// for the five together).
        field: &'static str,
        /// What is wrong with its value, in words.
        problem: String,
    },
}

impl fmt::Display for DigestFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestFormatError::Json(e) => write!(f, "not a digest JSON document: {e}"),
            DigestFormatError::Field { field, problem } => write!(f, "field {field}: {problem}"),
        }
    }
}

impl std::error::Error for DigestFormatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DigestFormatError::Json(e) => Some(e),
            DigestFormatError::Field { .. } => None,
        }
    }
}

fn field_error(field: &'static str, problem: impl fmt::Display) -> DigestFormatError {
    DigestFormatError::Field {
        field,
        problem: problem.to_string(),
    }
}

/// The link from a digest to its predecessor in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousDigest {
    /// `previousDigestS3Bucket`: the bucket the previous digest of the chain was delivered to.
    pub bucket: String,
    /// `previousDigestS3Object`: the previous digest's key in that bucket.
    pub object: String,
    /// `previousDigestHashValue`: SHA-256 of the previous digest's uncompressed bytes.
    pub hash: Sha256,
    /// `previousDigestSignature`: the previous digest's signature, which must equal the one in that
    /// digest's own metadata.
    pub signature: Signature,
    /// The signature as written, when that is not the lowercase hex of `signature` (the text
    /// is part of this digest's signed message). Usually `None`: thousands of digests are held
    /// at once during a walk, and the text would double what the signature costs.
    signature_as_written: Option<String>,
}

impl PreviousDigest {
    /// The signature exactly as written.
    pub fn signature_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.signature_as_written {
            Some(text) => std::borrow::Cow::Borrowed(text),
            None => std::borrow::Cow::Owned(self.signature.to_hex()),
        }
    }
}

/// One entry of `logFiles[]`: a log file the digest vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileRecord {
    /// `s3Bucket`: the bucket CloudTrail delivered the log file to.
    pub bucket: String,
    /// `s3Object`: the log file's key in that bucket.
    pub object: String,
    /// SHA-256 of the log's inflated bytes.
    pub hash: Sha256,
    /// `newestEventTime`: the latest event in the log file; `None` when null or absent.
    pub newest_event_time: Option<UtcTime>,
    /// `oldestEventTime`: the earliest event in the log file; `None` when null or absent.
    pub oldest_event_time: Option<UtcTime>,
}

/// A digest file's content, checked for shape only: its signature, location and links are checked
/// by the chain walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// `awsAccountId`: the 12-digit account the digest was delivered for.
    pub account_id: String,
    /// `digestStartTime`: start of the delivery window the digest covers; never after `end_time`.
    pub start_time: UtcTime,
    /// `digestEndTime`: end of the window (inclusive). Also in the key name and the signed message.
    pub end_time: UtcTime,
    /// `digestS3Bucket`: the bucket CloudTrail put this digest in; read from anywhere else, it has
    /// been moved.
    pub bucket: String,
    /// `digestS3Object`: the key CloudTrail gave this digest.
    pub object: String,
    /// `digestPublicKeyFingerprint`: identifies the public key (of the digest's region) whose
    /// private key signed it.
    pub fingerprint: Fingerprint,
    /// `newestEventTime`: the latest event over all its log files; `None` (null) when `logFiles` is
    /// empty.
    pub newest_event_time: Option<UtcTime>,
    /// `oldestEventTime`: the earliest event over all its log files; `None` (null) when `logFiles`
    /// is empty.
    pub oldest_event_time: Option<UtcTime>,
    /// `None` for a starting digest (all five `previousDigest*` fields null).
    pub previous: Option<PreviousDigest>,
    /// `logFiles`: the log files delivered in the window, in the digest's order. Empty proves that
    /// none was.
    pub log_files: Vec<LogFileRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDigest {
    aws_account_id: String,
    digest_start_time: String,
    digest_end_time: String,
    digest_s3_bucket: String,
    digest_s3_object: String,
    digest_public_key_fingerprint: String,
    digest_signature_algorithm: String,
    #[serde(default)]
    newest_event_time: Option<String>,
    #[serde(default)]
    oldest_event_time: Option<String>,
    #[serde(default)]
    previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    previous_digest_s3_object: Option<String>,
    #[serde(default)]
    previous_digest_hash_value: Option<String>,
    #[serde(default)]
    previous_digest_hash_algorithm: Option<String>,
    #[serde(default)]
    previous_digest_signature: Option<String>,
    log_files: Vec<RawLogFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogFile {
    s3_bucket: String,
    s3_object: String,
    hash_value: String,
    hash_algorithm: String,
    #[serde(default)]
    newest_event_time: Option<String>,
    #[serde(default)]
    oldest_event_time: Option<String>,
}

fn time_field(field: &'static str, text: &str) -> Result<UtcTime, DigestFormatError> {
    UtcTime::parse_field(text).map_err(|e| field_error(field, e))
}

fn optional_time(
    field: &'static str,
    text: &Option<String>,
) -> Result<Option<UtcTime>, DigestFormatError> {
    text.as_deref().map(|t| time_field(field, t)).transpose()
}

fn non_empty(field: &'static str, text: String) -> Result<String, DigestFormatError> {
    if text.is_empty() {
        Err(field_error(field, "empty"))
    } else {
        Ok(text)
    }
}

impl Digest {
    /// Parses the uncompressed digest JSON.
    pub fn parse(bytes: &[u8]) -> Result<Digest, DigestFormatError> {
        let raw: RawDigest = serde_json::from_slice(bytes).map_err(DigestFormatError::Json)?;
        if !is_account_id(&raw.aws_account_id) {
            return Err(field_error("awsAccountId", "not a 12-digit account id"));
        }
        if raw.digest_signature_algorithm != SIGNATURE_ALGORITHM {
            return Err(field_error(
                "digestSignatureAlgorithm",
                format!(
                    "{:?} is not {SIGNATURE_ALGORITHM}",
                    raw.digest_signature_algorithm
                ),
            ));
        }
        let start_time = time_field("digestStartTime", &raw.digest_start_time)?;
        let end_time = time_field("digestEndTime", &raw.digest_end_time)?;
        if start_time > end_time {
            return Err(field_error("digestStartTime", "later than digestEndTime"));
        }
        let fingerprint = Fingerprint::parse_hex(&raw.digest_public_key_fingerprint)
            .map_err(|e| field_error("digestPublicKeyFingerprint", e))?;

        let previous = match (
            raw.previous_digest_s3_bucket,
            raw.previous_digest_s3_object,
            raw.previous_digest_hash_value,
            raw.previous_digest_hash_algorithm,
            raw.previous_digest_signature,
        ) {
            (None, None, None, None, None) => None,
            (Some(bucket), Some(object), Some(hash), Some(algorithm), Some(signature_text)) => {
                if algorithm != HASH_ALGORITHM {
                    return Err(field_error(
                        "previousDigestHashAlgorithm",
                        format!("{algorithm:?} is not {HASH_ALGORITHM}"),
                    ));
                }
                let signature = Signature::parse_hex(&signature_text)
                    .map_err(|e| field_error("previousDigestSignature", e))?;
                let signature_as_written =
                    (signature.to_hex() != signature_text).then_some(signature_text);
                Some(PreviousDigest {
                    bucket: non_empty("previousDigestS3Bucket", bucket)?,
                    object: non_empty("previousDigestS3Object", object)?,
                    hash: Sha256::parse_hex(&hash)
                        .map_err(|e| field_error("previousDigestHashValue", e))?,
                    signature,
                    signature_as_written,
                })
            }
            _ => {
                return Err(field_error(
                    "previousDigest*",
                    "some of the five previous-digest fields are null and others are not",
                ))
            }
        };

        let mut log_files = Vec::with_capacity(raw.log_files.len());
        for log in raw.log_files {
            if log.hash_algorithm != HASH_ALGORITHM {
                return Err(field_error(
                    "logFiles[].hashAlgorithm",
                    format!("{:?} is not {HASH_ALGORITHM}", log.hash_algorithm),
                ));
            }
            log_files.push(LogFileRecord {
                bucket: non_empty("logFiles[].s3Bucket", log.s3_bucket)?,
                object: non_empty("logFiles[].s3Object", log.s3_object)?,
                hash: Sha256::parse_hex(&log.hash_value)
                    .map_err(|e| field_error("logFiles[].hashValue", e))?,
                newest_event_time: optional_time(
                    "logFiles[].newestEventTime",
                    &log.newest_event_time,
                )?,
                oldest_event_time: optional_time(
                    "logFiles[].oldestEventTime",
                    &log.oldest_event_time,
                )?,
            });
        }

        Ok(Digest {
            account_id: raw.aws_account_id,
            start_time,
            end_time,
            bucket: non_empty("digestS3Bucket", raw.digest_s3_bucket)?,
            object: non_empty("digestS3Object", raw.digest_s3_object)?,
            fingerprint,
            newest_event_time: optional_time("newestEventTime", &raw.newest_event_time)?,
            oldest_event_time: optional_time("oldestEventTime", &raw.oldest_event_time)?,
            previous,
            log_files,
        })
    }

    /// The string CloudTrail signs for this digest, given the SHA-256 of its uncompressed bytes.
    pub fn signed_message(&self, own_hash: &Sha256) -> String {
        signed_message(
            self.end_time,
            &self.bucket,
            &self.object,
            own_hash,
            self.previous
                .as_ref()
                .map(|p| p.signature_text())
                .as_deref(),
        )
    }
}

/// `digestEndTime \n bucket/object \n hex(sha256) \n previousSignature-or-null`
pub fn signed_message(
    end_time: UtcTime,
    bucket: &str,
    object: &str,
    own_hash: &Sha256,
    previous_signature: Option<&str>,
) -> String {
    format!(
        "{end_time}\n{bucket}/{object}\n{}\n{}",
        own_hash.to_hex(),
        previous_signature.unwrap_or("null")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "logs/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/111122223333_CloudTrail-Digest_us-east-1_my_trail.v2_eu-west-1_20240301T061742Z.json.gz";

    #[test]
    fn a_search_folder_names_what_its_path_reaches() {
        let parts = |folder: &str| {
            let id = ChainId::of_search_folder(folder, "t", "us-east-1");
            assert_eq!(
                (id.trail.as_str(), id.home_region.as_str()),
                ("t", "us-east-1")
            );
            assert!(id.region.is_empty());
            (id.prefix, id.organization_id, id.account_id)
        };
        let none = || None::<String>;
        assert_eq!(parts("AWSLogs/"), ("".into(), none(), "".into()));
        assert_eq!(
            parts("p/AWSLogs/o-abc1234567/"),
            ("p".into(), Some("o-abc1234567".into()), "".into())
        );
        assert_eq!(
            parts("p/AWSLogs/o-abc1234567/111122223333/CloudTrail-Digest/"),
            (
                "p".into(),
                Some("o-abc1234567".into()),
                "111122223333".into()
            )
        );
        assert_eq!(
            parts("a/AWSLogs/b/AWSLogs/111122223333/CloudTrail-Digest/"),
            ("a/AWSLogs/b".into(), none(), "111122223333".into())
        );
        assert_eq!(parts("x/y/"), ("x/y".into(), none(), "".into()));
        assert_eq!(parts(""), ("".into(), none(), "".into()));
    }

    #[test]
    fn a_digest_folder_names_its_chain_but_the_trail() {
        let key = DigestKey::parse(KEY).unwrap();
        let folder = key.chain.digest_folder();
        let id = ChainId::of_digest_folder(&folder, "my_trail.v2", "eu-west-1").unwrap();
        assert_eq!(id, key.chain);
        let org = ChainId::of_digest_folder(
            "AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/",
            "",
            "eu-west-1",
        )
        .unwrap();
        assert_eq!(org.organization_id.as_deref(), Some("o-abc123"));
        assert_eq!(
            (org.account_id.as_str(), org.prefix.as_str()),
            ("111122223333", "")
        );
        assert_eq!(
            org.digest_folder(),
            "AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/"
        );
        // A prefix may hold "AWSLogs/" itself (found by fuzzing).
        let nested = ChainId::of_digest_folder(
            "x/AWSLogs/y/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/",
            "",
            "us-east-1",
        )
        .unwrap();
        assert_eq!(nested.prefix, "x/AWSLogs/y");
        assert_eq!(nested.organization_id, None);
        for not_one in [
            "AWSLogs/111122223333/CloudTrail/us-east-1/",
            "AWSLogs/111122223333/",
            "logs/111122223333/CloudTrail-Digest/us-east-1/",
            "a/b/c/AWSLogs/1/2/3/CloudTrail-Digest/us-east-1/",
        ] {
            assert_eq!(
                ChainId::of_digest_folder(not_one, "", ""),
                None,
                "{not_one}"
            );
        }
    }

    #[test]
    fn parses_digest_key_with_prefix_and_underscored_trail() {
        let key = DigestKey::parse(KEY).unwrap();
        assert_eq!(key.chain.prefix, "logs");
        assert_eq!(key.chain.trail, "my_trail.v2");
        assert_eq!(key.chain.home_region, "eu-west-1");
        assert_eq!(key.chain.region, "us-east-1");
        assert!(!key.chain.backfill);
        assert_eq!(key.end_time.to_string(), "2024-03-01T06:17:42Z");
        assert_eq!(key.chain.digest_key(key.end_time), KEY);
    }

    #[test]
    fn parses_org_and_backfill_keys() {
        let key = "AWSLogs/o-abcdefghij/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240301T061742Z_backfill.json.gz";
        let parsed = DigestKey::parse(key).unwrap();
        assert_eq!(
            parsed.chain.organization_id.as_deref(),
            Some("o-abcdefghij")
        );
        assert!(parsed.chain.backfill);
        assert_eq!(parsed.chain.prefix, "");
        assert_eq!(parsed.chain.digest_key(parsed.end_time), key);
    }

    #[test]
    fn rejects_inconsistent_digest_keys() {
        // date folder disagrees with the name's time
        assert!(DigestKey::parse(&KEY.replace("/01/1111", "/02/1111")).is_none());
        // account in folder differs from the name
        assert!(DigestKey::parse(&KEY.replace("/111122223333/", "/111122223334/")).is_none());
        // a log file, not a digest
        assert!(
            DigestKey::parse("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/x.json.gz")
                .is_none()
        );
    }

    fn sample_json(previous: &str) -> String {
        format!(
            r#"{{"awsAccountId":"111122223333","digestStartTime":"2024-03-01T05:17:42Z",
            "digestEndTime":"2024-03-01T06:17:42Z","digestS3Bucket":"b","digestS3Object":"k",
            "digestPublicKeyFingerprint":"0123456789abcdef0123456789ABCDEF",
            "digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,"oldestEventTime":null,
            {previous}"logFiles":[]}}"#
        )
    }

    #[test]
    fn starting_digest_parses() {
        let nulls = r#""previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"#;
        let digest = Digest::parse(sample_json(nulls).as_bytes()).unwrap();
        assert!(digest.previous.is_none());
        let message = digest.signed_message(&Sha256::of(b""));
        assert!(message.ends_with("\nnull"));
        assert!(message.starts_with("2024-03-01T06:17:42Z\nb/k\ne3b0"));
    }

    #[test]
    fn partial_previous_fields_are_malformed() {
        let partial = r#""previousDigestS3Bucket":"b","previousDigestS3Object":null,"#;
        let err = Digest::parse(sample_json(partial).as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            DigestFormatError::Field {
                field: "previousDigest*",
                ..
            }
        ));
    }

    #[test]
    fn the_previous_signature_is_signed_exactly_as_written() {
        let hash = "ab".repeat(32);
        for written in ["0a1b".repeat(128), "0A1B".repeat(128), "0a1B".repeat(128)] {
            let previous = format!(
                r#""previousDigestS3Bucket":"b","previousDigestS3Object":"p","previousDigestHashValue":"{hash}","previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":"{written}","#
            );
            let digest = Digest::parse(sample_json(&previous).as_bytes()).unwrap();
            let link = digest.previous.as_ref().unwrap();
            assert_eq!(link.signature.0, [0x0a, 0x1b].repeat(128));
            assert_eq!(link.signature_text(), written);
            let message = digest.signed_message(&Sha256([7; 32]));
            assert!(message.ends_with(&format!("\n{written}")), "{message}");
        }
    }

    #[test]
    fn duplicate_fields_are_malformed() {
        let dup = r#""awsAccountId":"999999999999","#;
        assert!(Digest::parse(sample_json(dup).as_bytes()).is_err());
    }

    #[test]
    fn a_json_refusal_carries_the_parser_error_as_its_source() {
        use std::error::Error as _;
        let err = Digest::parse(b"{not json").unwrap_err();
        let source = err.source().expect("the JSON error is the cause");
        assert!(source.is::<serde_json::Error>(), "{source:?}");
        assert_eq!(
            err.to_string(),
            format!("not a digest JSON document: {source}")
        );
        // A field's problem is this parser's own finding: nothing beneath it.
        let partial = r#""previousDigestS3Bucket":"b","previousDigestS3Object":null,"#;
        let field = Digest::parse(sample_json(partial).as_bytes()).unwrap_err();
        assert!(field.source().is_none(), "{field:?}");
    }
}
