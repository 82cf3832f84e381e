"""The live terminal view of a run, redrawn in place (or one line at a time
when the output is not a terminal, e.g. in CI logs)."""

import sys
import time


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    return (f"{h}h" if h else "") + f"{rest // 60:02d}m{rest % 60:02d}s"


def _pct(v) -> str:
    return "  -  " if v is None else f"{v:5.1f} %"


def describe(d: dict | None) -> str:
    if not d:
        return "none yet"
    move = f"{d.get('action')} {d.get('from')} -> {d.get('to')}"
    applied = "" if d.get("action") == "none" else (" (applied)" if d.get("applied") else " (not applied)")
    return f"{move}{applied}, rule {d.get('rule')}: {d.get('cause')}"


def last_scale(record: dict) -> dict | None:
    """The last decision that asked to change the size."""
    return next((d for d in reversed(record["decisions"]) if d.get("action") not in (None, "none")), None)


def frame(record: dict, sample: dict) -> list[str]:
    f = record["factor"]
    since = sample["t"] - record["load_start"]
    members = ", ".join(f"{state} {n}" for state, n in sorted((sample.get("members") or {}).items())) or "-"
    opts = record["options"]
    load = f"{sample.get('nlb_requests', '?')} NLB requests of {opts['requests']}"
    if "load_end" in record:
        load += f"; ab ended {clock((sample['t'] - record['load_end']) * f)} ago (cloud time)"
    lines = [
        f"{record['label']} on the twin, time factor {f:g} (1 s here = {f:g} s in the cloud)",
        f"load     ab -c {opts['concurrency']} -n {opts['requests']}: {load}",
        f"time     {clock(since)} since load start = {clock(since * f)} cloud time (deadline {clock(600)})",
        f"pool     size {sample.get('size', '?')}; members: {members}",
        f"cpu      {_pct(sample.get('cpu'))} pool average from Prometheus (alert above 80 %); firing: {', '.join(sample.get('firing') or []) or 'nothing'}",
        f"scaled   {describe(last_scale(record))}",
        f"tick     {describe(sample.get('decision'))}",
    ]
    if sample.get("error"):
        lines.append(f"note     {sample['error']}")
    return lines


class LiveView:
    def __init__(self, out=sys.stdout, line_every: float = 5.0, live: bool | None = None):
        self.out = out
        self.tty = out.isatty() if live is None else live
        self.line_every = line_every
        self._last_line = 0.0

    def __call__(self, record: dict, sample: dict) -> None:
        lines = frame(record, sample)
        if self.tty:
            self.out.write("\x1b[H\x1b[J" + "\n".join(lines) + "\n\n(Ctrl-C stops everything cleanly)\n")
        elif time.monotonic() - self._last_line >= self.line_every:
            self._last_line = time.monotonic()
            self.out.write(" | ".join(line.split(None, 1)[1] if " " in line else line for line in lines[2:]) + "\n")
        self.out.flush()
