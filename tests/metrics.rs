//! `--metrics FILE`: OpenMetrics text of a completed run, for a Prometheus textfile collector.

mod common;

use common::{ctverify, repo};

fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[test]
fn a_run_writes_its_counts_newest_verified_digests_and_exit_code() {
    let out = tempfile::tempdir().expect("tempdir");
    let path = out.path().join("ctverify.prom");
    let sample = repo().join("vectors/sample");
    let run = ctverify([
        "validate",
        sample.to_str().unwrap(),
        "--metrics",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(&path).expect("metrics written");
    assert!(text.ends_with("# EOF\n"), "{text}");
    let source = format!("source=\"{}\"", sample.display());
    let files = |kind: &str, outcome: &str| {
        metric(
            &text,
            &format!("ctverify_files{{{source},kind=\"{kind}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(files("digest", "valid"), Some(22.0));
    assert_eq!(files("log", "valid"), Some(42.0));
    assert_eq!(files("log", "invalid"), Some(0.0));
    let newest = |region: &str| {
        metric(
            &text,
            &format!(
                "ctverify_newest_verified_digest_timestamp_seconds{{{source},bucket=\"ctverify-sample-trail\",prefix=\"\",organization=\"\",account=\"111122223333\",region=\"{region}\",trail=\"management-events\",home_region=\"us-east-1\",backfill=\"false\"}}"
            ),
        )
    };
    let at = |t: &str| ctverify::UtcTime::parse_field(t).unwrap().unix() as f64;
    assert_eq!(newest("us-east-1"), Some(at("2024-03-01T11:17:42Z")));
    assert_eq!(newest("eu-west-1"), Some(at("2024-03-01T11:21:05Z")));
    assert_eq!(
        metric(&text, &format!("ctverify_run_exit_code{{{source}}}")),
        Some(0.0)
    );
    assert!(metric(&text, &format!("ctverify_run_duration_seconds{{{source}}}")).is_some());
    // Every sample follows its own family's TYPE line, and no series is written twice.
    let mut family = "";
    let mut series = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            family = declared.split(' ').next().unwrap();
        } else if !line.starts_with('#') {
            let (name_and_labels, _) = line.rsplit_once(' ').unwrap();
            assert_eq!(name_and_labels.split('{').next(), Some(family), "{line}");
            assert!(series.insert(name_and_labels.to_string()), "twice: {line}");
        }
    }
    // Readable by a collector running as someone else.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o644, 0o644, "{mode:o}");
    }
}

#[test]
fn tampering_shows_in_the_metrics_by_status() {
    let out = tempfile::tempdir().expect("tempdir");
    let path = out.path().join("m.prom");
    let case = repo().join("vectors/cases/log-modified");
    let run = ctverify([
        "validate",
        case.to_str().unwrap(),
        "--metrics",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    let text = std::fs::read_to_string(&path).expect("metrics written");
    let source = format!("source=\"{}\"", case.display());
    assert_eq!(
        metric(
            &text,
            &format!("ctverify_files_not_valid{{{source},kind=\"log\",status=\"hash_mismatch\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, &format!("ctverify_run_exit_code{{{source}}}")),
        Some(1.0)
    );
}

#[test]
fn metrics_are_never_written_into_the_source() {
    let copy = tempfile::tempdir().expect("tempdir");
    let sample = repo().join("vectors/sample");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", sample.display()))
        .arg(copy.path())
        .status()
        .expect("cp");
    assert!(status.success());
    let inside = copy.path().join("AWSLogs/metrics.prom");
    let run = ctverify([
        "validate",
        copy.path().to_str().unwrap(),
        "--metrics",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("inside the source directory"),
        "{}",
        run.stderr
    );
    assert!(!inside.exists());
    // A folder that does not exist: the report is written, the run is incomplete.
    let run = ctverify([
        "validate",
        sample.to_str().unwrap(),
        "--metrics",
        "/nonexistent-ctverify-dir/m.prom",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.contains("Result: valid"));
    assert!(run
        .stderr
        .contains("cannot write /nonexistent-ctverify-dir/m.prom"));
}
