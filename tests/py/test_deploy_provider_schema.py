"""The root module's arguments and attribute references against the exoscale
provider's schema as published in the PyPI package pulumiverse-exoscale 0.66.1
(generated from terraform-provider-exoscale; installed with --no-deps by
scripts/install-deps and only read here, never imported). This stands in,
partially, for `terraform validate` while the Go module proxy refuses the
provider itself: unknown or missing arguments and misspelt attributes fail."""

import ast
import glob
import os
import re
import sysconfig

import pytest

from deploy_helpers import blocks, sources

PKG = os.path.join(sysconfig.get_paths()["purelib"], "pulumiverse_exoscale")
META = {"count", "for_each", "lifecycle", "depends_on", "provider", "timeouts"}

pytestmark = pytest.mark.skipif(not os.path.isdir(PKG), reason="pulumiverse-exoscale not installed: run scripts/install-deps")


def classes():
    """Class name -> {argument: required} of every *Args/_*State class in the package."""
    out = {}
    for path in glob.glob(os.path.join(PKG, "*.py")):
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.ClassDef):
                for f in node.body:
                    if isinstance(f, ast.FunctionDef) and f.name == "__init__" and f.args.kwonlyargs:
                        out[node.name] = {a.arg: d is None for a, d in zip(f.args.kwonlyargs, f.args.kw_defaults)}
    return out


CLASSES = classes() if os.path.isdir(PKG) else {}


def camel(tf_type):
    return "".join(p.capitalize() for p in tf_type.removeprefix("exoscale_").split("_"))


def top_level_keys(body):
    keys, depth = [], 0
    for line in body.splitlines():
        if depth == 0:
            m = re.match(r'\s*(\w+)\s*(=|\{|"[^"]*"\s*\{)', line)
            if m:
                keys.append(m.group(1))
        depth += line.count("{") - line.count("}") + line.count("[") - line.count("]")
    return keys


def check_args(keys, schema, what):
    for k in keys:
        assert k in schema or k + "s" in schema, f"{what}: '{k}' is not an argument of the provider ({sorted(schema)})"
    missing = [a for a, required in schema.items() if required and a not in keys and a.removesuffix("s") not in keys]
    assert not missing, f"{what}: required arguments missing: {missing}"


@pytest.mark.parametrize("labels", [labels for labels, _ in blocks("resource") if labels[0].startswith("exoscale_")], ids=lambda l: ".".join(l))
def test_resource_arguments_exist_in_the_provider(labels):
    body = dict(blocks("resource"))[labels]
    keys = [k for k in top_level_keys(body) if k not in META]
    check_args(keys, CLASSES[camel(labels[0]) + "Args"], ".".join(labels))


def test_nested_blocks_match_the_provider():
    res = dict(blocks("resource"))
    hc = re.search(r"healthcheck \{(.*?)\n  \}", res[("exoscale_nlb_service", "http")], re.S).group(1)
    check_args(top_level_keys(hc), CLASSES["NlbServiceHealthcheckArgs"], "healthcheck")
    role = res[("exoscale_iam_role", "autoscaler")]
    for key in ("default_service_strategy", "services"):
        assert key in CLASSES["IamRolePolicyArgs"] and key in role
    for key in ("type", "rules"):
        assert key in CLASSES["IamRolePolicyServicesArgs"] and re.search(rf"\b{key}\s*=", role)
    for key in ("action", "expression"):
        assert key in CLASSES["IamRolePolicyServicesRuleArgs"] and re.search(rf"\b{key}\s*=", role)


def test_referenced_attributes_exist():
    text = "\n".join(sources().values())
    refs = set(re.findall(r"(?<!data\.)\b(exoscale_\w+)\.\w+\.(\w+)", text))
    assert refs, "no references found: the pattern is wrong"
    for tf_type, attr in refs:
        state = CLASSES["_" + camel(tf_type) + "State"]
        assert attr in state or attr == "id", f"{tf_type}.{attr} is not an attribute of the provider"
    template = open(os.path.join(PKG, "get_template.py")).read()
    for attr in set(re.findall(r"data\.exoscale_template\.\w+\.(\w+)", text)):
        assert f"def {attr}(self)" in template, f"exoscale_template has no attribute {attr}"


def test_the_check_catches_unknown_and_missing_arguments():
    schema = CLASSES["NlbServiceArgs"]
    with pytest.raises(AssertionError, match="not an argument"):
        check_args(["zone", "nlb_id", "instance_pool_id", "port", "target_port", "healthcheck", "target_prot"], schema, "x")
    with pytest.raises(AssertionError, match="required arguments missing"):
        check_args(["zone", "nlb_id", "port", "target_port", "healthcheck"], schema, "x")
