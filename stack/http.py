"""Tiny JSON-over-HTTP helper for loopback control endpoints and Prometheus."""

import json
import urllib.error
import urllib.parse
import urllib.request


def get_json(url: str, params: dict | None = None, timeout: float = 5):
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def post_json(url: str, body, timeout: float = 5):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"POST {url} answered {e.code}: {e.read()[:200]!r}") from e
    return json.loads(raw) if raw.strip() else None


def reachable(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError):
        return False
