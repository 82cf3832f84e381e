"""One source of truth: Grafana's rules (deployment, rendered by Terraform) and the
twin's Prometheus rules and Alertmanager config (prometheus/render.py) must agree
on thresholds, `for`, PromQL and intervals. Both come from prometheus/scaling.json;
this test fails the moment either renderer drifts."""

import copy

import pytest
import yaml

from deploy_helpers import check_tool, grafana_docs, render

OPS = {"gt": ">", "lt": "<"}


def grafana_alerts(docs):
    """Grafana's rules in render.alert_rules' neutral form."""
    out = []
    for group in docs["rules"]["groups"]:
        for r in group["rules"]:
            m = {q["refId"]: q["model"] for q in r["data"]}
            ev = m[r["condition"]]["conditions"][0]["evaluator"]
            out.append(
                {
                    "name": r["title"],
                    "direction": r["labels"]["scale"],
                    "op": OPS[ev["type"]],
                    "threshold": ev["params"][0],
                    "cpu_expr": m[m["cpu"]["expression"]]["expr"],
                    "demand_expr": m[m["demand"]["expression"]]["expr"],
                    "for": r["for"],
                    "interval": group["interval"],
                }
            )
    return out


def grafana_timing(docs):
    p = docs["policies"]["policies"][0]
    return {k: p[k] for k in ("group_wait", "group_interval", "repeat_interval")}


def twin(tmp_path):
    """The twin's configs at time factor 1, i.e. in real seconds like Grafana's."""
    render.render(str(tmp_path), 1, "http://127.0.0.1:8090", str(tmp_path / "sd.json"), "127.0.0.1:9093")
    return {n: yaml.safe_load((tmp_path / f"{n}.yml").read_text()) for n in ("rules", "alertmanager", "prometheus")}


def assert_agree(docs, twin_docs):
    expected = render.alert_rules(render.load_scaling())
    assert grafana_alerts(docs) == expected
    twin_rules = {r["alert"]: r for r in twin_docs["rules"]["groups"][0]["rules"]}
    for e in expected:
        r = twin_rules[e["name"]]
        assert r["expr"] == f"({e['cpu_expr']}) {e['op']} {e['threshold']}"
        assert (r["for"], r["labels"]["scale"]) == (e["for"], e["direction"])
        assert e["demand_expr"] in r["annotations"]["demand"]
    assert twin_docs["rules"]["groups"][0]["interval"] == expected[0]["interval"]
    am = twin_docs["alertmanager"]["route"]
    assert grafana_timing(docs) == {k: am[k] for k in ("group_wait", "group_interval", "repeat_interval")}
    ds = docs["datasource"]["datasources"][0]["jsonData"]["timeInterval"]
    assert ds == twin_docs["prometheus"]["global"]["scrape_interval"]


def test_grafana_and_twin_rules_agree(tmp_path):
    assert_agree(grafana_docs(), twin(tmp_path))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["rules"]["groups"][0]["rules"][0]["data"][4]["model"]["conditions"][0]["evaluator"].update(params=[81]),
        lambda d: d["rules"]["groups"][0]["rules"][1].update({"for": "2m"}),
        lambda d: d["rules"]["groups"][0].update(interval="30s"),
        lambda d: d["rules"]["groups"][0]["rules"][0]["data"][0]["model"].update(expr="avg(up) * 100"),
        lambda d: d["policies"]["policies"][0].update(repeat_interval="5m"),
    ],
    ids=["threshold", "for", "interval", "promql", "repeat"],
)
def test_a_divergence_is_caught(tmp_path, mutate):
    docs = copy.deepcopy(grafana_docs())
    mutate(docs)
    with pytest.raises(AssertionError):
        assert_agree(docs, twin(tmp_path))


def test_grafana_promql_is_valid_for_promtool(tmp_path):
    """Grafana's queries, wrapped as Prometheus rules so promtool parses them."""
    rules = []
    for a in grafana_alerts(grafana_docs()):
        rules.append({"record": f"check:{a['direction']}:cpu", "expr": a["cpu_expr"]})
        rules.append({"record": f"check:{a['direction']}:demand", "expr": a["demand_expr"]})
    path = tmp_path / "grafana-promql.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana-promql", "rules": rules}]}))
    assert "4 rules found" in check_tool("promtool", "check", "rules", str(path))
