//! A trail signed by an independent implementation (tests/python/sign_trail.py, Python with
//! the `cryptography` package) verifies as valid, and its tampering is caught the same way.

mod common;

use std::process::Command;

use common::{python, repo, validate_json};
use serde_json::Value;

struct Signed {
    dir: tempfile::TempDir,
    info: Value,
}

fn sign(tamper: &str) -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let python = python();
    let output = Command::new(&python)
        .arg(repo().join("tests/python/sign_trail.py"))
        .arg("--out")
        .arg(&out)
        .arg("--key")
        .arg(repo().join("vectors/test-keys/TEST-KEY-DO-NOT-TRUST-us-east-1-a.pem"))
        .arg("--tamper")
        .arg(tamper)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; run the tests through scripts/test",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "{} failed (is `cryptography` installed? run the tests through scripts/test): {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let info = serde_json::from_slice(&output.stdout).expect("signer prints JSON");
    Signed { dir, info }
}

fn files(doc: &Value) -> Vec<(String, String, String)> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["key"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn python_signed_trail_is_valid() {
    let signed = sign("none");
    let (code, doc) = validate_json(&signed.dir.path().join("bundle"), &[]);
    assert_eq!(code, 0, "{doc:#}");
    let digests = strings(&signed.info["digests"]).len() as u64;
    let logs = strings(&signed.info["logs"]).len() as u64;
    assert_eq!(doc["summary"]["digests"]["valid"], digests);
    assert_eq!(doc["summary"]["logs"]["valid"], logs);
    assert_eq!(doc["bucket"], signed.info["bucket"]);
}

fn tampered_key(signed: &Signed) -> String {
    signed.info["tampered"]["key"]
        .as_str()
        .expect("tampered key")
        .to_string()
}

#[test]
fn python_modified_and_deleted_logs_are_caught() {
    for (tamper, status) in [("modify-log", "hash_mismatch"), ("delete-log", "not_found")] {
        let signed = sign(tamper);
        let (code, doc) = validate_json(&signed.dir.path().join("bundle"), &[]);
        assert_eq!(code, 1, "{tamper}");
        assert_eq!(
            files(&doc),
            vec![("log".to_string(), tampered_key(&signed), status.to_string())],
            "{tamper}"
        );
    }
}

#[test]
fn python_deleted_digest_is_caught() {
    let signed = sign("delete-digest");
    let (code, doc) = validate_json(&signed.dir.path().join("bundle"), &[]);
    assert_eq!(code, 1);
    // The signer's 3rd digest lists its 5th and 6th logs (two per hour, oldest first): with
    // the digest gone, no digest lists them.
    let logs = strings(&signed.info["logs"]);
    let mut expected = vec![
        (
            "digest".to_string(),
            tampered_key(&signed),
            "not_found".to_string(),
        ),
        (
            "log".to_string(),
            logs[4].clone(),
            "unreferenced".to_string(),
        ),
        (
            "log".to_string(),
            logs[5].clone(),
            "unreferenced".to_string(),
        ),
    ];
    expected.sort();
    let mut found = files(&doc);
    found.sort();
    assert_eq!(found, expected);
}

#[test]
fn python_modified_digest_is_caught_and_its_logs_unverified() {
    let signed = sign("modify-digest");
    let (code, doc) = validate_json(&signed.dir.path().join("bundle"), &[]);
    assert_eq!(code, 1);
    let key = tampered_key(&signed);
    let found = files(&doc);
    assert!(
        found.contains(&(
            "digest".to_string(),
            key.clone(),
            "hash_mismatch".to_string()
        )),
        "{found:?}"
    );
    let logs: Vec<&Value> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "log")
        .collect();
    assert_eq!(logs.len(), 2, "the modified digest lists two logs");
    for log in logs {
        assert_eq!(log["status"], "unverified");
        assert_eq!(log["digest"], Value::String(key.clone()));
    }
    assert_eq!(found.len(), 3);
}

#[test]
fn python_stripped_signature_is_invalid_where_the_chains_other_signatures_are_kept() {
    // The copy keeps the other digests' metadata, as S3 would: the newest digest's signature
    // was removed, which is tampering, not a copy that never had it (`unsigned`).
    let signed = sign("strip-newest-signature");
    let (code, doc) = validate_json(&signed.dir.path().join("bundle"), &[]);
    assert_eq!(code, 1);
    let key = tampered_key(&signed);
    assert!(files(&doc).contains(&("digest".to_string(), key, "signature_invalid".to_string())));
    assert_eq!(doc["summary"]["digests"]["invalid"], 1);
    assert_eq!(doc["summary"]["logs"]["invalid"], 0);
    let digests = strings(&signed.info["digests"]).len() as u64;
    assert_eq!(
        doc["summary"]["digests"]["valid"],
        digests - 1,
        "the older digests verify through the links"
    );
}
