"""The oracle scripts that the Rust differential tests trust must themselves
be right: exo2_sign.py reproduces the published EXO2 vectors, and
openapi_check.py accepts a conforming body and names what is wrong in others.
"""
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests/data/exo2-signatures.json").read_text())["cases"]


def run(script, payload):
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests/oracle" / script)],
        input=json.dumps(payload), capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(out.stdout)


def test_sign_oracle_reproduces_every_published_vector():
    cases = [dict(c, body=c.get("body") or "") for c in VECTORS]
    answers = run("exo2_sign.py", {"cases": cases})
    assert [a["authorization"] for a in answers] == [c["authorization"] for c in VECTORS]
    assert any(c["source"] == "official" for c in VECTORS)


@pytest.mark.parametrize("operation,kind,body,wrong", [
    ("scale-instance-pool", "request", {"size": 2}, None),
    ("scale-instance-pool", "request", {"size": "2"}, "size"),
    ("evict-instance-pool-members", "request", {"instances": ["not-a-uuid"]}, "instances/0"),
    ("get-operation", "response", {"id": "e2c7a1b4-9d3f-4e6a-8b5c-1f0d2e3a4b5c", "state": "success"}, None),
    ("get-operation", "response", {"state": "finished"}, "state"),
    ("list-instances", "response", {"instances": [{"public_ip": "194.182.170.21"}]}, "instances/0"),
])
def test_openapi_oracle_accepts_conforming_and_names_the_wrong_field(operation, kind, body, wrong):
    [result] = run("openapi_check.py", {"items": [{"label": "x", "operation": operation, "kind": kind, "body": body}]})
    if wrong is None:
        assert result["errors"] == []
    else:
        assert result["errors"] and all(e.startswith(wrong) for e in result["errors"]), result["errors"]
