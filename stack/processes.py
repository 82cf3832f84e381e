"""Start and stop every process of the stack by PID.

Each process runs in its own session (process group), so stopping it also
stops anything it spawned, and nothing outside the stack is ever signalled.
Output goes to one log file per process under the run directory.
"""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on loopback that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: [0] state, [3] session, [19] start time."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def _start_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[19]) if fields else 0


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


class Supervisor:
    """Owns the processes it starts; `stop_all` ends them, newest first."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._all: list[subprocess.Popen] = []
        self.started_pids: list[int] = []
        self._born = _start_ticks(os.getpid())

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, argv: list[str], env: dict | None = None, stdout=None) -> subprocess.Popen:
        """Start `argv`; stderr (and stdout unless given) append to <name>.log."""
        log = open(self.log_path(name), "ab")
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                start_new_session=True,
            )
        except OSError as e:
            raise RuntimeError(f"cannot start {name} ({argv[0]}): {e}; run scripts/install-deps and build first") from e
        finally:
            log.close()
        with self._lock:
            self._procs.append((name, proc))
            self._all.append(proc)
            self.started_pids.append(proc.pid)
        return proc

    def run(self, name: str, argv: list[str], env: dict | None = None, timeout: float = 60) -> int:
        """Run a short command to completion (a timer's job); its output goes to <name>.log."""
        proc = self.start(name, argv, env)
        deadline = time.monotonic() + timeout
        while pid_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        timed_out = pid_alive(proc.pid)
        self.end(proc)
        return -1 if timed_out else proc.returncode

    def _forget(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs = [(n, p) for n, p in self._procs if p is not proc]

    @staticmethod
    def stop(proc: subprocess.Popen, grace: float = 10) -> None:
        """SIGTERM the process group, SIGKILL what is left after `grace` seconds.

        The leader is reaped only after the group got its SIGKILL: while the
        leader is unreaped its PID (= the group id) cannot be reused, so the
        signal can only reach our own processes."""
        if proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while pid_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, e.g. a child of a timer job
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def stop_named(self, name: str) -> None:
        """Stop every running process started under `name`."""
        with self._lock:
            procs = [p for n, p in self._procs if n == name]
        for proc in procs:
            self.end(proc)

    def end(self, proc: subprocess.Popen) -> None:
        """Stop one process of ours and stop tracking it."""
        self.stop(proc)
        self._forget(proc)

    def stop_all(self) -> None:
        with self._lock:
            procs = list(reversed(self._procs))
            self._procs = []
        for _, proc in procs:
            self.stop(proc)

    def survivors(self) -> list[int]:
        """Processes of ours still running: a started process not yet ended, or
        any process left in one of their sessions (born after this supervisor,
        so a recycled PID of someone else's does not count)."""
        with self._lock:
            procs = list(self._all)
        left = [p.pid for p in procs if p.poll() is None]
        sessions = {p.pid for p in procs}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in left:
                fields = _stat(int(entry))
                if fields and int(fields[3]) in sessions and int(fields[19]) >= self._born and fields[0] != "Z":
                    left.append(int(entry))
        return left


def wait_until(what: str, check, timeout: float, interval: float = 0.1, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Poll `check()` until it returns a truthy value; fail with context on timeout or early exit."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with code {proc.returncode}{_tail(log)}")
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - any failure just means "not yet"
            last_error = e
        time.sleep(interval)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s (last error: {last_error}){_tail(log)}")


def _tail(log: Path | None, lines: int = 5) -> str:
    if log is None or not Path(log).exists():
        return ""
    text = Path(log).read_text(errors="replace").strip().splitlines()[-lines:]
    return "; see " + str(log) + (":\n  " + "\n  ".join(text) if text else "")
