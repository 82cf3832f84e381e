"""The PNG chart: pool size and average CPU over (equivalent) time, the 80 %
line, the 10-minute deadline, the end of the load, each scale decision."""

from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

from . import analysis  # noqa: E402
from .timing import DEADLINE_SECONDS  # noqa: E402


def applied_decisions(run: dict) -> list[tuple[float, dict]]:
    """(equivalent minutes since load start, record) for every scale call the API accepted."""
    out = []
    for d in run.get("decisions", []):
        if d.get("applied") and d.get("action") in ("scale_up", "scale_down"):
            at = datetime.fromisoformat(d["at"].replace("Z", "+00:00")).timestamp()
            out.append(((at - run["load_start"]) * run["factor"] / 60, d))
    return out


def _panel(ax, run: dict) -> None:
    cpu = analysis.cpu_points(run)
    ax.plot([t / 60 for t, _ in cpu], [v for _, v in cpu], color="tab:red", lw=1, label="average CPU % (Prometheus)")
    ax.axhline(analysis.HIGH_PERCENT, color="tab:red", ls="--", lw=0.8, label="80 % threshold")
    ax.axvline(DEADLINE_SECONDS / 60, color="black", ls=":", lw=1, label="10-minute deadline")
    if "load_end" in run:
        ax.axvline((run["load_end"] - run["load_start"]) * run["factor"] / 60, color="grey", ls="-.", lw=1, label="ab ended")
    ax.set_ylim(0, 105)
    ax.set_ylabel("CPU %")
    size_ax = ax.twinx()
    samples = [s for s in run["samples"] if "size" in s]
    times = [(s["t"] - run["load_start"]) * run["factor"] / 60 for s in samples]
    size_ax.step(times, [s["size"] for s in samples], where="post", color="tab:blue", lw=1.5, label="pool size")
    for t, d in applied_decisions(run):
        up = d["action"] == "scale_up"
        size_ax.plot([t], [d["to"]], marker="^" if up else "v", color="tab:green" if up else "tab:orange", ms=8, ls="none")
        size_ax.annotate(f"{d['from']}→{d['to']}", (t, d["to"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    size_ax.set_ylim(0, max(6, analysis.peak_size(run) + 1))
    size_ax.set_ylabel("pool size")
    f = analysis.figures(run)
    ax.set_title(
        f"{run['label']}: under 80 % for good at {_s(f['under_80_for_good_s'])}, peak {f['peak_size']}, "
        f"{f['member_minutes']} member-min, {f['reversals']} reversals, back to min {_s(f['back_to_min_s'])} after load",
        fontsize=8,
    )
    lines = ax.get_legend_handles_labels()[0] + size_ax.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="upper right", fontsize=7)


def _s(v) -> str:
    return "never" if v is None else f"{v:.0f} s"


def draw(runs: list[dict], path: Path) -> Path:
    fig, axes = plt.subplots(len(runs), 1, figsize=(11, 3.6 * len(runs)), squeeze=False, sharex=True)
    for ax, run in zip(axes[:, 0], runs):
        _panel(ax, run)
    axes[-1, 0].set_xlabel(f"minutes since ab started (cloud-time equivalent; run at time factor {runs[0]['factor']:g})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
