//! The one write ctverify makes to S3, a `--checkpoint s3://BUCKET/KEY`, is conditional: it
//! lands only if the object is still the one the run read (or still absent), so that two runs
//! cannot overwrite each other's checkpoint. Against moto, through the SDK client ctverify uses.

mod common;

use std::sync::Arc;

use common::servers::Moto;
use ctverify::{Aws, PutError, S3Store};

#[test]
fn a_checkpoint_is_written_only_over_the_object_the_run_read() {
    let moto = Moto::start();
    // This test binary holds this one test, so the process environment is its own.
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/nonexistent/ctverify-test-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ctverify-test-credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(name, value);
    }
    moto.put_bucket("checkpoints");
    let aws = Arc::new(Aws::load(1).expect("aws config"));
    let store = S3Store::open(aws, "checkpoints", Some(moto.endpoint()), &[], &[]).expect("store");
    let key = "audit/checkpoint.json";

    assert!(store.read_with_etag(key).expect("read").is_none());
    store.put_if(key, b"first".to_vec(), None).expect("created");
    // Another run that also found nothing cannot create it over the first.
    assert!(matches!(
        store.put_if(key, b"second".to_vec(), None),
        Err(PutError::Conflict)
    ));
    let (bytes, etag) = store.read_with_etag(key).expect("read").expect("there");
    assert_eq!(bytes, b"first");
    store
        .put_if(key, b"third".to_vec(), Some(&etag))
        .expect("replaced");
    // A run that read the first version cannot overwrite the third.
    assert!(matches!(
        store.put_if(key, b"stale".to_vec(), Some(&etag)),
        Err(PutError::Conflict)
    ));
    let (bytes, _) = store.read_with_etag(key).expect("read").expect("there");
    assert_eq!(bytes, b"third");
}
