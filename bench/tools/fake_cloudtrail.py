#!/usr/bin/env python3
"""A loopback stand-in for CloudTrail's JSON 1.1 API: ListPublicKeys and DescribeTrails.

    fake_cloudtrail.py --port P --bundle DIR [--trail-arn ARN --bucket B [--prefix P]]

ListPublicKeys answers with the keys of DIR/.ctverify/public-keys.json for the region named in
the request's SigV4 credential scope (the `Region` field is dropped, as AWS does not send it).
DescribeTrails answers with one trail (the ARN, bucket and prefix given). Both the AWS CLI and
ctverify call it through AWS_ENDPOINT_URL_CLOUDTRAIL. Like the one in tests/common/servers.rs.
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--trail-arn")
    parser.add_argument("--bucket")
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    with open(f"{args.bundle}/.ctverify/public-keys.json") as f:
        keys = json.load(f)["PublicKeyList"]
    trails = []
    if args.trail_arn:
        _, _, _, region, account, resource = args.trail_arn.split(":", 5)
        trail = {
            "Name": resource.split("/", 1)[1],
            "TrailARN": args.trail_arn,
            "HomeRegion": region,
            "S3BucketName": args.bucket,
            "IsMultiRegionTrail": True,
            "IsOrganizationTrail": False,
            "LogFileValidationEnabled": True,
        }
        if args.prefix:
            trail["S3KeyPrefix"] = args.prefix
        trails.append(trail)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)) or 0)
            target = self.headers.get("x-amz-target", "")
            operation = target.rsplit(".", 1)[-1]
            auth = self.headers.get("authorization", "")
            region = ""
            if "Credential=" in auth:
                parts = auth.split("Credential=", 1)[1].split("/")
                region = parts[2] if len(parts) > 2 else ""
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            status = 200
            if operation == "ListPublicKeys":
                answer = {
                    "PublicKeyList": [
                        {k: v for k, v in key.items() if k != "Region"}
                        for key in keys
                        if key.get("Region", region) == region
                    ]
                }
            elif operation == "DescribeTrails":
                wanted = request.get("trailNameList") or []
                answer = {
                    "trailList": [
                        t for t in trails if not wanted or t["TrailARN"] in wanted or t["Name"] in wanted
                    ]
                }
            else:
                status, answer = 400, {"__type": "UnknownOperationException", "message": operation}
            print(f"fake_cloudtrail: {operation} region={region} -> {status}", file=sys.stderr)
            text = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", "bench")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
