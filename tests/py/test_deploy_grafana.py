"""Grafana provisioning as Terraform renders it: structure (a small schema built
from Grafana's provisioning field lists) and cross-references between the
files, the listener's real routes and the secret's path onto the VM."""

import os
import re

import jsonschema
import pytest

from deploy_helpers import ROOT, autoscaler_help, grafana_docs, rendered, unit_settings, write_files

DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h))+$"}
REF = {"type": "string", "minLength": 1}
SCHEMA = {
    "rules": {
        "type": "object",
        "required": ["apiVersion", "groups"],
        "properties": {
            "apiVersion": {"const": 1},
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "folder", "interval", "rules"],
                    "properties": {
                        "interval": DURATION,
                        "rules": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["uid", "title", "condition", "data", "for"],
                                "properties": {
                                    "for": DURATION,
                                    "noDataState": {"enum": ["NoData", "Alerting", "OK", "KeepLast"]},
                                    "execErrState": {"enum": ["Alerting", "Error", "OK", "KeepLast"]},
                                    "data": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"type": "object", "required": ["refId", "datasourceUid", "model"], "properties": {"refId": REF}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "contact_points": {
        "type": "object",
        "required": ["apiVersion", "contactPoints"],
        "properties": {
            "contactPoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "receivers"],
                    "properties": {
                        "receivers": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "object", "required": ["uid", "type", "settings"], "properties": {"settings": {"type": "object", "minProperties": 1}}},
                        }
                    },
                },
            }
        },
    },
    "policies": {
        "type": "object",
        "required": ["apiVersion", "policies"],
        "properties": {
            "policies": {
                "type": "array",
                "maxItems": 1,
                "items": {
                    "type": "object",
                    "required": ["receiver", "group_interval", "repeat_interval"],
                    "not": {"anyOf": [{"required": ["matchers"]}, {"required": ["object_matchers"]}]},
                    "properties": {"group_wait": DURATION, "group_interval": DURATION, "repeat_interval": DURATION},
                },
            }
        },
    },
    "datasource": {"type": "object", "required": ["apiVersion", "datasources"]},
    "dashboards_provider": {"type": "object", "required": ["apiVersion", "providers"]},
    "dashboard": {"type": "object", "required": ["uid", "title", "panels"]},
}


def seconds(d):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h)", d))


def rules():
    return [r for g in grafana_docs()["rules"]["groups"] for r in g["rules"]]


def contact_points():
    return {cp["name"]: cp for cp in grafana_docs()["contact_points"]["contactPoints"]}


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_provisioning_files_match_their_schema(name):
    jsonschema.validate(grafana_docs()[name], SCHEMA[name])


def test_every_datasource_uid_exists():
    docs = grafana_docs()
    uids = {d["uid"] for d in docs["datasource"]["datasources"]}
    for r in rules():
        for q in r["data"]:
            assert q["datasourceUid"] in uids | {"__expr__"}, (r["uid"], q["refId"])
    for p in docs["dashboard"]["panels"]:
        assert p["datasource"]["uid"] in uids
        assert all(t["datasource"]["uid"] in uids for t in p["targets"])


def test_conditions_and_expressions_name_real_ref_ids():
    for r in rules():
        refs = [q["refId"] for q in r["data"]]
        assert len(refs) == len(set(refs)), r["uid"]
        assert r["condition"] in refs, r["uid"]
        for q in r["data"]:
            assert q["model"]["refId"] == q["refId"]
            if q["datasourceUid"] == "__expr__":
                assert q["model"]["expression"] in refs, (r["uid"], q["refId"])
                if q["model"]["type"] == "threshold":
                    assert len(q["model"]["conditions"]) == 1  # Grafana wants exactly one
            else:
                assert q["relativeTimeRange"]["from"] > 0  # 0/0 is rejected by Grafana


def test_value_convention_cpu_and_demand_are_reduce_expressions():
    for r in rules():
        models = {q["refId"]: q["model"] for q in r["data"]}
        for ref in ("cpu", "demand"):
            assert models[ref]["type"] == "reduce", (r["uid"], ref)
        condition = models[r["condition"]]
        assert condition["type"] == "threshold" and condition["expression"] == "cpu"


def test_errors_and_missing_data_never_scale():
    for r in rules():
        assert (r["noDataState"], r["execErrState"]) == ("OK", "OK"), r["uid"]


def test_every_policy_receiver_is_a_contact_point_and_every_rule_is_routed():
    root = grafana_docs()["policies"]["policies"][0]
    cps = contact_points()
    receivers = [root["receiver"]] + [r["receiver"] for r in root["routes"]]
    assert all(name in cps for name in receivers), receivers
    for rule in rules():
        labels = rule["labels"]
        matched = [
            r["receiver"] for r in root["routes"] if all(labels.get(k) == v for k, op, v in r["object_matchers"] if op == "=")
        ]
        assert len(matched) == 1, (rule["uid"], matched)
        url = cps[matched[0]]["receivers"][0]["settings"]["url"]
        assert url.endswith("/" + labels["scale"]), (rule["uid"], url)


def test_contact_points_hit_the_listeners_real_routes_on_loopback():
    help_text = autoscaler_help("listen")
    env = dict(
        line.split("=", 1) for line in write_files(rendered()["monitoring"])["/etc/autoscaler/autoscaler.env"]["content"].splitlines()
    )
    for route in ("up", "down"):
        cp = contact_points()[f"autoscaler-{route}"]["receivers"][0]
        assert cp["type"] == "webhook" and cp["disableResolveMessage"] is True
        assert cp["settings"]["url"] == f"http://{env['LISTEN_ADDR']}:{env['LISTEN_PORT']}/{route}"
        assert f"/{route}" in help_text.split("Routes:")[1].split("\n")[0]
        assert cp["settings"]["httpMethod"] in help_text


def test_hmac_secret_is_wired_from_the_listener_to_grafana():
    src = open(os.path.join(ROOT, "src", "config.rs")).read()
    default = dict(re.findall(r'pub const (DEFAULT_\w+_HEADER): &str = "([^"]+)"', src))
    for route in ("up", "down"):
        hmac = contact_points()[f"autoscaler-{route}"]["receivers"][0]["settings"]["hmacConfig"]
        assert hmac == {
            "secret": "${AUTOSCALER_WEBHOOK_SECRET}",
            "header": default["DEFAULT_SIGNATURE_HEADER"],
            "timestampHeader": default["DEFAULT_TIMESTAMP_HEADER"],
        }
    # Grafana's unit reads the env file that carries the same secret as the listener's.
    dropin = write_files(rendered()["monitoring"])["/etc/systemd/system/grafana-server.service.d/autoscaler.conf"]["content"]
    grafana_env = unit_settings(dropin)[("Service", "EnvironmentFile")]
    assert grafana_env == ["/etc/autoscaler/grafana.env"]
    secrets = rendered()["secret_files"]
    assert secrets["webhook.env"].splitlines()[0] in secrets["grafana.env"].splitlines()
    listen = unit_settings(open(os.path.join(ROOT, "systemd", "autoscaler-listen.service")).read())
    assert listen[("Service", "EnvironmentFile")] == ["/etc/autoscaler/webhook.env"]


def test_policy_resends_a_firing_alert_about_every_minute():
    root = grafana_docs()["policies"]["policies"][0]
    for r in [root] + root["routes"]:
        # Alertmanager checks repeat only at group_interval ticks; repeat below it
        # means a re-send at every tick (see the reference on the repeat race).
        assert seconds(root["group_interval"]) == 60
        assert 0 < seconds(root["repeat_interval"]) < seconds(root["group_interval"])
        assert r.get("group_interval", root["group_interval"]) == root["group_interval"]


def test_rules_fire_above_80_and_below_20_for_one_minute_at_the_scrape_interval():
    groups = grafana_docs()["rules"]["groups"]
    # Every 15 s (the scrape interval; BENCHMARKS.md "Policy benchmark" shows why
    # not every minute). Grafana refuses a group interval that is not a multiple
    # of [unified_alerting] min_interval, which its drop-in sets.
    conf = open(os.path.join(ROOT, "grafana", "grafana-server.conf")).read()
    min_interval = re.search(r"^Environment=GF_UNIFIED_ALERTING_MIN_INTERVAL=(\d+)s$", conf, re.M)
    assert min_interval, "grafana-server.conf must set GF_UNIFIED_ALERTING_MIN_INTERVAL"
    assert all(seconds(g["interval"]) == 15 and 15 % int(min_interval.group(1)) == 0 for g in groups)
    got = {}
    for r in rules():
        models = {q["refId"]: q["model"] for q in r["data"]}
        ev = models[r["condition"]]["conditions"][0]["evaluator"]
        got[r["labels"]["scale"]] = (ev["type"], ev["params"], seconds(r["for"]))
    assert got == {"up": ("gt", [80], 60), "down": ("lt", [20], 60)}


def test_dashboard_shows_pool_cpu_without_the_monitoring_vm():
    exprs = [t["expr"] for p in grafana_docs()["dashboard"]["panels"] for t in p["targets"]]
    cpu = [e for e in exprs if "node_cpu_seconds_total" in e]
    assert len(cpu) >= 2 and all('job="pool"' in e for e in cpu)
    assert any("autoscaler_webhooks_total" in e for e in exprs)
    provider = grafana_docs()["dashboards_provider"]["providers"][0]["options"]["path"]
    assert f"{provider}/autoscaler.json" in write_files(rendered()["monitoring"])
