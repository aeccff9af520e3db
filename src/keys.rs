//! CloudTrail's public keys and RSA signature verification.
//!
//! Keys arrive as the JSON of `aws cloudtrail list-public-keys` (or ListPublicKeys itself):
//! base64 DER, a validity window and an MD5 fingerprint, in each form AWS documents:
//! `PublicKeyList` or the User Guide's `publicKeyList`, fields capitalized or not; validity as
//! epoch numbers (the API, AWS CLI v1), ISO strings (AWS CLI v2) or epoch seconds in a string
//! (the User Guide's sample); keys as PKCS#1 or X.509 SubjectPublicKeyInfo DER, fingerprinted
//! as given. The fingerprint is how digests name
//! their key, so a file whose fingerprints lie about their keys is refused outright rather than
//! trusted to select keys.

use std::fmt;

use base64::Engine as _;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;

use crate::hash::{Fingerprint, Signature};
use crate::time::UtcTime;

/// CloudTrail's keys are 2048-bit; anything shorter is not a key we accept evidence from.
pub const MIN_KEY_BITS: usize = 2048;

/// Why a key file (or ListPublicKeys' answer) was refused. `index` is the key's position in
/// the file's list, from 0.
#[derive(Debug)]
pub enum KeyError {
    /// Not JSON, or not the shape of a key list.
    Json(serde_json::Error),
    /// No `PublicKeyList` (or `publicKeyList`) in the document.
    NoKeyList,
    /// A key's `Value` is not base64.
    Base64 {
        /// The key's position in the list.
        index: usize,
    },
    /// A key's bytes are neither a PKCS#1 `RSAPublicKey` nor an X.509 `SubjectPublicKeyInfo`.
    Der {
        /// The key's position in the list.
        index: usize,
        /// Boxed: both parsers' errors together would make every `KeyError` large.
        problem: Box<DerError>,
    },
    /// The file's `Fingerprint` is not the MD5 of the key's bytes.
    FingerprintMismatch {
        /// The key's position in the list.
        index: usize,
        /// The fingerprint the file states.
        stated: String,
        /// The MD5 of the bytes as given.
        actual: Fingerprint,
    },
    /// The modulus is shorter than [`MIN_KEY_BITS`].
    TooShort {
        /// The key's position in the list.
        index: usize,
        /// The modulus length found.
        bits: usize,
    },
    /// The public exponent is not one a signing key uses (even, or too small).
    BadExponent {
        /// The key's position in the list.
        index: usize,
    },
    /// A `ValidityStartTime` or `ValidityEndTime` that is no time.
    Validity {
        /// The key's position in the list.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Json(e) => write!(f, "not a public key list: {e}"),
            KeyError::NoKeyList => write!(f, "no PublicKeyList in the key file"),
            KeyError::Base64 { index } => write!(f, "key #{index}: Value is not base64"),
            KeyError::Der { index, problem } => {
                write!(f, "key #{index}: not an RSA public key (PKCS#1 or X.509 SPKI DER): {problem}")
            }
            KeyError::FingerprintMismatch { index, stated, actual } => write!(
                f,
                "key #{index}: Fingerprint {stated} is not the MD5 of its key ({actual}); refusing the key file"
            ),
            KeyError::TooShort { index, bits } => {
                write!(f, "key #{index}: {bits}-bit RSA key is shorter than {MIN_KEY_BITS} bits")
            }
            KeyError::BadExponent { index } => {
                write!(f, "key #{index}: RSA public exponent must be odd and at least 3")
            }
            KeyError::Validity { index, problem } => write!(f, "key #{index}: {problem}"),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Json(e) => Some(e),
            KeyError::Der { problem, .. } => Some(problem.as_ref()),
            KeyError::NoKeyList
            | KeyError::Base64 { .. }
            | KeyError::FingerprintMismatch { .. }
            | KeyError::TooShort { .. }
            | KeyError::BadExponent { .. }
            | KeyError::Validity { .. } => None,
        }
    }
}

/// Why DER bytes are not an RSA public key: each of the two forms a key may come in refused
/// them, for its own reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError {
    /// Why the bytes are not a PKCS#1 `RSAPublicKey` (the form CloudTrail serves).
    pub pkcs1: rsa::pkcs1::Error,
    /// Why they are not an X.509 `SubjectPublicKeyInfo`.
    pub spki: rsa::pkcs8::spki::Error,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PKCS#1: {}; SPKI: {}", self.pkcs1, self.spki)
    }
}

impl std::error::Error for DerError {
    /// The PKCS#1 refusal: that is the form CloudTrail serves, so the likelier to explain.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.pkcs1)
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// RSA says no: the message or the signature is not what the key signed.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("signature verification failed")
    }
}

/// A checked CloudTrail public key: an RSA key of at least [`MIN_KEY_BITS`] whose fingerprint
/// is the MD5 of its DER as given.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Hex MD5 of `der`: what a digest's `digestPublicKeyFingerprint` names.
    pub fingerprint: Fingerprint,
    /// The region the key was listed for, when the key file says.
    pub region: Option<String>,
    /// From when the key signs (`ValidityStartTime`); `None` when the file does not say.
    pub validity_start: Option<UtcTime>,
    /// Until when the key signs (`ValidityEndTime`); `None` when the file does not say.
    pub validity_end: Option<UtcTime>,
    /// The modulus length.
    pub bits: usize,
    /// The DER exactly as given (what the fingerprint covers).
    pub der: Vec<u8>,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({} {:?} {} bits)",
            self.fingerprint, self.region, self.bits
        )
    }
}

impl PublicKey {
    /// Accepts PKCS#1 `RSAPublicKey` DER (what CloudTrail serves) or X.509 SPKI DER.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, DerError> {
        let key = rsa::RsaPublicKey::from_pkcs1_der(der).or_else(|pkcs1| {
            rsa::RsaPublicKey::from_public_key_der(der).map_err(|spki| DerError { pkcs1, spki })
        })?;
        Ok(PublicKey {
            fingerprint: Fingerprint::of_der(der),
            region: None,
            validity_start: None,
            validity_end: None,
            bits: key.n().bits(),
            der: der.to_vec(),
            modulus: key.n().to_bytes_be(),
            exponent: key.e().to_bytes_be(),
        })
    }

    fn exponent_is_acceptable(&self) -> bool {
        let odd = self.exponent.last().is_some_and(|b| b & 1 == 1);
        let at_least_three = self.exponent.iter().rev().skip(1).any(|b| *b != 0)
            || self.exponent.last().is_some_and(|b| *b >= 3);
        odd && at_least_three
    }

    /// RSA PKCS#1 v1.5 with SHA-256.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), VerifyError> {
        let components = RsaPublicKeyComponents {
            n: &self.modulus,
            e: &self.exponent,
        };
        components
            .verify(&RSA_PKCS1_2048_8192_SHA256, message, &signature.0)
            .map_err(|_| VerifyError::BadSignature)
    }
}

/// A key as a key file or ListPublicKeys gives it, before it is checked.
#[derive(Debug, Clone)]
pub struct ListedKey {
    /// The key's bytes, decoded from base64 (PKCS#1 or SubjectPublicKeyInfo DER).
    pub der: Vec<u8>,
    /// The hex MD5 the source claims for `der`.
    pub fingerprint: Option<String>,
    /// The region it was listed for, when known.
    pub region: Option<String>,
    /// `ValidityStartTime`, when given.
    pub validity_start: Option<UtcTime>,
    /// `ValidityEndTime`, when given.
    pub validity_end: Option<UtcTime>,
}

impl ListedKey {
    /// Parses the DER and refuses a key whose stated fingerprint lies, that is shorter than
    /// 2048 bits, or whose exponent RSA verification cannot use. `index` names it in errors.
    pub fn check(self, index: usize) -> Result<PublicKey, KeyError> {
        let mut key = PublicKey::from_der(&self.der).map_err(|problem| KeyError::Der {
            index,
            problem: Box::new(problem),
        })?;
        if let Some(stated) = &self.fingerprint {
            let matches =
                Fingerprint::parse_hex(stated.trim()).is_ok_and(|fp| fp == key.fingerprint);
            if !matches {
                return Err(KeyError::FingerprintMismatch {
                    index,
                    stated: stated.clone(),
                    actual: key.fingerprint,
                });
            }
        }
        if key.bits < MIN_KEY_BITS {
            return Err(KeyError::TooShort {
                index,
                bits: key.bits,
            });
        }
        if !key.exponent_is_acceptable() {
            return Err(KeyError::BadExponent { index });
        }
        key.region = self.region;
        key.validity_start = self.validity_start;
        key.validity_end = self.validity_end;
        Ok(key)
    }
}

/// Where the keys for a region come from: fixed key files, or ListPublicKeys on demand.
pub trait KeySource: Send + Sync {
    /// The keys for digests delivered from `region`, including those in force at `moments`
    /// (backfill generation times, which may lie far outside the range). An error means the
    /// keys could not be obtained (a network failure, say): never evidence against a digest.
    fn keys_for(
        &self,
        region: &str,
        moments: &[UtcTime],
    ) -> Result<std::sync::Arc<KeyRing>, String>;

    /// Every key obtained so far (for an evidence bundle's `public-keys.json`).
    fn known_keys(&self) -> KeyRing;
}

/// Keys read once from files.
pub struct FixedKeys(pub std::sync::Arc<KeyRing>);

impl KeySource for FixedKeys {
    fn keys_for(
        &self,
        _region: &str,
        _moments: &[UtcTime],
    ) -> Result<std::sync::Arc<KeyRing>, String> {
        Ok(self.0.clone())
    }

    fn known_keys(&self) -> KeyRing {
        (*self.0).clone()
    }
}

/// The keys available to a run, from key files or ListPublicKeys.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<PublicKey>,
}

#[derive(Deserialize)]
struct RawKeyFile {
    #[serde(rename = "PublicKeyList", alias = "publicKeyList")]
    public_key_list: Option<Vec<RawKey>>,
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(rename = "Value", alias = "value")]
    value: String,
    #[serde(rename = "ValidityStartTime", alias = "validityStartTime", default)]
    validity_start: Option<serde_json::Value>,
    #[serde(rename = "ValidityEndTime", alias = "validityEndTime", default)]
    validity_end: Option<serde_json::Value>,
    #[serde(rename = "Fingerprint", alias = "fingerprint", default)]
    fingerprint: Option<String>,
    #[serde(rename = "Region", alias = "region", default)]
    region: Option<String>,
}

fn validity_time(
    index: usize,
    value: &Option<serde_json::Value>,
) -> Result<Option<UtcTime>, KeyError> {
    let bad = |problem: String| KeyError::Validity { index, problem };
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => {
            let seconds = n
                .as_f64()
                .ok_or_else(|| bad(format!("validity {n} is not a time")))?;
            if !seconds.is_finite() || seconds.abs() > MAX_EPOCH_SECONDS as f64 {
                return Err(bad(format!("validity {n} is out of range")));
            }
            Ok(Some(UtcTime::from_unix(seconds.floor() as i64)))
        }
        Some(serde_json::Value::String(s)) => match epoch_seconds(s) {
            Some(Ok(seconds)) => Ok(Some(UtcTime::from_unix(seconds))),
            Some(Err(())) => Err(bad(format!("validity {s:?} is out of range"))),
            None => UtcTime::parse_user(s)
                .map(Some)
                .map_err(|e| bad(format!("validity: {e}"))),
        },
        Some(other) => Err(bad(format!("validity {other} is not a time"))),
    }
}

/// Validity times further than this from 1970 (about year 5138) are refused, not wrapped.
const MAX_EPOCH_SECONDS: i64 = 100_000_000_000;

/// Seconds since the epoch written as a string, as the CloudTrail User Guide's
/// `list-public-keys` sample gives them (`"1436317441.0"`): digits, then optionally a point and
/// digits; the fraction is dropped, as it is for a JSON number. `None` when the text is not of
/// that form (an ISO time, say), `Some(Err)` when it is but lies out of range. Nothing looser
/// (signs, exponents, `inf`) is taken for a time.
fn epoch_seconds(text: &str) -> Option<Result<i64, ()>> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    Some(
        whole
            .parse::<i64>()
            .ok()
            .filter(|seconds| *seconds <= MAX_EPOCH_SECONDS)
            .ok_or(()),
    )
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a `list-public-keys` JSON document. Keys with no `Region` take `default_region`.
    pub fn parse_json(bytes: &[u8], default_region: Option<&str>) -> Result<KeyRing, KeyError> {
        let raw: RawKeyFile = serde_json::from_slice(bytes).map_err(KeyError::Json)?;
        let list = raw.public_key_list.ok_or(KeyError::NoKeyList)?;
        let mut ring = KeyRing::new();
        for (index, raw_key) in list.into_iter().enumerate() {
            let der = base64::engine::general_purpose::STANDARD
                .decode(raw_key.value.trim())
                .map_err(|_| KeyError::Base64 { index })?;
            let listed = ListedKey {
                der,
                fingerprint: raw_key.fingerprint,
                region: raw_key
                    .region
                    .or_else(|| default_region.map(str::to_string)),
                validity_start: validity_time(index, &raw_key.validity_start)?,
                validity_end: validity_time(index, &raw_key.validity_end)?,
            };
            ring.add(listed.check(index)?);
        }
        Ok(ring)
    }

    /// Adds a key, once per fingerprint and region.
    pub fn add(&mut self, key: PublicKey) {
        if !self
            .keys
            .iter()
            .any(|k| k.fingerprint == key.fingerprint && k.region == key.region)
        {
            self.keys.push(key);
        }
    }

    /// Adds every key of `other` (see [`KeyRing::add`]).
    pub fn extend(&mut self, other: KeyRing) {
        for key in other.keys {
            self.add(key);
        }
    }

    /// The keys as a `list-public-keys` document, each tagged with its region, in the shape
    /// `parse_json` reads back.
    pub fn to_json(&self) -> serde_json::Value {
        let list: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "Value": base64::engine::general_purpose::STANDARD.encode(&k.der),
                    "ValidityStartTime": k.validity_start.map(UtcTime::unix),
                    "ValidityEndTime": k.validity_end.map(UtcTime::unix),
                    "Fingerprint": k.fingerprint.to_hex(),
                    "Region": k.region,
                })
            })
            .collect();
        serde_json::json!({ "PublicKeyList": list })
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key, in the order first added.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The key with this fingerprint for `region`, in force at `at` (give or take the two hours
    /// the AWS CLI allows around a range). A key the file gives no validity for is taken as in
    /// force. The error says why no key fits.
    pub fn find_at(
        &self,
        fingerprint: &Fingerprint,
        region: &str,
        at: UtcTime,
    ) -> Result<&PublicKey, String> {
        let margin = 2 * 3600;
        let candidates: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|k| {
                &k.fingerprint == fingerprint && k.region.as_deref().is_none_or(|r| r == region)
            })
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "public key not found in region {region} for fingerprint {fingerprint}"
            ));
        }
        let in_force = |k: &&PublicKey| {
            k.validity_start
                .is_none_or(|s| at >= s.plus_seconds(-margin))
                && k.validity_end.is_none_or(|e| at <= e.plus_seconds(margin))
        };
        candidates.iter().copied().find(in_force).ok_or_else(|| {
            let k = candidates[0];
            let show = |t: Option<UtcTime>| t.map_or_else(|| "-".to_string(), |t| t.to_string());
            format!(
                "public key {fingerprint} for region {region} was not in force at {at} (valid from {} to {})",
                show(k.validity_start),
                show(k.validity_end)
            )
        })
    }

    /// The key with this fingerprint for `region`. A key that the file does not tag with a
    /// region stands for any region (a file fetched for one region, as the AWS CLI prints it).
    pub fn find(&self, fingerprint: &Fingerprint, region: &str) -> Option<&PublicKey> {
        self.keys
            .iter()
            .filter(|k| &k.fingerprint == fingerprint)
            .find(|k| k.region.as_deref().is_none_or(|r| r == region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_rules() {
        let mut key = PublicKey {
            fingerprint: Fingerprint([0; 16]),
            region: None,
            validity_start: None,
            validity_end: None,
            bits: 2048,
            der: vec![],
            modulus: vec![],
            exponent: vec![1, 0, 1],
        };
        assert!(key.exponent_is_acceptable());
        key.exponent = vec![1];
        assert!(!key.exponent_is_acceptable());
        key.exponent = vec![4];
        assert!(!key.exponent_is_acceptable());
        key.exponent = vec![3];
        assert!(key.exponent_is_acceptable());
    }

    use crate::test_signer::TestSigner;

    fn base64(der: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    /// The SubjectPublicKeyInfo DER of a test key (the form OpenSSL and X.509 tools write).
    fn spki_der(signer: &TestSigner) -> Vec<u8> {
        use rsa::pkcs8::EncodePublicKey as _;
        rsa::RsaPublicKey::from_pkcs1_der(signer.public_der())
            .expect("PKCS#1 DER")
            .to_public_key_der()
            .expect("encodable")
            .as_bytes()
            .to_vec()
    }

    fn one_key(file: &str) -> PublicKey {
        let ring =
            KeyRing::parse_json(file.as_bytes(), None).unwrap_or_else(|e| panic!("{e}: {file}"));
        assert_eq!(ring.keys().len(), 1, "{file}");
        ring.keys()[0].clone()
    }

    fn t(text: &str) -> UtcTime {
        UtcTime::parse_user(text).unwrap()
    }

    #[test]
    fn the_user_guides_sample_reads_camel_case_and_quoted_epoch_times() {
        // The CloudTrail User Guide's `list-public-keys` sample: `publicKeyList`, validity
        // times as quoted epoch seconds with a fraction.
        let signer = TestSigner::committed("us-east-1-a");
        let file = format!(
            r#"{{"publicKeyList": [{{
                "ValidityStartTime": "1436317441.0",
                "ValidityEndTime": "1438909441.0",
                "Value": "{}",
                "Fingerprint": "{}"
            }}]}}"#,
            base64(signer.public_der()),
            signer.fingerprint().to_hex()
        );
        let key = one_key(&file);
        assert_eq!(key.fingerprint, signer.fingerprint());
        assert_eq!(key.validity_start, Some(UtcTime::from_unix(1_436_317_441)));
        assert_eq!(key.validity_end, Some(UtcTime::from_unix(1_438_909_441)));
    }

    #[test]
    fn both_spellings_of_the_list_and_of_each_field_are_read() {
        let signer = TestSigner::committed("us-east-1-a");
        let value = base64(signer.public_der());
        let fingerprint = signer.fingerprint().to_hex();
        for (list, fields) in [
            (
                "PublicKeyList",
                [
                    "Value",
                    "ValidityStartTime",
                    "ValidityEndTime",
                    "Fingerprint",
                    "Region",
                ],
            ),
            (
                "publicKeyList",
                [
                    "value",
                    "validityStartTime",
                    "validityEndTime",
                    "fingerprint",
                    "region",
                ],
            ),
            (
                "publicKeyList",
                [
                    "Value",
                    "ValidityStartTime",
                    "ValidityEndTime",
                    "Fingerprint",
                    "Region",
                ],
            ),
        ] {
            let [v, start, end, fp, region] = fields;
            let file = format!(
                r#"{{"{list}":[{{"{v}":"{value}","{start}":1436317441,"{end}":1438909441,"{fp}":"{fingerprint}","{region}":"eu-west-1"}}]}}"#
            );
            let key = one_key(&file);
            assert_eq!(key.fingerprint, signer.fingerprint(), "{file}");
            assert_eq!(key.region.as_deref(), Some("eu-west-1"), "{file}");
            assert_eq!(key.validity_start, Some(UtcTime::from_unix(1_436_317_441)));
            assert_eq!(key.validity_end, Some(UtcTime::from_unix(1_438_909_441)));
        }
    }

    #[test]
    fn validity_times_are_read_in_every_form_the_api_and_the_clis_print() {
        let signer = TestSigner::committed("us-east-1-a");
        let value = base64(signer.public_der());
        let start = t("2015-07-08T01:04:01Z");
        for written in [
            // The API and AWS CLI v1: JSON numbers, whole or with a fraction.
            "1436317441",
            "1436317441.0",
            "1436317441.75",
            // AWS CLI v2: ISO 8601 with an offset, with or without fractions.
            r#""2015-07-08T01:04:01+00:00""#,
            r#""2015-07-08T01:04:01.000000+00:00""#,
            r#""2015-07-08T03:04:01+02:00""#,
            r#""2015-07-08T01:04:01Z""#,
            // The User Guide's sample: epoch seconds in a string.
            r#""1436317441.0""#,
            r#""1436317441""#,
            r#"" 1436317441.0 ""#,
        ] {
            let file = format!(
                r#"{{"PublicKeyList":[{{"Value":"{value}","ValidityStartTime":{written}}}]}}"#
            );
            assert_eq!(one_key(&file).validity_start, Some(start), "{written}");
        }
        // A time given as null, or not given, is no bound.
        let file = format!(r#"{{"PublicKeyList":[{{"Value":"{value}","ValidityEndTime":null}}]}}"#);
        assert_eq!(one_key(&file).validity_end, None);
    }

    #[test]
    fn text_that_is_no_time_is_refused_with_the_keys_index() {
        let signer = TestSigner::committed("us-east-1-a");
        let value = base64(signer.public_der());
        for written in [
            r#""1e9""#,
            r#""-1436317441""#,
            r#""+1436317441""#,
            r#""inf""#,
            r#""NaN""#,
            r#""1436317441.""#,
            r#"".5""#,
            r#""1436317441.0.0""#,
            r#""""#,
            r#""yesterday""#,
            r#""99999999999999999999""#,
            r#""100000000001""#,
            "1e300",
            "true",
            "[1]",
        ] {
            let file = format!(
                r#"{{"PublicKeyList":[{{"Value":"{value}","ValidityStartTime":1}},{{"Value":"{value}","ValidityStartTime":{written}}}]}}"#
            );
            match KeyRing::parse_json(file.as_bytes(), None) {
                Err(KeyError::Validity { index: 1, .. }) => {}
                other => panic!("{written}: {other:?}"),
            }
        }
    }

    #[test]
    fn keys_are_read_as_pkcs1_or_x509_der_and_fingerprinted_as_given() {
        let signer = TestSigner::committed("us-east-1-a");
        let spki = spki_der(&signer);
        assert_ne!(spki, signer.public_der());
        let message = b"a message the test key signed";
        let signature =
            Signature(hex::decode(signer.sign(message)).expect("the test signer writes hex"));
        for der in [signer.public_der().to_vec(), spki] {
            let fingerprint = Fingerprint::of_der(&der);
            let file = format!(
                r#"{{"PublicKeyList":[{{"Value":"{}","Fingerprint":"{}"}}]}}"#,
                base64(&der),
                fingerprint.to_hex()
            );
            let key = one_key(&file);
            // The MD5 of the bytes as given, whichever form they are in.
            assert_eq!(key.fingerprint, fingerprint);
            assert_eq!(key.der, der);
            assert_eq!(key.bits, 2048);
            assert_eq!(key.verify(message, &signature), Ok(()));
            // The other form's fingerprint is not this key's: a file that claims it is refused.
            let other = if der == signer.public_der() {
                Fingerprint::of_der(&spki_der(&signer))
            } else {
                signer.fingerprint()
            };
            let lying = format!(
                r#"{{"PublicKeyList":[{{"Value":"{}","Fingerprint":"{}"}}]}}"#,
                base64(&der),
                other.to_hex()
            );
            assert!(matches!(
                KeyRing::parse_json(lying.as_bytes(), None),
                Err(KeyError::FingerprintMismatch { index: 0, .. })
            ));
        }
    }

    #[test]
    fn a_key_file_that_is_not_json_carries_the_parser_error() {
        use std::error::Error as _;
        let err = KeyRing::parse_json(b"[1,", None).unwrap_err();
        let source = err.source().expect("the JSON error is the cause");
        assert!(source.is::<serde_json::Error>(), "{source:?}");
        assert_eq!(err.to_string(), format!("not a public key list: {source}"));
    }

    #[test]
    fn a_key_that_is_not_der_carries_both_refusals() {
        use std::error::Error as _;
        let value = base64::engine::general_purpose::STANDARD.encode(b"not DER");
        let file = format!(r#"{{"PublicKeyList":[{{"Value":"{value}"}}]}}"#);
        let err = KeyRing::parse_json(file.as_bytes(), None).unwrap_err();
        let KeyError::Der { index: 0, problem } = &err else {
            panic!("{err:?}");
        };
        let source = err.source().expect("the DER error is the cause");
        assert!(source.is::<DerError>(), "{source:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "key #0: not an RSA public key (PKCS#1 or X.509 SPKI DER): PKCS#1: {}; SPKI: {}",
                problem.pkcs1, problem.spki
            )
        );
        let beneath = problem.source().expect("the PKCS#1 refusal");
        assert!(beneath.is::<rsa::pkcs1::Error>(), "{beneath:?}");
        assert!(KeyError::NoKeyList.source().is_none());
    }
}
