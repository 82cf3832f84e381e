"""Real Prometheus and Alertmanager on loopback, configured by issue E's
renderer from scaling.json, with every duration compressed by the factor."""

import json
from dataclasses import dataclass
from pathlib import Path

from .http import get_json, reachable
from .processes import Supervisor, free_port, wait_until
from .renderer import render
from .timing import LOOKBACK_SECONDS, Timing

PROMETHEUS_BIN = "prometheus"
ALERTMANAGER_BIN = "prometheus-alertmanager"


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it has no result."""
        result = _data(get_json(f"{self.url}/api/v1/query", {"query": expr}))["result"]
        return float(result[0]["value"][1]) if result else None

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[tuple[float, float]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}"}
        result = _data(get_json(f"{self.url}/api/v1/query_range", params, timeout=30))["result"]
        return [(float(t), float(v)) for t, v in result[0]["values"]] if result else []

    def firing(self) -> tuple[list[str], list[str]]:
        """Names and `scale` labels (up/down) of the alerts firing now."""
        alerts = [a["labels"] for a in _data(get_json(f"{self.url}/api/v1/alerts"))["alerts"] if a["state"] == "firing"]
        return sorted(a["alertname"] for a in alerts), sorted(a.get("scale", "") for a in alerts)


def _data(answer: dict) -> dict:
    if answer.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {answer.get('error', answer)}")
    return answer["data"]


@dataclass(frozen=True)
class Monitoring:
    prometheus: Prometheus
    alertmanager_url: str
    cpu_query: str


def start_monitoring(sup: Supervisor, timing: Timing, run_dir: Path, listener_url: str, file_sd: Path, overrides=()) -> Monitoring:
    """Render the configs, then start Alertmanager and Prometheus; `overrides` are scaling.json KEY=VALUE."""
    am_port, prom_port = free_port(), free_port()
    conf = run_dir / "monitoring"
    summary = json.loads(
        Path(render.render(str(conf), timing.factor, listener_url, str(file_sd), f"127.0.0.1:{am_port}", overrides=overrides)).read_text()
    )
    am_url = f"http://127.0.0.1:{am_port}"
    am = sup.start(
        "alertmanager",
        [
            ALERTMANAGER_BIN,
            f"--config.file={summary['files']['alertmanager.yml']}",
            f"--storage.path={run_dir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",  # no gossip: a single instance, nothing leaves loopback
        ],
    )
    wait_until("alertmanager", lambda: reachable(f"{am_url}/-/ready"), 30, proc=am, log=sup.log_path("alertmanager"))
    prom_url = f"http://127.0.0.1:{prom_port}"
    prom = sup.start(
        "prometheus",
        [
            PROMETHEUS_BIN,
            f"--config.file={summary['files']['prometheus.yml']}",
            f"--storage.tsdb.path={run_dir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            f"--query.lookback-delta={timing.duration(LOOKBACK_SECONDS)}",
            *summary["prometheus_flags"],
        ],
    )
    wait_until("prometheus", lambda: reachable(f"{prom_url}/-/ready"), 60, proc=prom, log=sup.log_path("prometheus"))
    cpu = next(r["cpu_expr"] for r in summary["rules"] if r["direction"] == "up")
    return Monitoring(Prometheus(prom_url), am_url, cpu)
