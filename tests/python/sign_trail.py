#!/usr/bin/env python3
"""Independent signer of a CloudTrail trail with log file integrity validation.

This is a second, separate implementation of AWS CloudTrail's digest signing,
written in Python (standard library plus the ``cryptography`` package) from
``/work/shared/spec/cloudtrail-integrity.md`` and not from the Rust code. The
Rust test-suite runs it to get a trail that ``ctverify`` did not produce itself,
and checks that ``ctverify validate DIR`` accepts it and catches the same
tampering another correct signer would expose.

It writes a ``ctverify`` bundle directory (see ``/work/shared/spec/cli.md``)::

    DIR/AWSLogs/222233334444/CloudTrail/us-west-2/2024/05/10/..._UNIQUE.json.gz
    DIR/AWSLogs/222233334444/CloudTrail-Digest/us-west-2/2024/05/10/..._py-trail_us-west-2_...Z.json.gz
    DIR/.ctverify/metadata.json      S3 user metadata (signature) of every digest
    DIR/.ctverify/public-keys.json   the signing key, as ListPublicKeys returns it
    DIR/.ctverify/bundle.json        bucket and prefix the copy stands for

The trail: one chain of 6 hourly digests, the first ending 2024-05-10T01:12:34Z,
the first one a starting digest. Each digest lists the 2 log files delivered in
its window, except the 4th, which covers an hour with no delivery
(``logFiles: []``). The output is deterministic: no randomness, gzip mtime 0.

Usage::

    python3 tests/python/sign_trail.py --out DIR --key PEM [--bucket NAME] [--tamper KIND]

KIND is one of ``none`` (default), ``modify-log``, ``delete-log``,
``delete-digest``, ``modify-digest``, ``strip-newest-signature``; the tampering
is applied after the valid trail has been written (see ``TAMPERS``).

On success it prints one JSON line::

    {"bucket": B, "digests": [digest keys, oldest first], "logs": [log keys],
     "tampered": {"kind": KIND, "key": KEY_OR_NULL}}

``digests`` and ``logs`` list the trail as signed, before tampering; ``tampered.key``
names the object the tampering touched (for ``strip-newest-signature``, the
digest whose metadata entry was removed). Bad arguments: message on stderr,
exit status 2.
"""

import argparse
import base64
import calendar
import gzip
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ACCOUNT = "222233334444"
REGION = "us-west-2"
TRAIL = "py-trail"
HOME_REGION = "us-west-2"
DEFAULT_BUCKET = "py-signer-bucket"

# The chain: 6 hourly digests; the first window starts at FIRST_START.
FIRST_START = datetime(2024, 5, 10, 0, 12, 34, tzinfo=timezone.utc)
DIGEST_COUNT = 6
# 0-based index of the digest covering an hour in which no log was delivered.
EMPTY_DIGEST = 3
# Delivery times of the logs of a window, as minutes after its start. Whole
# minutes past a start ending in :34 s keep the minute-precision timestamp in
# the log's name (HHmm) inside the window too.
LOG_OFFSETS_MIN = (10, 40)
EVENTS_PER_LOG = 3

TAMPERS = (
    "none",
    "modify-log",  # rewrite the 1st log of the 2nd digest (still valid gzip)
    "delete-log",  # delete the 2nd log of the 5th digest
    "delete-digest",  # delete the 3rd digest file, keep its metadata entry
    "modify-digest",  # change a log hashValue in the 3rd digest, re-gzip in place
    "strip-newest-signature",  # drop the newest digest's metadata.json entry
)

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class UsageError(Exception):
    """A bad argument: reported on stderr with exit status 2."""


# ---------------------------------------------------------------- helpers


def iso(t):
    """CloudTrail's time format, YYYY-MM-DDTHH:MM:SSZ (UTC)."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def gz(data):
    """One gzip member with mtime 0 and no file name, so output is reproducible."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def to_json_bytes(doc):
    # Compact JSON, as CloudTrail delivers it. The hashes cover these exact
    # bytes, so whatever form is chosen must be written out unchanged.
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def derived(*parts):
    """Deterministic pseudo-random bytes from the given labels (no RNG)."""
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()


def unique_id(*parts):
    """16 alphanumeric characters, like the UNIQUE part of a log file name."""
    return "".join(ALNUM[b % len(ALNUM)] for b in derived("unique", *parts)[:16])


def uuid_like(*parts):
    h = derived("uuid", *parts).hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def write_file(root, key, data):
    path = os.path.join(root, *key.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def object_path(root, key):
    return os.path.join(root, *key.split("/"))


# ---------------------------------------------------------------- keys


def load_key(path):
    try:
        with open(path, "rb") as f:
            pem = f.read()
    except OSError as e:
        raise UsageError(f"--key {path}: cannot read: {e.strerror}")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise UsageError(f"--key {path}: not an unencrypted PEM private key ({e})")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UsageError(f"--key {path}: not an RSA private key")
    return key


def public_der(key):
    """DER of the PKCS#1 RSAPublicKey: the form ListPublicKeys returns in Value."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


def sign(key, message):
    """RSA PKCS#1 v1.5 with SHA-256 (SHA256withRSA), hex lowercase."""
    return key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()).hex()


# ---------------------------------------------------------------- content


def make_records(seed, delivery, tampered=False):
    """A few CloudTrail-like management events, all before the delivery time."""
    names = (
        ("ec2.amazonaws.com", "DescribeInstances", True),
        ("s3.amazonaws.com", "ListBuckets", True),
        ("iam.amazonaws.com", "GetUser", True),
    )
    if tampered:
        # What an intruder would want gone from the record, replaced by noise.
        names = (
            ("sts.amazonaws.com", "GetCallerIdentity", True),
            ("ec2.amazonaws.com", "DescribeRegions", True),
            ("s3.amazonaws.com", "ListBuckets", True),
        )
    records = []
    for i in range(EVENTS_PER_LOG):
        source, name, read_only = names[i % len(names)]
        # Oldest first, 1-4 minutes apart, ending 2 minutes before delivery.
        t = delivery - timedelta(minutes=2 + 3 * (EVENTS_PER_LOG - 1 - i), seconds=i * 7)
        records.append(
            {
                "eventVersion": "1.08",
                "userIdentity": {
                    "type": "IAMUser",
                    "principalId": "AIDAEXAMPLEPYSIGNER01",
                    "arn": f"arn:aws:iam::{ACCOUNT}:user/{'mallory' if tampered else 'alice'}",
                    "accountId": ACCOUNT,
                    "accessKeyId": "AKIAEXAMPLEPYSIGNER1",
                    "userName": "mallory" if tampered else "alice",
                },
                "eventTime": iso(t),
                "eventSource": source,
                "eventName": name,
                "awsRegion": REGION,
                "sourceIPAddress": "203.0.113.66" if tampered else "198.51.100.7",
                "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0",
                "requestParameters": None,
                "responseElements": None,
                "requestID": uuid_like("request", seed, i, tampered),
                "eventID": uuid_like("event", seed, i, tampered),
                "readOnly": read_only,
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": ACCOUNT,
                "eventCategory": "Management",
            }
        )
    return records


def log_key(delivery, unique):
    stamp = delivery.strftime("%Y%m%dT%H%MZ")
    return (
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{delivery:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{unique}.json.gz"
    )


def digest_key(end):
    stamp = end.strftime("%Y%m%dT%H%M%SZ")
    return (
        f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{end:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{HOME_REGION}_{stamp}.json.gz"
    )


def event_span(records):
    times = [r["eventTime"] for r in records]
    # Same fixed-width format throughout, so string order is time order.
    return max(times), min(times)


# ---------------------------------------------------------------- the trail


def build_trail(root, bucket, key):
    """Write logs, digests and .ctverify/ under root. Returns the plan used by tampering."""
    der = public_der(key)
    fingerprint = hashlib.md5(der).hexdigest()

    digests = []  # per digest: its key, its log keys and their delivery times
    all_logs = []
    metadata = {}
    prev = None  # (key, uncompressed bytes, signature) of the previous digest

    for n in range(DIGEST_COUNT):
        start = FIRST_START + timedelta(hours=n)
        end = start + timedelta(hours=1)

        log_entries = []
        deliveries = []
        if n != EMPTY_DIGEST:
            for j, offset in enumerate(LOG_OFFSETS_MIN):
                delivery = start + timedelta(minutes=offset)
                # Named at minute precision; seconds dropped, as CloudTrail does.
                delivery = delivery.replace(second=0)
                assert start <= delivery <= end
                lkey = log_key(delivery, unique_id(bucket, n, j))
                records = make_records((n, j), delivery)
                raw = to_json_bytes({"Records": records})
                write_file(root, lkey, gz(raw))
                newest, oldest = event_span(records)
                log_entries.append(
                    {
                        "s3Bucket": bucket,
                        "s3Object": lkey,
                        "hashValue": sha256_hex(raw),  # of the *uncompressed* log
                        "hashAlgorithm": "SHA-256",
                        "newestEventTime": newest,
                        "oldestEventTime": oldest,
                    }
                )
                all_logs.append(lkey)
                deliveries.append(delivery)

        dkey = digest_key(end)
        if log_entries:
            newest = max(e["newestEventTime"] for e in log_entries)
            oldest = min(e["oldestEventTime"] for e in log_entries)
        else:
            newest = oldest = None  # an hour with no delivery

        doc = {
            "awsAccountId": ACCOUNT,
            "digestStartTime": iso(start),
            "digestEndTime": iso(end),
            "digestS3Bucket": bucket,
            "digestS3Object": dkey,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": newest,
            "oldestEventTime": oldest,
            # A starting digest has all five previousDigest* fields null.
            "previousDigestS3Bucket": bucket if prev else None,
            "previousDigestS3Object": prev[0] if prev else None,
            "previousDigestHashValue": sha256_hex(prev[1]) if prev else None,
            "previousDigestHashAlgorithm": "SHA-256" if prev else None,
            "previousDigestSignature": prev[2] if prev else None,
            "logFiles": log_entries,
        }
        raw = to_json_bytes(doc)
        # The signed string; "null" stands for a starting digest's missing predecessor.
        message = "\n".join(
            (
                doc["digestEndTime"],
                f"{bucket}/{dkey}",
                sha256_hex(raw),
                prev[2] if prev else "null",
            )
        )
        signature = sign(key, message)
        write_file(root, dkey, gz(raw))
        # The signature lives in S3 user metadata, not in the file.
        metadata[f"{bucket}/{dkey}"] = {
            "signature": signature,
            "signature-algorithm": "SHA256withRSA",
        }
        digests.append(
            {
                "key": dkey,
                "logs": [e["s3Object"] for e in log_entries],
                "deliveries": deliveries,
            }
        )
        prev = (dkey, raw, signature)

    # Validity generously wider than the trail (whole of 2024, epoch seconds).
    valid_from = calendar.timegm((2024, 1, 1, 0, 0, 0))
    valid_to = calendar.timegm((2025, 1, 1, 0, 0, 0))
    public_keys = {
        "PublicKeyList": [
            {
                "Value": base64.b64encode(der).decode("ascii"),
                "ValidityStartTime": valid_from,
                "ValidityEndTime": valid_to,
                "Fingerprint": fingerprint,
                "Region": REGION,
            }
        ]
    }
    bundle = {
        "bucket": bucket,
        "prefix": "",
        "copied_from": "python signer",
        "copied_at": "2024-05-11T00:00:00Z",
    }
    write_json(root, "metadata.json", metadata)
    write_json(root, "public-keys.json", public_keys)
    write_json(root, "bundle.json", bundle)
    return digests, all_logs, metadata


def write_json(root, name, doc):
    path = os.path.join(root, ".ctverify", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------- tampering


def tamper(root, kind, bucket, digests, metadata):
    """Apply one kind of tampering to the written trail; return the key touched."""
    if kind == "none":
        return None

    if kind == "modify-log":
        lkey = digests[1]["logs"][0]
        delivery = digests[1]["deliveries"][0]
        # Same name and delivery time, other events: the gzip stays valid, only
        # the hash recorded in the 2nd digest no longer matches.
        raw = to_json_bytes({"Records": make_records((1, 0), delivery, tampered=True)})
        write_file(root, lkey, gz(raw))
        return lkey

    if kind == "delete-log":
        lkey = digests[4]["logs"][1]
        os.remove(object_path(root, lkey))
        return lkey

    if kind == "delete-digest":
        dkey = digests[2]["key"]
        os.remove(object_path(root, dkey))  # metadata.json keeps its entry
        return dkey

    if kind == "modify-digest":
        dkey = digests[2]["key"]
        path = object_path(root, dkey)
        with open(path, "rb") as f:
            doc = json.loads(gzip.decompress(f.read()))
        entry = doc["logFiles"][0]
        # Flip the first hex digit: still a well-formed hash, just the wrong one.
        h = entry["hashValue"]
        entry["hashValue"] = ("0" if h[0] != "0" else "1") + h[1:]
        # Re-serialised the same way, so only that value differs from the original.
        write_file(root, dkey, gz(to_json_bytes(doc)))
        return dkey

    if kind == "strip-newest-signature":
        dkey = digests[-1]["key"]
        del metadata[f"{bucket}/{dkey}"]
        write_json(root, "metadata.json", metadata)
        return dkey

    raise AssertionError(kind)  # argparse restricts the choices


# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Write a signed CloudTrail trail (ctverify bundle) for tests."
    )
    p.add_argument("--out", required=True, help="bundle directory (absent or empty)")
    p.add_argument("--key", required=True, help="RSA private key PEM (PKCS#1)")
    p.add_argument("--bucket", default=DEFAULT_BUCKET, help="bucket the copy stands for")
    p.add_argument("--tamper", default="none", choices=TAMPERS, help="tampering to apply")
    return p.parse_args(argv)


def check_out_dir(out):
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UsageError(f"--out {out}: exists and is not a directory")
        if os.listdir(out):
            raise UsageError(f"--out {out}: directory is not empty")


def check_bucket(bucket):
    # Enough to keep "BUCKET/KEY" metadata names unambiguous; not all S3 rules.
    if not bucket or "/" in bucket or any(c.isspace() for c in bucket):
        raise UsageError(f"--bucket {bucket!r}: not a bucket name")


def main(argv=None):
    args = parse_args(argv)
    try:
        check_bucket(args.bucket)
        check_out_dir(args.out)
        key = load_key(args.key)
    except UsageError as e:
        print(f"sign_trail.py: error: {e}", file=sys.stderr)
        return 2

    os.makedirs(args.out, exist_ok=True)
    digests, logs, metadata = build_trail(args.out, args.bucket, key)
    touched = tamper(args.out, args.tamper, args.bucket, digests, metadata)

    print(
        json.dumps(
            {
                "bucket": args.bucket,
                "digests": [d["key"] for d in digests],
                "logs": logs,
                "tampered": {"kind": args.tamper, "key": touched},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
