"""Fidelity of the twin's node metrics, read by real Prometheus with the
deployment's own PromQL (prometheus/scaling.json), and the NLB under `ab`.

Prometheus runs with intervals shrunk like the twin's time factor (scrape
every 250 ms, a 6 s rate window): the metrics count wall-clock seconds, so
the shapes are those of the real deployment, only faster."""

import json
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from twin_process import ROOT, Twin, free_port, stop_process

SCALING = json.loads((ROOT / "prometheus" / "scaling.json").read_text())
FACTOR = 40  # --load-seconds 10 -> 250 ms per /load
WINDOW = "6s"


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Prometheus:
    def __init__(self, targets):
        self.dir = tempfile.TemporaryDirectory(prefix="twin-prom-")
        config = {
            "global": {"scrape_interval": "250ms", "scrape_timeout": "200ms", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": SCALING["job"], "static_configs": [{"targets": targets}]}],
        }
        cfg = Path(self.dir.name) / "prometheus.yml"
        cfg.write_text(json.dumps(config))  # JSON is valid YAML
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.dir.name}/data",
             f"--web.listen-address={self.url[7:]}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                get(self.url + "/-/ready", timeout=1)
                return
            except OSError:
                assert self.proc.poll() is None, "prometheus exited"
                assert time.monotonic() < deadline, "prometheus not ready"
                time.sleep(0.2)

    def query(self, promql):
        body = json.loads(get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})))
        assert body["status"] == "success", body
        return body["data"]["result"]

    def scalar(self, promql):
        result = self.query(promql)
        assert len(result) == 1, f"{promql}: {result}"
        return float(result[0]["value"][1])

    def stop(self):
        stop_process(self.proc)
        self.dir.cleanup()


def drive(ip, duty, until):
    """Keep a member busy a `duty` share of the time until `until` (monotonic)."""
    load_s = 10 / FACTOR
    while time.monotonic() < until:
        get(f"http://{ip}:8080/load")
        if duty < 1:
            time.sleep(load_s * (1 - duty) / duty)


@pytest.fixture
def twin():
    # A 2 s health-check timeout: a busy machine must not make a live member look dead.
    with Twin("--pool-size", "3", "--time-factor", str(FACTOR), "--health-timeout", str(2 * FACTOR)) as t:
        yield t


def test_deployment_promql_reads_the_modelled_utilisation(twin):
    ips = [m["public_ip"] for m in twin.status()["members"]]
    prom = Prometheus([f"{ip}:9100" for ip in ips])
    try:
        # Members at 100 %, 50 % and 0 %: the pool average is 50 %.
        until = time.monotonic() + 8
        drivers = [threading.Thread(target=drive, args=(ip, duty, until)) for ip, duty in zip(ips, (1.0, 0.5))]
        for d in drivers:
            d.start()
        time.sleep(7.5)  # > WINDOW of steady load
        cpu = prom.scalar(SCALING["cpu_query"].replace("${window}", WINDOW))
        per_member = {
            r["metric"]["instance"].split(":")[0]: float(r["value"][1])
            for r in prom.query(f'sum by (instance) (rate(node_cpu_seconds_total{{mode!="idle"}}[{WINDOW}])) '
                                f'/ sum by (instance) (rate(node_cpu_seconds_total[{WINDOW}]))')
        }
        demand = prom.scalar(SCALING["demand_query"].replace("${window}", WINDOW).replace("${baseline}", str(SCALING["estab_baseline"])))
        idle_estab = prom.scalar(f'node_netstat_Tcp_CurrEstab{{instance="{ips[2]}:9100"}}')
        for d in drivers:
            d.join(timeout=30)
    finally:
        prom.stop()
    assert abs(cpu - 50) < 4, f"pool CPU {cpu:.1f}% (expected 50%)"
    assert abs(per_member[ips[0]] - 1.0) < 0.04, per_member
    assert abs(per_member[ips[1]] - 0.5) < 0.08, per_member
    assert per_member[ips[2]] == 0, per_member
    # In-flight connections above the idle baseline: ~1 on the first member, ~0.5 on the second.
    assert 1.1 < demand < 1.9, demand
    assert idle_estab == SCALING["estab_baseline"]


def test_ab_through_the_nlb_spreads_load(twin):
    twin.wait_for("all members healthy", lambda s: len(s["nlb"]["healthy"]) == 3)
    out = subprocess.run(["ab", "-q", "-n", "60", "-c", "2", "-s", "10", twin.info["nlb_url"] + "/load"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"Complete requests:\s+60\b", out.stdout), out.stdout
    assert re.search(r"Failed requests:\s+0\b", out.stdout), out.stdout
    s = twin.status()
    served = [m["requests_served"] for m in s["members"]]
    assert sum(served) == 60 and all(15 <= n <= 25 for n in served), served
    # The NLB counts TCP connections: ab may open one spare connection per
    # concurrent slot that it closes unused, so only the served count is exact.
    assert 60 <= s["nlb"]["requests"] <= 62 and s["nlb"]["no_backend"] == 0, s["nlb"]
