"""The systemd units, checked by the real systemd-analyze with the built
autoscaler binary in place of /usr/local/bin/autoscaler."""

import os
import shutil
import subprocess

from deploy_helpers import ROOT, autoscaler_help, binary, check_tool, unit_settings

SYSTEMD = os.path.join(ROOT, "systemd")
INSTALLED = "/usr/local/bin/autoscaler"
SERVICES = ["autoscaler-listen.service", "autoscaler-scale-tick.service", "autoscaler-discover.service"]
TIMERS = ["autoscaler-scale-tick.timer", "autoscaler-discover.timer"]


def settings(name):
    return unit_settings(open(os.path.join(SYSTEMD, name)).read())


def dropin():
    return unit_settings(open(os.path.join(SYSTEMD, "autoscaler-.service.d", "hardening.conf")).read())


def copy_units(tmp_path):
    d = tmp_path / "units"
    shutil.copytree(SYSTEMD, d)
    for s in SERVICES:
        p = d / s
        p.write_text(p.read_text().replace(INSTALLED, binary()))
    return d


def verify(unit_dir, names):
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_dir}:")  # trailing ':' keeps the default path too
    return subprocess.run(["systemd-analyze", "verify", *[str(unit_dir / n) for n in names]], env=env, capture_output=True, text=True, timeout=120)


def test_units_pass_systemd_analyze_verify(tmp_path):
    p = verify(copy_units(tmp_path), SERVICES + TIMERS)
    # Unknown keys and bad values are only warnings for systemd: treat any output as a failure.
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr


def test_verify_catches_a_broken_unit(tmp_path):
    d = copy_units(tmp_path)
    (d / "autoscaler-.service.d" / "hardening.conf").write_text("[Service]\nProtectSystem=sometimes\n")
    p = verify(d, ["autoscaler-listen.service"])
    assert "hardening.conf:2" in p.stdout + p.stderr  # proves the shared drop-in is read
    (d / "autoscaler-listen.service").write_text((d / "autoscaler-listen.service").read_text().replace(binary(), INSTALLED + ".missing"))
    assert verify(d, ["autoscaler-listen.service"]).returncode != 0


def test_exec_start_commands_and_settings_exist_in_the_binary():
    for s in SERVICES:
        (cmd,) = settings(s)[("Service", "ExecStart")]
        exe, sub = cmd.split()
        assert exe == INSTALLED
        help_text = autoscaler_help(sub)
        env_vars = [v.split("=", 1)[0] for v in settings(s).get(("Service", "Environment"), [])]
        env_vars += [v.split("=", 1)[0] for v in dropin()[("Service", "Environment")]]
        for var in env_vars:
            assert f"env {var}" in help_text, f"{s}: {var} is not an option of 'autoscaler {sub}'"


def test_tick_is_a_oneshot_every_60_seconds_with_1s_accuracy():
    assert settings("autoscaler-scale-tick.service")[("Service", "Type")] == ["oneshot"]
    timer = settings("autoscaler-scale-tick.timer")
    assert timer[("Timer", "OnCalendar")] == ["*-*-* *:*:00"]
    assert timer[("Timer", "AccuracySec")] == ["1s"]
    out = check_tool("systemd-analyze", "calendar", "--iterations=3", timer[("Timer", "OnCalendar")][0])
    nexts = [line.split()[-2] for line in out.splitlines() if "Iter." in line or "Next elapse" in line]
    secs = [int(t.split(":")[0]) * 3600 + int(t.split(":")[1]) * 60 + int(t.split(":")[2]) for t in nexts]
    assert [b - a for a, b in zip(secs, secs[1:])] in ([60, 60], [60, -86340], [-86340, 60])


def test_discover_timer_and_every_timer_is_enabled_by_install():
    assert settings("autoscaler-discover.timer")[("Timer", "AccuracySec")] == ["1s"]
    script = open(os.path.join(ROOT, "cloud-init", "install-autoscaler.sh")).read()
    assert "systemctl enable --now autoscaler-listen.service autoscaler-discover.timer autoscaler-scale-tick.timer" in script


def test_services_are_sandboxed_as_their_own_user():
    h = dropin()
    for key, value in {
        "User": "autoscaler",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert h[("Service", key)] == [value], key
    # The listener and the tick share the private state directory.
    for s in ("autoscaler-listen.service", "autoscaler-scale-tick.service"):
        assert settings(s)[("Service", "StateDirectory")] == ["autoscaler"]
        assert settings(s)[("Service", "StateDirectoryMode")] == ["0750"]
    # Only the tick and discover get the API key; only the listener the webhook secret.
    assert settings("autoscaler-listen.service")[("Service", "EnvironmentFile")] == ["/etc/autoscaler/webhook.env"]
    for s in ("autoscaler-scale-tick.service", "autoscaler-discover.service"):
        assert settings(s)[("Service", "EnvironmentFile")] == ["/etc/autoscaler/api.env"]
