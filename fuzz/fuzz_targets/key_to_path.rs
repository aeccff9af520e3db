//! S3 keys from untrusted digests become paths under the source root: whatever `check_key`
//! lets through must be a plain relative path that cannot climb out of the root, and no key,
//! whatever it is, makes the directory store open a file outside the root.
#![no_main]

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use ctverify::DirStore;

use ctverify::internal::check_key;
use ctverify::ObjectStore;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"OUTSIDE-THE-ROOT";
const INSIDE: &[u8] = b"inside the root";

/// A small tree with symlinks that lead out of the root (relative, absolute, through a
/// directory) and one that stays inside, built once per process:
///
/// ```text
/// OUTER/secret                      SECRET
/// OUTER/root/inside                 INSIDE
/// OUTER/root/a/b/file               INSIDE
/// OUTER/root/link-out            -> ../secret
/// OUTER/root/dirlink-out         -> OUTER (absolute)
/// OUTER/root/a/link-up           -> ../..
/// OUTER/root/a/link-abs          -> OUTER/secret (absolute)
/// OUTER/root/a/link-in           -> ../inside
/// ```
fn store() -> &'static DirStore {
    static STORE: OnceLock<DirStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let outer: PathBuf =
            std::env::temp_dir().join(format!("ctverify-fuzz-key_to_path-{}", std::process::id()));
        let root = outer.join("root");
        let _ = std::fs::remove_dir_all(&outer);
        std::fs::create_dir_all(root.join("a/b")).expect("tree");
        std::fs::write(outer.join("secret"), SECRET).expect("secret");
        std::fs::write(root.join("inside"), INSIDE).expect("inside");
        std::fs::write(root.join("a/b/file"), INSIDE).expect("file");
        let link = |target: &Path, at: &str| {
            std::os::unix::fs::symlink(target, root.join(at)).expect("symlink");
        };
        link(Path::new("../secret"), "link-out");
        link(&outer, "dirlink-out");
        link(Path::new("../.."), "a/link-up");
        link(&outer.join("secret"), "a/link-abs");
        link(Path::new("../inside"), "a/link-in");
        DirStore::open(&root, "b".into(), Default::default()).expect("store")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    if check_key(key).is_ok() {
        assert!(!key.is_empty());
        assert!(!key.starts_with('/'), "{key:?}");
        assert!(!key.contains('\0'), "{key:?}");
        assert!(!key.contains('\\'), "{key:?}");
        for segment in key.split('/') {
            assert!(
                !segment.is_empty() && segment != "." && segment != "..",
                "{key:?}"
            );
        }
        // The same, as the OS will see it: only normal components.
        for component in Path::new(key).components() {
            assert!(matches!(component, Component::Normal(_)), "{key:?}");
        }
    }
    // Whatever the key, nothing outside the root is ever opened.
    if let Ok(mut object) = store().get("b", key) {
        let mut head = Vec::new();
        let _ = object.body.by_ref().take(64).read_to_end(&mut head);
        assert_ne!(head, SECRET, "{key:?} read a file outside the root");
        assert!(
            check_key(key).is_ok(),
            "{key:?} opened though check_key refuses it"
        );
    }
});
