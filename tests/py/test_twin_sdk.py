"""The official Exoscale Python SDK drives the twin, and every response the
twin gives validates against the official OpenAPI spec shipped with it."""

import json
from pathlib import Path

import exoscale
import jsonschema
import pytest
from exoscale.api.exceptions import ExoscaleAPIAuthException, ExoscaleAPIClientException
from exoscale.api.v2 import Client

from twin_process import Twin

SPEC = json.loads((Path(exoscale.__file__).parent / "openapi.json").read_text())


def check(path, method, body):
    """Validate `body` against the spec's 200 response schema of one operation."""
    schema = SPEC["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    # OpenAPI 3.0 schemas are draft-4 style (boolean exclusiveMinimum).
    validator = jsonschema.Draft4Validator({**schema, "components": SPEC["components"]}, format_checker=jsonschema.FormatChecker())
    validator.validate(body)


@pytest.fixture
def twin():
    with Twin("--pool-size", "2", "--time-factor", "20", "--boot-seconds", "10", "--operation-seconds", "4") as t:
        yield t


def client(twin, secret=None):
    return Client(twin.info["key"], secret or twin.info["secret"], url=twin.info["api_endpoint"])


def test_sdk_scales_waits_lists_and_evicts(twin):
    c = client(twin)
    pool_id = twin.info["pool_id"]

    pool = c.get_instance_pool(id=pool_id)
    check("/instance-pool/{id}", "get", pool)
    assert (pool["size"], pool["state"], len(pool["instances"])) == (2, "running", 2)
    check("/instance-pool", "get", c.list_instance_pools())

    op = c.scale_instance_pool(id=pool_id, size=4)
    check("/instance-pool/{id}:scale", "put", op)
    assert op["state"] == "pending"
    done = c.wait(op["id"], max_wait_time=30)
    check("/operation/{id}", "get", done)
    assert done["state"] == "success" and done["reference"]["id"] == pool_id

    listed = c.list_instances(manager_id=pool_id, manager_type="instance-pool")
    check("/instance", "get", listed)
    members = listed["instances"]
    assert len(members) == 4
    assert len({m["public-ip"] for m in members}) == 4
    assert all(m["manager"] == {"id": pool_id, "type": "instance-pool"} for m in members)
    one = c.get_instance(id=members[0]["id"])
    check("/instance/{id}", "get", one)
    assert one["public-ip"] == members[0]["public-ip"]

    twin.wait_for("new members running", lambda s: s["pool"]["state"] == "running")
    op = c.evict_instance_pool_members(id=pool_id, instances=[members[3]["id"]])
    check("/instance-pool/{id}:evict", "put", op)
    c.wait(op["id"], max_wait_time=30)
    pool = c.get_instance_pool(id=pool_id)
    assert pool["size"] == 3
    assert members[3]["id"] not in {i["id"] for i in pool["instances"]}

    zones = c.list_zones()
    check("/zone", "get", zones)
    assert "at-vie-1" in {z["name"] for z in zones["zones"]}

    calls = [(c["method"], c["path"].split("/")[2].split(":")[0]) for c in twin.status()["api_calls"]]
    assert ("PUT", "instance-pool") in calls and ("GET", "operation") in calls
    assert all(c["status"] == 200 for c in twin.status()["api_calls"])


def test_wrong_secret_gets_403_and_changes_nothing(twin):
    bad = client(twin, secret="not-the-secret")
    with pytest.raises(ExoscaleAPIAuthException):
        bad.get_instance_pool(id=twin.info["pool_id"])
    with pytest.raises(ExoscaleAPIAuthException):
        bad.scale_instance_pool(id=twin.info["pool_id"], size=5)
    s = twin.status()
    assert s["pool"]["size"] == 2
    assert [c["status"] for c in s["api_calls"]] == [403, 403]


def test_sdk_sees_4xx_for_bad_requests(twin):
    c = client(twin)
    with pytest.raises(ExoscaleAPIClientException):
        c.get_instance(id="00000000-0000-4000-8000-000000000000")
    with pytest.raises(ExoscaleAPIClientException):
        c.evict_instance_pool_members(id=twin.info["pool_id"], instances=["00000000-0000-4000-8000-000000000000"])
    assert twin.status()["pool"]["size"] == 2
