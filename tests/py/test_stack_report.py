"""What a person sees of a run: the live view, the summary and the PNG chart."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from stack import chart, summary, view  # noqa: E402
from test_stack_analysis import T0, run_of  # noqa: E402

UP = {"at": "1970-01-12T13:47:10Z", "action": "scale_up", "from": 1, "to": 3, "rule": "demand", "cause": "2 busy members", "applied": True, "consumed": ["a"]}
IDLE = {"at": "1970-01-12T13:47:16Z", "action": "none", "from": 3, "to": 3, "rule": "no_markers", "cause": "no pending markers", "applied": False, "consumed": []}


def a_run():
    r = run_of([1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1], [100, 100, 90, 60, 60, 60, 60, 60, 60, 60, 60, 5, 5])
    r.update(label="demo", options={"requests": 1000, "concurrency": 2}, decisions=[UP, IDLE], webhooks={"accepted": 1, "lost": []},
             api_calls=[{"at": T0, "method": "GET", "path": "/v2/instance", "status": 503}], survivors=[], started_pids=[1, 2])
    for s in r["samples"]:
        s["members"] = {"running": s["size"]}
    return r


def test_live_view_shows_cloud_time_the_last_scale_and_the_last_tick():
    r = a_run()
    sample = dict(r["samples"][4], cpu=61.25, firing=["PoolCpuHigh"], decision=IDLE)
    text = "\n".join(view.frame(r, sample))
    assert "24s since load start = 04m00s cloud time" in text  # factor 10, 240 s of cloud time
    assert "size 3; members: running 3" in text and "61.2 %" in text and "PoolCpuHigh" in text
    assert "scale_up 1 -> 3 (applied), rule demand: 2 busy members" in text
    assert "tick     none 3 -> 3" in text


def test_summary_reports_the_figures_and_the_leftovers():
    text = summary.text(a_run())
    assert "under 80 % for good after   180 s  (within the 10-minute deadline)" in text
    assert "webhooks acknowledged / lost    1 / 0" in text
    assert "(503: 1)" in text and "0 of 2 started" in text


def test_chart_is_a_png(tmp_path):
    path = chart.draw([a_run(), a_run()], tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert [t for t, _ in chart.applied_decisions(a_run())] == [5.0]  # 30 s after T0 at factor 10, in minutes
