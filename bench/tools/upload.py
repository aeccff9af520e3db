#!/usr/bin/env python3
"""Uploads a bundle directory (every object beside `.ctverify/`) to an S3 endpoint, each digest
with its S3 metadata from DIR/.ctverify/metadata.json, like tests/common/servers.rs does.

    upload.py --endpoint http://127.0.0.1:PORT --bucket B DIR [--threads 16]

Needs botocore (or awscli, which carries its own). Prints the number of objects and bytes
uploaded.
"""

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

try:
    import botocore.config
    import botocore.session
except ImportError:
    import awscli  # noqa: F401  (PyPI awscli >= 1.44 vendors botocore and aliases it)
    import botocore.config
    import botocore.session


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("dir")
    args = parser.parse_args()
    with open(os.path.join(args.dir, ".ctverify", "metadata.json")) as f:
        metadata = json.load(f)
    # metadata is keyed by BUCKET/KEY (the bucket the bundle stands for)
    by_key = {k.split("/", 1)[1]: v for k, v in metadata.items()}
    session = botocore.session.get_session()
    client = session.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=args.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(
            s3={"addressing_style": "path"},
            max_pool_connections=args.threads,
            retries={"max_attempts": 10, "mode": "standard"},
        ),
    )
    try:
        client.create_bucket(Bucket=args.bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    files = []
    for root, dirs, names in os.walk(args.dir):
        dirs[:] = [d for d in dirs if d != ".ctverify"]
        for name in names:
            path = os.path.join(root, name)
            files.append((os.path.relpath(path, args.dir), path))
    files.sort()

    def put(item):
        key, path = item
        with open(path, "rb") as f:
            body = f.read()
        extra = {}
        if key in by_key:
            extra["Metadata"] = by_key[key]
        client.put_object(Bucket=args.bucket, Key=key, Body=body, **extra)
        return len(body)

    with ThreadPoolExecutor(args.threads) as pool:
        total = sum(pool.map(put, files))
    print(f"uploaded {len(files)} objects, {total} bytes, to {args.endpoint}/{args.bucket}", file=sys.stderr)


if __name__ == "__main__":
    main()
