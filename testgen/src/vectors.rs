//! The committed test vectors: `vectors/sample/` and the tamper cases under `vectors/cases/`.
//!
//! Each case starts from the same small signed trail, applies one kind of tampering, and
//! records in `expected.json` the statuses that tampering must produce: derived from what was
//! done to the files, never from running the verifier.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Bundle, ChainWriter, Delivered, HourOptions, TestSigner};
use ctverify::internal::{gzip, gzip_stored};
use ctverify::{ChainId, FileKind, Status, UtcTime};

/// The committed TEST keys (vectors/test-keys/): never AWS's.
pub struct TestKeys {
    pub us_east_1_a: TestSigner,
    pub us_east_1_b: TestSigner,
    pub eu_west_1_a: TestSigner,
    pub attacker: TestSigner,
}

impl TestKeys {
    pub fn load(dir: &Path) -> Result<TestKeys, String> {
        let load = |name: &str| {
            TestSigner::from_pem_file(&dir.join(format!("TEST-KEY-DO-NOT-TRUST-{name}.pem")))
        };
        Ok(TestKeys {
            us_east_1_a: load("us-east-1-a")?,
            us_east_1_b: load("us-east-1-b")?,
            eu_west_1_a: load("eu-west-1-a")?,
            attacker: load("attacker")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExpectedFile {
    pub kind: FileKind,
    pub key: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
}

/// What a case must produce: its exit code and every file that is not `valid`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expected {
    pub description: String,
    pub exit_code: i32,
    pub files: Vec<ExpectedFile>,
}

pub struct Case {
    pub name: &'static str,
    pub bundle: Bundle,
    pub expected: Expected,
}

fn t(text: &str) -> UtcTime {
    UtcTime::parse_field(text).unwrap_or(UtcTime::from_unix(0))
}

const HOUR: i64 = 3600;

/// Two regions of one multi-region trail over twelve hours: a key rotation in us-east-1, an
/// hour with no log files, and a gap in eu-west-1 where logging was stopped and restarted.
pub fn sample(keys: &TestKeys) -> Bundle {
    let mut bundle = Bundle::new("ctverify-sample-trail", "");
    let chain = |region: &str| ChainId {
        prefix: String::new(),
        organization_id: None,
        account_id: "111122223333".into(),
        region: region.into(),
        trail: "management-events".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    };
    let options = HourOptions {
        records_per_log: 5,
        wrong_previous_hash: false,
    };

    let mut east = ChainWriter::new(chain("us-east-1"));
    let first_end = t("2024-03-01T00:17:42Z");
    for h in 0..12 {
        let end = first_end.plus_seconds(h * HOUR);
        let signer = if h < 6 {
            &keys.us_east_1_a
        } else {
            &keys.us_east_1_b
        };
        let logs = if h == 4 { 0 } else { 2 };
        east.deliver(
            &mut bundle,
            signer,
            end.plus_seconds(-HOUR),
            end,
            logs,
            options,
        );
    }

    let mut west = ChainWriter::new(chain("eu-west-1"));
    let first_end = t("2024-03-01T00:21:05Z");
    for h in (0..5).chain(7..12) {
        if h == 7 {
            west.stop_logging();
        }
        let end = first_end.plus_seconds(h * HOUR);
        west.deliver(
            &mut bundle,
            &keys.eu_west_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }

    bundle.public_keys = vec![
        keys.us_east_1_a.key_entry(
            "us-east-1",
            t("2024-01-01T00:00:00Z"),
            t("2024-03-01T06:00:00Z"),
        ),
        keys.us_east_1_b.key_entry(
            "us-east-1",
            t("2024-03-01T05:00:00Z"),
            t("2025-01-01T00:00:00Z"),
        ),
        keys.eu_west_1_a.key_entry(
            "eu-west-1",
            t("2024-01-01T00:00:00Z"),
            t("2025-01-01T00:00:00Z"),
        ),
    ];
    bundle
}

fn base_writer() -> ChainWriter {
    ChainWriter::new(ChainId {
        prefix: "trails/prod".into(),
        organization_id: None,
        account_id: "444455556666".into(),
        region: "us-east-1".into(),
        trail: "audit-trail".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    })
}

/// The trail every case starts from: six hourly digests of two logs each, under a prefix.
fn base_trail(keys: &TestKeys) -> (Bundle, Vec<Delivered>) {
    let mut bundle = Bundle::new("ctverify-cases", "trails/prod");
    let mut writer = base_writer();
    let first_end = t("2024-06-01T01:05:09Z");
    for h in 0..6 {
        let end = first_end.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 3,
            wrong_previous_hash: false,
        };
        writer.deliver(
            &mut bundle,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    bundle.public_keys = vec![keys.us_east_1_a.key_entry(
        "us-east-1",
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    )];
    (bundle, writer.delivered)
}

fn file(kind: FileKind, key: &str, status: Status) -> ExpectedFile {
    ExpectedFile {
        kind,
        key: key.to_string(),
        status,
        moved_to: None,
    }
}

fn case(
    name: &'static str,
    description: &str,
    bundle: Bundle,
    exit_code: i32,
    mut files: Vec<ExpectedFile>,
) -> Case {
    files.sort();
    Case {
        name,
        bundle,
        expected: Expected {
            description: description.into(),
            exit_code,
            files,
        },
    }
}

pub fn cases(keys: &TestKeys) -> Vec<Case> {
    use FileKind::{Digest as D, Log as L};
    let (base, hours) = base_trail(keys);
    let mut cases = Vec::new();

    let mut b = base.clone();
    let log = &hours[2].log_keys[0];
    let other = super::log_records(
        "forged",
        "444455556666",
        "us-east-1",
        hours[2].start,
        hours[2].end,
        3,
    );
    b.objects.insert(
        log.clone(),
        gzip(&serde_json::to_vec(&other).unwrap_or_default()),
    );
    cases.push(case(
        "log-modified",
        "a log file rewritten with other records",
        b,
        1,
        vec![file(L, log, Status::HashMismatch)],
    ));

    let mut b = base.clone();
    let log = &hours[3].log_keys[1];
    b.objects.remove(log);
    cases.push(case(
        "log-deleted",
        "a log file deleted",
        b,
        1,
        vec![file(L, log, Status::NotFound)],
    ));

    let mut b = base.clone();
    let log = &hours[1].log_keys[0];
    if let Some(bytes) = b.objects.get_mut(log) {
        bytes.extend(gzip(br#"{"Records":[{"eventName":"Appended"}]}"#));
    }
    cases.push(case(
        "log-appended-gzip-member",
        "a second gzip member appended to a log file",
        b,
        1,
        vec![file(L, log, Status::TrailingData)],
    ));

    let mut b = base.clone();
    let log = &hours[4].log_keys[0];
    let plain = b.inflated(log);
    b.objects.insert(log.clone(), plain);
    cases.push(case(
        "log-not-gzip",
        "a log file stored inflated (not gzip)",
        b,
        1,
        vec![file(L, log, Status::InvalidFormat)],
    ));

    // A deleted digest leaves its logs listed by nothing: inside the hole the chain proves
    // was covered, they are unreferenced.
    let mut b = base.clone();
    b.objects.remove(&hours[3].digest_key);
    let mut files = vec![file(D, &hours[3].digest_key, Status::NotFound)];
    files.extend(
        hours[3]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unreferenced)),
    );
    cases.push(case(
        "digest-deleted",
        "one digest deleted (its metadata entry kept); its logs are now listed by no digest",
        b,
        1,
        files,
    ));

    let mut b = base.clone();
    b.objects.remove(&hours[2].digest_key);
    b.objects.remove(&hours[3].digest_key);
    cases.push(case(
        "two-digests-deleted",
        "two consecutive digests deleted: each is not_found (the AWS CLI reports one)",
        b,
        1,
        [
            file(D, &hours[2].digest_key, Status::NotFound),
            file(D, &hours[3].digest_key, Status::NotFound),
        ]
        .into_iter()
        .chain(
            hours[2..4]
                .iter()
                .flat_map(|h| h.log_keys.iter().map(|k| file(L, k, Status::Unreferenced))),
        )
        .collect(),
    ));

    // A log file written into a verified hour after the fact.
    let mut b = base.clone();
    let writer = base_writer();
    let planted_at = hours[2].start.plus_seconds(29 * 60);
    let planted = writer.log_key(planted_at, "planted");
    let records = super::log_records(
        "planted",
        "444455556666",
        "us-east-1",
        hours[2].start,
        planted_at,
        3,
    );
    b.objects.insert(
        planted.clone(),
        gzip(&serde_json::to_vec(&records).unwrap_or_default()),
    );
    cases.push(case(
        "log-planted",
        "a log file added inside a verified digest's window, listed by no digest",
        b,
        1,
        vec![file(L, &planted, Status::Unreferenced)],
    ));

    // A log moved to another day's folder, and one renamed in place.
    let mut b = base.clone();
    let original = hours[1].log_keys[0].clone();
    let elsewhere = original.replace("/2024/06/01/", "/2024/05/30/");
    let renamed_from = hours[4].log_keys[1].clone();
    let renamed_to = writer.log_key(hours[4].start.plus_seconds(25 * 60), "renamed");
    for (from, to) in [(&original, &elsewhere), (&renamed_from, &renamed_to)] {
        if let Some(bytes) = b.objects.remove(from) {
            b.objects.insert(to.clone(), bytes);
        }
    }
    let mut moved = file(L, &original, Status::Moved);
    moved.moved_to = Some(elsewhere);
    let mut renamed = file(L, &renamed_from, Status::Moved);
    renamed.moved_to = Some(renamed_to);
    cases.push(case(
        "log-moved",
        "a log moved to another date folder, and another renamed within its folder",
        b,
        1,
        vec![moved, renamed],
    ));

    let mut b = base.clone();
    let digest = &hours[3].digest_key;
    let forged_hash = ctverify::Sha256::of(b"forged").to_hex();
    b.edit_digest(digest, |v| {
        v["logFiles"][0]["hashValue"] = Value::String(forged_hash)
    });
    let mut files = vec![file(D, digest, Status::HashMismatch)];
    files.extend(
        hours[3]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "digest-modified",
        "a digest's recorded log hash changed; signature metadata untouched",
        b,
        1,
        files,
    ));

    let mut b = base.clone();
    let newest = &hours[5];
    let forged_hash = ctverify::Sha256::of(b"forged").to_hex();
    b.resign_digest(&newest.digest_key, &keys.attacker, |v| {
        v["logFiles"][0]["hashValue"] = Value::String(forged_hash);
    });
    let mut files = vec![file(D, &newest.digest_key, Status::KeyNotFound)];
    files.extend(
        newest
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "digest-resigned-other-key",
        "the newest digest changed and re-signed with a key AWS never published",
        b,
        1,
        files,
    ));

    let mut b = base.clone();
    let original = hours[3].digest_key.clone();
    let moved_key = original.replace(
        &hours[3].end.compact(),
        &hours[3].end.plus_seconds(7 * 60).compact(),
    );
    if let Some(bytes) = b.objects.remove(&original) {
        b.objects.insert(moved_key.clone(), bytes);
    }
    if let Some(meta) = b.metadata.remove(&original) {
        b.metadata.insert(moved_key.clone(), meta);
    }
    let mut moved = file(D, &original, Status::Moved);
    moved.moved_to = Some(moved_key);
    cases.push(case(
        "digest-moved",
        "a digest moved to another key (with its metadata)",
        b,
        1,
        vec![moved],
    ));

    // A digest moved (with its metadata, as an S3 copy keeps it) out of its day folder's
    // names: into a subfolder, into another day's folder under its own name, and into another
    // day's folder under another name. Each is found by its own fields and its hash.
    let mut b = base.clone();
    let move_digest = |b: &mut Bundle, from: &str, to: &str| {
        if let Some(bytes) = b.objects.remove(from) {
            b.objects.insert(to.to_string(), bytes);
        }
        if let Some(meta) = b.metadata.remove(from) {
            b.metadata.insert(to.to_string(), meta);
        }
    };
    let original = hours[3].digest_key.clone();
    let (day_folder, name) = original.rsplit_once('/').unwrap_or_default();
    let in_subfolder = format!("{day_folder}/moved/{name}");
    move_digest(&mut b, &original, &in_subfolder);
    let mut moved = file(D, &original, Status::Moved);
    moved.moved_to = Some(in_subfolder);
    cases.push(case(
        "digest-moved-to-subfolder",
        "a digest moved (with its metadata) into a subfolder of its day folder: moved, found by its own fields and its hash",
        b,
        1,
        vec![moved],
    ));

    let mut b = base.clone();
    let same_name = hours[2].digest_key.clone();
    let next_day = same_name.replace("/2024/06/01/", "/2024/06/02/");
    move_digest(&mut b, &same_name, &next_day);
    let other_name = hours[4].digest_key.clone();
    let renamed = format!(
        "{}/renamed.json.gz",
        other_name
            .replace("/2024/06/01/", "/2024/06/03/")
            .rsplit_once('/')
            .map_or("", |(folder, _)| folder)
    );
    move_digest(&mut b, &other_name, &renamed);
    let mut moved_same_name = file(D, &same_name, Status::Moved);
    moved_same_name.moved_to = Some(next_day);
    let mut moved_renamed = file(D, &other_name, Status::Moved);
    moved_renamed.moved_to = Some(renamed);
    cases.push(case(
        "digest-moved-to-other-day",
        "a digest moved into the next day's folder under its own name, and another into a later day's folder under another name",
        b,
        1,
        vec![moved_same_name, moved_renamed],
    ));

    // Moved, but not the bytes its successor recorded: not taken for the digest it claims to
    // be, which is missing; the file is no digest of the chain, and the logs it lists cannot
    // be verified.
    let mut b = base.clone();
    let original = hours[3].digest_key.clone();
    let forged_hash = ctverify::Sha256::of(b"forged").to_hex();
    b.edit_digest(&original, |v| {
        v["logFiles"][0]["hashValue"] = Value::String(forged_hash)
    });
    let (day_folder, name) = original.rsplit_once('/').unwrap_or_default();
    let in_subfolder = format!("{day_folder}/moved/{name}");
    move_digest(&mut b, &original, &in_subfolder);
    let mut files = vec![
        file(D, &original, Status::NotFound),
        file(D, &in_subfolder, Status::Unreferenced),
    ];
    files.extend(
        hours[3]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "digest-moved-and-modified",
        "a digest modified and moved into a subfolder: not what its successor recorded, so the digest is not_found and the moved file unreferenced; its logs are unverified",
        b,
        1,
        files,
    ));

    // Files that are no digest planted among the digests: a text file, and a gzip of JSON
    // that is no digest, under names no digest has.
    let mut b = base.clone();
    let (day_folder, _) = hours[1].digest_key.rsplit_once('/').unwrap_or_default();
    let notes = format!("{day_folder}/notes.txt");
    let not_a_digest = format!("{day_folder}/444455556666_CloudTrail-Digest_extra.json.gz");
    b.objects
        .insert(notes.clone(), b"nothing to see here\n".to_vec());
    b.objects.insert(
        not_a_digest.clone(),
        gzip(br#"{"Records":[{"eventName":"Planted"}]}"#),
    );
    cases.push(case(
        "digest-planted",
        "a text file and a gzip that is no digest planted in the digest folder: each is unreferenced",
        b,
        1,
        vec![
            file(D, &notes, Status::Unreferenced),
            file(D, &not_a_digest, Status::Unreferenced),
        ],
    ));

    let mut b = base.clone();
    let digest = &hours[2].digest_key;
    b.objects
        .insert(digest.clone(), b"this is not a digest, nor gzip".to_vec());
    // Its logs are still there, listed by nothing readable, in an hour no digest vouches for.
    let mut files = vec![file(D, digest, Status::InvalidFormat)];
    files.extend(
        hours[2]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "digest-corrupt",
        "a digest overwritten with junk; its logs can be neither verified nor called planted",
        b,
        1,
        files,
    ));

    // The copy keeps the chain's other signatures (as S3 keeps every digest's metadata): the
    // newest digest's missing one was removed, which is tampering, not a copy without any.
    let mut b = base.clone();
    b.metadata.remove(&hours[5].digest_key);
    let mut files = vec![file(D, &hours[5].digest_key, Status::SignatureInvalid)];
    files.extend(
        hours[5]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "newest-signature-stripped",
        "the newest digest's signature metadata is gone while the chain's other digests keep theirs: it is signature_invalid (signature missing) and its logs unverified; the rest verify through the chain",
        b,
        1,
        files,
    ));

    let mut b = base.clone();
    if let Some(meta) = b.metadata.get_mut(&hours[5].digest_key) {
        meta.insert("signature-algorithm".into(), "SHA1withRSA".into());
    }
    let mut files = vec![file(D, &hours[5].digest_key, Status::SignatureInvalid)];
    files.extend(
        hours[5]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "signature-algorithm-changed",
        "the newest digest's signature-algorithm metadata names another algorithm than SHA256withRSA: it is signature_invalid and its logs unverified",
        b,
        1,
        files,
    ));

    let mut b = base.clone();
    let newest = hours[5].digest_key.clone();
    b.metadata.retain(|k, _| *k == newest);
    cases.push(case(
        "links-only",
        "metadata only for the newest digest (as after `aws s3 sync`): every older digest verifies through the links",
        b,
        0,
        vec![],
    ));

    // `aws s3 sync` without `ctverify mirror`: no metadata at all. Only the newest digest
    // lacks a signature; every older one is proven by its successor's previousDigestSignature.
    let mut b = base.clone();
    b.metadata.clear();
    let mut files = vec![file(D, &hours[5].digest_key, Status::Unsigned)];
    files.extend(
        hours[5]
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    cases.push(case(
        "no-metadata",
        "no digest metadata at all (as after a plain `aws s3 sync`): the newest digest is unsigned and its logs unverified; every older digest verifies through the chain",
        b.clone(),
        3,
        files.clone(),
    ));

    let log = &hours[1].log_keys[0];
    let other = super::log_records(
        "forged",
        "444455556666",
        "us-east-1",
        hours[1].start,
        hours[1].end,
        3,
    );
    b.objects.insert(
        log.clone(),
        gzip(&serde_json::to_vec(&other).unwrap_or_default()),
    );
    files.push(file(L, log, Status::HashMismatch));
    cases.push(case(
        "no-metadata-log-modified",
        "no digest metadata at all, and an older log rewritten: the chain still proves the digest listing it, so the log is a hash mismatch",
        b,
        1,
        files,
    ));

    // An organization trail: member accounts under AWSLogs/o-ID/, one chain each.
    let mut b = Bundle::new("ctverify-org-trail", "");
    let mut deleted = String::new();
    for account in ["111111111111", "222222222222"] {
        let mut writer = ChainWriter::new(ChainId {
            prefix: String::new(),
            organization_id: Some("o-a1b2c3d4e5".into()),
            account_id: account.into(),
            region: "us-east-1".into(),
            trail: "org-trail".into(),
            home_region: "us-east-1".into(),
            backfill: false,
        });
        let first_end = t("2024-08-01T01:09:09Z");
        for h in 0..4 {
            let end = first_end.plus_seconds(h * HOUR);
            let options = HourOptions {
                records_per_log: 3,
                wrong_previous_hash: false,
            };
            writer.deliver(
                &mut b,
                &keys.us_east_1_a,
                end.plus_seconds(-HOUR),
                end,
                2,
                options,
            );
        }
        if account == "222222222222" {
            deleted = writer.delivered[1].log_keys[0].clone();
        }
    }
    b.objects.remove(&deleted);
    b.public_keys = base.public_keys.clone();
    cases.push(case(
        "organization",
        "an organization trail with two member accounts; a log deleted in the second",
        b,
        1,
        vec![file(L, &deleted, Status::NotFound)],
    ));

    // Backfill digests: a chain of their own beside the trail's, signed with the key in force
    // at their generation time, one of their logs modified.
    let mut b = base.clone();
    let mut backfill = ChainWriter::new(ChainId {
        backfill: true,
        ..base_writer().id
    });
    backfill.extra_metadata.insert(
        "backfill-generation-timestamp".into(),
        "2024-06-03T10:00:00Z".into(),
    );
    let first_end = t("2024-05-31T01:05:09Z");
    for h in 0..3 {
        let end = first_end.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 3,
            wrong_previous_hash: false,
        };
        backfill.deliver(
            &mut b,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    let modified = backfill.delivered[1].log_keys[1].clone();
    let other = super::log_records(
        "forged-backfill",
        "444455556666",
        "us-east-1",
        first_end,
        first_end,
        2,
    );
    b.objects.insert(
        modified.clone(),
        gzip(&serde_json::to_vec(&other).unwrap_or_default()),
    );
    cases.push(case(
        "backfill",
        "a backfill digest chain beside the trail's own; one backfilled log modified",
        b,
        1,
        vec![file(L, &modified, Status::HashMismatch)],
    ));

    // Built separately: the bad link is signed, as only the key holder could do.
    let mut b = Bundle::new("ctverify-cases", "trails/prod");
    let mut writer = ChainWriter::new(ChainId {
        prefix: "trails/prod".into(),
        organization_id: None,
        account_id: "444455556666".into(),
        region: "us-east-1".into(),
        trail: "audit-trail".into(),
        home_region: "us-east-1".into(),
        backfill: false,
    });
    let first_end = t("2024-06-01T01:05:09Z");
    for h in 0..6 {
        let end = first_end.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 3,
            wrong_previous_hash: h == 4,
        };
        writer.deliver(
            &mut b,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    b.public_keys = base.public_keys.clone();
    cases.push(case(
        "wrong-previous-hash",
        "a signed digest whose previousDigestHashValue is not its predecessor's hash",
        b,
        1,
        vec![file(
            D,
            &writer.delivered[3].digest_key,
            Status::HashMismatch,
        )],
    ));

    cases.extend(edge_cases(keys, &base, &hours));
    cases
}

/// Evidence removed where no successor testifies: the newest hours of a chain, the hour
/// before a gap, a region that stopped early.
fn edge_cases(keys: &TestKeys, base: &Bundle, hours: &[Delivered]) -> Vec<Case> {
    use FileKind::{Digest as D, Log as L};
    let mut cases = Vec::new();

    // The newest two digests deleted, their logs left: the logs prove the hours had digests.
    let mut b = base.clone();
    let mut files = Vec::new();
    for hour in &hours[4..6] {
        b.objects.remove(&hour.digest_key);
        b.metadata.remove(&hour.digest_key);
        files.push(file(D, &hour.digest_key, Status::NotFound));
        files.extend(hour.log_keys.iter().map(|k| file(L, k, Status::Unverified)));
    }
    cases.push(case(
        "tail-two-digests-deleted",
        "the newest two digests deleted (with their metadata), their logs left: the logs delivered after the last digest prove two digests missing",
        b,
        1,
        files,
    ));

    // Two regions of one trail; the newest digest of one and every log it listed deleted:
    // the other region delivering on proves it was logging.
    let mut b = base.clone();
    let mut west = ChainWriter::new(ChainId {
        region: "us-west-2".into(),
        ..base_writer().id
    });
    let first_end = t("2024-06-01T01:02:30Z");
    for h in 0..6 {
        let end = first_end.plus_seconds(h * HOUR);
        let options = HourOptions {
            records_per_log: 2,
            wrong_previous_hash: false,
        };
        west.deliver(
            &mut b,
            &keys.eu_west_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    b.public_keys.push(keys.eu_west_1_a.key_entry(
        "us-west-2",
        t("2024-01-01T00:00:00Z"),
        t("2025-01-01T00:00:00Z"),
    ));
    let newest = &west.delivered[5];
    b.objects.remove(&newest.digest_key);
    b.metadata.remove(&newest.digest_key);
    for log in &newest.log_keys {
        b.objects.remove(log);
    }
    cases.push(case(
        "tail-region-stopped-early",
        "two regions of one trail; one region's newest digest and its logs deleted: the other region's chain runs on an hour longer",
        b,
        1,
        vec![file(D, &newest.digest_key, Status::NotFound)],
    ));

    // Logging stops after four hours and starts again two hours later; the digest just
    // before the gap is deleted, its logs left.
    let mut b = Bundle::new("ctverify-cases", "trails/prod");
    let mut writer = base_writer();
    let options = HourOptions {
        records_per_log: 3,
        wrong_previous_hash: false,
    };
    let first_end = t("2024-06-01T01:05:09Z");
    for h in [0, 1, 2, 3, 6, 7] {
        if h == 6 {
            writer.stop_logging();
        }
        let end = first_end.plus_seconds(h * HOUR);
        writer.deliver(
            &mut b,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    b.public_keys = base.public_keys.clone();
    let before_gap = &writer.delivered[3];
    b.objects.remove(&before_gap.digest_key);
    b.metadata.remove(&before_gap.digest_key);
    let mut files = vec![file(D, &before_gap.digest_key, Status::NotFound)];
    files.extend(
        before_gap
            .log_keys
            .iter()
            .map(|k| file(L, k, Status::Unverified)),
    );
    let gap_deleted = case(
        "gap-digest-deleted",
        "logging stopped and started again two hours later; the digest just before the gap deleted, its logs left: they prove it was written",
        b,
        1,
        files,
    );
    cases.push(gap_deleted);

    // The same stop and restart, intact, with the calls that made them in the logs: the gap is
    // explained, and the run is valid.
    let mut b = Bundle::new("ctverify-cases", "trails/prod");
    let mut writer = base_writer();
    let arn = "arn:aws:cloudtrail:us-east-1:444455556666:trail/audit-trail";
    let admin = "arn:aws:iam::444455556666:user/admin";
    let trail_call = |name: &str, at: &str| {
        crate::trail_event_record(
            name,
            t(at),
            arn,
            admin,
            "444455556666",
            "us-east-1",
            serde_json::json!({}),
        )
    };
    for h in [0, 1, 2, 3, 6, 7] {
        if h == 3 {
            writer
                .pending_records
                .push(trail_call("StopLogging", "2024-06-01T03:20:00Z"));
        }
        if h == 6 {
            writer.stop_logging();
            writer
                .pending_records
                .push(trail_call("StartLogging", "2024-06-01T06:06:00Z"));
        }
        let end = first_end.plus_seconds(h * HOUR);
        writer.deliver(
            &mut b,
            &keys.us_east_1_a,
            end.plus_seconds(-HOUR),
            end,
            2,
            options,
        );
    }
    b.public_keys = base.public_keys.clone();
    cases.push(case(
        "gap-explained",
        "logging stopped by StopLogging and started again by StartLogging two hours later, both in verified logs: the gap is explained, nothing is tampered",
        b,
        0,
        Vec::new(),
    ));
    cases
}

/// What a CloudTrail Lake export case must produce (kinds `sign` and `result`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LakeExpected {
    pub description: String,
    pub exit_code: i32,
    /// (kind, key, status) of every file not valid.
    pub files: Vec<(String, String, Status)>,
}

pub struct LakeCase {
    pub name: &'static str,
    pub bundle: Bundle,
    pub expected: LakeExpected,
}

/// A signed CloudTrail Lake export: result files and `result_sign.json`.
pub fn lake_export(
    signer: &TestSigner,
    region: &str,
    results: &[(String, Vec<u8>)],
    complete_time: &str,
) -> Bundle {
    let mut bundle = Bundle::new("local", "");
    let files: Vec<Value> = results
        .iter()
        .map(|(name, bytes)| serde_json::json!({"fileHashValue": ctverify::Sha256::of(bytes).to_hex(), "fileName": name}))
        .collect();
    let message = files
        .iter()
        .filter_map(|f| f["fileHashValue"].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let sign = serde_json::json!({
        "region": region,
        "files": files,
        "hashAlgorithm": "SHA-256",
        "signatureAlgorithm": "SHA256withRSA",
        "queryCompleteTime": complete_time,
        "hashSignature": signer.sign(message.as_bytes()),
        "publicKeyFingerprint": signer.fingerprint().to_hex(),
    });
    for (name, bytes) in results {
        bundle.objects.insert(name.clone(), bytes.clone());
    }
    bundle.objects.insert(
        ctverify::SIGN_FILE.into(),
        serde_json::to_vec_pretty(&sign).unwrap_or_default(),
    );
    bundle
}

pub fn lake_cases(keys: &TestKeys) -> Vec<LakeCase> {
    let results: Vec<(String, Vec<u8>)> = (1..=3)
        .map(|i| {
            let csv = format!(
                "eventID,eventName,eventTime\n{}\n",
                (0..50)
                    .map(|r| format!("id-{i}-{r},GetObject,2024-09-01 10:{:02}:00", r % 60))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            (format!("result_{i}.csv.gz"), gzip_stored(csv.as_bytes()))
        })
        .collect();
    let complete = "2024-09-01 10:48:31.771";
    let valid = lake_export(&keys.us_east_1_a, "us-east-1", &results, complete);
    let with_keys = |mut b: Bundle| {
        b.public_keys = vec![keys.us_east_1_a.key_entry(
            "us-east-1",
            t("2024-01-01T00:00:00Z"),
            t("2025-01-01T00:00:00Z"),
        )];
        b
    };
    let expect = |description: &str, exit_code, files: Vec<(&str, &str, Status)>| LakeExpected {
        description: description.into(),
        exit_code,
        files: files
            .into_iter()
            .map(|(k, n, s)| (k.to_string(), n.to_string(), s))
            .collect(),
    };
    let mut cases = vec![LakeCase {
        name: "valid",
        bundle: with_keys(valid.clone()),
        expected: expect("a signed export of three result files", 0, vec![]),
    }];

    let mut b = valid.clone();
    b.objects.insert(
        "result_2.csv.gz".into(),
        gzip_stored(b"eventID,eventName,eventTime\nforged,DeleteTrail,2024-09-01 10:00:00\n"),
    );
    cases.push(LakeCase {
        name: "result-modified",
        bundle: with_keys(b),
        expected: expect(
            "a result file rewritten",
            1,
            vec![("result", "result_2.csv.gz", Status::HashMismatch)],
        ),
    });

    let mut b = valid.clone();
    b.objects.remove("result_3.csv.gz");
    cases.push(LakeCase {
        name: "result-deleted",
        bundle: with_keys(b),
        expected: expect(
            "a result file deleted",
            1,
            vec![("result", "result_3.csv.gz", Status::NotFound)],
        ),
    });

    let mut b = valid.clone();
    b.objects
        .insert("result_4.csv.gz".into(), gzip_stored(b"eventID\nplanted\n"));
    cases.push(LakeCase {
        name: "result-planted",
        bundle: with_keys(b),
        expected: expect(
            "a result file the sign file does not list",
            1,
            vec![("result", "result_4.csv.gz", Status::Unreferenced)],
        ),
    });

    // The attacker edits a result and the sign file's hash for it, without the key.
    let mut forged = results.clone();
    forged[0].1 = gzip_stored(b"eventID\nforged\n");
    let mut b = lake_export(&keys.us_east_1_a, "us-east-1", &forged, complete);
    if let Some(sign) = valid.objects.get(ctverify::SIGN_FILE) {
        let mut doc: Value = serde_json::from_slice(sign).unwrap_or(Value::Null);
        doc["files"][0]["fileHashValue"] =
            Value::String(ctverify::Sha256::of(&forged[0].1).to_hex());
        b.objects.insert(
            ctverify::SIGN_FILE.into(),
            serde_json::to_vec_pretty(&doc).unwrap_or_default(),
        );
    }
    let unverified = |name: &'static str| ("result", name, Status::Unverified);
    cases.push(LakeCase {
        name: "sign-file-edited",
        bundle: with_keys(b),
        expected: expect(
            "a result file and its hash in the sign file changed, signature untouched",
            1,
            vec![
                ("sign", ctverify::SIGN_FILE, Status::SignatureInvalid),
                unverified("result_1.csv.gz"),
                unverified("result_2.csv.gz"),
                unverified("result_3.csv.gz"),
            ],
        ),
    });

    let b = lake_export(&keys.attacker, "us-east-1", &forged, complete);
    cases.push(LakeCase {
        name: "resigned-other-key",
        bundle: with_keys(b),
        expected: expect(
            "a result file changed and the sign file re-signed with a key AWS never published",
            1,
            vec![
                ("sign", ctverify::SIGN_FILE, Status::KeyNotFound),
                unverified("result_1.csv.gz"),
                unverified("result_2.csv.gz"),
                unverified("result_3.csv.gz"),
            ],
        ),
    });
    cases
}

/// Writes `out/sample/`, `out/cases/NAME/` and `out/lake/NAME/` (each case with
/// `expected.json`).
pub fn write_all(out: &Path, keys: &TestKeys) -> std::io::Result<()> {
    for case in lake_cases(keys) {
        // The export alone under export/, so that nothing else sits in the query's folder.
        let dir = out.join("lake").join(case.name);
        case.bundle.write_to(&dir.join("export"))?;
        let mut text = serde_json::to_string_pretty(&case.expected)?;
        text.push('\n');
        std::fs::write(dir.join("expected.json"), text)?;
    }
    sample(keys).write_to(&out.join("sample"))?;
    for case in cases(keys) {
        let dir = out.join("cases").join(case.name);
        case.bundle.write_to(&dir)?;
        let mut text = serde_json::to_string_pretty(&case.expected)?;
        text.push('\n');
        std::fs::write(dir.join("expected.json"), text)?;
    }
    Ok(())
}
