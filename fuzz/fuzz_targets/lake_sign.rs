//! CloudTrail Lake sign files (`result_sign.json`) from untrusted bytes, parsed and then used
//! to verify a query's export held in memory. Invariants:
//! - parsing never panics; a parsed sign file names each result file once, as a plain name,
//!   and its signed message is the listed hashes, as written, joined by single spaces;
//! - the sign file is only ever authentic when the message it signs is the one the test key
//!   really signed (the committed `vectors/lake/valid` export): a fuzzed sign file cannot make
//!   anything valid by any other route;
//! - a result file is `valid` only when the sign file is authentic and the file's bytes have
//!   the hash it lists; every present file gets exactly one verdict.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use ctverify::{
    verify_query, FixedKeys, KeyRing, Metadata, Object, ObjectStore, SignFile, Status, StoreError,
    SIGN_FILE,
};
use libfuzzer_sys::fuzz_target;

const GENUINE_SIGN_FILE: &[u8] = include_bytes!("../../vectors/lake/valid/export/result_sign.json");
const PUBLIC_KEYS: &[u8] =
    include_bytes!("../../vectors/lake/valid/export/.ctverify/public-keys.json");
const RESULTS: [(&str, &[u8]); 3] = [
    (
        "result_1.csv.gz",
        include_bytes!("../../vectors/lake/valid/export/result_1.csv.gz"),
    ),
    (
        "result_2.csv.gz",
        include_bytes!("../../vectors/lake/valid/export/result_2.csv.gz"),
    ),
    (
        "result_3.csv.gz",
        include_bytes!("../../vectors/lake/valid/export/result_3.csv.gz"),
    ),
];
const FOLDER: &str = "export/";

/// One bucket in memory: the fuzzed sign file beside the genuine result files.
struct MemoryStore {
    objects: BTreeMap<String, Vec<u8>>,
}

impl ObjectStore for MemoryStore {
    fn bucket(&self) -> &str {
        "fuzz-bucket"
    }

    fn describe(&self) -> String {
        "memory".into()
    }

    fn list_folders(&self, _prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        visit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), StoreError> {
        for key in self.objects.keys() {
            if key.starts_with(prefix)
                && start_after.is_none_or(|s| key.as_str() > s)
                && !visit(key)
            {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Object, StoreError> {
        if bucket != self.bucket() {
            return Err(StoreError::OtherBucket(bucket.into()));
        }
        let bytes = self.objects.get(key).ok_or(StoreError::NotFound)?;
        Ok(Object {
            body: Box::new(Cursor::new(bytes.clone())),
            metadata: Metadata::default(),
        })
    }
}

struct World {
    keys: FixedKeys,
    genuine_message: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let ring = KeyRing::parse_json(PUBLIC_KEYS, None).expect("committed test keys parse");
        let genuine = SignFile::parse(GENUINE_SIGN_FILE).expect("committed sign file parses");
        World {
            keys: FixedKeys(Arc::new(ring)),
            genuine_message: genuine.signed_message(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let parsed = SignFile::parse(data);
    if let Ok(sign) = &parsed {
        let mut seen = std::collections::HashSet::new();
        for file in &sign.files {
            assert!(
                !file.name.contains('/')
                    && !file.name.is_empty()
                    && file.name != ".."
                    && file.name != "."
            );
            assert!(seen.insert(file.name.clone()), "{} listed twice", file.name);
        }
        let hashes: Vec<&str> = sign.files.iter().map(|f| f.hash_text.as_str()).collect();
        assert_eq!(sign.signed_message(), hashes.join(" "));
    }

    let mut objects: BTreeMap<String, Vec<u8>> = RESULTS
        .iter()
        .map(|(name, bytes)| (format!("{FOLDER}{name}"), bytes.to_vec()))
        .collect();
    objects.insert(format!("{FOLDER}{SIGN_FILE}"), data.to_vec());
    let store = MemoryStore { objects };
    let verdict = verify_query(&store, FOLDER, &world.keys, Some("us-east-1"));

    let authentic = verdict.public_key.is_some();
    if authentic {
        let sign = parsed.as_ref().expect("an authentic sign file parsed");
        assert_eq!(
            sign.signed_message(),
            world.genuine_message,
            "a sign file verified over a message the key never signed"
        );
    }
    let listed: HashMap<String, &ctverify::ResultFile> = parsed
        .as_ref()
        .map(|s| {
            s.files
                .iter()
                .map(|f| (format!("{FOLDER}{}", f.name), f))
                .collect()
        })
        .unwrap_or_default();
    let mut verdicts: HashMap<&str, usize> = HashMap::new();
    for result in &verdict.results {
        *verdicts.entry(result.key.as_str()).or_default() += 1;
        if result.status == Status::Valid {
            assert!(
                authentic,
                "{result:?} valid under a sign file that did not verify"
            );
            let file = listed.get(&result.key).expect("a valid file is listed");
            let bytes = &store.objects[&result.key];
            assert_eq!(ctverify::Sha256::of(bytes), file.hash, "{result:?}");
        }
    }
    for (name, _) in RESULTS {
        assert_eq!(
            verdicts
                .get(format!("{FOLDER}{name}").as_str())
                .copied()
                .unwrap_or(0),
            1,
            "{name}: {:?}",
            verdict.results
        );
    }
});
