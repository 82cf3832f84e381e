"""One run of the whole loop on the twin: start everything, put `ab` load on
the NLB, watch, stop everything (by PID), and keep a record (run.json).

Order of start: twin -> listener -> discover once -> Alertmanager ->
Prometheus -> tick and discover timers -> wait for a scraped pool -> ab.
Order of stop: ab, Prometheus, Alertmanager, listener (no more webhooks),
timers, then ONE final tick so every acknowledged marker reaches a decision,
then the twin. Every process is verified gone.
"""

import json
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import audit
from .http import reachable
from .monitoring import start_monitoring
from .paths import AUTOSCALER_BIN
from .processes import Supervisor, free_port, wait_until
from .timers import Timer
from .timing import MARKER_MAX_AGE_SECONDS, SCALE_DOWN_COOLDOWN_SECONDS, SCALE_UP_COOLDOWN_SECONDS, Timing
from .analysis import HIGH_PERCENT
from .twin import start_twin

# Bounds in equivalent seconds: the load (ab -c 2 -n 1000 needs about 83 min
# when every request gets a member of its own) and the wait for the pool to
# get back to its minimum afterwards.
LOAD_LIMIT_SECONDS = 150 * 60
SETTLE_LIMIT_SECONDS = 45 * 60
FAULT_TRIGGERS = ("load_start", "cpu_high", "up_alert", "first_scale_up", "new_members_running")


@dataclass
class Options:
    factor: float
    run_dir: Path
    label: str = "default policy"
    requests: int = 1000
    concurrency: int = 2
    min_size: int = 1
    max_size: int = 10
    policy: str | None = None  # AUTOSCALER_POLICY; None keeps the autoscaler's default
    cooldowns: bool = True
    # scaling.json overrides for the rendered configs, e.g. ["repeat_interval_seconds=300"].
    alert_overrides: list[str] = field(default_factory=list)
    # (trigger, twin fault spec), applied in order, one per observation;
    # triggers: "load_start", "cpu_high" (pool CPU >= 80 % in Prometheus),
    # "up_alert" (a scale-up alert firing), "first_scale_up" (pool above its
    # minimum), "new_members_running" (more members running than the minimum).
    faults: list[tuple[str, dict]] = field(default_factory=list)

    def __post_init__(self):
        for trigger, _ in self.faults:
            if trigger not in FAULT_TRIGGERS:
                raise ValueError(f"fault trigger {trigger!r} is not one of {', '.join(FAULT_TRIGGERS)}")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything and report what was seen."""


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def autoscaler_env(opts: Options, timing: Timing, twin, state_dir: Path, listen_port: int) -> dict:
    up, down = (timing.whole_seconds(SCALE_UP_COOLDOWN_SECONDS), timing.whole_seconds(SCALE_DOWN_COOLDOWN_SECONDS)) if opts.cooldowns else (0, 0)
    env = {
        "PATH": "/usr/bin:/bin",
        **twin.api_env(),
        "AUTOSCALER_STATE_DIR": str(state_dir),
        "LISTEN_ADDR": "127.0.0.1",
        "LISTEN_PORT": str(listen_port),
        "AUTOSCALER_MIN_SIZE": str(opts.min_size),
        "AUTOSCALER_MAX_SIZE": str(opts.max_size),
        "AUTOSCALER_SCALE_UP_COOLDOWN": str(up),
        "AUTOSCALER_SCALE_DOWN_COOLDOWN": str(down),
        "AUTOSCALER_MARKER_MAX_AGE": str(timing.whole_seconds(MARKER_MAX_AGE_SECONDS)),
    }
    if opts.policy:
        env["AUTOSCALER_POLICY"] = opts.policy
    return env


def run(opts: Options, on_sample=None) -> dict:
    """Run one scenario; `on_sample(record, sample)` is called for each observation (the live view)."""
    timing = Timing(opts.factor)
    run_dir = Path(opts.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_dir = run_dir / "state"
    sup = Supervisor(run_dir / "logs")
    record = {"label": opts.label, "factor": opts.factor, "min_size": opts.min_size, "options": _jsonable(opts), "samples": [], "cpu_series": [], "decisions": []}
    old = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    timers: dict[str, Timer] = {}
    mon = None
    try:
        twin = start_twin(sup, opts.factor, opts.min_size)
        record["twin"] = {"control_url": twin.control_url, "nlb_url": twin.nlb_url}
        port = free_port()
        env = autoscaler_env(opts, timing, twin, state_dir, port)
        listener_url = f"http://127.0.0.1:{port}"
        listener = sup.start("listen", [str(AUTOSCALER_BIN), "listen"], env)
        wait_until("autoscaler listen", lambda: reachable(f"{listener_url}/healthz"), 30, proc=listener, log=sup.log_path("listen"))

        discover = Timer(sup, "discover", [str(AUTOSCALER_BIN), "discover"], env, timing.discover, timeout=60)
        file_sd = state_dir / "file_sd" / "pool.json"
        wait_until("autoscaler discover", lambda: discover.run_once() == 0 and file_sd.exists(), 60, interval=1, log=sup.log_path("discover"))
        mon = start_monitoring(sup, timing, run_dir, listener_url, file_sd, opts.alert_overrides)
        record["prometheus_url"], record["cpu_query"] = mon.prometheus.url, mon.cpu_query
        tick = Timer(sup, "tick", [str(AUTOSCALER_BIN), "scale-tick"], env, timing.tick, timeout=120)
        timers = {"discover": discover.start(), "tick": tick.start()}

        # The pool must be up and scraped before the load starts, as in the cloud.
        wait_until("first CPU value from Prometheus", lambda: mon.prometheus.query(mon.cpu_query) is not None, timing.scaled(600) + 60, interval=0.5)

        ab = sup.start("ab", ["ab", "-c", str(opts.concurrency), "-n", str(opts.requests), "-r", "-s", "120", f"{twin.nlb_url}/load"])
        record["load_start"] = time.time()
        pending_faults = list(opts.faults)
        sample_every = min(timing.scrape, timing.tick / 3)
        settle_deadline, load_deadline = None, record["load_start"] + timing.scaled(LOAD_LIMIT_SECONDS)
        while True:
            sample = _observe(twin, mon, state_dir, record)
            record["samples"].append(sample)
            pending_faults = _inject(twin, pending_faults, record, sample)
            if ab.poll() is None and time.time() > load_deadline:
                record["load_timeout"] = True
                sup.stop_named("ab")
            if ab.poll() is not None and "load_end" not in record:
                record["load_end"] = time.time()
                settle_deadline = record["load_end"] + timing.scaled(SETTLE_LIMIT_SECONDS)
            if on_sample:
                on_sample(record, sample)
            if settle_deadline and _back_at_min(record, timing):
                break
            if settle_deadline and time.time() > settle_deadline:
                record["settle_timeout"] = True
                break
            time.sleep(sample_every)
    except Interrupted as e:
        record["interrupted"] = str(e)
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        try:
            if mon is not None and "load_start" in record:
                _close_load(record, mon, timing)
            _shutdown(sup, timers, record, state_dir)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    record["ab"] = _ab_summary(sup.log_path("ab"))
    _save(run_dir, record)
    return record


def _close_load(record: dict, mon, timing: Timing) -> None:
    """End of the observed period (also after Ctrl-C): the CPU series from Prometheus."""
    record["end"] = time.time()
    record.setdefault("load_end", record["end"])  # cut short: the load ends where the run did
    try:
        record["cpu_series"] = mon.prometheus.query_range(mon.cpu_query, record["load_start"] - timing.scaled(120), record["end"], timing.scrape)
    except Exception as e:  # noqa: BLE001 - the rest of the record is still worth keeping
        record["cpu_series_error"] = str(e)


def _observe(twin, mon, state_dir: Path, record: dict) -> dict:
    now = time.time()
    sample = {"t": now}
    try:
        st = twin.status()
        states: dict[str, int] = {}
        for m in st["members"]:
            states[m["state"]] = states.get(m["state"], 0) + 1
        sample.update(size=st["pool"]["size"], member_count=len(st["members"]), members=states,
                      twin_cpu=100 * sum(m["cpu"] for m in st["members"]) / max(1, len(st["members"])),
                      nlb_requests=st["nlb"]["requests"])
        record["api_calls"] = st["api_calls"]
    except Exception as e:  # noqa: BLE001 - one missed observation is recorded, not fatal
        sample["error"] = f"twin status: {e}"
    try:
        sample["cpu"] = mon.prometheus.query(mon.cpu_query)
        sample["firing"], sample["firing_scale"] = mon.prometheus.firing()
    except Exception as e:  # noqa: BLE001
        sample["error"] = f"prometheus: {e}"
    record["decisions"] = audit.merge(record["decisions"], audit.decisions(state_dir))
    sample["decision"] = record["decisions"][-1] if record["decisions"] else None
    return sample


def _inject(twin, pending: list, record: dict, sample: dict) -> list:
    """Apply the next fault if its trigger has happened; return those still waiting.

    At most one per observation, in the given order, so a later fault never
    replaces an earlier one before the API has seen it."""
    if not pending:
        return pending
    happened = {
        "load_start": True,
        "cpu_high": (sample.get("cpu") or 0) >= HIGH_PERCENT,
        "up_alert": "up" in sample.get("firing_scale", []),
        "first_scale_up": sample.get("size", 0) > record["min_size"],
        "new_members_running": (sample.get("members") or {}).get("running", 0) > record["min_size"],
    }
    trigger, spec = pending[0]
    if not happened[trigger]:
        return pending
    twin.fault(spec)
    record.setdefault("faults_injected", []).append({"t": sample["t"], "trigger": trigger, "spec": spec})
    return pending[1:]


def _back_at_min(record: dict, timing: Timing) -> bool:
    """At the minimum, with only as many members, for one scaled scale-down cooldown."""
    need = record["load_end"] + timing.scaled(SCALE_DOWN_COOLDOWN_SECONDS)
    recent = [s for s in record["samples"] if s["t"] >= record["load_end"]]
    if not recent or recent[-1]["t"] < need:
        return False
    window = [s for s in recent if s["t"] >= recent[-1]["t"] - timing.scaled(SCALE_DOWN_COOLDOWN_SECONDS) / 2]
    return all(s.get("size") == record["min_size"] and s.get("member_count") == record["min_size"] for s in window)


def _shutdown(sup: Supervisor, timers: dict[str, Timer], record: dict, state_dir: Path) -> None:
    for name in ("ab", "prometheus", "alertmanager", "listen"):
        sup.stop_named(name)
    for t in timers.values():
        t.stop()
    record["timers"] = {name: {"runs": len(t.runs), "failures": len(t.failures())} for name, t in timers.items()}
    # One last tick consumes what the listener acknowledged after the previous tick.
    if "tick" in timers:
        record["final_tick_exit"] = timers["tick"].run_once()
    record["decisions"] = audit.merge(record["decisions"], audit.decisions(state_dir))
    accepted, lost = audit.lost_webhooks(sup.log_path("listen"), record["decisions"])
    record["webhooks"] = {"accepted": len(accepted), "lost": lost}
    sup.stop_all()
    record["started_pids"] = sup.started_pids
    record["survivors"] = sup.survivors()


def _ab_summary(log: Path) -> dict:
    out = {}
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Complete requests", "Failed requests", "Non-2xx responses", "Time taken for tests"):
                out[key.strip()] = value.strip()
    return out


def _jsonable(opts: Options) -> dict:
    d = asdict(opts)
    d["run_dir"] = str(d["run_dir"])
    return d


def _save(run_dir: Path, record: dict) -> None:
    (run_dir / "run.json").write_text(json.dumps(record, indent=1, default=str))


def load(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "run.json").read_text())

