//! The `.ctverify/` folder of an evidence bundle: `bundle.json` (where the copy came from),
//! `metadata.json` (every digest's S3 metadata) and `public-keys.json`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::Metadata;

pub const BUNDLE_DIR: &str = ".ctverify";
pub const BUNDLE_FILE: &str = "bundle.json";
pub const METADATA_FILE: &str = "metadata.json";
pub const PUBLIC_KEYS_FILE: &str = "public-keys.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BundleInfo {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub copied_from: Option<String>,
    #[serde(default)]
    pub copied_at: Option<String>,
}

#[derive(Debug)]
pub enum BundleError {
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    Json {
        path: PathBuf,
        error: String,
    },
    Entry {
        path: PathBuf,
        entry: String,
        problem: String,
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
        }
    }
}

impl std::error::Error for BundleError {}

pub fn bundle_path(root: &Path, file: &str) -> PathBuf {
    root.join(BUNDLE_DIR).join(file)
}

fn read(path: &Path) -> Result<Vec<u8>, BundleError> {
    std::fs::read(path).map_err(|error| BundleError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// `bundle.json`, when the directory has one.
pub fn read_bundle_info(root: &Path) -> Result<Option<BundleInfo>, BundleError> {
    let path = bundle_path(root, BUNDLE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read(&path)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| BundleError::Json {
            path,
            error: e.to_string(),
        })
}

/// Reads a signatures file: `{"BUCKET/KEY": {"signature": HEX, "signature-algorithm": ...}}`.
/// Returns the metadata by key, for the entries of `bucket` (others are ignored: a file may
/// cover several buckets). Metadata names are lowercased and an `x-amz-meta-` prefix dropped.
pub fn read_signatures(
    path: &Path,
    bucket: &str,
) -> Result<HashMap<String, Metadata>, BundleError> {
    let bytes = read(path)?;
    let raw: HashMap<String, HashMap<String, serde_json::Value>> =
        serde_json::from_slice(&bytes).map_err(|e| BundleError::Json {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?;
    let mut by_key = HashMap::new();
    for (bucket_key, fields) in raw {
        let Some((entry_bucket, key)) = bucket_key.split_once('/') else {
            return Err(BundleError::Entry {
                path: path.to_path_buf(),
                entry: bucket_key,
                problem: "expected BUCKET/KEY".into(),
            });
        };
        if entry_bucket != bucket {
            continue;
        }
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
        by_key.insert(
            key.to_string(),
            Metadata::new(metadata.into_iter().collect()),
        );
    }
    Ok(by_key)
}
