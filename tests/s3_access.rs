//! Objects S3 holds but will not hand over, against a real S3 server (moto_server on
//! loopback): archived in GLACIER or DEEP_ARCHIVE (`InvalidObjectState`), refused by a policy
//! (moto enforcing an IAM user's policy), refused by KMS (answers moto cannot give, made by the
//! fault proxy in front of moto). Each must be named plainly, per file and once per cause in the
//! summary, and never turn into a tamper verdict for anything.

mod common;
mod fault_proxy;

use std::collections::BTreeMap;

use common::servers::{aws_env, http, Moto};
use common::{ctverify_env, python, repo, Run, TAMPER};
use fault_proxy::{Fault, FaultProxy, Rule};
use serde_json::Value;

const BUCKET: &str = "ctverify-sample-trail";
const LOGS_US: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";
const LOGS_EU: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/";
const DIGESTS_US: &str = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";
const END: &str = "2024-03-02T00:00:00Z";

/// The sample's keys under `folder`, sorted.
fn sample_keys(folder: &str) -> Vec<String> {
    let root = repo().join("vectors/sample");
    let mut keys = Vec::new();
    let mut dirs = vec![root.join(folder)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("sample folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let key = path.strip_prefix(&root).expect("under the sample");
                keys.push(key.to_string_lossy().into_owned());
            }
        }
    }
    keys.sort();
    keys
}

/// A client of the test itself, to archive and restore objects: never ctverify's.
fn s3_client(endpoint: &str, key_id: &str, secret: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key_id, secret, None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Moves `key` into `storage_class` in place, keeping its bytes and metadata (what a
/// lifecycle rule does).
fn archive(moto: &Moto, key: &str, storage_class: aws_sdk_s3::types::StorageClass) {
    let client = s3_client(&moto.endpoint(), "testing", "testing");
    runtime()
        .block_on(
            client
                .copy_object()
                .bucket(BUCKET)
                .key(key)
                .copy_source(format!("{BUCKET}/{key}"))
                .storage_class(storage_class)
                .metadata_directive(aws_sdk_s3::types::MetadataDirective::Copy)
                .send(),
        )
        .unwrap_or_else(|e| panic!("archive {key}: {e:?}"));
}

/// `ctverify validate s3://BUCKET` at `endpoint`, every file listed.
fn validate(endpoint: &str, format: &str, env: &[(String, String)]) -> Run {
    let keys = repo().join("vectors/sample/.ctverify/public-keys.json");
    ctverify_env(
        [
            "validate",
            &format!("s3://{BUCKET}"),
            "--endpoint-url",
            endpoint,
            "--public-keys",
            keys.to_str().expect("UTF-8 path"),
            "--format",
            format,
            "--verbose",
            "--end-time",
            END,
        ],
        env,
    )
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr))
}

/// Every file's status, by key.
fn statuses(doc: &Value) -> BTreeMap<String, String> {
    doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap_or("").to_string(),
                f["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn file<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no entry for {key}"))
}

fn assert_no_tamper_verdict(doc: &Value) {
    for (key, status) in statuses(doc) {
        assert!(!TAMPER.contains(&status.as_str()), "{key}: {status}");
    }
    assert_ne!(doc["summary"]["result"], "invalid");
}

#[test]
fn an_archived_log_is_archived_in_its_storage_class_with_how_to_restore_it() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    let glacier = sample_keys(LOGS_US)[3].clone();
    let deep = sample_keys(LOGS_EU)[4].clone();
    archive(&moto, &glacier, aws_sdk_s3::types::StorageClass::Glacier);
    archive(&moto, &deep, aws_sdk_s3::types::StorageClass::DeepArchive);
    let env = aws_env(None);

    let run = validate(&moto.endpoint(), "json", &env);
    assert_eq!(run.code, 3, "could not check, not tampered: {}", run.stderr);
    let doc = json_of(&run);
    assert_eq!(doc["summary"]["result"], "incomplete");
    assert_no_tamper_verdict(&doc);
    for (key, class) in [(&glacier, "GLACIER"), (&deep, "DEEP_ARCHIVE")] {
        let entry = file(&doc, key);
        assert_eq!(entry["status"], "archived", "{entry}");
        assert_eq!(
            entry["detail"],
            format!("archived in {class}: restore it first")
        );
    }
    // Everything else still verifies.
    for (key, status) in statuses(&doc) {
        if key != glacier && key != deep {
            assert_eq!(status, "valid", "{key}");
        }
    }
    assert_eq!(doc["summary"]["logs"]["unverified"], 2);
    let groups = doc["summary"]["errors"].as_array().expect("errors");
    assert_eq!(groups.len(), 2, "one group per storage class: {groups:?}");
    for (key, class) in [(&glacier, "GLACIER"), (&deep, "DEEP_ARCHIVE")] {
        let group = groups
            .iter()
            .find(|g| g["storage_class"] == class)
            .unwrap_or_else(|| panic!("no group for {class}: {groups:?}"));
        assert_eq!(group["cause"], "archived");
        assert_eq!(group["count"], 1);
        assert_eq!(group["example"], key.as_str());
        let hint = group["hint"].as_str().unwrap_or("");
        assert!(
            hint.contains(&format!(
                "aws s3api restore-object --bucket {BUCKET} --key {key} --restore-request"
            )),
            "{hint}"
        );
    }

    let text = validate(&moto.endpoint(), "text", &env);
    assert_eq!(text.code, 3);
    let line = format!(
        "Log file\ts3://{BUCKET}/{glacier}\tUNVERIFIED: archived in GLACIER: restore it first"
    );
    assert!(text.stdout.lines().any(|l| l == line), "{}", text.stdout);
    assert!(
        text.stdout.contains("Could not be checked, by cause:\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("1 file: archived in DEEP_ARCHIVE \u{2014} restore it, then run again"),
        "{}",
        text.stdout
    );

    let jsonl = validate(&moto.endpoint(), "jsonl", &env);
    let summary: Value = serde_json::from_str(jsonl.stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["errors"].as_array().map(Vec::len), Some(2));
}

#[test]
fn an_archived_digest_is_decided_as_a_digest_that_could_not_be_read() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    let digests = sample_keys(DIGESTS_US);
    let middle = digests[digests.len() / 2].clone();
    let env = aws_env(None);

    // The same digest unreadable for good (a 500 on every attempt).
    let proxy = FaultProxy::start(moto.port);
    proxy.set_rules(vec![Rule::get_object(Fault::Status(500), &middle)]);
    let unreadable = validate(&proxy.endpoint(), "json", &env);
    assert_eq!(unreadable.code, 3, "{}", unreadable.stderr);
    let unreadable = json_of(&unreadable);
    assert_eq!(file(&unreadable, &middle)["status"], "error");

    archive(&moto, &middle, aws_sdk_s3::types::StorageClass::Glacier);
    let run = validate(&moto.endpoint(), "json", &env);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let archived = json_of(&run);
    assert_no_tamper_verdict(&archived);
    assert_eq!(file(&archived, &middle)["status"], "archived");
    assert_eq!(
        file(&archived, &middle)["detail"],
        "archived in GLACIER: restore it first"
    );
    // Every other file, its logs and its neighbours in the chain included, gets the verdict
    // it gets when the digest cannot be read.
    let mut expected = statuses(&unreadable);
    expected.insert(middle.clone(), "archived".into());
    assert_eq!(statuses(&archived), expected);
    assert_eq!(
        archived["summary"]["digests"],
        unreadable["summary"]["digests"]
    );
    assert_eq!(archived["summary"]["logs"], unreadable["summary"]["logs"]);
}

#[test]
fn a_restore_in_progress_stays_archived_and_a_restored_object_verifies() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    let log = sample_keys(LOGS_US)[2].clone();
    archive(&moto, &log, aws_sdk_s3::types::StorageClass::Glacier);
    let env = aws_env(None);

    // moto finishes a restore at once; a restore still running is what S3 says while it
    // does: GetObject still refused, HeadObject's x-amz-restore `ongoing-request="true"`.
    let proxy = FaultProxy::start(moto.port);
    proxy.set_rules(vec![Rule::new(Fault::AddHeader {
        name: "x-amz-restore".into(),
        value: "ongoing-request=\"true\"".into(),
    })
    .method("HEAD")
    .containing(&log)]);
    let run = validate(&proxy.endpoint(), "json", &env);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let doc = json_of(&run);
    assert_no_tamper_verdict(&doc);
    assert_eq!(file(&doc, &log)["status"], "archived");
    assert_eq!(
        file(&doc, &log)["detail"],
        "archived in GLACIER: a restore is in progress: run again once it completes"
    );
    let groups = doc["summary"]["errors"].as_array().expect("errors");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["restore_in_progress"], true);
    assert!(
        groups[0]["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("a restore is in progress")),
        "{groups:?}"
    );
    assert!(proxy.count("HEAD", &log) >= 1);

    // Restored (moto's restore completes at once): read and verified like any other.
    let client = s3_client(&moto.endpoint(), "testing", "testing");
    runtime()
        .block_on(
            client
                .restore_object()
                .bucket(BUCKET)
                .key(&log)
                .restore_request(aws_sdk_s3::types::RestoreRequest::builder().days(1).build())
                .send(),
        )
        .expect("restore");
    let run = validate(&moto.endpoint(), "json", &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(file(&json_of(&run), &log)["status"], "valid");
}

/// Runs Python with boto3 (moto's dependency) against `endpoint`: IAM calls the Rust SDK
/// the tests build does not carry.
fn boto3(endpoint: &str, script: &str) -> String {
    let output = std::process::Command::new(python())
        .args(["-c", script, endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn logs_a_policy_denies_are_one_access_denied_group_naming_the_permission() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    // An auditor allowed to list the bucket and read it, except the log folders. (moto names
    // a listing's action after the operation, `s3:ListObjectsV2`; AWS calls it
    // `s3:ListBucket`.)
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListObjectsV2"],
             "Resource": format!("arn:aws:s3:::{BUCKET}")},
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{BUCKET}/*")},
            {"Effect": "Deny", "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{BUCKET}/AWSLogs/111122223333/CloudTrail/*")}
        ]
    });
    let script = format!(
        "import boto3, sys\n\
         iam = boto3.client('iam', endpoint_url=sys.argv[1])\n\
         iam.create_user(UserName='auditor')\n\
         iam.put_user_policy(UserName='auditor', PolicyName='read', PolicyDocument={policy:?})\n\
         key = iam.create_access_key(UserName='auditor')['AccessKey']\n\
         print(key['AccessKeyId'], key['SecretAccessKey'])\n",
        policy = policy.to_string()
    );
    let created = boto3(&moto.endpoint(), &script);
    let (key_id, secret) = created
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("access key: {created}"));
    // From now on moto checks every request against the caller's policies.
    http(moto.port, "POST", "/moto-api/reset-auth", "0").expect("enable moto's auth");

    let mut env = aws_env(None);
    for (name, value) in &mut env {
        match name.as_str() {
            "AWS_ACCESS_KEY_ID" => *value = key_id.to_string(),
            "AWS_SECRET_ACCESS_KEY" => *value = secret.to_string(),
            _ => {}
        }
    }
    let run = validate(&moto.endpoint(), "json", &env);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let doc = json_of(&run);
    assert_no_tamper_verdict(&doc);
    let logs: Vec<String> = sample_keys(LOGS_US)
        .into_iter()
        .chain(sample_keys(LOGS_EU))
        .collect();
    let statuses = statuses(&doc);
    let mut denied = 0;
    for (key, status) in &statuses {
        if key.contains("/CloudTrail/") {
            assert_eq!(status, "error", "{key}");
            let detail = file(&doc, key)["detail"].as_str().unwrap_or("").to_string();
            assert!(
                detail.starts_with("access denied (AccessDenied: ")
                    && detail.contains(&format!(
                        "s3:GetObject on arn:aws:s3:::{BUCKET}/{key} is not allowed"
                    )),
                "{detail}"
            );
            denied += 1;
        } else {
            assert_eq!(status, "valid", "{key}");
        }
    }
    assert!(denied > 10 && denied <= logs.len(), "{denied}");
    let groups = doc["summary"]["errors"].as_array().expect("errors");
    assert_eq!(
        groups.len(),
        1,
        "one missing permission, one group: {groups:?}"
    );
    assert_eq!(groups[0]["cause"], "access_denied");
    assert_eq!(groups[0]["count"], denied);
    assert!(
        groups[0]["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with(&format!(
            "s3:GetObject on arn:aws:s3:::{BUCKET}/AWSLogs/111122223333/CloudTrail/* is not allowed"
        ))),
        "{groups:?}"
    );

    let text = validate(&moto.endpoint(), "text", &env);
    let causes: Vec<&str> = text
        .stdout
        .lines()
        .skip_while(|l| *l != "Could not be checked, by cause:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(causes.len(), 1, "{}", text.stdout);
    assert!(
        causes[0].starts_with(&format!(
            "{denied} files: AccessDenied \u{2014} s3:GetObject on"
        )),
        "{}",
        causes[0]
    );
}

#[test]
fn a_kms_key_that_may_not_be_used_is_named_apart_from_access_denied() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    let proxy = FaultProxy::start(moto.port);
    let logs = sample_keys(LOGS_US);
    let kms_denied = |message: &str| Fault::S3Error {
        status: 403,
        code: "AccessDenied".into(),
        message: message.into(),
    };
    proxy.set_rules(vec![
        // What S3 answers for an SSE-KMS object whose key the caller may not use.
        Rule::get_object(
            kms_denied(
                "The ciphertext refers to a customer master key that does not exist, does not \
                 exist in this region, or you are not allowed to access.",
            ),
            &logs[0],
        ),
        Rule::get_object(
            kms_denied(
                "User: arn:aws:iam::111122223333:user/auditor is not authorized to perform: \
                 kms:Decrypt on resource: arn:aws:kms:us-east-1:111122223333:key/1234 because \
                 no identity-based policy allows the kms:Decrypt action",
            ),
            &logs[1],
        ),
        Rule::get_object(kms_denied("Access Denied"), &logs[2]),
    ]);
    let run = validate(&proxy.endpoint(), "json", &env_default());
    assert_eq!(run.code, 3, "{}", run.stderr);
    let doc = json_of(&run);
    assert_no_tamper_verdict(&doc);
    for key in &logs[..2] {
        let entry = file(&doc, key);
        assert_eq!(entry["status"], "error");
        let detail = entry["detail"].as_str().unwrap_or("");
        assert!(
            detail.starts_with("access denied by KMS (AccessDenied: ")
                && detail.contains("kms:Decrypt"),
            "{detail}"
        );
    }
    let groups = doc["summary"]["errors"].as_array().expect("errors");
    let by_cause: BTreeMap<&str, u64> = groups
        .iter()
        .map(|g| {
            (
                g["cause"].as_str().unwrap_or(""),
                g["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        by_cause,
        BTreeMap::from([("access_denied", 1), ("kms", 2)]),
        "{groups:?}"
    );
    // Refusals are final: asked once each (and once more if read ahead), not retried.
    for key in &logs[..3] {
        assert!(
            proxy.count("GET", key) <= 2,
            "{key}: {}",
            proxy.count("GET", key)
        );
    }
}

fn env_default() -> Vec<(String, String)> {
    aws_env(None)
}

#[test]
fn mirror_names_an_archived_object_it_could_not_copy() {
    let moto = Moto::start();
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    let log = sample_keys(LOGS_EU)[1].clone();
    archive(&moto, &log, aws_sdk_s3::types::StorageClass::DeepArchive);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("bundle");
    let keys = repo().join("vectors/sample/.ctverify/public-keys.json");
    let run = ctverify_env(
        [
            "mirror",
            &format!("s3://{BUCKET}"),
            dest.to_str().expect("UTF-8 path"),
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            keys.to_str().expect("UTF-8 path"),
            "--end-time",
            END,
        ],
        &aws_env(None),
    );
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "ctverify: {log}: archived in DEEP_ARCHIVE: restore it first"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 file: archived in DEEP_ARCHIVE \u{2014} restore it"),
        "{}",
        run.stderr
    );
    assert!(!dest.join(&log).exists());
}
