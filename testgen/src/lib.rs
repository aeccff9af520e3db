//! Signed CloudTrail-shaped trails for test vectors, tests, benchmarks and fuzz targets.
//!
//! A crate of its own, dev-only and never published, so that no signing code ships in the
//! `ctverify` library. This is a signer, so it only ever runs with the TEST keys committed under
//! `vectors/test-keys/` (or keys a test makes up). It follows cloudtrail-integrity.md: logs are
//! gzipped `{"Records":[...]}` documents, each hour gets a digest listing the SHA-256 of each
//! log's inflated bytes, chained to the previous digest by hash and signature, and signed with
//! RSA PKCS#1 v1.5 SHA-256 over CloudTrail's signing string. Output is deterministic, so the
//! committed vectors can be regenerated and compared.

pub mod vectors;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde::Serialize;
use serde_json::{json, Value};

use ctverify::internal::{gzip, signed_message};
use ctverify::{
    inflate_and_hash, ChainId, Fingerprint, Keep, Sha256, UtcTime, HASH_ALGORITHM,
    SIGNATURE_ALGORITHM,
};

/// An RSA private key used to sign test digests.
pub struct TestSigner {
    key: rsa::RsaPrivateKey,
    public_der: Vec<u8>,
}

impl TestSigner {
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<TestSigner, String> {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| format!("not an RSA private key PEM: {e}"))?;
        let public_der = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| format!("cannot encode the public key: {e}"))?
            .as_bytes()
            .to_vec();
        Ok(TestSigner { key, public_der })
    }

    pub fn from_pem_file(path: &Path) -> Result<TestSigner, String> {
        let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        TestSigner::from_pem(&pem)
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.public_der)
    }

    /// PKCS#1 `RSAPublicKey` DER, as ListPublicKeys serves it.
    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    pub fn sign(&self, message: &[u8]) -> String {
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        hex::encode(signer.sign(message).to_bytes())
    }

    /// This key as one entry of a `list-public-keys` document.
    pub fn key_entry(&self, region: &str, valid_from: UtcTime, valid_to: UtcTime) -> KeyEntry {
        KeyEntry {
            value: base64::engine::general_purpose::STANDARD.encode(&self.public_der),
            validity_start_time: valid_from.unix(),
            validity_end_time: valid_to.unix(),
            fingerprint: self.fingerprint().to_hex(),
            region: region.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyEntry {
    pub value: String,
    pub validity_start_time: i64,
    pub validity_end_time: i64,
    pub fingerprint: String,
    pub region: String,
}

/// A bucket's worth of objects plus what a bundle keeps beside them.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub bucket: String,
    pub prefix: String,
    pub objects: BTreeMap<String, Vec<u8>>,
    /// S3 user metadata of digests, by key.
    pub metadata: BTreeMap<String, BTreeMap<String, String>>,
    pub public_keys: Vec<KeyEntry>,
}

impl Bundle {
    pub fn new(bucket: &str, prefix: &str) -> Bundle {
        Bundle {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            objects: BTreeMap::new(),
            metadata: BTreeMap::new(),
            public_keys: Vec::new(),
        }
    }

    /// Writes `dir/KEY` for every object and the `.ctverify/` files.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        for (key, bytes) in &self.objects {
            let path = dir.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
        }
        let meta_dir = dir.join(ctverify::internal::BUNDLE_DIR);
        std::fs::create_dir_all(&meta_dir)?;
        let info = ctverify::BundleInfo {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            copied_from: Some("ctverify test vector generator (TEST KEYS, not AWS)".into()),
            copied_at: None,
        };
        let metadata: BTreeMap<String, &BTreeMap<String, String>> = self
            .metadata
            .iter()
            .map(|(k, m)| (format!("{}/{k}", self.bucket), m))
            .collect();
        write_json(
            &meta_dir.join(ctverify::internal::BUNDLE_FILE),
            &serde_json::to_value(&info)?,
        )?;
        write_json(
            &meta_dir.join(ctverify::internal::METADATA_FILE),
            &serde_json::to_value(&metadata)?,
        )?;
        write_json(
            &meta_dir.join(ctverify::internal::PUBLIC_KEYS_FILE),
            &json!({ "PublicKeyList": self.public_keys }),
        )?;
        Ok(())
    }

    /// The inflated bytes of an object the generator wrote.
    pub fn inflated(&self, key: &str) -> Vec<u8> {
        let bytes = self.objects.get(key).map(Vec::as_slice).unwrap_or_default();
        inflate_and_hash(bytes, Keep::Bytes { cap: u64::MAX })
            .ok()
            .and_then(|i| i.bytes.map(ctverify::KeptBytes::into_vec))
            .unwrap_or_default()
    }

    /// Rewrites a digest's JSON with `edit` and re-gzips it, leaving its metadata alone (what an
    /// attacker without the signing key can do).
    pub fn edit_digest(&mut self, key: &str, edit: impl FnOnce(&mut Value)) {
        let mut value: Value = serde_json::from_slice(&self.inflated(key)).unwrap_or(Value::Null);
        edit(&mut value);
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        self.objects.insert(key.to_string(), gzip(&bytes));
    }

    /// Rewrites a digest and signs the result with `signer`, updating its metadata: what an
    /// attacker holding some other key can do.
    pub fn resign_digest(&mut self, key: &str, signer: &TestSigner, edit: impl FnOnce(&mut Value)) {
        let fingerprint = signer.fingerprint().to_hex();
        self.edit_digest(key, |v| {
            edit(v);
            v["digestPublicKeyFingerprint"] = Value::String(fingerprint);
        });
        let inflated = self.inflated(key);
        let value: Value = serde_json::from_slice(&inflated).unwrap_or(Value::Null);
        let end = UtcTime::parse_field(value["digestEndTime"].as_str().unwrap_or(""))
            .unwrap_or(UtcTime::from_unix(0));
        let message = signed_message(
            end,
            value["digestS3Bucket"].as_str().unwrap_or(""),
            value["digestS3Object"].as_str().unwrap_or(""),
            &Sha256::of(&inflated),
            value["previousDigestSignature"].as_str(),
        );
        let signature = signer.sign(message.as_bytes());
        self.metadata
            .entry(key.to_string())
            .or_default()
            .insert("signature".into(), signature);
    }
}

fn write_json(path: &Path, value: &Value) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// Short deterministic identifiers: `len` characters of [A-Za-z0-9] derived from `seed`.
pub fn unique_id(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut round = 0u32;
    while out.len() < len {
        let hash = Sha256::of(format!("{seed}#{round}").as_bytes());
        for b in hash.0 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
        }
        round += 1;
    }
    out
}

fn uuid_like(seed: &str) -> String {
    let h = Sha256::of(seed.as_bytes()).to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

const EVENTS: &[(&str, &str, bool)] = &[
    ("s3.amazonaws.com", "GetObject", true),
    ("ec2.amazonaws.com", "DescribeInstances", true),
    ("iam.amazonaws.com", "CreateAccessKey", false),
    ("sts.amazonaws.com", "AssumeRole", false),
    ("kms.amazonaws.com", "Decrypt", true),
    ("signin.amazonaws.com", "ConsoleLogin", false),
    ("lambda.amazonaws.com", "Invoke", false),
];

/// `count` CloudTrail-like records with event times spread over `[from, to]`.
pub fn log_records(
    seed: &str,
    account: &str,
    region: &str,
    from: UtcTime,
    to: UtcTime,
    count: usize,
) -> Value {
    let span = (to.unix() - from.unix()).max(1);
    let records: Vec<Value> = (0..count)
        .map(|i| {
            let (source, name, read_only) = EVENTS[i % EVENTS.len()];
            let at = from.plus_seconds(span * i as i64 / count.max(1) as i64);
            let user = ["alice", "bob", "deploy-bot", "auditor"][i % 4];
            json!({
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "IAMUser",
                    "principalId": format!("AIDA{}", unique_id(&format!("{user}{account}"), 17).to_uppercase()),
                    "arn": format!("arn:aws:iam::{account}:user/{user}"),
                    "accountId": account,
                    "accessKeyId": format!("AKIA{}", unique_id(&format!("{seed}{i}key"), 16).to_uppercase()),
                    "userName": user
                },
                "eventTime": at.to_string(),
                "eventSource": source,
                "eventName": name,
                "awsRegion": region,
                "sourceIPAddress": format!("198.51.100.{}", 1 + (i * 37) % 250),
                "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64",
                "requestParameters": {"resource": format!("{}-{i}", unique_id(seed, 8))},
                "responseElements": null,
                "requestID": uuid_like(&format!("{seed}/{i}/request")),
                "eventID": uuid_like(&format!("{seed}/{i}/event")),
                "readOnly": read_only,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": account,
                "eventCategory": "Management",
                "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A CloudTrail record of a call to CloudTrail itself about a trail (`StopLogging`,
/// `StartLogging`, `DeleteTrail`, `CreateTrail`, `UpdateTrail`, or any other `kind_name`),
/// shaped like the records CloudTrail writes for them: `requestParameters.name` is `trail_arn`
/// (a trail's ARN or plain name, as callers may pass either), joined by the fields of
/// `extra_request_parameters` (an object, e.g. `{"enableLogFileValidation": false}`;
/// anything else is ignored). A `CreateTrail` or `UpdateTrail` answers with the trail's name
/// and ARN, the others with `null`, as CloudTrail does. Deterministic: the ids derive from the
/// arguments.
pub fn trail_event_record(
    kind_name: &str,
    time: UtcTime,
    trail_arn: &str,
    principal_arn: &str,
    account: &str,
    region: &str,
    extra_request_parameters: Value,
) -> Value {
    let seed = format!("{kind_name}/{}/{trail_arn}/{principal_arn}", time.unix());
    let mut parameters = serde_json::Map::new();
    parameters.insert("name".into(), Value::String(trail_arn.to_string()));
    if let Value::Object(extra) = extra_request_parameters {
        parameters.extend(extra);
    }
    let trail_name = trail_arn
        .rsplit_once(":trail/")
        .map_or(trail_arn, |(_, name)| name);
    let response = match kind_name {
        "CreateTrail" | "UpdateTrail" => json!({
            "name": trail_name,
            "trailARN": trail_arn,
        }),
        _ => Value::Null,
    };
    let identity_type = if principal_arn.contains(":assumed-role/") {
        "AssumedRole"
    } else if principal_arn.ends_with(":root") {
        "Root"
    } else {
        "IAMUser"
    };
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": identity_type,
            "principalId": format!("AIDA{}", unique_id(principal_arn, 17).to_uppercase()),
            "arn": principal_arn,
            "accountId": account
        },
        "eventTime": time.to_string(),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": kind_name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64",
        "requestParameters": parameters,
        "responseElements": response,
        "requestID": uuid_like(&format!("{seed}/request")),
        "eventID": uuid_like(&format!("{seed}/event")),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    })
}

/// The digest JSON, with the fields in the order CloudTrail writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DigestJson<'a> {
    aws_account_id: &'a str,
    digest_start_time: String,
    digest_end_time: String,
    digest_s3_bucket: &'a str,
    digest_s3_object: &'a str,
    digest_public_key_fingerprint: String,
    digest_signature_algorithm: &'a str,
    newest_event_time: Option<String>,
    oldest_event_time: Option<String>,
    previous_digest_s3_bucket: Option<&'a str>,
    previous_digest_s3_object: Option<&'a str>,
    previous_digest_hash_value: Option<String>,
    previous_digest_hash_algorithm: Option<&'a str>,
    previous_digest_signature: Option<&'a str>,
    log_files: Vec<LogFileJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogFileJson {
    s3_bucket: String,
    s3_object: String,
    hash_value: String,
    hash_algorithm: &'static str,
    newest_event_time: String,
    oldest_event_time: String,
}

/// What a delivered hour produced.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub digest_key: String,
    pub log_keys: Vec<String>,
    pub start: UtcTime,
    pub end: UtcTime,
}

/// Options for one hour's digest that a test may want to bend.
#[derive(Debug, Clone, Copy, Default)]
pub struct HourOptions {
    /// Records per log file.
    pub records_per_log: usize,
    /// Write a `previousDigestHashValue` that is not the predecessor's (yet sign it properly).
    pub wrong_previous_hash: bool,
}

struct Link {
    bucket: String,
    key: String,
    hash: Sha256,
    signature: String,
}

/// Builds one digest chain hour by hour.
pub struct ChainWriter {
    pub id: ChainId,
    previous: Option<Link>,
    pub delivered: Vec<Delivered>,
    /// S3 metadata added to every digest besides the signature (e.g. a backfill digest's
    /// `backfill-generation-timestamp`).
    pub extra_metadata: BTreeMap<String, String>,
    /// Records (e.g. [`trail_event_record`]s) appended to the first log of the next hour
    /// delivered with at least one log, then cleared. The digest's event times are not
    /// widened for them.
    pub pending_records: Vec<Value>,
}

impl ChainWriter {
    pub fn new(id: ChainId) -> ChainWriter {
        ChainWriter {
            id,
            previous: None,
            delivered: Vec::new(),
            extra_metadata: BTreeMap::new(),
            pending_records: Vec::new(),
        }
    }

    /// Logging (or validation) stops: the next digest starts a new chain segment.
    pub fn stop_logging(&mut self) {
        self.previous = None;
    }

    pub fn log_key(&self, delivered_at: UtcTime, seed: &str) -> String {
        let (y, mo, d, h, mi, _) = delivered_at.civil();
        format!(
            "{}CloudTrail/{}/{}/{}_CloudTrail_{}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{}.json.gz",
            self.id.account_root(),
            self.id.region,
            delivered_at.date_path(),
            self.id.account_id,
            self.id.region,
            unique_id(seed, 16)
        )
    }

    /// Delivers `log_count` log files in the window `(start, end]` and the digest for it.
    pub fn deliver(
        &mut self,
        bundle: &mut Bundle,
        signer: &TestSigner,
        start: UtcTime,
        end: UtcTime,
        log_count: usize,
        options: HourOptions,
    ) -> Delivered {
        let records = options.records_per_log.max(1);
        let account = self.id.account_id.clone();
        let region = self.id.region.clone();
        let span = end.unix() - start.unix();
        let mut log_files = Vec::new();
        let mut log_keys = Vec::new();
        for i in 0..log_count {
            let delivered_at = start.plus_seconds(span * (i as i64 + 1) / (log_count as i64 + 1));
            let seed = format!("{}/{}/{}", self.id.digest_folder(), delivered_at.unix(), i);
            let key = self.log_key(delivered_at, &seed);
            let events_from = start.plus_seconds(-300).max(start.plus_seconds(-span));
            let mut body = log_records(
                &seed,
                &account,
                &region,
                events_from,
                delivered_at.plus_seconds(-60),
                records,
            );
            if i == 0 && !self.pending_records.is_empty() {
                if let Some(Value::Array(listed)) = body.get_mut("Records") {
                    listed.append(&mut self.pending_records);
                }
            }
            let inflated = serde_json::to_vec(&body).unwrap_or_default();
            let oldest = events_from;
            let newest = events_from.plus_seconds(
                (delivered_at.unix() - 60 - events_from.unix()) * (records as i64 - 1)
                    / records as i64,
            );
            log_files.push(LogFileJson {
                s3_bucket: bundle.bucket.clone(),
                s3_object: key.clone(),
                hash_value: Sha256::of(&inflated).to_hex(),
                hash_algorithm: HASH_ALGORITHM,
                newest_event_time: newest.to_string(),
                oldest_event_time: oldest.to_string(),
            });
            bundle.objects.insert(key.clone(), gzip(&inflated));
            log_keys.push(key);
        }
        let newest = log_files.iter().map(|l| l.newest_event_time.clone()).max();
        let oldest = log_files.iter().map(|l| l.oldest_event_time.clone()).min();

        let digest_key = self.id.digest_key(end);
        let previous_hash = self.previous.as_ref().map(|p| {
            if options.wrong_previous_hash {
                Sha256::of(p.hash.to_hex().as_bytes()).to_hex()
            } else {
                p.hash.to_hex()
            }
        });
        let digest = DigestJson {
            aws_account_id: &account,
            digest_start_time: start.to_string(),
            digest_end_time: end.to_string(),
            digest_s3_bucket: &bundle.bucket,
            digest_s3_object: &digest_key,
            digest_public_key_fingerprint: signer.fingerprint().to_hex(),
            digest_signature_algorithm: SIGNATURE_ALGORITHM,
            newest_event_time: newest,
            oldest_event_time: oldest,
            previous_digest_s3_bucket: self.previous.as_ref().map(|p| p.bucket.as_str()),
            previous_digest_s3_object: self.previous.as_ref().map(|p| p.key.as_str()),
            previous_digest_hash_value: previous_hash,
            previous_digest_hash_algorithm: self.previous.as_ref().map(|_| HASH_ALGORITHM),
            previous_digest_signature: self.previous.as_ref().map(|p| p.signature.as_str()),
            log_files,
        };
        let inflated = serde_json::to_vec(&digest).unwrap_or_default();
        let hash = Sha256::of(&inflated);
        let message = signed_message(
            end,
            &bundle.bucket,
            &digest_key,
            &hash,
            self.previous.as_ref().map(|p| p.signature.as_str()),
        );
        let signature = signer.sign(message.as_bytes());
        bundle.objects.insert(digest_key.clone(), gzip(&inflated));
        let mut metadata = self.extra_metadata.clone();
        metadata.insert("signature".to_string(), signature.clone());
        metadata.insert(
            "signature-algorithm".to_string(),
            SIGNATURE_ALGORITHM.to_string(),
        );
        bundle.metadata.insert(digest_key.clone(), metadata);
        self.previous = Some(Link {
            bucket: bundle.bucket.clone(),
            key: digest_key.clone(),
            hash,
            signature,
        });
        let delivered = Delivered {
            digest_key,
            log_keys,
            start,
            end,
        };
        self.delivered.push(delivered.clone());
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_event_records_look_like_cloudtrails() {
        let at = UtcTime::parse_field("2024-05-01T10:00:00Z").expect("time");
        let record = trail_event_record(
            "UpdateTrail",
            at,
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/prod",
            "arn:aws:iam::111122223333:user/alice",
            "111122223333",
            "us-east-1",
            json!({"enableLogFileValidation": false}),
        );
        assert_eq!(record["eventSource"], "cloudtrail.amazonaws.com");
        assert_eq!(record["eventTime"], "2024-05-01T10:00:00Z");
        assert_eq!(
            record["requestParameters"],
            json!({
                "name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/prod",
                "enableLogFileValidation": false
            })
        );
        assert_eq!(record["responseElements"]["name"], "prod");
        assert_eq!(record["userIdentity"]["type"], "IAMUser");
        let again = trail_event_record(
            "UpdateTrail",
            at,
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/prod",
            "arn:aws:iam::111122223333:user/alice",
            "111122223333",
            "us-east-1",
            json!({"enableLogFileValidation": false}),
        );
        assert_eq!(record, again);
    }

    #[test]
    fn unique_ids_are_deterministic_alphanumerics() {
        let a = unique_id("seed", 16);
        assert_eq!(a.len(), 16);
        assert_eq!(a, unique_id("seed", 16));
        assert_ne!(a, unique_id("seed2", 16));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
