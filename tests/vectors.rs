//! The committed vectors through the binary: the sample verifies, and every tamper case yields
//! exactly the statuses its `expected.json` records, in all three report formats.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{ctverify, ctverify_env, repo, test_keys, validate_json};
use ctverify_testgen::vectors::Expected;
use serde_json::Value;

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("vectors/cases"))
        .expect("vectors/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn expected(dir: &Path) -> Expected {
    serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
        .expect("parse")
}

type FileTuple = (String, String, String, Option<String>);

fn tuple(file: &Value) -> FileTuple {
    (
        file["kind"].as_str().unwrap_or("").to_string(),
        file["key"].as_str().unwrap_or("").to_string(),
        file["status"].as_str().unwrap_or("").to_string(),
        file["moved_to"].as_str().map(str::to_string),
    )
}

fn expected_tuples(expected: &Expected) -> BTreeSet<FileTuple> {
    expected
        .files
        .iter()
        .map(|f| {
            let v = serde_json::to_value(f).expect("serialize");
            tuple(&v)
        })
        .collect()
}

#[test]
fn sample_verifies_and_counts_every_file() {
    let bundle = ctverify_testgen::vectors::sample(&test_keys());
    let digests = bundle
        .objects
        .keys()
        .filter(|k| k.contains("/CloudTrail-Digest/"))
        .count();
    let logs = bundle
        .objects
        .keys()
        .filter(|k| k.contains("/CloudTrail/"))
        .count();
    assert!(digests > 0 && logs > 0);

    let run = ctverify(["validate", repo().join("vectors/sample").to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("{digests}/{digests} digest files valid")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("{logs}/{logs} log files valid")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Results requested for"));
    assert!(run.stdout.contains("Results found for"));
    // the eu-west-1 chain was stopped and restarted: a gap, not a failure
    assert!(run.stdout.contains("Gap\t"), "{}", run.stdout);
    assert!(!run.stdout.contains("INVALID"));
}

/// Without a working temporary directory nothing can be verified: that is "could not
/// check" (3), said in one line, not bad usage (2) and not a verdict on any file.
#[test]
fn an_unusable_temporary_directory_is_exit_3_with_one_line() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let missing = scratch.path().join("gone");
    let run = ctverify_env(
        [
            "validate",
            repo().join("vectors/sample").to_str().unwrap(),
            "--no-progress",
        ],
        &[("TMPDIR".to_string(), missing.display().to_string())],
    );
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("temporary file"), "{}", run.stderr);
    assert!(!run.stdout.contains("valid"), "{}", run.stdout);
}

#[test]
fn sample_json_has_every_field_of_the_contract() {
    let (code, doc) = validate_json(&repo().join("vectors/sample"), &["--verbose"]);
    assert_eq!(code, 0);
    for field in [
        "tool",
        "version",
        "source",
        "requested",
        "chains",
        "files",
        "summary",
    ] {
        assert!(doc.get(field).is_some(), "missing {field}");
    }
    assert_eq!(doc["tool"], "ctverify");
    assert!(doc["requested"].get("start").is_some() && doc["requested"].get("end").is_some());
    let chains = doc["chains"].as_array().expect("chains");
    assert_eq!(chains.len(), 2, "one chain per region");
    for chain in chains {
        for field in [
            "bucket",
            "prefix",
            "organization_id",
            "account_id",
            "region",
            "trail",
            "home_region",
            "backfill",
            "found",
            "digests",
            "logs",
            "gaps",
        ] {
            assert!(chain.get(field).is_some(), "chain missing {field}");
        }
        for counts in ["digests", "logs"] {
            for field in ["valid", "invalid", "unverified"] {
                assert!(chain[counts][field].is_u64());
            }
        }
        assert!(chain["found"]["start"].is_string() && chain["found"]["end"].is_string());
    }
    let west = chains
        .iter()
        .find(|c| c["region"] == "eu-west-1")
        .expect("eu-west-1 chain");
    assert_eq!(west["gaps"].as_array().map(Vec::len), Some(1));
    let east = chains
        .iter()
        .find(|c| c["region"] == "us-east-1")
        .expect("us-east-1 chain");
    // the rotation inside the range: two keys verified us-east-1
    assert_eq!(east["public_keys"].as_array().map(Vec::len), Some(2));
    let files = doc["files"].as_array().expect("files");
    assert!(!files.is_empty(), "--verbose lists valid files");
    for file in files {
        for field in ["kind", "bucket", "key", "status", "detail"] {
            assert!(file.get(field).is_some(), "file missing {field}");
        }
        assert_eq!(file["status"], "valid");
        if file["kind"] == "log" {
            assert!(file["digest"].is_string());
        }
    }
    assert_eq!(doc["summary"]["result"], "valid");
    let total = doc["summary"]["digests"]["valid"].as_u64().unwrap()
        + doc["summary"]["logs"]["valid"].as_u64().unwrap();
    assert_eq!(total as usize, files.len());
}

#[test]
fn every_case_yields_its_statuses_in_json() {
    let dirs = case_dirs();
    assert!(dirs.len() >= 12, "cases present");
    for dir in dirs {
        let expected = expected(&dir);
        let (code, doc) = validate_json(&dir, &[]);
        let got: BTreeSet<FileTuple> = doc["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(tuple)
            .collect();
        assert_eq!(got, expected_tuples(&expected), "case {}", dir.display());
        assert_eq!(code, expected.exit_code, "exit code of {}", dir.display());
        // summary counts agree with the files listed
        let non_valid = |kind: &str, class: &str| -> u64 {
            doc["summary"][kind][class].as_u64().unwrap_or(u64::MAX)
        };
        let listed = |kind: &str| got.iter().filter(|f| f.0 == kind).count() as u64;
        assert_eq!(
            non_valid("digests", "invalid") + non_valid("digests", "unverified"),
            listed("digest")
        );
        assert_eq!(
            non_valid("logs", "invalid") + non_valid("logs", "unverified"),
            listed("log")
        );
    }
}

#[test]
fn every_case_yields_its_statuses_in_jsonl() {
    for dir in case_dirs() {
        let expected = expected(&dir);
        let run = ctverify(["validate", dir.to_str().unwrap(), "--format", "jsonl"]);
        assert_eq!(run.code, expected.exit_code, "{}", dir.display());
        let lines: Vec<Value> = run
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(
            lines.last().map(|l| l["type"].clone()),
            Some(Value::from("summary")),
            "summary last"
        );
        assert!(lines.iter().any(|l| l["type"] == "chain"));
        let files: BTreeSet<FileTuple> = lines
            .iter()
            .filter(|l| l["type"] == "file")
            .map(tuple)
            .collect();
        assert_eq!(files, expected_tuples(&expected), "case {}", dir.display());
    }
}

#[test]
fn every_case_yields_its_statuses_in_text() {
    for dir in case_dirs() {
        let expected = expected(&dir);
        let run = ctverify(["validate", dir.to_str().unwrap()]);
        assert_eq!(run.code, expected.exit_code, "{}", dir.display());
        let bundle: Value =
            serde_json::from_slice(&std::fs::read(dir.join(".ctverify/bundle.json")).unwrap())
                .unwrap();
        let bucket = bundle["bucket"].as_str().unwrap();
        for file in &expected.files {
            let kind = match file.kind {
                ctverify::FileKind::Digest => "Digest file",
                ctverify::FileKind::Log => "Log file",
            };
            // The AWS CLI names a moved digest by where it was found; a moved log line names
            // the key it belongs at and says where it went.
            let is_log = file.kind == ctverify::FileKind::Log;
            let shown_key = if is_log {
                &file.key
            } else {
                file.moved_to.as_deref().unwrap_or(&file.key)
            };
            let moved_log = format!(
                "INVALID: moved to s3://{bucket}/{}",
                file.moved_to.as_deref().unwrap_or("")
            );
            let message = match file.status.as_str() {
                "moved" if is_log => moved_log.as_str(),
                "unreferenced" => "INVALID: not referenced by any digest",
                "not_found" => "INVALID: not found",
                "hash_mismatch" => "INVALID: hash value doesn't match",
                "trailing_data" => "INVALID: unexpected data after end of compressed stream",
                "invalid_format" => "INVALID: invalid format",
                "moved" => "INVALID: has been moved from its original location",
                "key_not_found" => "INVALID: public key not found in region",
                "signature_invalid" => "INVALID: signature verification failed",
                "unsigned" | "unverified" => "UNVERIFIED: ",
                other => panic!("no text expectation for {other}"),
            };
            // A signature refused for what the S3 metadata says (another algorithm) is spelled
            // out; every other signature failure is the AWS CLI's line.
            let messages: &[&str] = match file.status.as_str() {
                "signature_invalid" => &[message, "INVALID: S3 metadata "],
                _ => &[message],
            };
            let prefixes: Vec<String> = messages
                .iter()
                .map(|message| format!("{kind}\ts3://{bucket}/{shown_key}\t{message}"))
                .collect();
            assert!(
                run.stdout.lines().any(|l| prefixes.iter().any(|prefix| {
                    l.starts_with(prefix) || l.starts_with(&format!("(backfill) {prefix}"))
                })),
                "case {}: no line starting {prefixes:?} in\n{}",
                dir.display(),
                run.stdout
            );
        }
        let invalid_lines = run
            .stdout
            .lines()
            .filter(|l| l.contains("\tINVALID") || l.contains("\tUNVERIFIED"))
            .count();
        assert_eq!(
            invalid_lines,
            expected.files.len(),
            "case {}:\n{}",
            dir.display(),
            run.stdout
        );
    }
}

/// The vectors in the repository are exactly what the generator makes (compared inflated, so
/// a different zlib does not matter).
#[test]
fn committed_vectors_are_what_the_generator_makes() {
    let tmp = tempfile::tempdir().unwrap();
    ctverify_testgen::vectors::write_all(tmp.path(), &test_keys()).unwrap();
    let committed = repo().join("vectors");
    let mut checked = 0;
    for dir in ["sample", "cases", "lake"] {
        let fresh = files_under(&tmp.path().join(dir));
        let old = files_under(&committed.join(dir));
        assert_eq!(
            fresh.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            old.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            "file lists differ under vectors/{dir}: run `cargo run --example generate_vectors -- vectors`"
        );
        for ((path, a), (_, b)) in fresh.iter().zip(old.iter()) {
            assert!(
                a == b,
                "vectors/{dir}/{path} differs from the generator's output"
            );
            checked += 1;
        }
    }
    assert!(checked > 100);
}

fn files_under(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let bytes = std::fs::read(&path).unwrap();
                // Compare gzip files by content, every member: the compressed bytes depend on
                // the deflate backend.
                let content = if bytes.starts_with(&[0x1f, 0x8b]) {
                    let mut inflated = Vec::new();
                    match std::io::Read::read_to_end(
                        &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                        &mut inflated,
                    ) {
                        Ok(_) => inflated,
                        Err(_) => bytes,
                    }
                } else {
                    bytes
                };
                out.push((rel, content));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn options_narrow_the_chains() {
    let sample = repo().join("vectors/sample");
    let (code, doc) = validate_json(&sample, &["--region", "eu-west-1"]);
    assert_eq!(code, 0);
    let regions: Vec<&str> = doc["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, vec!["eu-west-1"]);

    let (_, doc) = validate_json(
        &sample,
        &[
            "--trail-arn",
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events",
        ],
    );
    assert_eq!(doc["chains"].as_array().unwrap().len(), 2);
    let (code, doc) = validate_json(&sample, &["--trail", "no-such-trail"]);
    assert_eq!(doc["chains"].as_array().unwrap().len(), 0);
    assert_eq!(code, 3, "nothing checked is not a clean result");

    // a range that covers only part of the chain
    let (code, doc) = validate_json(
        &sample,
        &[
            "--region",
            "us-east-1",
            "--start-time",
            "2024-03-01T03:00:00Z",
            "--end-time",
            "2024-03-01T06:30:00Z",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        doc["summary"]["digests"]["valid"], 4,
        "digests ending 03:17, 04:17, 05:17, 06:17"
    );
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let sample = repo().join("vectors/sample");
    let cases: Vec<Vec<String>> = vec![
        vec!["validate".into(), "/no/such/dir".into()],
        vec![
            "validate".into(),
            sample.display().to_string(),
            "--start-time".into(),
            "yesterday".into(),
        ],
        vec![
            "validate".into(),
            sample.display().to_string(),
            "--format".into(),
            "xml".into(),
        ],
        vec![
            "validate".into(),
            sample.display().to_string(),
            "--public-keys".into(),
            "/no/such/file".into(),
        ],
        vec![
            "validate".into(),
            sample.display().to_string(),
            "--trail-arn".into(),
            "not-an-arn".into(),
        ],
        vec![
            "validate".into(),
            sample.display().to_string(),
            "--start-time".into(),
            "2024-03-02".into(),
            "--end-time".into(),
            "2024-03-01".into(),
        ],
        vec!["validate".into()],
    ];
    for args in cases {
        let run = ctverify(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed a report");
        assert!(!run.stderr.trim().is_empty());
    }
}

#[test]
fn a_copy_without_a_trail_is_a_configuration_error() {
    // With or without a key file (without one, keys would be asked of ListPublicKeys for
    // the regions found: there are none).
    let tmp = tempfile::tempdir().unwrap();
    let run = ctverify(["validate", tmp.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no CloudTrail digests"),
        "{}",
        run.stderr
    );
    let keys = repo().join("vectors/sample/.ctverify/public-keys.json");
    let run = ctverify([
        "validate",
        tmp.path().to_str().unwrap(),
        "--public-keys",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no CloudTrail digests"),
        "{}",
        run.stderr
    );
}

#[test]
fn output_file_gets_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report.json");
    let run = ctverify([
        "validate",
        repo().join("vectors/cases/log-deleted").to_str().unwrap(),
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    assert_eq!(doc["summary"]["result"], "invalid");
}

#[test]
fn backfill_chains_are_reported_as_their_own() {
    let dir = repo().join("vectors/cases/backfill");
    let (_, doc) = validate_json(&dir, &[]);
    let chains = doc["chains"].as_array().unwrap();
    assert_eq!(chains.iter().filter(|c| c["backfill"] == true).count(), 1);
    assert_eq!(chains.iter().filter(|c| c["backfill"] == false).count(), 1);
    let run = ctverify(["validate", dir.to_str().unwrap()]);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("(backfill) Log file\t")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("backfill digest files valid"),
        "{}",
        run.stdout
    );
}

#[test]
fn organization_members_are_chains_of_their_own_and_can_be_narrowed() {
    let dir = repo().join("vectors/cases/organization");
    let (_, doc) = validate_json(&dir, &[]);
    let chains = doc["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 2);
    assert!(chains
        .iter()
        .all(|c| c["organization_id"] == "o-a1b2c3d4e5"));
    let (code, doc) = validate_json(&dir, &["--account-id", "111111111111"]);
    assert_eq!(code, 0, "the tampered member is left out");
    assert_eq!(doc["chains"].as_array().unwrap().len(), 1);
}
