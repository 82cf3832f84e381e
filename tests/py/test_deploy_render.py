"""The user data and the files it carries, rendered by real Terraform on sample
values, then checked by cloud-init's schema, promtool and plain assertions."""

import os
import subprocess

import pytest
import yaml

from deploy_helpers import ROOT, render, SAMPLE, SECRET_KEYS, USER_DATA_LIMIT, check_tool, rendered, unit_settings, write_files

USER_DATA = ["monitoring", "pool_member"]


@pytest.mark.parametrize("name", USER_DATA)
def test_user_data_passes_cloud_init_schema_and_fits(tmp_path, name):
    text = rendered()[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    out = check_tool("cloud-init", "schema", "--config-file", str(path))
    assert "Valid cloud-config" in out, out
    size = len(text.encode())
    assert size < USER_DATA_LIMIT, f"{name} user data is {size} bytes, over Exoscale's {USER_DATA_LIMIT}"


@pytest.mark.parametrize("name", USER_DATA)
def test_no_secret_in_user_data(name):
    # User data is readable from the metadata server by any process on the VM.
    text = rendered()[name]
    for key in SECRET_KEYS:
        assert SAMPLE[key] not in text, f"{key} leaked into the {name} user data"


def test_secrets_travel_only_in_the_ssh_delivered_env_files():
    files = rendered()["secret_files"]
    assert files["api.env"] == f"EXOSCALE_KEY={SAMPLE['api_key']}\nEXOSCALE_SECRET={SAMPLE['api_secret']}\n"
    assert files["webhook.env"] == f"AUTOSCALER_WEBHOOK_SECRET={SAMPLE['webhook_secret']}\n"
    assert f"AUTOSCALER_WEBHOOK_SECRET={SAMPLE['webhook_secret']}\n" in files["grafana.env"]
    assert f"GF_SECURITY_ADMIN_PASSWORD={SAMPLE['grafana_admin_password']}\n" in files["grafana.env"]
    # install-autoscaler installs exactly these, 0600.
    script = open(os.path.join(ROOT, "cloud-init", "install-autoscaler.sh")).read()
    assert "for f in " + " ".join(sorted(files, key=["api.env", "webhook.env", "grafana.env"].index)) + "; do" in script
    assert 'install -m 0600 -o root -g root "secrets/$f"' in script


def test_ssh_password_is_only_a_bcrypt_hash():
    users = yaml.safe_load(rendered()["monitoring"])["chpasswd"]["users"]
    assert users == [{"name": "ubuntu", "password": users[0]["password"], "type": "hash"}]
    assert users[0]["password"].startswith("$2a$")


def test_monitoring_vm_gets_the_repository_files_verbatim():
    files = write_files(rendered()["monitoring"])
    for unit in sorted(os.listdir(os.path.join(ROOT, "systemd"))):
        sub = os.path.join(ROOT, "systemd", unit)
        names = [os.path.join(unit, n) for n in os.listdir(sub)] if os.path.isdir(sub) else [unit]
        for n in names:
            got = files[f"/etc/systemd/system/{n}"]
            assert got["content"] == open(os.path.join(ROOT, "systemd", n)).read(), n
            assert got["permissions"] == "0644"
    script = files["/usr/local/sbin/install-autoscaler"]
    assert script["permissions"] == "0755"
    assert script["content"] == open(os.path.join(ROOT, "cloud-init", "install-autoscaler.sh")).read()


def test_autoscaler_env_file_is_private_and_complete():
    f = write_files(rendered()["monitoring"])["/etc/autoscaler/autoscaler.env"]
    assert f["permissions"] == "0600" and f["owner"] == "root:root"
    env = dict(line.split("=", 1) for line in f["content"].splitlines())
    assert env == {
        "EXOSCALE_ZONE": SAMPLE["zone"],
        "EXOSCALE_INSTANCEPOOL_ID": SAMPLE["pool_id"],
        "LISTEN_ADDR": "127.0.0.1",
        "LISTEN_PORT": "8090",
        "AUTOSCALER_MIN_SIZE": "1",
        "AUTOSCALER_MAX_SIZE": "5",
        "AUTOSCALER_SCALE_UP_COOLDOWN": "120",
    }  # the empty scale_down_cooldown is left out: the binary's default applies


def test_pool_member_runs_the_pinned_load_generator_and_node_exporter():
    doc = yaml.safe_load(rendered()["pool_member"])
    assert "prometheus-node-exporter" in doc["packages"]
    run = [c for c in doc["runcmd"] if c[:2] == ["docker", "run"]]
    assert run and run[0][-1] == SAMPLE["load_generator_image"] and "--publish=8080:8080" in run[0]


def test_grafana_is_pinned_from_its_own_repository():
    text = rendered()["monitoring"]
    assert "https://apt.grafana.com stable main" in text
    assert f"grafana={SAMPLE['grafana_version']} && apt-mark hold grafana" in text
    assert int(SAMPLE["grafana_version"].split(".")[0]) >= 12  # webhook HMAC signing


def test_deployment_prometheus_config_passes_promtool(tmp_path):
    text = rendered()["prometheus"]
    assert write_files(rendered()["monitoring"])["/etc/prometheus/prometheus.yml"]["content"] == text
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    assert "SUCCESS" in check_tool("promtool", "check", "config", str(path))


def test_prometheus_reads_the_file_discover_writes():
    prom = yaml.safe_load(rendered()["prometheus"])
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    unit = unit_settings(open(os.path.join(ROOT, "systemd", "autoscaler-discover.service")).read())
    output = [v.split("=", 1)[1] for v in unit[("Service", "Environment")] if v.startswith("AUTOSCALER_DISCOVER_OUTPUT=")]
    assert jobs["pool"]["file_sd_configs"][0]["files"] == output
    # ...in a directory of its own, world-readable, so Prometheus can read it.
    assert unit[("Service", "StateDirectory")] == [os.path.basename(os.path.dirname(output[0]))]
    assert unit[("Service", "StateDirectoryMode")] == ["0755"]
    assert jobs["autoscaler"]["static_configs"][0]["targets"] == ["127.0.0.1:8090"]
    # The monitoring VM's own exporter is a separate job, outside the pool average.
    assert jobs["monitoring"]["static_configs"][0]["targets"] == ["127.0.0.1:9100"]
    assert render.load_scaling()["job"] == "pool"


def test_install_script_parses_and_fails_clearly_without_rust(tmp_path):
    script = os.path.join(ROOT, "cloud-init", "install-autoscaler.sh")
    check_tool("sh", "-n", script)
    # On a machine without /opt/rust (like this one) it stops before touching anything.
    if not os.path.exists("/opt/rust/bin/cargo"):
        p = subprocess.run(["sh", script, str(tmp_path)], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "cloud-init did not finish installing Rust" in p.stderr, p.stderr
