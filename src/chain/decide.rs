//! One digest's verdict: the key in force, the signature (from its S3 metadata or from what its
//! successor recorded), the successor's hash link, and whether it was read where it belongs.
//!
//! This is the only place a [`VerifiedDigest`] is made: the walk checks a digest's logs only
//! through one, so checking logs against a digest whose signature did not verify does not
//! compile.

use super::ParsedDigest;
use crate::digest::{ChainId, Digest, LogFileRecord, PreviousDigest};
use crate::hash::{Sha256, Signature};
use crate::keys::KeyRing;
use crate::reason::{ChainReason, NoSignature};
use crate::status::Status;
use crate::time::UtcTime;

use super::digest_url;

/// Whether the source keeps the S3 metadata of the chain's digests, which decides what a
/// digest that needs its own signature (nothing newer vouches for it) and has none is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainMetadata {
    /// S3, or a copy whose signatures file holds some of the chain's: CloudTrail writes a
    /// signature with every digest, so one without was stripped of it (`signature_invalid`).
    Kept,
    /// A copy that kept no metadata for the chain (a plain `aws s3 sync`): there is nothing to
    /// check the digest with (`unsigned`).
    NotKept,
}

impl ChainMetadata {
    /// `Kept` when the store says it keeps the chain's metadata.
    pub fn kept_if(kept: bool) -> ChainMetadata {
        if kept {
            ChainMetadata::Kept
        } else {
            ChainMetadata::NotKept
        }
    }
}

/// How far a digest can be trusted once decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trust {
    /// A signature verified: its content is what CloudTrail wrote (whatever else its verdict
    /// says, e.g. a wrong hash link or a move).
    Authentic,
    /// No signature could be checked: its pointers are followed, its content proves nothing.
    Unsigned,
    /// Unreadable, or failed a check: nothing it says is followed.
    Failed,
}

impl Trust {
    pub fn is_authentic(self) -> bool {
        self == Trust::Authentic
    }

    /// Authentic or merely unsigned: its `previousDigest*` pointers are followed.
    pub fn is_trusted(self) -> bool {
        self != Trust::Failed
    }

    /// A digest that could not be read has only its status.
    pub fn of_unread(status: Status) -> Trust {
        if status == Status::Unsigned {
            Trust::Unsigned
        } else {
            Trust::Failed
        }
    }
}

/// A digest whose signature verified. Made only by [`decide`]: the field is private to this
/// module.
pub(super) struct VerifiedDigest(Digest);

impl VerifiedDigest {
    pub fn digest(&self) -> &Digest {
        &self.0
    }

    /// Its log list, to check against it.
    pub fn into_log_files(self) -> Vec<LogFileRecord> {
        self.0.log_files
    }
}

/// A decided digest, as trusted as its verdict allows.
pub(super) enum Checked {
    Authentic(VerifiedDigest),
    Unsigned(Digest),
    Failed(Digest),
}

impl Checked {
    pub fn trust(&self) -> Trust {
        match self {
            Checked::Authentic(_) => Trust::Authentic,
            Checked::Unsigned(_) => Trust::Unsigned,
            Checked::Failed(_) => Trust::Failed,
        }
    }

    pub fn digest(&self) -> &Digest {
        match self {
            Checked::Authentic(verified) => verified.digest(),
            Checked::Unsigned(digest) | Checked::Failed(digest) => digest,
        }
    }

    /// What it recorded of its predecessor, to hand down (whatever its trust: a signature that
    /// verifies proves the predecessor whoever passed it on).
    pub fn take_previous(&mut self) -> Option<PreviousDigest> {
        match self {
            Checked::Authentic(verified) => verified.0.previous.take(),
            Checked::Unsigned(digest) | Checked::Failed(digest) => digest.previous.take(),
        }
    }
}

/// What a digest recorded of its predecessor (`previousDigestHashValue`,
/// `previousDigestSignature`), handed to the predecessor when the walk reaches it.
pub(super) struct SuccessorLink {
    /// The successor's `s3://` URL, for details.
    pub url: String,
    pub hash: Sha256,
    pub signature: Signature,
    /// Authentic: what it recorded is what CloudTrail wrote. Otherwise its claims prove
    /// something only through the signature, never through the hash.
    pub successor: Trust,
}

impl SuccessorLink {
    /// Of the links every claimant handed down (newest claimant first), the one that decides:
    /// an authentic claimant's, otherwise the newest claimant's.
    pub fn choose(mut links: Vec<SuccessorLink>) -> Option<SuccessorLink> {
        let chosen = links
            .iter()
            .position(|l| l.successor.is_authentic())
            .unwrap_or(0);
        (chosen < links.len()).then(|| links.swap_remove(chosen))
    }
}

/// Where a digest was read, and whether a digest read names it as predecessor.
pub(super) struct ReadAt<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub has_successor: bool,
}

pub(super) struct Decision {
    pub status: Status,
    /// Why, in report order (empty for a plain `valid`).
    pub reasons: Vec<ChainReason>,
    /// For a digest read in its own bucket away from the key its own fields name: that key.
    pub moved_from: Option<String>,
    pub checked: Checked,
}

/// Decides `parsed`, read at `at`, given what its successor recorded of it (if one did) and
/// whether the source keeps the chain's metadata.
pub(super) fn decide(
    at: ReadAt<'_>,
    parsed: ParsedDigest,
    successor_link: Option<SuccessorLink>,
    chain: &ChainId,
    metadata: ChainMetadata,
    keys: Result<&KeyRing, &str>,
) -> Decision {
    let Judgement {
        status,
        reasons,
        trust,
        moved_from,
    } = judge(&at, &parsed, successor_link, chain, metadata, keys);
    let digest = parsed.digest;
    let checked = match trust {
        Trust::Authentic => Checked::Authentic(VerifiedDigest(digest)),
        Trust::Unsigned => Checked::Unsigned(digest),
        Trust::Failed => Checked::Failed(digest),
    };
    Decision {
        status,
        reasons,
        moved_from,
        checked,
    }
}

struct Judgement {
    status: Status,
    reasons: Vec<ChainReason>,
    trust: Trust,
    moved_from: Option<String>,
}

impl Judgement {
    fn new(status: Status, reason: ChainReason, trust: Trust) -> Judgement {
        Judgement {
            status,
            reasons: vec![reason],
            trust,
            moved_from: None,
        }
    }

    fn failed(status: Status, reason: ChainReason) -> Judgement {
        Judgement::new(status, reason, Trust::Failed)
    }
}

fn judge(
    at: &ReadAt<'_>,
    parsed: &ParsedDigest,
    successor_link: Option<SuccessorLink>,
    chain: &ChainId,
    metadata: ChainMetadata,
    keys: Result<&KeyRing, &str>,
) -> Judgement {
    let digest = &parsed.digest;

    // Without the region's keys nothing can be said either way: not a verdict on the digest.
    let keys = match keys {
        Ok(keys) => keys,
        Err(why) => {
            return Judgement::failed(
                Status::Error,
                ChainReason::KeysUnavailable {
                    region: chain.region.clone(),
                    why: why.to_string(),
                },
            )
        }
    };
    // The key must have been in force when the digest was signed: at its end time, or for a
    // backfill digest when it was generated.
    let signed_at = parsed
        .metadata
        .get("backfill-generation-timestamp")
        .and_then(|t| UtcTime::parse_user(t).ok())
        .filter(|_| chain.backfill)
        .unwrap_or(digest.end_time);
    let key = match keys.find_at(&digest.fingerprint, &chain.region, signed_at) {
        Ok(key) => key,
        Err(why) => {
            return Judgement::failed(Status::KeyNotFound, ChainReason::KeyNotFound { why })
        }
    };
    let message = digest.signed_message(&parsed.sha256);

    let metadata_signature = match parsed.metadata.get("signature") {
        None => None,
        Some(text) => match Signature::parse_hex(text.trim()) {
            Ok(sig) => Some(sig),
            Err(e) => {
                return Judgement::failed(
                    Status::SignatureInvalid,
                    ChainReason::MetadataSignatureMalformed { why: e.to_string() },
                )
            }
        },
    };
    if let Some(algorithm) = parsed.metadata.get("signature-algorithm") {
        if algorithm != crate::digest::SIGNATURE_ALGORITHM {
            return Judgement::failed(
                Status::SignatureInvalid,
                ChainReason::MetadataAlgorithm {
                    algorithm: algorithm.clone(),
                },
            );
        }
    }

    let mut notes: Vec<ChainReason> = Vec::new();
    // A link from a successor that could not be verified counts only if its signature verifies
    // this digest; otherwise this digest stands on its own metadata.
    let mut unproven_link: Option<String> = None;
    let successor_link = successor_link.filter(|link| {
        link.successor.is_authentic() || {
            let proves = key.verify(message.as_bytes(), &link.signature).is_ok();
            if !proves {
                unproven_link = Some(link.url.clone());
            }
            proves
        }
    });
    match successor_link {
        Some(SuccessorLink {
            url: successor_url,
            hash: expected_hash,
            signature: linked_signature,
            successor,
        }) => {
            let successor_authentic = successor.is_authentic();
            // A link from an unverified successor only got here by verifying.
            let signature_ok =
                !successor_authentic || key.verify(message.as_bytes(), &linked_signature).is_ok();
            if expected_hash != parsed.sha256 {
                if successor_authentic {
                    return Judgement::new(
                        Status::HashMismatch,
                        ChainReason::HashDiffersFromLink {
                            sha256: parsed.sha256,
                            recorded: expected_hash,
                            successor_url,
                        },
                        if signature_ok {
                            Trust::Authentic
                        } else {
                            Trust::Failed
                        },
                    );
                }
                // The signature proves this digest; the unverified successor recorded wrong.
                notes.push(ChainReason::UnverifiedLinkHashWrong {
                    recorded: expected_hash,
                    successor_url: successor_url.clone(),
                });
            }
            if !signature_ok {
                return Judgement::failed(
                    Status::SignatureInvalid,
                    ChainReason::LinkedSignatureFailed { successor_url },
                );
            }
            if let Some(metadata_signature) = metadata_signature {
                if metadata_signature != linked_signature {
                    return Judgement::new(
                        Status::SignatureInvalid,
                        ChainReason::MetadataSignatureDiffers { successor_url },
                        Trust::Authentic,
                    );
                }
            }
            if !successor_authentic {
                notes.push(ChainReason::VerifiedByUnverifiedSuccessor { successor_url });
            }
        }
        None => {
            let Some(signature) = metadata_signature else {
                let why = match (unproven_link, at.has_successor) {
                    (Some(successor_url), _) => NoSignature::UnprovenLink { successor_url },
                    (None, true) => NoSignature::SuccessorUnreadable,
                    (None, false) => NoSignature::NewestWithoutMetadata,
                };
                // Either way nothing proves or disproves its content: its pointers are
                // followed as an unsigned digest's are; only the verdict differs.
                let (status, reason) = match metadata {
                    ChainMetadata::Kept => {
                        (Status::SignatureInvalid, ChainReason::SignatureMissing(why))
                    }
                    ChainMetadata::NotKept => (Status::Unsigned, ChainReason::Unsigned(why)),
                };
                return Judgement::new(status, reason, Trust::Unsigned);
            };
            if key.verify(message.as_bytes(), &signature).is_err() {
                return Judgement::failed(Status::SignatureInvalid, ChainReason::SignatureFailed);
            }
            if let Some(successor_url) = unproven_link {
                notes.push(ChainReason::VerifiedDespiteUnprovenLink { successor_url });
            } else if at.has_successor {
                notes.push(ChainReason::VerifiedWithoutSuccessor);
            }
        }
    }

    if digest.bucket != at.bucket || digest.object != at.key {
        return Judgement {
            status: Status::Moved,
            reasons: vec![ChainReason::Moved {
                original_url: digest_url(&digest.bucket, &digest.object),
            }],
            trust: Trust::Authentic,
            moved_from: (digest.bucket == at.bucket).then(|| digest.object.clone()),
        };
    }
    Judgement {
        status: Status::Valid,
        reasons: notes,
        trust: Trust::Authentic,
        moved_from: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::keys::PublicKey;
    use crate::test_signer::TestSigner;

    const BUCKET: &str = "bucket";
    const KEY: &str = "digest/0001.json.gz";
    const SUCCESSOR: &str = "s3://bucket/digest/0002.json.gz";

    fn signer(name: &str) -> TestSigner {
        TestSigner::committed(name)
    }

    fn ring(signer: &TestSigner) -> KeyRing {
        let mut ring = KeyRing::new();
        ring.add(PublicKey::from_der(signer.public_der()).expect("a test key"));
        ring
    }

    fn chain() -> ChainId {
        ChainId {
            prefix: String::new(),
            organization_id: None,
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            trail: "trail".into(),
            home_region: "us-east-1".into(),
            backfill: false,
        }
    }

    /// A digest signed (by fingerprint) by `signer`, its S3 metadata holding `metadata`.
    fn parsed(signer: &TestSigner, metadata: &[(&str, String)]) -> ParsedDigest {
        let end_time = UtcTime::from_unix(1_709_254_800);
        ParsedDigest {
            digest: Digest {
                account_id: "111122223333".into(),
                start_time: end_time.plus_seconds(-3600),
                end_time,
                bucket: BUCKET.into(),
                object: KEY.into(),
                fingerprint: signer.fingerprint(),
                newest_event_time: None,
                oldest_event_time: None,
                previous: None,
                log_files: Vec::new(),
            },
            sha256: Sha256::of(b"the digest's bytes"),
            metadata: Arc::new(
                metadata
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect(),
            ),
        }
    }

    /// `by`'s signature over what `parsed` signs.
    fn signature(by: &TestSigner, parsed: &ParsedDigest) -> String {
        by.sign(parsed.digest.signed_message(&parsed.sha256).as_bytes())
    }

    fn link(hash: Sha256, signature: &str, successor: Trust) -> SuccessorLink {
        SuccessorLink {
            url: SUCCESSOR.into(),
            hash,
            signature: Signature::parse_hex(signature).expect("hex"),
            successor,
        }
    }

    fn read_here(has_successor: bool) -> ReadAt<'static> {
        ReadAt {
            bucket: BUCKET,
            key: KEY,
            has_successor,
        }
    }

    fn run(
        parsed: ParsedDigest,
        link: Option<SuccessorLink>,
        keys: Result<&KeyRing, &str>,
    ) -> (Status, Vec<ChainReason>, Trust) {
        let decision = decide(
            read_here(link.is_some()),
            parsed,
            link,
            &chain(),
            ChainMetadata::NotKept,
            keys,
        );
        let trust = decision.checked.trust();
        (decision.status, decision.reasons, trust)
    }

    #[test]
    fn its_own_metadata_signature_verifies_it_or_not() {
        let key = signer("us-east-1-a");
        let unsigned = parsed(&key, &[]);
        let good = parsed(&key, &[("signature", signature(&key, &unsigned))]);
        assert_eq!(
            run(good, None, Ok(&ring(&key))),
            (Status::Valid, vec![], Trust::Authentic)
        );
        let forged = parsed(
            &key,
            &[("signature", signature(&signer("attacker"), &unsigned))],
        );
        assert_eq!(
            run(forged, None, Ok(&ring(&key))),
            (
                Status::SignatureInvalid,
                vec![ChainReason::SignatureFailed],
                Trust::Failed
            )
        );
        assert_eq!(
            run(unsigned, None, Ok(&ring(&key))),
            (
                Status::Unsigned,
                vec![ChainReason::Unsigned(NoSignature::NewestWithoutMetadata)],
                Trust::Unsigned
            )
        );
    }

    #[test]
    fn a_missing_signature_where_the_source_keeps_metadata_is_invalid_not_unsigned() {
        let key = signer("us-east-1-a");
        let decided = |link: Option<SuccessorLink>| {
            let decision = decide(
                read_here(link.is_some()),
                parsed(&key, &[]),
                link,
                &chain(),
                ChainMetadata::Kept,
                Ok(&ring(&key)),
            );
            let trust = decision.checked.trust();
            (decision.status, decision.reasons, trust)
        };
        // Its pointers are still followed as an unsigned digest's are: only the verdict differs.
        assert_eq!(
            decided(None),
            (
                Status::SignatureInvalid,
                vec![ChainReason::SignatureMissing(
                    NoSignature::NewestWithoutMetadata
                )],
                Trust::Unsigned
            )
        );
        let forged = signature(&signer("attacker"), &parsed(&key, &[]));
        let unproven = link(parsed(&key, &[]).sha256, &forged, Trust::Unsigned);
        assert_eq!(
            decided(Some(unproven)),
            (
                Status::SignatureInvalid,
                vec![ChainReason::SignatureMissing(NoSignature::UnprovenLink {
                    successor_url: SUCCESSOR.into()
                })],
                Trust::Unsigned
            )
        );
        // A successor's link still proves it without its own metadata.
        let digest = parsed(&key, &[]);
        let good = link(digest.sha256, &signature(&key, &digest), Trust::Authentic);
        assert_eq!(
            decided(Some(good)),
            (Status::Valid, vec![], Trust::Authentic)
        );
    }

    #[test]
    fn without_keys_or_with_another_algorithm_there_is_no_verdict_on_the_signature() {
        let key = signer("us-east-1-a");
        let (status, reasons, trust) = run(parsed(&key, &[]), None, Err("no network"));
        assert_eq!((status, trust), (Status::Error, Trust::Failed));
        assert_eq!(
            reasons,
            [ChainReason::KeysUnavailable {
                region: "us-east-1".into(),
                why: "no network".into()
            }]
        );
        let other_key = parsed(&signer("attacker"), &[]);
        let (status, _, trust) = run(other_key, None, Ok(&ring(&key)));
        assert_eq!((status, trust), (Status::KeyNotFound, Trust::Failed));
        let algorithm = parsed(&key, &[("signature-algorithm", "MD5withRSA".into())]);
        assert_eq!(
            run(algorithm, None, Ok(&ring(&key))),
            (
                Status::SignatureInvalid,
                vec![ChainReason::MetadataAlgorithm {
                    algorithm: "MD5withRSA".into()
                }],
                Trust::Failed
            )
        );
    }

    #[test]
    fn an_authentic_successor_link_decides_the_hash() {
        let key = signer("us-east-1-a");
        let digest = parsed(&key, &[]);
        let linked = signature(&key, &digest);
        let own_hash = digest.sha256;
        let good = link(own_hash, &linked, Trust::Authentic);
        assert_eq!(
            run(parsed(&key, &[]), Some(good), Ok(&ring(&key))),
            (Status::Valid, vec![], Trust::Authentic)
        );
        // The bytes changed since the successor recorded them; the signature still holds.
        let wrong_hash = link(Sha256([9; 32]), &linked, Trust::Authentic);
        assert_eq!(
            run(parsed(&key, &[]), Some(wrong_hash), Ok(&ring(&key))),
            (
                Status::HashMismatch,
                vec![ChainReason::HashDiffersFromLink {
                    sha256: own_hash,
                    recorded: Sha256([9; 32]),
                    successor_url: SUCCESSOR.into()
                }],
                Trust::Authentic
            )
        );
        let forged = signature(&signer("attacker"), &digest);
        let bad_signature = link(own_hash, &forged, Trust::Authentic);
        assert_eq!(
            run(parsed(&key, &[]), Some(bad_signature), Ok(&ring(&key))),
            (
                Status::SignatureInvalid,
                vec![ChainReason::LinkedSignatureFailed {
                    successor_url: SUCCESSOR.into()
                }],
                Trust::Failed
            )
        );
    }

    #[test]
    fn an_unverified_successor_proves_only_through_its_signature() {
        let key = signer("us-east-1-a");
        let digest = parsed(&key, &[]);
        let linked = signature(&key, &digest);
        let wrong_hash = link(Sha256([9; 32]), &linked, Trust::Unsigned);
        assert_eq!(
            run(parsed(&key, &[]), Some(wrong_hash), Ok(&ring(&key))),
            (
                Status::Valid,
                vec![
                    ChainReason::UnverifiedLinkHashWrong {
                        recorded: Sha256([9; 32]),
                        successor_url: SUCCESSOR.into()
                    },
                    ChainReason::VerifiedByUnverifiedSuccessor {
                        successor_url: SUCCESSOR.into()
                    }
                ],
                Trust::Authentic
            )
        );
        // Its signature does not verify: the digest stands on its own metadata.
        let forged = signature(&signer("attacker"), &digest);
        let unproven = link(digest.sha256, &forged, Trust::Unsigned);
        assert_eq!(
            run(parsed(&key, &[]), Some(unproven), Ok(&ring(&key))),
            (
                Status::Unsigned,
                vec![ChainReason::Unsigned(NoSignature::UnprovenLink {
                    successor_url: SUCCESSOR.into()
                })],
                Trust::Unsigned
            )
        );
    }

    #[test]
    fn an_authentic_digest_read_elsewhere_is_moved_from_where_it_belongs() {
        let key = signer("us-east-1-a");
        let unsigned = parsed(&key, &[]);
        let signed = parsed(&key, &[("signature", signature(&key, &unsigned))]);
        let at = ReadAt {
            bucket: BUCKET,
            key: "elsewhere.json.gz",
            has_successor: false,
        };
        let decision = decide(
            at,
            signed,
            None,
            &chain(),
            ChainMetadata::NotKept,
            Ok(&ring(&key)),
        );
        assert_eq!(decision.status, Status::Moved);
        assert_eq!(decision.moved_from.as_deref(), Some(KEY));
        assert!(matches!(decision.checked, Checked::Authentic(_)));
        assert_eq!(
            decision.reasons,
            [ChainReason::Moved {
                original_url: format!("s3://{BUCKET}/{KEY}")
            }]
        );
    }
}
