"""terraform/ with real Terraform: fmt, validate (the user-data module always; the
root module with the real exoscale provider when scripts/install-deps could build
it), and the deployment's promises read from the configuration itself."""

import os
import re
import shutil

import pytest

from deploy_helpers import ROOT, TF, blocks, sources, terraform

PLUGINS = os.path.join(ROOT, ".tools", "terraform-plugins")
PROVIDER_ERROR = os.path.join(ROOT, ".tools", "terraform-provider-exoscale.error")
# What the modules read outside terraform/ (templates, units, scaling.json, the crate).
DEPLOY_DIRS = ["terraform", "cloud-init", "grafana", "prometheus", "systemd"]


def copy_tree(tmp_path):
    """The deployment files in a scratch checkout, so init writes nothing into the repo."""
    for d in DEPLOY_DIRS:
        shutil.copytree(os.path.join(ROOT, d), tmp_path / d, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "__pycache__"))
    return tmp_path


def test_fmt_check_passes():
    terraform(["fmt", "-check", "-recursive", "-diff", TF], ROOT)


def test_fmt_check_catches_bad_formatting(tmp_path):
    (tmp_path / "bad.tf").write_text('variable "x" {\ndefault="a"\n}\n')
    assert terraform(["fmt", "-check", str(tmp_path)], ROOT, check=False).returncode != 0


def test_userdata_module_validates(tmp_path):
    d = copy_tree(tmp_path) / "terraform" / "userdata"
    terraform(["init", "-input=false", "-backend=false"], d)
    out = terraform(["validate", "-json"], d).stdout
    assert '"valid": true' in out and '"warning_count": 0' in out, out


def test_root_module_validates_with_the_real_provider(tmp_path):
    if not os.path.isdir(PLUGINS) or not any(f for _, _, fs in os.walk(PLUGINS) for f in fs):
        reason = open(PROVIDER_ERROR).read().strip() if os.path.exists(PROVIDER_ERROR) else "run scripts/install-deps"
        pytest.skip(f"exoscale provider v0.70.0 could not be built here: {reason}")
    d = copy_tree(tmp_path) / "terraform"
    terraform(["init", "-input=false", "-backend=false", f"-plugin-dir={PLUGINS}"], d)
    out = terraform(["validate", "-json"], d).stdout
    assert '"valid": true' in out, out


def test_provider_pinned_and_nothing_else_required():
    (body,) = [b for labels, b in blocks("terraform")]
    assert re.search(r'exoscale = \{\s*source\s*= "exoscale/exoscale"\s*version\s*= "~> 0.70"\s*\}', body), body
    assert body.count("source") == 1, "only the exoscale provider (and built-ins) may be used"
    used = {labels[0].split("_")[0] for labels, _ in blocks("resource") + blocks("data")}
    assert used <= {"exoscale", "terraform"}, used


def test_only_key_and_secret_are_required_and_both_are_sensitive():
    variables = {labels[0]: body for labels, body in blocks("variable")}
    required = {n for n, body in variables.items() if not re.search(r"^\s*default\s*=", body, re.M)}
    assert required == {"exoscale_key", "exoscale_secret"}
    for n in required:
        assert re.search(r"^\s*sensitive\s*=\s*true", variables[n], re.M), n
    for n, body in variables.items():
        assert re.search(r'^\s*description\s*=', body, re.M), f"variable {n} is undocumented"


def test_operators_key_never_reaches_a_vm():
    for name, text in sources().items():
        if name != "versions.tf":
            assert "var.exoscale_key" not in text and "var.exoscale_secret" not in text, name
    (provider,) = [b for labels, b in blocks("provider") if labels == ("exoscale",)]
    assert "var.exoscale_key" in provider


def test_pool_keeps_the_autoscalers_size_and_sits_behind_the_nlb():
    res = {labels: body for labels, body in blocks("resource")}
    pool = res[("exoscale_instance_pool", "pool")]
    assert re.search(r"ignore_changes\s*=\s*\[size\]", pool)
    assert "data.exoscale_template.ubuntu.id" in pool
    (tpl,) = [b for labels, b in blocks("data") if labels == ("exoscale_template", "ubuntu")]
    svc = res[("exoscale_nlb_service", "http")]
    for pattern in [r"port\s*=\s*80\b", r"target_port\s*=\s*8080", r'mode\s*=\s*"http"', r'uri\s*=\s*"/health"', r"instance_pool_id\s*=\s*exoscale_instance_pool.pool.id"]:
        assert re.search(pattern, svc), pattern
    assert "var.template_name" in tpl
    variables = {labels[0]: body for labels, body in blocks("variable")}
    assert re.search(r'default\s*=\s*"Linux Ubuntu \d\d\.04 LTS 64-bit"', variables["template_name"])


def test_security_groups_expose_only_what_they_must():
    rules = [body for labels, body in blocks("resource") if labels[0] == "exoscale_security_group_rule"]
    by_port = {}
    for body in rules:
        by_port.setdefault(re.search(r"start_port\s*=\s*(\S+)", body).group(1), []).append(body)
    assert "8090" not in by_port, "the listener must never be exposed"
    (http,) = by_port["8080"]
    assert '"0.0.0.0/0"' in http  # the NLB forwards clients and health checks from anywhere
    (node,) = by_port["9100"]
    assert "user_security_group_id = exoscale_security_group.monitoring.id" in node and "cidr" not in node
    (admin,) = by_port["each.key"]
    assert "for_each          = local.admin_ports" in admin and "cidr              = var.admin_cidr" in admin
    admin_ports = re.search(r"admin_ports = \{(.*?)\}", sources()["network.tf"], re.S).group(1)
    assert set(re.findall(r"^\s*(\d+)\s*=", admin_ports, re.M)) == {"22", "3000", "9090"}
    # The optional pool SSH rule is also admin-only.
    assert all("var.admin_cidr" in b for b in by_port["22"])


def test_iam_role_allows_only_the_calls_the_autoscaler_makes():
    (role,) = [b for labels, b in blocks("resource") if labels == ("exoscale_iam_role", "autoscaler")]
    assert re.search(r'default_service_strategy\s*=\s*"deny"', role)
    ops = set(re.findall(r"'([a-z-]+)'", re.search(r"operation in \[([^\]]*)\]", role).group(1)))
    assert ops == {
        "get-instance-pool",
        "list-instance-pools",
        "scale-instance-pool",
        "evict-instance-pool-members",
        "list-instances",
        "get-instance",
        "get-operation",
    }
    delivery = sources()["delivery.tf"]
    for f in ("api.env", "webhook.env", "grafana.env"):
        assert f'module.userdata.secret_files["{f}"]' in delivery
    assert "exoscale_iam_api_key.autoscaler.secret" in sources()["userdata.tf"]


def test_delivery_uploads_what_cargo_needs():
    delivery = sources()["delivery.tf"]
    uploaded = set(re.findall(r'source\s*=\s*"\$\{local.crate_root\}/([^"]+)"', delivery))
    assert uploaded == {"Cargo.toml", "Cargo.lock", "src", "twin"}
    members = re.search(r"members\s*=\s*\[([^\]]*)\]", open(os.path.join(ROOT, "Cargo.toml")).read()).group(1)
    for m in re.findall(r'"([^"]+)"', members):
        assert m == "." or m in uploaded, f"workspace member {m} is not uploaded: cargo would refuse to build"
