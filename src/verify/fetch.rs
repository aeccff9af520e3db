//! Reading a chain's digests for its walk: each one read (tried again when the read breaks
//! off), inflated, parsed and put in the chain's [`DigestSpill`], the walk holding only its
//! [`DigestHead`]; a chain whose trail changed buckets is followed into the old bucket, and a
//! predecessor a digest names that the listing did not show is read at its key before anything
//! calls it missing. As the newest digests come in, the logs they list are offered for reading
//! ahead ([`LogsAhead`]). [`load_digest`] gives the walk a spilled digest back in full.

use rayon::prelude::*;

use super::retry::{with_retries, Attempt};
use super::ValidateOptions;
use crate::chain::{DigestHead, FetchOutcome, FetchedDigest, LogKeySet, ParsedDigest};
use crate::digest::{ChainId, Digest, DigestKey};
use crate::gzip::{inflate_and_hash, GzipError, Keep, KeptBytes, DIGEST_SIZE_CAP};
use crate::hash::Sha256;
use crate::progress::Progress;
use crate::read_ahead::{LogsAhead, ReadWindow, ReadsObject};
use crate::spill::{DigestSpill, DigestSpillReader};
use crate::status::Status;
use crate::store::{Object, ObjectStore, StoreError};
use crate::time::UtcTime;

/// One chain's digests, read and spilled.
pub(super) struct ChainDigests {
    /// Every digest read (or why it could not be), as the walk takes them.
    pub heads: Vec<FetchedDigest<DigestHead>>,
    /// When each backfill digest among them was generated: the key in force then signed it.
    pub backfill_generated: Vec<UtcTime>,
    /// Logs read ahead, to be discarded once the chain's checks are done (those no check took
    /// are still held by the store).
    pub read_ahead: Vec<String>,
}

/// Reads the digests `listed` (key, end time its key names) of one chain into `spill`, and the
/// predecessors they name within the range that the listing did not show: those of other
/// buckets the chain leads to, and those of its own folder. Fails only when this machine does
/// (the spill file, or a store's own temporary files).
pub(super) fn fetch_chain_digests(
    store: &dyn ObjectStore,
    options: &ValidateOptions,
    chain: &ChainId,
    mut listed: Vec<(String, UtcTime)>,
    spill: &DigestSpill,
) -> std::io::Result<ChainDigests> {
    // Newest first, in that order (the walk's), so that the logs read ahead are those the
    // walk hands out first.
    listed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let ahead = LogsAhead::new(store, options.concurrency, listed.len());
    // Their reads are sent ahead of the threads that parse them (see [`ReadWindow`]).
    let ranked = listed.into_iter().enumerate().map(RankedDigest);
    let mut fetched: Vec<SpilledDigest> =
        ReadWindow::new(store, ranked, options.concurrency, options.concurrency)
            .par_bridge()
            .map(|RankedDigest(ranked)| ranked)
            .map(|(rank, (key, named_end))| {
                ahead.digest_started();
                let fetched = fetch_digest(
                    store,
                    store.bucket(),
                    &key,
                    named_end,
                    true,
                    spill,
                    Some((&ahead, rank)),
                );
                ahead.digest_done();
                fetched
            })
            .collect::<std::io::Result<_>>()?;
    // Predecessors named within the range and not listed are read at their keys, and so on
    // down the chain. A trail whose bucket was changed continues its chain in the old bucket,
    // which is not listed at all. In the chain's own folder, a listing is never the only
    // proof that a digest is gone: a store whose listing skipped some keys (a start-after it
    // read otherwise than S3) must not turn an intact trail into a tampered one. Only the key
    // CloudTrail would give this chain's digest is read there (the name comes from a digest
    // not yet verified); one that is not there is left for the walk to report missing.
    let own = store.bucket();
    let mut seen = LogKeySet::default();
    for f in &fetched {
        seen.insert(&f.head.bucket, &f.head.key);
    }
    let mut next = 0;
    loop {
        let unlisted: Vec<(String, String, UtcTime)> = fetched[next..]
            .iter()
            .filter_map(|f| f.predecessor.clone())
            .filter(|(bucket, _, name)| bucket != own || name.chain == *chain)
            .filter(|(bucket, key, name)| {
                options.range.contains(name.end_time) && seen.insert(bucket, key)
            })
            .map(|(bucket, key, name)| (bucket, key, name.end_time))
            .collect();
        next = fetched.len();
        if unlisted.is_empty() {
            break;
        }
        let more: Vec<SpilledDigest> = unlisted
            .into_par_iter()
            .map(|(bucket, key, end)| fetch_digest(store, &bucket, &key, end, false, spill, None))
            .collect::<std::io::Result<_>>()?;
        fetched.extend(more.into_iter().filter(|f| {
            let absent = matches!(
                f.head.outcome,
                FetchOutcome::Failed {
                    status: Status::NotFound,
                    ..
                }
            );
            !(absent && f.head.bucket == own)
        }));
    }
    drop(seen);
    let backfill_generated = fetched.iter().filter_map(|f| f.generated_at).collect();
    let heads: Vec<FetchedDigest<DigestHead>> = fetched.into_iter().map(|f| f.head).collect();
    Progress::add(&options.progress.digests_done, heads.len() as u64);
    Ok(ChainDigests {
        heads,
        backfill_generated,
        read_ahead: ahead.into_sent(),
    })
}

/// A listed digest (its key, and the end time its key names) with its place in the walk's
/// order.
struct RankedDigest((usize, (String, UtcTime)));

impl ReadsObject for RankedDigest {
    fn object(&self) -> Option<(Option<&str>, &str)> {
        Some((None, &self.0 .1 .0))
    }
}

/// A digest read and put in the spill file: the head the walk holds, and what following the
/// chain and choosing its signing key still need from the rest of it.
struct SpilledDigest {
    head: FetchedDigest<DigestHead>,
    /// The predecessor it names, when that is a digest's key: (bucket, key, what the key says).
    predecessor: Option<(String, String, DigestKey)>,
    /// For a backfill digest, when it was generated (the key in force then signed it).
    generated_at: Option<UtcTime>,
}

/// Reads one digest and puts it in `spill`, keeping only its head; offers the logs it lists
/// (in the store's bucket) to `ahead` at its rank. Fails only when this machine does.
fn fetch_digest(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    named_end: UtcTime,
    listed: bool,
    spill: &DigestSpill,
    ahead: Option<(&LogsAhead, usize)>,
) -> std::io::Result<SpilledDigest> {
    let outcome = with_retries(|| read_digest(store, bucket, key, listed))?;
    let mut predecessor = None;
    let mut generated_at = None;
    let outcome = match outcome {
        FetchOutcome::Failed { status, detail } => FetchOutcome::Failed { status, detail },
        FetchOutcome::Parsed((parsed, bytes)) => {
            let stored = spill.append(&bytes, &parsed.metadata)?;
            if let Some((ahead, rank)) = ahead {
                let own = store.bucket();
                ahead.offer(
                    rank,
                    parsed
                        .digest
                        .log_files
                        .iter()
                        .filter(|log| log.bucket == own)
                        .map(|log| log.object.as_str()),
                );
            }
            if let Some(previous) = &parsed.digest.previous {
                predecessor = DigestKey::parse(&previous.object)
                    .map(|name| (previous.bucket.clone(), previous.object.clone(), name));
            }
            generated_at = parsed
                .metadata
                .get("backfill-generation-timestamp")
                .and_then(|t| UtcTime::parse_user(t).ok());
            FetchOutcome::Parsed(DigestHead::of(&parsed, bucket, key, stored))
        }
    };
    Ok(SpilledDigest {
        head: FetchedDigest {
            bucket: bucket.to_string(),
            key: key.to_string(),
            named_end,
            outcome,
        },
        predecessor,
        generated_at,
    })
}

/// One attempt at reading and parsing a digest: parsed, it comes with its uncompressed bytes
/// (counted against the budget for inflated digests until spilled). Fails when this machine
/// does (see [`StoreError::Local`]).
fn read_digest(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    listed: bool,
) -> Attempt<std::io::Result<FetchOutcome<(ParsedDigest, KeptBytes)>>> {
    let failed = |status, detail: String| FetchOutcome::Failed { status, detail };
    let object = match store.get(bucket, key) {
        Ok(object) => object,
        Err(StoreError::Local(why)) => return Attempt::Final(Err(std::io::Error::other(why))),
        Err(StoreError::NotFound) if listed => {
            return Attempt::Final(Ok(failed(
                Status::NotFound,
                "listed, but not found when read".into(),
            )))
        }
        Err(StoreError::NotFound) => {
            return Attempt::Final(Ok(failed(Status::NotFound, "not found".into())))
        }
        Err(e) => return Attempt::after(&e, Ok(failed(e.status(), e.to_string()))),
    };
    parse_digest(object).map(Ok)
}

/// Inflates and parses a digest's body.
fn parse_digest(object: Object) -> Attempt<FetchOutcome<(ParsedDigest, KeptBytes)>> {
    let failed = |status, detail: String| FetchOutcome::Failed { status, detail };
    let keep = Keep::Bytes {
        cap: DIGEST_SIZE_CAP,
    };
    let inflated = match inflate_and_hash(object.body, keep) {
        Ok(inflated) => inflated,
        Err(GzipError::TrailingData) => {
            return Attempt::Final(failed(
                Status::TrailingData,
                GzipError::TrailingData.to_string(),
            ))
        }
        Err(GzipError::Read(e)) => {
            return Attempt::Transient(failed(
                Status::Error,
                format!("read failed: {}", crate::store::describe_error(&e)),
            ))
        }
        Err(e) => {
            return Attempt::Final(failed(
                Status::InvalidFormat,
                format!("invalid format: {e}"),
            ))
        }
    };
    let Some(bytes) = inflated.bytes else {
        return Attempt::Final(failed(Status::Error, "inflated bytes not kept".into()));
    };
    Attempt::Final(match Digest::parse(&bytes) {
        Err(e) => failed(Status::InvalidFormat, format!("invalid format: {e}")),
        Ok(digest) => FetchOutcome::Parsed((
            ParsedDigest {
                digest,
                sha256: inflated.sha256,
                metadata: object.metadata,
            },
            bytes,
        )),
    })
}

/// A digest put in a [`DigestSpill`], read back and parsed again.
pub(super) fn load_digest(spill: &DigestSpillReader, stored: u64) -> std::io::Result<ParsedDigest> {
    let (bytes, metadata) = spill.read(stored)?;
    // It parsed when it was read: failing now means the spill file changed under us.
    let digest = Digest::parse(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("digest read back from the spill file no longer parses: {e}"),
        )
    })?;
    Ok(ParsedDigest {
        digest,
        sha256: Sha256::of(&bytes),
        metadata,
    })
}
