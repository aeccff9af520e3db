//! CloudTrail Lake query results: `result_sign.json` and the result files it lists.
//!
//! The sign file lists each result file's SHA-256 (of the *compressed* file, as delivered)
//! and is signed, RSA PKCS#1 v1.5 SHA-256, over those hashes joined by single spaces, with
//! the region's key in force at `queryCompleteTime`.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use sha2::Digest as _;

use crate::hash::{Fingerprint, HexError, Sha256, Signature};
use crate::keys::KeySource;
use crate::report::FileEntry;
use crate::status::{FileKind, Status};
use crate::store::{ObjectStore, StoreError};
use crate::time::{TimeError, UtcTime};

/// The sign file's name, in the query's folder `.../CloudTrail-Lake/Query/YYYY/MM/DD/QUERY-ID/`.
pub const SIGN_FILE: &str = "result_sign.json";

/// One entry of the sign file's `files[]`: a result file of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFile {
    /// `fileName`: a plain file name (no `/`) in the query's folder, unique in the sign file.
    pub name: String,
    /// `fileHashValue`: SHA-256 of the result file as delivered, i.e. of its *compressed* bytes.
    pub hash: Sha256,
    /// As written: part of the signed message.
    pub hash_text: String,
}

/// A `result_sign.json`, parsed and checked for shape (`hashAlgorithm` `SHA-256`,
/// `signatureAlgorithm` `SHA256withRSA`); its signature is checked by [`verify_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignFile {
    /// `files[]`, in the order listed (the order of the signed message).
    pub files: Vec<ResultFile>,
    /// `queryCompleteTime`: the key in force at this time signed the file. Any RFC 3339 form is
    /// accepted.
    pub query_complete_time: UtcTime,
    /// `hashSignature`: the signature over [`SignFile::signed_message`].
    pub signature: Signature,
    /// `publicKeyFingerprint`: identifies the region's public key that signed it.
    pub fingerprint: Fingerprint,
    /// `region`, where the query ran; `None` when the file does not say.
    pub region: Option<String>,
}

/// Why a `result_sign.json` was refused.
#[derive(Debug)]
pub enum SignFileError {
    /// Not JSON, or not the shape of a sign file.
    Json(serde_json::Error),
    /// A field holds what a sign file may not: the text names the field and what it holds.
    Field(String),
    /// `queryCompleteTime` is not a time.
    QueryCompleteTime(TimeError),
    /// A hex field (`field` names it) does not parse.
    Hex {
        /// The field: `hashSignature`, `publicKeyFingerprint`, or `fileHashValue of NAME`.
        field: String,
        /// Why its hex was refused.
        error: HexError,
    },
}

impl fmt::Display for SignFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid sign file: ")?;
        match self {
            SignFileError::Json(e) => write!(f, "{e}"),
            SignFileError::Field(problem) => f.write_str(problem),
            // The time error holds the text as written; quoted here, not its own sentence.
            SignFileError::QueryCompleteTime(TimeError(text)) => {
                write!(f, "queryCompleteTime {text:?}")
            }
            SignFileError::Hex { field, error } => write!(f, "{field}: {error}"),
        }
    }
}

impl std::error::Error for SignFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignFileError::Json(e) => Some(e),
            SignFileError::Field(_) => None,
            SignFileError::QueryCompleteTime(e) => Some(e),
            SignFileError::Hex { error, .. } => Some(error),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSignFile {
    files: Vec<RawResultFile>,
    hash_algorithm: String,
    signature_algorithm: String,
    query_complete_time: String,
    hash_signature: String,
    public_key_fingerprint: String,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResultFile {
    file_name: String,
    file_hash_value: String,
}

impl SignFile {
    /// Parses the sign file's JSON, strictly: unknown algorithms, bad or duplicate file names and
    /// bad hex are refused.
    pub fn parse(bytes: &[u8]) -> Result<SignFile, SignFileError> {
        let raw: RawSignFile = serde_json::from_slice(bytes).map_err(SignFileError::Json)?;
        if raw.hash_algorithm != crate::digest::HASH_ALGORITHM {
            return Err(SignFileError::Field(format!(
                "hashAlgorithm {:?}",
                raw.hash_algorithm
            )));
        }
        if raw.signature_algorithm != crate::digest::SIGNATURE_ALGORITHM {
            return Err(SignFileError::Field(format!(
                "signatureAlgorithm {:?}",
                raw.signature_algorithm
            )));
        }
        let query_complete_time = UtcTime::parse_user(&raw.query_complete_time)
            .map_err(SignFileError::QueryCompleteTime)?;
        let mut files = Vec::with_capacity(raw.files.len());
        let mut names = HashSet::new();
        for file in raw.files {
            // A result file name is a plain name in the query's folder.
            if crate::store::dir::check_key(&file.file_name).is_err()
                || file.file_name.contains('/')
            {
                return Err(SignFileError::Field(format!(
                    "fileName {:?} is not a plain file name",
                    file.file_name
                )));
            }
            if !names.insert(file.file_name.clone()) {
                return Err(SignFileError::Field(format!(
                    "fileName {:?} is listed twice",
                    file.file_name
                )));
            }
            let hash =
                Sha256::parse_hex(&file.file_hash_value).map_err(|error| SignFileError::Hex {
                    field: format!("fileHashValue of {}", file.file_name),
                    error,
                })?;
            files.push(ResultFile {
                name: file.file_name,
                hash,
                hash_text: file.file_hash_value,
            });
        }
        Ok(SignFile {
            files,
            query_complete_time,
            signature: Signature::parse_hex(&raw.hash_signature).map_err(|error| {
                SignFileError::Hex {
                    field: "hashSignature".into(),
                    error,
                }
            })?,
            fingerprint: Fingerprint::parse_hex(&raw.public_key_fingerprint).map_err(|error| {
                SignFileError::Hex {
                    field: "publicKeyFingerprint".into(),
                    error,
                }
            })?,
            region: raw.region,
        })
    }

    /// The hashes joined by single spaces, in the order listed.
    pub fn signed_message(&self) -> String {
        self.files
            .iter()
            .map(|f| f.hash_text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The verdicts for one query's export.
pub struct QueryVerdict {
    /// The sign file's verdict (kind `Digest`): valid only when it parsed and its signature
    /// verified with a key for its region and `queryCompleteTime`.
    pub sign_file: FileEntry,
    /// The folder's other files (kind `Log`), sorted by key: each one listed is checked against
    /// its `fileHashValue` when the sign file verified, `unverified` otherwise; any other file is
    /// `unreferenced` (`unverified` when the sign file could not be read or parsed).
    pub results: Vec<FileEntry>,
    /// The sign file's `queryCompleteTime`; `None` when the sign file could not be read or parsed.
    pub query_complete_time: Option<UtcTime>,
    /// The fingerprint of the key that verified the signature; `None` unless it verified.
    pub public_key: Option<Fingerprint>,
}

fn hash_raw(store: &dyn ObjectStore, key: &str) -> Result<Sha256, (Status, String)> {
    let object = store.get(store.bucket(), key).map_err(|e| match e {
        StoreError::NotFound => (Status::NotFound, "not found".to_string()),
        other => (other.status(), other.to_string()),
    })?;
    let mut body = object.body;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((Status::Error, format!("read failed: {e}"))),
        }
    }
    Ok(Sha256(hasher.finalize().into()))
}

/// Verifies the export under `folder` (a key prefix ending in `/`, or empty).
/// `region` is where the query ran, when known (the sign file's own `region` wins).
pub fn verify_query(
    store: &dyn ObjectStore,
    folder: &str,
    keys: &dyn KeySource,
    region: Option<&str>,
) -> QueryVerdict {
    let bucket = store.bucket().to_string();
    let sign_key = format!("{folder}{SIGN_FILE}");
    let entry = |kind, key: &str, status| FileEntry::new(kind, &bucket, key, status);
    let mut verdict = QueryVerdict {
        sign_file: entry(FileKind::Digest, &sign_key, Status::Valid),
        results: Vec::new(),
        query_complete_time: None,
        public_key: None,
    };

    // Every other file in the folder: listed ones are checked, the rest are unreferenced.
    let mut present: Vec<String> = Vec::new();
    let listing = store.list_keys(folder, None, &mut |key| {
        if key != sign_key && !key[folder.len()..].contains('/') {
            present.push(key.to_string());
        }
        true
    });
    if let Err(e) = listing {
        verdict.sign_file = entry(FileKind::Digest, &sign_key, Status::Error)
            .with_detail(format!("listing failed: {e}"));
        return verdict;
    }

    let parsed = match store.get(&bucket, &sign_key) {
        Err(StoreError::NotFound) => Err((Status::NotFound, "not found".to_string())),
        Err(e) => Err((e.status(), e.to_string())),
        Ok(object) => {
            let mut bytes = Vec::new();
            match object
                .body
                .take(crate::gzip::DIGEST_SIZE_CAP + 1)
                .read_to_end(&mut bytes)
            {
                Err(e) => Err((Status::Error, format!("read failed: {e}"))),
                Ok(_) if bytes.len() as u64 > crate::gzip::DIGEST_SIZE_CAP => Err((
                    Status::InvalidFormat,
                    "larger than any sign file".to_string(),
                )),
                Ok(_) => {
                    SignFile::parse(&bytes).map_err(|e| (Status::InvalidFormat, e.to_string()))
                }
            }
        }
    };
    let sign = match parsed {
        Ok(sign) => sign,
        Err((status, detail)) => {
            verdict.sign_file = entry(FileKind::Digest, &sign_key, status).with_detail(detail);
            verdict.results = present
                .iter()
                .map(|k| {
                    entry(FileKind::Log, k, Status::Unverified)
                        .with_detail("the sign file could not be checked")
                })
                .collect();
            return verdict;
        }
    };
    verdict.query_complete_time = Some(sign.query_complete_time);

    let region = sign
        .region
        .clone()
        .or_else(|| region.map(str::to_string))
        .unwrap_or_default();
    let authentic = match keys.keys_for(&region, &[sign.query_complete_time]) {
        Err(why) => {
            verdict.sign_file = entry(FileKind::Digest, &sign_key, Status::Error).with_detail(
                format!("public keys for region {region} could not be obtained: {why}"),
            );
            false
        }
        Ok(ring) => match ring.find_at(&sign.fingerprint, &region, sign.query_complete_time) {
            Err(why) => {
                verdict.sign_file =
                    entry(FileKind::Digest, &sign_key, Status::KeyNotFound).with_detail(why);
                false
            }
            Ok(key) => {
                if key
                    .verify(sign.signed_message().as_bytes(), &sign.signature)
                    .is_ok()
                {
                    verdict.public_key = Some(key.fingerprint);
                    true
                } else {
                    verdict.sign_file =
                        entry(FileKind::Digest, &sign_key, Status::SignatureInvalid)
                            .with_detail("signature verification failed");
                    false
                }
            }
        },
    };

    let listed: HashSet<String> = sign
        .files
        .iter()
        .map(|f| format!("{folder}{}", f.name))
        .collect();
    for file in &sign.files {
        let key = format!("{folder}{}", file.name);
        let result = if !authentic {
            entry(FileKind::Log, &key, Status::Unverified)
                .with_detail("listed only by a sign file that did not verify")
        } else {
            match hash_raw(store, &key) {
                Ok(hash) if hash == file.hash => entry(FileKind::Log, &key, Status::Valid),
                Ok(hash) => entry(FileKind::Log, &key, Status::HashMismatch).with_detail(format!(
                    "SHA-256 {hash}, the sign file records {}",
                    file.hash
                )),
                Err((status, detail)) => entry(FileKind::Log, &key, status).with_detail(detail),
            }
        };
        let mut result = result;
        result.digest = Some(sign_key.clone());
        verdict.results.push(result);
    }
    for key in present.iter().filter(|k| !listed.contains(*k)) {
        verdict.results.push(
            entry(FileKind::Log, key, Status::Unreferenced)
                .with_detail("in the query's folder, not listed by the sign file"),
        );
    }
    verdict.results.sort_by(|a, b| a.key.cmp(&b.key));
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_builds_the_signed_message_in_order() {
        let json = r#"{"region":"us-east-1","files":[
            {"fileHashValue":"BB00000000000000000000000000000000000000000000000000000000000000","fileName":"result_2.csv.gz"},
            {"fileHashValue":"aa00000000000000000000000000000000000000000000000000000000000000","fileName":"result_1.csv.gz"}],
            "hashAlgorithm":"SHA-256","signatureAlgorithm":"SHA256withRSA",
            "queryCompleteTime":"2022-05-10 16:48:31.771","hashSignature":"00ff",
            "publicKeyFingerprint":"0123456789abcdef0123456789abcdef"}"#;
        let sign = SignFile::parse(json.as_bytes()).unwrap();
        assert_eq!(sign.files[0].name, "result_2.csv.gz");
        assert!(sign.signed_message().starts_with("BB00"));
        assert!(sign.signed_message().contains(" aa00"));
        assert_eq!(sign.query_complete_time.to_string(), "2022-05-10T16:48:31Z");
    }

    #[test]
    fn refuses_path_names_and_duplicates() {
        let with = |name: &str, twice: bool| {
            let file = format!(
                r#"{{"fileHashValue":"{}","fileName":"{name}"}}"#,
                "a".repeat(64)
            );
            let files = if twice {
                format!("{file},{file}")
            } else {
                file
            };
            format!(
                r#"{{"files":[{files}],"hashAlgorithm":"SHA-256","signatureAlgorithm":"SHA256withRSA",
                "queryCompleteTime":"2022-05-10T16:48:31Z","hashSignature":"00","publicKeyFingerprint":"{}"}}"#,
                "0".repeat(32)
            )
        };
        assert!(SignFile::parse(with("ok.csv.gz", false).as_bytes()).is_ok());
        assert!(SignFile::parse(with("../x", false).as_bytes()).is_err());
        assert!(SignFile::parse(with("a/b", false).as_bytes()).is_err());
        assert!(SignFile::parse(with("ok.csv.gz", true).as_bytes()).is_err());
    }

    #[test]
    fn refusals_carry_their_cause_and_keep_their_text() {
        use std::error::Error as _;
        let sign_file = |time: &str, signature: &str| {
            format!(
                r#"{{"files":[],"hashAlgorithm":"SHA-256","signatureAlgorithm":"SHA256withRSA",
                "queryCompleteTime":"{time}","hashSignature":"{signature}","publicKeyFingerprint":"{}"}}"#,
                "0".repeat(32)
            )
        };
        let parse_err = |text: &str| SignFile::parse(text.as_bytes()).unwrap_err();

        let err = parse_err("{");
        let source = err.source().expect("the JSON error is the cause");
        assert!(source.is::<serde_json::Error>(), "{source:?}");
        assert_eq!(err.to_string(), format!("invalid sign file: {source}"));

        let err = parse_err(&sign_file("yesterday", "00"));
        assert_eq!(
            err.source().and_then(|s| s.downcast_ref::<TimeError>()),
            Some(&TimeError("yesterday".into()))
        );
        assert_eq!(
            err.to_string(),
            r#"invalid sign file: queryCompleteTime "yesterday""#
        );

        let err = parse_err(&sign_file("2022-05-10T16:48:31Z", "0g"));
        assert_eq!(
            err.source().and_then(|s| s.downcast_ref::<HexError>()),
            Some(&HexError::NotHex(hex::FromHexError::InvalidHexCharacter {
                c: 'g',
                index: 1
            }))
        );
        assert_eq!(
            err.to_string(),
            "invalid sign file: hashSignature: not hexadecimal"
        );

        let err = parse_err(&sign_file("2022-05-10T16:48:31Z", "00").replace("SHA-256", "MD5"));
        assert!(err.source().is_none(), "{err:?}");
        assert_eq!(err.to_string(), r#"invalid sign file: hashAlgorithm "MD5""#);
    }
}
