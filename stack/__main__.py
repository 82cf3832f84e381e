"""`python -m stack`: run the whole loop on the twin with a live view, then
print a summary and draw the chart. ./demo calls this after building."""

import argparse
import sys
import time
from pathlib import Path

from .paths import ROOT

DEMO_FACTOR = 30


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="demo",
        description="Run the autoscaling loop on the local twin: the twin (pool, members, NLB), Prometheus, "
        "Alertmanager, `autoscaler listen`, the scale-tick and discover timers, and `ab -c 2 -n 1000` on the NLB. "
        "Every duration is divided by one time factor. Ends with a summary and a PNG chart.",
    )
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--factor", type=float, default=DEMO_FACTOR, help=f"time factor: 1 s here stands for F s in the cloud (default {DEMO_FACTOR}: about 3.5 minutes)")
    speed.add_argument("--real-time", action="store_true", help="time factor 1: the load alone lasts about 83 minutes")
    p.add_argument("--requests", type=int, default=1000, help="ab -n (default 1000)")
    p.add_argument("--out", type=Path, help="run directory for logs, run.json and chart.png (default run/demo-<time>)")
    p.add_argument("--no-view", action="store_true", help="print a status line now and then instead of the live view")
    a = p.parse_args(argv)
    factor = 1.0 if a.real_time else a.factor
    if factor <= 0 or a.requests <= 0:
        p.error("--factor and --requests must be positive")
    # Imported after parsing, so --help works before scripts/install-deps ran.
    from . import chart, summary
    from .run import Options, run
    from .view import LiveView

    out = a.out or ROOT / "run" / time.strftime("demo-%Y%m%d-%H%M%S")
    view = LiveView(live=False if a.no_view else None)
    try:
        record = run(Options(factor=factor, run_dir=out, requests=a.requests), on_sample=view)
    except RuntimeError as e:
        print(f"demo: {e}\nlogs: {out / 'logs'}", file=sys.stderr)
        return 1
    if "load_start" in record:
        print(summary.text(record))
        print(f"chart: {chart.draw([record], out / 'chart.png')}")
    else:
        print(f"stopped by {record.get('interrupted')} before the load started; {len(record['survivors'])} processes left")
    print(f"logs and run.json: {out}")
    return 130 if record.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
