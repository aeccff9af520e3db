//! Verification straight from S3 while the network misbehaves: ctverify talks to moto_server
//! through a loopback fault-injecting proxy (`fault_proxy`) that answers 500/503/SlowDown,
//! resets connections, slows or truncates bodies and breaks listings.
//!
//! What must hold: a fault that goes away is retried and the verdicts are those of a
//! fault-free run; a fault that stays makes the file `error` (exit 3), never `valid` and never
//! an integrity failure; a listing that cannot be completed stops the run (exit 3, one line on
//! stderr) without a report that claims anything.

mod common;
mod fault_proxy;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::servers::{aws_env, Moto};
use common::{ctverify_env, repo, Run, TAMPER};
use fault_proxy::{Fault, FaultProxy, Rule};
use serde_json::Value;

const BUCKET: &str = "ctverify-sample-trail";
const DIGESTS_US: &str = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/";
const DIGESTS_EU: &str = "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/";
const LOGS_US: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";
const LOGS_EU: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/";

/// moto with the sample bundle uploaded, and a proxy in front of it.
struct Setup {
    moto: Moto,
    proxy: FaultProxy,
}

struct Outcome {
    run: Run,
    doc: Option<Value>,
    elapsed: Duration,
}

impl Outcome {
    fn doc(&self) -> &Value {
        self.doc.as_ref().unwrap_or_else(|| {
            panic!(
                "no JSON report (exit {}): {}\nstderr: {}",
                self.run.code, self.run.stdout, self.run.stderr
            )
        })
    }

    fn files(&self) -> &Vec<Value> {
        self.doc()["files"].as_array().expect("files")
    }

    /// The entry for the file whose key ends with `suffix`.
    fn file(&self, suffix: &str) -> &Value {
        let matching: Vec<&Value> = self
            .files()
            .iter()
            .filter(|f| f["key"].as_str().is_some_and(|k| k.ends_with(suffix)))
            .collect();
        assert_eq!(matching.len(), 1, "one file ending {suffix}: {matching:?}");
        matching[0]
    }

    fn status(&self, suffix: &str) -> &str {
        self.file(suffix)["status"].as_str().unwrap_or("")
    }
}

impl Setup {
    fn start() -> Setup {
        let moto = Moto::start();
        moto.upload(&repo().join("vectors/sample"), BUCKET);
        let proxy = FaultProxy::start(moto.port);
        Setup { moto, proxy }
    }

    /// A second proxy on the same moto, for runs with other rules at the same time.
    fn another_proxy(&self) -> FaultProxy {
        FaultProxy::start(self.moto.port)
    }

    fn validate(&self, format: &str) -> Outcome {
        validate_via(&self.proxy, format)
    }

    /// The fault-free verdicts: the same command with no rules.
    fn baseline(&self) -> Outcome {
        self.proxy.set_rules(Vec::new());
        let outcome = self.validate("json");
        assert_eq!(
            outcome.run.code, 0,
            "fault-free run: {}",
            outcome.run.stderr
        );
        assert_eq!(outcome.doc()["summary"]["result"], "valid");
        self.proxy.clear_requests();
        outcome
    }
}

/// `ctverify validate s3://BUCKET` through `proxy`, every file listed, a fixed end time so
/// that two runs give the same document.
fn validate_via(proxy: &FaultProxy, format: &str) -> Outcome {
    let keys = repo().join("vectors/sample/.ctverify/public-keys.json");
    let started = Instant::now();
    let run = ctverify_env(
        [
            "validate",
            &format!("s3://{BUCKET}"),
            "--endpoint-url",
            &proxy.endpoint(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            format,
            "--verbose",
            "--end-time",
            "2024-03-02T00:00:00Z",
        ],
        &aws_env(None),
    );
    let elapsed = started.elapsed();
    let doc = if format == "json" {
        serde_json::from_str(&run.stdout).ok()
    } else {
        None
    };
    Outcome { run, doc, elapsed }
}

/// The object keys the proxy delivered whole at least once (GetObject answered by upstream,
/// possibly slowly): only these can have been checked.
fn delivered(proxy: &FaultProxy) -> HashSet<String> {
    let prefix = format!("/{BUCKET}/");
    proxy
        .requests()
        .iter()
        .filter(|s| s.method == "GET" && !s.target.contains("list-type="))
        .filter(|s| matches!(s.fault, None | Some(Fault::SlowBody { .. })))
        .filter_map(|s| {
            let path = s.target.split('?').next()?;
            path.strip_prefix(&prefix).map(str::to_string)
        })
        .collect()
}

/// Soundness of a report made under faults: no integrity failure anywhere, no invalid count,
/// and every file called valid was actually delivered by the server.
fn assert_sound(outcome: &Outcome, proxy: &FaultProxy) {
    let doc = outcome.doc();
    let delivered = delivered(proxy);
    for file in outcome.files() {
        let status = file["status"].as_str().unwrap_or("");
        assert!(
            !TAMPER.contains(&status),
            "a fault became an integrity verdict: {file}"
        );
        if status == "valid" {
            let key = file["key"].as_str().unwrap_or("");
            assert!(
                delivered.contains(key),
                "valid, but never delivered whole: {file}"
            );
        }
    }
    for kind in ["digests", "logs"] {
        assert_eq!(doc["summary"][kind]["invalid"], 0, "{}", doc["summary"]);
    }
    for chain in doc["chains"].as_array().unwrap() {
        for kind in ["digests", "logs"] {
            assert_eq!(chain[kind]["invalid"], 0, "{chain}");
        }
    }
}

/// How many requests for GetObject of a key ending with `suffix` the proxy saw.
fn gets(proxy: &FaultProxy, suffix: &str) -> usize {
    proxy
        .requests()
        .iter()
        .filter(|s| s.method == "GET" && s.target.split('?').next().unwrap_or("").ends_with(suffix))
        .count()
}

fn statuses(outcome: &Outcome) -> Vec<(String, String)> {
    outcome
        .files()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap_or("").to_string(),
                f["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The run under faults gave exactly the fault-free document.
fn assert_same_as(outcome: &Outcome, baseline: &Outcome) {
    assert_eq!(
        outcome.run.code, 0,
        "{}\n{}",
        outcome.run.stderr, outcome.run.stdout
    );
    assert_eq!(statuses(outcome), statuses(baseline));
    assert_eq!(outcome.doc(), baseline.doc());
}

fn report_time(name: &str, outcome: &Outcome) {
    eprintln!("{name}: ctverify ran {:.1?}", outcome.elapsed);
}

#[test]
fn transient_5xx_and_slowdown_are_retried_to_the_fault_free_verdicts() {
    let setup = Setup::start();
    let baseline = setup.baseline();
    let proxy = &setup.proxy;
    proxy.set_rules(vec![
        // Every us-east-1 log of the early hours: one 500 each.
        Rule::get_object(Fault::Status(500), "CloudTrail_us-east-1_20240301T0").first(1),
        // Two eu-west-1 digests: two 503 each.
        Rule::get_object(
            Fault::Status(503),
            "eu-west-1_management-events_us-east-1_20240301T0",
        )
        .first(2),
        // A few eu-west-1 logs and us-east-1 digests: throttled twice each.
        Rule::get_object(Fault::SlowDown, "CloudTrail_eu-west-1_20240301T1").first(2),
        Rule::get_object(
            Fault::SlowDown,
            "us-east-1_management-events_us-east-1_20240301T1",
        )
        .first(2),
        // A listing and the bucket probe are throttled once too.
        Rule::listing(Fault::SlowDown, &format!("prefix={DIGESTS_US}")).first(1),
        Rule::new(Fault::Status(503)).method("HEAD").first(1),
    ]);
    let outcome = setup.validate("json");
    report_time("transient 5xx/SlowDown", &outcome);
    assert_same_as(&outcome, &baseline);

    // The proxy saw each faulted request again until it got through.
    let faulted: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|s| s.fault.is_some())
        .collect();
    assert!(faulted.len() > 20, "{} faults injected", faulted.len());
    for seen in &faulted {
        let retries = proxy
            .requests()
            .iter()
            .filter(|s| s.method == seen.method && s.target == seen.target && s.fault.is_none())
            .count();
        assert_eq!(retries, 1, "retried once it passed: {}", seen.line);
    }
    assert_eq!(
        gets(
            proxy,
            "111122223333_CloudTrail_us-east-1_20240301T0037Z_Y4Zn9ECK3ZxHX1Js.json.gz"
        ),
        2
    );
    assert_eq!(
        gets(
            proxy,
            "111122223333_CloudTrail-Digest_eu-west-1_management-events_us-east-1_20240301T012105Z.json.gz"
        ),
        3
    );
    assert_eq!(
        gets(
            proxy,
            "111122223333_CloudTrail-Digest_us-east-1_management-events_us-east-1_20240301T101742Z.json.gz"
        ),
        3
    );
}

#[test]
fn every_object_throttled_twice_still_verifies() {
    // Over 128 SlowDown answers in one run. The SDK's retry quota (500 tokens shared by the
    // process, 5 per throttled retry) is given back as each retry succeeds, so it holds.
    let setup = Setup::start();
    let baseline = setup.baseline();
    setup
        .proxy
        .set_rules(vec![Rule::get_object(Fault::SlowDown, "AWSLogs/").first(2)]);
    let outcome = setup.validate("json");
    report_time("every object throttled twice", &outcome);
    assert_same_as(&outcome, &baseline);
    assert!(setup.proxy.faults() >= 2 * 64, "{}", setup.proxy.faults());
}

#[test]
fn connection_resets_are_retried_to_the_fault_free_verdicts() {
    let setup = Setup::start();
    let baseline = setup.baseline();
    let proxy = &setup.proxy;
    proxy.set_rules(vec![
        // TCP reset after the request, no answer.
        Rule::get_object(Fault::Reset, "CloudTrail_us-east-1_20240301T0").first(1),
        Rule::get_object(Fault::Reset, "CloudTrail-Digest_eu-west-1").first(1),
        // Orderly close without an answer.
        Rule::get_object(Fault::Close, "CloudTrail_eu-west-1_20240301T0").first(1),
        Rule::listing(Fault::Reset, &format!("prefix={LOGS_US}")).first(1),
        // A listing whose body is cut short.
        Rule::listing(
            Fault::Truncate { keep_percent: 50 },
            &format!("prefix={DIGESTS_EU}"),
        )
        .first(1),
        // The bucket probe's connection reset.
        Rule::new(Fault::Reset).method("HEAD").first(1),
    ]);
    let outcome = setup.validate("json");
    report_time("connection resets", &outcome);
    assert_same_as(&outcome, &baseline);
    assert!(proxy.faults() > 20, "{} faults injected", proxy.faults());
    for seen in proxy.requests().iter().filter(|s| s.fault.is_some()) {
        assert!(
            proxy
                .requests()
                .iter()
                .any(|s| s.target == seen.target && s.fault.is_none()),
            "asked again after the reset: {}",
            seen.line
        );
    }
}

#[test]
fn slow_bodies_give_the_fault_free_verdicts() {
    let setup = Setup::start();
    let baseline = setup.baseline();
    let stalled = "111122223333_CloudTrail_us-east-1_20240301T0857Z_VFgba2SRB8yL1bEq.json.gz";
    setup.proxy.set_rules(vec![
        // One log's body stops halfway for a minute, once: the SDK's stalled-stream
        // protection gives up on it and the verifier reads it again.
        Rule::get_object(
            Fault::Stall {
                keep_percent: 50,
                pause: Duration::from_secs(60),
            },
            stalled,
        )
        .first(1),
        // Every other body (listings included) trickles in, 64 bytes every 15 ms.
        Rule::new(Fault::SlowBody {
            chunk: 64,
            delay: Duration::from_millis(15),
        })
        .method("GET"),
    ]);
    let outcome = setup.validate("json");
    report_time("slow bodies, one stalled once", &outcome);
    assert_same_as(&outcome, &baseline);
    let slowed = setup.proxy.faults();
    assert!(slowed > 60, "{slowed} bodies slowed");
    assert!(outcome.elapsed > baseline.elapsed);
    assert_eq!(gets(&setup.proxy, stalled), 2, "read again after the stall");
    assert!(
        outcome.elapsed < Duration::from_secs(50),
        "a stalled body is abandoned well before the server resumes it"
    );
}

#[test]
fn truncated_bodies_are_read_again_and_never_called_tampered() {
    let setup = Setup::start();
    let baseline = setup.baseline();
    let proxy = &setup.proxy;

    // Once per object, cut at various points (nothing, half, all but the last byte): each is
    // read again and verifies.
    proxy.set_rules(vec![
        Rule::get_object(Fault::Truncate { keep_percent: 0 }, LOGS_US).first(1),
        Rule::get_object(Fault::Truncate { keep_percent: 50 }, LOGS_EU).first(1),
        Rule::get_object(Fault::Truncate { keep_percent: 100 }, DIGESTS_US).first(1),
        Rule::get_object(Fault::Truncate { keep_percent: 30 }, DIGESTS_EU).first(1),
    ]);
    let once = setup.validate("json");
    report_time("truncated once per object", &once);
    assert_same_as(&once, &baseline);
    assert!(proxy.faults() >= 64, "{}", proxy.faults());
    assert_eq!(
        gets(
            proxy,
            "111122223333_CloudTrail_eu-west-1_20240301T0041Z_a5kPblfuM2oApFuE.json.gz"
        ),
        2
    );

    // Always, for one log: `error` with a detail, exit 3.
    let log = "111122223333_CloudTrail_us-east-1_20240301T0237Z_CgbQehj3wxBhZYrA.json.gz";
    for keep_percent in [0, 50, 100] {
        proxy.set_rules(vec![Rule::get_object(
            Fault::Truncate { keep_percent },
            log,
        )]);
        proxy.clear_requests();
        let always = setup.validate("json");
        report_time(
            &format!("one log always truncated at {keep_percent}%"),
            &always,
        );
        assert_eq!(always.run.code, 3, "{}", always.run.stderr);
        assert_sound(&always, proxy);
        assert_eq!(always.status(log), "error");
        let detail = always.file(log)["detail"].as_str().unwrap_or("");
        assert!(!detail.is_empty(), "{}", always.file(log));
        eprintln!("  {} reads, detail: {detail}", gets(proxy, log));
        assert_eq!(always.doc()["summary"]["result"], "incomplete");
        assert_eq!(always.doc()["summary"]["logs"]["unverified"], 1);
        assert_eq!(
            always.doc()["summary"]["logs"]["valid"],
            baseline.doc()["summary"]["logs"]["valid"].as_u64().unwrap() - 1
        );
        assert_eq!(
            always.doc()["summary"]["digests"],
            baseline.doc()["summary"]["digests"]
        );
        assert!(gets(proxy, log) >= 2, "read again: {}", gets(proxy, log));
    }

    // Always, for one digest: `error`, never `invalid_format`.
    let digest =
        "111122223333_CloudTrail-Digest_eu-west-1_management-events_us-east-1_20240301T082105Z.json.gz";
    proxy.set_rules(vec![Rule::get_object(
        Fault::Truncate { keep_percent: 60 },
        digest,
    )]);
    proxy.clear_requests();
    let digest_cut = setup.validate("json");
    report_time("one digest always truncated", &digest_cut);
    assert_eq!(digest_cut.run.code, 3, "{}", digest_cut.run.stderr);
    assert_sound(&digest_cut, proxy);
    assert_eq!(digest_cut.status(digest), "error");
    eprintln!("  detail: {}", digest_cut.file(digest)["detail"]);
}

/// The digest whose GetObject always fails in `a_digest_that_cannot_be_read_...`, and its
/// neighbours in the chain.
const FAILING_DIGEST: &str =
    "111122223333_CloudTrail-Digest_us-east-1_management-events_us-east-1_20240301T051742Z.json.gz";
const ITS_PREDECESSOR: &str =
    "111122223333_CloudTrail-Digest_us-east-1_management-events_us-east-1_20240301T041742Z.json.gz";
const ITS_SUCCESSOR: &str =
    "111122223333_CloudTrail-Digest_us-east-1_management-events_us-east-1_20240301T061742Z.json.gz";

#[test]
fn a_digest_that_cannot_be_read_is_an_error_and_the_rest_of_its_chain_still_verifies() {
    let setup = Setup::start();
    let baseline = setup.baseline();
    let proxy = &setup.proxy;
    proxy.set_rules(vec![Rule::get_object(Fault::Status(500), FAILING_DIGEST)]);
    let outcome = setup.validate("json");
    report_time("one digest always 500", &outcome);
    eprintln!(
        "  GetObject of the failing digest asked {} times",
        gets(proxy, FAILING_DIGEST)
    );
    assert_eq!(outcome.run.code, 3, "{}", outcome.run.stderr);
    assert_sound(&outcome, proxy);
    let doc = outcome.doc();
    assert_eq!(doc["summary"]["result"], "incomplete");

    let failed = outcome.file(FAILING_DIGEST);
    assert_eq!(failed["status"], "error", "{failed}");
    assert!(
        failed["detail"]
            .as_str()
            .is_some_and(|d| d.contains("500") || d.contains("InternalError")),
        "{failed}"
    );
    // SDK attempts for each of the verifier's three reads, and for the read sent ahead of
    // them (which, having failed, decided nothing).
    assert_eq!(gets(proxy, FAILING_DIGEST), 24);

    // Its successor verifies as before. Its predecessor has no readable successor to vouch
    // for it: it is verified through its own S3 metadata signature (the bucket has every
    // digest's metadata), like the newest digest of a chain.
    assert_eq!(outcome.status(ITS_SUCCESSOR), "valid");
    let predecessor = outcome.file(ITS_PREDECESSOR);
    assert_eq!(predecessor["status"], "valid", "{predecessor}");
    // Every other digest is as in the fault-free run.
    let digests = |o: &Outcome| -> Vec<(String, String)> {
        statuses(o)
            .into_iter()
            .filter(|(k, _)| k.contains("CloudTrail-Digest") && !k.ends_with(FAILING_DIGEST))
            .collect()
    };
    assert_eq!(digests(&outcome), digests(&baseline));
    let summary = &doc["summary"]["digests"];
    assert_eq!(summary["unverified"], 1, "{summary}");
    assert_eq!(
        summary["valid"].as_u64().unwrap() + 1,
        baseline.doc()["summary"]["digests"]["valid"]
            .as_u64()
            .unwrap()
    );
    // The logs only the failed digest lists were never checked: none of them is valid, and
    // none is called tampered (assert_sound); every other log verifies. (Today they are not
    // reported at all: nothing readable names them, and the unreadable digest's hour is not
    // a verified window, so the unreferenced-log scan does not look at it either.)
    let baseline_logs: Vec<String> = baseline
        .files()
        .iter()
        .filter(|f| {
            f["kind"] == "log"
                && f["digest"]
                    .as_str()
                    .is_some_and(|d| d.ends_with(FAILING_DIGEST))
        })
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect();
    assert!(!baseline_logs.is_empty());
    for key in &baseline_logs {
        let reported = outcome.files().iter().find(|f| f["key"] == key.as_str());
        eprintln!(
            "  log listed only by the failed digest: {}",
            reported.map_or("not reported".to_string(), |f| f["status"].to_string())
        );
        if let Some(file) = reported {
            assert_ne!(file["status"], "valid", "{file}");
        }
    }
    assert_eq!(
        doc["summary"]["logs"]["valid"].as_u64().unwrap() + baseline_logs.len() as u64,
        baseline.doc()["summary"]["logs"]["valid"].as_u64().unwrap(),
        "every log of other digests still verifies"
    );
}

#[test]
fn a_bucket_that_cannot_be_reached_stops_the_run_without_a_report_nor_a_verdict() {
    // Without the bucket there is nothing to report on.
    let setup = Setup::start();
    let cases: Vec<(&str, Vec<Rule>, String, &[&str])> = vec![(
        // A first listing that answers proves the bucket's region, so the probe only runs
        // when it fails too.
        "first listing and bucket probe (HeadBucket, GetBucketLocation) always 500",
        vec![
            Rule::listing(Fault::Status(500), "prefix=AWSLogs/"),
            Rule::new(Fault::Status(500)).method("HEAD"),
            Rule::get(Fault::Status(500), "?location"),
        ],
        format!("cannot read s3://{BUCKET}"),
        &["json"],
    )];
    // Each case and format on its own proxy, all at once: the SDK's backoff makes each run
    // take a while.
    std::thread::scope(|scope| {
        let mut running = Vec::new();
        for (name, rules, expected, formats) in &cases {
            for &format in *formats {
                let proxy = setup.another_proxy();
                proxy.set_rules(rules.clone());
                running.push(scope.spawn(move || {
                    let outcome = validate_via(&proxy, format);
                    report_time(&format!("{name} ({format})"), &outcome);
                    let run = &outcome.run;
                    assert_eq!(run.code, 3, "{name}: {}{}", run.stdout, run.stderr);
                    let lines: Vec<&str> = run.stderr.trim_end().lines().collect();
                    assert_eq!(lines.len(), 1, "{name}: one line on stderr: {}", run.stderr);
                    assert!(
                        lines[0].starts_with("ctverify: ") && lines[0].contains(expected.as_str()),
                        "{name}: says {expected:?}: {}",
                        lines[0]
                    );
                    if format == "json" {
                        assert!(
                            run.stdout.trim().is_empty(),
                            "{name}: no report: {}",
                            run.stdout
                        );
                    } else {
                        // Chains decided before the listing failed may have been streamed,
                        // but no summary: the run claims no result.
                        for line in run.stdout.lines() {
                            let value: Value = serde_json::from_str(line).unwrap();
                            assert_ne!(value["type"], "summary", "{name}: {line}");
                        }
                    }
                    let faults = proxy.faults();
                    assert!(faults >= 1, "{name}: the fault was met");
                    (name.to_string(), format, lines[0].to_string(), faults)
                }));
            }
        }
        for handle in running {
            let (name, format, line, faults) = handle.join().unwrap();
            eprintln!("  {name} ({format}), {faults} faulted requests: {line}");
        }
    });
}

#[test]
fn a_folder_the_search_cannot_list_is_reported_not_fatal() {
    // A folder met while searching for the digest folders that cannot be listed after every
    // retry: whatever it holds went unchecked. The report says so with one `error` entry for
    // it (exit 3, incomplete) and claims nothing else; it used to end the run with no report.
    let setup = Setup::start();
    let cases = [
        (
            "region folder listing always reset",
            Rule::listing(Fault::Reset, "delimiter=/")
                .containing("prefix=AWSLogs/111122223333/CloudTrail-Digest/"),
            "AWSLogs/111122223333/CloudTrail-Digest/",
        ),
        (
            "AWSLogs/ listing always 500",
            Rule::listing(Fault::Status(500), "delimiter=/")
                .containing("prefix=AWSLogs/")
                .excluding("prefix=AWSLogs/1"),
            "AWSLogs/",
        ),
    ];
    std::thread::scope(|scope| {
        let mut running = Vec::new();
        for (name, rule, folder) in &cases {
            for format in ["json", "jsonl"] {
                let proxy = setup.another_proxy();
                proxy.set_rules(vec![rule.clone()]);
                running.push(scope.spawn(move || {
                    let outcome = validate_via(&proxy, format);
                    report_time(&format!("{name} ({format})"), &outcome);
                    let run = &outcome.run;
                    assert_eq!(run.code, 3, "{name}: {}{}", run.stdout, run.stderr);
                    assert!(proxy.faults() >= 1, "{name}: the fault was met");
                    let (files, summary) = if format == "json" {
                        let doc = outcome.doc();
                        (
                            doc["files"].as_array().unwrap().clone(),
                            doc["summary"].clone(),
                        )
                    } else {
                        let lines: Vec<Value> = run
                            .stdout
                            .lines()
                            .map(|l| serde_json::from_str(l).unwrap())
                            .collect();
                        let last = lines.last().cloned().unwrap_or_default();
                        assert_eq!(last["type"], "summary", "{name}: the summary comes last");
                        (
                            lines.into_iter().filter(|l| l["type"] == "file").collect(),
                            last,
                        )
                    };
                    assert_eq!(summary["result"], "incomplete", "{name}: {summary}");
                    let entry = files
                        .iter()
                        .find(|f| f["key"] == *folder)
                        .unwrap_or_else(|| panic!("{name}: no entry for {folder}: {files:?}"));
                    assert_eq!(entry["status"], "error", "{name}");
                    let detail = entry["detail"].as_str().unwrap();
                    assert!(
                        detail.contains("failed") && detail.contains("none was checked"),
                        "{name}: {entry}"
                    );
                    // Nothing under the folder was looked at, so nothing else is claimed.
                    assert_eq!(files.len(), 1, "{name}: {files:?}");
                }));
            }
        }
        for handle in running {
            handle.join().unwrap();
        }
    });
}

#[test]
fn a_folder_that_cannot_be_listed_is_reported_and_the_others_still_verify() {
    // One folder's listing failing after every retry leaves that folder unchecked (an `error`
    // entry for it: exit 3, result incomplete), and every other folder's verdict stands.
    let setup = Setup::start();
    let baseline = setup.baseline();
    let cases: Vec<(&str, Rule, &str, &str)> = vec![
        (
            "digest folder listing always 500",
            Rule::listing(Fault::Status(500), &format!("prefix={DIGESTS_US}")),
            DIGESTS_US,
            "digest",
        ),
        (
            "digest listing breaks after its first page",
            Rule::listing(Fault::BreakAfterFirstPage, &format!("prefix={DIGESTS_EU}")),
            DIGESTS_EU,
            "digest",
        ),
        (
            "digest listing body always cut short",
            Rule::listing(
                Fault::Truncate { keep_percent: 50 },
                &format!("prefix={DIGESTS_EU}"),
            ),
            DIGESTS_EU,
            "digest",
        ),
        (
            // Taken as the end, the page would have verified half the folder as all of it.
            "digest listing truncated without a continuation token",
            Rule::listing(
                Fault::TruncatedWithoutToken,
                &format!("prefix={DIGESTS_US}"),
            ),
            DIGESTS_US,
            "digest",
        ),
        (
            // Followed, the token would have been asked for forever.
            "digest listing repeating its continuation token",
            Rule::listing(Fault::RepeatedToken, &format!("prefix={DIGESTS_EU}")),
            DIGESTS_EU,
            "digest",
        ),
        (
            "log folder listing (unreferenced scan) always SlowDown",
            Rule::listing(Fault::SlowDown, &format!("prefix={LOGS_EU}")),
            LOGS_EU,
            "log",
        ),
    ];
    // Every file, valid (the fault-free run lists every file: --verbose).
    let baseline_files = baseline.doc()["files"].as_array().unwrap().clone();
    std::thread::scope(|scope| {
        let mut running = Vec::new();
        for (name, rule, folder, kind) in &cases {
            for format in ["json", "jsonl"] {
                let proxy = setup.another_proxy();
                proxy.set_rules(vec![rule.clone()]);
                let baseline_files = &baseline_files;
                running.push(scope.spawn(move || {
                    let outcome = validate_via(&proxy, format);
                    report_time(&format!("{name} ({format})"), &outcome);
                    let run = &outcome.run;
                    assert_eq!(run.code, 3, "{name}: {}{}", run.stdout, run.stderr);
                    assert!(proxy.faults() >= 1, "{name}: the fault was met");
                    let (files, summary) = if format == "json" {
                        let doc = outcome.doc();
                        (
                            doc["files"].as_array().unwrap().clone(),
                            doc["summary"].clone(),
                        )
                    } else {
                        let lines: Vec<Value> = run
                            .stdout
                            .lines()
                            .map(|l| serde_json::from_str(l).unwrap())
                            .collect();
                        let last = lines.last().cloned().unwrap_or_default();
                        assert_eq!(last["type"], "summary", "{name}: the summary comes last");
                        (
                            lines.into_iter().filter(|l| l["type"] == "file").collect(),
                            last,
                        )
                    };
                    assert_eq!(summary["result"], "incomplete", "{name}: {summary}");
                    let folder_entry = files
                        .iter()
                        .find(|f| f["key"] == *folder)
                        .unwrap_or_else(|| panic!("{name}: no entry for {folder}"));
                    assert_eq!(folder_entry["status"], "error", "{name}");
                    assert_eq!(folder_entry["kind"], *kind, "{name}");
                    assert!(
                        folder_entry["detail"].as_str().unwrap().contains("failed"),
                        "{name}: {folder_entry}"
                    );
                    // Every file outside the folder that failed: as in the fault-free run.
                    let region = folder.trim_end_matches('/').rsplit('/').next().unwrap();
                    let elsewhere: Vec<&Value> = baseline_files
                        .iter()
                        .filter(|f| !f["key"].as_str().unwrap().contains(&format!("/{region}/")))
                        .collect();
                    assert!(!elsewhere.is_empty(), "{name}: other folders exist");
                    for expected in elsewhere {
                        let key = expected["key"].as_str().unwrap();
                        let got = files
                            .iter()
                            .find(|f| f["key"] == key && f["kind"] == expected["kind"])
                            .unwrap_or_else(|| panic!("{name}: {key} missing"));
                        assert_eq!(got["status"], expected["status"], "{name}: {key}");
                    }
                    if *kind == "log" {
                        // The digests of the folder whose logs could not be listed verified,
                        // and the logs they list were checked.
                        let checked = files
                            .iter()
                            .filter(|f| {
                                f["key"].as_str().unwrap().contains(&format!("/{region}/"))
                                    && f["status"] == "valid"
                            })
                            .count();
                        assert!(
                            checked > 0,
                            "{name}: the folder's listed files were checked"
                        );
                    }
                }));
            }
        }
        for handle in running {
            handle.join().unwrap();
        }
    });
}

#[test]
fn a_log_that_cannot_be_read_is_an_error_never_tampered() {
    let setup = Setup::start();
    let baseline = setup.baseline();
    let proxy = &setup.proxy;
    // All in one chain: chains are verified one after another, so failures in two chains
    // would add up their retry time.
    let failing = [
        (
            "111122223333_CloudTrail_eu-west-1_20240301T0741Z_K6Q8ZxIkAIn4WzpI.json.gz",
            Fault::Status(500),
        ),
        (
            "111122223333_CloudTrail_eu-west-1_20240301T0101Z_FCDH9ZbtcJMMl3xe.json.gz",
            Fault::Reset,
        ),
        (
            "111122223333_CloudTrail_eu-west-1_20240301T0341Z_coaIlVrgpuYgwwYH.json.gz",
            Fault::SlowDown,
        ),
        (
            "111122223333_CloudTrail_eu-west-1_20240301T0901Z_OMajhfyeuyZZRfYR.json.gz",
            Fault::Stall {
                keep_percent: 50,
                pause: Duration::from_secs(600),
            },
        ),
    ];
    proxy.set_rules(
        failing
            .iter()
            .map(|(key, fault)| Rule::get_object(fault.clone(), key))
            .collect(),
    );
    let outcome = setup.validate("json");
    report_time(
        "four logs always failing (500, reset, SlowDown, stalled body)",
        &outcome,
    );
    assert_eq!(outcome.run.code, 3, "{}", outcome.run.stderr);
    assert_sound(&outcome, proxy);
    for (key, fault) in &failing {
        let file = outcome.file(key);
        eprintln!(
            "  {}: GetObject asked {} times; {}",
            fault.label(),
            gets(proxy, key),
            file["detail"]
        );
        assert_eq!(file["status"], "error", "{file}");
        assert!(
            file["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{file}"
        );
        assert!(gets(proxy, key) >= 3, "{fault:?} retried");
    }
    let doc = outcome.doc();
    assert_eq!(doc["summary"]["result"], "incomplete");
    assert_eq!(doc["summary"]["logs"]["unverified"], failing.len());
    assert_eq!(
        doc["summary"]["logs"]["valid"].as_u64().unwrap() + failing.len() as u64,
        baseline.doc()["summary"]["logs"]["valid"].as_u64().unwrap()
    );
    assert_eq!(
        doc["summary"]["digests"],
        baseline.doc()["summary"]["digests"]
    );
}

#[test]
fn a_storm_of_failures_uses_up_the_sdk_retry_quota_but_stays_sound() {
    // The SDK's standard retry keeps a retry quota (a token bucket of 500 shared by every S3
    // client of the process; a retried 5xx costs 10, and each retry after the first of one
    // call is never given back). Ten digests that always fail use it up; after that, other
    // requests get no SDK retries at all, only the verifier's own three reads. The us-east-1
    // digests fail three times each before they would succeed, which the SDK's six attempts
    // absorb when the quota is there. Whatever comes of it must be `error`, never a verdict.
    let setup = Setup::start();
    let proxy = &setup.proxy;
    proxy.set_rules(vec![
        Rule::get_object(
            Fault::Status(500),
            "CloudTrail-Digest_eu-west-1_management-events_us-east-1_20240301T0",
        ),
        Rule::get_object(Fault::Status(500), DIGESTS_US).first(3),
    ]);
    let outcome = setup.validate("json");
    report_time("retry storm", &outcome);
    assert_eq!(outcome.run.code, 3, "{}", outcome.run.stderr);
    assert_sound(&outcome, proxy);
    let mut errors = 0;
    let mut valid = 0;
    for (key, status) in statuses(&outcome) {
        if key.contains("CloudTrail-Digest_eu-west-1_management-events_us-east-1_20240301T0") {
            assert_eq!(status, "error", "{key}");
        }
        if key.starts_with(DIGESTS_US) {
            assert!(status == "error" || status == "valid", "{key}: {status}");
            errors += usize::from(status == "error");
            valid += usize::from(status == "valid");
        }
    }
    eprintln!(
        "  us-east-1 digests failing 3 times each: {valid} valid, {errors} error \
         (with the SDK's quota intact all would be valid)"
    );
    assert_eq!(errors + valid, 12);
}

/// The proxy itself: several requests on one keep-alive connection, a chunked upstream
/// answer passed on with a Content-Length, a rule that applies only the first time.
#[test]
fn the_proxy_speaks_http_1_1_and_counts_per_target() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    // An upstream that answers every request with a chunked body naming its target.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_port = upstream.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in upstream.incoming() {
            let mut reader = BufReader::new(stream.unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim_end().is_empty() {
                    break;
                }
            }
            let (first, second) = target.split_at(target.len() / 2);
            let mut writer = reader.into_inner();
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{first}\r\n{:x};ext=1\r\n{second}\r\n0\r\nX-Trailer: t\r\n\r\n",
                first.len(),
                second.len()
            )
            .unwrap();
        }
    });
    let proxy = FaultProxy::start(upstream_port);
    proxy.set_rules(vec![Rule::get(Fault::Status(503), "/a/b").first(1)]);

    let client = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    let mut exchange = |target: &str| -> (u16, String) {
        write!(
            writer,
            "GET {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        )
        .unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            assert!(!header.starts_with("transfer-encoding"), "{header}");
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let code = status.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, String::from_utf8(body).unwrap())
    };
    let (code, body) = exchange("/a%2Fb?x=1");
    assert_eq!(code, 503);
    assert!(body.contains("<Code>ServiceUnavailable</Code>"), "{body}");
    assert_eq!(exchange("/a%2Fb?x=1"), (200, "/a%2Fb?x=1".to_string()));
    assert_eq!(exchange("/other"), (200, "/other".to_string()));

    let seen = proxy.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.connection == seen[0].connection));
    assert_eq!(seen[0].line, "GET /a%2Fb?x=1 HTTP/1.1");
    assert_eq!(seen[0].target, "/a/b?x=1");
    assert_eq!(seen[0].fault, Some(Fault::Status(503)));
    assert_eq!(seen[1].fault, None);
}
