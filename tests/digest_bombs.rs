//! Many digest bombs at once: each digest is capped (64 MiB inflated), and the bytes all
//! readers keep count against one shared budget, so that a bucket full of bombs read by many
//! threads cannot take memory without bound. Its own test binary: the budget is per process.

use std::sync::{Arc, Barrier};

use ctverify::{inflate_and_hash, GzipError, Keep, DIGEST_SIZE_CAP};

use ctverify::internal::gzip;

#[test]
fn digests_read_at_once_share_a_bounded_budget() {
    const BOMB: usize = 60 * 1024 * 1024; // just under the per-digest cap
    const READERS: usize = 8;
    let bomb = Arc::new(gzip(&vec![b' '; BOMB]));
    assert!(bomb.len() < 1024 * 1024, "a bomb: {} bytes", bomb.len());
    let all_done = Arc::new(Barrier::new(READERS));
    let threads: Vec<_> = (0..READERS)
        .map(|_| {
            let bomb = bomb.clone();
            let all_done = all_done.clone();
            std::thread::spawn(move || {
                let result = inflate_and_hash(
                    &bomb[..],
                    Keep::Bytes {
                        cap: DIGEST_SIZE_CAP,
                    },
                );
                // Hold what was kept until every reader has finished.
                all_done.wait();
                match result {
                    Ok(inflated) => {
                        assert_eq!(inflated.bytes.as_deref().map(<[u8]>::len), Some(BOMB));
                        true
                    }
                    Err(GzipError::Read(e)) => {
                        assert!(e.to_string().contains("in use; try again"), "{e}");
                        false
                    }
                    Err(e) => panic!("a bomb under the cap is not {e}"),
                }
            })
        })
        .collect();
    let kept = threads
        .into_iter()
        .map(|t| t.join().expect("reader thread"))
        .filter(|kept| *kept)
        .count();
    // 256 MiB shared: at most four 60 MiB digests held at once (of eight), at least one.
    assert!(
        (1..=4).contains(&kept),
        "{kept} of {READERS} bombs held at once"
    );

    // Everything was returned to the budget when the readers let go.
    for _ in 0..2 {
        let again = inflate_and_hash(
            &bomb[..],
            Keep::Bytes {
                cap: DIGEST_SIZE_CAP,
            },
        )
        .expect("the budget is free again");
        assert_eq!(again.inflated_len, BOMB as u64);
    }
}
