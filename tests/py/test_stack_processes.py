"""stack.processes: every process the stack starts is stopped by PID, children included."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from stack.processes import Supervisor, free_port, pid_alive, wait_until  # noqa: E402

# A shell that ignores SIGTERM and leaves a grandchild: the worst case for a clean stop.
STUBBORN = "trap '' TERM; sleep 300 & echo $! > {pidfile}; wait"


def test_stop_all_ends_stubborn_processes_and_their_children(tmp_path):
    sup = Supervisor(tmp_path)
    sup.start("sleeper", ["sleep", "300"])
    pidfile = tmp_path / "child.pid"
    sup.start("stubborn", ["bash", "-c", STUBBORN.format(pidfile=pidfile)])
    wait_until("child pid", pidfile.exists, 10)
    child = int(wait_until("child pid", lambda: pidfile.read_text().strip(), 10))
    assert pid_alive(child)
    assert child in sup.survivors(), "a grandchild in a session we started counts as ours"
    assert len(sup.survivors()) == 3
    t0 = time.monotonic()
    sup.stop_all()
    assert sup.survivors() == []
    assert not pid_alive(child), "the grandchild in the process group must be gone too"
    assert time.monotonic() - t0 < 30


def test_run_times_out_and_leaves_nothing(tmp_path):
    sup = Supervisor(tmp_path)
    assert sup.run("quick", ["bash", "-c", "echo hi >&2; exit 3"]) == 3
    assert "hi" in sup.log_path("quick").read_text()
    assert sup.run("slow", ["sleep", "30"], timeout=0.5) == -1
    assert sup.survivors() == []


def test_start_of_a_missing_binary_says_what_to_do(tmp_path):
    with pytest.raises(RuntimeError, match="cannot start ghost.*install-deps"):
        Supervisor(tmp_path).start("ghost", [str(tmp_path / "no-such-binary")])


def test_wait_until_reports_an_early_exit_with_the_log(tmp_path):
    sup = Supervisor(tmp_path)
    proc = sup.start("dies", ["bash", "-c", "echo 'bind: address in use' >&2; exit 1"])
    with pytest.raises(RuntimeError, match="(?s)exited with code 1.*address in use"):
        wait_until("dies", lambda: False, 10, proc=proc, log=sup.log_path("dies"))
    sup.stop_all()


def test_free_port_is_bindable_on_loopback():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert 0 < port < 65536
