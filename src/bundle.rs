//! The `.ctverify/` folder of an evidence bundle: `bundle.json` (where the copy came from),
//! `metadata.json` (every digest's S3 metadata) and `public-keys.json`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{ChainId, DigestKey};
use crate::hash::Sha256;
use crate::spill::{DigestSpill, DigestSpillReader};
use crate::store::Metadata;

/// The bundle folder, beside `AWSLogs/` (or the prefix) at the root of the copy.
pub const BUNDLE_DIR: &str = ".ctverify";
/// Where the copy came from: a [`BundleInfo`] as JSON.
pub const BUNDLE_FILE: &str = "bundle.json";
/// Each digest's S3 user metadata (its signature), in the form of a signatures file:
/// `{"BUCKET/KEY": {"signature": HEX, "signature-algorithm": "SHA256withRSA"}}`.
pub const METADATA_FILE: &str = "metadata.json";
/// The public keys the copy verifies with, as `aws cloudtrail list-public-keys` prints them.
pub const PUBLIC_KEYS_FILE: &str = "public-keys.json";

/// `bundle.json`: the bucket and prefix a bundle is a copy of, and where and when it was copied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BundleInfo {
    /// The bucket the copy stands for: digests name their own bucket, and one found under another
    /// is moved.
    pub bucket: String,
    /// The trail's S3 key prefix, without the trailing slash; empty (or absent) when none.
    #[serde(default)]
    pub prefix: String,
    /// The source as `mirror` was given it (an `s3://` URL or a directory); informational only.
    #[serde(default)]
    pub copied_from: Option<String>,
    /// When `mirror` last started on the bundle, `YYYY-MM-DDTHH:MM:SSZ`; informational only.
    #[serde(default)]
    pub copied_at: Option<String>,
}

/// Why a bundle file, or a signatures file, could not be used.
#[derive(Debug)]
pub enum BundleError {
    /// The file could not be found, resolved, opened or read, or is not a regular file.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error (`InvalidInput` for a file that is not a regular file).
        error: std::io::Error,
    },
    /// The file is not JSON of the expected shape.
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error, with its line and column.
        error: serde_json::Error,
    },
    /// An entry of a signatures file is not named `BUCKET/KEY`.
    Entry {
        /// The signatures file.
        path: PathBuf,
        /// The entry's name as written.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The temporary file the entries are indexed into failed: this machine, not the bundle.
    Spill(std::io::Error),
    /// A bundle file reached through a symlink out of the copy: the keys, signatures or bucket
    /// name would be taken from somewhere else.
    Outside {
        /// The bundle file, as reached from the copy's root.
        path: PathBuf,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            BundleError::Json { path, error } => {
                write!(f, "{} is not valid: {error}", path.display())
            }
            BundleError::Entry {
                path,
                entry,
                problem,
            } => {
                write!(f, "{}: entry {entry:?}: {problem}", path.display())
            }
            BundleError::Spill(error) => {
                write!(f, "temporary file for the S3 metadata failed: {error}")
            }
            BundleError::Outside { path } => write!(
                f,
                "{} leads outside the copy (a symlink): a bundle's files must be its own",
                path.display()
            ),
        }
    }
}

impl std::error::Error for BundleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BundleError::Read { error, .. } | BundleError::Spill(error) => Some(error),
            BundleError::Json { error, .. } => Some(error),
            BundleError::Entry { .. } | BundleError::Outside { .. } => None,
        }
    }
}

/// `root/.ctverify/file`, whether or not it exists.
pub fn bundle_path(root: &Path, file: &str) -> PathBuf {
    root.join(BUNDLE_DIR).join(file)
}

/// `root`'s bundle file `file`, when it has one: a path that resolves inside `root`.
pub fn existing_bundle_file(root: &Path, file: &str) -> Result<Option<PathBuf>, BundleError> {
    let path = bundle_path(root, file);
    let read_error = |error| BundleError::Read {
        path: path.clone(),
        error,
    };
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
        Ok(_) => {}
    }
    // `.ctverify` itself may be the link, so the whole path is resolved, not the file alone.
    let real = std::fs::canonicalize(&path).map_err(read_error)?;
    let real_root = std::fs::canonicalize(root).map_err(read_error)?;
    if real.starts_with(&real_root) {
        Ok(Some(path))
    } else {
        Err(BundleError::Outside { path })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, BundleError> {
    let mut bytes = Vec::new();
    crate::store::dir::open_regular_file(path)
        .and_then(|mut file| std::io::Read::read_to_end(&mut file, &mut bytes))
        .map_err(|error| BundleError::Read {
            path: path.to_path_buf(),
            error,
        })?;
    Ok(bytes)
}

/// `bundle.json`, when the directory has one.
pub fn read_bundle_info(root: &Path) -> Result<Option<BundleInfo>, BundleError> {
    let Some(path) = existing_bundle_file(root, BUNDLE_FILE)? else {
        return Ok(None);
    };
    let bytes = read(&path)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| BundleError::Json { path, error })
}

/// Reads a signatures file: `{"BUCKET/KEY": {"signature": HEX, "signature-algorithm": ...}}`.
/// Returns the metadata by key, for the entries of `bucket` (others are ignored: a file may
/// cover several buckets). Metadata names are lowercased and an `x-amz-meta-` prefix dropped.
pub fn read_signatures(
    path: &Path,
    bucket: &str,
) -> Result<HashMap<String, Metadata>, BundleError> {
    let mut by_key = HashMap::new();
    for_each_entry(path, bucket, &mut |key, metadata| {
        by_key.insert(key.to_string(), metadata);
        Ok(())
    })?;
    Ok(by_key)
}

/// Every entry of `bucket` in a signatures file, parsed, one at a time: the file is read as a
/// stream, never whole (it holds about 750 bytes a digest).
fn for_each_entry(
    path: &Path,
    bucket: &str,
    on_entry: &mut dyn FnMut(&str, Metadata) -> std::io::Result<()>,
) -> Result<(), BundleError> {
    let file = crate::store::dir::open_regular_file(path).map_err(|error| BundleError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let mut entries = Entries {
        path,
        bucket,
        on_entry,
        failure: None,
    };
    let mut json = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
    let parsed =
        serde::de::Deserializer::deserialize_map(&mut json, &mut entries).and_then(|()| json.end());
    match (entries.failure, parsed) {
        (Some(failure), _) => Err(failure),
        (None, Err(e)) if e.is_io() => Err(BundleError::Read {
            path: path.to_path_buf(),
            error: e.into(),
        }),
        (None, Err(error)) => Err(BundleError::Json {
            path: path.to_path_buf(),
            error,
        }),
        (None, Ok(())) => Ok(()),
    }
}

/// Visits the entries of a signatures file as they are parsed.
struct Entries<'a> {
    path: &'a Path,
    bucket: &'a str,
    on_entry: &'a mut dyn FnMut(&str, Metadata) -> std::io::Result<()>,
    /// What went wrong, when it is more than the JSON's syntax.
    failure: Option<BundleError>,
}

impl<'de> serde::de::Visitor<'de> for &mut Entries<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of BUCKET/KEY: {metadata}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error;
        while let Some(bucket_key) = map.next_key::<String>()? {
            let fields: HashMap<String, serde_json::Value> = map.next_value()?;
            let Some((entry_bucket, key)) = bucket_key.split_once('/') else {
                self.failure = Some(BundleError::Entry {
                    path: self.path.to_path_buf(),
                    entry: bucket_key,
                    problem: "expected BUCKET/KEY".into(),
                });
                return Err(A::Error::custom("bad entry"));
            };
            if entry_bucket != self.bucket {
                continue;
            }
            if let Err(error) = (self.on_entry)(key, metadata_of(fields)) {
                self.failure = Some(BundleError::Spill(error));
                return Err(A::Error::custom("entry not kept"));
            }
        }
        Ok(())
    }
}

/// One entry's fields as metadata.
fn metadata_of(fields: HashMap<String, serde_json::Value>) -> Metadata {
    let mut metadata = Vec::new();
    for (name, value) in fields {
        let name = name.to_ascii_lowercase();
        let name = name
            .strip_prefix("x-amz-meta-")
            .unwrap_or(&name)
            .to_string();
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => continue,
            other => other.to_string(),
        };
        metadata.push((name, value));
    }
    Metadata::new(metadata.into_iter().collect())
}

/// A signatures file indexed for a directory store: every entry is parsed once and put in a
/// spill file, and only an index is held (about 50 bytes a digest, where the parsed metadata
/// is about 1 KB). An entry is read back when its digest is read.
#[derive(Default)]
pub struct SignatureIndex {
    spill: Option<DigestSpillReader>,
    /// SHA-256 of the key -> the entry's id in the spill.
    entries: HashMap<[u8; 32], u64>,
    /// The chains whose digests have an entry: for them the copy kept the S3 metadata, so a
    /// digest of theirs without an entry lost it (see [`SignatureIndex::covers`]).
    chains: HashSet<ChainId>,
}

impl fmt::Debug for SignatureIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureIndex({} entries)", self.entries.len())
    }
}

impl SignatureIndex {
    /// Reads the signatures file at `path` (same form as [`METADATA_FILE`]), keeping the entries of
    /// `bucket` and skipping the others. When a key appears twice, the later entry wins.
    pub fn open(path: &Path, bucket: &str) -> Result<SignatureIndex, BundleError> {
        let spill = DigestSpill::new().map_err(BundleError::Spill)?;
        let mut entries = HashMap::new();
        let mut chains = HashSet::new();
        for_each_entry(path, bucket, &mut |key, metadata| {
            let id = spill.append(&[], &metadata)?;
            entries.insert(Sha256::of(key.as_bytes()).0, id);
            if let Some(name) = DigestKey::parse(key) {
                chains.insert(name.chain);
            }
            Ok(())
        })?;
        Ok(SignatureIndex {
            spill: Some(spill.into_reader().map_err(BundleError::Spill)?),
            entries,
            chains,
        })
    }

    /// Whether the file has an entry for some digest of `chain` (by the digest's key name).
    pub fn covers(&self, chain: &ChainId) -> bool {
        self.chains.contains(chain)
    }

    /// The metadata of `key`: empty when the file has no entry for it. Fails only when the
    /// spill file cannot be read back.
    pub fn get(&self, key: &str) -> std::io::Result<Metadata> {
        match (&self.spill, self.entries.get(&Sha256::of(key.as_bytes()).0)) {
            (Some(spill), Some(&id)) => Ok(spill.read(id)?.1),
            _ => Ok(Metadata::default()),
        }
    }

    /// How many keys have an entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the file had no entry for the bucket.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signatures_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn the_index_reads_back_each_entry_of_its_bucket() {
        let signature = "ab".repeat(256);
        let file = signatures_file(&format!(
            r#"{{"b/d/1.json.gz": {{"X-Amz-Meta-Signature": "{signature}", "signature-algorithm": "SHA256withRSA"}},
                "other/d/1.json.gz": {{"signature": "00"}},
                "b/d/2.json.gz": {{"signature": null, "count": 2}}}}"#
        ));
        let index = SignatureIndex::open(file.path(), "b").unwrap();
        assert_eq!(index.len(), 2);
        let first = index.get("d/1.json.gz").unwrap();
        assert_eq!(first.get("signature"), Some(&signature));
        assert_eq!(
            first.get("signature-algorithm").map(String::as_str),
            Some("SHA256withRSA")
        );
        let second = index.get("d/2.json.gz").unwrap();
        assert_eq!(second.get("signature"), None);
        assert_eq!(second.get("count").map(String::as_str), Some("2"));
        assert!(index.get("d/3.json.gz").unwrap().iter().next().is_none());
        // The same file read whole says the same.
        let whole = read_signatures(file.path(), "b").unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole["d/1.json.gz"], first);
    }

    #[test]
    fn a_bad_signatures_file_is_refused_with_what_is_wrong() {
        let no_bucket = signatures_file(r#"{"no-slash": {"signature": "00"}}"#);
        let err = SignatureIndex::open(no_bucket.path(), "b").unwrap_err();
        assert!(
            matches!(&err, BundleError::Entry { entry, .. } if entry == "no-slash"),
            "{err}"
        );
        let not_json = signatures_file(r#"{"b/k": {"signature": "00"}"#);
        let err = SignatureIndex::open(not_json.path(), "b").unwrap_err();
        assert!(matches!(err, BundleError::Json { .. }), "{err}");
        let trailing = signatures_file(r#"{} []"#);
        assert!(SignatureIndex::open(trailing.path(), "b").is_err());
        let missing = std::path::Path::new("/nonexistent/metadata.json");
        assert!(matches!(
            SignatureIndex::open(missing, "b"),
            Err(BundleError::Read { .. })
        ));
    }

    #[test]
    fn read_and_json_failures_carry_their_cause() {
        use std::error::Error as _;
        let not_json = signatures_file(r#"{"b/k": "#);
        let err = SignatureIndex::open(not_json.path(), "b").unwrap_err();
        let source = err.source().expect("the JSON error is the cause");
        assert!(source.is::<serde_json::Error>(), "{source:?}");
        assert_eq!(
            err.to_string(),
            format!("{} is not valid: {source}", not_json.path().display())
        );

        let missing = std::path::Path::new("/nonexistent/metadata.json");
        let err = SignatureIndex::open(missing, "b").unwrap_err();
        let source = err.source().expect("the I/O error is the cause");
        assert!(source.is::<std::io::Error>(), "{source:?}");

        let no_bucket = signatures_file(r#"{"no-slash": {}}"#);
        let err = SignatureIndex::open(no_bucket.path(), "b").unwrap_err();
        assert!(err.source().is_none(), "{err:?}");
    }
}
