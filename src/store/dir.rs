//! A copy of a bucket on disk (`aws s3 sync`, or a `ctverify mirror` bundle).
//!
//! Keys come from digests, which are untrusted until verified, so every key is mapped to a path
//! strictly under the root: no `..`, no absolute paths, no NUL or backslash, and no symlink that
//! resolves outside the root. The store only ever opens files for reading.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Object, ObjectStore, StoreError};
use crate::bundle::SignatureIndex;

pub struct DirStore {
    root: PathBuf,
    bucket: String,
    /// S3 metadata of digests (from `--signatures` or `.ctverify/metadata.json`).
    metadata: SignatureIndex,
}

/// Why a key cannot name a file under the root, if it cannot.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let unsafe_key = |why: &str| Err(StoreError::UnsafeKey(why.to_string()));
    if key.is_empty() {
        return unsafe_key("empty key");
    }
    if key.contains('\0') {
        return unsafe_key("key contains NUL");
    }
    if key.contains('\\') {
        return unsafe_key("key contains a backslash");
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

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of `key`, refusing anything that would resolve outside the root.
    fn resolve(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        let joined = self.root.join(key);
        let real = match fs::canonicalize(&joined) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(StoreError::Read(format!("{}: {e}", joined.display()))),
        };
        if !real.starts_with(&self.root) {
            return Err(StoreError::UnsafeKey(
                "a symlink on its path leads outside the source root".into(),
            ));
        }
        Ok(real)
    }

    /// Entries of one folder as (name, is_folder), sorted as S3 lists keys: folders compare with
    /// their trailing `/`.
    fn folder_entries(&self, folder_key: &str) -> Result<Vec<(String, bool)>, StoreError> {
        let path = if folder_key.is_empty() {
            self.root.clone()
        } else {
            match self.resolve(folder_key.trim_end_matches('/')) {
                Ok(path) => path,
                Err(StoreError::NotFound) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        };
        let reader = match fs::read_dir(&path) {
            Ok(reader) => reader,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::Read(format!("{}: {e}", path.display()))),
        };
        let mut entries = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|e| StoreError::Read(format!("{}: {e}", path.display())))?;
            // Names that are not UTF-8 cannot be S3 keys.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if check_key(&name).is_err() {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| {
                StoreError::Local(format!("S3 metadata read back from a temporary file: {e}"))
            })?;
            let is_folder = if file_type.is_symlink() {
                // Follow a symlink only when it stays inside the root.
                match fs::canonicalize(entry.path()) {
                    Ok(real) if real.starts_with(&self.root) => real.is_dir(),
                    _ => continue,
                }
            } else {
                file_type.is_dir()
            };
            entries.push((name, is_folder));
        }
        entries.sort_by(|a, b| {
            let ka = if a.1 {
                format!("{}/", a.0)
            } else {
                a.0.clone()
            };
            let kb = if b.1 {
                format!("{}/", b.0)
            } else {
                b.0.clone()
            };
            ka.cmp(&kb)
        });
        Ok(entries)
    }

    fn walk(
        &self,
        folder_key: &str,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<bool, StoreError> {
        for (name, is_folder) in self.folder_entries(folder_key)? {
            let full = if is_folder {
                format!("{folder_key}{name}/")
            } else {
                format!("{folder_key}{name}")
            };
            if !full.starts_with(prefix) && !prefix.starts_with(&full) {
                continue;
            }
            if is_folder {
                // Every key under `full` sorts before `start_after` unless `full` is a prefix of it.
                if let Some(after) = start_after {
                    if full.as_str() < after && !after.starts_with(&full) {
                        continue;
                    }
                }
                if !self.walk(&full, prefix, start_after, visit)? {
                    return Ok(false);
                }
            } else {
                if !full.starts_with(prefix) {
                    continue;
                }
                if start_after.is_some_and(|after| full.as_str() <= after) {
                    continue;
                }
                if !visit(&full) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
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
        Ok(self
            .folder_entries(folder)?
            .into_iter()
            .filter(|(_, is_folder)| *is_folder)
            .map(|(name, _)| format!("{folder}{name}/"))
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
        self.walk(folder, prefix, start_after, visit).map(|_| ())
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        if bucket != self.bucket {
            return Err(StoreError::OtherBucket(bucket.to_string()));
        }
        let path = self.resolve(key)?;
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(StoreError::Read(format!("{}: {e}", path.display()))),
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(StoreError::NotFound),
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
}
