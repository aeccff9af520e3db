//! A copy of a bucket on disk (`aws s3 sync`, or a `ctverify mirror` bundle).
//!
//! Keys come from digests, which are untrusted until verified, so every key is mapped to a path
//! strictly under the root: no `..`, no absolute paths, no NUL or backslash, and no symlink that
//! resolves outside the root. The store only ever opens files for reading.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Object, ObjectStore, Stamp, StoreError};
use crate::bundle::SignatureIndex;
use crate::digest::ChainId;

/// A copy of one bucket on disk, as an [`ObjectStore`]: key `K` is the file `ROOT/K`. Digest
/// metadata (signatures), which a copy does not keep, comes from the [`SignatureIndex`] it is
/// opened with. Asked for another bucket's object, it answers [`StoreError::OtherBucket`].
pub struct DirStore {
    root: PathBuf,
    bucket: String,
    /// S3 metadata of digests (from `--signatures` or `.ctverify/metadata.json`).
    metadata: SignatureIndex,
}

/// Why a key cannot name a file under the root, if it cannot.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    if key.contains('\\') {
        return Err(StoreError::UnsafeKey("key contains a backslash".into()));
    }
    check_folder_key(key)
}

/// Why a folder key cannot name a folder under the root to list, if it cannot. A backslash is
/// allowed here: folder keys come from the store's own listings, where a backslash is only a
/// character of a file name (refusing it would let one planted folder break a listing).
pub fn check_folder_key(key: &str) -> Result<(), StoreError> {
    let unsafe_key = |why: &str| Err(StoreError::UnsafeKey(why.to_string()));
    if key.is_empty() {
        return unsafe_key("empty key");
    }
    if key.contains('\0') {
        return unsafe_key("key contains NUL");
    }
    if key.starts_with('/') {
        return unsafe_key("absolute key");
    }
    for segment in key.split('/') {
        match segment {
            "" => return unsafe_key("key has an empty path segment"),
            "." | ".." => return unsafe_key("key has a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

impl DirStore {
    /// `root` must exist; it is canonicalized so that containment checks compare real paths.
    pub fn open(root: &Path, bucket: String, metadata: SignatureIndex) -> io::Result<DirStore> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a directory",
            ));
        }
        Ok(DirStore {
            root,
            bucket,
            metadata,
        })
    }

    /// The root directory, canonicalized (symlinks resolved, absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of `key`, refusing anything that would resolve outside the root.
    fn resolve(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        self.resolve_checked(key)
    }

    /// [`DirStore::resolve`] once `key` has passed its check.
    fn resolve_checked(&self, key: &str) -> Result<PathBuf, StoreError> {
        let joined = self.root.join(key);
        let real = match fs::canonicalize(&joined) {
            Ok(real) => real,
            // A file where a folder of the key should be: the key is not there either.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(StoreError::NotFound)
            }
            Err(e) => return Err(StoreError::Read(format!("{}: {e}", joined.display()))),
        };
        if !real.starts_with(&self.root) {
            return Err(StoreError::UnsafeKey(
                "a symlink on its path leads outside the source root".into(),
            ));
        }
        Ok(real)
    }

    /// The real path of the folder `folder_key` (`""` or ending in `/`), if there is one.
    fn folder_path(&self, folder_key: &str) -> Result<Option<PathBuf>, StoreError> {
        if folder_key.is_empty() {
            return Ok(Some(self.root.clone()));
        }
        let key = folder_key.trim_end_matches('/');
        check_folder_key(key)?;
        match self.resolve_checked(key) {
            Ok(path) => Ok(Some(path)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Entries of the folder at `path` (a real path under the root), sorted as S3 lists keys:
    /// folders compare with their trailing `/`.
    ///
    /// Every file is listed, whatever its name: a name no digest could safely point at (a
    /// backslash, bytes that are not UTF-8, shown lossily) is still a file someone put in the
    /// log folder, and hiding it would hide a planted file. Such keys are refused when read.
    fn folder_entries(&self, path: &Path) -> Result<Vec<Entry>, StoreError> {
        let read_error = |e: io::Error| StoreError::Read(format!("{}: {e}", path.display()));
        let reader = match fs::read_dir(path) {
            Ok(reader) => reader,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Vec::new())
            }
            Err(e) => return Err(read_error(e)),
        };
        let mut entries = Vec::new();
        for entry in reader {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let file_type = entry.file_type().map_err(read_error)?;
            let (path, is_folder) = if file_type.is_symlink() {
                // Follow a symlink only when it stays inside the root.
                match fs::canonicalize(entry.path()) {
                    Ok(real) if real.starts_with(&self.root) => {
                        let is_dir = real.is_dir();
                        (real, is_dir)
                    }
                    _ => continue,
                }
            } else {
                (entry.path(), file_type.is_dir())
            };
            entries.push(Entry {
                segment: if is_folder { format!("{name}/") } else { name },
                path,
                is_folder,
            });
        }
        entries.sort_by(|a, b| a.segment.cmp(&b.segment));
        Ok(entries)
    }

    /// Visits the keys under the folder `folder_key`, at real path `path`, in S3 order, until
    /// `visit` says stop. Iterative, and each real folder is entered once: symlinks inside the
    /// root are followed, but a chain or a fan of them (which a hostile copy can hold) can
    /// neither overflow the stack nor multiply the work; no key longer than S3 allows is built.
    fn walk(
        &self,
        folder: (&str, &Path),
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str, &Path) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let (folder_key, path) = folder;
        let mut entered: HashSet<PathBuf> = HashSet::from([path.to_path_buf()]);
        let mut stack = vec![(
            folder_key.to_string(),
            self.folder_entries(path)?.into_iter(),
        )];
        while let Some((key, entries)) = stack.last_mut() {
            let Some(entry) = entries.next() else {
                stack.pop();
                continue;
            };
            let full = format!("{key}{}", entry.segment);
            if !full.starts_with(prefix) && !prefix.starts_with(&full) {
                continue;
            }
            if full.len() > MAX_KEY_BYTES {
                return Err(StoreError::Read(format!(
                    "{}: nested deeper than any S3 key ({MAX_KEY_BYTES} bytes) can reach",
                    entry.path.display()
                )));
            }
            if entry.is_folder {
                // Every key under `full` sorts before `start_after` unless `full` is a prefix of it.
                if let Some(after) = start_after {
                    if full.as_str() < after && !after.starts_with(&full) {
                        continue;
                    }
                }
                if !entered.insert(entry.path.clone()) {
                    continue;
                }
                let children = self.folder_entries(&entry.path)?;
                stack.push((full, children.into_iter()));
            } else {
                if !full.starts_with(prefix) {
                    continue;
                }
                if start_after.is_some_and(|after| full.as_str() <= after) {
                    continue;
                }
                if !visit(&full, &entry.path)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The longest key S3 stores, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// One entry of a folder on disk.
struct Entry {
    /// Its name as a piece of a key (lossy when it is not UTF-8), a folder's with its trailing
    /// `/`: how it sorts among keys.
    segment: String,
    /// Its real path (a symlink's target, which stays under the root).
    path: PathBuf,
    is_folder: bool,
}

impl ObjectStore for DirStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let folder = match prefix.rfind('/') {
            Some(at) => &prefix[..=at],
            None => "",
        };
        let Some(path) = self.folder_path(folder)? else {
            return Ok(Vec::new());
        };
        Ok(self
            .folder_entries(&path)?
            .into_iter()
            .filter(|entry| entry.is_folder)
            .map(|entry| format!("{folder}{}", entry.segment))
            .filter(|full| full.starts_with(prefix))
            .collect())
    }

    fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), StoreError> {
        let folder = match prefix.rfind('/') {
            Some(at) => &prefix[..=at],
            None => "",
        };
        let Some(path) = self.folder_path(folder)? else {
            return Ok(());
        };
        self.walk((folder, &path), prefix, start_after, &mut |key, _| {
            Ok(visit(key))
        })
    }

    fn list_stamped(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str, Stamp<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let folder = match prefix.rfind('/') {
            Some(at) => &prefix[..=at],
            None => "",
        };
        let Some(path) = self.folder_path(folder)? else {
            return Ok(());
        };
        self.walk((folder, &path), prefix, start_after, &mut |key, path| {
            let stat = std::fs::metadata(path)
                .map_err(|e| StoreError::Read(format!("{}: {e}", path.display())))?;
            // A copy rewritten in place keeps its size but not its modification time; one whose
            // modification time was put back still has a new change time (which no one sets).
            // Not the inode: some network mounts give new ones at every mount.
            let modified = stat
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            #[cfg(unix)]
            let version = {
                use std::os::unix::fs::MetadataExt;
                format!("{modified} {}.{:09}", stat.ctime(), stat.ctime_nsec())
            };
            #[cfg(not(unix))]
            let version = modified.to_string();
            Ok(visit(
                key,
                Stamp {
                    size: stat.len(),
                    version: &version,
                },
            ))
        })
    }

    /// A copy keeps what its signatures file holds: a chain it has entries for is covered.
    fn keeps_metadata_of(&self, chain: &ChainId) -> bool {
        self.metadata.covers(chain)
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        if bucket != self.bucket {
            return Err(StoreError::OtherBucket(bucket.to_string()));
        }
        let path = self.resolve(key)?;
        let file = match open_without_blocking(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(StoreError::Read(format!("{}: {e}", path.display()))),
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => {}
            // S3 has no folder objects: a folder at the key means no object there.
            Ok(meta) if meta.is_dir() => return Err(StoreError::NotFound),
            Ok(_) => {
                return Err(StoreError::Read(format!(
                    "{}: not a regular file (a FIFO, socket or device)",
                    path.display()
                )))
            }
            Err(e) => return Err(StoreError::Read(format!("{}: {e}", path.display()))),
        }
        let metadata = self.metadata.get(key).map_err(|e| {
            StoreError::Local(format!("S3 metadata read back from a temporary file: {e}"))
        })?;
        Ok(Object {
            body: Box::new(file),
            metadata,
        })
    }
}

/// Opens `path` for reading if it is a regular file, without waiting on it (see
/// [`open_without_blocking`]): for files a source directory brings along, such as a bundle's,
/// which a FIFO in their place must not turn into a hang.
pub fn open_regular_file(path: &Path) -> io::Result<fs::File> {
    let file = open_without_blocking(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Opens `path` for reading without waiting on it: opening a FIFO for reading would otherwise
/// block until something writes to it, hanging the run on one hostile file. (Reads from a
/// regular file are not affected by `O_NONBLOCK`.)
#[cfg(unix)]
fn open_without_blocking(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> io::Result<fs::File> {
    fs::File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> DirStore {
        DirStore::open(dir, "b".into(), SignatureIndex::default()).unwrap()
    }

    fn keys(store: &DirStore, prefix: &str, after: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        store
            .list_keys(prefix, after, &mut |k| {
                out.push(k.to_string());
                true
            })
            .unwrap();
        out
    }

    #[test]
    fn lists_in_s3_order_with_start_after() {
        let tmp = tempfile::tempdir().unwrap();
        for key in ["a/b", "a-c", "a/a/x", "b", "a0"] {
            let path = tmp.path().join(key);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, key).unwrap();
        }
        let s = store(tmp.path());
        let mut sorted = vec!["a/b", "a-c", "a/a/x", "b", "a0"];
        sorted.sort();
        assert_eq!(keys(&s, "", None), sorted);
        assert_eq!(keys(&s, "a/", None), vec!["a/a/x", "a/b"]);
        assert_eq!(keys(&s, "a", Some("a/a/x")), vec!["a/b", "a0"]);
        assert_eq!(s.list_folders("").unwrap(), vec!["a/"]);
    }

    #[test]
    fn a_start_after_at_the_end_of_the_day_before_lists_what_the_day_folder_name_does() {
        // ctverify lists from a whole key name, `FOLDER/DAY-BEFORE/~`, where it once gave the
        // day folder's bare name: past the day before's files, the same keys in the same order.
        let tmp = tempfile::tempdir().unwrap();
        let files = [
            "f/2024/02/28/x.json.gz",
            "f/2024/02/29/a.json.gz",
            "f/2024/02/29/z.json.gz",
            "f/2024/03/01/.planted",
            "f/2024/03/01/a.json.gz",
            "f/2024/03/02/a.json.gz",
        ];
        for key in files {
            let path = tmp.path().join(key);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, key).unwrap();
        }
        let s = store(tmp.path());
        let from_folder_name = keys(&s, "f/", Some("f/2024/03/01"));
        let from_key_name = keys(&s, "f/", Some("f/2024/02/29/~"));
        assert_eq!(from_folder_name, &files[3..]);
        assert_eq!(from_key_name, from_folder_name);
        // The day before need not exist.
        assert_eq!(keys(&s, "f/", Some("f/2024/03/01/~")), &files[5..]);
        assert_eq!(keys(&s, "f/", Some("f/2024/02/27/~")), &files[..]);
    }

    #[test]
    fn refuses_keys_that_escape_the_root() {
        let outer = tempfile::tempdir().unwrap();
        fs::write(outer.path().join("secret"), "x").unwrap();
        let root = outer.path().join("root");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(outer.path(), root.join("link")).unwrap();
        let s = store(&root);
        for key in [
            "../secret",
            "/etc/passwd",
            "a/../../secret",
            "link/secret",
            "a\\b",
            "a\0b",
            "a//b",
        ] {
            assert!(
                matches!(s.get("b", key), Err(StoreError::UnsafeKey(_))),
                "{key:?}"
            );
        }
        assert!(matches!(s.get("b", "missing"), Err(StoreError::NotFound)));
        assert!(matches!(
            s.get("other", "x"),
            Err(StoreError::OtherBucket(_))
        ));
        // the symlink out of the root is not listed either
        assert!(keys(&s, "", None).is_empty());
    }

    #[test]
    fn files_with_names_no_key_could_reach_are_listed_but_not_read() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("logs");
        fs::create_dir(&folder).unwrap();
        fs::write(folder.join("back\\slash"), "planted").unwrap();
        fs::write(
            folder.join(std::ffi::OsStr::from_bytes(b"not-utf8-\xff")),
            "planted",
        )
        .unwrap();
        fs::create_dir(folder.join("sub\\dir")).unwrap();
        fs::write(folder.join("sub\\dir").join("inner"), "planted").unwrap();
        let s = store(tmp.path());
        let listed = keys(&s, "logs/", None);
        assert_eq!(
            listed,
            vec![
                "logs/back\\slash",
                "logs/not-utf8-\u{fffd}",
                "logs/sub\\dir/inner"
            ]
        );
        for key in &listed {
            assert!(s.get("b", key).is_err(), "{key} was read");
        }
    }

    #[test]
    fn a_symlink_back_to_a_parent_is_not_walked_round() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        fs::write(tmp.path().join("a/b/file"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("a"), tmp.path().join("a/b/loop")).unwrap();
        let s = store(tmp.path());
        assert_eq!(keys(&s, "", None), vec!["a/b/file"]);
    }

    #[test]
    fn a_file_in_place_of_a_folder_means_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("day"), "not a folder").unwrap();
        let s = store(tmp.path());
        assert!(matches!(
            s.get("b", "day/log.json.gz"),
            Err(StoreError::NotFound)
        ));
        assert!(keys(&s, "day/", None).is_empty());
        assert!(s.list_folders("day/").unwrap().is_empty());
    }

    #[test]
    fn a_fifo_is_a_read_error_not_a_hang() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo not available: skipped");
            return;
        }
        let s = store(tmp.path());
        // Nothing ever writes to the FIFO: a blocking open would never return.
        match s.get("b", "fifo") {
            Err(StoreError::Read(why)) => assert!(why.contains("not a regular file"), "{why}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a FIFO was read as an object"),
        }
    }

    #[test]
    fn chains_and_fans_of_symlinked_folders_are_walked_once_and_not_too_deep() {
        // A fan: every level holds two links to the next, 2^40 paths if each were walked.
        let tmp = tempfile::tempdir().unwrap();
        let level = |i: usize| tmp.path().join(format!("d{i}"));
        for i in 0..=40 {
            fs::create_dir(level(i)).unwrap();
        }
        fs::write(level(40).join("file"), "x").unwrap();
        for i in 0..40 {
            for name in ["l", "r"] {
                std::os::unix::fs::symlink(level(i + 1), level(i).join(name)).unwrap();
            }
        }
        let s = store(tmp.path());
        let started = std::time::Instant::now();
        let listed = keys(&s, "d0/", None);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        // Reached once, down the first links.
        assert_eq!(listed, vec![format!("d0/{}file", "l/".repeat(40))]);

        // A chain deeper than any S3 key: a read error, not a stack overflow.
        let tmp = tempfile::tempdir().unwrap();
        let level = |i: usize| tmp.path().join(format!("d{i}"));
        for i in 0..=3000 {
            fs::create_dir(level(i)).unwrap();
        }
        for i in 0..3000 {
            std::os::unix::fs::symlink(level(i + 1), level(i).join("n")).unwrap();
        }
        let s = store(tmp.path());
        let result = s.list_keys("d0/", None, &mut |_| true);
        assert!(
            matches!(&result, Err(StoreError::Read(why)) if why.contains("deeper than any S3 key")),
            "{result:?}"
        );
    }

    #[test]
    fn a_folder_named_with_a_backslash_can_be_listed() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a/x\\y")).unwrap();
        fs::write(tmp.path().join("a/x\\y/file"), "x").unwrap();
        let s = store(tmp.path());
        assert_eq!(s.list_folders("a/").unwrap(), vec!["a/x\\y/"]);
        assert_eq!(s.list_folders("a/x\\y/").unwrap(), Vec::<String>::new());
        assert_eq!(keys(&s, "a/x\\y/", None), vec!["a/x\\y/file"]);
        // Read through a key, it is still refused.
        assert!(matches!(
            s.get("b", "a/x\\y/file"),
            Err(StoreError::UnsafeKey(_))
        ));
    }
}
