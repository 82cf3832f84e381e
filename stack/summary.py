"""The end-of-run summary, in plain text for a person."""

from . import analysis
from .timing import DEADLINE_SECONDS


def _s(v) -> str:
    return "never" if v is None else f"{v:.0f} s"


def text(run: dict) -> str:
    f = analysis.figures(run)
    calls = run.get("api_calls", [])
    errors: dict[int, int] = {}
    for c in calls:
        if c["status"] >= 400:
            errors[c["status"]] = errors.get(c["status"], 0) + 1
    met = f["under_80_for_good_s"] is not None and f["under_80_for_good_s"] <= DEADLINE_SECONDS
    lines = [
        f"== {run['label']} (time factor {run['factor']:g}; times are cloud-time equivalents since ab started)",
        f"CPU under 80 % for good after   {_s(f['under_80_for_good_s'])}  ({'within' if met else 'NOT within'} the {DEADLINE_SECONDS // 60}-minute deadline)",
        f"peak pool size                  {f['peak_size']}",
        f"member-minutes used             {f['member_minutes']}",
        f"direction reversals             {f['reversals']}",
        f"back to the minimum after load  {_s(f['back_to_min_s'])}",
        f"load (ab)                       {f['load_seconds']} s; {', '.join(f'{k}: {v}' for k, v in run.get('ab', {}).items()) or 'no ab output'}",
        f"scale decisions applied         {sum(1 for d in run.get('decisions', []) if d.get('applied'))} of {len(run.get('decisions', []))} ticks recorded",
        f"webhooks acknowledged / lost    {run.get('webhooks', {}).get('accepted', 0)} / {len(run.get('webhooks', {}).get('lost', []))}",
        f"API calls (errors by status)    {len(calls)} ({', '.join(f'{k}: {v}' for k, v in sorted(errors.items())) or 'none'})",
        f"processes left running          {len(run.get('survivors', []))} of {len(run.get('started_pids', []))} started",
    ]
    if run.get("interrupted"):
        lines.append(f"interrupted by {run['interrupted']}: the figures cover the run until then")
    if run.get("settle_timeout"):
        lines.append("the pool did not get back to its minimum before the settle limit")
    return "\n".join(lines)
