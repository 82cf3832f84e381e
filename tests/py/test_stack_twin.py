"""stack.twin against the real twin binary: start, status, faults, and a
member-network clash with another twin that is retried on another network."""

import itertools
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from stack import twin as twin_mod  # noqa: E402
from stack.paths import TWIN_BIN  # noqa: E402
from stack.processes import Supervisor  # noqa: E402


@pytest.fixture
def sup(tmp_path):
    assert TWIN_BIN.exists(), f"{TWIN_BIN} is missing: ./test builds it first"
    s = Supervisor(tmp_path / "logs")
    yield s
    s.stop_all()
    assert s.survivors() == []


def test_twin_starts_reports_and_takes_faults(sup):
    t = twin_mod.start_twin(sup, factor=10, pool_size=2)
    st = t.status()
    assert st["pool"]["id"] == t.pool_id and st["pool"]["size"] == 2 and len(st["members"]) == 2
    assert t.api_env()["EXOSCALE_API_ENDPOINT"].startswith("http://127.0.0.1:")
    t.fault({"api_errors": {"status": 503, "count": 1}})
    with pytest.raises(RuntimeError, match="answered 4"):
        t.fault({"api_errors": "not an object"})


def test_a_member_network_in_use_is_retried_on_another(sup, monkeypatch):
    taken = f"127.{random.randint(200, 250)}.{random.randint(1, 254)}"
    nets = itertools.chain([taken, taken], iter(twin_mod.member_net, None))
    monkeypatch.setattr(twin_mod, "member_net", lambda: next(nets))
    first = twin_mod.start_twin(sup, factor=10, pool_size=1)
    second = twin_mod.start_twin(sup, factor=10, pool_size=1)
    ips = [m["public_ip"] for m in first.status()["members"] + second.status()["members"]]
    assert ips[0].startswith(taken + ".") and not ips[1].startswith(taken + "."), ips
    assert "member address" in sup.log_path("twin").read_text()


def test_faults_apply_in_order_one_per_observation(sup):
    from stack.run import _inject

    t = twin_mod.start_twin(sup, factor=10, pool_size=1)
    record = {"min_size": 1}
    pending = [
        ("cpu_high", {"api_errors": {"status": 503, "rate": 0.5}}),
        ("first_scale_up", {"api_errors": {"status": 429, "count": 2}}),
    ]
    quiet = {"t": 1.0, "cpu": 50.0, "size": 1}
    assert _inject(t, pending, record, quiet) == pending and "faults_injected" not in record
    both = {"t": 2.0, "cpu": 95.0, "size": 3}  # both triggers true at once: only the first fault goes out
    pending = _inject(t, pending, record, both)
    assert [f["trigger"] for f in record["faults_injected"]] == ["cpu_high"] and len(pending) == 1
    pending = _inject(t, pending, record, dict(both, t=3.0))
    assert pending == [] and [f["trigger"] for f in record["faults_injected"]] == ["cpu_high", "first_scale_up"]
    log = sup.log_path("twin").read_text()
    assert log.index('status\\":503') < log.index('status\\":429')
