//! Evidence bundles: `ctverify mirror s3://... DEST` against a real S3 server, then
//! `ctverify validate DEST` with no network gives the same verdict for every file.

mod common;

use std::path::Path;

use common::servers::{aws_env, CloudTrailAnswers, FakeCloudTrail, Moto};
use common::{ctverify_env, repo};
use serde_json::Value;

const END: &str = "2025-01-01T00:00:00Z";

fn bucket_of(dir: &Path) -> String {
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".ctverify/bundle.json")).unwrap()).unwrap();
    info["bucket"].as_str().unwrap().to_string()
}

/// ListPublicKeys answers holding the bundle's keys, by region.
fn key_answers(dir: &Path) -> CloudTrailAnswers {
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".ctverify/public-keys.json")).unwrap())
            .unwrap();
    let mut answers = CloudTrailAnswers::default();
    for key in keys["PublicKeyList"].as_array().unwrap() {
        answers
            .keys
            .entry(key["Region"].as_str().unwrap().to_string())
            .or_default()
            .push(key.clone());
    }
    answers
}

fn verdicts(stdout: &str) -> (Value, Value, Value) {
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (
        doc["files"].clone(),
        doc["summary"].clone(),
        doc["chains"].clone(),
    )
}

#[test]
fn a_mirrored_bundle_validates_offline_exactly_as_online() {
    let moto = Moto::start();
    for case in [
        "sample",
        "cases/log-moved",
        "cases/log-planted",
        "cases/digest-deleted",
        "cases/backfill",
        "cases/organization",
        "cases/newest-signature-stripped",
    ] {
        moto.reset();
        let dir = repo().join("vectors").join(case);
        let bucket = bucket_of(&dir);
        moto.upload(&dir, &bucket);
        let cloudtrail = FakeCloudTrail::start(key_answers(&dir));
        let online_env = aws_env(Some(&cloudtrail.endpoint()));
        let url = format!("s3://{bucket}");
        let online = ctverify_env(
            [
                "validate",
                &url,
                "--endpoint-url",
                &moto.endpoint(),
                "--end-time",
                END,
                "--format",
                "json",
                "--verbose",
            ],
            &online_env,
        );
        assert!(
            online.code == 0 || online.code == 1 || online.code == 3,
            "{case}: {}",
            online.stderr
        );

        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("bundle");
        let mirror = ctverify_env(
            [
                "mirror",
                &url,
                dest.to_str().unwrap(),
                "--endpoint-url",
                &moto.endpoint(),
                "--end-time",
                END,
            ],
            &online_env,
        );
        assert_eq!(mirror.code, 0, "{case}: {}{}", mirror.stdout, mirror.stderr);

        // Offline: no S3 endpoint, CloudTrail unreachable, no key file given.
        let offline = ctverify_env(
            [
                "validate",
                dest.to_str().unwrap(),
                "--end-time",
                END,
                "--format",
                "json",
                "--verbose",
            ],
            &aws_env(None),
        );
        assert_eq!(offline.code, online.code, "{case}: {}", offline.stderr);
        assert_eq!(
            verdicts(&offline.stdout),
            verdicts(&online.stdout),
            "{case}"
        );
    }
}

#[test]
fn mirror_resumes_fetching_only_what_is_missing() {
    let moto = Moto::start();
    let dir = repo().join("vectors/sample");
    let bucket = bucket_of(&dir);
    moto.upload(&dir, &bucket);
    let keys = dir.join(".ctverify/public-keys.json");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("bundle");
    let args = |dest: &Path| {
        vec![
            "mirror".to_string(),
            format!("s3://{bucket}"),
            dest.display().to_string(),
            "--endpoint-url".into(),
            moto.endpoint(),
            "--public-keys".into(),
            keys.display().to_string(),
            "--end-time".into(),
            END.into(),
        ]
    };
    let first = ctverify_env(args(&dest), &aws_env(None));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let fetched_first = count_after(&first.stdout, "objects fetched");

    // An interrupted run leaves some files missing and a partial one behind.
    let logs: Vec<_> = walk(&dest)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/CloudTrail/"))
        .collect();
    for path in logs.iter().take(3) {
        std::fs::remove_file(path).unwrap();
    }
    std::fs::write(
        logs[0].with_extension("gz.ctverify-partial"),
        b"half a file",
    )
    .unwrap();

    let second = ctverify_env(args(&dest), &aws_env(None));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        count_after(&second.stdout, "objects fetched"),
        3,
        "{}",
        second.stdout
    );
    assert_eq!(
        count_after(&second.stdout, "already there"),
        fetched_first - 3,
        "{}",
        second.stdout
    );

    let offline = ctverify_env(
        ["validate", dest.to_str().unwrap(), "--end-time", END],
        &aws_env(None),
    );
    assert_eq!(offline.code, 0, "{}", offline.stdout);
}

#[test]
fn mirror_never_writes_into_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    copy_tree(&repo().join("vectors/sample"), &source);
    let source_text = source.to_str().unwrap();
    let before = tree_identity(&source);
    // Inside, whichever way it is spelled: `nope/..` once slipped past the check, because a
    // folder that does not exist yet could not be resolved.
    for dest in [
        format!("{source_text}/copy"),
        format!("{source_text}/nope/../evil"),
        format!("{source_text}/./a/b/../../c"),
        format!("{}/elsewhere/../source/d", tmp.path().display()),
    ] {
        let run = ctverify_env(["mirror", source_text, &dest], &aws_env(None));
        assert_eq!(run.code, 2, "{dest}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("inside SOURCE"),
            "{dest}: {}",
            run.stderr
        );
        // The refusal comes before anything is written.
        assert_eq!(tree_identity(&source), before, "{dest}");
    }
}

/// The number printed just before `label` in the mirror's summary line.
fn count_after(stdout: &str, label: &str) -> u64 {
    let at = stdout
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {stdout}"));
    stdout[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.trim_start_matches(':').parse().ok())
        .unwrap_or_else(|| panic!("no count before {label:?} in {stdout}"))
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every file and folder under `dir` with what a write would change: inode, size, mtime.
fn tree_identity(dir: &Path) -> Vec<(std::path::PathBuf, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push((
                path,
                meta.ino(),
                meta.size(),
                meta.mtime(),
                meta.mtime_nsec(),
            ));
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn mirror_never_writes_through_a_symlink_in_its_destination() {
    for linked in ["AWSLogs", ".ctverify"] {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join("source");
        copy_tree(&repo().join("vectors/sample"), &source);
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        std::os::unix::fs::symlink(source.join(linked), dest.join(linked)).unwrap();
        if linked != ".ctverify" {
            // A bundle of the same bucket, so that the mirror goes as far as writing.
            std::fs::create_dir(dest.join(".ctverify")).unwrap();
            std::fs::copy(
                source.join(".ctverify/bundle.json"),
                dest.join(".ctverify/bundle.json"),
            )
            .unwrap();
        }
        let before = tree_identity(&source);
        let run = ctverify_env(
            ["mirror", source.to_str().unwrap(), dest.to_str().unwrap()],
            &aws_env(None),
        );
        assert_eq!(
            tree_identity(&source),
            before,
            "{linked}: the mirror wrote into its source through DEST/{linked}: {} {}",
            run.stdout,
            run.stderr
        );
        assert_ne!(run.code, 0, "{linked}: {} {}", run.stdout, run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn mirror_refuses_a_destination_holding_files_it_did_not_write() {
    // A file already in DEST is taken as the copy of the source's (that is how a run resumes),
    // so a DEST holding another copy would have its files verified as the source's: a
    // rewritten log there reported the intact source as tampered.
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    copy_tree(&repo().join("vectors/sample"), &source);
    let log = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/foreign.json.gz";
    let other_bucket = r#"{"bucket": "another-bucket", "prefix": ""}"#;
    for (name, files) in [
        ("a plain copy", vec![(log, "not the source's")]),
        (
            "another bucket's bundle",
            vec![
                (log, "not the source's"),
                (".ctverify/bundle.json", other_bucket),
            ],
        ),
    ] {
        let dest = tmp.path().join(name.replace(' ', "-"));
        for (file, text) in &files {
            let path = dest.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let before = tree_identity(&dest);
        let run = ctverify_env(
            ["mirror", source.to_str().unwrap(), dest.to_str().unwrap()],
            &aws_env(None),
        );
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("not empty"), "{name}: {}", run.stderr);
        assert_eq!(tree_identity(&dest), before, "{name}: DEST untouched");
    }
    // An empty DEST, and the bundle a run left, are taken.
    let dest = tmp.path().join("fresh");
    std::fs::create_dir(&dest).unwrap();
    for pass in ["first", "resumed"] {
        let run = ctverify_env(
            ["mirror", source.to_str().unwrap(), dest.to_str().unwrap()],
            &aws_env(None),
        );
        assert_eq!(run.code, 0, "{pass}: {}{}", run.stdout, run.stderr);
    }
}

#[test]
fn a_copy_without_a_key_file_asks_list_public_keys() {
    // cli.md: `--public-keys` defaults to the bundle's key file, else ListPublicKeys per region.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy");
    copy_tree(&repo().join("vectors/sample"), &copy);
    let answers = key_answers(&copy);
    std::fs::remove_file(copy.join(".ctverify/public-keys.json")).unwrap();
    let args = [
        "validate",
        copy.to_str().unwrap(),
        "--end-time",
        END,
        "--format",
        "json",
    ];

    let cloudtrail = FakeCloudTrail::start(answers);
    let online = ctverify_env(args, &aws_env(Some(&cloudtrail.endpoint())));
    assert_eq!(online.code, 0, "{}{}", online.stdout, online.stderr);
    let (_, summary, _) = verdicts(&online.stdout);
    assert_eq!(summary["result"], "valid");

    // CloudTrail unreachable: every digest is an error (no verdict), not a configuration error.
    let offline = ctverify_env(args, &aws_env(None));
    assert_eq!(offline.code, 3, "{}", offline.stderr);
    let (files, _, _) = verdicts(&offline.stdout);
    let digests: Vec<&Value> = files
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "digest")
        .collect();
    assert!(!digests.is_empty());
    for digest in digests {
        assert_eq!(digest["status"], "error", "{digest}");
        assert!(
            digest["detail"]
                .as_str()
                .unwrap()
                .contains("could not be obtained"),
            "{digest}"
        );
    }
}
