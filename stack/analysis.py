"""Figures of one run, in equivalent (real-time) seconds since the load started.

Pure functions over the run record that `stack.run` writes (run.json), so
the acceptance test, the summary, the chart and the benchmark agree.
"""

from datetime import datetime

HIGH_PERCENT = 80.0


def _rel(run: dict, wall: float) -> float:
    """Equivalent seconds between the load start and `wall`."""
    return (wall - run["load_start"]) * run["factor"]


def size_changes(run: dict) -> list[tuple[float, int, int]]:
    """(equivalent seconds, old size, new size) for every change of the pool's target size."""
    changes, last = [], None
    for s in run["samples"]:
        if last is not None and s["size"] != last:
            changes.append((_rel(run, s["t"]), last, s["size"]))
        last = s["size"]
    return changes


def reversals(run: dict) -> int:
    """Changes of direction, not counting the one expected step from growing to shrinking after the load ended."""
    load_end = _rel(run, run["load_end"])
    count, last_dir, forgiven = 0, 0, False
    for t, old, new in size_changes(run):
        d = 1 if new > old else -1
        if last_dir and d != last_dir:
            if d < 0 and t >= load_end and not forgiven:
                forgiven = True
            else:
                count += 1
        last_dir = d
    return count


def scale_downs_during_load(run: dict) -> list[tuple[float, int, int]]:
    load_end = _rel(run, run["load_end"])
    return [c for c in size_changes(run) if c[2] < c[1] and 0 <= c[0] <= load_end]


def cpu_points(run: dict) -> list[tuple[float, float]]:
    """The pool CPU from Prometheus, (equivalent seconds, percent)."""
    return [(_rel(run, t), v) for t, v in run["cpu_series"]]


def under_high_for_good(run: dict, high: float = HIGH_PERCENT) -> float | None:
    """First time from which the CPU stayed under `high` until the load ended."""
    load_end = _rel(run, run["load_end"])
    points = [(t, v) for t, v in cpu_points(run) if 0 <= t <= load_end]
    since = None
    for t, v in points:
        if v >= high:
            since = None
        elif since is None:
            since = t
    return since


def first_hold(run: dict, hold: float, high: float = HIGH_PERCENT) -> float | None:
    """First time the CPU went under `high` and stayed there for `hold` equivalent seconds."""
    points = [(t, v) for t, v in cpu_points(run) if t >= 0]
    since = None
    for t, v in points:
        if v >= high:
            since = None
            continue
        if since is None:
            since = t
        if t - since >= hold:
            return since
    return None


def peak_size(run: dict) -> int:
    return max((s["size"] for s in run["samples"]), default=0)


def member_minutes(run: dict) -> float:
    """Members that existed (any state) integrated over time, from the load start to the end of the run."""
    total, prev = 0.0, None
    for s in run["samples"]:
        t = _rel(run, s["t"])
        if prev is not None and t > 0:
            total += (t - max(prev[0], 0.0)) * prev[1]
        prev = (t, s["member_count"])
    return total / 60


def back_to_min(run: dict) -> float | None:
    """Equivalent seconds from the end of the load until the pool is at its minimum for good."""
    load_end, since = _rel(run, run["load_end"]), None
    for s in run["samples"]:
        t = _rel(run, s["t"])
        if t < load_end:
            continue
        at_min = s["size"] == run["min_size"] and s["member_count"] == run["min_size"]
        since = (since if since is not None else t) if at_min else None
    return None if since is None else since - load_end


def milestones(run: dict) -> dict:
    """When each stage of the first scale-up happened (equivalent seconds since the load start)."""
    def first(items):
        return next(iter(items), None)

    ups = [d for d in run.get("decisions", []) if d.get("action") == "scale_up" and d.get("applied")]
    return {
        "cpu_at_or_above_80": first(t for t, v in cpu_points(run) if t >= 0 and v >= HIGH_PERCENT),
        "up_alert_firing": first(_rel(run, s["t"]) for s in run["samples"] if "up" in s.get("firing_scale", [])),
        "scale_up_applied": first(_rel(run, datetime.fromisoformat(d["at"].replace("Z", "+00:00")).timestamp()) for d in ups),
        "new_members_running": first(
            _rel(run, s["t"]) for s in run["samples"] if (s.get("members") or {}).get("running", 0) > run["min_size"]
        ),
        "under_80_for_good": under_high_for_good(run),
    }


def figures(run: dict) -> dict:
    return {
        "under_80_for_good_s": under_high_for_good(run),
        "peak_size": peak_size(run),
        "member_minutes": round(member_minutes(run), 1),
        "reversals": reversals(run),
        "back_to_min_s": back_to_min(run),
        "load_seconds": round(_rel(run, run["load_end"])),
    }
