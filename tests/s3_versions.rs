//! Versioned buckets, against a real S3 server (moto_server on loopback): a log or digest
//! deleted or overwritten in a bucket that keeps versions is still `not_found` or
//! `hash_mismatch` (the bucket was changed, exit 1), and its entry says when it was deleted and
//! which earlier version holds the bytes the digest records. An intact trail, or a bucket
//! without versioning, costs no versions request; versions the caller may not read are said
//! once, never per file.

mod common;

use common::servers::{aws_env, http, Moto};
use common::{ctverify_env, python, repo, Run};
use serde_json::Value;

const BUCKET: &str = "ctverify-sample-trail";
const LOGS_US: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";
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

/// A log the sample's us-east-1 digests list.
fn a_log() -> String {
    sample_keys(LOGS_US)[3].clone()
}

/// A us-east-1 digest with an authentic successor (not the newest).
fn a_digest() -> String {
    sample_keys(DIGESTS_US)[5].clone()
}

/// A client of the test itself, to tamper with the bucket: never ctverify's.
fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Moto holding the sample trail, in a bucket with versioning turned on before the upload
/// when `versioned`.
fn sample_bucket(versioned: bool) -> Moto {
    let moto = Moto::start();
    let client = s3_client(&moto.endpoint());
    block_on(async {
        client
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create bucket");
        if versioned {
            client
                .put_bucket_versioning()
                .bucket(BUCKET)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("turn versioning on");
        }
    });
    moto.upload(&repo().join("vectors/sample"), BUCKET);
    moto
}

/// The current version id of `key`.
fn version_of(moto: &Moto, key: &str) -> String {
    let head = block_on(
        s3_client(&moto.endpoint())
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send(),
    )
    .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
    head.version_id().expect("a version id").to_string()
}

fn delete(moto: &Moto, key: &str) {
    block_on(
        s3_client(&moto.endpoint())
            .delete_object()
            .bucket(BUCKET)
            .key(key)
            .send(),
    )
    .unwrap_or_else(|e| panic!("delete {key}: {e:?}"));
}

/// Overwrites `key` with a gzip of other bytes.
fn overwrite(moto: &Moto, key: &str) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, br#"{"Records":[]}"#).expect("gzip");
    moto.put(BUCKET, key, &gz.finish().expect("gzip"));
}

/// `ctverify validate s3://BUCKET` at `endpoint` in `format`.
fn validate(moto: &Moto, format: &str, env: &[(String, String)]) -> Run {
    let keys = repo().join("vectors/sample/.ctverify/public-keys.json");
    ctverify_env(
        [
            "validate",
            &format!("s3://{BUCKET}"),
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            keys.to_str().expect("UTF-8 path"),
            "--format",
            format,
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

fn file<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no entry for {key}: {doc}"))
}

/// Requests to moto after the first `from` that ask about versions.
fn version_requests(moto: &Moto, from: usize) -> Vec<String> {
    moto.requests()
        .into_iter()
        .skip(from)
        .filter(|r| r.contains("versions") || r.contains("versionId="))
        .collect()
}

#[test]
fn an_overwritten_log_names_the_earlier_version_with_the_recorded_hash() {
    let moto = sample_bucket(true);
    let log = a_log();
    let original = version_of(&moto, &log);
    overwrite(&moto, &log);
    assert_ne!(version_of(&moto, &log), original);
    let from = moto.requests().len();

    let env = aws_env(None);
    let run = validate(&moto, "json", &env);
    // What the tests below look for in moto's log when they say no versions were asked for.
    let asked = version_requests(&moto, from);
    assert!(
        asked.iter().any(|r| r.contains("?versions"))
            && asked.iter().any(|r| r.contains("versionId=")),
        "{asked:?}"
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc = json_of(&run);
    let entry = file(&doc, &log);
    assert_eq!(entry["status"], "hash_mismatch", "{entry}");
    assert_eq!(entry["recoverable_version"], original.as_str(), "{entry}");
    assert!(entry.get("deleted_at").is_none(), "{entry}");
    assert!(doc["summary"].get("versions").is_none(), "{doc}");

    let text = validate(&moto, "text", &env);
    assert_eq!(text.code, 1);
    let line = text
        .stdout
        .lines()
        .find(|l| l.contains(&log))
        .unwrap_or_else(|| panic!("no line for {log}: {}", text.stdout));
    assert_eq!(
        line,
        format!(
            "Log file\ts3://{BUCKET}/{log}\tINVALID: hash value doesn't match (recoverable \
             version {original})"
        )
    );
}

#[test]
fn a_deleted_log_and_a_deleted_digest_say_when_and_which_version_recovers_them() {
    let moto = sample_bucket(true);
    let (log, digest) = (a_log(), a_digest());
    let (log_version, digest_version) = (version_of(&moto, &log), version_of(&moto, &digest));
    let before = chrono_free_now();
    delete(&moto, &log);
    delete(&moto, &digest);

    let run = validate(&moto, "json", &aws_env(None));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc = json_of(&run);
    for (key, version) in [(&log, &log_version), (&digest, &digest_version)] {
        let entry = file(&doc, key);
        assert_eq!(entry["status"], "not_found", "{entry}");
        assert_eq!(entry["recoverable_version"], version.as_str(), "{entry}");
        let deleted_at = entry["deleted_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{entry}"));
        let deleted_at = ctverify::UtcTime::parse_user(deleted_at).expect("a time");
        assert!(
            deleted_at.unix() >= before - 1 && deleted_at.unix() <= before + 120,
            "{entry}"
        );
    }
    assert_eq!(
        file(&doc, &digest)["kind"],
        "digest",
        "the digest's earlier version is verified like the digest itself"
    );

    // JSONL streams the same fields as each file is decided.
    let jsonl = validate(&moto, "jsonl", &aws_env(None));
    let streamed: Vec<Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let line = streamed
        .iter()
        .find(|l| l["type"] == "file" && l["key"] == log.as_str())
        .expect("the log's line");
    assert_eq!(line["recoverable_version"], log_version.as_str());
    assert!(line["deleted_at"].is_string(), "{line}");
}

/// Seconds since the epoch now (the tests carry no date library).
fn chrono_free_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[test]
fn without_versioning_the_same_tampering_gets_no_version_fields_and_asks_for_none() {
    let moto = sample_bucket(false);
    let (log, digest, changed) = (a_log(), a_digest(), sample_keys(LOGS_US)[5].clone());
    delete(&moto, &log);
    delete(&moto, &digest);
    overwrite(&moto, &changed);
    let from = moto.requests().len();

    let run = validate(&moto, "json", &aws_env(None));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc = json_of(&run);
    for key in [&log, &digest, &changed] {
        let entry = file(&doc, key);
        assert!(
            entry.get("deleted_at").is_none() && entry.get("recoverable_version").is_none(),
            "{entry}"
        );
    }
    assert_eq!(file(&doc, &changed)["status"], "hash_mismatch");
    assert!(doc["summary"].get("versions").is_none(), "{doc}");
    assert_eq!(
        version_requests(&moto, from),
        Vec::<String>::new(),
        "an unversioned bucket has no versions to list"
    );
}

#[test]
fn an_intact_versioned_trail_is_valid_without_a_versions_request() {
    let moto = sample_bucket(true);
    let from = moto.requests().len();
    let run = validate(&moto, "json", &aws_env(None));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(json_of(&run)["summary"]["result"], "valid");
    let asked: Vec<String> = moto
        .requests()
        .into_iter()
        .skip(from)
        .filter(|r| r.contains("versions") || r.contains("versioning"))
        .collect();
    assert_eq!(asked, Vec::<String>::new());
}

/// Runs Python with boto3 (moto's dependency) against `endpoint`: IAM calls the Rust SDK the
/// tests build does not carry.
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
fn versions_the_caller_may_not_list_are_said_once_and_add_no_fields() {
    let moto = sample_bucket(true);
    let (log, digest, changed) = (a_log(), a_digest(), sample_keys(LOGS_US)[5].clone());
    delete(&moto, &log);
    delete(&moto, &digest);
    overwrite(&moto, &changed);
    // An auditor who may read the trail and see that the bucket is versioned, but not list
    // its versions. (moto names a listing's action after the operation.)
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["s3:ListBucket", "s3:ListObjectsV2", "s3:GetBucketVersioning"],
             "Resource": format!("arn:aws:s3:::{BUCKET}")},
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{BUCKET}/*")}
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
    http(moto.port, "POST", "/moto-api/reset-auth", "0").expect("enable moto's auth");
    let mut env = aws_env(None);
    for (name, value) in &mut env {
        match name.as_str() {
            "AWS_ACCESS_KEY_ID" => *value = key_id.to_string(),
            "AWS_SECRET_ACCESS_KEY" => *value = secret.to_string(),
            _ => {}
        }
    }

    let run = validate(&moto, "json", &env);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc = json_of(&run);
    assert_eq!(file(&doc, &log)["status"], "not_found");
    assert_eq!(file(&doc, &digest)["status"], "not_found");
    assert_eq!(file(&doc, &changed)["status"], "hash_mismatch");
    for key in [&log, &digest, &changed] {
        let entry = file(&doc, key);
        assert!(
            entry.get("deleted_at").is_none() && entry.get("recoverable_version").is_none(),
            "{entry}"
        );
    }
    let note = doc["summary"]["versions"]
        .as_str()
        .unwrap_or_else(|| panic!("no versions note: {}", doc["summary"]));
    assert!(
        note.starts_with(&format!(
            "s3:ListBucketVersions is not allowed on arn:aws:s3:::{BUCKET}"
        )),
        "{note}"
    );

    let text = validate(&moto, "text", &env);
    assert_eq!(text.code, 1);
    let said: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.contains("s3:ListBucketVersions"))
        .collect();
    assert_eq!(
        said,
        [format!("Earlier versions not read: {note}")],
        "{}",
        text.stdout
    );
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(
        matches!(lines.as_slice(), [.., note_line, result] if *note_line == said[0]
            && result.starts_with("Result: ")),
        "the note is the line before Result: {}",
        text.stdout
    );
}

#[test]
fn mirror_keeps_the_recoverable_version_beside_the_current_files() {
    let moto = sample_bucket(true);
    let (log, changed) = (a_log(), sample_keys(LOGS_US)[5].clone());
    let (log_version, changed_version) = (version_of(&moto, &log), version_of(&moto, &changed));
    delete(&moto, &log);
    overwrite(&moto, &changed);
    let dest = tempfile::tempdir().expect("tempdir");
    let bundle = dest.path().join("bundle");
    let keys = repo().join("vectors/sample/.ctverify/public-keys.json");
    let mirror = ctverify_env(
        [
            "mirror",
            &format!("s3://{BUCKET}"),
            bundle.to_str().expect("UTF-8 path"),
            "--endpoint-url",
            &moto.endpoint(),
            "--public-keys",
            keys.to_str().expect("UTF-8 path"),
            "--end-time",
            END,
        ],
        &aws_env(None),
    );
    assert_eq!(mirror.code, 0, "{}{}", mirror.stdout, mirror.stderr);
    let sample = repo().join("vectors/sample");
    for (key, version) in [(&log, &log_version), (&changed, &changed_version)] {
        let kept = bundle.join(".ctverify/versions").join(version).join(key);
        assert_eq!(
            std::fs::read(&kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display())),
            std::fs::read(sample.join(key)).expect("the sample's file"),
            "{key}: the version kept is the original"
        );
    }
    // The bundle is the bucket as it is now: offline, the same verdicts, and the kept versions
    // are no planted files.
    let (code, doc) = common::validate_json(&bundle, &["--end-time", END]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(file(&doc, &log)["status"], "not_found");
    assert_eq!(file(&doc, &changed)["status"], "hash_mismatch");
    let files = doc["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{doc}");
}
