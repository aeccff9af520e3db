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

use cap_std::fs::Dir;
use sha2::Digest as _;

use crate::bundle::{self, BundleError, BundleInfo};
use crate::digest::{ChainId, DigestKey};
use crate::keys::KeySource;
use crate::status::Status;
use crate::store::dir::check_key;
use crate::store::{ListingRequest, Metadata, Object, ObjectStore, ObjectVersion, StoreError};
use crate::time::UtcTime;
use crate::verify::{self, ValidateError, ValidateOptions, Validation};

/// Why [`mirror`] stopped. What it had copied stays in DEST: a later run resumes from it.
#[derive(Debug)]
pub enum MirrorError {
    /// DEST could not be created, read or written: `at` says what was tried, and where.
    Destination {
        /// What was tried, and on which path (`"cannot create /evidence"`).
        at: String,
        /// The I/O error.
        error: io::Error,
    },
    /// The bundle files an earlier run left in DEST (to resume from) cannot be read.
    EarlierBundle(BundleError),
    /// DEST holds files no mirror of this source wrote: they would be served as the source's.
    ForeignDestination(String),
    /// The verification the copy is made by could not run (bad options, the source or the keys
    /// unreachable); nothing was decided.
    Validate(ValidateError),
}

impl std::fmt::Display for MirrorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MirrorError::Destination { at, error } => write!(f, "{at}: {error}"),
            MirrorError::EarlierBundle(e) => write!(f, "{e}"),
            MirrorError::ForeignDestination(why) => write!(f, "{why}"),
            MirrorError::Validate(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MirrorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MirrorError::Destination { error, .. } => Some(error),
            MirrorError::EarlierBundle(e) => Some(e),
            MirrorError::ForeignDestination(_) => None,
            MirrorError::Validate(e) => Some(e),
        }
    }
}

/// Counts of what a mirror run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MirrorStats {
    /// Objects copied from the source in this run.
    pub fetched: u64,
    /// Their size as stored (gzip bytes for digests and logs).
    pub fetched_bytes: u64,
    /// Objects an earlier run had already copied completely, served from DEST.
    pub reused: u64,
    /// Objects that could not be copied (read errors): the bundle is incomplete.
    pub failed: u64,
}

/// What [`mirror`] did, and what the verification it copied by found.
pub struct MirrorOutcome {
    /// What was copied and what reused.
    pub stats: MirrorStats,
    /// The verdicts of the verification that read the source through the copy: those
    /// `ctverify validate DEST` should give again offline (but for files that could not be
    /// copied).
    pub validation: Validation,
}

/// An `ObjectStore` that serves `source` through copies in `dest`.
struct RecordingStore<'a> {
    source: &'a dyn ObjectStore,
    /// DEST as shown in messages.
    dest: PathBuf,
    /// DEST as a handle: every write goes through it (see [`RecordingStore::path_of`]).
    root: Dir,
    metadata: Mutex<BTreeMap<String, Metadata>>,
    fetched: AtomicU64,
    fetched_bytes: AtomicU64,
    reused: AtomicU64,
    failed: AtomicU64,
}

fn sha256_file(root: &Dir, path: &Path) -> io::Result<[u8; 32]> {
    let mut file = root.open(path)?;
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

/// Creates `path` under `root` to write, refusing to follow a symlink left at its name (a
/// stale temporary file could otherwise be a link to anywhere).
fn create_fresh(root: &Dir, path: &Path) -> io::Result<cap_std::fs::File> {
    match root.remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    root.open_with(
        path,
        cap_std::fs::OpenOptions::new().write(true).create_new(true),
    )
}

impl RecordingStore<'_> {
    /// Where `key` lives in DEST, relative to it, with its folder made. Every step goes through
    /// the handle on DEST, which resolves no symlink to outside it (DEST may hold symlinks,
    /// into SOURCE say, and the mirror must write nowhere else), and resolves them at the
    /// moment of use: a folder swapped for a link after a check cannot redirect a write.
    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        let relative = Path::new(key);
        let (Some(folder), Some(_)) = (relative.parent(), relative.file_name()) else {
            return Err(StoreError::UnsafeKey("no file name".into()));
        };
        if !folder.as_os_str().is_empty() {
            self.root.create_dir_all(folder).map_err(|e| {
                StoreError::UnsafeKey(format!(
                    "cannot be written inside the destination {} (its folders must be real \
                     folders, or links that stay inside it): {e}",
                    self.dest.display()
                ))
            })?;
        }
        Ok(relative.to_path_buf())
    }

    /// Streams the source object into `path` (relative to DEST), checking what was written.
    fn copy(&self, key: &str, path: &Path) -> Result<Metadata, StoreError> {
        let object = self.source.get(self.source.bucket(), key)?;
        self.write(object, key, path)
    }

    /// Streams `object` (`key`'s, or a version of it) into `path` (relative to DEST): into a
    /// temporary file, read back and hashed again, then renamed into place.
    fn write(&self, object: Object, key: &str, path: &Path) -> Result<Metadata, StoreError> {
        let shown = self.dest.join(path);
        let write_error =
            |e: io::Error| StoreError::Read(format!("writing {}: {e}", shown.display()));
        let partial = path.with_file_name(format!(
            "{}.ctverify-partial",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let mut out = create_fresh(&self.root, &partial).map_err(write_error)?;
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
                    let _ = self.root.remove_file(&partial);
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
        if sha256_file(&self.root, &partial).map_err(write_error)? != streamed {
            let _ = self.root.remove_file(&partial);
            return Err(StoreError::Read(format!(
                "{} does not read back as written",
                shown.display()
            )));
        }
        self.root
            .rename(&partial, &self.root, path)
            .map_err(write_error)?;
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
        let finished = self.root.symlink_metadata(&path).is_ok_and(|m| m.is_file());
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

impl RecordingStore<'_> {
    /// Copies version `version_id` of `key` (one a verdict names recoverable) to
    /// `.ctverify/versions/VERSION_ID/KEY` in DEST, beside the current files and out of the
    /// offline run's sight: `validate DEST` verifies what the bucket holds now. The version id
    /// comes from the source, so it must be one plain path segment.
    fn ensure_version(&self, key: &str, version_id: &str) -> Result<(), StoreError> {
        let copied = self.copy_version(key, version_id);
        if copied.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        copied
    }

    fn copy_version(&self, key: &str, version_id: &str) -> Result<(), StoreError> {
        check_key(version_id)?;
        if version_id.contains('/') {
            return Err(StoreError::UnsafeKey("version id holds a '/'".into()));
        }
        let path = self.path_of(&version_path(version_id, key))?;
        if self.root.symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let object = self
            .source
            .get_version(self.source.bucket(), key, version_id)?;
        self.write(object, key, &path).map(|_| ())
    }
}

/// Where a bundle keeps version `version_id` of `key`, relative to DEST.
fn version_path(version_id: &str, key: &str) -> String {
    format!("{}/{VERSIONS_DIR}/{version_id}/{key}", bundle::BUNDLE_DIR)
}

/// The folder of `.ctverify/` that holds the recoverable versions of files found missing or
/// changed.
const VERSIONS_DIR: &str = "versions";

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

    fn versions(&self, bucket: &str, key: &str) -> Result<Option<Vec<ObjectVersion>>, StoreError> {
        self.source.versions(bucket, key)
    }

    fn get_version(&self, bucket: &str, key: &str, version_id: &str) -> Result<Object, StoreError> {
        self.source.get_version(bucket, key, version_id)
    }

    fn keeps_metadata_of(&self, chain: &ChainId) -> bool {
        self.source.keeps_metadata_of(chain)
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        // A bundle holds one bucket; other buckets are read but not kept.
        if bucket != self.source.bucket() {
            return self.source.get(bucket, key);
        }
        let metadata = self.ensure(key)?;
        let path = self.path_of(key)?;
        let file = self
            .root
            .open(&path)
            .map_err(|e| StoreError::Read(format!("{}: {e}", self.dest.join(&path).display())))?;
        Ok(Object {
            body: Box::new(file.into_std()),
            metadata,
        })
    }
}

fn write_json_atomically(root: &Dir, path: &Path, value: &serde_json::Value) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    let partial = path.with_extension("json.ctverify-partial");
    create_fresh(root, &partial)?.write_all(text.as_bytes())?;
    root.rename(partial, root, path)
}

/// Copies what verifying `source` over `options` reads into `dest`, plus keys and metadata.
pub fn mirror(
    source: &dyn ObjectStore,
    keys: &dyn KeySource,
    options: &ValidateOptions,
    dest: &Path,
    copied_from: &str,
) -> Result<MirrorOutcome, MirrorError> {
    let dest_error = |what: &str, error: io::Error| MirrorError::Destination {
        at: format!("{what} {}", dest.display()),
        error,
    };
    fs::create_dir_all(dest).map_err(|e| dest_error("cannot create", e))?;
    let dest = fs::canonicalize(dest).map_err(|e| dest_error("cannot open", e))?;
    let root = Dir::open_ambient_dir(&dest, cap_std::ambient_authority())
        .map_err(|e| dest_error("cannot open", e))?;
    let bucket = source.bucket().to_string();
    let prefix = options.prefix.clone().unwrap_or_default();
    // A file already in DEST is served instead of the source's (that is how a run resumes),
    // so DEST must be empty or a bundle of this same bucket: files from elsewhere (an
    // `aws s3 sync` copy, another trail's bundle) would be verified as if they were the
    // source's.
    let has_entries = root
        .entries()
        .map_err(|e| dest_error("cannot read", e))?
        .next()
        .is_some();
    if has_entries {
        let info = bundle::read_bundle_info(&dest).ok().flatten();
        if !info.is_some_and(|i| i.bucket == bucket && i.prefix == prefix) {
            return Err(MirrorError::ForeignDestination(format!(
                "{} is not empty and is not a bundle of bucket {bucket}{}: the files in it \
                 would be taken as copies of the source; give an empty or new folder",
                dest.display(),
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" under prefix {prefix}")
                }
            )));
        }
    }
    root.create_dir_all(bundle::BUNDLE_DIR).map_err(|e| {
        dest_error(
            "cannot create the bundle folder (a real folder, or a link that stays inside \
                 DEST) in",
            e,
        )
    })?;

    let info = BundleInfo {
        bucket: bucket.clone(),
        prefix,
        copied_from: Some(copied_from.to_string()),
        copied_at: Some(UtcTime::now().to_string()),
    };
    // Written first, so that a run cut short can be resumed (see above); again at the end.
    let bundle_file = Path::new(bundle::BUNDLE_DIR).join(bundle::BUNDLE_FILE);
    write_json_atomically(
        &root,
        &bundle_file,
        &serde_json::to_value(&info).unwrap_or_default(),
    )
    .map_err(|e| dest_error("cannot write the bundle file in", e))?;

    // Resuming: metadata recorded by an earlier run, for the digests already copied.
    let earlier = match bundle::existing_bundle_file(&dest, bundle::METADATA_FILE)
        .map_err(MirrorError::EarlierBundle)?
    {
        Some(path) => {
            bundle::read_signatures(&path, &bucket).map_err(MirrorError::EarlierBundle)?
        }
        None => Default::default(),
    };
    let recorder = RecordingStore {
        source,
        dest: dest.clone(),
        root,
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
    // What an earlier version holds of a file deleted or changed is evidence too: the bundle
    // keeps it beside the current files (a failed copy counts, and the bundle is incomplete).
    for chain in &validation.chains {
        for file in chain.files.iter().filter(|f| f.bucket == bucket) {
            if let Some(version_id) = &file.recoverable_version {
                let _ = recorder.ensure_version(&file.key, version_id);
            }
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
    let write = |file: &str, value: serde_json::Value| {
        let relative = Path::new(bundle::BUNDLE_DIR).join(file);
        write_json_atomically(&recorder.root, &relative, &value).map_err(|error| {
            MirrorError::Destination {
                at: dest.join(&relative).display().to_string(),
                error,
            }
        })
    };
    write(
        bundle::METADATA_FILE,
        serde_json::to_value(&by_bucket_key).unwrap_or_default(),
    )?;
    write(bundle::PUBLIC_KEYS_FILE, keys.known_keys().to_json())?;
    write(
        bundle::BUNDLE_FILE,
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::bundle::SignatureIndex;
    use crate::store::dir::DirStore;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/log.json.gz";

    fn recorder<'a>(source: &'a DirStore, dest: &Path) -> RecordingStore<'a> {
        RecordingStore {
            source,
            dest: dest.to_path_buf(),
            root: Dir::open_ambient_dir(dest, cap_std::ambient_authority()).unwrap(),
            metadata: Mutex::default(),
            fetched: AtomicU64::new(0),
            fetched_bytes: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Every regular file under `folder`, at any depth.
    fn files_under(folder: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    /// The race a path-based check loses: DEST's folders are checked and made, then moved out
    /// and replaced by a symlink to where they went, before the file is written.
    #[test]
    fn a_folder_swapped_for_a_symlink_after_the_check_redirects_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (source_root, dest, elsewhere) = (
            tmp.path().join("source"),
            tmp.path().join("dest"),
            tmp.path().join("elsewhere"),
        );
        let source_file = source_root.join(KEY);
        fs::create_dir_all(source_file.parent().unwrap()).unwrap();
        fs::write(&source_file, b"the log").unwrap();
        fs::create_dir(&dest).unwrap();
        let source = DirStore::open(&source_root, "b".into(), SignatureIndex::default()).unwrap();
        let store = recorder(&source, &dest);

        let path = store.path_of(KEY).unwrap();
        assert!(dest.join(KEY).parent().unwrap().is_dir());
        fs::rename(dest.join("AWSLogs"), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dest.join("AWSLogs")).unwrap();

        assert!(store.copy(KEY, &path).is_err());
        assert_eq!(files_under(&elsewhere), Vec::<PathBuf>::new());
        assert!(store.get("b", KEY).is_err());
        assert_eq!(files_under(&elsewhere), Vec::<PathBuf>::new());
    }

    #[test]
    fn a_symlink_that_stays_inside_dest_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (source_root, dest) = (tmp.path().join("source"), tmp.path().join("dest"));
        let source_file = source_root.join(KEY);
        fs::create_dir_all(source_file.parent().unwrap()).unwrap();
        fs::write(&source_file, b"the log").unwrap();
        fs::create_dir_all(dest.join("store")).unwrap();
        std::os::unix::fs::symlink("store", dest.join("AWSLogs")).unwrap();
        let source = DirStore::open(&source_root, "b".into(), SignatureIndex::default()).unwrap();
        let store = recorder(&source, &dest);

        let mut body = Vec::new();
        store
            .get("b", KEY)
            .unwrap()
            .body
            .read_to_end(&mut body)
            .unwrap();
        assert_eq!(body, b"the log");
        let stored = KEY.replacen("AWSLogs", "store", 1);
        assert_eq!(fs::read(dest.join(stored)).unwrap(), b"the log");
    }

    #[test]
    fn mirror_errors_carry_their_cause() {
        use std::error::Error as _;
        let destination = MirrorError::Destination {
            at: "cannot create /d".into(),
            error: io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(destination.to_string(), "cannot create /d: denied");
        let cause = destination
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            cause.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );

        let validate = MirrorError::Validate(ValidateError::NoTrail {
            searched: "s3://b/".into(),
        });
        let cause = validate
            .source()
            .expect("the validation error is the cause");
        assert!(cause.is::<ValidateError>(), "{cause:?}");
        assert_eq!(validate.to_string(), cause.to_string());

        let earlier = MirrorError::EarlierBundle(BundleError::Outside {
            path: "/d/.ctverify/metadata.json".into(),
        });
        assert!(earlier.source().is_some_and(|s| s.is::<BundleError>()));
        assert!(MirrorError::ForeignDestination("x".into())
            .source()
            .is_none());
    }
}
