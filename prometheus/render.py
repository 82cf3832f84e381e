#!/usr/bin/env python3
"""Render the twin stack's Prometheus and Alertmanager configs from scaling.json.

scaling.json is the one source of truth for the scaling alerts; Terraform
renders Grafana's rules for the real deployment from the same file, and
tests/py/test_deploy_rules_agree.py fails if the two diverge.

Every duration in scaling.json is in real seconds; here it is divided by
--time-factor so the whole stack runs faster in step with the twin.
Durations are written in whole milliseconds ("6s", "8571ms"), at least 1ms.

Files written to --out DIR (created if missing):
  prometheus.yml    global scrape/evaluation interval (scaled); job "pool"
                    from --file-sd (the file `autoscaler discover` writes);
                    job "autoscaler" scraping the listener's /metrics;
                    rule_files: rules.yml; alerting: --alertmanager.
  rules.yml         group "pool-scaling": PoolCpuHigh (cpu > high_percent)
                    and PoolCpuLow (cpu < low_percent), `for` scaled, rate
                    window scaled; label scale=up|down; annotations
                    cpu="{{ $value }}" and demand=<demand_query value> (the
                    project's value convention, read by `autoscaler listen`).
  alertmanager.yml  receivers "scale-up" -> <listener>/up and "scale-down" ->
                    <listener>/down, send_resolved false; group_wait,
                    group_interval, repeat_interval scaled.
  render.json       the scaled values actually used, plus the flags to start
                    Prometheus with (--rules.alert.resend-delay scaled, so a
                    firing alert reaches Alertmanager every evaluation).

Prints the path of render.json on success. Exit 2 with one line on bad
input (unknown key, non-positive factor, malformed URL).
"""

import argparse
import json
import os
import sys
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCALING = os.path.join(HERE, "scaling.json")

# Each alert: name, direction (listener route), comparison, threshold key.
ALERTS = (
    ("PoolCpuHigh", "up", ">", "high_percent"),
    ("PoolCpuLow", "down", "<", "low_percent"),
)


class RenderError(Exception):
    pass


def load_scaling(path=DEFAULT_SCALING, overrides=()):
    """Read scaling.json and apply KEY=NUMBER overrides (only existing keys)."""
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in s or key.startswith("_"):
            raise RenderError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(k for k in s if not k.startswith('_'))}")
        try:
            s[key] = json.loads(value)
        except ValueError:
            s[key] = value
    return s


def duration(seconds, factor=1.0):
    """Prometheus/Alertmanager duration of `seconds` real seconds scaled by 1/factor."""
    ms = max(1, round(seconds * 1000 / factor))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def promql(template, s, factor=1.0):
    """Fill ${window} and ${baseline} in one of scaling.json's queries."""
    return template.replace("${window}", duration(s["rate_window_seconds"], factor)).replace("${baseline}", str(s["estab_baseline"]))


def alert_rules(s, factor=1.0):
    """The scaling alerts in a neutral form, shared by the twin rules and the tests
    that compare them with Grafana's: name, direction, op, threshold, expr, for, interval."""
    cpu = promql(s["cpu_query"], s, factor)
    return [
        {
            "name": name,
            "direction": direction,
            "op": op,
            "threshold": s[key],
            "cpu_expr": cpu,
            "demand_expr": promql(s["demand_query"], s, factor),
            "for": duration(s["for_seconds"], factor),
            "interval": duration(s["evaluation_interval_seconds"], factor),
        }
        for name, direction, op, key in ALERTS
    ]


def rules_yaml(s, factor):
    rules = []
    for r in alert_rules(s, factor):
        # Backquotes make a Go-template raw string, so the query's double quotes need no escaping.
        demand = "{{ with query `" + r["demand_expr"] + "` }}{{ . | first | value }}{{ end }}"
        rules.append(
            {
                "alert": r["name"],
                "expr": f"({r['cpu_expr']}) {r['op']} {r['threshold']}",
                "for": r["for"],
                "labels": {"scale": r["direction"]},
                "annotations": {
                    "cpu": "{{ $value }}",
                    "demand": demand,
                    "summary": f"pool average CPU {r['op']} {r['threshold']} %",
                },
            }
        )
    return {"groups": [{"name": "pool-scaling", "interval": alert_rules(s, factor)[0]["interval"], "rules": rules}]}


def host_port(url, what):
    u = urllib.parse.urlparse(url if "://" in url else "http://" + url)
    if not u.hostname or not u.port:
        raise RenderError(f"{what} {url!r}: expected HOST:PORT or http://HOST:PORT")
    return u


def prometheus_yaml(s, factor, listener, file_sd, alertmanager):
    scrape = duration(s["scrape_interval_seconds"], factor)
    lu = host_port(listener, "--listener")
    am = host_port(alertmanager, "--alertmanager")
    return {
        # scrape_timeout defaults to 10s, which must not exceed a scaled interval.
        "global": {"scrape_interval": scrape, "scrape_timeout": scrape, "evaluation_interval": duration(s["evaluation_interval_seconds"], factor)},
        "rule_files": ["rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{am.hostname}:{am.port}"]}]}]},
        "scrape_configs": [
            {"job_name": s["job"], "file_sd_configs": [{"files": [os.path.abspath(file_sd)], "refresh_interval": scrape}]},
            {"job_name": "autoscaler", "metrics_path": "/metrics", "static_configs": [{"targets": [f"{lu.hostname}:{lu.port}"]}]},
        ],
    }


def alertmanager_yaml(s, factor, listener):
    lu = host_port(listener, "--listener")
    base = f"{lu.scheme}://{lu.hostname}:{lu.port}"
    receivers = [{"name": "none"}]
    routes = []
    for r in alert_rules(s, factor):
        name = f"scale-{r['direction']}"
        receivers.append({"name": name, "webhook_configs": [{"url": f"{base}/{r['direction']}", "send_resolved": False}]})
        routes.append({"receiver": name, "matchers": [f'scale="{r["direction"]}"']})
    return {
        "route": {
            "receiver": "none",
            "group_by": ["alertname"],
            "group_wait": duration(s["group_wait_seconds"], factor),
            "group_interval": duration(s["group_interval_seconds"], factor),
            "repeat_interval": duration(s["repeat_interval_seconds"], factor),
            "routes": routes,
        },
        "receivers": receivers,
    }


def render(out, factor, listener, file_sd, alertmanager, scaling=DEFAULT_SCALING, overrides=()):
    if not factor > 0:
        raise RenderError(f"--time-factor {factor}: must be a positive number")
    s = load_scaling(scaling, overrides)
    os.makedirs(out, exist_ok=True)
    files = {
        "prometheus.yml": prometheus_yaml(s, factor, listener, file_sd, alertmanager),
        "rules.yml": rules_yaml(s, factor),
        "alertmanager.yml": alertmanager_yaml(s, factor, listener),
    }
    for name, doc in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            yaml.safe_dump(doc, f, sort_keys=False, width=1000)
    summary = {
        "time_factor": factor,
        "files": {name: os.path.abspath(os.path.join(out, name)) for name in files},
        "durations": {k: duration(v, factor) for k, v in s.items() if k.endswith("_seconds")},
        "prometheus_flags": [f"--rules.alert.resend-delay={duration(s['evaluation_interval_seconds'], factor)}"],
        "rules": alert_rules(s, factor),
    }
    path = os.path.join(out, "render.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--time-factor", type=float, default=1.0, help="divide every duration by F (default 1: real time)")
    p.add_argument("--listener", required=True, help="the listener's base URL, e.g. http://127.0.0.1:8090")
    p.add_argument("--alertmanager", required=True, help="Alertmanager HOST:PORT that Prometheus sends alerts to")
    p.add_argument("--file-sd", required=True, help="file_sd JSON written by `autoscaler discover` (AUTOSCALER_DISCOVER_OUTPUT)")
    p.add_argument("--out", required=True, help="directory to write prometheus.yml, rules.yml, alertmanager.yml, render.json")
    p.add_argument("--scaling", default=DEFAULT_SCALING, help="scaling.json to read (default: next to this script)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one scaling.json key for this render, e.g. repeat_interval_seconds=300 (repeatable)")
    a = p.parse_args(argv)
    try:
        print(render(a.out, a.time_factor, a.listener, a.file_sd, a.alertmanager, a.scaling, a.set))
    except (RenderError, OSError, ValueError) as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
