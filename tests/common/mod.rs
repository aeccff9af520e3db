//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod servers;

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the ctverify binary with `args`.
pub fn ctverify<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    ctverify_env(args, &[])
}

/// Runs the ctverify binary with `args` and extra environment variables.
pub fn ctverify_env<I, S>(args: I, env: &[(String, String)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctverify"));
    command
        .args(args)
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run ctverify");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn validate_json(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args: Vec<String> = vec![
        "validate".into(),
        dir.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = ctverify(&args);
    let value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr));
    (run.code, value)
}

pub fn test_keys() -> ctverify_testgen::vectors::TestKeys {
    ctverify_testgen::vectors::TestKeys::load(&repo().join("vectors/test-keys")).expect("test keys")
}

/// The Python interpreter with `cryptography` (and, later, moto) that `scripts/test` set up.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("CTVERIFY_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = repo().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Statuses that are verdicts on a file's integrity: a read that failed (a fault, an archived
/// object, a refusal) must never produce one.
pub const TAMPER: &[&str] = &[
    "not_found",
    "moved",
    "signature_invalid",
    "hash_mismatch",
    "key_not_found",
    "invalid_format",
    "trailing_data",
    "unreferenced",
];
