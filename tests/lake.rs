//! CloudTrail Lake query exports (`verify-query`): every committed case from a directory and
//! through S3 (moto_server), with keys from a file and from ListPublicKeys.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::servers::{aws_env, CloudTrailAnswers, FakeCloudTrail, Moto};
use common::{ctverify_env, repo};
use ctverify_testgen::vectors::LakeExpected;
use serde_json::Value;

fn cases() -> Vec<(PathBuf, LakeExpected)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("vectors/lake"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let expected =
                serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
            (dir, expected)
        })
        .collect()
}

/// (kind, file name, status) of every file the report lists.
fn listed(doc: &Value) -> BTreeSet<(String, String, String)> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let key = f["key"].as_str().unwrap();
            (
                f["kind"].as_str().unwrap().to_string(),
                key.rsplit('/').next().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expected_set(expected: &LakeExpected) -> BTreeSet<(String, String, String)> {
    expected
        .files
        .iter()
        .map(|(k, n, s)| (k.clone(), n.clone(), s.as_str().to_string()))
        .collect()
}

#[test]
fn every_lake_case_from_a_directory_in_every_format() {
    let all = cases();
    assert!(all.len() >= 5);
    for (dir, expected) in all {
        let export = dir.join("export");
        let json = ctverify_env(
            ["verify-query", export.to_str().unwrap(), "--format", "json"],
            &aws_env(None),
        );
        assert_eq!(
            json.code,
            expected.exit_code,
            "{}: {}",
            dir.display(),
            json.stderr
        );
        let doc: Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(listed(&doc), expected_set(&expected), "{}", dir.display());

        let jsonl = ctverify_env(
            [
                "verify-query",
                export.to_str().unwrap(),
                "--format",
                "jsonl",
            ],
            &aws_env(None),
        );
        assert_eq!(jsonl.code, expected.exit_code);
        let lines: Vec<Value> = jsonl
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.last().unwrap()["type"], "summary");
        let files = serde_json::json!({"files": lines.iter().filter(|l| l["type"] == "file").cloned().collect::<Vec<_>>()});
        assert_eq!(listed(&files), expected_set(&expected), "{}", dir.display());

        let text = ctverify_env(["verify-query", export.to_str().unwrap()], &aws_env(None));
        assert_eq!(text.code, expected.exit_code);
        for (kind, name, _) in &expected.files {
            let label = if kind == "sign" {
                "Sign file\t"
            } else {
                "Result file\t"
            };
            assert!(
                text.stdout.lines().any(|l| l.starts_with(label)
                    && l.contains(name.as_str())
                    && !l.ends_with("\tvalid")),
                "{}: no line for {name} in\n{}",
                dir.display(),
                text.stdout
            );
        }
    }
}

#[test]
fn every_lake_case_through_s3_with_keys_from_list_public_keys() {
    let moto = Moto::start();
    let prefix = "AWSLogs/123456789012/CloudTrail-Lake/Query/2024/09/01/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    for (dir, expected) in cases() {
        moto.reset();
        let export = dir.join("export");
        // Upload under the query's folder, as CloudTrail delivers it.
        let staging = tempfile::tempdir().unwrap();
        let target = staging.path().join(prefix);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(&export).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
            }
        }
        moto.upload(staging.path(), "lake-results");

        let keys: Value = serde_json::from_slice(
            &std::fs::read(export.join(".ctverify/public-keys.json")).unwrap(),
        )
        .unwrap();
        let mut answers = CloudTrailAnswers::default();
        answers.keys.insert(
            "us-east-1".into(),
            keys["PublicKeyList"].as_array().unwrap().clone(),
        );
        let cloudtrail = FakeCloudTrail::start(answers);
        let url = format!("s3://lake-results/{prefix}/");
        let run = ctverify_env(
            [
                "verify-query",
                &url,
                "--endpoint-url",
                &moto.endpoint(),
                "--format",
                "json",
            ],
            &aws_env(Some(&cloudtrail.endpoint())),
        );
        assert_eq!(
            run.code,
            expected.exit_code,
            "{}: {}{}",
            dir.display(),
            run.stdout,
            run.stderr
        );
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(listed(&doc), expected_set(&expected), "{}", dir.display());
        assert!(cloudtrail
            .calls()
            .iter()
            .any(|(op, region)| op == "ListPublicKeys" && region == "us-east-1"));
    }
}

#[test]
fn a_folder_without_a_sign_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = repo().join("vectors/lake/valid/export/.ctverify/public-keys.json");
    let run = ctverify_env(
        [
            "verify-query",
            tmp.path().to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
        ],
        &aws_env(None),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("result_sign.json"));
}
