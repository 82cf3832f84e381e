"""The twin of the Exoscale cloud: start it, read its JSON line, use its control API."""

import json
import random
import select
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .http import get_json, post_json
from .processes import Supervisor
from .paths import TWIN_BIN



@dataclass(frozen=True)
class Twin:
    api_endpoint: str
    zone: str
    pool_id: str
    nlb_url: str
    key: str
    secret: str
    control_url: str
    time_factor: float

    def status(self) -> dict:
        return get_json(f"{self.control_url}/status")

    def fault(self, spec: dict) -> None:
        post_json(f"{self.control_url}/faults", spec)

    def api_env(self) -> dict:
        """The autoscaler's EXOSCALE_* variables pointing at this twin."""
        return {
            "EXOSCALE_API_ENDPOINT": self.api_endpoint,
            "EXOSCALE_KEY": self.key,
            "EXOSCALE_SECRET": self.secret,
            "EXOSCALE_ZONE": self.zone,
            "EXOSCALE_INSTANCEPOOL_ID": self.pool_id,
        }


def member_net() -> str:
    """A /24 on loopback for this twin's members, unlikely to collide with a parallel test."""
    return f"127.{random.randint(64, 250)}.{random.randint(1, 254)}"


def start_twin(sup: Supervisor, factor: float, pool_size: int, timeout: float = 30, attempts: int = 5) -> Twin:
    for attempt in range(attempts):
        argv = [str(TWIN_BIN), "serve", "--time-factor", f"{factor:g}", "--pool-size", str(pool_size), "--member-net", member_net()]
        proc = sup.start("twin", argv, stdout=subprocess.PIPE)
        try:
            line = _first_line(proc, timeout, sup.log_path("twin"))
            break
        except RuntimeError as e:
            # Another twin (a parallel test) holds that member network: pick another one.
            if "member address" not in str(e) or attempt == attempts - 1:
                raise
            sup.end(proc)
    try:
        info = json.loads(line)
        twin = Twin(**{k: info[k] for k in Twin.__dataclass_fields__})
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"twin printed an unexpected first line ({e}): {line[:300]!r}") from e
    # Keep draining stdout so the twin never blocks on a full pipe.
    threading.Thread(target=_drain, args=(proc.stdout, sup.log_path("twin")), daemon=True).start()
    return twin


def _first_line(proc: subprocess.Popen, timeout: float, log: Path) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise RuntimeError(f"twin did not print its JSON line within {timeout:.0f} s (exit code {proc.poll()}); twin log: {tail}")
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.5))
        if ready:
            chunk = proc.stdout.read1(4096)
            if not chunk:
                continue
            buf += chunk
    return buf.split(b"\n", 1)[0].decode()


def _drain(stream, log: Path) -> None:
    with open(log, "ab") as out:
        for chunk in iter(lambda: stream.read1(4096), b""):
            out.write(chunk)
