//! Evidence bundles: `ctverify mirror SOURCE DEST` copies what a verification of SOURCE reads
//! (digests with their S3 metadata, the logs they list, moved and unreferenced files) and the
//! public keys into DEST, so that `ctverify validate DEST` later gives the same verdict for
//! every file with no network.
//!
//! The copy is made by running the verifier itself over a store that records every object it
//! reads: what the offline run will look at is, by construction, what was copied. Each object
//! is streamed to a temporary file while hashed, read back and hashed again, and only then
//! renamed into place, so a file present under its final name is complete. That makes the
//! mirror resumable: a second run serves finished files from DEST and fetches only the rest.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sha2::Digest as _;

use crate::bundle::{self, BundleInfo};
use crate::digest::DigestKey;
use crate::keys::KeySource;
use crate::status::Status;
use crate::store::dir::check_key;
use crate::store::{ListingRequest, Metadata, Object, ObjectStore, StoreError};
use crate::time::UtcTime;
use crate::verify::{self, ValidateError, ValidateOptions, Validation};

#[derive(Debug)]
pub enum MirrorError {
    Destination(String),
    Validate(ValidateError),
}

impl std::fmt::Display for MirrorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MirrorError::Destination(why) => write!(f, "{why}"),
            MirrorError::Validate(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MirrorError {}

/// Counts of what a mirror run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MirrorStats {
    pub fetched: u64,
    pub fetched_bytes: u64,
    pub reused: u64,
    /// Objects that could not be copied (read errors): the bundle is incomplete.
    pub failed: u64,
}

pub struct MirrorOutcome {
    pub stats: MirrorStats,
    pub validation: Validation,
}

/// An `ObjectStore` that serves `source` through copies in `dest`.
struct RecordingStore<'a> {
    source: &'a dyn ObjectStore,
    dest: PathBuf,
    metadata: Mutex<BTreeMap<String, Metadata>>,
    fetched: AtomicU64,
    fetched_bytes: AtomicU64,
    reused: AtomicU64,
    failed: AtomicU64,
}

fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().into())
}

/// The folder `relative` under `root` (a canonical path), made where missing, reached through
/// no symlink that leads out of `root`: DEST may hold symlinks (into SOURCE, say), and the
/// mirror must write nowhere else. `create_dir_all` would follow them.
fn folder_inside(root: &Path, relative: &Path) -> io::Result<PathBuf> {
    let outside = |at: &Path| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} leads outside {}", at.display(), root.display()),
        )
    };
    let mut at = root.to_path_buf();
    for component in relative.components() {
        at.push(component);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                let real = fs::canonicalize(&at).map_err(|_| outside(&at))?;
                if !real.starts_with(root) || !real.is_dir() {
                    return Err(outside(&at));
                }
                at = real;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is not a folder", at.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&at) {
                Ok(()) => {}
                // Another worker made it meanwhile: check it as found.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if !fs::symlink_metadata(&at)?.is_dir() {
                        return Err(outside(&at));
                    }
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// Creates `path` to write, refusing to follow a symlink left at its name (a stale temporary
/// file could otherwise be a link to anywhere).
fn create_fresh(path: &Path) -> io::Result<fs::File> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

impl RecordingStore<'_> {
    /// Where `key` lives in DEST: its folder made, under DEST through no symlink out of it.
    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        let relative = Path::new(key);
        let (Some(folder), Some(name)) = (relative.parent(), relative.file_name()) else {
            return Err(StoreError::UnsafeKey("no file name".into()));
        };
        let folder = folder_inside(&self.dest, folder).map_err(|e| {
            StoreError::UnsafeKey(format!("cannot be written inside the destination: {e}"))
        })?;
        Ok(folder.join(name))
    }

    /// Streams the source object into `path`, checking what was written.
    fn copy(&self, key: &str, path: &Path) -> Result<Metadata, StoreError> {
        let object = self.source.get(self.source.bucket(), key)?;
        let write_error =
            |e: io::Error| StoreError::Read(format!("writing {}: {e}", path.display()));
        let partial = path.with_file_name(format!(
            "{}.ctverify-partial",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let mut out = create_fresh(&partial).map_err(write_error)?;
        let mut body = object.body;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = fs::remove_file(&partial);
                    return Err(StoreError::Read(format!("reading {key}: {e}")));
                }
            };
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n]).map_err(write_error)?;
            bytes += n as u64;
        }
        out.sync_all().map_err(write_error)?;
        drop(out);
        let streamed: [u8; 32] = hasher.finalize().into();
        if sha256_file(&partial).map_err(write_error)? != streamed {
            let _ = fs::remove_file(&partial);
            return Err(StoreError::Read(format!(
                "{} does not read back as written",
                path.display()
            )));
        }
        fs::rename(&partial, path).map_err(write_error)?;
        self.fetched.fetch_add(1, Ordering::Relaxed);
        self.fetched_bytes.fetch_add(bytes, Ordering::Relaxed);
        Ok(object.metadata)
    }

    /// Makes sure `key` is in DEST; returns its metadata.
    fn ensure(&self, key: &str) -> Result<Metadata, StoreError> {
        let path = self.path_of(key).inspect_err(|_| {
            self.failed.fetch_add(1, Ordering::Relaxed);
        })?;
        let is_digest = DigestKey::parse(key).is_some();
        let known = self
            .metadata
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        // A finished copy is a regular file at the name itself, never a symlink to one.
        let finished = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        if finished && (!is_digest || known.is_some()) {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(known.unwrap_or_default());
        }
        let metadata = match self.copy(key, &path) {
            Ok(metadata) => metadata,
            Err(e) => {
                if !matches!(e, StoreError::NotFound) {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                }
                return Err(e);
            }
        };
        if is_digest {
            self.metadata
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.to_string(), metadata.clone());
        }
        Ok(metadata)
    }
}

impl ObjectStore for RecordingStore<'_> {
    fn bucket(&self) -> &str {
        self.source.bucket()
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.source.list_folders(prefix)
    }

    fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), StoreError> {
        self.source.list_keys(prefix, start_after, visit)
    }

    fn prefetch_keys(&self, request: &ListingRequest) {
        self.source.prefetch_keys(request)
    }

    fn discard_prefetched(&self, request: &ListingRequest) {
        self.source.discard_prefetched(request)
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        // A bundle holds one bucket; other buckets are read but not kept.
        if bucket != self.source.bucket() {
            return self.source.get(bucket, key);
        }
        let metadata = self.ensure(key)?;
        let path = self.path_of(key)?;
        let file = fs::File::open(&path)
            .map_err(|e| StoreError::Read(format!("{}: {e}", path.display())))?;
        Ok(Object {
            body: Box::new(file),
            metadata,
        })
    }
}

fn write_json_atomically(path: &Path, value: &serde_json::Value) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    let partial = path.with_extension("json.ctverify-partial");
    create_fresh(&partial)?.write_all(text.as_bytes())?;
    fs::rename(partial, path)
}

/// Copies what verifying `source` over `options` reads into `dest`, plus keys and metadata.
pub fn mirror(
    source: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    dest: &Path,
    copied_from: &str,
) -> Result<MirrorOutcome, MirrorError> {
    let dest_error = |what: &str, e: io::Error| {
        MirrorError::Destination(format!("{what} {}: {e}", dest.display()))
    };
    fs::create_dir_all(dest).map_err(|e| dest_error("cannot create", e))?;
    let dest = fs::canonicalize(dest).map_err(|e| dest_error("cannot open", e))?;
    folder_inside(&dest, Path::new(bundle::BUNDLE_DIR))
        .map_err(|e| dest_error("cannot create the bundle folder in", e))?;

    // Resuming: metadata recorded by an earlier run, for the digests already copied.
    let metadata_path = bundle::bundle_path(&dest, bundle::METADATA_FILE);
    let bucket = source.bucket().to_string();
    let earlier = if metadata_path.exists() {
        bundle::read_signatures(&metadata_path, &bucket)
            .map_err(|e| MirrorError::Destination(e.to_string()))?
    } else {
        Default::default()
    };
    let recorder = RecordingStore {
        source,
        dest: dest.clone(),
        metadata: Mutex::new(earlier.into_iter().collect()),
        fetched: AtomicU64::new(0),
        fetched_bytes: AtomicU64::new(0),
        reused: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    };

    let validation =
        verify::validate(&recorder, keys, options, &mut |_| {}).map_err(MirrorError::Validate)?;
    // Files reported without being read (unreferenced ones) must be there for the offline run
    // to see them in its listing.
    for chain in &validation.chains {
        for file in chain
            .files
            .iter()
            .filter(|f| f.status == Status::Unreferenced && f.bucket == bucket)
        {
            let _ = recorder.ensure(&file.key);
        }
    }

    let metadata = recorder
        .metadata
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let by_bucket_key: BTreeMap<String, &Metadata> = metadata
        .iter()
        .map(|(key, m)| (format!("{bucket}/{key}"), m))
        .collect();
    let write = |path: PathBuf, value: serde_json::Value| {
        write_json_atomically(&path, &value)
            .map_err(|e| MirrorError::Destination(format!("{}: {e}", path.display())))
    };
    write(
        metadata_path,
        serde_json::to_value(&by_bucket_key).unwrap_or_default(),
    )?;
    write(
        bundle::bundle_path(&dest, bundle::PUBLIC_KEYS_FILE),
        keys.known_keys().to_json(),
    )?;
    let info = BundleInfo {
        bucket: bucket.clone(),
        prefix: options.prefix.clone().unwrap_or_default(),
        copied_from: Some(copied_from.to_string()),
        copied_at: Some(UtcTime::now().to_string()),
    };
    write(
        bundle::bundle_path(&dest, bundle::BUNDLE_FILE),
        serde_json::to_value(&info).unwrap_or_default(),
    )?;

    let stats = MirrorStats {
        fetched: recorder.fetched.load(Ordering::Relaxed),
        fetched_bytes: recorder.fetched_bytes.load(Ordering::Relaxed),
        reused: recorder.reused.load(Ordering::Relaxed),
        failed: recorder.failed.load(Ordering::Relaxed),
    };
    Ok(MirrorOutcome { stats, validation })
}
