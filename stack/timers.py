"""The systemd timers of the deployment, emulated: run a command every N seconds.

Like `OnUnitActiveSec=`, the interval runs from one start to the next and a
run never overlaps the previous one (a slow tick delays the next).
"""

import threading
import time

from .processes import Supervisor


class Timer:
    def __init__(self, sup: Supervisor, name: str, argv: list[str], env: dict, interval: float, timeout: float):
        self.sup, self.name, self.argv, self.env = sup, name, argv, env
        self.interval, self.timeout = interval, timeout
        self.runs: list[tuple[float, float, int]] = []  # (start, end, exit code), wall clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"timer-{name}", daemon=True)

    def run_once(self) -> int:
        start = time.time()
        code = self.sup.run(self.name, self.argv, self.env, timeout=self.timeout)
        self.runs.append((start, time.time(), code))
        return code

    def start(self) -> "Timer":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.run_once()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def stop(self) -> None:
        """Stop scheduling and wait for a run in progress to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 15)

    def failures(self) -> list[tuple[float, float, int]]:
        return [r for r in self.runs if r[2] != 0]
