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


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Supervisor:
    """Owns the processes it starts; `stop_all` ends them, newest first."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self.started_pids: list[int] = []

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
            self.started_pids.append(proc.pid)
        return proc

    def run(self, name: str, argv: list[str], env: dict | None = None, timeout: float = 60) -> int:
        """Run a short command to completion (a timer's job); its output goes to <name>.log."""
        proc = self.start(name, argv, env)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            return -1
        finally:
            self._forget(proc)

    def _forget(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs = [(n, p) for n, p in self._procs if p is not proc]

    @staticmethod
    def stop(proc: subprocess.Popen, grace: float = 10) -> None:
        """SIGTERM the process group, then SIGKILL after `grace` seconds."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The group may outlive its leader (a child of a timer job): end it too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass

    def stop_named(self, name: str) -> None:
        """Stop every running process started under `name`."""
        with self._lock:
            procs = [p for n, p in self._procs if n == name]
        for proc in procs:
            self.stop(proc)
            self._forget(proc)

    def stop_all(self) -> None:
        with self._lock:
            procs = list(reversed(self._procs))
            self._procs = []
        for _, proc in procs:
            self.stop(proc)

    def survivors(self) -> list[int]:
        """PIDs this supervisor started that still exist."""
        return [pid for pid in self.started_pids if pid_alive(pid)]


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
