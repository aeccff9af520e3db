//! Fixed-size hash values that travel as hex text in CloudTrail files.
//!
//! Parsing is the only way in, so a `Sha256` always holds 32 bytes and compares exactly,
//! whatever case the hex was written in.

use std::fmt;

// Not `Eq`: the hex decoder's error is only `PartialEq`.
/// Why hex text was refused as a hash, fingerprint or signature.
#[derive(Debug, Clone, PartialEq)]
pub enum HexError {
    /// The text has the wrong number of hex digits (for a signature: empty, odd, or more than
    /// 2048).
    Length {
        /// Hex digits wanted: 64 for SHA-256, 32 for a fingerprint; for a signature, 512 (a
        /// 2048-bit key's), which is only a guide since the key decides.
        expected: usize,
        /// Length of the text given, in bytes.
        found: usize,
    },
    /// The decoder's error says which character, and where.
    NotHex(hex::FromHexError),
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Length { expected, found } => {
                write!(f, "expected {expected} hex digits, found {found}")
            }
            HexError::NotHex(_) => write!(f, "not hexadecimal"),
        }
    }
}

impl std::error::Error for HexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HexError::Length { .. } => None,
            HexError::NotHex(e) => Some(e),
        }
    }
}

fn parse_fixed<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    if text.len() != N * 2 {
        return Err(HexError::Length {
            expected: N * 2,
            found: text.len(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(HexError::NotHex)?;
    Ok(out)
}

/// A SHA-256 value (of a log's inflated bytes, or of a digest's uncompressed bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// From exactly 64 hex digits, either case.
    pub fn parse_hex(text: &str) -> Result<Self, HexError> {
        parse_fixed(text).map(Sha256)
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// Lowercase hex, 64 digits, as CloudTrail writes hashes (also the `Display` form).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// As lowercase hex, the form CloudTrail writes.
impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

/// From 64 hex digits, and nothing else.
impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sha256::parse_hex(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

/// A public key fingerprint: the MD5 of the key's DER bytes, as CloudTrail names keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    /// From exactly 32 hex digits, either case (`digestPublicKeyFingerprint`, a key's
    /// `Fingerprint`).
    pub fn parse_hex(text: &str) -> Result<Self, HexError> {
        parse_fixed(text).map(Fingerprint)
    }

    /// The fingerprint of a key: the MD5 of exactly these DER bytes (as decoded from a key's base64
    /// `Value`).
    pub fn of_der(der: &[u8]) -> Self {
        use md5::Digest as _;
        Fingerprint(md5::Md5::digest(der).into())
    }

    /// Lowercase hex, 32 digits (also the `Display` form).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// An RSA signature as raw bytes. Its length is checked against the key when verifying, since
/// only the key knows the right length.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(pub Vec<u8>);

/// Longest signature we will even decode: an 8192-bit key, the largest ring accepts.
const MAX_SIGNATURE_BYTES: usize = 1024;

impl Signature {
    /// From hex text, either case: an even number of digits, 2 to 2048 (keys up to 8192 bits).
    /// Whether the length suits the key is checked when verifying.
    pub fn parse_hex(text: &str) -> Result<Self, HexError> {
        if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > MAX_SIGNATURE_BYTES * 2
        {
            return Err(HexError::Length {
                expected: 512,
                found: text.len(),
            });
        }
        hex::decode(text).map(Signature).map_err(HexError::NotHex)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_case_insensitive_and_exact_length() {
        let lower = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let upper = lower.to_uppercase();
        assert_eq!(
            Sha256::parse_hex(lower).unwrap(),
            Sha256::parse_hex(&upper).unwrap()
        );
        assert_eq!(Sha256::of(b""), Sha256::parse_hex(lower).unwrap());
        assert_eq!(
            Sha256::parse_hex(&lower[..62]),
            Err(HexError::Length {
                expected: 64,
                found: 62
            })
        );
        let bad = format!("{}zz", &lower[..62]);
        assert_eq!(
            Sha256::parse_hex(&bad),
            Err(HexError::NotHex(hex::FromHexError::InvalidHexCharacter {
                c: 'z',
                index: 62
            }))
        );
    }

    #[test]
    fn signature_hex_rejects_odd_and_huge() {
        assert!(Signature::parse_hex("abc").is_err());
        assert!(Signature::parse_hex("").is_err());
        assert!(Signature::parse_hex(&"00".repeat(2000)).is_err());
        assert!(Signature::parse_hex("0g").is_err());
        assert_eq!(Signature::parse_hex("00ff").unwrap().0, vec![0, 255]);
    }

    #[test]
    fn not_hex_carries_the_decoder_error() {
        use std::error::Error as _;
        let err = Signature::parse_hex("0g").unwrap_err();
        assert_eq!(err.to_string(), "not hexadecimal");
        let source = err
            .source()
            .and_then(|s| s.downcast_ref::<hex::FromHexError>());
        assert_eq!(
            source,
            Some(&hex::FromHexError::InvalidHexCharacter { c: 'g', index: 1 })
        );
        assert!(Signature::parse_hex("abc").unwrap_err().source().is_none());
    }
}
