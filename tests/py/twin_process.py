"""Start the real `twin serve` binary for a Python test and always stop it.

The binary is target/release/twin; `build_twin()` runs
`cargo build --release -p twin` once per session (a no-op after ./test's
release build), so the tests never run a stale twin.
"""

import functools
import json
import os
import random
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TWIN = ROOT / "target" / "release" / "twin"


@functools.lru_cache(maxsize=None)
def build_twin():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "twin"], cwd=ROOT, check=True, timeout=900)
    return TWIN


class Twin:
    """A running twin: `.info` is its JSON line; use as a context manager."""

    def __init__(self, *args):
        build_twin()
        for _ in range(8):
            # Our own member network; a clash with another twin means retry.
            self.net = f"127.{random.randint(150, 199)}.{random.randint(1, 250)}"
            self.log = tempfile.NamedTemporaryFile(prefix="twin-", suffix=".log", delete=False)
            self.proc = subprocess.Popen(
                [str(TWIN), "serve", "--member-net", self.net, *args],
                stdout=subprocess.PIPE,
                stderr=self.log,
                text=True,
            )
            line = self.proc.stdout.readline()
            if line.strip():
                self.info = json.loads(line)
                return
            self.proc.wait(timeout=10)
            err = Path(self.log.name).read_text()
            os.unlink(self.log.name)
            assert "member address" in err, f"twin failed to start: {err}"
        raise AssertionError("no free --member-net found")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        stop_process(self.proc)
        self.proc.stdout.close()
        self.log.close()
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)

    def status(self):
        with urllib.request.urlopen(self.info["control_url"] + "/status", timeout=10) as r:
            return json.load(r)

    def wait_for(self, what, pred, limit=10.0):
        deadline = time.monotonic() + limit
        while True:
            s = self.status()
            if pred(s):
                return s
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {s}"
            time.sleep(0.05)


def stop_process(proc):
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
