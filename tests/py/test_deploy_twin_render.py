"""prometheus/render.py: the twin stack's configs, checked by the real promtool and amtool."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from deploy_helpers import ROOT, check_tool, render

RENDER = os.path.join(ROOT, "prometheus", "render.py")


def run_render(tmp_path, *extra):
    args = [sys.executable, RENDER, "--listener", "http://127.0.0.1:18090", "--alertmanager", "127.0.0.1:19093"]
    args += ["--file-sd", str(tmp_path / "sd.json"), "--out", str(tmp_path / "out"), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("factor", ["1", "7", "60"])
def test_rendered_configs_pass_promtool_and_amtool(tmp_path, factor):
    p = run_render(tmp_path, "--time-factor", factor)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "out"
    assert "SUCCESS" in check_tool("promtool", "check", "config", str(out / "prometheus.yml"))
    assert "2 rules found" in check_tool("promtool", "check", "rules", str(out / "rules.yml"))
    check_tool("amtool", "check-config", str(out / "alertmanager.yml"))


def test_durations_are_scaled_and_routes_hit_the_listener(tmp_path):
    s = render.load_scaling()
    assert run_render(tmp_path, "--time-factor", "10").returncode == 0
    out = tmp_path / "out"
    prom = yaml.safe_load((out / "prometheus.yml").read_text())
    am = yaml.safe_load((out / "alertmanager.yml").read_text())
    rules = yaml.safe_load((out / "rules.yml").read_text())["groups"][0]
    assert prom["global"]["scrape_interval"] == render.duration(s["scrape_interval_seconds"] / 10)
    assert rules["interval"] == render.duration(s["evaluation_interval_seconds"] / 10)
    window = render.duration(s["rate_window_seconds"] / 10)
    for r in rules["rules"]:
        assert r["for"] == render.duration(s["for_seconds"] / 10)
        assert f"[{window}]" in r["expr"] and "${" not in r["expr"]
        assert r["annotations"]["cpu"] == "{{ $value }}"
        assert "query `" in r["annotations"]["demand"]
    assert am["route"]["repeat_interval"] == render.duration(s["repeat_interval_seconds"] / 10)
    urls = {rc["name"]: rc["webhook_configs"][0] for rc in am["receivers"] if "webhook_configs" in rc}
    assert {u["url"] for u in urls.values()} == {"http://127.0.0.1:18090/up", "http://127.0.0.1:18090/down"}
    assert all(u["send_resolved"] is False for u in urls.values())
    summary = json.loads((out / "render.json").read_text())
    assert summary["prometheus_flags"] == [f"--rules.alert.resend-delay={rules['interval']}"]


def test_override_changes_only_that_key(tmp_path):
    assert run_render(tmp_path, "--set", "repeat_interval_seconds=300").returncode == 0
    am = yaml.safe_load((tmp_path / "out" / "alertmanager.yml").read_text())
    assert am["route"]["repeat_interval"] == "300s"
    assert am["route"]["group_interval"] == render.duration(render.load_scaling()["group_interval_seconds"])


@pytest.mark.parametrize(
    "extra",
    [
        ["--time-factor", "0"],
        ["--time-factor", "-2"],
        ["--set", "no_such_key=1"],
        ["--set", "missing-equals"],
        ["--listener", "http://127.0.0.1"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, extra):
    p = run_render(tmp_path, *extra)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.startswith("render.py: ") and p.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "prometheus.yml").exists()


def test_duration_format():
    assert render.duration(60) == "60s"
    assert render.duration(60, 7) == "8571ms"
    assert render.duration(0.0001) == "1ms"
