//! The digest folder checked as the log folder is: every object in a `CloudTrail-Digest/REGION/`
//! day folder within the range is a digest of a chain, or is reported.
//!
//! The folder's listing ([`super::search::list_digests`]) keeps the keys that are no digest's
//! name, the *strays*; each is read here once and sorted:
//! - a digest whose own `digestS3Bucket`/`digestS3Object` name a key of a chain of this run
//!   that was not listed (a digest moved to a subfolder or another day's folder) joins that
//!   chain's digests, read where it was found. The chain's walk then decides it as it decides a
//!   digest renamed in place (`chain::index`'s claims, `decide`'s move check): `moved` from the
//!   key it names, with `moved_to`, when it verifies and is what its successor recorded;
//!   otherwise the key it names is `not_found` and the stray `unreferenced`;
//! - a digest of a chain `--trail`/`--trail-arn` left out, or of a key outside the range, is
//!   another run's to judge, and not reported;
//! - anything else (junk, a text file, a gzip that is no digest, a copy of a digest still at
//!   its key) is `unreferenced`, with why;
//! - a stray that could not be read (after retries) is `error` (or `archived`): never taken
//!   for tampering; one that is gone when read is nothing left to judge.
//!
//! Keys come from the listing and are untrusted: they are read only through the store, which
//! refuses any that would leave the source (then: `unreferenced`, since no digest can be
//! there). One stray's failure never stops the others.

use std::collections::HashSet;

use rayon::prelude::*;

use super::retry::{with_retries, Attempt};
use super::search::DigestListing;
use super::verdicts::{ChainWork, Sink};
use super::{ChainFilter, ValidateError, ValidateOptions};
use crate::digest::{ChainId, Digest, DigestKey};
use crate::gzip::{inflate_and_hash, GzipError, Keep, DIGEST_SIZE_CAP};
use crate::report::{FileEntry, RequestedRange};
use crate::status::{FileKind, Status};
use crate::store::{ObjectStore, StoreError};
use crate::time::UtcTime;

/// Whether `key` lies in one of `folder`'s day folders (`FOLDER/YYYY/MM/DD/...`, a real date):
/// only those are checked, as only they are listed over the range's days.
pub(super) fn in_a_day_folder(folder: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(folder) else {
        return false;
    };
    let (Some(day), Some(name)) = (rest.get(..10), rest.get(11..)) else {
        return false;
    };
    let is_date_path = day.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'/',
        _ => b.is_ascii_digit(),
    });
    is_date_path
        && rest.as_bytes().get(10) == Some(&b'/')
        && !name.is_empty()
        && UtcTime::parse_user(&day.replace('/', "-")).is_ok()
}

/// What one stray turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stray {
    /// A digest whose own fields put it at a key of `chain` ending at `end` that the listing
    /// did not show: it joins the chain's digests, read where it was found.
    Claims { chain: ChainId, end: UtcTime },
    /// A digest of a chain the filter leaves out, or of a key outside the range.
    OtherRun,
    /// Listed, then not there when read.
    Gone,
    /// No digest of a chain of this folder: `unreferenced`, with why.
    NoDigest(String),
    /// Could not be read (`error`, `archived`), with why.
    Unread(Status, String),
}

/// What the folder's strays come to: the digests that join their chains were added to the
/// listing; these are the verdicts of the others, to add to the folder's chains.
pub(super) struct StrayVerdicts(Vec<FileEntry>);

/// Reads and sorts `listing`'s strays (see the module's comment): a digest that belongs to a
/// chain of the run is added to that chain's listed digests, at its claimed end time; the
/// others' verdicts are returned. Fails only when this machine does.
pub(super) fn sort_strays(
    store: &dyn ObjectStore,
    filter: &ChainFilter,
    range: &RequestedRange,
    folder: &str,
    listing: &mut DigestListing,
) -> Result<StrayVerdicts, ValidateError> {
    let strays = std::mem::take(&mut listing.strays);
    if strays.is_empty() {
        return Ok(StrayVerdicts(Vec::new()));
    }
    let listed: HashSet<&str> = listing
        .chains
        .values()
        .flatten()
        .map(|(key, _)| key.as_str())
        .collect();
    let chains: HashSet<&ChainId> = listing.chains.keys().collect();
    let judge = Judge {
        bucket: store.bucket(),
        folder,
        filter,
        range,
        listed: &listed,
        chains: &chains,
    };
    let sorted: Vec<(String, Stray)> = strays
        .into_par_iter()
        .map(|key| {
            let stray = with_retries(|| read_stray(store, &key, &judge))?;
            Ok((key, stray))
        })
        .collect::<Result<_, ValidateError>>()?;
    drop(listed);
    let bucket = store.bucket();
    let mut verdicts = Vec::new();
    for (key, stray) in sorted {
        match stray {
            Stray::Claims { chain, end } => {
                listing.chains.entry(chain).or_default().push((key, end));
            }
            Stray::OtherRun | Stray::Gone => {}
            Stray::NoDigest(why) => verdicts.push(
                FileEntry::new(FileKind::Digest, bucket, &key, Status::Unreferenced)
                    .with_detail(why),
            ),
            Stray::Unread(status, why) => verdicts.push(
                FileEntry::new(FileKind::Digest, bucket, &key, status).with_detail(format!(
                    "{why}: whether it is a digest moved away from its key is unknown"
                )),
            ),
        }
    }
    Ok(StrayVerdicts(verdicts))
}

impl StrayVerdicts {
    /// Adds the verdicts to the folder's first chain, or, when the folder has none (only
    /// strays in the range), to a chain labelled with what its path says.
    pub(super) fn report(
        self,
        store: &dyn ObjectStore,
        options: &ValidateOptions,
        folder: &str,
        works: &mut Vec<ChainWork>,
        sink: &Sink,
    ) {
        if self.0.is_empty() {
            return;
        }
        if works.is_empty() {
            match ChainWork::labelled_by_folder(store, options, folder) {
                Some(work) => works.push(work),
                None => return,
            }
        }
        for entry in self.0 {
            works[0].decide(entry, sink);
        }
    }
}

/// What a stray is judged against.
struct Judge<'a> {
    bucket: &'a str,
    folder: &'a str,
    filter: &'a ChainFilter,
    range: &'a RequestedRange,
    /// The keys the listing showed as digests of the run's chains.
    listed: &'a HashSet<&'a str>,
    /// The chains the listing found in the folder.
    chains: &'a HashSet<&'a ChainId>,
}

impl Judge<'_> {
    /// What a stray that parsed as `digest` is, by where its own fields put it.
    fn digest(&self, digest: &Digest) -> Stray {
        let claimed = format!("s3://{}/{}", digest.bucket, digest.object);
        if digest.bucket != self.bucket {
            return Stray::NoDigest(format!(
                "a digest of another bucket: its own fields put it at {claimed}"
            ));
        }
        let Some(name) = DigestKey::parse(&digest.object) else {
            return Stray::NoDigest(format!(
                "not a digest of any chain: its own fields put it at {claimed}, which is no digest key"
            ));
        };
        if name.chain.digest_folder() != self.folder {
            return Stray::NoDigest(format!(
                "a digest of another folder's chain: its own fields put it at {claimed}"
            ));
        }
        if !self.filter.wants_chain(&name.chain) || !self.range.contains(name.end_time) {
            return Stray::OtherRun;
        }
        // A chain with no digest listed here is no chain of the run: a file claiming one would
        // conjure it up, unsigned, where it should be reported as planted.
        if !self.chains.contains(&name.chain) {
            return Stray::NoDigest(format!(
                "its own fields put it at {claimed}, in a chain no digest of this folder belongs to"
            ));
        }
        if self.listed.contains(digest.object.as_str()) {
            return Stray::NoDigest(format!(
                "a copy: its own fields put it at {claimed}, where a digest is"
            ));
        }
        Stray::Claims {
            chain: name.chain,
            end: name.end_time,
        }
    }
}

/// One attempt at reading a stray and telling what it is. Fails only when this machine does.
fn read_stray(
    store: &dyn ObjectStore,
    key: &str,
    judge: &Judge<'_>,
) -> Attempt<Result<Stray, ValidateError>> {
    let object = match store.get(judge.bucket, key) {
        Ok(object) => object,
        Err(StoreError::Local(why)) => {
            return Attempt::Final(Err(ValidateError::Spill(std::io::Error::other(why))))
        }
        Err(StoreError::NotFound) => return Attempt::Final(Ok(Stray::Gone)),
        // The store will not read it (it would leave the source): no digest can be there.
        Err(error @ StoreError::UnsafeKey(_)) => {
            return Attempt::Final(Ok(Stray::NoDigest(format!("not a digest: {error}"))))
        }
        Err(error) => {
            let unread = Stray::Unread(error.status(), error.to_string());
            return Attempt::after(&error, Ok(unread));
        }
    };
    let keep = Keep::Bytes {
        cap: DIGEST_SIZE_CAP,
    };
    let inflated = match inflate_and_hash(object.body, keep) {
        Ok(inflated) => inflated,
        Err(GzipError::Read(e)) => {
            let why = format!("read failed: {}", crate::store::describe_error(&e));
            return Attempt::Transient(Ok(Stray::Unread(Status::Error, why)));
        }
        Err(e) => return Attempt::Final(Ok(Stray::NoDigest(format!("not a digest: {e}")))),
    };
    let Some(bytes) = inflated.bytes else {
        return Attempt::Final(Ok(Stray::Unread(
            Status::Error,
            "inflated bytes not kept".into(),
        )));
    };
    Attempt::Final(Ok(match Digest::parse(&bytes) {
        Ok(digest) => judge.digest(&digest),
        Err(e) => Stray::NoDigest(format!("not a digest: {e}")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLDER: &str = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";

    #[test]
    fn only_keys_in_a_dated_day_folder_are_checked() {
        let key = |rest: &str| format!("{FOLDER}{rest}");
        assert!(in_a_day_folder(FOLDER, &key("2024/06/01/junk.txt")));
        assert!(in_a_day_folder(FOLDER, &key("2024/06/01/moved/x.json.gz")));
        for outside in [
            "junk.txt",
            "2024/06/01",
            "2024/06/01/",
            "2024/06/1/x",
            "2024/13/01/x",
            "2024/02/30/x",
            "2024-06-01/x",
            "20240601/x/y",
            "２０24/06/01/x",
        ] {
            assert!(!in_a_day_folder(FOLDER, &key(outside)), "{outside}");
        }
        assert!(!in_a_day_folder(
            FOLDER,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01/x"
        ));
    }

    fn chain(trail: &str) -> ChainId {
        ChainId {
            prefix: String::new(),
            organization_id: None,
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            trail: trail.into(),
            home_region: "us-east-1".into(),
            backfill: false,
        }
    }

    fn t(text: &str) -> UtcTime {
        UtcTime::parse_user(text).expect("a time")
    }

    /// A digest whose own fields put it at (`bucket`, `object`).
    fn digest(bucket: &str, object: &str) -> Digest {
        let json = format!(
            r#"{{"awsAccountId": "111122223333", "digestStartTime": "2024-06-01T03:05:09Z",
            "digestEndTime": "2024-06-01T04:05:09Z", "digestS3Bucket": "{bucket}",
            "digestS3Object": "{object}", "digestPublicKeyFingerprint": "{}",
            "digestSignatureAlgorithm": "SHA256withRSA", "previousDigestS3Bucket": null,
            "previousDigestS3Object": null, "previousDigestHashValue": null,
            "previousDigestHashAlgorithm": null, "previousDigestSignature": null,
            "logFiles": []}}"#,
            "00".repeat(16)
        );
        Digest::parse(json.as_bytes()).expect("a well-formed digest")
    }

    #[test]
    fn a_stray_digest_is_sorted_by_where_its_own_fields_put_it() {
        let end = t("2024-06-01T04:05:09Z");
        let own = chain("main").digest_key(end);
        let listed_key = chain("main").digest_key(t("2024-06-01T05:05:09Z"));
        let listed: HashSet<&str> = [listed_key.as_str()].into_iter().collect();
        let filter = ChainFilter {
            trails: vec!["main".into()],
            ..ChainFilter::default()
        };
        let range = RequestedRange {
            start: Some(t("2024-06-01T00:00:00Z")),
            end: t("2024-06-02T00:00:00Z"),
        };
        let main = chain("main");
        let chains: HashSet<&ChainId> = [&main].into_iter().collect();
        let judge = Judge {
            bucket: "bucket",
            folder: FOLDER,
            filter: &filter,
            range: &range,
            listed: &listed,
            chains: &chains,
        };
        assert_eq!(
            judge.digest(&digest("bucket", &own)),
            Stray::Claims {
                chain: chain("main"),
                end
            }
        );
        // Another trail's, left out by the filter; one outside the range: not this run's.
        let other_trail = chain("other").digest_key(end);
        assert_eq!(
            judge.digest(&digest("bucket", &other_trail)),
            Stray::OtherRun
        );
        let before = chain("main").digest_key(t("2024-05-31T23:05:09Z"));
        assert_eq!(judge.digest(&digest("bucket", &before)), Stray::OtherRun);
        // The rest is no digest of a chain here.
        for (bucket, object) in [
            ("other-bucket", own.as_str()),
            (
                "bucket",
                "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/x.json.gz",
            ),
            ("bucket", listed_key.as_str()),
            (
                "bucket",
                &*own
                    .replace("/us-east-1/2024", "/eu-west-1/2024")
                    .replace("_us-east-1_main", "_eu-west-1_main"),
            ),
        ] {
            let stray = judge.digest(&digest(bucket, object));
            assert!(matches!(stray, Stray::NoDigest(_)), "{object}: {stray:?}");
        }
        // A chain no digest of the folder belongs to is not conjured up by a planted file.
        let everything = ChainFilter::default();
        let judge = Judge {
            filter: &everything,
            ..judge
        };
        let ghost = chain("ghost").digest_key(end);
        let stray = judge.digest(&digest("bucket", &ghost));
        assert!(matches!(stray, Stray::NoDigest(_)), "{stray:?}");
    }

    /// Objects in memory, and keys whose reads fail.
    struct Objects {
        objects: Vec<(String, Vec<u8>)>,
        failing: HashSet<String>,
    }

    impl ObjectStore for Objects {
        fn bucket(&self) -> &str {
            "bucket"
        }
        fn describe(&self) -> String {
            "objects in memory".into()
        }
        fn list_folders(&self, _prefix: &str) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
        fn list_keys(
            &self,
            _prefix: &str,
            _start_after: Option<&str>,
            _visit: &mut dyn FnMut(&str) -> bool,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        fn get(&self, _bucket: &str, key: &str) -> Result<crate::store::Object, StoreError> {
            if self.failing.contains(key) {
                return Err(StoreError::Read("connection reset".into()));
            }
            if key.contains("..") {
                return Err(StoreError::UnsafeKey("a '..' segment".into()));
            }
            let (_, body) = self
                .objects
                .iter()
                .find(|(k, _)| k == key)
                .ok_or(StoreError::NotFound)?;
            Ok(crate::store::Object {
                body: Box::new(std::io::Cursor::new(body.clone())),
                metadata: Default::default(),
            })
        }
    }

    #[test]
    fn each_stray_is_read_once_and_judged_by_its_content() {
        let end = t("2024-06-01T04:05:09Z");
        let own = chain("main").digest_key(end);
        let day = format!("{FOLDER}2024/06/01/");
        let moved = format!("{day}moved/x.json.gz");
        let junk = format!("{day}notes.txt");
        let gzip_json = format!("{day}other.json.gz");
        let unreadable = format!("{day}flaky.json.gz");
        let outside = format!("{day}../../escape");
        let gone = format!("{day}gone.json.gz");
        let digest_json = serde_json::to_vec(&serde_json::json!({
            "awsAccountId": "111122223333", "digestStartTime": "2024-06-01T03:05:09Z",
            "digestEndTime": "2024-06-01T04:05:09Z", "digestS3Bucket": "bucket",
            "digestS3Object": own, "digestPublicKeyFingerprint": "00".repeat(16),
            "digestSignatureAlgorithm": "SHA256withRSA", "previousDigestS3Bucket": null,
            "previousDigestS3Object": null, "previousDigestHashValue": null,
            "previousDigestHashAlgorithm": null, "previousDigestSignature": null,
            "logFiles": []
        }))
        .expect("json");
        let store = Objects {
            objects: vec![
                (moved.clone(), crate::gzip::gzip(&digest_json)),
                (junk.clone(), b"just some notes".to_vec()),
                (gzip_json.clone(), crate::gzip::gzip(br#"{"Records": []}"#)),
            ],
            failing: [unreadable.clone()].into_iter().collect(),
        };
        let range = RequestedRange {
            start: None,
            end: t("2024-06-02T00:00:00Z"),
        };
        // The chain has another digest in the folder: the moved one belongs to a chain of it.
        let later = (
            chain("main").digest_key(t("2024-06-01T05:05:09Z")),
            t("2024-06-01T05:05:09Z"),
        );
        let mut listing = DigestListing {
            chains: [(chain("main"), vec![later.clone()])].into_iter().collect(),
            filtered_out: false,
            strays: vec![
                moved.clone(),
                junk.clone(),
                gzip_json.clone(),
                unreadable.clone(),
                outside.clone(),
                gone,
            ],
        };
        let verdicts = sort_strays(
            &store,
            &ChainFilter::default(),
            &range,
            FOLDER,
            &mut listing,
        )
        .expect("no local failure");
        assert_eq!(
            listing.chains.get(&chain("main")),
            Some(&vec![later, (moved, end)])
        );
        let mut got: Vec<(&str, Status)> = verdicts
            .0
            .iter()
            .map(|e| (e.key.as_str(), e.status))
            .collect();
        got.sort();
        let mut expected = vec![
            (junk.as_str(), Status::Unreferenced),
            (gzip_json.as_str(), Status::Unreferenced),
            (unreadable.as_str(), Status::Error),
            (outside.as_str(), Status::Unreferenced),
        ];
        expected.sort();
        assert_eq!(got, expected);
        assert!(verdicts.0.iter().all(|e| e.kind == FileKind::Digest));
    }
}
