"""Shared by the tests/py/test_deploy_*.py files: real Terraform (scripts/terraform),
the deployment rendered once on sample values, and small parsing helpers."""

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TERRAFORM = os.path.join(ROOT, "scripts", "terraform")
TF = os.path.join(ROOT, "terraform")
sys.path.insert(0, os.path.join(ROOT, "prometheus"))
import render  # noqa: E402  (prometheus/render.py: the twin's renderer)

# Sample values: distinct, greppable strings, so a test can prove where each lands.
SAMPLE = {
    "zone": "at-vie-1",
    "pool_id": "00000000-0000-4000-8000-000000000001",
    "pool_min_size": 1,
    "pool_max_size": 5,
    "scale_up_cooldown": "120",
    "scale_down_cooldown": "",
    "api_key": "EXOsampleapikey0001",
    "api_secret": "sample-api-secret-0002",
    "webhook_secret": "sample-webhook-secret-0003",
    "grafana_admin_password": "sample-grafana-password-0004",
    "ssh_user": "ubuntu",
    "ssh_password": "sample-ssh-password-0005",
    "load_generator_image": "janoszen/http-load-generator:1.0.1",
    "grafana_version": "12.4.4",
    "rust_toolchain": "1.89.0",
}
SECRET_KEYS = ("api_secret", "webhook_secret", "grafana_admin_password", "ssh_password")
USER_DATA_LIMIT = 32 * 1024  # Exoscale's user-data limit


def _tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, d, True)
    return d


def terraform(args, cwd, check=True, env=None, timeout=300):
    """Run real Terraform with a private CLI config (no ~/.terraformrc, no network mirror)."""
    e = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", NO_COLOR="1")
    e.setdefault("TF_CLI_CONFIG_FILE", os.path.join(_cli_config_dir(), "cli.tfrc"))
    e.update(env or {})
    p = subprocess.run([TERRAFORM, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, f"terraform {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p


@functools.lru_cache(maxsize=None)
def _cli_config_dir():
    d = _tmpdir("tfcli-")
    with open(os.path.join(d, "cli.tfrc"), "w") as f:
        f.write("provider_installation {\n  direct {}\n}\n")
    return d


def hcl_value(v):
    return json.dumps(v)  # JSON strings and numbers are valid HCL literals


@functools.lru_cache(maxsize=None)
def rendered():
    """Apply a throwaway root module around terraform/userdata with SAMPLE values
    and return its outputs (name -> value). Built-ins only: no provider, no network."""
    d = _tmpdir("tfrender-")
    source = os.path.relpath(os.path.join(ROOT, "terraform", "userdata"), d)
    args = "\n".join(f"  {k} = {hcl_value(v)}" for k, v in SAMPLE.items())
    outputs = ["pool_member", "monitoring", "secret_files", "grafana", "prometheus"]
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write(f'module "userdata" {{\n  source = "{source}"\n{args}\n}}\n')
        for o in outputs:
            f.write(f'output "{o}" {{\n  value     = module.userdata.{o}\n  sensitive = true\n}}\n')
    terraform(["init", "-input=false", "-backend=false"], d)
    terraform(["apply", "-auto-approve", "-input=false"], d)
    out = json.loads(terraform(["output", "-json"], d).stdout)
    return {k: v["value"] for k, v in out.items()}


def write_files(user_data):
    """cloud-init write_files of a rendered user data: path -> entry."""
    return {f["path"]: f for f in yaml.safe_load(user_data)["write_files"]}


def grafana_docs():
    """The rendered Grafana provisioning files, parsed."""
    g = rendered()["grafana"]
    docs = {k: yaml.safe_load(v) for k, v in g.items() if k != "dashboard"}
    docs["dashboard"] = json.loads(g["dashboard"])
    return docs


def unit_settings(text):
    """(section, key) -> [values] of a systemd unit file."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key), []).append(value)
    return out


@functools.lru_cache(maxsize=None)
def binary():
    """The release autoscaler that ./test builds before pytest (built here when run alone)."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "autoscaler"], cwd=ROOT, check=True, timeout=900)
    return os.path.join(ROOT, "target", "release", "autoscaler")


def autoscaler_help(command):
    return check_tool(binary(), command, "--help")


def check_tool(*args, timeout=120):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout + p.stderr


def sources():
    return {n: open(os.path.join(TF, n)).read() for n in sorted(os.listdir(TF)) if n.endswith(".tf")}


def blocks(kind):
    """`kind "a" "b" { ... }` blocks of the root module: (labels, body)."""
    out = []
    for text in sources().values():
        for m in re.finditer(rf'^{kind} ((?:"[^"]+" ?)*)\{{', text, re.M):
            depth, i = 1, m.end()
            while depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            out.append((tuple(re.findall(r'"([^"]+)"', m.group(1))), text[m.end() : i - 1]))
    return out
