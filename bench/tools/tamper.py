#!/usr/bin/env python3
"""Tampers with a trail uploaded to an S3 endpoint (the soak test's server), directly, not
through any proxy: deletes a log, rewrites a log, plants a log beside a real one, moves a log,
deletes a digest in the middle of a chain. Keys are chosen deterministically from the bundle
directory the trail was uploaded from. Prints what it did, one JSON object.

    tamper.py --endpoint http://127.0.0.1:PORT --bucket B DIR
"""

import argparse
import gzip
import json
import os

try:
    import botocore.session
except ImportError:
    import awscli  # noqa: F401  (PyPI awscli >= 1.44 vendors botocore)
    import botocore.session


def keys_under(root, part):
    found = []
    for base, _dirs, files in os.walk(os.path.join(root, "AWSLogs")):
        for name in files:
            path = os.path.join(base, name)
            key = os.path.relpath(path, root)
            if f"/{part}/" in key and key.endswith(".json.gz"):
                found.append(key)
    return sorted(found)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("dir")
    args = parser.parse_args()
    s3 = botocore.session.get_session().create_client(
        "s3", endpoint_url=args.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    logs = keys_under(args.dir, "CloudTrail")
    digests = keys_under(args.dir, "CloudTrail-Digest")
    # Well inside the range, away from each chain's ends, spread over the folders.
    pick = lambda items, fraction: items[int(len(items) * fraction)]
    done = {}

    deleted = pick(logs, 0.21)
    s3.delete_object(Bucket=args.bucket, Key=deleted)
    done["log_deleted"] = deleted

    modified = pick(logs, 0.43)
    s3.put_object(Bucket=args.bucket, Key=modified, Body=gzip.compress(b'{"Records":[]}', mtime=0))
    done["log_modified"] = modified

    real = pick(logs, 0.65)
    folder, name = real.rsplit("/", 1)
    stem, _unique = name.rsplit("_", 1)
    planted = f"{folder}/{stem}_PLANTEDxxxxxxxx.json.gz"
    s3.put_object(Bucket=args.bucket, Key=planted, Body=gzip.compress(b'{"Records":[]}', mtime=0))
    done["log_planted"] = planted

    moved = pick(logs, 0.87)
    folder, name = moved.rsplit("/", 1)
    moved_to = f"{folder}/archive/{name}"
    s3.copy_object(Bucket=args.bucket, Key=moved_to, CopySource={"Bucket": args.bucket, "Key": moved})
    s3.delete_object(Bucket=args.bucket, Key=moved)
    done["log_moved"] = {"from": moved, "to": moved_to}

    digest = pick(digests, 0.5)
    s3.delete_object(Bucket=args.bucket, Key=digest)
    done["digest_deleted"] = digest
    print(json.dumps(done))


if __name__ == "__main__":
    main()
