"""Sign requests with the official Python signer, for the Rust differential test.

stdin:  {"cases": [{"key", "secret", "method", "url", "body", "expires"}]}
stdout: [{"url": <URL as requests prepared it>, "authorization": <header>}]

Each request goes through requests' own preparation (as python-exoscale sends
it), then ExoscaleV2Auth._sign_request with the fixed expiry. The body is
passed as UTF-8 bytes: _sign_request joins bytes and fails on a str body.
"""
import json
import sys

import requests
from exoscale_auth import ExoscaleV2Auth


def sign(case):
    body = case["body"].encode("utf-8") if case["body"] else None
    prepared = requests.Request(case["method"], case["url"], data=body).prepare()
    ExoscaleV2Auth(case["key"], case["secret"])._sign_request(prepared, case["expires"])
    return {"url": prepared.url, "authorization": prepared.headers["Authorization"]}


def main():
    cases = json.load(sys.stdin)["cases"]
    json.dump([sign(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
