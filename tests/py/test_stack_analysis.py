"""stack.analysis: the figures the acceptance test and the benchmark rely on,
on hand-built runs whose answers are known."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from stack import analysis  # noqa: E402

T0 = 1_000_000.0  # wall-clock load start


def run_of(sizes, cpu, factor=10.0, load_end_eq=600.0, min_size=1, step_eq=60.0):
    """A run sampled every `step_eq` equivalent seconds: sizes[i] and cpu[i] at i*step_eq."""
    at = lambda i: T0 + i * step_eq / factor  # noqa: E731
    return {
        "factor": factor,
        "min_size": min_size,
        "load_start": T0,
        "load_end": T0 + load_end_eq / factor,
        "samples": [{"t": at(i), "size": s, "member_count": s} for i, s in enumerate(sizes)],
        "cpu_series": [(at(i), v) for i, v in enumerate(cpu)],
    }


def test_time_under_80_for_good_ignores_an_early_dip():
    r = run_of([1] * 11, [100, 70, 100, 90, 79, 60, 60, 60, 60, 60, 60])
    assert analysis.under_high_for_good(r) == 240
    assert analysis.first_hold(r, hold=120) == 240
    assert analysis.first_hold(r, hold=600) is None


def test_never_under_80_gives_none():
    r = run_of([1] * 11, [100] * 11)
    assert analysis.under_high_for_good(r) is None
    assert analysis.first_hold(r, hold=60) is None


def test_going_back_to_the_minimum_after_the_load_is_not_a_reversal():
    r = run_of([1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 1, 1, 1], [50] * 15)
    assert analysis.reversals(r) == 0
    assert analysis.peak_size(r) == 3
    assert analysis.scale_downs_during_load(r) == []
    assert analysis.back_to_min(r) == 120  # size 1 at 720 s, load ended at 600 s


def test_flapping_counts_every_change_of_direction():
    # up, down (during load), up, then the expected down after the load, then up again
    r = run_of([1, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2, 1], [50] * 14)
    assert analysis.scale_downs_during_load(r) == [(120.0, 2, 1)]
    assert analysis.reversals(r) == 4  # 2->1 and 1->2 in load; 1->2 after the forgiven 2->1; then 2->1
    assert analysis.back_to_min(r) == 780 - 600


def test_member_minutes_integrates_members_over_equivalent_time():
    r = run_of([2, 2, 4, 4, 1], [50] * 5, step_eq=60)
    # 60 s at 2, 60 s at 2, 60 s at 4, 60 s at 4 -> (2+2+4+4) member-minutes
    assert analysis.member_minutes(r) == 12


def test_not_back_at_min_when_the_last_sample_is_above_it():
    r = run_of([1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2], [50] * 12)
    assert analysis.back_to_min(r) is None


def test_figures_bundle_is_json_ready():
    f = analysis.figures(run_of([1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1], [100, 100, 70] + [60] * 9))
    assert f == {"under_80_for_good_s": 120, "peak_size": 3, "member_minutes": 30.0, "reversals": 0, "back_to_min_s": 60, "load_seconds": 600}


def test_milestones_of_the_first_scale_up():
    r = run_of([1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3], [50, 90, 100, 100, 100, 70, 60, 60, 60, 60, 60])
    r["samples"][2]["firing_scale"] = ["up"]
    for s in r["samples"]:
        s["members"] = {"running": 1, "starting": s["size"] - 1}
    r["samples"][5]["members"] = {"running": 3}
    r["decisions"] = [{"at": "1970-01-12T13:46:58Z", "action": "scale_up", "applied": True}]  # 18 s wall after T0
    assert analysis.milestones(r) == {
        "cpu_at_or_above_80": 60,
        "up_alert_firing": 120,
        "scale_up_applied": 180,
        "new_members_running": 300,
        "under_80_for_good": 300,
    }
